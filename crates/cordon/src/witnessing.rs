//! The machine's side of the witness (docs/fleet.md): which witness the home's journal goes to,
//! pushing it there once (`cordon journal push`) or continuously (`cordon serve`), and the witness
//! keys `cordon verify` holds the journal's kept cosigned checkpoints to.
//!
//! The witness is configured in the home's `witness.json`:
//!
//! ```json
//! {"url": "http://witness.example.org:8740",
//!  "key": "witness.example.org/cordon+1a2b3c4d+BASE64",
//!  "push_interval_secs": 10}
//! ```
//!
//! `key` is the verifier key `cordon witness serve` prints. It is required: the machine keeps a
//! cosigned checkpoint only after checking the cosignature, so a witness whose key is unknown
//! vouches for nothing. `push_interval_secs` (default 5) is how often `cordon serve` looks for new
//! entries to push.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cordon_journal::witness::client::{push_journal, Pushed, DEFAULT_BATCH};
use cordon_journal::witness::WitnessKey;
use cordon_journal::{Journal, JournalError, Signer};

use crate::exit::CliError;
use crate::home::Home;

/// How often `cordon serve` pushes when `witness.json` does not say.
pub const DEFAULT_PUSH_INTERVAL: Duration = Duration::from_secs(5);

/// `witness.json`, as written.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessFile {
    url: String,
    key: String,
    push_interval_secs: Option<u64>,
}

/// A witness this machine pushes to: where it answers and the key its cosignatures must carry.
#[derive(Debug, Clone)]
pub struct WitnessTarget {
    pub url: String,
    pub key: WitnessKey,
    pub push_interval: Duration,
}

impl WitnessTarget {
    /// The home's `witness.json`, or `None` when there is none. A file that exists but is not a
    /// valid configuration is an error: a team that configured a witness must not silently get
    /// a machine that pushes nowhere.
    pub fn configured(home: &Home) -> Result<Option<WitnessTarget>, CliError> {
        let path = home.witness_config();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(CliError::invalid_input(format!("{}: {e}", path.display())));
            }
        };
        let bad = |why: String| CliError::invalid_input(format!("{}: {why}", path.display()));
        let file: WitnessFile = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        let mut target = WitnessTarget::new(&file.url, &file.key).map_err(|e| bad(e.message))?;
        if let Some(secs) = file.push_interval_secs {
            if !(1..=86_400).contains(&secs) {
                return Err(bad(format!(
                    "push_interval_secs is {secs}; use 1 to 86400 seconds"
                )));
            }
            target.push_interval = Duration::from_secs(secs);
        }
        Ok(Some(target))
    }

    /// A witness named on the command line (or in `witness.json`).
    pub fn new(url: &str, vkey: &str) -> Result<WitnessTarget, CliError> {
        check_url(url)?;
        Ok(WitnessTarget {
            url: url.trim_end_matches('/').to_string(),
            key: parse_witness_key(vkey)?,
            push_interval: DEFAULT_PUSH_INTERVAL,
        })
    }
}

/// A witness is reached over HTTP(S).
pub fn check_url(url: &str) -> Result<(), CliError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "the witness URL {url:?} must start with http:// or https://"
        )))
    }
}

/// Parses a verifier key as `cordon witness serve` prints it.
pub fn parse_witness_key(vkey: &str) -> Result<WitnessKey, CliError> {
    WitnessKey::parse_vkey(vkey.trim()).map_err(|e| {
        CliError::usage(format!(
            "{e} (expected the verifier key `cordon witness serve` prints: NAME+KEYID+BASE64)"
        ))
    })
}

/// A journal and the key that signs its checkpoints: what a push sends.
#[derive(Debug)]
pub struct PushSource {
    pub journal: PathBuf,
    pub signer: Signer,
}

impl PushSource {
    /// The home's journal and signing key: what `cordon exec`, the hooks and the gateway write.
    pub fn home(home: &Home) -> Result<PushSource, CliError> {
        let (pem, key_id) = home.signing_key()?;
        Ok(PushSource {
            journal: home.journal_dir(),
            signer: Signer::from_file(&pem, key_id)
                .map_err(|e| CliError::invalid_input(e.to_string()))?,
        })
    }
}

/// Opens the journal to push, which must exist.
pub fn open_journal(dir: &Path) -> Result<Journal, CliError> {
    if !dir.join(cordon_journal::store::META_FILE).exists() {
        return Err(CliError::invalid_input(format!(
            "{}: not a cordon journal (no {} found)",
            dir.display(),
            cordon_journal::store::META_FILE
        )));
    }
    Journal::open_existing(dir)
        .map_err(|e| CliError::invalid_input(format!("{}: {e}", dir.display())))
}

/// Pushes every entry `witness` has not cosigned, and keeps the cosigned checkpoint in the
/// journal's `witnessed/` directory.
pub fn push(
    journal: &mut Journal,
    signer: &Signer,
    witness: &WitnessTarget,
    machine: &str,
    rotation: Option<&str>,
) -> Result<Pushed, JournalError> {
    push_journal(
        journal,
        signer,
        &witness.url,
        &witness.key,
        machine,
        rotation,
        DEFAULT_BATCH,
    )
}

/// One sentence for a failed push, naming the witness.
pub fn push_failure(witness: &WitnessTarget, error: &JournalError) -> String {
    match error {
        JournalError::Refused { code, reason } => format!(
            "the witness {} refused the journal ({code}): {reason}",
            witness.key.name
        ),
        other => format!("the push to the witness at {} failed: {other}", witness.url),
    }
}

/// `cordon serve`'s pusher: every `push_interval`, pushes the home's journal when it grew since
/// the last accepted push (and once at start). A failure is reported through `report` once, not
/// at every round, and the pusher keeps trying: the entries stay on the machine, and the next
/// accepted push carries them all. It never returns.
pub fn push_continuously(
    source: PushSource,
    witness: WitnessTarget,
    machine: String,
    report: impl Fn(String),
) -> Result<(), String> {
    let mut journal: Option<Journal> = None;
    let mut pushed_size: Option<u64> = None;
    let mut last_failure: Option<String> = None;
    loop {
        let round = push_round(&source, &witness, &machine, &mut journal, pushed_size);
        match round {
            Ok(Some(size)) => {
                if last_failure.take().is_some() {
                    report(format!(
                        "the witness {} accepted the journal again ({size} entries cosigned)",
                        witness.key.name
                    ));
                }
                pushed_size = Some(size);
            }
            Ok(None) => {}
            Err(why) => {
                // A journal handle that failed is opened afresh next round.
                journal = None;
                if last_failure.as_deref() != Some(why.as_str()) {
                    report(why.clone());
                    last_failure = Some(why);
                }
            }
        }
        std::thread::sleep(witness.push_interval);
    }
}

/// One round of [`push_continuously`]: the cosigned size after a push, `None` when there was
/// nothing new.
fn push_round(
    source: &PushSource,
    witness: &WitnessTarget,
    machine: &str,
    journal: &mut Option<Journal>,
    pushed_size: Option<u64>,
) -> Result<Option<u64>, String> {
    let open = match journal.take() {
        Some(open) => open,
        None => open_journal(&source.journal).map_err(|e| e.message)?,
    };
    let open = journal.insert(open);
    open.refresh()
        .map_err(|e| format!("{}: {e}", source.journal.display()))?;
    if open.is_empty() || pushed_size == Some(open.len()) {
        return Ok(None);
    }
    push(open, &source.signer, witness, machine, None)
        .map(|pushed| Some(pushed.size))
        .map_err(|e| push_failure(witness, &e))
}
