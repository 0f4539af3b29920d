//! What to judge, from a command line or an agent: the arguments `exec` and `explain` share, and
//! the request `cordon_governor::analyse` takes, with the cwd, `~` and the policy in force worked
//! out here, at the edge.

use std::path::{Path, PathBuf};

use cordon_governor::policies::{LoadEachTime, PolicySource};
use cordon_governor::{Analysis, AnalysisRequest, PolicyChoice, Written};

use crate::exit::CliError;
use crate::governing::cli_error;

/// What to judge and under which policy; shared by `exec` and `explain`.
#[derive(Debug, Clone, clap::Args)]
pub struct JudgeArgs {
    /// Shell text as the agent wrote it (parsed with a bash grammar).
    #[arg(long, conflicts_with = "argv")]
    pub shell: Option<String>,
    /// A policy file (native rules or a CSC profile); default: the config home's policy, else the built-in pack.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// The directory the text runs in (default: the current directory).
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// What `{workspace}` means in the policy (default: the cwd).
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The command to judge, when not given as shell text.
    #[arg(last = true)]
    pub argv: Vec<String>,
    /// The text is judged for a hardened run (`AnalysisRequest::hardened`): set by `exec` and
    /// `explain` unless `--mode local` names local, and by hooks that rewrite to a hardened run.
    #[arg(skip)]
    pub hardened: bool,
}

impl JudgeArgs {
    /// The request for these arguments, with `~` = `$HOME`.
    pub fn request(&self) -> Result<AnalysisRequest, CliError> {
        let cwd = shell_cwd(self.cwd.as_deref())?;
        let written = match (&self.shell, self.argv.is_empty()) {
            (Some(text), true) => Written::Shell(text.clone()),
            (None, false) => Written::Argv(self.argv.clone()),
            (Some(_), false) => {
                return Err(CliError::usage(
                    "give either --shell TEXT or -- ARGV…, not both",
                ))
            }
            (None, true) => {
                return Err(CliError::usage(
                    "nothing to judge: give --shell TEXT or -- ARGV…",
                ))
            }
        };
        Ok(AnalysisRequest {
            written,
            cwd,
            home: cordon_core::user::home(),
            workspace: self.workspace.clone(),
            policy: policy_choice(self.policy.as_deref())?,
            hardened: self.hardened,
        })
    }
}

/// Judges in this process: the policy read from disk, the facts from this machine.
pub fn analyse(args: &JudgeArgs) -> Result<Analysis, CliError> {
    analyse_with(args, &LoadEachTime)
}

/// Judges with policies from `policies` (the gateway's cache, when the gateway judges).
pub fn analyse_with(args: &JudgeArgs, policies: &dyn PolicySource) -> Result<Analysis, CliError> {
    cordon_governor::analyse(&args.request()?, policies).map_err(cli_error)
}

/// The policy `exec` and `explain` use: `--policy`, else the config home's `policy.yaml`, else
/// the built-in pack. On first use the config home is created (`crate::home::first_use`).
pub fn policy_choice(explicit: Option<&Path>) -> Result<PolicyChoice, CliError> {
    if let Some(path) = explicit {
        return Ok(PolicyChoice::File(path.to_path_buf()));
    }
    Ok(match crate::home::first_use()? {
        Some(home) if home.policy().exists() => PolicyChoice::File(home.policy()),
        _ => PolicyChoice::Builtin,
    })
}

/// `--cwd` or the current directory, absolute and normalized.
pub fn shell_cwd(cwd: Option<&Path>) -> Result<String, CliError> {
    let current = || {
        std::env::current_dir()
            .map_err(|e| CliError::internal(format!("cannot read the current directory: {e}")))
    };
    let cwd = match cwd {
        Some(dir) if dir.is_absolute() => dir.to_path_buf(),
        Some(dir) => current()?.join(dir),
        None => current()?,
    };
    let cwd = cwd
        .to_str()
        .ok_or_else(|| CliError::usage("the working directory is not valid UTF-8"))?;
    Ok(cordon_policy::shell::pathutil::normalize_absolute(cwd))
}
