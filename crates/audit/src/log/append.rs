//! Appending: entries are framed in memory, written with one store append and made durable
//! with one sync per call, and only then enter the in-memory state.

use super::{Locator, Log, Segment};
use crate::merkle::{leaf_hash, Frontier};
use crate::scan::Chain;
use crate::segment::{encode_frame, header, segment_name, HEADER_LEN, MAX_BODY_LEN};
use crate::{Entry, EntryData, Hash, LogError, Receipt};

impl Log {
    /// Appends one entry. With [`crate::LogOptions::sync`] (the default) the entry is on
    /// disk (fsync) before this returns.
    ///
    /// Refuses a timestamp older than the last entry's. After an I/O failure the log is
    /// poisoned: later appends fail with [`LogError::Poisoned`] until it is reopened.
    pub fn append(&mut self, data: EntryData) -> Result<Receipt, LogError> {
        let mut batch = self.begin_batch()?;
        let receipt = batch.push(data)?;
        self.commit(batch)?;
        Ok(receipt)
    }

    /// Appends entries as one group commit: one write and (with `sync`) one fsync for the
    /// whole batch, all in one segment (which may overshoot `segment_bytes` by the batch).
    /// Either every entry is accepted or, on a refused entry, none is.
    pub fn append_batch(&mut self, data: Vec<EntryData>) -> Result<Vec<Receipt>, LogError> {
        let mut batch = self.begin_batch()?;
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let receipts = data
            .into_iter()
            .map(|data| batch.push(data))
            .collect::<Result<Vec<_>, _>>()?;
        self.commit(batch)?;
        Ok(receipts)
    }

    fn begin_batch(&self) -> Result<Batch, LogError> {
        if let Some(reason) = &self.poisoned {
            return Err(LogError::Poisoned {
                reason: reason.clone(),
            });
        }
        let mut bytes = Vec::new();
        // Written only if the batch opens a segment; see `commit`.
        bytes.extend_from_slice(&header(self.chain.next_seq));
        Ok(Batch {
            bytes,
            chain: self.chain.clone(),
            frontier: self.frontier.clone(),
            records: Vec::new(),
        })
    }

    /// Writes the batch to the current segment (opening a new one first if the current one
    /// is full) and, once it is durable, adds it to the in-memory state.
    fn commit(&mut self, batch: Batch) -> Result<(), LogError> {
        let (name, old_len) = self.segment_for_append()?;
        // A segment cut back to nothing (or never written) needs its header first.
        let skip = if old_len == 0 { 0 } else { HEADER_LEN };
        let bytes = &batch.bytes[skip..];
        self.store
            .append(&name, bytes)
            .map_err(|source| self.poison("append to segment", &name, Some(old_len), source))?;
        if self.options.sync {
            self.store
                .sync(&name)
                .map_err(|source| self.poison("sync segment", &name, Some(old_len), source))?;
        }

        for record in &batch.records {
            self.index.push(Locator {
                // Frames start after the header prefix, so `at >= skip`.
                offset: old_len + (record.at - skip) as u64,
                len: record.len,
            });
            self.leaves.push(record.leaf);
            self.timestamps.push(record.timestamp_ms);
        }
        if let Some(segment) = self.segments.last_mut() {
            segment.len = old_len + bytes.len() as u64;
        }
        self.frontier = batch.frontier;
        self.chain = batch.chain;
        Ok(())
    }

    /// Name and length of the segment the next append goes to; starts a new segment when the
    /// current one has reached `segment_bytes` (and holds at least one record).
    fn segment_for_append(&mut self) -> Result<(String, u64), LogError> {
        let next_seq = self.chain.next_seq;
        match self.segments.last() {
            Some(current)
                if current.len < self.options.segment_bytes || current.first_seq == next_seq =>
            {
                return Ok((current.name.clone(), current.len));
            }
            Some(current) if !self.options.sync => {
                // Only the last segment may have a torn tail, so a segment is made durable
                // before the next one starts.
                let name = current.name.clone();
                self.store
                    .sync(&name)
                    .map_err(|source| self.poison("sync segment", &name, None, source))?;
            }
            _ => {}
        }
        let name = segment_name(next_seq);
        self.segments.push(Segment {
            name: name.clone(),
            first_seq: next_seq,
            len: 0,
        });
        Ok((name, 0))
    }

    /// Marks the log unusable for appends after a failed write or sync, first trying to cut
    /// a partly written batch back off (`cut_to`); reopening re-checks whatever remains.
    fn poison(
        &mut self,
        op: &'static str,
        name: &str,
        cut_to: Option<u64>,
        source: std::io::Error,
    ) -> LogError {
        if let Some(len) = cut_to {
            // Best effort: if this fails too, the unacknowledged records stay on disk and
            // are found (valid or torn) by the next open.
            let _ = self.store.truncate(name, len);
        }
        self.poisoned = Some(format!("{op} {name}: {source}"));
        LogError::Io {
            op,
            target: name.to_owned(),
            source,
        }
    }
}

/// Entries framed in memory, not yet written.
struct Batch {
    /// A segment header for the next seq, then the frames.
    bytes: Vec<u8>,
    /// Chain state after the entries so far.
    chain: Chain,
    /// Tree head state after the entries so far.
    frontier: Frontier,
    records: Vec<PendingRecord>,
}

struct PendingRecord {
    /// Offset in `Batch::bytes`.
    at: usize,
    len: u32,
    leaf: Hash,
    timestamp_ms: i64,
}

impl Batch {
    /// Frames the next entry and returns its receipt.
    fn push(&mut self, data: EntryData) -> Result<Receipt, LogError> {
        let seq = self.chain.next_seq;
        if let Some(last_ms) = self
            .chain
            .last_timestamp
            .filter(|&last| data.timestamp_ms < last)
        {
            return Err(LogError::TimestampRegressed {
                seq,
                timestamp_ms: data.timestamp_ms,
                last_ms,
            });
        }
        let timestamp_ms = data.timestamp_ms;
        let entry = Entry::from_data(seq, self.chain.prev_hash, data);
        let at = self.bytes.len();
        let entry_hash =
            encode_frame(&entry, &mut self.bytes).map_err(|len| LogError::EntryTooLarge {
                seq,
                len,
                max: MAX_BODY_LEN,
            })?;
        let leaf = leaf_hash(&entry_hash);
        self.frontier.push(leaf);
        self.records.push(PendingRecord {
            at,
            // A frame is at most `u32::MAX` bytes (`encode_frame` checks the body).
            len: (self.bytes.len() - at) as u32,
            leaf,
            timestamp_ms,
        });
        self.chain.next_seq += 1;
        self.chain.prev_hash = entry_hash;
        self.chain.last_timestamp = Some(timestamp_ms);
        Ok(Receipt {
            seq,
            size: seq + 1,
            root: self.frontier.root(),
            entry_hash,
        })
    }
}
