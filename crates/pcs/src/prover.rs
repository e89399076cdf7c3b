//! The opening prover.

use std::collections::BTreeMap;

use num_traits::{One, Zero};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::core::proof_of_work::GrindOps;
use stwo::core::queries::{draw_queries, Queries};
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::SimdBackend;
use sumcheck::{eq_eval, eq_evals, SumcheckProof};

use crate::batch::prove_batch;
use crate::config::PcsConfig;
use crate::encode::{base_columns, CommittedPoly, Tree};
use crate::fold::{eq_times_linear, mix_claims, mix_root, pow2, Schedule};
use crate::kernels::{fold_codeword, fold_table, segment_sums, Table, Twiddles};
use crate::proof::{Claim, Decommitment, OpeningProof};

/// A committed folded layer (prover side).
struct Layer {
    columns: Vec<BaseColumn>,
    tree: Tree,
    leaf_log: u32,
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
    let sizes: Vec<usize> = polys.iter().map(|p| p.n_variables).collect();
    let sched = Schedule::new(&sizes, config);
    let n = sched.n_rounds;
    let k = config.fold_arity_log as usize;

    // Phase 1.
    let (batch, rho, evals) = if polys.len() == 1 && claims[0].len() == 1 {
        (None, claims[0][0].point.clone(), vec![claims[0][0].value])
    } else {
        let (bp, rho) = prove_batch(polys, claims, n, channel);
        let evals = bp.evals.clone();
        (Some(bp), rho, evals)
    };
    let nus: Vec<QM31> = if polys.len() == 1 {
        vec![QM31::one()]
    } else {
        channel.draw_secure_felts(polys.len())
    };

    // Phase 2: joint sumcheck + fold.
    let tw = Twiddles::new(&polys[sched_largest(&sizes)].twiddles);
    let mut bounds: Vec<usize> = (0..n).step_by(k).collect();
    bounds.extend(
        (0..polys.len())
            .map(|j| sched.join_round(j))
            .filter(|&t| t < n),
    );
    bounds.push(n);
    bounds.sort_unstable();
    bounds.dedup();

    let mut table: Option<Table<'_>> = None;
    let mut layer: Option<Vec<QM31>> = None;
    let mut layers: Vec<Layer> = Vec::new();
    let mut layer_roots = Vec::new();
    let mut round_polys = Vec::with_capacity(n);
    let mut scale = QM31::one();
    for seg in bounds.windows(2) {
        let (s0, s1) = (seg[0], seg[1]);
        let s = s1 - s0;
        let joins: Vec<usize> = (0..polys.len())
            .filter(|&j| sched.join_round(j) == s0)
            .collect();
        // Hypercube table entering round s0.
        table = Some(match (table.take(), joins.as_slice()) {
            (None, [j]) if nus[*j] == QM31::one() => Table::Base(&polys[*j].evals),
            (prev, js) => {
                let mut t = prev.map_or_else(|| vec![QM31::zero(); 1 << (n - s0)], Table::into_ext);
                for &j in js {
                    let nu = nus[j];
                    t.iter_mut()
                        .zip(&polys[j].evals)
                        .for_each(|(a, &b)| *a += nu * b);
                }
                Table::Ext(t)
            }
        });
        let Some(tab) = &table else { unreachable!() };
        // Terms of polynomials that join later are constant: nu_j * f_j(rho_j).
        let pending: QM31 = (0..polys.len())
            .filter(|&j| sched.join_round(j) > s0)
            .map(|j| nus[j] * evals[j])
            .sum();
        let sums = segment_sums(tab, s, &rho[s1..]);
        let mut alphas = Vec::with_capacity(s);
        for u in 0..s {
            let t = s0 + u;
            let w_prefix = eq_evals(&alphas);
            let w_mid = eq_evals(&rho[t + 1..s1]);
            let mid_len = w_mid.len();
            let mut h = [pending, pending];
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
            let coeffs = eq_times_linear(scale, rho[t], h[0], h[1]);
            channel.mix_felts(&coeffs);
            let alpha = channel.draw_secure_felt();
            scale *= eq_eval(&[rho[t]], &[alpha]);
            round_polys.push(coeffs.to_vec());
            alphas.push(alpha);
        }
        table = Some(Table::Ext(fold_table(tab, &alphas)));
        let join_cws: Vec<(&[M31], QM31)> = joins
            .iter()
            .map(|&j| (polys[j].codeword.as_slice(), nus[j] * pow2(s0)))
            .collect();
        let folded = fold_codeword(
            sched.layer_log(s0),
            layer.as_deref(),
            &join_cws,
            &alphas,
            &tw,
        );
        if s1 % k == 0 && s1 < n {
            let leaf_log = k.min(n - s1) as u32;
            let flat: Vec<M31> = folded.iter().flat_map(|v| v.to_m31_array()).collect();
            let columns = base_columns(&flat, leaf_log + 2);
            let tree = Tree::commit(columns.iter().collect());
            let root = tree.root().0;
            mix_root(channel, &root);
            layer_roots.push(root);
            layers.push(Layer {
                columns,
                tree,
                leaf_log,
            });
        }
        layer = Some(folded);
    }
    let folded_value = match table {
        Some(Table::Ext(t)) => t[0],
        _ => QM31::zero(),
    };
    let final_value = folded_value
        + (0..polys.len())
            .filter(|&j| sizes[j] == 0)
            .map(|j| nus[j] * polys[j].evals[0])
            .sum::<QM31>();
    channel.mix_felts(&[final_value]);
    let pow_nonce = SimdBackend::grind(channel, config.pow_bits);
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
            let leaf_log = Schedule::poly_leaf_log(sizes[j], k as u32) as usize;
            let leaves = leaves_of(&queries, sched.join_round(j) + leaf_log);
            decommit(&p.tree, &p.columns, leaves)
        })
        .collect();
    let layer_decommitments = layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let t0 = (i + 1) * k;
            decommit(
                &l.tree,
                &l.columns,
                leaves_of(&queries, t0 + l.leaf_log as usize),
            )
        })
        .collect();
    OpeningProof {
        batch,
        sumcheck: SumcheckProof { round_polys },
        layer_roots,
        final_value,
        pow_nonce,
        poly_decommitments,
        layer_decommitments,
    }
}

fn sched_largest(sizes: &[usize]) -> usize {
    let mut best = 0;
    for (j, &s) in sizes.iter().enumerate() {
        if s > sizes[best] {
            best = j;
        }
    }
    best
}
