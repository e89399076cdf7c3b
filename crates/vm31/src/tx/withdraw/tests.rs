use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::merkle::MerkleTree;
use crate::sponge::DIGEST_LEN;
use crate::stark::tests::assert_constraints;
use crate::tx::test_support::{
    assert_flipped_bytes_rejected, assert_header_checked, assert_openings_hide, DEPLOYMENT,
    OTHER_POOL,
};

struct Setup {
    statement: WithdrawStatement,
    witness: WithdrawWitness,
    window: RootWindow,
    rng: ChaCha20Rng,
}

fn setup(seed: u64) -> Setup {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let sk = SpendingKey::random(&mut rng);
    let mut tree = MerkleTree::new();
    for _ in 0..5 {
        let other = Note::new(sk.public_key(), M31(1), 10, &mut rng);
        tree.append(other.commitment()).unwrap();
    }
    let note = Note::new(sk.public_key(), M31(7), 987_654_321_012, &mut rng);
    let index = tree.append(note.commitment()).unwrap();
    tree.append(Note::new(sk.public_key(), M31(1), 3, &mut rng).commitment())
        .unwrap();
    let mut window = RootWindow::new();
    window.push(tree.root());
    // Part of the note leaves, the relayer takes a fee, the rest comes back as change.
    let (amount, fee) = (500_000_000_000, 12_345);
    let change = Note::new(
        sk.public_key(),
        note.asset_id,
        note.amount - amount - fee,
        &mut rng,
    );
    let statement = WithdrawStatement {
        root: tree.root(),
        nullifier: note.nullifier(&sk, index),
        asset_id: note.asset_id,
        amount,
        change_commitment: change.commitment(),
        change_ciphertext_hash: [M31(77); DIGEST_LEN],
        external: ExternalData {
            recipient: [0xee; 32],
            relayer: [0x11; 32],
            fee,
            fee_asset: note.asset_id,
        },
    };
    let witness = WithdrawWitness {
        path: tree.path(index).unwrap(),
        spending_key: sk,
        note,
        index,
        change,
    };
    Setup {
        statement,
        witness,
        window,
        rng,
    }
}

fn proved(seed: u64) -> (Setup, WithdrawProof) {
    let mut s = setup(seed);
    let proof = prove_withdraw(&s.statement, &DEPLOYMENT, &s.witness, &mut s.rng).unwrap();
    (s, proof)
}

/// Past the native checks, the constraints refuse the witness rows of `s`.
fn assert_forced_rows_unprovable(s: &mut Setup) {
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    let rows = witness_rows(&s.witness, s.statement.total_out().unwrap());
    assert!(matches!(
        prove_instance(&instance, &rows, &mut s.rng),
        Err(ProofError::ConstraintsNotSatisfied)
    ));
}

#[test]
fn withdraw_witness_satisfies_constraints() {
    let s = setup(1);
    assert_constraints(
        &s.statement.instance(&DEPLOYMENT).unwrap(),
        &witness_rows(&s.witness, s.statement.total_out().unwrap()),
    );
}

#[test]
fn withdraw_proves_and_verifies_through_bytes() {
    let (s, proof) = proved(2);
    let decoded = WithdrawProof::from_bytes(&proof.to_bytes().unwrap()).unwrap();
    verify_withdraw(&s.statement, &decoded, &DEPLOYMENT, &s.window).unwrap();
}

#[test]
fn unknown_or_evicted_root_is_refused() {
    let (s, proof) = proved(3);
    let mut evicted = s.window.clone();
    for i in 0..crate::merkle::ROOT_WINDOW_LEN {
        evicted.push([M31(i as u32 + 1); DIGEST_LEN]);
    }
    for window in [RootWindow::new(), evicted] {
        assert!(matches!(
            verify_withdraw(&s.statement, &proof, &DEPLOYMENT, &window),
            Err(ProofError::UnknownRoot { .. })
        ));
    }
}

#[test]
fn wrong_root_is_rejected() {
    // A root the pool knows, but not the one the proof was made for.
    let (s, proof) = proved(4);
    let other = setup(5).statement.root;
    let mut window = s.window.clone();
    window.push(other);
    let wrong = WithdrawStatement {
        root: other,
        ..s.statement
    };
    assert!(matches!(
        verify_withdraw(&wrong, &proof, &DEPLOYMENT, &window),
        Err(ProofError::Rejected { .. })
    ));
}

#[test]
fn forged_path_is_refused_and_cannot_be_proved() {
    let mut s = setup(6);
    s.witness.path.0[3][2] += M31(1);
    assert!(matches!(
        prove_withdraw(&s.statement, &DEPLOYMENT, &s.witness, &mut s.rng),
        Err(ProofError::WitnessMismatch { .. })
    ));
    // Past the native check, the constraints refuse it: the root row no longer matches.
    assert_forced_rows_unprovable(&mut s);
    // So does a non-boolean index bit with the honest path.
    let s = setup(6);
    let mut rows = witness_rows(&s.witness, s.statement.total_out().unwrap());
    rows[MERKLE_START + 1].bit = M31(2);
    let mut rng = ChaCha20Rng::seed_from_u64(60);
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    assert!(prove_instance(&instance, &rows, &mut rng).is_err());
}

#[test]
fn wrong_nullifier_is_rejected() {
    let (s, proof) = proved(7);
    let mut wrong = s.statement;
    wrong.nullifier.0[0] += M31(1);
    assert!(matches!(
        verify_withdraw(&wrong, &proof, &DEPLOYMENT, &s.window),
        Err(ProofError::Rejected { .. })
    ));
    // A prover cannot claim another nullifier for its note either.
    let mut s = setup(7);
    s.statement.nullifier.0[0] += M31(1);
    assert!(prove_withdraw(&s.statement, &DEPLOYMENT, &s.witness, &mut s.rng).is_err());
}

#[test]
fn public_inputs_swapped_after_proving_are_rejected() {
    let (s, proof) = proved(8);
    let mut amount = s.statement;
    amount.amount += 1;
    let mut asset = s.statement;
    asset.asset_id += M31(1);
    let mut recipient = s.statement;
    recipient.external.recipient[7] ^= 1;
    let mut relayer = s.statement;
    relayer.external.relayer[0] ^= 1;
    let mut fee = s.statement;
    fee.external.fee -= 1;
    let mut change = s.statement;
    change.change_ciphertext_hash[0] += M31(1);
    for wrong in [amount, recipient, relayer, fee, change] {
        assert!(matches!(
            verify_withdraw(&wrong, &proof, &DEPLOYMENT, &s.window),
            Err(ProofError::Rejected { .. })
        ));
    }
    // The asset is pinned by the constraints, and the fee asset must follow it.
    assert!(verify_withdraw(&asset, &proof, &DEPLOYMENT, &s.window).is_err());
}

#[test]
fn tampered_bytes_are_rejected() {
    let (s, proof) = proved(9);
    assert_flipped_bytes_rejected(&proof.to_bytes().unwrap(), |b| {
        WithdrawProof::from_bytes(b)
            .and_then(|p| verify_withdraw(&s.statement, &p, &DEPLOYMENT, &s.window))
    });
}

#[test]
fn opened_values_do_not_contain_the_witness() {
    let (s, proof) = proved(10);
    let w = &s.witness;
    let secrets: Vec<M31> = w
        .spending_key
        .0
        .iter()
        .chain(&w.note.owner.0)
        .chain(&w.note.blinding)
        .chain(&w.note.commitment().0)
        .chain(w.path.0.iter().flatten())
        .copied()
        .collect();
    assert_openings_hide(&proof.0, &secrets);
}

#[test]
fn preprocessed_root_is_the_constant() {
    let schedule = schedule();
    let log_size = schedule.log_size().unwrap();
    let root = crate::stark::preprocessed_root(&schedule, log_size);
    assert_eq!(root, PREPROCESSED_ROOT, "{root:?}");
}

#[test]
fn header_and_deployment_are_checked() {
    let (s, proof) = proved(11);
    assert_header_checked(&proof.to_bytes().unwrap(), |b| {
        WithdrawProof::from_bytes(b)
            .and_then(|p| verify_withdraw(&s.statement, &p, &DEPLOYMENT, &s.window))
    });
    assert!(matches!(
        verify_withdraw(&s.statement, &proof, &OTHER_POOL, &s.window),
        Err(ProofError::Rejected { .. })
    ));
}

#[test]
fn withdraw_more_than_the_note_cannot_be_proved() {
    let mut s = setup(12);
    // Change of zero, amount one more than what is left: unbalanced by one unit.
    s.witness.change.amount = 0;
    s.statement.change_commitment = s.witness.change.commitment();
    s.statement.amount = s.witness.note.amount - s.statement.external.fee + 1;
    assert!(matches!(
        prove_withdraw(&s.statement, &DEPLOYMENT, &s.witness, &mut s.rng),
        Err(ProofError::WitnessMismatch { .. })
    ));
    assert_forced_rows_unprovable(&mut s);
}

#[test]
fn change_in_another_asset_cannot_be_proved() {
    let mut s = setup(13);
    s.witness.change.asset_id = M31(1);
    s.statement.change_commitment = s.witness.change.commitment();
    assert!(prove_withdraw(&s.statement, &DEPLOYMENT, &s.witness, &mut s.rng).is_err());
    assert_forced_rows_unprovable(&mut s);
}

#[test]
fn claimed_asset_other_than_the_notes_cannot_be_proved() {
    // Withdraw a note of a worthless asset as if it were another asset.
    let mut s = setup(14);
    s.statement.asset_id = M31(1);
    s.statement.external.fee_asset = M31(1);
    assert_forced_rows_unprovable(&mut s);
}

#[test]
fn fee_asset_and_overflow_are_refused() {
    let mut s = setup(15);
    s.statement.external.fee_asset = M31(1);
    assert!(matches!(
        s.statement.instance(&DEPLOYMENT),
        Err(ProofError::InvalidPublicInput { .. })
    ));
    let mut s = setup(15);
    s.statement.amount = u64::MAX;
    assert!(matches!(
        s.statement.instance(&DEPLOYMENT),
        Err(ProofError::InvalidPublicInput { .. })
    ));
}

#[test]
fn dummy_input_cannot_be_withdrawn() {
    // A zero note that is not in the tree, flagged as a dummy: only `forbid_dummy` refuses it.
    let mut s = setup(16);
    let sk = s.witness.spending_key.clone();
    s.witness.note = Note::new(sk.public_key(), M31(7), 0, &mut s.rng);
    s.witness.change = Note::new(sk.public_key(), M31(7), 0, &mut s.rng);
    s.statement.nullifier = s.witness.note.nullifier(&sk, s.witness.index);
    s.statement.change_commitment = s.witness.change.commitment();
    s.statement.amount = 0;
    s.statement.external.fee = 0;
    let mut rows = witness_rows(&s.witness, 0);
    for row in &mut rows[..crate::tx::input::INPUT_ROWS] {
        row.segment.dummy = M31(1);
    }
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    assert!(matches!(
        prove_instance(&instance, &rows, &mut s.rng),
        Err(ProofError::ConstraintsNotSatisfied)
    ));
    // The control: with dummies allowed the same rows prove.
    let mut open = instance;
    open.constants.forbid_dummy = M31(0);
    prove_instance(&open, &rows, &mut s.rng).unwrap();
}
