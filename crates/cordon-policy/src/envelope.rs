//! The envelope a policy defines for a workspace (DESIGN.md, "The envelope"): what every command
//! of a hardened run may read, write and list, and what it never may, as plain paths. The
//! governor hands them to `cordon_sandbox::Envelope::builder`, once per process, and the kernel
//! enforces them whatever a command's text says.
//!
//! Read from the policy, not from a list of its own:
//! - **never**: the home-anchored globs (`~/…`) of every *deny* rule that judges paths alone
//!   (only `paths`, `reads` or `writes`, no `unless`): in the default pack, the credentials; plus
//!   the credential files of `data/toolchains.yaml`; plus cordon's own home. A glob in the last
//!   component (`~/.cargo/credentials*`) names the files that exist.
//! - **read-only**: the same from a deny rule that judges writes only: in the default pack, the
//!   shell start-up files and git's user configuration. Programs read them (git takes the user's
//!   name from `~/.gitconfig`, and stops when it cannot read it); writing them runs code later.
//! - **caches** (writable): the home-anchored places a `writes_outside` rule lists as fine to
//!   write, less any that holds a toolchain the envelope lets commands execute (`~/.rustup`: a
//!   command that could write it could replace the compiler).
//! - **reads**: every toolchain of `data/toolchains.yaml` that is installed.
//! - **list**: the home directory, so `ls ~` works (names only).
//!
//! - **never names**: the globs without a slash of the same rules (`.env`, `*.pem`, `id_rsa*`),
//!   which name files anywhere: the sandbox closes each such file its search of the workspace
//!   finds when the run starts (an empty read-only file is mounted over it); one made during the
//!   run, or deeper than the search goes, is the front end's to judge.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use cordon_core::name_glob::NameGlob;

use crate::native::{MatchSpec, NativePolicy, RuleOutcome};
use crate::toolchains::Toolchains;

/// The envelope's paths, all absolute, before the sandbox resolves them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvelopePaths {
    pub workspace: PathBuf,
    /// Listable, never readable as a whole.
    pub home: PathBuf,
    /// cordon's own home (keys, journal, policy, approvers, state, sockets): never reachable.
    pub cordon_home: PathBuf,
    /// Credentials: never reachable.
    pub never: Vec<PathBuf>,
    /// Shell start-up files and other configuration that runs code: readable, never written.
    pub read_only: Vec<PathBuf>,
    /// Writable caches.
    pub caches: Vec<PathBuf>,
    /// Readable and executable toolchains.
    pub reads: Vec<PathBuf>,
    /// File-name globs of credentials (`.env`, `*.pem`): closed where found in the workspace.
    pub never_names: Vec<String>,
    /// What was left out, and why.
    pub notes: Vec<String>,
}

/// Lists a directory's entries; the seam that keeps this module free of file-system reads in
/// tests. [`read_dir_names`] is the real one.
pub type ListDir<'a> = &'a dyn Fn(&Path) -> Vec<OsString>;

/// The names in `dir`, or none when it cannot be read.
pub fn read_dir_names(dir: &Path) -> Vec<OsString> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// What a policy gives the envelope, before any path is expanded: the globs its deny rules
/// close (each with whether the rule judges writes only, which makes it read-only) and the
/// `writes_outside` globs that name caches.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyGlobs {
    pub closed: Vec<(String, bool)>,
    pub caches: Vec<String>,
}

impl PolicyGlobs {
    /// The globs of `policy`: of every *deny* rule that judges paths alone (only `paths`,
    /// `reads` or `writes`, no `unless`), and every rule's `writes_outside`.
    pub fn of(policy: &NativePolicy) -> PolicyGlobs {
        let mut globs = PolicyGlobs::default();
        for rule in &policy.rules {
            if rule.outcome == RuleOutcome::Deny && rule.unless.is_none() {
                if let Some((closed, writes_only)) = path_only_globs(&rule.matches) {
                    let closed = closed.into_iter().map(|g| (g.clone(), writes_only));
                    globs.closed.extend(closed);
                }
            }
            globs
                .caches
                .extend(rule.matches.writes_outside.iter().flatten().cloned());
        }
        globs
    }

    /// The default pack's, taken from it when cordon was built (`build.rs`), so a process that
    /// needs only these does not read the pack; a unit test holds them equal to
    /// [`PolicyGlobs::of`] the pack.
    pub fn default_pack() -> Result<PolicyGlobs, String> {
        serde_json::from_str(DEFAULT_PACK_GLOBS_JSON)
            .map_err(|e| format!("the default pack's envelope globs are malformed: {e}"))
    }
}

const DEFAULT_PACK_GLOBS_JSON: &str =
    include_str!(concat!(env!("OUT_DIR"), "/default-policy-envelope.json"));

/// The envelope `globs` define for `workspace`, with `home` and `cordon_home` as given.
pub fn envelope_paths(
    globs: &PolicyGlobs,
    toolchains: &Toolchains,
    workspace: &Path,
    home: &Path,
    cordon_home: &Path,
    list_dir: ListDir<'_>,
) -> EnvelopePaths {
    let mut paths = closed_paths(globs, toolchains, home, cordon_home, list_dir);
    paths.workspace = workspace.to_path_buf();
    for glob in &globs.caches {
        if let Some(rest) = glob.strip_prefix("~/") {
            let cache = home.join(rest.trim_end_matches("/**").trim_end_matches("/*"));
            push_unique(&mut paths.caches, cache);
        }
    }
    for toolchain in &toolchains.toolchains {
        for read in &toolchain.read {
            for path in expand_toolchain(home, read, list_dir) {
                push_unique(&mut paths.reads, path);
            }
        }
    }
    let reads = paths.reads.clone();
    paths.caches.retain(|cache| {
        let holds = reads.iter().find(|r| r.starts_with(cache));
        if let Some(toolchain) = holds {
            paths.notes.push(format!(
                "the cache {} holds the toolchain {}, which commands execute; it is not writable",
                cache.display(),
                toolchain.display()
            ));
        }
        holds.is_none()
    });
    paths
}

/// What `globs` close, and nothing they grant: the never, read-only and never-name lists, with
/// no workspace, caches or toolchain reads. A CSC profile needs only these (it grants nothing but
/// the contract's declared scopes), and so does not list the toolchain directories.
pub fn closed_paths(
    globs: &PolicyGlobs,
    toolchains: &Toolchains,
    home: &Path,
    cordon_home: &Path,
    list_dir: ListDir<'_>,
) -> EnvelopePaths {
    let mut paths = EnvelopePaths {
        home: home.to_path_buf(),
        cordon_home: cordon_home.to_path_buf(),
        ..EnvelopePaths::default()
    };
    for (glob, writes_only) in &globs.closed {
        add_closed(&mut paths, glob, *writes_only, home, list_dir);
    }
    for credential in &toolchains.credentials {
        add_closed(&mut paths, credential, false, home, list_dir);
    }
    paths
}

/// The globs of a match that judges paths alone, and whether it judges writes only; `None` when
/// it has any other condition.
fn path_only_globs(spec: &MatchSpec) -> Option<(Vec<&String>, bool)> {
    let only_paths = MatchSpec {
        paths: spec.paths.clone(),
        reads: spec.reads.clone(),
        writes: spec.writes.clone(),
        ..MatchSpec::default()
    };
    if *spec != only_paths {
        return None;
    }
    let writes_only = spec.paths.is_none() && spec.reads.is_none();
    let globs = [&spec.paths, &spec.reads, &spec.writes]
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    Some((globs, writes_only))
}

/// A deny rule's glob: closed, or read-only when the rule judges writes only.
fn add_closed(
    paths: &mut EnvelopePaths,
    glob: &str,
    writes_only: bool,
    home: &Path,
    list_dir: ListDir<'_>,
) {
    if glob == "~" {
        // The home itself: the envelope lists it and grants nothing more.
    } else if glob.starts_with("~/") {
        for path in expand(home, glob, list_dir) {
            let list = if writes_only {
                &mut paths.read_only
            } else {
                &mut paths.never
            };
            push_unique(list, path);
        }
    } else if !glob.contains('/') && !writes_only && !paths.never_names.iter().any(|g| g == glob) {
        paths.never_names.push(glob.to_string());
    }
    // `~` itself, system paths and `{workspace}` globs: the envelope does not grant them to
    // begin with (the home is listable only), so there is nothing to close.
}

/// The paths a home-anchored glob names: a trailing `/**` or `/*` is the directory itself; a
/// component with glob characters is matched against the entries that exist.
fn expand(home: &Path, glob: &str, list_dir: ListDir<'_>) -> Vec<PathBuf> {
    let Some(rest) = glob.strip_prefix("~/") else {
        return Vec::new();
    };
    expand_components(
        home,
        rest.trim_end_matches("/**").trim_end_matches("/*"),
        list_dir,
    )
}

/// A toolchain's `read` pattern: each `*` is one existing component (data/toolchains.yaml).
fn expand_toolchain(home: &Path, pattern: &str, list_dir: ListDir<'_>) -> Vec<PathBuf> {
    match pattern.strip_prefix("~/") {
        Some(rest) => expand_components(home, rest, list_dir),
        None => Vec::new(),
    }
}

fn expand_components(home: &Path, rest: &str, list_dir: ListDir<'_>) -> Vec<PathBuf> {
    let mut found = vec![home.to_path_buf()];
    for component in rest.split('/').filter(|c| !c.is_empty()) {
        if !component.contains(['*', '?', '[', '{']) {
            found = found.into_iter().map(|d| d.join(component)).collect();
            continue;
        }
        // A glob that does not parse names nothing.
        let Ok(glob) = NameGlob::new(component) else {
            return Vec::new();
        };
        found = found
            .into_iter()
            .flat_map(|dir| {
                list_dir(&dir)
                    .into_iter()
                    .filter(|name| glob.is_match(name))
                    .map(move |name| dir.join(name))
            })
            .collect();
    }
    found
}

/// Pushes `path` unless `list` holds it as written (byte for byte: comparing `Path`s component
/// by component, each against all, was a sizeable part of building the envelope).
fn push_unique(list: &mut Vec<PathBuf>, path: PathBuf) {
    if !list.iter().any(|p| p.as_os_str() == path.as_os_str()) {
        list.push(path);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::native::LoadedNativePolicy;

    fn listing(dir: &Path) -> Vec<OsString> {
        let names: &[&str] = match dir.to_str().unwrap() {
            "/h/.cargo" => &["bin", "credentials.toml", "registry"],
            "/h/.rustup/toolchains" => &["stable-x86_64", "nightly-x86_64"],
            "/h/.nvm/versions/node" => &["v20.1.0"],
            _ => &[],
        };
        names.iter().map(OsString::from).collect()
    }

    fn default_paths() -> EnvelopePaths {
        let pack = LoadedNativePolicy::default_pack().unwrap();
        envelope_paths(
            &PolicyGlobs::of(&pack.policy),
            Toolchains::builtin(),
            Path::new("/h/project"),
            Path::new("/h"),
            Path::new("/h/.config/cordon"),
            &listing,
        )
    }

    #[test]
    fn the_default_pack_closes_credentials_and_start_up_files() {
        let p = default_paths();
        let h = Path::new("/h");
        for closed in [
            ".ssh",
            ".aws",
            ".gnupg",
            ".kube",
            ".config/gh",
            ".docker/config.json",
            ".netrc",
            ".npmrc",
            ".git-credentials",
            ".cargo/credentials.toml",
        ] {
            assert!(
                p.never.contains(&h.join(closed)),
                "{closed} in {:?}",
                p.never
            );
        }
        for read_only in [
            ".bashrc",
            ".bash_profile",
            ".profile",
            ".zshrc",
            ".gitconfig",
            ".config/git",
            ".config/fish",
            ".config/autostart",
            // Red-team round nineteen.
            ".bashrc.d",
            ".bash_completion",
            ".local/bin",
            ".config/systemd/user",
            ".config/nvim",
            ".config/direnv",
            // Red-team round twenty.
            ".bash_aliases",
            ".oh-my-zsh",
            ".cargo/config.toml",
            ".gdbinit",
        ] {
            let list = &p.read_only;
            assert!(list.contains(&h.join(read_only)), "{read_only} in {list:?}");
            assert!(!p.never.contains(&h.join(read_only)));
        }
        // `~` itself and system paths are not "never": the envelope does not grant them.
        assert!(!p.never.contains(&h.to_path_buf()));
        assert!(!p.never.iter().any(|n| n.starts_with("/etc")));
        // A glob in the last component names the files that exist, nothing wider.
        assert!(!p.never.contains(&h.join(".cargo")));
        assert_eq!(
            p.never_names,
            [
                ".env",
                ".env.local",
                ".env.*.local",
                ".env.production",
                ".env.prod",
                ".env.staging",
                ".env.development",
                ".env.dev",
                ".env.test",
                ".dev.vars",
                "id_rsa*",
                "id_ecdsa*",
                "id_ed25519*",
                "*.pem",
                "*.key",
                "*.p12",
                "*.pfx",
                "*.jks",
                "*.keystore",
                "*.tfstate",
                "*.tfstate.backup",
                "*.tfvars",
                ".env.bak",
                ".env~",
                ".env.old",
                ".env.orig",
                ".env.backup",
                "*.env",
                ".secrets",
                ".env.keys",
                "auth.json",
                "secret.yaml",
                "secret.yml",
                "credentials",
                ".git-credentials*",
                ".gitcookies",
                ".netrc*",
                ".authinfo*",
                ".pgpass*",
                ".pypirc*",
                ".vault-token*",
                ".s3cfg*",
                ".passwd-s3fs",
                ".boto",
                ".my.cnf*",
                ".dockercfg",
                ".terraformrc",
                ".htpasswd*",
                "htpasswd",
                ".htdigest",
                "kubeconfig*",
                "rclone.conf",
                "credentials.json*",
                "credentials.yaml",
                "credentials.yml",
                "credentials.toml",
                "client_secret*.json",
                "*firebase-adminsdk*.json",
                "service-account*.json",
                "application_default_credentials.json",
                "secrets.json*",
                "secrets.yaml*",
                "secrets.yml*",
                "secrets.toml*",
                "*.tfvars.json",
                "*.kdbx",
                "*.ovpn",
                "wallet.dat",
                "secring.gpg"
            ]
        );
    }

    #[test]
    fn caches_are_writable_but_never_a_toolchain_commands_execute() {
        let p = default_paths();
        let h = Path::new("/h");
        for cache in [".cache", ".cargo/registry", ".cargo/git", ".npm"] {
            assert!(
                p.caches.contains(&h.join(cache)),
                "{cache} in {:?}",
                p.caches
            );
        }
        assert!(!p.caches.contains(&h.join(".rustup")), "{:?}", p.caches);
        assert!(
            p.notes.iter().any(|n| n.contains(".rustup")),
            "{:?}",
            p.notes
        );
        // Toolchains: every installed one is readable, and none holds a never path.
        for read in [
            ".cargo/bin",
            ".rustup/toolchains",
            ".rustup/toolchains/stable-x86_64",
            ".nvm/versions/node/v20.1.0/bin",
        ] {
            assert!(p.reads.contains(&h.join(read)), "{read} in {:?}", p.reads);
        }
        for read in &p.reads {
            for never in &p.never {
                assert!(!never.starts_with(read), "{read:?} holds {never:?}");
            }
        }
    }

    #[test]
    fn only_deny_rules_that_judge_paths_alone_close_paths() {
        let text = r#"
cordon_policy: 1
name: t
rules:
  - id: ask-not-deny
    outcome: ask
    reason: r
    match: {paths: ["~/.ask"]}
  - id: with-unless
    outcome: deny
    reason: r
    match: {paths: ["~/.unless"]}
    unless: {program: [cat]}
  - id: with-program
    outcome: deny
    reason: r
    match: {paths: ["~/.program"], program: [cat]}
  - id: closed
    outcome: deny
    reason: r
    match: {reads: ["~/.closed/**"]}
  - id: not-written
    outcome: deny
    reason: r
    match: {writes: ["~/.rc"]}
"#;
        let policy = LoadedNativePolicy::parse(text.as_bytes()).unwrap().policy;
        let p = envelope_paths(
            &PolicyGlobs::of(&policy),
            &Toolchains::default(),
            Path::new("/w"),
            Path::new("/h"),
            Path::new("/c"),
            &listing,
        );
        assert_eq!(p.never, vec![PathBuf::from("/h/.closed")]);
        assert_eq!(p.read_only, vec![PathBuf::from("/h/.rc")]);
        assert_eq!(p.cordon_home, PathBuf::from("/c"));
    }

    #[test]
    fn closed_paths_close_what_the_envelope_closes_and_list_no_toolchain() {
        let pack = LoadedNativePolicy::default_pack().unwrap();
        let listed = std::cell::RefCell::new(Vec::new());
        let recording = |dir: &Path| {
            listed.borrow_mut().push(dir.to_path_buf());
            listing(dir)
        };
        let (h, c) = (Path::new("/h"), Path::new("/h/.config/cordon"));
        let globs = PolicyGlobs::of(&pack.policy);
        let closed = closed_paths(&globs, Toolchains::builtin(), h, c, &recording);
        let full = default_paths();
        assert_eq!(closed.never, full.never);
        assert_eq!(closed.read_only, full.read_only);
        assert_eq!(closed.never_names, full.never_names);
        assert!(closed.reads.is_empty() && closed.caches.is_empty());
        // The credentials' globs list `~/.cargo` and node's versions; the toolchain reads would
        // also list rustup's toolchains (positive control: the full envelope does).
        let rustup = Path::new("/h/.rustup/toolchains");
        assert!(!listed.borrow().iter().any(|d| d == rustup), "{listed:?}");
        assert!(
            full.reads.iter().any(|r| r.starts_with(rustup)),
            "{:?}",
            full.reads
        );
        assert!(!closed.never.is_empty());
    }

    #[test]
    fn the_globs_the_build_took_from_the_default_pack_are_the_packs() {
        let pack = LoadedNativePolicy::default_pack().unwrap();
        let built = PolicyGlobs::default_pack().unwrap();
        assert_eq!(built, PolicyGlobs::of(&pack.policy));
        // Positive control: the pack closes credentials and start-up files, and names caches.
        assert!(
            built.closed.contains(&("~/.ssh/**".to_string(), false)),
            "{built:?}"
        );
        assert!(built.closed.iter().any(|(_, writes_only)| *writes_only));
        assert!(!built.caches.is_empty());
    }
}
