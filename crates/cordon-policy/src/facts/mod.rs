//! Facts about each simple command, from the parse and the knowledge base: what it reads and
//! writes, whether it uses the network, its effect, whether it is destructive. Rules match facts,
//! and the contract is built from them.

mod derive;
mod environment;
pub mod loopback;
mod options;
mod program_text;
mod programs;

use cordon_core::EffectType;
use serde::Serialize;

use crate::enforcement::Enforcement;
use crate::knowledge::Knowledge;
use crate::shell::{self, pathutil, Origin, Script, Session, SimpleCommand};
use crate::toolchains::Toolchains;

/// How deep command lines given in options (`tar --to-command`) are followed.
const MAX_NESTED_OPTIONS: usize = 4;

/// The facts of one simple command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CommandFacts {
    pub argv: Vec<String>,
    pub program: String,
    /// The program and its known subcommands, options removed: `git -C x push -f` → `git push`.
    pub command_path: Vec<String>,
    /// Every option word, with short clusters expanded (`-rf` → `-rf`, `-r`, `-f`).
    pub flags: Vec<String>,
    /// The directory the command works in, where its operands are judged: the shell's, or the
    /// one an option moves it to (`make -C sub`, `tar -C out`).
    pub cwd: String,
    /// The directory the command is started in, when an option moves it elsewhere (`cwd`): the
    /// shell's own. The program makes the move itself, so it is started where the shell is,
    /// with the option in its argv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_in: Option<String>,
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
    /// The program (and subcommand) is in the knowledge base, and every option, operand and
    /// environment variable it was given is modelled there.
    pub known: bool,
    /// Why the command is unknown although its program is known: the options, subcommands and
    /// variables cordon does not model (`` `--frob` is not an option cordon models for `ls` ``).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmodelled: Vec<String>,
    /// Known, observing, writing nothing, and nothing in its option grammar can make it write or
    /// run code: a computed argument can then change only what it reads.
    #[serde(default)]
    pub read_only: bool,
    /// Program text is passed inline (`python -c`, `node -e`).
    pub inline_code: bool,
    pub privileged: bool,
    pub tags: Vec<String>,
    pub wrappers: Vec<String>,
    pub assignments: Vec<String>,
    pub origin: Origin,
    /// Why this command cannot be judged statically; non-empty means ask, never allow (in
    /// local mode; see [`Enforcement`]).
    pub unresolved: Vec<String>,
    /// What the decision assumes holds the command in when it runs (set by [`assume`]).
    #[serde(default)]
    pub enforcement: Enforcement,
}

impl CommandFacts {
    /// The command as a person reads it.
    pub fn display(&self) -> String {
        display_argv(&self.argv)
    }

    /// Where the command is started: the shell's directory, which is `cwd` unless an option
    /// moves the program elsewhere itself (`make -C sub`: started here, with `-C sub` in argv).
    pub fn started_in(&self) -> &str {
        self.starts_in.as_deref().unwrap_or(&self.cwd)
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

/// Judges every path on the file it reaches as well as on its name. `resolve` is the caller's
/// (the sandbox's resolver: symlinks followed from the link's own directory, `..`, `/proc/*/root`
/// and the like); for each read or written path it returns the real path, or `None` when the path
/// does not exist yet or cannot be resolved. A real path that differs from the name is added next
/// to it, so a rule about the real file fires: `cat link` where `link` points at `~/.ssh/id_rsa`
/// is judged as reading `~/.ssh/id_rsa`. The policy itself never touches the filesystem.
pub fn resolve_paths(facts: &mut Facts, resolve: impl Fn(&str) -> Option<String>) {
    for command in &mut facts.commands {
        for list in [&mut command.reads, &mut command.writes] {
            let real: Vec<String> = list.iter().filter_map(|p| resolve(p)).collect();
            for path in real {
                push_unique(list, path);
            }
        }
        if let Some(real) = resolve(&command.cwd).filter(|r| *r != command.cwd) {
            push_unique(&mut command.reads, real);
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
    /// Problems with the text as a whole; non-empty means ask, never allow (in local mode).
    pub unresolved: Vec<String>,
    /// What the decision assumes holds the text in when it runs (set by [`assume`]).
    #[serde(default)]
    pub enforcement: Enforcement,
}

/// Records the enforcement the decision may assume: the caller knows whether it starts the
/// text under the hardened sandbox. Facts start out assuming local mode.
pub fn assume(facts: &mut Facts, enforcement: Enforcement) {
    facts.enforcement = enforcement;
    for command in &mut facts.commands {
        command.enforcement = enforcement;
    }
}

pub fn of_script(script: &Script, session: &Session, knowledge: &Knowledge) -> Facts {
    let mut unresolved = script.unresolved.clone();
    let commands = facts_with_nested(&script.commands, session, knowledge, 0, &mut unresolved);
    let mut facts = Facts {
        commands,
        unresolved,
        enforcement: Enforcement::Local,
    };
    flag_files_written_then_run(&mut facts.commands, knowledge);
    facts
}

/// The facts of each command, each followed by those of the command lines its options make it
/// run (`tar --to-command=CMD`, `git rebase --exec CMD`), parsed and judged as commands of their
/// own: a deny about what they do still fires.
fn facts_with_nested(
    commands: &[SimpleCommand],
    session: &Session,
    knowledge: &Knowledge,
    depth: usize,
    unresolved: &mut Vec<String>,
) -> Vec<CommandFacts> {
    let mut out = Vec::with_capacity(commands.len());
    for command in commands {
        let (facts, nested) = derive::derive(command, session, knowledge);
        let here = Session {
            cwd: facts.cwd.clone(),
            home: session.home.clone(),
        };
        out.push(facts);
        for text in nested {
            if depth >= MAX_NESTED_OPTIONS {
                unresolved.push(format!(
                    "command lines given in options are nested more than {MAX_NESTED_OPTIONS} deep"
                ));
                break;
            }
            let mut script = shell::parse(&text.text, &here);
            for inner in &mut script.commands {
                inner.origin = Origin::Nested;
                inner
                    .wrappers
                    .insert(0, format!("{} {}", command.program(), text.option));
                inner.privileged |= command.privileged;
                if text.appends_arguments {
                    inner.unresolved.push(format!(
                        "`{}` is run with arguments `{}` adds at run time",
                        text.text,
                        command.program()
                    ));
                }
            }
            unresolved.extend(script.unresolved.iter().cloned());
            out.extend(facts_with_nested(
                &script.commands,
                &here,
                knowledge,
                depth + 1,
                unresolved,
            ));
        }
    }
    out
}

/// `echo 'rm -rf /' > x.sh && bash x.sh`: a file written earlier in the same text and then run
/// (as a program, a script or an interpreter's program) has content cordon never saw.
fn flag_files_written_then_run(commands: &mut [CommandFacts], knowledge: &Knowledge) {
    let mut written: Vec<String> = Vec::new();
    for command in commands.iter_mut() {
        let spec = knowledge.get(&command.program);
        let runs_code = command.program.starts_with('/')
            || command.tags.iter().any(|t| t == "runs_script")
            || spec.is_some_and(|s| !s.inline_code_flags.is_empty() || !s.runs_files.is_empty());
        if runs_code {
            // `make` runs `Makefile`, `npm run` runs `package.json`'s scripts: files in its cwd.
            let implied: Vec<String> = spec
                .map(|s| {
                    s.runs_files
                        .iter()
                        .map(|f| pathutil::normalize_absolute(&format!("{}/{f}", command.cwd)))
                        .collect()
                })
                .unwrap_or_default();
            let ran = std::iter::once(&command.program)
                .chain(&command.reads)
                .chain(&implied)
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

/// The host of a URL (for the agent's `WebFetch`).
pub(crate) fn host_of_url(text: &str) -> Option<String> {
    text.contains("://").then(|| host_of(text)).flatten()
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

/// The facts of one simple command. Command lines its options make it run are not followed here
/// (see [`of_script`]); such a command is unresolved on its own.
pub fn of_command(
    command: &SimpleCommand,
    session: &Session,
    knowledge: &Knowledge,
) -> CommandFacts {
    let (mut facts, nested) = derive::derive(command, session, knowledge);
    for text in nested {
        facts.unresolved.push(format!(
            "`{}` runs the command line `{}`",
            text.option, text.text
        ));
    }
    facts
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
    fn paths_are_also_judged_where_the_caller_resolves_them() {
        let mut facts = facts_in("cat link; echo x > out/f; cd d && ls", "/w");
        let links = |p: &str| match p {
            "/w/link" => Some("/home/u/.ssh/id_rsa".to_string()),
            "/w/out/f" => Some("/home/u/.bashrc".to_string()),
            "/w/d" => Some("/etc".to_string()),
            _ => None,
        };
        resolve_paths(&mut facts, links);
        let [cat, echo, cd, ls] = facts.commands.as_slice() else {
            panic!("{facts:?}");
        };
        assert_eq!(cat.reads, ["/w/link", "/home/u/.ssh/id_rsa"]);
        assert!(echo.writes.contains(&"/home/u/.bashrc".to_string()));
        assert!(cd.reads.is_empty(), "{cd:?}");
        assert!(ls.reads.contains(&"/etc".to_string()), "{ls:?}");
        // Control: a resolver that finds nothing changes nothing.
        let mut plain = facts_in("cat a", "/w");
        let before = plain.clone();
        resolve_paths(&mut plain, |_| None);
        assert_eq!(plain, before);
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
