//! Facts about each simple command, from the parse and the knowledge base: what it reads and
//! writes, whether it uses the network, its effect, whether it is destructive. Rules match facts,
//! and the contract is built from them.

use cordon_core::EffectType;
use serde::Serialize;

use crate::knowledge::{CommandSpec, Knowledge, Operands};
use crate::shell::{pathutil, Access, Origin, Script, Session, SimpleCommand};
use crate::toolchains::Toolchains;

/// Option words that replace a positional pattern (`grep -e PAT FILE`), so no operand is skipped.
const PATTERN_OPTIONS: &[&str] = &["-e", "--regexp", "-f", "--file", "--expression"];

/// The facts of one simple command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CommandFacts {
    pub argv: Vec<String>,
    pub program: String,
    /// The program and its known subcommands, options removed: `git -C x push -f` → `git push`.
    pub command_path: Vec<String>,
    /// Every option word, with short clusters expanded (`-rf` → `-rf`, `-r`, `-f`).
    pub flags: Vec<String>,
    pub cwd: String,
    pub reads: Vec<String>,
    /// Every path the command writes, and so every path the policy judges it writing. After
    /// [`grant_creations`], also the nearest existing ancestor of each target in `absent`.
    pub writes: Vec<String>,
    /// Paths read or written that did not exist when the text was judged (`echo x > new.txt`,
    /// or `cat new.txt` after it). They are judged by name (in `reads` / `writes`) but not
    /// granted by name: see [`grant_creations`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
    /// The writes the knowledge base adds rather than the text names (a tool's caches, such as
    /// `~/.cargo/registry`): when absent they are not widened to an ancestor (see
    /// [`grant_creations`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub implied_writes: Vec<String>,
    pub network: bool,
    /// Hosts named in the arguments (URLs, `user@host:`).
    pub hosts: Vec<String>,
    pub effect: EffectType,
    pub destructive: bool,
    /// The program (and subcommand) is in the knowledge base.
    pub known: bool,
    /// Program text is passed inline (`python -c`, `node -e`).
    pub inline_code: bool,
    pub privileged: bool,
    pub tags: Vec<String>,
    pub wrappers: Vec<String>,
    pub assignments: Vec<String>,
    pub origin: Origin,
    /// Why this command cannot be judged statically; non-empty means ask, never allow.
    pub unresolved: Vec<String>,
}

impl CommandFacts {
    /// The command as a person reads it.
    pub fn display(&self) -> String {
        display_argv(&self.argv)
    }

    /// The write scope a contract grants: every judged write but the targets that do not exist
    /// yet, which the grant reaches through their ancestor (the kernel can only grant rights on
    /// a path that exists).
    pub fn granted_writes(&self) -> impl Iterator<Item = &String> {
        self.writes.iter().filter(|w| !self.absent.contains(w))
    }

    /// The read scope a contract grants, on the same terms as [`CommandFacts::granted_writes`].
    pub fn granted_reads(&self) -> impl Iterator<Item = &String> {
        self.reads.iter().filter(|r| !self.absent.contains(r))
    }
}

/// Makes paths that do not exist yet grantable, without granting more than is judged.
///
/// Landlock (hardened mode) grants rights on existing inodes only, so `echo x > new.txt` cannot
/// be granted `new.txt`. Each absolute write target for which `exists` is false is listed in
/// `absent`, and its nearest existing ancestor directory joins `writes`: the policy then judges
/// both the name (a rule about `.env` still sees `.env`) and the wider scope the sandbox will
/// really grant, and the contract grants the ancestor. A read target that does not exist is
/// listed in `absent` and granted nothing: if the text creates it first (`echo x > b && cat b`),
/// the write grant that covers it lets it be read; otherwise the read fails, as it would anyway.
/// Reads are never widened, so a missing read cannot become a grant of its ancestor; nor are the
/// knowledge base's implied writes (a missing `~/.cargo/registry` would otherwise widen to the
/// home directory): they too are granted nothing until they exist. Landlock cannot express "create only this
/// name" (creating a file needs `MAKE_REG` on the directory, writing it needs `WRITE_FILE`
/// beneath it, and both cover every name there), so granting the directory and having the
/// policy judge it is the honest form. A target with no existing ancestor stays as it is, and
/// the sandbox then refuses to resolve it.
pub fn grant_creations(facts: &mut Facts, exists: impl Fn(&str) -> bool) {
    for command in &mut facts.commands {
        let (implied, named): (Vec<String>, Vec<String>) = command
            .writes
            .iter()
            .cloned()
            .partition(|w| command.implied_writes.contains(w));
        for ancestor in absent_ancestors(&named, &mut command.absent, &exists) {
            push_unique(&mut command.writes, ancestor);
        }
        for target in implied.iter().chain(&command.reads) {
            if target.starts_with('/') && !exists(target) {
                push_unique(&mut command.absent, target.clone());
            }
        }
    }
}

/// Lets a hardened run execute a program installed in the home directory (`~/.cargo/bin/cargo`,
/// nvm's `node`): when `locate` finds a command's program in one of a toolchain's `bin`
/// directories (`toolchains.rs`), the command also reads that toolchain's install tree, and is
/// judged and granted so. Only paths that exist are added (the sandbox grants existing paths
/// only); the home directory around them stays closed, so credential files there stay unreadable.
pub fn grant_toolchains(
    facts: &mut Facts,
    home: &str,
    toolchains: &Toolchains,
    locate: impl Fn(&CommandFacts) -> Vec<String>,
    exists: impl Fn(&str) -> bool,
) {
    for command in &mut facts.commands {
        for executable in locate(command) {
            for read in toolchains.reads_for(home, &executable) {
                if exists(&read) {
                    push_unique(&mut command.reads, read);
                }
            }
        }
    }
}

/// The nearest existing ancestor of each absolute path in `paths` that does not exist, which is
/// recorded in `absent`. A path with no existing ancestor is left alone (the sandbox refuses it).
fn absent_ancestors(
    paths: &[String],
    absent: &mut Vec<String>,
    exists: &impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut ancestors = Vec::new();
    for target in paths {
        if !target.starts_with('/') || exists(target) {
            continue;
        }
        let nearest = std::path::Path::new(target)
            .ancestors()
            .skip(1)
            .filter_map(|a| a.to_str())
            .find(|a| exists(a));
        if let Some(ancestor) = nearest {
            push_unique(absent, target.clone());
            ancestors.push(ancestor.to_string());
        }
    }
    ancestors
}

/// Shell-quotes an argv for display.
pub fn display_argv(argv: &[String]) -> String {
    let quoted: Vec<String> = argv
        .iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,%^{}~".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect();
    quoted.join(" ")
}

/// Facts for every command of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Facts {
    pub commands: Vec<CommandFacts>,
    /// Problems with the text as a whole; non-empty means ask, never allow.
    pub unresolved: Vec<String>,
}

pub fn of_script(script: &Script, session: &Session, knowledge: &Knowledge) -> Facts {
    let mut commands: Vec<CommandFacts> = script
        .commands
        .iter()
        .map(|c| of_command(c, session, knowledge))
        .collect();
    flag_files_written_then_run(&mut commands, knowledge);
    Facts {
        commands,
        unresolved: script.unresolved.clone(),
    }
}

/// `echo 'rm -rf /' > x.sh && bash x.sh`: a file written earlier in the same text and then run
/// (as a program, a script or an interpreter's program) has content cordon never saw.
fn flag_files_written_then_run(commands: &mut [CommandFacts], knowledge: &Knowledge) {
    let mut written: Vec<String> = Vec::new();
    for command in commands.iter_mut() {
        let runs_code = command.program.starts_with('/')
            || command.tags.iter().any(|t| t == "runs_script")
            || knowledge
                .get(&command.program)
                .is_some_and(|s| !s.inline_code_flags.is_empty());
        if runs_code {
            let ran = std::iter::once(&command.program)
                .chain(&command.reads)
                .find(|p| written.contains(p))
                .cloned();
            if let Some(path) = ran {
                command.unresolved.push(format!(
                    "it runs `{path}`, which an earlier command in the same text writes"
                ));
            }
        }
        // The working directory itself is not a file that could be run.
        written.extend(
            command
                .writes
                .iter()
                .filter(|w| **w != command.cwd)
                .cloned(),
        );
    }
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// Whether an argument of an unknown program (or a stray one) names a file.
fn looks_like_path(text: &str) -> bool {
    !text.contains("://")
        && (text.starts_with('/')
            || text.starts_with('~')
            || text.starts_with("./")
            || text.starts_with("../")
            || text == "."
            || text == ".."
            || (text.starts_with('.') && text.len() > 1 && !text.starts_with(".."))
            || text.contains('/'))
}

/// The host of a URL or scp-style address, if `text` is one.
fn host_of(text: &str) -> Option<String> {
    let rest = match text.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+') =>
        {
            rest
        }
        Some(_) => return None,
        None => {
            // git@github.com:org/repo.git
            let (user_host, path) = text.split_once(':')?;
            let (_, host) = user_host.split_once('@')?;
            if host.is_empty() || path.starts_with('/') && path.starts_with("//") {
                return None;
            }
            return Some(host.to_ascii_lowercase());
        }
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or("").to_string()
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Expands a short option cluster: `-rf` → `-r`, `-f`. Only short clusters, so `-name` (find)
/// stays one option.
fn expand_cluster(flag: &str) -> Vec<String> {
    let body = &flag[1..];
    if flag.starts_with("--")
        || body.len() < 2
        || body.len() > 3
        || !body.chars().all(|c| c.is_ascii_alphabetic())
    {
        return Vec::new();
    }
    body.chars().map(|c| format!("-{c}")).collect()
}

pub fn of_command(
    command: &SimpleCommand,
    session: &Session,
    knowledge: &Knowledge,
) -> CommandFacts {
    let program = command.program().to_string();
    let cwd_known = command.cwd.clone();
    let cwd = cwd_known
        .clone()
        .unwrap_or_else(|| pathutil::normalize_absolute(&session.cwd));
    let mut unresolved = command.unresolved.clone();
    if cwd_known.is_none() {
        unresolved.push(
            "the working directory is unknown after a `cd` that cannot be resolved".to_string(),
        );
    }
    let base = knowledge.get(&program);
    let mut known = base.is_some() && !program.starts_with('/');
    let mut spec: CommandSpec = base.cloned().unwrap_or_default();
    let mut command_path = vec![program.clone()];
    let args = command.words.get(1..).unwrap_or(&[]);
    let mut consumed = vec![false; args.len()];

    // Subcommands: the first operand selects one, as long as the spec has any.
    let mut search_from = 0;
    while !spec.subcommands.is_empty() {
        let mut j = search_from;
        let mut found = None;
        while j < args.len() {
            let word = &args[j];
            let t = word.text.as_str();
            if word.is_static && t.starts_with('+') {
                j += 1;
            } else if word.is_static
                && t.starts_with('-')
                && t.len() > 1
                && !spec.subcommands.contains_key(t)
            {
                let takes_value = spec
                    .value_options
                    .iter()
                    .chain(&spec.chdir_options)
                    .chain(&spec.read_options)
                    .chain(&spec.write_options)
                    .any(|o| o == t);
                j += if takes_value { 2 } else { 1 };
            } else {
                found = Some(j);
                break;
            }
        }
        let Some(j) = found else { break };
        consumed[j] = true;
        search_from = j + 1;
        let word = &args[j];
        if !word.is_static {
            unresolved.push(format!(
                "the subcommand `{}` is computed at run time",
                word.text
            ));
            break;
        }
        command_path.push(word.text.clone());
        match spec.subcommands.get(&word.text) {
            Some(sub) => spec = spec.refined_by(sub),
            None => {
                // An alias or plugin: cordon cannot know what it does.
                known = false;
                break;
            }
        }
    }

    // `make -C dir`, `npm --prefix dir`, `tar -C dir`: the command works in another directory.
    let mut cwd_known = cwd_known;
    let mut cwd = cwd;
    for (k, word) in args.iter().enumerate() {
        let (name, inline) = match word.text.split_once('=') {
            Some((n, v)) if word.text.starts_with("--") => (n, Some(v)),
            _ => (word.text.as_str(), None),
        };
        if !word.is_static || !spec.chdir_options.iter().any(|o| o == name) {
            continue;
        }
        let value = inline
            .map(crate::shell::Word::literal)
            .or_else(|| args.get(k + 1).cloned());
        cwd_known = match value {
            Some(v) if v.is_static => {
                pathutil::resolve(cwd_known.as_deref(), &session.home, &v.text)
            }
            _ => None,
        };
        if let Some(known) = &cwd_known {
            cwd.clone_from(known);
        } else {
            unresolved.push(format!(
                "the directory given to `{name}` cannot be resolved"
            ));
        }
        if k + 1 < consumed.len() && inline.is_none() {
            consumed[k + 1] = true;
        }
        consumed[k] = true;
    }
    let resolve = |text: &str| pathutil::resolve(cwd_known.as_deref(), &session.home, text);

    let mut flags: Vec<String> = Vec::new();
    let mut reads: Vec<String> = Vec::new();
    let mut writes: Vec<String> = Vec::new();
    let mut operands = Vec::new();
    let mut inline_code = spec.tags.iter().any(|t| t == "inline_code");
    let mut after_double_dash = false;
    let mut k = 0;
    while k < args.len() {
        if consumed[k] {
            k += 1;
            continue;
        }
        let word = &args[k];
        let t = word.text.as_str();
        if !after_double_dash && word.is_static && t == "--" {
            after_double_dash = true;
            push_unique(&mut flags, "--".to_string());
            k += 1;
            continue;
        }
        if !after_double_dash && word.is_static && t.starts_with('-') && t.len() > 1 {
            let (name, inline_value) = match t.split_once('=') {
                Some((n, v)) if t.starts_with("--") => (n, Some(v.to_string())),
                _ => (t, None),
            };
            push_unique(&mut flags, name.to_string());
            for short in expand_cluster(name) {
                if spec.inline_code_flags.contains(&short) {
                    inline_code = true;
                }
                push_unique(&mut flags, short);
            }
            let wants_value = |list: &[String]| list.iter().any(|o| o == name);
            let is_write = wants_value(&spec.write_options);
            let is_read = wants_value(&spec.read_options);
            let is_code = wants_value(&spec.inline_code_flags);
            if is_code {
                inline_code = true;
            }
            if is_write || is_read || is_code || wants_value(&spec.value_options) {
                let value = match inline_value {
                    Some(v) => Some(crate::shell::Word::literal(v)),
                    None => {
                        k += 1;
                        args.get(k).cloned()
                    }
                };
                let stray = value.as_ref().filter(|v| {
                    !(is_write || is_read || is_code)
                        && v.is_static
                        && (v.text.starts_with('/') || v.text.starts_with('~'))
                });
                if let Some(path) = stray.and_then(|v| resolve(&v.text)) {
                    // An option value that names a file, on an option cordon knows only as
                    // taking a value: at least a read, so credentials are never passed unseen.
                    push_unique(&mut reads, path);
                }
                if let Some(value) = value.filter(|_| is_write || is_read) {
                    if !value.is_static {
                        unresolved
                            .push(format!("the path `{}` is computed at run time", value.text));
                    } else {
                        match resolve(&value.text) {
                            Some(path) if is_write => push_unique(&mut writes, path),
                            Some(path) => push_unique(&mut reads, path),
                            None => unresolved
                                .push(format!("the path `{}` cannot be resolved", value.text)),
                        }
                    }
                }
            } else if let Some(value) =
                inline_value.filter(|v| v.starts_with('/') || v.starts_with('~'))
            {
                // `--config=/etc/x`, `--output=~/x` on an option cordon has no entry for: the
                // path is at least read, so a credentials path is never passed unseen.
                if let Some(path) = resolve(&value) {
                    push_unique(&mut reads, path);
                }
            }
            k += 1;
            continue;
        }
        operands.push(word.clone());
        k += 1;
    }

    // Other spellings of the same flag (`rm -R`, `--recursive`) count as the canonical one.
    for (alias, canonical) in &spec.flag_aliases {
        if flags.contains(alias) {
            push_unique(&mut flags, canonical.clone());
        }
    }
    let text_args = spec.text_args.unwrap_or(false);
    let uses_pattern_option = flags.iter().any(|f| PATTERN_OPTIONS.contains(&f.as_str()));
    let skip = if uses_pattern_option {
        0
    } else {
        spec.skip_operands.unwrap_or(0)
    };
    let writes_by_flag = spec
        .write_flags
        .iter()
        .any(|w| flags.iter().any(|f| f == w || f.starts_with(w.as_str())));
    let mode = match (known, spec.operands) {
        (_, Some(_)) if writes_by_flag => Some(Operands::Write),
        (_, Some(mode)) => Some(mode),
        (false, None) => None,
        (true, None) => Some(Operands::None),
    };
    let last = operands.len().saturating_sub(1);
    for (idx, word) in operands.iter().enumerate() {
        if !word.is_static {
            if !text_args {
                unresolved.push(format!(
                    "the argument `{}` is computed at run time",
                    word.text
                ));
            }
            continue;
        }
        if idx < skip {
            continue;
        }
        let target = match spec.last_operand {
            Some(last_mode) if idx == last && operands.len() > 1 => Some(last_mode),
            _ => mode,
        };
        let mut text = word.text.as_str();
        let keyed = text
            .split_once('=')
            .and_then(|(key, value)| spec.key_value_paths.get(key).map(|mode| (*mode, value)));
        let target = match keyed {
            Some((mode, value)) => {
                text = value;
                Some(mode)
            }
            None => target,
        };
        let path_target = match target {
            Some(Operands::Read) => Some(Access::Read),
            Some(Operands::Write) => Some(Access::Write),
            // Unknown programs, and stray absolute or home paths anywhere: taken as reads, so a
            // credentials path is never passed unseen.
            None if looks_like_path(text) => Some(Access::Read),
            Some(Operands::None)
                if !text_args && (text.starts_with('/') || text.starts_with('~')) =>
            {
                Some(Access::Read)
            }
            _ => None,
        };
        if let Some(access) = path_target {
            match resolve(text) {
                Some(path) if access == Access::Write => push_unique(&mut writes, path),
                Some(path) => push_unique(&mut reads, path),
                None => unresolved.push(format!("the path `{text}` cannot be resolved")),
            }
        }
    }
    if operands.len() <= skip {
        if let (Some(default), Some(mode)) = (&spec.default_operand, mode) {
            if let Some(path) = resolve(default) {
                match mode {
                    Operands::Write => push_unique(&mut writes, path),
                    _ => push_unique(&mut reads, path),
                }
            }
        }
    }
    if spec.writes_cwd.unwrap_or(false) || !known {
        push_unique(&mut writes, cwd.clone());
    }
    let mut implied_writes = Vec::new();
    for extra in &spec.also_writes {
        if let Some(path) = pathutil::resolve(None, &session.home, extra) {
            push_unique(&mut writes, path.clone());
            push_unique(&mut implied_writes, path);
        }
    }
    for redirect in &command.redirects {
        match redirect.access {
            Access::Read => push_unique(&mut reads, redirect.path.clone()),
            Access::Write => push_unique(&mut writes, redirect.path.clone()),
        }
    }

    let mut hosts = Vec::new();
    for word in args.iter().filter(|w| w.is_static) {
        if let Some(host) = host_of(&word.text) {
            push_unique(&mut hosts, host);
        }
    }
    let network = spec.network.unwrap_or(false);
    let destructive = spec.destructive.unwrap_or(false)
        || spec
            .destructive_flags
            .iter()
            .any(|d| flags.contains(d) || operands.iter().any(|o| o.is_static && o.text == *d));
    let mut tags = spec.tags.clone();
    if command.privileged {
        push_unique(&mut tags, "privileged".to_string());
    }
    if program.starts_with('/') {
        push_unique(&mut tags, "local_executable".to_string());
    }
    let effect = spec.effect.unwrap_or(EffectType::TransformLocal);

    CommandFacts {
        argv: command.argv.clone(),
        program,
        command_path,
        flags,
        cwd,
        reads,
        writes,
        absent: Vec::new(),
        implied_writes,
        network,
        hosts,
        effect,
        destructive,
        known,
        inline_code,
        privileged: command.privileged,
        tags,
        wrappers: command.wrappers.clone(),
        assignments: command.assignments.clone(),
        origin: command.origin,
        unresolved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts_in(text: &str, cwd: &str) -> Facts {
        let session = Session {
            cwd: cwd.to_string(),
            home: "/home/u".to_string(),
        };
        let script = crate::shell::parse(text, &session);
        of_script(&script, &session, Knowledge::builtin())
    }

    #[test]
    fn a_missing_write_target_is_judged_and_granted_through_its_nearest_existing_ancestor() {
        let existing = ["/", "/w", "/w/sub", "/w/a.txt", "/home", "/home/u"];
        let exists = |p: &str| existing.contains(&p);
        let mut facts = facts_in(
            "echo x > new.txt; echo y > sub/deep/new.txt; cat a.txt new.txt; cargo build",
            "/w",
        );
        grant_creations(&mut facts, exists);
        let [echo1, echo2, cat, cargo] = facts.commands.as_slice() else {
            panic!("{facts:?}");
        };
        // The name stays judged, its directory joins the judged writes, and only it is granted.
        assert_eq!(echo1.writes, ["/w/new.txt", "/w"]);
        assert_eq!(echo1.absent, ["/w/new.txt"]);
        assert_eq!(echo1.granted_writes().collect::<Vec<_>>(), ["/w"]);
        // The nearest existing ancestor, not the cwd.
        assert_eq!(echo2.writes, ["/w/sub/deep/new.txt", "/w/sub"]);
        assert_eq!(echo2.granted_writes().collect::<Vec<_>>(), ["/w/sub"]);
        // A missing read is granted nothing, and never widened.
        assert_eq!(cat.reads, ["/w/a.txt", "/w/new.txt"]);
        assert_eq!(cat.granted_reads().collect::<Vec<_>>(), ["/w/a.txt"]);
        // A tool's missing cache is not widened to the home directory.
        assert!(cargo.writes.iter().all(|w| w != "/home/u"), "{cargo:?}");
        assert!(
            cargo.granted_writes().all(|w| !w.starts_with("/home")),
            "{cargo:?}"
        );
        // Control: with every path present nothing changes.
        let mut all_there = facts_in("echo x > new.txt", "/w");
        let before = all_there.clone();
        grant_creations(&mut all_there, |_| true);
        assert_eq!(all_there, before);
    }

    #[test]
    fn a_program_in_a_toolchain_home_reads_that_toolchain_and_nothing_around_it() {
        let mut facts = facts_in("cargo build --offline && ls", "/w");
        let locate = |c: &CommandFacts| match c.program.as_str() {
            "cargo" => vec!["/home/u/.cargo/bin/cargo".to_string()],
            _ => vec!["/usr/bin/ls".to_string()],
        };
        // Only these exist: a missing path is not granted (the sandbox grants existing paths).
        let exists = |p: &str| p == "/home/u/.cargo/bin" || p == "/home/u/.rustup/toolchains";
        grant_toolchains(&mut facts, "/home/u", Toolchains::builtin(), locate, exists);
        let [cargo, ls] = facts.commands.as_slice() else {
            panic!("{facts:?}");
        };
        assert_eq!(
            cargo.granted_reads().collect::<Vec<_>>(),
            ["/home/u/.cargo/bin", "/home/u/.rustup/toolchains"]
        );
        assert!(
            cargo
                .reads
                .iter()
                .all(|r| r != "/home/u" && r != "/home/u/.cargo"),
            "{cargo:?}"
        );
        // A system program gets nothing more.
        assert_eq!(ls.reads, ["/w"]);
    }

    #[test]
    fn hosts_come_from_urls_and_scp_addresses() {
        assert_eq!(
            host_of("https://user@Example.com:8443/x?q").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            host_of("git@github.com:org/repo.git").as_deref(),
            Some("github.com")
        );
        assert_eq!(host_of("src/main.rs"), None);
        assert_eq!(host_of("a:b"), None);
    }

    #[test]
    fn clusters_expand_only_when_short() {
        assert_eq!(expand_cluster("-rf"), vec!["-r", "-f"]);
        assert!(expand_cluster("-name").is_empty());
        assert!(expand_cluster("--force").is_empty());
    }
}
