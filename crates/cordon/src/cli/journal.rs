//! `cordon journal proof|checkpoint|verify-proof`: inclusion proofs and checkpoints on demand;
//! `cordon journal push`: send a witness the entries it has not cosigned and keep its cosigned
//! checkpoint; `cordon journal rotation`: the statement, signed by the old key, that lets a
//! witness accept the journal's new key (docs/fleet.md).

use std::path::PathBuf;

use cordon_core::file::Durability;
use cordon_journal::keys::{self, KeyRing};
use cordon_journal::witness::client as witness_client;
use cordon_journal::{proof, Journal, JournalError, Signer};

use crate::exit::{self, CliError};
use crate::home::DEFAULT_JOURNAL;
use crate::input::read_input;
use crate::output;
use crate::witnessing::{self, PushSource, WitnessTarget};

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Print a c2sp.org/tlog-proof@v1 bundle proving entry N is in the latest checkpoint.
    Proof {
        /// Zero-based entry index.
        index: u64,
        #[arg(long, default_value = DEFAULT_JOURNAL)]
        journal: PathBuf,
    },
    /// Sign and store a checkpoint of the journal as it is now, and print it.
    Checkpoint {
        #[arg(long, default_value = DEFAULT_JOURNAL)]
        journal: PathBuf,
        /// Private key: PKCS#8 PEM, 32-byte seed, or 64-byte seed and public key.
        #[arg(long)]
        signing_key: PathBuf,
        /// Key id (not part of the checkpoint; notes name keys by origin and key hash).
        #[arg(long, default_value = "checkpoint")]
        key_id: String,
    },
    /// Check a proof bundle offline against the log's public key. Exit 0 valid, 1 invalid.
    VerifyProof {
        bundle: PathBuf,
        /// Raw 32-byte Ed25519 public key of the log.
        #[arg(long)]
        public_key: PathBuf,
    },
    /// Send a witness the entries it has not cosigned yet, with a checkpoint and a consistency
    /// proof, and keep its cosigned checkpoint in JOURNAL/witnessed/. Exit 0 pushed, 1 refused
    /// (the journal does not extend what the witness cosigned), 69 the witness is unreachable.
    Push(PushArgs),
    /// Sign, with the journal's old key, the statement that its new key signs from entry AT on:
    /// what `cordon journal push --rotation F` gives the witness after a key change.
    Rotation(RotationArgs),
}

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The witness's URL; default: `url` in the home's witness.json.
    #[arg(long)]
    pub witness: Option<String>,
    /// The witness's verifier key (what `cordon witness serve` prints); default: `key` in the
    /// home's witness.json.
    #[arg(long)]
    pub witness_key: Option<String>,
    /// The journal; default: the config home's journal, signed with the home's key.
    #[arg(long, requires = "signing_key")]
    pub journal: Option<PathBuf>,
    /// The key the journal's entries are signed with (it signs the pushed checkpoints).
    #[arg(long, requires = "journal")]
    pub signing_key: Option<PathBuf>,
    /// A rotation statement signed by the previous key (`cordon journal rotation`).
    #[arg(long)]
    pub rotation: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RotationArgs {
    /// The journal's previous private key, which signs the statement.
    #[arg(long)]
    pub old_key: PathBuf,
    /// The new key's public key (raw 32 bytes or base64, as `cordon keygen` writes it).
    #[arg(long)]
    pub new_public_key: PathBuf,
    /// The first entry the new key signs; default: the journal's size now.
    #[arg(long)]
    pub at: Option<u64>,
    /// The journal; default: the config home's journal.
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Where to write the statement.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    match args {
        Args::Proof { index, journal } => {
            let j = open(&journal)?;
            let bundle = j
                .proof_bundle(index, None)
                .map_err(|e| CliError::invalid_input(e.to_string()))?;
            output::answer(&bundle, exit::OK)
        }
        Args::Checkpoint {
            journal,
            signing_key,
            key_id,
        } => {
            let bytes = read_input(&signing_key, 64 << 10, "signing key")?;
            let signer = Signer::from_bytes(&bytes, key_id)
                .map_err(|e| CliError::invalid_input(format!("{}: {e}", signing_key.display())))?;
            let mut j = open(&journal)?;
            let (_, text) = j
                .write_checkpoint(&signer)
                .map_err(|e| CliError::internal(e.to_string()))?;
            output::answer(&text, exit::OK)
        }
        Args::VerifyProof { bundle, public_key } => {
            let text = read_input(&bundle, 64 << 20, "proof bundle")?;
            let text = String::from_utf8(text).map_err(|_| {
                CliError::invalid_input(format!(
                    "{}: the bundle is not UTF-8 text",
                    bundle.display()
                ))
            })?;
            let key_bytes = read_input(&public_key, 64 << 10, "public key")?;
            let key = keys::parse_public_key(&key_bytes)
                .map_err(|e| CliError::invalid_input(format!("{}: {e}", public_key.display())))?;
            match proof::verify(&text, None, &KeyRing::any_id(key)) {
                Ok(p) => output::answer(
                    &format!(
                        "VALID — entry {} is in {} at tree size {}\n",
                        p.index, p.checkpoint.origin, p.checkpoint.size
                    ),
                    exit::OK,
                ),
                Err(e) => output::answer(&format!("INVALID — {e}\n"), exit::DENY),
            }
        }
        Args::Push(args) => push(args),
        Args::Rotation(args) => rotation(args),
    }
}

/// The witness from the flags, else from witness.json.
fn witness_target(
    args: &PushArgs,
    home: Option<&crate::home::Home>,
) -> Result<WitnessTarget, CliError> {
    let configured = match home {
        Some(home) => WitnessTarget::configured(home)?,
        None => None,
    };
    let url = args
        .witness
        .clone()
        .or_else(|| configured.as_ref().map(|c| c.url.clone()));
    let key = args
        .witness_key
        .clone()
        .or_else(|| configured.as_ref().map(|c| c.key.vkey()));
    match (url, key) {
        (Some(url), Some(key)) => WitnessTarget::new(&url, &key),
        (None, _) => Err(CliError::usage(
            "no witness: give --witness URL --witness-key VKEY, or configure one in the home's witness.json",
        )),
        (Some(_), None) => Err(CliError::usage(
            "--witness needs --witness-key VKEY (the key `cordon witness serve` printed): a cosigned checkpoint is kept only after its cosignature is checked",
        )),
    }
}

fn push(args: PushArgs) -> Result<u8, CliError> {
    let home = crate::home::Home::from_env();
    let witness = witness_target(&args, home.as_ref())?;
    let source = match (&args.journal, &args.signing_key) {
        (Some(journal), Some(key)) => PushSource {
            journal: journal.clone(),
            signer: Signer::from_file(key, "journal")
                .map_err(|e| CliError::invalid_input(e.to_string()))?,
        },
        _ => PushSource::home(home.as_ref().ok_or_else(|| {
            CliError::usage("no journal named and no config home (set CORDON_HOME or HOME)")
        })?)?,
    };
    let rotation = match &args.rotation {
        Some(path) => {
            let bytes = read_input(path, 64 << 10, "rotation statement")?;
            Some(String::from_utf8(bytes).map_err(|_| {
                CliError::invalid_input(format!(
                    "{}: the statement is not UTF-8 text",
                    path.display()
                ))
            })?)
        }
        None => None,
    };
    let mut journal = witnessing::open_journal(&source.journal)?;
    let machine = crate::home::machine_name();
    let pushed = witnessing::push(
        &mut journal,
        &source.signer,
        &witness,
        &machine,
        rotation.as_deref(),
    )
    .map_err(|e| {
        let message = witnessing::push_failure(&witness, &e);
        match e {
            JournalError::Refused { .. } | JournalError::Stale { .. } => CliError {
                code: exit::DENY,
                message,
            },
            JournalError::Transport { .. } => CliError {
                code: exit::UNAVAILABLE,
                message,
            },
            _ => CliError::internal(message),
        }
    })?;
    let kept = witness_client::witnessed_path(&source.journal, &witness.key.name);
    if args.json {
        let value = serde_json::json!({
            "witness": witness.key.name,
            "url": witness.url,
            "origin": journal.origin(),
            "size": pushed.size,
            "entries_sent": pushed.entries_sent,
            "requests": pushed.requests,
            "kept": kept,
            "checkpoint": pushed.cosigned,
        });
        return output::answer(&format!("{value}\n"), exit::OK);
    }
    output::answer(
        &format!(
            "pushed {} entries of {} to the witness {} in {} request(s); cosigned at size {}, kept in {}\n",
            pushed.entries_sent,
            journal.origin(),
            witness.key.name,
            pushed.requests,
            pushed.size,
            kept.display()
        ),
        exit::OK,
    )
}

fn rotation(args: RotationArgs) -> Result<u8, CliError> {
    let dir = match &args.journal {
        Some(dir) => dir.clone(),
        None => crate::home::Home::from_env()
            .ok_or_else(|| {
                CliError::usage("no journal named and no config home (set CORDON_HOME or HOME)")
            })?
            .journal_dir(),
    };
    let journal = witnessing::open_journal(&dir)?;
    let old = Signer::from_file(&args.old_key, "old")
        .map_err(|e| CliError::invalid_input(e.to_string()))?;
    let new = keys::read_public_key(&args.new_public_key)
        .map_err(|e| CliError::invalid_input(format!("{}: {e}", args.new_public_key.display())))?;
    let at = args.at.unwrap_or(journal.len());
    let text = cordon_journal::witness::rotation_text(journal.origin(), &new, at);
    let note = cordon_journal::note::Note::sign(&text, journal.origin(), &old)
        .map_err(|e| CliError::internal(e.to_string()))?;
    cordon_core::file::write_atomically(&args.out, note.as_bytes(), Durability::Durable)
        .map_err(|e| CliError::internal(format!("{}: {e}", args.out.display())))?;
    output::answer(
        &format!(
            "rotation statement for {} written to {}: the new key signs from entry {at} on\n",
            journal.origin(),
            args.out.display()
        ),
        exit::OK,
    )
}

fn open(dir: &std::path::Path) -> Result<Journal, CliError> {
    if !dir.join(cordon_journal::store::META_FILE).exists() {
        return Err(CliError::invalid_input(format!(
            "{}: not a cordon journal",
            dir.display()
        )));
    }
    Journal::open_existing(dir).map_err(|e| CliError::invalid_input(e.to_string()))
}
