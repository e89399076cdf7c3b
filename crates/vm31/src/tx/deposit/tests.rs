use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::keys::SpendingKey;
use crate::tx::test_support::{assert_flipped_bytes_rejected, assert_openings_hide};

fn setup(seed: u64) -> (DepositStatement, Note, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let sk = SpendingKey::random(&mut rng);
    let note = Note::new(sk.public_key(), M31(7), 123_456_789_012, &mut rng);
    let statement = DepositStatement {
        amount: note.amount,
        asset_id: note.asset_id,
        commitment: note.commitment(),
        ciphertext_hash: std::array::from_fn(|i| M31(1000 + i as u32)),
    };
    (statement, note, rng)
}

fn proved(seed: u64) -> (DepositStatement, Note, DepositProof) {
    let (statement, note, mut rng) = setup(seed);
    let proof = prove_deposit(&statement, &note, &mut rng).unwrap();
    (statement, note, proof)
}

#[test]
fn deposit_proves_and_verifies_through_bytes() {
    let (statement, _, proof) = proved(1);
    let bytes = proof.to_bytes().unwrap();
    let decoded = DepositProof::from_bytes(&bytes).unwrap();
    verify_deposit(&statement, &decoded).unwrap();
}

#[test]
fn wrong_public_amount_is_rejected() {
    let (mut statement, _, proof) = proved(2);
    statement.amount += 1;
    let err = verify_deposit(&statement, &proof).unwrap_err();
    assert!(matches!(err, ProofError::Rejected { .. }), "{err}");
    // Also in the top limb.
    statement.amount = statement.amount - 1 + (1 << 50);
    assert!(verify_deposit(&statement, &proof).is_err());
}

#[test]
fn swapped_commitment_is_rejected() {
    let (statement, _, proof) = proved(3);
    let (other, _, _) = setup(4);
    let swapped = DepositStatement {
        commitment: other.commitment,
        ..statement
    };
    assert!(matches!(
        verify_deposit(&swapped, &proof),
        Err(ProofError::Rejected { .. })
    ));
}

#[test]
fn public_inputs_swapped_after_proving_are_rejected() {
    let (statement, _, proof) = proved(5);
    let mut asset = statement;
    asset.asset_id += M31(1);
    assert!(verify_deposit(&asset, &proof).is_err());
    let mut ciphertext = statement;
    ciphertext.ciphertext_hash[5] += M31(1);
    assert!(matches!(
        verify_deposit(&ciphertext, &proof),
        Err(ProofError::Rejected { .. })
    ));
}

#[test]
fn tampered_bytes_are_rejected() {
    let (statement, _, proof) = proved(6);
    let bytes = proof.to_bytes().unwrap();
    assert_flipped_bytes_rejected(&bytes, |b| {
        DepositProof::from_bytes(b).and_then(|p| verify_deposit(&statement, &p))
    });
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        DepositProof::from_bytes(&longer),
        Err(ProofError::Decode { .. })
    ));
}

#[test]
fn weaker_config_in_proof_is_refused() {
    let (statement, _, mut proof) = proved(7);
    proof.0.stark.0.config.pow_bits = 1;
    assert!(matches!(
        verify_deposit(&statement, &proof),
        Err(ProofError::ConfigMismatch { .. })
    ));
}

#[test]
fn preprocessed_commitment_comes_from_the_verifier() {
    let (statement, _, mut proof) = proved(8);
    proof.0.stark.0.commitments[0] = proof.0.stark.0.commitments[1];
    assert!(matches!(
        verify_deposit(&statement, &proof),
        Err(ProofError::PreprocessedMismatch)
    ));
}

#[test]
fn mismatched_witness_is_refused_before_proving() {
    let (mut statement, note, mut rng) = setup(9);
    statement.amount += 1;
    assert!(matches!(
        prove_deposit(&statement, &note, &mut rng),
        Err(ProofError::WitnessMismatch { .. })
    ));
}

#[test]
fn opened_values_do_not_contain_the_witness() {
    let (statement, note, proof) = proved(10);
    let secrets: Vec<M31> = note.owner.0.iter().chain(&note.blinding).copied().collect();
    assert_openings_hide(&proof.0, &secrets);
    let (_, _, mut rng) = setup(11);
    let again = prove_deposit(&statement, &note, &mut rng).unwrap();
    // Fresh randomness gives a different trace commitment for the same witness.
    assert_ne!(
        proof.0.stark.0.commitments[1],
        again.0.stark.0.commitments[1]
    );
}

#[test]
fn preprocessed_root_is_the_constant() {
    let schedule = schedule();
    let log_size = schedule.log_size().unwrap();
    let root = crate::stark::preprocessed_root(&schedule, log_size);
    assert_eq!(root, PREPROCESSED_ROOT, "{root:?}");
}
