//! An open wallet: keys from the key file, notes from the store, and incremental scanning of the
//! pool through a [`NodeClient`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::{CryptoRng, RngCore};
use rayon::prelude::*;
use vm31::tx::Deployment;
use vm31::{try_decrypt, Commitment, EncryptionSecretKey, Frontier, SpendingKey};
use vm31_api::{GetNotesParams, NotesPage, PoolStatus};

use crate::client::{ClientError, NodeClient};
use crate::keyfile::{self, KdfParams, KeyFileError, WalletSecrets};
use crate::seal::StoreKey;
use crate::seed::{self, SeedError};
use crate::store::{OwnedNote, ScanPage, StoreError, WalletStore};
use crate::witness::{NoteWitness, PageNodes};

/// Why a wallet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("proving failed: {0}")]
    Proof(#[from] vm31::stark::ProofError),
    #[error("insufficient funds: need {need} of asset {asset}, have {have}")]
    InsufficientFunds { asset: u32, need: u128, have: u128 },
    #[error("funds of asset {asset} are spread over too many notes: the largest two hold {largest_two}, {need} needed; spend some to yourself first")]
    TooFragmented {
        asset: u32,
        need: u128,
        largest_two: u128,
    },
    #[error("this wallet belongs to pool {wallet_pool} on chain {wallet_chain}; the node serves pool {node_pool} on chain {node_chain}")]
    WrongPool {
        wallet_chain: u64,
        wallet_pool: String,
        node_chain: u64,
        node_pool: String,
    },
    #[error("the node returned an inconsistent tree at leaf {at}: {what}")]
    InconsistentTree { at: u64, what: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Scanning progress.
#[derive(Clone, Copy, Debug)]
pub struct ScanProgress {
    pub scanned: u64,
    pub total: u64,
    pub found: u64,
}

/// What a scan did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    pub scanned: u64,
    pub found: u64,
    pub spent: u64,
    pub tree_size: u64,
}

/// An unlocked wallet.
pub struct Wallet {
    pub dir: PathBuf,
    pub(crate) spending_key: SpendingKey,
    pub(crate) encryption_key: EncryptionSecretKey,
    pub(crate) store: WalletStore,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet").field("dir", &self.dir).finish()
    }
}

const DEPLOYMENT_KEY: &str = "deployment";

impl Wallet {
    /// Creates a wallet in `dir` from a new seed phrase (or `restore`), encrypted under
    /// `password`; returns it with its phrase (show it once: it is the backup).
    pub fn create<R: RngCore + CryptoRng>(
        dir: &Path,
        password: &[u8],
        restore: Option<&str>,
        params: KdfParams,
        rng: &mut R,
    ) -> Result<(Self, String), WalletError> {
        let mnemonic = match restore {
            Some(phrase) => seed::parse(phrase)?,
            None => seed::generate(rng),
        };
        let secrets = WalletSecrets {
            mnemonic: mnemonic.to_string(),
            birthday: 0,
        };
        keyfile::create(dir, password, &secrets, params, rng)?;
        let wallet = Self::open(dir, password)?;
        Ok((wallet, mnemonic.to_string()))
    }

    /// Opens the wallet in `dir` with `password`.
    pub fn open(dir: &Path, password: &[u8]) -> Result<Self, WalletError> {
        let secrets = keyfile::open(dir, password)?;
        let mnemonic = seed::parse(&secrets.mnemonic)?;
        let spending_key = seed::spending_key_from_mnemonic(&mnemonic);
        let encryption_key = spending_key.viewing_key().encryption_secret_key();
        let store = WalletStore::open(dir, StoreKey::derive(&spending_key))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            spending_key,
            encryption_key,
            store,
        })
    }

    pub fn address(&self) -> vm31::Address {
        self.spending_key.address()
    }

    /// Releases the notes reserved by a command that did not finish (`vm31 scan` does this
    /// after scanning, so a note spent meanwhile is marked spent first).
    pub fn release_stale_reservations(&mut self) -> Result<usize, WalletError> {
        Ok(self.store.release_all()?)
    }

    /// Unspent, scanned balances per asset.
    pub fn balances(&self) -> Result<BTreeMap<u32, u128>, WalletError> {
        Ok(self.store.balances()?)
    }

    /// The node's deployment, checked against (or recorded as) the wallet's pool.
    pub fn deployment(&mut self, client: &NodeClient) -> Result<Deployment, WalletError> {
        let status: PoolStatus = client.call("pool_status", &serde_json::json!({}))?;
        let mut pool_id = [0u8; 32];
        hex::decode_to_slice(&status.pool_id, &mut pool_id)
            .map_err(|e| WalletError::Invalid(format!("node sent a bad pool id: {e}")))?;
        let node = Deployment {
            chain_id: status.chain_id,
            pool_id,
        };
        match self.store.meta(DEPLOYMENT_KEY)? {
            Some(bytes) => {
                let mine: Deployment = serde_json::from_slice(&bytes)
                    .map_err(|e| WalletError::Invalid(format!("wallet store: {e}")))?;
                if mine != node {
                    return Err(WalletError::WrongPool {
                        wallet_chain: mine.chain_id,
                        wallet_pool: hex::encode(mine.pool_id),
                        node_chain: node.chain_id,
                        node_pool: hex::encode(node.pool_id),
                    });
                }
            }
            None => {
                let bytes =
                    serde_json::to_vec(&node).map_err(|e| WalletError::Invalid(e.to_string()))?;
                self.store.set_meta(DEPLOYMENT_KEY, &bytes)?;
            }
        }
        Ok(node)
    }

    /// Fetches every sealed note since the last scan, keeps ours (trial decryption on all
    /// cores), updates the frontier, the witnesses and the spent flags, one store transaction
    /// per page. A crash loses at most the page in flight, which the next scan repeats.
    pub fn scan(
        &mut self,
        client: &NodeClient,
        mut progress: impl FnMut(ScanProgress),
    ) -> Result<ScanReport, WalletError> {
        self.deployment(client)?;
        let (mut next, mut frontier, mut witnesses) = self.store.scan_state()?;
        let mut report = ScanReport::default();
        loop {
            let page: NotesPage = client.call(
                "pool_getNotes",
                &GetNotesParams {
                    from: next,
                    limit: None,
                },
            )?;
            if page.notes.is_empty() {
                report.tree_size = next;
                progress(ScanProgress {
                    scanned: next,
                    total: page.sealed_tree_size,
                    found: report.found,
                });
                return Ok(report);
            }
            let found = self.scan_page(&page, next, &mut frontier, &mut witnesses)?;
            report.found += found.len() as u64;
            report.scanned += page.notes.len() as u64;
            let ours: Vec<_> = witnesses.iter().map(|(p, _)| *p).collect();
            self.store.apply_scan_page(&ScanPage {
                next_index: page.next,
                frontier: frontier.clone(),
                new_notes: found,
                witnesses: witnesses.clone(),
                spent_nullifiers: page.nullifiers.clone(),
            })?;
            // Spent notes lose their witnesses in the store; keep the rest.
            let (_, _, kept) = self.store.scan_state()?;
            report.spent += (ours.len() - kept.len()) as u64;
            witnesses = kept;
            next = page.next;
            progress(ScanProgress {
                scanned: next,
                total: page.sealed_tree_size,
                found: report.found,
            });
        }
    }

    /// Appends one page to `frontier` and `witnesses`; returns the notes found in it.
    fn scan_page(
        &self,
        page: &NotesPage,
        from: u64,
        frontier: &mut Frontier,
        witnesses: &mut Vec<(u64, NoteWitness)>,
    ) -> Result<Vec<OwnedNote>, WalletError> {
        let owner = self.spending_key.public_key();
        let key = &self.encryption_key;
        let decrypted: Vec<Option<vm31::Note>> = page
            .notes
            .par_iter()
            .map(|entry| {
                let ct = entry.ciphertext.decode().ok()?;
                let note = try_decrypt(&ct, key)?;
                (note.owner == owner && note.commitment().0 == entry.commitment).then_some(note)
            })
            .collect();
        let mut found = Vec::new();
        let mut new_witnesses = Vec::new();
        for (i, (entry, mine)) in page.notes.iter().zip(decrypted).enumerate() {
            let expected = from + i as u64;
            if entry.index != expected {
                return Err(WalletError::InconsistentTree {
                    at: expected,
                    what: format!("leaf {} where {expected} was expected", entry.index),
                });
            }
            frontier.append(Commitment(entry.commitment)).map_err(|e| {
                WalletError::InconsistentTree {
                    at: expected,
                    what: e.to_string(),
                }
            })?;
            if let Some(note) = mine {
                let witness =
                    NoteWitness::from_frontier(frontier).ok_or(WalletError::InconsistentTree {
                        at: expected,
                        what: "no witness for a new leaf".into(),
                    })?;
                new_witnesses.push((expected, witness));
                found.push(OwnedNote {
                    position: expected,
                    nullifier: note.nullifier(&self.spending_key, expected as u32),
                    note,
                });
            }
        }
        // Every witness takes the page's leaves through shared subtree roots.
        let leaves: Vec<_> = page.notes.iter().map(|n| n.commitment).collect();
        let nodes = PageNodes::new(from, &leaves);
        witnesses.extend(new_witnesses);
        witnesses
            .par_iter_mut()
            .try_for_each(|(_, w)| w.append_page(&nodes))
            .map_err(|e| WalletError::InconsistentTree {
                at: nodes.end(),
                what: e.to_string(),
            })?;
        if frontier.root() != page.root {
            return Err(WalletError::InconsistentTree {
                at: page.next,
                what: "root differs from the node's".into(),
            });
        }
        Ok(found)
    }
}
