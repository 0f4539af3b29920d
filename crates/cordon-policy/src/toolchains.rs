//! Toolchains installed in the home directory (`data/toolchains.yaml`): which install tree a
//! program belongs to, so a hardened run can read and execute exactly that tree.
//!
//! Hardened mode opens the system directories and what the contract grants; `cargo` in
//! `~/.cargo/bin`, nvm's `node` or a pyenv shim live in the home directory, which stays closed, so
//! without this their commands fail with EACCES at exec. Granting the home directory would expose
//! every credential in it; the table names each toolchain's own directories instead, and a unit
//! test holds them clear of the credential files it lists. Matching is a pure function of a path
//! ([`Toolchains::reads_for`]); finding the program on `PATH` touches the file system and lives
//! in [`locate`].

use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::shell::pathutil;

#[cfg(test)]
const BUILTIN: &str = include_str!("../data/toolchains.yaml");
/// `BUILTIN` as JSON, made by build.rs with the same YAML reader: parsing the YAML cost every
/// hardened run about 0.1 ms.
const BUILTIN_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/toolchains.json"));

/// One toolchain: where its executables are and what running one of them needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toolchain {
    pub name: String,
    pub bin: Vec<String>,
    pub read: Vec<String>,
}

/// The table of toolchains, and the credential files no grant may contain.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toolchains {
    pub toolchains: Vec<Toolchain>,
    pub credentials: Vec<String>,
}

impl Toolchains {
    /// Parses a table in the `data/toolchains.yaml` format.
    pub fn parse(text: &str) -> Result<Toolchains, String> {
        let value = crate::yaml::parse(text).map_err(|e| e.to_string())?;
        serde_json::from_value(value).map_err(|e| format!("toolchains: {e}"))
    }

    /// The table shipped with cordon. A unit test proves it parses; if it ever did not, no
    /// toolchain would be granted, and its commands would fail closed (EACCES), as before.
    pub fn builtin() -> &'static Toolchains {
        static TABLE: OnceLock<Toolchains> = OnceLock::new();
        TABLE.get_or_init(|| serde_json::from_str(BUILTIN_JSON).unwrap_or_default())
    }

    /// What a command running `executable` (absolute, normalized) may read and execute, when the
    /// executable lies directly in one of a toolchain's `bin` directories; empty otherwise.
    pub fn reads_for(&self, home: &str, executable: &str) -> Vec<String> {
        let Some(dir) = Path::new(executable).parent().and_then(Path::to_str) else {
            return Vec::new();
        };
        let mut reads = Vec::new();
        for toolchain in &self.toolchains {
            for pattern in &toolchain.bin {
                let Some(stars) = matches(&expand(home, pattern), dir) else {
                    continue;
                };
                for read in &toolchain.read {
                    if let Some(path) = substitute(&expand(home, read), &stars) {
                        if !reads.contains(&path) {
                            reads.push(path);
                        }
                    }
                }
            }
        }
        reads
    }
}

/// `~/x` under `home`; other patterns unchanged.
fn expand(home: &str, pattern: &str) -> String {
    match pattern.strip_prefix("~/") {
        Some(rest) => format!("{}/{rest}", home.trim_end_matches('/')),
        None => pattern.to_string(),
    }
}

/// The components `*` stood for when `dir` matches `pattern` component by component.
fn matches(pattern: &str, dir: &str) -> Option<Vec<String>> {
    let want: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let have: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
    if want.len() != have.len() {
        return None;
    }
    let mut stars = Vec::new();
    for (w, h) in want.iter().zip(&have) {
        if *w == "*" {
            if *h == "." || *h == ".." {
                return None;
            }
            stars.push((*h).to_string());
        } else if w != h {
            return None;
        }
    }
    Some(stars)
}

/// `pattern` with each `*` replaced by the next captured component; `None` when it has more
/// `*` than were captured.
fn substitute(pattern: &str, stars: &[String]) -> Option<String> {
    let mut next = stars.iter();
    let parts: Option<Vec<&str>> = pattern
        .split('/')
        .map(|c| {
            if c == "*" {
                next.next().map(String::as_str)
            } else {
                Some(c)
            }
        })
        .collect();
    parts.map(|p| p.join("/"))
}

/// Where `program` runs from: for a bare name, the first executable file named so in `path`
/// (the `PATH` the command gets, resolved against `cwd` for relative entries), as found and
/// with symlinks followed; for a name with a slash, that file (relative to `cwd`). Both forms
/// are returned, since a toolchain may own either (`~/.local/bin/x` linking into a pipx venv).
pub fn locate(program: &str, cwd: &str, path: &str) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let is_executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = if program.contains('/') {
        pathutil::resolve(Some(cwd), "/", program).filter(|p| is_executable(Path::new(p)))
    } else if program.is_empty() {
        None
    } else {
        path.split(':')
            .filter_map(|dir| {
                let dir = if dir.is_empty() { "." } else { dir };
                pathutil::resolve(Some(cwd), "/", &format!("{dir}/{program}"))
            })
            .find(|p| is_executable(Path::new(p)))
    };
    let Some(found) = found else {
        return Vec::new();
    };
    let mut both = vec![found.clone()];
    if let Some(real) = std::fs::canonicalize(&found)
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
    {
        if real != found {
            both.push(real);
        }
    }
    both
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const HOME: &str = "/home/u";

    #[test]
    fn the_builtin_table_parses() {
        let table = Toolchains::parse(BUILTIN).unwrap();
        assert!(table.toolchains.len() >= 10, "{}", table.toolchains.len());
        assert!(table
            .credentials
            .contains(&"~/.cargo/credentials.toml".to_string()));
        assert_eq!(
            Toolchains::builtin().toolchains.len(),
            table.toolchains.len()
        );
        // What `builtin` reads is the YAML's document, made by build.rs.
        let json: serde_json::Value = serde_json::from_str(BUILTIN_JSON).unwrap();
        assert_eq!(json, crate::yaml::parse(BUILTIN).unwrap());
    }

    #[test]
    fn a_rustup_proxy_gets_the_toolchains_but_not_the_cargo_home() {
        let reads = Toolchains::builtin().reads_for(HOME, "/home/u/.cargo/bin/cargo");
        assert_eq!(
            reads,
            [
                "/home/u/.cargo/bin",
                "/home/u/.cargo/config.toml",
                "/home/u/.cargo/config",
                "/home/u/.rustup/settings.toml",
                "/home/u/.rustup/toolchains"
            ]
        );
        assert!(!reads.iter().any(|r| r == "/home/u/.cargo"));
    }

    #[test]
    fn a_versioned_install_gets_exactly_its_own_version() {
        let table = Toolchains::builtin();
        assert_eq!(
            table.reads_for(HOME, "/home/u/.nvm/versions/node/v20.11.0/bin/node"),
            [
                "/home/u/.nvm/versions/node/v20.11.0/bin",
                "/home/u/.nvm/versions/node/v20.11.0/lib",
                "/home/u/.nvm/versions/node/v20.11.0/include"
            ]
        );
        assert_eq!(
            table.reads_for(
                HOME,
                "/home/u/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/cargo"
            ),
            ["/home/u/.rustup/toolchains/stable-x86_64-unknown-linux-gnu"]
        );
    }

    #[test]
    fn programs_outside_every_toolchain_get_nothing() {
        let table = Toolchains::builtin();
        for exe in [
            "/usr/bin/cargo",
            "/home/u/bin/cargo",
            "/home/u/.cargo/cargo",
            // Deeper than the bin directory itself: not a toolchain executable.
            "/home/u/.cargo/bin/sub/cargo",
            "/home/u/.nvm/versions/node/bin/node",
            // Someone else's home.
            "/home/v/.cargo/bin/cargo",
        ] {
            assert!(table.reads_for(HOME, exe).is_empty(), "{exe}");
        }
    }

    /// The data-level guarantee: no grant is, or contains, a credential file, for any value
    /// a `*` could take. Positive control: a grant of `~/.cargo` is caught.
    #[test]
    fn no_grant_contains_a_credential_file() {
        let contains = |grant: &str, credential: &str| {
            // Compare with every `*` as a wildcard component on either side.
            let g: Vec<&str> = grant.split('/').collect();
            let c: Vec<&str> = credential.split('/').collect();
            g.len() <= c.len()
                && g.iter()
                    .zip(&c)
                    .all(|(a, b)| a == b || *a == "*" || *b == "*")
        };
        let table = Toolchains::builtin();
        for toolchain in &table.toolchains {
            for grant in &toolchain.read {
                for credential in &table.credentials {
                    assert!(
                        !contains(grant, credential),
                        "{}: {grant} would expose {credential}",
                        toolchain.name
                    );
                }
            }
        }
        assert!(contains("~/.cargo", "~/.cargo/credentials.toml"));
        assert!(contains(
            "~/.nvm/versions/node/*",
            "~/.nvm/versions/node/*/etc/npmrc"
        ));
        assert!(!contains("~/.cargo/bin", "~/.cargo/credentials.toml"));
    }

    #[test]
    fn locate_follows_path_and_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let real = root.join("venv/bin");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(real.join("tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(real.join("tool"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(real.join("data"), "").unwrap();
        let bin = root.join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(real.join("tool"), bin.join("tool")).unwrap();
        let root = root.to_str().unwrap();
        let path = format!("/nonexistent:{root}/bin");
        assert_eq!(
            locate("tool", "/", &path),
            [format!("{root}/bin/tool"), format!("{root}/venv/bin/tool")]
        );
        // Not executable, not on PATH, or named with a slash relative to the cwd.
        assert!(locate("data", "/", &format!("{root}/venv/bin")).is_empty());
        assert!(locate("tool", "/", "/usr/bin").is_empty());
        assert_eq!(
            locate("./venv/bin/tool", root, ""),
            [format!("{root}/venv/bin/tool")]
        );
    }
}
