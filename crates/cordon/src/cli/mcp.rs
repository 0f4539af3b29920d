//! `cordon mcp`: serve MCP on stdio (`crate::mcp`) until the client goes away.

use std::path::PathBuf;

use cordon_governor::Mode;

use crate::exit::{self, CliError};
use crate::governing::mode_parser;
use crate::mcp::CordonMcp;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A policy file instead of the config home's `policy.yaml`.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Seconds `run_command` waits for a person to approve what the policy asks about (the
    /// request shows in `list_pending_approvals` and `cordon approvals`); 0 answers at once.
    #[arg(long, default_value_t = 0)]
    pub approval_timeout: u64,
    /// How `run_command` confines what it runs: `hardened` (the kernel enforces the contract) or
    /// `local` (decided and recorded, not confined).
    #[arg(long, value_parser = mode_parser(), default_value = "hardened")]
    pub mode: Mode,
    /// The directory the client's commands may write (default: the server's working directory).
    /// A request's `cwd` chooses where a command runs, never what it may write.
    #[arg(long)]
    pub workspace: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let cordon = std::env::current_exe()
        .map_err(|e| CliError::internal(format!("cannot find the cordon executable: {e}")))?;
    let workspace = match args.workspace {
        Some(dir) => std::path::absolute(&dir),
        None => std::env::current_dir(),
    }
    .map_err(|e| CliError::usage(format!("the MCP server's workspace cannot be found: {e}")))?;
    if !workspace.is_dir() {
        return Err(CliError::usage(format!(
            "the MCP server's workspace {} is not a directory",
            workspace.display()
        )));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let server = CordonMcp::new(
            cordon,
            args.policy,
            args.approval_timeout,
            args.mode,
            workspace,
        );
        crate::mcp::serve_stdio(server)
            .await
            .map_err(CliError::internal)?;
        Ok(exit::OK)
    })
}
