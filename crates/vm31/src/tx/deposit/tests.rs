use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::keys::SpendingKey;
use crate::tx::test_support::{
    assert_flipped_bytes_rejected, assert_header_checked, assert_openings_hide, trace_root,
    ZeroRng, DEPLOYMENT, OTHER_POOL,
};

fn setup(seed: u64) -> (DepositStatement, Note, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let sk = SpendingKey::random(&mut rng);
    let note = Note::new(sk.public_key(), M31(7), 123_456_789_012, &mut rng);
    let statement = DepositStatement {
        amount: note.amount,
        asset_id: note.asset_id,
        commitment: note.commitment(),
        ciphertext_hash: std::array::from_fn(|i| M31(1000 + i as u32)),
        external: ExternalData {
            recipient: [0x5a; 32],
            ..ExternalData::default()
        },
    };
    (statement, note, rng)
}

fn proved(seed: u64) -> (DepositStatement, Note, DepositProof) {
    let (statement, note, mut rng) = setup(seed);
    let proof = prove_deposit(&statement, &DEPLOYMENT, &note, &mut rng).unwrap();
    (statement, note, proof)
}

#[test]
fn deposit_proves_and_verifies_through_bytes() {
    let (statement, _, proof) = proved(1);
    let bytes = proof.to_bytes().unwrap();
    let decoded = DepositProof::from_bytes(&bytes).unwrap();
    verify_deposit(&statement, &decoded, &DEPLOYMENT).unwrap();
}

#[test]
fn wrong_public_amount_is_rejected() {
    let (mut statement, _, proof) = proved(2);
    statement.amount += 1;
    let err = verify_deposit(&statement, &proof, &DEPLOYMENT).unwrap_err();
    assert!(matches!(err, ProofError::Rejected { .. }), "{err}");
    // Also in the top limb.
    statement.amount = statement.amount - 1 + (1 << 50);
    assert!(verify_deposit(&statement, &proof, &DEPLOYMENT).is_err());
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
        verify_deposit(&swapped, &proof, &DEPLOYMENT),
        Err(ProofError::Rejected { .. })
    ));
}

#[test]
fn public_inputs_swapped_after_proving_are_rejected() {
    let (statement, _, proof) = proved(5);
    let mut asset = statement;
    asset.asset_id += M31(1);
    assert!(verify_deposit(&asset, &proof, &DEPLOYMENT).is_err());
    let mut ciphertext = statement;
    ciphertext.ciphertext_hash[5] += M31(1);
    assert!(matches!(
        verify_deposit(&ciphertext, &proof, &DEPLOYMENT),
        Err(ProofError::Rejected { .. })
    ));
}

#[test]
fn tampered_bytes_are_rejected() {
    let (statement, _, proof) = proved(6);
    let bytes = proof.to_bytes().unwrap();
    assert_flipped_bytes_rejected(&bytes, |b| {
        DepositProof::from_bytes(b).and_then(|p| verify_deposit(&statement, &p, &DEPLOYMENT))
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
        verify_deposit(&statement, &proof, &DEPLOYMENT),
        Err(ProofError::ConfigMismatch { .. })
    ));
}

#[test]
fn preprocessed_commitment_comes_from_the_verifier() {
    let (statement, _, mut proof) = proved(8);
    proof.0.stark.0.commitments[0] = proof.0.stark.0.commitments[1];
    assert!(matches!(
        verify_deposit(&statement, &proof, &DEPLOYMENT),
        Err(ProofError::PreprocessedMismatch)
    ));
}

#[test]
fn mismatched_witness_is_refused_before_proving() {
    let (mut statement, note, mut rng) = setup(9);
    statement.amount += 1;
    assert!(matches!(
        prove_deposit(&statement, &DEPLOYMENT, &note, &mut rng),
        Err(ProofError::WitnessMismatch { .. })
    ));
}

#[test]
fn opened_values_do_not_contain_the_witness() {
    let (statement, note, proof) = proved(10);
    let secrets: Vec<M31> = note.owner.0.iter().chain(&note.blinding).copied().collect();
    assert_openings_hide(&proof.0, &secrets);
    let (_, _, mut rng) = setup(11);
    let again = prove_deposit(&statement, &DEPLOYMENT, &note, &mut rng).unwrap();
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

#[test]
fn header_version_and_kind_are_checked() {
    let (statement, _, proof) = proved(12);
    let bytes = proof.to_bytes().unwrap();
    assert_header_checked(&bytes, |b| {
        DepositProof::from_bytes(b).and_then(|p| verify_deposit(&statement, &p, &DEPLOYMENT))
    });
}

#[test]
fn proof_for_another_deployment_or_account_is_rejected() {
    let (statement, _, proof) = proved(13);
    let err = verify_deposit(&statement, &proof, &OTHER_POOL).unwrap_err();
    assert!(matches!(err, ProofError::Rejected { .. }), "{err}");
    let other_chain = Deployment {
        chain_id: DEPLOYMENT.chain_id + 1,
        ..DEPLOYMENT
    };
    assert!(verify_deposit(&statement, &proof, &other_chain).is_err());
    let mut account = statement;
    account.external.recipient[0] ^= 1;
    assert!(verify_deposit(&account, &proof, &DEPLOYMENT).is_err());
}

#[test]
fn zero_caller_rng_still_hides_the_witness() {
    let (statement, note, _) = setup(14);
    let a = prove_deposit(&statement, &DEPLOYMENT, &note, &mut ZeroRng).unwrap();
    let b = prove_deposit(&statement, &DEPLOYMENT, &note, &mut ZeroRng).unwrap();
    verify_deposit(&statement, &a, &DEPLOYMENT).unwrap();
    assert_ne!(trace_root(&a.0), trace_root(&b.0), "padding repeated");
    let secrets: Vec<M31> = note.owner.0.iter().chain(&note.blinding).copied().collect();
    assert_openings_hide(&a.0, &secrets);
}

#[test]
fn witness_guess_with_zero_rng_does_not_reproduce_the_trace() {
    // Before the hedge, a zero RNG made the trace a function of the witness: whoever guessed the
    // witness could recompute the trace commitment and confirm the guess.
    let (statement, note, _) = setup(15);
    let proof = prove_deposit(&statement, &DEPLOYMENT, &note, &mut ZeroRng).unwrap();
    let inputs = sponge_inputs(Domain::NOTE_COMMITMENT, &note.encode());
    let rows: Vec<RowWitness> = inputs.into_iter().map(RowWitness::plain).collect();
    let guess =
        crate::stark::prover::trace_root_for(&schedule(), &rows, &[M31(0); 8], &mut ZeroRng);
    assert_ne!(guess, trace_root(&proof.0));
}

#[test]
fn deposit_with_a_fee_or_relayer_is_refused() {
    let (statement, note, mut rng) = setup(16);
    let mut fee = statement;
    fee.external.fee = 1;
    let mut relayer = statement;
    relayer.external.relayer[3] = 1;
    for wrong in [fee, relayer] {
        assert!(matches!(
            prove_deposit(&wrong, &DEPLOYMENT, &note, &mut rng),
            Err(ProofError::InvalidPublicInput { .. })
        ));
    }
}
