//! Incremental membership witness of one note, kept up to date while scanning, in O(depth)
//! memory (the scheme of Zcash's `IncrementalWitness`).
//!
//! On the path from the note's leaf to the root, the sibling at level `l` is a left sibling if
//! bit `l` of the position is 1 (then it is complete when the note is appended, and the
//! frontier's ommers hold it) and a right sibling otherwise (empty at first). The right
//! siblings, in increasing level, cover the leaves after the note one after another, so later
//! leaves fill them in order: a cursor (a frontier of the subtree being filled: its complete
//! subtrees' roots, as in a binary counter) takes each leaf; when it holds `2^l` leaves its root
//! becomes the right sibling at level `l`. Appending costs one compression amortised.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use vm31::canonical::m31_array;
use vm31::merkle::{empty_root, root_from_path, EMPTY_LEAF, TREE_CAPACITY};
use vm31::{compress, Commitment, Digest, Frontier, MerklePath, TREE_DEPTH};

/// A serialised witness that breaks the invariants below.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("malformed note witness: {0}")]
pub struct WitnessError(&'static str);

/// Membership witness of the leaf at [`position`](Self::position).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WitnessParts", into = "WitnessParts")]
pub struct NoteWitness {
    position: u32,
    leaf: Digest,
    /// `left[l]`: the left sibling at level `l` if bit `l` of the position is 1, else empty.
    left: [Digest; TREE_DEPTH],
    /// Completed right siblings, one per 0 bit of the position from the bottom.
    filled: Vec<Digest>,
    /// Leaves in the right subtree being filled (at the next 0 bit of the position).
    cursor_len: u64,
    /// Roots of the complete subtrees among them, one per 1 bit of `cursor_len`, highest first.
    cursor: Vec<Digest>,
}

impl NoteWitness {
    /// The witness of `frontier`'s last leaf, to be called right after appending the note's
    /// commitment. `None` for an empty frontier.
    pub fn from_frontier(frontier: &Frontier) -> Option<Self> {
        let (len, leaf, mut left) = frontier.to_parts();
        let position = u32::try_from(len.checked_sub(1)?).ok()?;
        for (level, sibling) in left.iter_mut().enumerate() {
            if (position >> level) & 1 == 0 {
                *sibling = EMPTY_LEAF;
            }
        }
        Some(Self {
            position,
            leaf,
            left,
            filled: Vec::new(),
            cursor_len: 0,
            cursor: Vec::new(),
        })
    }

    /// Takes the next leaf of the tree (every leaf appended after the note, in order).
    pub fn append(&mut self, commitment: Commitment) -> Result<(), vm31::Error> {
        let level = self.next_right_level().ok_or(vm31::Error::TreeFull {
            capacity: TREE_CAPACITY,
        })?;
        let carries = self.cursor_len.trailing_ones() as usize;
        let merged = self
            .cursor
            .split_off(self.cursor.len().saturating_sub(carries));
        let node = merged
            .iter()
            .rev()
            .fold(commitment.0, |node, left| compress(left, &node));
        self.cursor.push(node);
        self.cursor_len += 1;
        if self.cursor_len == 1 << level {
            self.filled.extend(self.cursor.pop());
            self.cursor_len = 0;
        }
        Ok(())
    }

    /// Takes the leaves `tree_len()..page.end()` of `page` in as few steps as alignment allows:
    /// each step appends one aligned subtree root that `page` computed once for every witness.
    pub fn append_page(&mut self, page: &PageNodes) -> Result<(), vm31::Error> {
        let mut next = self.tree_len();
        if next < page.start {
            return Err(vm31::Error::TreeFull {
                capacity: TREE_CAPACITY,
            });
        }
        while next < page.end {
            let fill = self.next_right_level().ok_or(vm31::Error::TreeFull {
                capacity: TREE_CAPACITY,
            })?;
            let room = (1u64 << fill) - self.cursor_len;
            let mut level = (next.trailing_zeros() as usize).min(fill);
            while (1u64 << level) > room || next + (1u64 << level) > page.end {
                level -= 1;
            }
            let node = page
                .node(level, next >> level)
                .ok_or(vm31::Error::TreeFull {
                    capacity: TREE_CAPACITY,
                })?;
            self.append_subtree(level, node);
            next += 1 << level;
        }
        Ok(())
    }

    /// Appends the root of an aligned subtree of `2^level` leaves; the caller checked that it
    /// fits the right sibling being filled.
    fn append_subtree(&mut self, level: usize, root: Digest) {
        let mut node = root;
        let mut carry = self.cursor_len >> level;
        while carry & 1 == 1 {
            if let Some(left) = self.cursor.pop() {
                node = compress(&left, &node);
            }
            carry >>= 1;
        }
        self.cursor.push(node);
        self.cursor_len += 1 << level;
        if let Some(fill) = self.next_right_level() {
            if self.cursor_len == 1 << fill {
                self.filled.extend(self.cursor.pop());
                self.cursor_len = 0;
            }
        }
    }

    /// The leaf's index in the tree.
    pub fn position(&self) -> u32 {
        self.position
    }

    /// The note's commitment.
    pub fn leaf(&self) -> Commitment {
        Commitment(self.leaf)
    }

    /// Leaves in the tree this witness has seen (the note's position + 1 + appended leaves).
    pub fn tree_len(&self) -> u64 {
        let filled_levels = (0..TREE_DEPTH).filter(|&l| (self.position >> l) & 1 == 0);
        let filled: u64 = filled_levels
            .take(self.filled.len())
            .map(|l| 1u64 << l)
            .sum();
        u64::from(self.position) + 1 + filled + self.cursor_len
    }

    /// The membership path, valid against [`root`](Self::root).
    pub fn path(&self) -> MerklePath {
        let in_progress = self.next_right_level();
        let mut filled = self.filled.iter();
        MerklePath(std::array::from_fn(|level| {
            if (self.position >> level) & 1 == 1 {
                self.left[level]
            } else if let Some(sibling) = filled.next() {
                *sibling
            } else if in_progress == Some(level) {
                self.cursor_root(level)
            } else {
                empty_root(level)
            }
        }))
    }

    /// The root of the tree as of the last appended leaf.
    pub fn root(&self) -> Digest {
        root_from_path(&self.leaf, self.position, &self.path())
    }

    /// The level of the right sibling being filled; `None` once the tree is full.
    fn next_right_level(&self) -> Option<usize> {
        (0..TREE_DEPTH)
            .filter(|&l| (self.position >> l) & 1 == 0)
            .nth(self.filled.len())
    }

    /// Root of the subtree of height `level` holding the cursor's leaves, padded with empty ones.
    fn cursor_root(&self, level: usize) -> Digest {
        let mut ommers = self.cursor.iter().rev();
        let mut node: Option<Digest> = None;
        for l in 0..level {
            if (self.cursor_len >> l) & 1 == 1 {
                let right = node.unwrap_or_else(|| empty_root(l));
                node = ommers.next().map(|left| compress(left, &right));
            } else if let Some(left) = node {
                node = Some(compress(&left, &empty_root(l)));
            }
        }
        node.unwrap_or_else(|| empty_root(level))
    }
}

/// Every aligned subtree root inside a run of consecutive leaves `start..end`: computed once
/// per scanned page and shared by all witnesses ([`NoteWitness::append_page`]), so a page costs
/// about one hash per leaf however many notes the wallet owns.
#[derive(Clone, Debug)]
pub struct PageNodes {
    start: u64,
    end: u64,
    /// `levels[l]`: the nodes of height `l` whose leaves lie in the run, from index
    /// `ceil(start / 2^l)`.
    levels: Vec<Vec<Digest>>,
}

impl PageNodes {
    /// The nodes of the leaves `leaves`, the first at index `start`.
    pub fn new(start: u64, leaves: &[Digest]) -> Self {
        let end = start + leaves.len() as u64;
        let mut levels = vec![leaves.to_vec()];
        for level in 1..=TREE_DEPTH {
            let first = start.div_ceil(1 << level);
            let last = end >> level;
            if first >= last {
                break;
            }
            let below = &levels[level - 1];
            let below_first = start.div_ceil(1 << (level - 1));
            let nodes = (first..last)
                .map(|j| {
                    let left = (2 * j - below_first) as usize;
                    compress(&below[left], &below[left + 1])
                })
                .collect();
            levels.push(nodes);
        }
        Self { start, end, levels }
    }

    /// The node of height `level` at index `index`, if it lies in the run.
    pub fn node(&self, level: usize, index: u64) -> Option<Digest> {
        let first = self.start.div_ceil(1 << level);
        let i = index.checked_sub(first)?;
        self.levels
            .get(level)?
            .get(usize::try_from(i).ok()?)
            .copied()
    }

    pub fn end(&self) -> u64 {
        self.end
    }
}

/// A canonical digest, for the serialised form.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct Node(#[serde(with = "m31_array")] Digest);

/// The serialised form: only meaningful siblings, so every witness has one encoding.
#[derive(Serialize, Deserialize)]
struct WitnessParts {
    position: u32,
    leaf: Node,
    /// Left siblings at the 1 bits of the position, lowest first.
    left: Vec<Node>,
    filled: Vec<Node>,
    cursor_len: u64,
    cursor: Vec<Node>,
}

impl From<NoteWitness> for WitnessParts {
    fn from(w: NoteWitness) -> Self {
        let left = (0..TREE_DEPTH)
            .filter(|&l| (w.position >> l) & 1 == 1)
            .map(|l| Node(w.left[l]))
            .collect();
        Self {
            position: w.position,
            leaf: Node(w.leaf),
            left,
            filled: w.filled.into_iter().map(Node).collect(),
            cursor_len: w.cursor_len,
            cursor: w.cursor.into_iter().map(Node).collect(),
        }
    }
}

impl TryFrom<WitnessParts> for NoteWitness {
    type Error = WitnessError;

    fn try_from(parts: WitnessParts) -> Result<Self, WitnessError> {
        if u64::from(parts.position) >= TREE_CAPACITY {
            return Err(WitnessError("position beyond the tree"));
        }
        if parts.left.len() != parts.position.count_ones() as usize {
            return Err(WitnessError("left siblings do not match the position"));
        }
        let mut left = [EMPTY_LEAF; TREE_DEPTH];
        let left_levels = (0..TREE_DEPTH).filter(|&l| (parts.position >> l) & 1 == 1);
        for (level, sibling) in left_levels.zip(&parts.left) {
            left[level] = sibling.0;
        }
        let witness = Self {
            position: parts.position,
            leaf: parts.leaf.0,
            left,
            filled: parts.filled.iter().map(|n| n.0).collect(),
            cursor_len: parts.cursor_len,
            cursor: parts.cursor.iter().map(|n| n.0).collect(),
        };
        let right_levels = TREE_DEPTH - parts.position.count_ones() as usize;
        if witness.filled.len() > right_levels {
            return Err(WitnessError("more right siblings than the position has"));
        }
        let cursor_capacity = witness.next_right_level().map_or(0, |l| 1u64 << l);
        if witness.cursor_len >= cursor_capacity.max(1) {
            return Err(WitnessError("cursor holds a complete subtree"));
        }
        if witness.cursor.len() != witness.cursor_len.count_ones() as usize {
            return Err(WitnessError("cursor roots do not match its length"));
        }
        Ok(witness)
    }
}

#[cfg(test)]
#[path = "witness_tests.rs"]
mod tests;
