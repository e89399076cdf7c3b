//! Deposit: a public amount of a public asset enters the pool as a new note.
//!
//! Public: `amount` (as its three limbs), `asset_id`, the note `commitment` and the hash of the
//! note's ciphertext. Private: the owner public key and the blinding.
//!
//! Rows: (0) first sponge block of `hash(NOTE_COMMITMENT, note)`, absorbing the owner key;
//! (1) second block, absorbing `asset ‖ limbs ‖ blinding`; its output rate is the commitment.
//! The limbs are public and computed by the verifier from a `u64`, so they are in range by
//! construction. The ciphertext hash and the external data (the paying account in `recipient`,
//! no relayer, no fee) are bound by the transcript only: a proof is valid for one ciphertext,
//! one account and one deployment.

use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::M31;
use stwo::core::vcs::blake2_hash::Blake2sHash;

use super::external::{Deployment, ExternalData};
use super::kind;
use crate::canonical::{m31, m31_array};
use crate::note::{amount_to_limbs, Commitment, NOTE_ENCODING_LEN};
use crate::sponge::{Digest, Domain};
use crate::stark::verifier::hash_from_hex;
use crate::stark::{
    verify_instance, Instance, ProofError, PublicConstants, RowKind, Schedule, TxProof,
};
#[cfg(feature = "prover")]
use {
    crate::note::Note,
    crate::poseidon2::{permutation, WIDTH},
    crate::sponge::{DIGEST_LEN, RATE},
    crate::stark::{prove_instance, RowWitness},
    rand::{CryptoRng, RngCore},
};

/// The public side of a deposit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositStatement {
    pub amount: u64,
    #[serde(with = "m31")]
    pub asset_id: M31,
    pub commitment: Commitment,
    #[serde(with = "m31_array")]
    pub ciphertext_hash: Digest,
    pub external: ExternalData,
}

/// A deposit proof.
#[derive(Clone, Debug)]
pub struct DepositProof(pub TxProof);

impl DepositProof {
    pub fn to_bytes(&self) -> Result<Vec<u8>, ProofError> {
        self.0.to_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofError> {
        TxProof::from_bytes(bytes).map(Self)
    }
}

impl DepositStatement {
    fn instance(&self, deployment: &Deployment) -> Result<Instance, ProofError> {
        if self.external.fee != 0 || self.external.relayer != [0; 32] {
            return Err(ProofError::InvalidPublicInput {
                what: "a deposit pays no fee and has no relayer",
            });
        }
        let elements = std::iter::once(self.asset_id)
            .chain(self.commitment.0)
            .chain(self.ciphertext_hash);
        let limbs = amount_to_limbs(self.amount);
        let public_inputs =
            super::public_inputs(elements, &self.external, deployment, &[self.amount])?;
        Ok(Instance {
            kind: kind::DEPOSIT,
            public_inputs,
            schedule: schedule(),
            constants: PublicConstants {
                absorb: [self.asset_id, limbs[0], limbs[1], limbs[2]],
                outputs: vec![self.commitment.0],
                node_outputs: Vec::new(),
                ..PublicConstants::default()
            },
        })
    }
}

/// Commitment to the preprocessed columns of [`schedule`] (see
/// [`crate::stark::verify_instance`]); `preprocessed_root_is_the_constant` recomputes it.
pub const PREPROCESSED_ROOT: Blake2sHash =
    hash_from_hex("003adbb0f398ab3fe5da16a91753a015ae4bc53ad8a7da2f110fa8f2e1030760");

fn schedule() -> Schedule {
    Schedule {
        rows: vec![
            RowKind {
                iv: Some((Domain::NOTE_COMMITMENT, NOTE_ENCODING_LEN as u64)),
                ..RowKind::default()
            },
            RowKind {
                cont: true,
                absorb_public: true,
                output: Some(0),
                ..RowKind::default()
            },
        ],
        n_outputs: 1,
        n_node_outputs: 0,
    }
}

/// Permutation inputs of a sponge hash of `encoding` under `domain`: one per block.
#[cfg(feature = "prover")]
pub(crate) fn sponge_inputs(domain: Domain, encoding: &[M31]) -> Vec<[M31; WIDTH]> {
    let mut state = [M31(0); WIDTH];
    state[RATE] = domain.tag();
    state[RATE + 1] = M31(encoding.len() as u32);
    let mut inputs = Vec::new();
    for block in encoding.chunks(RATE) {
        for (s, &x) in state.iter_mut().zip(block) {
            *s += x;
        }
        inputs.push(state);
        state = permutation(state);
    }
    inputs
}

/// Proves that `note` is a deposit of `statement`.
#[cfg(feature = "prover")]
pub fn prove_deposit<R: RngCore + CryptoRng>(
    statement: &DepositStatement,
    deployment: &Deployment,
    note: &Note,
    rng: &mut R,
) -> Result<DepositProof, ProofError> {
    if note.amount != statement.amount || note.asset_id != statement.asset_id {
        return Err(ProofError::WitnessMismatch {
            what: "note amount or asset differs from the statement",
        });
    }
    if note.commitment() != statement.commitment {
        return Err(ProofError::WitnessMismatch {
            what: "note does not open the commitment",
        });
    }
    let instance = statement.instance(deployment)?;
    let inputs = sponge_inputs(Domain::NOTE_COMMITMENT, &note.encode());
    debug_assert_eq!(inputs.len(), 2);
    debug_assert_eq!(
        permutation(inputs[1])[..DIGEST_LEN],
        statement.commitment.0[..]
    );
    let rows: Vec<RowWitness> = inputs.into_iter().map(RowWitness::plain).collect();
    prove_instance(&instance, &rows, rng).map(DepositProof)
}

/// Checks a deposit proof made for `deployment`.
pub fn verify_deposit(
    statement: &DepositStatement,
    proof: &DepositProof,
    deployment: &Deployment,
) -> Result<(), ProofError> {
    verify_instance(
        &statement.instance(deployment)?,
        &PREPROCESSED_ROOT,
        &proof.0,
    )
}

#[cfg(test)]
mod tests;
