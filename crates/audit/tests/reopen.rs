//! A multi-segment log reopens to the same entries, roots and proofs; appends continue it;
//! bad arguments are refused without changing it.
#![allow(clippy::unwrap_used)]

mod common;

use audit::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use audit::{EntryData, Log, LogError, LogOptions};

const N: u64 = 300;

fn synced_small_segments() -> LogOptions {
    LogOptions {
        segment_bytes: 4096,
        sync: true,
    }
}

#[test]
fn reopened_log_is_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, report) = Log::open(dir.path(), synced_small_segments()).unwrap();
    assert_eq!((report.entries, report.torn_tail), (0, None));

    // Single appends and group commits of several sizes, interleaved.
    let mut receipts = Vec::new();
    let mut seq = 0;
    for (i, batch) in [1, 5, 1, 1, 17, 3, 64, 1, 9].iter().cycle().enumerate() {
        let end = (seq + batch).min(N);
        if i % 2 == 0 {
            receipts.extend((seq..end).map(|s| log.append(common::data(s)).unwrap()));
        } else {
            receipts.extend(
                log.append_batch((seq..end).map(common::data).collect())
                    .unwrap(),
            );
        }
        seq = end;
        if seq == N {
            break;
        }
    }
    for (seq, receipt) in receipts.iter().enumerate() {
        assert_eq!((receipt.seq, receipt.size), (seq as u64, seq as u64 + 1));
        assert_eq!(log.root_at(receipt.size).unwrap(), receipt.root);
    }
    let entries = log.entries(0..N).unwrap();
    let roots: Vec<_> = (0..=N).map(|size| log.root_at(size).unwrap()).collect();
    let proofs: Vec<_> = (0..N)
        .map(|seq| log.inclusion_proof(seq, N).unwrap())
        .collect();
    let consistency: Vec<_> = (0..=N)
        .step_by(7)
        .map(|m| log.consistency_proof(m, N).unwrap())
        .collect();
    drop(log);
    assert!(
        common::segments(dir.path()).len() >= 5,
        "expected several segments"
    );

    let (mut log, report) = Log::open(dir.path(), synced_small_segments()).unwrap();
    assert_eq!((report.entries, report.torn_tail), (N, None));
    assert_eq!(log.len(), N);
    common::check_fixture(&log);
    assert_eq!(log.entries(0..N).unwrap(), entries);
    for seq in [0, 1, 150, N - 1] {
        assert_eq!(log.entry(seq).unwrap(), entries[seq as usize]);
    }
    for size in 0..=N {
        assert_eq!(log.root_at(size).unwrap(), roots[size as usize]);
    }
    for seq in 0..N {
        let proof = log.inclusion_proof(seq, N).unwrap();
        assert_eq!(proof, proofs[seq as usize]);
        let leaf = leaf_hash(&entries[seq as usize].hash());
        verify_inclusion(&leaf, seq, N, &proof, &log.root()).unwrap();
    }
    for (i, m) in (0..=N).step_by(7).enumerate() {
        let proof = log.consistency_proof(m, N).unwrap();
        assert_eq!(proof, consistency[i]);
        verify_consistency(m, N, &roots[m as usize], &log.root(), &proof).unwrap();
    }

    // The reopened log continues the chain.
    let receipt = log.append(common::data(N)).unwrap();
    assert_eq!(receipt.seq, N);
    assert_eq!(
        log.entry(N).unwrap().prev_hash,
        entries[N as usize - 1].hash()
    );
    let proof = log.consistency_proof(N, N + 1).unwrap();
    verify_consistency(N, N + 1, &roots[N as usize], &receipt.root, &proof).unwrap();
}

#[test]
fn seq_range_for_time_matches_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    common::build(dir.path(), N);
    let (log, _) = Log::open(dir.path(), common::fast_options()).unwrap();
    let times: Vec<i64> = (0..N).map(|s| common::data(s).timestamp_ms).collect();
    let last = *times.last().unwrap();
    let probes: Vec<i64> = (-2..=(last - common::T0) / 5 + 2)
        .map(|k| common::T0 + k * 5)
        .chain([i64::MIN, i64::MAX])
        .collect();
    for &from in &probes {
        for &to in probes.iter().step_by(3) {
            let expected: Vec<u64> = (0..N)
                .filter(|&s| from <= times[s as usize] && times[s as usize] < to)
                .collect();
            let range = log.seq_range_for_time(from, to);
            assert_eq!(range.clone().collect::<Vec<_>>(), expected, "{from}..{to}");
        }
    }
    // Three entries share each timestamp; a window of one tick holds exactly them.
    assert_eq!(
        log.seq_range_for_time(common::T0 + 10, common::T0 + 11),
        3..6
    );
}

#[test]
fn older_timestamp_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), common::fast_options()).unwrap();
    common::fill(&mut log, 10);
    let root = log.root();
    let mut old = common::data(10);
    old.timestamp_ms = common::data(9).timestamp_ms - 1;
    let err = log.append(old.clone()).unwrap_err();
    assert!(
        matches!(err, LogError::TimestampRegressed { seq: 10, .. }),
        "{err}"
    );
    // A batch with one regressing entry is refused as a whole.
    let batch = vec![common::data(10), common::data(11), old];
    let err = log.append_batch(batch).unwrap_err();
    assert!(
        matches!(err, LogError::TimestampRegressed { seq: 12, .. }),
        "{err}"
    );
    // An equal timestamp is fine.
    let mut same = common::data(10);
    same.timestamp_ms = common::data(9).timestamp_ms;
    assert_eq!((log.len(), log.root()), (10, root));
    log.append(same).unwrap();
    assert!(log.append_batch(Vec::new()).unwrap().is_empty());
    drop(log);
    let (log, report) = Log::open(dir.path(), common::fast_options()).unwrap();
    assert_eq!((report.entries, report.torn_tail), (11, None));
    assert_eq!(log.len(), 11);
}

#[test]
fn out_of_range_queries_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), common::fast_options()).unwrap();
    assert!(log.is_empty());
    assert!(matches!(
        log.entry(0),
        Err(LogError::SeqOutOfRange { seq: 0, size: 0 })
    ));
    common::fill(&mut log, 5);
    assert!(!log.is_empty());
    assert!(matches!(
        log.entry(5),
        Err(LogError::SeqOutOfRange { seq: 5, size: 5 })
    ));
    assert!(matches!(
        log.entries(3..7),
        Err(LogError::RangeOutOfRange { .. })
    ));
    assert!(matches!(
        log.entries(std::ops::Range { start: 4, end: 2 }),
        Err(LogError::RangeOutOfRange { .. })
    ));
    assert!(log.entries(5..5).unwrap().is_empty());
    assert!(matches!(
        log.root_at(6),
        Err(LogError::SizeOutOfRange { size: 6, len: 5 })
    ));
    assert!(matches!(
        log.inclusion_proof(3, 3),
        Err(LogError::SeqOutOfRange { seq: 3, size: 3 })
    ));
    assert!(matches!(
        log.inclusion_proof(0, 6),
        Err(LogError::SizeOutOfRange { .. })
    ));
    assert!(matches!(
        log.consistency_proof(4, 3),
        Err(LogError::SizeOrder {
            old_size: 4,
            new_size: 3
        })
    ));
    assert!(matches!(
        log.consistency_proof(1, 6),
        Err(LogError::SizeOutOfRange { .. })
    ));
    assert_eq!(log.seq_range_for_time(i64::MAX, i64::MIN), 5..5);
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, _) = Log::open(dir.path(), LogOptions::default()).unwrap();
    let err = Log::open(dir.path(), LogOptions::default()).unwrap_err();
    match err {
        LogError::Io { source, .. } => assert_eq!(source.kind(), std::io::ErrorKind::WouldBlock),
        other => panic!("{other}"),
    }
}

#[test]
fn receipts_and_entries_serialize() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), common::fast_options()).unwrap();
    let data = EntryData {
        timestamp_ms: 1,
        model_digest: [7; 32],
        input: vec![1, 2],
        output: vec![],
    };
    let receipt = log.append(data).unwrap();
    let json = serde_json::to_string(&receipt).unwrap();
    assert_eq!(
        serde_json::from_str::<audit::Receipt>(&json).unwrap(),
        receipt
    );
    let entry = log.entry(0).unwrap();
    let json = serde_json::to_string(&entry).unwrap();
    assert_eq!(serde_json::from_str::<audit::Entry>(&json).unwrap(), entry);
}
