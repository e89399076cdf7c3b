//! Shared fixtures: deterministic entry data (so any process can check any seq) and helpers
//! that look at a log directory.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use audit::{Entry, EntryData, Log, LogOptions, Receipt};

/// First timestamp of the fixture entries.
pub const T0: i64 = 1_700_000_000_000;

/// Data of fixture entry `seq`: varied lengths, three entries per 10 ms tick.
pub fn data(seq: u64) -> EntryData {
    let input_len = (seq % 61) as usize + 1;
    EntryData {
        timestamp_ms: T0 + (seq / 3) as i64 * 10,
        model_digest: [(seq % 251) as u8; 32],
        input: (0..input_len)
            .map(|i| (i as u64 * 31 + seq) as u8)
            .collect(),
        output: format!("output of {seq}").into_bytes(),
    }
}

/// The entry the log must hold at `seq`, following an entry hashing to `prev_hash`.
pub fn expected(seq: u64, prev_hash: [u8; 32]) -> Entry {
    let d = data(seq);
    Entry {
        seq,
        timestamp_ms: d.timestamp_ms,
        model_digest: d.model_digest,
        input: d.input,
        output: d.output,
        prev_hash,
    }
}

/// Small segments, no fsync: fast fixtures with many segments.
pub fn fast_options() -> LogOptions {
    LogOptions {
        segment_bytes: 4096,
        sync: false,
    }
}

/// Appends fixture entries `log.len() .. n` one at a time.
pub fn fill(log: &mut Log, n: u64) -> Vec<Receipt> {
    (log.len()..n)
        .map(|seq| log.append(data(seq)).unwrap())
        .collect()
}

/// Creates a log of `n` fixture entries in `dir` and closes it.
pub fn build(dir: &Path, n: u64) -> Vec<Receipt> {
    let (mut log, _) = Log::open(dir, fast_options()).unwrap();
    fill(&mut log, n)
}

/// Checks that the log holds exactly the fixture entries, chained.
pub fn check_fixture(log: &Log) {
    let mut prev = [0; 32];
    for entry in log.entries(0..log.len()).unwrap() {
        assert_eq!(entry, expected(entry.seq, prev), "seq {}", entry.seq);
        prev = entry.hash();
    }
}

/// Segment files in `dir`, in seq order.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    paths.sort();
    paths
}

/// Byte offsets at which each record of a segment starts, and the segment length.
pub fn record_offsets(segment: &Path) -> (Vec<u64>, u64) {
    let bytes = std::fs::read(segment).unwrap();
    let mut offsets = Vec::new();
    let mut at = 20;
    while at + 8 <= bytes.len() {
        offsets.push(at as u64);
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        at += 8 + len + 32;
    }
    (offsets, bytes.len() as u64)
}
