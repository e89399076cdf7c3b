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

/// The BERT-like encoder's input JSON: `{"input_ids": [[..]], "attention_mask": [[..]]}`.
fn bert_input() -> (std::path::PathBuf, model_import::recipe::OnnxInputs) {
    let path = data("bert_encoder.onnx");
    let text = std::fs::read_to_string(data("bert_encoder.input.json")).unwrap();
    let inputs = model_import::recipe::OnnxInputs::from_json(&path, &text).unwrap();
    (path, inputs)
}

#[test]
fn bert_encoder_with_two_int_inputs_proves() {
    let (path, inputs) = bert_input();
    // 12-bit activations and weights: two layers at the default 8 bits are ~5% off.
    let config = QuantConfig::direct(12, 12);
    let imported = import_onnx(&path, &config, &inputs.values).unwrap();
    let g = &imported.graph;
    // Token ids as a column (the proved embedding), the mask as a row over the keys.
    let shapes: Vec<_> = g.input_nodes().iter().map(|&n| g.nodes[n].shape).collect();
    assert_eq!(
        shapes,
        vec![model::Shape::new(8, 1), model::Shape::new(1, 8)]
    );
    assert_eq!(g.output_shape(), model::Shape::new(8, 32));
    let report = imported.compare(&inputs.values).unwrap();
    println!("bert_encoder: {report}");
    assert!(report.lowering_err < 1e-3, "{report}");
    assert!(report.max_abs_err < 0.1, "{report}");
    let xs = model_import::quantise_inputs(&imported.source, &config, &inputs.values).unwrap();
    let committed =
        zkml::CommittedModel::new(imported.graph.clone(), zkml::ProofConfig::default()).unwrap();
    let (y, proof) = zkml::prove_all(&committed, &xs, &()).unwrap();
    zkml::verify_all(&committed.vk, &xs, &y, &proof).unwrap();
    // Another mask (the padding unmasked) or other token ids: the proof does not hold.
    let mut mask = xs.clone();
    mask[1].data[7] = 1;
    assert!(zkml::verify_all(&committed.vk, &mask, &y, &proof).is_err());
    let mut ids = xs.clone();
    ids[0].data[2] += 1;
    assert!(zkml::verify_all(&committed.vk, &ids, &y, &proof).is_err());
    let mut out = y.clone();
    out.data[5] += 1;
    assert!(zkml::verify_all(&committed.vk, &xs, &out, &proof).is_err());
}
