//! The envelope a hardened run is confined to (DESIGN.md, "The envelope"), and the judgement of
//! every grant beyond it.
//!
//! The policy in force defines one envelope for the workspace, built once per run
//! ([`EnvelopeInForce::build`]): read the system, the workspace and the toolchains; write the
//! workspace, the policy's caches and a private `TMPDIR`; list the home; never the credentials,
//! cordon's own home, a signing key or journal kept elsewhere; never write the start-up files nor
//! (inside the workspace) git metadata that runs code and agent, editor and shell settings. What
//! the front end read in the command's text no longer widens it by itself: each path the
//! contract names ([`EnvelopeInForce::grants_for`]) is resolved to the file it really reaches
//! (`cordon_sandbox::resolve_real`: links from their own directory, `..`, `/proc/*/root|cwd|fd`),
//! and only one that reaches *outside* the envelope can earn a grant, made on the descriptor the
//! resolver holds, so nothing can be swapped in between:
//!
//! - it reaches what was written (no link on the way): the decision judged that very path
//!   (allowed, or approved by a person), and it is granted (reading `/etc/os-release`);
//! - a link or a `/proc` path led elsewhere: the real path is judged with the policy, and granted
//!   only when the policy allows it. Otherwise nothing is granted and the kernel refuses the
//!   command's access (`cat /proc/self/root/~/.aws/credentials`; a link planted in the workspace
//!   that leads to `~/victim`). The run is not stopped: `rm link` removes the link itself, which
//!   the envelope holds, and only a command that follows the link meets the refusal;
//! - a path that does not exist: nothing to grant for a read; a write reaches its nearest
//!   existing directory, judged the same way, and is granted only when the policy allows it;
//! - a path that cannot be resolved to a real file (`/dev/stdin`, a descriptor of cordon's own
//!   process that will be the command's own; a loop): nothing is granted on it;
//! - a read-only name (`.git/hooks`, `.claude`, `~/.bashrc`) is writable only when a person
//!   approved a text that names it as it is; a never path is never granted.
//!
//! A path inside the envelope needs no grant: a link into `.git/hooks` leaves that directory's
//! read-only mount in place.
//!
//! Which envelope each kind of policy defines:
//! - **native rules**: `cordon_policy::envelope::envelope_paths` of the policy itself;
//! - **Cedar**: the default pack's envelope for the workspace (Cedar policies name no paths the
//!   envelope could be read from); grants are judged by the Cedar policies;
//! - **a CSC profile**: no workspace, the default pack's never, read-only and never-name lists,
//!   and each command's declared scopes (and its cwd, readable as in CSC) as grants, judged on
//!   their real paths against the profile's allowed prefixes (docs/sandbox.md).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cordon_core::contract::Command;
use cordon_core::Outcome;
use cordon_policy::cedar::CedarEngine;
use cordon_policy::envelope::{envelope_paths, read_dir_names, EnvelopePaths};
use cordon_policy::facts;
use cordon_policy::knowledge::Knowledge;
use cordon_policy::native::{self, CompiledPolicy, Context, LoadedNativePolicy};
use cordon_policy::shell::{self, ShellState};
use cordon_policy::toolchains::Toolchains;
use cordon_sandbox::{
    resolve_real, Envelope, Grant, GrantAccess, RealPath, PROTECTED_NAMES, SYSTEM_DIRS,
};

use crate::confinement::literal_prefix;
use crate::ledger::Ledger;
use crate::policies::{self, PolicyInForce};

/// What a hardened run's envelope is made from: the policy in force and where the run happens.
#[derive(Debug, Clone)]
pub struct EnvelopeSource {
    pub policy: Arc<PolicyInForce>,
    /// The directory the policy calls `{workspace}` (absolute).
    pub workspace: PathBuf,
    /// The home directory (`~`).
    pub home: PathBuf,
    /// cordon's own home: keys, journal, policy, approvers, state, sockets.
    pub cordon_home: PathBuf,
}

/// The envelope every command of a hardened run is confined to, and how a path beyond it is
/// judged.
#[derive(Debug, Clone)]
pub struct EnvelopeInForce {
    pub envelope: Envelope,
    judge: PathJudge,
    home: String,
}

/// How a path beyond the envelope is judged: by the policy that decided.
#[derive(Clone)]
enum PathJudge {
    /// Native rules: as `cat -- PATH` (a read) or `tee -- PATH` (a write).
    Native(Arc<CompiledPolicy>),
    /// Cedar policies, on the same facts.
    Cedar(Arc<CedarEngine>, String),
    /// A CSC profile: the real path must lie under one of its allowed prefixes.
    Prefixes {
        read: Vec<PathBuf>,
        write: Vec<PathBuf>,
    },
}

impl std::fmt::Debug for PathJudge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathJudge::Native(_) => f.write_str("PathJudge::Native"),
            PathJudge::Cedar(_, name) => write!(f, "PathJudge::Cedar({name})"),
            PathJudge::Prefixes { read, write } => f
                .debug_struct("PathJudge::Prefixes")
                .field("read", read)
                .field("write", write)
                .finish(),
        }
    }
}

impl EnvelopeInForce {
    /// Builds the envelope `source` defines, closing the ledger's signing key and journal too
    /// wherever they are kept. `Err` is one sentence: the run is blocked with it.
    pub fn build(source: &EnvelopeSource, ledger: &Ledger) -> Result<EnvelopeInForce, String> {
        let evidence: Vec<PathBuf> = ledger
            .key_file()
            .into_iter()
            .chain(ledger.journal_dir())
            .map(absolute)
            .collect();
        let home = source.home.display().to_string();
        let context = Context {
            workspace: source.workspace.display().to_string(),
            home: home.clone(),
        };
        let (envelope, judge) = match source.policy.as_ref() {
            PolicyInForce::Native(loaded) => {
                let paths = paths_of(&loaded.policy, source);
                let compiled = policies::compile(loaded, &context).map_err(|e| e.to_string())?;
                (
                    with_workspace(&paths, evidence)?,
                    PathJudge::Native(Arc::new(compiled)),
                )
            }
            PolicyInForce::Cedar(cedar) => {
                let paths = paths_of(&default_pack()?.policy, source);
                let engine =
                    policies::validate_cedar(cedar, &context).map_err(|e| e.to_string())?;
                (
                    with_workspace(&paths, evidence)?,
                    PathJudge::Cedar(Arc::new(engine), cedar.name.clone()),
                )
            }
            PolicyInForce::Csc(profile) => {
                let paths = paths_of(&default_pack()?.policy, source);
                let profile = &profile.policy;
                let prefixes = |list: &[String]| list.iter().map(PathBuf::from).collect();
                let mut read: Vec<PathBuf> = prefixes(&profile.allowed_read_prefixes);
                read.extend(prefixes(&profile.allowed_cwd_prefixes));
                let judge = PathJudge::Prefixes {
                    read,
                    write: prefixes(&profile.allowed_write_prefixes),
                };
                (without_workspace(&paths, evidence)?, judge)
            }
        };
        Ok(EnvelopeInForce {
            envelope,
            judge,
            home,
        })
    }

    /// The grants beyond the envelope that `command` gets: each path it names (its cwd and
    /// declared reads as reads, its declared writes as writes) that reaches outside the envelope,
    /// judged on its real path (module docs). `approved`: a person approved this run. `Err` is
    /// one sentence: the run is blocked.
    pub fn grants_for(&self, command: &Command, approved: bool) -> Result<Vec<Grant>, String> {
        let named = std::iter::once((command.cwd.as_str(), GrantAccess::Read))
            .chain(
                command
                    .read_paths
                    .iter()
                    .map(|p| (p.as_str(), GrantAccess::Read)),
            )
            .chain(
                command
                    .write_paths
                    .iter()
                    .map(|p| (p.as_str(), GrantAccess::Write)),
            );
        let mut grants: Vec<Grant> = Vec::new();
        for (pattern, access) in named {
            let written = literal_prefix(pattern);
            if written.as_os_str().is_empty() {
                continue;
            }
            let Some(grant) = self.grant_for(&written, access, command, approved)? else {
                continue;
            };
            let known = grants
                .iter()
                .any(|g| g.target.path() == grant.target.path() && covers(g.access, access));
            if !known {
                grants.push(grant);
            }
        }
        Ok(grants)
    }

    /// The grant one named path earns, if any (module docs): `None` when the envelope already
    /// holds it, or when it is not granted and the kernel will refuse the command's access.
    fn grant_for(
        &self,
        written: &Path,
        access: GrantAccess,
        command: &Command,
        approved: bool,
    ) -> Result<Option<Grant>, String> {
        let cwd = Path::new(&command.cwd);
        let Some(Reached {
            real,
            through_ancestor,
        }) = reach(written, access, cwd)
        else {
            return Ok(None);
        };
        if self.holds(real.path(), access) {
            return Ok(None);
        }
        if through_ancestor && matches!(self.judge, PathJudge::Prefixes { .. }) {
            // A CSC contract's scopes are granted as declared: one that does not exist is
            // refused, unless another declared scope holds it (as csc-runner does).
            let held = command
                .write_paths
                .iter()
                .map(|p| absolute_in(cwd, &literal_prefix(p)))
                .any(|other| other != absolute_in(cwd, written) && absolute_in(cwd, written).starts_with(&other));
            if held {
                return Ok(None);
            }
            return Err(format!(
                "command {}: the declared write path {} does not exist and is not under another declared write path; cordon grants a contract's scopes as declared",
                command.id,
                written.display()
            ));
        }
        // The decision judged the path as written; what a link, a `/proc` path or a missing
        // file's directory leads to is judged here, on its real path.
        let indirect = through_ancestor || absolute_in(cwd, written) != real.path();
        if indirect {
            let outcome = self.judge(real.path(), access, &command.cwd);
            if !matches!(outcome, Outcome::Allow | Outcome::AllowWithCheckpoint) {
                return Ok(None);
            }
        }
        // Read-only names (git hooks and config, agent settings) open only to what a person
        // approved, named as it is; the never paths, to nothing at all.
        let read_only = access == GrantAccess::Write && self.read_only(real.path());
        if (read_only && (indirect || !approved)) || self.never(real.path()) {
            return Ok(None);
        }
        Ok(Some(Grant {
            target: real,
            access,
        }))
    }

    /// Whether the envelope already gives `access` to `real` (so it needs no grant): beneath a
    /// root with that access and in no hole. A directory the envelope lists (the home) needs no
    /// read grant either: listing is what it gives there, and what lies in it is judged when a
    /// command names it.
    fn holds(&self, real: &Path, access: GrantAccess) -> bool {
        let e = &self.envelope;
        if self.never(real) {
            return false;
        }
        let beneath = |roots: &[PathBuf]| roots.iter().any(|r| real.starts_with(r));
        match access {
            GrantAccess::Write => beneath(&e.write) && !self.read_only(real),
            GrantAccess::Read => {
                beneath(&e.read)
                    || beneath(&e.write)
                    || e.list.iter().any(|l| l == real)
                    || SYSTEM_DIRS.iter().any(|d| real.starts_with(d))
            }
        }
    }

    /// Whether writing `real` would write a name the envelope keeps read-only: a read-only path
    /// (start-up files), or inside a writable root, git metadata that runs code or agent, editor
    /// and shell settings (`cordon_sandbox::PROTECTED_NAMES`: `.git/hooks`, `.claude`, …).
    fn read_only(&self, real: &Path) -> bool {
        if self.envelope.read_only.iter().any(|r| real.starts_with(r)) {
            return true;
        }
        self.envelope
            .write
            .iter()
            .filter_map(|root| real.strip_prefix(root).ok())
            .any(names_protected)
    }

    /// Whether `real` is or lies inside one of the envelope's never paths.
    fn never(&self, real: &Path) -> bool {
        self.envelope.never.iter().any(|n| real.starts_with(n))
    }

    /// The policy's answer for `access` to the real path `real`.
    fn judge(&self, real: &Path, access: GrantAccess, cwd: &str) -> Outcome {
        match &self.judge {
            PathJudge::Prefixes { read, write } => {
                let allowed = match access {
                    GrantAccess::Read => read.iter().chain(write).any(|p| real.starts_with(p)),
                    GrantAccess::Write => write.iter().any(|p| real.starts_with(p)),
                };
                if allowed {
                    Outcome::Allow
                } else {
                    Outcome::Deny
                }
            }
            PathJudge::Native(compiled) => {
                let (facts, state) = self.facts_of(real, access, cwd);
                native::decide_facts(&facts, compiled, &state, Knowledge::builtin()).outcome
            }
            PathJudge::Cedar(engine, name) => {
                let (facts, _) = self.facts_of(real, access, cwd);
                engine.decision(&facts, name).outcome
            }
        }
    }

    /// The facts of the one known command whose only effect is `access` to `path`: `cat` reads
    /// its operand, `tee` writes it (the hooks judge an agent's own file writes the same way).
    fn facts_of(&self, path: &Path, access: GrantAccess, cwd: &str) -> (facts::Facts, ShellState) {
        let program = match access {
            GrantAccess::Read => "cat",
            GrantAccess::Write => "tee",
        };
        let argv = [
            program.to_string(),
            "--".to_string(),
            path.display().to_string(),
        ];
        let state = ShellState {
            cwd: cwd.to_string(),
            home: self.home.clone(),
        };
        let script = shell::from_argv(&argv, &state);
        (
            facts::of_script(&script, &state, Knowledge::builtin()),
            state,
        )
    }
}

/// The envelope paths `policy` defines for the source's workspace and homes.
fn paths_of(policy: &native::NativePolicy, source: &EnvelopeSource) -> EnvelopePaths {
    envelope_paths(
        policy,
        Toolchains::builtin(),
        &source.workspace,
        &source.home,
        &source.cordon_home,
        &read_dir_names,
    )
}

fn default_pack() -> Result<LoadedNativePolicy, String> {
    policies::builtin_pack().map_err(|e| e.to_string())
}

/// The envelope of a native or Cedar policy: the workspace and all the paths.
fn with_workspace(paths: &EnvelopePaths, evidence: Vec<PathBuf>) -> Result<Envelope, String> {
    Envelope::builder(&paths.workspace)
        .home(&paths.home)
        .cordon_home(&paths.cordon_home)
        .never(paths.never.iter().cloned().chain(evidence))
        .never_names(paths.never_names.iter().cloned())
        .read_only(paths.read_only.iter().cloned())
        .caches(paths.caches.iter().cloned())
        .reads(paths.reads.iter().cloned())
        .build()
        .map_err(|e| format!("the policy's envelope cannot be built: {e}"))
}

/// The envelope of a CSC profile: nothing granted but what the contract declares, the default
/// pack's holes closed.
fn without_workspace(paths: &EnvelopePaths, evidence: Vec<PathBuf>) -> Result<Envelope, String> {
    Envelope::without_workspace()
        .cordon_home(&paths.cordon_home)
        .never(paths.never.iter().cloned().chain(evidence))
        .never_names(paths.never_names.iter().cloned())
        .read_only(paths.read_only.iter().cloned())
        .build()
        .map_err(|e| format!("the envelope cannot be built: {e}"))
}

/// What a named path reaches.
struct Reached {
    real: RealPath,
    /// The path does not exist, and this is its nearest existing directory.
    through_ancestor: bool,
}

/// The file `written` reaches from `cwd`, held open; `None` when there is nothing to grant: a read
/// of a path that does not exist, or a path that exists but cannot be resolved to a real file (a
/// descriptor of cordon's own process such as `/dev/stdin`, which means the command's own when it
/// runs; a loop). The kernel answers the command's access to those. A write to a path that does
/// not exist reaches its nearest existing directory, since the kernel grants rights on existing
/// files only.
fn reach(written: &Path, access: GrantAccess, cwd: &Path) -> Option<Reached> {
    let mut path = written.to_path_buf();
    loop {
        match resolve_real(&path, cwd) {
            Ok(real) => {
                return Some(Reached {
                    real,
                    through_ancestor: path != written,
                })
            }
            Err(_) if exists(&cwd.join(&path)) || access == GrantAccess::Read => return None,
            Err(_) => match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => path = parent.to_path_buf(),
                // A relative path's last ancestor is the cwd.
                _ => path = cwd.to_path_buf(),
            },
        }
    }
}

/// Whether anything is at `path`, links followed (a dangling link is nothing).
fn exists(path: &Path) -> bool {
    std::fs::metadata(path).is_ok()
}

fn absolute_in(cwd: &Path, path: &Path) -> PathBuf {
    let joined = cwd.join(path);
    match joined.to_str() {
        Some(text) => PathBuf::from(shell::pathutil::normalize_absolute(text)),
        None => joined,
    }
}

/// `path` made absolute against the current directory (a key or journal named relatively).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Whether `relative` (a path below a writable root) is or lies inside a protected name: an agent
/// or editor setting anywhere, or git metadata of a `.git` directory (`.git/hooks`), of its linked
/// worktrees (`.git/worktrees/*/hooks`) and of its modules (`.git/modules/**/hooks`).
fn names_protected(relative: &Path) -> bool {
    let parts: Vec<&OsStr> = relative.iter().collect();
    PROTECTED_NAMES.iter().any(|name| {
        let name: Vec<&OsStr> = Path::new(name).iter().collect();
        match name.as_slice() {
            [git, inner] if *git == ".git" => {
                parts.iter().enumerate().any(|(at, part)| {
                    let after = &parts[at + 1..];
                    *part == ".git"
                        && (after.first() == Some(inner)
                            || (after.first().is_some_and(|p| *p == "worktrees")
                                && after.get(2) == Some(inner))
                            || (after.first().is_some_and(|p| *p == "modules")
                                && after.contains(inner)))
                })
            }
            [single] => parts.contains(single),
            _ => false,
        }
    })
}

fn covers(granted: GrantAccess, wanted: GrantAccess) -> bool {
    granted == wanted || granted == GrantAccess::Write
}
