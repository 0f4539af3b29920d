//! `cordon policy test FILE`: run policy fixtures (command text → expected outcome);
//! `cordon policy import FILE`: Claude Code permissions or Codex rules as a native policy; and the
//! pieces `exec` and `explain` share: the policy in force and the session.

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
    /// Convert Claude Code `permissions` or Codex `prefix_rule` files into a native policy.
    Import(ImportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// Claude Code settings JSON (`permissions.allow|ask|deny`).
    Claude,
    /// Codex rules (`prefix_rule(...)`, Starlark).
    Codex,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The settings or rules file to read.
    pub source: PathBuf,
    /// The source format; default: Claude Code when the file is JSON, else Codex.
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
    /// Write the policy here (atomically) instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
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
        PolicyCommand::Import(args) => import(args),
    }
}

/// Converts, reports every rule left out (one per line on stderr), and writes the policy. An
/// import that would drop a deny or an ask fails whole (exit 65) and writes nothing.
fn import(args: ImportArgs) -> Result<u8, CliError> {
    use cordon_policy::import;
    let bytes = read_input(&args.source, MAX_POLICY_BYTES, "rules")?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        CliError::invalid_input(format!(
            "{}: not valid UTF-8 (first bad byte at offset {})",
            args.source.display(),
            e.valid_up_to()
        ))
    })?;
    let format = args.format.unwrap_or_else(|| {
        let json_name = args.source.extension().is_some_and(|x| x == "json");
        if json_name || text.trim_start().starts_with('{') {
            ImportFormat::Claude
        } else {
            ImportFormat::Codex
        }
    });
    let imported = match format {
        ImportFormat::Claude => import::claude(text),
        ImportFormat::Codex => import::codex(text),
    }
    .map_err(|e| CliError::invalid_input(format!("{}: {e}", args.source.display())))?;
    for note in &imported.notes {
        eprintln!("cordon policy import: not imported: {note}");
    }
    match &args.output {
        Some(path) => {
            cordon_core::file::write_atomically(path, imported.yaml.as_bytes()).map_err(|e| {
                CliError::internal(format!("{}: cannot write the policy: {e}", path.display()))
            })?
        }
        None => print!("{}", imported.yaml),
    }
    eprintln!(
        "cordon policy import: {} rule(s) imported, {} left out (policy sha256 {})",
        imported.policy.policy.rules.len(),
        imported.notes.len(),
        imported.policy.sha256
    );
    Ok(exit::OK)
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
            PolicyInForce::Csc(_) | PolicyInForce::Cedar(_) => {
                return Err(CliError::invalid_input(format!(
                    "{}: `policy test` needs a native policy (with `cordon_policy: 1`)",
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

/// A policy as loaded from a file: native rules, a plain CSC profile, or Cedar policies.
#[derive(Debug, Clone)]
pub enum PolicyInForce {
    Native(LoadedNativePolicy),
    Csc(Box<LoadedPolicy>),
    Cedar(CedarPolicyFile),
}

/// A Cedar policy set as read from a `.cedar` file. It is validated against cordon's schema when
/// it is compiled for a session (`{workspace}` and `{home}` expand first).
#[derive(Debug, Clone)]
pub struct CedarPolicyFile {
    /// The file's stem: Cedar policy sets have no name of their own.
    pub name: String,
    pub text: String,
    /// SHA-256 of the text as written.
    pub sha256: String,
}

impl PolicyInForce {
    pub fn name(&self) -> &str {
        match self {
            PolicyInForce::Native(p) => &p.policy.name,
            PolicyInForce::Csc(p) => &p.policy.name,
            PolicyInForce::Cedar(p) => &p.name,
        }
    }

    pub fn sha256(&self) -> &str {
        match self {
            PolicyInForce::Native(p) => &p.sha256,
            PolicyInForce::Csc(p) => &p.sha256,
            PolicyInForce::Cedar(p) => &p.sha256,
        }
    }
}

pub fn builtin_pack() -> Result<LoadedNativePolicy, CliError> {
    LoadedNativePolicy::default_pack()
        .map_err(|e| CliError::internal(format!("the built-in policy pack is invalid: {e}")))
}

/// Loads `path` as Cedar policies when it is named `*.cedar`, as a native policy when it has
/// `cordon_policy:`, else as a CSC profile.
pub fn load_policy_file(path: &Path) -> Result<PolicyInForce, CliError> {
    let bytes = read_input(path, MAX_POLICY_BYTES, "policy")?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        CliError::invalid_input(format!(
            "{}: policy file is not valid UTF-8 (first bad byte at offset {})",
            path.display(),
            e.valid_up_to()
        ))
    })?;
    if path.extension().is_some_and(|x| x == "cedar") {
        return Ok(PolicyInForce::Cedar(CedarPolicyFile {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "cedar".into()),
            text: text.to_string(),
            sha256: cordon_core::hash::sha256_hex(text.as_bytes()),
        }));
    }
    let document = cordon_policy::native::policy_document(text)
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

/// The policy `exec` and `explain` use: `--policy`, else the config home's `policy.yaml`, else
/// the built-in pack. On first use the config home is created (`crate::home::first_use`).
pub fn policy_in_force(explicit: Option<&Path>) -> Result<PolicyInForce, CliError> {
    if let Some(path) = explicit {
        return load_policy_file(path);
    }
    let Some(home) = crate::home::first_use()? else {
        return Ok(PolicyInForce::Native(builtin_pack()?));
    };
    let policy_path = home.policy();
    if policy_path.exists() {
        load_policy_file(&policy_path)
    } else {
        Ok(PolicyInForce::Native(builtin_pack()?))
    }
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
    let home = cordon_core::user::home();
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
    CompiledPolicy::compile(policy, &context(session, workspace)?)
        .map_err(|e| CliError::invalid_input(e.to_string()))
}

/// What `{workspace}` and `{home}` mean for this session: `--workspace` or the cwd, and `$HOME`.
pub fn context(session: &Session, workspace: Option<&Path>) -> Result<Context, CliError> {
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
    Ok(Context {
        workspace,
        home: session.home.clone(),
    })
}
