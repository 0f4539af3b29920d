//! cordon's home: one directory holding everything a user's cordon keeps between runs.
//!
//! `$CORDON_HOME`, else `$XDG_CONFIG_HOME/cordon`, else `~/.config/cordon`. Every subsystem finds its
//! files here by name, so tests point `CORDON_HOME` at a temporary directory and get a whole, isolated
//! installation. The layout:
//!
//! ```text
//! policy.yaml          the policy in force when no --policy is given
//! keys/                signing key (PKCS#8 PEM), raw public key, key id
//! journal/             the signed, append-only journal
//! approvers            trusted approver keys: IDENTITY PUBLIC-KEY per line (docs/approvals.md)
//! approvals.json       optional approval settings: webhook_url, page_url, store_url (a team's
//!                      PostgreSQL database; CORDON_APPROVALS_URL wins over it)
//! witness.json         optional: the witness this machine's journal is pushed to (docs/fleet.md)
//! state/approvals.db   pending approval requests and consumed approvals (SQLite), unless a team
//!                      database is configured
//! state/sessions/      one file per agent session
//! state/checkpoints/   content-addressed snapshots and their SQLite index
//! state/trash/         soft-deleted files and their manifests
//! state/gateway.sock   the `cordon serve` Unix socket
//! secrets/store        the secret store, encrypted (docs/secrets.md)
//! keys/secrets.key     the secret store's key
//! ```

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use cordon_core::file::Durability;

use crate::exit::CliError;

/// Where `cordon journal` and `cordon export` look when no journal is named.
pub const DEFAULT_JOURNAL: &str = ".cordon/journal";

/// The environment variable that names this machine to a team (approval requests, the witness):
/// for hosts whose host name says nothing (containers, CI runners).
pub const MACHINE_VAR: &str = "CORDON_MACHINE";

/// The name this machine goes by in a team: `CORDON_MACHINE`, else the host name.
pub fn machine_name() -> String {
    std::env::var(MACHINE_VAR)
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(cordon_approval::machine_name)
}

/// What [`Home::ensure`] created; all false when everything was already there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Created {
    pub root: bool,
    pub policy: bool,
    /// The key id of a newly generated signing key.
    pub key_id: Option<String>,
    pub journal: bool,
}

impl Created {
    /// The parts created, for one sentence: "the default policy, a signing key (ID), …".
    pub fn parts(&self) -> Vec<String> {
        let mut parts = Vec::new();
        if self.policy {
            parts.push("the default policy for coding agents (policy.yaml)".to_string());
        }
        if let Some(id) = &self.key_id {
            parts.push(format!("a signing key ({id}, in keys/)"));
        }
        if self.journal {
            parts.push("an empty journal (journal/)".to_string());
        }
        parts
    }
}

/// The resolved home directory and the paths inside it. Creating it is the caller's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// The home from the environment, or `None` when there is no `$HOME` to put it under.
    pub fn from_env() -> Option<Home> {
        if let Some(dir) = std::env::var_os("CORDON_HOME").filter(|d| !d.is_empty()) {
            return Some(Home::at(PathBuf::from(dir)));
        }
        if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
            return Some(Home::at(PathBuf::from(dir).join("cordon")));
        }
        std::env::var_os("HOME")
            .filter(|d| !d.is_empty())
            .map(|h| Home::at(PathBuf::from(h).join(".config").join("cordon")))
    }

    pub fn at(root: PathBuf) -> Home {
        Home { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn policy(&self) -> PathBuf {
        self.root.join("policy.yaml")
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.root.join("journal")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    pub fn approvals_db(&self) -> PathBuf {
        self.state_dir().join("approvals.db")
    }

    pub fn approvers(&self) -> PathBuf {
        self.root.join("approvers")
    }

    pub fn approvals_config(&self) -> PathBuf {
        self.root.join("approvals.json")
    }

    /// The witness this machine pushes its journal to (`crate::witnessing`).
    pub fn witness_config(&self) -> PathBuf {
        self.root.join("witness.json")
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.state_dir().join("sessions")
    }

    pub fn checkpoints_dir(&self) -> PathBuf {
        self.state_dir().join("checkpoints")
    }

    pub fn trash_dir(&self) -> PathBuf {
        self.state_dir().join("trash")
    }

    pub fn gateway_socket(&self) -> PathBuf {
        self.state_dir().join("gateway.sock")
    }

    /// The secret store and its key (`cordon secret`, docs/secrets.md).
    pub fn secret_store(&self) -> cordon_secrets::SecretStore {
        cordon_secrets::SecretStore::new(
            self.root.join("secrets").join("store"),
            self.keys_dir().join("secrets.key"),
        )
    }

    /// The secret store as the governor resolves grants from it: `env:` references read this
    /// process's environment, `file:~/` and `cmd:` use the user's home.
    pub fn secrets_place(&self) -> cordon_governor::SecretsPlace {
        cordon_governor::SecretsPlace {
            store: self.secret_store(),
            home: PathBuf::from(cordon_core::user::home()),
            env: std::sync::Arc::new(|name: &str| std::env::var_os(name)),
        }
    }

    /// The approval desk, for the governor and for everything else that opens the approval
    /// store (`ApprovalDesk::open_store`): the home's files, `CORDON_APPROVALS_URL`, and this
    /// machine's name.
    pub fn approval_desk(&self) -> cordon_governor::ApprovalDesk {
        cordon_governor::ApprovalDesk {
            approvers: self.approvers(),
            store: self.approvals_db(),
            channels: self.approvals_config(),
            // Lossy, not ignored: a garbled URL must fail, not fall back to a private store.
            store_url: std::env::var_os(cordon_approval::location::APPROVALS_URL_VAR)
                .map(|url| url.to_string_lossy().into_owned()),
            machine: machine_name(),
        }
    }

    /// Where snapshots, the trash and the soft-delete services live, for the governor. The
    /// services' run directories (the `rm` shim and its socket, which a hardened command must
    /// reach) are each made anew with mode 0700 outside cordon's home, which is closed to every
    /// hardened command, and outside `/tmp`, which a hardened command in a workspace sees as the
    /// workspace's own (`cordon_sandbox`'s `WorkspaceTmp`; a run directory there would make it
    /// keep the host's `/tmp`): the user's runtime directory, else `/var/tmp`, else the system's
    /// temporary directory.
    pub fn snapshot_places(&self) -> cordon_governor::SnapshotPlaces {
        let runs = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute() && dir.is_dir())
            .or_else(|| Some(PathBuf::from("/var/tmp")).filter(|dir| dir.is_dir()))
            .unwrap_or_else(std::env::temp_dir);
        cordon_governor::SnapshotPlaces {
            checkpoints: self.checkpoints_dir(),
            trash: self.trash_dir(),
            runs,
            sessions: self.sessions_dir(),
        }
    }

    /// Replaces a `policy.yaml` that is byte for byte a default pack an earlier cordon wrote (so
    /// nobody edited it) with this version's pack, and says so once on stderr: the pack's fixes
    /// (new credential names, settings that run code) reach a home made before them. An edited
    /// policy is never touched. Costs one `stat` unless the size is one an earlier pack had.
    pub fn upgrade_an_earlier_default_pack(&self) -> Result<bool, CliError> {
        self.upgrade_a_pack_of(cordon_policy::native::earlier_default_packs())
    }

    /// [`Home::upgrade_an_earlier_default_pack`] for the packs `earlier` lists.
    fn upgrade_a_pack_of(
        &self,
        earlier: cordon_policy::native::EarlierPacks<'_>,
    ) -> Result<bool, CliError> {
        let policy = self.policy();
        let Ok(meta) = std::fs::symlink_metadata(&policy) else {
            return Ok(false);
        };
        if !meta.is_file() || !earlier.may_hold(meta.len()) {
            return Ok(false);
        }
        let Ok(text) = std::fs::read(&policy) else {
            return Ok(false);
        };
        if !earlier.holds(&text) {
            return Ok(false);
        }
        self.write_default_pack()?;
        crate::output::say!(
            "cordon: {} was an earlier version's default policy, never edited: updated it to this version's",
            policy.display()
        );
        Ok(true)
    }

    /// Writes this version's default pack as `policy.yaml`, atomically, so a concurrent first
    /// use never reads half a policy.
    fn write_default_pack(&self) -> Result<(), CliError> {
        let policy = self.policy();
        cordon_core::file::write_atomically(
            &policy,
            cordon_policy::native::DEFAULT_PACK.as_bytes(),
            Durability::Durable,
        )
        .map_err(|e| {
            CliError::internal(format!(
                "{}: cannot write the default policy: {e}",
                policy.display()
            ))
        })
    }

    /// Creates whatever is missing of a working home: the directory (mode 0700), the default
    /// policy pack as `policy.yaml`, a signing key in `keys/` and an empty journal. What exists is
    /// kept: an edited policy, the key that signed earlier entries, a journal with history.
    pub fn ensure(&self) -> Result<Created, CliError> {
        let mut created = Created {
            root: !self.root.exists(),
            ..Created::default()
        };
        make_private_dir(&self.root)?;
        make_private_dir(&self.state_dir())?;

        let policy = self.policy();
        if !policy.exists() {
            self.write_default_pack()?;
            created.policy = true;
        }

        let keys = self.keys_dir();
        if private_keys(&keys).is_empty() {
            make_private_dir(&keys)?;
            let generated = cordon_journal::keys::generate(&keys, None)
                .map_err(|e| CliError::internal(format!("cannot create the signing key: {e}")))?;
            created.key_id = Some(generated.key_id);
        }

        let journal = self.journal_dir();
        if !journal.join(cordon_journal::store::META_FILE).exists() {
            cordon_journal::Journal::open(&journal).map_err(|e| {
                CliError::internal(format!(
                    "{}: cannot create the journal: {e}",
                    journal.display()
                ))
            })?;
            created.journal = true;
        }
        Ok(created)
    }

    /// The home's signing key: the one `*.pem` in `keys/`, and the key id its file name carries
    /// (`cordon_journal::keys::generate` names it `<id>.pem`).
    pub fn signing_key(&self) -> Result<(PathBuf, String), CliError> {
        let dir = self.keys_dir();
        let mut keys = private_keys(&dir);
        let key = match keys.len() {
            1 => keys.remove(0),
            0 => {
                return Err(CliError::invalid_input(format!(
                    "{}: no signing key, so nothing can be recorded; run `cordon init`",
                    dir.display()
                )))
            }
            n => {
                return Err(CliError::invalid_input(format!(
                    "{}: {n} private keys; keep exactly one signing key there",
                    dir.display()
                )))
            }
        };
        let key_id = key
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| {
                CliError::invalid_input(format!("{}: the key's name is not UTF-8", key.display()))
            })?
            .to_string();
        Ok((key, key_id))
    }

    /// The home's verifying key under its key id: what signed this home's journal, checkpoints
    /// and trash items. `Err` when the home has no key (or its public half cannot be read).
    pub fn key_ring(&self) -> Result<cordon_journal::KeyRing, CliError> {
        let (pem, key_id) = self.signing_key()?;
        let public = pem.with_extension("pub");
        let bytes = crate::input::read_input(&public, 64 << 10, "public key")?;
        let key = cordon_journal::keys::parse_public_key(&bytes)
            .map_err(|e| CliError::invalid_input(format!("{}: {e}", public.display())))?;
        Ok(cordon_journal::KeyRing::single(key_id, key))
    }
}

/// The home from the environment, created with everything a first run needs when it does not
/// exist yet, which is said once on stderr. `None` when there is no `$HOME` to put it under.
pub fn first_use() -> Result<Option<Home>, CliError> {
    let Some(home) = Home::from_env() else {
        return Ok(None);
    };
    if !home.root().exists() {
        let created = home.ensure()?;
        crate::output::say!(
            "cordon: first use: created {} with {}; edit policy.yaml to change what agents may run",
            home.root().display(),
            created.parts().join(", ")
        );
    } else {
        home.upgrade_an_earlier_default_pack()?;
    }
    Ok(Some(home))
}

/// Creates whatever part of the home is missing (`Home::ensure`); `verbose` says what was created
/// on stdout, otherwise on stderr (install's output is about the agent's file).
pub fn ensure(verbose: bool) -> Result<Home, CliError> {
    let home = Home::from_env().ok_or_else(|| {
        CliError::usage(
            "no config home: set CORDON_HOME (or HOME) to say where cordon keeps its files",
        )
    })?;
    let created = home.ensure()?;
    home.upgrade_an_earlier_default_pack()?;
    for part in created.parts() {
        if verbose {
            crate::output::say_out!("created {part}");
        } else {
            crate::output::say!("cordon: created {part} in {}", home.root().display());
        }
    }
    Ok(home)
}

fn make_private_dir(dir: &Path) -> Result<(), CliError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| CliError::internal(format!("{}: cannot create: {e}", dir.display())))
}

/// The private keys (`*.pem`) in `dir`; none when it cannot be read.
fn private_keys(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "pem"))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The envelope never opens cordon's home (`EnvelopePaths::cordon_home`); the store and its
    /// key must therefore live inside it, and the signing key must stay findable beside the
    /// store's key.
    #[test]
    fn the_secret_store_and_its_key_live_in_the_home_the_envelope_never_opens() {
        #![allow(clippy::unwrap_used)]
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        let pack = cordon_policy::native::LoadedNativePolicy::default_pack().unwrap();
        let envelope = cordon_policy::envelope::envelope_paths(
            &cordon_policy::envelope::PolicyGlobs::of(&pack.policy),
            cordon_policy::toolchains::Toolchains::builtin(),
            &dir.path().join("ws"),
            dir.path(),
            home.root(),
            &|_| Vec::new(),
        );
        let store = home.secret_store();
        for file in [store.path(), store.key_path()] {
            assert!(
                file.starts_with(&envelope.cordon_home),
                "{}",
                file.display()
            );
        }
        home.ensure().unwrap();
        let name = cordon_secrets::SecretName::new("github").unwrap();
        let value = cordon_secrets::SecretValue::new("github", b"ghp_home-test-1234".to_vec());
        store
            .set(&name, cordon_secrets::StoredSecret::Value(value.unwrap()))
            .unwrap();
        assert!(
            home.signing_key().is_ok(),
            "the store's key hid the signing key"
        );
    }

    #[test]
    fn ensure_creates_what_is_missing_and_keeps_what_exists() {
        #![allow(clippy::unwrap_used)]
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        let first = home.ensure().unwrap();
        assert!(first.root && first.policy && first.journal && first.key_id.is_some());
        let (key, id) = home.signing_key().unwrap();
        assert_eq!(Some(id.clone()), first.key_id);
        std::fs::write(home.policy(), "edited").unwrap();
        let again = home.ensure().unwrap();
        assert_eq!(again, Created::default(), "{again:?}");
        assert_eq!(std::fs::read_to_string(home.policy()).unwrap(), "edited");
        assert_eq!(home.signing_key().unwrap(), (key, id));
    }

    #[test]
    fn an_unedited_earlier_default_pack_is_updated_and_an_edited_one_is_kept() {
        #![allow(clippy::unwrap_used)]
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        home.ensure().unwrap();
        // The current pack is left as it is.
        assert!(!home.upgrade_an_earlier_default_pack().unwrap());
        // An earlier pack, listed by its size and hash as the real list lists them.
        let old_pack = "cordon_policy: 1\nname: coding-agent-default\nrules: []\n";
        let list = format!(
            "# size sha256 commit\n{} {} 0123456789ab\n",
            old_pack.len(),
            cordon_core::hash::sha256_hex(old_pack.as_bytes())
        );
        let earlier = cordon_policy::native::EarlierPacks(&list);
        std::fs::write(home.policy(), old_pack).unwrap();
        assert!(home.upgrade_a_pack_of(earlier).unwrap());
        assert_eq!(
            std::fs::read_to_string(home.policy()).unwrap(),
            cordon_policy::native::DEFAULT_PACK
        );
        // The same pack edited by one byte is the user's: kept.
        let edited = old_pack.replace("rules: []", "rules: {}");
        std::fs::write(home.policy(), &edited).unwrap();
        assert!(!home.upgrade_a_pack_of(earlier).unwrap());
        assert_eq!(std::fs::read_to_string(home.policy()).unwrap(), edited);
    }

    #[test]
    fn every_path_lives_under_the_root() {
        let home = Home::at(PathBuf::from("h"));
        for path in [
            home.policy(),
            home.keys_dir(),
            home.journal_dir(),
            home.approvals_db(),
            home.witness_config(),
            home.sessions_dir(),
            home.checkpoints_dir(),
            home.trash_dir(),
            home.gateway_socket(),
        ] {
            assert!(path.starts_with("h"), "{}", path.display());
        }
    }
}
