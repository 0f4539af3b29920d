//! `cordon policy test FILE`: run policy fixtures (command text → expected outcome);
//! `cordon policy import FILE`: Claude Code permissions or Codex rules as a native policy.

use std::path::PathBuf;

use cordon_core::limits::MAX_POLICY_BYTES;
use cordon_governor::policies::{builtin_pack, load_policy_file};
use cordon_governor::PolicyInForce;
use cordon_policy::native::fixtures::{self, FixtureFile};

use crate::exit::{self, CliError};
use crate::governing::cli_error;
use crate::input::read_input;

#[derive(Debug, clap::Subcommand)]
pub enum Args {
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
    match args {
        Args::Test(args) => test(args),
        Args::Import(args) => import(args),
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
        Some(path) => match load_policy_file(path).map_err(cli_error)? {
            PolicyInForce::Native(p) => p,
            PolicyInForce::Csc(_) | PolicyInForce::Cedar(_) => {
                return Err(CliError::invalid_input(format!(
                    "{}: `policy test` needs a native policy (with `cordon_policy: 1`)",
                    path.display()
                )))
            }
        },
        None => builtin_pack().map_err(cli_error)?,
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
