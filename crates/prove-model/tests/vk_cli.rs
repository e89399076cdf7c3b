//! Verifying keys through the CLI: `setup` fixes the scales and writes the key, `prove --vk`
//! proves against exactly that key, `verify --vk` needs the key alone, and mismatched flags,
//! other weights, inputs beyond the calibrated ranges and damaged keys are refused by name.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{run, text};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../model-import/tests/data")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The digest `setup` prints.
fn digest_of(o: &Output) -> String {
    let out = text(o);
    out.lines()
        .find_map(|l| l.strip_prefix("model digest: "))
        .unwrap_or_else(|| panic!("no digest in {out}"))
        .to_string()
}

#[test]
fn key_alone_verifies_a_proof_made_against_it() {
    let dir = tempfile::tempdir().unwrap();
    // The model lives only in this folder; it is deleted before verifying.
    let model = dir.path().join("mnist.onnx");
    std::fs::copy(data("mnist_mlp.onnx"), &model).unwrap();
    let key = dir.path().join("mnist.vk");
    let calib = data("mnist_mlp.input.json");
    let o = run(&[
        "setup",
        "--model",
        s(&model),
        "--calibration",
        s(&calib),
        "--vk-out",
        s(&key),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let digest = digest_of(&o);
    assert_eq!(digest.len(), 64);

    // Two inputs (the calibration's and a seeded one) proved against the key.
    let proofs = [dir.path().join("a.bin"), dir.path().join("b.bin")];
    for (proof, input) in proofs.iter().zip([Some(&calib), None]) {
        let mut args = vec!["prove", "--model", s(&model), "--vk", s(&key)];
        if let Some(x) = input {
            args.extend(["--input", s(x)]);
        }
        args.extend(["--output", s(proof)]);
        let o = run(&args);
        assert!(o.status.success(), "{}", text(&o));
    }
    std::fs::remove_file(&model).unwrap();
    for proof in &proofs {
        let o = run(&[
            "verify",
            "--vk",
            s(&key),
            "--proof",
            s(proof),
            "--expect-digest",
            &digest,
        ]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains(&digest), "{}", text(&o));
    }
    let o = run(&[
        "verify",
        "--vk",
        s(&key),
        "--proof",
        s(&proofs[0]),
        "--expect-digest",
        "ab",
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("not of the expected ab"), "{}", text(&o));
    let o = run(&["inspect", "--vk", s(&key)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&digest) && text(&o).contains("96-bit"),
        "{}",
        text(&o)
    );

    // A damaged key is refused with a clear error, never a panic.
    let bytes = std::fs::read(&key).unwrap();
    let damaged = dir.path().join("damaged.vk");
    for cut in [0, 5, 12, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&damaged, &bytes[..cut]).unwrap();
        let o = run(&["verify", "--vk", s(&damaged), "--proof", s(&proofs[0])]);
        assert!(!o.status.success());
        assert!(
            text(&o).contains("not a usable verifying key"),
            "{}",
            text(&o)
        );
        assert!(!text(&o).contains("panicked"), "{}", text(&o));
    }
    // A byte of the verifying key proper (it precedes the setup record, whose calibration
    // inputs only a prover reads): another model digest, or no key at all.
    let mut flipped = bytes.clone();
    flipped[100] ^= 0x40;
    std::fs::write(&damaged, &flipped).unwrap();
    let o = run(&["verify", "--vk", s(&damaged), "--proof", s(&proofs[0])]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("panicked"), "{}", text(&o));
}

#[test]
fn proving_against_a_key_checks_flags_weights_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("bert.vk");
    let folder = data("tiny-bert");
    let calib = data("bert_encoder.input.json");
    let o = run(&[
        "setup",
        "--model-dir",
        s(&folder),
        "--calibration",
        s(&calib),
        "--vk-out",
        s(&key),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let proof = dir.path().join("p.bin");
    // Other flags than the setup's.
    let o = run(&[
        "prove",
        "--model-dir",
        s(&folder),
        "--vk",
        s(&key),
        "--quant",
        "int4",
        "--input",
        s(&calib),
        "--output",
        s(&proof),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("set up with --quant symmetric8"),
        "{}",
        text(&o)
    );
    // Another sequence length than the key's.
    let ids = dir.path().join("ids.json");
    std::fs::write(&ids, "[1, 2, 3]").unwrap();
    let o = run(&[
        "prove",
        "--model-dir",
        s(&folder),
        "--vk",
        s(&key),
        "--input",
        s(&ids),
        "--output",
        s(&proof),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("the key's model takes 8x1"),
        "{}",
        text(&o)
    );

    // The same folder with one bias moved: same structure, other weights.
    let other = dir.path().join("tiny-bert");
    std::fs::create_dir(&other).unwrap();
    std::fs::copy(folder.join("config.json"), other.join("config.json")).unwrap();
    let mut st = std::fs::read(folder.join("model.safetensors")).unwrap();
    let at = st.len() - 4;
    let v = f32::from_le_bytes(st[at..].try_into().unwrap()) + 0.5;
    st[at..].copy_from_slice(&v.to_le_bytes());
    std::fs::write(other.join("model.safetensors"), st).unwrap();
    let o = run(&[
        "prove",
        "--model-dir",
        s(&other),
        "--vk",
        s(&key),
        "--input",
        s(&calib),
        "--output",
        s(&proof),
        "--no-cache",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("the weights differ from the key's"),
        "{}",
        text(&o)
    );

    // An ONNX input far beyond the calibration's range.
    let mkey = dir.path().join("mnist.vk");
    let o = run(&[
        "setup",
        "--model",
        s(&data("mnist_mlp.onnx")),
        "--calibration",
        s(&data("mnist_mlp.input.json")),
        "--vk-out",
        s(&mkey),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let big = dir.path().join("big.json");
    std::fs::write(&big, serde_json::to_string(&vec![60.0f32; 784]).unwrap()).unwrap();
    let o = run(&[
        "prove",
        "--model",
        s(&data("mnist_mlp.onnx")),
        "--vk",
        s(&mkey),
        "--input",
        s(&big),
        "--output",
        s(&proof),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("range"), "{}", text(&o));
}
