//! Spend: two notes of the pool are consumed and two new notes are created, in one asset, with a
//! public fee.
//!
//! Public: the tree `root` (checked against a [`RootWindow`]), the two input nullifiers (which
//! must differ), the two output commitments, the `fee` (its limbs computed by the verifier from a
//! `u64`) and the hashes of the two output ciphertexts (bound by the transcript). Private:
//! everything else — keys, notes, asset, amounts, paths.
//!
//! Rows (55): input segment 0 ([`super::input`], its value row starts the balance), input segment
//! 1 (adds its amount), per output the two commitment blocks (the second a value row that
//! subtracts its amount; output `2 + j` is the commitment), and a final row that checks the
//! balance against the fee (see [`crate::stark::value`]). Every value row range-checks the
//! note's limbs, and all four value rows carry one asset.

use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::M31;
use stwo::core::vcs::blake2_hash::Blake2sHash;

use super::input::{input_schedule, NoteValue, VALUE_ROW};
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
    super::deposit::sponge_inputs,
    super::input::{input_rows, INPUT_ROWS},
    crate::merkle::verify_membership,
    crate::poseidon2::WIDTH,
    crate::stark::value::carry_bits,
    crate::stark::{prove_instance, RowWitness, ValueWitness},
    rand::{CryptoRng, RngCore},
    stwo::core::fields::m31::P,
};

/// The public side of a spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendStatement {
    #[serde(with = "m31_array")]
    pub root: Digest,
    pub nullifiers: [Nullifier; 2],
    pub output_commitments: [Commitment; 2],
    pub fee: u64,
    /// Hash of each output note's ciphertext.
    #[serde(with = "crate::canonical::digest_array")]
    pub ciphertext_hashes: [Digest; 2],
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
    fn instance(&self) -> Result<Instance, ProofError> {
        if self.nullifiers[0] == self.nullifiers[1] {
            return Err(ProofError::InvalidPublicInput {
                what: "the two nullifiers are equal (one note spent twice)",
            });
        }
        let elements = self
            .root
            .iter()
            .chain(self.nullifiers.iter().flat_map(|n| &n.0))
            .chain(self.output_commitments.iter().flat_map(|c| &c.0))
            .chain(self.ciphertext_hashes.iter().flatten())
            .copied();
        let fee = amount_to_limbs(self.fee);
        Ok(Instance {
            kind: kind::SPEND,
            public_inputs: super::public_inputs(elements, self.fee)?,
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
                fee,
            },
        })
    }
}

/// Commitment to the preprocessed columns of [`schedule`] (see
/// [`crate::stark::verify_instance`]); `preprocessed_root_is_the_constant` recomputes it.
pub const PREPROCESSED_ROOT: Blake2sHash =
    hash_from_hex("569e689842eb084f6ab6b34718b2e87177040e5f3c59fb83a2ce9e02f5276e98");

fn schedule() -> Schedule {
    let mut rows = input_schedule(NoteValue::Private(ValueRole::First), 0, 0, true);
    // Nothing to keep before the first value row.
    for row in &mut rows[..VALUE_ROW] {
        row.keep_balance = false;
    }
    rows.extend(input_schedule(
        NoteValue::Private(ValueRole::In),
        1,
        1,
        true,
    ));
    for j in 0..2 {
        rows.push(RowKind {
            iv: Some((Domain::NOTE_COMMITMENT, NOTE_ENCODING_LEN as u64)),
            keep_balance: true,
            ..RowKind::default()
        });
        rows.push(RowKind {
            cont: true,
            value: Some(ValueRole::Out),
            output: Some(2 + j),
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

/// Fills the value columns row by row: each value row takes the next note's asset, amount bits
/// and updated balance; kept rows copy the previous row; the final row gets the carry bits.
#[cfg(feature = "prover")]
fn fill_values<'a>(
    schedule: &Schedule,
    rows: &mut [RowWitness],
    mut notes: impl Iterator<Item = &'a Note>,
    fee: u64,
) {
    let mut current = ValueWitness::default();
    let mut balance = [0i64; 3];
    for (kind, row) in schedule.rows.iter().zip(rows.iter_mut()) {
        let value_note = kind.value.and_then(|role| Some((role, notes.next()?)));
        if let Some((role, note)) = value_note {
            let limbs = amount_to_limbs(note.amount).map(|l| i64::from(l.0));
            let sign = if role == ValueRole::Out { -1 } else { 1 };
            if role == ValueRole::First {
                balance = [0; 3];
            }
            for (b, l) in balance.iter_mut().zip(limbs) {
                *b += sign * l;
            }
            current = ValueWitness {
                asset: note.asset_id,
                balance: balance.map(signed_m31),
                bits: note.amount,
            };
            row.value = current;
        } else if kind.keep_balance {
            row.value = ValueWitness { bits: 0, ..current };
        }
        if kind.balance_final {
            let fee = amount_to_limbs(fee).map(|l| i64::from(l.0));
            row.value.bits = carry_bits(balance, fee).unwrap_or(0);
        }
    }
}

#[cfg(feature = "prover")]
fn signed_m31(x: i64) -> M31 {
    M31(x.rem_euclid(i64::from(P)) as u32)
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
        + u128::from(statement.fee);
    if total_in != total_out {
        return mismatch("inputs do not equal outputs plus fee");
    }
    Ok(())
}

/// Proves that `witness` spends `statement`. The witness is checked natively first.
#[cfg(feature = "prover")]
pub fn prove_spend<R: RngCore + CryptoRng>(
    statement: &SpendStatement,
    witness: &SpendWitness,
    rng: &mut R,
) -> Result<SpendProof, ProofError> {
    let instance = statement.instance()?;
    check_witness(statement, witness)?;
    prove_instance(&instance, &witness_rows(witness, statement.fee), rng).map(SpendProof)
}

/// Checks a spend proof; the root must be one of `window`'s recent roots. Whether the nullifiers
/// were already spent is the pool's business, not the proof's.
pub fn verify_spend(
    statement: &SpendStatement,
    proof: &SpendProof,
    window: &RootWindow,
) -> Result<(), ProofError> {
    window
        .check(&statement.root)
        .map_err(|source| ProofError::UnknownRoot { source })?;
    verify_instance(&statement.instance()?, &PREPROCESSED_ROOT, &proof.0)
}

#[cfg(test)]
mod tests;
