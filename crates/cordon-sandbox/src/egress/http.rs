//! HTTP proxying (hyper): `CONNECT host:port` opens a checked tunnel; an absolute-form request
//! (`GET http://host/path`) is forwarded on a fresh connection of its own.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, HOST};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::decision::{Destination, Refusal};
use super::proxy::{Counted, Opened, Shared};
use super::Channel;

type Body = BoxBody<Bytes, hyper::Error>;

/// Header naming the refusal code on a 403, for clients and tests to read.
const REFUSAL_HEADER: &str = "x-cordon-refusal";

pub(super) async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let service = service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(request, shared).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

async fn handle(request: Request<Incoming>, shared: Arc<Shared>) -> Response<Body> {
    if request.method() == Method::CONNECT {
        connect(request, shared).await
    } else {
        forward(request, shared).await
    }
}

/// `CONNECT host:port`: judge, connect, answer 200, then check the ClientHello in the tunnel.
async fn connect(request: Request<Incoming>, shared: Arc<Shared>) -> Response<Body> {
    let Some(authority) = request.uri().authority().cloned() else {
        let refusal = Refusal::Unsupported("CONNECT needs a host:port".into());
        shared.refuse(Channel::HttpConnect, None, &refusal);
        return refused(StatusCode::BAD_REQUEST, &refusal);
    };
    let host = authority.host().to_string();
    let Some(port) = authority.port_u16() else {
        let refusal = Refusal::Unsupported(format!("CONNECT {host} names no port"));
        shared.refuse(Channel::HttpConnect, Some((&host, 0)), &refusal);
        return refused(StatusCode::BAD_REQUEST, &refusal);
    };
    let destination = Destination::parse(&host, port);
    let (upstream, destination, slot) = match shared
        .open(Channel::HttpConnect, (&host, port), destination)
        .await
    {
        Ok(opened) => opened,
        Err(Opened::Refused(refusal)) => return refused(StatusCode::FORBIDDEN, &refusal),
        Err(Opened::Failed(error)) => return failed(&error),
    };
    tokio::spawn(async move {
        match hyper::upgrade::on(request).await {
            Ok(upgraded) => {
                shared
                    .tunnel(TokioIo::new(upgraded), upstream, &destination, slot)
                    .await
            }
            Err(e) => shared.fail(&slot, format!("upgrading the CONNECT: {e}")),
        }
    });
    Response::new(empty())
}

/// A plain-HTTP request in absolute form, forwarded with its Host header pinned to the URL's.
async fn forward(mut request: Request<Incoming>, shared: Arc<Shared>) -> Response<Body> {
    let uri = request.uri().clone();
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        let refusal = Refusal::Unsupported(
            "the proxy only forwards absolute http:// URLs; it serves nothing itself".into(),
        );
        shared.refuse(Channel::Http, None, &refusal);
        return refused(StatusCode::BAD_REQUEST, &refusal);
    };
    let host = authority.host().to_string();
    let port = authority.port_u16().unwrap_or(80);
    if scheme != "http" {
        let refusal = Refusal::Unsupported(format!(
            "{scheme}:// URLs go through CONNECT; the proxy forwards only http://"
        ));
        shared.refuse(Channel::Http, Some((&host, port)), &refusal);
        return refused(StatusCode::BAD_REQUEST, &refusal);
    }
    if let Some(refusal) = host_header_mismatch(&request, &host) {
        shared.refuse(Channel::Http, Some((&host, port)), &refusal);
        return refused(StatusCode::FORBIDDEN, &refusal);
    }
    let destination = Destination::parse(&host, port);
    let (upstream, _, slot) = match shared.open(Channel::Http, (&host, port), destination).await {
        Ok(opened) => opened,
        Err(Opened::Refused(refusal)) => return refused(StatusCode::FORBIDDEN, &refusal),
        Err(Opened::Failed(error)) => return failed(&error),
    };
    let io = TokioIo::new(Counted::new(upstream, slot.counters.clone()));
    let (mut sender, connection) = match hyper::client::conn::http1::handshake(io).await {
        Ok(pair) => pair,
        Err(e) => {
            let error = format!("HTTP to {host}: {e}");
            shared.fail(&slot, error.clone());
            return failed(&error);
        }
    };
    tokio::spawn(connection);
    strip_proxy_headers(&mut request);
    let origin_form = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .parse();
    match (origin_form, HeaderValue::from_str(authority.as_str())) {
        (Ok(path), Ok(host_value)) => {
            *request.uri_mut() = path;
            request.headers_mut().insert(HOST, host_value);
        }
        _ => {
            let error = format!("rewriting the request for {host}");
            shared.fail(&slot, error.clone());
            return failed(&error);
        }
    }
    match sender.send_request(request).await {
        Ok(response) => response.map(BodyExt::boxed),
        Err(e) => {
            let error = format!("HTTP to {host}: {e}");
            shared.fail(&slot, error.clone());
            failed(&error)
        }
    }
}

/// A Host header that names another host than the URL: a server behind a shared address would
/// serve that other host.
fn host_header_mismatch(request: &Request<Incoming>, host: &str) -> Option<Refusal> {
    let header = request.headers().get(HOST)?;
    let text = header.to_str().unwrap_or("(not text)");
    let header_host = text
        .parse::<hyper::http::uri::Authority>()
        .map(|a| a.host().to_string());
    let same = match (
        header_host.as_deref().map(cordon_core::hosts::Host::parse),
        cordon_core::hosts::Host::parse(host),
    ) {
        (Ok(Ok(a)), Ok(b)) => a == b,
        _ => false,
    };
    (!same).then(|| Refusal::HostHeaderMismatch {
        asked: host.to_string(),
        header: text.to_string(),
    })
}

/// Drops hop-by-hop headers meant for the proxy, and any the client listed in `Connection`.
fn strip_proxy_headers(request: &mut Request<Incoming>) {
    let listed: Vec<String> = request
        .headers()
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    let headers = request.headers_mut();
    for name in listed {
        headers.remove(name.as_str());
    }
    for name in ["proxy-connection", "proxy-authorization", "keep-alive"] {
        headers.remove(name);
    }
    headers.remove(CONNECTION);
}

fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

fn text(body: String) -> Body {
    Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed()
}

fn refused(status: StatusCode, refusal: &Refusal) -> Response<Body> {
    let mut response = Response::new(text(format!("cordon egress proxy: {refusal}\n")));
    *response.status_mut() = status;
    if let Ok(code) = HeaderValue::from_str(refusal.code()) {
        response.headers_mut().insert(REFUSAL_HEADER, code);
    }
    response
}

fn failed(error: &str) -> Response<Body> {
    let mut response = Response::new(text(format!("cordon egress proxy: {error}\n")));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}
