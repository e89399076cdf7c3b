//! The roots a spend may refer to: only the [`ROOT_WINDOW_LEN`] most recent ones.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::canonical::m31_array;
use crate::error::Error;
use crate::sponge::Digest;

/// Number of recent roots accepted.
pub const ROOT_WINDOW_LEN: usize = 100;

/// A bounded FIFO of recent roots; pushing the 101st evicts the oldest. The pool pushes the root
/// of each sealed block, never per transaction: blocks are sealed on a timer, so an anchor stays
/// valid for at least 100 block intervals however many transactions arrive (pushing per deposit
/// would let about 100 cheap deposits evict every anchor in flight).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootWindow {
    #[serde(with = "roots_serde")]
    roots: VecDeque<Digest>,
}
impl RootWindow {
    pub fn new() -> Self {
        Self::default()
    }

    /// The window holding the last [`ROOT_WINDOW_LEN`] of `roots` (oldest first), e.g. the sealed
    /// blocks' roots a node reloads on restart.
    pub fn from_roots(roots: impl IntoIterator<Item = Digest>) -> Self {
        let mut window = Self::new();
        for root in roots {
            window.push(root);
        }
        window
    }

    /// Records `root` as the newest; evicts the oldest beyond [`ROOT_WINDOW_LEN`].
    pub fn push(&mut self, root: Digest) {
        if self.roots.len() == ROOT_WINDOW_LEN {
            self.roots.pop_front();
        }
        self.roots.push_back(root);
    }

    /// Accepts `root` only if it is one of the recent roots.
    pub fn check(&self, root: &Digest) -> Result<(), Error> {
        if self.roots.contains(root) {
            Ok(())
        } else {
            Err(Error::UnknownRoot {
                window: ROOT_WINDOW_LEN,
            })
        }
    }

    /// The newest root, if any.
    pub fn latest(&self) -> Option<Digest> {
        self.roots.back().copied()
    }

    pub fn len(&self) -> usize {
        self.roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }
}

/// Roots as a sequence of canonical digests, at most [`ROOT_WINDOW_LEN`] long.
mod roots_serde {
    use serde::de::Error as _;
    use serde::{Deserializer, Serializer};

    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Root(#[serde(with = "m31_array")] Digest);

    pub fn serialize<S: Serializer>(
        roots: &VecDeque<Digest>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(roots.iter().map(|&r| Root(r)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<VecDeque<Digest>, D::Error> {
        let roots = Vec::<Root>::deserialize(deserializer)?;
        if roots.len() > ROOT_WINDOW_LEN {
            return Err(D::Error::custom(Error::RootWindowTooLong {
                len: roots.len(),
                max: ROOT_WINDOW_LEN,
            }));
        }
        Ok(roots.into_iter().map(|r| r.0).collect())
    }
}
