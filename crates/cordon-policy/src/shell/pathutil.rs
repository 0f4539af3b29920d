//! Lexical path resolution for the shell front end.
//!
//! Paths an agent writes are resolved against the tracked working directory and the session's home,
//! and `..` is folded away here, so `cat ../../etc/passwd` is judged as `/etc/passwd`. Nothing here
//! touches the filesystem: symlinks are the sandbox's business, which resolves them before granting.

/// Folds `.`, `..` and repeated slashes of an absolute POSIX path. `..` never climbs above `/`.
pub fn normalize_absolute(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return "/".to_string();
    }
    let mut out = String::with_capacity(path.len());
    for part in parts {
        out.push('/');
        out.push_str(part);
    }
    out
}

/// Resolves `text` as the shell would name a file: `~` and `~/x` against `home`, a relative path
/// against `cwd`. `None` when the path is relative and the working directory is unknown, or when
/// it names another user's home (`~bob`), which cordon does not look up.
pub fn resolve(cwd: Option<&str>, home: &str, text: &str) -> Option<String> {
    if text == "~" {
        return Some(normalize_absolute(home));
    }
    if let Some(rest) = text.strip_prefix("~/") {
        return Some(normalize_absolute(&format!("{home}/{rest}")));
    }
    if text.starts_with('~') {
        return None;
    }
    if text.starts_with('/') {
        return Some(normalize_absolute(text));
    }
    let cwd = cwd?;
    Some(normalize_absolute(&format!("{cwd}/{text}")))
}

/// What an absolute path names when it is not simply a file: the views of processes under
/// `/proc` and `/dev/fd`, and bash's network pseudo-files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Special {
    /// A file, judged at this path (`/proc/self/root/etc/x` is `/etc/x`).
    Path(String),
    /// A standard stream or a device that holds nothing (`/dev/null`, `/dev/fd/1`).
    Stream,
    /// `/dev/tcp/HOST/PORT` or `/dev/udp/…`: bash connects to HOST.
    Network { host: String },
    /// `/proc/PID/environ`: a process's environment, where secrets live.
    Environment,
    /// A path whose file cannot be known from the text (`/dev/fd/3`, another process's cwd).
    Unknown(String),
}

/// Devices that neither hold nor reveal anything.
const STREAMS: &[&str] = &[
    "/dev/null",
    "/dev/stdin",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/tty",
    "/dev/zero",
    "/dev/random",
    "/dev/urandom",
    "/dev/full",
];

/// Resolves an absolute `path` (`..` not yet folded) the way the kernel walks it for a process
/// working in `cwd`: component by component, so a `..` after `/proc/self/root` or
/// `/proc/self/cwd` climbs from where that view points, not from `/proc/self`. Lexical only:
/// nothing is read from the filesystem, and other symlinks are the caller's to resolve.
pub fn special(path: &str, cwd: &str) -> Special {
    let mut stack: Vec<String> = Vec::new();
    let mut views = 0;
    let components: Vec<&str> = path.split('/').collect();
    for (at, component) in components.iter().enumerate() {
        match *component {
            "" | "." => continue,
            ".." => {
                stack.pop();
                continue;
            }
            other => stack.push(other.to_string()),
        }
        let rest = || components[at + 1..].join("/");
        let parts: Vec<&str> = stack.iter().map(String::as_str).collect();
        match parts.as_slice() {
            ["dev", "tcp" | "udp", host, ..] => {
                return Special::Network {
                    host: host.to_ascii_lowercase(),
                }
            }
            ["dev", "fd"] => return descriptor(&rest(), "/dev/fd"),
            ["proc", process, view] | ["proc", process, "task", _, view] if is_process(process) => {
                let own = matches!(*process, "self" | "thread-self");
                let here = format!("/{}", parts.join("/"));
                match *view {
                    "root" => stack.clear(),
                    "cwd" if own => {
                        stack = cwd
                            .split('/')
                            .filter(|c| !c.is_empty())
                            .map(str::to_string)
                            .collect()
                    }
                    "cwd" => {
                        return Special::Unknown(format!(
                            "`{here}` is the working directory of process {process}"
                        ))
                    }
                    "fd" => return descriptor(&rest(), &here),
                    "environ" => return Special::Environment,
                    "mem" | "map_files" => {
                        return Special::Unknown(format!("`{here}` is the memory of a process"))
                    }
                    _ => continue,
                }
                views += 1;
                if views > 16 {
                    return Special::Unknown(format!("`{path}` nests process views too deeply"));
                }
            }
            _ => {}
        }
    }
    let resolved = format!("/{}", stack.join("/"));
    if STREAMS.contains(&resolved.as_str()) {
        Special::Stream
    } else {
        Special::Path(resolved)
    }
}

fn is_process(name: &str) -> bool {
    matches!(name, "self" | "thread-self") || name.chars().all(|c| c.is_ascii_digit())
}

/// The file under a descriptor directory: the standard streams, or unknown.
fn descriptor(rest: &str, dir: &str) -> Special {
    match rest {
        "0" | "1" | "2" => Special::Stream,
        _ => {
            let fd = rest.split('/').next().unwrap_or("");
            Special::Unknown(format!(
                "`{dir}/{rest}` is whatever file descriptor {fd} is open on"
            ))
        }
    }
}

/// `text` as an absolute path, `~` and the cwd applied but `..` not folded (see [`special`]).
/// `None` as for [`resolve`].
pub fn join(cwd: Option<&str>, home: &str, text: &str) -> Option<String> {
    if text == "~" {
        return Some(home.to_string());
    }
    if let Some(rest) = text.strip_prefix("~/") {
        return Some(format!("{home}/{rest}"));
    }
    if text.starts_with('~') {
        return None;
    }
    if text.starts_with('/') {
        return Some(text.to_string());
    }
    Some(format!("{}/{text}", cwd?))
}

/// Whether `path` equals `base` or lies under it, component-wise.
pub fn is_within(path: &str, base: &str) -> bool {
    let base = base.trim_end_matches('/');
    base.is_empty()
        || path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The last component of a path (`/usr/bin/rm` → `rm`).
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotdot_is_folded_and_never_climbs_above_root() {
        assert_eq!(normalize_absolute("/usr/bin/../bin/rm"), "/usr/bin/rm");
        assert_eq!(normalize_absolute("/../../etc//passwd"), "/etc/passwd");
        assert_eq!(normalize_absolute("/a/./b/"), "/a/b");
        assert_eq!(normalize_absolute("/.."), "/");
    }

    #[test]
    fn relative_paths_need_a_known_cwd() {
        assert_eq!(
            resolve(Some("/w/p"), "/h", "../../etc/x"),
            Some("/etc/x".to_string())
        );
        assert_eq!(
            resolve(Some("/w"), "/h", "~/.ssh/id_rsa"),
            Some("/h/.ssh/id_rsa".to_string())
        );
        assert_eq!(resolve(None, "/h", "src"), None);
        assert_eq!(resolve(None, "/h", "/abs"), Some("/abs".to_string()));
        assert_eq!(resolve(Some("/w"), "/h", "~bob/x"), None);
    }

    #[test]
    fn process_views_and_network_files_are_resolved() {
        let cwd = "/w";
        assert_eq!(
            special("/proc/self/root/home/u/.aws/credentials", cwd),
            Special::Path("/home/u/.aws/credentials".into())
        );
        assert_eq!(
            special("/proc/self/root/proc/1/root/etc/shadow", cwd),
            Special::Path("/etc/shadow".into())
        );
        assert_eq!(
            special("/proc/thread-self/task/7/root/etc/x", cwd),
            Special::Path("/etc/x".into())
        );
        // `..` climbs from where the view points, not from `/proc/self`.
        assert_eq!(
            special("/proc/self/cwd/../../home/u/.ssh/id_rsa", "/w/p"),
            Special::Path("/home/u/.ssh/id_rsa".into())
        );
        assert_eq!(
            special("/proc/self/root/../home/u/.ssh", cwd),
            Special::Path("/home/u/.ssh".into())
        );
        assert!(matches!(special("/proc/1/cwd/x", cwd), Special::Unknown(_)));
        assert!(matches!(
            special("/proc/self/fd/3", cwd),
            Special::Unknown(_)
        ));
        assert!(matches!(special("/dev/fd/5", cwd), Special::Unknown(_)));
        assert_eq!(special("/dev/fd/1", cwd), Special::Stream);
        assert_eq!(special("/proc/42/environ", cwd), Special::Environment);
        assert_eq!(
            special("/dev/tcp/127.0.0.1/8080", cwd),
            Special::Network {
                host: "127.0.0.1".into()
            }
        );
        // Control: ordinary paths, and /proc files that are not process views, are themselves.
        assert_eq!(
            special("/w/src/a.rs", cwd),
            Special::Path("/w/src/a.rs".into())
        );
        assert_eq!(
            special("/proc/cpuinfo", cwd),
            Special::Path("/proc/cpuinfo".into())
        );
        assert_eq!(
            special("/proc/self/status", cwd),
            Special::Path("/proc/self/status".into())
        );
    }

    #[test]
    fn within_is_component_wise() {
        assert!(is_within("/w/p", "/w"));
        assert!(is_within("/w", "/w/"));
        assert!(!is_within("/w-evil", "/w"));
        assert!(is_within("/anything", "/"));
    }
}
