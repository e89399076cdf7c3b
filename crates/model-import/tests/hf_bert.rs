//! A BERT encoder from a HuggingFace folder (`tests/data/tiny-bert`: `bert_encoder.onnx`'s
//! weights under BertModel's names, written by `gen_models.py`): its real-valued forward pass
//! agrees with tract's run of the ONNX export, the mean-pooled sentence embedding is the mean
//! of the unmasked rows, both outputs are proved from the token ids, and bad inputs are refused.
#![allow(clippy::unwrap_used)]

mod onnx_common;

use model::Tensor;
use model_import::recipe::{
    encoder_graph, encoder_inputs, prepare_encoder, prepare_onnx, Comparison, EncoderSource,
    PrepareError,
};
use model_import::QuantConfig;
use onnx_common::data;
use zkml::{prove_executed, verify_outputs, CommittedModel, ProofConfig};

const IDS: [i64; 8] = [10, 30, 13, 40, 20, 55, 0, 0];
const MASK: [i64; 8] = [1, 1, 1, 1, 1, 1, 0, 0];

fn source() -> EncoderSource {
    EncoderSource {
        dir: data("tiny-bert"),
        layers: None,
        quant: QuantConfig::default(),
    }
}

fn report(c: &Option<Comparison>) -> &model_import::Report {
    match c {
        Some(Comparison::Onnx(r)) => r,
        _ => panic!("no report"),
    }
}

#[test]
fn folder_encoder_matches_the_onnx_export_and_proves() {
    let src = source();
    let config = EncoderSource::config(&src.dir).unwrap().unwrap();
    assert_eq!((config.hidden_size, config.num_hidden_layers), (32, 2));
    let inputs = encoder_inputs(&config, &IDS, Some(&MASK)).unwrap();
    let p = prepare_encoder(&src, &config, inputs.clone()).unwrap();
    let r = report(&p.report);
    println!("tiny-bert: {r}");
    let names: Vec<&str> = r.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["last_hidden_state", "sentence_embedding"]);
    assert!(r.max_rel_err < 0.05, "{r}");

    // The same weights as ONNX, run by tract: the folder's real-valued pass agrees.
    let onnx_input: Vec<f32> = IDS.iter().chain(&MASK).map(|&v| v as f32).collect();
    let onnx = prepare_onnx(
        &data("bert_encoder.onnx"),
        &QuantConfig::default(),
        Some(&onnx_input),
        0,
    )
    .unwrap();
    let tract = &report(&onnx.report).reference;
    let d = 32;
    assert_eq!(tract.len(), IDS.len() * d);
    let ours = &r.reference[..tract.len()];
    let diff = tract
        .iter()
        .zip(ours)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff < 1e-4, "folder vs ONNX export: {diff}");
    // Mean pooling over the six kept tokens.
    let pooled = &r.reference[tract.len()..];
    for j in 0..d {
        let mean: f32 = (0..6).map(|t| tract[t * d + j]).sum::<f32>() / 6.0;
        assert!(
            (pooled[j] - mean).abs() < 1e-4,
            "{j}: {} vs {mean}",
            pooled[j]
        );
    }

    let m = CommittedModel::new(p.graph.clone(), ProofConfig::default()).unwrap();
    let (y, proof) = prove_executed(&m, &p.inputs, &p.trace, &()).unwrap();
    let outs: Vec<Tensor> = std::iter::once(y)
        .chain(p.trace.more_outputs(&p.graph))
        .collect();
    assert_eq!(outs.len(), 2);
    verify_outputs(&m.vk, &p.inputs, &outs, &proof).unwrap();
    let mut forged = outs.clone();
    forged[1].data[0] += 1;
    assert!(verify_outputs(&m.vk, &p.inputs, &forged, &proof).is_err());
    // Another mask (one more token kept) is another statement.
    let mut other = p.inputs.clone();
    other[1].data[6] = 1;
    assert!(verify_outputs(&m.vk, &other, &outs, &proof).is_err());
    // The verifier rebuilds the graph from the proof's public inputs.
    assert_eq!(encoder_graph(&src, &config, &inputs).unwrap(), p.graph);
}

#[test]
fn bad_encoder_inputs_are_refused() {
    let src = source();
    let config = EncoderSource::config(&src.dir).unwrap().unwrap();
    let refused = |ids: &[i64], mask: Option<&[i64]>| {
        let e = encoder_inputs(&config, ids, mask).unwrap_err();
        assert!(matches!(e, PrepareError::EncoderInput { .. }), "{e}");
        e.to_string()
    };
    assert!(refused(&[], None).contains("no token ids"));
    assert!(refused(&[1, 64], None).contains("outside the vocabulary of 64"));
    assert!(refused(&[1, -1], None).contains("outside the vocabulary"));
    assert!(refused(&[1, 2], Some(&[1])).contains("attention mask of 1"));
    assert!(refused(&[1, 2], Some(&[1, 2])).contains("other than 0 and 1"));
    assert!(refused(&[1, 2], Some(&[0, 0])).contains("keeps no token"));
    // More tokens than positions, more layers than the model has.
    let long: Vec<i64> = vec![1; 65];
    let inputs = encoder_inputs(&config, &long, None).unwrap();
    let e = prepare_encoder(&src, &config, inputs).unwrap_err();
    let mut chain = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        chain.push_str(&format!(": {c}"));
        cause = c.source();
    }
    assert!(chain.contains("max_position_embeddings"), "{chain}");
    let deep = EncoderSource {
        layers: Some(3),
        ..source()
    };
    let inputs = encoder_inputs(&config, &IDS, None).unwrap();
    assert!(prepare_encoder(&deep, &config, inputs).is_err());
    // A decoder folder is not an encoder.
    assert!(EncoderSource::config(&data("tiny-llama"))
        .unwrap()
        .is_none());
}

/// A folder whose sentence-transformers `modules.json` ends in `Normalize`: the proved
/// sentence embedding is the pooled one divided by its norm.
#[test]
fn a_normalize_module_gives_a_unit_embedding() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(data("tiny-bert").join(f), dir.path().join(f)).unwrap();
    }
    let modules = r#"[{"idx": 0, "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "type": "sentence_transformers.models.Normalize"}]"#;
    std::fs::write(dir.path().join("modules.json"), modules).unwrap();
    let src = EncoderSource {
        dir: dir.path().to_owned(),
        ..source()
    };
    let config = EncoderSource::config(&src.dir).unwrap().unwrap();
    let inputs = encoder_inputs(&config, &IDS, Some(&MASK)).unwrap();
    let p = prepare_encoder(&src, &config, inputs).unwrap();
    let r = report(&p.report);
    let d = config.hidden_size;
    let n = r.reference.len();
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let want = norm(&mut r.reference[n - d..].iter().map(|&v| f64::from(v)));
    let got = norm(&mut r.quantised[n - d..].iter().copied());
    assert!((want - 1.0).abs() < 1e-6, "{want}");
    assert!((got - 1.0).abs() < 0.02, "{got}");
    // The unnormalised folder's embedding, divided by its norm, is the same direction.
    let plain = prepare_encoder(&source(), &config, p.inputs.clone()).unwrap();
    let pr = report(&plain.report);
    let raw: Vec<f64> = pr.reference[n - d..]
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let scale = norm(&mut raw.iter().copied());
    for (a, b) in raw.iter().zip(&r.reference[n - d..]) {
        assert!((a / scale - f64::from(*b)).abs() < 1e-5);
    }
    let m = CommittedModel::new(p.graph.clone(), ProofConfig::default()).unwrap();
    let (y, proof) = prove_executed(&m, &p.inputs, &p.trace, &()).unwrap();
    let outs: Vec<Tensor> = std::iter::once(y)
        .chain(p.trace.more_outputs(&p.graph))
        .collect();
    verify_outputs(&m.vk, &p.inputs, &outs, &proof).unwrap();
}
