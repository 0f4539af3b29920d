//! `cordon policy test FILE`: run policy fixtures (command text → expected outcome);
//! `cordon policy import FILE`: Claude Code permissions or Codex rules as a native policy;
//! `cordon policy hosts [--detect]`: the hosts a policy's rules grant, or the registries the
//! user's own tools are configured to use, proposed for `policy.yaml`. Only `import -o` writes.

use std::path::{Path, PathBuf};

use cordon_core::file::Durability;
use cordon_core::limits::MAX_POLICY_BYTES;
use cordon_governor::policies::{builtin_pack, load_policy_file};
use cordon_governor::PolicyInForce;
use cordon_policy::detect;
use cordon_policy::native::fixtures::{self, FixtureFile};
use serde::Serialize;

use crate::exit::{self, CliError};
use crate::governing::cli_error;
use crate::input::read_input;

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Run fixtures (text → expected outcome) and every rule's inline examples; exit 1 on any mismatch.
    Test(TestArgs),
    /// Convert Claude Code `permissions` or Codex `prefix_rule` files into a native policy.
    Import(ImportArgs),
    /// The hosts each rule of a policy grants; with `--detect`, the registries your tools use.
    Hosts(HostsArgs),
}

#[derive(Debug, clap::Args)]
pub struct HostsArgs {
    /// Propose the registries npm, pip, cargo and go are configured to use and the workspace's
    /// git remotes, read from those tools' own configuration, as `hosts:` for `policy.yaml`.
    /// Writes nothing.
    #[arg(long)]
    pub detect: bool,
    /// The policy whose hosts to list; default: the config home's `policy.yaml`, else the
    /// built-in pack.
    #[arg(long, conflicts_with = "detect")]
    pub policy: Option<PathBuf>,
    /// The workspace whose manifests and git remotes `--detect` reads (default: the current
    /// directory).
    #[arg(long, requires = "detect")]
    pub workspace: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
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
        Args::Hosts(args) if args.detect => detect_hosts(args),
        Args::Hosts(args) => list_hosts(args),
    }
}

/// One rule's grant, as `policy hosts` lists it.
#[derive(Debug, Serialize)]
struct RuleHosts {
    rule: String,
    outcome: &'static str,
    hosts: Vec<String>,
}

/// The hosts each rule of the policy in force grants (a CSC profile: its `allowed_egress_hosts`,
/// which commands that declare `network: allowlisted` get). Creates no config home.
fn list_hosts(args: HostsArgs) -> Result<u8, CliError> {
    let path = args.policy.clone().or_else(|| {
        crate::home::Home::from_env()
            .map(|home| home.policy())
            .filter(|p| p.exists())
    });
    let policy = match &path {
        Some(path) => load_policy_file(path).map_err(cli_error)?,
        None => PolicyInForce::Native(builtin_pack().map_err(cli_error)?),
    };
    let rules: Vec<RuleHosts> = match &policy {
        PolicyInForce::Native(native) => native
            .policy
            .rules
            .iter()
            .filter_map(|rule| {
                Some(RuleHosts {
                    rule: rule.id.clone(),
                    outcome: rule.outcome.outcome().as_str(),
                    hosts: rule.hosts.as_ref()?.to_strings(),
                })
            })
            .collect(),
        PolicyInForce::Csc(csc) => {
            let list = cordon_policy::egress::csc_allowlist(&csc.policy).map_err(|e| {
                CliError::invalid_input(format!("{}: allowed_egress_hosts: {e}", where_from(&path)))
            })?;
            vec![RuleHosts {
                rule: "allowed_egress_hosts".into(),
                outcome: "allowlisted",
                hosts: list.to_strings(),
            }]
        }
        PolicyInForce::Cedar(_) => Vec::new(),
    };
    if args.json {
        #[derive(Serialize)]
        struct Listed<'a> {
            policy: &'a str,
            source: String,
            rules: &'a [RuleHosts],
        }
        let listed = Listed {
            policy: policy.name(),
            source: where_from(&path),
            rules: &rules,
        };
        return print_json(&listed);
    }
    let mut out = format!("policy: {} ({})\n", policy.name(), where_from(&path));
    if rules.is_empty() {
        out.push_str("no rule lists hosts: a hardened run that uses the network gets the host's network once allowed\n");
    }
    for rule in &rules {
        let hosts = if rule.hosts.is_empty() {
            "none (an empty list refuses every connection)".to_string()
        } else {
            rule.hosts.join(", ")
        };
        out.push_str(&format!("{} ({}): {hosts}\n", rule.rule, rule.outcome));
    }
    crate::output::answer(&out, exit::OK)
}

fn where_from(path: &Option<PathBuf>) -> String {
    path.as_ref().map_or_else(
        || "the built-in pack".to_string(),
        |p| p.display().to_string(),
    )
}

/// `--detect`: proposals from the user's tools' own configuration, the notes on what was found
/// and not proposed, and a `hosts:` snippet to paste into `policy.yaml`. Writes nothing.
fn detect_hosts(args: HostsArgs) -> Result<u8, CliError> {
    let workspace = match &args.workspace {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| CliError::internal(format!("cannot read the current directory: {e}")))?,
    };
    let home = PathBuf::from(cordon_core::user::home());
    let detection = detect::detect(&detect::gather(&home, &workspace, std::env::vars()));
    if args.json {
        #[derive(Serialize)]
        struct Detected<'a> {
            workspace: &'a Path,
            #[serde(flatten)]
            detection: &'a detect::Detection,
            snippet: String,
        }
        return print_json(&Detected {
            workspace: &workspace,
            detection: &detection,
            snippet: detection.policy_snippet(),
        });
    }
    let mut out = String::new();
    if detection.proposals.is_empty() {
        out.push_str(
            "proposed: nothing (no registry configured, and no manifest in the workspace)\n",
        );
    }
    for proposal in &detection.proposals {
        out.push_str(&format!(
            "proposed: {}  ({}, from {})\n",
            proposal.host,
            proposal.tool.name(),
            proposal.source
        ));
    }
    for note in &detection.notes {
        out.push_str(&format!("note:     {note}\n"));
    }
    if !detection.proposals.is_empty() {
        out.push_str(
            "\nTo accept, add these to the rules of your policy.yaml (cordon wrote nothing):\n\n",
        );
        out.push_str(&detection.policy_snippet());
    }
    crate::output::answer(&out, exit::OK)
}

fn print_json(value: &impl Serialize) -> Result<u8, CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::internal(format!("cannot serialize the answer: {e}")))?;
    crate::output::answer(&format!("{text}\n"), exit::OK)
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
        crate::output::say!("cordon policy import: not imported: {note}");
    }
    match &args.output {
        Some(path) => {
            cordon_core::file::write_atomically(path, imported.yaml.as_bytes(), Durability::Durable)
                .map_err(|e| {
                    CliError::internal(format!("{}: cannot write the policy: {e}", path.display()))
                })?
        }
        None => print!("{}", imported.yaml),
    }
    crate::output::say!(
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
            crate::output::say_out!(
                "FAIL {:?}: expected {}, got {} — {}",
                result.text,
                result.expected.as_str(),
                result.actual.as_str(),
                result.sentence
            );
        } else if args.verbose {
            crate::output::say_out!("ok   {:?}: {}", result.text, result.actual.as_str());
        }
    }
    for failure in &examples {
        failed += 1;
        crate::output::say_out!(
            "FAIL rule {} example {:?}: expected the rule to {}",
            failure.rule,
            failure.text,
            failure.expected.replace('_', " ")
        );
    }
    let total = results.len() + examples.len();
    crate::output::say_out!("{} passed, {failed} failed", total - failed);
    Ok(if failed == 0 { exit::OK } else { exit::DENY })
}
