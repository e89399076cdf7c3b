//! Transaction statements proved with [`crate::stark`].
//!
//! * [`deposit`]: public `(amount, asset, commitment, ciphertext hash)`; the prover knows an
//!   owner key and blinding that open the commitment to that amount and asset.
//! * [`withdraw`]: public `(root, nullifier, amount, asset, recipient)`; the prover owns a note
//!   of that amount and asset in the tree with that root, and the nullifier is the note's.
//! * [`spend`]: public `(root, two nullifiers, two output commitments, fee, ciphertext hashes)`;
//!   the prover owns two distinct notes in the tree and creates two notes of the same asset whose
//!   amounts, with the fee, add up to the inputs'.

pub mod deposit;
mod input;
pub mod spend;
pub mod withdraw;

pub use deposit::{prove_deposit, verify_deposit, DepositProof, DepositStatement};
pub use spend::{prove_spend, verify_spend, SpendInput, SpendProof, SpendStatement, SpendWitness};
pub use withdraw::{
    prove_withdraw, verify_withdraw, WithdrawProof, WithdrawStatement, WithdrawWitness,
};

/// Statement type tags absorbed by the transcript.
pub mod kind {
    pub const DEPOSIT: u32 = 1;
    pub const WITHDRAW: u32 = 2;
    pub const SPEND: u32 = 3;
}
