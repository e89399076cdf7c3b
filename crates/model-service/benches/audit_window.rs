//! Window proving throughput: a log of N inferences of the built-in MLP (784-512-512-10), as
//! `prove-server` writes it, proved entry by entry (`window::prove_window`) and its report
//! checked offline (`audit::check::check_report`), timed in one run beside the forward pass
//! alone. `cargo bench -p model-service --bench audit_window [-- --entries N]`.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use audit::window::{Window, WindowData};
use audit::{EntryData, Log, LogOptions};
use model_service::{infer, setup, window::prove_window, ModelSpec};
use serde_json::json;

fn main() {
    let n: u64 = std::env::args()
        .skip_while(|a| a != "--entries")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let m = setup(
        ModelSpec::Builtin("mlp".into()),
        None,
        zkml::ProofConfig::default(),
    )
    .unwrap();
    let (mut log, _) = Log::open(&dir.path().join("log"), LogOptions::default()).unwrap();
    let t = Instant::now();
    let mut forward = 0.0;
    for k in 0..n as usize {
        let x = json!((0..784)
            .map(|i| ((i * 31 + k * 17) % 29) as f64 / 29.0)
            .collect::<Vec<_>>());
        let tf = Instant::now();
        let (i, o, _) = infer(&m, &x).unwrap();
        forward += tf.elapsed().as_secs_f64();
        log.append(EntryData {
            timestamp_ms: audit::time::now_ms(),
            model_digest: m.key.vk.digest(),
            input: i.to_bytes(),
            output: o.to_bytes(),
        })
        .unwrap();
    }
    let capture = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let data = WindowData::collect(&log, 0, n).unwrap();
    let window = Window {
        from_seq: 0,
        to_seq: n,
        from_time: None,
        to_time: None,
    };
    let out = dir.path().join("report");
    let report = prove_window(data, window, &m, &out, None, &|_, _| {}).unwrap();
    let prove = t.elapsed().as_secs_f64();
    assert_eq!(report.totals.proved, n);
    let t = Instant::now();
    let check = audit::check::check_report(&out, &m.key.vk, &[], None).unwrap();
    let verify = t.elapsed().as_secs_f64();
    assert!(check.is_valid() && check.proved == n);
    println!("audit window of {n} built-in mlp inferences, 2 cores");
    println!(
        "capture (forward + fsynced append, one at a time): {:.2} s ({:.0} inferences/s; forward alone {:.2} s)",
        capture,
        n as f64 / capture,
        forward
    );
    println!(
        "prove the window (replay + prove each, report): {prove:.2} s = {:.1} inferences/s; {:.1}x the forward pass",
        n as f64 / prove,
        prove / forward
    );
    println!(
        "audit verify of the report: {verify:.2} s ({:.1} ms per entry)",
        verify * 1e3 / n as f64
    );
}
