//! The checkpoint manifest: the signed record a rollback trusts, and the only one.
//!
//! ```text
//! manifests/<id>.jsonl
//!   {"type":"cordon.checkpoint/1","id":…,"created_at":…,"session":…,"label":…,"workspace":HEX,
//!    "coverage":…,"scopes":[{"path":HEX,"kind":…,"method":"full"|"observed","outside_workspace":…}]}
//!   {"scope":0,"path":HEX,"kind":"file","mode":420,"mtime_ns":…,"size":…,"sha256":…}   one per entry
//!   …
//!   {"seal":{"type":"cordon.checkpoint.seal/1","id":…,"manifest_sha256":…,"signature":{…}}}
//! ```
//!
//! Paths are the hex of their exact bytes (so any name round-trips). The last line seals the
//! SHA-256 of every byte before it with the home's key ([`crate::seal`]); an unsigned manifest
//! (from the unsigned entry points) has `{"seal":null}`. One file, written under a temporary
//! name and renamed into place, so a checkpoint exists whole or not at all. The SQLite index is a
//! cache of these files (`Store::reindex`): a rollback reads and verifies the manifest itself.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::seal::{self, Sealing, Trust};
use crate::snapshot::{Coverage, Entry, Kind};

pub(crate) const FORMAT: &str = "cordon.checkpoint/1";
pub(crate) const SEAL_TYPE: &str = "cordon.checkpoint.seal/1";

/// The longest manifest line read (a header with many scopes, or an entry with a 4 KiB path in
/// hex, fits many times over).
const MAX_LINE: usize = 4 << 20;

/// The largest manifest read: a full checkpoint at its entry limit (1,000,000 entries, about 200
/// bytes each) fits several times over; anything larger is not one cordon wrote.
const MAX_MANIFEST: u64 = 1 << 30;

/// How a scope's earlier state is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Every entry was recorded before the command ran; rollback rebuilds the whole scope and
    /// swaps it in with one rename.
    Full,
    /// Only what the command changed was recorded, as it changed it (pre-images and the names it
    /// created); rollback puts back exactly those.
    Observed,
}

/// One scope root as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeRecord {
    #[serde(with = "hex_path")]
    pub path: PathBuf,
    pub kind: Kind,
    pub method: Method,
    /// True when the scope does not lie inside the workspace the checkpoint was taken for (or no
    /// workspace was given): rolling it back needs the person's explicit consent.
    pub outside_workspace: bool,
}

/// The first line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Header {
    #[serde(rename = "type")]
    pub format: String,
    pub id: String,
    pub created_at: String,
    pub session: Option<String>,
    pub label: String,
    #[serde(with = "hex_path_opt")]
    pub workspace: Option<PathBuf>,
    pub coverage: Coverage,
    pub scopes: Vec<ScopeRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
struct EntryLine {
    scope: usize,
    #[serde(with = "hex_path")]
    path: PathBuf,
    kind: Kind,
    mode: u32,
    #[serde(default)]
    mtime_ns: i64,
    #[serde(default)]
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hex_path_opt"
    )]
    target: Option<PathBuf>,
}

/// A manifest read back and checked.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub header: Header,
    /// `(scope index, entry)`, in the order written (parents before children).
    pub entries: Vec<(usize, Entry)>,
    pub sha256: String,
    pub signed_by: Option<String>,
}

pub(crate) fn dir(store_root: &Path) -> PathBuf {
    store_root.join("manifests")
}

/// Where checkpoint `id`'s manifest lives; `NotFound` for an id cordon could not have made
/// (anything but letters, digits and `-` could name a path outside the store).
pub(crate) fn path(store_root: &Path, id: &str) -> Result<PathBuf> {
    if !is_checkpoint_id(id) {
        return Err(Error::NotFound {
            kind: "checkpoint",
            id: id.to_string(),
        });
    }
    Ok(dir(store_root).join(format!("{id}.jsonl")))
}

pub(crate) fn is_checkpoint_id(id: &str) -> bool {
    id.starts_with("ck-")
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Writes a manifest line by line, hashing every byte, then seals it and renames it into place.
pub(crate) struct Writer {
    tmp: PathBuf,
    dest: PathBuf,
    id: String,
    out: BufWriter<File>,
    hasher: Sha256,
}

impl Writer {
    pub(crate) fn create(store_root: &Path, header: &Header) -> Result<Writer> {
        let dest = path(store_root, &header.id)?;
        let tmp = dir(store_root).join(format!(".{}.tmp", header.id));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        let mut writer = Writer {
            tmp,
            dest,
            id: header.id.clone(),
            out: BufWriter::with_capacity(256 * 1024, file),
            hasher: Sha256::new(),
        };
        let line = serde_json::to_vec(header).map_err(|e| Error::io(&writer.tmp, e))?;
        writer.line(&line)?;
        Ok(writer)
    }

    pub(crate) fn entry(&mut self, scope: usize, entry: &Entry) -> Result<()> {
        let line = EntryLine {
            scope,
            path: entry.rel.clone(),
            kind: entry.kind,
            mode: entry.mode,
            mtime_ns: entry.mtime_ns,
            size: entry.size,
            sha256: entry.sha256.clone(),
            target: entry.target.clone(),
        };
        let bytes = serde_json::to_vec(&line).map_err(|e| Error::io(&self.tmp, e))?;
        self.line(&bytes)
    }

    fn line(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.hasher.update(b"\n");
        self.out
            .write_all(bytes)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|e| Error::io(&self.tmp, e))
    }

    /// Seals, flushes to disk and renames into place. Returns the manifest's SHA-256 (of every
    /// line before the seal) and the signing key id. One `syncfs` of the store makes both the
    /// objects and this file durable before the rename makes the checkpoint exist, and an
    /// `fsync` of the directory makes the rename durable: two flushes, whatever the size.
    pub(crate) fn finish(
        mut self,
        store: &crate::store::Store,
        sealing: Sealing<'_>,
    ) -> Result<(String, Option<String>)> {
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let (seal, key_id) = match sealing {
            Sealing::Unsigned => (Value::Null, None),
            signed => seal::seal(
                json!({"type": SEAL_TYPE, "id": self.id, "manifest_sha256": sha256}),
                signed,
            )?,
        };
        let line =
            serde_json::to_vec(&json!({ "seal": seal })).map_err(|e| Error::io(&self.tmp, e))?;
        self.out
            .write_all(&line)
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::io(&self.tmp, e))?;
        store.sync()?;
        fs::rename(&self.tmp, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        if let Some(parent) = self.dest.parent() {
            File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io(parent, e))?;
        }
        Ok((sha256, key_id))
    }

    /// Drops the unfinished file.
    pub(crate) fn abandon(self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Reads checkpoint `id`'s manifest and checks it as `trust` requires: the seal's signature, that
/// it seals exactly these bytes under this id, and that every path in it is well formed.
pub(crate) fn read(store_root: &Path, id: &str, trust: Trust<'_>) -> Result<Loaded> {
    let path = path(store_root, id)?;
    let what = format!("checkpoint {id}");
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound {
                kind: "checkpoint",
                id: id.to_string(),
            })
        }
        Err(e) => {
            return Err(seal::untrusted(
                &what,
                format!("its manifest cannot be read: {e}"),
            ))
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    if size > MAX_MANIFEST {
        return Err(seal::untrusted(
            &what,
            format!("its manifest is {size} bytes, more than a checkpoint can hold"),
        ));
    }
    let mut reader = BufReader::with_capacity(256 * 1024, file.take(MAX_MANIFEST));
    let mut hasher = Sha256::new();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut pending: Option<Vec<u8>> = None;
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| seal::untrusted(&what, format!("its manifest cannot be read: {e}")))?;
        if n == 0 {
            break;
        }
        if line.len() > MAX_LINE || line.last() != Some(&b'\n') {
            return Err(seal::untrusted(&what, "its manifest is malformed".into()));
        }
        line.pop();
        if let Some(previous) = pending.replace(line) {
            hasher.update(&previous);
            hasher.update(b"\n");
            lines.push(previous);
        }
    }
    let Some(seal_line) = pending else {
        return Err(seal::untrusted(&what, "its manifest is empty".into()));
    };
    let sha256 = hex::encode(hasher.finalize());
    let signed_by = check_seal(&seal_line, id, &sha256, &what, trust)?;
    let mut lines = lines.into_iter();
    let header: Header = lines
        .next()
        .and_then(|l| serde_json::from_slice(&l).ok())
        .ok_or_else(|| seal::untrusted(&what, "its manifest has no header".into()))?;
    check_header(&header, id, &what)?;
    let mut entries = Vec::new();
    for line in lines {
        let e: EntryLine = serde_json::from_slice(&line)
            .map_err(|e| seal::untrusted(&what, format!("an entry is malformed: {e}")))?;
        let entry = check_entry(e, &header, &what)?;
        entries.push(entry);
    }
    Ok(Loaded {
        header,
        entries,
        sha256,
        signed_by,
    })
}

fn check_seal(
    line: &[u8],
    id: &str,
    sha256: &str,
    what: &str,
    trust: Trust<'_>,
) -> Result<Option<String>> {
    let value: Value = serde_json::from_slice(line)
        .map_err(|_| seal::untrusted(what, "its manifest has no seal line".into()))?;
    let seal_value = value
        .get("seal")
        .ok_or_else(|| seal::untrusted(what, "its manifest has no seal line".into()))?;
    if seal_value.is_null() {
        return match trust {
            Trust::Unchecked => Ok(None),
            Trust::Keys(_) => Err(seal::untrusted(what, "its manifest is not signed".into())),
        };
    }
    let signed_by = seal::check(seal_value, SEAL_TYPE, what, trust)?;
    if seal_value.get("id").and_then(Value::as_str) != Some(id) {
        return Err(seal::untrusted(
            what,
            "its seal was made for another checkpoint".into(),
        ));
    }
    if seal_value.get("manifest_sha256").and_then(Value::as_str) != Some(sha256) {
        return Err(seal::untrusted(
            what,
            "its manifest was changed after it was sealed".into(),
        ));
    }
    Ok(signed_by)
}

fn check_header(header: &Header, id: &str, what: &str) -> Result<()> {
    let bad = |why: &str| Err(seal::untrusted(what, why.to_string()));
    if header.format != FORMAT {
        return bad("its manifest is not a cordon.checkpoint/1 manifest");
    }
    if header.id != id {
        return bad("its manifest names another checkpoint");
    }
    if header.scopes.is_empty() {
        return bad("its manifest names no scope");
    }
    for scope in &header.scopes {
        if !is_scope_root(&scope.path) {
            return bad("a scope in its manifest is not an absolute, plain path below `/`");
        }
    }
    if let Some(ws) = &header.workspace {
        if !is_scope_root(ws) {
            return bad("its workspace is not an absolute, plain path");
        }
    }
    Ok(())
}

/// An absolute path with at least one component, each a plain name (no `.`, `..`, empty
/// component or NUL).
pub(crate) fn is_scope_root(path: &Path) -> bool {
    let bytes = path.as_os_str().as_bytes();
    match bytes.strip_prefix(b"/") {
        Some(rest) => {
            !rest.is_empty()
                && !rest.contains(&0)
                && rest.split(|b| *b == b'/').all(crate::at::is_plain_name)
        }
        None => false,
    }
}

fn check_entry(e: EntryLine, header: &Header, what: &str) -> Result<(usize, Entry)> {
    let bad = |why: String| Err(seal::untrusted(what, why));
    let Some(scope) = header.scopes.get(e.scope) else {
        return bad(format!("an entry names scope {}, which it lacks", e.scope));
    };
    let root = e.path.as_os_str().is_empty();
    if !root && !crate::at::is_plain_relative(&e.path) {
        return bad(format!(
            "the entry {:?} is not a plain relative path",
            e.path
        ));
    }
    let well_formed = match e.kind {
        Kind::File => e.sha256.as_deref().is_some_and(is_sha256),
        Kind::Symlink => e.target.is_some(),
        Kind::Absent => root || scope.method == Method::Observed,
        Kind::Dir | Kind::Special => true,
    };
    if !well_formed {
        return bad(format!(
            "the {} entry {:?} is incomplete",
            e.kind.as_str(),
            e.path
        ));
    }
    Ok((
        e.scope,
        Entry {
            rel: e.path,
            kind: e.kind,
            mode: e.mode & 0o7777,
            mtime_ns: e.mtime_ns,
            size: e.size,
            sha256: e.sha256,
            target: e.target,
        },
    ))
}

pub(crate) fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Every checkpoint id that has a manifest file.
pub(crate) fn ids(store_root: &Path) -> Result<Vec<String>> {
    let dir = dir(store_root);
    let mut ids = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".jsonl")) {
            if is_checkpoint_id(id) {
                ids.push(id.to_string());
            }
        }
    }
    ids.sort();
    Ok(ids)
}

mod hex_path {
    use super::*;
    pub fn serialize<S: serde::Serializer>(p: &Path, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(p.as_os_str().as_bytes()))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<PathBuf, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(text).map_err(serde::de::Error::custom)?;
        Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
    }
}

mod hex_path_opt {
    use super::*;
    pub fn serialize<S: serde::Serializer>(
        p: &Option<PathBuf>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match p {
            Some(p) => s.serialize_some(&hex::encode(p.as_os_str().as_bytes())),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<PathBuf>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            hex::decode(t)
                .map(|b| PathBuf::from(std::ffi::OsString::from_vec(b)))
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scope_roots_must_be_plain_absolute_paths_below_the_root() {
        for good in ["/a", "/home/u/ws", "/x/name with space"] {
            assert!(is_scope_root(Path::new(good)), "{good}");
        }
        for bad in ["/", "a", "/a/../b", "/a/./b", "//a", "/a//b", "/a/"] {
            assert!(!is_scope_root(Path::new(bad)), "{bad}");
        }
    }

    #[test]
    fn ids_that_could_name_another_file_are_not_found() {
        for id in ["ck-20260101T000000-abcd", "ck-x"] {
            assert!(is_checkpoint_id(id));
        }
        for id in ["", "ck-../x", "../ck-1", "ck-a/b", "tr-1", "ck-a.jsonl"] {
            assert!(!is_checkpoint_id(id), "{id}");
        }
    }
}
