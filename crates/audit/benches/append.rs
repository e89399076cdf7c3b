//! Appends per second on a temp dir: fsync per entry, group commit in batches of 1, 16 and
//! 256, and (for reference) no fsync. Entries carry 256 bytes of payload (128 input, 128
//! output). Each mode runs for about 2.5 s or its entry cap, whichever comes first.
//!
//! `cargo bench -p audit --bench append`
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use audit::{EntryData, Log, LogOptions};

const BUDGET: Duration = Duration::from_millis(2500);

fn data(seq: u64) -> EntryData {
    EntryData {
        timestamp_ms: 1_700_000_000_000 + seq as i64,
        model_digest: [0x5A; 32],
        input: vec![(seq % 251) as u8; 128],
        output: vec![(seq % 241) as u8; 128],
    }
}

struct Run {
    mode: &'static str,
    batch: usize,
    entries: u64,
    elapsed: Duration,
    disk_bytes: u64,
}

fn run(mode: &'static str, batch: usize, sync: bool, cap: u64) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions {
        sync,
        ..LogOptions::default()
    };
    let (mut log, _) = Log::open(dir.path(), options).unwrap();
    let started = Instant::now();
    while log.len() < cap && started.elapsed() < BUDGET {
        let seq = log.len();
        if batch == 0 {
            log.append(data(seq)).unwrap();
        } else {
            let end = seq + batch as u64;
            log.append_batch((seq..end).map(data).collect()).unwrap();
        }
    }
    let elapsed = started.elapsed();
    let disk_bytes = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|d| d.unwrap().metadata().unwrap().len())
        .sum();
    Run {
        mode,
        batch,
        entries: log.len(),
        elapsed,
        disk_bytes,
    }
}

fn main() {
    let runs = [
        run("append, fsync each", 0, true, 50_000),
        run("append_batch, fsync", 1, true, 50_000),
        run("append_batch, fsync", 16, true, 400_000),
        run("append_batch, fsync", 256, true, 1_000_000),
        run("append, no fsync", 0, false, 1_000_000),
    ];
    println!(
        "{:<22} {:>6} {:>9} {:>8} {:>12} {:>10} {:>8}",
        "mode", "batch", "entries", "secs", "entries/s", "fsyncs/s", "MB/s"
    );
    for r in &runs {
        let secs = r.elapsed.as_secs_f64();
        let calls = r.entries as f64 / r.batch.max(1) as f64;
        let fsyncs = if r.mode.contains("no fsync") {
            0.0
        } else {
            calls / secs
        };
        println!(
            "{:<22} {:>6} {:>9} {:>8.2} {:>12.0} {:>10.0} {:>8.1}",
            r.mode,
            if r.batch == 0 {
                "-".into()
            } else {
                r.batch.to_string()
            },
            r.entries,
            secs,
            r.entries as f64 / secs,
            fsyncs,
            r.disk_bytes as f64 / secs / 1e6,
        );
    }
}
