//! `cordon check CONTRACT POLICY [--json]`: decide only, run nothing.

use std::path::PathBuf;

use cordon_core::Verdict;

use crate::exit::{self, CliError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command contract (CSC v0.1 JSON).
    pub contract: PathBuf,
    /// The policy profile (CSC v0.1 YAML or JSON).
    pub policy: PathBuf,
    /// Print the PolicyDecision as one JSON object instead of a line of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let decision = crate::input::judge_files(&args.contract, &args.policy)?.decision;
    if args.json {
        let text = serde_json::to_string(&decision)
            .map_err(|e| CliError::internal(format!("cannot serialize the decision: {e}")))?;
        crate::output::say_out!("{text}");
    } else {
        let label = match decision.decision {
            Verdict::Allow => "ALLOW",
            Verdict::Deny => "DENY",
            Verdict::NeedsApproval => "NEEDS APPROVAL",
        };
        let reasons = decision.reasons.join("; ");
        let codes: Vec<&str> = decision.reason_codes.iter().map(|c| c.as_str()).collect();
        crate::output::say_out!("{label} — {reasons} ({})", codes.join(", "));
    }
    Ok(match decision.decision {
        Verdict::Allow => exit::OK,
        Verdict::Deny => exit::DENY,
        Verdict::NeedsApproval => exit::NEEDS_APPROVAL,
    })
}
