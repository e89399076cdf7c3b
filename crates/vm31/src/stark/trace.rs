//! Witness generation: the permutation's intermediate values and the glue columns per row, and
//! random padding rows.

use rand::{CryptoRng, RngCore};
use stwo::core::fields::m31::M31;

use super::air::{N_MASK_COLUMNS, N_PERMUTATION_COLUMNS, N_TRACE_COLUMNS};
use super::glue::{N_GLUE_COLUMNS, REG_LEN};
use super::segment::{segment_row, SegmentWitness, N_SEGMENT_COLUMNS};
use super::value::{random_value_row, value_row, ValueWitness, N_VALUE_COLUMNS};
use crate::keys::random_m31;
use crate::poseidon2::{external_linear_layer, internal_linear_layer, ROUND_CONSTANTS, WIDTH};
use crate::sponge::DIGEST_LEN;

/// What the prover supplies for one real row; everything else in the row is derived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowWitness {
    /// The permutation input.
    pub input: [M31; WIDTH],
    /// The register (see [`super::glue`]); zero where the schedule does not use it.
    pub reg: [M31; REG_LEN],
    /// The Merkle index bit; zero off Merkle rows.
    pub bit: M31,
    /// The value columns (see [`super::value`]); zero where the schedule does not use them.
    pub value: ValueWitness,
    /// Dummy flag and position (see [`super::segment`]); zero outside input segments.
    pub segment: SegmentWitness,
}

impl RowWitness {
    /// A row that uses neither the register nor the index bit.
    pub fn plain(input: [M31; WIDTH]) -> Self {
        Self {
            input,
            ..Self::default()
        }
    }
}

/// Where the S-box copies come from: the originals (real rows) or fresh randomness (padding).
enum Copies<'a, R> {
    Real,
    Fresh(&'a mut R),
}

impl<R: RngCore + CryptoRng> Copies<'_, R> {
    fn copy(&mut self, original: M31) -> M31 {
        match self {
            Self::Real => original,
            Self::Fresh(rng) => random_m31(*rng),
        }
    }
}

/// The committed permutation values of a row (input, then `y1, a, y2, c, y3, s` per S-box) and
/// the output, with copies taken from `copies`.
fn permutation_values<R: RngCore + CryptoRng>(
    input: [M31; WIDTH],
    mut copies: Copies<'_, R>,
) -> ([M31; N_PERMUTATION_COLUMNS], [M31; WIDTH]) {
    let mut row = [M31(0); N_PERMUTATION_COLUMNS];
    row[..WIDTH].copy_from_slice(&input);
    let mut next = WIDTH;
    let mut sbox = |x: M31| {
        let y1 = copies.copy(x);
        let a = x * y1;
        let y2 = copies.copy(x);
        let c = a * y2;
        let y3 = copies.copy(a);
        let s = c * y3;
        for v in [y1, a, y2, c, y3, s] {
            row[next] = v;
            next += 1;
        }
        s
    };
    let rc = &ROUND_CONSTANTS;
    let mut state = input;
    external_linear_layer(&mut state);
    for round in &rc.external_initial {
        for (s, &c) in state.iter_mut().zip(round) {
            *s = sbox(*s + c);
        }
        external_linear_layer(&mut state);
    }
    for &c in &rc.internal {
        state[0] = sbox(state[0] + c);
        internal_linear_layer(&mut state);
    }
    for round in &rc.external_terminal {
        for (s, &c) in state.iter_mut().zip(round) {
            *s = sbox(*s + c);
        }
        external_linear_layer(&mut state);
    }
    (row, state)
}

/// The committed permutation values of a real row and the permutation's output.
pub fn permutation_row(input: [M31; WIDTH]) -> ([M31; N_PERMUTATION_COLUMNS], [M31; WIDTH]) {
    permutation_values::<rand::rngs::OsRng>(input, Copies::Real)
}

/// The glue columns of a row: register, bit, bit copy, bit square, bit copies, swaps.
fn glue_values<R: RngCore + CryptoRng>(
    input: &[M31; WIDTH],
    reg: [M31; REG_LEN],
    bit: M31,
    mut copies: Copies<'_, R>,
) -> [M31; N_GLUE_COLUMNS] {
    let mut out = [M31(0); N_GLUE_COLUMNS];
    out[..REG_LEN].copy_from_slice(&reg);
    let bit_copy = copies.copy(bit);
    out[REG_LEN..REG_LEN + 3].copy_from_slice(&[bit, bit_copy, bit * bit_copy]);
    for j in 0..DIGEST_LEN {
        let copy = copies.copy(bit);
        out[REG_LEN + 3 + j] = copy;
        out[REG_LEN + 3 + DIGEST_LEN + j] = copy * (input[DIGEST_LEN + j] - input[j]);
    }
    out
}

/// The trace in row order: the real rows, then padding rows up to `2^log_size` whose inputs,
/// copies, register and bit are uniformly random (so every product column is a product with a
/// fresh factor); the mask columns are uniformly random on every row. `root` is the constant
/// of the dummy correction ([`super::segment::dummy_root`]).
///
/// # Panics
/// If there are more rows than `2^log_size` (the caller sizes the trace).
pub fn trace_columns<R: RngCore + CryptoRng>(
    rows: &[RowWitness],
    log_size: u32,
    root: &[M31; DIGEST_LEN],
    rng: &mut R,
) -> Vec<Vec<M31>> {
    let n = 1usize << log_size;
    assert!(rows.len() <= n, "trace too short for its rows");
    let mut cols: Vec<Vec<M31>> = (0..N_TRACE_COLUMNS)
        .map(|_| Vec::with_capacity(n))
        .collect();
    let push = |cols: &mut Vec<Vec<M31>>, perm: &[M31], glue: &[M31], value: &[M31]| {
        debug_assert_eq!(value.len(), N_VALUE_COLUMNS);
        for (col, &v) in cols.iter_mut().zip(perm.iter().chain(glue).chain(value)) {
            col.push(v);
        }
    };
    let mut inputs = Vec::with_capacity(n);
    let mut outputs = Vec::with_capacity(n);
    for row in rows {
        let (perm, out) = permutation_row(row.input);
        let glue = glue_values::<R>(&row.input, row.reg, row.bit, Copies::Real);
        push(&mut cols, &perm, &glue, &value_row(&row.value, None));
        inputs.push(row.input);
        outputs.push(out);
    }
    for _ in rows.len()..n {
        let input = std::array::from_fn(|_| random_m31(rng));
        let reg = std::array::from_fn(|_| random_m31(rng));
        let bit = random_m31(rng);
        let (perm, out) = permutation_values(input, Copies::Fresh(rng));
        let glue = glue_values(&input, reg, bit, Copies::Fresh(rng));
        let value = random_value_row(|| random_m31(rng));
        push(&mut cols, &perm, &glue, &value);
        inputs.push(input);
        outputs.push(out);
    }
    // The segment columns read the previous row's output (cyclically: row 0 follows the last).
    let first_segment = N_PERMUTATION_COLUMNS + N_GLUE_COLUMNS + N_VALUE_COLUMNS;
    for i in 0..n {
        let prev_out = &outputs[(i + n - 1) % n];
        let row = match rows.get(i) {
            Some(row) => segment_row(row.segment, &inputs[i], &outputs[i], prev_out, root, None),
            None => {
                let mut fresh = || random_m31(rng);
                let witness = SegmentWitness::default();
                segment_row(
                    witness,
                    &inputs[i],
                    &outputs[i],
                    prev_out,
                    root,
                    Some(&mut fresh),
                )
            }
        };
        for (col, v) in cols[first_segment..first_segment + N_SEGMENT_COLUMNS]
            .iter_mut()
            .zip(row)
        {
            col.push(v);
        }
    }
    let first_mask = first_segment + N_SEGMENT_COLUMNS;
    for col in &mut cols[first_mask..first_mask + N_MASK_COLUMNS] {
        col.resize_with(n, || random_m31(rng));
    }
    cols
}
