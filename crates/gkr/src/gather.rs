//! Row gathers through a public map: `Y = S . X` where `S` is a sparse 0/1 matrix known to
//! both sides, with the gathered rows of `X` placed in column blocks (im2col and window sums
//! of convolutions and pools).
//!
//! `X` is `2^log_rows_x x 2^log_cols_x` (padded). The map is a list of entries
//! `(out_row, block, in_row)`: row `in_row` of `X` is added into block `block` of output row
//! `out_row`, block `b` being columns `b 2^log_cols_x ..`. With `r = (r_o, r_b, r_c)`,
//!
//! `Y(r_o, r_b, r_c) = sum_i M(r_o, r_b, i) X(i, r_c)`, where
//! `M(r_o, r_b, i) = sum_{(o, b, i) in map} eq(r_o, o) eq(r_b, b)`.
//!
//! One degree-2 sumcheck over the `log_rows_x` row variables of `X` ends at a random `rho`
//! with the claim `X(rho, r_c)`; the verifier computes `M(r_o, r_b, rho)` itself from the map
//! with three `eq` tables, in time linear in the number of entries. No weights, no commitment.

use serde::{Deserialize, Serialize};
use stwo::core::channel::{Blake2sChannel, Channel};
#[cfg(feature = "prover")]
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use sumcheck::SumcheckProof;

use crate::claim::Claim;
use crate::error::GkrError;

/// The public map of a gather: calls its argument once per entry `(out_row, block, in_row)`.
pub type GatherMap<'a> = dyn Fn(&mut dyn FnMut(usize, usize, usize)) + 'a;

/// `log2` of the padded sizes of a gather.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatherDims {
    /// Padded rows of the output.
    pub log_rows_out: usize,
    /// Padded column blocks of the output (0: one block, as wide as `X`).
    pub log_blocks: usize,
    pub log_rows_x: usize,
    pub log_cols_x: usize,
}

impl GatherDims {
    fn claim_vars(&self) -> usize {
        self.log_rows_out + self.log_blocks + self.log_cols_x
    }

    /// `(r_o, r_b, r_c)` of a claim on the output.
    fn split<'a>(&self, point: &'a [QM31]) -> (&'a [QM31], &'a [QM31], &'a [QM31]) {
        let (r_o, rest) = point.split_at(self.log_rows_out);
        let (r_b, r_c) = rest.split_at(self.log_blocks);
        (r_o, r_b, r_c)
    }
}

/// The prover's messages for one gather.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatherProof {
    pub sumcheck: SumcheckProof,
    /// `X(rho, r_c)`.
    #[serde(with = "sumcheck::felt::qm31")]
    pub x_eval: QM31,
}

/// `M(r_o, r_b, i)` for every `i`: the map folded by the claim's row and block points.
#[cfg(feature = "prover")]
fn folded_map(dims: &GatherDims, r_o: &[QM31], r_b: &[QM31], map: &GatherMap) -> Vec<QM31> {
    let (eq_o, eq_b) = (sumcheck::eq_evals(r_o), sumcheck::eq_evals(r_b));
    let mut m = vec![QM31::default(); 1 << dims.log_rows_x];
    map(&mut |o, b, i| m[i] += eq_o[o] * eq_b[b]);
    m
}

/// Whether every entry of the map lies inside the padded tables.
fn map_fits(dims: &GatherDims, map: &GatherMap) -> bool {
    let mut ok = true;
    map(&mut |o, b, i| {
        ok &= o >> dims.log_rows_out == 0 && b >> dims.log_blocks == 0 && i >> dims.log_rows_x == 0
    });
    ok
}

/// Proves a claim on `Y = gather(X)`. `x` is the padded row-major table of `X`; `map` calls
/// its argument once per entry `(out_row, block, in_row)`.
///
/// # Panics
/// Panics if the table, the claim or the map do not fit `dims` (a caller bug).
#[cfg(feature = "prover")]
pub fn prove(
    x: &[M31],
    dims: GatherDims,
    map: &GatherMap,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (GatherProof, Claim) {
    assert_eq!(x.len(), 1 << (dims.log_rows_x + dims.log_cols_x), "X size");
    assert_eq!(claim.point.len(), dims.claim_vars(), "claim dimension");
    assert!(map_fits(&dims, map), "gather map outside the tables");
    let (r_o, r_b, r_c) = dims.split(&claim.point);
    let x_vec = sumcheck::simd::rows_dot(x, 1 << dims.log_cols_x, &sumcheck::eq_evals(r_c));
    let m_vec = folded_map(&dims, r_o, r_b, map);
    let (sumcheck, rho, finals) =
        sumcheck::oracle::prove_product(claim.value, vec![x_vec, m_vec], channel);
    let x_eval = finals[0];
    channel.mix_felts(&[x_eval]);
    let point = [rho.as_slice(), r_c].concat();
    (GatherProof { sumcheck, x_eval }, Claim::new(point, x_eval))
}

/// Verifier side of [`prove`]: checks the sumcheck against `M(r_o, r_b, rho)` computed from
/// the map; returns the claim on `X`.
pub fn verify(
    proof: &GatherProof,
    dims: GatherDims,
    map: &GatherMap,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<Claim, GkrError> {
    if claim.point.len() != dims.claim_vars() {
        return Err(GkrError::PointDimension {
            expected: dims.claim_vars(),
            got: claim.point.len(),
        });
    }
    if !map_fits(&dims, map) {
        return Err(GkrError::FinalEvalMismatch {
            layer: "gather (map outside the tables)",
        });
    }
    let (r_o, r_b, r_c) = dims.split(&claim.point);
    let (rho, final_claim) =
        sumcheck::verify(claim.value, &proof.sumcheck, dims.log_rows_x, 2, channel).map_err(
            |source| GkrError::Sumcheck {
                layer: "gather",
                source,
            },
        )?;
    let eq_rho = sumcheck::eq_evals(&rho);
    let (eq_o, eq_b) = (sumcheck::eq_evals(r_o), sumcheck::eq_evals(r_b));
    let mut m_eval = QM31::default();
    map(&mut |o, b, i| m_eval += eq_o[o] * eq_b[b] * eq_rho[i]);
    if proof.x_eval * m_eval != final_claim {
        return Err(GkrError::FinalEvalMismatch { layer: "gather" });
    }
    channel.mix_felts(&[proof.x_eval]);
    Ok(Claim::new([rho.as_slice(), r_c].concat(), proof.x_eval))
}

#[cfg(all(test, feature = "prover"))]
mod tests {
    use super::*;
    use num_traits::One;
    use sumcheck::eval_mle_base;

    fn pt(n: usize, seed: u32) -> Vec<QM31> {
        (0..n as u32)
            .map(|i| QM31::from_u32_unchecked(i * 7 + seed, 3 + seed, 1, i))
            .collect()
    }

    /// 5 real rows of 3 columns (8 x 4 padded); output 3 rows x 2 blocks (4 x 2 blocks x 4).
    type Entries = Vec<(usize, usize, usize)>;

    fn case() -> (Vec<M31>, GatherDims, Entries, Vec<M31>) {
        let mut x = vec![M31::from(0); 32];
        for r in 0..5 {
            for c in 0..3 {
                x[r * 4 + c] = M31::from((r * 10 + c + 1) as u32);
            }
        }
        let entries = vec![(0, 0, 1), (0, 1, 4), (1, 0, 0), (1, 0, 2), (2, 1, 3)];
        let dims = GatherDims {
            log_rows_out: 2,
            log_blocks: 1,
            log_rows_x: 3,
            log_cols_x: 2,
        };
        let mut y = vec![M31::from(0); 32];
        for &(o, b, i) in &entries {
            for c in 0..4 {
                y[o * 8 + b * 4 + c] += x[i * 4 + c];
            }
        }
        (x, dims, entries, y)
    }

    #[test]
    fn gather_reduction_works_and_rejects_wrong_claims() {
        let (x, dims, entries, y) = case();
        let map = |f: &mut dyn FnMut(usize, usize, usize)| {
            entries.iter().for_each(|&(o, b, i)| f(o, b, i))
        };
        let claim = Claim::new(pt(5, 1), eval_mle_base(&y, &pt(5, 1)));
        let (proof, cx) = prove(&x, dims, &map, &claim, &mut Blake2sChannel::default());
        assert_eq!(eval_mle_base(&x, &cx.point), cx.value);
        let v = verify(&proof, dims, &map, &claim, &mut Blake2sChannel::default()).unwrap();
        assert_eq!(v, cx);

        // A wrong output value, a tampered evaluation, another map: all rejected.
        let bad = Claim::new(claim.point.clone(), claim.value + QM31::one());
        assert!(verify(&proof, dims, &map, &bad, &mut Blake2sChannel::default()).is_err());
        let mut forged = proof.clone();
        forged.x_eval += QM31::one();
        assert!(verify(&forged, dims, &map, &claim, &mut Blake2sChannel::default()).is_err());
        let other = |f: &mut dyn FnMut(usize, usize, usize)| {
            entries.iter().for_each(|&(o, b, i)| f(o, b, (i + 1) % 5))
        };
        assert!(verify(&proof, dims, &other, &claim, &mut Blake2sChannel::default()).is_err());
        // A map that leaves the tables is refused, not indexed.
        let outside = |f: &mut dyn FnMut(usize, usize, usize)| f(0, 0, 8);
        assert!(verify(
            &proof,
            dims,
            &outside,
            &claim,
            &mut Blake2sChannel::default()
        )
        .is_err());
    }
}
