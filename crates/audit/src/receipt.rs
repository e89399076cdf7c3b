//! What the log hands back: receipts for appends, a report on open.

use serde::{Deserialize, Serialize};

use crate::Hash;

/// Proof of an append: the entry's seq, and the log size and Merkle root right after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Seq of the appended entry.
    pub seq: u64,
    /// Log size after the append (`seq + 1`).
    pub size: u64,
    /// Merkle tree head of the first `size` entries.
    pub root: Hash,
    /// [`crate::Entry::hash`] of the appended entry.
    pub entry_hash: Hash,
}

/// An interrupted append found and cut off at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Segment that held it (always the last).
    pub segment: String,
    /// Offset it started at, now the segment's length.
    pub offset: u64,
    /// Bytes removed.
    pub bytes_cut: u64,
}

/// What opening the log found.
#[derive(Clone, Debug, Default)]
pub struct OpenReport {
    /// Entries in the log.
    pub entries: u64,
    /// The torn tail that was cut off, if there was one.
    pub torn_tail: Option<TornTail>,
}
