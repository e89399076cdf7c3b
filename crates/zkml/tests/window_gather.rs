//! A small channels-last CNN proved end to end: im2col through a strided, padded window
//! (`WindowGather` in `Taps` mode) times the kernel committed once, a max-pool tap, a global
//! sum. A cheating prover at each gather, a wrong output and another window are rejected.
#![allow(clippy::unwrap_used)]

use model::examples::random_input;
use model::execute::execute_forged;
use model::window::{Gather, Window};
use model::{GraphBuilder, Shape, Weight};
use stwo::core::fields::qm31::QM31;
use zkml::proof::LayerProof;
use zkml::prover::{prove_trace, WitnessCheck};
use zkml::{prove, verify, CommittedModel, ProofConfig};

/// 2 images of 5 x 5 pixels, 3 channels -> 3x3 conv, stride 2, pad 1, 6 channels (3 x 3 out)
/// -> relu -> tap 3 of a 2x2 pool window -> the sum over the pixels of each image.
fn model(stride: usize) -> CommittedModel {
    let mut b = GraphBuilder::new("cnn", Shape::new(50, 3), 8).unwrap();
    let conv = Window {
        images: 2,
        h: 5,
        w: 5,
        oh: 3,
        ow: 3,
        kernel: [3, 3],
        stride: [stride, 2],
        dilation: [1, 1],
        pad: [1, 1],
        transposed: false,
    };
    let patches = b.window_gather(0, conv, Gather::Taps).unwrap();
    assert_eq!(b.shape(patches), Some(Shape::new(18, 36)));
    let kernel = Weight {
        name: "kernel".into(),
        shape: Shape::new(36, 6),
        scale: 8,
        data: (0..216).map(|i| (i * 53 % 211) - 105).collect(),
    };
    let y = b.matmul(patches, kernel).unwrap();
    let y = b.rescale(y, 8).unwrap();
    let y = b.relu(y).unwrap();
    let pool = Window {
        h: 3,
        w: 3,
        oh: 2,
        ow: 2,
        kernel: [2, 2],
        stride: [2, 2],
        pad: [0, 0],
        ..conv
    };
    let y = b.window_gather(y, pool, Gather::Tap(3)).unwrap();
    let all = Window {
        h: 2,
        w: 2,
        oh: 1,
        ow: 1,
        kernel: [2, 2],
        stride: [1, 1],
        ..pool
    };
    let y = b.window_gather(y, all, Gather::Sum).unwrap();
    CommittedModel::new(b.build(y).unwrap(), ProofConfig::default()).unwrap()
}

#[test]
fn strided_conv_pool_and_global_sum_prove() {
    let m = model(2);
    let x = random_input(&m.graph, 5);
    let (y, p) = prove(&m, &x, &()).unwrap();
    assert_eq!(y.shape, Shape::new(2, 6));
    verify(&m.vk, &x, &y, &p).unwrap();

    // Another window geometry is another model.
    let other = model(1);
    assert_ne!(m.vk.digest(), other.vk.digest());
    assert!(verify(&other.vk, &x, &y, &p).is_err());
    // A wrong output, a wrong input, tampered proof bytes.
    let mut forged = y.clone();
    forged.data[7] += 1;
    assert!(verify(&m.vk, &x, &forged, &p).is_err());
    let mut x2 = x.clone();
    x2.data[49 * 3 + 2] += 1;
    assert!(verify(&m.vk, &x2, &y, &p).is_err());
    // Each gather's message tampered with.
    let mut tampered = 0;
    for i in 0..p.nodes.len() {
        let mut q = p.clone();
        if let LayerProof::Gather(g) = &mut q.nodes[i].layer {
            g.x_eval += QM31::from(1u32);
            assert!(verify(&m.vk, &x, &y, &q).is_err());
            tampered += 1;
        }
    }
    assert_eq!(tampered, 3);
}

#[test]
fn forged_gathers_fail() {
    let m = model(2);
    let x = random_input(&m.graph, 5);
    let gathers: Vec<usize> = (0..m.graph.nodes.len())
        .filter(|&i| m.graph.nodes[i].op.kind() == "window_gather")
        .collect();
    assert_eq!(gathers.len(), 3);
    for &node in &gathers {
        let len = m.graph.nodes[node].shape.len();
        for at in [0, len / 2, len - 1] {
            let trace = execute_forged(&m.graph, std::slice::from_ref(&x), node, |t| {
                t.data[at] += 1
            })
            .unwrap();
            let (y, p) = prove_trace(
                &m,
                std::slice::from_ref(&x),
                &trace,
                &(),
                WitnessCheck::Lenient,
            )
            .unwrap();
            assert!(
                verify(&m.vk, &x, &y, &p).is_err(),
                "a forged entry {at} of gather node {node} verified"
            );
        }
    }
}
