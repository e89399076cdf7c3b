//! Poseidon2 over M31: exactly Plonky3's `default_mersenne31_poseidon2_16` (width 16, `x^5`,
//! 4 + 14 + 4 rounds). See [`constants`] for the parameters and their origin.
//!
//! [`permute`] works on one state, [`permute_packed`] on sixteen states in SIMD lanes; both read
//! the single table [`ROUND_CONSTANTS`].

pub mod constants;
mod grain;
#[cfg(feature = "prover")]
mod packed;
mod scalar;

pub use constants::{ROUND_CONSTANTS, WIDTH};
#[cfg(feature = "prover")]
pub use packed::{pack, permute_packed, unpack};
pub(crate) use scalar::{external_linear_layer, internal_linear_layer};
pub use scalar::{permutation, permute};

#[cfg(test)]
mod tests;
