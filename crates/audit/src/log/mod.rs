//! The log: records on a [`SegmentStore`], and in memory only what lookups and proofs need
//! (32-byte leaf hashes, record locations, timestamps and the incremental tree head).

mod append;
mod open;

use std::fmt;
use std::ops::Range;

use crate::merkle::{self, Frontier};
use crate::scan::Chain;
use crate::segment::{parse_frame, Frame};
use crate::{Entry, Hash, LogError, LogOptions, SegmentStore};

/// Append-only, hash-chained, Merkle-committed log of inference entries.
///
/// Open it with [`Log::open`] (a local directory) or [`Log::open_with`] (any store); every
/// record is checked on open. One `Log` is the only writer of its store.
pub struct Log {
    store: Box<dyn SegmentStore>,
    options: LogOptions,
    /// Segments in seq order; the last one takes appends.
    segments: Vec<Segment>,
    /// Where each entry's record is, by seq.
    index: Vec<Locator>,
    /// Merkle leaf hash of each entry, by seq.
    leaves: Vec<Hash>,
    /// Timestamp of each entry, by seq; non-decreasing.
    timestamps: Vec<i64>,
    frontier: Frontier,
    /// Next seq, last entry hash and last timestamp.
    chain: Chain,
    /// Why appends are refused, after an append failed part-way.
    poisoned: Option<String>,
}

/// One segment file.
#[derive(Debug)]
struct Segment {
    name: String,
    first_seq: u64,
    /// Bytes in the segment, as far as this log has written or checked them.
    len: u64,
}

/// Where one record sits in its segment.
#[derive(Clone, Copy, Debug)]
struct Locator {
    offset: u64,
    len: u32,
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log")
            .field("len", &self.len())
            .field("segments", &self.segments.len())
            .field("options", &self.options)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl Log {
    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Whether the log has no entries.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// RFC 6962 Merkle tree head over all entries' leaf hashes; `SHA-256("")` when empty.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Merkle tree head over the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        let leaves = self.prefix(size)?;
        Ok(if size == self.len() {
            self.root()
        } else {
            merkle::root_of(leaves)
        })
    }

    /// Reads entry `seq` back from its segment.
    pub fn entry(&self, seq: u64) -> Result<Entry, LogError> {
        let out_of_range = LogError::SeqOutOfRange {
            seq,
            size: self.len(),
        };
        if seq >= self.len() {
            return Err(out_of_range);
        }
        self.entries(seq..seq + 1)?.pop().ok_or(out_of_range)
    }

    /// Reads entries `range` back, one read per segment touched.
    pub fn entries(&self, range: Range<u64>) -> Result<Vec<Entry>, LogError> {
        let Range { start, end } = range;
        if start > end || end > self.len() {
            return Err(LogError::RangeOutOfRange {
                start,
                end,
                len: self.len(),
            });
        }
        let mut entries = Vec::with_capacity((end - start) as usize);
        let mut seq = start;
        while seq < end {
            let segment = self.segment_of(seq);
            let run_end = self
                .segments
                .get(segment + 1)
                .map_or(end, |next| next.first_seq.min(end));
            self.read_run(&self.segments[segment], seq..run_end, &mut entries)?;
            seq = run_end;
        }
        Ok(entries)
    }

    /// RFC 6962 `PATH(seq, D[0:size])`: the audit path of entry `seq` in the tree of the first
    /// `size` entries. Check it with [`merkle::verify_inclusion`] against the leaf
    /// `merkle::leaf_hash(&entry.hash())` and [`Log::root_at`]`(size)`.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        let leaves = self.prefix(size)?;
        if seq >= size {
            return Err(LogError::SeqOutOfRange { seq, size });
        }
        Ok(merkle::audit_path(leaves, seq as usize))
    }

    /// RFC 6962 `PROOF(old_size, D[0:new_size])`: the consistency proof between the trees of
    /// the first `old_size` and the first `new_size` entries; empty when `old_size` is 0 or
    /// equals `new_size`.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, LogError> {
        let leaves = self.prefix(new_size)?;
        if old_size > new_size {
            return Err(LogError::SizeOrder { old_size, new_size });
        }
        Ok(merkle::subproof(leaves, old_size as usize))
    }

    /// Seqs of the entries with `from_ms <= timestamp_ms < to_ms` (a contiguous range, since
    /// timestamps never decrease); empty when `to_ms <= from_ms`.
    pub fn seq_range_for_time(&self, from_ms: i64, to_ms: i64) -> Range<u64> {
        let start = self.timestamps.partition_point(|&t| t < from_ms);
        let end = self.timestamps.partition_point(|&t| t < to_ms).max(start);
        start as u64..end as u64
    }

    /// Leaf hashes of the first `size` entries.
    fn prefix(&self, size: u64) -> Result<&[Hash], LogError> {
        if size > self.len() {
            return Err(LogError::SizeOutOfRange {
                size,
                len: self.len(),
            });
        }
        Ok(&self.leaves[..size as usize])
    }

    /// Index of the segment holding `seq` (which must be below `len`).
    fn segment_of(&self, seq: u64) -> usize {
        self.segments
            .partition_point(|segment| segment.first_seq <= seq)
            .saturating_sub(1)
    }

    /// Reads the records `seqs`, all in `segment`, with one read.
    fn read_run(
        &self,
        segment: &Segment,
        seqs: Range<u64>,
        out: &mut Vec<Entry>,
    ) -> Result<(), LogError> {
        let locators = &self.index[seqs.start as usize..seqs.end as usize];
        let (Some(first), Some(last)) = (locators.first(), locators.last()) else {
            return Ok(());
        };
        let span = (last.offset + u64::from(last.len) - first.offset) as usize;
        let bytes = self
            .store
            .read_at(&segment.name, first.offset, span)
            .map_err(|source| LogError::Io {
                op: "read segment",
                target: segment.name.clone(),
                source,
            })?;
        for (seq, locator) in seqs.zip(locators) {
            let at = (locator.offset - first.offset) as usize;
            let frame = bytes.get(at..at + locator.len as usize).unwrap_or_default();
            let changed = || LogError::Corrupt {
                segment: segment.name.clone(),
                offset: locator.offset,
                reason: format!("record of seq {seq} changed since the log was opened"),
            };
            match parse_frame(frame) {
                Frame::Valid { entry, hash, len }
                    if len == locator.len
                        && entry.seq == seq
                        && merkle::leaf_hash(&hash) == self.leaves[seq as usize] =>
                {
                    out.push(entry)
                }
                _ => return Err(changed()),
            }
        }
        Ok(())
    }
}
