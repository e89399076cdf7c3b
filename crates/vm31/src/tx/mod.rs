//! Transaction statements proved with [`crate::stark`].
//!
//! * [`deposit`]: public `(amount, asset, commitment, ciphertext hash)`; the prover knows an
//!   owner key and blinding that open the commitment to that amount and asset.
//! * [`withdraw`]: public `(root, nullifier, asset, amount, change commitment, its ciphertext
//!   hash)`; the prover owns a note of that asset in the tree with that root, the nullifier is
//!   the note's, and the note's amount is `amount + fee + change`.
//! * [`spend`]: public `(root, two nullifiers, two output commitments, ciphertext hashes, fee
//!   asset)`; the prover owns the two input notes (either may be a zero-value dummy) and creates
//!   two notes of the same asset whose amounts, with the fee, add up to the inputs'; a fee is
//!   paid in the public fee asset.
//!
//! Every statement also carries its [`ExternalData`] (recipient, relayer, fee, fee asset),
//! whose hash with the pool's [`Deployment`] is a public input: see [`external`].

use stwo::core::fields::m31::{M31, P};

use crate::note::amount_to_limbs;
use crate::stark::ProofError;

mod balance;
pub mod deposit;
pub mod external;
mod input;
pub mod spend;
pub mod withdraw;

#[cfg(feature = "prover")]
pub use deposit::prove_deposit;
pub use deposit::{verify_deposit, DepositProof, DepositStatement};
pub use external::{Deployment, ExternalData};
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

/// A statement's public inputs: its field elements (each checked to be below `p`), the hash of
/// its external data under `deployment`, then the limbs of `amounts`, which the verifier derives
/// itself (so they are in range).
fn public_inputs(
    elements: impl Iterator<Item = M31>,
    external: &ExternalData,
    deployment: &Deployment,
    amounts: &[u64],
) -> Result<Vec<M31>, ProofError> {
    let mut out: Vec<M31> = elements.chain([external.fee_asset]).collect();
    if out.iter().any(|x| x.0 >= P) {
        return Err(ProofError::InvalidPublicInput {
            what: "field element not below p",
        });
    }
    out.extend(external.hash(deployment));
    for &amount in amounts {
        out.extend(amount_to_limbs(amount));
    }
    Ok(out)
}

#[cfg(test)]
mod test_support;
