//! Torn tails (cut off and reported, appends continue) against corruption (refused, files
//! left as they are), and no panic on any damage.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use audit::{Log, LogError, TornTail};
use proptest::prelude::*;
use tempfile::TempDir;

const N: u64 = 120;

/// A log of `N` fixture entries over several 4 KiB segments.
fn template() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::build(dir.path(), N);
    dir
}

/// A copy of the template's segments in a fresh directory.
fn copy(template: &TempDir) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for segment in common::segments(template.path()) {
        fs::copy(&segment, dir.path().join(segment.file_name().unwrap())).unwrap();
    }
    dir
}

fn last_segment(dir: &Path) -> PathBuf {
    common::segments(dir).pop().unwrap()
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn first_seq(path: &Path) -> u64 {
    name(path).trim_end_matches(".seg").parse().unwrap()
}

fn cut(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

fn flip(path: &Path, at: u64, mask: u8) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at as usize] ^= mask;
    fs::write(path, bytes).unwrap();
}

fn all_bytes(dir: &Path) -> Vec<Vec<u8>> {
    common::segments(dir)
        .iter()
        .map(|p| fs::read(p).unwrap())
        .collect()
}

/// Opens `dir` expecting a torn tail in the last segment from `offset` to `len`, leaving
/// `kept` entries; then checks that appends continue and a second open is clean.
fn expect_torn(dir: &Path, kept: u64, offset: u64, len: u64) {
    let segment = last_segment(dir);
    let (mut log, report) = Log::open(dir, common::fast_options()).unwrap();
    let expected = (offset < len).then(|| TornTail {
        segment: name(&segment),
        offset,
        bytes_cut: len - offset,
    });
    assert_eq!(report.torn_tail, expected);
    assert_eq!((report.entries, log.len()), (kept, kept));
    assert_eq!(fs::metadata(&segment).unwrap().len(), offset);
    common::check_fixture(&log);

    let before = log.root();
    common::fill(&mut log, kept + 3);
    let proof = log.consistency_proof(kept, kept + 3).unwrap();
    audit::verify_consistency(kept, kept + 3, &before, &log.root(), &proof).unwrap();
    drop(log);
    let (log, report) = Log::open(dir, common::fast_options()).unwrap();
    assert_eq!((report.entries, report.torn_tail), (kept + 3, None));
    common::check_fixture(&log);
}

fn expect_corrupt(dir: &Path, segment: &str, offset: u64) -> String {
    let before = all_bytes(dir);
    let err = Log::open(dir, common::fast_options()).unwrap_err();
    let LogError::Corrupt {
        segment: got_segment,
        offset: got_offset,
        reason,
    } = err
    else {
        panic!("expected Corrupt, got {err}");
    };
    assert_eq!(
        (got_segment.as_str(), got_offset),
        (segment, offset),
        "{reason}"
    );
    assert_eq!(all_bytes(dir), before, "a corrupt log must not be changed");
    reason
}

#[test]
fn cut_inside_the_last_records_is_a_torn_tail() {
    let template = template();
    let last = last_segment(template.path());
    let (offsets, len) = common::record_offsets(&last);
    let first = first_seq(&last);
    let n_last = offsets.len() as u64;
    assert!(common::segments(template.path()).len() >= 3 && n_last >= 3);
    let last_record = *offsets.last().unwrap();
    let second_last = offsets[offsets.len() - 2];
    let cases = [
        // (cut at, kept entries, torn offset)
        (last_record + 1, N - 1, last_record),
        (last_record + 6, N - 1, last_record),
        (last_record + 8, N - 1, last_record),
        (last_record + 60, N - 1, last_record),
        (len - 1, N - 1, last_record),
        (second_last + 30, N - 2, second_last),
        (last_record, N - 1, last_record),
        (5, first, 0),
        (20, first, 20),
        (0, first, 0),
    ];
    for (cut_at, kept, offset) in cases {
        let dir = copy(&template);
        cut(&last_segment(dir.path()), cut_at);
        expect_torn(dir.path(), kept, offset, cut_at);
    }
    assert_eq!(first + n_last, N);
}

#[test]
fn garbage_after_the_last_record_is_a_torn_tail() {
    let template = template();
    let len = fs::metadata(last_segment(template.path())).unwrap().len();
    let mut frame_start = b"AREC".to_vec();
    frame_start.extend_from_slice(&200u32.to_le_bytes());
    frame_start.extend_from_slice(&[7; 100]);
    let garbage: [Vec<u8>; 7] = [
        vec![0x41],
        vec![0; 7],
        vec![0; 4096],
        (0..100u8).collect(),
        (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
        b"ARE".to_vec(),
        frame_start,
    ];
    for bytes in garbage {
        let dir = copy(&template);
        append_bytes(&last_segment(dir.path()), &bytes);
        expect_torn(dir.path(), N, len, len + bytes.len() as u64);
    }
}

#[test]
fn damaged_last_record_is_a_torn_tail() {
    let template = template();
    let (offsets, len) = common::record_offsets(&last_segment(template.path()));
    let last_record = *offsets.last().unwrap();
    for at in [last_record, last_record + 5, last_record + 60, len - 1] {
        let dir = copy(&template);
        flip(&last_segment(dir.path()), at, 0x10);
        expect_torn(dir.path(), N - 1, last_record, len);
    }
}

#[test]
fn damage_before_the_tail_is_corruption() {
    let template = template();
    let paths = common::segments(template.path());
    let (first_name, last_name) = (name(&paths[0]), name(paths.last().unwrap()));
    let (first_offsets, _) = common::record_offsets(&paths[0]);
    let (last_offsets, _) = common::record_offsets(paths.last().unwrap());

    // A flipped byte in an early record.
    let dir = copy(&template);
    flip(
        &common::segments(dir.path())[0],
        first_offsets[3] + 50,
        0x01,
    );
    let reason = expect_corrupt(dir.path(), &first_name, first_offsets[3]);
    assert!(reason.contains("checksum"), "{reason}");

    // A flipped byte in the last segment, with valid records after it.
    let dir = copy(&template);
    flip(&last_segment(dir.path()), last_offsets[1] + 9, 0x80);
    let reason = expect_corrupt(dir.path(), &last_name, last_offsets[1]);
    assert!(reason.contains("valid record follows"), "{reason}");

    // A damaged length field in the middle of the last segment.
    let dir = copy(&template);
    flip(&last_segment(dir.path()), last_offsets[0] + 7, 0x40);
    expect_corrupt(dir.path(), &last_name, last_offsets[0]);

    // A bad segment header.
    let dir = copy(&template);
    flip(&common::segments(dir.path())[1], 2, 0x01);
    expect_corrupt(dir.path(), &name(&paths[1]), 0);

    // A segment that is not the last one cut mid-record.
    let dir = copy(&template);
    let (offsets, _) = common::record_offsets(&paths[1]);
    cut(&common::segments(dir.path())[1], offsets[2] + 10);
    expect_corrupt(dir.path(), &name(&paths[1]), offsets[2]);

    // A missing middle segment leaves a gap in the seqs.
    let dir = copy(&template);
    fs::remove_file(&common::segments(dir.path())[1]).unwrap();
    expect_corrupt(dir.path(), &name(&paths[2]), 0);

    // A stray segment name.
    let dir = copy(&template);
    fs::write(dir.path().join("latest.seg"), b"").unwrap();
    expect_corrupt(dir.path(), "latest.seg", 0);

    // A complete record repeated after the last one breaks the seq order.
    let dir = copy(&template);
    let bytes = fs::read(last_segment(dir.path())).unwrap();
    let last_record = *last_offsets.last().unwrap() as usize;
    append_bytes(&last_segment(dir.path()), &bytes[last_record..]);
    let reason = expect_corrupt(dir.path(), &last_name, bytes.len() as u64);
    assert!(reason.contains("expected seq"), "{reason}");
}

#[test]
fn empty_directory_opens_empty() {
    let dir = tempfile::tempdir().unwrap();
    let (log, report) = Log::open(&dir.path().join("new"), common::fast_options()).unwrap();
    assert_eq!((report.entries, report.torn_tail, log.len()), (0, None, 0));
    assert_eq!(log.root(), audit::root_of(&[]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any one flipped byte, in any segment: never a panic, never a wrong entry accepted,
    /// and a torn tail only when the byte is in the very last record.
    #[test]
    fn any_flipped_byte_is_caught(file_pick in any::<prop::sample::Index>(),
                                  at_pick in any::<prop::sample::Index>(),
                                  mask in 1u8..=255) {
        let template = template();
        let dir = copy(&template);
        let paths = common::segments(dir.path());
        let file = file_pick.index(paths.len());
        let (offsets, len) = common::record_offsets(&paths[file]);
        let at = at_pick.index(len as usize) as u64;
        flip(&paths[file], at, mask);
        let is_last = file + 1 == paths.len();
        let last_record = *offsets.last().unwrap();
        match Log::open(dir.path(), common::fast_options()) {
            Ok((log, report)) => {
                prop_assert!(is_last && at >= last_record, "damage at {}:{} accepted", file, at);
                prop_assert_eq!(log.len(), N - 1);
                prop_assert_eq!(report.torn_tail.map(|t| t.offset), Some(last_record));
                common::check_fixture(&log);
            }
            Err(LogError::Corrupt { .. }) => {
                let in_last_record = is_last && at >= last_record;
                prop_assert!(!in_last_record, "last record damage at {} refused", at);
            }
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }
}
