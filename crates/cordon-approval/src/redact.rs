//! Redaction of secrets from text that leaves the machine (a chat message) or reaches a page.
//!
//! A command line can carry credentials: `curl -H 'Authorization: Bearer …'`, `AWS_SECRET=… cmd`,
//! `git clone https://user:token@host/…`. What goes to a webhook shows the command's shape with
//! those values replaced by `[REDACTED]`. This is a best-effort filter for known shapes, not a
//! guarantee: docs/approvals.md says what it does not catch.

use std::sync::OnceLock;

use regex::Regex;

pub const MASK: &str = "[REDACTED]";

struct Rules {
    url_credentials: Regex,
    assignment: Regex,
    flag: Regex,
    bearer: Regex,
    token: Regex,
}

fn rules() -> Option<&'static Rules> {
    static RULES: OnceLock<Option<Rules>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            Some(Rules {
                // scheme://user:password@host, scheme://token@host
                url_credentials: Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s:@]+(:[^/\s@]*)?@").ok()?,
                // NAME=value where NAME sounds like a secret (env assignments, key=value args).
                assignment: Regex::new(
                    r"(?i)\b([A-Z0-9_.\-]*(?:TOKEN|SECRET|PASSWORD|PASSWD|PASS|PWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH|SESSION|COOKIE)[A-Z0-9_\-]*)=(?:'[^']*'|\x22[^\x22]*\x22|[^\s'\x22]+)",
                )
                .ok()?,
                // --password VALUE, --token=VALUE, -p VALUE is too ambiguous and left alone.
                flag: Regex::new(
                    r"(?i)(--?(?:password|passwd|token|secret|api-key|apikey|auth|access-key|private-key)(?:=|\s+))(?:'[^']*'|\x22[^\x22]*\x22|[^\s'\x22]+)",
                )
                .ok()?,
                bearer: Regex::new(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=\-]{8,}").ok()?,
                // Well-known token shapes, and any long run of key-like characters.
                token: Regex::new(
                    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9\-]{10,}|sk-[A-Za-z0-9_\-]{16,}|glpat-[A-Za-z0-9_\-]{16,}|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+|[A-Za-z0-9+/_\-]{40,}={0,2})",
                )
                .ok()?,
            })
        })
        .as_ref()
}

/// `text` with every secret-shaped value replaced by [`MASK`]. If the rules cannot be built,
/// nothing of the text is returned (fail closed: better no command than a leaked secret).
pub fn redact(text: &str) -> String {
    let Some(r) = rules() else {
        return MASK.to_string();
    };
    let text = r
        .url_credentials
        .replace_all(text, format!("${{1}}{MASK}@").as_str());
    let text = r
        .assignment
        .replace_all(&text, format!("${{1}}={MASK}").as_str());
    let text = r.flag.replace_all(&text, format!("${{1}}{MASK}").as_str());
    let text = r
        .bearer
        .replace_all(&text, format!("${{1}} {MASK}").as_str());
    let text = r.token.replace_all(&text, MASK);
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_known_secret_shapes_and_keeps_the_command() {
        let cases = [
            ("git push origin main", "git push origin main"),
            (
                "git clone https://alice:hunter2@example.com/r.git",
                "git clone https://[REDACTED]@example.com/r.git",
            ),
            (
                "AWS_SECRET_ACCESS_KEY=abc123 aws s3 ls",
                "AWS_SECRET_ACCESS_KEY=[REDACTED] aws s3 ls",
            ),
            ("API_KEY='x y' run", "API_KEY=[REDACTED] run"),
            (
                "curl -H 'Authorization: Bearer abcdefgh12345678' u",
                "curl -H 'Authorization: Bearer [REDACTED]' u",
            ),
            (
                "mysql --password=s3cret db",
                "mysql --password=[REDACTED] db",
            ),
            ("tool --token s3cretvalue x", "tool --token [REDACTED] x"),
            (
                "echo ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                "echo [REDACTED]",
            ),
            ("echo AKIAABCDEFGHIJKLMNOP", "echo [REDACTED]"),
            ("PATH=/usr/bin ls", "PATH=/usr/bin ls"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "{input}");
        }
    }
}
