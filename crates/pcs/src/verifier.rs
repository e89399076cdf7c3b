//! The opening verifier. Every shape (rounds, layers, leaves, queries) is derived from the
//! commitments and the config; the proof only supplies values, which are all checked.

use std::collections::BTreeMap;

use num_traits::{One, Zero};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::core::queries::{draw_queries, Queries};
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::core::vcs::blake2_merkle::Blake2sMerkleHasher;
use stwo::core::vcs::verifier::{MerkleDecommitment, MerkleVerifier};
use sumcheck::{eq_eval, SumcheckError, SumcheckProof};

use crate::config::PcsConfig;
use crate::error::PcsError;
use crate::fold::{eval_poly, fold_block, mix_claims, mix_root, pow2, Schedule};
use crate::proof::{Claim, Decommitment, OpeningProof, PolyCommitment};

fn shape(what: &'static str, expected: usize, got: usize) -> Result<(), PcsError> {
    if expected == got {
        Ok(())
    } else {
        Err(PcsError::WrongShape {
            what,
            expected,
            got,
        })
    }
}

/// Checks degree-2 round polynomials one by one; calls `after_round(t)` after each challenge.
fn verify_rounds(
    phase: &'static str,
    mut claim: QM31,
    proof: &SumcheckProof,
    n_rounds: usize,
    channel: &mut Blake2sChannel,
    mut after_round: impl FnMut(usize, &mut Blake2sChannel),
) -> Result<(Vec<QM31>, QM31), PcsError> {
    let err = |source| PcsError::Sumcheck { phase, source };
    if proof.round_polys.len() != n_rounds {
        return Err(err(SumcheckError::WrongRoundCount {
            expected: n_rounds,
            got: proof.round_polys.len(),
        }));
    }
    let mut point = Vec::with_capacity(n_rounds);
    for (round, p) in proof.round_polys.iter().enumerate() {
        if p.len() != 3 {
            return Err(err(SumcheckError::DegreeTooHigh {
                round,
                got: p.len(),
                max: 3,
            }));
        }
        if eval_poly(p, QM31::zero()) + eval_poly(p, QM31::one()) != claim {
            return Err(err(SumcheckError::RoundSumMismatch { round }));
        }
        channel.mix_felts(p);
        let alpha = channel.draw_secure_felt();
        claim = eval_poly(p, alpha);
        point.push(alpha);
        after_round(round, channel);
    }
    Ok((point, claim))
}

/// Opened leaves of one tree, checked against its root.
struct Opened<'a> {
    leaves: Vec<usize>,
    width: usize,
    values: &'a [M31],
}

impl Opened<'_> {
    fn leaf(&self, idx: usize) -> Option<&[M31]> {
        let pos = self.leaves.binary_search(&idx).ok()?;
        self.values.get(pos * self.width..(pos + 1) * self.width)
    }
}

fn open<'a>(
    tree: &'static str,
    index: usize,
    root: [u8; 32],
    log_rows: u32,
    width: usize,
    leaves: Vec<usize>,
    dec: &'a Decommitment,
) -> Result<Opened<'a>, PcsError> {
    shape("decommitted values", leaves.len() * width, dec.values.len())?;
    let verifier =
        MerkleVerifier::<Blake2sMerkleHasher>::new(Blake2sHash(root), vec![log_rows; width]);
    let queries = BTreeMap::from([(log_rows, leaves.clone())]);
    let decommitment = MerkleDecommitment::<Blake2sMerkleHasher> {
        hash_witness: dec.hash_witness.iter().map(|h| Blake2sHash(*h)).collect(),
        column_witness: vec![],
    };
    verifier
        .verify(&queries, dec.values.clone(), decommitment)
        .map_err(|e| PcsError::MerkleInvalid {
            tree,
            index,
            reason: e.to_string(),
        })?;
    Ok(Opened {
        leaves,
        width,
        values: &dec.values,
    })
}

fn leaves_of(queries: &[usize], shift: usize) -> Vec<usize> {
    let mut v: Vec<usize> = queries.iter().map(|&q| q >> shift).collect();
    v.dedup();
    v
}

/// Verifies an [`OpeningProof`] for `claims[j]` about `commitments[j]`.
pub fn verify_openings(
    commitments: &[PolyCommitment],
    claims: &[Vec<Claim>],
    proof: &OpeningProof,
    config: &PcsConfig,
    channel: &mut Blake2sChannel,
) -> Result<(), PcsError> {
    config.validate()?;
    if commitments.is_empty() {
        return Err(PcsError::BadConfig {
            what: "no commitments",
        });
    }
    shape("claim lists", commitments.len(), claims.len())?;
    for (c, cs) in commitments.iter().zip(claims) {
        if c.n_variables > config.max_n_variables() {
            return Err(PcsError::BadConfig {
                what: "commitment has too many variables for this config",
            });
        }
        if cs.is_empty() {
            return Err(PcsError::WrongShape {
                what: "claims per polynomial",
                expected: 1,
                got: 0,
            });
        }
        for cl in cs {
            shape("claim point", c.n_variables as usize, cl.point.len())?;
        }
    }
    mix_claims(channel, claims);
    let sizes: Vec<usize> = commitments.iter().map(|c| c.n_variables as usize).collect();
    let sched = Schedule::new(&sizes, config);
    let n = sched.n_rounds;
    let m = commitments.len();

    // Phase 1.
    let single = m == 1 && claims[0].len() == 1;
    let (rho, evals) = match (&proof.batch, single) {
        (None, true) => (claims[0][0].point.clone(), vec![claims[0][0].value]),
        (Some(bp), false) => {
            let lambda = channel.draw_secure_felt();
            let mut weight = QM31::one();
            let mut total = QM31::zero();
            let mut weights = Vec::with_capacity(m);
            for (j, cs) in claims.iter().enumerate() {
                let mut term = QM31::zero();
                let mut ws = Vec::with_capacity(cs.len());
                for c in cs {
                    term += weight * c.value;
                    ws.push(weight);
                    weight *= lambda;
                }
                total += term * pow2(n - sizes[j]);
                weights.push(ws);
            }
            let (mut rho, final_claim) =
                verify_rounds("batching", total, &bp.sumcheck, n, channel, |_, _| {})?;
            // Round `t` bound variable `n - 1 - t`.
            rho.reverse();
            shape("batched evaluations", m, bp.evals.len())?;
            let mut expected = QM31::zero();
            for (j, cs) in claims.iter().enumerate() {
                let suffix = &rho[n - sizes[j]..];
                let w: QM31 = cs
                    .iter()
                    .zip(&weights[j])
                    .map(|(c, &wt)| wt * eq_eval(&c.point, suffix))
                    .sum();
                expected += w * bp.evals[j];
            }
            if expected != final_claim {
                return Err(PcsError::BatchMismatch);
            }
            channel.mix_felts(&bp.evals);
            (rho, bp.evals.clone())
        }
        (batch, _) => {
            return Err(PcsError::WrongShape {
                what: "batching proof",
                expected: usize::from(!single),
                got: usize::from(batch.is_some()),
            })
        }
    };
    let nus: Vec<QM31> = if m == 1 {
        vec![QM31::one()]
    } else {
        channel.draw_secure_felts(m)
    };

    // Phase 2 sumcheck, with the folded layers' roots mixed in at the commit points.
    let groups = sched.groups();
    shape(
        "layer roots",
        groups.len().saturating_sub(1),
        proof.layer_roots.len(),
    )?;
    let claim: QM31 = nus.iter().zip(&evals).map(|(&a, &b)| a * b).sum();
    let roots = &proof.layer_roots;
    let commit_rounds = sched.commit_rounds();
    let (alphas, final_claim) =
        verify_rounds("opening", claim, &proof.sumcheck, n, channel, |t, ch| {
            if let Some(i) = commit_rounds.iter().position(|&c| c == t + 1) {
                if let Some(r) = roots.get(i) {
                    mix_root(ch, r);
                }
            }
        })?;
    if final_claim != eq_eval(&rho, &alphas) * proof.final_value {
        return Err(PcsError::FinalClaimMismatch);
    }
    channel.mix_felts(&[proof.final_value]);
    if !channel.verify_pow_nonce(config.pow_bits, proof.pow_nonce) {
        return Err(PcsError::ProofOfWork);
    }
    channel.mix_u64(proof.pow_nonce);
    let log_domain = n as u32 + config.log_blowup;
    let queries = Queries::new(
        &draw_queries(channel, log_domain, config.n_queries),
        log_domain,
    );

    // Merkle openings.
    shape("poly decommitments", m, proof.poly_decommitments.len())?;
    shape(
        "layer decommitments",
        roots.len(),
        proof.layer_decommitments.len(),
    )?;
    let mut poly_open = Vec::with_capacity(m);
    for j in 0..m {
        let leaf_log = Schedule::poly_leaf_log(sizes[j], config);
        let t_j = sched.join_round(j);
        let log_rows = sizes[j] as u32 + config.log_blowup - leaf_log;
        let leaves = leaves_of(&queries, t_j + leaf_log as usize);
        poly_open.push(open(
            "polynomial",
            j,
            commitments[j].root,
            log_rows,
            1 << leaf_log,
            leaves,
            &proof.poly_decommitments[j],
        )?);
    }
    let mut layer_open = Vec::with_capacity(roots.len());
    for (i, &(t0, a)) in groups.iter().enumerate().skip(1) {
        let log_rows = sched.layer_log(t0) - a;
        let leaves = leaves_of(&queries, t0 + a as usize);
        layer_open.push(open(
            "layer",
            i - 1,
            roots[i - 1],
            log_rows,
            4 << a,
            leaves,
            &proof.layer_decommitments[i - 1],
        )?);
    }

    // Recompute every fold of every query.
    let scale_n = QM31::from(pow2(n));
    let missing = |what| PcsError::WrongShape {
        what,
        expected: 1,
        got: 0,
    };
    for (qi, &pos) in queries.iter().enumerate() {
        let mut carried = QM31::zero();
        for (g, &(t0, a)) in groups.iter().enumerate() {
            let a = a as usize;
            let block = pos >> (t0 + a);
            let mut vals: Vec<QM31> = if g == 0 {
                vec![QM31::zero(); 1 << a]
            } else {
                let leaf = layer_open[g - 1].leaf(block).ok_or(missing("layer leaf"))?;
                let vals: Vec<QM31> = leaf
                    .chunks_exact(4)
                    .map(|c| QM31::from_m31_array([c[0], c[1], c[2], c[3]]))
                    .collect();
                if vals.get((pos >> t0) & ((1 << a) - 1)) != Some(&carried) {
                    return Err(PcsError::FoldMismatch {
                        layer: g - 1,
                        query: qi,
                    });
                }
                vals
            };
            for d in 0..a {
                let t = t0 + d;
                let log = sched.layer_log(t);
                let start = block << (a - d);
                let mut next = if t == 0 {
                    vec![QM31::zero(); vals.len() / 2]
                } else {
                    fold_block(&vals, start, log, false, alphas[t])
                };
                for j in (0..m).filter(|&j| sched.join_round(j) == t) {
                    let leaf_log = Schedule::poly_leaf_log(sizes[j], config) as usize;
                    let leaf = poly_open[j]
                        .leaf(start >> leaf_log)
                        .ok_or(missing("poly leaf"))?;
                    let off = start - ((start >> leaf_log) << leaf_log);
                    let sub: Vec<QM31> = leaf
                        .get(off..off + vals.len())
                        .ok_or(missing("poly sub-block"))?
                        .iter()
                        .map(|&v| v.into())
                        .collect();
                    let w = nus[j] * pow2(t);
                    let f = fold_block(&sub, start, log, true, alphas[t]);
                    next.iter_mut().zip(f).for_each(|(x, y)| *x += w * y);
                }
                vals = next;
            }
            carried = vals[0];
        }
        for j in (0..m).filter(|&j| sizes[j] == 0) {
            let leaf = poly_open[j].leaf(pos >> n).ok_or(missing("poly leaf"))?;
            carried += nus[j] * pow2(n) * leaf[0];
        }
        if carried != scale_n * proof.final_value {
            return Err(PcsError::FinalMismatch { query: qi });
        }
    }
    Ok(())
}
