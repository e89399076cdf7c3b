//! Why a log operation failed.

use std::io;

use thiserror::Error;

/// Why opening, appending to or reading from the log failed. Every variant says where.
#[derive(Error, Debug)]
#[non_exhaustive]
pub enum LogError {
    /// The store failed; `target` names the directory or segment.
    #[error("{op} {target}: {source}")]
    Io {
        /// What the log was doing, e.g. `"append to segment"`.
        op: &'static str,
        /// Directory or segment name.
        target: String,
        #[source]
        source: io::Error,
    },
    /// The stored log is damaged somewhere other than a torn tail. Never repaired
    /// automatically.
    #[error("segment {segment} is corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// Segment name.
        segment: String,
        /// Byte offset in the segment.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// An append carried a timestamp older than the entry before it.
    #[error(
        "entry {seq}: timestamp {timestamp_ms} ms is older than the previous entry's {last_ms} ms"
    )]
    TimestampRegressed {
        /// Seq the entry would have had.
        seq: u64,
        /// Its timestamp.
        timestamp_ms: i64,
        /// Timestamp of the entry before it.
        last_ms: i64,
    },
    /// An entry's encoding does not fit one record.
    #[error("entry {seq} encodes to {len} bytes, over the {max}-byte record limit")]
    EntryTooLarge {
        /// Seq the entry would have had.
        seq: u64,
        /// Encoded length.
        len: usize,
        /// Largest encoded length a record holds.
        max: usize,
    },
    /// A seq that is not in the log (or not below the proof's tree size).
    #[error("seq {seq} is not below size {size}")]
    SeqOutOfRange {
        /// Requested seq.
        seq: u64,
        /// Log length or requested tree size.
        size: u64,
    },
    /// A tree size larger than the log.
    #[error("size {size} exceeds the log's {len} entries")]
    SizeOutOfRange {
        /// Requested size.
        size: u64,
        /// Log length.
        len: u64,
    },
    /// A seq range that is reversed or runs past the log.
    #[error("range {start}..{end} is not within the log's {len} entries")]
    RangeOutOfRange {
        /// Range start.
        start: u64,
        /// Range end.
        end: u64,
        /// Log length.
        len: u64,
    },
    /// A consistency proof asked for from a larger tree to a smaller one.
    #[error("old size {old_size} exceeds new size {new_size}")]
    SizeOrder {
        /// Requested old size.
        old_size: u64,
        /// Requested new size.
        new_size: u64,
    },
    /// An earlier append failed part-way; the log refuses further appends until reopened,
    /// which re-checks what reached the disk.
    #[error("an earlier append failed ({reason}); reopen the log to continue")]
    Poisoned {
        /// The earlier failure.
        reason: String,
    },
}
