//! The witness over HTTP (`cordon witness serve`), on `tiny_http`, the HTTP server the workspace
//! already uses for `cordon serve`.
//!
//! | request | answer |
//! |---|---|
//! | `POST /v1/push` with a [`Push`] | 200 [`Cosigned`]; 409 `{"code":"stale","witnessed_size":N,"checkpoint":…}`; 422 `{"code":…,"error":…}` (refused); 400 (not a push); 413 (too large); 503 (database) |
//! | `GET /v1/logs` | every log: origin, machine, size, key, latest cosigned checkpoint |
//! | `GET /v1/log?origin=O` | `{"checkpoint": latest cosigned, "size": N}` or 404 |
//! | `GET /v1/entries?origin=O&start=A&end=B` | `{"entries": [lines A..B]}` (at most [`MAX_PAGE`]) |
//!
//! Each worker thread has its own database connection; the witness key is shared. Errors are one
//! sentence in `error`, with a stable `code`.

use std::io::Read as _;
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::{json, Value};

use super::{Push, Witness, WitnessDb};
use crate::error::JournalError;
use crate::keys::Signer;

/// Largest push body accepted.
pub const MAX_BODY: usize = 256 * 1024 * 1024;
/// Most entries one `GET /v1/entries` returns.
pub const MAX_PAGE: u64 = 10_000;

/// A running witness server.
pub struct WitnessServer {
    server: Arc<tiny_http::Server>,
    workers: Vec<JoinHandle<()>>,
    url: String,
}

impl std::fmt::Debug for WitnessServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl WitnessServer {
    /// Listens on `listen` (`host:port`; port 0 picks one) with `workers` threads, each connected
    /// to the database at `db_url`, cosigning as `name` with `signer`.
    pub fn start(
        listen: &str,
        db_url: &str,
        name: &str,
        signer: Arc<Signer>,
        workers: usize,
    ) -> Result<WitnessServer, JournalError> {
        // Connect every worker first: a witness that cannot reach its database does not listen.
        let mut witnesses = Vec::new();
        for _ in 0..workers.max(1) {
            witnesses.push(Witness::new(
                name,
                signer.clone(),
                WitnessDb::connect(db_url)?,
            )?);
        }
        let server = tiny_http::Server::http(listen).map_err(|e| JournalError::Transport {
            url: listen.to_string(),
            reason: format!("cannot listen: {e}"),
        })?;
        let url = match server.server_addr().to_ip() {
            Some(addr) => format!("http://{addr}"),
            None => format!("http://{listen}"),
        };
        let server = Arc::new(server);
        let workers = witnesses
            .into_iter()
            .map(|mut witness| {
                let server = server.clone();
                std::thread::spawn(move || {
                    while let Ok(request) = server.recv() {
                        handle(&mut witness, request);
                    }
                })
            })
            .collect();
        Ok(WitnessServer {
            server,
            workers,
            url,
        })
    }

    /// `http://host:port`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until the process ends.
    pub fn wait(self) {
        for w in self.workers {
            let _ = w.join();
        }
    }

    /// Stops listening and waits for the workers.
    pub fn stop(self) {
        for _ in &self.workers {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn handle(witness: &mut Witness, mut request: tiny_http::Request) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (status, body) = match (request.method(), path) {
        (tiny_http::Method::Post, "/v1/push") => match read_body(&mut request) {
            Ok(bytes) => push(witness, &bytes),
            Err(answer) => answer,
        },
        (tiny_http::Method::Get, "/v1/logs") => match witness.db().logs() {
            Ok(logs) => (200, json!({ "logs": logs })),
            Err(e) => error_answer(&e),
        },
        (tiny_http::Method::Get, "/v1/log") => match param("origin") {
            None => (
                400,
                json!({"code": "bad_request", "error": "origin is missing"}),
            ),
            Some(origin) => match witness.db().log_state(&origin) {
                Ok(Some(s)) => (200, json!({"checkpoint": s.cosigned, "size": s.size})),
                Ok(None) => (
                    404,
                    json!({"code": "unknown_log", "error": format!("the witness has never seen {origin:?}")}),
                ),
                Err(e) => error_answer(&e),
            },
        },
        (tiny_http::Method::Get, "/v1/entries") => {
            let range = (
                param("origin"),
                param("start").and_then(|s| s.parse::<u64>().ok()),
                param("end").and_then(|s| s.parse::<u64>().ok()),
            );
            match range {
                (Some(origin), Some(start), Some(end))
                    if start <= end && end - start <= MAX_PAGE =>
                {
                    match witness.db().entries(&origin, start, end) {
                        Ok(lines) => (200, json!({ "entries": lines })),
                        Err(e) => error_answer(&e),
                    }
                }
                _ => (
                    400,
                    json!({"code": "bad_request", "error": format!("expected origin, start and end, at most {MAX_PAGE} entries apart")}),
                ),
            }
        }
        _ => (
            404,
            json!({"code": "not_found", "error": format!("no such endpoint: {path}")}),
        ),
    };
    let text = body.to_string();
    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]);
    let mut response = tiny_http::Response::from_string(text).with_status_code(status);
    if let Ok(h) = header {
        response = response.with_header(h);
    }
    let _ = request.respond(response);
}

fn read_body(request: &mut tiny_http::Request) -> Result<Vec<u8>, (u16, Value)> {
    if request.body_length().is_some_and(|n| n > MAX_BODY) {
        return Err((
            413,
            json!({"code": "too_large", "error": format!("a push is at most {MAX_BODY} bytes")}),
        ));
    }
    let mut bytes = Vec::new();
    let read = request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut bytes);
    match read {
        Ok(n) if n > MAX_BODY => Err((
            413,
            json!({"code": "too_large", "error": format!("a push is at most {MAX_BODY} bytes")}),
        )),
        Ok(_) => Ok(bytes),
        Err(e) => Err((
            400,
            json!({"code": "bad_request", "error": format!("the body could not be read: {e}")}),
        )),
    }
}

fn push(witness: &mut Witness, bytes: &[u8]) -> (u16, Value) {
    let push: Push = match serde_json::from_slice(bytes) {
        Ok(p) => p,
        Err(e) => {
            return (
                400,
                json!({"code": "bad_request", "error": format!("the body is not a push: {e}")}),
            )
        }
    };
    match witness.push(&push, now()) {
        Ok(cosigned) => (200, json!(cosigned)),
        Err(e) => error_answer(&e),
    }
}

fn error_answer(e: &JournalError) -> (u16, Value) {
    match e {
        JournalError::Refused { code, reason } => (422, json!({"code": code, "error": reason})),
        JournalError::Stale {
            witnessed_size,
            checkpoint,
            ..
        } => (
            409,
            json!({"code": "stale", "error": e.to_string(), "witnessed_size": witnessed_size, "checkpoint": checkpoint}),
        ),
        JournalError::Database(_) => (503, json!({"code": "database", "error": e.to_string()})),
        JournalError::Proof(_) => (404, json!({"code": "not_mirrored", "error": e.to_string()})),
        _ => (500, json!({"code": "internal", "error": e.to_string()})),
    }
}
