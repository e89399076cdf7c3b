//! Proving an [`Instance`] from its permutation inputs.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest as _};
use rand::rngs::OsRng;
use rand::{CryptoRng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
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
use super::segment::dummy_root;
use super::trace::{trace_columns, RowWitness};
use super::Instance;

/// Proves `instance` with one [`RowWitness`] per scheduled row (the rows' other values are
/// derived). The caller has checked the witness against the statement natively; a witness
/// that breaks a constraint yields [`ProofError::ConstraintsNotSatisfied`].
///
/// The padding rows, S-box copies and mask columns that hide the witness come from a hedged
/// generator ([`hedged_rng`]): 32 bytes of the operating system's RNG, 32 bytes of `rng`, the
/// statement and the witness. It is secure if either source is; with both broken it is still a
/// function of (statement, witness) only, so it never repeats across two witnesses.
pub fn prove_instance<R: RngCore + CryptoRng>(
    instance: &Instance,
    rows: &[RowWitness],
    rng: &mut R,
) -> Result<TxProof, ProofError> {
    let mut os = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut os)
        .map_err(|e| ProofError::Entropy {
            what: e.to_string(),
        })?;
    prove_instance_with_entropy(instance, rows, rng, os)
}

/// [`prove_instance`] with the operating-system entropy given (tests reproduce proofs with it).
pub(crate) fn prove_instance_with_entropy<R: RngCore + CryptoRng>(
    instance: &Instance,
    rows: &[RowWitness],
    rng: &mut R,
    os: [u8; 32],
) -> Result<TxProof, ProofError> {
    let mut caller = [0u8; 32];
    rng.fill_bytes(&mut caller);
    let rng = &mut hedged_rng(instance, rows, os, caller);
    let schedule = &instance.schedule;
    if rows.len() != schedule.rows.len() {
        return Err(ProofError::WitnessMismatch {
            what: "one row witness per scheduled row",
        });
    }
    let log_size = schedule.log_size()?;
    let twiddles = twiddles(log_size, &pcs_config());
    let channel = &mut instance.channel();
    let root = dummy_root(&instance.constants);
    let trace = trace_columns(rows, log_size, &root, rng);
    let scheme = commit_traces(schedule, log_size, trace, &twiddles, channel);

    let component = instance.component(log_size);
    let stark = prove::<SimdBackend, Blake2sMerkleChannel>(&[&component], channel, scheme)
        .map_err(|_| ProofError::ConstraintsNotSatisfied)?;
    let kind = u8::try_from(instance.kind).map_err(|_| ProofError::InvalidPublicInput {
        what: "statement kind above 255",
    })?;
    Ok(TxProof { kind, stark })
}

/// Commits the schedule's preprocessed columns and `trace` (the proof's first two trees).
fn commit_traces<'a>(
    schedule: &Schedule,
    log_size: u32,
    trace: Vec<Vec<stwo::core::fields::m31::M31>>,
    twiddles: &'a TwiddleTree<SimdBackend>,
    channel: &mut Blake2sChannel,
) -> CommitmentSchemeProver<'a, SimdBackend, Blake2sMerkleChannel> {
    let mut scheme =
        CommitmentSchemeProver::<SimdBackend, Blake2sMerkleChannel>::new(pcs_config(), twiddles);
    let mut builder = scheme.tree_builder();
    builder.extend_evals(to_evaluations(
        schedule.preprocessed_columns(log_size),
        log_size,
    ));
    builder.commit(channel);
    let mut builder = scheme.tree_builder();
    builder.extend_evals(to_evaluations(trace, log_size));
    builder.commit(channel);
    scheme
}

/// `ChaCha20(BLAKE2b-256("vm31.trace-rng.v2" ‖ os ‖ caller ‖ kind ‖ public inputs ‖ witness))`.
fn hedged_rng(
    instance: &Instance,
    rows: &[RowWitness],
    os: [u8; 32],
    caller: [u8; 32],
) -> ChaCha20Rng {
    let mut h = Blake2b::<U32>::new();
    h.update(b"vm31.trace-rng.v2");
    h.update(os);
    h.update(caller);
    let mut word = |x: u32| h.update(x.to_le_bytes());
    word(instance.kind);
    word(instance.public_inputs.len() as u32);
    for x in &instance.public_inputs {
        word(x.0);
    }
    for row in rows {
        let value = &row.value;
        let elements = row.input.iter().chain(&row.reg).chain([
            &row.bit,
            &value.asset,
            &row.segment.dummy,
            &row.segment.pos,
        ]);
        for x in elements.chain(&value.balance) {
            word(x.0);
        }
        word(value.bits as u32);
        word((value.bits >> 32) as u32);
    }
    ChaCha20Rng::from_seed(h.finalize().into())
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

/// The trace commitment of `rows` padded straight from `rng`, without the hedge: what a
/// verifier who guessed the witness could recompute if the prover used `rng` alone.
#[cfg(test)]
pub(crate) fn trace_root_for<R: RngCore + CryptoRng>(
    schedule: &Schedule,
    rows: &[RowWitness],
    root: &[stwo::core::fields::m31::M31; 8],
    rng: &mut R,
) -> Blake2sHash {
    let log_size = schedule.log_size().expect("schedule fits");
    let twiddles = twiddles(log_size, &pcs_config());
    let trace = trace_columns(rows, log_size, root, rng);
    let channel = &mut Blake2sChannel::default();
    commit_traces(schedule, log_size, trace, &twiddles, channel).roots()[1]
}
