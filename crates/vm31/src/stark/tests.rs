//! The permutation AIR on its own: N independent permutations, some with public outputs.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use stwo::core::fields::m31::M31;

use super::trace::permutation_row;
use super::*;
use crate::poseidon2::{permutation, WIDTH};

const KIND_PERMUTATIONS: u32 = 0xff;

fn rows(xs: &[[M31; WIDTH]]) -> Vec<RowWitness> {
    xs.iter().copied().map(RowWitness::plain).collect()
}

fn inputs(n: usize) -> Vec<[M31; WIDTH]> {
    (0..n)
        .map(|r| std::array::from_fn(|i| M31((r * 1000 + i * 7 + 1) as u32)))
        .collect()
}

/// `n` permutations; the outputs of the first `n_public` are public.
fn instance(inputs: &[[M31; WIDTH]], n_public: usize) -> Instance {
    let rows = (0..inputs.len())
        .map(|r| RowKind {
            output: (r < n_public).then_some(r),
            ..RowKind::default()
        })
        .collect();
    let outputs: Vec<_> = inputs[..n_public]
        .iter()
        .map(|x| {
            let out = permutation(*x);
            std::array::from_fn(|j| out[j])
        })
        .collect();
    Instance {
        kind: KIND_PERMUTATIONS,
        public_inputs: outputs.iter().flatten().copied().collect(),
        schedule: Schedule {
            rows,
            n_outputs: n_public,
            n_node_outputs: 0,
        },
        constants: PublicConstants {
            absorb: [M31(0); 4],
            outputs,
            node_outputs: Vec::new(),
            public_out: [M31(0); 3],
            asset_gate: M31(0),
            asset: M31(0),
            forbid_dummy: M31(0),
        },
    }
}

/// The preprocessed commitment of `inst`'s schedule.
fn root(inst: &Instance) -> stwo::core::vcs::blake2_hash::Blake2sHash {
    let log_size = inst.schedule.log_size().unwrap();
    preprocessed_root(&inst.schedule, log_size)
}

#[test]
fn preprocessed_commitment_of_another_schedule_is_rejected() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let xs = inputs(5);
    let inst = instance(&xs, 2);
    let proof = prove_instance(&inst, &rows(&xs), &mut rng).unwrap();
    let other = instance(&xs, 1);
    assert!(matches!(
        verify_instance(&inst, &root(&other), &proof),
        Err(ProofError::PreprocessedMismatch)
    ));
}

#[test]
fn trace_row_matches_permutation() {
    for input in inputs(4) {
        let (row, out) = permutation_row(input);
        assert_eq!(out, permutation(input));
        assert_eq!(&row[..WIDTH], &input);
    }
}

#[test]
fn permutations_prove_and_verify() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let xs = inputs(20);
    let inst = instance(&xs, 3);
    let proof = prove_instance(&inst, &rows(&xs), &mut rng).unwrap();
    verify_instance(&inst, &root(&inst), &proof).unwrap();
}

#[test]
fn wrong_public_output_is_rejected() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let xs = inputs(5);
    let inst = instance(&xs, 2);
    let proof = prove_instance(&inst, &rows(&xs), &mut rng).unwrap();
    let mut wrong = inst.clone();
    wrong.constants.outputs[1][3] += M31(1);
    wrong.public_inputs[8 + 3] += M31(1);
    assert!(matches!(
        verify_instance(&wrong, &root(&inst), &proof),
        Err(ProofError::Rejected { .. })
    ));
}

#[test]
fn wrong_output_row_cannot_be_proved() {
    // A row whose claimed output is not the permutation of its input breaks a constraint.
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let xs = inputs(5);
    let mut inst = instance(&xs, 2);
    inst.constants.outputs[0][0] += M31(1);
    assert!(matches!(
        prove_instance(&inst, &rows(&xs), &mut rng),
        Err(ProofError::ConstraintsNotSatisfied)
    ));
}

/// Evaluates every constraint on every row of the trace `inputs` produces (with padding).
pub(crate) fn assert_constraints(inst: &Instance, xs: &[RowWitness]) {
    use stwo::core::pcs::TreeVec;
    use stwo::prover::backend::Column;
    use stwo_constraint_framework::{assert_constraints_on_trace, FrameworkEval};
    let log_size = inst.schedule.log_size().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let to_cpu = |cols| -> Vec<Vec<M31>> {
        schedule::to_evaluations(cols, log_size)
            .into_iter()
            .map(|e| e.values.to_cpu())
            .collect()
    };
    let pre = to_cpu(inst.schedule.preprocessed_columns(log_size));
    let main = to_cpu(trace::trace_columns(
        xs,
        log_size,
        &super::segment::dummy_root(&inst.constants),
        &mut rng,
    ));
    let trace = TreeVec::new(vec![pre.iter().collect(), main.iter().collect()]);
    let eval = TxEval {
        log_size,
        public: inst.constants.clone(),
    };
    assert_constraints_on_trace(
        &trace,
        log_size,
        |e| {
            eval.evaluate(e);
        },
        stwo::core::fields::qm31::SecureField::from_u32_unchecked(0, 0, 0, 0),
    );
}

#[test]
fn witness_satisfies_constraints() {
    let xs = inputs(5);
    assert_constraints(&instance(&xs, 2), &rows(&xs));
}

#[test]
fn malformed_proofs_are_errors_not_panics() {
    use stwo::core::poly::line::LinePoly;
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let xs = inputs(20);
    let inst = instance(&xs, 3);
    let proof = prove_instance(&inst, &rows(&xs), &mut rng).unwrap();
    let pre = root(&inst);
    type Mutation = (&'static str, fn(&mut TxProof));
    let mutations: [Mutation; 12] = [
        ("no commitments", |p| p.stark.0.commitments.0.clear()),
        ("extra commitment", |p| {
            let c = p.stark.0.commitments[0];
            p.stark.0.commitments.0.push(c)
        }),
        ("sampled column dropped", |p| {
            p.stark.0.sampled_values.0[1].pop();
        }),
        ("decommitment dropped", |p| {
            p.stark.0.decommitments.0.pop();
        }),
        ("queried tree dropped", |p| {
            p.stark.0.queried_values.0.pop();
        }),
        ("queried column dropped", |p| {
            p.stark.0.queried_values.0[1].pop();
        }),
        ("queried value dropped", |p| {
            p.stark.0.queried_values.0[1][5].pop();
        }),
        ("queried value added", |p| {
            p.stark.0.queried_values.0[0][0].push(M31(1))
        }),
        ("preprocessed value dropped", |p| {
            p.stark.0.queried_values.0[0][3].pop();
        }),
        ("extra FRI layer", |p| {
            let layer = p.stark.0.fri_proof.first_layer.clone();
            p.stark.0.fri_proof.inner_layers.push(layer)
        }),
        ("short last layer", |p| {
            p.stark.0.fri_proof.last_layer_poly = LinePoly::new(vec![Default::default(); 16])
        }),
        ("FRI witness dropped", |p| {
            p.stark.0.fri_proof.first_layer.fri_witness.pop();
        }),
    ];
    for (what, mutate) in mutations {
        let mut bad = proof.clone();
        mutate(&mut bad);
        let outcome = std::panic::catch_unwind(|| verify_instance(&inst, &pre, &bad));
        match outcome {
            Ok(result) => assert!(result.is_err(), "{what}: accepted"),
            Err(_) => panic!("{what}: the verifier panicked"),
        }
    }
    verify_instance(&inst, &pre, &proof).unwrap();
}
