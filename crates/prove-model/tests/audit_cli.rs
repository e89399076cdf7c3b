//! `prove-model audit prove` and `audit verify` on a log of 20 inferences of the built-in MLP,
//! written the way `prove-server` writes it (model-service records, the key's spec): the
//! window proves and its report verifies; a changed output, a dropped entry, two swapped
//! entries, a damaged proof and an edited report are each caught and named; a served output
//! the model does not reproduce is listed, not proved; a rewritten log is caught against a
//! root the client kept.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use audit::{EntryData, Log, LogOptions};
use common::{run, text};
use model_service::{InferenceOutput, ModelSpec};
use serde_json::{json, Value};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn input(k: usize) -> Value {
    json!((0..784)
        .map(|i| ((i * 13 + k * 7) % 23) as f64 / 23.0)
        .collect::<Vec<_>>())
}

/// A log of `n` inferences of `m` (timestamps 1000 ms apart from `t0`); with `lie_at`, the
/// output logged for that entry is not the model's.
fn write_log(dir: &Path, m: &model_service::Loaded, n: usize, lie_at: Option<usize>) {
    let (mut log, _) = Log::open(dir, LogOptions::default()).unwrap();
    for k in 0..n {
        let (i, mut o, _) = model_service::infer(m, &input(k)).unwrap();
        if lie_at == Some(k) {
            o.tensors[0].data[0] += 1000;
        }
        log.append(EntryData {
            timestamp_ms: 1_796_000_000_000 + 1000 * k as i64,
            model_digest: m.key.vk.digest(),
            input: i.to_bytes(),
            output: o.to_bytes(),
        })
        .unwrap();
    }
}

/// A built-in model set up as the server does, and its key file in `d`.
fn built_in(d: &Path, name: &str) -> (model_service::Loaded, std::path::PathBuf) {
    let config = zkml::ProofConfig::default();
    let m = model_service::setup(ModelSpec::Builtin(name.into()), None, config).unwrap();
    let key = d.join(format!("{name}.vk"));
    std::fs::write(&key, m.key.encode().unwrap()).unwrap();
    (m, key)
}

/// `audit prove` of entries from 0 on, with `extra` flags.
fn prove_log(log: &Path, key: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let args = [
        "audit",
        "prove",
        "--log",
        s(log),
        "--from-seq",
        "0",
        "--vk",
        s(key),
        "--out",
        s(out),
    ];
    run(&[&args[..], extra].concat())
}

fn report(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

/// A copy of the report folder with `edit` applied to report.json, resealed as a forger would
/// (the report hash recomputed over the edited content).
fn forged(src: &Path, dst: &Path, edit: impl FnOnce(&mut Value)) {
    std::fs::create_dir_all(dst.join("proofs")).unwrap();
    for f in std::fs::read_dir(src.join("proofs")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dst.join("proofs").join(f.file_name().unwrap())).unwrap();
    }
    let mut r = report(src);
    edit(&mut r);
    let mut typed: audit::window::Report = serde_json::from_value(r).unwrap();
    typed = typed.seal();
    std::fs::write(dst.join("report.json"), serde_json::to_vec(&typed).unwrap()).unwrap();
}

fn verify(dir: &Path, key: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["audit", "verify", s(dir), "--vk", s(key)];
    args.extend_from_slice(extra);
    let o = run(&args);
    (o.status.success(), text(&o))
}

#[test]
fn a_window_proves_and_its_report_catches_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (m, key) = built_in(d, "mlp");
    let log_dir = d.join("log");
    write_log(&log_dir, &m, 20, None);

    let rep = d.join("rep");
    let o = prove_log(&log_dir, &key, &rep, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("20 proved"), "{}", text(&o));
    let html = std::fs::read_to_string(rep.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("<table"));
    let (ok, out) = verify(&rep, &key, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("20 proofs verified"), "{out}");
    let r = report(&rep);
    let root = format!("20:{}", r["end"]["root"].as_str().unwrap());
    let (ok, out) = verify(&rep, &key, &["--trusted-root", &root]);
    assert!(ok, "{out}");

    // A window by time: entries 5..9 were logged at t0 + 5 s .. t0 + 9 s.
    let rep_t = d.join("rep-t");
    let o = run(&[
        "audit",
        "prove",
        "--log",
        s(&log_dir),
        "--from",
        "2026-11-30T00:53:25Z",
        "--to",
        "2026-11-30T00:53:29Z",
        "--vk",
        s(&key),
        "--out",
        s(&rep_t),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let rt = report(&rep_t);
    assert_eq!(
        (
            rt["window"]["from_seq"].as_u64(),
            rt["window"]["to_seq"].as_u64()
        ),
        (Some(5), Some(9))
    );
    assert!(verify(&rep_t, &key, &[]).0);

    // An edited report that is not resealed.
    let edited = d.join("edited");
    forged(&rep, &edited, |_| {});
    let mut raw = report(&edited);
    raw["totals"]["proved"] = json!(21);
    std::fs::write(edited.join("report.json"), raw.to_string()).unwrap();
    let (ok, out) = verify(&edited, &key, &[]);
    assert!(!ok && out.contains("report hash"), "{out}");

    // One logged output changed (resealed): the entry no longer hashes into the log.
    let changed = d.join("changed");
    forged(&rep, &changed, |r| {
        let e = &mut r["entries"][7];
        let mut o: InferenceOutput = serde_json::from_str(e["output"].as_str().unwrap()).unwrap();
        o.tensors[0].data[3] += 1;
        e["output"] = json!(serde_json::to_string(&o).unwrap());
    });
    let (ok, out) = verify(&changed, &key, &[]);
    assert!(!ok && out.contains("entry 7"), "{out}");

    // A dropped entry.
    let dropped = d.join("dropped");
    forged(&rep, &dropped, |r| {
        r["entries"].as_array_mut().unwrap().remove(12);
    });
    let (ok, out) = verify(&dropped, &key, &[]);
    assert!(!ok && out.contains("entry 12 is missing"), "{out}");

    // Two entries swapped.
    let swapped = d.join("swapped");
    forged(&rep, &swapped, |r| {
        r["entries"].as_array_mut().unwrap().swap(3, 4);
    });
    let (ok, out) = verify(&swapped, &key, &[]);
    assert!(!ok && out.contains("out of order"), "{out}");

    // A damaged proof file.
    let damaged = d.join("damaged");
    forged(&rep, &damaged, |_| {});
    let proof = damaged.join("proofs/000000000002.bin");
    let mut b = std::fs::read(&proof).unwrap();
    let at = b.len() / 2;
    b[at] ^= 1;
    std::fs::write(&proof, b).unwrap();
    let (ok, out) = verify(&damaged, &key, &[]);
    assert!(!ok && out.contains("entry 2"), "{out}");

    // A served output the model does not give: listed, not proved; and the log that holds it
    // is not the one whose root the client kept.
    let lying = d.join("lying-log");
    write_log(&lying, &m, 20, Some(6));
    let rep_l = d.join("rep-l");
    let o = prove_log(&lying, &key, &rep_l, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 output mismatches"), "{}", text(&o));
    let (ok, out) = verify(&rep_l, &key, &[]);
    assert!(ok && out.contains("entries [6]"), "{out}");
    let (ok, out) = verify(&rep_l, &key, &["--trusted-root", &root]);
    assert!(!ok && out.contains("rewritten"), "{out}");

    // Another model's key.
    let (_, other_key) = built_in(d, "tiny-mlp");
    let (ok, out) = verify(&rep, &other_key, &[]);
    assert!(!ok && out.contains("the key is"), "{out}");
}

#[test]
fn sealed_logs_prove_and_check_with_the_recipients_key() {
    use audit::record::Record;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (m, key) = built_in(d, "tiny-mlp");
    let secret = d.join("recipient.key");
    let o = run(&["audit", "keygen", "--out", s(&secret)]);
    assert!(o.status.success(), "{}", text(&o));
    let public = text(&o)
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .unwrap()
        .to_owned();
    // A second keygen never overwrites the key.
    assert!(!run(&["audit", "keygen", "--out", s(&secret)])
        .status
        .success());
    let to = audit::seal::RecipientKey::from_hex(&public).unwrap();

    let log_dir = d.join("log");
    {
        let (mut log, _) = Log::open(&log_dir, LogOptions::default()).unwrap();
        for k in 0..4 {
            let x = json!((0..16)
                .map(|i| ((i + k) % 5) as f64 / 5.0)
                .collect::<Vec<_>>());
            let (i, o, _) = model_service::infer(&m, &x).unwrap();
            log.append(EntryData {
                timestamp_ms: 1_796_000_000_000 + k as i64,
                model_digest: m.key.vk.digest(),
                input: serde_json::to_vec(&i.seal(&to).unwrap()).unwrap(),
                output: serde_json::to_vec(&o.seal(&to).unwrap()).unwrap(),
            })
            .unwrap();
        }
    }
    let entry = std::fs::read(log_dir.join("00000000000000000000.seg")).unwrap();
    assert!(
        !String::from_utf8_lossy(&entry).contains("request"),
        "the log holds no clear record"
    );

    // Without the key the entries cannot be replayed.
    let rep = d.join("rep");
    let o = prove_log(&log_dir, &key, &d.join("nokey"), &[]);
    assert!(text(&o).contains("4 failed"), "{}", text(&o));
    let o = prove_log(&log_dir, &key, &rep, &["--decrypt-key", s(&secret)]);
    assert!(
        o.status.success() && text(&o).contains("4 proved"),
        "{}",
        text(&o)
    );
    assert!(rep.join("proofs/000000000000.bin.sealed").exists());
    assert!(
        !String::from_utf8_lossy(&std::fs::read(rep.join("report.json")).unwrap())
            .contains("request")
    );

    // Without the key: hashes and inclusion checked, proofs counted as sealed.
    let (ok, out) = verify(&rep, &key, &[]);
    assert!(ok && out.contains("4 proofs are sealed"), "{out}");
    let (ok, out) = verify(&rep, &key, &["--decrypt-key", s(&secret)]);
    assert!(ok && out.contains("4 proofs verified"), "{out}");
    let other = d.join("other.key");
    assert!(run(&["audit", "keygen", "--out", s(&other)])
        .status
        .success());
    let (ok, out) = verify(&rep, &key, &["--decrypt-key", s(&other)]);
    assert!(!ok && out.contains("entry 0"), "{out}");
}
