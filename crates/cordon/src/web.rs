//! The local approval page of `cordon serve`: pending requests with everything a person needs to
//! judge them (exact argv, cwd, read and write scopes, network, the policy's reason, the contract),
//! approve and deny buttons, and a view of the journal with its verification status.
//!
//! Who can use it. The server binds loopback only. Every request must carry the random token
//! printed at start: once as `?token=` (answered with an HttpOnly, SameSite=Strict cookie and a
//! redirect that drops it from the address bar), then the cookie, or an `Authorization: Bearer`
//! header. The `Host` header must name the loopback address and port the server bound, so a DNS
//! rebinding page (whose requests carry its own host name) is refused; an `Origin` header, when
//! present, must be this same origin. A POST additionally needs a same-origin `Origin` (or
//! `Referer`) and the page's CSRF token. Approving signs with the key of the person who started
//! `cordon serve` (their approver key); the token only lets the browser talk to that process.
//!
//! Everything shown is HTML-escaped; the page sends a strict Content-Security-Policy with no
//! scripts at all.

use std::net::SocketAddr;
use std::path::Path;

use cordon_approval::{ApprovalStore, Request as ApprovalRequest, RequestState};
use cordon_core::approval::ApprovalMethod;
use cordon_journal::keys::{self, KeyRing};
use cordon_journal::record::{entry_kind, EntryKind};
use serde_json::Value;
use tiny_http::{Header, Method, Response, Server};

use crate::approving::{answer, unix_now, Approver};
use crate::home::Home;

const COOKIE: &str = "cordon_token";
const MAX_BODY: usize = 16 * 1024;
const JOURNAL_ROWS: u64 = 200;

/// A bound, not yet serving, approval page.
pub struct WebPage {
    server: Server,
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

    fn redirect(to: &str) -> Page {
        Page {
            status: 303,
            body: String::new(),
            headers: vec![("Location".into(), to.into())],
        }
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
        let server = Server::http(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| format!("cannot listen on {addr}: not an IP socket"))?;
        Ok(WebPage {
            server,
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

    /// Serves until the process ends.
    pub fn serve(self) -> Result<(), String> {
        for mut request in self.server.incoming_requests() {
            let page = self.handle(&mut request);
            let mut response = Response::from_string(page.body).with_status_code(page.status);
            let security = [
                ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
                ("X-Frame-Options", "DENY"),
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "same-origin"),
                ("Cache-Control", "no-store"),
            ];
            let headers = security
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain(page.headers);
            for (name, value) in headers {
                if let Ok(h) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                    response.add_header(h);
                }
            }
            let _ = request.respond(response);
        }
        Ok(())
    }

    /// The Host values that name this server: its address, or `localhost` on its port.
    fn allowed_hosts(&self) -> Vec<String> {
        vec![
            self.addr.to_string(),
            format!("localhost:{}", self.addr.port()),
        ]
    }

    fn handle(&self, request: &mut tiny_http::Request) -> Page {
        let headers = Headers(
            request
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_string(),
                        h.value.as_str().to_string(),
                    )
                })
                .collect(),
        );
        let url = request.url().to_string();
        let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
        let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let method = request.method().clone();
        if let Err(answer) = self
            .check_origin(&headers)
            .and_then(|()| self.check_token(&headers, &method, path, &query))
        {
            return answer;
        }
        self.route(request, &headers, &method, path, &query)
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
        if let (Method::Get, Some((_, token))) = (method, query.iter().find(|(k, _)| k == "token"))
        {
            if !constant_time_eq(token, &self.token) {
                return Err(Page::refuse(
                    401,
                    "refused: wrong token; use the address `cordon serve` printed",
                ));
            }
            // Only ever back to a path on this server (`//host` would leave it).
            let back = if path.starts_with('/') && !path.starts_with("//") {
                path
            } else {
                "/"
            };
            let mut page = Page::redirect(back);
            page.headers.push((
                "Set-Cookie".into(),
                format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", self.token),
            ));
            return Err(page);
        }
        let cookie = headers.get("Cookie").and_then(|c| {
            c.split(';').find_map(|part| {
                part.trim()
                    .strip_prefix(COOKIE)
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

    fn route(
        &self,
        request: &mut tiny_http::Request,
        headers: &Headers,
        method: &Method,
        path: &str,
        query: &[(String, String)],
    ) -> Page {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            (Method::Get, [""]) => self.index(query),
            (Method::Get, ["requests", id]) => self.one(id),
            (Method::Get, ["journal"]) => self.journal(),
            (Method::Post, ["requests", id, action]) => {
                // A form post names its origin; one that does not must at least have a Referer here.
                let referer_ok = headers.get("Referer").is_some_and(|r| {
                    self.allowed_hosts()
                        .iter()
                        .any(|h| r.starts_with(&format!("http://{h}/")))
                });
                if headers.get("Origin").is_none() && !referer_ok {
                    return Page::refuse(
                        403,
                        "refused: a form post must come from this page (no Origin)",
                    );
                }
                let mut body = Vec::new();
                let read = std::io::Read::read_to_end(
                    &mut std::io::Read::take(request.as_reader(), MAX_BODY as u64 + 1),
                    &mut body,
                );
                if read.is_err() || body.len() > MAX_BODY {
                    return Page::refuse(400, "refused: the form is unreadable or too large");
                }
                let form: Vec<(String, String)> =
                    form_urlencoded::parse(&body).into_owned().collect();
                if !constant_time_eq(field(&form, "csrf"), &self.csrf) {
                    return Page::refuse(
                        403,
                        "refused: the form's CSRF token is missing or wrong; reload the page",
                    );
                }
                match *action {
                    "approve" => self.approve(id, &form),
                    "deny" => self.deny(id, field(&form, "reason")),
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
                "<tr><td><a href=\"/requests/{0}\">{0}</a></td><td><code>{1}</code></td><td>{2}</td><td>{3}</td><td>{4}</td></tr>",
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
             <p><b>Why the policy asks:</b> {reason}</p>\
             <p>Needs {n} distinct approver(s). Deadline in {left} s. Contract sha256 <code>{hash}</code>.</p>\
             <p>Filed on machine <b class=machine>{machine}</b>.</p>",
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
        let contract = serde_json::to_string_pretty(&r.contract).unwrap_or_default();
        html.push_str(&format!(
            "<details><summary>Synthesized contract (JSON)</summary><pre>{}</pre></details>",
            esc(&contract)
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
            .map(|v| format!("<code>{}</code>", esc(v.as_str().unwrap_or(""))))
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
                .map(|w| format!("<code class=arg>{}</code>", esc(w.as_str().unwrap_or(""))))
                .collect();
            format!("<li class=argv>[{}]</li>", words.join(", "))
        })
        .collect();
    format!(
        "<table class=command><tr><th>command</th><td><code class=line>{line}</code></td></tr>\
             <tr><th>argv (exact)</th><td><ul>{argv}</ul></td></tr>\
             <tr><th>cwd</th><td><code>{cwd}</code></td></tr>\
             <tr><th>reads</th><td>{reads}</td></tr><tr><th>writes</th><td>{writes}</td></tr>\
             <tr><th>network</th><td>{network}</td></tr><tr><th>environment</th><td>{env}</td></tr>\
             <tr><th>secrets</th><td>{secrets}</td></tr></table>",
        line = esc(c["line"].as_str().unwrap_or("")),
        argv = argvs.join(""),
        cwd = esc(c["cwd"].as_str().unwrap_or("")),
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
         code{{background:#f3f3f3;padding:0 .2rem}}table{{border-collapse:collapse;margin:.5rem 0}}\
         td,th{{border:1px solid #ccc;padding:.2rem .4rem;text-align:left;vertical-align:top}}\
         section.request{{border:2px solid #c60;padding:.5rem 1rem;margin:1rem 0}}.warn{{color:#a00}}\
         .note{{background:#efe;padding:.5rem}}form{{display:inline-block;margin:.5rem 1rem .5rem 0}}</style></head>\
         <body><nav><a href=\"/\">Approvals</a> · <a href=\"/journal\">Journal</a></nav><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    )
}

/// HTML escaping for text and attribute values.
pub fn esc(text: &str) -> String {
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
    fn token_comparison_is_exact() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
