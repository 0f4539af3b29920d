//! RFC 9162 Merkle tree hashing, inclusion and consistency proofs.
//!
//! Written by hand against RFC 9162 §2.1 because every byte is fixed by the standard and checked
//! by the transparency-dev vectors: leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ l ‖ r), and
//! a tree of n leaves splits at the largest power of two smaller than n.
//!
//! Proof *generation* is written against [`SubtreeHashes`], so the same code works over leaves
//! held in memory and over the journal's on-disk index, where a complete, aligned subtree's hash is
//! one read. That is what keeps a proof in a million-entry journal to a few dozen reads.

use sha2::{Digest as _, Sha256};

use crate::error::JournalError;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// RFC 9162 leaf hash: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Anything that can give the hash of the subtree over leaves `start..end`.
pub trait SubtreeHashes {
    fn subtree(&self, start: u64, end: u64) -> Result<Hash, JournalError>;
}

/// Leaf hashes held in memory.
impl SubtreeHashes for [Hash] {
    fn subtree(&self, start: u64, end: u64) -> Result<Hash, JournalError> {
        if start >= end || end > self.len() as u64 {
            return Err(JournalError::Proof(format!(
                "no subtree {start}..{end} in {} leaves",
                self.len()
            )));
        }
        Ok(mth(&self[start as usize..end as usize]))
    }
}

/// The Merkle tree hash of `leaves` (leaf hashes), recursively as RFC 9162 defines it.
pub fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// The root of a tree over leaf hashes, folded in one pass with O(log n) memory: the compact range
/// of the leaves seen so far. Verification streams the journal through this.
#[derive(Debug, Clone, Default)]
pub struct TreeBuilder {
    /// Roots of the complete subtrees, left to right, strictly decreasing sizes.
    stack: Vec<(Hash, u32)>,
    size: u64,
}

impl TreeBuilder {
    pub fn new() -> Self {
        TreeBuilder::default()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Hash) {
        let mut node = leaf;
        let mut height = 0u32;
        while let Some(&(left, h)) = self.stack.last() {
            if h != height {
                break;
            }
            self.stack.pop();
            node = node_hash(&left, &node);
            height += 1;
        }
        self.stack.push((node, height));
        self.size += 1;
    }

    /// The compact range: the roots of the complete subtrees the tree of [`size`](Self::size)
    /// leaves decomposes into, largest first. With the size it is all a witness needs to keep
    /// to extend the tree with new leaves.
    pub fn frontier(&self) -> Vec<Hash> {
        self.stack.iter().map(|(h, _)| *h).collect()
    }

    /// Restores a builder from a tree size and its [`frontier`](Self::frontier); `None` when the
    /// number of hashes does not match the size (one per set bit).
    pub fn from_frontier(size: u64, frontier: &[Hash]) -> Option<TreeBuilder> {
        if frontier.len() != size.count_ones() as usize {
            return None;
        }
        let heights = (0..64u32).rev().filter(|k| size >> k & 1 == 1);
        Some(TreeBuilder {
            stack: frontier.iter().copied().zip(heights).collect(),
            size,
        })
    }

    /// The root of the tree over every leaf pushed so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.stack.iter().rev();
        let Some(&(mut acc, _)) = iter.next() else {
            return empty_root();
        };
        for (left, _) in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

#[cfg(test)]
mod frontier_tests {
    use super::*;

    #[test]
    fn a_builder_restored_from_its_frontier_grows_the_same_tree() {
        let leaves: Vec<Hash> = (0..41u64).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for cut in 0..leaves.len() {
            let mut first = TreeBuilder::new();
            leaves[..cut].iter().for_each(|l| first.push(*l));
            let mut restored = TreeBuilder::from_frontier(cut as u64, &first.frontier()).unwrap();
            leaves[cut..].iter().for_each(|l| restored.push(*l));
            assert_eq!(restored.root(), mth(&leaves), "cut at {cut}");
        }
        assert!(TreeBuilder::from_frontier(3, &[[0; 32]]).is_none());
    }
}

/// RFC 9162 §2.1.3.1 inclusion proof for leaf `index` in the tree of the first `size` leaves.
pub fn inclusion_proof<S: SubtreeHashes + ?Sized>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, JournalError> {
    if index >= size {
        return Err(JournalError::Proof(format!(
            "index {index} is not below tree size {size}"
        )));
    }
    let mut proof = Vec::new();
    path(src, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<S: SubtreeHashes + ?Sized>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), JournalError> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(src, m, start, start + k, out)?;
        out.push(src.subtree(start + k, end)?);
    } else {
        path(src, m - k, start + k, end, out)?;
        out.push(src.subtree(start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.1 consistency proof between the trees of sizes `old` and `new`.
pub fn consistency_proof<S: SubtreeHashes + ?Sized>(
    src: &S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, JournalError> {
    if old == 0 || old > new {
        return Err(JournalError::Proof(format!(
            "no consistency proof from size {old} to size {new}"
        )));
    }
    let mut proof = Vec::new();
    subproof(src, old, 0, new, true, &mut proof)?;
    Ok(proof)
}

fn subproof<S: SubtreeHashes + ?Sized>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), JournalError> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(src.subtree(start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, start + k, complete, out)?;
        out.push(src.subtree(start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(src.subtree(start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.3.2: the root an inclusion proof implies for `leaf` at `index` of `size`.
pub fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, JournalError> {
    if index >= size {
        return Err(JournalError::Proof(format!(
            "index {index} is not below tree size {size}"
        )));
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(JournalError::Proof(
                "the inclusion proof is too long".into(),
            ));
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(JournalError::Proof(
            "the inclusion proof is too short".into(),
        ));
    }
    Ok(r)
}

/// Checks an inclusion proof against a known root.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), JournalError> {
    if root_from_inclusion(index, size, leaf, proof)? != *root {
        return Err(JournalError::Proof(format!(
            "the inclusion proof for index {index} does not lead to the root of size {size}"
        )));
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: checks that the tree of size `old` with root `old_root` is a prefix of the
/// tree of size `new` with root `new_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), JournalError> {
    let fail = |why: &str| {
        Err(JournalError::Proof(format!(
            "consistency {old} → {new}: {why}"
        )))
    };
    if old > new {
        return fail("the old size is larger than the new size");
    }
    if old == new {
        if !proof.is_empty() {
            return fail("equal sizes need an empty proof");
        }
        if old_root != new_root {
            return fail("equal sizes but different roots");
        }
        return Ok(());
    }
    if old == 0 {
        // Every tree extends the empty tree; there is nothing to prove.
        if !proof.is_empty() {
            return fail("a proof from the empty tree must be empty");
        }
        return Ok(());
    }
    if proof.is_empty() {
        return fail("the proof is empty");
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let mut fnode = old - 1;
    let mut snode = new - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if snode == 0 {
            return fail("the proof is too long");
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return fail("the proof is too short");
    }
    if fr != *old_root {
        return fail("the proof does not lead to the old root");
    }
    if sr != *new_root {
        return fail("the proof does not lead to the new root");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn builder_matches_recursive_definition() {
        for n in 0..70u64 {
            let l = leaves(n);
            let mut b = TreeBuilder::new();
            for h in &l {
                b.push(*h);
            }
            assert_eq!(b.root(), mth(&l), "n={n}");
        }
    }

    #[test]
    fn every_generated_proof_verifies_and_mutations_fail() {
        let all = leaves(33);
        for n in 1..=33u64 {
            let l = &all[..n as usize];
            let root = mth(l);
            for i in 0..n {
                let p = inclusion_proof(l, i, n).unwrap();
                verify_inclusion(i, n, &l[i as usize], &p, &root).unwrap();
                if n > 1 {
                    assert!(verify_inclusion((i + 1) % n, n, &l[i as usize], &p, &root).is_err());
                }
            }
            for m in 1..=n {
                let p = consistency_proof(l, m, n).unwrap();
                let old = mth(&l[..m as usize]);
                verify_consistency(m, n, &p, &old, &root).unwrap();
                if m < n {
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_consistency(m, n, &bad, &old, &root).is_err());
                }
            }
        }
    }
}
