//! One module per subcommand. Each exposes an `Args` struct (clap) and `run(args) -> Result<u8, CliError>`.
//! To add a command: add a module, a variant to `Command`, and an arm to `dispatch`.

use clap::{Parser, Subcommand};

use crate::exit::CliError;

mod check;
mod doctor;
mod exec;
mod explain;
mod export;
mod journal;
mod keygen;
mod policy;
mod run;
mod verify;
mod verify_acta;
mod verify_receipt;

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
    Journal(journal::Args),
    /// The agent front end: judge shell text or an argv under the policy in force.
    Exec(exec::Args),
    /// Show the parse, the contract, the matching rules, the outcome, and what would allow it.
    Explain(explain::Args),
    /// Test a native policy against fixtures.
    Policy(policy::Args),
    /// Export decision records in another format (Veritas Acta draft -03).
    Export(export::Args),
    /// Verify one Veritas Acta draft -03 receipt (agent-evidence-vectors verifier contract).
    VerifyActa(verify_acta::Args),
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
    }
}
