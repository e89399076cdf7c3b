//! The server's audit log (`<data-dir>/audit`): every `/infer` answer is appended before it is
//! sent. One writer thread owns the appends and commits in groups: it takes every entry
//! waiting, appends them with one fsync, then acknowledges each, so concurrent requests share
//! a sync and none is answered before its entry is durable. Timestamps are taken by the writer,
//! so they never go backwards in the log.

use std::path::Path;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

use audit::{EntryData, Hash, Log, LogOptions, OpenReport, Receipt};
use tokio::sync::oneshot;

/// Entries committed in one group at most.
const MAX_GROUP: usize = 256;

type Request = (EntryData, oneshot::Sender<Result<Receipt, String>>);

/// The log and its writer.
pub struct AuditLog {
    log: Arc<Mutex<Log>>,
    tx: Mutex<mpsc::Sender<Request>>,
}

impl AuditLog {
    /// Opens (creating) the log under `dir`, cutting a torn tail (reported), and starts the
    /// writer thread.
    pub fn open(dir: &Path) -> anyhow::Result<(Self, OpenReport)> {
        let (log, report) = Log::open(dir, LogOptions::default())?;
        let log = Arc::new(Mutex::new(log));
        let (tx, rx) = mpsc::channel::<Request>();
        let writer = log.clone();
        let last_ms = {
            let l = writer.lock().unwrap_or_else(|p| p.into_inner());
            match l.len().checked_sub(1) {
                Some(seq) => l.entry(seq)?.timestamp_ms,
                None => i64::MIN,
            }
        };
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_groups(&writer, &rx, last_ms))?;
        Ok((
            Self {
                log,
                tx: Mutex::new(tx),
            },
            report,
        ))
    }

    /// The log, for reading (entries, roots, proofs).
    pub fn read(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an entry (its timestamp is set by the writer); resolves once it is durable.
    pub async fn append(&self, data: EntryData) -> Result<Receipt, String> {
        let (done, wait) = oneshot::channel();
        self.tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send((data, done))
            .map_err(|_| "the audit log writer stopped".to_owned())?;
        wait.await
            .map_err(|_| "the audit log writer stopped".to_owned())?
    }

    /// The current size and root.
    pub fn head(&self) -> (u64, Hash) {
        let log = self.read();
        (log.len(), log.root())
    }
}

fn write_groups(log: &Mutex<Log>, rx: &mpsc::Receiver<Request>, mut last_ms: i64) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        // The clock may go back; the log's times never do.
        let now = audit::time::now_ms().max(last_ms);
        let (data, acks): (Vec<EntryData>, Vec<_>) = group
            .into_iter()
            .map(|(mut d, ack)| {
                d.timestamp_ms = now;
                (d, ack)
            })
            .unzip();
        let result = log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .append_batch(data);
        match result {
            Ok(receipts) => {
                last_ms = now;
                for (ack, r) in acks.into_iter().zip(receipts) {
                    let _ = ack.send(Ok(r));
                }
            }
            Err(e) => {
                let msg = format!("audit log append failed: {e}");
                for ack in acks {
                    let _ = ack.send(Err(msg.clone()));
                }
            }
        }
    }
}
