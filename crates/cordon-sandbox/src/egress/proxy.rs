//! The proxy's runtime: one thread with a single-threaded tokio runtime, the connection ledger,
//! and what HTTP and SOCKS5 share (resolving, connecting, tunnelling, counting bytes).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use cordon_core::hosts::Host;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::decision::{check_addresses, check_listed, check_tunnel_hello, Destination, Refusal};
use super::{Channel, ConnectionRecord, Egress, EgressReport, Verdict, MAX_RECORDED_CONNECTIONS};
use crate::Error;

/// How long a client has to send its request or ClientHello, and the proxy to connect.
pub(super) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running proxy. Dropping it without [`Proxy::finish`] stops it too.
pub struct Proxy {
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    address: SocketAddr,
}

/// What every connection handler reads and writes.
pub(super) struct Shared {
    pub egress: Egress,
    ledger: Mutex<Vec<Entry>>,
    dropped: AtomicU64,
}

struct Entry {
    record: ConnectionRecord,
    counters: Arc<Counters>,
}

/// Live byte counts of one connection, read when the report is built.
#[derive(Default)]
pub(super) struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
}

/// A handle on one ledger entry (`None` past the cap: counted, not listed).
#[derive(Clone)]
pub(super) struct Slot {
    index: Option<usize>,
    pub counters: Arc<Counters>,
}

impl Proxy {
    /// Serves `listener` on a new thread until [`Proxy::finish`]. The listener may belong to
    /// another network namespace (the command's); the proxy's own connections leave from this
    /// process's namespace.
    pub fn start(listener: std::net::TcpListener, egress: Egress) -> Result<Proxy, Error> {
        let address = listener
            .local_addr()
            .map_err(|e| Error::io("reading the proxy listener's address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("making the proxy listener non-blocking", e))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the egress proxy's runtime", e))?;
        let shared = Arc::new(Shared {
            egress,
            ledger: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
        });
        let (shutdown, stop) = oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("cordon-egress".into())
            .spawn(move || runtime.block_on(accept_loop(listener, serving, stop)))
            .map_err(|e| Error::io("starting the egress proxy's thread", e))?;
        Ok(Proxy {
            shutdown: Some(shutdown),
            thread: Some(thread),
            shared,
            address,
        })
    }

    /// The listener's address (inside the namespace it was created in).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops the proxy (open connections are cut) and reports every connection it decided.
    pub fn finish(mut self) -> EgressReport {
        self.stop();
        let egress = &self.shared.egress;
        let ledger = self.shared.ledger.lock().unwrap_or_else(|e| e.into_inner());
        EgressReport {
            proxy: format!("{} in the command's network namespace", self.address),
            allowlist: egress.allowlist.to_strings(),
            resolver_overrides: egress
                .resolver_overrides
                .iter()
                .flat_map(|(name, addresses)| addresses.iter().map(move |a| format!("{name}={a}")))
                .collect(),
            connections: ledger
                .iter()
                .map(|e| ConnectionRecord {
                    bytes_sent: e.counters.sent.load(Ordering::Relaxed),
                    bytes_received: e.counters.received.load(Ordering::Relaxed),
                    ..e.record.clone()
                })
                .collect(),
            connections_dropped: self.shared.dropped.load(Ordering::Relaxed),
        }
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve(stream, shared.clone()));
                }
            }
        }
    }
}

/// Tells SOCKS5 (first byte 5) from HTTP (a method name) and hands the connection over.
async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        _ => return,
    }
    match first[0] {
        5 => super::socks::serve(stream, shared).await,
        b'A'..=b'Z' => super::http::serve(stream, shared).await,
        _ => {
            let what = if first[0] == 4 {
                "SOCKS4 is not supported; use SOCKS5 (socks5h://) or HTTP"
            } else {
                "the connection is neither HTTP nor SOCKS5"
            };
            shared.refuse(
                Channel::Unknown,
                None,
                &Refusal::Unsupported(what.to_string()),
            );
        }
    }
}

impl Shared {
    fn push(&self, record: ConnectionRecord) -> Slot {
        let counters = Arc::new(Counters::default());
        let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        if ledger.len() >= MAX_RECORDED_CONNECTIONS {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return Slot {
                index: None,
                counters,
            };
        }
        ledger.push(Entry {
            record,
            counters: counters.clone(),
        });
        Slot {
            index: Some(ledger.len() - 1),
            counters,
        }
    }

    fn update(&self, slot: &Slot, change: impl FnOnce(&mut ConnectionRecord)) {
        let Some(i) = slot.index else { return };
        let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = ledger.get_mut(i) {
            change(&mut entry.record);
        }
    }

    /// Records a refusal of a connection to `destination` (None: the client named none).
    pub(super) fn refuse(
        &self,
        channel: Channel,
        destination: Option<(&str, u16)>,
        refusal: &Refusal,
    ) {
        let (host, port) = destination.unwrap_or(("?", 0));
        self.push(ConnectionRecord {
            channel,
            host: host.to_string(),
            port,
            verdict: Verdict::Refused,
            code: Some(refusal.code().to_string()),
            reason: Some(refusal.to_string()),
            address: None,
            sni: None,
            bytes_sent: 0,
            bytes_received: 0,
            error: None,
        });
    }

    /// Turns an allowed connection into a refused one (a tunnel whose ClientHello failed).
    pub(super) fn refuse_later(&self, slot: &Slot, refusal: &Refusal) {
        self.update(slot, |r| {
            r.verdict = Verdict::Refused;
            r.code = Some(refusal.code().to_string());
            r.reason = Some(refusal.to_string());
        });
    }

    pub(super) fn fail(&self, slot: &Slot, error: String) {
        self.update(slot, |r| r.error = Some(error));
    }

    /// Judges `destination` by the list and the addresses it resolves to, and connects to it.
    /// A refusal is recorded here; a failure to connect is recorded as an allowed connection
    /// with an error, since the list allowed it.
    pub(super) async fn open(
        &self,
        channel: Channel,
        asked: (&str, u16),
        destination: Result<Destination, Refusal>,
    ) -> Result<(TcpStream, Destination, Slot), Opened> {
        let judged = async {
            let destination = destination?;
            check_listed(&self.egress.allowlist, &destination)?;
            let (addresses, from_override) = self.resolve(&destination).await?;
            check_addresses(
                &self.egress.allowlist,
                &destination,
                &addresses,
                from_override,
            )?;
            Ok::<_, Refusal>((destination, addresses))
        }
        .await;
        let (destination, addresses) = match judged {
            Ok(j) => j,
            Err(refusal) => {
                self.refuse(channel, Some(asked), &refusal);
                return Err(Opened::Refused(refusal));
            }
        };
        let slot = self.push(ConnectionRecord {
            channel,
            host: destination.host.to_string(),
            port: destination.port,
            verdict: Verdict::Allowed,
            code: None,
            reason: None,
            address: None,
            sni: None,
            bytes_sent: 0,
            bytes_received: 0,
            error: None,
        });
        match connect(&addresses, destination.port).await {
            Ok(stream) => {
                let peer = stream.peer_addr().ok().map(|a| a.to_string());
                self.update(&slot, |r| r.address = peer);
                Ok((stream, destination, slot))
            }
            Err(e) => {
                let error = format!("connecting to {}: {e}", destination.host);
                self.fail(&slot, error.clone());
                Err(Opened::Failed(error))
            }
        }
    }

    async fn resolve(&self, destination: &Destination) -> Result<(Vec<IpAddr>, bool), Refusal> {
        let name = match &destination.host {
            Host::Ip(ip) => return Ok((vec![*ip], false)),
            Host::Name(name) => name,
        };
        if let Some(addresses) = self.egress.resolver_overrides.get(name) {
            return Ok((addresses.clone(), true));
        }
        let unresolved = |detail: String| Refusal::Unresolved {
            name: name.clone(),
            detail,
        };
        let lookup = tokio::net::lookup_host((name.as_str(), destination.port));
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, lookup).await {
            Ok(Ok(found)) => {
                let mut addresses: Vec<IpAddr> = found.map(|a| a.ip()).collect();
                addresses.dedup();
                Ok((addresses, false))
            }
            Ok(Err(e)) => Err(unresolved(e.to_string())),
            Err(_) => Err(unresolved("timed out".into())),
        }
    }

    /// Reads the tunnel's ClientHello, checks its server name, then relays both ways.
    pub(super) async fn tunnel<C>(
        &self,
        mut client: C,
        upstream: TcpStream,
        destination: &Destination,
        slot: Slot,
    ) where
        C: AsyncRead + AsyncWrite + Unpin,
    {
        let mut hello = Vec::new();
        let read = super::tls::read_client_hello(&mut client, &mut hello);
        let checked = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read).await {
            Ok(Ok(facts)) => {
                self.update(&slot, |r| r.sni = facts.server_name.clone());
                check_tunnel_hello(destination, &facts)
            }
            Ok(Err(refusal)) => Err(refusal),
            Err(_) => Err(Refusal::NotTls),
        };
        if let Err(refusal) = checked {
            self.refuse_later(&slot, &refusal);
            return;
        }
        let mut upstream = Counted::new(upstream, slot.counters.clone());
        if let Err(e) = upstream.write_all(&hello).await {
            self.fail(&slot, format!("relaying: {e}"));
            return;
        }
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            if !matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ) {
                self.fail(&slot, format!("relaying: {e}"));
            }
        }
    }
}

/// Why [`Shared::open`] gave no stream.
pub(super) enum Opened {
    Refused(Refusal),
    Failed(String),
}

async fn connect(addresses: &[IpAddr], port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for &ip in addresses {
        let attempt = TcpStream::connect(SocketAddr::new(ip, port));
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, attempt).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
        }
    }
    Err(last)
}

/// The address a SOCKS5 success reply names: nothing about the host side.
pub(super) const UNSPECIFIED: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// A stream to a destination that counts the bytes written to it (sent) and read (received).
pub(super) struct Counted<S> {
    inner: S,
    counters: Arc<Counters>,
}

impl<S> Counted<S> {
    pub(super) fn new(inner: S, counters: Arc<Counters>) -> Self {
        Counted { inner, counters }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.counters
            .received
            .fetch_add(n as u64, Ordering::Relaxed);
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.counters.sent.fetch_add(n as u64, Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
