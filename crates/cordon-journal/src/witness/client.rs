//! The machine's side of the witness: push the journal, keep the cosigned checkpoint, and verify a
//! machine's whole history from the witness's mirror.
//!
//! The cosigned checkpoint is kept in `DIR/witnessed/<witness name>.checkpoint` (the name with
//! `/` as `_`), replaced atomically after every accepted push. [`crate::verify::verify_witnessed`]
//! holds the journal to it.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use super::{Cosigned, Push, WitnessKey};
use crate::error::JournalError;
use crate::keys::{KeyRing, Signer};
use crate::note::{Checkpoint, Note};
use crate::store::Journal;
use crate::verify::{verify_journal, Verdict, VerifyOptions};

/// Where cosigned checkpoints are kept in a journal directory.
pub const WITNESSED_DIR: &str = "witnessed";
/// Entries per push request.
pub const DEFAULT_BATCH: u64 = 10_000;
/// Largest answer read from a witness.
const MAX_ANSWER: u64 = 512 * 1024 * 1024;

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The latest cosigned checkpoint, as stored.
    pub cosigned: String,
    pub size: u64,
    /// Entries sent in this call.
    pub entries_sent: u64,
    pub requests: u32,
}

/// The file holding `witness`'s latest cosignature for the journal in `dir`.
pub fn witnessed_path(dir: &Path, witness: &str) -> PathBuf {
    dir.join(WITNESSED_DIR)
        .join(format!("{}.checkpoint", witness.replace('/', "_")))
}

fn transport(url: &str, reason: impl Into<String>) -> JournalError {
    JournalError::Transport {
        url: url.to_string(),
        reason: reason.into(),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// Sends `body` (or GETs when `None`) and returns the status and the JSON answer.
fn call(url: &str, body: Option<String>) -> Result<(u16, Value), JournalError> {
    let agent = agent();
    let response = match body {
        Some(b) => agent
            .post(url)
            .header("content-type", "application/json")
            .send(b.as_str()),
        None => agent.get(url).call(),
    };
    let mut response = response.map_err(|e| transport(url, format!("unreachable: {e}")))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_string()
        .map_err(|e| transport(url, format!("the answer could not be read: {e}")))?;
    let value = serde_json::from_str(&text).map_err(|_| {
        transport(
            url,
            format!("answered {status} with something that is not JSON"),
        )
    })?;
    Ok((status, value))
}

/// Turns a witness's error answer into the error it stands for.
fn answer_error(url: &str, status: u16, v: &Value) -> JournalError {
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    match (status, text("code").as_str()) {
        (409, "stale") => JournalError::Stale {
            witnessed_size: v.get("witnessed_size").and_then(Value::as_u64).unwrap_or(0),
            claimed: 0,
            checkpoint: v
                .get("checkpoint")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
        (422, code) => JournalError::Refused {
            code: code.to_string(),
            reason: text("error"),
        },
        _ => transport(url, format!("answered {status}: {}", text("error"))),
    }
}

/// The size of the checkpoint `witness` last cosigned for this journal, as kept on disk (0 when
/// none is kept). The witness has the final word: a push from the wrong size is answered with
/// the right one.
fn witnessed_size(dir: &Path, witness: &WitnessKey) -> u64 {
    fs::read_to_string(witnessed_path(dir, &witness.name))
        .ok()
        .and_then(|t| Note::parse(&t).ok())
        .and_then(|n| Checkpoint::parse_body(&n.text).ok())
        .map_or(0, |cp| cp.size)
}

/// Pushes every entry the witness has not cosigned yet, in batches of `batch`, each with a
/// checkpoint signed by `signer` and a consistency proof; stores the cosigned checkpoint after
/// each accepted batch. `rotation` (a statement signed by the previous key) goes with the first
/// request. Refusals come back as [`JournalError::Refused`].
pub fn push_journal(
    journal: &mut Journal,
    signer: &Signer,
    url: &str,
    witness: &WitnessKey,
    machine: &str,
    rotation: Option<&str>,
    batch: u64,
) -> Result<Pushed, JournalError> {
    journal.refresh()?;
    let size = journal.len();
    let endpoint = format!("{}/v1/push", url.trim_end_matches('/'));
    let mut from = witnessed_size(journal.dir(), witness);
    let mut rotation = rotation.map(str::to_string);
    let mut report = Pushed {
        cosigned: String::new(),
        size: from,
        entries_sent: 0,
        requests: 0,
    };
    let mut restarts = 0;
    loop {
        if from > size {
            return Err(JournalError::Refused {
                code: "truncated".into(),
                reason: format!(
                    "the witness has cosigned {from} entries of this log but the journal holds {size}: it was truncated or rolled back"
                ),
            });
        }
        let to = size.min(from + batch.max(1));
        let push = build_push(journal, signer, machine, from, to, rotation.clone())?;
        report.requests += 1;
        let (status, answer) = call(
            &endpoint,
            Some(
                serde_json::to_string(&push)
                    .map_err(|e| JournalError::InvalidEntry(e.to_string()))?,
            ),
        )?;
        if status != 200 {
            match answer_error(url, status, &answer) {
                JournalError::Stale { witnessed_size, .. } if restarts < 3 => {
                    restarts += 1;
                    from = witnessed_size;
                    continue;
                }
                e => return Err(e),
            }
        }
        let cosigned: Cosigned = serde_json::from_value(answer)
            .map_err(|e| transport(url, format!("the answer is not a cosigned checkpoint: {e}")))?;
        keep(journal.dir(), witness, &push.checkpoint, &cosigned)?;
        rotation = None;
        report.entries_sent += to - from;
        report.cosigned = cosigned.checkpoint;
        report.size = to;
        from = to;
        if from >= size {
            return Ok(report);
        }
    }
}

/// The push of entries `from..to` with a fresh checkpoint for `to`.
fn build_push(
    journal: &Journal,
    signer: &Signer,
    machine: &str,
    from: u64,
    to: u64,
    rotation: Option<String>,
) -> Result<Push, JournalError> {
    let checkpoint = Checkpoint {
        origin: journal.origin().to_string(),
        size: to,
        root: journal.root_at(to)?,
        extensions: Vec::new(),
    }
    .sign(signer)?;
    let consistency = if from > 0 && to > from {
        journal.consistency_proof(from, to)?
    } else {
        Vec::new()
    };
    let entries = (from..to)
        .map(|i| {
            String::from_utf8(journal.read_entry(i)?)
                .map_err(|_| JournalError::Corrupt(format!("entry {i} is not UTF-8")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Push {
        origin: journal.origin().to_string(),
        machine: machine.to_string(),
        public_key: STANDARD.encode(signer.verifying_key().as_bytes()),
        old_size: from,
        consistency: consistency.iter().map(|h| STANDARD.encode(h)).collect(),
        checkpoint,
        entries,
        rotation,
    })
}

/// Checks the witness's answer (our checkpoint, with a valid cosignature by `witness`) and keeps
/// it, replacing the previous one atomically.
fn keep(
    dir: &Path,
    witness: &WitnessKey,
    sent: &str,
    cosigned: &Cosigned,
) -> Result<(), JournalError> {
    let note = Note::parse(&cosigned.checkpoint)?;
    let ours = Note::parse(sent)?;
    if note.text != ours.text || witness.cosigned_at(&note)?.is_none() {
        return Err(JournalError::Refused {
            code: "bad_cosignature".into(),
            reason: format!(
                "the answer is not this checkpoint cosigned by {:?}",
                witness.name
            ),
        });
    }
    let path = witnessed_path(dir, &witness.name);
    let parent = dir.join(WITNESSED_DIR);
    fs::create_dir_all(&parent).map_err(|e| JournalError::io(&parent, &e))?;
    let tmp = parent.join(format!(".{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut f = fs::File::create(&tmp)?;
        f.write_all(cosigned.checkpoint.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, &path)
    };
    write().map_err(|e| JournalError::io(&path, &e))?;
    crate::keys::sync_dir(&parent)
}

/// The latest cosigned checkpoint of `origin` and all its entries, from the witness's mirror.
pub fn fetch_log(url: &str, origin: &str) -> Result<(String, Vec<String>), JournalError> {
    let base = url.trim_end_matches('/');
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let (status, answer) = call(&format!("{base}/v1/log?origin={}", enc(origin)), None)?;
    if status != 200 {
        return Err(answer_error(url, status, &answer));
    }
    let checkpoint = answer
        .get("checkpoint")
        .and_then(Value::as_str)
        .ok_or_else(|| transport(url, "the answer has no checkpoint"))?
        .to_string();
    let size = answer.get("size").and_then(Value::as_u64).unwrap_or(0);
    let mut lines = Vec::with_capacity(size as usize);
    while (lines.len() as u64) < size {
        let start = lines.len() as u64;
        let end = size.min(start + super::server::MAX_PAGE);
        let (status, page) = call(
            &format!(
                "{base}/v1/entries?origin={}&start={start}&end={end}",
                enc(origin)
            ),
            None,
        )?;
        if status != 200 {
            return Err(answer_error(url, status, &page));
        }
        let got: Vec<String> = page
            .get("entries")
            .and_then(|e| serde_json::from_value(e.clone()).ok())
            .ok_or_else(|| transport(url, "the answer has no entries"))?;
        if got.len() as u64 != end - start {
            return Err(transport(
                url,
                format!("asked for entries {start}..{end}, got {}", got.len()),
            ));
        }
        lines.extend(got);
    }
    Ok((checkpoint, lines))
}

/// Verifies a machine's whole history from the witness's mirror alone: fetches the log, requires
/// the latest checkpoint to carry `witness`'s valid cosignature, rebuilds the journal in `scratch`
/// (an empty directory) and verifies it against that checkpoint with the machine's keys in
/// `ring`. What `cordon verify --witness URL ORIGIN` reports.
pub fn verify_from_witness(
    url: &str,
    origin: &str,
    ring: &KeyRing,
    witness: &WitnessKey,
    scratch: &Path,
) -> Result<Verdict, JournalError> {
    let (checkpoint, lines) = fetch_log(url, origin)?;
    if witness.cosigned_at(&Note::parse(&checkpoint)?)?.is_none() {
        return Err(JournalError::Refused {
            code: "not_cosigned".into(),
            reason: format!(
                "the witness's checkpoint for {origin:?} carries no cosignature by {:?}",
                witness.name
            ),
        });
    }
    let meta = crate::store::Meta {
        journal_version: crate::store::JOURNAL_VERSION.into(),
        origin: origin.to_string(),
    };
    let write = |name: &str, bytes: &[u8]| {
        let path = scratch.join(name);
        fs::write(&path, bytes).map_err(|e| JournalError::io(&path, &e))
    };
    fs::create_dir_all(scratch).map_err(|e| JournalError::io(scratch, &e))?;
    write(
        crate::store::META_FILE,
        serde_json::to_string(&meta)
            .map_err(|e| JournalError::Corrupt(e.to_string()))?
            .as_bytes(),
    )?;
    let mut all = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in &lines {
        all.push_str(l);
        all.push('\n');
    }
    write(crate::store::ENTRIES_FILE, all.as_bytes())?;
    verify_journal(
        scratch,
        &VerifyOptions {
            ring: ring.clone(),
            trusted_checkpoint: Some(checkpoint),
            fast: false,
        },
    )
}
