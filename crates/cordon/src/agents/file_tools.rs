//! The agent's own file tools (`Read`, `Write`, `Grep`, `WebFetch`, Gemini's `read_file`, …),
//! judged by the policy in force like shell text.
//!
//! The adapters turn a tool call into an [`Action::File`](super::Action::File): what the tool does
//! ([`FileAccess`]) and what it names (paths relative to the hook's cwd, or URLs). Here each
//! target is resolved to the file it really reaches before it is judged: a workspace symlink that
//! leads to `~/.bashrc` is judged as `~/.bashrc`, `/proc/self/root/…` as `/…`, a `..` after a
//! symlink physically. A file that does not exist yet is judged where it would be created: its
//! nearest existing parent's real path with the rest appended, and a dangling symlink where its
//! target lies. Then `cordon_governor::analyse` judges the facts
//! (`cordon_policy::file_tools::facts`) under the same policy as `cordon exec`.
//!
//! Nothing of the tool runs under cordon (the agent performs it), so the verdict never rewrites
//! it, and what the policy would only allow with a checkpoint or a replacement is asked.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use cordon_core::Outcome;
use cordon_governor::policies::{PolicyInForce, PolicySource};
use cordon_governor::{AnalysisRequest, Decision, FileToolCall, Written};
use cordon_policy::envelope::{envelope_paths, read_dir_names, PolicyGlobs};
use cordon_policy::file_tools::ToolAccess;
use cordon_policy::native::CordonReason;
use cordon_policy::shell::pathutil;
use cordon_policy::toolchains::Toolchains;
use serde::{Deserialize, Serialize};

use super::{HookError, Settings, Verdict};
use crate::judging;

/// How many symlinks one resolution of a path that does not exist may follow (the kernel's own
/// limit).
const MAX_LINKS: usize = 40;

/// What a file tool does with what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileAccess {
    /// Reads one file.
    Read,
    /// Creates or changes one file.
    Write,
    /// Reads the contents of what lies under a directory (`Grep`, `search_file_content`,
    /// `read_many_files`).
    Search,
    /// Lists the names under a directory (`Glob`, `LS`, `glob`, `list_directory`).
    List,
    /// Fetches a URL.
    Fetch,
}

impl FileAccess {
    fn tool_access(self) -> ToolAccess {
        match self {
            FileAccess::Read => ToolAccess::Read,
            FileAccess::Write => ToolAccess::Write,
            FileAccess::Search | FileAccess::List => ToolAccess::Search,
            FileAccess::Fetch => ToolAccess::Fetch,
        }
    }

    /// The access of a Claude Code (or Codex) tool by name; `None` for any other tool.
    pub fn of_claude_code_tool(name: &str) -> Option<FileAccess> {
        Some(match ToolAccess::of_claude_code_tool(name)? {
            ToolAccess::Read => FileAccess::Read,
            ToolAccess::Write => FileAccess::Write,
            // `Grep` reads contents; `Glob` and `LS` only list names.
            ToolAccess::Search if name == "Grep" => FileAccess::Search,
            ToolAccess::Search => FileAccess::List,
            ToolAccess::Fetch => FileAccess::Fetch,
        })
    }
}

/// The directory a glob `pattern` searches under `dir`: `dir` joined with the pattern's leading
/// components that hold no wildcard (`../../.ssh/*` searches `dir/../../.ssh`, an absolute
/// pattern its own literal prefix). A `..` after a wildcard climbs out of wherever the wildcard
/// matched, so no directory bounds it: an error, which the hook denies.
pub fn glob_base(dir: &str, pattern: &str) -> Result<String, HookError> {
    let is_wild = |part: &str| part.contains(['*', '?', '[', '{']);
    let parts: Vec<&str> = pattern.split('/').collect();
    let literal = parts.iter().take_while(|part| !is_wild(part)).count();
    if parts[literal..].contains(&"..") {
        return Err(HookError(format!(
            "the pattern `{pattern}` climbs with `..` after a wildcard, so cordon cannot tell what it reaches"
        )));
    }
    let prefix = parts[..literal].join("/");
    Ok(if pattern.starts_with('/') {
        if prefix.is_empty() {
            "/".to_string()
        } else {
            prefix
        }
    } else if prefix.is_empty() {
        dir.to_string()
    } else {
        format!("{}/{prefix}", dir.trim_end_matches('/'))
    })
}

/// The `http://` and `https://` URLs written in `text` (Gemini's `web_fetch` takes them inside
/// its prompt).
pub fn urls_in(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '(' | ')'))
        .filter(|word| word.starts_with("http://") || word.starts_with("https://"))
        .map(|word| {
            word.trim_end_matches([',', '.', ';', ':', '!', '?'])
                .to_string()
        })
        .collect()
}

/// The files a Codex `apply_patch` patch adds, updates, deletes or moves to, in the order it
/// names them (its `*** Add File:`, `*** Update File:`, `*** Delete File:` and `*** Move to:`
/// lines).
pub fn patch_targets(patch: &str) -> Vec<String> {
    const HEADERS: [&str; 4] = [
        "*** Add File: ",
        "*** Update File: ",
        "*** Delete File: ",
        "*** Move to: ",
    ];
    let mut targets: Vec<String> = Vec::new();
    for line in patch.lines() {
        let named = HEADERS
            .iter()
            .find_map(|header| line.strip_prefix(header))
            .map(str::trim);
        if let Some(path) = named.filter(|p| !p.is_empty()) {
            if !targets.iter().any(|t| t == path) {
                targets.push(path.to_string());
            }
        }
    }
    targets
}

/// The real path `target` reaches from `cwd`: resolved by `cordon_sandbox::resolve_real` when it
/// exists; otherwise the real path of its nearest existing parent with the rest appended, and a
/// dangling symlink's target resolved the same way. A path that exists but cannot be resolved
/// (a loop, a descriptor of this process) is an error: the hook denies it.
pub fn resolve_for_judging(target: &str, cwd: &Path) -> Result<String, HookError> {
    let path = cwd.join(target);
    let real = resolve(&path, cwd, 0)?;
    real.to_str()
        .map(pathutil::normalize_absolute)
        .ok_or_else(|| HookError(format!("`{target}` reaches a path that is not UTF-8")))
}

fn resolve(path: &Path, cwd: &Path, links: usize) -> Result<PathBuf, HookError> {
    let refuse = |why: String| HookError(format!("{} cannot be resolved: {why}", path.display()));
    if links > MAX_LINKS {
        return Err(refuse(format!("more than {MAX_LINKS} symlinks")));
    }
    let error = match cordon_sandbox::resolve_real(path, cwd) {
        Ok(real) => return Ok(real.path().to_path_buf()),
        Err(e) => e,
    };
    match std::fs::symlink_metadata(path) {
        // A link whose target does not exist: writing through it creates the target.
        Ok(meta) if meta.file_type().is_symlink() => {
            let target = std::fs::read_link(path).map_err(|e| refuse(e.to_string()))?;
            let parent = parent_of(path).ok_or_else(|| refuse("it has no parent".into()))?;
            let parent = resolve(parent, cwd, links + 1)?;
            resolve(&parent.join(target), cwd, links + 1)
        }
        Ok(_) => Err(refuse(error.to_string())),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            // Not there yet: where it would be made is its parent's real path and its name.
            let (Some(parent), Some(Component::Normal(name))) =
                (parent_of(path), path.components().next_back())
            else {
                return Err(refuse("it names no file inside a directory".into()));
            };
            Ok(resolve(parent, cwd, links)?.join(name))
        }
        Err(e) => Err(refuse(e.to_string())),
    }
}

/// The real path of a directory that exists, else `path` as given (normalized).
fn really(path: &Path) -> String {
    match cordon_sandbox::resolve_real(path, "/") {
        Ok(real) => real.path().to_string_lossy().into_owned(),
        Err(_) => pathutil::normalize_absolute(&path.to_string_lossy()),
    }
}

/// The first place the policy's envelope never opens (credentials, cordon's home) that lies at
/// or beneath `dir`: a tool that reads the contents of everything under `dir` would read it. A
/// Cedar policy or a CSC profile has no envelope of its own; the built-in pack's is used, as for
/// their hardened runs.
fn closed_beneath(
    dir: &Path,
    analysis: &cordon_governor::Analysis,
    context: &cordon_policy::native::Context,
) -> Result<Option<PathBuf>, HookError> {
    let paths = envelope_of(analysis, context)?;
    Ok(paths
        .never
        .into_iter()
        .chain([paths.cordon_home])
        .find(|closed| closed.starts_with(dir)))
}

/// The policy's envelope for the call's workspace and home. A Cedar policy or a CSC profile has
/// no envelope of its own; the built-in pack's is used, as for their hardened runs.
fn envelope_of(
    analysis: &cordon_governor::Analysis,
    context: &cordon_policy::native::Context,
) -> Result<cordon_policy::envelope::EnvelopePaths, HookError> {
    let pack;
    let policy = match analysis.policy_in_force.as_deref() {
        Some(PolicyInForce::Native(loaded)) => &loaded.policy,
        _ => {
            pack =
                cordon_governor::policies::builtin_pack().map_err(|e| HookError(e.to_string()))?;
            &pack.policy
        }
    };
    let home = PathBuf::from(&context.home);
    Ok(envelope_paths(
        &PolicyGlobs::of(policy),
        Toolchains::builtin(),
        Path::new(&context.workspace),
        &home,
        &crate::governing::cordon_home(&home),
        &read_dir_names,
    ))
}

/// A write the policy did not deny is asked when it lands in what the sandbox keeps read-only
/// for git and the shell and no rule names: a file the user's git configuration names (an
/// include, a `core.hooksPath` directory, inside the workspace or not), or any file of a git
/// directory, whatever it is called (a bare repository's `refs/heads/main`). The agent's own tool
/// runs unconfined, and no after-run check follows it (red-team round twenty-three wrote
/// `core.fsmonitor` into an include and moved a bare repository's branch so).
fn configuration_guard(
    decision: Decision,
    target: &Path,
    request: &AnalysisRequest,
    analysis: &cordon_governor::Analysis,
) -> Result<Decision, HookError> {
    if decision.outcome >= Outcome::Ask {
        return Ok(decision);
    }
    let context = cordon_governor::analysis::context(request)
        .map_err(|e| HookError::from(crate::governing::cli_error(e)))?;
    let paths = envelope_of(analysis, &context)?;
    let home = PathBuf::from(&context.home);
    let read_only: Vec<PathBuf> = paths
        .read_only
        .into_iter()
        .chain(cordon_governor::envelope::git_config_reads(
            &home,
            Path::new(&context.workspace),
        ))
        .flat_map(|p| {
            let real = std::fs::canonicalize(&p).ok();
            std::iter::once(p).chain(real)
        })
        .collect();
    let why = if let Some(kept) = read_only.iter().find(|p| target.starts_with(p)) {
        format!(
            "{} is configuration your git or shell reads and runs code from ({}), which the sandbox keeps read-only",
            target.display(),
            kept.display()
        )
    } else if let Some(git_dir) = target.ancestors().skip(1).find(|d| git_directory(d)) {
        format!(
            "{} lies in the git directory {}, whose refs and settings your own git obeys",
            target.display(),
            git_dir.display()
        )
    } else {
        return Ok(decision);
    };
    Ok(Decision::new(
        Outcome::Ask,
        vec![cordon_governor::Reason::Cordon(CordonReason::RuleAsked)],
        format!("Needs approval: {why}."),
        decision.policy,
    ))
}

/// Whether `dir` is a git directory as git recognises one: `HEAD`, `objects` and `refs`.
fn git_directory(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir()
}

/// A content search of `dir` that the policy did not deny is denied when a closed place lies
/// beneath `dir` ([`closed_beneath`]): the policy judged the directory, not every file in it.
fn search_guard(
    decision: Decision,
    dir: &str,
    request: &AnalysisRequest,
    analysis: &cordon_governor::Analysis,
) -> Result<Decision, HookError> {
    if decision.outcome == Outcome::Deny {
        return Ok(decision);
    }
    let context = cordon_governor::analysis::context(request)
        .map_err(|e| HookError::from(crate::governing::cli_error(e)))?;
    Ok(match closed_beneath(Path::new(dir), analysis, &context)? {
        Some(closed) => Decision::deny(
            CordonReason::SearchReachesCredentials,
            &format!(
                "searching {dir} would read {}, which is never read (credentials, cordon's home); search a narrower directory",
                closed.display()
            ),
            decision.policy,
        ),
        None => decision,
    })
}

/// A file tool's target inside cordon's home is denied, whatever the policy said: its journal,
/// state and checkpoints hold what cordon recorded (a checkpoint keeps a copy of a file before a
/// command changes it), and its policy and approvers decide what agents may do. Hardened runs
/// never reach the home; the agent's own tools, which run unconfined, may not either.
fn cordon_home_guard(decision: Decision, target: &Path, home: &Path) -> Decision {
    let cordon_home = PathBuf::from(really(&crate::governing::cordon_home(home)));
    if decision.outcome == Outcome::Deny || !target.starts_with(&cordon_home) {
        return decision;
    }
    Decision::deny(
        CordonReason::ToolReachesCordonHome,
        &format!(
            "{} lies in cordon's home {}, which an agent's tools never read or write (its policy, journal, state and checkpoints)",
            target.display(),
            cordon_home.display()
        ),
        decision.policy,
    )
}

/// `path` without its last component (`Path::parent` strips `.` components too, which is what a
/// lexical walk up wants).
fn parent_of(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

/// Judges every target of one file-tool call; the verdict is the worst of them.
pub fn decide(
    tool: &str,
    access: FileAccess,
    targets: &[String],
    cwd: &Path,
    workspace: Option<PathBuf>,
    settings: &Settings,
    policies: &dyn PolicySource,
) -> Result<Verdict, HookError> {
    if targets.is_empty() {
        return Err(HookError(format!("{tool}: nothing to check")));
    }
    let mut worst: Option<Verdict> = None;
    for target in targets {
        if target.is_empty() {
            return Err(HookError(format!("{tool}: an empty path or URL")));
        }
        let verdict = decide_one(
            tool,
            access,
            target,
            cwd,
            workspace.clone(),
            settings,
            policies,
        )?;
        if worst
            .as_ref()
            .is_none_or(|w| verdict.decision.outcome > w.decision.outcome)
        {
            worst = Some(verdict);
        }
    }
    worst.ok_or_else(|| HookError(format!("{tool}: nothing to check")))
}

fn decide_one(
    tool: &str,
    access: FileAccess,
    target: &str,
    cwd: &Path,
    workspace: Option<PathBuf>,
    settings: &Settings,
    policies: &dyn PolicySource,
) -> Result<Verdict, HookError> {
    let resolved = match access {
        FileAccess::Fetch => None,
        _ => Some(resolve_for_judging(target, cwd)?),
    };
    // The target is judged on its real path, so the places the policy names are taken on
    // theirs: a cwd, workspace or home reached through a symlink would otherwise never contain
    // the files inside them.
    let cwd = PathBuf::from(really(cwd));
    let workspace = workspace.map(|w| PathBuf::from(really(&cwd.join(w))));
    let home = really(Path::new(&cordon_core::user::home()));
    let request = AnalysisRequest {
        written: Written::FileTool(FileToolCall {
            tool: tool.to_string(),
            access: access.tool_access(),
            target: target.to_string(),
            resolved: resolved.clone(),
        }),
        cwd: judging::shell_cwd(Some(&cwd))?,
        home,
        workspace,
        policy: judging::policy_choice(settings.policy.as_deref())?,
        // The agent's tool runs unconfined, whatever mode cordon's own runs use.
        hardened: false,
    };
    let analysis = cordon_governor::analyse(&request, policies)
        .map_err(|e| HookError::from(crate::governing::cli_error(e)))?;
    let mut decision = analysis.decision();
    if let (FileAccess::Search, Some(dir)) = (access, &resolved) {
        decision = search_guard(decision, dir, &request, &analysis)?;
    }
    if let Some(real) = &resolved {
        decision = cordon_home_guard(decision, Path::new(real), Path::new(&request.home));
        if access == FileAccess::Write {
            decision = configuration_guard(decision, Path::new(real), &request, &analysis)?;
        }
    }
    // A replacement or a checkpoint has no meaning for the agent's own tool: the hook can run
    // neither, so it asks.
    let outcome = match decision.outcome {
        Outcome::Redirect | Outcome::AllowWithCheckpoint => Outcome::Ask,
        other => other,
    };
    let written = pathutil::normalize_absolute(&cwd.join(target).to_string_lossy());
    let leads_to = match &resolved {
        Some(real) if *real != written => format!(" (it leads to {real})"),
        _ => String::new(),
    };
    Ok(Verdict {
        decision: Decision {
            outcome,
            sentence: format!("{tool} {target}{leads_to}: {}", decision.sentence),
            ..decision
        },
        contract_sha256: analysis.contract.map(|c| c.sha256()),
        run_as: None,
        secrets: Vec::new(),
        resolved: resolved.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_glob_searches_its_literal_prefix() {
        let base = |dir, pattern| glob_base(dir, pattern).unwrap();
        assert_eq!(base("/w", "**/*.rs"), "/w");
        assert_eq!(base("/w", "src/**/*.rs"), "/w/src");
        assert_eq!(base("/w/", "../../h/.ssh/*"), "/w/../../h/.ssh");
        assert_eq!(base("/w", "/h/.ssh/id_*"), "/h/.ssh");
        assert_eq!(base("/w", "/*"), "/");
        assert_eq!(base("/w", "notes.md"), "/w/notes.md");
        let error = glob_base("/w", "src/*/../../../h/.ssh/*").unwrap_err();
        assert!(
            error.0.contains("climbs with `..` after a wildcard"),
            "{error}"
        );
    }

    #[test]
    fn a_patch_names_every_file_it_changes() {
        let patch = "*** Begin Patch\n*** Add File: a.txt\n+x\n*** Update File: src/lib.rs\n*** Move to: src/new.rs\n@@\n-a\n+b\n*** Delete File: ../../h/.bashrc\n*** Update File: a.txt\n*** End Patch\n";
        assert_eq!(
            patch_targets(patch),
            ["a.txt", "src/lib.rs", "src/new.rs", "../../h/.bashrc"]
        );
        assert!(patch_targets("*** Begin Patch\n*** End Patch\n").is_empty());
    }

    #[test]
    fn urls_are_found_in_a_prompt() {
        assert_eq!(
            urls_in("Summarise https://example.com/a, and (http://x.test/b)."),
            ["https://example.com/a", "http://x.test/b"]
        );
        assert!(urls_in("no link here").is_empty());
    }

    #[test]
    fn paths_resolve_through_links_and_into_what_does_not_exist() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let (work, home) = (root.join("w"), root.join("h"));
        std::fs::create_dir_all(work.join("src")).unwrap();
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::os::unix::fs::symlink(home.join(".ssh"), work.join("keys")).unwrap();
        std::os::unix::fs::symlink(home.join(".bashrc"), work.join("notes")).unwrap();
        std::os::unix::fs::symlink("../h/.profile", work.join("rel")).unwrap();
        let s = |p: PathBuf| p.to_str().unwrap().to_string();
        let cases = [
            ("src/new.rs", s(work.join("src/new.rs"))),
            ("keys/id_ed25519", s(home.join(".ssh/id_ed25519"))),
            ("notes", s(home.join(".bashrc"))),
            ("rel", s(home.join(".profile"))),
            ("keys/../../w/src", s(work.join("src"))),
            ("missing/dir/x", s(work.join("missing/dir/x"))),
        ];
        for (target, real) in cases {
            assert_eq!(
                resolve_for_judging(target, &work).unwrap(),
                real,
                "{target}"
            );
        }
        std::os::unix::fs::symlink("loop", work.join("loop")).unwrap();
        let error = resolve_for_judging("loop", &work).unwrap_err();
        assert!(error.0.contains("cannot be resolved"), "{error}");
    }
}
