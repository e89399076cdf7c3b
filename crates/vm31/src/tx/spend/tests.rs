use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::merkle::MerkleTree;
use crate::poseidon2::permutation;
use crate::sponge::DIGEST_LEN;
use crate::stark::tests::assert_constraints;
use crate::tx::test_support::{
    assert_flipped_bytes_rejected, assert_header_checked, assert_openings_hide, DEPLOYMENT,
    OTHER_POOL,
};
use stwo::core::fields::m31::P;

pub(super) struct Setup {
    pub(super) statement: SpendStatement,
    pub(super) witness: SpendWitness,
    pub(super) window: RootWindow,
    pub(super) rng: ChaCha20Rng,
}

pub(super) const ASSET: M31 = M31(7);

/// Two notes of `amounts` (owned by two different keys) in a tree with other notes, spent into
/// notes of `outputs` with `fee`.
pub(super) fn setup_with(seed: u64, amounts: [u64; 2], outputs: [u64; 2], fee: u64) -> Setup {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let keys = [SpendingKey::random(&mut rng), SpendingKey::random(&mut rng)];
    let mut tree = MerkleTree::new();
    for _ in 0..3 {
        let other = Note::new(keys[0].public_key(), ASSET, 10, &mut rng);
        tree.append(other.commitment()).unwrap();
    }
    let notes = [0, 1].map(|i| Note::new(keys[i].public_key(), ASSET, amounts[i], &mut rng));
    let indices = notes.map(|n| tree.append(n.commitment()).unwrap());
    let recipient = SpendingKey::random(&mut rng).public_key();
    let outputs = outputs.map(|a| Note::new(recipient, ASSET, a, &mut rng));
    let mut window = RootWindow::new();
    window.push(tree.root());
    let statement = SpendStatement {
        root: tree.root(),
        nullifiers: [0, 1].map(|i| notes[i].nullifier(&keys[i], indices[i])),
        output_commitments: outputs.map(|n| n.commitment()),
        ciphertext_hashes: [[M31(11); DIGEST_LEN], [M31(12); DIGEST_LEN]],
        external: ExternalData {
            relayer: [0x33; 32],
            fee,
            fee_asset: ASSET,
            ..ExternalData::default()
        },
    };
    let inputs = [0, 1].map(|i| SpendInput {
        spending_key: keys[i].clone(),
        note: notes[i],
        index: indices[i],
        path: tree.path(indices[i]).unwrap(),
        dummy: false,
    });
    Setup {
        statement,
        witness: SpendWitness { inputs, outputs },
        window,
        rng,
    }
}

/// Limb carries in both directions: `(2^22 − 1) + 2^44 = 2^22 + (2^44 − 2^22 − 1 − 5) + 5`.
fn setup(seed: u64) -> Setup {
    let a = (1 << 22) - 1;
    let b = 1 << 44;
    setup_with(seed, [a, b], [1 << 22, a + b - (1 << 22) - 5], 5)
}

fn proved(seed: u64) -> (Setup, SpendProof) {
    let mut s = setup(seed);
    let proof = prove_spend(&s.statement, &DEPLOYMENT, &s.witness, &mut s.rng).unwrap();
    (s, proof)
}

/// The native check refuses `s`'s witness, and its rows forced past it are unprovable.
fn assert_refused_and_unprovable(s: &mut Setup, why: &str) {
    let err = prove_spend(&s.statement, &DEPLOYMENT, &s.witness, &mut s.rng).unwrap_err();
    assert!(
        matches!(err, ProofError::WitnessMismatch { .. }),
        "{why}: {err}"
    );
    let rows = witness_rows(&s.witness, s.statement.external.fee);
    assert_unprovable(&s.statement.instance(&DEPLOYMENT).unwrap(), &rows, why);
}

/// Replaces the second input of `s` by a dummy of `amount` (0 for an honest dummy).
pub(super) fn with_second_dummy(s: &mut Setup, amount: u64) -> SpendInput {
    let key = s.witness.inputs[0].spending_key.clone();
    let mut dummy = SpendInput::dummy(&key, ASSET, &mut s.rng);
    dummy.note.amount = amount;
    s.statement.nullifiers[1] = dummy.nullifier();
    s.witness.inputs[1] = dummy.clone();
    dummy
}

fn assert_unprovable(instance: &Instance, rows: &[RowWitness], why: &str) {
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    assert!(
        matches!(
            prove_instance(instance, rows, &mut rng),
            Err(ProofError::ConstraintsNotSatisfied)
        ),
        "{why}: proved"
    );
}

#[test]
fn spend_witness_satisfies_constraints() {
    let s = setup(1);
    let rows = witness_rows(&s.witness, s.statement.external.fee);
    assert_constraints(&s.statement.instance(&DEPLOYMENT).unwrap(), &rows);
    // Also with the largest amounts: u64::MAX in, everything out, no fee.
    let s = setup_with(2, [u64::MAX, u64::MAX], [u64::MAX, u64::MAX - 9], 9);
    let rows = witness_rows(&s.witness, s.statement.external.fee);
    assert_constraints(&s.statement.instance(&DEPLOYMENT).unwrap(), &rows);
}

#[test]
fn spend_proves_and_verifies_through_bytes() {
    let (s, proof) = proved(3);
    let decoded = SpendProof::from_bytes(&proof.to_bytes().unwrap()).unwrap();
    verify_spend(&s.statement, &decoded, &DEPLOYMENT, &s.window).unwrap();
}

#[test]
fn unknown_root_and_wrong_root_are_rejected() {
    let (s, proof) = proved(4);
    assert!(matches!(
        verify_spend(&s.statement, &proof, &DEPLOYMENT, &RootWindow::new()),
        Err(ProofError::UnknownRoot { .. })
    ));
    let other = setup(5).statement.root;
    let mut window = s.window.clone();
    window.push(other);
    let wrong = SpendStatement {
        root: other,
        ..s.statement
    };
    assert!(matches!(
        verify_spend(&wrong, &proof, &DEPLOYMENT, &window),
        Err(ProofError::Rejected { .. })
    ));
}

#[test]
fn one_note_spent_twice_is_refused() {
    let mut s = setup(6);
    s.witness.inputs[1] = s.witness.inputs[0].clone();
    s.statement.nullifiers[1] = s.statement.nullifiers[0];
    let err = prove_spend(&s.statement, &DEPLOYMENT, &s.witness, &mut s.rng).unwrap_err();
    assert!(
        matches!(err, ProofError::InvalidPublicInput { .. }),
        "{err}"
    );
    let (s, proof) = proved(6);
    let mut same = s.statement.clone();
    same.nullifiers[1] = same.nullifiers[0];
    assert!(matches!(
        verify_spend(&same, &proof, &DEPLOYMENT, &s.window),
        Err(ProofError::InvalidPublicInput { .. })
    ));
}

#[test]
fn outputs_exceeding_inputs_cannot_be_proved() {
    // One more unit out than in, the fee unchanged.
    let s = setup_with(7, [100, 50], [120, 26], 5);
    let mut rng = ChaCha20Rng::seed_from_u64(70);
    let err = prove_spend(&s.statement, &DEPLOYMENT, &s.witness, &mut rng).unwrap_err();
    assert!(matches!(err, ProofError::WitnessMismatch { .. }), "{err}");
    // Past the native check, the final balance row refuses every carry.
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    assert_unprovable(&instance, &witness_rows(&s.witness, 5), "unbalanced");
    // And the honest fee balances it.
    let balanced = witness_rows(&s.witness, 4);
    let mut fair = s.statement.clone();
    fair.external.fee = 4;
    assert_constraints(&fair.instance(&DEPLOYMENT).unwrap(), &balanced);
}

#[test]
fn mixed_assets_cannot_be_proved() {
    let mut s = setup(8);
    let recipient = s.witness.outputs[0].owner;
    let other = Note::new(
        recipient,
        ASSET + M31(1),
        s.witness.outputs[0].amount,
        &mut s.rng,
    );
    s.witness.outputs[0] = other;
    s.statement.output_commitments[0] = other.commitment();
    assert_refused_and_unprovable(&mut s, "mixed assets");
}

/// Rewrites output `j`'s limb `limb` by `delta` (mod p) in its value row, and the statement's
/// commitment to match: the forged note balances in M31 but not over the integers.
fn forge_limb(s: &mut Setup, rows: &mut [RowWitness], j: usize, limb: usize, delta: M31) {
    let row = 2 * INPUT_ROWS + 2 * j + 1;
    rows[row].input[1 + limb] += delta;
    rows[row].value.bits = 0;
    let out = permutation(rows[row].input);
    s.statement.output_commitments[j] = Commitment(std::array::from_fn(|i| out[i]));
}

#[test]
fn negative_or_overflowing_amounts_cannot_be_proved() {
    // +5 on one output and −5 (p − 5) on the other: balanced mod p, refused by the range check.
    let mut s = setup(9);
    let mut rows = witness_rows(&s.witness, s.statement.external.fee);
    forge_limb(&mut s, &mut rows, 0, 0, M31(5));
    forge_limb(&mut s, &mut rows, 1, 0, M31(P - 5));
    assert_unprovable(
        &s.statement.instance(&DEPLOYMENT).unwrap(),
        &rows,
        "negative amount",
    );
    // A top limb of 2^20 (an amount of 2^64 or more) on one output, 2^20 less on the other.
    let mut s = setup_with(10, [1 << 63, 1 << 63], [1 << 63, 1 << 63], 0);
    let mut rows = witness_rows(&s.witness, 0);
    forge_limb(&mut s, &mut rows, 0, 2, M31(1 << 19));
    forge_limb(&mut s, &mut rows, 1, 2, M31(P - (1 << 19)));
    assert_unprovable(
        &s.statement.instance(&DEPLOYMENT).unwrap(),
        &rows,
        "limb overflow",
    );
}

#[test]
fn public_inputs_swapped_after_proving_are_rejected() {
    let (s, proof) = proved(11);
    let mut swapped = s.statement.clone();
    swapped.nullifiers.swap(0, 1);
    let mut commitment = s.statement.clone();
    commitment.output_commitments[1].0[0] += M31(1);
    let mut fee = s.statement.clone();
    fee.external.fee += 1;
    let mut ciphertext = s.statement.clone();
    ciphertext.ciphertext_hashes[0][3] += M31(1);
    for wrong in [swapped, commitment, fee, ciphertext] {
        assert!(matches!(
            verify_spend(&wrong, &proof, &DEPLOYMENT, &s.window),
            Err(ProofError::Rejected { .. })
        ));
    }
}

#[test]
fn tampered_bytes_are_rejected() {
    let (s, proof) = proved(12);
    assert_flipped_bytes_rejected(&proof.to_bytes().unwrap(), |b| {
        SpendProof::from_bytes(b)
            .and_then(|p| verify_spend(&s.statement, &p, &DEPLOYMENT, &s.window))
    });
}

#[test]
fn opened_values_do_not_contain_the_witness() {
    let (s, proof) = proved(13);
    let w = &s.witness;
    let mut secrets: Vec<M31> = Vec::new();
    for input in &w.inputs {
        secrets.extend(input.spending_key.0);
        secrets.extend(input.note.blinding);
        secrets.extend(input.note.commitment().0);
        secrets.extend(input.path.0.iter().flatten());
    }
    for note in &w.outputs {
        secrets.extend(note.owner.0);
        secrets.extend(note.blinding);
    }
    assert_openings_hide(&proof.0, &secrets);
}

#[test]
fn spend_proof_is_below_150_kb() {
    // Sizes vary with how many authentication paths the queries share (131-134 KB measured).
    for seed in 0..3 {
        let (_, proof) = proved(100 + seed);
        let len = proof.to_bytes().unwrap().len();
        assert!(len < 150_000, "spend proof of {len} bytes");
    }
}

#[test]
fn forged_path_of_the_second_input_cannot_be_proved() {
    let mut s = setup(14);
    s.witness.inputs[1].path.0[5][0] += M31(1);
    assert_refused_and_unprovable(&mut s, "forged path");
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
    let (s, proof) = proved(15);
    assert_header_checked(&proof.to_bytes().unwrap(), |b| {
        SpendProof::from_bytes(b)
            .and_then(|p| verify_spend(&s.statement, &p, &DEPLOYMENT, &s.window))
    });
    assert!(matches!(
        verify_spend(&s.statement, &proof, &OTHER_POOL, &s.window),
        Err(ProofError::Rejected { .. })
    ));
    // A relayer cannot redirect the fee to itself.
    let mut relayer = s.statement.clone();
    relayer.external.relayer = [0x44; 32];
    assert!(matches!(
        verify_spend(&relayer, &proof, &DEPLOYMENT, &s.window),
        Err(ProofError::Rejected { .. })
    ));
}

#[test]
fn fee_in_worthless_asset_cannot_be_proved() {
    // Notes of a worthless asset W pay a fee claimed in the fee asset T.
    let mut s = setup(16);
    s.statement.external.fee_asset = M31(99);
    assert_refused_and_unprovable(&mut s, "fee in another asset");
    // The honest proof names its asset; swapping the fee asset after proving is rejected.
    let (s, proof) = proved(16);
    let mut swapped = s.statement.clone();
    swapped.external.fee_asset = M31(99);
    assert!(verify_spend(&swapped, &proof, &DEPLOYMENT, &s.window).is_err());
}

#[test]
fn zero_fee_spend_keeps_any_asset() {
    // No fee: the fee asset is not pinned, and the notes' asset stays private.
    let mut s = setup_with(17, [10, 20], [25, 5], 0);
    s.statement.external.fee_asset = M31(0);
    let proof = prove_spend(&s.statement, &DEPLOYMENT, &s.witness, &mut s.rng).unwrap();
    verify_spend(&s.statement, &proof, &DEPLOYMENT, &s.window).unwrap();
}

#[test]
fn spend_with_one_dummy_input_works() {
    // One real note of 1000 pays 300 with a fee of 10; the other input is a dummy.
    let mut s = setup_with(18, [1000, 7], [300, 690], 10);
    let dummy = with_second_dummy(&mut s, 0);
    let proof = prove_spend(&s.statement, &DEPLOYMENT, &s.witness, &mut s.rng).unwrap();
    verify_spend(&s.statement, &proof, &DEPLOYMENT, &s.window).unwrap();
    // The dummy may come first, too.
    let mut swapped = setup_with(19, [1000, 7], [300, 690], 10);
    let real = swapped.witness.inputs[0].clone();
    swapped.witness.inputs = [dummy.clone(), real.clone()];
    swapped.statement.nullifiers = [dummy.nullifier(), real.nullifier()];
    let proof = prove_spend(
        &swapped.statement,
        &DEPLOYMENT,
        &swapped.witness,
        &mut s.rng,
    )
    .unwrap();
    verify_spend(&swapped.statement, &proof, &DEPLOYMENT, &swapped.window).unwrap();
}

#[test]
fn dummy_with_an_amount_cannot_be_proved() {
    // A "dummy" of 500 not in the tree would mint 500.
    let mut s = setup_with(20, [1000, 7], [300, 1190], 10);
    with_second_dummy(&mut s, 500);
    assert_refused_and_unprovable(&mut s, "dummy with an amount");
}

#[test]
fn dummy_flag_must_be_boolean_and_whole_segment() {
    let mut s = setup_with(21, [1000, 7], [300, 690], 10);
    with_second_dummy(&mut s, 0);
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    let honest = witness_rows(&s.witness, s.statement.external.fee);
    assert_constraints(&instance, &honest);
    let second = crate::tx::input::INPUT_ROWS;
    // The flag only on the root row (the rest of the segment claims a real note).
    let mut rows = honest.clone();
    for row in &mut rows[second..second + crate::tx::input::INPUT_ROWS - 2] {
        row.segment.dummy = M31(0);
    }
    assert_unprovable(&instance, &rows, "flag on the root row only");
    // A flag of 2 (so that (1 - d) vanishes nowhere useful).
    let mut rows = honest.clone();
    for row in &mut rows[second..2 * second] {
        row.segment.dummy = M31(2);
    }
    assert_unprovable(&instance, &rows, "non-boolean flag");
    // The real input flagged as a dummy: its amount is not 0.
    let mut rows = honest;
    for row in &mut rows[..second] {
        row.segment.dummy = M31(1);
    }
    assert_unprovable(&instance, &rows, "real note as dummy");
}

#[test]
fn nullifier_of_another_position_cannot_be_proved() {
    // The nullifier binds the leaf position: claiming the note sits elsewhere changes it, and the
    // position is the one whose path was checked.
    let mut s = setup(22);
    let input = &s.witness.inputs[0];
    let other = input.note.nullifier(&input.spending_key, input.index + 1);
    s.statement.nullifiers[0] = other;
    assert_refused_and_unprovable(&mut s, "nullifier of another position");
    // Claiming the other position in the whole segment (its bits and its nullifier) breaks the
    // membership of the note at its real position.
    let mut forged = s.witness.clone();
    forged.inputs[0].index += 1;
    let rows = witness_rows(&forged, s.statement.external.fee);
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    assert_unprovable(&instance, &rows, "note claimed at another position");
}
