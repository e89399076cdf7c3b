//! The client side of a vm31 shielded pool: everything a wallet keeps between runs. A 24-word
//! BIP-39 seed phrase ([`seed`]) is the whole backup; the spending key is derived from it. The
//! phrase and the wallet's birthday live in an encrypted key file ([`keyfile`]: Argon2id and
//! XChaCha20-Poly1305, the header authenticated). Scanning the pool's commitment tree keeps a
//! [`Frontier`](vm31::Frontier) and, for each owned note, an O(depth) incremental witness
//! ([`witness`]), so membership paths are computed locally and never asked of the node. Notes,
//! witnesses, the frontier and note reservations are stored in SQLite ([`store`]), one
//! transaction per scanned page. [`Wallet`] ties them together: it scans the pool through a
//! JSON-RPC [`NodeClient`] (trial decryption on all cores), selects notes and builds, proves and
//! submits deposits, transfers and withdrawals ([`pay`]). Addresses have a checksummed text form
//! ([`address`]).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod address;
pub mod client;
pub mod keyfile;
pub mod pay;
pub mod seal;
pub mod seed;
pub mod store;
pub mod wallet;
pub mod witness;

pub use client::{ClientError, NodeClient};
pub use pay::{Relay, Sent};
pub use wallet::{ScanProgress, ScanReport, Wallet, WalletError};

pub use keyfile::{KdfParams, KeyFileError, WalletSecrets};
pub use seed::SeedError;
pub use store::{
    NoteStatus, OwnedNote, OwnedNoteRecord, ScanPage, ScanState, StoreError, WalletStore,
};
pub use witness::{NoteWitness, PageNodes, WitnessError};
