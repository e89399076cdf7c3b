//! Fast sumcheck oracles for products of multilinear tables.
//!
//! [`ProductOracle`] represents `g(x) = prod_j t_j(x)` for 2 or 3 tables; its degree in each
//! variable is the number of tables. It plugs into STWO's `prove_batch`.

use num_traits::Zero;
use rayon::prelude::*;
use stwo::core::channel::Channel;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::prover::backend::simd::m31::N_LANES;
use stwo::prover::backend::simd::qm31::PackedQM31;
use stwo::prover::lookups::sumcheck::MultivariatePolyOracle;
use stwo::prover::lookups::utils::UnivariatePoly;

use crate::mle::fold_in_place;
use crate::proof::{RoundPoly, SumcheckProof};
use crate::simd::pack_secure;

/// Packed pairs per parallel task.
const TASK: usize = 1 << 8;

/// The tables, in STWO's packed SIMD form (16 lanes) while each half is at least one packed
/// vector, then as scalars.
#[derive(Clone, Debug)]
enum Tables {
    Packed(Vec<Vec<PackedQM31>>),
    Scalar(Vec<Vec<QM31>>),
}

/// `g(x) = prod_j tables[j](x)` over `{0,1}^n`, variable 0 = index MSB.
#[derive(Clone, Debug)]
pub struct ProductOracle {
    tables: Tables,
    n_variables: usize,
}

/// The tables' common power-of-two length.
///
/// # Panics
/// Panics if there are no tables or more than 3, or their lengths differ or are not powers of
/// two (caller bugs).
fn common_length<T>(tables: &[Vec<T>]) -> usize {
    assert!(!tables.is_empty() && tables.len() <= 3, "1 to 3 tables");
    let len = tables[0].len();
    assert!(len.is_power_of_two(), "table length must be a power of two");
    assert!(
        tables.iter().all(|t| t.len() == len),
        "tables differ in length"
    );
    len
}

impl ProductOracle {
    /// # Panics
    /// Panics if the tables are empty, more than 3, of different or non-power-of-two lengths.
    pub fn new(tables: Vec<Vec<QM31>>) -> Self {
        let len = common_length(&tables);
        let tables = if len >= 2 * N_LANES {
            Tables::Packed(tables.iter().map(|t| pack_secure(t)).collect())
        } else {
            Tables::Scalar(tables)
        };
        Self {
            tables,
            n_variables: len.ilog2() as usize,
        }
    }

    /// The oracle on tables already in packed form (`2^n / 16` vectors each, `n >= 4`, e.g.
    /// from [`crate::simd::lift_base`] and [`crate::simd::eq_evals_packed`]): no conversion.
    ///
    /// # Panics
    /// Panics if the tables are empty, more than 3, of different or non-power-of-two lengths.
    pub fn from_packed(tables: Vec<Vec<PackedQM31>>) -> Self {
        let len = common_length(&tables);
        let n_variables = (len * N_LANES).ilog2() as usize;
        let tables = if len >= 2 {
            Tables::Packed(tables)
        } else {
            Tables::Scalar(tables.iter().map(|t| unpack(t)).collect())
        };
        Self {
            tables,
            n_variables,
        }
    }

    /// The tables' values once every variable is fixed (length-1 tables).
    pub fn final_values(&self) -> Vec<QM31> {
        match &self.tables {
            Tables::Scalar(t) => t.iter().map(|t| t[0]).collect(),
            Tables::Packed(t) => t.iter().map(|t| t[0].to_array()[0]).collect(),
        }
    }

    fn degree(&self) -> usize {
        match &self.tables {
            Tables::Scalar(t) => t.len(),
            Tables::Packed(t) => t.len(),
        }
    }
}

/// `prod_j (lo_j + t (hi_j - lo_j))` at `t = 0, 2, 3` for the pair at `i` and `i + half` (the
/// value at 3 only with 3 tables); the values at 2 and 3 come from `lo` by adding the
/// difference. The first table's values start the products (no multiplication by one).
#[inline]
fn pair_products<F>(tables: &[Vec<F>], i: usize, half: usize) -> [F; 3]
where
    F: Copy + std::ops::Add<Output = F> + std::ops::Sub<Output = F> + std::ops::Mul<Output = F>,
{
    let at = |tab: &Vec<F>| {
        let lo = tab[i];
        let diff = tab[i + half] - lo;
        let at2 = lo + diff + diff;
        (lo, at2, diff)
    };
    let (lo, at2, diff) = at(&tables[0]);
    let cubic = tables.len() == 3;
    let mut prod = [lo, at2, if cubic { at2 + diff } else { lo }];
    for tab in &tables[1..] {
        let (lo, at2, diff) = at(tab);
        prod[0] = prod[0] * lo;
        prod[1] = prod[1] * at2;
        if cubic {
            prod[2] = prod[2] * (at2 + diff);
        }
    }
    prod
}

fn add3<F: Copy + std::ops::Add<Output = F>>(a: [F; 3], b: [F; 3]) -> [F; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// Sum over the lower half-cube of the products at `t = 0, 2, 3`.
fn sums_at(tables: &Tables) -> [QM31; 3] {
    match tables {
        Tables::Scalar(t) => {
            let half = t[0].len() / 2;
            (0..half)
                .map(|i| pair_products(t, i, half))
                .fold([QM31::zero(); 3], add3)
        }
        Tables::Packed(t) => {
            let half = t[0].len() / 2;
            let packed = if half < 2 * TASK {
                (0..half)
                    .map(|i| pair_products(t, i, half))
                    .fold([PackedQM31::zero(); 3], add3)
            } else {
                (0..half)
                    .into_par_iter()
                    .with_min_len(TASK)
                    .map(|i| pair_products(t, i, half))
                    .reduce(|| [PackedQM31::zero(); 3], add3)
            };
            packed.map(PackedQM31::pointwise_sum)
        }
    }
}

/// Binds the most significant variable of every table to `r`.
fn fold_tables(tables: Tables, r: QM31) -> Tables {
    match tables {
        Tables::Scalar(mut t) => {
            for v in &mut t {
                fold_in_place(v, r);
            }
            Tables::Scalar(t)
        }
        Tables::Packed(mut t) => {
            let half = t[0].len() / 2;
            let rb = PackedQM31::broadcast(r);
            for v in &mut t {
                let (lo, hi) = v.split_at_mut(half);
                if half < 2 * TASK {
                    lo.iter_mut()
                        .zip(&*hi)
                        .for_each(|(l, &h)| *l += (h - *l) * rb);
                } else {
                    lo.par_iter_mut()
                        .zip(hi.par_iter())
                        .with_min_len(TASK)
                        .for_each(|(l, &h)| *l += (h - *l) * rb);
                }
                v.truncate(half);
            }
            if half >= 2 {
                Tables::Packed(t)
            } else {
                Tables::Scalar(t.iter().map(|v| unpack(v)).collect())
            }
        }
    }
}

fn unpack(v: &[PackedQM31]) -> Vec<QM31> {
    v.iter().flat_map(|p| p.to_array()).collect()
}

/// The round polynomial of degree `degree` from its values at `0, 2, 3` (`sums`, the first
/// `degree` of them meaningful) and the round's claim (its value at 0 plus its value at 1).
pub(crate) fn round_poly(sums: [QM31; 3], claim: QM31, degree: usize) -> UnivariatePoly<QM31> {
    let mut ys = vec![sums[0], claim - sums[0]];
    if degree == 1 {
        return UnivariatePoly::new(vec![ys[0], ys[1] - ys[0]]);
    }
    ys.extend_from_slice(&sums[1..degree]);
    interpolate_small(&ys)
}

/// The coefficients of the polynomial of degree `ys.len() - 1` (2 or 3) with values `ys` at
/// `0, 1, 2, (3)`, from its finite differences (no inversions at run time).
fn interpolate_small(ys: &[QM31]) -> UnivariatePoly<QM31> {
    let inv2 = QM31::from(M31::from(2).inverse());
    let d1 = ys[1] - ys[0];
    let d2 = ys[2] - ys[1] - ys[1] + ys[0];
    if ys.len() == 3 {
        let c2 = d2 * inv2;
        return UnivariatePoly::new(vec![ys[0], d1 - c2, c2]);
    }
    let inv3 = QM31::from(M31::from(3).inverse());
    let inv6 = inv2 * inv3;
    let d3 = ys[3] - ys[0] + (ys[1] - ys[2]) * QM31::from(M31::from(3));
    UnivariatePoly::new(vec![
        ys[0],
        d1 - d2 * inv2 + d3 * inv3,
        (d2 - d3) * inv2,
        d3 * inv6,
    ])
}

impl MultivariatePolyOracle for ProductOracle {
    fn n_variables(&self) -> usize {
        self.n_variables
    }

    fn sum_as_poly_in_first_variable(&self, claim: QM31) -> UnivariatePoly<QM31> {
        // Evaluate at 0, 2, 3, ... and derive the value at 1 from the claim.
        round_poly(sums_at(&self.tables), claim, self.degree())
    }

    fn fix_first_variable(self, challenge: QM31) -> Self {
        Self {
            tables: fold_tables(self.tables, challenge),
            n_variables: self.n_variables - 1,
        }
    }
}

/// Proves `claim = sum_x prod_j tables[j](x)`. Returns the proof, the challenge point and the
/// tables' values at that point.
///
/// Unlike STWO's `prove_batch`, this driver never asserts that the claim is true: run on a false
/// claim it produces a proof that the verifier rejects, which is what adversarial tests need.
/// The transcript is the same as `prove_batch`'s for one polynomial (round polynomial mixed,
/// then one challenge drawn per round).
pub fn prove_product(
    claim: QM31,
    tables: Vec<Vec<QM31>>,
    channel: &mut impl Channel,
) -> (SumcheckProof, Vec<QM31>, Vec<QM31>) {
    prove_oracle(claim, ProductOracle::new(tables), channel)
}

/// [`prove_product`] on tables already packed ([`ProductOracle::from_packed`]).
pub fn prove_product_packed(
    claim: QM31,
    tables: Vec<Vec<PackedQM31>>,
    channel: &mut impl Channel,
) -> (SumcheckProof, Vec<QM31>, Vec<QM31>) {
    prove_oracle(claim, ProductOracle::from_packed(tables), channel)
}

fn prove_oracle(
    claim: QM31,
    oracle: ProductOracle,
    channel: &mut impl Channel,
) -> (SumcheckProof, Vec<QM31>, Vec<QM31>) {
    let n = oracle.n_variables();
    prove_rest(
        claim,
        oracle,
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        channel,
    )
}

/// The remaining rounds of a product sumcheck whose first rounds gave `round_polys` and
/// `point` and left `claim` on `oracle`.
pub(crate) fn prove_rest(
    mut claim: QM31,
    mut oracle: ProductOracle,
    mut round_polys: Vec<RoundPoly>,
    mut point: Vec<QM31>,
    channel: &mut impl Channel,
) -> (SumcheckProof, Vec<QM31>, Vec<QM31>) {
    while oracle.n_variables() > 0 {
        let poly = oracle.sum_as_poly_in_first_variable(claim);
        channel.mix_felts(&poly);
        let challenge = channel.draw_secure_felt();
        claim = poly.eval_at_point(challenge);
        round_polys.push(RoundPoly::new(poly.to_vec()));
        point.push(challenge);
        oracle = oracle.fix_first_variable(challenge);
    }
    (SumcheckProof { round_polys }, point, oracle.final_values())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mle::eval_mle;
    use crate::verifier::{verify, SumcheckError};
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use stwo::core::channel::Blake2sChannel;

    fn rand_table(rng: &mut impl Rng, n: usize) -> Vec<QM31> {
        (0..1 << n)
            .map(|_| {
                QM31::from_m31(
                    M31::from(rng.gen_range(0..1u32 << 30)),
                    M31::from(rng.gen_range(0..1u32 << 30)),
                    M31::from(0),
                    M31::from(rng.gen_range(0..5u32)),
                )
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn product_sumcheck_works(n in 0usize..11, k in 2usize..4, seed in any::<u64>()) {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let tables: Vec<Vec<QM31>> = (0..k).map(|_| rand_table(&mut rng, n)).collect();
            let claim: QM31 = (0..1 << n).map(|i| tables.iter().map(|t| t[i]).product::<QM31>()).sum();
            let mut pc = Blake2sChannel::default();
            let (proof, point, finals) = prove_product(claim, tables.clone(), &mut pc);
            let mut vc = Blake2sChannel::default();
            let (vpoint, vclaim) = verify(claim, &proof, n, k, &mut vc).unwrap();
            prop_assert_eq!(&vpoint, &point);
            for (t, f) in tables.iter().zip(&finals) {
                prop_assert_eq!(eval_mle(t, &point), *f);
            }
            prop_assert_eq!(vclaim, finals.iter().copied().product::<QM31>());
        }
    }

    #[test]
    fn packed_tables_give_the_same_proof() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        // 15 variables take the parallel paths.
        for n in [4usize, 5, 15] {
            let tables: Vec<Vec<QM31>> = (0..3).map(|_| rand_table(&mut rng, n)).collect();
            let claim: QM31 = (0..1 << n)
                .map(|i| tables.iter().map(|t| t[i]).product::<QM31>())
                .sum();
            let packed = tables.iter().map(|t| crate::simd::pack_secure(t)).collect();
            let a = prove_product(claim, tables, &mut Blake2sChannel::default());
            let b = prove_product_packed(claim, packed, &mut Blake2sChannel::default());
            assert_eq!(a, b, "n = {n}");
            let mut vc = Blake2sChannel::default();
            let (_, vclaim) = verify(claim, &a.0, n, 3, &mut vc).unwrap();
            assert_eq!(vclaim, a.2.iter().copied().product::<QM31>());
        }
    }

    #[test]
    fn wrong_claim_fails() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = rand_table(&mut rng, 5);
        let b = rand_table(&mut rng, 5);
        let claim: QM31 = a.iter().zip(&b).map(|(x, y)| *x * *y).sum();
        let mut pc = Blake2sChannel::default();
        let (proof, _, _) = prove_product(claim, vec![a, b], &mut pc);
        let bad = claim + QM31::from(M31::from(1));
        let mut vc = Blake2sChannel::default();
        assert_eq!(
            verify(bad, &proof, 5, 2, &mut vc).unwrap_err(),
            SumcheckError::RoundSumMismatch { round: 0 }
        );
        let mut vc = Blake2sChannel::default();
        assert!(matches!(
            verify(claim, &proof, 6, 2, &mut vc),
            Err(SumcheckError::WrongRoundCount { .. })
        ));
        let mut vc = Blake2sChannel::default();
        assert!(matches!(
            verify(claim, &proof, 5, 1, &mut vc),
            Err(SumcheckError::DegreeTooHigh { .. })
        ));
    }
}
