//! Folding arithmetic and protocol shapes shared by prover and verifier.
//!
//! A codeword of an `n`-variable polynomial lives on the canonic circle domain of log size
//! `n + log_blowup`, in bit-reversed order. Round `t` of the opening folds the current layer
//! (log size `N + log_blowup - t`) in pairs of adjacent entries:
//! `fold(a, b) = (a + b) + alpha * (a - b) / tw`, where `tw` is the `y` coordinate of the
//! pair's first point for a circle layer and its `x` coordinate for a line layer. This is
//! STWO's `fold_circle_into_line` / `fold_line` (both keep the factor 2), and it fixes the
//! first remaining multilinear variable to `alpha`, times 2.

use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::circle::Coset;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::core::fields::FieldExpOps;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::poly::line::LineDomain;
use stwo::core::utils::bit_reverse_index;

use crate::config::PcsConfig;
use crate::proof::Claim;

/// Inverse of the `y` coordinate of the first point of circle pair `pair` (bit-reversed order)
/// of the canonic circle domain of log size `log_size`.
pub fn circle_twiddle(log_size: u32, pair: usize) -> M31 {
    let domain = CanonicCoset::new(log_size).circle_domain();
    domain
        .at(bit_reverse_index(pair << 1, log_size))
        .y
        .inverse()
}

/// Inverse of the `x` coordinate of the first point of line pair `pair` (bit-reversed order)
/// of the line domain `half_odds(log_size)`.
pub fn line_twiddle(log_size: u32, pair: usize) -> M31 {
    let domain = LineDomain::new(Coset::half_odds(log_size));
    domain.at(bit_reverse_index(pair << 1, log_size)).inverse()
}

/// `(a + b) + alpha * (a - b) * tw_inv`.
#[inline]
pub fn fold_pair(a: QM31, b: QM31, tw_inv: M31, alpha: QM31) -> QM31 {
    (a + b) + alpha * ((a - b) * tw_inv)
}

/// Folds the block of a layer of log size `log_size` that starts at `start` (even) once.
/// `circle` selects the circle twiddles (first fold of a polynomial's own codeword).
pub fn fold_block(
    values: &[QM31],
    start: usize,
    log_size: u32,
    circle: bool,
    alpha: QM31,
) -> Vec<QM31> {
    values
        .chunks_exact(2)
        .enumerate()
        .map(|(i, ab)| {
            let pair = (start >> 1) + i;
            let tw = if circle {
                circle_twiddle(log_size, pair)
            } else {
                line_twiddle(log_size, pair)
            };
            fold_pair(ab[0], ab[1], tw, alpha)
        })
        .collect()
}

/// `2^e` in M31.
pub fn pow2(e: usize) -> M31 {
    M31::from(2u32).pow(e as u128)
}

/// Shapes of a joint opening, all derived from the commitments' sizes and the config.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// Largest number of variables (number of fold rounds).
    pub n_rounds: usize,
    pub log_blowup: u32,
    pub arity: u32,
    /// Arity of the first group (also the polynomials' leaf size, capped at their size).
    pub first_arity: u32,
    /// Number of variables of each polynomial.
    pub sizes: Vec<usize>,
}

impl Schedule {
    pub fn new(sizes: &[usize], config: &PcsConfig) -> Self {
        Self {
            n_rounds: sizes.iter().copied().max().unwrap_or(0),
            log_blowup: config.log_blowup,
            arity: config.fold_arity_log,
            first_arity: config.first_fold_arity_log,
            sizes: sizes.to_vec(),
        }
    }

    /// Leaf arity (log of entries per leaf) of a polynomial's own tree.
    ///
    /// A polynomial joining at round `t` inside group `(t0, a)` needs leaves of at least
    /// `2^(a - (t - t0))` entries; `a - (t - t0) <= n_variables` and `a <= first_arity`.
    pub fn poly_leaf_log(n_variables: usize, config: &PcsConfig) -> u32 {
        config.first_fold_arity_log.min(n_variables as u32)
    }

    /// The round at which polynomial `j` joins the fold (its codeword is circle-folded and added).
    pub fn join_round(&self, j: usize) -> usize {
        self.n_rounds - self.sizes[j]
    }

    /// Log size of the layer entering round `t`.
    pub fn layer_log(&self, t: usize) -> u32 {
        (self.n_rounds - t) as u32 + self.log_blowup
    }

    /// The fold groups `(t0, a)`: rounds `t0 .. t0 + a`; the layer entering round `t0 > 0` is
    /// committed with leaves of `2^a` entries.
    pub fn groups(&self) -> Vec<(usize, u32)> {
        let n = self.n_rounds;
        if n == 0 {
            return Vec::new();
        }
        let first = (self.first_arity as usize).min(n);
        let k = self.arity as usize;
        std::iter::once((0, first as u32))
            .chain((first..n).step_by(k).map(|t0| (t0, k.min(n - t0) as u32)))
            .collect()
    }

    /// Rounds `t0 > 0` entering which a folded layer is committed (group starts), in order.
    pub fn commit_rounds(&self) -> Vec<usize> {
        self.groups()
            .into_iter()
            .skip(1)
            .map(|(t0, _)| t0)
            .collect()
    }
}

/// Mixes a Merkle root into the channel.
pub fn mix_root(channel: &mut Blake2sChannel, root: &[u8; 32]) {
    let words: Vec<u32> = root
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    channel.mix_u32s(&words);
}

/// Mixes the claims (shape, points and values) into the channel.
pub fn mix_claims(channel: &mut Blake2sChannel, claims: &[Vec<Claim>]) {
    channel.mix_u64(claims.len() as u64);
    for cs in claims {
        channel.mix_u64(cs.len() as u64);
        for c in cs {
            channel.mix_felts(&c.point);
            channel.mix_felts(&[c.value]);
        }
    }
}

/// Coefficients `[c0, c1, c2]` of `scale * eq(r, X) * (h0 + (h1 - h0) X)`.
pub fn eq_times_linear(scale: QM31, r: QM31, h0: QM31, h1: QM31) -> [QM31; 3] {
    let one = QM31::from(M31::from(1u32));
    let e0 = one - r;
    let e1 = r + r - one;
    let d = h1 - h0;
    [scale * e0 * h0, scale * (e0 * d + e1 * h0), scale * e1 * d]
}

/// Evaluates `c0 + c1 x + c2 x^2 + ...`.
pub fn eval_poly(coeffs: &[QM31], x: QM31) -> QM31 {
    coeffs
        .iter()
        .rev()
        .fold(QM31::from(M31::from(0u32)), |acc, &c| acc * x + c)
}
