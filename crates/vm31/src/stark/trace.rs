//! Witness generation: the permutation's intermediate values per row, and random padding.

use rand::{CryptoRng, RngCore};
use stwo::core::fields::m31::M31;

use super::air::{N_MASK_COLUMNS, N_PERMUTATION_COLUMNS, N_TRACE_COLUMNS};
use crate::keys::random_m31;
use crate::poseidon2::{
    external_linear_layer, internal_linear_layer, sbox, ROUND_CONSTANTS, WIDTH,
};

/// The committed values of one permutation row (input, then every S-box output) and the
/// permutation's output.
pub fn permutation_row(input: [M31; WIDTH]) -> ([M31; N_PERMUTATION_COLUMNS], [M31; WIDTH]) {
    let mut row = [M31(0); N_PERMUTATION_COLUMNS];
    row[..WIDTH].copy_from_slice(&input);
    let mut next = WIDTH;
    // Each S-box input `x` leaves `x^2`, `x^3` and `x^5`.
    let mut push = |x: M31| {
        let a = x * x;
        let c = a * x;
        for v in [a, c, a * c] {
            row[next] = v;
            next += 1;
        }
    };
    let rc = &ROUND_CONSTANTS;
    let mut state = input;
    external_linear_layer(&mut state);
    for round in &rc.external_initial {
        for (s, &c) in state.iter_mut().zip(round) {
            push(*s + c);
            *s = sbox(*s + c);
        }
        external_linear_layer(&mut state);
    }
    for &c in &rc.internal {
        push(state[0] + c);
        state[0] = sbox(state[0] + c);
        internal_linear_layer(&mut state);
    }
    for round in &rc.external_terminal {
        for (s, &c) in state.iter_mut().zip(round) {
            push(*s + c);
            *s = sbox(*s + c);
        }
        external_linear_layer(&mut state);
    }
    (row, state)
}

/// The trace in row order: one row per permutation input, then permutations of uniformly random
/// inputs up to `2^log_size`; the mask columns are uniformly random on every row.
///
/// # Panics
/// If there are more inputs than rows (the caller sizes the trace).
pub fn trace_columns<R: RngCore + CryptoRng>(
    inputs: &[[M31; WIDTH]],
    log_size: u32,
    rng: &mut R,
) -> Vec<Vec<M31>> {
    let n = 1usize << log_size;
    assert!(inputs.len() <= n, "trace too short for its rows");
    let mut cols: Vec<Vec<M31>> = (0..N_TRACE_COLUMNS)
        .map(|_| Vec::with_capacity(n))
        .collect();
    let padding = (inputs.len()..n).map(|_| std::array::from_fn(|_| random_m31(rng)));
    let all: Vec<[M31; WIDTH]> = inputs.iter().copied().chain(padding).collect();
    for input in all {
        let (row, _) = permutation_row(input);
        for (col, v) in cols.iter_mut().zip(row) {
            col.push(v);
        }
    }
    for col in &mut cols[N_PERMUTATION_COLUMNS..N_PERMUTATION_COLUMNS + N_MASK_COLUMNS] {
        col.resize_with(n, || random_m31(rng));
    }
    cols
}
