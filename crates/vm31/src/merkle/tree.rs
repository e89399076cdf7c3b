//! A commitment tree that keeps every filled node, to serve membership paths.

use serde::{Deserialize, Serialize};

use super::{empty_root, MerklePath, TREE_CAPACITY, TREE_DEPTH};
use crate::error::Error;
use crate::note::Commitment;
use crate::sponge::{compress, Digest};

/// `levels[l]` holds the filled nodes of level `l` (`0`: leaves); nodes right of them are empty.
/// Memory is about two digests per leaf; appending costs `TREE_DEPTH` compressions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Commitment>", into = "Vec<Commitment>")]
pub struct MerkleTree {
    levels: Vec<Vec<Digest>>,
}

impl Default for MerkleTree {
    fn default() -> Self {
        Self::new()
    }
}

impl MerkleTree {
    pub fn new() -> Self {
        Self {
            levels: vec![Vec::new(); TREE_DEPTH + 1],
        }
    }

    /// Number of leaves appended.
    pub fn len(&self) -> u64 {
        self.levels[0].len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    pub fn root(&self) -> Digest {
        self.levels[TREE_DEPTH]
            .first()
            .copied()
            .unwrap_or_else(|| empty_root(TREE_DEPTH))
    }

    /// The commitment at `index`, if appended.
    pub fn leaf(&self, index: u32) -> Option<Commitment> {
        self.levels[0].get(index as usize).copied().map(Commitment)
    }

    /// Appends a commitment and returns its index.
    pub fn append(&mut self, commitment: Commitment) -> Result<u32, Error> {
        let index = self.len();
        if index >= TREE_CAPACITY {
            return Err(Error::TreeFull {
                capacity: TREE_CAPACITY,
            });
        }
        self.levels[0].push(commitment.0);
        let mut position = index as usize;
        for level in 0..TREE_DEPTH {
            let parent = compress(
                &self.node(level, position & !1),
                &self.node(level, position | 1),
            );
            position >>= 1;
            let above = &mut self.levels[level + 1];
            if position < above.len() {
                above[position] = parent;
            } else {
                above.push(parent);
            }
        }
        Ok(index as u32)
    }

    /// Membership path of the leaf at `index`, valid against the current root.
    pub fn path(&self, index: u32) -> Result<MerklePath, Error> {
        if u64::from(index) >= self.len() {
            return Err(Error::LeafIndexOutOfRange {
                index: index.into(),
                capacity: self.len(),
            });
        }
        let index = index as usize;
        Ok(MerklePath(std::array::from_fn(|level| {
            self.node(level, (index >> level) ^ 1)
        })))
    }

    fn node(&self, level: usize, position: usize) -> Digest {
        self.levels[level]
            .get(position)
            .copied()
            .unwrap_or_else(|| empty_root(level))
    }
}

impl TryFrom<Vec<Commitment>> for MerkleTree {
    type Error = Error;

    fn try_from(leaves: Vec<Commitment>) -> Result<Self, Error> {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.append(leaf)?;
        }
        Ok(tree)
    }
}

impl From<MerkleTree> for Vec<Commitment> {
    fn from(tree: MerkleTree) -> Self {
        tree.levels[0].iter().copied().map(Commitment).collect()
    }
}
