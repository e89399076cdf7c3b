//! Constraints that tie permutation rows together: sponge initialisation and continuation,
//! public absorbed values and digests, a 16-element register, and Merkle levels chosen by an
//! index bit.
//!
//! **Glue columns** ([`N_GLUE_COLUMNS`]): the register `reg[16]` (read on this row and one row
//! back), the index bit `b`, its copy `bb`, the product `q`, eight copies `b_j` and eight
//! products `t_j` (one per element of a node).
//!
//! With `in` the permutation input (`l = in[0..8]`, `r = in[8..16]`), `out` its output, `prev_*`
//! the previous row's values and selectors in `snake_case` (see [`super::schedule::RowKind`]):
//! * `is_iv · (in[8] − iv_tag)`, `is_iv · (in[9] − iv_len)`, `is_iv · in[10..16]`;
//! * `cont · (in[8 + j] − prev_out[8 + j])`;
//! * `absorb_public · (in[j] − prev_out[j] − a_j)` for `j < 4`;
//! * `rate_from_prev_in · (in[j] − prev_in[j])`, `rate_from_prev_out · (in[j] − prev_out[j])`;
//! * `load_reg · (reg − out)`, `keep_reg · (reg − prev_reg)`;
//! * `from_reg · (in[j] − reg[j] − prev_out[j])` (`j < 8`), `from_reg · (in[j] − reg[j])` (`j ≥ 8`);
//! * index bit: `t_j − b_j·(r_j − l_j)` and `q − b·bb` on every row;
//!   `is_real · (b_j − b)`, `is_real · (bb − b)`, `merkle_any · (q − b)` (so `b ∈ {0, 1}`),
//!   `(is_real − merkle_any) · b` (so `t = 0` off Merkle rows);
//! * Merkle level with current node `d`: `merkle_* · (l_j − d_j + t_j)`, which says `l = d` if
//!   `b = 0` and `r = d` if `b = 1`; `d = prev_in − prev_reg` on the first level (the digest a
//!   `from_reg` row absorbed), `d = prev_out + prev_in` (the previous compression) after;
//! * `output_k · (out[j] − d_k[j])`, `node_output_k · (out[j] + in[j] − n_k[j] − rd_j)` with
//!   `rd_j` the dummy correction of [`super::segment`] (zero unless the segment is a dummy).
//!
//! Every constraint has degree 2, and each ungated product has a factor (`b_j`, `bb`) that is
//! free on padding rows.

use stwo::core::fields::m31::M31;
use stwo_constraint_framework::{EvalAtRow, ORIGINAL_TRACE_IDX};

use super::air::{PermutationColumns, PublicConstants};
use crate::poseidon2::WIDTH;
use crate::sponge::{DIGEST_LEN, RATE};

/// Register elements.
pub const REG_LEN: usize = WIDTH;
/// Glue columns: register, bit, bit copy, bit square, bit copies and swap products.
pub const N_GLUE_COLUMNS: usize = REG_LEN + 3 + 2 * DIGEST_LEN;

/// The glue columns as the constraints see them.
pub struct GlueColumns<F> {
    /// `[previous row, this row]` of each register element.
    pub reg: [[F; 2]; REG_LEN],
    pub bit: F,
    pub bit_copy: F,
    pub bit_square: F,
    pub bit_copies: [F; DIGEST_LEN],
    pub swap: [F; DIGEST_LEN],
}

impl<F: Clone> GlueColumns<F> {
    /// Reads the glue columns in trace order.
    pub fn read<E: EvalAtRow<F = F>>(eval: &mut E) -> Self {
        let reg = std::array::from_fn(|_| eval.next_interaction_mask(ORIGINAL_TRACE_IDX, [-1, 0]));
        let [bit, bit_copy, bit_square] = [0; 3].map(|_| eval.next_trace_mask());
        let bit_copies = std::array::from_fn(|_| eval.next_trace_mask());
        let swap = std::array::from_fn(|_| eval.next_trace_mask());
        Self {
            reg,
            bit,
            bit_copy,
            bit_square,
            bit_copies,
            swap,
        }
    }
}

/// Adds the glue constraints. `fixed` are the preprocessed columns named in
/// [`super::schedule::FIXED_PREPROCESSED`], `outputs` and `node_outputs` the per-digest selectors.
pub fn glue_constraints<E: EvalAtRow>(
    eval: &mut E,
    fixed: &[E::F],
    outputs: &[E::F],
    node_outputs: &[E::F],
    perm: &PermutationColumns<E::F>,
    glue: &GlueColumns<E::F>,
    root_products: &[E::F; DIGEST_LEN],
    public: &PublicConstants,
) {
    let [is_real, is_iv, iv_tag, iv_len, cont, absorb_public, from_prev_in, from_prev_out, load_reg, keep_reg, from_reg, merkle_first, merkle_next, merkle_any] =
        std::array::from_fn(|i| fixed[i].clone());
    let cur = |i: usize| perm.input[i][1].clone();
    let prev_in = |i: usize| perm.input[i][0].clone();
    let prev_out = |i: usize| perm.prev_out[i].clone();
    let reg = |i: usize| glue.reg[i][1].clone();
    let prev_reg = |i: usize| glue.reg[i][0].clone();

    eval.add_constraint(is_iv.clone() * (cur(RATE) - iv_tag));
    eval.add_constraint(is_iv.clone() * (cur(RATE + 1) - iv_len));
    for i in RATE + 2..WIDTH {
        eval.add_constraint(is_iv.clone() * cur(i));
    }
    for i in RATE..WIDTH {
        eval.add_constraint(cont.clone() * (cur(i) - prev_out(i)));
    }
    for (j, &a) in public.absorb.iter().enumerate() {
        let absorbed = cur(j) - prev_out(j) - E::F::from(a);
        eval.add_constraint(absorb_public.clone() * absorbed);
    }
    for j in 0..RATE {
        eval.add_constraint(from_prev_in.clone() * (cur(j) - prev_in(j)));
        eval.add_constraint(from_prev_out.clone() * (cur(j) - prev_out(j)));
    }
    for i in 0..REG_LEN {
        eval.add_constraint(load_reg.clone() * (reg(i) - perm.out[i].clone()));
        eval.add_constraint(keep_reg.clone() * (reg(i) - prev_reg(i)));
        let absorbed = if i < RATE {
            prev_out(i)
        } else {
            E::F::from(M31(0))
        };
        eval.add_constraint(from_reg.clone() * (cur(i) - reg(i) - absorbed));
    }

    // The index bit and the swap it drives.
    let bit = glue.bit.clone();
    eval.add_constraint(glue.bit_square.clone() - bit.clone() * glue.bit_copy.clone());
    eval.add_constraint(is_real.clone() * (glue.bit_copy.clone() - bit.clone()));
    eval.add_constraint(merkle_any.clone() * (glue.bit_square.clone() - bit.clone()));
    eval.add_constraint((is_real.clone() - merkle_any) * bit.clone());
    for j in 0..DIGEST_LEN {
        let (l, r) = (cur(j), cur(DIGEST_LEN + j));
        let (copy, t) = (glue.bit_copies[j].clone(), glue.swap[j].clone());
        eval.add_constraint(t.clone() - copy.clone() * (r - l.clone()));
        eval.add_constraint(is_real.clone() * (copy - bit.clone()));
        let first = prev_in(j) - prev_reg(j);
        let next = prev_out(j) + prev_in(j);
        eval.add_constraint(merkle_first.clone() * (l.clone() - first + t.clone()));
        eval.add_constraint(merkle_next.clone() * (l - next + t));
    }

    for (selector, digest) in outputs.iter().zip(&public.outputs) {
        for (j, &d) in digest.iter().enumerate() {
            let diff = perm.out[j].clone() - E::F::from(d);
            eval.add_constraint(selector.clone() * diff);
        }
    }
    for (selector, node) in node_outputs.iter().zip(&public.node_outputs) {
        for (j, &n) in node.iter().enumerate() {
            let diff = perm.out[j].clone() + cur(j) - E::F::from(n) - root_products[j].clone();
            eval.add_constraint(selector.clone() * diff);
        }
    }
}
