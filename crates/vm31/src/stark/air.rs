//! The transaction AIR: one Poseidon2 permutation per row, rows tied to their predecessor by
//! preprocessed selectors.
//!
//! **Trace** (446 columns, `2^log_size` rows): the permutation input `in[16]`; for each S-box
//! (4 initial full rounds × 16, 14 partial rounds, 4 terminal full rounds × 16) the three values
//! `x^2`, `x^3`, `x^5`; then 4 unconstrained mask columns of fresh randomness (they make the FRI
//! polynomial uniformly random; see the crate README). The permutation output is a linear
//! function of the last round's S-box outputs and is not committed.
//!
//! **Preprocessed columns** (fixed by the statement type, built by prover and verifier alike,
//! see [`super::schedule`]): `is_iv`, `iv_tag`, `iv_len`, `cont`, `absorb_public`, and one
//! `output_k` per public digest.
//!
//! **Constraints** (all of degree 2: STWO 2.3.0 splits the composition polynomial once and
//! assumes every tree has the trace's domain, so `max_constraint_log_degree_bound` must be
//! `log_size + 1`), with `x` the S-box input (linear in committed columns), `out` the
//! permutation output and `prev` the previous row's output:
//! * `a − x²`, `c − a·x`, `s − a·c` for each S-box, on every row (padding rows are permutations
//!   of random inputs);
//! * `is_iv · (in[8] − iv_tag)`, `is_iv · (in[9] − iv_len)`, `is_iv · in[10..16]`: a sponge starts
//!   with its domain tag and length in the capacity;
//! * `cont · (in[8 + j] − prev[8 + j])`: a sponge carries its capacity into the next block;
//! * `absorb_public · (in[j] − prev[j] − a_j)` for `j < 4`: public absorbed values;
//! * `output_k · (out[j] − d_k[j])`: public digests.
//!
//! Round constants and the public values `a`, `d_k` are constants of the constraints: the
//! verifier supplies them, nothing in a proof does.

use stwo::core::fields::m31::{BaseField, M31, P};
use stwo_constraint_framework::preprocessed_columns::PreProcessedColumnId;
use stwo_constraint_framework::{EvalAtRow, FrameworkComponent, FrameworkEval, ORIGINAL_TRACE_IDX};

use crate::poseidon2::constants::{HALF_FULL_ROUNDS, INTERNAL_DIAG_SHIFTS, PARTIAL_ROUNDS};
use crate::poseidon2::{ROUND_CONSTANTS, WIDTH};
use crate::sponge::{Digest, DIGEST_LEN, RATE};

/// S-box outputs per permutation.
pub const N_SBOX_COLUMNS: usize = 3 * (2 * HALF_FULL_ROUNDS * WIDTH + PARTIAL_ROUNDS);
/// Columns of one permutation: input and S-box outputs.
pub const N_PERMUTATION_COLUMNS: usize = WIDTH + N_SBOX_COLUMNS;
/// Unconstrained columns of fresh randomness.
pub const N_MASK_COLUMNS: usize = 4;
/// All committed trace columns.
pub const N_TRACE_COLUMNS: usize = N_PERMUTATION_COLUMNS + N_MASK_COLUMNS;
/// Public elements absorbed on an `absorb_public` row.
pub const N_PUBLIC_ABSORB: usize = 4;
/// `log2` of the constraint degree bound over the trace degree (constraints have degree 2).
pub const LOG_CONSTRAINT_EXPANSION: u32 = 1;

/// Public values the constraints refer to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicConstants {
    /// `a`: added to the rate on the `absorb_public` row.
    pub absorb: [M31; N_PUBLIC_ABSORB],
    /// `d_k`: the rate of the output on the `output_k` row.
    pub outputs: Vec<Digest>,
}

/// Names of the preprocessed columns, in commitment order.
pub fn preprocessed_column_ids(n_outputs: usize) -> Vec<PreProcessedColumnId> {
    let fixed = [
        "vm31_is_iv",
        "vm31_iv_tag",
        "vm31_iv_len",
        "vm31_cont",
        "vm31_absorb_public",
    ];
    fixed
        .iter()
        .map(|s| s.to_string())
        .chain((0..n_outputs).map(|k| format!("vm31_output_{k}")))
        .map(|id| PreProcessedColumnId { id })
        .collect()
}

/// The constraints of [`crate::stark::air`].
#[derive(Clone, Debug)]
pub struct TxEval {
    pub log_size: u32,
    pub public: PublicConstants,
}

/// The component proved and verified.
pub type TxComponent = FrameworkComponent<TxEval>;

impl FrameworkEval for TxEval {
    fn log_size(&self) -> u32 {
        self.log_size
    }

    fn max_constraint_log_degree_bound(&self) -> u32 {
        self.log_size + LOG_CONSTRAINT_EXPANSION
    }

    fn evaluate<E: EvalAtRow>(&self, mut eval: E) -> E {
        let mut ids = preprocessed_column_ids(self.public.outputs.len()).into_iter();
        let mut pre = || {
            let id = ids.next().unwrap_or_else(|| PreProcessedColumnId {
                id: "vm31_missing".into(),
            });
            eval_preprocessed(&mut eval, id)
        };
        let [is_iv, iv_tag, iv_len, cont, absorb_public] = std::array::from_fn(|_| pre());
        let outputs: Vec<E::F> = self.public.outputs.iter().map(|_| pre()).collect();

        let input: [[E::F; 2]; WIDTH] =
            std::array::from_fn(|_| eval.next_interaction_mask(ORIGINAL_TRACE_IDX, [-1, 0]));
        let mut state: [E::F; WIDTH] = std::array::from_fn(|i| input[i][1].clone());
        let rc = &ROUND_CONSTANTS;

        external_layer(&mut state);
        for round in &rc.external_initial {
            for (s, &c) in state.iter_mut().zip(round) {
                *s = sbox_column(&mut eval, s.clone() + E::F::from(c));
            }
            external_layer(&mut state);
        }
        for &c in &rc.internal {
            state[0] = sbox_column(&mut eval, state[0].clone() + E::F::from(c));
            internal_layer(&mut state);
        }
        let (first_terminal, last) = (
            &rc.external_terminal[..HALF_FULL_ROUNDS - 1],
            &rc.external_terminal[HALF_FULL_ROUNDS - 1],
        );
        for round in first_terminal {
            for (s, &c) in state.iter_mut().zip(round) {
                *s = sbox_column(&mut eval, s.clone() + E::F::from(c));
            }
            external_layer(&mut state);
        }
        // The last round's outputs are also read one row back, for the link to the previous row.
        let mut prev: [E::F; WIDTH] = std::array::from_fn(|_| E::F::from(M31(0)));
        for ((s, p), &c) in state.iter_mut().zip(prev.iter_mut()).zip(last) {
            let x = s.clone() + E::F::from(c);
            let [a, c3] = [0, 0].map(|_| eval.next_trace_mask());
            let [before, now] = eval.next_interaction_mask(ORIGINAL_TRACE_IDX, [-1, 0]);
            eval.add_constraint(a.clone() - x.clone() * x.clone());
            eval.add_constraint(c3.clone() - a.clone() * x);
            eval.add_constraint(now.clone() - a * c3);
            *s = now;
            *p = before;
        }
        external_layer(&mut state);
        external_layer(&mut prev);
        let out = state;

        for _ in 0..N_MASK_COLUMNS {
            eval.next_trace_mask();
        }

        let cur = |i: usize| input[i][1].clone();
        eval.add_constraint(is_iv.clone() * (cur(RATE) - iv_tag));
        eval.add_constraint(is_iv.clone() * (cur(RATE + 1) - iv_len));
        for i in RATE + 2..WIDTH {
            eval.add_constraint(is_iv.clone() * cur(i));
        }
        for i in RATE..WIDTH {
            eval.add_constraint(cont.clone() * (cur(i) - prev[i].clone()));
        }
        for (j, &a) in self.public.absorb.iter().enumerate() {
            let absorbed = cur(j) - prev[j].clone() - E::F::from(a);
            eval.add_constraint(absorb_public.clone() * absorbed);
        }
        for (selector, digest) in outputs.iter().zip(&self.public.outputs) {
            for j in 0..DIGEST_LEN {
                let diff = out[j].clone() - E::F::from(digest[j]);
                eval.add_constraint(selector.clone() * diff);
            }
        }
        eval
    }
}

fn eval_preprocessed<E: EvalAtRow>(eval: &mut E, id: PreProcessedColumnId) -> E::F {
    eval.get_preprocessed_column(id)
}

/// Reads the next S-box columns `a = x^2`, `c = a·x`, `s = a·c = x^5` and constrains them.
fn sbox_column<E: EvalAtRow>(eval: &mut E, x: E::F) -> E::F {
    let [a, c, s] = [0, 0, 0].map(|_| eval.next_trace_mask());
    eval.add_constraint(a.clone() - x.clone() * x.clone());
    eval.add_constraint(c.clone() - a.clone() * x);
    eval.add_constraint(s.clone() - a * c);
    s
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
