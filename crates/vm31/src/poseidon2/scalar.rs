//! The permutation on one state of 16 [`M31`] elements.

use stwo::core::fields::m31::{M31, P};

use super::constants::{INTERNAL_DIAG_SHIFTS, ROUND_CONSTANTS, WIDTH};

/// Applies the Poseidon2 permutation in place.
pub fn permute(state: &mut [M31; WIDTH]) {
    let rc = &ROUND_CONSTANTS;
    external_linear_layer(state);
    for round in &rc.external_initial {
        full_round(state, round);
    }
    for &c in &rc.internal {
        state[0] = sbox(state[0] + c);
        internal_linear_layer(state);
    }
    for round in &rc.external_terminal {
        full_round(state, round);
    }
}

/// Returns the permutation of `state`.
pub fn permutation(mut state: [M31; WIDTH]) -> [M31; WIDTH] {
    permute(&mut state);
    state
}

fn full_round(state: &mut [M31; WIDTH], round_constants: &[M31; WIDTH]) {
    for (s, &c) in state.iter_mut().zip(round_constants) {
        *s = sbox(*s + c);
    }
    external_linear_layer(state);
}

#[inline(always)]
pub(crate) fn sbox(x: M31) -> M31 {
    let x2 = x * x;
    let x4 = x2 * x2;
    x4 * x
}

/// `circ(2·M4, M4, M4, M4)` with `M4 = circ(2, 3, 1, 1)`: apply `M4` to each block of four,
/// then add to each element the sum of the elements in the same position of every block.
/// Works on unreduced `u64`s (every intermediate stays below `2^40`).
#[inline(always)]
pub(crate) fn external_linear_layer(state: &mut [M31; WIDTH]) {
    let mut x = [0u64; WIDTH];
    for (block, out) in state.chunks_exact(4).zip(x.chunks_exact_mut(4)) {
        let [a, b, c, d] = [block[0].0, block[1].0, block[2].0, block[3].0].map(u64::from);
        out[0] = 2 * a + 3 * b + c + d;
        out[1] = a + 2 * b + 3 * c + d;
        out[2] = a + b + 2 * c + 3 * d;
        out[3] = 3 * a + b + c + 2 * d;
    }
    let sums: [u64; 4] = std::array::from_fn(|k| x[k] + x[k + 4] + x[k + 8] + x[k + 12]);
    for (i, s) in state.iter_mut().enumerate() {
        *s = M31::reduce(x[i] + sums[i % 4]);
    }
}

/// `1 + diag(V)`: `y_i = sum(x) + V_i·x_i`, with `V_0 = -2` and `V_i = 2^k` otherwise.
#[inline(always)]
pub(crate) fn internal_linear_layer(state: &mut [M31; WIDTH]) {
    let sum: u64 = state.iter().map(|x| u64::from(x.0)).sum();
    state[0] = M31::reduce(sum + 2 * u64::from(P - state[0].0));
    for (s, &shift) in state[1..].iter_mut().zip(&INTERNAL_DIAG_SHIFTS) {
        *s = M31::reduce(sum + (u64::from(s.0) << shift));
    }
}
