//! Incremental tree head: the roots of the perfect subtrees that make up the tree.
//!
//! A tree of `n` leaves is, left to right, one perfect subtree per set bit of `n`, largest
//! first. Appending a leaf merges equal-sized subtrees like a binary carry, and the RFC 6962
//! head is those subtree roots folded from the right, so both cost O(log n) hashes.

use super::{empty_root, node_hash};
use crate::Hash;

/// Roots of the perfect subtrees of the tree so far (at most 64), largest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    /// Appends a leaf hash.
    pub(crate) fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            // `size` odd means the smallest peak has exactly the size of `carry`.
            let Some(left) = self.peaks.pop() else { break };
            carry = node_hash(&left, &carry);
            size >>= 1;
        }
        self.peaks.push(carry);
        self.size += 1;
    }

    /// RFC 6962 Merkle tree head of the leaves so far.
    pub(crate) fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        match peaks.next() {
            None => empty_root(),
            Some(last) => peaks.fold(*last, |right, left| node_hash(left, &right)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, root_of};

    #[test]
    fn matches_reference_head_at_every_size() {
        let leaves: Vec<Hash> = (0..=130u8).map(|i| leaf_hash(&[i; 32])).collect();
        let mut frontier = Frontier::default();
        assert_eq!(frontier.root(), root_of(&[]));
        for (n, leaf) in leaves.iter().enumerate() {
            frontier.push(*leaf);
            assert_eq!(frontier.size, n as u64 + 1);
            assert_eq!(frontier.peaks.len(), (n + 1).count_ones() as usize);
            assert_eq!(frontier.root(), root_of(&leaves[..=n]), "size {}", n + 1);
        }
    }
}
