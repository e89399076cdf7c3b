//! Withdraw: part or all of a note of the pool leaves it, paid out publicly; the rest stays in
//! the pool as a change note.
//!
//! Public: the tree `root` (checked against a [`RootWindow`]), the note's `nullifier`, the
//! `asset_id`, the paid `amount`, the change note's commitment and ciphertext hash, and the
//! [`ExternalData`]: `recipient` (paid `amount`), `relayer` (paid `fee`, in the same asset).
//! Private: the spending key, the note and its position, the change note.
//!
//! Rows (29): one input segment (no dummy) ([`super::input`]) whose value row starts the balance with the
//! note's private, range-checked amount; the change note's two commitment blocks (the second a
//! value row that subtracts its amount, output 1 is its commitment); a final row that checks
//! `note = amount + fee + change` over the integers and that the span's asset is `asset_id`
//! (see [`crate::stark::value`]).

use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::M31;
use stwo::core::vcs::blake2_hash::Blake2sHash;

use super::external::{Deployment, ExternalData};
#[cfg(test)]
use super::input::MERKLE_START;
use super::input::{final_row, input_schedule, output_rows, VALUE_ROW};
use super::kind;
use crate::canonical::{m31, m31_array};
use crate::keys::SpendingKey;
use crate::merkle::{MerklePath, RootWindow};
use crate::note::{amount_to_limbs, Commitment, Note, Nullifier};
use crate::sponge::Digest;
use crate::stark::verifier::hash_from_hex;
use crate::stark::{
    verify_instance, Instance, ProofError, PublicConstants, Schedule, TxProof, ValueRole,
};
#[cfg(feature = "prover")]
use {
    super::balance::fill_values,
    super::deposit::sponge_inputs,
    super::input::input_rows,
    crate::merkle::verify_membership,
    crate::poseidon2::WIDTH,
    crate::sponge::Domain,
    crate::stark::{prove_instance, RowWitness},
    rand::{CryptoRng, RngCore},
};

/// The public side of a withdrawal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawStatement {
    #[serde(with = "m31_array")]
    pub root: Digest,
    pub nullifier: Nullifier,
    #[serde(with = "m31")]
    pub asset_id: M31,
    /// Paid to `external.recipient`.
    pub amount: u64,
    pub change_commitment: Commitment,
    #[serde(with = "m31_array")]
    pub change_ciphertext_hash: Digest,
    /// Recipient, relayer and fee; the fee asset must be `asset_id`.
    pub external: ExternalData,
}

/// What the owner knows. Stays on the client.
#[derive(Clone)]
pub struct WithdrawWitness {
    pub spending_key: SpendingKey,
    pub note: Note,
    pub index: u32,
    pub path: MerklePath,
    /// What stays in the pool (amount 0 for a full withdrawal).
    pub change: Note,
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
    /// What leaves the pool: `amount + fee` (`None` on overflow).
    pub fn total_out(&self) -> Option<u64> {
        self.amount.checked_add(self.external.fee)
    }

    fn instance(&self, deployment: &Deployment) -> Result<Instance, ProofError> {
        if self.external.fee_asset != self.asset_id {
            return Err(ProofError::InvalidPublicInput {
                what: "a withdrawal's fee is paid in its own asset",
            });
        }
        let total = self.total_out().ok_or(ProofError::InvalidPublicInput {
            what: "amount plus fee overflows u64",
        })?;
        let elements = self
            .root
            .iter()
            .chain(&self.nullifier.0)
            .chain(std::iter::once(&self.asset_id))
            .chain(&self.change_commitment.0)
            .chain(&self.change_ciphertext_hash)
            .copied();
        let amounts = [self.amount, self.external.fee];
        Ok(Instance {
            kind: kind::WITHDRAW,
            public_inputs: super::public_inputs(elements, &self.external, deployment, &amounts)?,
            schedule: schedule(),
            constants: PublicConstants {
                absorb: [M31(0); 4],
                outputs: vec![self.nullifier.0, self.change_commitment.0],
                node_outputs: vec![self.root],
                public_out: amount_to_limbs(total),
                asset_gate: M31(1),
                asset: self.asset_id,
                forbid_dummy: M31(1),
            },
        })
    }
}

/// Commitment to the preprocessed columns of [`schedule`] (see
/// [`crate::stark::verify_instance`]); `preprocessed_root_is_the_constant` recomputes it.
pub const PREPROCESSED_ROOT: Blake2sHash =
    hash_from_hex("1f397cf6728df62daede942cca2023f8e37b33c41eb5dbf11d77be59be4e35a0");

fn schedule() -> Schedule {
    let mut rows = input_schedule(ValueRole::First, 0, 0, true);
    for row in &mut rows[..VALUE_ROW] {
        row.keep_balance = false;
    }
    rows.extend(output_rows(1));
    rows.push(final_row());
    Schedule {
        rows,
        n_outputs: 2,
        n_node_outputs: 1,
    }
}

/// The rows of the withdraw schedule for `witness` (checked by the caller).
#[cfg(feature = "prover")]
fn witness_rows(witness: &WithdrawWitness, total_out: u64) -> Vec<RowWitness> {
    let mut rows = input_rows(
        &witness.spending_key,
        &witness.note,
        witness.index,
        &witness.path,
        false,
    );
    let change = sponge_inputs(Domain::NOTE_COMMITMENT, &witness.change.encode());
    rows.extend(change.into_iter().map(RowWitness::plain));
    rows.push(RowWitness::plain([M31(0); WIDTH]));
    let notes = [&witness.note, &witness.change];
    fill_values(&schedule(), &mut rows, notes.into_iter(), total_out);
    rows
}

/// Checks `witness` against `statement` natively, naming the first thing that is wrong.
#[cfg(feature = "prover")]
fn check_witness(
    statement: &WithdrawStatement,
    witness: &WithdrawWitness,
    total: u64,
) -> Result<(), ProofError> {
    let mismatch = |what| Err(ProofError::WitnessMismatch { what });
    let note = &witness.note;
    if note.owner != witness.spending_key.public_key() {
        return mismatch("spending key does not own the note");
    }
    if note.asset_id != statement.asset_id || witness.change.asset_id != statement.asset_id {
        return mismatch("note or change of another asset than the statement's");
    }
    if u128::from(note.amount) != u128::from(total) + u128::from(witness.change.amount) {
        return mismatch("note amount is not amount + fee + change");
    }
    if witness.change.commitment() != statement.change_commitment {
        return mismatch("change note does not open the change commitment");
    }
    if note.nullifier(&witness.spending_key, witness.index) != statement.nullifier {
        return mismatch("nullifier is not the note's");
    }
    verify_membership(
        &statement.root,
        &note.commitment().0,
        witness.index,
        &witness.path,
    )
    .or(mismatch("note is not in the tree with the statement root"))
}

/// Proves that `witness` withdraws `statement` in `deployment`. The witness is checked natively
/// first.
#[cfg(feature = "prover")]
pub fn prove_withdraw<R: RngCore + CryptoRng>(
    statement: &WithdrawStatement,
    deployment: &Deployment,
    witness: &WithdrawWitness,
    rng: &mut R,
) -> Result<WithdrawProof, ProofError> {
    let instance = statement.instance(deployment)?;
    let total = statement
        .total_out()
        .ok_or(ProofError::InvalidPublicInput {
            what: "amount plus fee overflows u64",
        })?;
    check_witness(statement, witness, total)?;
    prove_instance(&instance, &witness_rows(witness, total), rng).map(WithdrawProof)
}

/// Checks a withdrawal proof made for `deployment`; the root must be one of `window`'s recent
/// roots.
pub fn verify_withdraw(
    statement: &WithdrawStatement,
    proof: &WithdrawProof,
    deployment: &Deployment,
    window: &RootWindow,
) -> Result<(), ProofError> {
    window
        .check(&statement.root)
        .map_err(|source| ProofError::UnknownRoot { source })?;
    verify_instance(
        &statement.instance(deployment)?,
        &PREPROCESSED_ROOT,
        &proof.0,
    )
}

#[cfg(test)]
mod tests;
