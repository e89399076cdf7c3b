//! The transaction AIR: one Poseidon2 permutation per row, rows tied to their predecessor by
//! preprocessed selectors, plus a small register file and a Merkle index bit.
//!
//! **Trace** (`2^log_size` rows, [`N_TRACE_COLUMNS`] columns): the permutation input `in[16]`;
//! for each S-box (4 initial full rounds × 16, 14 partial rounds, 4 terminal full rounds × 16)
//! the six values `y1, a, y2, c, y3, s`; the glue columns ([`super::glue`]); then 4
//! unconstrained mask columns of fresh randomness. The permutation output is a linear function
//! of the last round's `s` columns and is not committed.
//!
//! **S-box** (input `x`, linear in committed columns), all constraints of degree 2:
//! * `a − x·y1`, `c − a·y2`, `s − c·y3` on every row;
//! * `is_real · (y1 − x)`, `is_real · (y2 − x)`, `is_real · (y3 − a)`.
//!
//! On a real row the copies equal their originals and `s = x^5`. On a padding row the copies are
//! free: the row's 16 inputs and every copy are fresh uniform values and each product column is a
//! product with a fresh factor, which is what the zero-knowledge argument needs (crate README).
//! Gating the S-box itself (`is_real · (a − x²)`) would have degree 3, which STWO 2.3.0 cannot
//! commit: every tree shares the trace's evaluation domain, so
//! `max_constraint_log_degree_bound = log_size + 1`.
//!
//! Round constants and public values are constants of the constraints: the verifier supplies
//! them, nothing in a proof does.

use stwo::core::fields::m31::{BaseField, M31, P};
use stwo_constraint_framework::preprocessed_columns::PreProcessedColumnId;
use stwo_constraint_framework::{EvalAtRow, FrameworkComponent, FrameworkEval, ORIGINAL_TRACE_IDX};

use super::glue::{glue_constraints, GlueColumns, N_GLUE_COLUMNS};
use super::schedule::{preprocessed_column_ids, FIXED_PREPROCESSED, SEGMENT_PREPROCESSED};
use super::segment::{segment_constraints, SegmentColumns, SegmentSelectors, N_SEGMENT_COLUMNS};
use super::value::{value_constraints, ValueColumns, N_VALUE_COLUMNS, VALUE_PREPROCESSED};
use crate::poseidon2::constants::{HALF_FULL_ROUNDS, INTERNAL_DIAG_SHIFTS, PARTIAL_ROUNDS};
use crate::poseidon2::{ROUND_CONSTANTS, WIDTH};
use crate::sponge::Digest;

/// S-boxes per permutation.
pub const N_SBOXES: usize = 2 * HALF_FULL_ROUNDS * WIDTH + PARTIAL_ROUNDS;
/// Committed values per S-box: `y1, a, y2, c, y3, s`.
pub const SBOX_WIDTH: usize = 6;
/// Columns of one permutation: input and S-box values.
pub const N_PERMUTATION_COLUMNS: usize = WIDTH + SBOX_WIDTH * N_SBOXES;
/// Unconstrained columns of fresh randomness.
pub const N_MASK_COLUMNS: usize = 4;
/// All committed trace columns.
pub const N_TRACE_COLUMNS: usize =
    N_PERMUTATION_COLUMNS + N_GLUE_COLUMNS + N_VALUE_COLUMNS + N_SEGMENT_COLUMNS + N_MASK_COLUMNS;
/// Public elements absorbed on an `absorb_public` row.
pub const N_PUBLIC_ABSORB: usize = 4;
/// `log2` of the constraint degree bound over the trace degree (constraints have degree 2).
pub const LOG_CONSTRAINT_EXPANSION: u32 = 1;

/// Public values the constraints refer to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicConstants {
    /// `a`: added to the rate on the `absorb_public` row.
    pub absorb: [M31; N_PUBLIC_ABSORB],
    /// `d_k`: the rate of the output on the `output_k` row.
    pub outputs: Vec<Digest>,
    /// `n_k`: the compression output on the `node_output_k` row.
    pub node_outputs: Vec<Digest>,
    /// `f`: the limbs of the public amount the final balance row subtracts (a spend's fee, a
    /// withdrawal's amount plus fee; zero where no balance is checked).
    pub public_out: [M31; 3],
    /// `g`: 1 if the final row pins the span's asset to [`Self::asset`], else 0.
    pub asset_gate: M31,
    /// `a`: the public asset the span must carry when `g = 1`.
    pub asset: M31,
    /// `z`: 1 where input segments may not be dummies (withdraw), else 0.
    pub forbid_dummy: M31,
}

/// The constraints of [`crate::stark::air`].
#[derive(Clone, Debug)]
pub struct TxEval {
    pub log_size: u32,
    pub public: PublicConstants,
}

/// The component proved and verified.
pub type TxComponent = FrameworkComponent<TxEval>;

/// A permutation row as the constraints see it.
pub struct PermutationColumns<F> {
    /// `[previous row, this row]` of each input element.
    pub input: [[F; 2]; WIDTH],
    /// This row's permutation output.
    pub out: [F; WIDTH],
    /// The previous row's permutation output.
    pub prev_out: [F; WIDTH],
}

impl FrameworkEval for TxEval {
    fn log_size(&self) -> u32 {
        self.log_size
    }

    fn max_constraint_log_degree_bound(&self) -> u32 {
        self.log_size + LOG_CONSTRAINT_EXPANSION
    }

    fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
        let (n_out, n_node) = (self.public.outputs.len(), self.public.node_outputs.len());
        let pre: Vec<E::F> = preprocessed_column_ids(n_out, n_node)
            .into_iter()
            .map(|id| eval_preprocessed(&mut eval, id))
            .collect();
        let is_real = pre[0].clone();
        let perm = permutation_constraints(&mut eval, &is_real);
        let glue = GlueColumns::read(&mut eval);
        let value = ValueColumns::read(&mut eval);
        let segment = SegmentColumns::read(&mut eval);
        for _ in 0..N_MASK_COLUMNS {
            eval.next_trace_mask();
        }
        let n_glue = FIXED_PREPROCESSED.len();
        let n_value = n_glue + VALUE_PREPROCESSED.len();
        let n_fixed = n_value + SEGMENT_PREPROCESSED.len();
        glue_constraints(
            &mut eval,
            &pre[..n_glue],
            &pre[n_fixed..n_fixed + n_out],
            &pre[n_fixed + n_out..],
            &perm,
            &glue,
            &segment.root_products,
            &self.public,
        );
        value_constraints(
            &mut eval,
            &pre[n_glue..n_value],
            &perm,
            &value,
            &self.public,
        );
        // `FIXED_PREPROCESSED`: merkle_first and merkle_next are at 11 and 12.
        let selectors = SegmentSelectors {
            is_real: is_real.clone(),
            merkle_first: pre[11].clone(),
            merkle_next: pre[12].clone(),
            value_first: pre[n_glue].clone(),
            value_in: pre[n_glue + 1].clone(),
            segment: std::array::from_fn(|i| pre[n_value + i].clone()),
        };
        segment_constraints(&mut eval, &selectors, &perm, &glue, &segment, &self.public);
        eval
    }
}

/// Reads the permutation columns and constrains every S-box.
fn permutation_constraints<E: EvalAtRow>(eval: &mut E, is_real: &E::F) -> PermutationColumns<E::F> {
    let input: [[E::F; 2]; WIDTH] =
        std::array::from_fn(|_| eval.next_interaction_mask(ORIGINAL_TRACE_IDX, [-1, 0]));
    let mut state: [E::F; WIDTH] = std::array::from_fn(|i| input[i][1].clone());
    let rc = &ROUND_CONSTANTS;

    external_layer(&mut state);
    for round in &rc.external_initial {
        for (s, &c) in state.iter_mut().zip(round) {
            *s = sbox_columns(eval, is_real, s.clone() + E::F::from(c), false)[1].clone();
        }
        external_layer(&mut state);
    }
    for &c in &rc.internal {
        state[0] = sbox_columns(eval, is_real, state[0].clone() + E::F::from(c), false)[1].clone();
        internal_layer(&mut state);
    }
    let (first_terminal, last) = (
        &rc.external_terminal[..HALF_FULL_ROUNDS - 1],
        &rc.external_terminal[HALF_FULL_ROUNDS - 1],
    );
    for round in first_terminal {
        for (s, &c) in state.iter_mut().zip(round) {
            *s = sbox_columns(eval, is_real, s.clone() + E::F::from(c), false)[1].clone();
        }
        external_layer(&mut state);
    }
    // The last round's outputs are also read one row back, for the links to the previous row.
    let mut prev: [E::F; WIDTH] = std::array::from_fn(|_| E::F::from(M31(0)));
    for ((s, p), &c) in state.iter_mut().zip(prev.iter_mut()).zip(last) {
        let [before, now] = sbox_columns(eval, is_real, s.clone() + E::F::from(c), true);
        *s = now;
        *p = before;
    }
    external_layer(&mut state);
    external_layer(&mut prev);
    PermutationColumns {
        input,
        out: state,
        prev_out: prev,
    }
}

fn eval_preprocessed<E: EvalAtRow>(eval: &mut E, id: PreProcessedColumnId) -> E::F {
    eval.get_preprocessed_column(id)
}

/// Reads the next S-box columns `y1, a, y2, c, y3, s` and constrains them (module doc); returns
/// `s` one row back and on this row. Only the last round's `s` is read one row back (`back`: the
/// previous row's output); elsewhere the first entry is simply `s` again (unused).
fn sbox_columns<E: EvalAtRow>(eval: &mut E, is_real: &E::F, x: E::F, back: bool) -> [E::F; 2] {
    let [y1, a, y2, c, y3] = [0; 5].map(|_| eval.next_trace_mask());
    eval.add_constraint(a.clone() - x.clone() * y1.clone());
    eval.add_constraint(c.clone() - a.clone() * y2.clone());
    eval.add_constraint(is_real.clone() * (y1 - x.clone()));
    eval.add_constraint(is_real.clone() * (y2 - x));
    eval.add_constraint(is_real.clone() * (y3.clone() - a));
    let [before, now] = if back {
        eval.next_interaction_mask(ORIGINAL_TRACE_IDX, [-1, 0])
    } else {
        let now = eval.next_trace_mask();
        [now.clone(), now]
    };
    eval.add_constraint(now.clone() - c * y3);
    [before, now]
}

/// `circ(2·M4, M4, M4, M4)`, as in [`crate::poseidon2`].
fn external_layer<F>(state: &mut [F; WIDTH])
where
    F: Clone + std::ops::Add<Output = F> + std::ops::Mul<BaseField, Output = F>,
{
    let two = M31(2);
    let three = M31(3);
    let mixed: Vec<F> = state
        .chunks_exact(4)
        .flat_map(|b| {
            let [a, b_, c, d] = [&b[0], &b[1], &b[2], &b[3]].map(|x| x.clone());
            [
                a.clone() * two + b_.clone() * three + c.clone() + d.clone(),
                a.clone() + b_.clone() * two + c.clone() * three + d.clone(),
                a.clone() + b_.clone() + c.clone() * two + d.clone() * three,
                a * three + b_ + c + d * two,
            ]
        })
        .collect();
    for (i, s) in state.iter_mut().enumerate() {
        let k = i % 4;
        *s = mixed[i].clone()
            + mixed[k].clone()
            + mixed[k + 4].clone()
            + mixed[k + 8].clone()
            + mixed[k + 12].clone();
    }
}

/// `1 + diag(V)`, as in [`crate::poseidon2`].
fn internal_layer<F>(state: &mut [F; WIDTH])
where
    F: Clone + std::ops::Add<Output = F> + std::ops::Mul<BaseField, Output = F>,
{
    let mut sum = state[0].clone();
    for s in &state[1..] {
        sum = sum + s.clone();
    }
    state[0] = sum.clone() + state[0].clone() * M31(P - 2);
    for (s, &shift) in state[1..].iter_mut().zip(&INTERNAL_DIAG_SHIFTS) {
        *s = sum.clone() + s.clone() * M31(1 << shift);
    }
}
