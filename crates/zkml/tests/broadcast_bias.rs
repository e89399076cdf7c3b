//! A row broadcast down the rows (`BroadcastRow`: an attention key mask over every query) and
//! a bias of the activation's full shape (`AddBias` with an `m x n` weight: the position
//! embeddings of a fixed sequence), proved end to end, with a cheating prover for each.
#![allow(clippy::unwrap_used)]

use model::examples::random_input;
use model::execute::execute_forged;
use model::{GraphBuilder, Shape, Weight};
use zkml::prover::{prove_trace, WitnessCheck};
use zkml::{prove, verify, CommittedModel, ProofConfig, VerifyError};

/// `1 x 12` input -> repeated down 5 rows -> plus a `5 x 12` bias -> relu (5 x 12 pads to
/// 8 x 16: padded rows and columns must stay zero).
fn model(bias_seed: i64) -> CommittedModel {
    let mut b = GraphBuilder::new("broadcast-bias", Shape::new(1, 12), 8).unwrap();
    let rows = b.broadcast_row(0, 5).unwrap();
    let bias = Weight {
        name: "positions".into(),
        shape: Shape::new(5, 12),
        scale: 8,
        data: (0..60).map(|i| (i * 37 + bias_seed) % 501 - 250).collect(),
    };
    let y = b.add_bias(rows, bias).unwrap();
    let y = b.relu(y).unwrap();
    CommittedModel::new(b.build(y).unwrap(), ProofConfig::default()).unwrap()
}

fn node_of(m: &CommittedModel, kind: &str) -> usize {
    m.graph
        .nodes
        .iter()
        .position(|n| n.op.kind() == kind)
        .unwrap()
}

fn cheat(m: &CommittedModel, node: usize, at: usize) -> VerifyError {
    let x = random_input(&m.graph, 3);
    let trace = execute_forged(&m.graph, std::slice::from_ref(&x), node, |t| {
        t.data[at] += 1
    })
    .unwrap();
    let (y, p) = prove_trace(
        m,
        std::slice::from_ref(&x),
        &trace,
        &(),
        WitnessCheck::Lenient,
    )
    .unwrap();
    verify(&m.vk, &x, &y, &p).unwrap_err()
}

#[test]
fn broadcast_row_and_full_bias_prove() {
    let m = model(0);
    let x = random_input(&m.graph, 3);
    let (y, p) = prove(&m, &x, &()).unwrap();
    // Every row is the input plus its own bias row.
    let bias = &m.graph.weights[0].data;
    for r in 0..5 {
        for c in 0..12 {
            let want = (x.data[c] + bias[r * 12 + c]).max(0);
            assert_eq!(y.data[r * 12 + c], want);
        }
    }
    verify(&m.vk, &x, &y, &p).unwrap();
    // Another bias is another model: the proof does not verify against it.
    let other = model(1);
    assert!(verify(&other.vk, &x, &y, &p).is_err());
    let mut forged = y.clone();
    forged.data[12 * 4 + 11] += 1;
    assert!(verify(&m.vk, &x, &forged, &p).is_err());
}

#[test]
fn forged_broadcast_or_bias_fails() {
    let m = model(0);
    // A wrong entry in a repeated row, in a real row past the first and in the last column.
    for at in [0, 12 * 3 + 5, 12 * 4 + 11] {
        cheat(&m, node_of(&m, "broadcast_row"), at);
        cheat(&m, node_of(&m, "add_bias"), at);
    }
}
