//! The rows that read one note of the pool: ownership, commitment, nullifier and Merkle
//! membership. Withdraw uses one such segment, spend two (either may be a dummy: see
//! [`crate::stark::segment`]).
//!
//! Rows (26):
//! * 0: first block of `nf = hash(NULLIFIER, sk ‖ cm ‖ [pos])`, absorbing `sk`; the register
//!   saves the sponge state;
//! * 1: `pk = hash(PUBLIC_KEY, sk)`, rate equal to row 0's (ownership);
//! * 2, 3: `cm = hash(NOTE_COMMITMENT, pk ‖ asset ‖ limbs ‖ blinding)`, row 2's rate is row 1's
//!   digest; row 3 absorbs `asset ‖ limbs` as a value row (private, range-checked, entered into
//!   the balance);
//! * 4: second nullifier block, resumed from the register, absorbing row 3's digest `cm`;
//! * 5–24: the Merkle levels from `cm` (row 4's absorbed digest) to the public root, each node
//!   placed by a committed, boolean index bit; row 5 saves row 4's sponge state in the register,
//!   which the later rows keep; the position accumulates the index bits;
//! * 25: last nullifier block, absorbing the position; its output is the public nullifier.

use crate::merkle::TREE_DEPTH;
use crate::note::{NOTE_ENCODING_LEN, NULLIFIER_INPUT_LEN};
use crate::sponge::{Domain, DIGEST_LEN};
use crate::stark::{RowKind, ValueRole};
#[cfg(feature = "prover")]
use {
    super::deposit::sponge_inputs,
    crate::keys::SpendingKey,
    crate::merkle::{root_from_path, MerklePath},
    crate::note::Note,
    crate::poseidon2::{permutation, WIDTH},
    crate::stark::segment::SegmentWitness,
    crate::stark::RowWitness,
    stwo::core::fields::m31::M31,
};

/// Rows before the Merkle levels.
pub(crate) const MERKLE_START: usize = 5;
/// Rows of one input segment.
pub(crate) const INPUT_ROWS: usize = MERKLE_START + TREE_DEPTH + 1;
/// The segment row that absorbs the note's asset and amount.
pub(crate) const VALUE_ROW: usize = 3;

/// The schedule of one input segment: its nullifier is public output `nullifier_output`, its
/// root public node `root_output`. `keep_balance` carries the running balance through the rows
/// other than the value row.
pub(crate) fn input_schedule(
    role: ValueRole,
    nullifier_output: usize,
    root_output: usize,
    keep_balance: bool,
) -> Vec<RowKind> {
    let keep = RowKind {
        keep_reg: true,
        keep_balance,
        input_seg: true,
        input_keep: true,
        ..RowKind::default()
    };
    let value_row = RowKind {
        cont: true,
        value: Some(role),
        keep_balance: false,
        ..keep
    };
    let mut rows = vec![
        RowKind {
            iv: Some((Domain::NULLIFIER, NULLIFIER_INPUT_LEN as u64)),
            load_reg: true,
            keep_balance,
            input_seg: true,
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
        value_row,
        RowKind {
            from_reg: true,
            ..keep
        },
    ];
    rows.extend((0..TREE_DEPTH).map(|level| RowKind {
        merkle_first: level == 0,
        merkle_next: level > 0,
        merkle_level: Some(level as u32),
        node_output: (level == TREE_DEPTH - 1).then_some(root_output),
        load_reg_prev: level == 0,
        keep_reg: level > 0,
        ..keep
    }));
    rows.push(RowKind {
        absorb_pos: true,
        output: Some(nullifier_output),
        ..keep
    });
    debug_assert_eq!(rows.len(), INPUT_ROWS);
    debug_assert!(rows[VALUE_ROW].cont);
    rows
}

/// The two rows of an output note's commitment (the second a value row subtracting its amount;
/// its digest is public output `output`).
pub(crate) fn output_rows(output: usize) -> [RowKind; 2] {
    [
        RowKind {
            iv: Some((Domain::NOTE_COMMITMENT, NOTE_ENCODING_LEN as u64)),
            keep_balance: true,
            ..RowKind::default()
        },
        RowKind {
            cont: true,
            value: Some(ValueRole::Out),
            output: Some(output),
            ..RowKind::default()
        },
    ]
}

/// The row that checks the balance against the public amount.
pub(crate) fn final_row() -> RowKind {
    RowKind {
        keep_balance: true,
        balance_final: true,
        ..RowKind::default()
    }
}

/// The row witnesses of one input segment (permutation inputs, register, index bits); the value
/// columns are left zero for the caller.
#[cfg(feature = "prover")]
pub(crate) fn input_rows(
    spending_key: &SpendingKey,
    note: &Note,
    index: u32,
    path: &MerklePath,
    dummy: bool,
) -> Vec<RowWitness> {
    let sk = &spending_key.0;
    let cm = note.commitment().0;
    let mut nf_blocks = [M31(0); NULLIFIER_INPUT_LEN];
    nf_blocks[..DIGEST_LEN].copy_from_slice(sk);
    nf_blocks[DIGEST_LEN..2 * DIGEST_LEN].copy_from_slice(&cm);
    nf_blocks[2 * DIGEST_LEN] = M31(index);
    let nf_inputs = sponge_inputs(Domain::NULLIFIER, &nf_blocks);
    let saved = permutation(nf_inputs[0]);
    let after_cm = permutation(nf_inputs[1]);
    let pk_input = sponge_inputs(Domain::PUBLIC_KEY, sk)[0];
    let note_inputs = sponge_inputs(Domain::NOTE_COMMITMENT, &note.encode());
    let flag = M31(u32::from(dummy));
    let segment = |pos: u32| SegmentWitness {
        dummy: flag,
        pos: M31(pos),
    };
    let with_reg = |input| RowWitness {
        input,
        reg: saved,
        segment: segment(0),
        ..RowWitness::default()
    };
    let mut rows = vec![
        with_reg(nf_inputs[0]),
        with_reg(pk_input),
        with_reg(note_inputs[0]),
        with_reg(note_inputs[1]),
        with_reg(nf_inputs[1]),
    ];
    let mut node = cm;
    for (level, sibling) in path.0.iter().enumerate() {
        let right = (index >> level) & 1 == 1;
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
        let pos = index & ((2u64 << level) - 1) as u32;
        rows.push(RowWitness {
            input,
            reg: after_cm,
            bit: M31(u32::from(right)),
            segment: segment(pos),
            ..RowWitness::default()
        });
    }
    rows.push(RowWitness {
        input: nf_inputs[2],
        reg: after_cm,
        segment: segment(index),
        ..RowWitness::default()
    });
    debug_assert_eq!(rows.len(), INPUT_ROWS);
    debug_assert!(dummy || node == root_from_path(&cm, index, path));
    rows
}
