//! Attacks from the protocol v2 review, kept as regression tests: each forged witness must be
//! unprovable (`ConstraintsNotSatisfied`), each control must prove, and no mutated proof may
//! panic the verifier. Positions: segment 0 is rows 0-25, segment 1 rows 26-51.
#![allow(clippy::type_complexity)]

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::tests::{setup_with, with_second_dummy, Setup, ASSET};
use super::*;
use crate::poseidon2::permutation;
use crate::tx::input::MERKLE_START;
use crate::tx::test_support::DEPLOYMENT;
const SEG1: usize = INPUT_ROWS;
const NF_ROW: usize = INPUT_ROWS - 1;
const ROOT_ROW: usize = INPUT_ROWS - 2;

fn try_prove(instance: &Instance, rows: &[RowWitness]) -> Result<TxProof, ProofError> {
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    prove_instance(instance, rows, &mut rng)
}

fn expect_caught(instance: &Instance, rows: &[RowWitness], why: &str) {
    match try_prove(instance, rows) {
        Err(ProofError::ConstraintsNotSatisfied) => {}
        Err(e) => panic!("{why}: unexpected error {e}"),
        Ok(_) => panic!("{why}: FORGED TRACE PROVED"),
    }
}

fn digest(out: [M31; 16]) -> Nullifier {
    Nullifier(std::array::from_fn(|i| out[i]))
}

/// Claim another leaf position in the nullifier without changing the path's index bits.
#[test]
fn review_attack_position_forgery() {
    let mut s = setup_with(201, [100, 50], [120, 25], 5);
    let honest = witness_rows(&s.witness, 5);
    let index = s.witness.inputs[0].index;
    let forged_index = index ^ (1 << 7);
    let mut st = s.statement.clone();
    st.nullifiers[0] = s.witness.inputs[0]
        .note
        .nullifier(&s.witness.inputs[0].spending_key, forged_index);
    let instance = st.instance(&DEPLOYMENT).unwrap();

    // (a) only the absorbed element on the nullifier row.
    let mut rows = honest.clone();
    rows[NF_ROW].input[0] = rows[NF_ROW].reg[0] + M31(forged_index);
    rows[NF_ROW].segment.pos = M31(forged_index);
    assert_eq!(digest(permutation(rows[NF_ROW].input)), st.nullifiers[0]);
    expect_caught(
        &instance,
        &rows,
        "absorbed position differs from the last Merkle row",
    );
    // (b) also the last Merkle row's pos column.
    rows[ROOT_ROW].segment.pos = M31(forged_index);
    expect_caught(&instance, &rows, "last pos column forged");
    // (c) every pos column consistent with the forged index, bits unchanged.
    for level in 0..crate::merkle::TREE_DEPTH {
        let mask = ((2u64 << level) - 1) as u32;
        rows[MERKLE_START + level].segment.pos = M31(forged_index & mask);
    }
    expect_caught(&instance, &rows, "pos accumulates forged bits");
    // control: honest rows for the honest statement prove.
    let _ = &mut s.rng;
    try_prove(&s.statement.instance(&DEPLOYMENT).unwrap(), &honest).expect("honest proves");
}

/// A nullifier that skips `cm` (register not reloaded on the first Merkle row), or absorbs extra
/// elements on the position row.
#[test]
fn review_attack_nullifier_sponge_forgeries() {
    let s = setup_with(202, [100, 50], [120, 25], 5);
    let honest = witness_rows(&s.witness, 5);

    // Keep the register of row 0 (sponge after sk only) through the Merkle rows.
    let mut rows = honest.clone();
    let saved = rows[0].reg;
    for row in &mut rows[MERKLE_START..INPUT_ROWS] {
        row.reg = saved;
    }
    let pos = rows[ROOT_ROW].segment.pos;
    rows[NF_ROW].input = saved;
    rows[NF_ROW].input[0] += pos;
    let mut st = s.statement.clone();
    st.nullifiers[0] = digest(permutation(rows[NF_ROW].input));
    expect_caught(
        &st.instance(&DEPLOYMENT).unwrap(),
        &rows,
        "nullifier without cm",
    );

    // Extra absorbed element (in[3]) on the nullifier row: a nullifier of 'another' input.
    for j in [1usize, 3, 8, 15] {
        let mut rows = honest.clone();
        rows[NF_ROW].input[j] += M31(1);
        let mut st = s.statement.clone();
        st.nullifiers[0] = digest(permutation(rows[NF_ROW].input));
        expect_caught(
            &st.instance(&DEPLOYMENT).unwrap(),
            &rows,
            "extra absorbed element",
        );
    }

    // Register changed between the first Merkle row and the nullifier row (keep_reg).
    let mut rows = honest.clone();
    for row in &mut rows[MERKLE_START + 3..INPUT_ROWS] {
        row.reg[9] += M31(1);
    }
    rows[NF_ROW].input[9] += M31(1);
    let mut st = s.statement.clone();
    st.nullifiers[0] = digest(permutation(rows[NF_ROW].input));
    expect_caught(
        &st.instance(&DEPLOYMENT).unwrap(),
        &rows,
        "register changed mid-path",
    );
}

fn with_dummy_second(seed: u64) -> Setup {
    let mut s = setup_with(seed, [1000, 7], [300, 690], 10);
    with_second_dummy(&mut s, 0);
    s
}

/// The dummy flag changes at segment boundaries / only at the root row.
#[test]
fn review_attack_dummy_flag_boundaries() {
    let s = with_dummy_second(203);
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    let honest = witness_rows(&s.witness, 10);
    try_prove(&instance, &honest).expect("honest dummy proves");

    // Segment 1's first row unflagged (row 0 of a segment has no input_keep).
    let mut rows = honest.clone();
    rows[SEG1].segment.dummy = M31(0);
    expect_caught(&instance, &rows, "flag off on row 0 of segment 1");
    // Segment 1 flagged only from the value row on.
    let mut rows = honest.clone();
    for row in &mut rows[SEG1..SEG1 + crate::tx::input::VALUE_ROW] {
        row.segment.dummy = M31(0);
    }
    expect_caught(&instance, &rows, "flag from the value row on");
    // Flag leaking onto the first output rows.
    let mut rows = honest.clone();
    rows[2 * SEG1].segment.dummy = M31(1);
    expect_caught(&instance, &rows, "flag on an output row");
}

/// A "real" segment whose note is not in the tree, next to a dummy (the root correction must not
/// leak from the dummy segment).
#[test]
fn review_attack_root_correction_is_per_segment() {
    // Segment 1 dummy; segment 0 is a note of 1000 not in the tree (flag 0).
    let mut s = with_dummy_second(204);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let key = s.witness.inputs[0].spending_key.clone();
    let fake = Note::new(key.public_key(), ASSET, 1000, &mut rng);
    s.witness.inputs[0].note = fake;
    s.statement.nullifiers[0] = fake.nullifier(&key, s.witness.inputs[0].index);
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    let rows = witness_rows(&s.witness, 10);
    expect_caught(&instance, &rows, "fake note next to a dummy");
    // Segment 0 dummy (flag 1, amount 0) and segment 1 'real' fake note of 1000 (flag 0).
    let mut s = with_dummy_second(205);
    let real = s.witness.inputs[0].clone();
    let dummy = s.witness.inputs[1].clone();
    let fake = Note::new(real.spending_key.public_key(), ASSET, 1000, &mut rng);
    let fake_input = SpendInput {
        note: fake,
        ..real.clone()
    };
    s.witness.inputs = [dummy.clone(), fake_input.clone()];
    s.statement.nullifiers = [dummy.nullifier(), fake_input.nullifier()];
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    let rows = witness_rows(&s.witness, 10);
    expect_caught(&instance, &rows, "dummy then fake note");
    // Same, with the dummy flag of segment 0 copied onto segment 1's root row only.
    let mut rows = rows;
    rows[SEG1 + ROOT_ROW].segment.dummy = M31(1);
    rows[SEG1 + NF_ROW].segment.dummy = M31(1);
    expect_caught(&instance, &rows, "flag on segment 1 root row only");
}

/// Both inputs dummies of amount 0 with a fee: must not balance.
#[test]
fn review_attack_two_dummies_pay_nothing() {
    let mut s = setup_with(206, [0, 0], [0, 0], 3);
    let key = s.witness.inputs[0].spending_key.clone();
    for i in 0..2 {
        let d = SpendInput::dummy(&key, ASSET, &mut s.rng);
        s.statement.nullifiers[i] = d.nullifier();
        s.witness.inputs[i] = d;
    }
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    expect_caught(
        &instance,
        &witness_rows(&s.witness, 3),
        "fee from two dummies",
    );
    // No fee, zero outputs: provable (harmless, zero value).
    s.statement.external.fee = 0;
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    let proof = try_prove(&instance, &witness_rows(&s.witness, 0)).expect("zero dummies");
    verify_spend(&s.statement, &SpendProof(proof), &DEPLOYMENT, &s.window).unwrap();
}

// ---------------------------------------------------------------- withdraw

#[test]
fn review_attack_verifier_never_panics_on_mutations() {
    let mut s = setup_with(401, [100, 50], [120, 25], 5);
    let proof = prove_spend(&s.statement, &DEPLOYMENT, &s.witness, &mut s.rng).unwrap();
    type Mutation = (&'static str, Box<dyn Fn(&mut TxProof)>);
    let mut mutations: Vec<Mutation> = Vec::new();
    for t in 0..3usize {
        mutations.push((
            "hash witness pop",
            Box::new(move |p: &mut TxProof| {
                p.stark.0.decommitments.0[t].hash_witness.pop();
            }),
        ));
        mutations.push((
            "hash witness push",
            Box::new(move |p: &mut TxProof| {
                let h = p.stark.0.decommitments.0[t].hash_witness[0];
                p.stark.0.decommitments.0[t].hash_witness.push(h);
            }),
        ));
        mutations.push((
            "hash witness cleared",
            Box::new(move |p: &mut TxProof| {
                p.stark.0.decommitments.0[t].hash_witness.clear();
            }),
        ));
        mutations.push((
            "queried value changed",
            Box::new(move |p: &mut TxProof| {
                p.stark.0.queried_values.0[t][0][0] += M31(1);
            }),
        ));
        mutations.push((
            "queried last column popped",
            Box::new(move |p: &mut TxProof| {
                let n = p.stark.0.queried_values.0[t].len();
                p.stark.0.queried_values.0[t][n - 1].pop();
            }),
        ));
        mutations.push((
            "sampled value added",
            Box::new(move |p: &mut TxProof| {
                let v = p.stark.0.sampled_values.0[t][0][0];
                p.stark.0.sampled_values.0[t][0].push(v);
            }),
        ));
        mutations.push((
            "sampled column cleared",
            Box::new(move |p: &mut TxProof| {
                p.stark.0.sampled_values.0[t][0].clear();
            }),
        ));
        mutations.push((
            "commitment changed",
            Box::new(move |p: &mut TxProof| {
                p.stark.0.commitments.0[t].0[0] ^= 1;
            }),
        ));
    }
    mutations.push((
        "pow",
        Box::new(|p: &mut TxProof| p.stark.0.proof_of_work ^= 1),
    ));
    mutations.push((
        "fri witness push",
        Box::new(|p: &mut TxProof| {
            let v = p.stark.0.fri_proof.first_layer.fri_witness[0];
            p.stark.0.fri_proof.first_layer.fri_witness.push(v);
        }),
    ));
    mutations.push((
        "fri witness clear",
        Box::new(|p: &mut TxProof| {
            p.stark.0.fri_proof.first_layer.fri_witness.clear();
        }),
    ));
    mutations.push((
        "inner witness pop",
        Box::new(|p: &mut TxProof| {
            p.stark.0.fri_proof.inner_layers[0].fri_witness.pop();
        }),
    ));
    mutations.push((
        "inner witness push",
        Box::new(|p: &mut TxProof| {
            let v = p.stark.0.fri_proof.inner_layers[0].fri_witness[0];
            p.stark.0.fri_proof.inner_layers[0].fri_witness.push(v);
        }),
    ));
    mutations.push((
        "inner decommitment pop",
        Box::new(|p: &mut TxProof| {
            p.stark.0.fri_proof.inner_layers[0]
                .decommitment
                .hash_witness
                .pop();
        }),
    ));
    mutations.push((
        "inner decommitment push",
        Box::new(|p: &mut TxProof| {
            let h = p.stark.0.fri_proof.first_layer.commitment;
            p.stark.0.fri_proof.inner_layers[0]
                .decommitment
                .hash_witness
                .push(h);
        }),
    ));
    mutations.push((
        "first decommitment pop",
        Box::new(|p: &mut TxProof| {
            p.stark
                .0
                .fri_proof
                .first_layer
                .decommitment
                .hash_witness
                .pop();
        }),
    ));
    mutations.push((
        "inner layer removed",
        Box::new(|p: &mut TxProof| {
            p.stark.0.fri_proof.inner_layers.clear();
        }),
    ));
    mutations.push((
        "last layer coefficient",
        Box::new(|p: &mut TxProof| {
            let mut c: Vec<_> = p.stark.0.fri_proof.last_layer_poly.to_vec();
            c[31] += stwo::core::fields::qm31::SecureField::from_u32_unchecked(1, 0, 0, 0);
            p.stark.0.fri_proof.last_layer_poly = stwo::core::poly::line::LinePoly::new(c);
        }),
    ));
    let pre = &PREPROCESSED_ROOT;
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    for (what, mutate) in &mutations {
        let mut bad = proof.0.clone();
        mutate(&mut bad);
        let outcome = std::panic::catch_unwind(|| verify_instance(&instance, pre, &bad));
        match outcome {
            Ok(result) => assert!(result.is_err(), "{what}: accepted"),
            Err(_) => panic!("{what}: the verifier panicked"),
        }
    }
    verify_spend(&s.statement, &proof, &DEPLOYMENT, &s.window).unwrap();
}

/// A dummy with an amount in the FIRST segment (value_first row), and a forged position in the
/// SECOND segment (its first Merkle row must not inherit segment 0's pos).
#[test]
fn review_attack_first_segment_dummy_amount_and_second_segment_position() {
    let mut s = setup_with(207, [1000, 7], [300, 197], 10);
    let key = s.witness.inputs[1].spending_key.clone();
    let mut dummy = SpendInput::dummy(&key, ASSET, &mut s.rng);
    dummy.note.amount = 500;
    s.statement.nullifiers[0] = dummy.nullifier();
    s.witness.inputs[0] = dummy;
    let rows = witness_rows(&s.witness, 10);
    expect_caught(
        &s.statement.instance(&DEPLOYMENT).unwrap(),
        &rows,
        "dummy 500 first",
    );

    let s = setup_with(208, [100, 50], [120, 25], 5);
    let mut rows = witness_rows(&s.witness, 5);
    let input = &s.witness.inputs[1];
    let forged = input.index ^ 1;
    let mut st = s.statement.clone();
    st.nullifiers[1] = input.note.nullifier(&input.spending_key, forged);
    for level in 0..crate::merkle::TREE_DEPTH {
        let mask = ((2u64 << level) - 1) as u32;
        rows[SEG1 + MERKLE_START + level].segment.pos = M31(forged & mask);
    }
    rows[SEG1 + NF_ROW].input[0] = rows[SEG1 + NF_ROW].reg[0] + M31(forged);
    expect_caught(
        &st.instance(&DEPLOYMENT).unwrap(),
        &rows,
        "segment 1 position",
    );
}

/// Control: a zero-amount dummy in segment 0 proves (so the test above fails on the limb only).
#[test]
fn review_attack_first_segment_dummy_control() {
    let mut s = setup_with(209, [7, 1000], [300, 690], 10);
    let key = s.witness.inputs[1].spending_key.clone();
    let dummy = SpendInput::dummy(&key, ASSET, &mut s.rng);
    s.statement.nullifiers[0] = dummy.nullifier();
    s.witness.inputs[0] = dummy;
    let instance = s.statement.instance(&DEPLOYMENT).unwrap();
    let proof = try_prove(&instance, &witness_rows(&s.witness, 10)).expect("dummy first proves");
    verify_spend(&s.statement, &SpendProof(proof), &DEPLOYMENT, &s.window).unwrap();
}
