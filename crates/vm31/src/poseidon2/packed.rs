//! The permutation on 16 states at once, one per SIMD lane of [`PackedM31`].
//!
//! Lane `j` of `state[i]` is element `i` of the `j`-th state. [`pack`] and [`unpack`] convert
//! between that layout and sixteen scalar states.

use stwo::core::fields::m31::{M31, P};
use stwo::prover::backend::simd::m31::{PackedM31, N_LANES};

use super::constants::{INTERNAL_DIAG_SHIFTS, ROUND_CONSTANTS, WIDTH};

/// Applies the Poseidon2 permutation to each of the [`N_LANES`] states in place.
pub fn permute_packed(state: &mut [PackedM31; WIDTH]) {
    let rc = &ROUND_CONSTANTS;
    external_linear_layer(state);
    for round in &rc.external_initial {
        full_round(state, round);
    }
    for &c in &rc.internal {
        state[0] = sbox(state[0] + PackedM31::broadcast(c));
        internal_linear_layer(state);
    }
    for round in &rc.external_terminal {
        full_round(state, round);
    }
}

/// Transposes [`N_LANES`] scalar states into the packed layout.
pub fn pack(states: &[[M31; WIDTH]; N_LANES]) -> [PackedM31; WIDTH] {
    std::array::from_fn(|i| PackedM31::from_array(std::array::from_fn(|lane| states[lane][i])))
}

/// Inverse of [`pack`].
pub fn unpack(state: &[PackedM31; WIDTH]) -> [[M31; WIDTH]; N_LANES] {
    let columns = state.map(PackedM31::to_array);
    std::array::from_fn(|lane| std::array::from_fn(|i| columns[i][lane]))
}

fn full_round(state: &mut [PackedM31; WIDTH], round_constants: &[M31; WIDTH]) {
    for (s, &c) in state.iter_mut().zip(round_constants) {
        *s = sbox(*s + PackedM31::broadcast(c));
    }
    external_linear_layer(state);
}

#[inline(always)]
fn sbox(x: PackedM31) -> PackedM31 {
    let x2 = x * x;
    let x4 = x2 * x2;
    x4 * x
}

/// Same matrix as the scalar layer, with Plonky3's addition chain for `M4 = circ(2, 3, 1, 1)`.
#[inline(always)]
fn external_linear_layer(state: &mut [PackedM31; WIDTH]) {
    for block in state.chunks_exact_mut(4) {
        let t01 = block[0] + block[1];
        let t23 = block[2] + block[3];
        let t0123 = t01 + t23;
        let t01123 = t0123 + block[1];
        let t01233 = t0123 + block[3];
        let x0 = block[0];
        let x2 = block[2];
        block[3] = t01233 + x0.double();
        block[1] = t01123 + x2.double();
        block[0] = t01123 + t01;
        block[2] = t01233 + t23;
    }
    let sums: [PackedM31; 4] =
        std::array::from_fn(|k| state[k] + state[k + 4] + state[k + 8] + state[k + 12]);
    for (i, s) in state.iter_mut().enumerate() {
        *s += sums[i % 4];
    }
}

#[inline(always)]
fn internal_linear_layer(state: &mut [PackedM31; WIDTH]) {
    let sum = state[1..].iter().fold(state[0], |acc, &x| acc + x);
    state[0] = sum - state[0].double();
    for (s, &shift) in state[1..].iter_mut().zip(&INTERNAL_DIAG_SHIFTS) {
        *s = sum + mul_pow2(*s, shift);
    }
}

/// `x · 2^k` in M31 is a 31-bit left rotation of the canonical representative, and the rotation
/// of a value `< p` (not all ones) is again `< p`.
#[inline(always)]
fn mul_pow2(x: PackedM31, k: u32) -> PackedM31 {
    let v = x.into_simd();
    let left = PackedM31::broadcast(M31(k)).into_simd();
    let right = PackedM31::broadcast(M31(31 - k)).into_simd();
    let mask =
        PackedM31::broadcast(M31(P - 1)).into_simd() + PackedM31::broadcast(M31(1)).into_simd();
    PackedM31::reduce_simd(((v << left) & mask) | (v >> right))
}
