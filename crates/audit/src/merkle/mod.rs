//! RFC 6962 / RFC 9162 Merkle tree over the log's entries.
//!
//! Leaves are `SHA-256(0x00 || entry_hash)`, interior nodes `SHA-256(0x01 || left || right)`,
//! and the tree over `n` leaves splits at the largest power of two below `n`
//! ([`root_of`]). This module holds the reference tree head, the proof generators the log
//! serves, the verifiers a client runs ([`verify_inclusion`], [`verify_consistency`]) and the
//! incremental tree head the log keeps while appending (the crate-private `Frontier`).

mod error;
mod frontier;
mod verify;

use sha2::{Digest, Sha256};

pub use error::ProofError;
pub(crate) use frontier::Frontier;
pub use verify::{verify_consistency, verify_inclusion};

use crate::Hash;

/// Merkle leaf hash of an entry: `SHA-256(0x00 || entry_hash)`.
pub fn leaf_hash(entry_hash: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry_hash);
    hasher.finalize().into()
}

/// Interior node hash: `SHA-256(0x01 || l || r)`.
pub fn node_hash(l: &Hash, r: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(l);
    hasher.update(r);
    hasher.finalize().into()
}

/// Tree head of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Reference Merkle tree head `MTH(leaves)` of RFC 6962 §2.1, by recursive splitting.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [leaf] => *leaf,
        _ => {
            let (left, right) = leaves.split_at(split_point(leaves.len()));
            node_hash(&root_of(left), &root_of(right))
        }
    }
}

/// RFC 6962 `PATH(index, leaves)`: the audit path proving that leaf `index` is in the tree
/// over `leaves`, ordered from the leaf up.
pub fn inclusion_path(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, ProofError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // `index < size = leaves.len()`, so it fits a usize.
    Ok(audit_path(leaves, index as usize))
}

/// RFC 6962 `PROOF(old_size, leaves)`: the consistency proof between the tree over the first
/// `old_size` leaves and the tree over all of `leaves`. Empty when `old_size` is 0 or equals
/// the full size.
pub fn consistency_path(leaves: &[Hash], old_size: u64) -> Result<Vec<Hash>, ProofError> {
    let new_size = leaves.len() as u64;
    if old_size > new_size {
        return Err(ProofError::OldSizeExceedsNew { old_size, new_size });
    }
    Ok(subproof(leaves, old_size as usize))
}

/// [`inclusion_path`] for an `index` below `leaves.len()`.
pub(crate) fn audit_path(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let mut path = Vec::new();
    push_path(leaves, index, &mut path);
    path
}

/// [`consistency_path`] for an `old_size` of at most `leaves.len()`.
pub(crate) fn subproof(leaves: &[Hash], old_size: usize) -> Vec<Hash> {
    let mut proof = Vec::new();
    if old_size > 0 && old_size < leaves.len() {
        push_subproof(leaves, old_size, true, &mut proof);
    }
    proof
}

/// Largest power of two strictly below `n` (for `n >= 2`).
pub(crate) fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

fn push_path(leaves: &[Hash], index: usize, path: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split_point(leaves.len());
    let (left, right) = leaves.split_at(k);
    if index < k {
        push_path(left, index, path);
        path.push(root_of(right));
    } else {
        push_path(right, index - k, path);
        path.push(root_of(left));
    }
}

/// RFC 6962 `SUBPROOF(m, leaves, complete)`, for `1 <= m <= leaves.len()`.
fn push_subproof(leaves: &[Hash], m: usize, complete: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            proof.push(root_of(leaves));
        }
        return;
    }
    let k = split_point(n);
    let (left, right) = leaves.split_at(k);
    if m <= k {
        push_subproof(left, m, complete, proof);
        proof.push(root_of(right));
    } else {
        push_subproof(right, m - k, false, proof);
        proof.push(root_of(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u32)
            .map(|i| leaf_hash(&Sha256::digest(i.to_le_bytes()).into()))
            .collect()
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        let expected = [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)];
        for (n, k) in expected {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }

    #[test]
    fn every_proof_verifies_for_small_trees() {
        let all = leaves(40);
        let roots: Vec<Hash> = (0..=all.len()).map(|n| root_of(&all[..n])).collect();
        for n in 1..=all.len() {
            for i in 0..n {
                let path = inclusion_path(&all[..n], i as u64).unwrap();
                verify_inclusion(&all[i], i as u64, n as u64, &path, &roots[n]).unwrap();
            }
            for m in 0..=n {
                let proof = consistency_path(&all[..n], m as u64).unwrap();
                verify_consistency(m as u64, n as u64, &roots[m], &roots[n], &proof).unwrap();
            }
        }
    }

    #[test]
    fn generators_reject_bad_ranges() {
        let all = leaves(5);
        assert_eq!(
            inclusion_path(&all, 5),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            consistency_path(&all, 6),
            Err(ProofError::OldSizeExceedsNew {
                old_size: 6,
                new_size: 5
            })
        );
    }
}
