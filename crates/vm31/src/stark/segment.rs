//! Input segments: the leaf position bound into the nullifier, and dummy (zero-value) inputs.
//!
//! **Segment columns** ([`N_SEGMENT_COLUMNS`]): the dummy flag `d` and the position `pos` (both
//! read on this row and one row back), `dd` (copy of `d`) and `dq = d·dd`, three copies `dc_i`
//! with `dl_i = dc_i·limb_i`, eight copies `dr_j` with `rd_j = dr_j·(out_j + in_j − root_j)`.
//!
//! Constraints (selectors from [`super::schedule::SEGMENT_PREPROCESSED`], `root` the statement's
//! first public node, `z` the public constant "dummies forbidden"):
//! * position: `merkle_first · (pos − b)`, `merkle_next · (pos − prev_pos − w·b)` with the
//!   preprocessed weight `w = 2^level`: after the last Merkle row `pos` is the leaf index the
//!   path was checked for;
//! * nullifier over the position: `load_reg_prev · (reg − prev_out)` saves the nullifier sponge
//!   after the commitment block; `absorb_pos · (in[0] − reg[0] − prev_pos)`,
//!   `absorb_pos · (in[j] − reg[j])`: the last block absorbs the position, and the row's output
//!   is the public nullifier `hash(NULLIFIER, sk ‖ cm ‖ [pos])`;
//! * dummy flag: `dq − d·dd` and `is_real · (dd − d)`; `input_seg · (dq − d)` (boolean in a
//!   segment), `input_keep · (d − prev_d)` (one flag per segment), `(is_real − input_seg) · d`
//!   (zero elsewhere), `z · input_seg · d` (no dummies where forbidden);
//! * a dummy adds nothing: `dl_i − dc_i·limb_i`, `is_real · (dc_i − d)`,
//!   `(value_first + value_in) · dl_i`: on the segment's value row `d · limb_i = 0`, and the
//!   limbs are range-checked, so a dummy's amount is 0;
//! * a dummy skips membership: `rd_j − dr_j·(out_j + in_j − root_j)`, `is_real · (dr_j − d)`, and
//!   the root row's check becomes `node_output_k · (out_j + in_j − root_j − rd_j)` (in
//!   [`super::glue`]), i.e. `(1 − d)·(out_j + in_j − root_j) = 0`.
//!
//! A dummy still proves `pk = hash(sk)` and the commitment's opening, so its nullifier is one of
//! the spender's own zero notes, never another note's. Every ungated product has a fresh factor
//! on padding rows (`dd`, `dc_i`, `dr_j`). All constraints have degree 2.

use stwo::core::fields::m31::M31;
use stwo_constraint_framework::{EvalAtRow, ORIGINAL_TRACE_IDX};

use super::air::{PermutationColumns, PublicConstants};
use super::glue::GlueColumns;
use crate::sponge::DIGEST_LEN;

/// Segment columns: `d`, `pos`, `dd`, `dq`, `dc[3]`, `dl[3]`, `dr[8]`, `rd[8]`.
pub const N_SEGMENT_COLUMNS: usize = 4 + 6 + 2 * DIGEST_LEN;

/// The segment columns as the constraints see them.
pub struct SegmentColumns<F> {
    pub dummy: [F; 2],
    pub pos: [F; 2],
    pub dummy_copy: F,
    pub dummy_square: F,
    pub limb_copies: [F; 3],
    pub limb_products: [F; 3],
    pub root_copies: [F; DIGEST_LEN],
    /// `rd_j`, subtracted by the root row's check.
    pub root_products: [F; DIGEST_LEN],
}

impl<F: Clone> SegmentColumns<F> {
    /// Reads the segment columns in trace order.
    pub fn read<E: EvalAtRow<F = F>>(eval: &mut E) -> Self {
        let dummy = eval.next_interaction_mask(ORIGINAL_TRACE_IDX, [-1, 0]);
        let pos = eval.next_interaction_mask(ORIGINAL_TRACE_IDX, [-1, 0]);
        let [dummy_copy, dummy_square] = [0; 2].map(|_| eval.next_trace_mask());
        Self {
            dummy,
            pos,
            dummy_copy,
            dummy_square,
            limb_copies: std::array::from_fn(|_| eval.next_trace_mask()),
            limb_products: std::array::from_fn(|_| eval.next_trace_mask()),
            root_copies: std::array::from_fn(|_| eval.next_trace_mask()),
            root_products: std::array::from_fn(|_| eval.next_trace_mask()),
        }
    }
}

/// The selectors the segment constraints use.
pub struct SegmentSelectors<F> {
    pub is_real: F,
    pub merkle_first: F,
    pub merkle_next: F,
    pub value_first: F,
    pub value_in: F,
    /// [`super::schedule::SEGMENT_PREPROCESSED`], in order.
    pub segment: [F; 5],
}

/// The root a dummy's root row is compared with: the statement's first public node (zero where
/// there is none).
pub fn dummy_root(public: &PublicConstants) -> [M31; DIGEST_LEN] {
    public
        .node_outputs
        .first()
        .copied()
        .unwrap_or([M31(0); DIGEST_LEN])
}

/// Adds the segment constraints.
pub fn segment_constraints<E: EvalAtRow>(
    eval: &mut E,
    sel: &SegmentSelectors<E::F>,
    perm: &PermutationColumns<E::F>,
    glue: &GlueColumns<E::F>,
    seg: &SegmentColumns<E::F>,
    public: &PublicConstants,
) {
    let [input_seg, input_keep, weight, load_reg_prev, absorb_pos] = sel.segment.clone();
    let is_real = sel.is_real.clone();
    let cur = |i: usize| perm.input[i][1].clone();
    let [prev_pos, pos] = seg.pos.clone();
    let [prev_d, d] = seg.dummy.clone();
    let bit = glue.bit.clone();

    eval.add_constraint(sel.merkle_first.clone() * (pos.clone() - bit.clone()));
    eval.add_constraint(sel.merkle_next.clone() * (pos - prev_pos.clone()) - weight * bit);
    for (i, reg) in glue.reg.iter().enumerate() {
        let reg = reg[1].clone();
        eval.add_constraint(load_reg_prev.clone() * (reg.clone() - perm.prev_out[i].clone()));
        let absorbed = if i == 0 {
            cur(i) - reg - prev_pos.clone()
        } else {
            cur(i) - reg
        };
        eval.add_constraint(absorb_pos.clone() * absorbed);
    }

    eval.add_constraint(seg.dummy_square.clone() - d.clone() * seg.dummy_copy.clone());
    eval.add_constraint(is_real.clone() * (seg.dummy_copy.clone() - d.clone()));
    eval.add_constraint(input_seg.clone() * (seg.dummy_square.clone() - d.clone()));
    eval.add_constraint(input_keep * (d.clone() - prev_d));
    eval.add_constraint((is_real.clone() - input_seg.clone()) * d.clone());
    eval.add_constraint(input_seg * d.clone() * public.forbid_dummy);

    let value_row = sel.value_first.clone() + sel.value_in.clone();
    for i in 0..3 {
        let limb = cur(1 + i) - perm.prev_out[1 + i].clone();
        let (copy, product) = (seg.limb_copies[i].clone(), seg.limb_products[i].clone());
        eval.add_constraint(product.clone() - copy.clone() * limb);
        eval.add_constraint(is_real.clone() * (copy - d.clone()));
        eval.add_constraint(value_row.clone() * product);
    }
    let root = dummy_root(public);
    for j in 0..DIGEST_LEN {
        let node = perm.out[j].clone() + cur(j) - E::F::from(root[j]);
        let (copy, product) = (seg.root_copies[j].clone(), seg.root_products[j].clone());
        eval.add_constraint(product - copy.clone() * node);
        eval.add_constraint(is_real.clone() * (copy - d.clone()));
    }
}

/// What the prover supplies for the segment columns of a real row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentWitness {
    pub dummy: M31,
    pub pos: M31,
}

/// The committed segment columns of a row with permutation input `input` and output `out`, the
/// previous row's output `prev_out`; copies equal to `d` (`fresh = None`) or drawn by `fresh`,
/// and `d`, `pos` drawn too on padding rows.
pub fn segment_row(
    witness: SegmentWitness,
    input: &[M31],
    out: &[M31],
    prev_out: &[M31],
    root: &[M31; DIGEST_LEN],
    mut fresh: Option<&mut dyn FnMut() -> M31>,
) -> [M31; N_SEGMENT_COLUMNS] {
    let mut draw = |original: M31| fresh.as_mut().map_or(original, |f| f());
    let d = draw(witness.dummy);
    let pos = draw(witness.pos);
    let mut row = [M31(0); N_SEGMENT_COLUMNS];
    let dd = draw(d);
    row[..4].copy_from_slice(&[d, pos, dd, d * dd]);
    for i in 0..3 {
        let copy = draw(d);
        row[4 + i] = copy;
        row[7 + i] = copy * (input[1 + i] - prev_out[1 + i]);
    }
    for j in 0..DIGEST_LEN {
        let copy = draw(d);
        row[10 + j] = copy;
        row[10 + DIGEST_LEN + j] = copy * (out[j] + input[j] - root[j]);
    }
    row
}
