//! The chat channel: a Slack-compatible Block Kit message announcing a pending request, with the
//! command (secrets redacted), the policy's reason, and links back to the local web page.
//!
//! The message only announces: answering still needs an approver's key (the web page or
//! `cordon approve`), so anyone who can read the channel can see a request but cannot approve
//! it. The link carries no token. Delivery retries with exponential backoff until it succeeds or
//! the request's deadline passes; an undelivered request simply stays pending (and expires into a
//! denial).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::redact::redact;
use crate::store::Request;

/// First retry delay; each failure doubles it, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The Block Kit message for a request. `page_url` is the web page's base URL, if one is known.
pub fn message(request: &Request, page_url: Option<&str>) -> Value {
    let lines: Vec<String> = request
        .summary
        .as_array()
        .map(|commands| {
            commands
                .iter()
                .filter_map(|c| c.get("line").and_then(Value::as_str))
                .map(shown)
                .collect()
        })
        .unwrap_or_default();
    let command = cut(&lines.join("\n"), MAX_SECTION);
    let reason = cut(&shown(&request.reason), MAX_FIELD);
    let cwd = request
        .summary
        .get(0)
        .and_then(|c| c.get("cwd"))
        .and_then(Value::as_str)
        .map(|cwd| cut(&shown(cwd), MAX_FIELD))
        .unwrap_or_default();
    let network = request
        .summary
        .get(0)
        .and_then(|c| c.get("network"))
        .and_then(Value::as_str)
        .unwrap_or("deny")
        .to_string();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": "cordon: approval requested"}}),
        json!({"type": "section", "text": {"type": "mrkdwn",
            "text": format!("*Command*\n```{}```", escape(&command).replace("```", "'''"))}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Reason*\n{}", escape(&reason))},
            {"type": "mrkdwn", "text": format!("*Request*\n`{}`", escape(&request.id))},
            {"type": "mrkdwn", "text": format!("*Directory*\n`{}`", escape(&cwd))},
            {"type": "mrkdwn", "text": format!("*Network*\n{}", escape(&network))},
            {"type": "mrkdwn", "text": format!("*Approvers needed*\n{}", request.required_approvers)},
        ]}),
    ];
    if let Some(base) = page_url {
        let base = base.trim_end_matches('/');
        blocks.push(json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Review"},
             "url": format!("{base}/requests/{}", request.id), "action_id": "review"},
            {"type": "button", "text": {"type": "plain_text", "text": "All pending"},
             "url": format!("{base}/"), "action_id": "pending"},
        ]}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
        "Answer with your approver key: `cordon approve {0}` or `cordon deny {0}`. No answer means deny.",
        escape(&request.id)
    )}]}));
    json!({
        "text": format!("cordon: approval requested for {} ({})", escape(&cut(&command, 300)), escape(&request.id)),
        "blocks": blocks,
    })
}

/// Agent text as the channel shows it: secrets redacted, and every misleading character (a bidi
/// override, a zero-width space, a newline inside an argument) a visible escape.
fn shown(text: &str) -> String {
    cordon_core::display::visible(&redact(text)).into_owned()
}

/// Block Kit limits (section text 3000 characters, a field 2000): longer text is cut, with a
/// marker, so an oversized command never makes the message undeliverable.
const MAX_SECTION: usize = 2800;
const MAX_FIELD: usize = 1900;

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… (cut; see the page)")
}

/// Slack's mrkdwn escaping: `&`, `<`, `>` would otherwise make links and mentions.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// POSTs `message` to `url`, retrying with exponential backoff until a 2xx answer or `deadline`.
/// Returns the number of attempts on success, or the last failure.
pub fn deliver(url: &str, message: &Value, deadline: Instant) -> Result<u32, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let body = message.to_string();
    let mut delay = FIRST_BACKOFF;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let last = match agent
            .post(url)
            .header("content-type", "application/json")
            .send(body.as_str())
        {
            Ok(response) if response.status().is_success() => return Ok(attempts),
            Ok(response) => format!("the webhook answered {}", response.status()),
            Err(e) => format!("the webhook is unreachable: {e}"),
        };
        let now = Instant::now();
        if now + delay >= deadline {
            return Err(format!("{last} (gave up after {attempts} attempts)"));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::RequestState;

    fn request(line: &str) -> Request {
        Request {
            id: "req_1".into(),
            machine: "laptop-a".into(),
            contract: Value::Null,
            contract_sha256: "0".repeat(64),
            session_id: "s".into(),
            summary: json!([{"line": line, "cwd": "/repo", "network": "deny"}]),
            reason: "pushes <to> main & more".into(),
            required_approvers: 1,
            created_at: 0,
            deadline: 10,
            state: RequestState::Pending,
            answered_by: None,
            answer_reason: None,
            notified_at: None,
        }
    }

    #[test]
    fn the_message_escapes_redacts_cuts_and_links() {
        let m = message(
            &request("curl -H 'Authorization: Bearer abcdefgh12345678' u"),
            Some("http://127.0.0.1:8731/"),
        );
        let text = m.to_string();
        assert!(!text.contains("abcdefgh12345678"));
        assert!(text.contains("pushes &lt;to&gt; main &amp; more"));
        assert!(text.contains("http://127.0.0.1:8731/requests/req_1"));
        let long = message(&request(&"echo ab ".repeat(2_000)), None);
        let section = long["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(section.chars().count() < 3000);
        assert!(section.contains("(cut; see the page)"));
        assert!(long["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["type"] != "actions"));
    }
}
