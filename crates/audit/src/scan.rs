//! Open-time check of one segment: the header, every frame's checksum, and that the entries
//! continue the hash chain. This is where a torn tail is told apart from corruption.
//!
//! A bad or incomplete frame is a torn tail only in the last segment and only when no valid
//! frame follows it: an interrupted append leaves garbage after the last durable record and
//! nothing valid behind it, whereas a damaged record with intact records after it means
//! acknowledged entries would be lost by cutting, so that is reported as corruption.

use crate::entry::Entry;
use crate::segment::{check_header, header, next_valid_frame, parse_frame, Frame, HEADER_LEN};
use crate::{Hash, LogError};

/// Where the hash chain stands after the entries checked so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct Chain {
    pub(crate) next_seq: u64,
    pub(crate) prev_hash: Hash,
    pub(crate) last_timestamp: Option<i64>,
}

impl Chain {
    /// Accepts `entry` (hashing to `hash`) as the next link, or says why it is not.
    fn accept(&mut self, entry: &Entry, hash: Hash) -> Result<(), String> {
        if entry.seq != self.next_seq {
            return Err(format!(
                "record holds seq {}, expected seq {}",
                entry.seq, self.next_seq
            ));
        }
        if entry.prev_hash != self.prev_hash {
            return Err(format!(
                "seq {}: prev_hash {} is not the previous entry's hash {}",
                entry.seq,
                hex::encode(entry.prev_hash),
                hex::encode(self.prev_hash)
            ));
        }
        if let Some(last) = self
            .last_timestamp
            .filter(|&last| entry.timestamp_ms < last)
        {
            return Err(format!(
                "seq {}: timestamp {} ms is older than the previous entry's {last} ms",
                entry.seq, entry.timestamp_ms
            ));
        }
        self.next_seq += 1;
        self.prev_hash = hash;
        self.last_timestamp = Some(entry.timestamp_ms);
        Ok(())
    }
}

/// A valid record found by the scan.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record {
    pub(crate) offset: u64,
    pub(crate) len: u32,
    pub(crate) timestamp_ms: i64,
    pub(crate) hash: Hash,
}

/// What a segment holds.
#[derive(Debug, Default)]
pub(crate) struct SegmentScan {
    pub(crate) records: Vec<Record>,
    /// Offset where a torn tail starts; everything from here on is to be cut.
    pub(crate) torn_at: Option<u64>,
}

/// Checks the segment `name` (content `bytes`, first entry `first_seq`) against `chain`,
/// advancing the chain over its records.
pub(crate) fn scan_segment(
    name: &str,
    bytes: &[u8],
    first_seq: u64,
    is_last: bool,
    chain: &mut Chain,
) -> Result<SegmentScan, LogError> {
    let corrupt = |offset: usize, reason: String| LogError::Corrupt {
        segment: name.to_owned(),
        offset: offset as u64,
        reason,
    };
    let Some((head, _)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        // A segment is created by the append that writes its header and first record, so
        // a partial header can only be the torn end of the log.
        if is_last && header(first_seq).starts_with(bytes) {
            let torn_at = (!bytes.is_empty()).then_some(0);
            return Ok(SegmentScan {
                records: Vec::new(),
                torn_at,
            });
        }
        let reason = format!(
            "segment is {} bytes, shorter than its {HEADER_LEN}-byte header",
            bytes.len()
        );
        return Err(corrupt(0, reason));
    };
    if let Some(reason) = check_header(head, first_seq) {
        return Err(corrupt(0, reason));
    }

    let mut scan = SegmentScan::default();
    let mut offset = HEADER_LEN;
    while offset < bytes.len() {
        let reason = match parse_frame(&bytes[offset..]) {
            Frame::Valid { entry, hash, len } => {
                chain
                    .accept(&entry, hash)
                    .map_err(|reason| corrupt(offset, reason))?;
                scan.records.push(Record {
                    offset: offset as u64,
                    len,
                    timestamp_ms: entry.timestamp_ms,
                    hash,
                });
                offset += len as usize;
                continue;
            }
            Frame::Incomplete => "record runs past the end of the segment",
            Frame::Invalid(reason) => reason,
        };
        if !is_last {
            return Err(corrupt(
                offset,
                format!("{reason}, in a segment that is not the last"),
            ));
        }
        if let Some(later) = next_valid_frame(bytes, offset + 1) {
            let reason = format!("{reason}, yet a valid record follows at offset {later}");
            return Err(corrupt(offset, reason));
        }
        scan.torn_at = Some(offset as u64);
        break;
    }
    Ok(scan)
}
