//! Proof verifiers of RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency).
//!
//! Both algorithms walk two indices (`fn`, `sn`) up the tree, and the walk depends only on
//! the claimed sizes and index, never on the hashes. So each verifier first runs the walk to
//! learn where every proof hash goes, rejects a proof of the wrong length outright, and then
//! folds the hashes along that plan.

use super::{empty_root, node_hash, ProofError};
use crate::Hash;

/// Checks that `leaf` (a [`super::leaf_hash`], not an entry hash) sits at `index` in the tree
/// of `size` leaves whose head is `root`, using the audit path `proof`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let sides = inclusion_sides(index, size);
    if proof.len() != sides.len() {
        return Err(ProofError::WrongProofLength {
            proof: "inclusion",
            expected: sides.len(),
            got: proof.len(),
        });
    }
    let computed = proof
        .iter()
        .zip(&sides)
        .fold(*leaf, |r, (p, side)| match side {
            Side::Left => node_hash(p, &r),
            Side::Right => node_hash(&r, p),
        });
    if computed != *root {
        return Err(ProofError::InclusionRootMismatch { index, size });
    }
    Ok(())
}

/// Checks that the tree of `new_size` leaves with head `new_root` extends the tree of
/// `old_size` leaves with head `old_root`.
///
/// Equal sizes need an empty proof and equal roots. Size 0 needs an empty proof and
/// `old_root` equal to the empty tree head `SHA-256("")`; it is consistent with any new tree.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldSizeExceedsNew { old_size, new_size });
    }
    let wrong_length = |expected: usize| ProofError::WrongProofLength {
        proof: "consistency",
        expected,
        got: proof.len(),
    };
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(wrong_length(0));
        }
        if old_size == 0 && *old_root != empty_root() {
            return Err(ProofError::OldRootMismatch { old_size, new_size });
        }
        if old_size == new_size && old_root != new_root {
            return Err(ProofError::NewRootMismatch { old_size, new_size });
        }
        return Ok(());
    }

    let plan = consistency_plan(old_size, new_size);
    // When the old tree is a perfect subtree its head is the seed and is not sent.
    let (seed, rest) = if plan.old_root_is_seed {
        (old_root, proof)
    } else {
        proof
            .split_first()
            .ok_or_else(|| wrong_length(plan.steps.len() + 1))?
    };
    if rest.len() != plan.steps.len() {
        let seeded = usize::from(!plan.old_root_is_seed);
        return Err(wrong_length(plan.steps.len() + seeded));
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for (c, step) in rest.iter().zip(&plan.steps) {
        match step {
            Step::Both => {
                fr = node_hash(c, &fr);
                sr = node_hash(c, &sr);
            }
            Step::NewOnly => sr = node_hash(&sr, c),
        }
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch { old_size, new_size });
    }
    if sr != *new_root {
        return Err(ProofError::NewRootMismatch { old_size, new_size });
    }
    Ok(())
}

/// Which side of the running hash a proof hash goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

/// RFC 9162 §2.1.3.2 steps 2-5 without the hashing, for `index < size`.
fn inclusion_sides(index: u64, size: u64) -> Vec<Side> {
    let (mut f, mut s) = (index, size - 1);
    let mut sides = Vec::new();
    while s != 0 {
        if f & 1 == 1 || f == s {
            sides.push(Side::Left);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sides.push(Side::Right);
        }
        f >>= 1;
        s >>= 1;
    }
    sides
}

/// What one consistency proof hash updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Left sibling of both the old and the new running hash.
    Both,
    /// Right sibling of the new running hash only.
    NewOnly,
}

struct ConsistencyPlan {
    /// Whether the walk starts from `old_root` (old size a power of two) rather than the
    /// first proof hash.
    old_root_is_seed: bool,
    /// One step per remaining proof hash.
    steps: Vec<Step>,
}

/// RFC 9162 §2.1.4.2 steps 2-7 without the hashing, for `0 < old_size < new_size`.
fn consistency_plan(old_size: u64, new_size: u64) -> ConsistencyPlan {
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut steps = Vec::new();
    while s != 0 {
        if f & 1 == 1 || f == s {
            steps.push(Step::Both);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            steps.push(Step::NewOnly);
        }
        f >>= 1;
        s >>= 1;
    }
    ConsistencyPlan {
        old_root_is_seed: old_size.is_power_of_two(),
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{consistency_path, inclusion_path, leaf_hash};

    #[test]
    fn planned_lengths_match_generated_proofs() {
        let leaves: Vec<Hash> = (0..70u8).map(|i| leaf_hash(&[i; 32])).collect();
        for n in 1..=leaves.len() {
            for i in 0..n {
                let path = inclusion_path(&leaves[..n], i as u64).unwrap();
                assert_eq!(inclusion_sides(i as u64, n as u64).len(), path.len());
            }
            for m in 1..n {
                let proof = consistency_path(&leaves[..n], m as u64).unwrap();
                let plan = consistency_plan(m as u64, n as u64);
                let seeded = usize::from(!plan.old_root_is_seed);
                assert_eq!(plan.steps.len() + seeded, proof.len(), "{m} -> {n}");
            }
        }
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        // The last leaf of a 2^64 - 1 leaf tree sits on the right spine: 63 levels.
        assert_eq!(inclusion_sides(u64::MAX - 1, u64::MAX).len(), 63);
        assert!(consistency_plan(u64::MAX - 1, u64::MAX).steps.len() <= 64);
        // The first leaf sits under the left perfect subtree of 2^63 leaves.
        let leaf = [0; 32];
        let err = verify_inclusion(&leaf, 0, u64::MAX, &[], &leaf).unwrap_err();
        assert!(matches!(
            err,
            ProofError::WrongProofLength { expected: 64, .. }
        ));
    }
}
