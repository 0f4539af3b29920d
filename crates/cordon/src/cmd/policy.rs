//! `cordon policy test FILE`: run policy fixtures (command text → expected outcome), and the
//! pieces `exec` and `explain` share: the config home, the policy in force, the session.

use std::path::{Path, PathBuf};

use cordon_core::limits::MAX_POLICY_BYTES;
use cordon_core::policy::LoadedPolicy;
use cordon_policy::native::fixtures::{self, FixtureFile};
use cordon_policy::native::{self, CompiledPolicy, Context, LoadedNativePolicy};
use cordon_policy::shell::Session;

use crate::exit::{self, CliError};
use crate::input::read_input;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PolicyCommand {
    /// Run fixtures (text → expected outcome) and every rule's inline examples; exit 1 on any mismatch.
    Test(TestArgs),
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The fixtures file (YAML: `cases: [{shell: TEXT, expect: OUTCOME}]`).
    pub fixtures: PathBuf,
    /// The native policy to test; the default pack when absent.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Print every case, not only failures.
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    match args.command {
        PolicyCommand::Test(args) => test(args),
    }
}

fn test(args: TestArgs) -> Result<u8, CliError> {
    let bytes = read_input(&args.fixtures, MAX_POLICY_BYTES, "fixtures")?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        CliError::invalid_input(format!(
            "{}: fixtures are not valid UTF-8",
            args.fixtures.display()
        ))
    })?;
    let file = FixtureFile::parse(text)
        .map_err(|e| CliError::invalid_input(format!("{}: {e}", args.fixtures.display())))?;
    let policy = match &args.policy {
        Some(path) => match load_policy_file(path)? {
            PolicyInForce::Native(p) => p,
            PolicyInForce::Csc(_) => {
                return Err(CliError::invalid_input(format!(
                    "{}: `policy test` needs a native policy (with `cordon_policy: 1`), found a CSC profile",
                    path.display()
                )))
            }
        },
        None => builtin_pack()?,
    };
    let results =
        fixtures::run(&file, &policy).map_err(|e| CliError::invalid_input(e.to_string()))?;
    let examples = fixtures::check_examples(&policy, &file.context())
        .map_err(|e| CliError::invalid_input(e.to_string()))?;
    let mut failed = 0;
    for result in &results {
        if !result.passed {
            failed += 1;
            println!(
                "FAIL {:?}: expected {}, got {} — {}",
                result.text,
                result.expected.as_str(),
                result.actual.as_str(),
                result.sentence
            );
        } else if args.verbose {
            println!("ok   {:?}: {}", result.text, result.actual.as_str());
        }
    }
    for failure in &examples {
        failed += 1;
        println!(
            "FAIL rule {} example {:?}: expected the rule to {}",
            failure.rule,
            failure.text,
            failure.expected.replace('_', " ")
        );
    }
    let total = results.len() + examples.len();
    println!("{} passed, {failed} failed", total - failed);
    Ok(if failed == 0 { exit::OK } else { exit::DENY })
}

/// A policy as loaded from a file: native rules, or a plain CSC profile.
#[derive(Debug, Clone)]
pub enum PolicyInForce {
    Native(LoadedNativePolicy),
    Csc(Box<LoadedPolicy>),
}

impl PolicyInForce {
    pub fn name(&self) -> &str {
        match self {
            PolicyInForce::Native(p) => &p.policy.name,
            PolicyInForce::Csc(p) => &p.policy.name,
        }
    }

    pub fn sha256(&self) -> &str {
        match self {
            PolicyInForce::Native(p) => &p.sha256,
            PolicyInForce::Csc(p) => &p.sha256,
        }
    }
}

pub fn builtin_pack() -> Result<LoadedNativePolicy, CliError> {
    LoadedNativePolicy::default_pack()
        .map_err(|e| CliError::internal(format!("the built-in policy pack is invalid: {e}")))
}

/// Loads `path` as a native policy when it has `cordon_policy:`, else as a CSC profile.
pub fn load_policy_file(path: &Path) -> Result<PolicyInForce, CliError> {
    let bytes = read_input(path, MAX_POLICY_BYTES, "policy")?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        CliError::invalid_input(format!(
            "{}: policy file is not valid UTF-8 (first bad byte at offset {})",
            path.display(),
            e.valid_up_to()
        ))
    })?;
    let document = cordon_policy::yaml::parse(text)
        .map_err(|e| CliError::invalid_input(format!("{}: {e}", path.display())))?;
    if native::is_native(&document) {
        let loaded = LoadedNativePolicy::from_value(document)
            .map_err(|e| CliError::invalid_input(format!("{}: {e}", path.display())))?;
        Ok(PolicyInForce::Native(loaded))
    } else {
        let loaded = cordon_policy::load_bytes(&bytes)
            .map_err(|e| CliError::invalid_input(format!("{}: {e}", path.display())))?;
        Ok(PolicyInForce::Csc(Box::new(loaded)))
    }
}

/// cordon's config home (see `crate::home`).
pub fn config_home() -> Option<PathBuf> {
    crate::home::Home::from_env().map(|home| home.root().to_path_buf())
}

/// The policy `exec` and `explain` use: `--policy`, else the config home's `policy.yaml`, else
/// the built-in pack. On first use the config home is created with the pack, said once on stderr.
pub fn policy_in_force(explicit: Option<&Path>) -> Result<PolicyInForce, CliError> {
    if let Some(path) = explicit {
        return load_policy_file(path);
    }
    let Some(home) = config_home() else {
        return Ok(PolicyInForce::Native(builtin_pack()?));
    };
    let policy_path = home.join("policy.yaml");
    if !home.exists() {
        create_config_home(&home, &policy_path)?;
    }
    if policy_path.exists() {
        load_policy_file(&policy_path)
    } else {
        Ok(PolicyInForce::Native(builtin_pack()?))
    }
}

fn create_config_home(home: &Path, policy_path: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(home)
        .map_err(|e| {
            CliError::internal(format!(
                "{}: cannot create the config home: {e}",
                home.display()
            ))
        })?;
    // Write then rename, so a concurrent first use never reads half a policy.
    let tmp = policy_path.with_extension(format!("yaml.{}.tmp", std::process::id()));
    std::fs::write(&tmp, native::DEFAULT_PACK)
        .and_then(|()| std::fs::rename(&tmp, policy_path))
        .map_err(|e| {
            CliError::internal(format!(
                "{}: cannot write the default policy: {e}",
                policy_path.display()
            ))
        })?;
    eprintln!(
        "cordon: first use: created {} with the default policy for coding agents ({}); edit it to change what agents may run",
        home.display(),
        policy_path.display()
    );
    Ok(())
}

/// The session: `--cwd` or the current directory, and `$HOME`.
pub fn session(cwd: Option<&Path>) -> Result<Session, CliError> {
    let cwd = match cwd {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir()
            .map_err(|e| CliError::internal(format!("cannot read the current directory: {e}")))?,
    };
    let cwd = if cwd.is_absolute() {
        cwd
    } else {
        std::env::current_dir()
            .map_err(|e| CliError::internal(format!("cannot read the current directory: {e}")))?
            .join(cwd)
    };
    let home = std::env::var("HOME").unwrap_or_else(|_| "/nonexistent-home".to_string());
    let cwd = cwd
        .to_str()
        .ok_or_else(|| CliError::usage("the working directory is not valid UTF-8"))?
        .to_string();
    Ok(Session {
        cwd: cordon_policy::shell::pathutil::normalize_absolute(&cwd),
        home,
    })
}

/// Compiles a native policy for the session, with `{workspace}` = `--workspace` or the cwd.
pub fn compile(
    policy: &LoadedNativePolicy,
    session: &Session,
    workspace: Option<&Path>,
) -> Result<CompiledPolicy, CliError> {
    let workspace = match workspace {
        Some(dir) => dir
            .to_str()
            .ok_or_else(|| CliError::usage("the workspace path is not valid UTF-8"))?
            .to_string(),
        None => session.cwd.clone(),
    };
    let workspace =
        cordon_policy::shell::pathutil::resolve(Some(&session.cwd), &session.home, &workspace)
            .unwrap_or(workspace);
    CompiledPolicy::compile(
        policy,
        &Context {
            workspace,
            home: session.home.clone(),
        },
    )
    .map_err(|e| CliError::invalid_input(e.to_string()))
}
