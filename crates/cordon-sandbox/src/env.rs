//! Building a command's environment from nothing.
//!
//! An inherited environment is an injection channel: `LD_PRELOAD` loads code into every dynamically
//! linked program, `BASH_ENV`/`ENV`/`PROMPT_COMMAND`/`BASH_FUNC_*` run code in every shell,
//! `NODE_OPTIONS`/`PYTHONSTARTUP`/`PERL5OPT`/`RUBYOPT`/`JAVA_TOOL_OPTIONS` do the same for
//! interpreters, and `GIT_CONFIG_*` rewrites git's configuration (hooks, `core.sshCommand`).
//! So the environment starts empty, receives `PATH` and the names the caller allows, and names on
//! the injection list never pass, even if allowed. The supervisor applies the same filter again to
//! whatever environment it is handed, so a caller that builds its own cannot reintroduce them.

use std::ffi::{OsStr, OsString};

/// Names that never pass, whatever the caller allows.
const FORBIDDEN_NAMES: &[&str] = &[
    "BASH_ENV",
    "BASHOPTS",
    "CDPATH",
    "ENV",
    "GCONV_PATH",
    "GIT_ASKPASS",
    "GIT_EXEC_PATH",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_TEMPLATE_DIR",
    "GLIBC_TUNABLES",
    "GLOBIGNORE",
    "HOSTALIASES",
    "IFS",
    "JAVA_TOOL_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "LOCPATH",
    "NLSPATH",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PERL5DB",
    "PERL5LIB",
    "PERL5OPT",
    "PERLLIB",
    "PROMPT_COMMAND",
    "PS4",
    "PYTHONHOME",
    "PYTHONINSPECT",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "RESOLV_HOST_CONF",
    "RUBYLIB",
    "RUBYOPT",
    "SHELLOPTS",
    "SSH_ASKPASS",
    "_JAVA_OPTIONS",
];

/// Name prefixes that never pass: the dynamic loader (`LD_*`), exported bash functions
/// (`BASH_FUNC_*`), git's environment-borne configuration (`GIT_CONFIG`, `GIT_CONFIG_*`) and
/// macOS's loader (`DYLD_*`).
const FORBIDDEN_PREFIXES: &[&str] = &["LD_", "BASH_FUNC_", "GIT_CONFIG", "DYLD_"];

/// The `PATH` used when the caller's environment has none.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// True when `name` may never be passed to a sandboxed command.
pub fn is_forbidden_env_name(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        // A name that is not UTF-8 cannot be checked against the lists; refuse it.
        return true;
    };
    name.is_empty()
        || name.contains('=')
        || FORBIDDEN_NAMES.contains(&name)
        || FORBIDDEN_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Builds an environment from nothing: `PATH` first (from `lookup`, else [`DEFAULT_PATH`]), then
/// each name of `allowed`, in order, that `lookup` finds and that is not forbidden. Duplicates are
/// passed once.
///
/// ```
/// # use cordon_sandbox::scrubbed_env;
/// let env = scrubbed_env(&["HOME", "LD_PRELOAD"], |n| match n {
///     "PATH" => Some("/usr/bin".into()),
///     "HOME" => Some("/home/a".into()),
///     "LD_PRELOAD" => Some("/evil.so".into()),
///     _ => None,
/// });
/// assert_eq!(env, vec![("PATH".into(), "/usr/bin".into()), ("HOME".into(), "/home/a".into())]);
/// ```
pub fn scrubbed_env<F>(allowed: &[&str], lookup: F) -> Vec<(OsString, OsString)>
where
    F: Fn(&str) -> Option<OsString>,
{
    let path = lookup("PATH").unwrap_or_else(|| OsString::from(DEFAULT_PATH));
    let mut env = vec![(OsString::from("PATH"), path)];
    for name in allowed {
        if is_forbidden_env_name(OsStr::new(name)) || env.iter().any(|(n, _)| n == *name) {
            continue;
        }
        if let Some(value) = lookup(name) {
            env.push((OsString::from(name), value));
        }
    }
    env
}

/// Splits `env` into what passes and the names that were dropped as forbidden.
pub(crate) fn filter_env(env: &[(OsString, OsString)]) -> (Vec<(OsString, OsString)>, Vec<String>) {
    let mut passed = Vec::with_capacity(env.len());
    let mut dropped = Vec::new();
    for (name, value) in env {
        if is_forbidden_env_name(name) {
            dropped.push(name.to_string_lossy().into_owned());
        } else {
            passed.push((name.clone(), value.clone()));
        }
    }
    (passed, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn everything(name: &str) -> Option<OsString> {
        Some(OsString::from(format!("value-of-{name}")))
    }

    #[test]
    fn injection_names_never_pass_even_when_allowed() {
        let allowed = [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "BASH_ENV",
            "ENV",
            "BASH_FUNC_ls%%",
            "PROMPT_COMMAND",
            "NODE_OPTIONS",
            "PYTHONSTARTUP",
            "PERL5OPT",
            "RUBYOPT",
            "JAVA_TOOL_OPTIONS",
            "GIT_CONFIG_COUNT",
            "GIT_CONFIG_KEY_0",
            "GIT_CONFIG_VALUE_0",
            "GIT_CONFIG_PARAMETERS",
            "GIT_CONFIG",
            "GLIBC_TUNABLES",
            "HOME",
        ];
        let env = scrubbed_env(&allowed, everything);
        let names: Vec<_> = env
            .iter()
            .map(|(n, _)| n.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["PATH", "HOME"]);
    }

    #[test]
    fn undeclared_names_and_secrets_do_not_pass() {
        let env = scrubbed_env(&[], everything);
        assert_eq!(env, vec![("PATH".into(), "value-of-PATH".into())]);
    }

    #[test]
    fn missing_path_gets_the_default_and_missing_names_are_skipped() {
        let env = scrubbed_env(&["TERM"], |_| None);
        assert_eq!(env, vec![("PATH".into(), DEFAULT_PATH.into())]);
    }

    #[test]
    fn order_is_path_then_allowed_order_without_duplicates() {
        let env = scrubbed_env(&["B", "A", "B", "PATH"], everything);
        let names: Vec<_> = env.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, vec![OsString::from("PATH"), "B".into(), "A".into()]);
    }

    #[test]
    fn filter_drops_and_names_forbidden_entries() {
        let env = vec![
            (OsString::from("PATH"), OsString::from("/bin")),
            (OsString::from("LD_PRELOAD"), OsString::from("/x.so")),
            (OsString::from("A=B"), OsString::from("c")),
        ];
        let (passed, dropped) = filter_env(&env);
        assert_eq!(
            passed,
            vec![(OsString::from("PATH"), OsString::from("/bin"))]
        );
        assert_eq!(dropped, vec!["LD_PRELOAD".to_string(), "A=B".to_string()]);
    }
}
