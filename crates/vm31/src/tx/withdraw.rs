//! Withdraw: a note of the pool leaves it, its amount paid out publicly to a recipient.
//!
//! Public: the tree `root` (checked against a [`RootWindow`]), the note's `nullifier`, `amount`
//! (as its three limbs), `asset_id` and the `recipient` (bound by the transcript only).
//! Private: the spending key, the note's owner key and blinding, its leaf index and path.
//!
//! Rows (25):
//! * 0: first block of `nf = hash(NULLIFIER, sk ‖ cm)`, absorbing `sk`; the register saves the
//!   sponge state;
//! * 1: `pk = hash(PUBLIC_KEY, sk)`, rate equal to row 0's (ownership);
//! * 2, 3: `cm = hash(NOTE_COMMITMENT, pk ‖ asset ‖ limbs ‖ blinding)`, row 2's rate is row 1's
//!   digest, row 3 absorbs the public asset and limbs;
//! * 4: second nullifier block, resumed from the register, absorbing row 3's digest `cm`; its
//!   output is the public nullifier;
//! * 5–24: the Merkle levels from `cm` (row 4's absorbed digest) to the public root, each node
//!   placed by a committed, boolean index bit.

use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::{M31, P};

use super::deposit::sponge_inputs;
use super::kind;
use crate::canonical::{m31, m31_array};
use crate::keys::SpendingKey;
use crate::merkle::{root_from_path, verify_membership, MerklePath, RootWindow, TREE_DEPTH};
use crate::note::{amount_to_limbs, Note, Nullifier, NOTE_ENCODING_LEN};
use crate::poseidon2::{permutation, WIDTH};
use crate::sponge::{Digest, Domain, DIGEST_LEN};
use crate::stark::{
    prove_instance, verify_instance, Instance, ProofError, PublicConstants, RowKind, RowWitness,
    Schedule, TxProof,
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

/// Rows before the Merkle levels.
const MERKLE_START: usize = 5;

impl WithdrawStatement {
    fn instance(&self) -> Result<Instance, ProofError> {
        let elements = self
            .root
            .iter()
            .chain(&self.nullifier.0)
            .chain(std::iter::once(&self.asset_id))
            .chain(&self.recipient)
            .copied();
        if elements.clone().any(|x| x.0 >= P) {
            return Err(ProofError::InvalidPublicInput {
                what: "field element not below p",
            });
        }
        let limbs = amount_to_limbs(self.amount);
        Ok(Instance {
            kind: kind::WITHDRAW,
            public_inputs: elements.chain(limbs).collect(),
            schedule: schedule(),
            constants: PublicConstants {
                absorb: [self.asset_id, limbs[0], limbs[1], limbs[2]],
                outputs: vec![self.nullifier.0],
                node_outputs: vec![self.root],
            },
        })
    }
}

fn schedule() -> Schedule {
    let keep = RowKind {
        keep_reg: true,
        ..RowKind::default()
    };
    let mut rows = vec![
        RowKind {
            iv: Some((Domain::NULLIFIER, 2 * DIGEST_LEN as u64)),
            load_reg: true,
            ..RowKind::default()
        },
        RowKind {
            iv: Some((Domain::PUBLIC_KEY, DIGEST_LEN as u64)),
            rate_from_prev_in: true,
            ..keep
        },
        RowKind {
            iv: Some((Domain::NOTE_COMMITMENT, NOTE_ENCODING_LEN as u64)),
            rate_from_prev_out: true,
            ..keep
        },
        RowKind {
            cont: true,
            absorb_public: true,
            ..keep
        },
        RowKind {
            from_reg: true,
            output: Some(0),
            ..keep
        },
    ];
    rows.extend((0..TREE_DEPTH).map(|level| RowKind {
        merkle_first: level == 0,
        merkle_next: level > 0,
        node_output: (level == TREE_DEPTH - 1).then_some(0),
        ..RowKind::default()
    }));
    Schedule {
        rows,
        n_outputs: 1,
        n_node_outputs: 1,
    }
}

/// The rows of the withdraw schedule for `witness` (checked by the caller).
fn witness_rows(witness: &WithdrawWitness) -> Vec<RowWitness> {
    let sk = &witness.spending_key.0;
    let cm = witness.note.commitment().0;
    let mut nf_blocks = [M31(0); 2 * DIGEST_LEN];
    nf_blocks[..DIGEST_LEN].copy_from_slice(sk);
    nf_blocks[DIGEST_LEN..].copy_from_slice(&cm);
    let nf_inputs = sponge_inputs(Domain::NULLIFIER, &nf_blocks);
    let saved = permutation(nf_inputs[0]);
    let pk_input = sponge_inputs(Domain::PUBLIC_KEY, sk)[0];
    let note_inputs = sponge_inputs(Domain::NOTE_COMMITMENT, &witness.note.encode());
    let with_reg = |input| RowWitness {
        input,
        reg: saved,
        bit: M31(0),
    };
    let mut rows = vec![
        with_reg(nf_inputs[0]),
        with_reg(pk_input),
        with_reg(note_inputs[0]),
        with_reg(note_inputs[1]),
        with_reg(nf_inputs[1]),
    ];
    let mut node = cm;
    for (level, sibling) in witness.path.0.iter().enumerate() {
        let right = (witness.index >> level) & 1 == 1;
        let (l, r) = if right {
            (sibling, &node)
        } else {
            (&node, sibling)
        };
        let mut input = [M31(0); WIDTH];
        input[..DIGEST_LEN].copy_from_slice(l);
        input[DIGEST_LEN..].copy_from_slice(r);
        let out = permutation(input);
        node = std::array::from_fn(|j| out[j] + input[j]);
        rows.push(RowWitness {
            input,
            reg: [M31(0); WIDTH],
            bit: M31(u32::from(right)),
        });
    }
    debug_assert_eq!(rows.len(), MERKLE_START + TREE_DEPTH);
    debug_assert_eq!(node, root_from_path(&cm, witness.index, &witness.path));
    rows
}

/// Proves that `witness` withdraws `statement`. The witness is checked natively first.
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
    verify_instance(&statement.instance()?, &proof.0)
}

#[cfg(test)]
mod tests;
