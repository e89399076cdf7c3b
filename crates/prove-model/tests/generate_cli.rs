//! `generate` / `verify-generation` through the binary on the tiny Llama fixture: every step
//! proved, the chain checked; a swapped, corrupted or missing step is rejected.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
mod common;

use common::{run, stderr};

fn fixture() -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model-import/tests/data/tiny-llama");
    p.to_str().unwrap().to_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

fn generate(model: &str, prompt: &str, out: &Path, n: &str) -> String {
    let o = run(&[
        "generate",
        "--model-dir",
        model,
        "--input",
        prompt,
        "--max-new-tokens",
        n,
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn verify(model: &str, dir: &Path) -> std::process::Output {
    run(&[
        "verify-generation",
        "--model-dir",
        model,
        "--proofs",
        dir.to_str().unwrap(),
    ])
}

fn rejected(model: &str, dir: &Path, needle: &str) {
    let o = verify(model, dir);
    let e = stderr(&o);
    assert!(!o.status.success(), "accepted: {}", dir.display());
    assert!(e.contains(needle), "expected {needle:?} in: {e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn generation_proves_verifies_and_rejects_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let pa = write(tmp.path(), "pa.json", "[5, 17, 3, 200]");
    let pb = write(tmp.path(), "pb.json", "[9, 1, 77, 31]");
    let out = generate(&model, &pa, &a, "3");
    assert!(
        out.contains("generated 3 tokens with 3 proved steps"),
        "{out}"
    );
    let generated = out.lines().find(|l| l.starts_with("generated [")).unwrap();
    generate(&model, &pb, &b, "3");

    let o = verify(&model, &a);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(text.contains("valid generation: 3 proved steps"), "{text}");
    assert!(text.contains(generated), "{text} vs {generated}");

    // Another generation's step 1 in place of ours: its cache does not continue step 0.
    let swapped = tmp.path().join("swapped");
    std::fs::create_dir(&swapped).unwrap();
    for k in 0..3 {
        let name = format!("step-{k:03}.bin");
        let from = if k == 1 { &b } else { &a };
        std::fs::copy(from.join(&name), swapped.join(&name)).unwrap();
    }
    rejected(&model, &swapped, "does not continue");

    // A missing middle step.
    std::fs::remove_file(swapped.join("step-001.bin")).unwrap();
    rejected(&model, &swapped, "contiguous");

    // Corrupted bytes in a step's proof.
    let corrupt = tmp.path().join("corrupt");
    std::fs::create_dir(&corrupt).unwrap();
    for k in 0..3 {
        let name = format!("step-{k:03}.bin");
        let mut bytes = std::fs::read(a.join(&name)).unwrap();
        if k == 2 {
            let n = bytes.len();
            bytes[n - 40] ^= 0x5a;
        }
        std::fs::write(corrupt.join(&name), bytes).unwrap();
    }
    rejected(&model, &corrupt, "step 2");

    // The same steps checked against other quantisation (another model).
    let o = run(&[
        "verify-generation",
        "--model-dir",
        &model,
        "--quant",
        "int4",
        "--proofs",
        a.to_str().unwrap(),
    ]);
    assert!(!o.status.success());

    // No generation at all.
    rejected(&model, tmp.path(), "step-000.bin is missing");
}

/// The fixture folder with a byte-level `tokenizer.json` (its vocabulary is 256 tokens).
fn fixture_with_tokenizer(dir: &Path) -> String {
    let model = dir.join("tiny-llama-tok");
    std::fs::create_dir(&model).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(Path::new(&fixture()).join(f), model.join(f)).unwrap();
    }
    let symbols = model_import::tokenizer::byte_symbols();
    model_import::tokenizer::TextTokenizer::byte_level_bpe(&symbols, &[])
        .unwrap()
        .save(&model.join("tokenizer.json"))
        .unwrap();
    model.to_str().unwrap().to_owned()
}

#[test]
fn a_text_prompt_is_tokenized_and_the_text_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixture_with_tokenizer(tmp.path());
    let out_dir = tmp.path().join("gen");
    let o = run(&[
        "generate",
        "--model-dir",
        &model,
        "--prompt",
        "Hi!",
        "--max-new-tokens",
        "2",
        "--output-dir",
        out_dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    // "Hi!" is three byte tokens: H = 72, i = 105, ! = 33.
    assert!(out.contains("prompt [72, 105, 33]"), "{out}");
    let text = out
        .lines()
        .find(|l| l.starts_with("text: \"Hi!\" -> "))
        .unwrap();
    let v = verify(&model, &out_dir);
    assert!(v.status.success(), "{}", stderr(&v));
    assert!(String::from_utf8_lossy(&v.stdout).contains(text));

    // Without a tokenizer, a text prompt is refused by name.
    let o = run(&[
        "generate",
        "--model-dir",
        &fixture(),
        "--prompt",
        "Hi!",
        "--output-dir",
        tmp.path().join("none").to_str().unwrap(),
    ]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("no tokenizer"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}
