//! Inference proving benchmark. Run with `cargo bench -p zkml --bench inference`.
//!
//! Prints, measured in this run: for the MLP 784-512-512-10 prove / verify time, proof bytes and
//! peak memory; for two matmul shapes the forward time, prove time (which includes its own
//! forward pass, the lookups, all reductions and the opening of the weight claims), verify time
//! and the prove/forward ratio. Weight commitment (once per model) is reported separately.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use model::examples::{self, random_input, random_weight};
use model::{GraphBuilder, Shape, Tensor};
use rand::SeedableRng;
use zkml::{prove, verify, CommittedModel, ProofConfig};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Records when each proving stage starts.
struct StageTimes(std::sync::Mutex<Vec<(String, Instant)>>);

impl zkml::prover::Progress for StageTimes {
    fn stage(&self, name: &str, _: usize, _: usize) {
        if let Ok(mut v) = self.0.lock() {
            v.push((name.to_string(), Instant::now()));
        }
    }
}

/// One proof with a per-stage breakdown.
fn breakdown(m: &CommittedModel, x: &Tensor) -> String {
    let times = StageTimes(std::sync::Mutex::new(Vec::new()));
    let start = Instant::now();
    let _ = prove(m, x, &times).unwrap();
    let end = Instant::now();
    let v = times.0.into_inner().unwrap_or_default();
    let mut parts = Vec::new();
    for (i, (name, t)) in v.iter().enumerate() {
        let next = v.get(i + 1).map_or(end, |(_, t2)| *t2);
        parts.push(format!("{name} {:.1}", ms(next - *t)));
    }
    format!("{} (total {:.1} ms)", parts.join(", "), ms(end - start))
}

fn bench_model(
    name: &str,
    m: &CommittedModel,
    x: &Tensor,
    reps: usize,
) -> (Duration, Duration, usize) {
    let mut prove_t = Vec::new();
    let mut verify_t = Vec::new();
    let mut size = 0;
    for _ in 0..reps {
        let t = Instant::now();
        let (y, p) = prove(m, x, &()).unwrap();
        prove_t.push(t.elapsed());
        let t = Instant::now();
        verify(&m.vk, x, &y, &p).unwrap();
        verify_t.push(t.elapsed());
        size = p.size_bytes();
    }
    let _ = name;
    (median(prove_t), median(verify_t), size)
}

fn main() {
    let config = ProofConfig::default();
    println!(
        "config: log_blowup {} queries {} pow {} fold arity 2^{} ({} bits), threads {}",
        config.pcs.log_blowup,
        config.pcs.n_queries,
        config.pcs.pow_bits,
        config.pcs.fold_arity_log,
        config.pcs.security_bits(),
        rayon::current_num_threads()
    );

    // MLP first, so that the peak memory reading is the MLP's.
    let g = examples::by_name("mlp").unwrap();
    let t = Instant::now();
    let m = CommittedModel::new(g, config).unwrap();
    let commit = t.elapsed();
    let x = random_input(&m.graph, 1);
    let (p, v, size) = bench_model("mlp", &m, &x, 5);
    println!(
        "mlp 784-512-512-10: commit weights {:.1} ms (once per model) | prove {:.1} ms | verify {:.1} ms | proof {} bytes | peak RSS {:.0} MiB",
        ms(commit),
        ms(p),
        ms(v),
        size,
        peak_rss_mib()
    );

    println!(
        "  mlp security: {} bits (conjectured commitment, algebraic), commitment provably {} bits",
        zkml::config::check_security(&m.vk.config, &m.circuit).unwrap(),
        zkml::config::provable_commitment_bits(&m.vk.config, &m.circuit).unwrap()
    );
    println!("  mlp stages (ms): {}", breakdown(&m, &x));

    for (mm, k, n) in [(128usize, 1024usize, 1024usize), (1, 4096, 4096)] {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut b =
            GraphBuilder::new(format!("matmul-{mm}x{k}x{n}"), Shape::new(mm, k), 8).unwrap();
        let w = random_weight("w", k, n, &mut rng);
        let y = b.matmul(0, w).unwrap();
        let g = b.build(y).unwrap();
        let t = Instant::now();
        let m = CommittedModel::new(g, config).unwrap();
        let commit = t.elapsed();
        let x = random_input(&m.graph, 2);
        let w = &m.graph.weights[0];
        let fwd = median(
            (0..7)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(model::execute::matmul(&x, &w.data, w.shape));
                    t.elapsed()
                })
                .collect(),
        );
        let (p, v, size) = bench_model("matmul", &m, &x, 5);
        println!(
            "matmul {mm}x{k} . {k}x{n}: forward {:.2} ms | prove {:.1} ms | verify {:.1} ms | proof {} bytes | prove/forward {:.1} | commit weights {:.0} ms (once per model)",
            ms(fwd),
            ms(p),
            ms(v),
            size,
            p.as_secs_f64() / fwd.as_secs_f64(),
            ms(commit)
        );
        println!("  stages (ms): {}", breakdown(&m, &x));
    }
}
