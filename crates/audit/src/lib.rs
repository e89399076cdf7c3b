//! Append-only, crash-safe, Merkle-committed inference log, in the style of Certificate
//! Transparency (RFC 6962 / RFC 9162).
//!
//! Every inference is an [`Entry`]: the caller's [`EntryData`] plus its `seq` and the
//! [`Entry::hash`] of the entry before it, so the entries form a hash chain. The entry hashes
//! are also the leaves of an RFC 6962 Merkle tree; every append returns a [`Receipt`] with
//! the tree head after it, and the log serves inclusion proofs (this entry is in the tree of
//! size `n`) and consistency proofs (the tree of size `n` extends the tree of size `m`) that
//! a client checks with [`merkle::verify_inclusion`] and [`merkle::verify_consistency`]
//! without trusting the log. Entries are stored as checksummed frames in segment files
//! behind a [`SegmentStore`] ([`LocalDir`] by default), fsynced before an append returns;
//! opening the log checks every record and cuts off, and reports, a torn tail left by a
//! crash, while any other damage is refused as [`LogError::Corrupt`].
//!
//! Modules: `entry` (entries and their canonical encoding), [`merkle`] (tree hashing, proof
//! generation and verification, incremental tree head), `segment` (segment and frame
//! format), `scan` (open-time checks: torn tail or corruption), `store` ([`SegmentStore`],
//! [`LocalDir`]), `log` ([`Log`]: open, append, read, prove), `config` ([`LogOptions`]),
//! `receipt` ([`Receipt`], [`OpenReport`], [`TornTail`]), `error` ([`LogError`]).
//!
//! On top of the log, the audit of a served model: [`record`] (what an entry holds for one
//! inference: the request and the exact public tensors of its proof), [`window`] (the report
//! of a proved window: roots at both ends with their consistency proof, each entry with its
//! inclusion proof, proof file and verdict, sealed by a report hash), [`check`] (the offline
//! check of a report folder against a verifying key, naming every problem), [`html`] (the
//! report for a person), [`seal`] (records sealed for a recipient: X25519 + ChaCha20-Poly1305,
//! tensors' hashes in clear) and [`time`] (RFC 3339). Proving a window is prover work and lives in
//! `model-service`; everything here builds without the prover.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod check;
mod config;
mod entry;
mod error;
pub mod html;
mod log;
pub mod merkle;
mod receipt;
pub mod record;
mod scan;
pub mod seal;
mod segment;
mod store;
pub mod time;
pub mod window;

pub use config::LogOptions;
pub use entry::{Entry, EntryData};
pub use error::LogError;
pub use log::Log;
pub use merkle::{leaf_hash, node_hash, root_of, verify_consistency, verify_inclusion, ProofError};
pub use receipt::{OpenReport, Receipt, TornTail};
pub use record::{InferenceInput, InferenceOutput};
pub use store::{LocalDir, SegmentStore};

/// A SHA-256 digest.
pub type Hash = [u8; 32];
