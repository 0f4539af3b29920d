//! One simple command's facts, derived from its words, its environment and the knowledge base
//! under the rule of construction: every option and operand is modelled or the command is
//! unknown; every path is resolved (special files included) or the command is unresolved.

use std::borrow::Cow;

use cordon_core::EffectType;

use super::environment::{self, Assignment};
use super::options::{self, Parsed};
use super::{
    expand_cluster, host_of, looks_like_path, loopback, programs, push_unique, CommandFacts,
};
use crate::enforcement::Enforcement;
use crate::knowledge::{CommandSpec, Knowledge, Operands, OptionKind};
use crate::shell::pathutil::{self, Special};
use crate::shell::{Access, Session, SimpleCommand, Word};

/// Option words that replace a positional pattern or program (`grep -e PAT FILE`, `sed -e S`),
/// so no operand is skipped as the pattern.
const PATTERN_OPTIONS: &[&str] = &[
    "-e",
    "--regexp",
    "-f",
    "--file",
    "--expression",
    "--source",
    "--exec",
];

/// A command line an option makes the command run (`tar --to-command=CMD`), to be judged as
/// commands of its own, with what the program appends when it runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NestedText {
    pub option: String,
    pub text: String,
    /// The program passes further arguments (file names, an archive) cordon cannot know.
    pub appends_arguments: bool,
}

/// What is being learnt about one command.
pub(super) struct Derived<'a> {
    pub session: &'a Session,
    /// The working directory, `None` when a `cd` made it unknown.
    pub cwd_known: Option<String>,
    pub cwd: String,
    /// The shell's directory, once an option has moved `cwd` away from it.
    pub starts_in: Option<String>,
    /// The shell's directory as far as it is known, whatever an option does to `cwd`: what a
    /// path the program opens before it changes directory is relative to (tar's archive).
    pub shell_cwd_known: Option<String>,
    /// The program's entry, refined by its subcommands (borrowed when there are none: a large
    /// entry is not copied for every command).
    pub spec: Cow<'a, CommandSpec>,
    pub known: bool,
    pub reads: Vec<String>,
    pub writes: Vec<String>,
    pub hosts: Vec<String>,
    pub network: bool,
    pub inline_code: bool,
    /// The program text is a file given to an option cordon does not read (`sed -f`,
    /// `CommandSpec::code_file_options`).
    pub code_from_a_file: bool,
    pub destructive: bool,
    /// The program's own facts show that this command needs no network although its kind
    /// usually does: `git clone ../lib` reads a repository on the disk.
    pub offline: bool,
    /// A path was named as written (an operand, a write option, a program text's output file):
    /// what is there may be replaced, unless the program only creates (`overwrites: false`).
    pub overwrites: bool,
    pub tags: Vec<String>,
    pub unresolved: Vec<String>,
    /// Why the command is unknown although its program is known.
    pub unmodelled: Vec<String>,
    pub nested: Vec<NestedText>,
}

impl Derived<'_> {
    /// Judges the file `text` names (relative to the command's cwd) as read or written. Special
    /// files are resolved: `/proc/self/root/x` is `/x`, `/dev/tcp/h/p` is the network.
    pub fn path(&mut self, text: &str, access: Access) {
        if text.is_empty() {
            // An empty name reaches no file: the kernel refuses it (`ENOENT`). GNU sed reads
            // BSD's `sed -i '' -e s/a/b/ f` so, and fails on it without writing.
            return;
        }
        let Some(joined) = pathutil::join(self.cwd_known.as_deref(), &self.session.home, text)
        else {
            self.unresolved
                .push(format!("the path `{text}` cannot be resolved"));
            return;
        };
        self.resolved_path(&joined, access);
    }

    /// As [`Derived::path`], for a path already made absolute.
    pub fn resolved_path(&mut self, joined: &str, access: Access) {
        match pathutil::special(joined, &self.cwd) {
            Special::Path(path) => match access {
                Access::Read => push_unique(&mut self.reads, path),
                Access::Write => push_unique(&mut self.writes, path),
            },
            Special::Stream => {}
            Special::Network { host } => {
                self.network = true;
                push_unique(&mut self.hosts, host);
            }
            Special::Environment => {
                push_unique(&mut self.tags, "reads_environment".to_string());
                push_unique(&mut self.reads, pathutil::normalize_absolute(joined));
            }
            Special::Unknown(why) => self.unresolved.push(why),
        }
    }

    pub fn unmodelled(&mut self, why: String) {
        self.known = false;
        if !self.unmodelled.contains(&why) {
            self.unmodelled.push(why);
        }
    }

    pub fn tag(&mut self, tag: &str) {
        push_unique(&mut self.tags, tag.to_string());
    }

    pub fn nested(&mut self, option: &str, text: &str, appends_arguments: bool) {
        self.nested.push(NestedText {
            option: option.to_string(),
            text: text.to_string(),
            appends_arguments,
        });
    }
}

/// The facts of `command`, and the command lines its options make it run.
pub(crate) fn derive(
    command: &SimpleCommand,
    session: &Session,
    knowledge: &Knowledge,
) -> (CommandFacts, Vec<NestedText>) {
    let program = command.program().to_string();
    let base = knowledge.get(&program);
    let cwd = command
        .cwd
        .clone()
        .unwrap_or_else(|| pathutil::normalize_absolute(&session.cwd));
    let mut d = Derived {
        session,
        cwd_known: command.cwd.clone(),
        cwd,
        starts_in: None,
        shell_cwd_known: command.cwd.clone(),
        spec: base.map_or_else(|| Cow::Owned(CommandSpec::default()), Cow::Borrowed),
        known: base.is_some() && !program.starts_with('/'),
        reads: Vec::new(),
        writes: Vec::new(),
        hosts: Vec::new(),
        network: false,
        inline_code: false,
        code_from_a_file: false,
        destructive: false,
        offline: false,
        overwrites: false,
        tags: Vec::new(),
        unresolved: command.unresolved.clone(),
        unmodelled: Vec::new(),
        nested: Vec::new(),
    };
    if d.cwd_known.is_none() {
        d.unresolved.push(
            "the working directory is unknown after a `cd` that cannot be resolved".to_string(),
        );
    }
    let program_known = d.known;
    let args = programs::normalize_words(&program, command.words.get(1..).unwrap_or(&[]));
    let mut consumed = vec![false; args.len()];
    let command_path = subcommands(&mut d, base, &program, &args, &mut consumed);
    change_directory(&mut d, &args, &mut consumed);
    // `yarn test --watch`: what follows the subcommand goes to the script, not to yarn.
    let operands_from = (d.spec.passthrough == Some(true))
        .then(|| consumed.iter().rposition(|c| *c).map_or(0, |i| i + 1));
    let parsed = options::parse(&args, &consumed, &d.spec, operands_from, &|w| {
        programs::is_operand(&program, w)
    });
    let mut flags = parsed.flags.clone();
    for (alias, canonical) in &d.spec.flag_aliases {
        if flags.contains(alias) {
            push_unique(&mut flags, canonical.clone());
        }
    }
    for word in parsed.flags.iter().filter(|f| !f.starts_with("--")) {
        for short in expand_cluster(word) {
            push_unique(&mut flags, short);
        }
    }
    report_unmodelled(&mut d, &program, &command_path, &parsed, program_known);
    option_globs(&mut d, &program, &parsed);
    option_values(&mut d, &parsed, matches!(program.as_str(), "curl" | "wget"));
    operands(
        &mut d,
        &parsed,
        &flags,
        command.computed_paths_under.as_deref(),
    );
    for redirect in &command.redirects {
        d.resolved_path(&redirect.path, redirect.access);
        // `> f` empties whatever `f` held: an overwrite, snapshotted like one.
        if redirect.truncates && !redirect.path.starts_with("/dev/") {
            d.destructive = true;
        }
    }
    assignments(&mut d, &command.assignments);
    programs::apply(
        &mut d,
        &program,
        &command_path,
        &parsed,
        &flags,
        command,
        knowledge,
    );
    let network =
        d.network || (d.spec.network.unwrap_or(false) && !stays_offline(&d.spec, &d, &flags));
    loopback::judge(&mut d, &program, &command_path, &parsed, command, network);
    finish(d, command, program, command_path, flags)
}

/// Subcommands: the first operand selects one, options before it skipped with their values.
fn subcommands(
    d: &mut Derived,
    base: Option<&CommandSpec>,
    program: &str,
    args: &[Word],
    consumed: &mut [bool],
) -> Vec<String> {
    let mut command_path = vec![program.to_string()];
    let mut search_from = 0;
    let mut node = base;
    while let Some(entry) = node.filter(|n| !n.subcommands.is_empty()) {
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
                && !entry.subcommands.contains_key(t)
            {
                let takes_value = !t.contains('=')
                    && !matches!(
                        d.spec.option_kind(t),
                        None | Some(OptionKind::Flag) | Some(OptionKind::OptionalValue)
                    );
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
            d.unresolved.push(format!(
                "the subcommand `{}` is computed at run time",
                word.text
            ));
            break;
        }
        command_path.push(word.text.clone());
        match entry.subcommands.get(&word.text) {
            Some(sub) => {
                d.spec = Cow::Owned(d.spec.refined_by(sub));
                node = Some(sub);
            }
            None => {
                // An alias or plugin: cordon cannot know what it does.
                let why = format!(
                    "`{}` is not a subcommand cordon models",
                    command_path.join(" ")
                );
                d.unmodelled(why);
                break;
            }
        }
    }
    command_path
}

/// `make -C dir`, `npm --prefix dir`, `tar -Cdir`: the command works in another directory.
fn change_directory(d: &mut Derived, args: &[Word], consumed: &mut [bool]) {
    for (k, word) in args.iter().enumerate() {
        if consumed[k] || !word.is_static {
            continue;
        }
        let t = word.text.as_str();
        let glued_short = d.spec.chdir_options.iter().find(|o| {
            o.len() == 2 && t.len() > 2 && t.starts_with(o.as_str()) && !t.starts_with("--")
        });
        let (name, inline) = match (t.split_once('='), glued_short) {
            (Some((n, v)), _) if t.starts_with("--") => (n.to_string(), Some(v.to_string())),
            (_, Some(option)) => (option.clone(), Some(t[2..].to_string())),
            _ => (t.to_string(), None),
        };
        if !d.spec.chdir_options.contains(&name) {
            continue;
        }
        let value = inline
            .map(Word::literal)
            .or_else(|| args.get(k + 1).cloned());
        d.cwd_known = match value {
            Some(v) if v.is_static => {
                pathutil::resolve(d.cwd_known.as_deref(), &d.session.home, &v.text)
            }
            _ => None,
        };
        match &d.cwd_known {
            Some(known) => {
                if d.starts_in.is_none() {
                    d.starts_in = Some(d.cwd.clone());
                }
                d.cwd.clone_from(known);
            }
            None => d.unresolved.push(format!(
                "the directory given to `{name}` cannot be resolved"
            )),
        }
        if k + 1 < consumed.len() && !t.contains('=') && glued_short.is_none() {
            consumed[k + 1] = true;
        }
        consumed[k] = true;
    }
}

/// Options the knowledge base does not model make a known program unknown; for any program,
/// a path in such an option is at least read.
fn report_unmodelled(
    d: &mut Derived,
    program: &str,
    command_path: &[String],
    parsed: &Parsed,
    program_known: bool,
) {
    let command = command_path.join(" ");
    for word in &parsed.unmodelled {
        if program_known {
            d.unmodelled(format!(
                "`{word}` is not an option cordon models for `{command}`"
            ));
        }
        // A path in an option cordon does not know is at least read, so credentials named
        // there are never passed unseen (`--key-file=~/.ssh/id_rsa`, `-f~/.aws/x`).
        let value = match word.split_once('=') {
            Some((_, v)) => Some(v),
            None if !word.starts_with("--") && word.len() > 2 => word.get(2..),
            None => None,
        };
        if let Some(value) = value.filter(|v| v.starts_with('/') || v.starts_with('~')) {
            d.path(value, Access::Read);
        }
    }
    for word in &parsed.lost_chdir {
        d.unresolved.push(format!(
            "`{word}` changes the directory of `{program}` in a spelling cordon does not follow"
        ));
    }
}

/// `tar cf x.tar *` with a file named `--checkpoint-action=exec=…`: a glob where options are still
/// read can hand the program an option. Where some option of the program runs code, or the program
/// reads its first operand as the expression (`find *`), that is code cordon cannot see.
fn option_globs(d: &mut Derived, program: &str, parsed: &Parsed) {
    let runs_code = !d.spec.inline_code_flags.is_empty()
        || !d.spec.program_options.is_empty()
        || !d.spec.shell_options.is_empty()
        || !d.spec.module_options.is_empty()
        || program == "find";
    if !runs_code {
        return;
    }
    for glob in &parsed.option_globs {
        d.unresolved.push(format!(
            "`{glob}` may expand to a file name that `{program}` reads as an option; write `./{glob}` or put `--` before it"
        ));
    }
}

/// What the values of options read, write and run.
/// `dash_is_stdout`: the program reads a write option's `-` as its standard output (`curl -o
/// -`, `wget -O -`), which then replaces no file.
fn option_values(d: &mut Derived, parsed: &Parsed, dash_is_stdout: bool) {
    for option in &parsed.values {
        let value = &option.value;
        let name = option.option.as_str();
        match option.kind {
            OptionKind::Read | OptionKind::Write if !value.is_static => d
                .unresolved
                .push(format!("the path `{}` is computed at run time", value.text)),
            OptionKind::Read => d.path(&value.text, Access::Read),
            OptionKind::Write => {
                d.path(&value.text, Access::Write);
                // A directory it works in (`--target-dir`) is not a file it replaces, nor is a
                // device (`curl -o /dev/null`), as for a redirect.
                let stdout = dash_is_stdout && value.text == "-";
                if !d.spec.directory_options.iter().any(|o| o == name)
                    && !value.text.starts_with("/dev/")
                    && !stdout
                {
                    d.overwrites = true;
                }
            }
            OptionKind::Code => d.inline_code = true,
            OptionKind::Program if !value.is_static => d
                .unresolved
                .push(format!("`{name}` runs a command line computed at run time")),
            OptionKind::Program => d.nested(name, &value.text, true),
            OptionKind::ShellText if !value.is_static => d
                .unresolved
                .push(format!("`{name}` runs shell text computed at run time")),
            OptionKind::ShellText => d.nested(name, &value.text, false),
            OptionKind::Module => module(d, name, value),
            OptionKind::Chdir => {}
            OptionKind::Value | OptionKind::OptionalValue | OptionKind::Flag | OptionKind::Pair => {
                let stray =
                    value.is_static && (value.text.starts_with('/') || value.text.starts_with('~'));
                if stray {
                    // A value that names a file, on an option cordon knows only as taking a
                    // value: at least a read, so credentials are never passed unseen.
                    d.path(&value.text, Access::Read);
                }
            }
        }
    }
}

/// `node --import X`, `perl -MX`: a path is read; a URL or text that is not a plain module name
/// is code (`--import 'data:text/javascript,…'`, `-MPOSIX;print qx(…)`).
fn module(d: &mut Derived, option: &str, value: &Word) {
    if !value.is_static {
        d.unresolved
            .push(format!("`{option}` loads a module computed at run time"));
        return;
    }
    let text = value.text.as_str();
    if text.contains("://") || text.starts_with("data:") {
        if text.starts_with("http") {
            d.network = true;
            if let Some(host) = host_of(text) {
                push_unique(&mut d.hosts, host);
            }
        }
        d.inline_code = true;
        return;
    }
    let plain = text.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(c, '_' | ':' | '.' | '/' | '-' | '@' | '=' | ',' | '+' | '~')
    });
    if !plain {
        d.inline_code = true;
    } else if looks_like_path(text) {
        d.path(text.trim_start_matches("file:"), Access::Read);
    }
}

/// The operands: paths read or written as the knowledge base says, hosts for remote ones. A
/// computed operand that `find -exec` or `xargs -0` fills with paths under known directories
/// inside the working directory is judged as those directories.
fn operands(d: &mut Derived, parsed: &Parsed, flags: &[String], paths_under: Option<&[String]>) {
    // Taken out while paths are judged (which needs `d` mutably), and put back at the end.
    let taken = std::mem::take(&mut d.spec);
    let spec: &CommandSpec = &taken;
    let text_args = spec.text_args.unwrap_or(false);
    let uses_pattern_option = flags.iter().any(|f| PATTERN_OPTIONS.contains(&f.as_str()));
    let skip = if uses_pattern_option {
        0
    } else {
        spec.skip_operands.unwrap_or(0)
    };
    let mode = operand_mode(spec, d.known, flags);
    let operands = &parsed.operands;
    let last = operands.len().saturating_sub(1);
    let start = pathutil::normalize_absolute(&d.session.cwd);
    for (idx, word) in operands.iter().enumerate() {
        // A skipped operand (a pattern, chmod's mode, chown's owner) names no path; program
        // text in one is read by `programs`.
        if !word.is_static && idx < skip {
            continue;
        }
        if !word.is_static {
            computed_operand(d, &word.text, mode, paths_under, text_args, &start);
            continue;
        }
        if idx < skip {
            continue;
        }
        if spec.remote_operands == Some(true) {
            if let Some(host) = remote_host(&word.text) {
                d.network = true;
                push_unique(&mut d.hosts, host);
                continue;
            }
        }
        let target = match (spec.first_operand, spec.last_operand) {
            (Some(first), _) if idx == skip && operands.len() > skip + 1 => Some(first),
            (_, Some(last_mode)) if idx == last && operands.len() > 1 => Some(last_mode),
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
        let access = match target {
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
        if let Some(access) = access {
            d.path(text, access);
            d.overwrites |= access == Access::Write;
        }
    }
    if operands.len() <= skip {
        if let (Some(default), Some(mode)) = (&spec.default_operand, mode) {
            let access = match mode {
                Operands::Write => Access::Write,
                _ => Access::Read,
            };
            d.path(default, access);
        }
    }
    d.spec = taken;
}

/// How the program treats its operands: as the knowledge base says (writes when a write flag is
/// given), none for a known program that says nothing, and unknown for an unknown program.
fn operand_mode(spec: &CommandSpec, known: bool, flags: &[String]) -> Option<Operands> {
    let writes_by_flag = spec
        .write_flags
        .iter()
        .any(|w| flags.iter().any(|f| f == w || f.starts_with(w.as_str())));
    match (known, spec.operands) {
        (_, Some(_)) if writes_by_flag => Some(Operands::Write),
        (_, Some(mode)) => Some(mode),
        (false, None) => None,
        (true, None) => Some(Operands::None),
    }
}

/// An operand computed at run time (`text`): judged as the directories `paths_under` when
/// `find -exec` or `xargs -0` fills it with paths under them, and otherwise unresolved unless
/// the program takes text, not paths. `start` is the working directory.
fn computed_operand(
    d: &mut Derived,
    text: &str,
    mode: Option<Operands>,
    paths_under: Option<&[String]>,
    text_args: bool,
    start: &str,
) {
    let access = match mode {
        Some(Operands::Read) => Some(Access::Read),
        Some(Operands::Write) => Some(Access::Write),
        _ => None,
    };
    match (paths_under, access) {
        (Some(roots), Some(access)) => {
            // Judged as the directories they lie under, so a deny about those fires;
            // outside the working directory a tree may hold anything, so it stays asked.
            for root in roots {
                d.resolved_path(root, access);
            }
            // What `find` hands over exists: a program that writes its operands rewrites them,
            // as it does a file named outright (working day sixteen: `find … -exec sed -i … {} +`
            // got no checkpoint where `sed -i … f` got one).
            d.overwrites |= access == Access::Write;
            if let Some(outside) = roots.iter().find(|r| !pathutil::is_within(r, start)) {
                d.unresolved.push(format!(
                    "the argument `{text}` is any path under `{outside}`, outside the working directory"
                ));
            }
        }
        (Some(_), None) => {}
        (None, _) if text_args => {}
        (None, _) => d
            .unresolved
            .push(format!("the argument `{text}` is computed at run time")),
    }
}

/// `host:path`, `user@host:path`, `rsync://host/…`: another machine, so the network.
fn remote_host(text: &str) -> Option<String> {
    if text.contains("://") {
        return host_of(text);
    }
    let (before, _) = text.split_once(':')?;
    if before.is_empty() || before.contains('/') {
        return None;
    }
    let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// `NAME=value` in front of the command (or exported earlier in the text).
fn assignments(d: &mut Derived, assignments: &[String]) {
    for assignment in assignments {
        let Some((name, value)) = assignment.split_once('=') else {
            continue;
        };
        let computed = value.contains('$') || value.contains('`');
        if environment::CONTAINER_DAEMONS.contains(&name) {
            // It points the command at a container daemon, which runs what it is sent with its
            // own (often root) authority: a socket reachable by path, or a TCP port on the host.
            d.tag("container");
        }
        match environment::classify(name, value) {
            Assignment::Harmless => {}
            Assignment::Reads(_) | Assignment::Writes(_) if computed => d
                .unresolved
                .push(format!("`{name}` names a path computed at run time")),
            Assignment::Reads(paths) => {
                for path in paths {
                    d.path(&path, Access::Read);
                }
            }
            Assignment::Writes(path) => d.path(&path, Access::Write),
            Assignment::Unknown(why) => d.unmodelled(why),
        }
    }
}

/// Whether the knowledge base calls the command destructive: the whole program, or one of its
/// destructive flags or (non-flag) words given.
fn is_destructive(spec: &CommandSpec, command: &SimpleCommand, flags: &[String]) -> bool {
    spec.destructive.unwrap_or(false)
        || spec.destructive_flags.iter().any(|x| {
            flags.contains(x)
                || command
                    .words
                    .iter()
                    .skip(1)
                    .any(|o| o.is_static && o.text == *x && !x.starts_with('-'))
        })
}

/// Whether an offline flag keeps the command off the network (`pip install --no-index -e .`,
/// `npm ci --offline`): one is given, the command names no host (a URL, `--find-links
/// https://…`, `git+https://…`), and it reads no list of what to fetch (`-r requirements.txt`,
/// which may name a URL cordon does not read).
fn stays_offline(spec: &CommandSpec, d: &Derived, flags: &[String]) -> bool {
    let given = |list: &[String]| {
        list.iter().any(|o| {
            flags
                .iter()
                .any(|f| f == o || f.starts_with(&format!("{o}=")))
        })
    };
    d.offline
        || (given(&spec.offline_flags)
            && d.hosts.is_empty()
            && !d.network
            && !given(&spec.lists_options))
}

/// The tag of a command that runs code from a file cordon does not read: a script, a Makefile's
/// recipes, a package's scripts, a project's tests. It may delete or overwrite whatever it can
/// write, so the default pack checkpoints it when the kernel confines it.
pub(crate) const RUNS_UNSEEN_CODE: &str = "runs_unseen_code";

/// Whether the command runs code from a file: a program named by its path (`./build.sh`), a
/// shell or an interpreter given a script (`bash del.sh`, `python3 x.py`; not `python3 -c`,
/// which is inline code), a program given its program text in a file (`sed -f`, `awk -f`), or a
/// program that runs files of its working directory (`make` its Makefile, `npm test` the
/// package's scripts, `pytest` its conftest.py) or a project's tests.
fn runs_unseen_code(d: &Derived, program: &str) -> bool {
    let spec = &d.spec;
    let tagged = |tag: &str| spec.tags.iter().any(|t| t == tag);
    program.starts_with('/')
        || !spec.runs_files.is_empty()
        || tagged("runs_project_code")
        || d.code_from_a_file
        || (tagged("runs_script") && !d.inline_code && !d.reads.is_empty())
}

/// The command's tags: the knowledge base's, those derived, and `privileged` and
/// `local_executable` where they hold.
fn tags_of(
    spec: &CommandSpec,
    derived: &[String],
    command: &SimpleCommand,
    program: &str,
) -> Vec<String> {
    let mut tags = spec.tags.clone();
    for tag in derived {
        push_unique(&mut tags, tag.clone());
    }
    if command.privileged {
        push_unique(&mut tags, "privileged".to_string());
    }
    if program.starts_with('/') {
        push_unique(&mut tags, "local_executable".to_string());
    }
    tags
}

fn finish(
    mut d: Derived,
    command: &SimpleCommand,
    program: String,
    command_path: Vec<String>,
    flags: Vec<String>,
) -> (CommandFacts, Vec<NestedText>) {
    if d.spec.writes_cwd.unwrap_or(false) || !d.known {
        let cwd = d.cwd.clone();
        push_unique(&mut d.writes, cwd);
    }
    let mut implied_writes = Vec::new();
    for extra in d.spec.also_writes.clone() {
        if let Some(path) = pathutil::resolve(None, &d.session.home, &extra) {
            push_unique(&mut d.writes, path.clone());
            push_unique(&mut implied_writes, path);
        }
    }
    for word in command.words.iter().skip(1).filter(|w| w.is_static) {
        if let Some(host) = host_of(&word.text) {
            push_unique(&mut d.hosts, host);
        }
    }
    if runs_unseen_code(&d, &program) {
        push_unique(&mut d.tags, RUNS_UNSEEN_CODE.to_string());
    }
    let spec = &d.spec;
    let offline = stays_offline(spec, &d, &flags);
    let network = d.network || (spec.network.unwrap_or(false) && !offline);
    let destructive = d.destructive
        || is_destructive(spec, command, &flags)
        || (d.overwrites && spec.overwrites != Some(false));
    let tags = tags_of(spec, &d.tags, command, &program);
    let inline_code = d.inline_code || spec.tags.iter().any(|t| t == "inline_code");
    let effect = match spec.effect.unwrap_or(EffectType::TransformLocal) {
        EffectType::FetchExternal if offline => EffectType::TransformLocal,
        effect => effect,
    };
    let read_only = d.known
        && !command.runs_injected_code
        && effect == EffectType::Observe
        && d.writes.is_empty()
        && !inline_code
        && !network
        && !spec.can_write_or_run();
    let facts = CommandFacts {
        argv: command.argv.clone(),
        program,
        command_path,
        flags,
        starts_in: d.starts_in.filter(|shell| *shell != d.cwd),
        cwd: d.cwd,
        reads: d.reads,
        writes: d.writes,
        absent: Vec::new(),
        implied_writes,
        network,
        hosts: d.hosts,
        effect,
        destructive,
        known: d.known,
        unmodelled: d.unmodelled,
        read_only,
        inline_code,
        privileged: command.privileged,
        tags,
        wrappers: command.wrappers.clone(),
        assignments: command.assignments.clone(),
        origin: command.origin,
        unresolved: d.unresolved,
        enforcement: Enforcement::Local,
    };
    (facts, d.nested)
}
