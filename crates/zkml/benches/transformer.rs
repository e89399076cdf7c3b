//! Transformer-block proving benchmark: `cargo bench -p zkml --bench transformer`.
//!
//! Each case runs in its own process (so that its peak memory is its own) and prints, measured
//! in that run: weight commitment (once per model), forward pass (the integer executor over the
//! whole graph), prove (including its own forward pass), verify, proof bytes, peak RSS and the
//! ratio prove / forward. `decode-cache127` proves one token against a K/V cache of 127
//! positions bound as public inputs ([`model::decode`]). `stack4` and `stack8` prove 4 and 8
//! small blocks (d 256, seq 16) in one proof, one after another and batched
//! ([`model::stack`]), and compare them with one block. `qwen3-14b-seq1`,
//! `qwen3-14b-decode127` and `qwen3-14b-seq128` prove one Qwen3-14B-shaped block (d 5120, 40
//! heads / 8 KV, head_dim 128, ffn 17408, q/k norms; 330 M weights committed as five
//! 2^26-entry polynomials): 11-15 GiB and one to two minutes each. `--case NAME` runs one
//! case.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use model::decode::{cached_step, KvCache};
use model::examples::random_input;
use model::transformer::{batched_transformer, random_transformer, transformer, TransformerConfig};
use zkml::{prove, prove_all, verify, verify_all, CommittedModel, ProofConfig};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A Llama/Qwen-style block with power-of-two dimensions.
fn block(d_model: usize, n_heads: usize, n_kv: usize, ffn: usize, seq: usize) -> TransformerConfig {
    TransformerConfig {
        d_model,
        n_heads,
        n_kv_heads: n_kv,
        head_dim: d_model / n_heads,
        ffn_dim: ffn,
        rope_theta: 1_000_000.0,
        rope_scaling: model::rope::RopeScaling::None,
        mlp_act: model::Func::Silu,
        eps: 1e-6,
        seq_len: seq,
    }
}

/// Records when each proving stage starts and the resident memory then.
struct StageTimes(std::sync::Mutex<Vec<(String, Instant, f64)>>);

impl zkml::prover::Progress for StageTimes {
    fn stage(&self, name: &str, _: usize, _: usize) {
        set_phase(name);
        if let Ok(mut v) = self.0.lock() {
            v.push((name.to_string(), Instant::now(), rss_mib()));
        }
    }
}

/// The phase the case is in, and the largest resident memory sampled in each phase.
static PHASES: Mutex<(String, Vec<(String, f64)>)> = Mutex::new((String::new(), Vec::new()));

fn set_phase(name: &str) {
    if let Ok(mut p) = PHASES.lock() {
        p.0 = name.to_string();
    }
}

/// Samples the resident memory every 10 ms into [`PHASES`].
fn start_sampler() {
    std::thread::spawn(|| loop {
        let rss = rss_mib();
        if let Ok(mut p) = PHASES.lock() {
            let phase = p.0.clone();
            match p.1.iter_mut().find(|(n, _)| *n == phase) {
                Some((_, peak)) => *peak = peak.max(rss),
                None => p.1.push((phase, rss)),
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    });
}

fn phase_peaks() -> String {
    PHASES.lock().map_or_else(
        |_| String::new(),
        |p| {
            let parts: Vec<String> = p.1.iter().map(|(n, r)| format!("{n} {r:.0}")).collect();
            parts.join(", ")
        },
    )
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Measured {
    commit: Duration,
    forward: Duration,
    prove: Duration,
    verify: Duration,
    bytes: usize,
}

/// Random blocks, with Qwen3's per-head q/k RMSNorm gains when `qk_norm`.
fn random_blocks(
    cfg: &TransformerConfig,
    n_blocks: usize,
    seed: u64,
    qk_norm: bool,
) -> Vec<model::transformer::BlockWeights> {
    let (_, mut blocks) = random_transformer(cfg, 2, n_blocks, seed);
    if qk_norm {
        for (l, b) in blocks.iter_mut().enumerate() {
            let gain = |w: &str| model::Weight {
                name: format!("blk{l}.{w}"),
                shape: model::Shape::new(1, cfg.head_dim),
                scale: model::examples::ACT_SCALE,
                data: (0..cfg.head_dim as i64)
                    .map(|i| 200 + (i * 37) % 113)
                    .collect(),
            };
            b.q_norm = Some(gain("q_norm"));
            b.k_norm = Some(gain("k_norm"));
        }
    }
    blocks
}

/// How a model of several blocks is laid out for proving.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One graph, block after block: one GKR walk over every block's layers.
    Sequential,
    /// The blocks stacked ([`model::stack`]): one walk over one block's layers for all blocks.
    Batched,
}

/// Commits, runs and proves `n_blocks` blocks; the proof is made `reps` times and the median
/// time reported (small cases: one run is noisy on a 2-core machine).
fn measure(
    cfg: &TransformerConfig,
    (n_blocks, layout): (usize, Layout),
    seed: u64,
    qk_norm: bool,
    reps: usize,
) -> Measured {
    set_phase("weights");
    let blocks = random_blocks(cfg, n_blocks, seed, qk_norm);
    let graph = match layout {
        Layout::Sequential => transformer("bench", cfg, None, &blocks).unwrap(),
        Layout::Batched => batched_transformer("bench", cfg, &blocks).unwrap(),
    };
    drop(blocks);
    set_phase("commit");
    let t = Instant::now();
    let m = CommittedModel::new(graph, ProofConfig::default()).unwrap();
    let commit = t.elapsed();
    eprintln!(
        "  weights committed as {} polynomial(s) of 2^{:?} entries in {:.0} ms (RSS {:.0} MiB)",
        m.vk.weights.len(),
        m.chunks.vars,
        ms(commit),
        rss_mib()
    );
    let x = random_input(&m.graph, seed);
    let t = Instant::now();
    std::hint::black_box(model::execute::execute(&m.graph, &x).unwrap());
    let forward = t.elapsed();
    // Each repetition proves another input: the proof of work's time depends on the transcript
    // (a geometric number of hashes), so one input proved again and again would repeat one
    // draw of it.
    let mut times = Vec::with_capacity(reps);
    for r in 1..reps {
        let other = random_input(&m.graph, seed + 1000 + r as u64);
        let t = Instant::now();
        std::hint::black_box(prove(&m, &other, &()).unwrap());
        times.push(t.elapsed());
    }
    let stages = StageTimes(std::sync::Mutex::new(Vec::new()));
    let t = Instant::now();
    let (y, proof) = prove(&m, &x, &stages).unwrap();
    times.push(t.elapsed());
    let end = Instant::now();
    times.sort_unstable();
    let prove_time = times[times.len() / 2];
    let v = stages.0.into_inner().unwrap_or_default();
    let parts: Vec<String> = v
        .iter()
        .enumerate()
        .map(|(i, (name, start, rss))| {
            let next = v.get(i + 1).map_or(end, |s| s.1);
            format!("{name} {:.0} ms (RSS {rss:.0} MiB)", ms(next - *start))
        })
        .collect();
    eprintln!("  stages: {}", parts.join(", "));
    set_phase("verify");
    let t = Instant::now();
    verify(&m.vk, &x, &y, &proof).unwrap();
    eprintln!("  peak RSS (MiB) by phase: {}", phase_peaks());
    Measured {
        commit,
        forward,
        prove: prove_time,
        verify: t.elapsed(),
        bytes: proof.size_bytes(),
    }
}

/// One token at position `cached` against the K/V cache a (not proved) prefill of `cached`
/// random rows left: commit, forward, prove, verify.
fn measure_decode(
    cfg: &TransformerConfig,
    cached: usize,
    seed: u64,
    qk_norm: bool,
    time_rebind: bool,
) -> Measured {
    let blocks = random_blocks(cfg, 1, seed, qk_norm);
    let pre_cfg = TransformerConfig {
        seq_len: cached,
        ..*cfg
    };
    let (pre, pre_kvs) = cached_step("prefill", &pre_cfg, &blocks, 0).unwrap();
    let x = random_input(&pre, seed);
    let empty = KvCache { layers: vec![] };
    let cache = KvCache::after(&empty.step_inputs(&pre, &pre_kvs, x).unwrap());
    drop(pre);
    let (graph, kvs) = cached_step("decode", cfg, &blocks, cached).unwrap();
    drop(blocks);
    let x = random_input(&graph, seed + 1);
    let inputs = cache.step_inputs(&graph, &kvs, x).unwrap();
    // The weights are committed once per model; every step's model reuses that commitment
    // (`CommittedModel::rebind`). The rebind is timed on a copy of the graph only when it is
    // small: a second copy of a large block's weights would set the peak.
    let t = Instant::now();
    let mut m = CommittedModel::new(graph, ProofConfig::default()).unwrap();
    let first_commit = t.elapsed();
    let commit = if time_rebind {
        let graph = m.graph.clone();
        let t = Instant::now();
        m = m.rebind(graph).unwrap();
        t.elapsed()
    } else {
        Duration::ZERO
    };
    eprintln!(
        "  weight commitment {:.0} ms once; the step's model on it: {}",
        ms(first_commit),
        if time_rebind {
            format!("{:.0} ms", ms(commit))
        } else {
            "not timed".into()
        }
    );
    let t = Instant::now();
    std::hint::black_box(model::execute::execute_all(&m.graph, &inputs).unwrap());
    let forward = t.elapsed();
    let t = Instant::now();
    let (y, proof) = prove_all(&m, &inputs, &()).unwrap();
    let prove_time = t.elapsed();
    let t = Instant::now();
    verify_all(&m.vk, &inputs, &y, &proof).unwrap();
    Measured {
        commit,
        forward,
        prove: prove_time,
        verify: t.elapsed(),
        bytes: proof.size_bytes(),
    }
}

fn describe(cfg: &TransformerConfig) -> String {
    format!(
        "d_model {} heads {}/{} kv head_dim {} ffn {} seq {}",
        cfg.d_model, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim, cfg.ffn_dim, cfg.seq_len
    )
}

fn run_case(name: &str) {
    match name {
        "block-seq1" | "block-seq128" | "qwen3-14b-seq1" | "qwen3-14b-seq128" => {
            let seq = if name.ends_with("seq1") { 1 } else { 128 };
            let qwen = name.starts_with("qwen3");
            let cfg = if qwen {
                block(5120, 40, 8, 17408, seq)
            } else {
                block(1024, 8, 2, 4096, seq)
            };
            let r = measure(
                &cfg,
                (1, Layout::Sequential),
                3,
                qwen,
                if qwen { 1 } else { 3 },
            );
            println!(
                "{name:<13} {} | commit {:.0} ms (once) | forward {:.1} ms | prove {:.0} ms | verify {:.1} ms | proof {} B | peak RSS {:.0} MiB | prove/forward {:.1}",
                describe(&cfg),
                ms(r.commit),
                ms(r.forward),
                ms(r.prove),
                ms(r.verify),
                r.bytes,
                peak_rss_mib(),
                ms(r.prove) / ms(r.forward)
            );
        }
        "stack4" | "stack8" => {
            let n = if name == "stack4" { 4 } else { 8 };
            let cfg = block(256, 4, 2, 512, 16);
            let one = measure(&cfg, (1, Layout::Sequential), 5, false, 11);
            let seq = measure(&cfg, (n, Layout::Sequential), 5, false, 11);
            let bat = measure(&cfg, (n, Layout::Batched), 5, false, 11);
            println!(
                "{name:<13} {} | one block: prove {:.0} ms, verify {:.1} ms, proof {} B | {n} blocks one after another in one proof: prove {:.0} ms, verify {:.1} ms, proof {} B | {n} blocks batched: prove {:.0} ms, verify {:.1} ms, proof {} B | batched / one block: prove {:.2}, verify {:.2}, proof {:.2} | batched / ({n} one-block proofs) {:.2} | batched / one after another {:.2}",
                describe(&cfg),
                ms(one.prove),
                ms(one.verify),
                one.bytes,
                ms(seq.prove),
                ms(seq.verify),
                seq.bytes,
                ms(bat.prove),
                ms(bat.verify),
                bat.bytes,
                ms(bat.prove) / ms(one.prove),
                ms(bat.verify) / ms(one.verify),
                bat.bytes as f64 / one.bytes as f64,
                ms(bat.prove) / (n as f64 * ms(one.prove)),
                ms(bat.prove) / ms(seq.prove)
            );
        }
        "decode-cache127" | "qwen3-14b-decode127" => {
            let qwen = name.starts_with("qwen3");
            let cfg = if qwen {
                block(5120, 40, 8, 17408, 1)
            } else {
                block(1024, 8, 2, 4096, 1)
            };
            let r = measure_decode(&cfg, 127, 3, qwen, !qwen);
            println!(
                "{name:<13} {} after 127 cached positions | step model on the shared commitment {} | forward {:.1} ms | prove {:.0} ms | verify {:.1} ms | proof {} B | peak RSS {:.0} MiB | prove/forward {:.1}",
                describe(&cfg),
                if qwen {
                    "not timed".to_string()
                } else {
                    format!("{:.0} ms", ms(r.commit))
                },
                ms(r.forward),
                ms(r.prove),
                ms(r.verify),
                r.bytes,
                peak_rss_mib(),
                ms(r.prove) / ms(r.forward)
            );
        }
        other => eprintln!("unknown case {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--case") {
        if let Some(name) = args.get(i + 1) {
            start_sampler();
            run_case(name);
        }
        return;
    }
    let config = ProofConfig::default();
    println!(
        "config: {} conjectured bits, {} rayon threads",
        config.pcs.security_bits(),
        rayon::current_num_threads()
    );
    let exe = std::env::current_exe().unwrap();
    let cases = [
        "block-seq1",
        "decode-cache127",
        "block-seq128",
        "stack4",
        "stack8",
        "qwen3-14b-seq1",
        "qwen3-14b-decode127",
        "qwen3-14b-seq128",
    ];
    for case in cases {
        let status = Command::new(&exe).args(["--case", case]).status();
        if !status.as_ref().is_ok_and(|s| s.success()) {
            println!("{case}: failed ({status:?})");
        }
    }
}
