//! VM31 pool node. It receives deposit, withdraw and spend transactions over JSON-RPC 2.0
//! ([`api`], [`rpc`]), verifies each proof for its own deployment and against the roots of the
//! last 100 sealed blocks ([`verify`]), and applies it in one SQLite transaction ([`store`]):
//! leaves and frontier, nullifiers (unique in the database, so a note is spent once however
//! submissions interleave), commitments (unique: the pool's one-note-per-commitment rule),
//! public ledger and shielded supply per asset. One writer thread ([`node`]) commits groups of
//! transactions with one fsync and seals a block on a timer; nothing is acknowledged before it is
//! durable, so `kill -9` loses no acknowledged transaction and leaves none half-applied.
//! The node verifies with `vm31`'s verifier only and never links STWO's prover.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub use vm31_api as api;
pub mod error;
pub mod node;
pub mod reads;
pub mod rpc;
pub mod store;
pub mod verify;

pub use error::NodeError;
pub use node::{Node, NodeConfig};
pub use verify::Policy;
