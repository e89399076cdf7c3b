//! The CLI end to end, through the real binary.
#![allow(clippy::unwrap_used)]

use std::path::Path;
mod common;

use common::{run, stderr};

#[test]
fn prove_then_verify_works_and_tampering_fails() {
    let dir = tempfile::tempdir().unwrap();
    let proof = dir.path().join("p.bin");
    let p = proof.to_str().unwrap();
    let o = run(&["prove", "--model", "tiny-mlp", "--output", p]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("96-bit security"), "{out}");
    let o = run(&["verify", "--model", "tiny-mlp", "--proof", p]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Another model rejects it.
    let o = run(&["verify", "--model", "mlp", "--proof", p]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a valid proof"), "{}", stderr(&o));

    // A corrupted or truncated file is rejected with an error, not a crash.
    let mut bytes = std::fs::read(&proof).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, &bytes).unwrap();
    let o = run(&[
        "verify",
        "--model",
        "tiny-mlp",
        "--proof",
        bad.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).starts_with("error:"), "{}", stderr(&o));
    std::fs::write(&bad, &bytes[..n / 3]).unwrap();
    let o = run(&[
        "verify",
        "--model",
        "tiny-mlp",
        "--proof",
        bad.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("decoding"), "{}", stderr(&o));
}

#[test]
fn weight_commitment_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let c = cache.to_str().unwrap();
    let proof = dir.path().join("p.bin");
    let p = proof.to_str().unwrap();
    let o = run(&[
        "prove",
        "--model",
        "tiny-mlp",
        "--cache-dir",
        c,
        "--output",
        p,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("weights committed"));
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
    let o = run(&[
        "prove",
        "--model",
        "tiny-mlp",
        "--cache-dir",
        c,
        "--output",
        p,
    ]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("loaded from cache"));
    let o = run(&[
        "verify",
        "--model",
        "tiny-mlp",
        "--cache-dir",
        c,
        "--proof",
        p,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A corrupted cache file is ignored, not trusted.
    let file = std::fs::read_dir(&cache)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let o = run(&[
        "prove",
        "--model",
        "tiny-mlp",
        "--cache-dir",
        c,
        "--output",
        p,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("weights committed"));
    let o = run(&[
        "verify",
        "--model",
        "tiny-mlp",
        "--cache-dir",
        c,
        "--proof",
        p,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn json_input_and_format_work() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.json");
    let values: Vec<String> = (0..16)
        .map(|i| format!("{:.3}", (i as f64 - 8.0) / 10.0))
        .collect();
    std::fs::write(&input, format!("[{}]", values.join(","))).unwrap();
    let proof = dir.path().join("p.json");
    let o = run(&[
        "prove",
        "--model",
        "tiny-mlp",
        "--input",
        input.to_str().unwrap(),
        "--format",
        "json",
        "--output",
        proof.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&proof).unwrap();
    assert!(text.contains("\"format\": \"stwo-ml-proof\""));
    let o = run(&[
        "verify",
        "--model",
        "tiny-mlp",
        "--proof",
        proof.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_inputs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, s: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, s).unwrap();
        p
    };
    let check = |args: &[&str], needle: &str| {
        let o = run(args);
        assert!(!o.status.success());
        let e = stderr(&o);
        assert!(e.contains(needle), "expected '{needle}' in: {e}");
        assert!(!e.contains("panicked"), "{e}");
    };
    let out = dir.path().join("o.bin");
    let o = out.to_str().unwrap();
    check(
        &["prove", "--model", "nope", "--output", o],
        "unknown model 'nope'",
    );
    let short = write("short.json", "[1, 2, 3]");
    check(
        &[
            "prove",
            "--model",
            "tiny-mlp",
            "--input",
            short.to_str().unwrap(),
            "--output",
            o,
        ],
        "expects 16",
    );
    let junk = write("junk.json", "{not json");
    check(
        &[
            "prove",
            "--model",
            "tiny-mlp",
            "--input",
            junk.to_str().unwrap(),
            "--output",
            o,
        ],
        "JSON array",
    );
    let huge = write("huge.json", &format!("[{}]", vec!["1e9"; 16].join(",")));
    check(
        &[
            "prove",
            "--model",
            "tiny-mlp",
            "--input",
            huge.to_str().unwrap(),
            "--output",
            o,
        ],
        "outside",
    );
    check(
        &[
            "verify",
            "--model",
            "tiny-mlp",
            "--proof",
            Path::new("/nonexistent/p").to_str().unwrap(),
        ],
        "reading",
    );
    check(
        &[
            "prove",
            "--model",
            "tiny-mlp",
            "--n-queries",
            "3",
            "--output",
            o,
        ],
        "at least 96 required",
    );
}
