use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::merkle::MerkleTree;
use crate::sponge::DIGEST_LEN;
use crate::stark::tests::assert_constraints;
use crate::tx::test_support::{assert_flipped_bytes_rejected, assert_openings_hide};

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
    let statement = WithdrawStatement {
        root: tree.root(),
        nullifier: note.nullifier(&sk),
        amount: note.amount,
        asset_id: note.asset_id,
        recipient: std::array::from_fn(|i| M31(500 + i as u32)),
    };
    let witness = WithdrawWitness {
        path: tree.path(index).unwrap(),
        spending_key: sk,
        note,
        index,
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
    let proof = prove_withdraw(&s.statement, &s.witness, &mut s.rng).unwrap();
    (s, proof)
}

#[test]
fn withdraw_witness_satisfies_constraints() {
    let s = setup(1);
    assert_constraints(&s.statement.instance().unwrap(), &witness_rows(&s.witness));
}

#[test]
fn withdraw_proves_and_verifies_through_bytes() {
    let (s, proof) = proved(2);
    let decoded = WithdrawProof::from_bytes(&proof.to_bytes().unwrap()).unwrap();
    verify_withdraw(&s.statement, &decoded, &s.window).unwrap();
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
            verify_withdraw(&s.statement, &proof, &window),
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
        verify_withdraw(&wrong, &proof, &window),
        Err(ProofError::Rejected { .. })
    ));
}

#[test]
fn forged_path_is_refused_and_cannot_be_proved() {
    let mut s = setup(6);
    s.witness.path.0[3][2] += M31(1);
    assert!(matches!(
        prove_withdraw(&s.statement, &s.witness, &mut s.rng),
        Err(ProofError::WitnessMismatch { .. })
    ));
    // Past the native check, the constraints refuse it: the root row no longer matches.
    let instance = s.statement.instance().unwrap();
    let rows = witness_rows(&s.witness);
    assert!(matches!(
        prove_instance(&instance, &rows, &mut s.rng),
        Err(ProofError::ConstraintsNotSatisfied)
    ));
    // So does a non-boolean index bit with the honest path.
    let s = setup(6);
    let mut rows = witness_rows(&s.witness);
    rows[MERKLE_START + 1].bit = M31(2);
    let mut rng = ChaCha20Rng::seed_from_u64(60);
    assert!(prove_instance(&instance, &rows, &mut rng).is_err());
}

#[test]
fn wrong_nullifier_is_rejected() {
    let (s, proof) = proved(7);
    let mut wrong = s.statement;
    wrong.nullifier.0[0] += M31(1);
    assert!(matches!(
        verify_withdraw(&wrong, &proof, &s.window),
        Err(ProofError::Rejected { .. })
    ));
    // A prover cannot claim another nullifier for its note either.
    let mut s = setup(7);
    s.statement.nullifier.0[0] += M31(1);
    assert!(prove_withdraw(&s.statement, &s.witness, &mut s.rng).is_err());
}

#[test]
fn public_inputs_swapped_after_proving_are_rejected() {
    let (s, proof) = proved(8);
    let mut amount = s.statement;
    amount.amount += 1;
    let mut asset = s.statement;
    asset.asset_id += M31(1);
    let mut recipient = s.statement;
    recipient.recipient[7] += M31(1);
    for wrong in [amount, asset, recipient] {
        assert!(matches!(
            verify_withdraw(&wrong, &proof, &s.window),
            Err(ProofError::Rejected { .. })
        ));
    }
}

#[test]
fn tampered_bytes_are_rejected() {
    let (s, proof) = proved(9);
    assert_flipped_bytes_rejected(&proof.to_bytes().unwrap(), |b| {
        WithdrawProof::from_bytes(b).and_then(|p| verify_withdraw(&s.statement, &p, &s.window))
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
