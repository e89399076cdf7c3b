//! Cryptographic core of a shielded pool over M31 (`p = 2^31 - 1`).
//!
//! A wallet holds a random [`SpendingKey`]; from it derive a public key (the owner field of its
//! notes), a viewing key and an X25519 encryption key pair. A [`Note`] (owner, asset, `u64`
//! amount in range-checkable limbs, blinding) is committed to with a Poseidon2 sponge; the
//! commitments are appended to a depth-20 Merkle tree, and spending a note reveals its
//! [`Nullifier`], a hash of the spending key and the commitment. Spends refer to one of the
//! roots of the 100 most recent sealed blocks ([`RootWindow`]). Each note travels encrypted to its recipient under a
//! per-note X25519 key agreement and ChaCha20-Poly1305; the ciphertext's field hash is meant to
//! become a public input of transactions. The transaction STARKs that prove these relations are
//! in [`stark`] and [`tx`].
//!
//! Modules:
//! * [`poseidon2`]: Plonky3's Poseidon2 instance over M31 (width 16), scalar and 16-lane SIMD;
//! * [`sponge`]: domain-separated sponge hash and 2-to-1 compression;
//! * [`keys`]: spending, public, viewing and encryption keys, addresses;
//! * [`note`]: notes, commitments, nullifiers, amount limbs;
//! * [`merkle`]: commitment tree (frontier and full), membership paths, root window;
//! * [`encryption`]: note encryption, trial decryption and ciphertext hashing;
//! * [`canonical`]: canonical (`< p`) encodings of field elements, used by every serde impl;
//! * [`stark`]: the transaction AIR (one Poseidon2 permutation per row), prover, verifier,
//!   security configuration and canonical proof encoding;
//! * [`tx`]: transaction statements proved with it (deposit, withdraw with change, spend with one
//!   or two inputs), bound to a deployment and to their external data;
//! * [`error`]: the crate's [`Error`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod canonical;
pub mod encryption;
pub mod error;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod poseidon2;
pub mod sponge;
pub mod stark;
pub mod tx;

pub use encryption::{ciphertext_hash, encrypt, try_decrypt, Ciphertext};
pub use error::Error;
pub use keys::{
    Address, EncryptionPublicKey, EncryptionSecretKey, PublicKey, SpendingKey, ViewingKey,
};
pub use merkle::{verify_membership, Frontier, MerklePath, MerkleTree, RootWindow, TREE_DEPTH};
pub use note::{Commitment, Note, Nullifier};
pub use sponge::{compress, hash, Digest, Domain};
