//! Self-attention exported from ONNX: per-head products of two activations (`Q K^T`, `P V`)
//! written as MatMul + Transpose + Reshape or as Einsum, softmax over the last axis, residual
//! and LayerNorm: both forms import, match tract's f32 run, prove and verify.
#![allow(clippy::unwrap_used)]

mod onnx_common;

use model_import::{import_onnx, QuantConfig};
use onnx_common::{data, prove_and_verify, sample_input};

fn attention(name: &str) {
    let input = sample_input(name);
    let imported = import_onnx(
        &data(&format!("{name}.onnx")),
        &QuantConfig::default(),
        &input,
    )
    .unwrap();
    assert_eq!(imported.graph.input_shape(), model::Shape::new(8, 32));
    assert_eq!(imported.graph.output_shape(), model::Shape::new(8, 32));
    let kinds: Vec<&str> = imported.graph.nodes.iter().map(|n| n.op.kind()).collect();
    println!("{name}: {kinds:?}");
    let report = imported.compare(&input).unwrap();
    println!("{name}: {report}");
    assert!(report.lowering_err < 1e-4, "{report}");
    assert!(report.max_abs_err < 0.05, "{report}");
    let (prove, verify) = prove_and_verify(&imported, &input);
    println!("{name}: prove {prove:?}, verify {verify:?}");
}

#[test]
fn attention_block_proves() {
    attention("attention");
}

#[test]
fn einsum_attention_proves() {
    attention("attention_einsum");
}
