//! `cordon serve`'s approval page over raw HTTP: it refuses a non-loopback bind, requests without
//! the token, a foreign Host (DNS rebinding) or Origin, and form posts without the CSRF token or
//! without an Origin; it escapes what it shows; and an honest approve click runs the command.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approval_support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Child;
use std::time::Duration;

use approval_support::{text, wait, Home};

struct Server {
    child: Child,
    addr: String,
    token: String,
}

impl Server {
    fn port(&self) -> &str {
        self.addr.rsplit(':').next().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(home: &Home) -> Server {
    let (child, url) = approval_support::serve(home);
    let url = url.strip_prefix("http://").unwrap().to_string();
    let (addr, token) = url.split_once("/?token=").unwrap();
    Server {
        child,
        addr: addr.to_string(),
        token: token.to_string(),
    }
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// One HTTP/1.1 request with the given extra header lines.
fn http(addr: &str, method: &str, path: &str, headers: &[String], body: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    if !body.is_empty() {
        request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn csrf_of(page: &str) -> String {
    let start = page.find("name=csrf value=\"").unwrap() + "name=csrf value=\"".len();
    page[start..].split('"').next().unwrap().to_string()
}

#[test]
fn serve_refuses_a_non_loopback_address() {
    let home = Home::new();
    let out = home.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("loopback only"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_page_needs_the_token_and_a_loopback_host_and_origin() {
    let home = Home::new();
    let server = serve(&home);
    let host = format!("Host: {}", server.addr);
    let cookie = format!("Cookie: cordon_token_{}={}", server.port(), server.token);

    // Positive control: the token in the query sets a cookie; the cookie opens the page.
    let first = http(
        &server.addr,
        "GET",
        &format!("/?token={}", server.token),
        std::slice::from_ref(&host),
        "",
    );
    assert_eq!(first.status, 303);
    assert!(
        first.head.contains("HttpOnly; SameSite=Strict"),
        "{}",
        first.head
    );
    let page = http(
        &server.addr,
        "GET",
        "/",
        &[host.clone(), cookie.clone()],
        "",
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Pending"));
    let journal = http(
        &server.addr,
        "GET",
        "/journal",
        &[host.clone(), cookie.clone()],
        "",
    );
    assert_eq!(journal.status, 200);
    assert!(journal.body.contains("id=verification"), "{}", journal.body);

    // No token, a wrong token.
    assert_eq!(
        http(&server.addr, "GET", "/", std::slice::from_ref(&host), "").status,
        401
    );
    assert_eq!(
        http(
            &server.addr,
            "GET",
            "/?token=0000",
            std::slice::from_ref(&host),
            ""
        )
        .status,
        401
    );
    assert_eq!(
        http(
            &server.addr,
            "GET",
            "/",
            &[
                host.clone(),
                format!("Cookie: cordon_token_{}=nope", server.port())
            ],
            ""
        )
        .status,
        401
    );
    // DNS rebinding: the right token but another host name; a missing Host.
    let port = server.addr.rsplit(':').next().unwrap();
    for bad_host in [
        format!("Host: evil.example:{port}"),
        format!("Host: 127.0.0.1:{}", port.parse::<u16>().unwrap() ^ 1),
    ] {
        let a = http(
            &server.addr,
            "GET",
            "/",
            &[bad_host.clone(), cookie.clone()],
            "",
        );
        assert_eq!(a.status, 403, "{bad_host}");
    }
    // A cross-origin request with the cookie (a browser would attach it) is refused.
    let a = http(
        &server.addr,
        "GET",
        "/",
        &[
            host.clone(),
            cookie.clone(),
            "Origin: http://evil.example".into(),
        ],
        "",
    );
    assert_eq!(a.status, 403);
    // Positive control: the same-origin Origin header passes.
    let a = http(
        &server.addr,
        "GET",
        "/",
        &[
            host.clone(),
            cookie,
            format!("Origin: http://{}", server.addr),
        ],
        "",
    );
    assert_eq!(a.status, 200);
}

#[test]
fn approving_through_the_page_needs_csrf_and_origin_and_runs_the_command() {
    let home = Home::new();
    // An argv with markup: the page must show it as text.
    let contract = home.contract("web", &["<b>bold</b>", "web-run"], false);
    let policy = home.p("policy.json");
    let receipt_path = home.p("web.receipt.json");
    let key = home.alice_key().display().to_string();
    let journal = home.p("home/journal");
    let run = home.spawn(&[
        "run",
        &contract,
        &policy,
        "--approval-timeout",
        "30",
        "--receipt",
        &receipt_path,
        "--signing-key",
        &key,
        "--key-id",
        "alice-key",
        "--journal",
        &journal,
    ]);
    let id = home.wait_for_request();
    let server = serve(&home);
    let host = format!("Host: {}", server.addr);
    let cookie = format!("Cookie: cordon_token_{}={}", server.port(), server.token);
    let origin = format!("Origin: http://{}", server.addr);

    let page = http(
        &server.addr,
        "GET",
        "/",
        &[host.clone(), cookie.clone()],
        "",
    );
    assert!(page.body.contains(&id));
    assert!(
        page.body.contains("&lt;b&gt;bold&lt;/b&gt;"),
        "argv is escaped"
    );
    assert!(!page.body.contains("<b>bold</b>"));
    assert!(
        page.body
            .contains("contract approval mode requires approval"),
        "the policy's reason"
    );
    let csrf = csrf_of(&page.body);
    let path = format!("/requests/{id}/approve");

    // Without the CSRF token, with a wrong one, without Origin, from another origin, without
    // the cookie: all refused, and the request stays pending.
    let attempts = [
        (
            vec![host.clone(), cookie.clone(), origin.clone()],
            "scope=once".to_string(),
            403,
        ),
        (
            vec![host.clone(), cookie.clone(), origin.clone()],
            "scope=once&csrf=bad".into(),
            403,
        ),
        (
            vec![host.clone(), cookie.clone()],
            format!("scope=once&csrf={csrf}"),
            403,
        ),
        (
            vec![
                host.clone(),
                cookie.clone(),
                "Origin: http://evil.example".into(),
            ],
            format!("scope=once&csrf={csrf}"),
            403,
        ),
        (
            vec![host.clone(), origin.clone()],
            format!("scope=once&csrf={csrf}"),
            401,
        ),
    ];
    for (headers, body, status) in attempts {
        let a = http(&server.addr, "POST", &path, &headers, &body);
        assert_eq!(a.status, status, "{headers:?} {body}: {}", a.body);
        assert_eq!(home.pending().len(), 1);
    }
    // Positive control: the honest form post approves, and the command runs.
    let a = http(
        &server.addr,
        "POST",
        &path,
        &[host.clone(), cookie.clone(), origin],
        &format!("scope=once&csrf={csrf}&reason=looks+fine"),
    );
    assert_eq!(a.status, 303, "{}", a.body);
    let out = wait(run, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("web-run"));
    let receipt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&receipt_path).unwrap()).unwrap();
    assert_eq!(
        receipt["x-cordon"]["approval"]["approvals"][0]["approver"],
        "alice"
    );

    // The journal view shows the decision with its approver, the receipt, and a valid journal.
    let page = http(&server.addr, "GET", "/journal", &[host, cookie], "");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Verification: <b>VALID</b>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("approved by alice (once, apr_"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<td>receipt</td>"), "{}", page.body);
}
