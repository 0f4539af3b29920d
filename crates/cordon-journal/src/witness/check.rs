//! What a witness checks before it cosigns: a pure function from what it witnessed so far and one
//! push to the new state, or a refusal naming what was wrong.
//!
//! In order, cheapest first:
//! 1. the checkpoint is for the pushed origin and signed by the log's key (a new key only with a
//!    rotation statement signed by the old one);
//! 2. the push starts where the witness stopped (`old_size`), otherwise it is stale, not refused;
//! 3. the checkpoint does not shrink the log, and at equal size does not change its root;
//! 4. the RFC 9162 consistency proof from the witnessed checkpoint to the new one verifies;
//! 5. the pushed entries, appended to the witnessed tree, give exactly the new root;
//! 6. every entry is a canonical JSON object signed by the log's key and bound to its position
//!    (`log_position`: this origin, this index, the previous entry's payload hash). Signatures are
//!    verified in batches (ed25519-dalek `verify_batch`); a failing batch is verified entry by
//!    entry with `verify_strict` to name the entry. The log's key must not be a small-order
//!    point, so a batch cannot accept what strict verification of a sound key would refuse
//!    except signatures with small-order components in `R`, which the verifier (strict) reports.
//!
//! Steps 4 and 5 each prove append-only on their own; the witness checks both because the proof
//! is what the C2SP witness protocol defines and the entries are what the mirror keeps.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use serde_json::Value;

use super::{LogState, MirrorRow, Push, Rotation};
use crate::error::JournalError;
use crate::merkle::{self, Hash, TreeBuilder};
use crate::note::{Checkpoint, Note};
use crate::record::{self, EntryKind};

/// The header line of a key rotation statement.
pub const ROTATION_HEADER: &str = "cordon-key-rotation/v1";

/// A push the witness accepted: the log's new state and the rows its mirror gains.
#[derive(Debug)]
pub struct Accepted {
    pub state: LogState,
    pub rows: Vec<MirrorRow>,
    pub rotation: Option<Rotation>,
}

fn refuse(code: &'static str, reason: String) -> JournalError {
    JournalError::Refused {
        code: code.to_string(),
        reason,
    }
}

/// Checks `push` against `witnessed` (None: the witness has never seen this origin).
pub fn check_push(witnessed: Option<&LogState>, push: &Push) -> Result<Accepted, JournalError> {
    let key = pushed_key(push)?;
    let (note, cp) = pushed_checkpoint(push)?;
    let rotation = match witnessed {
        Some(w) if w.key != key => Some(check_rotation(w, &key, push, cp.size)?),
        _ => None,
    };
    if !note.verified_by(&cp.origin, &key) {
        return Err(refuse(
            "bad_checkpoint_signature",
            format!(
                "the checkpoint is not signed as {:?} by the log's key",
                cp.origin
            ),
        ));
    }
    let old_size = witnessed.map_or(0, |w| w.size);
    if push.old_size != old_size {
        return Err(JournalError::Stale {
            witnessed_size: old_size,
            claimed: push.old_size,
            checkpoint: witnessed.map(|w| w.cosigned.clone()),
        });
    }
    let old_root = witnessed.map_or_else(merkle::empty_root, |w| w.root);
    check_extension(old_size, &old_root, &cp, push)?;
    let tree = extended_tree(witnessed, &cp, push)?;
    let keys = KeysInForce {
        before: witnessed.map_or(key, |w| w.key),
        after: key,
        from: rotation.as_ref().map_or(0, |r| r.at_size),
    };
    let previous = witnessed.and_then(|w| w.last_payload);
    let (rows, last_payload) = check_entries(&push.entries, old_size, &cp.origin, &keys, previous)?;
    let machine = witnessed.map_or_else(|| push.machine.clone(), |w| w.machine.clone());
    Ok(Accepted {
        state: LogState {
            origin: cp.origin.clone(),
            machine,
            key,
            size: cp.size,
            root: cp.root,
            frontier: tree.frontier(),
            last_payload: last_payload.or(previous),
            checkpoint: push.checkpoint.clone(),
            cosigned: String::new(),
        },
        rows,
        rotation,
    })
}

/// The log's public key as pushed: standard base64 of an Ed25519 key that is not a small-order
/// point.
fn pushed_key(push: &Push) -> Result<VerifyingKey, JournalError> {
    let raw_key = STANDARD
        .decode(&push.public_key)
        .map_err(|_| refuse("malformed_push", "public_key is not standard base64".into()))?;
    let key = crate::keys::parse_public_key(&raw_key)
        .map_err(|e| refuse("malformed_push", format!("public_key: {e}")))?;
    if key.is_weak() {
        return Err(refuse(
            "malformed_push",
            "public_key is a small-order point, which verifies forged signatures".into(),
        ));
    }
    Ok(key)
}

/// The pushed checkpoint, parsed (its signature is not checked yet), for the pushed origin.
fn pushed_checkpoint(push: &Push) -> Result<(Note, Checkpoint), JournalError> {
    let note = Note::parse(&push.checkpoint)
        .map_err(|e| refuse("malformed_push", format!("checkpoint: {e}")))?;
    let cp =
        Checkpoint::parse_body(&note.text).map_err(|e| refuse("malformed_push", e.to_string()))?;
    if cp.origin != push.origin {
        return Err(refuse(
            "origin_mismatch",
            format!(
                "the checkpoint is for origin {:?}, the push for {:?}",
                cp.origin, push.origin
            ),
        ));
    }
    Ok((note, cp))
}

/// Step 5: the witnessed tree with the pushed entries appended, which must have the checkpoint's
/// root.
fn extended_tree(
    witnessed: Option<&LogState>,
    cp: &Checkpoint,
    push: &Push,
) -> Result<TreeBuilder, JournalError> {
    let mut tree = match witnessed {
        Some(w) => TreeBuilder::from_frontier(w.size, &w.frontier).ok_or_else(|| {
            JournalError::Corrupt(format!("the witnessed state of {:?} is damaged", w.origin))
        })?,
        None => TreeBuilder::new(),
    };
    for line in &push.entries {
        tree.push(merkle::leaf_hash(line.as_bytes()));
    }
    if tree.root() != cp.root {
        return Err(refuse(
            "entries_mismatch",
            format!(
                "the {} pushed entries do not hash to the checkpoint's root: they are not the entries {}..{} the log committed to",
                push.entries.len(),
                push.old_size,
                cp.size
            ),
        ));
    }
    Ok(tree)
}

/// Steps 3 and 4: the new checkpoint extends the witnessed one.
fn check_extension(
    old_size: u64,
    old_root: &Hash,
    cp: &Checkpoint,
    push: &Push,
) -> Result<(), JournalError> {
    if cp.size < old_size {
        return Err(refuse(
            "truncated",
            format!(
                "the checkpoint commits to {} entries, fewer than the {old_size} already witnessed: the log was truncated or rolled back",
                cp.size
            ),
        ));
    }
    if cp.size == old_size && cp.root != *old_root {
        return Err(refuse(
            "fork",
            format!(
                "the checkpoint has the witnessed size {old_size} but another root: the history was rewritten"
            ),
        ));
    }
    if push.entries.len() as u64 != cp.size - old_size {
        return Err(refuse(
            "entry_count",
            format!(
                "the push carries {} entries, the checkpoint adds {}",
                push.entries.len(),
                cp.size - old_size
            ),
        ));
    }
    let proof: Vec<Hash> = push
        .consistency
        .iter()
        .map(|h| {
            STANDARD
                .decode(h)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| {
                    refuse(
                        "malformed_push",
                        "a consistency proof hash is not 32 bytes of base64".into(),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    if old_size == 0 || cp.size == old_size {
        if !proof.is_empty() {
            return Err(refuse(
                "inconsistent",
                "a consistency proof from an empty or equal tree must be empty".into(),
            ));
        }
        return Ok(());
    }
    merkle::verify_consistency(old_size, cp.size, &proof, old_root, &cp.root).map_err(|e| {
        refuse(
            "inconsistent",
            format!(
                "the checkpoint of size {} does not extend the witnessed checkpoint of size {old_size} ({e}): the history was rewritten",
                cp.size
            ),
        )
    })
}

/// A key change is accepted only with a statement signed by the old key naming the new one.
fn check_rotation(
    witnessed: &LogState,
    new_key: &VerifyingKey,
    push: &Push,
    new_size: u64,
) -> Result<Rotation, JournalError> {
    let refused = |why: &str| {
        refuse(
            "key_changed",
            format!("the log's key changed without a rotation signed by its old key ({why})"),
        )
    };
    let text = push
        .rotation
        .as_deref()
        .ok_or_else(|| refused("no rotation statement"))?;
    let note = Note::parse(text).map_err(|_| refused("the rotation statement does not parse"))?;
    if !note.verified_by(&witnessed.origin, &witnessed.key) {
        return Err(refused(
            "the rotation statement is not signed by the old key",
        ));
    }
    let lines: Vec<&str> = note.text.split_terminator('\n').collect();
    let [header, origin, key, size] = lines[..] else {
        return Err(refused("the rotation statement must have four lines"));
    };
    let at_size: u64 = size
        .parse()
        .map_err(|_| refused("the rotation size is not a number"))?;
    if header != ROTATION_HEADER
        || origin != witnessed.origin
        || key != STANDARD.encode(new_key.as_bytes())
    {
        return Err(refused("the rotation statement names another log or key"));
    }
    if at_size < witnessed.size || at_size > new_size {
        return Err(refused(
            "the rotation must take effect between the witnessed and the new checkpoint",
        ));
    }
    Ok(Rotation {
        at_size,
        old_key: witnessed.key,
        new_key: *new_key,
        statement: text.to_string(),
    })
}

/// The text of a rotation statement, for the old key to sign as a note named by the origin.
pub fn rotation_text(origin: &str, new_key: &VerifyingKey, at_size: u64) -> String {
    format!(
        "{ROTATION_HEADER}\n{origin}\n{}\n{at_size}\n",
        STANDARD.encode(new_key.as_bytes())
    )
}

/// Which key signed the entries: `before` below index `from`, `after` from it on.
struct KeysInForce {
    before: VerifyingKey,
    after: VerifyingKey,
    from: u64,
}

/// Step 6, in parallel for large pushes; then the chain of payload hashes, in order.
fn check_entries(
    lines: &[String],
    first: u64,
    origin: &str,
    keys: &KeysInForce,
    previous: Option<Hash>,
) -> Result<(Vec<MirrorRow>, Option<Hash>), JournalError> {
    let check = |offset: usize, part: &[String]| -> Result<Vec<Checked>, JournalError> {
        part.iter()
            .enumerate()
            .map(|(i, line)| {
                let index = first + (offset + i) as u64;
                let key = if index < keys.from {
                    keys.before
                } else {
                    keys.after
                };
                check_line(index, line, origin, &key)
            })
            .collect::<Result<Vec<_>, _>>()
            .and_then(|checked| {
                verify_signatures(&checked, first + offset as u64)?;
                Ok(checked)
            })
    };
    let threads = if lines.len() < 64 {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8)
    };
    let chunk = lines.len().div_ceil(threads).max(1);
    let checked: Vec<Checked> = if threads < 2 {
        check(0, lines)?
    } else {
        let parts: Vec<Result<Vec<Checked>, JournalError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = lines
                .chunks(chunk)
                .enumerate()
                .map(|(n, part)| scope.spawn(move || check(n * chunk, part)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(JournalError::Corrupt("an entry check thread failed".into()))
                    })
                })
                .collect()
        });
        let mut all = Vec::with_capacity(lines.len());
        for part in parts {
            all.extend(part?);
        }
        all
    };
    let mut previous = previous;
    let mut rows = Vec::with_capacity(checked.len());
    for (i, c) in checked.into_iter().enumerate() {
        let index = first + i as u64;
        if c.previous_claimed != previous.map(hex::encode) {
            return Err(refuse(
                "bad_entry",
                format!(
                    "entry {index} was appended after a different entry than the log's entry {}: the history was rewritten",
                    index.saturating_sub(1)
                ),
            ));
        }
        previous = Some(c.payload_hash);
        rows.push(c.row);
    }
    Ok((rows, previous))
}

/// Verifies the entries' Ed25519 signatures as one batch (about twice as fast as one by one); if
/// the batch fails, one by one with `verify_strict` to name the entry.
fn verify_signatures(checked: &[Checked], first: u64) -> Result<(), JournalError> {
    let messages: Vec<&[u8]> = checked.iter().map(|c| c.payload.as_slice()).collect();
    let signatures: Vec<ed25519_dalek::Signature> = checked.iter().map(|c| c.signature).collect();
    let keys: Vec<VerifyingKey> = checked.iter().map(|c| c.key).collect();
    if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
        return Ok(());
    }
    for (i, c) in checked.iter().enumerate() {
        if !crate::keys::verify_ed25519(&c.key, &c.payload, &c.signature.to_bytes()) {
            return Err(refuse(
                "bad_entry",
                format!(
                    "entry {}: its signature does not verify under the log's key",
                    first + i as u64
                ),
            ));
        }
    }
    Ok(())
}

struct Checked {
    payload_hash: Hash,
    key: VerifyingKey,
    signature: ed25519_dalek::Signature,
    /// The bytes the entry's signature covers.
    payload: Vec<u8>,
    previous_claimed: Option<String>,
    row: MirrorRow,
}

fn check_line(
    index: u64,
    line: &str,
    origin: &str,
    key: &VerifyingKey,
) -> Result<Checked, JournalError> {
    let bad = |why: String| refuse("bad_entry", format!("entry {index}: {why}"));
    let value: Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(bad("not a JSON object".into()));
    };
    match cordon_core::canonical::to_vec(&value) {
        Ok(c) if c == line.as_bytes() => {}
        _ => return Err(bad("not in canonical JSON form".into())),
    }
    let payload = crate::signing::signing_payload(map).map_err(|e| bad(e.to_string()))?;
    let signature = crate::signing::raw_signature(map)
        .map_err(|e| bad(format!("its signature is malformed: {e}")))?;
    let position = map
        .get(record::LOG_POSITION)
        .ok_or_else(|| bad("it carries no log_position".into()))?;
    if position.get("origin").and_then(Value::as_str) != Some(origin)
        || position.get("index").and_then(Value::as_u64) != Some(index)
    {
        return Err(bad(format!(
            "it was signed for another place than {origin:?} index {index}"
        )));
    }
    Ok(Checked {
        payload_hash: record::payload_hash(&payload),
        key: *key,
        signature: ed25519_dalek::Signature::from_bytes(&signature),
        payload,
        previous_claimed: position
            .get("previous_payload_hash")
            .and_then(Value::as_str)
            .map(str::to_string),
        row: mirror_row(index, line, map),
    })
}

/// The indexed columns of one entry. Best effort by design: the signed line is the source of
/// truth and travels with every answer.
fn mirror_row(index: u64, line: &str, map: &serde_json::Map<String, Value>) -> MirrorRow {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let kind = record::entry_kind(map);
    let (details, at) = match kind {
        EntryKind::Decision => (map.get("details"), text(map.get("decided_at"))),
        EntryKind::Receipt => (map.get("x-cordon"), text(map.get("started_at"))),
        EntryKind::Other => (None, None),
    };
    let at = at.or_else(|| text(map.get("signature").and_then(|s| s.get("signed_at"))));
    let approvers: Vec<String> = details
        .and_then(|d| d.get("approval"))
        .and_then(|a| a.get("approvals"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| text(a.get("approver")))
                .collect()
        })
        .unwrap_or_default();
    let (record_id, outcome) = match kind {
        EntryKind::Decision => (text(map.get("record_id")), text(map.get("outcome"))),
        EntryKind::Receipt => (
            text(
                map.get(record::DECISION_LINK)
                    .and_then(|l| l.get("record_id")),
            ),
            text(map.get("status")),
        ),
        EntryKind::Other => (None, None),
    };
    MirrorRow {
        index,
        line: line.to_string(),
        kind: match kind {
            EntryKind::Decision => "decision",
            EntryKind::Receipt => "receipt",
            EntryKind::Other => "other",
        },
        at,
        actor: text(map.get("actor")),
        session_id: text(map.get("session_id")),
        outcome,
        command: text(
            details
                .and_then(|d| d.get("front_end"))
                .and_then(|f| f.get("text")),
        )
        .or_else(|| text(map.get("contract_id"))),
        approvers: (!approvers.is_empty()).then(|| approvers.join(",")),
        record_id,
        contract_sha256: text(map.get("contract_sha256")),
    }
}
