//! Verifying a [`TxProof`] against an [`Instance`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use stwo::core::air::Component;
use stwo::core::channel::Blake2sChannel;
use stwo::core::circle::CirclePoint;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::CommitmentSchemeVerifier;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo::core::verifier::verify;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::poly::circle::PolyOps;
use stwo::prover::CommitmentSchemeProver;

use super::air::LOG_CONSTRAINT_EXPANSION;
use super::config::pcs_config;
use super::error::ProofError;
use super::proof::TxProof;
use super::schedule::{to_evaluations, Schedule};
use super::Instance;

/// Commitments in a proof: preprocessed, trace, composition.
const N_TREES: usize = 3;

/// Checks `proof` for `instance`. The preprocessed commitment is computed here from the
/// instance's schedule; the one in the proof must equal it.
pub fn verify_instance(instance: &Instance, proof: &TxProof) -> Result<(), ProofError> {
    let log_size = instance.schedule.log_size()?;
    let config = pcs_config();
    let stark = &proof.stark.0;
    if stark.config != config {
        return Err(ProofError::ConfigMismatch {
            expected: format!("{config:?}"),
            got: format!("{:?}", stark.config),
        });
    }
    let component = instance.component(log_size);
    check_shape(&component, proof)?;

    let preprocessed = preprocessed_root(&instance.schedule, log_size);
    if stark.commitments[0] != preprocessed {
        return Err(ProofError::PreprocessedMismatch);
    }

    let channel = &mut instance.channel();
    let mut scheme = CommitmentSchemeVerifier::<Blake2sMerkleChannel>::new(config);
    let sizes = component.trace_log_degree_bounds();
    scheme.commit(preprocessed, &sizes[0], channel);
    scheme.commit(stark.commitments[1], &sizes[1], channel);
    let stark = proof.stark.clone();
    // STWO's verifier indexes into the proof; `check_shape` covers what can be checked before the
    // queries are drawn, and a panic on a malformed remainder is turned into a rejection.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        verify(&[&component], channel, &mut scheme, stark)
    }));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(ProofError::Rejected { source }),
        Err(_) => Err(ProofError::MalformedProof {
            what: "inconsistent decommitment structure".into(),
        }),
    }
}

/// The proof has one commitment per tree and exactly the sampled values the AIR asks for.
fn check_shape(component: &super::TxComponent, proof: &TxProof) -> Result<(), ProofError> {
    let stark = &proof.stark.0;
    if stark.commitments.len() != N_TREES {
        return Err(ProofError::MalformedProof {
            what: format!(
                "{} commitments, expected {N_TREES}",
                stark.commitments.len()
            ),
        });
    }
    let point = CirclePoint::<SecureField>::get_point(1);
    let mut expected: Vec<Vec<usize>> = component
        .mask_points(point, component.max_constraint_log_degree_bound())
        .iter()
        .map(|tree| tree.iter().map(Vec::len).collect())
        .collect();
    // `mask_points` leaves the preprocessed tree to the caller: one point per column.
    if let Some(tree) = expected.first_mut() {
        *tree = vec![1; component.preprocessed_column_indices().len()];
    }
    expected.push(vec![1; 8]);
    let got: Vec<Vec<usize>> = stark
        .sampled_values
        .iter()
        .map(|tree| tree.iter().map(Vec::len).collect())
        .collect();
    if got != expected {
        return Err(ProofError::MalformedProof {
            what: "sampled values do not match the AIR's mask".into(),
        });
    }
    Ok(())
}

/// Twiddles for a trace of `2^log_size` rows under `config` (its evaluation domain).
pub(crate) fn twiddles(
    log_size: u32,
    config: &stwo::core::pcs::PcsConfig,
) -> stwo::prover::poly::twiddles::TwiddleTree<SimdBackend> {
    SimdBackend::precompute_twiddles(
        CanonicCoset::new(
            log_size + LOG_CONSTRAINT_EXPANSION + config.fri_config.log_blowup_factor,
        )
        .circle_domain()
        .half_coset,
    )
}

/// The commitment to the schedule's preprocessed columns, computed as the prover does.
pub fn preprocessed_root(schedule: &Schedule, log_size: u32) -> Blake2sHash {
    let config = pcs_config();
    let twiddles = twiddles(log_size, &config);
    let mut scheme =
        CommitmentSchemeProver::<SimdBackend, Blake2sMerkleChannel>::new(config, &twiddles);
    let mut builder = scheme.tree_builder();
    builder.extend_evals(to_evaluations(
        schedule.preprocessed_columns(log_size),
        log_size,
    ));
    builder.commit(&mut Blake2sChannel::default());
    scheme.roots()[0]
}
