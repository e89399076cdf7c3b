//! Fast sumcheck oracles for products of multilinear tables.
//!
//! [`ProductOracle`] represents `g(x) = prod_j t_j(x)` for 2 or 3 tables; its degree in each
//! variable is the number of tables. It plugs into STWO's `prove_batch`.

use num_traits::Zero;
use rayon::prelude::*;
use stwo::core::channel::Channel;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::prover::lookups::sumcheck::MultivariatePolyOracle;
use stwo::prover::lookups::utils::UnivariatePoly;

use crate::mle::fold_in_place;
use crate::proof::SumcheckProof;

const PAR_THRESHOLD: usize = 1 << 13;

/// `g(x) = prod_j tables[j](x)` over `{0,1}^n`, variable 0 = index MSB.
#[derive(Clone, Debug)]
pub struct ProductOracle {
    tables: Vec<Vec<QM31>>,
}

impl ProductOracle {
    /// # Panics
    /// Panics if the tables are empty, more than 3, of different or non-power-of-two lengths.
    pub fn new(tables: Vec<Vec<QM31>>) -> Self {
        assert!(!tables.is_empty() && tables.len() <= 3, "2 or 3 tables");
        let len = tables[0].len();
        assert!(len.is_power_of_two(), "table length must be a power of two");
        assert!(
            tables.iter().all(|t| t.len() == len),
            "tables differ in length"
        );
        Self { tables }
    }

    /// The tables' values once every variable is fixed (length-1 tables).
    pub fn final_values(&self) -> Vec<QM31> {
        self.tables.iter().map(|t| t[0]).collect()
    }

    fn degree(&self) -> usize {
        self.tables.len()
    }
}

/// Sum over the lower half-cube of `prod_j (lo_j + t (hi_j - lo_j))` at `t = 0, 2, .., degree`
/// (the first `degree` entries are meaningful). No allocation per point: the values at
/// `t = 2, 3` come from `lo` by adding the difference.
fn sums_at(tables: &[Vec<QM31>]) -> [QM31; 3] {
    let half = tables[0].len() / 2;
    let degree = tables.len();
    let term = |i: usize| -> [QM31; 3] {
        let mut prod = [QM31::from(M31::from(1)); 3];
        for tab in tables {
            let lo = tab[i];
            let diff = tab[i + half] - lo;
            let at2 = lo + diff + diff;
            prod[0] *= lo;
            prod[1] *= at2;
            if degree == 3 {
                prod[2] *= at2 + diff;
            }
        }
        prod
    };
    let add = |a: [QM31; 3], b: [QM31; 3]| [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
    if half >= PAR_THRESHOLD {
        (0..half)
            .into_par_iter()
            .with_min_len(1 << 11)
            .map(term)
            .reduce(|| [QM31::zero(); 3], add)
    } else {
        (0..half).map(term).fold([QM31::zero(); 3], add)
    }
}

impl MultivariatePolyOracle for ProductOracle {
    fn n_variables(&self) -> usize {
        self.tables[0].len().ilog2() as usize
    }

    fn sum_as_poly_in_first_variable(&self, claim: QM31) -> UnivariatePoly<QM31> {
        // Evaluate at 0, 2, 3, ... and derive the value at 1 from the claim.
        let ts: Vec<M31> = std::iter::once(0u32)
            .chain(2..=self.degree() as u32)
            .map(M31::from)
            .collect();
        let sums = sums_at(&self.tables);
        let mut xs = vec![QM31::from(M31::from(0)), QM31::from(M31::from(1))];
        let mut ys = vec![sums[0], claim - sums[0]];
        for (k, &t) in ts.iter().enumerate().skip(1) {
            xs.push(t.into());
            ys.push(sums[k]);
        }
        UnivariatePoly::interpolate_lagrange(&xs, &ys)
    }

    fn fix_first_variable(mut self, challenge: QM31) -> Self {
        for t in &mut self.tables {
            fold_in_place(t, challenge);
        }
        self
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
    let mut oracle = ProductOracle::new(tables);
    let mut claim = claim;
    let mut round_polys = Vec::with_capacity(oracle.n_variables());
    let mut point = Vec::with_capacity(oracle.n_variables());
    while oracle.n_variables() > 0 {
        let poly = oracle.sum_as_poly_in_first_variable(claim);
        channel.mix_felts(&poly);
        let challenge = channel.draw_secure_felt();
        claim = poly.eval_at_point(challenge);
        round_polys.push(poly.to_vec());
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
        fn product_sumcheck_works(n in 0usize..8, k in 2usize..4, seed in any::<u64>()) {
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
