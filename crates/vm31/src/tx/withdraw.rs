//! Withdraw: a note of the pool leaves it, its amount paid out publicly to a recipient.
//!
//! Public: the tree `root` (checked against a [`RootWindow`]), the note's `nullifier`, `amount`
//! (as its three limbs), `asset_id` and the `recipient` (bound by the transcript only).
//! Private: the spending key, the note's owner key and blinding, its leaf index and path.
//!
//! Rows: one input segment ([`super::input`]) whose value row absorbs the public asset and
//! amount limbs.

use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::M31;
use stwo::core::vcs::blake2_hash::Blake2sHash;

#[cfg(test)]
use super::input::MERKLE_START;
use super::input::{input_schedule, NoteValue};
use super::kind;
use crate::canonical::{m31, m31_array};
use crate::keys::SpendingKey;
use crate::merkle::{MerklePath, RootWindow};
use crate::note::{amount_to_limbs, Note, Nullifier};
use crate::sponge::Digest;
use crate::stark::verifier::hash_from_hex;
use crate::stark::{verify_instance, Instance, ProofError, PublicConstants, Schedule, TxProof};
#[cfg(feature = "prover")]
use {
    super::input::input_rows,
    crate::merkle::verify_membership,
    crate::stark::{prove_instance, RowWitness},
    rand::{CryptoRng, RngCore},
};

/// The public side of a withdrawal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawStatement {
    #[serde(with = "m31_array")]
    pub root: Digest,
    pub nullifier: Nullifier,
    pub amount: u64,
    #[serde(with = "m31")]
    pub asset_id: M31,
    /// Who is paid, as 8 field elements (an external address or its hash).
    #[serde(with = "m31_array")]
    pub recipient: Digest,
}

/// What the owner knows. Stays on the client.
#[derive(Clone)]
pub struct WithdrawWitness {
    pub spending_key: SpendingKey,
    pub note: Note,
    pub index: u32,
    pub path: MerklePath,
}

/// A withdrawal proof.
#[derive(Clone, Debug)]
pub struct WithdrawProof(pub TxProof);

impl WithdrawProof {
    pub fn to_bytes(&self) -> Result<Vec<u8>, ProofError> {
        self.0.to_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofError> {
        TxProof::from_bytes(bytes).map(Self)
    }
}

impl WithdrawStatement {
    fn instance(&self) -> Result<Instance, ProofError> {
        let elements = self
            .root
            .iter()
            .chain(&self.nullifier.0)
            .chain(std::iter::once(&self.asset_id))
            .chain(&self.recipient)
            .copied();
        let limbs = amount_to_limbs(self.amount);
        Ok(Instance {
            kind: kind::WITHDRAW,
            public_inputs: super::public_inputs(elements, self.amount)?,
            schedule: schedule(),
            constants: PublicConstants {
                absorb: [self.asset_id, limbs[0], limbs[1], limbs[2]],
                outputs: vec![self.nullifier.0],
                node_outputs: vec![self.root],
                fee: [M31(0); 3],
            },
        })
    }
}

/// Commitment to the preprocessed columns of [`schedule`] (see
/// [`crate::stark::verify_instance`]); `preprocessed_root_is_the_constant` recomputes it.
pub const PREPROCESSED_ROOT: Blake2sHash =
    hash_from_hex("49c01040515777dbb0eff0a354a891abd12daf1a8a0c1ef70292e8473194ef44");

fn schedule() -> Schedule {
    Schedule {
        rows: input_schedule(NoteValue::Public, 0, 0, false),
        n_outputs: 1,
        n_node_outputs: 1,
    }
}

/// The rows of the withdraw schedule for `witness` (checked by the caller).
#[cfg(feature = "prover")]
fn witness_rows(witness: &WithdrawWitness) -> Vec<RowWitness> {
    input_rows(
        &witness.spending_key,
        &witness.note,
        witness.index,
        &witness.path,
    )
}

/// Proves that `witness` withdraws `statement`. The witness is checked natively first.
#[cfg(feature = "prover")]
pub fn prove_withdraw<R: RngCore + CryptoRng>(
    statement: &WithdrawStatement,
    witness: &WithdrawWitness,
    rng: &mut R,
) -> Result<WithdrawProof, ProofError> {
    let note = &witness.note;
    if note.owner != witness.spending_key.public_key() {
        return Err(ProofError::WitnessMismatch {
            what: "spending key does not own the note",
        });
    }
    if note.amount != statement.amount || note.asset_id != statement.asset_id {
        return Err(ProofError::WitnessMismatch {
            what: "note amount or asset differs from the statement",
        });
    }
    if note.nullifier(&witness.spending_key) != statement.nullifier {
        return Err(ProofError::WitnessMismatch {
            what: "nullifier is not the note's",
        });
    }
    verify_membership(
        &statement.root,
        &note.commitment().0,
        witness.index,
        &witness.path,
    )
    .map_err(|_| ProofError::WitnessMismatch {
        what: "note is not in the tree with the statement root",
    })?;
    let instance = statement.instance()?;
    prove_instance(&instance, &witness_rows(witness), rng).map(WithdrawProof)
}

/// Checks a withdrawal proof; the root must be one of `window`'s recent roots.
pub fn verify_withdraw(
    statement: &WithdrawStatement,
    proof: &WithdrawProof,
    window: &RootWindow,
) -> Result<(), ProofError> {
    window
        .check(&statement.root)
        .map_err(|source| ProofError::UnknownRoot { source })?;
    verify_instance(&statement.instance()?, &PREPROCESSED_ROOT, &proof.0)
}

#[cfg(test)]
mod tests;
