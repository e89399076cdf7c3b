//! The opening prover.

use std::collections::BTreeMap;

use num_traits::{One, Zero};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::qm31::QM31;
use stwo::core::proof_of_work::GrindOps;
use stwo::core::queries::{draw_queries, Queries};
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::SimdBackend;
use sumcheck::{eq_eval, eq_evals, RoundPoly, SumcheckProof};

use crate::batch::prove_batch;
use crate::config::PcsConfig;
use crate::encode::{encode_layer, layer_columns, twiddles_for, CommittedPoly, Tree};
use crate::fold::{eq_times_linear, mix_claims, mix_root, Schedule};
use crate::kernels::{fold_table, segment_sums, Table};
use crate::proof::{Claim, Decommitment, OpeningProof};

/// A committed folded layer (prover side).
struct Layer {
    columns: Vec<BaseColumn>,
    tree: Tree,
    leaf_log: u32,
    /// The round this layer enters.
    round: usize,
}

fn decommit(tree: &Tree, columns: &[BaseColumn], leaves: Vec<usize>) -> Decommitment {
    let log = columns.first().map_or(0, |c| c.length.trailing_zeros());
    let queries = BTreeMap::from([(log, leaves)]);
    let (values, ext) = tree.decommit(&queries, columns.iter().collect());
    Decommitment {
        values,
        hash_witness: ext.decommitment.hash_witness.iter().map(|h| h.0).collect(),
    }
}

/// A round's inner values at `X = 0, 1` from segment sums `S[(p, x, m)]` (prefix bits `p` bound
/// to `alphas`, middle bits `m` weighted by `eq(mid, m)`).
fn round_values(sums: &[QM31], alphas: &[QM31], mid: &[QM31]) -> [QM31; 2] {
    let w_prefix = eq_evals(alphas);
    let w_mid = eq_evals(mid);
    let mid_len = w_mid.len();
    let mut h = [QM31::zero(); 2];
    for (pi, &wp) in w_prefix.iter().enumerate() {
        for (x, hx) in h.iter_mut().enumerate() {
            let base = (2 * pi + x) * mid_len;
            let inner: QM31 = w_mid
                .iter()
                .enumerate()
                .map(|(m, &wm)| wm * sums[base + m])
                .sum();
            *hx += wp * inner;
        }
    }
    h
}

fn scale_all(values: &mut [QM31], scale: QM31) {
    if scale != QM31::one() {
        values.iter_mut().for_each(|v| *v *= scale);
    }
}

fn leaves_of(queries: &[usize], shift: usize) -> Vec<usize> {
    let mut v: Vec<usize> = queries.iter().map(|&q| q >> shift).collect();
    v.dedup();
    v
}

/// Proves `claims[j]` about `polys[j]` for every `j`.
///
/// Phase 1 (skipped for one polynomial with one claim) reduces all claims to `f_j(rho_j)` with
/// `rho_j` the length-`n_j` suffix of one point `rho`; phase 2 is one joint Basefold opening of
/// `G(b) = sum_j nu_j f_j(b_j)` at `rho`, where smaller codewords join the fold when sizes match.
///
/// # Panics
/// Panics on caller bugs: mismatched lengths, points of the wrong dimension, a config that
/// differs from the one used at commit time, or no polynomials.
pub fn prove_openings(
    polys: &[&CommittedPoly],
    claims: &[Vec<Claim>],
    config: &PcsConfig,
    channel: &mut Blake2sChannel,
) -> OpeningProof {
    prove_openings_timed(polys, claims, config, channel).0
}

/// Wall-clock time of the prover's phases (benchmark support).
#[derive(Debug, Default)]
pub struct PhaseTimes {
    last: Option<std::time::Instant>,
    /// `(phase, milliseconds)`, phases of the same name summed, in first-seen order.
    pub phases: Vec<(&'static str, f64)>,
}

impl PhaseTimes {
    fn start(&mut self) {
        self.last = Some(std::time::Instant::now());
    }
    fn lap(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        let ms = self.last.map_or(0.0, |t| (now - t).as_secs_f64() * 1e3);
        self.last = Some(now);
        match self.phases.iter_mut().find(|(n, _)| *n == name) {
            Some((_, t)) => *t += ms,
            None => self.phases.push((name, ms)),
        }
    }
}

/// [`prove_openings`] that also reports per-phase timings (for benchmarks).
pub fn prove_openings_timed(
    polys: &[&CommittedPoly],
    claims: &[Vec<Claim>],
    config: &PcsConfig,
    channel: &mut Blake2sChannel,
) -> (OpeningProof, PhaseTimes) {
    let mut pt = PhaseTimes::default();
    pt.start();
    assert!(!polys.is_empty(), "prove_openings: no polynomials");
    assert_eq!(polys.len(), claims.len(), "one claim list per polynomial");
    for (p, cs) in polys.iter().zip(claims) {
        assert_eq!(&p.config, config, "config differs from commit time");
        assert!(!cs.is_empty(), "every polynomial needs at least one claim");
        for c in cs {
            assert_eq!(
                c.point.len(),
                p.n_variables,
                "claim point of wrong dimension"
            );
        }
    }
    mix_claims(channel, claims);
    pt.lap("setup");
    let sizes: Vec<usize> = polys.iter().map(|p| p.n_variables).collect();
    let sched = Schedule::new(&sizes, config);
    let n = sched.n_rounds;

    // Phase 1.
    let (batch, rho, evals) = if polys.len() == 1 && claims[0].len() == 1 {
        (None, claims[0][0].point.clone(), vec![claims[0][0].value])
    } else {
        let (bp, rho) = prove_batch(polys, claims, n, channel);
        let evals = bp.evals.clone();
        (Some(bp), rho, evals)
    };
    pt.lap("phase1 batch");
    let nus: Vec<QM31> = if polys.len() == 1 {
        vec![QM31::one()]
    } else {
        channel.draw_secure_felts(polys.len())
    };

    // Phase 2: joint sumcheck; the committed folded layers are re-encoded from the folded
    // tables (see `encode_layer`), so the codewords are only read for the decommitments.
    let groups = sched.groups();
    let commit_rounds = sched.commit_rounds();
    // Twiddles of the largest re-encoded layer's circle domain (log size `n - t + 1 + b`).
    let twiddles = commit_rounds
        .first()
        .map(|&t| twiddles_for((n - t) as u32 + 1 + config.log_blowup));
    pt.lap("twiddles");
    // One segment per fold group. A polynomial that joins inside a segment (round `t` with
    // `s0 < t < s1`) keeps its own segment sums and fold over its rounds `t .. s1`; by linearity
    // this equals adding it to the folded table at round `t`, without a segment boundary there
    // (which would fold the large table into an extension-field table early).
    let mut bounds: Vec<usize> = groups.iter().map(|g| g.0).collect();
    bounds.push(n);
    bounds.dedup();

    let mut carried: Option<Vec<QM31>> = None;
    let mut layers: Vec<Layer> = Vec::new();
    let mut layer_roots = Vec::new();
    let mut round_polys = Vec::with_capacity(n);
    let mut scale = QM31::one();
    for seg in bounds.windows(2) {
        let (s0, s1) = (seg[0], seg[1]);
        let s = s1 - s0;
        // The segment's parts `(table, scale, first round)`: the folded table carried into
        // round `s0`, and each polynomial joining in `s0 .. s1` as its own base table scaled
        // by `nu_j`. Sums and folds are linear, so the parts are never added up entrywise
        // (several 2^26-entry weight chunks would otherwise make a 2^26 extension table).
        let mut parts: Vec<(Table<'_>, QM31, usize)> = Vec::new();
        if let Some(t) = carried.take() {
            parts.push((Table::Ext(t), QM31::one(), s0));
        }
        for (j, p) in polys.iter().enumerate() {
            let t = sched.join_round(j);
            if (s0..s1).contains(&t) {
                parts.push((Table::Base(&p.evals), nus[j], t));
            }
        }
        pt.lap("table setup");
        let part_sums: Vec<Vec<QM31>> = parts
            .iter()
            .map(|(tab, part_scale, t)| {
                let mut v = segment_sums(tab, s1 - t, &rho[s1..]);
                scale_all(&mut v, *part_scale);
                v
            })
            .collect();
        pt.lap("segment sums");
        let mut alphas = Vec::with_capacity(s);
        for u in 0..s {
            let t = s0 + u;
            // Terms of polynomials that join later are constant: nu_j * f_j(rho_j).
            let pending: QM31 = (0..polys.len())
                .filter(|&j| sched.join_round(j) > t)
                .map(|j| nus[j] * evals[j])
                .sum();
            let mut h = [pending; 2];
            for ((_, _, t_p), sums) in parts.iter().zip(&part_sums) {
                if *t_p <= t {
                    let hp = round_values(sums, &alphas[t_p - s0..], &rho[t + 1..s1]);
                    h[0] += hp[0];
                    h[1] += hp[1];
                }
            }
            let coeffs = eq_times_linear(scale, rho[t], h[0], h[1]);
            channel.mix_felts(&coeffs);
            let alpha = channel.draw_secure_felt();
            scale *= eq_eval(&[rho[t]], &[alpha]);
            round_polys.push(RoundPoly::new(coeffs.to_vec()));
            alphas.push(alpha);
        }
        pt.lap("sumcheck rounds");
        let mut folded = vec![QM31::zero(); 1 << (n - s1)];
        for (tab, part_scale, t_p) in &parts {
            let f = fold_table(tab, &alphas[t_p - s0..]);
            folded
                .iter_mut()
                .zip(f)
                .for_each(|(a, b)| *a += *part_scale * b);
        }
        drop(parts);
        pt.lap("fold table");
        if let Some(i) = commit_rounds.iter().position(|&c| c == s1) {
            let leaf_log = groups[i + 1].1;
            let Some(tw) = &twiddles else { unreachable!() };
            let coords = encode_layer(&folded, s1, config.log_blowup, tw);
            pt.lap("encode layer");
            let columns = layer_columns(&coords, leaf_log);
            pt.lap("layer columns");
            let tree = Tree::commit(columns.iter().collect());
            pt.lap("layer merkle");
            let root = tree.root().0;
            mix_root(channel, &root);
            layer_roots.push(root);
            layers.push(Layer {
                columns,
                tree,
                leaf_log,
                round: s1,
            });
        }
        carried = Some(folded);
    }
    let folded_value = carried.map_or(QM31::zero(), |t| t[0]);
    let final_value = folded_value
        + (0..polys.len())
            .filter(|&j| sizes[j] == 0)
            .map(|j| nus[j] * polys[j].evals[0])
            .sum::<QM31>();
    channel.mix_felts(&[final_value]);
    pt.lap("final value");
    let pow_nonce = SimdBackend::grind(channel, config.pow_bits);
    pt.lap("grind");
    channel.mix_u64(pow_nonce);
    let log_domain = n as u32 + config.log_blowup;
    let queries = Queries::new(
        &draw_queries(channel, log_domain, config.n_queries),
        log_domain,
    );
    let poly_decommitments = polys
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let leaf_log = Schedule::poly_leaf_log(sizes[j], config) as usize;
            let leaves = leaves_of(&queries, sched.join_round(j) + leaf_log);
            decommit(&p.tree, &p.columns, leaves)
        })
        .collect();
    let layer_decommitments = layers
        .iter()
        .map(|l| {
            decommit(
                &l.tree,
                &l.columns,
                leaves_of(&queries, l.round + l.leaf_log as usize),
            )
        })
        .collect();
    pt.lap("queries + decommit");
    let proof = OpeningProof {
        batch,
        sumcheck: SumcheckProof { round_polys },
        layer_roots,
        final_value,
        pow_nonce,
        poly_decommitments,
        layer_decommitments,
    };
    (proof, pt)
}
