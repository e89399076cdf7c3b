//! Parameters of the Poseidon2 instance: Plonky3's `default_mersenne31_poseidon2_16`.
//!
//! * width 16, S-box `x^5`, 4 + 14 + 4 rounds;
//! * external layer: the 4x4 block `M4 = circ(2, 3, 1, 1)` (Plonky3's `MDSMat4`) inside the
//!   `circ(2·M4, M4, M4, M4)` block matrix, also applied once before the first round;
//! * internal layer: `1 + diag(V)` with `V = [-2, 2^0, 2^1, …, 2^8, 2^10, 2^12, …, 2^16]`;
//! * round constants: the Grain LFSR of the Poseidon paper (appendix E) seeded with
//!   `(field=1, sbox=0, n=31, t=16, R_F=8, R_P=14)`, drawn in order external-initial,
//!   internal, external-terminal (Plonky3's `poseidon2/generate_constants.py`).
//!
//! The constants are computed at compile time by our own Grain LFSR (`poseidon2/grain.rs`);
//! a test checks every one against Plonky3's published tables.

use stwo::core::fields::m31::M31;

use super::grain::Grain;

/// State width.
pub const WIDTH: usize = 16;
/// Full rounds before and after the partial rounds.
pub const HALF_FULL_ROUNDS: usize = 4;
/// Partial (internal) rounds.
pub const PARTIAL_ROUNDS: usize = 14;
/// S-box degree.
pub const SBOX_DEGREE: u64 = 5;

/// Exponents `k` of the internal diagonal entries `V[i] = 2^k` for `i = 1..16`; `V[0] = -2`.
pub const INTERNAL_DIAG_SHIFTS: [u32; WIDTH - 1] =
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 16];

/// All round constants of the permutation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundConstants {
    pub external_initial: [[M31; WIDTH]; HALF_FULL_ROUNDS],
    pub internal: [M31; PARTIAL_ROUNDS],
    pub external_terminal: [[M31; WIDTH]; HALF_FULL_ROUNDS],
}

impl RoundConstants {
    /// Draws the constants from the Grain LFSR, in the order Plonky3 uses.
    const fn generate() -> Self {
        let mut grain = Grain::new(
            31,
            WIDTH as u32,
            2 * HALF_FULL_ROUNDS as u32,
            PARTIAL_ROUNDS as u32,
        );
        let mut external_initial = [[M31(0); WIDTH]; HALF_FULL_ROUNDS];
        let mut internal = [M31(0); PARTIAL_ROUNDS];
        let mut external_terminal = [[M31(0); WIDTH]; HALF_FULL_ROUNDS];
        let mut r = 0;
        while r < HALF_FULL_ROUNDS {
            let mut i = 0;
            while i < WIDTH {
                external_initial[r][i] = grain.next_m31();
                i += 1;
            }
            r += 1;
        }
        let mut r = 0;
        while r < PARTIAL_ROUNDS {
            internal[r] = grain.next_m31();
            r += 1;
        }
        let mut r = 0;
        while r < HALF_FULL_ROUNDS {
            let mut i = 0;
            while i < WIDTH {
                external_terminal[r][i] = grain.next_m31();
                i += 1;
            }
            r += 1;
        }
        Self {
            external_initial,
            internal,
            external_terminal,
        }
    }
}

/// The one set of round constants this crate uses.
pub const ROUND_CONSTANTS: RoundConstants = RoundConstants::generate();
