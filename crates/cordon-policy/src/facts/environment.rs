//! Environment assignments (`NAME=value cmd`, `export NAME=value`) under the rule of
//! construction: a known list of names is allowed (some name files, which are then judged as
//! reads or writes), and a name that a program may read as a command, pager, editor, config home,
//! output file or search path makes the command unknown, whatever the program.
//!
//! Names that inject code into the shell or an interpreter (`LD_PRELOAD`, `BASH_ENV`,
//! `NODE_OPTIONS`, …) are refused earlier, by the shell front end (`shell::resolve`), as
//! unresolved: they change what every later command is.

/// What an assignment does to the command that receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Assignment {
    /// A setting programs only read as text (`NODE_ENV=test`, `RUST_BACKTRACE=1`).
    Harmless,
    /// The value lists paths the program reads (`PYTHONPATH=src`), `:`-separated.
    Reads(Vec<String>),
    /// The value is a path the program writes (`CARGO_TARGET_DIR=out`, `GIT_TRACE=/tmp/t`).
    Writes(String),
    /// The program may run, read or write whatever the value names: the command is unknown.
    Unknown(String),
}

/// Variables that point a client at a container daemon (`DOCKER_HOST=tcp://localhost:2375`,
/// `unix:///var/run/docker.sock`): the command is judged as a container command.
pub(super) const CONTAINER_DAEMONS: &[&str] = &["DOCKER_HOST", "CONTAINER_HOST", "PODMAN_HOST"];

/// Settings read as text, by exact name.
const HARMLESS: &[&str] = &[
    "CI",
    "DEBUG",
    "VERBOSE",
    "NODE_ENV",
    "RAILS_ENV",
    "RACK_ENV",
    "FLASK_ENV",
    "FLASK_DEBUG",
    "APP_ENV",
    "ENVIRONMENT",
    "DJANGO_SETTINGS_MODULE",
    "LANG",
    "LANGUAGE",
    "TERM",
    "COLUMNS",
    "LINES",
    "NO_COLOR",
    "FORCE_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "COLORTERM",
    "PORT",
    "HOST",
    "TZ",
    "USER",
    "LOGNAME",
    "RUST_BACKTRACE",
    "RUST_LOG",
    "RUST_LIB_BACKTRACE",
    "RUST_TEST_THREADS",
    "RUST_MIN_STACK",
    "RUST_TEST_NOCAPTURE",
    "CARGO_TERM_COLOR",
    "CARGO_TERM_VERBOSE",
    "CARGO_INCREMENTAL",
    "CARGO_BUILD_JOBS",
    "CARGO_NET_OFFLINE",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONWARNINGS",
    "PYTHONHASHSEED",
    "PYTHONIOENCODING",
    "PYTHONFAULTHANDLER",
    "PYTHONUTF8",
    "PYTHONDEVMODE",
    "PYTHONOPTIMIZE",
    "PYTHONVERBOSE",
    "PYTHONBREAKPOINT",
    "PIP_NO_INPUT",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "GOOS",
    "GOARCH",
    "GO111MODULE",
    "CGO_ENABLED",
    "GOMAXPROCS",
    "GOPROXY",
    "NODE_NO_WARNINGS",
    "NODE_DEBUG",
    "TS_NODE_TRANSPILE_ONLY",
    "JEST_WORKER_ID",
    "HUSKY",
    "SKIP_PREFLIGHT_CHECK",
    "GIT_TERMINAL_PROMPT",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
    "GIT_OPTIONAL_LOCKS",
    "GIT_FLUSH",
    "GIT_MERGE_AUTOEDIT",
    "GIT_ADVICE",
    "GIT_LFS_SKIP_SMUDGE",
    "DEBIAN_FRONTEND",
    "SOURCE_DATE_EPOCH",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
];

/// Settings read as text, by prefix.
const HARMLESS_PREFIXES: &[&str] = &[
    "LC_",
    "RUST_TEST_",
    "PYTEST_XDIST_",
    "NEXT_PUBLIC_",
    "VITE_",
];

/// Names whose value is a program or command line, allowed only with a value that runs nothing.
const PROGRAMS: &[&str] = &[
    "EDITOR",
    "VISUAL",
    "PAGER",
    "GIT_PAGER",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "MANPAGER",
    "SYSTEMD_PAGER",
    "BAT_PAGER",
    "DELTA_PAGER",
];

/// Values of a program variable that run nothing beyond a viewer.
const SAFE_PROGRAM_VALUES: &[&str] = &[
    "",
    "cat",
    "less",
    "more",
    "true",
    ":",
    "less -R",
    "less -FRX",
];

/// Names whose value lists paths a program reads.
const READ_PATHS: &[&str] = &[
    "PYTHONPATH",
    "NODE_PATH",
    "CLASSPATH",
    "PKG_CONFIG_PATH",
    "MANPATH",
];

/// Names whose value is a path a program writes.
const WRITE_PATHS: &[&str] = &[
    "CARGO_TARGET_DIR",
    "TMPDIR",
    "GOCACHE",
    "PYTHONPYCACHEPREFIX",
    "COVERAGE_FILE",
    "PIP_CACHE_DIR",
    "npm_config_cache",
    "HISTFILE",
];

/// Fragments of names that programs read as a command, pager, editor, config home, output file
/// or search path; a name that is not listed above and contains one makes the command unknown.
const RISKY_FRAGMENTS: &[&str] = &[
    "EDITOR",
    "VISUAL",
    "PAGER",
    "LESS",
    "SHELL",
    "CMD",
    "COMMAND",
    "EXEC",
    "PROG",
    "HOOK",
    "CONFIG",
    "CONF",
    "RC",
    "HOME",
    "DIR",
    "PATH",
    "FILE",
    "OUTPUT",
    "TRACE",
    "DUMP",
    "LOG",
    "PRELOAD",
    "LIBRARY",
    "OPTION",
    "OPTS",
    "FLAGS",
    "PROXY",
    "SOCK",
    "ASKPASS",
    "SSH",
    "GIT",
    "XDG",
    "TMP",
    "TEMP",
    "CACHE",
    "PREFIX",
    "ROOT",
    "TARGET",
    "INIT",
    "STARTUP",
    "PROFILE",
    "ENV",
    "PROMPT",
    "BROWSER",
    "WRAPPER",
    "PLUGIN",
    "LOADER",
    "MODULE",
    "REGISTRY",
    "INDEX",
    "URL",
    "HOST",
    "TOKEN",
    "KEY",
    "SECRET",
    "PASSWORD",
    "CREDENTIAL",
    "AWS",
    "GOOGLE",
    "AZURE",
    "KUBE",
    "DOCKER",
    "NPM",
    "YARN",
    "PIP",
    "CARGO",
    "RUSTC",
    "GO",
    "PYTHON",
    "NODE",
    "PERL",
    "RUBY",
    "JAVA",
    "MAVEN",
    "GRADLE",
    "MAKE",
    "TERMINFO",
    "LD_",
    "DYLD",
];

/// Compilers and tools whose variable is a command line (`CC='sh -c …' make`).
const TOOL_NAMES: &[&str] = &[
    "CC", "CXX", "CPP", "LD", "AR", "AS", "NM", "FC", "STRIP", "RANLIB", "OBJCOPY", "OBJDUMP",
    "MAKE", "SHELL", "YACC", "LEX",
];

/// What assigning `value` to `name` does to a command (or to every later one, for an export).
pub(super) fn classify(name: &str, value: &str) -> Assignment {
    if HARMLESS.contains(&name) || HARMLESS_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return match name {
            // `TZ=/path` or `TZ=:path` reads a file as time-zone data.
            "TZ" if value.starts_with('/') || value.starts_with(':') => {
                Assignment::Reads(vec![value.trim_start_matches(':').to_string()])
            }
            _ => Assignment::Harmless,
        };
    }
    if PROGRAMS.contains(&name) {
        return if SAFE_PROGRAM_VALUES.contains(&value) {
            Assignment::Harmless
        } else {
            Assignment::Unknown(format!("`{name}` names a program the command may run"))
        };
    }
    if READ_PATHS.contains(&name) {
        return Assignment::Reads(
            value
                .split(':')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        );
    }
    if WRITE_PATHS.contains(&name) {
        return Assignment::Writes(value.to_string());
    }
    if name.starts_with("GIT_TRACE") {
        // `GIT_TRACE=1` traces to stderr, an absolute path names the file the trace is written to.
        return if value.starts_with('/') || value.starts_with('~') {
            Assignment::Writes(value.to_string())
        } else if value.chars().all(|c| c.is_ascii_digit())
            || matches!(value, "true" | "false" | "")
        {
            Assignment::Harmless
        } else {
            Assignment::Unknown(format!(
                "`{name}={value}` sends git's trace somewhere cordon cannot follow"
            ))
        };
    }
    if matches!(name, "RUSTFLAGS" | "RUSTDOCFLAGS") {
        return rust_flags(name, value);
    }
    if name == "GOFLAGS" {
        return go_flags(value);
    }
    if TOOL_NAMES.contains(&name) {
        return Assignment::Unknown(format!("`{name}` names a program that build tools run"));
    }
    let upper = name.to_ascii_uppercase();
    match RISKY_FRAGMENTS.iter().find(|f| upper.contains(*f)) {
        Some(_) => Assignment::Unknown(format!(
            "`{name}` is not a variable cordon models, and programs may read it as a command, a configuration or a path"
        )),
        None => Assignment::Harmless,
    }
}

/// `go` flags that only choose where modules come from without the network (`-mod=vendor`,
/// `-mod=readonly`) or how code is built and tested, never a program to run (`-toolexec`,
/// `-exec`), a file to read (`-modfile`, `-overlay`) or a download (`-mod=mod`).
const GO_FLAGS: &[&str] = &[
    "-mod=vendor",
    "-mod=readonly",
    "-trimpath",
    "-buildvcs=false",
    "-buildvcs=true",
    "-v",
    "-race",
    "-cover",
    "-short",
];

/// `go` flag prefixes whose value is text.
const GO_FLAG_VALUES: &[&str] = &["-tags=", "-count=", "-p=", "-timeout=", "-buildmode="];

/// `GOFLAGS=-mod=vendor`: harmless when every flag is one of [`GO_FLAGS`] or takes text.
fn go_flags(value: &str) -> Assignment {
    let known =
        |flag: &str| GO_FLAGS.contains(&flag) || GO_FLAG_VALUES.iter().any(|p| flag.starts_with(p));
    match value.split_whitespace().find(|flag| !known(flag)) {
        None => Assignment::Harmless,
        Some(flag) => Assignment::Unknown(format!(
            "`GOFLAGS` gives go `{flag}`, a flag cordon does not model there"
        )),
    }
}

/// `-C` codegen options that change only how code is compiled, never which program runs.
const RUSTC_CODEGEN: &[&str] = &[
    "opt-level",
    "debuginfo",
    "target-cpu",
    "target-feature",
    "codegen-units",
    "lto",
    "panic",
    "overflow-checks",
    "debug-assertions",
    "force-frame-pointers",
    "instrument-coverage",
    "strip",
    "relocation-model",
    "embed-bitcode",
    "split-debuginfo",
    "symbol-mangling-version",
];

/// `RUSTFLAGS='-D warnings'` is harmless; `-C linker=…` or `-Z …` can run other programs.
fn rust_flags(name: &str, value: &str) -> Assignment {
    let mut words = value.split_whitespace();
    while let Some(word) = words.next() {
        let (flag, glued) = match word.get(..2) {
            Some(f @ ("-D" | "-W" | "-A" | "-F" | "-C")) => {
                (f, word.get(2..).filter(|g| !g.is_empty()))
            }
            _ if word == "--cfg" => ("--cfg", None),
            _ => return Assignment::Unknown(format!("`{name}` passes `{word}` to the compiler")),
        };
        let Some(arg) = glued
            .map(str::to_string)
            .or_else(|| words.next().map(str::to_string))
        else {
            break;
        };
        if flag == "-C" {
            let key = arg.split('=').next().unwrap_or("");
            if !RUSTC_CODEGEN.contains(&key) {
                return Assignment::Unknown(format!(
                    "`{name}` sets the compiler option `-C {arg}`"
                ));
            }
        }
    }
    Assignment::Harmless
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_allowed_judged_as_paths_or_unknown() {
        assert_eq!(classify("NODE_ENV", "test"), Assignment::Harmless);
        assert_eq!(classify("LC_ALL", "C"), Assignment::Harmless);
        assert_eq!(classify("GIT_PAGER", "cat"), Assignment::Harmless);
        assert_eq!(classify("my_var", "x"), Assignment::Harmless);
        assert_eq!(
            classify("PYTHONPATH", "src:lib"),
            Assignment::Reads(vec!["src".into(), "lib".into()])
        );
        assert_eq!(
            classify("GIT_TRACE", "/home/u/.profile"),
            Assignment::Writes("/home/u/.profile".into())
        );
        assert_eq!(classify("GIT_TRACE", "1"), Assignment::Harmless);
        assert_eq!(
            classify("RUSTFLAGS", "-D warnings -C opt-level=3"),
            Assignment::Harmless
        );
        assert!(matches!(
            classify("RUSTFLAGS", "-C linker=/tmp/x"),
            Assignment::Unknown(_)
        ));
        assert!(matches!(
            classify("RUSTFLAGS", "-Zself-profile"),
            Assignment::Unknown(_)
        ));
        for (name, value) in [
            ("GIT_SEQUENCE_EDITOR", "sed -i 1d"),
            ("LESSOPEN", "|cat %s"),
            ("XDG_CONFIG_HOME", "/tmp/x"),
            ("HOME", "/home/u/.aws"),
            ("CC", "sh -c id"),
            ("GIT_DIR_X", "x"),
            ("npm_config_script_shell", "/tmp/x"),
            ("MY_APP_CONFIG", "x"),
        ] {
            assert!(
                matches!(classify(name, value), Assignment::Unknown(_)),
                "{name}"
            );
        }
    }
}
