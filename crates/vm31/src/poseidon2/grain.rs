//! The Grain LFSR of the Poseidon paper (eprint 2019/458, appendix E), in self-shrinking mode,
//! used to derive the round constants. Written as `const fn` so the constants are computed by
//! the compiler from the instance parameters alone.

use stwo::core::fields::m31::{M31, P};

/// Feedback taps, as positions in the 80-bit state (position 0 is the oldest bit).
const TAPS: [u32; 6] = [0, 13, 23, 38, 51, 62];
const STATE_BITS: u32 = 80;

/// An 80-bit LFSR; bit `i` of `state` is position `i` of the register.
pub(crate) struct Grain {
    state: u128,
    /// Number of bits written so far while seeding.
    filled: u32,
}

impl Grain {
    /// Seeds the register with `field_type=1 (GF(p))`, `sbox=0 (x^alpha)`, `n`, `t`, `R_F`,
    /// `R_P` (big-endian, widths 2/4/12/12/10/10) and thirty ones, then discards 160 bits.
    pub(crate) const fn new(n: u32, t: u32, full_rounds: u32, partial_rounds: u32) -> Self {
        let mut grain = Self {
            state: 0,
            filled: 0,
        };
        grain.push_bits(1, 2);
        grain.push_bits(0, 4);
        grain.push_bits(n, 12);
        grain.push_bits(t, 12);
        grain.push_bits(full_rounds, 10);
        grain.push_bits(partial_rounds, 10);
        grain.push_bits((1 << 30) - 1, 30);
        assert!(grain.filled == STATE_BITS);
        let mut i = 0;
        while i < 160 {
            grain.clock();
            i += 1;
        }
        grain
    }

    const fn push_bits(&mut self, value: u32, width: u32) {
        let mut i = 0;
        while i < width {
            let bit = (value >> (width - 1 - i)) & 1;
            self.state |= (bit as u128) << self.filled;
            self.filled += 1;
            i += 1;
        }
    }

    /// Shifts the register once and returns the new bit.
    const fn clock(&mut self) -> u32 {
        let mut new_bit = 0;
        let mut i = 0;
        while i < TAPS.len() {
            new_bit ^= ((self.state >> TAPS[i]) & 1) as u32;
            i += 1;
        }
        self.state = (self.state >> 1) | ((new_bit as u128) << (STATE_BITS - 1));
        new_bit
    }

    /// Self-shrinking output: read pairs `(a, b)` and emit `b` when `a = 1`.
    const fn next_bit(&mut self) -> u32 {
        loop {
            let a = self.clock();
            let b = self.clock();
            if a == 1 {
                return b;
            }
        }
    }

    /// A uniform element of M31: 31 bits, most significant first, rejecting values `>= p`.
    pub(crate) const fn next_m31(&mut self) -> M31 {
        loop {
            let mut value = 0u32;
            let mut i = 0;
            while i < 31 {
                value = (value << 1) | self.next_bit();
                i += 1;
            }
            if value < P {
                return M31(value);
            }
        }
    }
}
