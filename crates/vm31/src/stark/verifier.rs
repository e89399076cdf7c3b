//! Verifying a [`TxProof`] against an [`Instance`].
//!
//! Before STWO's verifier sees a proof, [`check_shape`] checks every length STWO 2.3.0 would
//! otherwise index or `zip_eq` on (and panic): tree counts, columns per tree, values per column
//! (one per query position, found by replaying the transcript up to the queries), FRI layer
//! counts and the last layer's size. So a malformed proof is an error, never a panic.

use stwo::core::air::Component;
use stwo::core::channel::{Blake2sChannel, Channel, MerkleChannel};
use stwo::core::circle::CirclePoint;
use stwo::core::fields::qm31::{SecureField, SECURE_EXTENSION_DEGREE};
use stwo::core::fri::{CirclePolyDegreeBound, FriVerifier};
use stwo::core::pcs::CommitmentSchemeVerifier;
use stwo::core::poly::line::LinePoly;
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo::core::verifier::{verify, VerificationError};

use super::air::N_TRACE_COLUMNS;
use super::config::{pcs_config, FOLD_STEP, LOG_LAST_LAYER_DEGREE_BOUND};
use super::error::ProofError;
use super::proof::TxProof;
use super::schedule::preprocessed_column_ids;
use super::{Instance, TxComponent};

/// Commitments in a proof: preprocessed, trace, composition.
const N_TREES: usize = 3;

/// Checks `proof` for `instance`, whose schedule's preprocessed columns have the commitment
/// `preprocessed`; the one in the proof must equal it.
///
/// The verifier does not recompute `preprocessed` (that takes the prover's FFT and Merkle
/// tree): each statement type keeps it as a constant (e.g.
/// [`crate::tx::deposit::PREPROCESSED_ROOT`]), checked against
/// [`super::prover::preprocessed_root`] by a test.
pub fn verify_instance(
    instance: &Instance,
    preprocessed: &Blake2sHash,
    proof: &TxProof,
) -> Result<(), ProofError> {
    if u32::from(proof.kind) != instance.kind {
        return Err(ProofError::KindMismatch {
            expected: instance.kind,
            got: proof.kind,
        });
    }
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
    check_static_shape(instance, &component, proof, log_size)?;

    if stark.commitments[0] != *preprocessed {
        return Err(ProofError::PreprocessedMismatch);
    }

    let channel = &mut instance.channel();
    let mut scheme = CommitmentSchemeVerifier::<Blake2sMerkleChannel>::new(config);
    let sizes = component.trace_log_degree_bounds();
    scheme.commit(*preprocessed, &sizes[0], channel);
    scheme.commit(stark.commitments[1], &sizes[1], channel);
    check_query_shape(&component, proof, channel)?;
    verify(&[&component], channel, &mut scheme, proof.stark.clone())
        .map_err(|source| ProofError::Rejected { source })
}

fn malformed(what: impl Into<String>) -> ProofError {
    ProofError::MalformedProof { what: what.into() }
}

/// Everything that does not depend on the query positions: one commitment, decommitment and
/// queried-value list per tree, the columns of each tree, the sampled values the AIR asks for,
/// the FRI layer count and a last layer of exactly `2^LOG_LAST_LAYER_DEGREE_BOUND` coefficients.
fn check_static_shape(
    instance: &Instance,
    component: &TxComponent,
    proof: &TxProof,
    log_size: u32,
) -> Result<(), ProofError> {
    let stark = &proof.stark.0;
    let counts = [
        ("commitments", stark.commitments.len()),
        ("sampled value trees", stark.sampled_values.len()),
        ("decommitments", stark.decommitments.len()),
        ("queried value trees", stark.queried_values.len()),
    ];
    for (what, n) in counts {
        if n != N_TREES {
            return Err(malformed(format!("{n} {what}, expected {N_TREES}")));
        }
    }
    let schedule = &instance.schedule;
    let columns = [
        preprocessed_column_ids(schedule.n_outputs, schedule.n_node_outputs).len(),
        N_TRACE_COLUMNS,
        2 * SECURE_EXTENSION_DEGREE,
    ];
    for (tree, (&expected, queried)) in columns.iter().zip(stark.queried_values.iter()).enumerate()
    {
        if queried.len() != expected {
            return Err(malformed(format!(
                "tree {tree} has {} queried columns, expected {expected}",
                queried.len()
            )));
        }
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
    expected.push(vec![1; 2 * SECURE_EXTENSION_DEGREE]);
    let got: Vec<Vec<usize>> = stark
        .sampled_values
        .iter()
        .map(|tree| tree.iter().map(Vec::len).collect())
        .collect();
    if got != expected {
        return Err(malformed("sampled values do not match the AIR's mask"));
    }

    let fri = &stark.fri_proof;
    let inner = expected_inner_layers(log_size);
    if fri.inner_layers.len() != inner {
        return Err(malformed(format!(
            "{} inner FRI layers, expected {inner}",
            fri.inner_layers.len()
        )));
    }
    let last = &fri.last_layer_poly;
    // `LinePoly::len` trusts the deserialised `log_size`; count the coefficients themselves.
    let coefficients: &[SecureField] = last;
    if coefficients.len() != 1 << LOG_LAST_LAYER_DEGREE_BOUND
        || *last != LinePoly::new(coefficients.to_vec())
    {
        return Err(malformed("FRI last layer of the wrong size"));
    }
    Ok(())
}

/// FRI inner layers for a trace of `2^log_size` rows (see [`super::config::fri_opened_values`]).
fn expected_inner_layers(log_size: u32) -> usize {
    let mut degree = log_size.saturating_sub(FOLD_STEP);
    let mut layers = 0;
    while degree > LOG_LAST_LAYER_DEGREE_BOUND {
        degree -= FOLD_STEP.min(degree - LOG_LAST_LAYER_DEGREE_BOUND);
        layers += 1;
    }
    layers
}

/// Replays STWO's transcript from the trace commitment to the query positions (on a copy of
/// `channel`), then checks that every queried column holds one value per position.
fn check_query_shape(
    component: &TxComponent,
    proof: &TxProof,
    channel: &Blake2sChannel,
) -> Result<(), ProofError> {
    let stark = &proof.stark.0;
    let config = pcs_config();
    let mut replay = channel.clone();
    replay.draw_secure_felt();
    Blake2sMerkleChannel::mix_root(&mut replay, stark.commitments[2]);
    CirclePoint::<SecureField>::get_random_point(&mut replay);
    replay.mix_felts(&stark.sampled_values.clone().flatten_cols());
    replay.draw_secure_felt();
    let bound = CirclePolyDegreeBound::new(component.max_constraint_log_degree_bound() - 1);
    let mut fri = FriVerifier::<Blake2sMerkleChannel>::commit(
        &mut replay,
        config.fri_config,
        stark.fri_proof.clone(),
        bound,
    )
    .map_err(|e| ProofError::Rejected { source: e.into() })?;
    if !replay.verify_pow_nonce(config.pow_bits, stark.proof_of_work) {
        return Err(ProofError::Rejected {
            source: VerificationError::ProofOfWork,
        });
    }
    replay.mix_u64(stark.proof_of_work);
    let n_positions = fri.sample_query_positions(&mut replay).len();
    for (tree, columns) in stark.queried_values.iter().enumerate() {
        if let Some(col) = columns.iter().find(|col| col.len() != n_positions) {
            return Err(malformed(format!(
                "tree {tree}: a column has {} queried values for {n_positions} positions",
                col.len()
            )));
        }
    }
    Ok(())
}

/// A hash from its 64 hex digits, at compile time (for the statement types' constants).
///
/// # Panics
/// Panics (a compile error in a `const`) if `hex` is not 64 hex digits.
pub const fn hash_from_hex(hex: &str) -> Blake2sHash {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let hex = hex.as_bytes();
    assert!(hex.len() == 64, "a hash is 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (digit(hex[2 * i]) << 4) | digit(hex[2 * i + 1]);
        i += 1;
    }
    Blake2sHash(out)
}
