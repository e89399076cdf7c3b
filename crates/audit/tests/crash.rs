//! Crash test with a real kill: this test binary re-runs itself as a child that appends and
//! acknowledges entries, SIGKILLs it at a random point, and checks on reopen that every
//! acknowledged entry survived with its data and the chain intact.
//!
//! The child is the ignored test `crash_child`, selected with
//! `--exact crash_child --ignored --nocapture`; it reads the log directory from
//! `AUDIT_CRASH_DIR` (and does nothing without it). `AUDIT_CRASH_SEED` replays a run.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use audit::{Log, LogOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIR_VAR: &str = "AUDIT_CRASH_DIR";
const BATCH_VAR: &str = "AUDIT_CRASH_BATCH";
const SEED_VAR: &str = "AUDIT_CRASH_SEED";
/// Entries a child appends at most before it exits by itself.
const PER_ROUND: u64 = 1000;

/// Fsync on, and segments small enough that rounds cross segment boundaries.
fn options() -> LogOptions {
    LogOptions {
        segment_bytes: 16 << 10,
        sync: true,
    }
}

#[test]
#[ignore = "child process of the crash tests, which start it themselves"]
fn crash_child() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let batch: u64 = std::env::var(BATCH_VAR).map_or(1, |b| b.parse().unwrap());
    let (mut log, _) = Log::open(Path::new(&dir), options()).unwrap();
    let mut out = std::io::stdout().lock();
    let start = log.len();
    for first in (start..start + PER_ROUND).step_by(batch as usize) {
        if batch == 1 {
            let receipt = log.append(common::data(first)).unwrap();
            writeln!(out, "\nack {}", receipt.seq).unwrap();
        } else {
            let data = (first..first + batch).map(common::data).collect();
            for receipt in log.append_batch(data).unwrap() {
                writeln!(out, "\nack {}", receipt.seq).unwrap();
            }
        }
        out.flush().unwrap();
    }
}

/// Runs one child on `dir`, kills it after `kill_after` acknowledgements, and returns the
/// highest acknowledged seq.
fn run_child(dir: &Path, batch: u64, kill_after: u64) -> Option<u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(DIR_VAR, dir)
        .env(BATCH_VAR, batch.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut acked: Vec<u64> = Vec::new();
    let mut killed = false;
    // Lines after the kill were printed before it landed: those entries were acknowledged
    // too, so the pipe is read to its end.
    for line in stdout.lines() {
        let line = line.unwrap();
        let Some(seq) = line.strip_prefix("ack ") else {
            continue;
        };
        acked.push(seq.parse().unwrap());
        if !killed && acked.len() as u64 >= kill_after {
            child.kill().unwrap();
            killed = true;
        }
    }
    child.wait().unwrap();
    assert!(
        acked.windows(2).all(|w| w[1] == w[0] + 1),
        "acknowledged seqs are not consecutive"
    );
    acked.last().copied()
}

/// Rounds of run-and-kill on one log; each round continues the log the last one left.
fn crash_rounds(rounds: usize, batch: u64) {
    let seed = std::env::var(SEED_VAR).map_or_else(
        |_| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        },
        |s| s.parse().unwrap(),
    );
    eprintln!("crash test seed {seed} (set {SEED_VAR} to replay)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut torn_tails = 0;
    for round in 0..rounds {
        let before = Log::open(dir.path(), options()).unwrap().0.len();
        let kill_after = rng.gen_range(1..=999);
        let last_acked = run_child(dir.path(), batch, kill_after);
        let last_acked = last_acked.unwrap_or_else(|| panic!("round {round}: no ack"));
        assert!(
            last_acked >= before + kill_after - 1,
            "round {round}: too few acks"
        );

        let (log, report) = Log::open(dir.path(), options()).unwrap();
        assert!(
            log.len() > last_acked,
            "round {round}: seq {last_acked} was acknowledged, the log has {} entries",
            log.len()
        );
        assert_eq!(report.entries, log.len());
        common::check_fixture(&log);
        torn_tails += usize::from(report.torn_tail.is_some());
        eprintln!(
            "round {round}: killed after {kill_after} acks, last ack {last_acked}, \
             log has {} entries, torn tail {:?}",
            log.len(),
            report.torn_tail
        );
    }
    eprintln!(
        "{rounds} rounds (batch {batch}) in {:.2?}, {torn_tails} torn tails cut",
        started.elapsed()
    );
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    crash_rounds(5, 1);
}

#[test]
fn acknowledged_group_commits_survive_sigkill() {
    crash_rounds(3, 10);
}
