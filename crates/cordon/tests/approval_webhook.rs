//! The webhook channel against a local HTTP receiver: a Slack-compatible Block Kit message with
//! the command, the reason and a link to the page, secrets redacted; failed deliveries retried
//! with growing delays while the request stays pending.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approval_support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use approval_support::{text, wait, Home};
use serde_json::{json, Value};

/// Accepts one HTTP request, answers `status`, returns the body.
fn receive(listener: &TcpListener, status: u16) -> String {
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    let reason = if status == 200 { "OK" } else { "Server Error" };
    let mut stream = reader.into_inner();
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    )
    .unwrap();
    String::from_utf8(body).unwrap()
}

#[test]
fn the_webhook_gets_a_redacted_block_kit_message_retried_with_backoff() {
    let home = Home::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::fs::write(
        home.path("home/approvals.json"),
        json!({
            "webhook_url": format!("http://127.0.0.1:{port}/hook"),
            "page_url": "http://127.0.0.1:8731"
        })
        .to_string(),
    )
    .unwrap();
    let contract = home.contract(
        "hook",
        &[
            "API_TOKEN=supersecret123",
            "https://bob:hunter2@example.com/x",
            "visible-word",
        ],
        false,
    );
    let policy = home.p("policy.json");
    let run = home.spawn(&["run", &contract, &policy, "--approval-timeout", "30"]);

    // Two failures, then success; the request stays pending throughout.
    let mut times = Vec::new();
    for _ in 0..2 {
        receive(&listener, 500);
        times.push(Instant::now());
        assert_eq!(
            home.pending().len(),
            1,
            "an undelivered request stays pending"
        );
    }
    let body = receive(&listener, 200);
    times.push(Instant::now());
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[0] >= Duration::from_millis(200), "{gaps:?}");
    assert!(
        gaps[1] >= Duration::from_millis(400),
        "backoff grows: {gaps:?}"
    );

    let message: Value = serde_json::from_str(&body).unwrap();
    let id = home.pending()[0]["id"].as_str().unwrap().to_string();
    assert!(message["text"].as_str().unwrap().contains(&id));
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let all = body.clone();
    assert!(all.contains("visible-word"), "the command is shown");
    assert!(all.contains("[REDACTED]"));
    assert!(!all.contains("supersecret123"), "{all}");
    assert!(!all.contains("hunter2"), "{all}");
    assert!(
        all.contains("contract approval mode requires approval"),
        "the reason is shown"
    );
    let button = blocks.iter().find(|b| b["type"] == "actions").unwrap()["elements"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(button, format!("http://127.0.0.1:8731/requests/{id}"));
    assert!(!all.contains("token="), "the link carries no token");

    // Delivery is recorded; the request is still only pending until someone answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    while home.pending()[0]["notified_at"].is_null() {
        assert!(Instant::now() < deadline, "delivery was never recorded");
        std::thread::sleep(Duration::from_millis(50));
    }
    home.ok(&["deny", &id]);
    let out = wait(run, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
}
