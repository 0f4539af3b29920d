//! Programs whose meaning depends on more than which options they were given: tar's mode decides
//! whether its archive is read or written, `ln` makes its target reachable from the link,
//! `kill` reaches processes by number, `make install` writes where the Makefile says, and awk,
//! sed and sqlite3 take program text. Each rule is small and says why it exists.

use super::derive::Derived;
use super::environment::{self, Assignment};
use super::options::Parsed;
use super::program_text::{self, Effects};
use crate::knowledge::{CommandSpec, Knowledge, ProgramLanguage};
use crate::shell::{pathutil, Access, SimpleCommand, Stdin, Word};
use cordon_core::EffectType;

/// The words as the program reads them: tar's first word may be a cluster without a dash
/// (`tar czf out.tgz src`), which is `-czf`.
pub(super) fn normalize_words(program: &str, words: &[Word]) -> Vec<Word> {
    let mut words = words.to_vec();
    if program == "tar" {
        if let Some(first) = words.first_mut() {
            let bare_cluster = first.is_static
                && !first.text.is_empty()
                && first.text.chars().all(|c| c.is_ascii_alphabetic());
            if bare_cluster {
                first.text = format!("-{}", first.text);
            }
        }
    }
    words
}

/// Words that look like options but are operands: chmod's symbolic modes (`chmod -x f`).
pub(super) fn is_operand(program: &str, word: &Word) -> bool {
    program == "chmod"
        && word.is_static
        && word.text.len() > 1
        && word.text.chars().all(|c| {
            matches!(
                c,
                '-' | '+' | '=' | ',' | 'u' | 'g' | 'o' | 'a' | 'r' | 'w' | 'x' | 'X' | 's' | 't'
            )
        })
}

fn has(flags: &[String], any: &[&str]) -> bool {
    flags.iter().any(|f| any.contains(&f.as_str()))
}

/// The values `parsed` holds for any of `options`, in order.
pub(super) fn values<'p>(parsed: &'p Parsed, options: &[&str]) -> Vec<&'p Word> {
    parsed
        .values
        .iter()
        .filter(|v| options.contains(&v.option.as_str()))
        .map(|v| &v.value)
        .collect()
}

/// Applies the rules of programs that need one.
pub(super) fn apply(
    d: &mut Derived,
    program: &str,
    command_path: &[String],
    parsed: &Parsed,
    flags: &[String],
    command: &SimpleCommand,
    knowledge: &Knowledge,
) {
    match program {
        "tar" => tar(d, parsed, flags),
        // A version query contacts nothing and reads no credential (trajectory corpus:
        // `aws --version` was asked as a cloud command).
        "aws" | "gcloud" | "az"
            if command_path
                .get(1)
                .is_some_and(|s| s == "--version" || s == "version") =>
        {
            d.spec.to_mut().tags.retain(|t| t != "cloud");
        }
        // `service NAME status` and `service --status-all` only report (trajectory corpus:
        // `service nginx status` was asked as a deploy); the other actions start, stop or
        // reconfigure a system service.
        "service"
            if has(flags, &["--status-all"])
                || parsed
                    .operands
                    .get(1)
                    .is_some_and(|w| w.is_static && w.text == "status") =>
        {
            let spec = d.spec.to_mut();
            spec.effect = Some(EffectType::Observe);
            spec.tags.retain(|t| t != "system_service");
        }
        "cp" if has(flags, &["-l", "--link", "-s", "--symbolic-link"]) => {
            // Links to the sources: through them a later command writes the sources.
            let sources = parsed.operands.len().saturating_sub(1);
            for source in parsed.operands.iter().take(sources).filter(|w| w.is_static) {
                d.path(&source.text, Access::Write);
            }
        }
        "ps" if parsed
            .operands
            .iter()
            .any(|w| !w.text.starts_with('-') && w.text.contains('e')) =>
        {
            // BSD `ps e` prints each process's environment, where secrets live.
            d.tag("reads_environment");
        }
        "unzip" => unzip(d, flags),
        "ln" => ln(d, parsed, flags),
        "kill" => kill(d, command),
        "make" | "gmake" => make(d, parsed),
        // `alias` alone lists; `alias x=…` makes a later `x` run something else.
        "alias"
            if parsed
                .operands
                .iter()
                .any(|w| w.text.contains('=') || !w.is_static) =>
        {
            d.tag("runs_code")
        }
        "fuser" if has(flags, &["-k", "--kill"]) => d.tag("signals_processes"),
        "docker" | "podman" => container_daemon(d, parsed),
        "git" => git(d, command_path, parsed, flags),
        "npx" | "uvx" | "bunx" => package_runner(d, parsed, flags, knowledge),
        "php" if !values(parsed, &["-S"]).is_empty() => {
            // `php -S addr:port` serves the document root's PHP files: it listens, and runs
            // code cordon does not read.
            d.network = true;
            d.tag("listens");
            d.tag(super::derive::RUNS_UNSEEN_CODE);
        }
        "npm" if command_path.get(1).is_some_and(|s| s == "exec" || s == "x") => {
            package_runner(d, parsed, flags, knowledge)
        }
        "npm" | "yarn" | "pnpm" | "bun"
            if command_path.get(1).is_some_and(|s| s == "init") && !parsed.operands.is_empty() =>
        {
            // `npm init react-app x` runs the package `create-react-app`.
            d.network = true;
            d.tag("runs_package");
        }
        _ => {}
    }
    publishes(d, program, command_path, parsed);
    if writes_beside_operands(program, flags) {
        writes_beside(d, parsed);
    }
    if reads_trees(program, flags) {
        home_tree_reads(d);
    }
    if d.spec
        .inline_code_flags
        .iter()
        .any(|f| f == "-c" || f == "-e")
    {
        interpreter_script(d, parsed);
    }
    let code_options: Vec<&str> = d
        .spec
        .code_file_options
        .iter()
        .map(String::as_str)
        .collect();
    if !values(parsed, &code_options).is_empty() {
        d.code_from_a_file = true;
    }
    match d.spec.program_text {
        Some(ProgramLanguage::Awk) => {
            program_text_of(d, parsed, program_text::awk, &["-e", "--source"])
        }
        Some(ProgramLanguage::Sed) => {
            program_text_of(d, parsed, program_text::sed, &["-e", "--expression"])
        }
        Some(ProgramLanguage::Sql) => sqlite(d, parsed, flags, command),
        None => {}
    }
}

/// Whether `program` with `flags` creates files beside the operands it writes.
fn writes_beside_operands(program: &str, flags: &[String]) -> bool {
    match program {
        // Compressors write `f.gz` (or `f` from `f.gz`) next to their operand.
        "gzip" | "gunzip" | "bzip2" | "bunzip2" | "xz" | "unxz" | "zstd" | "unzstd" | "lz4" => {
            !has(
                flags,
                &[
                    "-c",
                    "--stdout",
                    "--to-stdout",
                    "-l",
                    "--list",
                    "-t",
                    "--test",
                ],
            )
        }
        // In-place editing writes a temporary file, and maybe a backup, beside the file.
        "sed" | "perl" => has(flags, &["-i", "--in-place"]),
        // `--backup` leaves `f~` beside what it replaces.
        "cp" | "mv" | "ln" | "install" | "patch" => has(flags, &["-b", "--backup"]),
        _ => false,
    }
}

/// The directory of each operand the command writes: it creates files next to them.
fn writes_beside(d: &mut Derived, parsed: &Parsed) {
    let written: Vec<String> = d.writes.clone();
    for operand in parsed.operands.iter().filter(|w| w.is_static) {
        let Some(path) = pathutil::resolve(Some(&d.cwd), &d.session.home, &operand.text) else {
            continue;
        };
        if !written.contains(&path) {
            continue;
        }
        if let Some((parent, _)) = path.rsplit_once('/') {
            let parent = if parent.is_empty() { "/" } else { parent };
            d.resolved_path(parent, Access::Write);
        }
    }
}

/// An interpreter whose script is its standard input (`python3 /dev/stdin <<PY`) runs code
/// cordon never sees as a file.
fn interpreter_script(d: &mut Derived, parsed: &Parsed) {
    let Some(script) = parsed.operands.first().filter(|w| w.is_static) else {
        return;
    };
    let from_stdin = script.text == "-"
        || pathutil::join(Some(&d.cwd), &d.session.home, &script.text)
            .is_some_and(|p| pathutil::special(&p, &d.cwd) == pathutil::Special::Stream);
    if from_stdin {
        d.inline_code = true;
    }
}

/// awk or sed: the program is the value of `-e` (and the like), else the first operand, unless
/// it comes from a file (`-f`).
fn program_text_of(
    d: &mut Derived,
    parsed: &Parsed,
    read: fn(&str) -> Effects,
    text_options: &[&str],
) {
    let mut texts: Vec<&Word> = values(parsed, text_options);
    let from_file = !values(parsed, &["-f", "--file"]).is_empty();
    if texts.is_empty() && !from_file {
        texts.extend(parsed.operands.first());
    }
    for text in texts {
        if !text.is_static {
            d.unresolved.push(format!(
                "the program `{}` is computed at run time",
                text.text
            ));
            continue;
        }
        let effects = read(&text.text);
        apply_effects(d, effects);
    }
}

fn apply_effects(d: &mut Derived, effects: Effects) {
    if let Some(why) = effects.runs_code {
        d.inline_code = true;
        d.unmodelled.push(why);
    }
    for path in effects.reads {
        d.path(&path, Access::Read);
    }
    for path in effects.writes {
        // `sed 'w FILE'`, `s///w FILE`: the file is truncated when the program starts.
        d.path(&path, Access::Write);
        d.overwrites = true;
    }
    if effects.reads_environment {
        d.tag("reads_environment");
    }
}

/// `npx tsc`, `npm exec jest`, `uvx ruff`: the package runs from the workspace or a cache and is
/// fetched only when it is missing. Unless the text asks for a fetch (the package named by an
/// option, `--yes`, a version or a source such as `x@2`, `github:u/r` or `x==1`, or an npm
/// initializer `create-*`, which exists to be fetched), the command is tagged
/// `fetches_if_missing` and its effect is local: its network use is a fallback, which an envelope
/// with no network turns into an error. It still uses the network as far as the facts say.
fn package_runner(d: &mut Derived, parsed: &Parsed, flags: &[String], knowledge: &Knowledge) {
    let fetch_asked = has(flags, &["-y", "--yes"])
        || !values(parsed, &["-p", "--package", "--from", "--with"]).is_empty();
    let Some(package) = parsed.operands.first() else {
        return;
    };
    let unscoped = package.text.strip_prefix('@').unwrap_or(&package.text);
    let names_a_source = unscoped.contains(['@', ':', '=']) || package.text.starts_with("create-");
    if !fetch_asked
        && package.is_static
        && !package.text.is_empty()
        && !names_a_source
        && !known_package_reaches_out(knowledge, &parsed.operands)
    {
        d.spec.to_mut().effect = Some(EffectType::TransformLocal);
        d.tag(FETCHES_IF_MISSING);
    }
}

/// Whether the package is a program cordon knows that, with the arguments it is given, uses the
/// network or publishes, deploys or touches secrets (`npx playwright install`, `npx vercel
/// --prod`, `npx changeset publish`, `bunx degit user/repo`). Then the runner keeps its fetch
/// effect and asks as the program itself would: what it fetches or publishes is the point of
/// the command, not a package that happens to be missing.
fn known_package_reaches_out(knowledge: &Knowledge, operands: &[Word]) -> bool {
    let Some((package, arguments)) = operands.split_first() else {
        return false;
    };
    let Some(entry) = knowledge.get(&package.text) else {
        return false;
    };
    let mut spec: CommandSpec = entry.clone();
    for word in arguments.iter().take_while(|w| w.is_static) {
        let Some(sub) = spec.subcommands.get(&word.text).cloned() else {
            break;
        };
        spec = spec.refined_by(&sub);
        spec.subcommands = sub.subcommands;
    }
    spec.network == Some(true)
        || matches!(
            spec.effect,
            Some(EffectType::FetchExternal | EffectType::Deploy | EffectType::TouchSecrets)
        )
        || spec.tags.iter().any(|t| t == "publish")
}

/// Whether the command reads every file under the directories it is given: a recursive search
/// (`grep -r`, `rg`, `ag`), a recursive copy (`cp -r`, `rsync -a`, `scp -r`) or an archive it
/// creates (`tar c`, `zip -r`). Listings (`ls -R`, `find`, `tree`, `du`) read names only.
fn reads_trees(program: &str, flags: &[String]) -> bool {
    match program {
        "grep" | "egrep" | "fgrep" => has(
            flags,
            &["-r", "-R", "--recursive", "--dereference-recursive"],
        ),
        "rg" | "ag" => true,
        "cp" => has(flags, &["-r", "-R", "--recursive", "-a", "--archive"]),
        "rsync" => has(flags, &["-r", "--recursive", "-a", "--archive"]),
        "scp" => has(flags, &["-r"]),
        "tar" => has(
            flags,
            &["-c", "--create", "-r", "--append", "-u", "--update"],
        ),
        "zip" => has(flags, &["-r", "--recurse-paths"]),
        _ => false,
    }
}

/// A tree read of the home directory or of a directory above it (`grep -r AKIA ~`, `rg key /`,
/// `cp -r ~ backup`, `tar czf h.tgz ~`) reads the credentials kept there (`~/.ssh`, `~/.aws`),
/// although the path it names is none of them. In local mode nothing keeps them out, so the
/// command cannot be judged; a hardened run's envelope never grants credentials, so there the
/// kernel confines it.
fn home_tree_reads(d: &mut Derived) {
    let home = pathutil::normalize_absolute(&d.session.home);
    let holds_home = |read: &String| {
        *read == home || home.starts_with(&format!("{}/", read.trim_end_matches('/')))
    };
    let above_home: Vec<String> = d.reads.iter().filter(|r| holds_home(r)).cloned().collect();
    for read in above_home {
        d.unresolved.push(format!(
            "reading `{read}` recursively reads the credentials kept under the home directory"
        ));
    }
}

/// The tag of a package runner whose package is fetched only when missing (`package_runner`).
pub(crate) const FETCHES_IF_MISSING: &str = "fetches_if_missing";

/// `sqlite3 [options] DB [SQL…]`: the database is written (read with `-readonly`); the SQL, or
/// the standard input when there is none, is read for what reaches beyond it.
fn sqlite(d: &mut Derived, parsed: &Parsed, flags: &[String], command: &SimpleCommand) {
    let mut operands = parsed.operands.iter();
    if let Some(db) = operands.next().filter(|w| w.is_static) {
        let access = if has(flags, &["-readonly", "--readonly"]) {
            Access::Read
        } else {
            Access::Write
        };
        if db.text != ":memory:" {
            d.path(&db.text, access);
            // Any statement may change or drop what the database holds (red-team round five:
            // `sqlite3 data.db 'drop table users'` got a plain allow).
            if access == Access::Write {
                d.overwrites = true;
            }
        }
    }
    let mut texts: Vec<&Word> = operands.collect();
    texts.extend(values(parsed, &["-cmd", "--cmd"]));
    if texts.is_empty() {
        match &command.stdin {
            Stdin::Text(text) => apply_effects(d, program_text::sql(text)),
            _ => {
                d.inline_code = true;
                d.unmodelled
                    .push("sqlite3 reads SQL and dot-commands from its standard input".to_string());
            }
        }
        return;
    }
    for text in texts {
        if text.is_static {
            apply_effects(d, program_text::sql(&text.text));
        } else {
            d.unresolved
                .push(format!("the SQL `{}` is computed at run time", text.text));
        }
    }
}

/// tar: the archive (`-f`) is written when creating and read when extracting or listing;
/// extracting writes the working directory, anywhere with `--absolute-names`, under names
/// `--transform` computes; `--remove-files` deletes what it archived; `host:file` is remote.
fn tar(d: &mut Derived, parsed: &Parsed, flags: &[String]) {
    let extract = has(flags, &["-x", "--extract", "--get"]);
    let creates = has(
        flags,
        &[
            "-c",
            "--create",
            "-r",
            "--append",
            "-u",
            "--update",
            "-A",
            "--catenate",
            "--concatenate",
            "--delete",
        ],
    );
    for archive in values(parsed, &["-f", "--file"]) {
        if !archive.is_static {
            d.unresolved.push(format!(
                "the archive `{}` is computed at run time",
                archive.text
            ));
            continue;
        }
        let remote = !has(flags, &["--force-local"])
            && archive
                .text
                .split_once(':')
                .is_some_and(|(host, _)| !host.is_empty() && !host.contains('/'));
        if remote {
            d.network = true;
            let host = archive.text.split(':').next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host).to_ascii_lowercase();
            if !d.hosts.contains(&host) {
                d.hosts.push(host);
            }
        } else if archive.text != "-" && !archive.text.is_empty() {
            let access = if creates { Access::Write } else { Access::Read };
            // tar opens its archive where it started: `-C` moves only the members it reads or
            // writes (GNU tar and bsdtar alike), so `tar -czf out.tgz -C /opt data` writes here.
            let shell_cwd = d.shell_cwd_known.clone();
            match pathutil::join(shell_cwd.as_deref(), &d.session.home, &archive.text) {
                Some(joined) => d.resolved_path(&joined, access),
                None => d
                    .unresolved
                    .push(format!("the archive `{}` cannot be resolved", archive.text)),
            }
            // `tar -cf out.tar`: an existing archive is replaced (`-r`, `-u`, `--delete` change it).
            d.overwrites |= creates;
        }
    }
    for action in values(parsed, &["--checkpoint-action"]) {
        if let Some(command) = action.text.strip_prefix("exec=") {
            d.nested("--checkpoint-action=exec", command, false);
        }
    }
    if extract && !has(flags, &["-O", "--to-stdout", "--to-command"]) {
        let cwd = d.cwd.clone();
        d.resolved_path(&cwd, Access::Write);
        if has(flags, &["-P", "--absolute-names"]) {
            d.unresolved.push(
                "`tar --absolute-names` lets the archive write anywhere it names".to_string(),
            );
        }
        if has(flags, &["--transform", "--xform"]) {
            d.unresolved.push(
                "`tar --transform` renames what it extracts, so where it writes is computed"
                    .to_string(),
            );
        }
        if has(
            flags,
            &["--overwrite", "--recursive-unlink", "--unlink-first", "-U"],
        ) {
            d.destructive = true;
        }
    }
    if has(flags, &["--remove-files"]) {
        d.destructive = true;
        for operand in parsed.operands.iter().filter(|w| w.is_static) {
            d.path(&operand.text, Access::Write);
        }
    }
}

/// unzip writes the working directory unless `-d` names another or it only lists, tests or
/// prints; `-:` lets the archive climb out with `../`.
fn unzip(d: &mut Derived, flags: &[String]) {
    if has(flags, &["-:"]) {
        d.unresolved
            .push("`unzip -:` lets the archive write outside the directory with `../`".to_string());
    }
    let only_reads = has(flags, &["-l", "-t", "-p", "-Z", "-v", "-z"]);
    if !only_reads && !has(flags, &["-d"]) {
        let cwd = d.cwd.clone();
        d.resolved_path(&cwd, Access::Write);
    }
}

/// `ln [-s] TARGET… LINK|DIR`, `ln -t DIR TARGET…`: through the link, a later command reads and
/// writes the target, so the target is judged as written too. A relative symlink target is
/// resolved from the link's own directory (the last operand's, or the last operand itself when
/// it is a directory: both are judged), never from the cwd.
fn ln(d: &mut Derived, parsed: &Parsed, flags: &[String]) {
    let symbolic = has(flags, &["-s", "--symbolic"]);
    let operands: Vec<&Word> = parsed.operands.iter().filter(|w| w.is_static).collect();
    let target_dirs: Vec<&Word> = values(parsed, &["-t", "--target-directory"]);
    let (targets, places): (Vec<&Word>, Vec<String>) = if let Some(dir) = target_dirs.first() {
        (operands.clone(), vec![dir.text.clone()])
    } else if let [only] = operands.as_slice() {
        (vec![*only], vec![".".to_string()])
    } else if let Some((link, targets)) = operands.split_last() {
        let parent = match link.text.rsplit_once('/') {
            Some(("", _)) => "/".to_string(),
            Some((parent, _)) => parent.to_string(),
            None => ".".to_string(),
        };
        (targets.to_vec(), vec![parent, link.text.clone()])
    } else {
        return;
    };
    let relative_to_cwd = has(flags, &["-r", "--relative"]);
    for target in targets {
        let text = target.text.as_str();
        let joined: Vec<String> =
            if symbolic && !relative_to_cwd && !text.starts_with('/') && !text.starts_with('~') {
                places
                    .iter()
                    .filter_map(|place| pathutil::join(Some(&d.cwd), &d.session.home, place))
                    .map(|base| format!("{base}/{text}"))
                    .collect()
            } else {
                pathutil::join(Some(&d.cwd), &d.session.home, text)
                    .into_iter()
                    .collect()
            };
        for path in joined {
            d.resolved_path(&path, Access::Read);
            // A file the system owns is not the user's to write, through a link or not: only
            // the user's own files (the home directory, the workspace) become writable so.
            let system = SYSTEM_DIRS
                .iter()
                .any(|dir| pathutil::is_within(&pathutil::normalize_absolute(&path), dir));
            if !system {
                d.resolved_path(&path, Access::Write);
            }
        }
    }
}

/// Directories whose files belong to the system, not to the user.
const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/opt", "/snap",
];

/// `kill` of the text's own jobs (`%1`, `$!`, `$$`) stays inside what the text started; any
/// other process id, or a signal to every process (`-1`), reaches processes that are not the
/// agent's own.
fn kill(d: &mut Derived, command: &SimpleCommand) {
    let words = command.words.get(1..).unwrap_or(&[]);
    let mut targets: Vec<&Word> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        let t = word.text.as_str();
        if word.is_static && matches!(t, "-l" | "-L" | "--list" | "--table") {
            return;
        }
        if word.is_static && matches!(t, "-s" | "-n" | "--signal") && targets.is_empty() {
            i += 2;
            continue;
        }
        if word.is_static && t == "--" {
            targets.extend(&words[i + 1..]);
            break;
        }
        if word.is_static && t.starts_with('-') && i == 0 {
            i += 1;
            continue;
        }
        targets.push(word);
        i += 1;
    }
    let own = |w: &&Word| w.text.starts_with('%') || matches!(w.text.as_str(), "$!" | "$$");
    if targets.iter().any(|t| !own(t)) {
        d.tag("signals_processes");
    }
}

/// Publishing and deploying ask whatever the envelope bounds: a publish the sandbox's denied
/// network makes fail should be asked about, not run and left to fail. Beyond the programs the
/// knowledge base tags (`npm publish`) and make's targets: a program cordon does not know, or a
/// workspace script, whose first or second operand says so (`./gradlew publish`, `./mvnw deploy`,
/// `just deploy`, `hatch publish`, `swift package-registry publish`); Gradle's tasks named so
/// (`gradle publish`, but not `publishToMavenLocal`, which writes `~/.m2`); an npm, pnpm, yarn
/// or bun script named so (`npm run deploy`, `pnpm run release:prod`); and a script named for it,
/// run by itself or by an interpreter (`./deploy.sh`, `node scripts/publish.js`). `release` as
/// an operand counts only as a script's name: `./build.sh release` builds.
fn publishes(d: &mut Derived, program: &str, command_path: &[String], parsed: &Parsed) {
    const VERBS: [&str; 3] = ["publish", "deploy", "upload"];
    let verb = |text: &str, also: &[&str]| {
        let head = text.split(':').next().unwrap_or(text);
        VERBS.contains(&head) || also.contains(&head)
    };
    let statics = || parsed.operands.iter().filter(|w| w.is_static);
    let name = std::path::Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(program);
    let named = match name {
        "gradle" | "gradlew" => statics().any(|w| {
            let task = w.text.rsplit(':').next().unwrap_or(&w.text);
            (task.starts_with("publish") && task != "publishToMavenLocal")
                || task.starts_with("upload")
                || task == "deploy"
        }),
        "npm" | "pnpm" | "yarn" | "bun"
            if command_path
                .get(1)
                .is_some_and(|s| s == "run" || s == "run-script") =>
        {
            parsed
                .operands
                .first()
                .is_some_and(|w| w.is_static && verb(&w.text, &["release", "semantic-release"]))
        }
        "python" | "python3" | "node" | "bash" | "sh" | "zsh" | "ruby" | "perl" | "deno"
        | "tsx" | "ts-node" | "bun" => parsed
            .operands
            .first()
            .is_some_and(|w| w.is_static && deploy_script(&w.text)),
        _ if !d.known => {
            let mut first_two = parsed.operands.iter().take(2);
            let first = first_two.next();
            deploy_script(program)
                || first.is_some_and(|w| w.is_static && verb(&w.text, &["push"]))
                || first_two.any(|w| w.is_static && verb(&w.text, &[]))
        }
        _ => false,
    };
    if named {
        d.tag("publish");
    }
}

/// docker and podman talk to the daemon `-H`/`--host` names: over TCP, SSH or HTTP that is
/// another machine (`docker -H tcp://10.0.0.1:2375 ps` ran unattended in local mode, red-team
/// round ten), so even a listing uses the network there. A `--context`/`-c` other than `default`
/// may name such a daemon, which the text does not show. `unix://` is this machine's socket.
fn container_daemon(d: &mut Derived, parsed: &Parsed) {
    for value in values(parsed, &["-H", "--host"]) {
        let text = value.text.as_str();
        if !value.is_static {
            d.network = true;
            continue;
        }
        let local = text.starts_with("unix://")
            || text.starts_with("npipe://")
            || text.starts_with("fd://");
        if !local {
            d.network = true;
            let host = text
                .split_once("://")
                .map_or(text, |(_, rest)| rest)
                .rsplit('@')
                .next()
                .unwrap_or(text);
            let host = host.split(['/', ':']).next().unwrap_or(host);
            if !host.is_empty() && !d.hosts.iter().any(|h| h == host) {
                d.hosts.push(host.to_string());
            }
        }
    }
    if values(parsed, &["--context", "-c"])
        .iter()
        .any(|v| !v.is_static || v.text != "default")
    {
        d.network = true;
    }
}

/// A script named for what it does: `deploy.sh`, `publish.js`, `release.sh`, `deploy-prod.py`
/// (not `release_notes.py`, which writes notes).
fn deploy_script(path: &str) -> bool {
    let Some(stem) = std::path::Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
    else {
        return false;
    };
    matches!(stem, "deploy" | "publish" | "release")
        || ["deploy-", "deploy_", "publish-", "publish_"]
            .iter()
            .any(|prefix| stem.starts_with(prefix))
}

/// make: `NAME=value` operands override the Makefile's variables (`make CC='sh -c …'`), judged
/// like the environment; `install` targets write where the Makefile says, release targets
/// publish.
fn make(d: &mut Derived, parsed: &Parsed) {
    // `make PREFIX=dist install`: the text names where it installs (a Makefile that honours the
    // variable writes there; one that does not is bounded by the kernel in a hardened run). Only
    // roots below the working directory count: one elsewhere (`PREFIX=/usr/local`) is the install
    // the next rule asks about, as a plain `make install` is.
    let install_root =
        |name: &str| matches!(name, "PREFIX" | "prefix" | "DESTDIR" | "INSTALL_ROOT");
    let below_cwd = |value: &str| {
        let cwd = d.cwd_known.as_deref()?;
        pathutil::resolve(Some(cwd), &d.session.home, value)
            .filter(|p| p.starts_with(&format!("{}/", cwd.trim_end_matches('/'))))
    };
    let roots: Vec<String> = parsed
        .operands
        .iter()
        .filter(|w| w.is_static)
        .filter_map(|w| w.text.split_once('='))
        .filter(|(name, _)| install_root(name))
        .map(|(_, value)| below_cwd(value))
        .collect::<Option<Vec<String>>>()
        .unwrap_or_default();
    let names_its_root = !roots.is_empty();
    for root in &roots {
        d.path(root, Access::Write);
    }
    for operand in parsed.operands.iter().filter(|w| w.is_static) {
        if let Some((name, value)) = operand.text.split_once('=') {
            if names_its_root && install_root(name) {
                continue;
            }
            match environment::classify(name, value) {
                Assignment::Unknown(why) => d.unmodelled(why),
                Assignment::Reads(paths) => {
                    for path in paths {
                        d.path(&path, Access::Read);
                    }
                }
                Assignment::Writes(path) => d.path(&path, Access::Write),
                Assignment::Harmless => {}
            }
            continue;
        }
        match operand.text.as_str() {
            "install" | "uninstall" | "install-strip" if names_its_root => {
                d.tag("installs_to_named_root")
            }
            "install" | "uninstall" | "install-strip" => d.tag("installs_system"),
            "deploy" | "publish" | "release" | "upload" | "push" => d.tag("publish"),
            _ => {}
        }
    }
}

/// The path of a repository git reads from the disk, as git tells a local repository from a
/// remote one: a `file://` URL, or a name with no `:` before its first `/` (`../lib`, `/srv/x`,
/// `./a:b`; `host:repo` and `ssh://…` are remote).
fn local_repository(text: &str) -> Option<&str> {
    if let Some(path) = text.strip_prefix("file://") {
        return path.starts_with('/').then_some(path);
    }
    if text.is_empty() || text.contains("://") {
        return None;
    }
    match (text.find(':'), text.find('/')) {
        (None, _) => Some(text),
        (Some(colon), Some(slash)) if slash < colon => Some(text),
        _ => None,
    }
}

/// git subcommands whose options or operands run commands: `grep -O`, `rebase --exec`, `bisect
/// run`, `submodule foreach`.
fn git(d: &mut Derived, command_path: &[String], parsed: &Parsed, flags: &[String]) {
    let sub: Vec<&str> = command_path.iter().skip(1).map(String::as_str).collect();
    match sub.as_slice() {
        ["config"] => {
            // `git config KEY` (one operand) and the query flags only read the configuration.
            let changes = [
                "--unset",
                "--unset-all",
                "--add",
                "--replace-all",
                "--rename-section",
                "--remove-section",
                "--edit",
                "-e",
            ];
            let queries = [
                "--get",
                "--get-all",
                "--get-regexp",
                "--get-urlmatch",
                "--list",
                "-l",
                "--get-color",
                "--get-colorbool",
            ];
            let reads =
                has(flags, &queries) || (parsed.operands.len() == 1 && !has(flags, &changes));
            if reads {
                d.tag("git_config_read");
            } else if !has(flags, &["--global", "--system", "--edit", "-e"]) {
                // A repository's own config (or `-f FILE`, a path the envelope judges): in a
                // hardened run the write broker checks what git writes there and refuses a key
                // that runs a program (sandbox.md, "Git's own rewrites of a protected config").
                d.tag("git_config_repository");
            }
        }
        ["clone"] | ["submodule", "add"] => {
            // A repository on the disk is read, not fetched: the envelope bounds the read, and
            // the command needs no network. Not with submodules, whose URLs the repository
            // names.
            let repository = parsed.operands.first();
            let recursive = has(flags, &["--recurse-submodules", "--recursive"]);
            if let Some(repository) = repository.filter(|w| w.is_static && !recursive) {
                if let Some(path) = local_repository(&repository.text) {
                    d.offline = true;
                    d.path(path, Access::Read);
                    // `submodule add ../lib` resolves a relative path against the superproject's
                    // remote when it has one, which may be a URL: what it reaches is not known
                    // before it runs (a hardened run has no network to reach it with).
                    if sub[0] == "submodule" && !path.starts_with('/') {
                        d.unresolved.push(format!(
                            "`git submodule add {path}` resolves the path against the repository's remote, which may name another host"
                        ));
                    }
                }
            }
        }
        // `git fetch ../mirror`, `git pull . main`: a repository named by its path (a bare word
        // is a remote's name, whose URL only the config knows) is read from the disk.
        ["fetch"] | ["pull"] | ["ls-remote"] => {
            let recursive = has(flags, &["--recurse-submodules"]);
            let repository = parsed
                .operands
                .first()
                .filter(|w| w.is_static && !recursive);
            let by_path =
                |text: &str| text == "." || text.starts_with("file://") || text.contains('/');
            if let Some(path) = repository
                .filter(|w| by_path(&w.text))
                .and_then(|w| local_repository(&w.text))
            {
                d.offline = true;
                d.path(path, Access::Read);
            }
        }
        ["grep", ..] => {
            let pagers = values(parsed, &["-O", "--open-files-in-pager"]);
            for pager in &pagers {
                d.nested("--open-files-in-pager", &pager.text, true);
            }
            if pagers.is_empty() && has(flags, &["-O", "--open-files-in-pager"]) {
                d.unresolved
                    .push("`git grep -O` runs the pager git is configured with".to_string());
            }
        }
        ["bisect", "run", ..] | ["submodule", "foreach", ..] => {
            let words: Vec<String> = parsed.operands.iter().map(|w| w.text.clone()).collect();
            if parsed.operands.iter().all(|w| w.is_static) {
                let text = if sub[0] == "bisect" {
                    super::display_argv(&words)
                } else {
                    words.join(" ")
                };
                d.nested(&format!("git {} {}", sub[0], sub[1]), &text, false);
            } else {
                d.unresolved.push(format!(
                    "`git {} {}` runs a command computed at run time",
                    sub[0], sub[1]
                ));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::local_repository;

    #[test]
    fn a_repository_is_local_as_git_tells_it() {
        for (text, local) in [
            ("../lib", Some("../lib")),
            ("/srv/git/x.git", Some("/srv/git/x.git")),
            ("lib", Some("lib")),
            ("./a:b", Some("./a:b")),
            ("file:///srv/x", Some("/srv/x")),
            ("file://host/x", None),
            ("host:repo", None),
            ("git@github.com:o/r.git", None),
            ("ssh://host/x", None),
            ("https://example.com/x.git", None),
            ("a:b/c", None),
            ("", None),
        ] {
            assert_eq!(local_repository(text), local, "{text}");
        }
    }

    #[test]
    fn a_fetch_from_a_path_reads_the_disk_and_one_from_a_remote_uses_the_network() {
        let session = crate::shell::Session {
            cwd: "/w".into(),
            home: "/h".into(),
        };
        let knowledge = crate::knowledge::Knowledge::builtin();
        let facts = |text: &str| {
            let script = crate::shell::parse(text, &session);
            crate::facts::of_script(&script, &session, knowledge).commands[0].clone()
        };
        for (text, network) in [
            ("git fetch ../mirror main", false),
            ("git pull --rebase . main", false),
            ("git ls-remote file:///srv/x.git", false),
            ("git fetch origin", true),
            ("git fetch git@github.com:o/r.git", true),
            ("git fetch --recurse-submodules ../mirror", true),
        ] {
            assert_eq!(facts(text).network, network, "{text}");
        }
        assert!(facts("git fetch ../mirror main")
            .reads
            .iter()
            .any(|r| r == "/mirror"));
    }
}
