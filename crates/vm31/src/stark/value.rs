//! Value conservation: the asset and amount of the notes a transaction reads or writes, their
//! range, and the balance `inputs = outputs + fee`.
//!
//! A *value row* is a row that absorbs a note's second block `asset ‖ l0 ‖ l1 ‖ l2 ‖ blinding`
//! (a sponge continuation, so the absorbed values are `in[j] − prev_out[j]`, linear in committed
//! columns).
//!
//! **Value columns** ([`N_VALUE_COLUMNS`]): `asset` and the running balance `bal[3]` (both read
//! on this row and one row back), then 64 amount bits `b`, their copies `bb` and products
//! `q = b·bb`.
//!
//! Constraints, with `any = value_first + value_in + value_out` and
//! `bitrow = any + balance_final` (sums of disjoint preprocessed selectors):
//! * bits: `q_j − b_j·bb_j` on every row, `bitrow · (bb_j − b_j)`, `bitrow · (q_j − b_j)`: on a
//!   bit row every `b_j` is 0 or 1; elsewhere `b`, `bb` are free (fresh on padding rows, which the
//!   zero-knowledge argument needs: `q` is a product with a fresh factor);
//! * note: `any · (asset − absorbed_0)`, `any · (absorbed_{1+i} − Σ_j 2^j b_{22i+j})`: the limbs
//!   are `l0, l1 < 2^22` and `l2 < 2^20` (bits `0..22`, `22..44`, `44..64`);
//! * one asset: `(value_in + value_out + keep_balance) · (asset − prev_asset)`;
//! * running balance per limb: `value_first · (bal − l)`, `value_in · (bal − prev_bal − l)`,
//!   `value_out · (bal − prev_bal + l)`, `keep_balance · (bal − prev_bal)`;
//! * final row, with carries `c0 = b0 + 2b1 + 4b2 − 3`, `c1 = b3 + 2b4 + 4b5 − 3` in `[−3, 4]`
//!   and the public fee limbs `f`: `bal0 − f0 − 2^22 c0`, `bal1 − f1 + c0 − 2^22 c1`,
//!   `bal2 − f2 + c1`. Every side is below `2^26` in absolute value, so each equation holds over
//!   the integers, and `Σ_i 2^{22i} (bal_i − f_i) = 0`: the inputs' amounts equal the outputs'
//!   plus the fee, exactly;
//! * public asset on the final row: `g · balance_final · (asset − a)` with public constants
//!   `g ∈ {0, 1}` and `a`. The final row keeps the span's asset, so with `g = 1` every note of
//!   the span is in asset `a` (a spend's fee asset when it pays a fee, a withdrawal's asset).
//!
//! All constraints have degree 2.

use stwo::core::fields::m31::M31;
use stwo_constraint_framework::{EvalAtRow, ORIGINAL_TRACE_IDX};

use super::air::{PermutationColumns, PublicConstants};
use crate::note::AMOUNT_LIMB_BITS;

/// Amount bits on a bit row.
pub const AMOUNT_BITS: usize = 64;
/// Bits of one carry of the final balance row.
pub const CARRY_BITS: usize = 3;
/// Offset added to a carry so that its bits are non-negative.
pub const CARRY_BIAS: i64 = 3;
/// Value columns: asset, balance limbs, bits, bit copies, bit products.
pub const N_VALUE_COLUMNS: usize = 1 + 3 + 3 * AMOUNT_BITS;
/// Preprocessed selectors of the value constraints, in commitment order.
pub const VALUE_PREPROCESSED: [&str; 5] = [
    "vm31_value_first",
    "vm31_value_in",
    "vm31_value_out",
    "vm31_keep_balance",
    "vm31_balance_final",
];

/// The value columns as the constraints see them.
pub struct ValueColumns<F> {
    /// `[previous row, this row]`.
    pub asset: [F; 2],
    /// `[previous row, this row]` per limb.
    pub balance: [[F; 2]; 3],
    pub bits: [F; AMOUNT_BITS],
    pub bit_copies: [F; AMOUNT_BITS],
    pub bit_squares: [F; AMOUNT_BITS],
}

impl<F: Clone> ValueColumns<F> {
    /// Reads the value columns in trace order.
    pub fn read<E: EvalAtRow<F = F>>(eval: &mut E) -> Self {
        let asset = eval.next_interaction_mask(ORIGINAL_TRACE_IDX, [-1, 0]);
        let balance =
            std::array::from_fn(|_| eval.next_interaction_mask(ORIGINAL_TRACE_IDX, [-1, 0]));
        let bits = std::array::from_fn(|_| eval.next_trace_mask());
        let bit_copies = std::array::from_fn(|_| eval.next_trace_mask());
        let bit_squares = std::array::from_fn(|_| eval.next_trace_mask());
        Self {
            asset,
            balance,
            bits,
            bit_copies,
            bit_squares,
        }
    }
}

/// First bit of each amount limb.
fn limb_offsets() -> [usize; 3] {
    let mut offsets = [0; 3];
    let mut next = 0;
    for (offset, &bits) in offsets.iter_mut().zip(&AMOUNT_LIMB_BITS) {
        *offset = next;
        next += bits as usize;
    }
    offsets
}

/// Adds the value constraints. `selectors` are the columns named in [`VALUE_PREPROCESSED`].
pub fn value_constraints<E: EvalAtRow>(
    eval: &mut E,
    selectors: &[E::F],
    perm: &PermutationColumns<E::F>,
    value: &ValueColumns<E::F>,
    public: &PublicConstants,
) {
    let fee = &public.public_out;
    let [first, value_in, value_out, keep, last] = std::array::from_fn(|i| selectors[i].clone());
    let any = first.clone() + value_in.clone() + value_out.clone();
    let bitrow = any.clone() + last.clone();
    let bits = &value.bits;
    for j in 0..AMOUNT_BITS {
        let (b, copy, square) = (&bits[j], &value.bit_copies[j], &value.bit_squares[j]);
        eval.add_constraint(square.clone() - b.clone() * copy.clone());
        eval.add_constraint(bitrow.clone() * (copy.clone() - b.clone()));
        eval.add_constraint(bitrow.clone() * (square.clone() - b.clone()));
    }

    let absorbed = |i: usize| perm.input[i][1].clone() - perm.prev_out[i].clone();
    let [prev_asset, asset] = value.asset.clone();
    eval.add_constraint(any.clone() * (asset.clone() - absorbed(0)));
    let kept = value_in.clone() + value_out.clone() + keep.clone();
    eval.add_constraint(kept * (asset.clone() - prev_asset));
    let pinned = last.clone() * (asset - E::F::from(public.asset));
    eval.add_constraint(pinned * public.asset_gate);

    for (i, (&offset, &n_bits)) in limb_offsets().iter().zip(&AMOUNT_LIMB_BITS).enumerate() {
        let limb = absorbed(1 + i);
        let from_bits = weighted_sum(&bits[offset..offset + n_bits as usize]);
        eval.add_constraint(any.clone() * (limb.clone() - from_bits));
        let [prev, bal] = value.balance[i].clone();
        eval.add_constraint(first.clone() * (bal.clone() - limb.clone()));
        let step = bal - prev;
        eval.add_constraint(value_in.clone() * (step.clone() - limb.clone()));
        eval.add_constraint(value_out.clone() * (step.clone() + limb));
        eval.add_constraint(keep.clone() * step);
    }

    let bias = E::F::from(M31(CARRY_BIAS as u32));
    let c0 = weighted_sum(&bits[..CARRY_BITS]) - bias.clone();
    let c1 = weighted_sum(&bits[CARRY_BITS..2 * CARRY_BITS]) - bias;
    let base = M31(1 << AMOUNT_LIMB_BITS[0]);
    let bal = |i: usize| value.balance[i][1].clone() - E::F::from(fee[i]);
    eval.add_constraint(last.clone() * (bal(0) - c0.clone() * base));
    eval.add_constraint(last.clone() * (bal(1) + c0 - c1.clone() * base));
    eval.add_constraint(last * (bal(2) + c1));
}

/// `Σ_j 2^j x_j`.
fn weighted_sum<F>(xs: &[F]) -> F
where
    F: Clone + std::ops::Add<Output = F> + std::ops::Mul<M31, Output = F>,
{
    let mut terms = xs.iter().enumerate().map(|(j, x)| x.clone() * M31(1 << j));
    let head = terms.next().expect("at least one bit");
    terms.fold(head, |acc, t| acc + t)
}

/// What the prover supplies for the value columns of one row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValueWitness {
    pub asset: M31,
    pub balance: [M31; 3],
    /// Bit `j` is `b_j`: a note's amount on a value row, the biased carries on the final row.
    pub bits: u64,
}

/// The carry bits of the final row for running balance `balance` (signed limb sums) and `fee`.
pub fn carry_bits(balance: [i64; 3], fee: [i64; 3]) -> Option<u64> {
    let base = 1i64 << AMOUNT_LIMB_BITS[0];
    let d0 = balance[0] - fee[0];
    let c0 = d0
        .checked_div_euclid(base)
        .filter(|_| d0.rem_euclid(base) == 0)?;
    let d1 = balance[1] - fee[1] + c0;
    let c1 = d1
        .checked_div_euclid(base)
        .filter(|_| d1.rem_euclid(base) == 0)?;
    if balance[2] - fee[2] + c1 != 0 {
        return None;
    }
    let biased = |c: i64| {
        u64::try_from(c + CARRY_BIAS)
            .ok()
            .filter(|&b| b < 1 << CARRY_BITS)
    };
    Some(biased(c0)? | (biased(c1)? << CARRY_BITS))
}

/// The committed value columns of a row: `asset, bal[3], b[64], bb[64], q[64]`, with the copies
/// `bb` equal to the bits (`fresh = None`) or drawn by `fresh`.
pub fn value_row(witness: &ValueWitness, mut fresh: Option<&mut dyn FnMut() -> M31>) -> Vec<M31> {
    let mut row = Vec::with_capacity(N_VALUE_COLUMNS);
    row.push(witness.asset);
    row.extend(witness.balance);
    let bits: Vec<M31> = (0..AMOUNT_BITS)
        .map(|j| M31(((witness.bits >> j) & 1) as u32))
        .collect();
    let copies: Vec<M31> = bits
        .iter()
        .map(|&b| fresh.as_mut().map_or(b, |f| f()))
        .collect();
    row.extend(&bits);
    row.extend(&copies);
    row.extend(bits.iter().zip(&copies).map(|(&b, &c)| b * c));
    row
}

/// A padding row: every value column uniform, copies fresh.
pub fn random_value_row(mut fresh: impl FnMut() -> M31) -> Vec<M31> {
    let mut row: Vec<M31> = (0..4 + 2 * AMOUNT_BITS).map(|_| fresh()).collect();
    let squares: Vec<M31> = (0..AMOUNT_BITS)
        .map(|j| row[4 + j] * row[4 + AMOUNT_BITS + j])
        .collect();
    row.extend(squares);
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_of_a_balanced_transfer() {
        // 3·2^22 − 1 + 1 in, 2^22 + 2^22 out, fee 2^22: limb 0 carries.
        let bits = carry_bits([3 << 22, 0, 0], [1 << 22, 0, 0]);
        assert!(
            bits.is_none(),
            "unbalanced: 3·2^22 in, 2^22 fee, nothing out"
        );
        // in0 = 2^22 - 1, in1 = 1 (sum 2^22 = 1 in limb 1); out = 2^22 as limb 1 = 1.
        let bits = carry_bits([1 << 22, -1, 0], [0, 0, 0]).expect("balanced");
        assert_eq!(bits & 7, (1 + CARRY_BIAS) as u64);
        assert_eq!(bits >> 3, CARRY_BIAS as u64);
    }

    #[test]
    fn limb_offsets_cover_64_bits() {
        assert_eq!(limb_offsets(), [0, 22, 44]);
        assert_eq!(AMOUNT_LIMB_BITS.iter().sum::<u32>() as usize, AMOUNT_BITS);
    }
}
