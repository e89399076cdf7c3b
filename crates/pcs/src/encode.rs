//! Encoding and commitment: evaluations -> multilinear monomial coefficients (Moebius
//! transform) -> circle-FFT basis coefficients -> Reed-Solomon codeword on the canonic circle
//! domain of log size `n + log_blowup` (bit-reversed) -> Merkle tree with `2^a`-entry leaves.

use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::vcs::blake2_merkle::Blake2sMerkleHasher;
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::fft::CACHED_FFT_LOG_SIZE;
use stwo::prover::backend::simd::m31::{PackedM31, LOG_N_LANES, N_LANES};
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::Column;
use stwo::prover::poly::circle::{CircleCoefficients, PolyOps};
use stwo::prover::poly::twiddles::TwiddleTree;
use stwo::prover::vcs::prover::MerkleProver;

use crate::config::PcsConfig;
use crate::error::PcsError;
use crate::fold::{pow2, Schedule};
use crate::proof::PolyCommitment;

pub(crate) type Tree = MerkleProver<SimdBackend, Blake2sMerkleHasher>;

/// Prover-side data of a committed polynomial.
pub struct CommittedPoly {
    pub(crate) evals: Vec<M31>,
    pub(crate) n_variables: usize,
    pub(crate) config: PcsConfig,
    /// The codeword (bit-reversed circle evaluation, `2^(n + log_blowup)` entries) as `2^a`
    /// Merkle columns: column `e` holds entries `row * 2^a + e`.
    pub(crate) columns: Vec<BaseColumn>,
    pub(crate) tree: Tree,
}

impl std::fmt::Debug for CommittedPoly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommittedPoly")
            .field("n_variables", &self.n_variables)
            .field("commitment", &self.commitment())
            .finish()
    }
}

impl CommittedPoly {
    pub fn commitment(&self) -> PolyCommitment {
        PolyCommitment {
            root: self.tree.root().0,
            n_variables: self.n_variables as u32,
        }
    }
    pub fn n_variables(&self) -> usize {
        self.n_variables
    }
    pub fn evals(&self) -> &[M31] {
        &self.evals
    }
    pub fn config(&self) -> &PcsConfig {
        &self.config
    }

    /// Test hook: overwrites evaluation `i` *after* the commitment (a cheating prover).
    #[cfg(test)]
    pub fn tamper_eval(&mut self, i: usize, v: M31) {
        self.evals[i] = v;
    }

    /// Test hook: overwrites codeword entry `i` (bit-reversed index) after the commitment.
    #[cfg(test)]
    pub fn tamper_codeword(&mut self, i: usize, v: M31) {
        let leaf_log = self.columns.len().trailing_zeros();
        self.columns[i & ((1 << leaf_log) - 1)].set(i >> leaf_log, v);
    }

    /// Test hook: re-encodes the current (tampered) evaluations without re-committing, i.e. a
    /// prover that opens a consistent codeword of another polynomial under the old root.
    #[cfg(test)]
    pub fn reencode_without_recommit(&mut self) {
        let log_blowup = self.config.log_blowup;
        let twiddles = twiddles_for(self.n_variables as u32 + log_blowup);
        let codeword = encode(&self.evals, log_blowup, &twiddles);
        let leaf_log = self.columns.len().trailing_zeros();
        self.columns = base_columns(codeword.as_slice(), leaf_log);
    }

    /// The codeword entry `i` (bit-reversed circle evaluation order).
    #[cfg(test)]
    pub fn codeword_at(&self, i: usize) -> M31 {
        let leaf_log = self.columns.len().trailing_zeros();
        self.columns[i & ((1 << leaf_log) - 1)].at(i >> leaf_log)
    }
}

/// Multilinear monomial coefficients of the MLE of `evals` (index bit `n-1-i` <-> variable `i`).
pub fn moebius(evals: &[M31]) -> Vec<M31> {
    let mut c = evals.to_vec();
    let n = c.len().trailing_zeros();
    const BLOCK_LOG: u32 = 12;
    let low = n.min(BLOCK_LOG);
    c.par_chunks_mut(1 << low).for_each(|block| {
        for h in 0..low {
            let s = 1usize << h;
            for chunk in block.chunks_mut(2 * s) {
                let (lo, hi) = chunk.split_at_mut(s);
                hi.iter_mut().zip(lo.iter()).for_each(|(b, a)| *b -= *a);
            }
        }
    });
    for h in low..n {
        let s = 1usize << h;
        c.par_chunks_mut(2 * s).for_each(|chunk| {
            let (lo, hi) = chunk.split_at_mut(s);
            hi.par_iter_mut()
                .zip(lo.par_iter())
                .with_min_len(1 << 12)
                .for_each(|(b, a)| *b -= *a);
        });
    }
    c
}

/// Codeword domains up to this log size keep their twiddles for the life of the process (at
/// most about 64 MiB in all); larger ones, whose twiddles would weigh on the prover's peak
/// memory, are computed when needed and dropped.
const CACHED_TWIDDLES_LOG: u32 = 22;

static TWIDDLE_CACHE: Mutex<Vec<(u32, Arc<TwiddleTree<SimdBackend>>)>> = Mutex::new(Vec::new());

/// Twiddles for the codeword domain of log size `log_size`.
pub(crate) fn twiddles_for(log_size: u32) -> Arc<TwiddleTree<SimdBackend>> {
    let compute = || {
        Arc::new(SimdBackend::precompute_twiddles(
            CanonicCoset::new(log_size).half_coset(),
        ))
    };
    if log_size > CACHED_TWIDDLES_LOG {
        return compute();
    }
    // A poisoned lock only means another thread panicked while holding it; the list of
    // computed trees is still valid.
    let mut cache = TWIDDLE_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, tw)) = cache.iter().find(|(l, _)| *l == log_size) {
        return Arc::clone(tw);
    }
    let tw = compute();
    cache.push((log_size, Arc::clone(&tw)));
    tw
}

/// Position map from multilinear monomial index to FFT-basis coefficient index.
///
/// STWO's circle basis is the tensor product `y, x, pi(x), ...`; coefficient index bit `p`
/// (counted from the most significant) carries factor `M[p]` with
/// `M = [pi^(n-2)(x), ..., x, y]`, and the first fold removes `y`. Monomial variable `v`
/// (index bit `n-1-v`) must carry `M[n-1-v]`, so fold `t` fixes variable `t`: for the CPU
/// layout this is a bit reversal. For `n > CACHED_FFT_LOG_SIZE` STWO's SIMD FFT transposes in
/// the middle and its coefficient layout swaps two blocks of `M` (see `slow_eval_at_point` in
/// STWO's SIMD backend); `sigma` below is that swap. (Checked by `encoding_folds_to_mle`.)
pub(crate) fn fft_index_map(n: u32) -> impl Fn(usize) -> usize + Sync {
    let n_us = n as usize;
    let sigma = |p: usize| -> usize {
        if n <= CACHED_FFT_LOG_SIZE {
            return p;
        }
        let m = n_us - LOG_N_LANES as usize;
        let (n0, n1) = (m / 2, m.div_ceil(2));
        if p < n0 {
            p + n1
        } else if p >= n1 && p < n1 + n0 {
            p - n1
        } else {
            p
        }
    };
    // Destination bit (from the LSB) of source bit q.
    let dest: Vec<usize> = (0..n_us).map(|q| n_us - 1 - sigma(q)).collect();
    bit_permutation(dest)
}

/// The inverse of [`fft_index_map`]: the monomial index whose coefficient lands at FFT-basis
/// index `j` (so the reordering can be a parallel gather).
pub(crate) fn fft_index_map_inverse(n: u32) -> impl Fn(usize) -> usize + Sync {
    let forward = fft_index_map(n);
    // The map is a bit permutation: source bit q goes to the bit `forward(1 << q)` names.
    let mut dest_inv = vec![0usize; n as usize];
    for q in 0..n as usize {
        dest_inv[forward(1 << q).trailing_zeros() as usize] = q;
    }
    bit_permutation(dest_inv)
}

/// `i -> sum_q bit_q(i) << dest[q]`, through two half-width lookup tables.
fn bit_permutation(dest: Vec<usize>) -> impl Fn(usize) -> usize + Sync {
    let n_us = dest.len();
    let lo_bits = n_us / 2;
    let table = |range: std::ops::Range<usize>| -> Vec<usize> {
        let width = range.len();
        (0..1usize << width)
            .map(|x| {
                (0..width)
                    .filter(|b| x >> b & 1 == 1)
                    .map(|b| 1usize << dest[range.start + b])
                    .sum()
            })
            .collect()
    };
    let lo = table(0..lo_bits);
    let hi = table(lo_bits..n_us);
    move |i: usize| lo[i & ((1 << lo_bits) - 1)] | hi[i >> lo_bits]
}

/// Reed-Solomon codeword of the MLE of `evals` (bit-reversed circle evaluation).
pub(crate) fn encode(
    evals: &[M31],
    log_blowup: u32,
    twiddles: &TwiddleTree<SimdBackend>,
) -> BaseColumn {
    let n = evals.len().trailing_zeros();
    // The monomial and reordered copies are dropped before the evaluation allocates the
    // codeword (a 2^26-entry chunk's commitment is a few GiB at its peak).
    let coefficients = {
        let mono = moebius(evals);
        let inverse = fft_index_map_inverse(n);
        if mono.len() < N_LANES {
            let fft: Vec<M31> = (0..mono.len()).map(|j| mono[inverse(j)]).collect();
            BaseColumn::from_cpu(&fft)
        } else {
            // Gathered straight into packed vectors: no unpacked copy.
            let data: Vec<PackedM31> = (0..mono.len() / N_LANES)
                .into_par_iter()
                .map(|p| {
                    PackedM31::from_array(std::array::from_fn(|l| mono[inverse(p * N_LANES + l)]))
                })
                .collect();
            BaseColumn {
                data,
                length: mono.len(),
            }
        }
    };
    let poly = CircleCoefficients::<SimdBackend>::new(coefficients);
    let domain = CanonicCoset::new(n + log_blowup).circle_domain();
    poly.evaluate_with_twiddles(domain, twiddles).values
}

/// The committed folded layer entering round `t` (after `t` folds), computed from the folded
/// hypercube table `table` (`2^m` entries, `m = n - t`) instead of by folding the codeword:
/// folding fixes the leading variables, so the layer is `2^t` times the line-domain
/// Reed-Solomon encoding of `table`'s MLE. That line polynomial (basis `x, pi(x), ...`) is
/// evaluated as the circle polynomial with no `y` terms on the canonic domain of log size
/// `m + 1 + log_blowup`, whose even (bit-reversed) entries are the layer's entries in fold
/// order. Returns the four coordinate evaluations (full circle domain, `2^(m+1+log_blowup)`).
/// (Checked against the codeword fold by `layer_encoding_matches_fold`.)
pub(crate) fn encode_layer(
    table: &[QM31],
    t: usize,
    log_blowup: u32,
    twiddles: &TwiddleTree<SimdBackend>,
) -> Vec<BaseColumn> {
    let m = table.len().trailing_zeros();
    let scale = pow2(t);
    let map = fft_index_map(m + 1);
    let domain = CanonicCoset::new(m + 1 + log_blowup).circle_domain();
    (0..4)
        .into_par_iter()
        .map(|c| {
            let coord: Vec<M31> = table.iter().map(|v| v.to_m31_array()[c]).collect();
            let mono = moebius(&coord);
            let mut fft = vec![M31::from(0u32); 2 * mono.len()];
            for (i, &v) in mono.iter().enumerate() {
                fft[map(i)] = v * scale;
            }
            let poly = CircleCoefficients::<SimdBackend>::new(BaseColumn::from_cpu(&fft));
            poly.evaluate_with_twiddles(domain, twiddles).values
        })
        .collect()
}

/// Merkle columns of a layer from [`encode_layer`]'s output: `4 * 2^leaf_log` columns, column
/// `4 e + c` holding coordinate `c` of entries `row * 2^leaf_log + e` (entry `i` is circle
/// evaluation entry `2 i`).
pub(crate) fn layer_columns(coords: &[BaseColumn], leaf_log: u32) -> Vec<BaseColumn> {
    let w = 1usize << leaf_log;
    let rows = coords.first().map_or(0, |c| c.len()) >> (leaf_log + 1);
    (0..4 * w)
        .into_par_iter()
        .map(|j| {
            let (e, c) = (j / 4, j % 4);
            let src = coords[c].as_slice();
            let col: Vec<M31> = (0..rows).map(|r| src[2 * (r * w + e)]).collect();
            BaseColumn::from_cpu(&col)
        })
        .collect()
}

/// Splits a layer into `2^a` strided Merkle columns (column `e` holds entries `r * 2^a + e`).
/// Works on blocks of rows so that the source is read once, sequentially.
pub(crate) fn base_columns(values: &[M31], leaf_log: u32) -> Vec<BaseColumn> {
    /// Packed rows (16 rows each) per parallel task.
    const GROUPS: usize = 1 << 6;
    let w = 1usize << leaf_log;
    let rows = values.len() >> leaf_log;
    if !rows.is_multiple_of(N_LANES) {
        return (0..w)
            .map(|e| (0..rows).map(|r| values[r * w + e]).collect())
            .collect();
    }
    // Built straight into packed form: each task reads a block of whole rows once and writes
    // one packed vector (16 rows) per column at a time.
    let packed_rows = rows / N_LANES;
    let zero = PackedM31::broadcast(M31::from(0u32));
    let mut cols: Vec<Vec<PackedM31>> = vec![vec![zero; packed_rows]; w];
    let mut per_chunk: Vec<Vec<&mut [PackedM31]>> = (0..packed_rows.div_ceil(GROUPS))
        .map(|_| Vec::with_capacity(w))
        .collect();
    for col in cols.iter_mut() {
        for (c, part) in col.chunks_mut(GROUPS).enumerate() {
            per_chunk[c].push(part);
        }
    }
    per_chunk
        .into_par_iter()
        .enumerate()
        .for_each(|(c, mut parts)| {
            let n_groups = parts.first().map_or(0, |p| p.len());
            for g in 0..n_groups {
                let base = (c * GROUPS + g) * N_LANES * w;
                for (e, part) in parts.iter_mut().enumerate() {
                    part[g] =
                        PackedM31::from_array(std::array::from_fn(|l| values[base + l * w + e]));
                }
            }
        });
    cols.into_iter()
        .map(|data| BaseColumn { data, length: rows })
        .collect()
}

/// Commits to the polynomial with hypercube evaluations `evals` (length `2^n`, `n` at most
/// `config.max_n_variables()`).
pub fn try_commit(evals: Vec<M31>, config: &PcsConfig) -> Result<CommittedPoly, PcsError> {
    config.validate()?;
    if !evals.len().is_power_of_two() {
        return Err(PcsError::BadConfig {
            what: "number of evaluations must be a power of two",
        });
    }
    let n = evals.len().trailing_zeros();
    if n > config.max_n_variables() {
        return Err(PcsError::BadConfig {
            what: "too many variables for this config",
        });
    }
    // The twiddles are dropped before the codeword is split into Merkle columns.
    let codeword = encode(
        &evals,
        config.log_blowup,
        &twiddles_for(n + config.log_blowup),
    );
    let leaf_log = Schedule::poly_leaf_log(n as usize, config);
    let columns = base_columns(codeword.as_slice(), leaf_log);
    let tree = Tree::commit(columns.iter().collect());
    Ok(CommittedPoly {
        evals,
        n_variables: n as usize,
        config: *config,
        columns,
        tree,
    })
}

/// Like [`try_commit`].
///
/// # Panics
/// Panics if the length is not a power of two or the config is invalid (caller bugs).
pub fn commit(evals: Vec<M31>, config: &PcsConfig) -> CommittedPoly {
    match try_commit(evals, config) {
        Ok(c) => c,
        Err(e) => panic!("commit: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::fold_block;
    use rand::{Rng, SeedableRng};

    fn rand_qm31(rng: &mut impl Rng) -> QM31 {
        QM31::from_m31_array(std::array::from_fn(|_| {
            M31::from(rng.gen_range(0..(1u32 << 31) - 1))
        }))
    }

    /// Folding the encoding of a random table by `n` random challenges gives `2^n` times the
    /// table's MLE at the challenges, in every entry of the final layer.
    fn check_folds_to_mle(rng: &mut rand::rngs::StdRng, n: u32, log_blowup: u32) {
        let evals: Vec<M31> = (0..1 << n)
            .map(|_| M31::from(rng.gen::<u32>() >> 1))
            .collect();
        let tw = twiddles_for(n + log_blowup);
        let cw = encode(&evals, log_blowup, &tw);
        let alphas: Vec<QM31> = (0..n).map(|_| rand_qm31(rng)).collect();
        let mut layer: Vec<QM31> = cw.as_slice().iter().map(|&v| v.into()).collect();
        for (t, &a) in alphas.iter().enumerate() {
            let log = n + log_blowup - t as u32;
            layer = fold_block(&layer, 0, log, t == 0, a);
        }
        let expected = sumcheck::eval_mle_base(&evals, &alphas) * pow2(n as usize);
        assert_eq!(layer.len(), 1 << log_blowup);
        assert!(layer.iter().all(|&v| v == expected), "n={n} b={log_blowup}");
    }

    #[test]
    #[ignore]
    fn big_encoding() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for n in [16u32, 17, 18, 19] {
            check_folds_to_mle(&mut rng, n, 2);
        }
    }

    #[test]
    fn fft_index_map_inverse_inverts() {
        for n in [1u32, 5, 16, 17, 20] {
            let (map, inverse) = (fft_index_map(n), fft_index_map_inverse(n));
            for i in (0..1usize << n).step_by(7).chain([(1 << n) - 1]) {
                assert_eq!(inverse(map(i)), i, "n={n} i={i}");
            }
        }
    }

    #[test]
    fn moebius_inverts() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let evals: Vec<M31> = (0..1 << 13)
            .map(|_| M31::from(rng.gen::<u32>() >> 1))
            .collect();
        let c = moebius(&evals);
        // f(b) = sum over subsets of b of c.
        for b in [0usize, 5, 1234, 8191] {
            let s: M31 = (0..evals.len()).filter(|&i| i & b == i).map(|i| c[i]).sum();
            assert_eq!(s, evals[b]);
        }
    }

    #[test]
    fn encoding_folds_to_mle() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for n in 0..8u32 {
            for log_blowup in 1..3u32 {
                check_folds_to_mle(&mut rng, n, log_blowup);
            }
        }
    }

    /// The layer computed from the folded table equals the layer obtained by folding the
    /// codeword, for every number of folds.
    #[test]
    fn layer_encoding_matches_fold() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for (n, log_blowup) in [(1u32, 1u32), (3, 2), (6, 1), (9, 2), (13, 2)] {
            let evals: Vec<M31> = (0..1 << n)
                .map(|_| M31::from(rng.gen::<u32>() >> 1))
                .collect();
            let tw = twiddles_for(n + log_blowup);
            let cw = encode(&evals, log_blowup, &tw);
            let mut layer: Vec<QM31> = cw.as_slice().iter().map(|&v| v.into()).collect();
            let mut table: Vec<QM31> = evals.iter().map(|&v| v.into()).collect();
            for t in 0..n as usize {
                let a = rand_qm31(&mut rng);
                layer = fold_block(&layer, 0, n + log_blowup - t as u32, t == 0, a);
                let half = table.len() / 2;
                table = (0..half)
                    .map(|i| table[i] + a * (table[i + half] - table[i]))
                    .collect();
                let coords = encode_layer(&table, t + 1, log_blowup, &tw);
                for leaf_log in 0..=(n - t as u32 - 1).min(3) {
                    let cols = layer_columns(&coords, leaf_log);
                    let w = 1usize << leaf_log;
                    for (i, v) in layer.iter().enumerate() {
                        let got: [M31; 4] =
                            std::array::from_fn(|c| cols[4 * (i % w) + c].at(i / w));
                        assert_eq!(QM31::from_m31_array(got), *v, "n={n} t={t} i={i}");
                    }
                }
            }
        }
    }
}
