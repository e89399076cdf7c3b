//! Transaction statements proved with [`crate::stark`].
//!
//! * [`deposit`]: public `(amount, asset, commitment, ciphertext hash)`; the prover knows an
//!   owner key and blinding that open the commitment to that amount and asset.

pub mod deposit;

pub use deposit::{prove_deposit, verify_deposit, DepositProof, DepositStatement};

/// Statement type tags absorbed by the transcript.
pub mod kind {
    pub const DEPOSIT: u32 = 1;
    pub const WITHDRAW: u32 = 2;
    pub const SPEND: u32 = 3;
}
