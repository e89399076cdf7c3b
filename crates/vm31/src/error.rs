//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong in this crate. Decryption failure is not an error: a note that
/// is not ours is the common case of trial decryption, so [`try_decrypt`](crate::try_decrypt)
/// returns `None`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The commitment tree already holds `capacity` leaves.
    #[error("commitment tree is full ({capacity} leaves)")]
    TreeFull { capacity: u64 },
    /// A leaf index beyond the tree's capacity.
    #[error("leaf index {index} out of range (capacity {capacity})")]
    LeafIndexOutOfRange { index: u64, capacity: u64 },
    /// A membership path that does not lead from the leaf to the claimed root.
    #[error("membership path for leaf {index} does not reach the root")]
    RootMismatch { index: u32 },
    /// A root that is not among the most recent ones the pool accepts.
    #[error("root is not in the window of the {window} most recent roots")]
    UnknownRoot { window: usize },
    /// A stored root window longer than the window.
    #[error("root window holds {len} roots, more than {max}")]
    RootWindowTooLong { len: usize, max: usize },
    /// A field element encoded as an integer `>= p`.
    #[error("non-canonical M31 encoding {value}")]
    NonCanonical { value: u32 },
    /// An amount limb outside its range (see [`crate::note::AMOUNT_LIMB_BITS`]).
    #[error("amount limb {limb} is {value}, above its {bits}-bit range")]
    AmountLimbOutOfRange { limb: usize, value: u32, bits: u32 },
    /// A custom sponge domain tag in the range reserved for this crate, or `>= p`.
    #[error("domain tag {tag} is reserved or not a canonical M31")]
    InvalidDomain { tag: u32 },
    /// An X25519 public key of small order: the shared secret would be public.
    #[error("recipient encryption key has small order")]
    LowOrderEncryptionKey,
    /// ChaCha20-Poly1305 refused to encrypt (only possible for oversized plaintexts).
    #[error("AEAD encryption failed")]
    AeadFailure,
}
