//! The running node: one writer thread that owns the database (group commit, block sealing on
//! a timer), verification on blocking threads bounded by a semaphore, and a published snapshot
//! of the committed state for readers.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Semaphore};
use vm31::tx::Deployment;

use crate::api::{code, Receipt, RpcError, Submission};
use crate::error::NodeError;
use crate::store::{State, Store};
use crate::verify::{verify_submission, Policy, Verified};

/// How a node runs.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub db: PathBuf,
    pub deployment: Deployment,
    pub policy: Policy,
    /// Blocks are sealed on this timer only (never by transaction count), so an anchor stays
    /// valid for at least 100 intervals.
    pub block_interval: Duration,
    /// Transactions committed together at most (one fsync per group).
    pub max_group: usize,
    /// Proofs verified at once.
    pub verify_threads: usize,
    /// Verified transactions waiting for the writer before submissions are refused as busy.
    pub queue: usize,
    /// Rebuild the tree from all leaves and check the balances when opening.
    pub check_on_open: bool,
}

impl NodeConfig {
    pub fn new(db: PathBuf, deployment: Deployment) -> Self {
        Self {
            db,
            deployment,
            policy: Policy::default(),
            block_interval: Duration::from_millis(2000),
            max_group: 64,
            verify_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue: 1024,
            check_on_open: true,
        }
    }
}

type Reply = oneshot::Sender<Result<Receipt, RpcError>>;

/// What the handlers share.
pub struct Shared {
    pub config: NodeConfig,
    snapshot: RwLock<State>,
    writer: SyncSender<(Verified, Reply)>,
    verify_slots: Semaphore,
}

/// A node, cheap to clone.
#[derive(Clone)]
pub struct Node {
    pub(crate) shared: Arc<Shared>,
}

impl Node {
    /// Opens the database (creating it for `config.deployment`) and starts the writer.
    pub fn open(config: NodeConfig) -> Result<Self, NodeError> {
        let store = Store::open(&config.db, &config.deployment)?;
        if config.check_on_open {
            store.check_integrity()?;
        }
        let (tx, rx) = mpsc::sync_channel(config.queue.max(1));
        let shared = Arc::new(Shared {
            snapshot: RwLock::new(store.state.clone()),
            writer: tx,
            verify_slots: Semaphore::new(config.verify_threads.max(1)),
            config,
        });
        let weak = Arc::downgrade(&shared);
        let interval = shared.config.block_interval;
        let max_group = shared.config.max_group.max(1);
        std::thread::Builder::new()
            .name("vm31-writer".into())
            .spawn(move || writer_loop(store, rx, weak, interval, max_group))?;
        Ok(Self { shared })
    }

    /// The committed state as of the last group or seal.
    pub fn snapshot(&self) -> State {
        match self.shared.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn config(&self) -> &NodeConfig {
        &self.shared.config
    }

    /// Verifies and applies one submission; returns once it is durable (or refused).
    pub async fn submit(&self, submission: Submission) -> Result<Receipt, RpcError> {
        let _slot = self
            .shared
            .verify_slots
            .acquire()
            .await
            .map_err(|_| RpcError::new(code::INTERNAL, "node shutting down"))?;
        let window = self.snapshot().window;
        let config = self.shared.config.clone();
        let verified = tokio::task::spawn_blocking(move || {
            verify_submission(&submission, &config.deployment, &window, &config.policy)
        })
        .await
        .map_err(|e| RpcError::new(code::INTERNAL, format!("verifier failed: {e}")))??;
        drop(_slot);
        let (reply, wait) = oneshot::channel();
        match self.shared.writer.try_send((verified, reply)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(RpcError::new(code::BUSY, "node busy, retry later"))
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(RpcError::new(code::INTERNAL, "the node's writer stopped"))
            }
        }
        wait.await
            .map_err(|_| RpcError::new(code::INTERNAL, "the node's writer stopped"))?
    }
}

fn publish(shared: &std::sync::Weak<Shared>, state: &State) -> bool {
    let Some(shared) = shared.upgrade() else {
        return false;
    };
    match shared.snapshot.write() {
        Ok(mut s) => *s = state.clone(),
        Err(poisoned) => *poisoned.into_inner() = state.clone(),
    }
    true
}

fn writer_loop(
    mut store: Store,
    rx: mpsc::Receiver<(Verified, Reply)>,
    shared: std::sync::Weak<Shared>,
    interval: Duration,
    max_group: usize,
) {
    let mut next_seal = Instant::now() + interval;
    loop {
        let wait = next_seal.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(first) => {
                let mut group = vec![first];
                while group.len() < max_group {
                    match rx.try_recv() {
                        Ok(item) => group.push(item),
                        Err(_) => break,
                    }
                }
                let (items, replies): (Vec<Verified>, Vec<Reply>) = group.into_iter().unzip();
                match store.apply_group(&items) {
                    Ok(outcomes) => {
                        publish(&shared, &store.state);
                        for (reply, outcome) in replies.into_iter().zip(outcomes) {
                            let _ = reply.send(outcome);
                        }
                    }
                    Err(e) => {
                        eprintln!("vm31-node: group of {} not applied: {e}", items.len());
                        for reply in replies {
                            let _ = reply.send(Err(RpcError::new(
                                code::INTERNAL,
                                format!("database error, nothing applied: {e}"),
                            )));
                        }
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if Instant::now() >= next_seal {
            match store.seal() {
                Ok(true) => {
                    if !publish(&shared, &store.state) {
                        return;
                    }
                }
                Ok(false) => {
                    if shared.strong_count() == 0 {
                        return;
                    }
                }
                Err(e) => eprintln!("vm31-node: sealing failed: {e}"),
            }
            next_seal = Instant::now() + interval;
        }
    }
}
