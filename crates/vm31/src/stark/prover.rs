//! Proving an [`Instance`] from its permutation inputs.

use rand::{CryptoRng, RngCore};
use stwo::core::channel::Blake2sChannel;
use stwo::core::pcs::PcsConfig;
use stwo::core::poly::circle::CanonicCoset;
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::poly::circle::PolyOps;
use stwo::prover::poly::twiddles::TwiddleTree;
use stwo::prover::{prove, CommitmentSchemeProver};

use super::air::LOG_CONSTRAINT_EXPANSION;
use super::config::pcs_config;
use super::error::ProofError;
use super::proof::TxProof;
use super::schedule::{to_evaluations, Schedule};
use super::trace::{trace_columns, RowWitness};
use super::Instance;

/// Proves `instance` with one [`RowWitness`] per scheduled row (the rows' other values are
/// derived). The caller has checked the witness against the statement natively; a witness
/// that breaks a constraint yields [`ProofError::ConstraintsNotSatisfied`].
pub fn prove_instance<R: RngCore + CryptoRng>(
    instance: &Instance,
    rows: &[RowWitness],
    rng: &mut R,
) -> Result<TxProof, ProofError> {
    let schedule = &instance.schedule;
    if rows.len() != schedule.rows.len() {
        return Err(ProofError::WitnessMismatch {
            what: "one row witness per scheduled row",
        });
    }
    let log_size = schedule.log_size()?;
    let config = pcs_config();
    let twiddles = twiddles(log_size, &config);
    let channel = &mut instance.channel();
    let mut scheme =
        CommitmentSchemeProver::<SimdBackend, Blake2sMerkleChannel>::new(config, &twiddles);

    let mut builder = scheme.tree_builder();
    builder.extend_evals(to_evaluations(
        schedule.preprocessed_columns(log_size),
        log_size,
    ));
    builder.commit(channel);

    let mut builder = scheme.tree_builder();
    builder.extend_evals(to_evaluations(trace_columns(rows, log_size, rng), log_size));
    builder.commit(channel);

    let component = instance.component(log_size);
    let stark = prove::<SimdBackend, Blake2sMerkleChannel>(&[&component], channel, scheme)
        .map_err(|_| ProofError::ConstraintsNotSatisfied)?;
    Ok(TxProof { stark })
}

/// Twiddles for a trace of `2^log_size` rows under `config` (its evaluation domain).
fn twiddles(log_size: u32, config: &PcsConfig) -> TwiddleTree<SimdBackend> {
    SimdBackend::precompute_twiddles(
        CanonicCoset::new(
            log_size + LOG_CONSTRAINT_EXPANSION + config.fri_config.log_blowup_factor,
        )
        .circle_domain()
        .half_coset,
    )
}

/// The commitment to the schedule's preprocessed columns, as [`prove_instance`] makes it: the
/// value a statement type fixes as its constant for [`super::verify_instance`].
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
