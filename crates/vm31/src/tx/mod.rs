//! Transaction statements proved with [`crate::stark`].
//!
//! * [`deposit`]: public `(amount, asset, commitment, ciphertext hash)`; the prover knows an
//!   owner key and blinding that open the commitment to that amount and asset.
//! * [`withdraw`]: public `(root, nullifier, amount, asset, recipient)`; the prover owns a note
//!   of that amount and asset in the tree with that root, and the nullifier is the note's.
//! * [`spend`]: public `(root, two nullifiers, two output commitments, fee, ciphertext hashes)`;
//!   the prover owns two distinct notes in the tree and creates two notes of the same asset whose
//!   amounts, with the fee, add up to the inputs'.

use stwo::core::fields::m31::{M31, P};

use crate::note::amount_to_limbs;
use crate::stark::ProofError;

pub mod deposit;
mod input;
pub mod spend;
pub mod withdraw;

#[cfg(feature = "prover")]
pub use deposit::prove_deposit;
pub use deposit::{verify_deposit, DepositProof, DepositStatement};
#[cfg(feature = "prover")]
pub use spend::prove_spend;
pub use spend::{verify_spend, SpendInput, SpendProof, SpendStatement, SpendWitness};
#[cfg(feature = "prover")]
pub use withdraw::prove_withdraw;
pub use withdraw::{verify_withdraw, WithdrawProof, WithdrawStatement, WithdrawWitness};

/// Statement type tags absorbed by the transcript.
pub mod kind {
    pub const DEPOSIT: u32 = 1;
    pub const WITHDRAW: u32 = 2;
    pub const SPEND: u32 = 3;
}

/// A statement's public inputs: its field elements (each checked to be below `p`) followed by
/// the limbs of `amount`, which the verifier derives itself (so they are in range).
fn public_inputs(elements: impl Iterator<Item = M31>, amount: u64) -> Result<Vec<M31>, ProofError> {
    let mut out: Vec<M31> = elements.collect();
    if out.iter().any(|x| x.0 >= P) {
        return Err(ProofError::InvalidPublicInput {
            what: "field element not below p",
        });
    }
    out.extend(amount_to_limbs(amount));
    Ok(out)
}

#[cfg(test)]
mod test_support;
