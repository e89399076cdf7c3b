//! Spend: one or two notes of the pool are consumed and two new notes are created, in one asset,
//! with a public fee in a public fee asset.
//!
//! Public: the tree `root` (checked against a [`RootWindow`]), the input nullifiers (which must
//! differ), the two output commitments, the hashes of the two output ciphertexts and the
//! [`ExternalData`] (relayer, `fee`, `fee_asset`; its hash is a public input, the fee limbs are
//! computed by the verifier from a `u64`). Private: everything else — keys, notes, asset,
//! amounts, paths.
//!
//! **The fee is in a public asset.** With `fee > 0` the final row pins the span's single asset
//! to `fee_asset`: every note, input and output, is in the fee asset, and the fee is an amount of
//! it (so notes of a worthless asset cannot pay a fee in a valuable one). A fee-paying spend
//! therefore reveals its asset; a spend without a fee keeps it private.
//!
//! Rows (57): two input segments ([`super::input`]; the first value row starts the balance, the
//! second adds its amount), per output the two commitment blocks (the second a value row that
//! subtracts its amount; output `2 + j` is the commitment), and a final row that checks the
//! balance against the fee (see [`crate::stark::value`]). Every value row range-checks the
//! note's limbs, and all value rows carry one asset.
//!
//! **Dummy inputs.** Either input may be a dummy: a zero-value note of the spender's own key that
//! is not in the tree ([`SpendInput::dummy`]). Its segment proves ownership and the nullifier as
//! usual, but its amount is forced to 0 and its root check is switched off
//! ([`crate::stark::segment`]). A wallet with one note pays with it and a dummy, and the proof
//! does not say which input (if any) is the dummy.

use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::M31;
use stwo::core::vcs::blake2_hash::Blake2sHash;

use super::external::{Deployment, ExternalData};
use super::input::{final_row, input_schedule, output_rows, VALUE_ROW};
use super::kind;
use crate::canonical::m31_array;
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
    super::input::{input_rows, INPUT_ROWS},
    crate::merkle::verify_membership,
    crate::poseidon2::WIDTH,
    crate::sponge::Domain,
    crate::stark::{prove_instance, RowWitness},
    rand::{CryptoRng, RngCore},
};

/// The public side of a spend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendStatement {
    #[serde(with = "m31_array")]
    pub root: Digest,
    /// One per input note (a dummy's included).
    pub nullifiers: [Nullifier; 2],
    pub output_commitments: [Commitment; 2],
    /// Hash of each output note's ciphertext.
    #[serde(with = "crate::canonical::digest_array")]
    pub ciphertext_hashes: [Digest; 2],
    /// Relayer, fee and fee asset (`recipient` is unused and must be zero).
    pub external: ExternalData,
}

/// One consumed note and what proves it may be spent.
#[derive(Clone)]
pub struct SpendInput {
    pub spending_key: SpendingKey,
    pub note: Note,
    /// The note's leaf position (bound into its nullifier).
    pub index: u32,
    pub path: MerklePath,
    /// A zero-value note that is not in the tree (see [`SpendInput::dummy`]).
    pub dummy: bool,
}

impl SpendInput {
    /// A dummy input: a fresh zero-value note of `spending_key` in `asset`, at a random
    /// position, with no path. Its nullifier is [`Self::nullifier`].
    #[cfg(feature = "prover")]
    pub fn dummy<R: RngCore + CryptoRng>(
        spending_key: &SpendingKey,
        asset: M31,
        rng: &mut R,
    ) -> Self {
        let note = Note::new(spending_key.public_key(), asset, 0, rng);
        Self {
            spending_key: spending_key.clone(),
            note,
            index: rng.next_u32() >> 12,
            path: MerklePath([[M31(0); crate::sponge::DIGEST_LEN]; crate::merkle::TREE_DEPTH]),
            dummy: true,
        }
    }

    /// The nullifier this input reveals.
    pub fn nullifier(&self) -> Nullifier {
        self.note.nullifier(&self.spending_key, self.index)
    }
}

/// What the spender knows. Stays on the client.
#[derive(Clone)]
pub struct SpendWitness {
    /// In the order of the statement's nullifiers.
    pub inputs: [SpendInput; 2],
    pub outputs: [Note; 2],
}

/// A spend proof.
#[derive(Clone, Debug)]
pub struct SpendProof(pub TxProof);

impl SpendProof {
    pub fn to_bytes(&self) -> Result<Vec<u8>, ProofError> {
        self.0.to_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofError> {
        TxProof::from_bytes(bytes).map(Self)
    }
}

/// Public outputs: the two nullifiers, then the two commitments.
const N_OUTPUTS: usize = 4;

impl SpendStatement {
    fn instance(&self, deployment: &Deployment) -> Result<Instance, ProofError> {
        if self.nullifiers[0] == self.nullifiers[1] {
            return Err(ProofError::InvalidPublicInput {
                what: "the two nullifiers are equal (one note spent twice)",
            });
        }
        if self.external.recipient != [0; 32] {
            return Err(ProofError::InvalidPublicInput {
                what: "a spend pays no external recipient",
            });
        }
        let elements = self
            .root
            .iter()
            .chain(self.nullifiers.iter().flat_map(|n| &n.0))
            .chain(self.output_commitments.iter().flat_map(|c| &c.0))
            .chain(self.ciphertext_hashes.iter().flatten())
            .copied();
        let fee = self.external.fee;
        Ok(Instance {
            kind: kind::SPEND,
            public_inputs: super::public_inputs(elements, &self.external, deployment, &[fee])?,
            schedule: schedule(),
            constants: PublicConstants {
                absorb: [M31(0); 4],
                outputs: self
                    .nullifiers
                    .iter()
                    .map(|n| n.0)
                    .chain(self.output_commitments.iter().map(|c| c.0))
                    .collect(),
                node_outputs: vec![self.root; 2],
                public_out: amount_to_limbs(fee),
                asset_gate: M31(u32::from(fee > 0)),
                asset: self.external.fee_asset,
                forbid_dummy: M31(0),
            },
        })
    }
}

/// Commitment to the preprocessed columns of [`schedule`] (see
/// [`crate::stark::verify_instance`]); `preprocessed_root_is_the_constant` recomputes it.
pub const PREPROCESSED_ROOT: Blake2sHash =
    hash_from_hex("6c2d6331fd7399b1152b92daf8aeb278af28cd856c63a93005c34449d85f2dd8");

fn schedule() -> Schedule {
    let mut rows = input_schedule(ValueRole::First, 0, 0, true);
    // Nothing to keep before the first value row.
    for row in &mut rows[..VALUE_ROW] {
        row.keep_balance = false;
    }
    rows.extend(input_schedule(ValueRole::In, 1, 1, true));
    for j in 0..2 {
        rows.extend(output_rows(2 + j));
    }
    rows.push(final_row());
    Schedule {
        rows,
        n_outputs: N_OUTPUTS,
        n_node_outputs: 2,
    }
}

/// The rows of the spend schedule for `witness`, whether or not it balances (a witness that does
/// not gets carry bits of zero, which the final row refuses).
#[cfg(feature = "prover")]
fn witness_rows(witness: &SpendWitness, fee: u64) -> Vec<RowWitness> {
    let mut rows = Vec::with_capacity(2 * INPUT_ROWS + 5);
    for input in &witness.inputs {
        rows.extend(input_rows(
            &input.spending_key,
            &input.note,
            input.index,
            &input.path,
            input.dummy,
        ));
    }
    for note in &witness.outputs {
        let inputs = sponge_inputs(Domain::NOTE_COMMITMENT, &note.encode());
        rows.extend(inputs.into_iter().map(RowWitness::plain));
    }
    rows.push(RowWitness::plain([M31(0); WIDTH]));
    let notes = witness
        .inputs
        .iter()
        .map(|i| &i.note)
        .chain(&witness.outputs);
    fill_values(&schedule(), &mut rows, notes, fee);
    rows
}

/// Checks `witness` against `statement` natively, naming the first thing that is wrong.
#[cfg(feature = "prover")]
fn check_witness(statement: &SpendStatement, witness: &SpendWitness) -> Result<(), ProofError> {
    let mismatch = |what| Err(ProofError::WitnessMismatch { what });
    for (input, nullifier) in witness.inputs.iter().zip(&statement.nullifiers) {
        let note = &input.note;
        if note.owner != input.spending_key.public_key() {
            return mismatch("spending key does not own an input note");
        }
        if input.nullifier() != *nullifier {
            return mismatch("a nullifier is not its input note's");
        }
        if input.dummy {
            if note.amount != 0 {
                return mismatch("a dummy input has amount 0");
            }
            continue;
        }
        verify_membership(
            &statement.root,
            &note.commitment().0,
            input.index,
            &input.path,
        )
        .or(mismatch(
            "an input note is not in the tree with the statement root",
        ))?;
    }
    for (note, commitment) in witness.outputs.iter().zip(&statement.output_commitments) {
        if note.commitment() != *commitment {
            return mismatch("an output note does not open its commitment");
        }
    }
    let asset = witness.inputs[0].note.asset_id;
    let notes = || {
        witness
            .inputs
            .iter()
            .map(|i| &i.note)
            .chain(&witness.outputs)
    };
    if notes().any(|n| n.asset_id != asset) {
        return mismatch("notes of different assets");
    }
    if statement.external.fee > 0 && asset != statement.external.fee_asset {
        return mismatch("a fee is paid in the fee asset: the notes are in another asset");
    }
    let total_in: u128 = witness
        .inputs
        .iter()
        .map(|i| u128::from(i.note.amount))
        .sum();
    let total_out: u128 = witness
        .outputs
        .iter()
        .map(|n| u128::from(n.amount))
        .sum::<u128>()
        + u128::from(statement.external.fee);
    if total_in != total_out {
        return mismatch("inputs do not equal outputs plus fee");
    }
    Ok(())
}

/// Proves that `witness` spends `statement` in `deployment`. The witness is checked natively
/// first.
#[cfg(feature = "prover")]
pub fn prove_spend<R: RngCore + CryptoRng>(
    statement: &SpendStatement,
    deployment: &Deployment,
    witness: &SpendWitness,
    rng: &mut R,
) -> Result<SpendProof, ProofError> {
    let instance = statement.instance(deployment)?;
    check_witness(statement, witness)?;
    let rows = witness_rows(witness, statement.external.fee);
    prove_instance(&instance, &rows, rng).map(SpendProof)
}

/// Checks a spend proof made for `deployment`; the root must be one of `window`'s recent roots.
/// Whether the nullifiers were already spent is the pool's business, not the proof's.
pub fn verify_spend(
    statement: &SpendStatement,
    proof: &SpendProof,
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
#[path = "spend/attack_tests.rs"]
mod attack_tests;
#[cfg(test)]
mod tests;
