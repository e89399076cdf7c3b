//! Opening a log: every segment is read and checked, and a torn tail is cut off.

use std::path::Path;

use super::{Locator, Log, Segment};
use crate::merkle::{leaf_hash, Frontier};
use crate::scan::{scan_segment, Chain};
use crate::segment::parse_segment_name;
use crate::{LocalDir, LogError, LogOptions, OpenReport, SegmentStore, TornTail};

impl Log {
    /// Opens (creating if missing) the log in a local directory, locking it against a
    /// second writer. See [`Log::open_with`].
    pub fn open(dir: &Path, options: LogOptions) -> Result<(Log, OpenReport), LogError> {
        let store = LocalDir::new(dir).map_err(|source| LogError::Io {
            op: "open log directory",
            target: dir.display().to_string(),
            source,
        })?;
        Self::open_with(Box::new(store), options)
    }

    /// Opens an existing log for reading beside its live writer (no lock, nothing written):
    /// a torn tail, which may be an append in progress, is reported and left alone, and
    /// appends fail.
    pub fn open_read_only(dir: &Path) -> Result<(Log, OpenReport), LogError> {
        let store = LocalDir::read_only(dir).map_err(|source| LogError::Io {
            op: "open log directory",
            target: dir.display().to_string(),
            source,
        })?;
        Self::open_store(Box::new(store), LogOptions::default(), false)
    }

    /// Opens the log held by `store`.
    ///
    /// Reads every segment in seq order and checks its header, every record's checksum,
    /// that seqs run on from 0 without a gap, that each `prev_hash` is the previous entry's
    /// hash and that timestamps never decrease. An incomplete or damaged record at the very
    /// end of the last segment, with no valid record after it, is a torn tail from an
    /// interrupted append: it is cut off (and the cut made durable) and reported in
    /// [`OpenReport::torn_tail`]. Anything else is [`LogError::Corrupt`] and nothing is
    /// changed.
    pub fn open_with(
        store: Box<dyn SegmentStore>,
        options: LogOptions,
    ) -> Result<(Log, OpenReport), LogError> {
        Self::open_store(store, options, true)
    }

    fn open_store(
        store: Box<dyn SegmentStore>,
        options: LogOptions,
        cut_torn_tail: bool,
    ) -> Result<(Log, OpenReport), LogError> {
        let names = store.list().map_err(|source| LogError::Io {
            op: "list segments in",
            target: "the store".into(),
            source,
        })?;
        let mut segments = Vec::with_capacity(names.len());
        for name in names {
            let Some(first_seq) = parse_segment_name(&name) else {
                return Err(LogError::Corrupt {
                    segment: name,
                    offset: 0,
                    reason: "not a segment name (20-digit first seq, then .seg)".into(),
                });
            };
            segments.push((first_seq, name));
        }
        segments.sort_unstable();

        let mut log = Log {
            store,
            options,
            segments: Vec::with_capacity(segments.len()),
            index: Vec::new(),
            leaves: Vec::new(),
            timestamps: Vec::new(),
            frontier: Frontier::default(),
            chain: Chain::default(),
            poisoned: None,
        };
        let mut report = OpenReport::default();
        let last = segments.len().saturating_sub(1);
        for (i, (first_seq, name)) in segments.into_iter().enumerate() {
            report.torn_tail = log.load_segment(name, first_seq, i == last, cut_torn_tail)?;
        }
        report.entries = log.len();
        Ok((log, report))
    }

    /// Checks one segment, adds its records, and cuts a torn tail off it.
    fn load_segment(
        &mut self,
        name: String,
        first_seq: u64,
        is_last: bool,
        cut_torn_tail: bool,
    ) -> Result<Option<TornTail>, LogError> {
        if first_seq != self.chain.next_seq {
            return Err(LogError::Corrupt {
                reason: format!(
                    "segment starts at seq {first_seq}, but the segments before it hold {} entries",
                    self.chain.next_seq
                ),
                segment: name,
                offset: 0,
            });
        }
        let io_error = |op, name: &str| {
            let target = name.to_owned();
            move |source| LogError::Io { op, target, source }
        };
        let bytes = self
            .store
            .read(&name)
            .map_err(io_error("read segment", &name))?;
        let scan = scan_segment(&name, &bytes, first_seq, is_last, &mut self.chain)?;
        for record in &scan.records {
            let leaf = leaf_hash(&record.hash);
            self.index.push(Locator {
                offset: record.offset,
                len: record.len,
            });
            self.leaves.push(leaf);
            self.frontier.push(leaf);
            self.timestamps.push(record.timestamp_ms);
        }

        let mut len = bytes.len() as u64;
        let torn_tail = scan.torn_at.map(|offset| TornTail {
            segment: name.clone(),
            offset,
            bytes_cut: len - offset,
        });
        match scan.torn_at {
            Some(offset) if cut_torn_tail => {
                self.store
                    .truncate(&name, offset)
                    .map_err(io_error("cut torn tail of segment", &name))?;
                self.store
                    .sync(&name)
                    .map_err(io_error("sync segment", &name))?;
                len = offset;
            }
            // A reader leaves the tail to the writer; it reads up to the last whole record.
            Some(offset) => len = offset,
            None => {}
        }
        self.segments.push(Segment {
            name,
            first_seq,
            len,
        });
        Ok(torn_tail)
    }
}
