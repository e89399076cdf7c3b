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
//! Rows (55 with two inputs, 30 with one): the input segments ([`super::input`]; the first value
//! row starts the balance, a second adds its amount), per output the two commitment blocks (the
//! second a value row that subtracts its amount; output `n_in + j` is the commitment), and a
//! final row that checks the balance against the fee (see [`crate::stark::value`]). Every value
//! row range-checks the note's limbs, and all value rows carry one asset.
//!
//! **One input.** A spend of one note is its own statement kind ([`kind::SPEND_ONE`], 30 rows):
//! a wallet with a single note can pay, at the cost of revealing that the spend had one input.
//! (Hiding it needs zero-value dummy inputs with the membership check switched off, a change of
//! the AIR not made yet.)

use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::M31;
use stwo::core::vcs::blake2_hash::Blake2sHash;

use super::external::{Deployment, ExternalData};
use super::input::{input_schedule, VALUE_ROW};
use super::kind;
use crate::canonical::m31_array;
use crate::keys::SpendingKey;
use crate::merkle::{MerklePath, RootWindow};
use crate::note::{amount_to_limbs, Commitment, Note, Nullifier, NOTE_ENCODING_LEN};
use crate::sponge::{Digest, Domain};
use crate::stark::verifier::hash_from_hex;
use crate::stark::{
    verify_instance, Instance, ProofError, PublicConstants, RowKind, Schedule, TxProof, ValueRole,
};
#[cfg(feature = "prover")]
use {
    super::balance::fill_values,
    super::deposit::sponge_inputs,
    super::input::{input_rows, INPUT_ROWS},
    crate::merkle::verify_membership,
    crate::poseidon2::WIDTH,
    crate::stark::{prove_instance, RowWitness},
    rand::{CryptoRng, RngCore},
};

/// The public side of a spend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendStatement {
    #[serde(with = "m31_array")]
    pub root: Digest,
    /// One per input note: one or two.
    pub nullifiers: Vec<Nullifier>,
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
    pub index: u32,
    pub path: MerklePath,
}

/// What the spender knows. Stays on the client.
#[derive(Clone)]
pub struct SpendWitness {
    /// One or two, in the order of the statement's nullifiers.
    pub inputs: Vec<SpendInput>,
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

impl SpendStatement {
    fn instance(&self, deployment: &Deployment) -> Result<Instance, ProofError> {
        let n_in = self.nullifiers.len();
        match self.nullifiers.as_slice() {
            [_] => {}
            [a, b] if a != b => {}
            [_, _] => {
                return Err(ProofError::InvalidPublicInput {
                    what: "the two nullifiers are equal (one note spent twice)",
                })
            }
            _ => {
                return Err(ProofError::InvalidPublicInput {
                    what: "a spend has one or two inputs",
                })
            }
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
            kind: if n_in == 1 {
                kind::SPEND_ONE
            } else {
                kind::SPEND
            },
            public_inputs: super::public_inputs(elements, &self.external, deployment, &[fee])?,
            schedule: schedule(n_in),
            constants: PublicConstants {
                absorb: [M31(0); 4],
                outputs: self
                    .nullifiers
                    .iter()
                    .map(|n| n.0)
                    .chain(self.output_commitments.iter().map(|c| c.0))
                    .collect(),
                node_outputs: vec![self.root; n_in],
                public_out: amount_to_limbs(fee),
                asset_gate: M31(u32::from(fee > 0)),
                asset: self.external.fee_asset,
            },
        })
    }
}

/// Commitment to the preprocessed columns of [`schedule`]`(2)` (see
/// [`crate::stark::verify_instance`]); `preprocessed_root_is_the_constant` recomputes it.
pub const PREPROCESSED_ROOT: Blake2sHash =
    hash_from_hex("569e689842eb084f6ab6b34718b2e87177040e5f3c59fb83a2ce9e02f5276e98");
/// The same for [`schedule`]`(1)`.
pub const PREPROCESSED_ROOT_ONE: Blake2sHash =
    hash_from_hex("0be1f85910a027e21d80835a0579fd138a5e03902b037209301120c029bfcaec");

fn schedule(n_inputs: usize) -> Schedule {
    let mut rows = input_schedule(ValueRole::First, 0, 0, true);
    // Nothing to keep before the first value row.
    for row in &mut rows[..VALUE_ROW] {
        row.keep_balance = false;
    }
    if n_inputs == 2 {
        rows.extend(input_schedule(ValueRole::In, 1, 1, true));
    }
    for j in 0..2 {
        rows.push(RowKind {
            iv: Some((Domain::NOTE_COMMITMENT, NOTE_ENCODING_LEN as u64)),
            keep_balance: true,
            ..RowKind::default()
        });
        rows.push(RowKind {
            cont: true,
            value: Some(ValueRole::Out),
            output: Some(n_inputs + j),
            ..RowKind::default()
        });
    }
    rows.push(RowKind {
        keep_balance: true,
        balance_final: true,
        ..RowKind::default()
    });
    Schedule {
        rows,
        n_outputs: n_inputs + 2,
        n_node_outputs: n_inputs,
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
    fill_values(&schedule(witness.inputs.len()), &mut rows, notes, fee);
    rows
}

/// Checks `witness` against `statement` natively, naming the first thing that is wrong.
#[cfg(feature = "prover")]
fn check_witness(statement: &SpendStatement, witness: &SpendWitness) -> Result<(), ProofError> {
    let mismatch = |what| Err(ProofError::WitnessMismatch { what });
    if witness.inputs.len() != statement.nullifiers.len() {
        return mismatch("one input per nullifier");
    }
    for (input, nullifier) in witness.inputs.iter().zip(&statement.nullifiers) {
        let note = &input.note;
        if note.owner != input.spending_key.public_key() {
            return mismatch("spending key does not own an input note");
        }
        if note.nullifier(&input.spending_key) != *nullifier {
            return mismatch("a nullifier is not its input note's");
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
    let root = if statement.nullifiers.len() == 1 {
        &PREPROCESSED_ROOT_ONE
    } else {
        &PREPROCESSED_ROOT
    };
    verify_instance(&statement.instance(deployment)?, root, &proof.0)
}

#[cfg(test)]
mod tests;
