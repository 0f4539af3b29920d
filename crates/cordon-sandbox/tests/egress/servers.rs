//! HTTP and HTTPS servers on this machine's loopback, outside any sandbox, serving fixed files
//! under the names the proxy's resolver override gives them.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::rustls;

/// The names the certificate covers; tests map them to 127.0.0.1 in the proxy's resolver.
pub const NAMES: [&str; 4] = ["allowed.test", "other.test", "pypi.test", "npm.test"];

/// A file a server answers with: its content type and bytes.
pub type Files = BTreeMap<String, (&'static str, Vec<u8>)>;

pub struct Servers {
    pub http_port: u16,
    pub https_port: u16,
    /// The CA that signed the servers' certificate, PEM, for `--cacert` and friends.
    pub ca_pem: PathBuf,
    /// Answered at `/token`: proves a response came from these servers.
    pub token: String,
    hits: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    files: Arc<Mutex<Files>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Servers {
    pub fn start(mut files: Files) -> Servers {
        let dir = tempfile::tempdir().unwrap();
        let (ca_pem, tls) = certificates();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, ca_pem).unwrap();
        let token = format!("token-{}-{:x}", std::process::id(), rand_u64());
        files.insert("/token".into(), ("text/plain", token.clone().into_bytes()));
        let files = Arc::new(Mutex::new(files));
        let shared_files = files.clone();
        let hits = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let served = requests.clone();
        let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let https = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (http_port, https_port) = (
            http.local_addr().unwrap().port(),
            https.local_addr().unwrap().port(),
        );
        http.set_nonblocking(true).unwrap();
        https.set_nonblocking(true).unwrap();
        let (shutdown, stop) = oneshot::channel::<()>();
        let counted = hits.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let http = TcpListener::from_std(http).unwrap();
                let https = TcpListener::from_std(https).unwrap();
                let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                let mut stop = stop;
                loop {
                    tokio::select! {
                        _ = &mut stop => return,
                        Ok((s, _)) = http.accept() => {
                            counted.fetch_add(1, Ordering::SeqCst);
                            tokio::spawn(serve(TokioIo::new(s), files.clone(), served.clone()));
                        }
                        Ok((s, _)) = https.accept() => {
                            counted.fetch_add(1, Ordering::SeqCst);
                            let (acceptor, files, served) = (acceptor.clone(), files.clone(), served.clone());
                            tokio::spawn(async move {
                                if let Ok(tls) = acceptor.accept(s).await {
                                    serve(TokioIo::new(tls), files, served).await;
                                }
                            });
                        }
                    }
                }
            })
        });
        Servers {
            http_port,
            https_port,
            ca_pem: ca_path,
            token,
            hits,
            requests,
            files: shared_files,
            shutdown: Some(shutdown),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Serves `body` at `path` from now on.
    pub fn add(&self, path: &str, content_type: &'static str, body: Vec<u8>) {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_string(), (content_type, body));
    }

    /// HTTP requests the servers answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Connections the servers accepted so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve<I>(io: TokioIo<I>, files: Arc<Mutex<Files>>, requests: Arc<AtomicUsize>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
        let files = files.clone();
        requests.fetch_add(1, Ordering::SeqCst);
        async move {
            let path = request.uri().path().to_string();
            let found = files.lock().unwrap().get(&path).cloned();
            let response = match found {
                Some((content_type, body)) => Response::builder()
                    .header("content-type", content_type)
                    .body(Full::new(Bytes::from(body))),
                None => Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(Full::new(Bytes::from_static(b"not found\n"))),
            };
            Ok::<_, Infallible>(response.unwrap())
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

/// A CA and a server certificate for [`NAMES`] signed by it.
fn certificates() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "cordon egress test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(NAMES.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .unwrap();
    (ca.pem(), Arc::new(config))
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .unwrap();
    u64::from_ne_bytes(b)
}

/// A rustls client config that trusts the servers' CA, for in-process clients.
pub fn client_config(ca_pem: &std::path::Path) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(ca_pem).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile_certs(&pem) {
        roots.add(cert).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .map(|c| c.unwrap())
        .collect()
}
