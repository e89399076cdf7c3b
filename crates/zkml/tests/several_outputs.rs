//! A model with several public outputs (an ONNX graph's further outputs): the main output
//! plus an intermediate computed by a linear layer (a matmul's raw product) and one chosen by
//! the prover (a ReLU that later layers read). Each is bound: a changed, dropped, extra or
//! reordered output, and a cheating prover's forged value, are rejected.
#![allow(clippy::unwrap_used)]

use model::examples::random_input;
use model::execute::{execute_all, execute_forged};
use model::{GraphBuilder, Shape, Tensor, Weight};
use zkml::prover::{prove_trace, WitnessCheck};
use zkml::{prove_executed, verify_all, verify_outputs, CommittedModel, ProofConfig, VerifyError};

fn weight(name: &str, rows: usize, cols: usize, seed: i64) -> Weight {
    Weight {
        name: name.into(),
        shape: Shape::new(rows, cols),
        scale: 8,
        data: (0..(rows * cols) as i64)
            .map(|i| (i * 37 + seed) % 97 - 48)
            .collect(),
    }
}

/// `x (4x8) . W1 -> rescale -> relu -> . W2 -> rescale`; the outputs are the last rescale,
/// then the raw product `x . W1` and the ReLU.
fn model() -> (CommittedModel, [usize; 2]) {
    let mut b = GraphBuilder::new("two-heads", Shape::new(4, 8), 8).unwrap();
    let product = b.matmul(0, weight("w1", 8, 8, 3)).unwrap();
    let h = b.rescale(product, 8).unwrap();
    let h = b.relu(h).unwrap();
    let y = b.matmul(h, weight("w2", 8, 4, 11)).unwrap();
    let y = b.rescale(y, 8).unwrap();
    let g = b.build_outputs(y, vec![product, h]).unwrap();
    (
        CommittedModel::new(g, ProofConfig::default()).unwrap(),
        [product, h],
    )
}

#[test]
fn every_output_is_bound() {
    let (m, _) = model();
    let x = random_input(&m.graph, 3);
    let xs = std::slice::from_ref(&x);
    let trace = execute_all(&m.graph, xs).unwrap();
    let (y, proof) = prove_executed(&m, xs, &trace, &()).unwrap();
    let more = trace.more_outputs(&m.graph);
    assert_eq!(more.len(), 2);
    let all: Vec<Tensor> = std::iter::once(y.clone()).chain(more.clone()).collect();
    verify_outputs(&m.vk, xs, &all, &proof).unwrap();

    // Each output changed at its first, middle and last entry.
    for k in 0..all.len() {
        let len = all[k].data.len();
        for at in [0, len / 2, len - 1] {
            let mut forged = all.clone();
            forged[k].data[at] += 1;
            assert!(
                verify_outputs(&m.vk, xs, &forged, &proof).is_err(),
                "output {k} changed at {at} verified"
            );
        }
    }
    // Dropped, extra and reordered outputs.
    assert!(matches!(
        verify_all(&m.vk, xs, &y, &proof),
        Err(VerifyError::OutputCount {
            expected: 3,
            got: 1
        })
    ));
    let mut extra = all.clone();
    extra.push(all[2].clone());
    assert!(matches!(
        verify_outputs(&m.vk, xs, &extra, &proof),
        Err(VerifyError::OutputCount { .. })
    ));
    let swapped = vec![all[0].clone(), all[2].clone(), all[1].clone()];
    assert!(verify_outputs(&m.vk, xs, &swapped, &proof).is_err());
    // Another input.
    let mut x2 = x.clone();
    x2.data[5] += 1;
    assert!(verify_outputs(&m.vk, std::slice::from_ref(&x2), &all, &proof).is_err());
}

/// A cheating prover who forges an intermediate output in its trace (and publishes the forged
/// value) is rejected, for the computed and for the chosen one.
#[test]
fn a_forged_intermediate_output_is_rejected() {
    let (m, outs) = model();
    let x = random_input(&m.graph, 4);
    let xs = std::slice::from_ref(&x);
    for node in outs {
        let trace = execute_forged(&m.graph, xs, node, |t| t.data[6] += 1).unwrap();
        let (y, proof) = prove_trace(&m, xs, &trace, &(), WitnessCheck::Lenient).unwrap();
        let all: Vec<Tensor> = std::iter::once(y)
            .chain(trace.more_outputs(&m.graph))
            .collect();
        assert!(
            verify_outputs(&m.vk, xs, &all, &proof).is_err(),
            "a forged output node {node} verified"
        );
    }
}
