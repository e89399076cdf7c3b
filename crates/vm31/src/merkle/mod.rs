//! The append-only commitment tree of the pool: depth [`TREE_DEPTH`], leaves are note
//! commitments, empty leaves are zero, inner nodes are [`compress`]`(left, right)`.
//!
//! * [`Frontier`]: the O(depth) state a pool node keeps (last leaf and its left siblings) to
//!   append and to know the root;
//! * [`MerkleTree`]: all filled nodes (about `2n` digests for `n` leaves), for wallets and
//!   indexers that hand out membership paths;
//! * [`verify_membership`]: checks a [`MerklePath`];
//! * [`RootWindow`]: the recent roots a spend may refer to.

mod frontier;
mod root_window;
mod tree;

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::M31;

pub use frontier::Frontier;
pub use root_window::{RootWindow, ROOT_WINDOW_LEN};
pub use tree::MerkleTree;

use crate::canonical::digest_array;
use crate::error::Error;
use crate::sponge::{compress, Digest, DIGEST_LEN};

/// Levels of inner nodes between a leaf and the root.
pub const TREE_DEPTH: usize = 20;
/// Leaves the tree can hold.
pub const TREE_CAPACITY: u64 = 1 << TREE_DEPTH;
/// The value of a leaf not yet appended.
pub const EMPTY_LEAF: Digest = [M31(0); DIGEST_LEN];

static EMPTY_ROOTS: LazyLock<[Digest; TREE_DEPTH + 1]> = LazyLock::new(|| {
    let mut roots = [EMPTY_LEAF; TREE_DEPTH + 1];
    for level in 0..TREE_DEPTH {
        roots[level + 1] = compress(&roots[level], &roots[level]);
    }
    roots
});

/// Root of an all-empty subtree of height `level` (`0` is a leaf, [`TREE_DEPTH`] the tree).
///
/// # Panics
/// If `level > TREE_DEPTH`.
pub fn empty_root(level: usize) -> Digest {
    EMPTY_ROOTS[level]
}

/// Siblings from the leaf level up: `0[level]` is the sibling of the node at `level` on the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerklePath(#[serde(with = "digest_array")] pub [Digest; TREE_DEPTH]);

/// Folds `leaf` at `index` up `path`; bit `l` of `index` says whether the node at level `l` is a
/// right child.
pub fn root_from_path(leaf: &Digest, index: u32, path: &MerklePath) -> Digest {
    let mut node = *leaf;
    for (level, sibling) in path.0.iter().enumerate() {
        node = if (index >> level) & 1 == 1 {
            compress(sibling, &node)
        } else {
            compress(&node, sibling)
        };
    }
    node
}

/// Checks that `leaf` sits at `index` in the tree with root `root`.
pub fn verify_membership(
    root: &Digest,
    leaf: &Digest,
    index: u32,
    path: &MerklePath,
) -> Result<(), Error> {
    if u64::from(index) >= TREE_CAPACITY {
        return Err(Error::LeafIndexOutOfRange {
            index: index.into(),
            capacity: TREE_CAPACITY,
        });
    }
    if root_from_path(leaf, index, path) == *root {
        Ok(())
    } else {
        Err(Error::RootMismatch { index })
    }
}

#[cfg(test)]
mod tests;
