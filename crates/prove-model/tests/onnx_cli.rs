//! The CLI on ONNX models (the test models of `model-import`).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
mod common;

use common::run;
use std::process::Output;

fn data(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../model-import/tests/data")
        .join(name);
    p.to_str().unwrap().to_owned()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn onnx_prove_verify_inspect_works() {
    let dir = tempfile::tempdir().unwrap();
    let proof = dir.path().join("p.bin");
    let p = proof.to_str().unwrap();
    let model = data("tiny_act.onnx");
    let input = data("tiny_act.input.json");
    let o = run(&[
        "prove",
        "--model",
        &model,
        "--input",
        &input,
        "--output",
        p,
        "--no-cache",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("dual-track: max abs error"),
        "{}",
        text(&o)
    );
    let o = run(&["verify", "--model", &model, "--proof", p, "--no-cache"]);
    assert!(o.status.success(), "{}", text(&o));
    // Another quantisation is another model.
    let o = run(&[
        "verify",
        "--model",
        &model,
        "--quant",
        "direct",
        "--proof",
        p,
        "--no-cache",
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("not a valid proof"), "{}", text(&o));
    let o = run(&["inspect", "--model", &model]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("lookup"), "{}", text(&o));
}

#[test]
fn onnx_errors_are_reported() {
    let o = run(&["inspect", "--model", &data("unsupported.onnx")]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("operator LogSoftmax is not supported"),
        "{}",
        text(&o)
    );
    let o = run(&[
        "prove",
        "--model",
        &data("tiny_act.onnx"),
        "--input",
        &data("mnist_mlp.input.json"),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("expects 16"), "{}", text(&o));
    let o = run(&["inspect", "--model", &data("missing.onnx")]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("not a readable ONNX model"),
        "{}",
        text(&o)
    );
}

/// `prove --calibrate` picks the scales by measured error and prints the flags; `verify`
/// with those flags accepts, without them it rebuilds another model and refuses.
#[test]
fn calibrated_scales_prove_and_verify_with_the_printed_flags() {
    let dir = tempfile::tempdir().unwrap();
    let proof = dir.path().join("p.bin");
    let p = proof.to_str().unwrap();
    let model = data("mnist_mlp.onnx");
    let input = data("mnist_mlp.input.json");
    let o = run(&[
        "prove",
        "--model",
        &model,
        "--quant",
        "direct",
        "--input",
        &input,
        "--calibrate",
        "--output",
        p,
        "--no-cache",
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("calibrated over 35 settings"))
        .unwrap();
    // "...: --act-bits A --weight-bits W (output max abs error E); ..."
    let flags: Vec<&str> = line
        .split(": ")
        .nth(1)
        .unwrap()
        .split(" (")
        .next()
        .unwrap()
        .split(' ')
        .collect();
    assert_eq!(flags.len(), 4, "{line}");
    let mut args = vec![
        "verify", "--model", &model, "--quant", "direct", "--proof", p,
    ];
    args.push("--no-cache");
    let o = run(&args);
    assert!(!o.status.success(), "the default scales are another model");
    args.extend(flags.iter().copied());
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    // --act-bits is refused for models it does not apply to.
    let o = run(&["inspect", "--model", "tiny-mlp", "--act-bits", "12"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--act-bits is for ONNX models"),
        "{}",
        text(&o)
    );
}

/// `prove --report FILE` writes the run as JSON: the output as real numbers with its shape,
/// the errors against f32 per layer, timings and sizes.
#[test]
fn prove_writes_a_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let proof = dir.path().join("p.bin");
    let report = dir.path().join("r.json");
    let o = run(&[
        "prove",
        "--model",
        &data("softmax_head.onnx"),
        "--input",
        &data("softmax_head.input.json"),
        "--output",
        proof.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--no-cache",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    // Outputs are keyed by their ONNX names (this model's is `y`).
    let shape: Vec<u64> = r["shapes"]["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let out = r["outputs"]["y"].as_array().unwrap();
    assert_eq!(out.len() as u64, shape.iter().product::<u64>());
    // Softmax rows: the real outputs of each row add up to about 1.
    let cols = shape[1] as usize;
    let row: f64 = out[..cols].iter().map(|v| v.as_f64().unwrap()).sum();
    assert!((row - 1.0).abs() < 0.02, "{row}");
    assert!(r["max_abs_error"].as_f64().unwrap() < 0.05);
    assert!(!r["layers"].as_array().unwrap().is_empty());
    assert!(r["proof_bytes"].as_u64().unwrap() > 1000);
    assert!(r["prove_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(r["model_digest"].as_str().unwrap().len(), 64);
}

/// A model with several outputs: `--outputs` picks and orders them; the report keys them by
/// name; `verify` needs the same selection (another selection is another model).
#[test]
fn several_outputs_are_proved_and_picked() {
    let dir = tempfile::tempdir().unwrap();
    let proof = dir.path().join("p.bin");
    let report = dir.path().join("r.json");
    let model = data("multi_output.onnx");
    let input = data("multi_output.input.json");
    let o = run(&[
        "prove",
        "--model",
        &model,
        "--input",
        &input,
        "--outputs",
        "logits,features",
        "--output",
        proof.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--no-cache",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("output 'features' [2, 32]"),
        "{}",
        text(&o)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let keys: Vec<&String> = r["outputs"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["features", "logits"]);
    assert_eq!(r["outputs"]["features"].as_array().unwrap().len(), 64);
    assert_eq!(r["shapes"]["logits"], serde_json::json!([2, 10]));
    assert!(
        r["output_errors"]["features"]["max_abs_error"]
            .as_f64()
            .unwrap()
            < 0.1
    );

    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--model",
            &model,
            "--proof",
            proof.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.push("--no-cache");
        run(&args)
    };
    let o = verify(&["--outputs", "logits,features"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("(and 1 more outputs)"), "{}", text(&o));
    // Every output (the default) or another order is another model.
    for other in [&[][..], &["--outputs", "features,logits"][..]] {
        let o = verify(other);
        assert!(!o.status.success());
        assert!(text(&o).contains("not a valid proof"), "{}", text(&o));
    }
    // An unknown name is refused, naming the outputs there are.
    let o = verify(&["--outputs", "logit"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("probs, logits, features, echo"),
        "{}",
        text(&o)
    );
    let o = run(&["inspect", "--model", "tiny-mlp", "--outputs", "y"]);
    assert!(
        text(&o).contains("--outputs is for ONNX models"),
        "{}",
        text(&o)
    );
}

/// `--input-shape` must fit the model's declared input, and is for ONNX models only.
#[test]
fn input_shape_is_checked_against_the_model() {
    let model = data("mnist_mlp.onnx");
    let o = run(&["inspect", "--model", &model, "--input-shape", "1x1x28x28"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["inspect", "--model", &model, "--input-shape", "1x1x28x27"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("does not fit its declared shape"),
        "{}",
        text(&o)
    );
    let o = run(&["inspect", "--model", &model, "--input-shape", "1x0x2"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("expected dimensions like 1x3x64x64"),
        "{}",
        text(&o)
    );
    let o = run(&["inspect", "--model", "tiny-mlp", "--input-shape", "1x16"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--input-shape is for ONNX models"),
        "{}",
        text(&o)
    );
}

#[test]
fn encoder_with_named_int_inputs_proves_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let proof = dir.path().join("bert.bin");
    let p = proof.to_str().unwrap();
    let model = data("bert_encoder.onnx");
    let flags = [
        "--quant",
        "direct",
        "--act-bits",
        "12",
        "--weight-bits",
        "12",
    ];
    let input = data("bert_encoder.input.json");
    let mut args = vec!["prove", "--model", &model, "--input", &input, "--output", p];
    args.extend(flags);
    args.push("--no-cache");
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    // The proof file carries both inputs: verify needs nothing else.
    let file = zkml::proof::ProofFile::decode(&std::fs::read(&proof).unwrap()).unwrap();
    assert_eq!(file.inputs().len(), 2);
    assert_eq!(file.more_inputs[0].data, vec![1, 1, 1, 1, 1, 1, 0, 0]);
    let mut args = vec!["verify", "--model", &model, "--proof", p, "--no-cache"];
    args.extend(flags);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    // The padding unmasked in the file: not what was proved.
    let mut forged = file.clone();
    forged.more_inputs[0].data[7] = 1;
    let bytes = forged.encode(zkml::ProofFormat::Binary).unwrap();
    let bad = dir.path().join("forged.bin");
    std::fs::write(&bad, bytes).unwrap();
    let mut args = vec![
        "verify",
        "--model",
        &model,
        "--proof",
        bad.to_str().unwrap(),
    ];
    args.extend(flags);
    args.push("--no-cache");
    let o = run(&args);
    assert!(!o.status.success(), "{}", text(&o));
    // An array for a two-input model, or a missing input, is refused by name.
    let arr = dir.path().join("arr.json");
    std::fs::write(&arr, "[1, 2, 3]").unwrap();
    let missing = dir.path().join("missing.json");
    std::fs::write(&missing, r#"{"input_ids": [[1, 2, 3, 4, 5, 6, 7, 8]]}"#).unwrap();
    for (file, want) in [
        (&arr, "JSON object keyed by input name"),
        (&missing, "attention_mask"),
    ] {
        let o = run(&[
            "prove",
            "--model",
            &model,
            "--input",
            file.to_str().unwrap(),
            "--output",
            p,
        ]);
        assert!(!o.status.success());
        assert!(text(&o).contains(want), "{}", text(&o));
    }
}

/// `--model-dir` on a BERT folder: the token ids and mask (the JSON object an ONNX encoder
/// takes, or a plain array of ids) in; `last_hidden_state` and the pooled
/// `sentence_embedding` proved; `verify` rebuilds the encoder; bad ids are refused by name.
#[test]
fn bert_folder_proves_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let proof = dir.path().join("p.bin");
    let report = dir.path().join("r.json");
    let folder = data("tiny-bert");
    let input = data("bert_encoder.input.json");
    let o = run(&[
        "prove",
        "--model-dir",
        &folder,
        "--input",
        &input,
        "--output",
        proof.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--no-cache",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(
        r["shapes"]["last_hidden_state"],
        serde_json::json!([1, 8, 32])
    );
    assert_eq!(
        r["outputs"]["sentence_embedding"].as_array().unwrap().len(),
        32
    );
    let p = proof.to_str().unwrap();
    let o = run(&["verify", "--model-dir", &folder, "--proof", p, "--no-cache"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&[
        "verify",
        "--model-dir",
        &folder,
        "--layers",
        "1",
        "--proof",
        p,
        "--no-cache",
    ]);
    assert!(!o.status.success(), "{}", text(&o));

    let ids = dir.path().join("ids.json");
    std::fs::write(&ids, "[3, 4, 5, 64]").unwrap();
    let o = run(&[
        "prove",
        "--model-dir",
        &folder,
        "--input",
        ids.to_str().unwrap(),
        "--output",
        p,
        "--no-cache",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("outside the vocabulary of 64"),
        "{}",
        text(&o)
    );
    std::fs::write(
        &ids,
        r#"{"input_ids": [3, 4], "attention_mask": [1, 1, 0]}"#,
    )
    .unwrap();
    let o = run(&[
        "prove",
        "--model-dir",
        &folder,
        "--input",
        ids.to_str().unwrap(),
        "--output",
        p,
        "--no-cache",
    ]);
    assert!(text(&o).contains("attention mask of 3"), "{}", text(&o));
}
