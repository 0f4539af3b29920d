//! One module per subcommand. Each exposes an `Args` struct (clap) and `run(args) -> Result<u8, CliError>`,
//! and holds arguments and rendering only; what two subcommands share lives outside `cli/`, so no
//! subcommand module imports another. To add a command: add a module, a variant to `Command`, and
//! an arm to `dispatch`.

use clap::{Parser, Subcommand};

use crate::exit::CliError;

mod approvals;
mod approve;
mod check;
mod doctor;
mod exec;
mod explain;
mod export;
mod hook;
mod init;
mod install;
mod journal;
mod keygen;
mod mcp;
mod policy;
mod rollback;
mod run;
mod secret;
mod serve;
mod session;
mod trash;
mod verify;
mod verify_acta;
mod verify_receipt;
mod witness;

#[derive(Debug, Parser)]
#[command(
    name = "cordon",
    version,
    about = "Bounded, audited command execution for AI agents"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide whether a CSC contract may run under a policy, without running it.
    Check(check::Args),
    /// Decide, run what is allowed (optionally kernel-confined), and record it (signed with a key).
    Run(run::Args),
    /// Report the kernel features present and which modes and guarantees work here.
    Doctor(doctor::Args),
    /// Generate an Ed25519 signing key (PKCS#8 PEM, raw public key, key id, key ring).
    Keygen(keygen::Args),
    /// Verify one receipt's signature (csc-runner compatible).
    VerifyReceipt(verify_receipt::Args),
    /// Verify a whole journal: signatures, links, tree, checkpoints.
    Verify(verify::Args),
    /// Journal proofs and checkpoints.
    #[command(subcommand)]
    Journal(journal::Args),
    /// The agent front end: judge shell text or an argv under the policy in force.
    Exec(exec::Args),
    /// Show the parse, the contract, the matching rules, the outcome, and what would allow it.
    Explain(explain::Args),
    /// Test a native policy against fixtures.
    #[command(subcommand)]
    Policy(policy::Args),
    /// Export decision records in another format (Veritas Acta draft -03).
    Export(export::Args),
    /// Verify one Veritas Acta draft -03 receipt (agent-evidence-vectors verifier contract).
    VerifyActa(verify_acta::Args),
    /// Put a checkpoint's write scope back exactly (`--list` lists checkpoints).
    Rollback(rollback::Args),
    /// Soft-deleted files: list, restore, purge.
    #[command(subcommand)]
    Trash(trash::Args),
    /// Agent sessions: start, show, end (`CORDON_SESSION` names the current one).
    #[command(subcommand)]
    Session(session::Args),
    /// Answer an agent's hook event (Claude Code, Codex, Gemini CLI, Cursor) on stdin.
    Hook(hook::Args),
    /// Create the config home: the default policy, a signing key, an empty journal.
    Init(init::Args),
    /// Add cordon's hook to an agent's configuration (or remove it with --uninstall).
    Install(install::Args),
    /// Serve MCP on stdio: check_command, run_command, list_pending_approvals.
    Mcp(mcp::Args),
    /// Approval requests waiting for an answer, and the approvers a home trusts.
    #[command(subcommand)]
    Approvals(approvals::Args),
    /// Approve a pending request with your approver key (or pre-sign one for a contract).
    Approve(approve::Args),
    /// Deny a pending request.
    Deny(approve::DenyArgs),
    /// The local approval web page (loopback only, token required).
    Serve(serve::Args),
    /// A team's witness: cosigns each machine's journal checkpoints and mirrors its entries
    /// (serve), and answers an auditor's questions from the mirror (query).
    #[command(subcommand)]
    Witness(witness::Args),
    /// Secrets commands can be granted without the agent seeing them: set (value on stdin), list, rm.
    #[command(subcommand)]
    Secret(secret::Args),
}

impl Cli {
    /// Parses the command line.
    ///
    /// The full parser builds the arguments of all two dozen subcommands before it looks at
    /// one, which was the largest user-space term of a `cordon` start-up (most of it page faults
    /// in clap's builders, ≈ 0.2 ms; docs/benchmarks.md). The commands that sit on every agent
    /// action (`check`, `run`, `exec`, `hook`) are therefore parsed first by a parser that knows
    /// only that subcommand. Anything it does not accept (`--help`, a usage error) goes to the
    /// full parser, so what a person reads is unchanged; what it accepts is the same struct the
    /// full parser would build, since both use the derived `Args`.
    pub fn parse_args() -> Result<Cli, clap::Error> {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        match Self::parse_hot(&args) {
            Some(cli) => Ok(cli),
            None => Cli::try_parse_from(args),
        }
    }

    fn parse_hot(args: &[std::ffi::OsString]) -> Option<Cli> {
        use clap::{Args as _, FromArgMatches as _};
        let name = args.get(1)?.to_str()?;
        let only = match name {
            "check" => check::Args::augment_args(clap::Command::new("check")),
            "run" => run::Args::augment_args(clap::Command::new("run")),
            "exec" => exec::Args::augment_args(clap::Command::new("exec")),
            "hook" => hook::Args::augment_args(clap::Command::new("hook")),
            _ => return None,
        };
        let matches = clap::Command::new("cordon")
            .subcommand(only)
            .try_get_matches_from(args)
            .ok()?;
        Cli::from_arg_matches(&matches).ok()
    }
}

pub fn dispatch(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Run(args) => run::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::VerifyReceipt(args) => verify_receipt::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Journal(args) => journal::run(args),
        Command::Exec(args) => exec::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Policy(args) => policy::run(args),
        Command::Export(args) => export::run(args),
        Command::VerifyActa(args) => verify_acta::run(args),
        Command::Rollback(args) => rollback::run(args),
        Command::Trash(args) => trash::run(args),
        Command::Session(args) => session::run(args),
        Command::Hook(args) => hook::run(args),
        Command::Init(args) => init::run(args),
        Command::Install(args) => install::run(args),
        Command::Mcp(args) => mcp::run(args),
        Command::Approvals(args) => approvals::run(args),
        Command::Approve(args) => approve::run(args),
        Command::Deny(args) => approve::deny(args),
        Command::Serve(args) => serve::run(args),
        Command::Witness(args) => witness::run(args),
        Command::Secret(args) => secret::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<std::ffi::OsString> {
        line.split_whitespace().map(Into::into).collect()
    }

    #[test]
    fn the_hot_parser_builds_what_the_full_parser_builds() {
        let lines = [
            "cordon check c.json p.yaml",
            "cordon check --json c.json p.yaml",
            "cordon run c.json p.yaml --mode hardened --signing-key k.pem --key-id k --receipt r.json",
            "cordon run c.json p.yaml --journal j --approval-timeout 5",
            "cordon exec --mode hardened -- git status",
            "cordon exec -- git log --oneline",
            "cordon hook claude-code",
            "cordon hook codex --mode local --timeout-ms 500",
        ];
        for line in lines {
            let full = Cli::try_parse_from(argv(line));
            let hot = Cli::parse_hot(&argv(line));
            match (full, hot) {
                (Ok(full), Some(hot)) => {
                    assert_eq!(format!("{full:?}"), format!("{hot:?}"), "{line}")
                }
                (full, hot) => panic!("{line}: full {full:?}, hot {hot:?}"),
            }
        }
    }

    #[test]
    fn help_errors_and_other_commands_go_to_the_full_parser() {
        for line in [
            "cordon run --help",
            "cordon check --bogus c.json p.yaml",
            "cordon run c.json",
            "cordon doctor",
            "cordon",
            "cordon --version",
        ] {
            assert!(Cli::parse_hot(&argv(line)).is_none(), "{line}");
        }
    }
}
