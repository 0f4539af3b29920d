//! Whole-journal verification: what `cordon verify` reports.
//!
//! One pass over `entries.jsonl`, trusting nothing but the public keys: every line must be
//! canonical JSON with a valid CSC signature by a key valid at its `signed_at`; every position
//! binding must match where the line actually is; every receipt → decision link must point to an
//! earlier record with the same leaf hash and contract; the RFC 9162 tree recomputed from the lines
//! must match every stored checkpoint at its size; and every two successive checkpoints (stored
//! or trusted) must be consistent: an RFC 9162 consistency proof, built from the recomputed tree,
//! must verify between their signed roots. Two checkpoints that both match the tree are consistent
//! by construction; the proof is what shows that an older checkpoint left behind and a newer one
//! that matches the entries describe two different histories, both signed: the journal was
//! rewritten and checkpointed again (a fork).
//!
//! Stored checkpoints live next to the data, so whoever can rewrite the journal can also delete the
//! newer ones. What catches truncation and rollback is a checkpoint the auditor kept
//! (`trusted_checkpoint`): the journal must still contain exactly the tree it committed to. Without
//! one, the verdict can be valid but says it is not known to be complete.
//!
//! The verdict is `invalid` if anything is proven wrong, `undecidable` if nothing is wrong but
//! something could not be checked (an unknown key), and `valid` otherwise. Every finding names the
//! entry index (or checkpoint file) and the reason.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader};
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;
use serde_json::Value;

use crate::error::JournalError;
use crate::keys::KeyRing;
use crate::merkle::{self, Hash, TreeBuilder};
use crate::note::{Checkpoint, Note};
use crate::record;
use crate::signing;
use crate::store::{self, ENTRIES_FILE, LOCK_FILE};

/// The three answers a verifier can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Valid,
    Invalid,
    Undecidable,
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Zero-based entry index, when the problem is in (or first visible at) an entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
    /// Checkpoint file name, when the problem is a checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// Stable machine code (documented in docs/journal.md).
    pub code: &'static str,
    /// One sentence for a person.
    pub reason: String,
}

/// The verdict, serialized as the last line of `cordon verify`.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub verdict: Outcome,
    pub origin: Option<String>,
    pub entries: u64,
    pub decisions: u64,
    pub receipts: u64,
    pub other_entries: u64,
    /// Base64 root of the tree over all entries.
    pub root: String,
    /// Stored checkpoints that verified and matched the tree.
    pub checkpoints_matched: u64,
    /// Largest tree size committed to by a matching checkpoint (stored or trusted).
    pub checkpointed_size: Option<u64>,
    /// Tree size of the trusted checkpoint, if one was given and it matched.
    pub trusted_size: Option<u64>,
    /// Pairs of successive checkpoints (sorted by size, trusted included) proven consistent by an
    /// RFC 9162 consistency proof (or, at equal sizes, by equal roots).
    pub consistency_checked: u64,
    /// True only if a trusted checkpoint proved nothing before it was removed or changed.
    pub extends_trusted: bool,
    /// Kept checkpoints vouched for by a listed witness's cosignature (held as trusted).
    pub witnessed_checkpoints: u64,
    /// Entries without a `log_position` binding (e.g. imported csc-runner receipts).
    pub unbound_entries: u64,
    /// Bytes of an unterminated last line (an unacknowledged write cut by a crash), ignored.
    pub torn_tail_bytes: u64,
    pub failures: Vec<Finding>,
    pub undecided: Vec<Finding>,
    pub notes: Vec<String>,
}

/// What to verify against.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub ring: KeyRing,
    /// Text of a checkpoint the auditor kept.
    pub trusted_checkpoint: Option<String>,
    /// Skip the per-entry Ed25519 check and canonical re-encoding for entries covered by a
    /// checkpoint signed by a current (not retired) ring key: that signature over the tree root
    /// already authenticates every covered line byte for byte. If anything at all fails, the
    /// journal is verified again in full, so findings still name the entry.
    pub fast: bool,
}

/// Findings beyond this many are counted, not listed.
const MAX_LISTED: usize = 1000;

/// Findings of one kind: the first [`MAX_LISTED`] listed, the rest counted.
#[derive(Clone, Default)]
struct Findings {
    listed: Vec<Finding>,
    dropped: u64,
}

impl Findings {
    fn add(
        &mut self,
        entry: Option<u64>,
        checkpoint: Option<&str>,
        code: &'static str,
        reason: String,
    ) {
        if self.listed.len() < MAX_LISTED {
            self.listed.push(Finding {
                entry,
                checkpoint: checkpoint.map(str::to_string),
                code,
                reason,
            });
        } else {
            self.dropped += 1;
        }
    }
}

#[derive(Clone, Default)]
struct Report {
    failures: Findings,
    undecided: Findings,
}

struct CheckpointRef {
    name: String,
    cp: Checkpoint,
    trusted: bool,
    by_current_key: bool,
}

fn signed_by_current(text: &str, origin: &str, ring: &KeyRing) -> bool {
    Note::parse(text).is_ok_and(|n| ring.current().any(|k| n.verified_by(origin, k)))
}

struct RecordInfo {
    index: u64,
    leaf: Hash,
    contract_sha256: Option<String>,
}

/// Verifies the journal in `dir`. I/O errors that prevent reading the entries at all are returned
/// as `Err`; everything else is a finding in the verdict.
pub fn verify_journal(dir: &Path, opts: &VerifyOptions) -> Result<Verdict, JournalError> {
    verify_witnessed(dir, opts, &[])
}

/// [`verify_journal`], also holding the journal to the checkpoints witnesses cosigned
/// (`DIR/witnessed/*.checkpoint`, kept by [`crate::witness::client::push_journal`]). A kept
/// checkpoint that carries a valid cosignature by one of `witnesses` is trusted like an auditor's
/// checkpoint: the machine's key cannot make another one, so a journal rewritten or cut back
/// after it fails (`trusted_checkpoint_mismatch`, `truncated`). A cosignature line by a listed
/// witness that does not verify is `witness_cosignature_invalid`.
pub fn verify_witnessed(
    dir: &Path,
    opts: &VerifyOptions,
    witnesses: &[crate::witness::WitnessKey],
) -> Result<Verdict, JournalError> {
    let mut report = Report::default();
    let mut trusted: Vec<(String, String)> = Vec::new();
    if let Some(text) = &opts.trusted_checkpoint {
        trusted.push(("trusted".into(), text.clone()));
    }
    let witnessed = witnessed_checkpoints(dir, witnesses, &mut report)?;
    let cosigned = witnessed.len() as u64;
    trusted.extend(witnessed);
    let run = |fast: bool| -> Result<Verdict, JournalError> {
        let mut v = verify_pass(dir, opts, fast, &trusted, report.clone())?;
        v.witnessed_checkpoints = cosigned;
        Ok(v)
    };
    if opts.fast {
        let v = run(true)?;
        if v.verdict == Outcome::Valid {
            return Ok(v);
        }
        let mut full = run(false)?;
        full.notes
            .push("the fast pass found a problem, so every entry was verified in full".into());
        return Ok(full);
    }
    run(false)
}

/// The kept cosigned checkpoints that a listed witness's cosignature vouches for.
fn witnessed_checkpoints(
    dir: &Path,
    witnesses: &[crate::witness::WitnessKey],
    report: &mut Report,
) -> Result<Vec<(String, String)>, JournalError> {
    let wdir = dir.join(crate::witness::client::WITNESSED_DIR);
    let mut out = Vec::new();
    if witnesses.is_empty() {
        return Ok(out);
    }
    let entries = match std::fs::read_dir(&wdir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(JournalError::io(&wdir, &e)),
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "checkpoint"))
        .collect();
    paths.sort();
    for path in paths {
        let name = format!(
            "{}/{}",
            crate::witness::client::WITNESSED_DIR,
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let text = std::fs::read_to_string(&path).map_err(|e| JournalError::io(&path, &e))?;
        let Ok(note) = Note::parse(&text) else {
            report.failures.add(
                None,
                Some(&name),
                "checkpoint_malformed",
                "the kept cosigned checkpoint does not parse".into(),
            );
            continue;
        };
        let mut vouched = false;
        for w in witnesses {
            match w.cosigned_at(&note) {
                Ok(Some(_)) => vouched = true,
                Ok(None) => {}
                Err(e) => report.failures.add(None, Some(&name), "witness_cosignature_invalid", format!(
                    "the cosignature of witness {:?} does not verify ({e}): the kept checkpoint was altered or forged", w.name
                )),
            }
        }
        if vouched {
            out.push((name, text));
        }
    }
    Ok(out)
}

fn verify_pass(
    dir: &Path,
    opts: &VerifyOptions,
    fast: bool,
    trusted: &[(String, String)],
    mut report: Report,
) -> Result<Verdict, JournalError> {
    let mut notes = Vec::new();

    // A shared lock gives a snapshot: no writer is half-way through a batch or a checkpoint.
    let _lock = shared_lock(dir);

    let origin = match store::read_meta(dir) {
        Ok(m) => Some(m.origin),
        Err(e) => {
            report
                .failures
                .add(None, None, "journal_meta", format!("{e}"));
            None
        }
    };
    if opts.ring.is_empty() {
        report.undecided.add(
            None,
            None,
            "no_keys",
            "no public key was given, so no signature can be checked".into(),
        );
    }

    let mut checkpoints = load_checkpoints(dir, origin.as_deref(), &opts.ring, &mut report)?;
    let stored_count = checkpoints.len();
    for (label, text) in trusted {
        match Checkpoint::verify(text, &opts.ring) {
            Ok(cp) => {
                if origin.as_deref().is_some_and(|o| o != cp.origin) {
                    report.failures.add(
                        None,
                        Some(label.as_str()),
                        "trusted_checkpoint_origin",
                        format!(
                            "the trusted checkpoint is for origin {:?}, this journal is {:?}",
                            cp.origin,
                            origin.as_deref().unwrap_or("")
                        ),
                    );
                } else {
                    let by_current_key = signed_by_current(text, &cp.origin, &opts.ring);
                    checkpoints.push(CheckpointRef {
                        name: label.clone(),
                        cp,
                        trusted: true,
                        by_current_key,
                    });
                }
            }
            Err(JournalError::UnknownKeyId(why)) => report.undecided.add(
                None,
                Some(label.as_str()),
                "unknown_key",
                format!("the trusted checkpoint: {why}"),
            ),
            Err(e) => report.failures.add(
                None,
                Some(label.as_str()),
                "trusted_checkpoint_invalid",
                format!("the trusted checkpoint does not verify: {e}"),
            ),
        }
    }
    checkpoints.sort_by_key(|c| c.cp.size);
    // Entries below this index are authenticated by a checkpoint signature (fast mode only).
    let covered = if fast {
        checkpoints
            .iter()
            .filter(|c| c.by_current_key)
            .map(|c| c.cp.size)
            .max()
            .unwrap_or(0)
    } else {
        0
    };

    let entries_path = dir.join(ENTRIES_FILE);
    let file = match File::open(&entries_path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(JournalError::io(&entries_path, &e)),
    };

    let mut tree = TreeBuilder::new();
    let mut counts = [0u64; 3];
    let mut unbound = 0u64;
    let mut torn = 0u64;
    let mut records: HashMap<String, RecordInfo> = HashMap::new();
    let mut calls = HookCalls::default();
    let mut previous: Option<Hash> = None;
    let mut next_cp = 0usize;
    let mut matched_stored = 0u64;
    let mut checkpointed: Option<u64> = None;
    let mut trusted_size = None;
    let mut last_checked = 0u64;
    // Leaf hashes for the consistency proofs between checkpoints (32 bytes per entry, kept only
    // when there are two checkpoints or more).
    let keep_leaves = checkpoints.len() >= 2;
    let mut leaves: Vec<Hash> = Vec::new();

    let mut check_checkpoints = |size: u64,
                                 root: &Hash,
                                 report: &mut Report,
                                 next_cp: &mut usize,
                                 last_checked: &mut u64| {
        while *next_cp < checkpoints.len() && checkpoints[*next_cp].cp.size == size {
            let c = &checkpoints[*next_cp];
            if c.cp.root == *root {
                if c.trusted {
                    trusted_size = Some(size);
                } else {
                    matched_stored += 1;
                }
                checkpointed = Some(size);
            } else {
                // Stored checkpoints share the journal's fate, so one that matched bounds where a
                // change can be. The auditor's checkpoint may come from a history the journal has
                // since forked away from, so it bounds nothing: the change is anywhere before it.
                let first = if c.trusted {
                    0
                } else {
                    (*last_checked).min(size.saturating_sub(1))
                };
                let code = if c.trusted {
                    "trusted_checkpoint_mismatch"
                } else {
                    "checkpoint_mismatch"
                };
                report.failures.add(Some(first), Some(&c.name), code, format!(
                    "the tree of the first {size} entries does not match this checkpoint: an entry at index {first}..{} was changed, inserted, deleted or reordered{}",
                    size.saturating_sub(1),
                    if c.trusted { " (history the auditor saw was rolled back or rewritten)" } else { "" }
                ));
            }
            *last_checked = size;
            *next_cp += 1;
        }
    };
    check_checkpoints(
        0,
        &merkle::empty_root(),
        &mut report,
        &mut next_cp,
        &mut last_checked,
    );

    if let Some(f) = file {
        let mut reader = BufReader::with_capacity(1 << 20, f);
        let mut line = Vec::with_capacity(4096);
        let mut index = 0u64;
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| JournalError::io(&entries_path, &e))?;
            if n == 0 {
                break;
            }
            if line.last() != Some(&b'\n') {
                torn = line.len() as u64;
                break;
            }
            line.pop();
            let leaf = merkle::leaf_hash(&line);
            let crypto = index >= covered;
            // The chain needs this entry's payload hash only if the next entry is checked in full.
            let want_payload = crypto || index + 1 == covered;
            previous = check_entry(
                index,
                &line,
                &leaf,
                previous.as_ref(),
                want_payload,
                origin.as_deref(),
                opts,
                crypto,
                &mut records,
                &mut calls,
                &mut counts,
                &mut unbound,
                &mut report,
            );
            tree.push(leaf);
            if keep_leaves {
                leaves.push(leaf);
            }
            index += 1;
            if next_cp < checkpoints.len() && checkpoints[next_cp].cp.size == index {
                let root = tree.root();
                check_checkpoints(index, &root, &mut report, &mut next_cp, &mut last_checked);
            }
        }
    }
    let n = tree.size();
    for c in &checkpoints[next_cp..] {
        let code = if c.trusted {
            "truncated"
        } else {
            "checkpoint_beyond_journal"
        };
        report.failures.add(Some(n), Some(&c.name), code, format!(
            "the checkpoint commits to {} entries but the journal has {n}: entries {n}..{} were removed (truncation{})",
            c.cp.size,
            c.cp.size - 1,
            if c.trusted { " or rollback past the trusted checkpoint" } else { "" }
        ));
    }
    let consistency_checked = if keep_leaves {
        check_consistency(&checkpoints, &Levels::new(leaves), &mut report)
    } else {
        0
    };
    if torn > 0 {
        notes.push(format!(
            "an unterminated last line of {torn} bytes was ignored: a write cut short by a crash, never acknowledged; the next writer trims it"
        ));
    }
    if unbound > 0 {
        notes.push(format!(
            "{unbound} entries carry no log_position binding (appended pre-signed)"
        ));
    }
    match checkpointed {
        None if n > 0 => notes.push(
            "no checkpoint covers the journal: truncation and rollback cannot be ruled out".into(),
        ),
        Some(s) if s < n => notes.push(format!(
            "entries {s}..{} are not covered by a checkpoint yet",
            n - 1
        )),
        _ => {}
    }
    if trusted.is_empty() && n > 0 {
        notes.push("no trusted checkpoint was given: this proves integrity, not that nothing was removed from the end".into());
    }
    if stored_count == 0 && n > 0 {
        notes.push("the journal holds no stored checkpoints".into());
    }
    if covered > 0 {
        notes.push(format!(
            "fast: entries 0..{} were authenticated by a checkpoint signature over the tree, not one by one",
            covered - 1
        ));
    }
    let dropped = report.failures.dropped + report.undecided.dropped;
    if dropped > 0 {
        notes.push(format!("{dropped} further findings were not listed"));
    }
    let verdict = if !report.failures.listed.is_empty() {
        Outcome::Invalid
    } else if !report.undecided.listed.is_empty() {
        Outcome::Undecidable
    } else {
        Outcome::Valid
    };
    Ok(Verdict {
        verdict,
        origin,
        entries: n,
        decisions: counts[0],
        receipts: counts[1],
        other_entries: counts[2],
        root: STANDARD.encode(tree.root()),
        checkpoints_matched: matched_stored,
        checkpointed_size: checkpointed,
        trusted_size,
        consistency_checked,
        extends_trusted: trusted_size.is_some() && verdict != Outcome::Invalid,
        witnessed_checkpoints: 0,
        unbound_entries: unbound,
        torn_tail_bytes: torn,
        failures: report.failures.listed,
        undecided: report.undecided.listed,
        notes,
    })
}

/// Checks every two successive checkpoints (sorted by size) for consistency and returns how many
/// pairs were proven consistent.
///
/// A proof can only be built from the entries when the newer checkpoint describes them (its root
/// matches the recomputed tree); then the proof decides whether the older checkpoint is a prefix of
/// the same history. When the newer one does not match, that mismatch is already a finding and no
/// proof is attempted. Equal sizes need no proof: the roots must be equal.
fn check_consistency(checkpoints: &[CheckpointRef], levels: &Levels, report: &mut Report) -> u64 {
    let mut proven = 0;
    for pair in checkpoints.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        let (m, n) = (old.cp.size, new.cp.size);
        let inconsistent = |report: &mut Report, why: String| {
            report.failures.add(
                None,
                Some(&old.name),
                "checkpoint_inconsistent",
                format!(
                    "checkpoint {} (size {m}) and checkpoint {} (size {n}) are both signed but describe different histories ({why}): entries before index {m} were rewritten and checkpointed again (a fork)",
                    old.name, new.name
                ),
            );
        };
        if m == n {
            if old.cp.root == new.cp.root {
                proven += 1;
            } else {
                inconsistent(report, "same size, different roots".into());
            }
            continue;
        }
        if m == 0 {
            // Every tree extends the empty tree.
            proven += 1;
            continue;
        }
        if levels.size() < n || levels.root_at(n).ok() != Some(new.cp.root) {
            continue;
        }
        let checked = merkle::consistency_proof(levels, m, n)
            .and_then(|proof| merkle::verify_consistency(m, n, &proof, &old.cp.root, &new.cp.root));
        match checked {
            Ok(()) => proven += 1,
            Err(e) => inconsistent(report, e.to_string()),
        }
    }
    proven
}

/// Every complete, aligned subtree hash of the recomputed tree, level by level (about 64 bytes
/// per entry in all), so any subtree a consistency proof names costs O(log n) lookups.
struct Levels(Vec<Vec<Hash>>);

impl Levels {
    fn new(leaves: Vec<Hash>) -> Levels {
        let mut levels = vec![leaves];
        while let Some(last) = levels.last().filter(|l| l.len() >= 2) {
            let next: Vec<Hash> = last
                .chunks_exact(2)
                .map(|p| merkle::node_hash(&p[0], &p[1]))
                .collect();
            levels.push(next);
        }
        Levels(levels)
    }

    fn size(&self) -> u64 {
        self.0.first().map_or(0, |l| l.len() as u64)
    }

    fn root_at(&self, size: u64) -> Result<Hash, JournalError> {
        if size == 0 {
            return Ok(merkle::empty_root());
        }
        merkle::SubtreeHashes::subtree(self, 0, size)
    }
}

impl merkle::SubtreeHashes for Levels {
    fn subtree(&self, start: u64, end: u64) -> Result<Hash, JournalError> {
        if start >= end || end > self.size() {
            return Err(JournalError::Proof(format!(
                "no subtree {start}..{end} in {} leaves",
                self.size()
            )));
        }
        let width = end - start;
        if width.is_power_of_two() && start.is_multiple_of(width) {
            let level = width.trailing_zeros() as usize;
            return self
                .0
                .get(level)
                .and_then(|l| l.get((start / width) as usize))
                .copied()
                .ok_or_else(|| JournalError::Proof(format!("no subtree {start}..{end}")));
        }
        // RFC 9162: split at the largest power of two smaller than the width.
        let k = if width.is_power_of_two() {
            width / 2
        } else {
            1u64 << (63 - width.leading_zeros())
        };
        Ok(merkle::node_hash(
            &self.subtree(start, start + k)?,
            &self.subtree(start + k, end)?,
        ))
    }
}

fn shared_lock(dir: &Path) -> Option<Flock<File>> {
    let file = OpenOptions::new()
        .read(true)
        .open(dir.join(LOCK_FILE))
        .ok()?;
    Flock::lock(file, FlockArg::LockShared).ok()
}

fn load_checkpoints(
    dir: &Path,
    origin: Option<&str>,
    ring: &KeyRing,
    report: &mut Report,
) -> Result<Vec<CheckpointRef>, JournalError> {
    let mut out = Vec::new();
    for path in store::checkpoint_files(dir)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                report.failures.add(
                    None,
                    Some(&name),
                    "checkpoint_unreadable",
                    JournalError::io(&path, &e).to_string(),
                );
                continue;
            }
        };
        let cp = match Checkpoint::verify(&text, ring) {
            Ok(cp) => cp,
            Err(JournalError::UnknownKeyId(why)) => {
                report.undecided.add(None, Some(&name), "unknown_key", why);
                continue;
            }
            Err(JournalError::InvalidSignature) => {
                report.failures.add(
                    None,
                    Some(&name),
                    "checkpoint_bad_signature",
                    "the checkpoint's signature does not verify".into(),
                );
                continue;
            }
            Err(e) => {
                report
                    .failures
                    .add(None, Some(&name), "checkpoint_malformed", e.to_string());
                continue;
            }
        };
        if origin.is_some_and(|o| o != cp.origin) {
            report.failures.add(
                None,
                Some(&name),
                "checkpoint_origin",
                format!(
                    "the checkpoint is for origin {:?}, not this journal's",
                    cp.origin
                ),
            );
            continue;
        }
        let named_size = name.split('-').next().and_then(|s| s.parse::<u64>().ok());
        if named_size != Some(cp.size) {
            report.failures.add(None, Some(&name), "checkpoint_misnamed", format!(
                "the file name says one tree size but the checkpoint commits to {} (an older checkpoint put back?)", cp.size
            ));
            continue;
        }
        let by_current_key = signed_by_current(&text, &cp.origin, ring);
        out.push(CheckpointRef {
            name,
            cp,
            trusted: false,
            by_current_key,
        });
    }
    Ok(out)
}

/// The members verification looks at; everything else is skipped without being built.
#[derive(serde::Deserialize)]
struct Fields {
    #[serde(default)]
    record_version: Option<Value>,
    #[serde(default)]
    record_id: Option<Value>,
    #[serde(default)]
    receipt_version: Option<Value>,
    #[serde(default)]
    event_version: Option<Value>,
    #[serde(default)]
    contract_sha256: Option<Value>,
    #[serde(default)]
    contract_id: Option<Value>,
    #[serde(default)]
    log_position: Option<Value>,
    #[serde(default)]
    decision_record: Option<Value>,
    #[serde(default)]
    signature: Option<Value>,
}

#[allow(clippy::too_many_arguments)]
fn check_entry(
    index: u64,
    line: &[u8],
    leaf: &Hash,
    previous: Option<&Hash>,
    want_payload: bool,
    origin: Option<&str>,
    opts: &VerifyOptions,
    crypto: bool,
    records: &mut HashMap<String, RecordInfo>,
    calls: &mut HookCalls,
    counts: &mut [u64; 3],
    unbound: &mut u64,
    report: &mut Report,
) -> Option<Hash> {
    let at = Some(index);
    if line.first() != Some(&b'{') {
        report.failures.add(
            at,
            None,
            "malformed_entry",
            "the line is not a JSON object".into(),
        );
        return None;
    }
    let fields: Fields = match serde_json::from_slice(line) {
        Ok(f) => f,
        Err(e) => {
            report.failures.add(
                at,
                None,
                "malformed_entry",
                format!("the line is not a JSON object: {e}"),
            );
            return None;
        }
    };
    let mut payload_hash = None;
    if want_payload && !crypto {
        payload_hash = record::line_payload_hash(line);
    }
    if crypto {
        // The full value: canonical form and the CSC signature.
        match serde_json::from_slice::<Value>(line) {
            Ok(value @ Value::Object(_)) => {
                match cordon_core::canonical::to_vec(&value) {
                    Ok(c) if c == line => {}
                    _ => report.failures.add(
                        at,
                        None,
                        "non_canonical_entry",
                        "the line is not in canonical JSON form, so it was edited after signing"
                            .into(),
                    ),
                }
                let Value::Object(map) = value else {
                    return None;
                };
                let payload = signing::signing_payload(&map).unwrap_or_default();
                payload_hash = Some(record::payload_hash(&payload));
                if !opts.ring.is_empty() {
                    match signing::verify_payload(&map, &payload, &opts.ring) {
                        Ok(_) => {}
                        Err(e @ JournalError::UnknownKeyId(_)) => {
                            report.undecided.add(at, None, "unknown_key", e.to_string())
                        }
                        Err(e @ JournalError::KeyNotValidAt { .. }) => {
                            report
                                .failures
                                .add(at, None, "key_not_valid", e.to_string())
                        }
                        Err(e) => report
                            .failures
                            .add(at, None, "bad_signature", e.to_string()),
                    }
                }
            }
            Ok(_) => report.failures.add(
                at,
                None,
                "malformed_entry",
                "the line is not a JSON object".into(),
            ),
            Err(e) => report.failures.add(
                at,
                None,
                "malformed_entry",
                format!("the line is not JSON: {e}"),
            ),
        }
    } else {
        // Covered by a checkpoint: the bytes are authenticated; the key and window still apply.
        let sig = fields.signature.as_ref();
        let key_id = sig
            .and_then(|s| s.get("key_id"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let signed_at = sig
            .and_then(|s| s.get("signed_at"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut windows = opts.ring.candidates(key_id).map(|(_, w)| w).peekable();
        if windows.peek().is_none() {
            report.undecided.add(
                at,
                None,
                "unknown_key",
                format!("unknown key_id: {}", crate::error::py_repr(key_id)),
            );
        } else if !windows.any(|w| {
            w.is_unbounded() || crate::time_fmt::parse(signed_at).is_some_and(|t| w.contains(t))
        }) {
            report.failures.add(
                at,
                None,
                "key_not_valid",
                format!("key {key_id:?} was not valid at signed_at {signed_at:?}"),
            );
        }
    }
    match &fields.log_position {
        None => *unbound += 1,
        Some(pos) => check_position(index, pos, previous, crypto, origin, report),
    }
    let is_decision = fields.record_version.as_ref().and_then(Value::as_str)
        == Some(record::DECISION_RECORD_VERSION);
    let is_receipt = fields
        .receipt_version
        .as_ref()
        .is_some_and(|v| !v.is_null());
    let contract = fields.contract_sha256.as_ref().and_then(Value::as_str);
    if is_decision {
        counts[0] += 1;
        match fields.record_id.as_ref().and_then(Value::as_str) {
            Some(id) if !id.is_empty() => {
                if let Some(first) = records.get(id) {
                    report.failures.add(
                        at,
                        None,
                        "duplicate_record_id",
                        format!("record_id {id:?} was already used by entry {}", first.index),
                    );
                } else {
                    let info = RecordInfo {
                        index,
                        leaf: *leaf,
                        contract_sha256: contract.map(str::to_string),
                    };
                    records.insert(id.to_string(), info);
                }
                let hook = fields.contract_id.as_ref().and_then(Value::as_str);
                if hook.is_some_and(|c| c.starts_with("hook:")) {
                    calls.remember(line);
                }
            }
            _ => report.failures.add(
                at,
                None,
                "malformed_entry",
                "a decision record needs a non-empty record_id".into(),
            ),
        }
    } else if is_receipt {
        counts[1] += 1;
        if let Some(link) = &fields.decision_record {
            check_link(index, "receipt", link, contract, records, report);
        }
    } else {
        counts[2] += 1;
        let is_tool_outcome = fields.event_version.as_ref().and_then(Value::as_str)
            == Some(record::TOOL_OUTCOME_VERSION);
        // An outcome claims a tool call ran; only the decision that let it run makes it evidence.
        // Outcomes name it (`decision_record`); those written before they did must at least have
        // one: a hook's decision earlier in the journal for the same call.
        match (&fields.decision_record, is_tool_outcome) {
            (Some(link), true) => check_link(index, "tool outcome", link, None, records, report),
            (None, true) if !calls.decided(line) => report.failures.add(
                at,
                None,
                "outcome_without_decision",
                "the tool outcome names no decision record, and no hook decision earlier in the journal is for its call (agent, session, tool use id, command)".into(),
            ),
            _ => {}
        }
    }
    payload_hash
}

/// The calls hooks decided, for outcome entries that name no decision record (written before
/// outcomes linked theirs): (agent, harness session, tool use id) → the commands each decision
/// covered (the text, and cordon's rewrite of it). Kept as 128-bit digests, so a long journal's
/// index stays small.
#[derive(Default)]
struct HookCalls(HashMap<[u8; 16], Vec<Vec<[u8; 16]>>>);

#[derive(serde::Deserialize)]
struct HookDecision {
    actor: String,
    session_id: String,
    details: HookDetails,
}

#[derive(serde::Deserialize)]
struct HookDetails {
    #[serde(default)]
    tool_use_id: Option<String>,
    #[serde(default)]
    request: Option<HookRequest>,
    #[serde(default)]
    run_as: Option<String>,
}

#[derive(serde::Deserialize)]
struct HookRequest {
    #[serde(default)]
    command: Option<String>,
}

#[derive(serde::Deserialize)]
struct OutcomeCall {
    actor: String,
    session_id: String,
    #[serde(default)]
    tool_use_id: Option<String>,
    #[serde(default)]
    command: Option<String>,
}

fn digest(parts: &[Option<&str>]) -> [u8; 16] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for part in parts {
        match part {
            Some(text) => {
                h.update([1]);
                h.update((text.len() as u64).to_le_bytes());
                h.update(text.as_bytes());
            }
            None => h.update([0]),
        }
    }
    let full = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

impl HookCalls {
    /// Indexes a hook's decision record (a line that is not one is left out).
    fn remember(&mut self, line: &[u8]) {
        let Ok(d) = serde_json::from_slice::<HookDecision>(line) else {
            return;
        };
        let key = digest(&[
            Some(&d.actor),
            Some(&d.session_id),
            d.details.tool_use_id.as_deref(),
        ]);
        let commands = [d.details.request.and_then(|r| r.command), d.details.run_as]
            .into_iter()
            .flatten()
            .map(|c| digest(&[Some(&c)]))
            .collect();
        self.0.entry(key).or_default().push(commands);
    }

    /// Whether a decision indexed so far covers the call the outcome `line` reports.
    fn decided(&self, line: &[u8]) -> bool {
        let Ok(o) = serde_json::from_slice::<OutcomeCall>(line) else {
            return false;
        };
        let key = digest(&[
            Some(&o.actor),
            Some(&o.session_id),
            o.tool_use_id.as_deref(),
        ]);
        let ran = o.command.map(|c| digest(&[Some(&c)]));
        self.0.get(&key).is_some_and(|decisions| {
            decisions
                .iter()
                .any(|commands| ran.is_none_or(|ran| commands.contains(&ran)))
        })
    }
}

/// `previous` is the payload hash of the entry before; the chain is only checked for entries
/// verified in full (a checkpoint signature already fixes the bytes of covered ones).
fn check_position(
    index: u64,
    pos: &Value,
    previous: Option<&Hash>,
    crypto: bool,
    origin: Option<&str>,
    report: &mut Report,
) {
    let at = Some(index);
    let claimed = pos.get("index").and_then(Value::as_u64);
    match claimed {
        Some(c) if c == index => {}
        Some(c) if c > index => {
            report.failures.add(at, None, "position_mismatch", format!(
                "the entry was signed as entry {c} but sits at {index}: {} earlier entries were deleted, or entries were reordered", c - index
            ));
            return;
        }
        Some(c) => {
            report.failures.add(at, None, "position_mismatch", format!(
                "the entry was signed as entry {c} but sits at {index}: entries were inserted before it, duplicated or reordered"
            ));
            return;
        }
        None => {
            report.failures.add(
                at,
                None,
                "position_mismatch",
                "log_position.index is missing".into(),
            );
            return;
        }
    }
    if let Some(o) = origin {
        if pos.get("origin").and_then(Value::as_str) != Some(o) {
            report.failures.add(
                at,
                None,
                "position_mismatch",
                "the entry was signed for another journal (log_position.origin)".into(),
            );
            return;
        }
    }
    if !crypto {
        return;
    }
    let want = previous.map(hex::encode);
    let got = pos
        .get("previous_payload_hash")
        .and_then(Value::as_str)
        .map(str::to_string);
    if want != got {
        report.failures.add(at, None, "chain_mismatch", format!(
            "the entry was appended after a different entry {}: entry {} was replaced, or entries were reordered",
            index.saturating_sub(1),
            index.saturating_sub(1)
        ));
    }
}

fn check_link(
    index: u64,
    what: &str,
    link: &Value,
    contract: Option<&str>,
    records: &HashMap<String, RecordInfo>,
    report: &mut Report,
) {
    let at = Some(index);
    let Some(id) = link.get("record_id").and_then(Value::as_str) else {
        report.failures.add(
            at,
            None,
            "broken_link",
            "decision_record.record_id is missing".into(),
        );
        return;
    };
    let Some(rec) = records.get(id) else {
        report.failures.add(
            at,
            None,
            "broken_link",
            format!("the {what} names decision record {id:?}, which is not earlier in the journal"),
        );
        return;
    };
    if link.get("index").and_then(Value::as_u64) != Some(rec.index) {
        report.failures.add(
            at,
            None,
            "broken_link",
            format!(
                "the {what} places decision record {id:?} at another index than {}",
                rec.index
            ),
        );
    }
    if link.get("leaf_hash").and_then(Value::as_str) != Some(hex::encode(rec.leaf).as_str()) {
        report.failures.add(
            at,
            None,
            "broken_link",
            format!(
                "decision record {id:?} (entry {}) is not the record the {what} was linked to",
                rec.index
            ),
        );
    }
    if contract.is_some() && rec.contract_sha256.as_deref() != contract {
        report.failures.add(
            at,
            None,
            "broken_link",
            format!(
                "the receipt's contract_sha256 differs from its decision record's (entry {})",
                rec.index
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::SubtreeHashes as _;

    #[test]
    fn levels_give_the_same_subtrees_and_proofs_as_the_leaves() {
        for n in 1..=37u64 {
            let leaves: Vec<Hash> = (0..n)
                .map(|i| merkle::leaf_hash(&i.to_le_bytes()))
                .collect();
            let levels = Levels::new(leaves.clone());
            for start in 0..n {
                for end in start + 1..=n {
                    assert_eq!(
                        levels.subtree(start, end).unwrap(),
                        leaves[..].subtree(start, end).unwrap(),
                        "{start}..{end} of {n}"
                    );
                }
            }
            for m in 1..=n {
                assert_eq!(
                    merkle::consistency_proof(&levels, m, n).unwrap(),
                    merkle::consistency_proof(&leaves[..], m, n).unwrap()
                );
            }
        }
    }
}
