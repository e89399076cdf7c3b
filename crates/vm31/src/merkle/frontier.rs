//! The O(depth) frontier of the commitment tree.

use serde::{Deserialize, Serialize};

use super::{empty_root, root_from_path, MerklePath, EMPTY_LEAF, TREE_CAPACITY, TREE_DEPTH};
use crate::canonical::{digest_array, m31_array};
use crate::error::Error;
use crate::note::Commitment;
use crate::sponge::{compress, Digest};

/// The right edge of the tree: the last leaf and, for every level where the last leaf's path
/// turns left, the sibling on that level (`ommers[l]` is meaningful iff bit `l` of the last
/// index is 1). That is enough to append, to recompute the root and to produce the path of the
/// last leaf, with `TREE_DEPTH + 1` digests of memory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FrontierParts", into = "FrontierParts")]
pub struct Frontier {
    len: u64,
    last_leaf: Digest,
    ommers: [Digest; TREE_DEPTH],
    root: Digest,
}

/// The serialised form; the root is recomputed on load.
#[derive(Clone, Serialize, Deserialize)]
struct FrontierParts {
    len: u64,
    #[serde(with = "m31_array")]
    last_leaf: Digest,
    #[serde(with = "digest_array")]
    ommers: [Digest; TREE_DEPTH],
}

impl Default for Frontier {
    fn default() -> Self {
        Self::new()
    }
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self {
            len: 0,
            last_leaf: EMPTY_LEAF,
            ommers: [EMPTY_LEAF; TREE_DEPTH],
            root: empty_root(TREE_DEPTH),
        }
    }

    /// Restores a frontier of a tree with `len` leaves, the last being `last_leaf`, from its
    /// stored parts (see the type's docs for `ommers`). Ommers on levels where the last index
    /// has a 0 bit are ignored.
    pub fn from_parts(
        len: u64,
        last_leaf: Digest,
        ommers: [Digest; TREE_DEPTH],
    ) -> Result<Self, Error> {
        if len > TREE_CAPACITY {
            return Err(Error::TreeFull {
                capacity: TREE_CAPACITY,
            });
        }
        if len == 0 {
            return Ok(Self::new());
        }
        let mut frontier = Self {
            len,
            last_leaf,
            ommers,
            root: empty_root(TREE_DEPTH),
        };
        for level in 0..TREE_DEPTH {
            if (frontier.last_index() >> level) & 1 == 0 {
                frontier.ommers[level] = EMPTY_LEAF;
            }
        }
        frontier.root = frontier.compute_root();
        Ok(frontier)
    }

    /// Number of leaves appended.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn root(&self) -> Digest {
        self.root
    }

    /// Appends a commitment and returns its index.
    pub fn append(&mut self, commitment: Commitment) -> Result<u32, Error> {
        if self.len >= TREE_CAPACITY {
            return Err(Error::TreeFull {
                capacity: TREE_CAPACITY,
            });
        }
        if self.len > 0 {
            // Carry the old last leaf up through the levels where it was a right child; the first
            // level where it was a left child receives the completed node as the new ommer.
            let previous = self.last_index();
            let mut node = self.last_leaf;
            for level in 0..TREE_DEPTH {
                if (previous >> level) & 1 == 1 {
                    node = compress(&self.ommers[level], &node);
                    self.ommers[level] = EMPTY_LEAF;
                } else {
                    self.ommers[level] = node;
                    break;
                }
            }
        }
        self.last_leaf = commitment.0;
        self.len += 1;
        self.root = self.compute_root();
        Ok(self.last_index())
    }

    /// Index and membership path of the last leaf, valid against the current root.
    pub fn last_path(&self) -> Option<(u32, MerklePath)> {
        if self.len == 0 {
            return None;
        }
        Some((self.last_index(), self.path_of_last()))
    }

    /// The stored parts, as accepted by [`from_parts`](Self::from_parts).
    pub fn to_parts(&self) -> (u64, Digest, [Digest; TREE_DEPTH]) {
        (self.len, self.last_leaf, self.ommers)
    }

    fn last_index(&self) -> u32 {
        // len is in 1..=TREE_CAPACITY here, so the index fits 20 bits.
        (self.len - 1) as u32
    }

    fn path_of_last(&self) -> MerklePath {
        let index = self.last_index();
        MerklePath(std::array::from_fn(|level| {
            if (index >> level) & 1 == 1 {
                self.ommers[level]
            } else {
                empty_root(level)
            }
        }))
    }

    fn compute_root(&self) -> Digest {
        if self.len == 0 {
            return empty_root(TREE_DEPTH);
        }
        root_from_path(&self.last_leaf, self.last_index(), &self.path_of_last())
    }
}

impl TryFrom<FrontierParts> for Frontier {
    type Error = Error;

    fn try_from(parts: FrontierParts) -> Result<Self, Error> {
        Self::from_parts(parts.len, parts.last_leaf, parts.ommers)
    }
}

impl From<Frontier> for FrontierParts {
    fn from(f: Frontier) -> Self {
        Self {
            len: f.len,
            last_leaf: f.last_leaf,
            ommers: f.ommers,
        }
    }
}
