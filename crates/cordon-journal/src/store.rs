//! The journal on disk: append-only, crash-safe, shared by several processes.
//!
//! ```text
//! DIR/journal.json          {"journal_version":"cordon.journal.v1","origin":"…"}
//! DIR/entries.jsonl         one canonical JSON line per entry; the only authoritative data
//! DIR/index/offsets         u64 LE end offset of each line (8 bytes per entry)
//! DIR/index/nodes           every complete Merkle node, 32 bytes each, in post-order
//! DIR/checkpoints/<size>-<keyid>.checkpoint   C2SP signed notes
//! DIR/lock                  flock(2) target serialising writers
//! ```
//!
//! Durability: a batch is one `write` of all its lines, then `fdatasync`; only then is the index
//! extended and the call returns. So an acknowledged entry is on disk before anyone is told about
//! it, and a batch costs one data sync however many entries it holds (group commit). The index is
//! synced only every [`DURABLE_EVERY`] entries (see "Trusting the index" below).
//!
//! Deferred appends ([`Journal::append_signed_deferred`]) are for a long-running writer that
//! syncs on its own schedule (the gateway's flusher): the lines are written to the entries file
//! under the lock, so they survive the crash of any process (the page cache is the kernel's), but
//! neither synced nor indexed until [`Journal::flush`] — or any other writer's next lock — syncs
//! the entries file and then indexes them. A power cut before that can lose them (never an entry
//! before them: those were synced first). The index is never extended over lines that are not
//! synced, so it can never claim more than the disk holds.
//!
//! Recovery: the index is derived data. Every writer, under the lock, compares the index with the
//! entries file. Complete lines past the index are synced, then indexed; a last line without its
//! newline (a torn write from a crash) was never acknowledged and is cut off, and so is a line
//! past the index holding a NUL byte, which canonical JSON never contains: it is what a power cut
//! leaves of a deferred write that was never synced, on file systems that do not order data
//! writes. An index that claims *more* than the entries file holds means the journal was truncated
//! behind cordon's back: writers then refuse to append rather than paper over evidence of
//! tampering.
//!
//! Trusting the index: what a process writes is in the page cache, where every later reader sees
//! it whatever becomes of the process (kill -9 included); only a power cut or a kernel crash loses
//! unsynced writes, and both end in a new boot. So the index records the boot in which it was
//! last brought up to date (`index/boot`, the kernel's random boot id) and how many entries of it
//! are synced (`index/durable`, advanced every [`DURABLE_EVERY`] entries). A writer in the same
//! boot believes the index; the first writer of a later boot believes only the durable prefix,
//! re-derives the rest from the (synced) entries, syncs it and stamps it with its boot. Where the
//! boot id cannot be read, every append syncs the index, as before.
//!
//! The node file stores each complete subtree's hash at a position computable from its level and
//! index (post-order, as in a Merkle mountain range), so an inclusion or consistency proof, or a
//! checkpoint root, costs O(log² n) reads, never a read of the whole journal.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use cordon_core::file::Durability;

use crate::error::JournalError;
use crate::keys::{self, Signer};
use crate::merkle::{self, Hash, SubtreeHashes};
use crate::note::{self, Checkpoint};
use crate::proof;
use crate::record::{self, Appended, EntryKind};
use crate::signing;

pub const META_FILE: &str = "journal.json";
pub const ENTRIES_FILE: &str = "entries.jsonl";
pub const CHECKPOINT_DIR: &str = "checkpoints";
pub const LOCK_FILE: &str = "lock";
const INDEX_DIR: &str = "index";
const OFFSETS_FILE: &str = "index/offsets";
const NODES_FILE: &str = "index/nodes";
/// The boot id in which the index was last brought up to date.
const BOOT_FILE: &str = "index/boot";
/// u64 LE: how many entries' offsets and nodes are synced.
const DURABLE_FILE: &str = "index/durable";
/// How many entries the index may run ahead of its last sync: what the first writer after a power
/// cut re-derives at most (about 4.5 MB of receipts to read and hash), against three syncs saved
/// on every append.
pub const DURABLE_EVERY: u64 = 1024;
pub const JOURNAL_VERSION: &str = "cordon.journal.v1";

/// `journal.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub journal_version: String,
    /// The log's identity: the first line of every checkpoint and the note key name.
    pub origin: String,
}

/// Reads and checks `journal.json`.
pub fn read_meta(dir: &Path) -> Result<Meta, JournalError> {
    let path = dir.join(META_FILE);
    let bytes = fs::read(&path).map_err(|e| JournalError::io(&path, &e))?;
    let meta: Meta = serde_json::from_slice(&bytes)
        .map_err(|e| JournalError::Corrupt(format!("{}: {e}", path.display())))?;
    if meta.journal_version != JOURNAL_VERSION {
        return Err(JournalError::Corrupt(format!(
            "{}: journal_version must be {JOURNAL_VERSION:?}, got {:?}",
            path.display(),
            meta.journal_version
        )));
    }
    check_origin(&meta.origin)?;
    Ok(meta)
}

fn check_origin(origin: &str) -> Result<(), JournalError> {
    if origin.is_empty()
        || origin.contains('+')
        || origin.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(JournalError::InvalidEntry(format!(
            "a journal origin must be non-empty, without spaces or '+': {origin:?}"
        )));
    }
    Ok(())
}

/// Total nodes (leaves and interior) stored after `n` leaves.
fn nodes_count(n: u64) -> u64 {
    2 * n - u64::from(n.count_ones())
}

/// Post-order position of the complete subtree at `level` with index `j` (leaves
/// `j·2^level .. (j+1)·2^level`): the leaf that completes it is followed by its ancestors in order.
fn node_pos(level: u32, j: u64) -> u64 {
    let end = (j + 1) << level;
    nodes_count(end - 1) + u64::from(level)
}

/// An open journal directory.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    origin: String,
    entries: File,
    offsets: File,
    nodes: File,
    /// Entries covered by the index, as last seen under the lock.
    size: u64,
    /// Byte length of `entries.jsonl` covering those entries.
    end: u64,
    /// frontier[k]: hash of the complete subtree at level k ending at `size`, if bit k of size is set.
    frontier: Vec<Option<Hash>>,
    last_leaf: Option<Hash>,
    /// Payload hash of the last entry, for the next entry's `log_position`.
    last_payload: Option<Hash>,
    /// Bytes of a torn tail cut off by the last repair (0 if none).
    trimmed: u64,
    /// Entries this handle wrote past the index with a deferred append, not yet synced.
    pending: u64,
    /// Byte length of `entries.jsonl` including those entries (`end` when there are none).
    pending_end: u64,
    /// This boot's id (`None` where it cannot be read: then every append syncs the index).
    boot: Option<String>,
    /// Entries whose offsets and nodes are synced, as last read or written.
    durable: u64,
}

struct Lock(#[allow(dead_code)] Flock<File>);

impl Journal {
    /// Creates a journal at `dir` with `origin`, or opens it if it already exists (in which case
    /// `origin` must match).
    pub fn create(dir: &Path, origin: &str) -> Result<Journal, JournalError> {
        check_origin(origin)?;
        fs::create_dir_all(dir.join(INDEX_DIR)).map_err(|e| JournalError::io(dir, &e))?;
        fs::create_dir_all(dir.join(CHECKPOINT_DIR)).map_err(|e| JournalError::io(dir, &e))?;
        let meta_path = dir.join(META_FILE);
        if !meta_path.exists() {
            let meta = Meta {
                journal_version: JOURNAL_VERSION.into(),
                origin: origin.into(),
            };
            let mut text = serde_json::to_string_pretty(&meta)
                .map_err(|e| JournalError::Corrupt(e.to_string()))?;
            text.push('\n');
            match keys::write_new_file(&meta_path, text.as_bytes(), 0o644, Durability::Durable) {
                Ok(()) => {}
                // Another process created it first; fall through and read theirs.
                Err(_) if meta_path.exists() => {}
                Err(e) => return Err(e),
            }
        }
        let j = Journal::open_existing(dir)?;
        if j.origin != origin {
            return Err(JournalError::InvalidEntry(format!(
                "{}: the journal's origin is {:?}, not {origin:?}",
                dir.display(),
                j.origin
            )));
        }
        Ok(j)
    }

    /// Opens the journal at `dir`, creating it with a fresh origin
    /// (`cordon.journal/<16 random hex digits>`) if the directory holds none.
    pub fn open(dir: &Path) -> Result<Journal, JournalError> {
        if dir.join(META_FILE).exists() {
            return Journal::open_existing(dir);
        }
        let mut raw = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
        let origin = format!("cordon.journal/{}", hex::encode(raw));
        match Journal::create(dir, &origin) {
            // Lost a creation race: the winner's origin is the journal's.
            Err(JournalError::InvalidEntry(_)) => Journal::open_existing(dir),
            other => other,
        }
    }

    /// Opens an existing journal and repairs a torn tail.
    pub fn open_existing(dir: &Path) -> Result<Journal, JournalError> {
        let meta = read_meta(dir)?;
        fs::create_dir_all(dir.join(INDEX_DIR)).map_err(|e| JournalError::io(dir, &e))?;
        fs::create_dir_all(dir.join(CHECKPOINT_DIR)).map_err(|e| JournalError::io(dir, &e))?;
        let open = |name: &str| -> Result<File, JournalError> {
            let path = dir.join(name);
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| JournalError::io(&path, &e))
        };
        let mut j = Journal {
            dir: dir.to_path_buf(),
            origin: meta.origin,
            entries: open(ENTRIES_FILE)?,
            offsets: open(OFFSETS_FILE)?,
            nodes: open(NODES_FILE)?,
            size: u64::MAX,
            end: 0,
            frontier: Vec::new(),
            last_leaf: None,
            last_payload: None,
            trimmed: 0,
            pending: 0,
            pending_end: 0,
            boot: current_boot(),
            durable: 0,
        };
        let _lock = j.lock(true)?;
        j.repair()?;
        Ok(j)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Number of entries, as of the last operation (other processes may have appended since).
    pub fn len(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Bytes of torn tail the last open or append cut off.
    pub fn trimmed_bytes(&self) -> u64 {
        self.trimmed
    }

    /// Entries this handle appended with [`append_signed_deferred`](Self::append_signed_deferred)
    /// that no [`flush`](Self::flush) has synced yet (another writer may have synced them since).
    pub fn unflushed(&self) -> u64 {
        self.pending
    }

    fn lock(&self, exclusive: bool) -> Result<Lock, JournalError> {
        let path = self.dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| JournalError::io(&path, &e))?;
        let arg = if exclusive {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockShared
        };
        Flock::lock(file, arg)
            .map(Lock)
            .map_err(|(_, errno)| JournalError::io(&path, &std::io::Error::from(errno)))
    }

    /// Brings the cached state up to date with the files, every entry synced and indexed; cheap
    /// when nothing changed.
    fn sync(&mut self) -> Result<(), JournalError> {
        let entries_len = file_len(&self.entries, &self.dir.join(ENTRIES_FILE))?;
        let offsets_len = file_len(&self.offsets, &self.dir.join(OFFSETS_FILE))?;
        if offsets_len == self.size.wrapping_mul(8) && entries_len == self.end && self.pending == 0
        {
            return Ok(());
        }
        self.repair()
    }

    /// [`sync`](Self::sync) for a deferred append: this handle's own unsynced lines may stay as
    /// they are when no other writer touched the files since.
    fn sync_deferred(&mut self) -> Result<(), JournalError> {
        let entries_len = file_len(&self.entries, &self.dir.join(ENTRIES_FILE))?;
        let offsets_len = file_len(&self.offsets, &self.dir.join(OFFSETS_FILE))?;
        if offsets_len == self.size.wrapping_mul(8) && entries_len == self.pending_end {
            return Ok(());
        }
        self.repair()
    }

    /// Reconciles the index with the entries file (module docs). Call with the exclusive lock.
    fn repair(&mut self) -> Result<(), JournalError> {
        self.trimmed = 0;
        let distrusted = self.cut_what_a_power_cut_may_have_lost()?;
        let entries_path = self.dir.join(ENTRIES_FILE);
        let offsets_path = self.dir.join(OFFSETS_FILE);
        let nodes_path = self.dir.join(NODES_FILE);
        let entries_len = file_len(&self.entries, &entries_path)?;
        let offsets_len = file_len(&self.offsets, &offsets_path)?;
        let mut n = offsets_len / 8;
        if offsets_len % 8 != 0 {
            self.offsets
                .set_len(n * 8)
                .map_err(|e| JournalError::io(&offsets_path, &e))?;
        }
        let mut end = if n == 0 { 0 } else { self.read_offset(n - 1)? };
        if end > entries_len {
            return Err(JournalError::Corrupt(format!(
                "{}: the index records {n} entries ending at byte {end}, but the file has only {entries_len} bytes; \
                 the journal was truncated outside cordon (run `cordon verify`); refusing to write",
                entries_path.display()
            )));
        }
        if entries_len > end {
            let mut tail = vec![0u8; (entries_len - end) as usize];
            self.entries
                .read_exact_at(&mut tail, end)
                .map_err(|e| JournalError::io(&entries_path, &e))?;
            let mut new_offsets = Vec::new();
            let mut complete = end;
            for line in tail.split_inclusive(|b| *b == b'\n') {
                // A torn last line, or what a power cut left of an unsynced one: never synced, so
                // never indexed; it and whatever follows is cut.
                if !line.ends_with(b"\n") || line.contains(&0) {
                    break;
                }
                complete += line.len() as u64;
                new_offsets.extend_from_slice(&complete.to_le_bytes());
            }
            if complete < entries_len {
                self.entries
                    .set_len(complete)
                    .map_err(|e| JournalError::io(&entries_path, &e))?;
                self.entries
                    .sync_all()
                    .map_err(|e| JournalError::io(&entries_path, &e))?;
                self.trimmed = entries_len - complete;
            } else if !new_offsets.is_empty() {
                // Lines a deferred append (or a writer that crashed before its sync) left: synced
                // before the index covers them, so the index never claims what a power cut can lose.
                self.entries
                    .sync_data()
                    .map_err(|e| JournalError::io(&entries_path, &e))?;
            }
            if !new_offsets.is_empty() {
                self.offsets
                    .write_all_at(&new_offsets, n * 8)
                    .map_err(|e| JournalError::io(&offsets_path, &e))?;
                n += new_offsets.len() as u64 / 8;
            }
            end = complete;
        }
        // The node file: keep the longest prefix that is a whole number of leaves, then re-derive
        // the rest from the entries.
        let have = file_len(&self.nodes, &nodes_path)? / 32;
        let mut m = n;
        while m > 0 && nodes_count(m) > have {
            m -= 1;
        }
        if nodes_count(m) != file_len(&self.nodes, &nodes_path)? / 32
            || file_len(&self.nodes, &nodes_path)? % 32 != 0
        {
            self.nodes
                .set_len(nodes_count(m) * 32)
                .map_err(|e| JournalError::io(&nodes_path, &e))?;
        }
        self.size = m;
        self.load_frontier()?;
        if m < n {
            let start = if m == 0 { 0 } else { self.read_offset(m - 1)? };
            let mut bytes = vec![0u8; (end - start) as usize];
            self.entries
                .read_exact_at(&mut bytes, start)
                .map_err(|e| JournalError::io(&entries_path, &e))?;
            let leaves: Vec<Hash> = bytes
                .split_inclusive(|b| *b == b'\n')
                .map(|line| merkle::leaf_hash(&line[..line.len() - 1]))
                .collect();
            self.push_nodes(&leaves)?;
        }
        self.size = n;
        self.end = end;
        self.pending = 0;
        self.pending_end = end;
        if distrusted {
            self.sync_index()?;
            self.stamp_boot()?;
        } else {
            self.sync_index_if_due()?;
        }
        self.load_last_payload()
    }

    /// Where the index was last brought up to date in an earlier boot (or its stamp is missing),
    /// believes only its synced prefix and cuts the rest, for [`repair`](Self::repair) to
    /// re-derive from the entries. Returns whether the index needs syncing and stamping with
    /// this boot. Call with the exclusive lock.
    fn cut_what_a_power_cut_may_have_lost(&mut self) -> Result<bool, JournalError> {
        let offsets_path = self.dir.join(OFFSETS_FILE);
        let nodes_path = self.dir.join(NODES_FILE);
        let indexed = file_len(&self.offsets, &offsets_path)? / 8;
        // No `durable` file: no writer of this version has opened the journal (its first open
        // creates the file, synced, before any append), and earlier versions synced the index on
        // every append, so all of it is durable.
        let (durable, unmarked) = match read_durable(&self.dir.join(DURABLE_FILE)) {
            Some(durable) => (durable, false),
            None => (indexed, true),
        };
        self.durable = durable.min(indexed);
        // Without a boot id a writer cannot tell whether a power cut came between: it believes
        // the synced prefix only (and syncs every append, so the next one has nothing to redo).
        let same_boot = self.boot.as_ref().is_some_and(|boot| {
            fs::read(self.dir.join(BOOT_FILE)).is_ok_and(|stamp| stamp == boot.as_bytes())
        });
        if same_boot && !unmarked {
            return Ok(false);
        }
        let keep = self.durable;
        self.offsets
            .set_len(keep * 8)
            .map_err(|e| JournalError::io(&offsets_path, &e))?;
        let nodes_len = file_len(&self.nodes, &nodes_path)?;
        self.nodes
            .set_len(nodes_len.min(nodes_count(keep) * 32))
            .map_err(|e| JournalError::io(&nodes_path, &e))?;
        Ok(true)
    }

    /// Marks the index as brought up to date in this boot. Not synced: a power cut that loses
    /// the stamp also starts a new boot, which no stamp matches.
    fn stamp_boot(&self) -> Result<(), JournalError> {
        let Some(boot) = &self.boot else {
            return Ok(());
        };
        let path = self.dir.join(BOOT_FILE);
        fs::write(&path, boot).map_err(|e| JournalError::io(&path, &e))
    }

    /// [`sync_index`](Self::sync_index) once the index has crossed a multiple of
    /// [`DURABLE_EVERY`] since its last sync, or on every call where the boot id is unknown.
    fn sync_index_if_due(&mut self) -> Result<(), JournalError> {
        let due = match self.boot {
            None => true,
            Some(_) => self.size / DURABLE_EVERY > self.durable / DURABLE_EVERY,
        };
        if due && self.size != self.durable {
            self.sync_index()?;
        }
        Ok(())
    }

    /// Syncs the offsets and the nodes, then records that the index is durable up to `size`.
    fn sync_index(&mut self) -> Result<(), JournalError> {
        let offsets_path = self.dir.join(OFFSETS_FILE);
        let nodes_path = self.dir.join(NODES_FILE);
        self.offsets
            .sync_data()
            .map_err(|e| JournalError::io(&offsets_path, &e))?;
        self.nodes
            .sync_data()
            .map_err(|e| JournalError::io(&nodes_path, &e))?;
        let path = self.dir.join(DURABLE_FILE);
        let created = !path.exists();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| JournalError::io(&path, &e))?;
        file.write_all_at(&self.size.to_le_bytes(), 0)
            .and_then(|()| file.sync_data())
            .map_err(|e| JournalError::io(&path, &e))?;
        if created {
            // Its name must outlive a power cut: a missing file means "all of it is durable".
            keys::sync_dir(&self.dir.join(INDEX_DIR))?;
        }
        self.durable = self.size;
        Ok(())
    }

    fn read_offset(&self, i: u64) -> Result<u64, JournalError> {
        let mut b = [0u8; 8];
        self.offsets
            .read_exact_at(&mut b, i * 8)
            .map_err(|e| JournalError::io(self.dir.join(OFFSETS_FILE), &e))?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_node(&self, pos: u64) -> Result<Hash, JournalError> {
        let mut h = [0u8; 32];
        self.nodes
            .read_exact_at(&mut h, pos * 32)
            .map_err(|e| JournalError::io(self.dir.join(NODES_FILE), &e))?;
        Ok(h)
    }

    /// Rebuilds `frontier` and `last_leaf` for `self.size` from the node file.
    fn load_frontier(&mut self) -> Result<(), JournalError> {
        let n = self.size;
        self.frontier = vec![None; 64];
        for k in 0..64u32 {
            if n >> k & 1 == 1 {
                self.frontier[k as usize] = Some(self.read_node(node_pos(k, (n >> k) - 1))?);
            }
        }
        self.last_leaf = if n == 0 {
            None
        } else {
            Some(self.read_node(node_pos(0, n - 1))?)
        };
        Ok(())
    }

    /// Recomputes `last_payload` from the last line (one read and parse).
    fn load_last_payload(&mut self) -> Result<(), JournalError> {
        self.last_payload = if self.size == 0 {
            None
        } else {
            record::line_payload_hash(&self.read_entry(self.size - 1)?)
        };
        Ok(())
    }

    /// Appends leaves to the node file (post-order) and advances `size` and the frontier.
    fn push_nodes(&mut self, leaves: &[Hash]) -> Result<(), JournalError> {
        let mut buf = Vec::with_capacity(leaves.len() * 64);
        let first_pos = nodes_count(self.size);
        for leaf in leaves {
            let i = self.size;
            buf.extend_from_slice(leaf);
            let mut carry = *leaf;
            let mut k = 0usize;
            while i >> k & 1 == 1 {
                let left = self.frontier[k].take().ok_or_else(|| {
                    JournalError::Corrupt("node index frontier is inconsistent".into())
                })?;
                carry = merkle::node_hash(&left, &carry);
                buf.extend_from_slice(&carry);
                k += 1;
            }
            self.frontier[k] = Some(carry);
            self.last_leaf = Some(*leaf);
            self.size += 1;
        }
        self.nodes
            .write_all_at(&buf, first_pos * 32)
            .map_err(|e| JournalError::io(self.dir.join(NODES_FILE), &e))
    }

    /// Appends already-encoded lines: one write and one data sync for the whole batch.
    fn append_lines(&mut self, lines: &[Vec<u8>]) -> Result<Vec<Hash>, JournalError> {
        let total: usize = lines.iter().map(|l| l.len() + 1).sum();
        let mut buf = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(lines.len() * 8);
        let mut leaves = Vec::with_capacity(lines.len());
        let mut pos = self.end;
        for line in lines {
            if line.contains(&b'\n') {
                return Err(JournalError::InvalidEntry(
                    "a journal line must not contain a newline".into(),
                ));
            }
            buf.extend_from_slice(line);
            buf.push(b'\n');
            pos += line.len() as u64 + 1;
            offsets.extend_from_slice(&pos.to_le_bytes());
            leaves.push(merkle::leaf_hash(line));
        }
        let entries_path = self.dir.join(ENTRIES_FILE);
        let offsets_path = self.dir.join(OFFSETS_FILE);
        self.entries
            .write_all_at(&buf, self.end)
            .map_err(|e| JournalError::io(&entries_path, &e))?;
        self.entries
            .sync_data()
            .map_err(|e| JournalError::io(&entries_path, &e))?;
        let old_size = self.size;
        self.offsets
            .write_all_at(&offsets, old_size * 8)
            .map_err(|e| JournalError::io(&offsets_path, &e))?;
        self.push_nodes(&leaves)?;
        self.end = pos;
        self.sync_index_if_due()?;
        Ok(leaves)
    }

    /// Signs `entry` (a JSON object) CSC-style after binding it to its position (`log_position`),
    /// appends it durably and returns where it landed. Any `signature` it had is replaced.
    pub fn append_signed(
        &mut self,
        entry: &Value,
        signer: &Signer,
    ) -> Result<Appended, JournalError> {
        let mut v = self.append_signed_batch(std::slice::from_ref(entry), signer)?;
        v.pop()
            .ok_or_else(|| JournalError::Corrupt("an append returned nothing".into()))
    }

    /// [`append_signed`](Self::append_signed) for many entries with one lock and one data sync:
    /// group commit. Either all entries are acknowledged or the call fails.
    pub fn append_signed_batch(
        &mut self,
        entries: &[Value],
        signer: &Signer,
    ) -> Result<Vec<Appended>, JournalError> {
        let _lock = self.lock(true)?;
        self.sync()?;
        let batch = self.sign_batch(entries, signer)?;
        let out = self.finish_append(batch.lines, batch.entries)?;
        self.last_payload = batch.last_payload;
        Ok(out)
    }

    /// [`append_signed_batch`](Self::append_signed_batch) without the sync: the entries are
    /// written to the entries file, so they survive the crash of any process, and are signed and
    /// bound to their positions exactly as a synced append would, but a power cut before the next
    /// [`flush`](Self::flush) — or before any other writer's next append, which syncs them first
    /// — can lose them. For a long-running writer that answers before the disk does and syncs in
    /// batches; the caller owns the bound on how long an entry stays unsynced.
    pub fn append_signed_deferred(
        &mut self,
        entries: &[Value],
        signer: &Signer,
    ) -> Result<Vec<Appended>, JournalError> {
        let _lock = self.lock(true)?;
        self.sync_deferred()?;
        let batch = self.sign_batch(entries, signer)?;
        let first = self.size + self.pending;
        let mut buf = Vec::new();
        let mut out = Vec::with_capacity(batch.lines.len());
        for (i, (line, entry)) in batch.lines.iter().zip(batch.entries).enumerate() {
            let leaf = merkle::leaf_hash(line);
            buf.extend_from_slice(line);
            buf.push(b'\n');
            out.push(appended(first + i as u64, &leaf, entry));
        }
        let entries_path = self.dir.join(ENTRIES_FILE);
        self.entries
            .write_all_at(&buf, self.pending_end)
            .map_err(|e| JournalError::io(&entries_path, &e))?;
        self.pending += out.len() as u64;
        self.pending_end += buf.len() as u64;
        self.last_payload = batch.last_payload;
        Ok(out)
    }

    /// Makes every entry this handle appended with
    /// [`append_signed_deferred`](Self::append_signed_deferred) durable: one data sync of the
    /// entries file (which also covers lines other processes wrote), then the index is extended
    /// and synced. Returns how many of this handle's entries were waiting; 0 costs nothing.
    pub fn flush(&mut self) -> Result<u64, JournalError> {
        let waiting = self.pending;
        if waiting == 0 {
            return Ok(0);
        }
        let _lock = self.lock(true)?;
        // Syncs the entries file before it indexes what lies past the index, whoever wrote it
        // (another writer may already have done both: then there is nothing left to do).
        self.repair()?;
        Ok(waiting)
    }

    /// Byte length of the entries file as this handle last wrote or saw it (deferred lines
    /// included): a [`DataSync`] taken now covers everything up to here.
    pub fn written_end(&self) -> u64 {
        self.pending_end
    }

    /// A handle that syncs the entries file's data without this handle or the journal's lock,
    /// so that a writer can go on appending while the disk works. It makes durable every line
    /// written before the call, by any process; the index is left to [`flush`](Self::flush) or
    /// to the next writer.
    pub fn data_sync(&self) -> Result<DataSync, JournalError> {
        let path = self.dir.join(ENTRIES_FILE);
        let file = self
            .entries
            .try_clone()
            .map_err(|e| JournalError::io(&path, &e))?;
        Ok(DataSync { file, path })
    }

    /// Binds `entries` to the positions after every entry written so far (deferred ones
    /// included), then signs them. Call with the exclusive lock.
    fn sign_batch(&self, entries: &[Value], signer: &Signer) -> Result<SignedBatch, JournalError> {
        let signed_at = crate::time_fmt::now();
        let first = self.size + self.pending;
        // In order: bind each entry to its index and predecessor, and serialize it.
        let mut previous = self.last_payload;
        let mut prepared = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let Value::Object(map) = entry else {
                return Err(JournalError::InvalidEntry(
                    "a journal entry must be a JSON object".into(),
                ));
            };
            let mut map = map.clone();
            record::bind_position(&mut map, &self.origin, first + i as u64, previous.as_ref());
            let p = signing::Prepared::new(map, signer.key_id(), &signed_at)?;
            previous = Some(record::payload_hash(&p.payload));
            prepared.push(p);
        }
        // Then sign, on every core for a large batch: the signatures are independent.
        let signatures = sign_all(&prepared, signer);
        let mut batch = SignedBatch {
            lines: Vec::with_capacity(entries.len()),
            entries: Vec::with_capacity(entries.len()),
            last_payload: previous,
        };
        for (p, raw) in prepared.into_iter().zip(signatures) {
            let (value, line) = p.finish(&raw)?;
            if line.contains(&b'\n') {
                return Err(JournalError::InvalidEntry(
                    "a journal line must not contain a newline".into(),
                ));
            }
            batch.lines.push(line);
            batch.entries.push(value);
        }
        Ok(batch)
    }

    /// Appends entries that are already signed (e.g. receipts from csc-runner), unchanged except
    /// for canonical encoding. They carry no position binding.
    pub fn append_presigned(&mut self, entries: &[Value]) -> Result<Vec<Appended>, JournalError> {
        let _lock = self.lock(true)?;
        self.sync()?;
        let mut lines = Vec::with_capacity(entries.len());
        for entry in entries {
            match entry.get("signature") {
                Some(Value::Object(_)) => {}
                _ => {
                    return Err(JournalError::InvalidEntry(
                        "a pre-signed entry must carry a signature object".into(),
                    ))
                }
            }
            lines.push(
                cordon_core::canonical::to_vec(entry)
                    .map_err(|e| JournalError::InvalidEntry(e.to_string()))?,
            );
        }
        let last = lines.last().and_then(|l| record::line_payload_hash(l));
        let out = self.finish_append(lines, entries.to_vec())?;
        if last.is_some() {
            self.last_payload = last;
        }
        Ok(out)
    }

    fn finish_append(
        &mut self,
        lines: Vec<Vec<u8>>,
        values: Vec<Value>,
    ) -> Result<Vec<Appended>, JournalError> {
        let first = self.size;
        let leaves = self.append_lines(&lines)?;
        Ok(values
            .into_iter()
            .zip(leaves)
            .enumerate()
            .map(|(i, (entry, leaf))| appended(first + i as u64, &leaf, entry))
            .collect())
    }

    /// The root of the tree over the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, JournalError> {
        if size == 0 {
            return Ok(merkle::empty_root());
        }
        self.subtree(0, size)
    }

    /// Writes a checkpoint for the journal as it is now, signed as a note named by the origin,
    /// and returns it with its text. Idempotent: the same size and key give the same file.
    pub fn write_checkpoint(
        &mut self,
        signer: &Signer,
    ) -> Result<(Checkpoint, String), JournalError> {
        let _lock = self.lock(true)?;
        self.sync()?;
        let mut root = merkle::empty_root();
        let mut first = true;
        for h in self.frontier.iter().flatten() {
            root = if first {
                *h
            } else {
                merkle::node_hash(h, &root)
            };
            first = false;
        }
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size: self.size,
            root,
            extensions: Vec::new(),
        };
        let text = cp.sign(signer)?;
        let id = hex::encode(note::key_hash(&self.origin, &signer.verifying_key()));
        let path = self
            .dir
            .join(CHECKPOINT_DIR)
            .join(format!("{:020}-{id}.checkpoint", cp.size));
        match fs::read_to_string(&path) {
            Ok(existing) if existing == text => return Ok((cp, text)),
            Ok(_) => {
                return Err(JournalError::Corrupt(format!(
                    "{}: a different checkpoint for this size and key already exists",
                    path.display()
                )))
            }
            Err(_) => {}
        }
        // Atomic, not durable: a checkpoint is re-derivable from the synced entries (the same
        // size, root and deterministic signature), so a power cut that loses its name loses
        // nothing the next checkpoint does not say again; a torn one would be a false alarm.
        keys::write_new_file(&path, text.as_bytes(), 0o644, Durability::Atomic)?;
        Ok((cp, text))
    }

    /// Reads entry `index`'s line (without its newline).
    pub fn read_entry(&self, index: u64) -> Result<Vec<u8>, JournalError> {
        if index >= self.size {
            return Err(JournalError::Proof(format!(
                "there is no entry {index}; the journal has {}",
                self.size
            )));
        }
        let start = if index == 0 {
            0
        } else {
            self.read_offset(index - 1)?
        };
        let end = self.read_offset(index)?;
        if end <= start {
            return Err(JournalError::Corrupt(format!(
                "index offsets for entry {index} are out of order"
            )));
        }
        let mut buf = vec![0u8; (end - start - 1) as usize];
        self.entries
            .read_exact_at(&mut buf, start)
            .map_err(|e| JournalError::io(self.dir.join(ENTRIES_FILE), &e))?;
        Ok(buf)
    }

    /// Re-reads the index state so that appends by other processes become visible.
    pub fn refresh(&mut self) -> Result<(), JournalError> {
        let _lock = self.lock(true)?;
        self.sync()
    }

    /// RFC 9162 inclusion proof for entry `index` in the tree of size `size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, JournalError> {
        self.check_size(size)?;
        merkle::inclusion_proof(self, index, size)
    }

    /// RFC 9162 consistency proof from size `old` to size `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, JournalError> {
        self.check_size(new)?;
        merkle::consistency_proof(self, old, new)
    }

    fn check_size(&self, size: u64) -> Result<(), JournalError> {
        if size > self.size {
            return Err(JournalError::Proof(format!(
                "tree size {size} exceeds the journal's {} entries",
                self.size
            )));
        }
        Ok(())
    }

    /// Stored checkpoint files, sorted by tree size.
    pub fn checkpoint_files(&self) -> Result<Vec<PathBuf>, JournalError> {
        checkpoint_files(&self.dir)
    }

    /// The text of the stored checkpoint with the largest tree size, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<String>, JournalError> {
        match self.checkpoint_files()?.last() {
            Some(p) => Ok(Some(
                fs::read_to_string(p).map_err(|e| JournalError::io(p, &e))?,
            )),
            None => Ok(None),
        }
    }

    /// A `c2sp.org/tlog-proof@v1` bundle proving entry `index` is in the tree of `checkpoint`
    /// (default: the latest stored checkpoint). The entry's line travels as the `extra` data so the
    /// bundle verifies offline on its own.
    pub fn proof_bundle(
        &self,
        index: u64,
        checkpoint: Option<&str>,
    ) -> Result<String, JournalError> {
        let text = match checkpoint {
            Some(t) => t.to_string(),
            None => self.latest_checkpoint()?.ok_or_else(|| {
                JournalError::Proof("the journal has no checkpoint yet; write one first".into())
            })?,
        };
        let note = note::Note::parse(&text)?;
        let cp = Checkpoint::parse_body(&note.text)?;
        if index >= cp.size {
            return Err(JournalError::Proof(format!(
                "entry {index} is not covered by the checkpoint of size {}; write a newer checkpoint",
                cp.size
            )));
        }
        if self.root_at(cp.size)? != cp.root {
            return Err(JournalError::Corrupt(format!(
                "the checkpoint of size {} does not match the journal's tree; run `cordon verify`",
                cp.size
            )));
        }
        let entry = self.read_entry(index)?;
        let hashes = self.inclusion_proof(index, cp.size)?;
        Ok(proof::encode(Some(&entry), index, &hashes, &text))
    }
}

impl SubtreeHashes for Journal {
    fn subtree(&self, start: u64, end: u64) -> Result<Hash, JournalError> {
        if start >= end || end > self.size {
            return Err(JournalError::Proof(format!(
                "no subtree {start}..{end} in {} entries",
                self.size
            )));
        }
        let n = end - start;
        if n.is_power_of_two() && start.is_multiple_of(n) {
            return self.read_node(node_pos(n.trailing_zeros(), start / n));
        }
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        Ok(merkle::node_hash(
            &self.subtree(start, start + k)?,
            &self.subtree(start + k, end)?,
        ))
    }
}

/// Signs every prepared payload; batches of 64 or more are split across the available cores.
fn sign_all(prepared: &[signing::Prepared], signer: &Signer) -> Vec<[u8; 64]> {
    let inline = || prepared.iter().map(|p| signer.sign(&p.payload)).collect();
    // Checked first: asking for the core count reads cgroup CPU quota files, which costs more
    // than signing the one or two entries of a typical append.
    if prepared.len() < 64 {
        return inline();
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 {
        return inline();
    }
    let chunk = prepared.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = prepared
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|p| signer.sign(&p.payload))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // A signing thread cannot panic short of a bug in ed25519-dalek; sign inline if one does.
        let mut out = Vec::with_capacity(prepared.len());
        for (h, part) in handles.into_iter().zip(prepared.chunks(chunk)) {
            match h.join() {
                Ok(sigs) => out.extend(sigs),
                Err(_) => out.extend(part.iter().map(|p| signer.sign(&p.payload))),
            }
        }
        out
    })
}

/// Syncs a journal's entries file from another thread ([`Journal::data_sync`]).
#[derive(Debug)]
pub struct DataSync {
    file: File,
    path: PathBuf,
}

impl DataSync {
    /// `fdatasync(2)` of the entries file.
    pub fn sync(&self) -> Result<(), JournalError> {
        self.file
            .sync_data()
            .map_err(|e| JournalError::io(&self.path, &e))
    }
}

/// Entries signed and bound to their positions, ready to be written.
struct SignedBatch {
    /// Canonical lines, without their newlines.
    lines: Vec<Vec<u8>>,
    entries: Vec<Value>,
    /// Payload hash of the last entry: the next entry's predecessor.
    last_payload: Option<Hash>,
}

/// Where an entry landed.
fn appended(index: u64, leaf: &Hash, entry: Value) -> Appended {
    let record_id = match &entry {
        Value::Object(m) if record::entry_kind(m) == EntryKind::Decision => m
            .get("record_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    };
    Appended {
        index,
        leaf_hash: hex::encode(leaf),
        record_id,
        entry,
    }
}

/// The kernel's id for this boot: unsynced writes survive exactly as long as it stays the same.
fn current_boot() -> Option<String> {
    let text = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = text.trim();
    let well_formed = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    well_formed.then(|| id.to_string())
}

/// `index/durable`: `None` where it does not exist, 0 where it cannot be read whole.
fn read_durable(path: &Path) -> Option<u64> {
    match fs::read(path) {
        Ok(bytes) => Some(
            bytes
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_le_bytes),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(_) => Some(0),
    }
}

fn file_len(f: &File, path: &Path) -> Result<u64, JournalError> {
    f.metadata()
        .map(|m| m.len())
        .map_err(|e| JournalError::io(path, &e))
}

/// Checkpoint files in `dir/checkpoints`, sorted by the tree size in their name. Temporary and
/// hidden files are skipped.
pub fn checkpoint_files(dir: &Path) -> Result<Vec<PathBuf>, JournalError> {
    let cdir = dir.join(CHECKPOINT_DIR);
    let mut out = Vec::new();
    let rd = match fs::read_dir(&cdir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(JournalError::io(&cdir, &e)),
    };
    for ent in rd {
        let ent = ent.map_err(|e| JournalError::io(&cdir, &e))?;
        let name = ent.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !name.ends_with(".checkpoint") {
            continue;
        }
        out.push(ent.path());
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_positions_are_post_order() {
        // Leaves 0,1 → parent; leaf 2, leaf 3 → parent → grandparent.
        assert_eq!(node_pos(0, 0), 0);
        assert_eq!(node_pos(0, 1), 1);
        assert_eq!(node_pos(1, 0), 2);
        assert_eq!(node_pos(0, 2), 3);
        assert_eq!(node_pos(0, 3), 4);
        assert_eq!(node_pos(1, 1), 5);
        assert_eq!(node_pos(2, 0), 6);
        assert_eq!(nodes_count(4), 7);
        assert_eq!(nodes_count(5), 8);
    }
}
