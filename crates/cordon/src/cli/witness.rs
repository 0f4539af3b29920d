//! `cordon witness serve --db URL [--listen ADDR] [--key K] [--name N] [--workers W]` and
//! `cordon witness query --db URL commands|denials|approvals [--agent A] [--machine M]
//! [--approver X] [--since T] [--until T] [--limit N] [--json]`: the team's witness and the
//! auditor's questions to its mirror (docs/fleet.md).
//!
//! The database URL may come from `CORDON_WITNESS_DB` instead of `--db`, which keeps its password
//! out of the process list.

use std::path::PathBuf;
use std::sync::Arc;

use cordon_journal::witness::server::WitnessServer;
use cordon_journal::witness::{Hit, Query, QueryKind, WitnessDb, WitnessKey};
use cordon_journal::{JournalError, Signer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::exit::{self, CliError};
use crate::output;

/// The environment variable that may name the witness's database.
pub const DB_VAR: &str = "CORDON_WITNESS_DB";

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Run the witness: cosign each machine's checkpoints that extend what it saw, mirror every
    /// entry. Prints its URL and its verifier key, then serves until stopped.
    Serve(ServeArgs),
    /// Search the witness's mirror: the commands an agent ran on a machine, every denial, every
    /// approval and by whom. Newest first; each hit carries the signed entry itself.
    Query(QueryArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The witness's PostgreSQL database (postgres://user:password@host:port/db); default:
    /// `CORDON_WITNESS_DB`.
    #[arg(long)]
    pub db: Option<String>,
    /// Address to listen on (port 0 picks a free port). The machines push here.
    #[arg(long, default_value = "127.0.0.1:8740")]
    pub listen: String,
    /// The private key the witness cosigns with (PKCS#8 PEM); default: the home's signing key.
    /// Keep it on a host the machines' administrators do not control.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The witness's name in its cosignatures (a schema-less URL, no spaces or '+'); default:
    /// this machine's name followed by `/cordon-witness`.
    #[arg(long)]
    pub name: Option<String>,
    /// Worker threads, each with its own database connection.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
}

/// The questions an auditor asks.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Kind {
    /// Commands that ran (receipts), with the agent whose decision let them run.
    Commands,
    /// Every decision that denied.
    Denials,
    /// Every decision that carried an approval, and who approved.
    Approvals,
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// What to find.
    #[arg(value_enum)]
    pub kind: Kind,
    /// The witness's PostgreSQL database; default: `CORDON_WITNESS_DB`.
    #[arg(long)]
    pub db: Option<String>,
    /// Only this agent (the entries' `actor`, e.g. agent:claude-code).
    #[arg(long)]
    pub agent: Option<String>,
    /// Only this machine (the name it pushes under).
    #[arg(long)]
    pub machine: Option<String>,
    /// Only approvals given by this approver.
    #[arg(long)]
    pub approver: Option<String>,
    /// From this time on: RFC 3339 (2026-12-01T00:00:00Z) or a duration back from now (7d, 24h).
    #[arg(long)]
    pub since: Option<String>,
    /// Before this time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many hits, newest first.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// One JSON array of hits.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    match args {
        Args::Serve(args) => serve(args),
        Args::Query(args) => query(args),
    }
}

/// `--db`, else `CORDON_WITNESS_DB`; a PostgreSQL URL either way.
fn database_url(db: Option<String>) -> Result<String, CliError> {
    let url = db
        .or_else(|| std::env::var(DB_VAR).ok())
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            CliError::usage(format!(
                "name the witness's database with --db postgres://… or {DB_VAR}"
            ))
        })?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(CliError::usage(
            "the witness's database must be a postgres:// URL (postgres://user:password@host:port/dbname)",
        ));
    }
    Ok(url)
}

/// A witness or database error: unreachable is "unavailable" (69), anything else internal.
fn witness_error(e: JournalError) -> CliError {
    match e {
        JournalError::Database(why) | JournalError::Transport { reason: why, .. } => CliError {
            code: exit::UNAVAILABLE,
            message: why,
        },
        other => CliError::internal(other.to_string()),
    }
}

fn serve(args: ServeArgs) -> Result<u8, CliError> {
    let url = database_url(args.db)?;
    let (key_path, key_id) = match args.key {
        Some(path) => (path, "witness".to_string()),
        None => crate::approving::home()?.signing_key().map_err(|e| {
            CliError::usage(format!(
                "{}; or give the witness's key with --key",
                e.message
            ))
        })?,
    };
    let signer =
        Signer::from_file(&key_path, key_id).map_err(|e| CliError::invalid_input(e.to_string()))?;
    let name = args
        .name
        .unwrap_or_else(|| format!("{}/cordon-witness", crate::home::machine_name()));
    let vkey = WitnessKey {
        name: name.clone(),
        key: signer.verifying_key(),
    }
    .vkey();
    let server = WitnessServer::start(
        &args.listen,
        &url,
        &name,
        Arc::new(signer),
        usize::from(args.workers),
    )
    .map_err(|e| match e {
        JournalError::Format(why) => CliError::usage(format!("--name: {why}")),
        other => witness_error(other),
    })?;
    output::answer(
        &format!(
            "cordon witness: {name} listening on {}\nverifier key: {vkey}\n",
            server.url()
        ),
        exit::OK,
    )?;
    server.wait();
    Ok(exit::OK)
}

fn query(args: QueryArgs) -> Result<u8, CliError> {
    let url = database_url(args.db)?;
    let now = OffsetDateTime::now_utc();
    let query = Query {
        agent: args.agent,
        machine: args.machine,
        approver: args.approver,
        since: args
            .since
            .map(|t| point_in_time("--since", &t, now))
            .transpose()?,
        until: args
            .until
            .map(|t| point_in_time("--until", &t, now))
            .transpose()?,
        limit: args.limit,
    };
    let kind = match args.kind {
        Kind::Commands => QueryKind::Commands,
        Kind::Denials => QueryKind::Denials,
        Kind::Approvals => QueryKind::Approvals,
    };
    let hits = WitnessDb::connect(&url)
        .and_then(|mut db| db.query(kind, &query))
        .map_err(witness_error)?;
    if args.json {
        let text = serde_json::to_string(&hits).map_err(|e| CliError::internal(e.to_string()))?;
        return output::answer(&format!("{text}\n"), exit::OK);
    }
    output::answer(&render(&hits), exit::OK)
}

/// An RFC 3339 time, or a duration back from `now`, as RFC 3339 in UTC.
fn point_in_time(flag: &str, text: &str, now: OffsetDateTime) -> Result<String, CliError> {
    let at = match OffsetDateTime::parse(text, &Rfc3339) {
        Ok(at) => at,
        Err(_) => match crate::approving::parse_duration(text) {
            Ok(back) => now - back,
            Err(_) => {
                return Err(CliError::usage(format!(
                    "{flag} {text:?}: expected an RFC 3339 time (2026-12-01T00:00:00Z) or a duration back from now (45m, 24h, 7d)"
                )))
            }
        },
    };
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| CliError::internal(e.to_string()))
}

/// One line per hit: when, where, who, what, and which entry of which log.
fn render(hits: &[Hit]) -> String {
    let mut text = String::new();
    for hit in hits {
        let approvers = if hit.approvers.is_empty() {
            String::new()
        } else {
            format!("  approved by {}", hit.approvers.join(", "))
        };
        let field = |v: &Option<String>| shown(v.as_deref().unwrap_or("-"));
        text.push_str(&format!(
            "{}  {}  {}  {}  {}{}  [{} #{}]\n",
            field(&hit.at),
            shown(&hit.machine),
            field(&hit.agent),
            field(&hit.outcome),
            field(&hit.command),
            shown(&approvers),
            shown(&hit.origin),
            hit.index,
        ));
    }
    text.push_str(&match hits.len() {
        0 => "no entries match\n".to_string(),
        1 => "1 entry\n".to_string(),
        n => format!("{n} entries\n"),
    });
    text
}

/// `text` with every control character and every invisible or direction-changing character
/// written as an escape: what machines pushed (an agent's command text above all) must not drive
/// the auditor's terminal or read as something else.
fn shown(text: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    text.chars()
        .map(|c| {
            if hidden(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_text_cannot_drive_the_terminal() {
        assert_eq!(shown("git push"), "git push");
        assert_eq!(shown("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(shown("x\u{202e}y\n"), "x\\u{202e}y\\u{a}");
    }

    #[test]
    fn times_are_rfc3339_or_durations_back_from_now() {
        #![allow(clippy::unwrap_used)]
        let now = OffsetDateTime::parse("2026-12-08T12:00:00Z", &Rfc3339).unwrap();
        assert_eq!(
            point_in_time("--since", "7d", now).unwrap(),
            "2026-12-01T12:00:00Z"
        );
        assert_eq!(
            point_in_time("--since", "2026-12-01T01:00:00+01:00", now).unwrap(),
            "2026-12-01T00:00:00Z"
        );
        let err = point_in_time("--until", "last week", now).unwrap_err();
        assert_eq!(err.code, exit::USAGE);
        assert!(err
            .message
            .starts_with("--until \"last week\": expected an RFC 3339 time"));
    }
}
