//! The log over a custom in-memory [`SegmentStore`] with injected failures: a failed write or
//! sync poisons the log, the partial batch is rolled back where possible, and a reopen sees
//! exactly what reached the store.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use audit::{Log, LogError, LogOptions, SegmentStore};

#[derive(Default)]
struct State {
    files: BTreeMap<String, Vec<u8>>,
    /// Next append writes this many bytes, then fails.
    fail_append_after: Option<usize>,
    fail_sync: bool,
    fail_truncate: bool,
    syncs: usize,
}

/// Segments in memory, shared between the log and the test.
#[derive(Clone, Default)]
struct MemStore(Arc<Mutex<State>>);

impl MemStore {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }
}

fn injected() -> io::Error {
    io::Error::other("injected failure")
}

impl SegmentStore for MemStore {
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.state().files.keys().cloned().collect())
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let state = self.state();
        state
            .files
            .get(name)
            .cloned()
            .ok_or(io::ErrorKind::NotFound.into())
    }

    fn read_at(&self, name: &str, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let bytes = self.read(name)?;
        let start = offset as usize;
        let slice = bytes
            .get(start..start + len)
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        Ok(slice.to_vec())
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.state();
        let fail_after = state.fail_append_after.take();
        let file = state.files.entry(name.to_owned()).or_default();
        match fail_after {
            Some(n) => {
                file.extend_from_slice(&bytes[..n.min(bytes.len())]);
                Err(injected())
            }
            None => {
                file.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    fn sync(&mut self, _name: &str) -> io::Result<()> {
        let mut state = self.state();
        state.syncs += 1;
        if state.fail_sync {
            return Err(injected());
        }
        Ok(())
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        let mut state = self.state();
        if state.fail_truncate {
            return Err(injected());
        }
        let file = state.files.get_mut(name).ok_or(io::ErrorKind::NotFound)?;
        file.truncate(len as usize);
        Ok(())
    }
}

fn open(store: &MemStore) -> (Log, audit::OpenReport) {
    let options = LogOptions {
        segment_bytes: 2048,
        sync: true,
    };
    Log::open_with(Box::new(store.clone()), options).unwrap()
}

#[test]
fn custom_store_round_trips_with_one_sync_per_call() {
    let store = MemStore::default();
    let (mut log, _) = open(&store);
    common::fill(&mut log, 40);
    let data = (40..100).map(common::data).collect();
    log.append_batch(data).unwrap();
    assert_eq!(store.state().syncs, 41);
    let root = log.root();
    drop(log);
    assert!(store.state().files.len() > 3);

    let (log, report) = open(&store);
    assert_eq!((report.entries, report.torn_tail), (100, None));
    assert_eq!(log.root(), root);
    common::check_fixture(&log);
}

#[test]
fn failed_sync_poisons_the_log_and_rolls_the_batch_back() {
    let store = MemStore::default();
    let (mut log, _) = open(&store);
    common::fill(&mut log, 10);
    let root = log.root();

    store.state().fail_sync = true;
    let err = log.append(common::data(10)).unwrap_err();
    assert!(
        matches!(
            err,
            LogError::Io {
                op: "sync segment",
                ..
            }
        ),
        "{err}"
    );
    store.state().fail_sync = false;
    let err = log.append(common::data(10)).unwrap_err();
    assert!(matches!(err, LogError::Poisoned { .. }), "{err}");
    // Reads still serve what was acknowledged.
    assert_eq!((log.len(), log.root()), (10, root));
    common::check_fixture(&log);
    drop(log);

    let (mut log, report) = open(&store);
    assert_eq!((report.entries, report.torn_tail), (10, None));
    common::fill(&mut log, 12);
    common::check_fixture(&log);
}

#[test]
fn partial_write_left_behind_is_a_torn_tail_on_reopen() {
    let store = MemStore::default();
    let (mut log, _) = open(&store);
    common::fill(&mut log, 10);
    {
        let mut state = store.state();
        state.fail_append_after = Some(30);
        state.fail_truncate = true;
    }
    let err = log.append(common::data(10)).unwrap_err();
    assert!(
        matches!(
            err,
            LogError::Io {
                op: "append to segment",
                ..
            }
        ),
        "{err}"
    );
    drop(log);
    store.state().fail_truncate = false;

    let (mut log, report) = open(&store);
    assert_eq!(report.entries, 10);
    assert_eq!(report.torn_tail.map(|t| t.bytes_cut), Some(30));
    common::fill(&mut log, 11);
    common::check_fixture(&log);
}

#[test]
fn failed_read_is_an_io_error_naming_the_segment() {
    let store = MemStore::default();
    let (mut log, _) = open(&store);
    common::fill(&mut log, 3);
    store.state().files.clear();
    let err = log.entry(1).unwrap_err();
    let first = "00000000000000000000.seg";
    assert!(
        matches!(&err, LogError::Io { op: "read segment", target, .. } if target == first),
        "{err}"
    );
}
