//! `cordon approvals list [--all] [--json]` and `cordon approvals trust NAME [--public-key PUB]`:
//! what is waiting for an answer, and who may answer.

use std::path::PathBuf;

use cordon_approval::ApproverRing;
use cordon_core::file::Durability;

use crate::approving::{home, home_key, open_store, read_key, unix_now};
use crate::exit::{self, CliError};
use crate::output;

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Pending requests (with --all, the most recent requests in any state).
    List {
        #[arg(long)]
        all: bool,
        /// One JSON array of requests.
        #[arg(long)]
        json: bool,
    },
    /// Add an approver key to the home's `approvers` file.
    Trust {
        /// The approver's identity (letters, digits, . _ - @ +).
        identity: String,
        /// The approver's public key (raw 32 bytes or base64, as `cordon keygen` writes it);
        /// default: the home's key.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
}

pub fn run(args: Args) -> Result<u8, CliError> {
    match args {
        Args::List { all, json } => list(all, json),
        Args::Trust {
            identity,
            public_key,
        } => trust(&identity, public_key),
    }
}

fn list(all: bool, json: bool) -> Result<u8, CliError> {
    let home = home()?;
    let mut store = open_store(&home)?;
    let requests = store
        .requests(!all, 200, unix_now())
        .map_err(|e| CliError::internal(e.to_string()))?;
    if json {
        let text =
            serde_json::to_string(&requests).map_err(|e| CliError::internal(e.to_string()))?;
        return output::answer(&format!("{text}\n"), exit::OK);
    }
    // The whole list at once, so that a reader that stops early (`| head -1`) is no error.
    let mut text = String::new();
    if requests.is_empty() {
        text.push_str(&format!(
            "no {}approval requests\n",
            if all { "" } else { "pending " }
        ));
    }
    for r in &requests {
        let lines: Vec<&str> = r
            .summary
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["line"].as_str()).collect())
            .unwrap_or_default();
        let cwd = r.summary[0]["cwd"].as_str().unwrap_or("");
        // What the agent wrote, with every misleading character shown as an escape.
        use cordon_core::display::visible;
        text.push_str(&format!(
            "{}  {}  on {}  {}  in {}  — {} (needs {} approver{}, deadline in {} s)\n",
            r.id,
            r.state.as_str(),
            visible(&r.machine),
            visible(&lines.join(" ; ")),
            visible(cwd),
            visible(&r.reason),
            r.required_approvers,
            if r.required_approvers == 1 { "" } else { "s" },
            (r.deadline - unix_now()).max(0)
        ));
    }
    output::answer(&text, exit::OK)
}

fn trust(identity: &str, public_key: Option<PathBuf>) -> Result<u8, CliError> {
    let home = home()?;
    let key = match public_key {
        Some(path) => cordon_journal::keys::read_public_key(&path)
            .map_err(|e| CliError::invalid_input(format!("{}: {e}", path.display())))?,
        None => {
            let pem = home_key(&home).map_err(CliError::usage)?;
            read_key(&pem)
                .map_err(CliError::invalid_input)?
                .verifying_key()
        }
    };
    let path = home.approvers();
    let mut ring = ApproverRing::load(&path).map_err(|e| CliError::invalid_input(e.to_string()))?;
    ring.insert(identity, key).map_err(CliError::usage)?;
    std::fs::create_dir_all(home.root())
        .map_err(|e| CliError::internal(format!("{}: {e}", home.root().display())))?;
    cordon_core::file::write_atomically(&path, ring.to_text().as_bytes(), Durability::Durable)
        .map_err(|e| CliError::internal(format!("{}: {e}", path.display())))?;
    output::answer(
        &format!("{identity} may now approve ({})\n", path.display()),
        exit::OK,
    )
}
