//! The local approval page of `cordon serve`: pending requests with everything a person needs to
//! judge them (exact argv, cwd, read and write scopes, network, the policy's reason, the contract),
//! approve and deny buttons, and a view of the journal with its verification status.
//!
//! Who can use it. The server binds loopback only. Every request must carry the random token
//! printed at start: once as `?token=` (answered with an HttpOnly, SameSite=Strict cookie named
//! for this server's port, and a redirect that drops it from the address bar), then the cookie,
//! or an `Authorization: Bearer` header. The `Host` header must name the loopback address and
//! port the server bound, so a DNS rebinding page (whose requests carry its own host name) is
//! refused; an `Origin` header, when present, must be this same origin. A POST additionally needs
//! a same-origin `Origin` (or `Referer`) and the page's CSRF token. Approving signs with the key
//! of the person who started `cordon serve` (their approver key); the token only lets the browser
//! talk to that process.
//!
//! Hostile clients. Connections are served concurrently (hyper on a tokio task each, the store
//! and journal work on the blocking pool), one request per connection. Request headers must
//! arrive within [`HEADER_TIMEOUT`], a form body within [`BODY_TIMEOUT`], and a connection ends
//! after [`CONNECTION_DEADLINE`] whatever it is doing (a client that stops reading the answer
//! included), so a stalled client holds only its own connection. A request refused on its
//! headers (host, origin, token) is answered and closed without its body being read. Redirects go
//! only to a path that starts with exactly one `/`.
//!
//! Everything shown is HTML-escaped after [`cordon_core::display::visible`] made every misleading
//! character (bidi controls, zero-width and other invisible characters, controls) a visible
//! escape, and each argument, path and name sits in its own `<bdi>` box, so no argument can run
//! visually into the next; the page sends a strict Content-Security-Policy with no scripts.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cordon_approval::{ApprovalStore, Request as ApprovalRequest, RequestState};
use cordon_core::approval::ApprovalMethod;
use cordon_journal::keys::{self, KeyRing};
use cordon_journal::record::{entry_kind, EntryKind};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;

use crate::approving::{answer, unix_now, Approver};
use crate::home::Home;

const COOKIE_PREFIX: &str = "cordon_token_";
const MAX_BODY: usize = 16 * 1024;
const JOURNAL_ROWS: u64 = 200;

/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to send a form's body, once its headers were accepted.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one connection (one request and its answer) may last in all.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(30);
/// Connections served at once; more are closed as they arrive.
const MAX_CONNECTIONS: usize = 64;

/// A bound, not yet serving, approval page.
pub struct WebPage {
    listener: TcpListener,
    addr: SocketAddr,
    token: String,
    csrf: String,
    home: Home,
    approver: Result<Approver, String>,
}

impl std::fmt::Debug for WebPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebPage")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// A request's headers, looked up without regard to case.
struct Headers(Vec<(String, String)>);

impl Headers {
    fn of(map: &hyper::HeaderMap) -> Headers {
        Headers(
            map.iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP answer before it is sent.
struct Page {
    status: u16,
    body: String,
    headers: Vec<(String, String)>,
}

impl Page {
    fn html(status: u16, title: &str, body: &str) -> Page {
        Page {
            status,
            body: layout(title, body),
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        }
    }

    fn refuse(status: u16, why: &str) -> Page {
        Page {
            status,
            body: format!("{why}\n"),
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
        }
    }

    /// A redirect to `to`, a path on this server (see [`local_path`]).
    fn redirect(to: &str) -> Page {
        Page {
            status: 303,
            body: String::new(),
            headers: vec![("Location".into(), local_path(to).into())],
        }
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let security = [
            ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ];
        let headers = security
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain(self.headers);
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

/// `path` when it is a path on this server: it starts with exactly one `/` (not `//` nor `/\`,
/// which browsers read as another host) and holds only visible ASCII without a backslash
/// (browsers drop tabs and newlines, and read `\` as `/`); otherwise `/`.
fn local_path(path: &str) -> &str {
    let one_slash = path.starts_with('/') && !path[1..].starts_with(['/', '\\']);
    let plain = path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if one_slash && plain {
        path
    } else {
        "/"
    }
}

/// Counts the connections being served; a slot is given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(active: &Arc<AtomicUsize>) -> Option<Slot> {
        let previous = active.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(Arc::clone(active));
        (previous < MAX_CONNECTIONS).then_some(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl WebPage {
    /// Binds `addr`, which must be a loopback address.
    pub fn bind(
        addr: SocketAddr,
        home: Home,
        approver: Result<Approver, String>,
    ) -> Result<WebPage, String> {
        if !addr.ip().is_loopback() {
            return Err(format!(
                "{addr}: cordon serve listens on loopback only (127.0.0.1 or ::1)"
            ));
        }
        let listener =
            TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        Ok(WebPage {
            listener,
            addr,
            token: cordon_approval::artifact::random_hex(24),
            csrf: cordon_approval::artifact::random_hex(24),
            home,
            approver,
        })
    }

    /// The address to open, with the token.
    pub fn url_with_token(&self) -> String {
        format!("http://{}/?token={}", self.addr, self.token)
    }

    pub fn approver_problem(&self) -> Option<&str> {
        self.approver.as_ref().err().map(String::as_str)
    }

    /// The token cookie's name: this server's own (`cordon_token_PORT`), so two pages on one
    /// host never read or overwrite each other's.
    fn cookie(&self) -> String {
        format!("{COOKIE_PREFIX}{}", self.addr.port())
    }

    /// Serves until the listener fails.
    pub fn serve(self) -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the page's runtime: {e}"))?;
        runtime.block_on(self.accept())
    }

    async fn accept(self) -> Result<(), String> {
        self.listener
            .set_nonblocking(true)
            .map_err(|e| format!("cannot listen: {e}"))?;
        let listener = self
            .listener
            .try_clone()
            .and_then(tokio::net::TcpListener::from_std)
            .map_err(|e| format!("cannot listen: {e}"))?;
        let page = Arc::new(self);
        let active = Arc::new(AtomicUsize::new(0));
        loop {
            let (stream, _) = listener
                .accept()
                .await
                .map_err(|e| format!("accept failed: {e}"))?;
            // Over the limit: closed at once, never queued behind stalled clients.
            let Some(slot) = Slot::take(&active) else {
                continue;
            };
            let page = Arc::clone(&page);
            tokio::spawn(async move {
                let _slot = slot;
                let service = hyper::service::service_fn(move |request| {
                    let page = Arc::clone(&page);
                    async move { Ok::<_, Infallible>(page.respond(request).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .keep_alive(false)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                let _ = tokio::time::timeout(CONNECTION_DEADLINE, connection).await;
            });
        }
    }

    /// Answers one request: refused on its headers without reading its body; a form's body read
    /// only once the request may post it; the answer made on the blocking pool.
    async fn respond(self: Arc<Self>, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let headers = Headers::of(&parts.headers);
        let path = parts.uri.path().to_string();
        let query: Vec<(String, String)> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let method = parts.method;
        let gate = self
            .check_origin(&headers)
            .and_then(|()| self.check_token(&headers, &method, &path, &query))
            .and_then(|()| self.check_form_post(&headers, &method));
        if let Err(refusal) = gate {
            return refusal.into_response();
        }
        let form = if method == Method::POST {
            match read_form(&headers, body).await {
                Ok(form) => Some(form),
                Err(refusal) => return refusal.into_response(),
            }
        } else {
            None
        };
        let page = tokio::task::spawn_blocking(move || {
            self.route(&method, &path, &query, form.as_deref())
        })
        .await
        .unwrap_or_else(|_| Page::refuse(500, "the page failed to answer"));
        page.into_response()
    }

    /// The Host values that name this server: its address, or `localhost` on its port.
    fn allowed_hosts(&self) -> Vec<String> {
        vec![
            self.addr.to_string(),
            format!("localhost:{}", self.addr.port()),
        ]
    }

    /// The request must name this server (DNS rebinding) and come from its own origin.
    fn check_origin(&self, headers: &Headers) -> Result<(), Page> {
        let hosts = self.allowed_hosts();
        // A page on evil.example resolving to 127.0.0.1 still sends its own Host.
        match headers.get("Host") {
            Some(host) if hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) => {}
            _ => {
                return Err(Page::refuse(
                    403,
                    "refused: the Host header does not name this loopback server",
                ))
            }
        }
        if let Some(origin) = headers.get("Origin") {
            if !self.same_origin(origin) {
                return Err(Page::refuse(
                    403,
                    "refused: the request comes from another origin",
                ));
            }
        }
        if headers
            .get("Sec-Fetch-Site")
            .is_some_and(|s| s.eq_ignore_ascii_case("cross-site"))
        {
            return Err(Page::refuse(
                403,
                "refused: the request comes from another site",
            ));
        }
        Ok(())
    }

    fn same_origin(&self, origin: &str) -> bool {
        self.allowed_hosts()
            .iter()
            .any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}")))
    }

    /// The token: from `?token=` once (answered with the cookie and a redirect, `Err`), then the
    /// cookie or a bearer header.
    fn check_token(
        &self,
        headers: &Headers,
        method: &Method,
        path: &str,
        query: &[(String, String)],
    ) -> Result<(), Page> {
        if let (&Method::GET, Some((_, token))) = (method, query.iter().find(|(k, _)| k == "token"))
        {
            if !constant_time_eq(token, &self.token) {
                return Err(Page::refuse(
                    401,
                    "refused: wrong token; use the address `cordon serve` printed",
                ));
            }
            // Only ever back to a path on this server (`Page::redirect`).
            let mut page = Page::redirect(path);
            page.headers.push((
                "Set-Cookie".into(),
                format!(
                    "{}={}; Path=/; HttpOnly; SameSite=Strict",
                    self.cookie(),
                    self.token
                ),
            ));
            return Err(page);
        }
        let name = self.cookie();
        let cookie = headers.get("Cookie").and_then(|c| {
            c.split(';').find_map(|part| {
                part.trim()
                    .strip_prefix(name.as_str())
                    .and_then(|rest| rest.strip_prefix('='))
            })
        });
        let bearer = headers
            .get("Authorization")
            .and_then(|a| a.strip_prefix("Bearer "));
        if [cookie, bearer]
            .into_iter()
            .flatten()
            .any(|t| constant_time_eq(t, &self.token))
        {
            Ok(())
        } else {
            Err(Page::refuse(
                401,
                "refused: this page needs the token `cordon serve` printed (open the address it printed)",
            ))
        }
    }

    /// A form post names its origin; one that does not must at least have a Referer here.
    fn check_form_post(&self, headers: &Headers, method: &Method) -> Result<(), Page> {
        if *method != Method::POST {
            return Ok(());
        }
        let referer_ok = headers.get("Referer").is_some_and(|r| {
            self.allowed_hosts()
                .iter()
                .any(|h| r.starts_with(&format!("http://{h}/")))
        });
        if headers.get("Origin").is_none() && !referer_ok {
            return Err(Page::refuse(
                403,
                "refused: a form post must come from this page (no Origin)",
            ));
        }
        Ok(())
    }

    fn route(
        &self,
        method: &Method,
        path: &str,
        query: &[(String, String)],
        form: Option<&[(String, String)]>,
    ) -> Page {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice(), form) {
            (&Method::GET, [""], _) => self.index(query),
            (&Method::GET, ["requests", id], _) => self.one(id),
            (&Method::GET, ["journal"], _) => self.journal(),
            (&Method::POST, ["requests", id, action], Some(form)) => {
                if !constant_time_eq(field(form, "csrf"), &self.csrf) {
                    return Page::refuse(
                        403,
                        "refused: the form's CSRF token is missing or wrong; reload the page",
                    );
                }
                match *action {
                    "approve" => self.approve(id, form),
                    "deny" => self.deny(id, field(form, "reason")),
                    _ => Page::refuse(404, "not found"),
                }
            }
            _ => Page::refuse(404, "not found"),
        }
    }

    fn store(&self) -> Result<Box<dyn ApprovalStore>, String> {
        self.home.approval_desk().open_store()
    }

    fn index(&self, query: &[(String, String)]) -> Page {
        let mut store = match self.store() {
            Ok(s) => s,
            Err(e) => return Page::html(500, "Error", &format!("<p>{}</p>", esc(&e))),
        };
        let requests = match store.requests(false, 50, unix_now()) {
            Ok(r) => r,
            Err(e) => return Page::html(500, "Error", &format!("<p>{}</p>", esc(&e.to_string()))),
        };
        let mut body = String::new();
        if let Some((_, note)) = query.iter().find(|(k, _)| k == "note") {
            body.push_str(&format!("<p class=note id=note>{}</p>", esc(note)));
        }
        if let Some(problem) = self.approver_problem() {
            body.push_str(&format!(
                "<p class=warn>Approving is disabled here: {}</p>",
                esc(problem)
            ));
        }
        let pending: Vec<&ApprovalRequest> = requests
            .iter()
            .filter(|r| r.state == RequestState::Pending)
            .collect();
        body.push_str(&format!("<h2>Pending ({})</h2>", pending.len()));
        if pending.is_empty() {
            body.push_str("<p id=none>Nothing is waiting for an answer.</p>");
        }
        for r in &pending {
            body.push_str(&self.request_html(r));
        }
        body.push_str("<h2>Recent answers</h2><table><tr><th>request</th><th>command</th><th>state</th><th>by</th><th>reason</th></tr>");
        for r in requests
            .iter()
            .filter(|r| r.state != RequestState::Pending)
            .take(20)
        {
            body.push_str(&format!(
                "<tr><td><a href=\"/requests/{0}\">{0}</a></td><td><bdi class=line dir=ltr>{1}</bdi></td><td>{2}</td><td><bdi>{3}</bdi></td><td><bdi>{4}</bdi></td></tr>",
                esc(&r.id),
                esc(&lines(r).join(" ; ")),
                r.state.as_str(),
                esc(r.answered_by.as_deref().unwrap_or("")),
                esc(r.answer_reason.as_deref().unwrap_or(""))
            ));
        }
        body.push_str("</table>");
        Page::html(200, "Approvals", &body)
    }

    fn one(&self, id: &str) -> Page {
        let found = self
            .store()
            .and_then(|mut s| s.request(id, unix_now()).map_err(|e| e.to_string()));
        match found {
            Ok(Some(r)) => Page::html(200, &format!("Request {id}"), &self.request_html(&r)),
            Ok(None) => Page::html(404, "Not found", &format!("<p>No request {}.</p>", esc(id))),
            Err(e) => Page::html(500, "Error", &format!("<p>{}</p>", esc(&e))),
        }
    }

    fn request_html(&self, r: &ApprovalRequest) -> String {
        let mut html = format!(
            "<section class=request id=\"{id}\"><h3>{id} <span class=state>{state}</span></h3>\
             <p><b>Why the policy asks:</b> <bdi class=reason>{reason}</bdi></p>\
             <p>Needs {n} distinct approver(s). Deadline in {left} s. Contract sha256 <code>{hash}</code>.</p>\
             <p>Filed on machine <bdi class=machine>{machine}</bdi>.</p>",
            id = esc(&r.id),
            state = r.state.as_str(),
            reason = esc(&r.reason),
            n = r.required_approvers,
            left = (r.deadline - unix_now()).max(0),
            hash = esc(&r.contract_sha256),
            machine = esc(&r.machine),
        );
        for command in r.summary.as_array().into_iter().flatten() {
            html.push_str(&command_html(command));
        }
        // Line by line, so the layout's own newlines stay while any inside a value is escaped
        // (JSON writes those as `\n` already; bidi and invisible characters it leaves raw).
        let contract = serde_json::to_string_pretty(&r.contract).unwrap_or_default();
        let contract: Vec<String> = contract.lines().map(esc).collect();
        html.push_str(&format!(
            "<details><summary>Synthesized contract (JSON)</summary><pre class=contract>{}</pre></details>",
            contract.join("\n")
        ));
        if r.state == RequestState::Pending {
            html.push_str(&self.answer_forms_html(r));
        }
        html.push_str("</section>");
        html
    }

    /// The approve and deny forms of a pending request.
    fn answer_forms_html(&self, r: &ApprovalRequest) -> String {
        let disabled = if self.approver.is_ok() {
            ""
        } else {
            " disabled"
        };
        let who = match &self.approver {
            Ok(a) => format!("as <b>{}</b>", esc(&a.identity)),
            Err(_) => String::new(),
        };
        format!(
            "<form method=post action=\"/requests/{id}/approve\" class=approve>\
             <input type=hidden name=csrf value=\"{csrf}\">\
             <label>Scope <select name=scope><option value=once selected>this execution only</option>\
             <option value=window>this contract for a time window</option>\
             <option value=session>this contract for the agent session</option>\
             <option value=pattern>command lines matching a pattern</option></select></label> \
             <label>valid for <input name=expires placeholder=\"10m\" size=5></label> \
             <label>pattern <input name=pattern placeholder=\"git push origin *\"></label> \
             <label>note <input name=reason></label> \
             <button type=submit id=\"approve-{id}\"{disabled}>Approve {who}</button></form>\
             <form method=post action=\"/requests/{id}/deny\" class=deny>\
             <input type=hidden name=csrf value=\"{csrf}\">\
             <label>reason <input name=reason></label> \
             <button type=submit id=\"deny-{id}\">Deny</button></form>",
            id = esc(&r.id),
            csrf = esc(&self.csrf),
        )
    }

    fn approve(&self, id: &str, form: &[(String, String)]) -> Page {
        let field = |name: &str| field(form, name);
        let approver = match &self.approver {
            Ok(a) => a,
            Err(why) => return Page::html(403, "Cannot approve", &format!("<p>{}</p>", esc(why))),
        };
        let expires = Some(field("expires").trim()).filter(|e| !e.is_empty());
        let scope = match field("scope") {
            "once" => "once".to_string(),
            "session" => "session".to_string(),
            "window" => format!("window:{}", expires.unwrap_or("1h")),
            "pattern" => format!("pattern:{}", field("pattern")),
            other => {
                return Page::html(
                    400,
                    "Bad scope",
                    &format!("<p>Unknown scope {}.</p>", esc(other)),
                )
            }
        };
        let reason = Some(field("reason").to_string()).filter(|r| !r.is_empty());
        let result = self
            .store()
            .map_err(crate::exit::CliError::internal)
            .and_then(|mut store| {
                answer(
                    store.as_mut(),
                    approver,
                    id,
                    &scope,
                    expires,
                    reason,
                    ApprovalMethod::Manual,
                )
            });
        match result {
            Ok(sentence) => Page::redirect(&format!("/?note={}", encode(&sentence))),
            Err(e) => Page::html(
                400,
                "Not approved",
                &format!(
                    "<p>Not approved: {}</p><p><a href=\"/\">back</a></p>",
                    esc(&e.message)
                ),
            ),
        }
    }

    fn deny(&self, id: &str, reason: &str) -> Page {
        let by = match &self.approver {
            Ok(a) => a.identity.clone(),
            Err(_) => std::env::var("USER").unwrap_or_else(|_| "web".into()),
        };
        let result = self.store().and_then(|mut s| {
            s.deny(id, &by, reason, unix_now())
                .map_err(|e| e.to_string())
        });
        match result {
            Ok(()) => Page::redirect(&format!(
                "/?note={}",
                encode(&format!("denied {id} as {by}"))
            )),
            Err(e) => Page::html(
                400,
                "Not denied",
                &format!("<p>Not denied: {}</p>", esc(&e)),
            ),
        }
    }

    fn journal(&self) -> Page {
        let dir = self.home.journal_dir();
        let mut body = String::new();
        body.push_str(&verification_html(&self.home, &dir));
        let journal = match cordon_journal::Journal::open_existing(&dir) {
            Ok(j) => j,
            Err(e) => {
                body.push_str(&format!(
                    "<p>No journal to show: {}</p>",
                    esc(&e.to_string())
                ));
                return Page::html(200, "Journal", &body);
            }
        };
        let len = journal.len();
        body.push_str(&format!(
            "<h2>Entries (newest first, up to {JOURNAL_ROWS} of {len})</h2><table id=entries>\
             <tr><th>#</th><th>kind</th><th>time</th><th>contract</th><th>outcome / status</th><th>reason</th><th>approval</th></tr>"
        ));
        for index in (len.saturating_sub(JOURNAL_ROWS)..len).rev() {
            let Ok(line) = journal.read_entry(index) else {
                body.push_str(&format!(
                    "<tr><td>{index}</td><td colspan=6>unreadable</td></tr>"
                ));
                continue;
            };
            let entry: Value = serde_json::from_slice(&line).unwrap_or(Value::Null);
            let Value::Object(map) = &entry else {
                body.push_str(&format!(
                    "<tr><td>{index}</td><td colspan=6>not a JSON object</td></tr>"
                ));
                continue;
            };
            let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_default();
            let (kind, time, outcome, reason, approval) = match entry_kind(map) {
                EntryKind::Decision => (
                    "decision",
                    text(&entry["decided_at"]),
                    text(&entry["outcome"]),
                    text(&entry["reason"]),
                    approval_text(&entry["details"]["approval"]),
                ),
                EntryKind::Receipt => (
                    "receipt",
                    text(&entry["ended_at"]),
                    format!("{} (exit {})", text(&entry["status"]), entry["exit_code"]),
                    text(&entry["error"]),
                    approval_text(&entry["x-cordon"]["approval"]),
                ),
                EntryKind::Other => (
                    "other",
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ),
            };
            body.push_str(&format!(
                "<tr><td>{index}</td><td>{kind}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&time),
                esc(&text(&entry["contract_id"])),
                esc(&outcome),
                esc(&reason),
                esc(&approval)
            ));
        }
        body.push_str("</table>");
        Page::html(200, "Journal", &body)
    }
}

/// A form field's value, or empty.
/// One command of a request, as a table: the exact argv, where, which scopes, which network.
fn command_html(c: &Value) -> String {
    let list = |key: &str| {
        let items: Vec<String> = c[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| boxed(v.as_str().unwrap_or("")))
            .collect();
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(" ")
        }
    };
    let argvs: Vec<String> = c["argv"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|argv| {
            let words: Vec<String> = argv
                .as_array()
                .into_iter()
                .flatten()
                .map(|w| boxed(w.as_str().unwrap_or("")))
                .collect();
            format!("<li class=argv>{}</li>", words.join(" "))
        })
        .collect();
    format!(
        "<table class=command><tr><th>command</th><td><bdi class=line dir=ltr>{line}</bdi></td></tr>\
             <tr><th>argv (exact, one box per argument)</th><td><ul>{argv}</ul></td></tr>\
             <tr><th>cwd</th><td>{cwd}</td></tr>\
             <tr><th>reads</th><td>{reads}</td></tr><tr><th>writes</th><td>{writes}</td></tr>\
             <tr><th>network</th><td>{network}</td></tr><tr><th>environment</th><td>{env}</td></tr>\
             <tr><th>secrets</th><td>{secrets}</td></tr></table>",
        line = esc(c["line"].as_str().unwrap_or("")),
        argv = argvs.join(""),
        cwd = boxed(c["cwd"].as_str().unwrap_or("")),
        reads = list("read_paths"),
        writes = list("write_paths"),
        network = esc(c["network"].as_str().unwrap_or("")),
        env = list("env_allow"),
        secrets = secrets_html(c, list("secret_refs")),
    )
}

/// The secrets a command receives once approved: the variable, the secret's name and the rule
/// that granted it (never a value), and any CSC `secret_refs`.
fn secrets_html(c: &Value, refs: String) -> String {
    let granted: Vec<String> = c["secrets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            format!(
                "<code>{}</code> ← the secret <code>{}</code> ({})",
                esc(g["env"].as_str().unwrap_or("")),
                esc(g["secret"].as_str().unwrap_or("")),
                esc(g["granted_by"].as_str().unwrap_or(""))
            )
        })
        .collect();
    match (granted.is_empty(), refs.as_str()) {
        (true, _) => refs,
        (false, "none") => granted.join("<br>"),
        (false, _) => format!("{}<br>secret_refs: {refs}", granted.join("<br>")),
    }
}

/// A form's body, read only after its request passed every check on its headers: at most
/// [`MAX_BODY`] bytes, within [`BODY_TIMEOUT`].
async fn read_form(headers: &Headers, body: Incoming) -> Result<Vec<(String, String)>, Page> {
    let too_large = || Page::refuse(413, "refused: the form is too large");
    let declared = headers
        .get("Content-Length")
        .and_then(|n| n.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let collected = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect())
        .await
        .map_err(|_| Page::refuse(408, "refused: the form did not arrive in time"))?
        .map_err(|_| Page::refuse(400, "refused: the form is unreadable or too large"))?;
    let bytes = collected.to_bytes();
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

/// One argument, path or name in its own isolated box: `<bdi>` keeps the bidi algorithm from
/// carrying text across its edges, and the border shows where it starts and ends.
fn boxed(text: &str) -> String {
    format!("<bdi class=arg dir=ltr>{}</bdi>", esc(text))
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn approval_text(approval: &Value) -> String {
    if approval.is_null() {
        return String::new();
    }
    let who: Vec<String> = approval["approvals"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "{} ({}, {})",
                a["approver"].as_str().unwrap_or(""),
                a["scope"].as_str().unwrap_or(""),
                a["approval_id"].as_str().unwrap_or("")
            )
        })
        .collect();
    match approval["state"].as_str() {
        Some("approved") => format!("approved by {}", who.join(", ")),
        Some(state) => format!("{state}: {}", approval["reason"].as_str().unwrap_or("")),
        None => String::new(),
    }
}

/// The journal's verification status, as `cordon verify` would report it with the home's key.
fn verification_html(home: &Home, dir: &Path) -> String {
    let ring = home.signing_key().ok().and_then(|(pem, key_id)| {
        let bytes = std::fs::read(pem.with_extension("pub")).ok()?;
        keys::parse_public_key(&bytes)
            .ok()
            .map(|k| KeyRing::single(key_id, k))
    });
    let Some(ring) = ring else {
        return "<p id=verification class=warn>Verification: no public key in the home, so signatures cannot be checked.</p>".into();
    };
    let options = cordon_journal::verify::VerifyOptions {
        ring,
        ..Default::default()
    };
    match cordon_journal::verify::verify_journal(dir, &options) {
        Ok(v) => {
            let label = serde_json::to_value(v.verdict)
                .ok()
                .and_then(|l| l.as_str().map(str::to_uppercase))
                .unwrap_or_default();
            let mut html = format!(
                "<p id=verification>Verification: <b>{label}</b> — {} entries ({} decisions, {} receipts), {} checkpoints matched.</p>",
                v.entries, v.decisions, v.receipts, v.checkpoints_matched
            );
            for f in v.failures.iter().chain(&v.undecided) {
                html.push_str(&format!(
                    "<p class=warn>{}: {}</p>",
                    esc(f.code),
                    esc(&f.reason)
                ));
            }
            html
        }
        Err(e) => format!(
            "<p id=verification class=warn>Verification could not run: {}</p>",
            esc(&e.to_string())
        ),
    }
}

fn lines(r: &ApprovalRequest) -> Vec<String> {
    r.summary
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["line"].as_str().map(str::to_string))
        .collect()
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>cordon — {t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:1rem auto;padding:0 1rem}}\
         code{{background:#f3f3f3;padding:0 .2rem}}\
         bdi.arg,bdi.line{{unicode-bidi:isolate;direction:ltr;display:inline-block;font-family:monospace;white-space:pre-wrap;\
         background:#f3f3f3;border:1px solid #999;padding:0 .2rem;margin:.1rem}}pre.contract{{unicode-bidi:isolate;direction:ltr}}table{{border-collapse:collapse;margin:.5rem 0}}\
         td,th{{border:1px solid #ccc;padding:.2rem .4rem;text-align:left;vertical-align:top}}\
         section.request{{border:2px solid #c60;padding:.5rem 1rem;margin:1rem 0}}.warn{{color:#a00}}\
         .note{{background:#efe;padding:.5rem}}form{{display:inline-block;margin:.5rem 1rem .5rem 0}}</style></head>\
         <body><nav><a href=\"/\">Approvals</a> · <a href=\"/journal\">Journal</a></nav><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    )
}

/// Text as the page shows it, in text and attribute values alike: every misleading character
/// made a visible escape (`cordon_core::display::visible`), then HTML-escaped.
pub fn esc(text: &str) -> String {
    let text = cordon_core::display::visible(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn redirects_stay_on_this_server() {
        for (path, to) in [
            ("/", "/"),
            ("/requests/req_1", "/requests/req_1"),
            ("/journal", "/journal"),
            ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),
            ("//evil.example", "/"),
            ("/\\evil.example", "/"),
            ("/\\/evil.example", "/"),
            ("/a\\b", "/"),
            ("/\t/evil.example", "/"),
            ("/\n/evil.example", "/"),
            ("https://evil.example/", "/"),
            ("evil.example", "/"),
            ("", "/"),
        ] {
            assert_eq!(local_path(path), to, "{path:?}");
        }
    }

    #[test]
    fn the_page_shows_misleading_characters_as_escapes() {
        assert_eq!(
            esc("curl https://example.com/\u{202e}hs.lmth"),
            "curl https://example.com/\\u{202e}hs.lmth"
        );
        assert_eq!(
            boxed("a\u{2066}b<"),
            "<bdi class=arg dir=ltr>a\\u{2066}b&lt;</bdi>"
        );
    }

    #[test]
    fn token_comparison_is_exact() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
