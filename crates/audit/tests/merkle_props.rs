//! Property tests: the log's incremental tree head and its proofs against the reference
//! `root_of`, and the verifiers against every single change to a valid proof.
#![allow(clippy::unwrap_used)]

mod common;

use audit::merkle::{consistency_path, leaf_hash, root_of, verify_consistency, verify_inclusion};
use audit::{Hash, Log, ProofError};
use proptest::prelude::*;

/// Tree sizes around every power of two up to 256, and anything up to 300.
fn size() -> impl Strategy<Value = u64> {
    let mut edges = vec![1u64, 2, 3];
    for k in 2..=8 {
        edges.extend([(1 << k) - 1, 1 << k, (1 << k) + 1]);
    }
    edges.push(300);
    prop_oneof![prop::sample::select(edges), 1..=300u64]
}

/// A log of `n` fixture entries (in a temp dir that lives as long as the log).
fn log_of(n: u64) -> (tempfile::TempDir, Log) {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), common::fast_options()).unwrap();
    common::fill(&mut log, n);
    (dir, log)
}

/// Leaf hashes of the fixture entries `0..n`, computed independently of the log.
fn fixture_leaves(n: u64) -> Vec<Hash> {
    let mut prev = [0; 32];
    (0..n)
        .map(|seq| {
            let entry = common::expected(seq, prev);
            prev = entry.hash();
            leaf_hash(&prev)
        })
        .collect()
}

/// Leaf hashes of the first `n` entries, read back from the log.
fn leaves_n(log: &Log, n: u64) -> Vec<Hash> {
    log.entries(0..n)
        .unwrap()
        .iter()
        .map(|entry| leaf_hash(&entry.hash()))
        .collect()
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut out = *hash;
    out[bit / 8 % 32] ^= 1 << (bit % 8);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn incremental_root_matches_reference(n in size()) {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), common::fast_options()).unwrap();
        let leaves = fixture_leaves(n);
        prop_assert_eq!(log.root(), root_of(&[]));
        for seq in 0..n {
            let receipt = log.append(common::data(seq)).unwrap();
            let reference = root_of(&leaves[..=seq as usize]);
            prop_assert_eq!(receipt.root, reference, "receipt root at size {}", seq + 1);
            prop_assert_eq!(log.root(), reference);
            prop_assert_eq!(leaf_hash(&receipt.entry_hash), leaves[seq as usize]);
        }
        for size in 0..=n {
            prop_assert_eq!(log.root_at(size).unwrap(), root_of(&leaves[..size as usize]));
        }
    }

    // A changed tree size is paired with that size's own root: RFC 6962 proofs bind the size
    // only through the proof's shape, and a size with another size's root is no tree head
    // a log ever produced. The log holds one entry more than the tree under test for that.

    #[test]
    fn inclusion_proofs_verify_and_every_change_fails(n in size(), bit in 0usize..256) {
        let (_dir, log) = log_of(n + 1);
        let leaves = fixture_leaves(n + 1);
        let root = log.root_at(n).unwrap();
        let (smaller_root, larger_root) = (log.root_at(n - 1).unwrap(), log.root());
        for index in 0..n {
            let leaf = &leaves[index as usize];
            let proof = log.inclusion_proof(index, n).unwrap();
            verify_inclusion(leaf, index, n, &proof, &root).unwrap();

            for at in 0..proof.len() {
                let mut bad = proof.clone();
                bad[at] = flip(&bad[at], bit);
                prop_assert!(verify_inclusion(leaf, index, n, &bad, &root).is_err());
            }
            for wrong in [index ^ 1, index.wrapping_sub(1), index + 1, n] {
                if wrong != index {
                    prop_assert!(verify_inclusion(leaf, wrong, n, &proof, &root).is_err());
                }
            }
            prop_assert!(verify_inclusion(&flip(leaf, bit), index, n, &proof, &root).is_err());
            prop_assert!(verify_inclusion(leaf, index, n, &proof, &flip(&root, bit)).is_err());
            prop_assert!(verify_inclusion(leaf, index, n, &proof, &smaller_root).is_err());
            prop_assert!(verify_inclusion(leaf, index, n + 1, &proof, &larger_root).is_err());
            prop_assert!(verify_inclusion(leaf, index, n - 1, &proof, &smaller_root).is_err());
            let mut longer = proof.clone();
            longer.push(root);
            let longer_err = verify_inclusion(leaf, index, n, &longer, &root).unwrap_err();
            prop_assert!(
                matches!(longer_err, ProofError::WrongProofLength { .. }),
                "{:?}",
                longer_err
            );
            if let Some((_, shorter)) = proof.split_last() {
                prop_assert!(verify_inclusion(leaf, index, n, shorter, &root).is_err());
            }
        }
    }

    #[test]
    fn consistency_proofs_verify_and_every_change_fails(
        n in size(),
        picks in prop::collection::vec((any::<u64>(), 0usize..256), 12),
    ) {
        let (_dir, log) = log_of(n + 1);
        let new_root = log.root_at(n).unwrap();
        let leaves = leaves_n(&log, n);
        // Always the edges (0, 1, n - 1, n), then random old sizes.
        let mut pairs: Vec<(u64, usize)> =
            [0, 1, n - 1, n].into_iter().map(|m| (m, picks[0].1)).collect();
        pairs.extend(picks.iter().map(|&(m, bit)| (m % (n + 1), bit)));
        for (m, bit) in pairs {
            let old_root = log.root_at(m).unwrap();
            let proof = log.consistency_proof(m, n).unwrap();
            verify_consistency(m, n, &old_root, &new_root, &proof).unwrap();
            prop_assert_eq!(&proof, &consistency_path(&leaves, m).unwrap());
            if m == 0 || m == n {
                prop_assert!(proof.is_empty());
            }

            for at in 0..proof.len() {
                let mut bad = proof.clone();
                bad[at] = flip(&bad[at], bit);
                prop_assert!(verify_consistency(m, n, &old_root, &new_root, &bad).is_err());
            }
            if m != n {
                prop_assert!(verify_consistency(m, n, &new_root, &old_root, &proof).is_err());
            }
            let mut longer = proof.clone();
            longer.push(new_root);
            prop_assert!(verify_consistency(m, n, &old_root, &new_root, &longer).is_err());
            if let Some((_, shorter)) = proof.split_last() {
                prop_assert!(verify_consistency(m, n, &old_root, &new_root, shorter).is_err());
            }
            let bad_old = flip(&old_root, bit);
            prop_assert!(verify_consistency(m, n, &bad_old, &new_root, &proof).is_err());
            if m == 0 {
                // The empty tree is consistent with every tree: nothing about the new one
                // is checked, so only changes to the old side can fail.
                continue;
            }
            let bad_new = flip(&new_root, bit);
            prop_assert!(verify_consistency(m, n, &old_root, &bad_new, &proof).is_err());
            let wrong_sizes = [(m + 1, n), (m - 1, n), (m, n + 1), (m, n - 1)];
            for (old_size, new_size) in wrong_sizes {
                if (old_size, new_size) != (m, n) && 0 < old_size && old_size <= new_size {
                    let (old_root, new_root) =
                        (log.root_at(old_size).unwrap(), log.root_at(new_size).unwrap());
                    let result =
                        verify_consistency(old_size, new_size, &old_root, &new_root, &proof);
                    prop_assert!(
                        result.is_err(),
                        "{} -> {} accepted as {} -> {}", m, n, old_size, new_size
                    );
                }
            }
        }
    }
}

#[test]
fn degenerate_consistency_cases() {
    let (_dir, log) = log_of(9);
    let (r4, r5) = (log.root_at(4).unwrap(), log.root_at(5).unwrap());
    let empty = log.root_at(0).unwrap();
    verify_consistency(4, 4, &r4, &r4, &[]).unwrap();
    assert_eq!(
        verify_consistency(4, 4, &r4, &r5, &[]),
        Err(ProofError::NewRootMismatch {
            old_size: 4,
            new_size: 4
        })
    );
    assert!(matches!(
        verify_consistency(4, 4, &r4, &r4, &[r4]),
        Err(ProofError::WrongProofLength { expected: 0, .. })
    ));
    verify_consistency(0, 9, &empty, &log.root(), &[]).unwrap();
    verify_consistency(0, 0, &empty, &empty, &[]).unwrap();
    assert!(verify_consistency(0, 9, &r4, &log.root(), &[]).is_err());
    assert!(verify_consistency(0, 9, &empty, &log.root(), &[r4]).is_err());
    assert_eq!(
        verify_consistency(5, 4, &r5, &r4, &[]),
        Err(ProofError::OldSizeExceedsNew {
            old_size: 5,
            new_size: 4
        })
    );
    let proof = log.consistency_proof(4, 5).unwrap();
    assert!(verify_consistency(4, 5, &r4, &r5, &[]).is_err());
    verify_consistency(4, 5, &r4, &r5, &proof).unwrap();
}

#[test]
fn inclusion_edge_cases() {
    let (_dir, log) = log_of(1);
    let leaf = leaf_hash(&log.entry(0).unwrap().hash());
    // A one-leaf tree: the root is the leaf and the proof is empty.
    assert_eq!(log.root(), leaf);
    assert!(log.inclusion_proof(0, 1).unwrap().is_empty());
    verify_inclusion(&leaf, 0, 1, &[], &leaf).unwrap();
    assert_eq!(
        verify_inclusion(&leaf, 1, 1, &[], &leaf),
        Err(ProofError::IndexOutOfRange { index: 1, size: 1 })
    );
    assert!(verify_inclusion(&leaf, 0, 0, &[], &leaf).is_err());
}
