//! Load on `prove-server` with the built-in MNIST-shaped MLP (784-512-512-10): the server runs
//! in this process on a free port and clients speak HTTP over real sockets.
//!
//! Printed, for 1 and 2 workers:
//! - the overhead per job: the median submit-to-completed latency of one job at a time minus
//!   the median of proving the same input directly (`model_service::prove`, what `prove-model prove`
//!   runs), measured in the same run;
//! - throughput under load: jobs per second with 64 jobs submitted by 8 clients at once, and
//!   the p50 / p99 of their submit-to-completed latency.
//!
//! - capture on `/infer` (forward pass only, then a durable append to the audit log): the
//!   p50 / p99 of the logging time the server reports per request, one client at a time and
//!   8 at once (group commit: one fsync for the appends waiting together), and the request
//!   latency against the forward pass alone.
//!
//! Completion is observed by polling the job every millisecond, so latencies carry up to 1 ms
//! of polling granularity. `cargo bench -p prove-server --bench server_load [-- --jobs N]`.
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/http.rs"]
mod http;

use std::time::{Duration, Instant};

use model_service::{self as models, ModelSpec};
use prove_server::ServerConfig;
use serde_json::{json, Value};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
}

fn input(k: usize) -> Value {
    let x: Vec<f64> = (0..784).map(|i| ((i * 7 + k) % 17) as f64 / 17.0).collect();
    json!(x)
}

/// Starts a server on a free port in a background runtime; its address.
fn start(dir: &std::path::Path, workers: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let config = ServerConfig {
        bind: addr,
        data_dir: dir.to_owned(),
        workers,
        max_queue: 1024,
        max_body: 16 << 20,
        inline_setup_bytes: 16 << 20,
        audit_recipient: None,
        api_key: None,
        proof: zkml::ProofConfig::default(),
    };
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            prove_server::serve(listener, config).await.unwrap();
        });
    });
    addr.to_string()
}

/// Submits a job and polls it until completed; the latency in ms.
fn prove_once(addr: &str, model: &str, k: usize) -> f64 {
    let t = Instant::now();
    let (code, v) = http::json(
        addr,
        "POST",
        "/api/v1/prove",
        &json!({ "model_id": model, "input": input(k) }),
    );
    assert_eq!(code, 202, "{v}");
    let job = v["job_id"].as_str().unwrap().to_owned();
    loop {
        let (_, v) = http::json(addr, "GET", &format!("/api/v1/prove/{job}"), &Value::Null);
        match v["status"].as_str().unwrap() {
            "completed" => return t.elapsed().as_secs_f64() * 1e3,
            "queued" | "running" => std::thread::sleep(Duration::from_millis(1)),
            other => panic!("job {other}: {v}"),
        }
    }
}

/// Runs `job(k)` for `k` in `0..n` from `clients` threads (client `c` takes `c, c + clients,
/// ...`); the results and the wall time in seconds.
fn fan_out<T: Send>(clients: usize, n: usize, job: impl Fn(usize) -> T + Sync) -> (Vec<T>, f64) {
    let t = Instant::now();
    let job = &job;
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| s.spawn(move || (c..n).step_by(clients).map(job).collect::<Vec<T>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    (results, t.elapsed().as_secs_f64())
}

/// `/infer` `n` times from `clients` clients; the log times and request latencies (ms).
fn infer_load(addr: &str, model: &str, n: usize, clients: usize) -> (Vec<f64>, Vec<f64>, f64) {
    let (results, secs) = fan_out(clients, n, |k| {
        let t = Instant::now();
        let (code, v) = http::json(
            addr,
            "POST",
            "/api/v1/infer",
            &json!({ "model_id": model, "input": input(k) }),
        );
        assert_eq!(code, 200, "{v}");
        (
            v["log_ms"].as_f64().unwrap(),
            t.elapsed().as_secs_f64() * 1e3,
        )
    });
    let (mut log, mut total): (Vec<f64>, Vec<f64>) = results.into_iter().unzip();
    log.sort_by(f64::total_cmp);
    total.sort_by(f64::total_cmp);
    (log, total, n as f64 / secs)
}

fn main() {
    let jobs: usize = std::env::args()
        .skip_while(|a| a != "--jobs")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let sequential = 20;

    // The CLI's work: prove the input directly.
    let m = models::setup(
        ModelSpec::Builtin("mlp".into()),
        None,
        zkml::ProofConfig::default(),
    )
    .unwrap();
    let _ = models::prove(&m, &input(0), &()).unwrap();
    let direct = median(
        (0..sequential)
            .map(|k| {
                let t = Instant::now();
                models::prove(&m, &input(k), &()).unwrap();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    );
    println!("built-in mlp 784-512-512-10, {jobs} jobs under load, 2 cores");
    println!("direct prove (prove-model's work): median {direct:.1} ms");
    println!(
        "{:>7} {:>13} {:>10} {:>8} {:>9} {:>9}",
        "workers", "1-job median", "overhead", "jobs/s", "p50 ms", "p99 ms"
    );
    let forward = median(
        (0..sequential)
            .map(|k| {
                let t = Instant::now();
                model_service::infer(&m, &input(k)).unwrap();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    );
    for workers in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let addr = start(dir.path(), workers);
        let (code, v) = http::json(
            &addr,
            "POST",
            "/api/v1/models",
            &json!({ "builtin": "mlp" }),
        );
        assert_eq!(code, 201, "{v}");
        let model = v["model_id"].as_str().unwrap().to_owned();
        prove_once(&addr, &model, 0);
        let one = median(
            (0..sequential)
                .map(|k| prove_once(&addr, &model, k))
                .collect(),
        );
        let (mut lat, secs) = fan_out(8, jobs, |k| prove_once(&addr, &model, k));
        lat.sort_by(f64::total_cmp);
        println!(
            "{workers:>7} {one:>10.1} ms {:>7.1} ms {:>8.2} {:>9.0} {:>9.0}",
            one - direct,
            jobs as f64 / secs,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let addr = start(dir.path(), 1);
    let (_, v) = http::json(
        &addr,
        "POST",
        "/api/v1/models",
        &json!({ "builtin": "mlp" }),
    );
    let model = v["model_id"].as_str().unwrap().to_owned();
    println!("/infer capture (forward pass alone: median {forward:.2} ms)");
    println!(
        "{:>7} {:>9} {:>11} {:>11} {:>13} {:>13}",
        "clients", "infer/s", "log p50 ms", "log p99 ms", "request p50", "request p99"
    );
    for clients in [1, 8] {
        let (log, total, rate) = infer_load(&addr, &model, 400, clients);
        println!(
            "{clients:>7} {rate:>9.0} {:>11.2} {:>11.2} {:>10.2} ms {:>10.2} ms",
            percentile(&log, 0.5),
            percentile(&log, 0.99),
            percentile(&total, 0.5),
            percentile(&total, 0.99)
        );
    }
}
