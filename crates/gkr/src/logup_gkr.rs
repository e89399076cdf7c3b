//! Batched GKR for LogUp fractional sums: proof format and verifier.
//!
//! An instance of `n` variables is a binary tree of fraction sums: layer `n` (the input) holds
//! `2^n` fractions `p_i / q_i`, each layer above adds neighbouring pairs, and the output layer
//! is one fraction, the instance's claimed sum. The prover is STWO's `gkr_prover::prove_batch`;
//! this verifier is ours and keeps STWO's transcript (`gkr_verifier::partially_verify_batch`)
//! exactly, so proofs are unchanged. Instances run in one batch from the output down: in GKR
//! layer `l` every instance with at least `n_layers - l` variables takes part (smaller ones
//! join late, their claims doubled per unused variable), and one sumcheck of `l` rounds over
//! `eq(ood_point, x) * (gate of the next layer's mask)` reduces all their claims at once.
//!
//! Per layer the transcript is: the claims being reduced are mixed, `alpha` (across instances)
//! and `lambda` (numerator/denominator) drawn, the sumcheck run, every taking-part instance's
//! mask `[p0, p1, q0, q1]` mixed, and one challenge drawn that extends the point.

use serde::{Deserialize, Serialize};
use stwo::core::channel::Channel;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::core::fields::FieldExpOps;
use sumcheck::{eq_eval, SumcheckError, SumcheckProof};

use crate::error::GkrError;
use crate::lookup::Felts;

/// Degree of a GKR layer's round polynomials: `eq` (linear) times the LogUp gate (quadratic).
const MAX_DEGREE: usize = 3;

/// Serialisable batched GKR proof (the format of STWO's `GkrBatchProof`, masks flattened).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GkrProofData {
    /// One sumcheck per GKR layer; layer `l` has `l` rounds.
    pub sumcheck_proofs: Vec<SumcheckProof>,
    /// Per instance, per layer: the mask's columns flattened `[p0, p1, q0, q1]`.
    pub layer_masks: Vec<Vec<Felts>>,
    /// Per instance: its sum as `[numerator, denominator]`.
    pub output_claims: Vec<Felts>,
}

/// One instance's values in one layer at the two halves of the current point:
/// numerators `p0, p1` and denominators `q0, q1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LogUpMask {
    p: [QM31; 2],
    q: [QM31; 2],
}

impl LogUpMask {
    fn parse(felts: &Felts) -> Option<Self> {
        match felts.0.as_slice() {
            &[p0, p1, q0, q1] => Some(Self {
                p: [p0, p1],
                q: [q0, q1],
            }),
            _ => None,
        }
    }

    /// The LogUp gate: `p0/q0 + p1/q1` as `[p0 q1 + p1 q0, q0 q1]`.
    fn gate(&self) -> [QM31; 2] {
        [
            self.p[0] * self.q[1] + self.p[1] * self.q[0],
            self.q[0] * self.q[1],
        ]
    }

    /// Both columns' multilinear extensions at `x` (between the two halves).
    fn reduce_at(&self, x: QM31) -> [QM31; 2] {
        [
            self.p[0] + x * (self.p[1] - self.p[0]),
            self.q[0] + x * (self.q[1] - self.q[0]),
        ]
    }

    fn flattened(&self) -> [QM31; 4] {
        [self.p[0], self.p[1], self.q[0], self.q[1]]
    }
}

/// Per instance, per layer: its parsed masks; per instance: its output claim.
type ParsedProof = (Vec<Vec<LogUpMask>>, Vec<[QM31; 2]>);

/// What the GKR leaves to check: the shared point and, per instance, `[numerator,
/// denominator]` of its input layer's MLEs at the point's last `n_vars[instance]` coordinates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GkrArtifact {
    pub ood_point: Vec<QM31>,
    pub input_claims: Vec<[QM31; 2]>,
}

/// `sum_i v_i alpha^i`.
fn combine(v: &[QM31], alpha: QM31) -> QM31 {
    v.iter().rfold(QM31::default(), |acc, &x| acc * alpha + x)
}

fn malformed(what: &str) -> GkrError {
    GkrError::MalformedLookup(what.to_string())
}

impl GkrProofData {
    /// Checks every shape against the expected instance sizes (`n_vars[i] >= 1`) and parses the
    /// masks, so the verification loop indexes only what exists.
    fn parse(&self, n_vars: &[usize]) -> Result<ParsedProof, GkrError> {
        let n_layers = n_vars.iter().copied().max().unwrap_or(0);
        if self.layer_masks.len() != n_vars.len() || self.output_claims.len() != n_vars.len() {
            return Err(malformed("wrong number of instances"));
        }
        if self.sumcheck_proofs.len() != n_layers {
            return Err(malformed("wrong number of GKR layers"));
        }
        let mut masks = Vec::with_capacity(n_vars.len());
        let mut outputs = Vec::with_capacity(n_vars.len());
        for (i, &n) in n_vars.iter().enumerate() {
            if n == 0 || self.layer_masks[i].len() != n {
                return Err(malformed("mask of wrong shape"));
            }
            let parsed: Option<Vec<LogUpMask>> =
                self.layer_masks[i].iter().map(LogUpMask::parse).collect();
            masks.push(parsed.ok_or_else(|| malformed("mask of wrong shape"))?);
            match self.output_claims[i].0.as_slice() {
                &[p, q] => outputs.push([p, q]),
                _ => return Err(malformed("output claim of wrong shape")),
            }
        }
        Ok((masks, outputs))
    }

    /// Converts STWO's proof (its values unchanged).
    #[cfg(feature = "prover")]
    pub(crate) fn from_stwo(p: &stwo::prover::lookups::gkr_verifier::GkrBatchProof) -> Self {
        Self {
            sumcheck_proofs: p
                .sumcheck_proofs
                .iter()
                .map(SumcheckProof::from_stwo)
                .collect(),
            layer_masks: p
                .layer_masks_by_instance
                .iter()
                .map(|masks| {
                    masks
                        .iter()
                        .map(|m| Felts(m.columns().as_flattened().to_vec()))
                        .collect()
                })
                .collect(),
            output_claims: p
                .output_claims_by_instance
                .iter()
                .map(|c| Felts(c.clone()))
                .collect(),
        }
    }
}

/// Verifies a batch of LogUp instances of `n_vars[i]` variables each (all at least 1) down to
/// their input layers. The output claims are the proof's; the caller checks what they sum to
/// and the returned input claims.
pub fn verify_batch(
    n_vars: &[usize],
    proof: &GkrProofData,
    channel: &mut impl Channel,
) -> Result<GkrArtifact, GkrError> {
    let (masks, outputs) = proof.parse(n_vars)?;
    let n_layers = n_vars.iter().copied().max().unwrap_or(0);
    let mut ood_point: Vec<QM31> = Vec::with_capacity(n_layers);
    let mut claims: Vec<Option<[QM31; 2]>> = vec![None; n_vars.len()];

    for (layer, sumcheck_proof) in proof.sumcheck_proofs.iter().enumerate() {
        let n_remaining = n_layers - layer;
        for (claim, (&n, output)) in claims.iter_mut().zip(n_vars.iter().zip(&outputs)) {
            if n == n_remaining {
                *claim = Some(*output);
            }
        }
        for claim in claims.iter().flatten() {
            channel.mix_felts(claim);
        }
        let alpha = channel.draw_secure_felt();
        let lambda = channel.draw_secure_felt();

        // Instances taking part, with their index into `masks[i]` for this layer.
        let active: Vec<(usize, usize, usize)> = claims
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some())
            .map(|(i, _)| {
                let n_unused = n_layers - n_vars[i];
                (i, n_unused, layer - n_unused)
            })
            .collect();
        let sumcheck_claims: Vec<QM31> = active
            .iter()
            .filter_map(|&(i, n_unused, _)| {
                let doubling = M31::from_u32_unchecked(2).pow(n_unused as u128);
                claims[i].map(|c| combine(&c, lambda) * doubling)
            })
            .collect();
        let (point, eval) = sumcheck::verify(
            combine(&sumcheck_claims, alpha),
            sumcheck_proof,
            layer,
            MAX_DEGREE,
            channel,
        )
        .map_err(|source: SumcheckError| GkrError::LookupSumcheck { layer, source })?;

        let layer_evals: Vec<QM31> = active
            .iter()
            .map(|&(i, n_unused, l)| {
                let eq = eq_eval(&ood_point[n_unused..], &point[n_unused..]);
                eq * combine(&masks[i][l].gate(), lambda)
            })
            .collect();
        if eval != combine(&layer_evals, alpha) {
            return Err(GkrError::LookupCircuitCheck { layer });
        }
        for &(i, _, l) in &active {
            channel.mix_felts(&masks[i][l].flattened());
        }
        let challenge = channel.draw_secure_felt();
        ood_point = point;
        ood_point.push(challenge);
        for &(i, _, l) in &active {
            claims[i] = Some(masks[i][l].reduce_at(challenge));
        }
    }

    let input_claims = claims
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| malformed("instance without layers"))?;
    Ok(GkrArtifact {
        ood_point,
        input_claims,
    })
}

#[cfg(test)]
mod tests {
    use stwo::core::channel::Blake2sChannel;
    use stwo::prover::backend::CpuBackend;
    use stwo::prover::lookups::gkr_prover::{prove_batch, Layer};
    use stwo::prover::lookups::gkr_verifier::{partially_verify_batch, Gate};
    use stwo::prover::lookups::mle::Mle;

    use super::*;

    fn channel() -> Blake2sChannel {
        Blake2sChannel::default()
    }

    /// Two LogUp instances of 3 and 5 variables, proved by STWO.
    fn instances() -> (
        Vec<usize>,
        stwo::prover::lookups::gkr_verifier::GkrBatchProof,
    ) {
        let mut ch = channel();
        let layer = |ch: &mut Blake2sChannel, n: usize| Layer::<CpuBackend>::LogUpGeneric {
            numerators: Mle::new(ch.draw_secure_felts(1 << n)),
            denominators: Mle::new(ch.draw_secure_felts(1 << n)),
        };
        let layers = vec![layer(&mut ch, 3), layer(&mut ch, 5)];
        let (proof, _) = prove_batch(&mut channel(), layers);
        (vec![3, 5], proof)
    }

    /// Same artifact and same transcript as STWO's verifier.
    #[test]
    fn verify_batch_matches_stwo() {
        let (n_vars, stwo_proof) = instances();
        let mut theirs = channel();
        let want = partially_verify_batch(vec![Gate::LogUp; 2], &stwo_proof, &mut theirs).unwrap();
        let mut ours = channel();
        let got = verify_batch(&n_vars, &GkrProofData::from_stwo(&stwo_proof), &mut ours).unwrap();
        assert_eq!(got.ood_point, want.ood_point);
        let want_claims: Vec<Vec<QM31>> = want.claims_to_verify_by_instance;
        let got_claims: Vec<Vec<QM31>> = got.input_claims.iter().map(|c| c.to_vec()).collect();
        assert_eq!(got_claims, want_claims);
        assert_eq!(ours.draw_secure_felt(), theirs.draw_secure_felt());
    }

    #[test]
    fn tampered_mask_fails() {
        let (n_vars, stwo_proof) = instances();
        let mut proof = GkrProofData::from_stwo(&stwo_proof);
        proof.layer_masks[1][2].0[3] += QM31::from_u32_unchecked(1, 0, 0, 0);
        assert!(matches!(
            verify_batch(&n_vars, &proof, &mut channel()),
            Err(GkrError::LookupCircuitCheck { layer: 2 })
        ));
    }

    #[test]
    fn malformed_shapes_fail_without_panic() {
        let (n_vars, stwo_proof) = instances();
        let proof = GkrProofData::from_stwo(&stwo_proof);
        let mut bad = proof.clone();
        bad.layer_masks[0][0].0.pop();
        assert!(verify_batch(&n_vars, &bad, &mut channel()).is_err());
        let mut bad = proof.clone();
        bad.output_claims[1].0.push(QM31::default());
        assert!(verify_batch(&n_vars, &bad, &mut channel()).is_err());
        assert!(verify_batch(&[3, 5, 1], &proof, &mut channel()).is_err());
        assert!(verify_batch(&[0, 5], &proof, &mut channel()).is_err());
        assert!(verify_batch(&[], &proof, &mut channel()).is_err());
    }
}
