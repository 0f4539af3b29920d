//! Commands that run other commands with words the walk must read exactly: `xargs` (its own
//! option grammar, an argument file, and where its input comes from), the `run`/`exec`
//! subcommands of project tools (`uv run pytest` is `pytest`), and builtins that name variables
//! (`read`, `printf -v`, `unset`, `let`): the names are checked (`shell::evaluate`) and what the
//! text now knows of those variables is recorded.

use super::evaluate::{self, Value};
use super::walk::{Ctx, Evaluation, Walker};
use super::{pathutil, Access, Origin, Redirect, Stdin, Word};

/// `xargs` options that take a value, written apart or glued (`-n 1`, `-n1`).
const XARGS_VALUES: &[char] = &['a', 'd', 'E', 'I', 'L', 'n', 'P', 's'];
/// `xargs` options whose value is optional and then glued (`-i{}`).
const XARGS_OPTIONAL: &[char] = &['e', 'i', 'l'];
/// `xargs` flags.
const XARGS_FLAGS: &[char] = &['0', 'p', 'r', 't', 'x', 'o'];
const XARGS_LONG_VALUES: &[&str] = &[
    "--arg-file",
    "--delimiter",
    "--max-lines",
    "--max-args",
    "--max-procs",
    "--max-chars",
    "--process-slot-var",
];
const XARGS_LONG_OPTIONAL: &[&str] = &["--eof", "--replace"];
const XARGS_LONG_FLAGS: &[&str] = &[
    "--null",
    "--interactive",
    "--no-run-if-empty",
    "--verbose",
    "--exit",
    "--open-tty",
    "--show-limits",
];

/// What `xargs`'s own options say.
#[derive(Debug, Default)]
struct XargsOptions {
    /// Index of the command to run.
    start: usize,
    replace: Option<String>,
    arg_file: Option<Word>,
    null: bool,
}

/// Reads `xargs`'s options; an option it does not have (or one computed at run time) is an
/// error, since a wrong guess would turn an option's value into the command.
fn xargs_options(words: &[Word]) -> Result<XargsOptions, String> {
    let mut options = XargsOptions::default();
    let mut i = 1;
    while i < words.len() {
        let word = &words[i];
        let t = word.text.as_str();
        if !word.is_static {
            if t.starts_with('-') {
                return Err(format!("the `xargs` option `{t}` is computed at run time"));
            }
            break;
        }
        if t == "--" {
            i += 1;
            break;
        }
        if !t.starts_with('-') || t == "-" {
            break;
        }
        if let Some(long) = t.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (format!("--{n}"), Some(v.to_string())),
                None => (t.to_string(), None),
            };
            let value = if XARGS_LONG_VALUES.contains(&name.as_str()) {
                match inline {
                    Some(v) => Some(Word::literal(v)),
                    None => {
                        i += 1;
                        words.get(i).cloned()
                    }
                }
            } else if XARGS_LONG_OPTIONAL.contains(&name.as_str()) {
                Some(Word::literal(inline.unwrap_or_else(|| "{}".to_string())))
            } else if XARGS_LONG_FLAGS.contains(&name.as_str()) && inline.is_none() {
                None
            } else {
                return Err(format!("`xargs {t}` is not an option cordon models"));
            };
            match name.as_str() {
                "--arg-file" => options.arg_file = value,
                "--replace" => options.replace = value.map(|v| v.text),
                "--null" => options.null = true,
                _ => {}
            }
            i += 1;
            continue;
        }
        for (at, letter) in t.char_indices().skip(1) {
            let rest = &t[at + letter.len_utf8()..];
            if XARGS_FLAGS.contains(&letter) {
                options.null |= letter == '0';
                continue;
            }
            let value = if XARGS_VALUES.contains(&letter) {
                if rest.is_empty() {
                    i += 1;
                    words.get(i).cloned()
                } else {
                    Some(Word::literal(rest))
                }
            } else if XARGS_OPTIONAL.contains(&letter) {
                Some(Word::literal(if rest.is_empty() { "{}" } else { rest }))
            } else {
                return Err(format!("`xargs -{letter}` is not an option cordon models"));
            };
            match letter {
                'a' => options.arg_file = value,
                'I' | 'i' => options.replace = value.map(|v| v.text),
                _ => {}
            }
            break;
        }
        i += 1;
    }
    options.start = i;
    Ok(options)
}

/// `tool run [options] COMMAND…` subcommands that run a command as it is: (program,
/// subcommand, options taking a value, flags). Any other option makes the command unresolved.
const RUN_SUBCOMMANDS: &[(&str, &str, &[&str], &[&str])] = &[
    (
        "uv",
        "run",
        &[
            "--with",
            "--with-editable",
            "--with-requirements",
            "--python",
            "-p",
            "--extra",
            "--group",
            "--only-group",
            "--package",
            "--project",
            "--env-file",
            "--index-url",
            "--index",
            "--default-index",
            "--extra-index-url",
            "--find-links",
            "-f",
            "--config-file",
            "--cache-dir",
        ],
        &[
            "--no-sync",
            "--frozen",
            "--locked",
            "--offline",
            "--isolated",
            "--no-project",
            "--all-extras",
            "--no-dev",
            "--dev",
            "--all-packages",
            "-q",
            "--quiet",
            "-v",
            "--verbose",
            "--active",
            "--no-active",
            "--exact",
            "--no-editable",
            "--refresh",
            "--reinstall",
            "--no-cache",
            "--native-tls",
            "--no-env-file",
            "--all-groups",
            "--no-default-groups",
        ],
    ),
    (
        "poetry",
        "run",
        &[],
        &[
            "-q",
            "--quiet",
            "-v",
            "-vv",
            "-vvv",
            "--verbose",
            "-n",
            "--no-interaction",
            "--ansi",
            "--no-ansi",
            "--no-plugins",
            "--no-cache",
        ],
    ),
    ("pipenv", "run", &[], &[]),
    (
        "pdm",
        "run",
        &[],
        &["-v", "--verbose", "-q", "--quiet", "-s", "--site-packages"],
    ),
    ("hatch", "run", &[], &[]),
    ("rye", "run", &[], &[]),
    (
        "bundle",
        "exec",
        &["--gemfile"],
        &["--keep-file-descriptors"],
    ),
    (
        "pnpm",
        "exec",
        &["--filter", "-F"],
        &[
            "-r",
            "--recursive",
            "--parallel",
            "--no-reporter-hide-prefix",
            "--report-summary",
            "--workspace-root",
            "-w",
        ],
    ),
    ("yarn", "exec", &[], &[]),
    (
        "conda",
        "run",
        &["-n", "--name", "-p", "--prefix"],
        &["--no-capture-output", "--live-stream", "-v", "--verbose"],
    ),
];

/// For `uv run pytest -x` and the like: the label (`uv run`) and the index of the command it
/// runs, or why it cannot be read; `None` when the words are not such a subcommand.
pub(super) fn run_subcommand(words: &[Word]) -> Option<Result<(String, usize), String>> {
    let program = words.first()?.text.as_str();
    let sub = words.get(1).filter(|w| w.is_static)?.text.as_str();
    let (_, _, values, flags) = RUN_SUBCOMMANDS
        .iter()
        .find(|(p, s, _, _)| *p == program && *s == sub)?;
    let label = format!("{program} {sub}");
    let mut i = 2;
    while i < words.len() {
        let word = &words[i];
        let t = word.text.as_str();
        if !word.is_static {
            return Some(if t.starts_with('-') {
                Err(format!(
                    "the `{label}` option `{t}` is computed at run time"
                ))
            } else {
                Ok((label, i))
            });
        }
        if t == "--" {
            i += 1;
            break;
        }
        if !t.starts_with('-') {
            break;
        }
        let name = t.split_once('=').map_or(t, |(n, _)| n);
        if values.contains(&name) {
            i += if t.contains('=') { 1 } else { 2 };
        } else if flags.contains(&t) {
            i += 1;
        } else {
            return Some(Err(format!("`{label} {t}` is not an option cordon models")));
        }
    }
    if i >= words.len() {
        return None;
    }
    Some(Ok((label, i)))
}

impl Walker<'_> {
    /// `xargs [options] COMMAND [args]`: COMMAND gets arguments from standard input (or the
    /// `-a` file, which is read). They are paths under known directories only when a `find …
    /// -print0` feeds `xargs -0`; without NUL separators a file name with a blank or a newline
    /// in it becomes several arguments, which can be options or paths anywhere.
    pub(super) fn xargs(&mut self, words: Vec<Word>, assigned: Vec<String>, ctx: &Ctx) {
        let options = match xargs_options(&words) {
            Ok(options) => options,
            Err(why) => return self.emit_with(words, assigned, None, ctx, Some(why)),
        };
        let mut inner: Vec<Word> = words.iter().skip(options.start).cloned().collect();
        if inner.is_empty() {
            inner.push(Word::literal("echo"));
        }
        let input = Word {
            text: "{xargs input}".to_string(),
            is_static: false,
            glob: false,
        };
        match &options.replace {
            Some(r) if inner.iter().skip(1).any(|w| w.text.contains(r.as_str())) => {
                for word in inner.iter_mut().skip(1) {
                    if word.text.contains(r.as_str()) {
                        word.is_static = false;
                    }
                }
            }
            _ => inner.push(input),
        }
        let mut nested = ctx.clone();
        nested.origin = Origin::Nested;
        nested.wrappers.push("xargs".to_string());
        nested.stdin = Stdin::Inherited;
        nested.pipe_source = None;
        nested.computed_paths_under = None;
        match &options.arg_file {
            Some(file) if file.is_static => {
                match pathutil::resolve(ctx.cwd.as_deref(), &self.session.home, &file.text) {
                    Some(path) => nested.redirects.push(Redirect {
                        path,
                        access: Access::Read,
                        truncates: false,
                    }),
                    None => nested.unresolved.push(format!(
                        "the `xargs -a` file `{}` cannot be resolved",
                        file.text
                    )),
                }
            }
            Some(file) => nested.unresolved.push(format!(
                "the `xargs -a` file `{}` is computed at run time",
                file.text
            )),
            None => {
                if let Some(source) = ctx.pipe_source.as_ref().filter(|s| s.nul && options.null) {
                    nested.computed_paths_under = Some(source.roots.clone());
                }
            }
        }
        let assignments = assigned
            .iter()
            .filter_map(|a| {
                a.split_once('=')
                    .map(|(n, v)| (n.to_string(), Word::literal(v)))
            })
            .collect();
        self.resolve(inner, assignments, &mut nested);
    }

    /// Builtins that name variables: the names are checked, and the variables they set become
    /// computed (`read`, `printf -v`) or numbers (`let`); `unset` forgets them.
    pub(super) fn variable_builtins(&mut self, words: &[Word]) {
        let Some(program) = words.first().map(|w| w.text.as_str()) else {
            return;
        };
        let args = words.get(1..).unwrap_or(&[]);
        const READ_VALUES: &[&str] = &["-a", "-d", "-i", "-n", "-N", "-p", "-t", "-u"];
        const MAPFILE_VALUES: &[&str] = &["-d", "-n", "-O", "-s", "-u", "-C", "-c"];
        let named: Vec<Word> = match program {
            "printf" => option_values(args, &["-v"], &["-v"]),
            "read" => {
                let mut names = option_values(args, &["-a"], READ_VALUES);
                names.extend(operands(args, READ_VALUES));
                names
            }
            "mapfile" | "readarray" => operands(args, MAPFILE_VALUES),
            "getopts" => operands(args, &[]).into_iter().skip(1).take(1).collect(),
            "unset" => operands(args, &[]),
            "wait" => option_values(args, &["-p"], &["-p"]),
            "test" | "[" => {
                // `-v NAME` and `-R NAME` are operators there, not options.
                args.windows(2)
                    .filter(|w| w[0].is_static && matches!(w[0].text.as_str(), "-v" | "-R"))
                    .map(|w| w[1].clone())
                    .collect()
            }
            "let" => {
                for arg in args {
                    self.check_arithmetic(&arg.text);
                    for name in evaluate::assigned_in_arithmetic(&arg.text) {
                        self.set_variable(&name, Value::Known(vec!["0".to_string()]), false);
                    }
                }
                return;
            }
            _ => return,
        };
        for name in named {
            if name.is_static {
                self.evaluations
                    .push(Evaluation::Name(name.text.clone(), program.to_string()));
            } else {
                // Bash itself would run the code, whatever the builtin does: noted for the text.
                self.note(format!(
                    "`{program}` names a variable computed at run time, `{}`",
                    name.text
                ));
            }
            let plain = name.text.split('[').next().unwrap_or("").to_string();
            if !matches!(program, "unset" | "test" | "[") {
                self.set_variable(&plain, Value::Computed, false);
            }
        }
    }
}

/// A builtin's short options read as getopt does (`-rp PROMPT`, `-vNAME`): the values of the
/// options in `with_value`, keyed by option, and the operands.
fn short_options(args: &[Word], with_value: &[&str]) -> (Vec<(String, Word)>, Vec<Word>) {
    let mut values = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    let mut options_done = false;
    while i < args.len() {
        let word = &args[i];
        let t = word.text.as_str();
        if options_done || !word.is_static || !t.starts_with('-') || t.len() < 2 {
            operands.push(word.clone());
            i += 1;
            continue;
        }
        if t == "--" {
            options_done = true;
            i += 1;
            continue;
        }
        for (at, letter) in t.char_indices().skip(1) {
            let option = format!("-{letter}");
            if !with_value.contains(&option.as_str()) {
                continue;
            }
            let rest = &t[at + letter.len_utf8()..];
            if rest.is_empty() {
                i += 1;
                values.extend(args.get(i).map(|w| (option.clone(), w.clone())));
            } else {
                values.push((option.clone(), Word::literal(rest)));
            }
            break;
        }
        i += 1;
    }
    (values, operands)
}

/// The values of `named` options among a builtin's options (`with_value` all take one).
fn option_values(args: &[Word], named: &[&str], with_value: &[&str]) -> Vec<Word> {
    short_options(args, with_value)
        .0
        .into_iter()
        .filter(|(option, _)| named.contains(&option.as_str()))
        .map(|(_, word)| word)
        .collect()
}

/// A builtin's operands, after its options (`with_value` take one).
fn operands(args: &[Word], with_value: &[&str]) -> Vec<Word> {
    short_options(args, with_value).1
}
