//! Verifying a [`TxProof`] against an [`Instance`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use stwo::core::air::Component;
use stwo::core::circle::CirclePoint;
use stwo::core::fields::qm31::SecureField;
use stwo::core::pcs::CommitmentSchemeVerifier;
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo::core::verifier::verify;

use super::config::pcs_config;
use super::error::ProofError;
use super::proof::TxProof;
use super::Instance;

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

    if stark.commitments[0] != *preprocessed {
        return Err(ProofError::PreprocessedMismatch);
    }

    let channel = &mut instance.channel();
    let mut scheme = CommitmentSchemeVerifier::<Blake2sMerkleChannel>::new(config);
    let sizes = component.trace_log_degree_bounds();
    scheme.commit(*preprocessed, &sizes[0], channel);
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
