//! End-to-end: import the shipped ONNX models, compare both tracks, prove and verify.
#![allow(clippy::unwrap_used)]

mod onnx_common;

use model_import::{import_onnx, ImportError, OnnxModel, QuantConfig};
use onnx_common::{data, prove_and_verify, sample_input};

#[test]
fn mnist_mlp_import_works() {
    let input = sample_input("mnist_mlp");
    for config in [QuantConfig::symmetric8(8), QuantConfig::direct(8, 10)] {
        let imported = import_onnx(&data("mnist_mlp.onnx"), &config, &input).unwrap();
        assert_eq!(imported.graph.input_shape(), model::Shape::new(1, 784));
        assert_eq!(imported.graph.output_shape(), model::Shape::new(1, 10));
        let report = imported.compare(&input).unwrap();
        println!("mnist_mlp {:?}: {report}", config.strategy);
        assert!(report.lowering_err < 1e-4, "{report}");
        assert!(report.max_abs_err < 0.05, "{report}");
        assert_eq!(report.top1_agrees, Some(true), "{report}");
        // Per layer against the real-valued lowering; the last one is the output.
        assert!(report.layers.len() >= 3, "{report}");
        for l in &report.layers {
            assert!(l.max_rel_err < 0.05, "{report}");
        }
        let last = report.layers.last().unwrap();
        assert!(last.max_abs_err <= report.max_abs_err + 1e-4, "{report}");
    }
}

#[test]
fn mnist_mlp_proves() {
    let input = sample_input("mnist_mlp");
    let imported = import_onnx(&data("mnist_mlp.onnx"), &QuantConfig::default(), &input).unwrap();
    prove_and_verify(&imported, &input);
}

#[test]
fn tiny_act_import_and_prove_works() {
    let input = sample_input("tiny_act");
    for config in [QuantConfig::symmetric8(8), QuantConfig::direct(8, 8)] {
        let imported = import_onnx(&data("tiny_act.onnx"), &config, &input).unwrap();
        let report = imported.compare(&input).unwrap();
        println!("tiny_act {:?}: {report}", config.strategy);
        assert!(report.lowering_err < 1e-4, "{report}");
        assert!(report.max_abs_err < 0.05, "{report}");
        let kinds: Vec<&str> = imported.graph.nodes.iter().map(|n| n.op.kind()).collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "lookup").count(),
            3,
            "{kinds:?}"
        );
        prove_and_verify(&imported, &input);
    }
}

#[test]
fn import_is_deterministic() {
    let input = model_import::seeded_input(16, 3);
    let a = import_onnx(&data("tiny_act.onnx"), &QuantConfig::default(), &input).unwrap();
    let b = import_onnx(&data("tiny_act.onnx"), &QuantConfig::default(), &input).unwrap();
    assert_eq!(a.graph, b.graph);
}

#[test]
fn unsupported_operator_fails() {
    let err = import_onnx(
        &data("unsupported.onnx"),
        &QuantConfig::default(),
        &[0.5; 4],
    )
    .unwrap_err();
    let msg = err.to_string();
    println!("{msg}");
    assert!(matches!(err, ImportError::Unsupported { .. }), "{msg}");
    assert!(
        msg.contains("Softmax") && msg.contains("probs") && msg.contains("unsupported.onnx"),
        "{msg}"
    );
}

#[test]
fn operator_unknown_to_tract_fails() {
    let err = OnnxModel::load(&data("gelu_op.onnx")).unwrap_err();
    println!("{err}");
    assert!(matches!(err, ImportError::Unsupported { .. }), "{err}");
    assert!(
        err.to_string().contains("node 'act': operator Gelu"),
        "{err}"
    );
}

#[test]
fn truncated_file_fails() {
    let bytes = std::fs::read(data("tiny_act.onnx")).unwrap();
    let dir = std::env::temp_dir().join(format!("model-import-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, content) in [
        ("truncated.onnx", &bytes[..bytes.len() / 2]),
        ("garbage.onnx", &b"not a model"[..]),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let err = OnnxModel::load(&path).unwrap_err();
        println!("{err}");
        assert!(matches!(err, ImportError::Parse { .. }), "{err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    let err = OnnxModel::load(&dir.join("missing.onnx")).unwrap_err();
    assert!(matches!(err, ImportError::Parse { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrong_input_length_fails() {
    let err = import_onnx(&data("tiny_act.onnx"), &QuantConfig::default(), &[0.0; 15]).unwrap_err();
    println!("{err}");
    assert!(
        matches!(
            err,
            ImportError::InputLength {
                expected: 16,
                got: 15,
                ..
            }
        ),
        "{err}"
    );
    let err = import_onnx(
        &data("tiny_act.onnx"),
        &QuantConfig::default(),
        &[1000.0; 16],
    )
    .unwrap_err();
    assert!(
        matches!(err, ImportError::InputRange { index: 0, .. }),
        "{err}"
    );
}

#[test]
fn variants_import_works() {
    // Symbolic batch fixed to 1; Gelu in another order with constants first; Sub, Div, Relu.
    let input = sample_input("variants");
    let imported = import_onnx(&data("variants.onnx"), &QuantConfig::default(), &input).unwrap();
    assert_eq!(imported.source.input_shape, vec![1, 4]);
    let kinds: Vec<&str> = imported.graph.nodes.iter().map(|n| n.op.kind()).collect();
    assert!(
        kinds.contains(&"lookup") && kinds.contains(&"relu"),
        "{kinds:?}"
    );
    let report = imported.compare(&input).unwrap();
    println!("variants: {report}");
    assert!(report.lowering_err < 1e-4, "{report}");
    assert!(report.max_abs_err < 0.05, "{report}");
    prove_and_verify(&imported, &input);
}

#[test]
fn uncalibratable_model_fails() {
    let err = import_onnx(&data("huge.onnx"), &QuantConfig::default(), &[1.0, 1.0]).unwrap_err();
    println!("{err}");
    assert!(matches!(err, ImportError::Calibration { .. }), "{err}");
    assert!(err.to_string().contains("blowup"), "{err}");
}

#[test]
fn softmax_classifier_head_tracks_tract_and_proves() {
    let input = sample_input("softmax_head");
    for config in [QuantConfig::symmetric8(8), QuantConfig::direct(8, 10)] {
        let imported = import_onnx(&data("softmax_head.onnx"), &config, &input).unwrap();
        let kinds: Vec<&str> = imported.graph.nodes.iter().map(|n| n.op.kind()).collect();
        assert!(kinds.contains(&"softmax_div"), "{kinds:?}");
        let report = imported.compare(&input).unwrap();
        println!("softmax_head {:?}: {report}", config.strategy);
        assert!(report.lowering_err < 1e-5, "{report}");
        // Probabilities in [0, 1] at 2^-8 after the softmax's own 2^-14.
        assert!(report.max_abs_err < 0.01, "{report}");
        // The top class agrees unless the two largest f32 probabilities are within the
        // output's quantisation step (2^-8) of each other.
        for (want, got) in report.reference.chunks(10).zip(report.quantised.chunks(10)) {
            let top = |v: &[f64]| (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b });
            let want: Vec<f64> = want.iter().map(|&v| f64::from(v)).collect();
            let (tw, tg) = (top(&want), top(got));
            assert!(tw == tg || want[tw] - want[tg] < 2.0 / 256.0, "{report}");
        }
        prove_and_verify(&imported, &input);
    }
}

#[test]
fn softmax_off_the_feature_axis_is_refused() {
    let err = import_onnx(
        &data("softmax_axis.onnx"),
        &QuantConfig::default(),
        &sample_input("softmax_axis"),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ImportError::Unsupported { .. }), "{msg}");
    assert!(msg.contains("Softmax") && msg.contains("middle"), "{msg}");
}

#[test]
fn slice_gather_concat_and_axis_relabellings_work() {
    let input = sample_input("select_ops");
    let imported = import_onnx(&data("select_ops.onnx"), &QuantConfig::default(), &input).unwrap();
    let report = imported.compare(&input).unwrap();
    println!("select_ops: {report}");
    assert!(report.lowering_err < 1e-5, "{report}");
    assert!(report.max_abs_err < 0.03, "{report}");
    // The slice, the gather and the two concatenated parts' placements are exact selections.
    let selections = imported
        .plan
        .steps
        .iter()
        .filter(|s| matches!(s.op, model_import::plan::PlanOp::IntMatMul { .. }))
        .count();
    assert!(selections >= 4, "{selections}");
    prove_and_verify(&imported, &input);
}

#[test]
fn concat_along_the_batch_axis_is_refused() {
    let err = import_onnx(
        &data("concat_rows.onnx"),
        &QuantConfig::default(),
        &sample_input("concat_rows"),
    )
    .unwrap_err();
    let msg = err.to_string();
    println!("{msg}");
    assert!(matches!(err, ImportError::Unsupported { .. }), "{msg}");
    assert!(msg.contains("Concat") && msg.contains("stack"), "{msg}");
}
