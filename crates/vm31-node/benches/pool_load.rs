//! Load on one pool node over real sockets: `cargo bench -p vm31-node --bench pool_load [-- N]`
//! (`N` notes and spends, default 320; the saturation rounds share `N - 100` spends).
//!
//! Setup (not timed): a node on port 0 with a temporary database, `N` deposits submitted
//! and sealed, then one spend per note proved in advance (the note and a dummy in, two notes
//! out, on the sealed root). Timed:
//! 1. saturation: `C` clients, each on its own keep-alive connection, submit their share of the
//!    spends as fast as the node answers: verified spends/s, p50/p99 submit-to-acknowledgement;
//! 2. paced: spends submitted at a fixed 50/s from 4 clients: p50/p99 latency at that rate.
//!
//! Afterwards the database is checked: every acknowledged spend's nullifier is stored, the
//! tree has the expected size, and a node reopened on it passes its integrity check ("nothing
//! lost"). Prints ratios against the single-proof verification time measured in the same run.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde_json::{json, Value};
use stwo::core::fields::m31::M31;
use vm31::tx::{
    prove_deposit, prove_spend, verify_spend, Deployment, DepositStatement, ExternalData,
    SpendInput, SpendProof, SpendStatement, SpendWitness,
};
use vm31::{ciphertext_hash, encrypt, MerkleTree, Note, RootWindow, SpendingKey};
use vm31_node::api::{CiphertextHex, Submission};
use vm31_node::{Node, NodeConfig};

const DEFAULT_NOTES: usize = 320;
const PACED_RATE: f64 = 50.0;

fn rpc(agent: &ureq::Agent, url: &str, method: &str, params: Value) -> Result<Value, Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let response: Value = agent
        .post(url)
        .send_json(body)
        .expect("node reachable")
        .into_json()
        .expect("json");
    match response.get("result") {
        Some(r) => Ok(r.clone()),
        None => Err(response["error"].clone()),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Submits `jobs` from `clients` threads, each pacing to `interval` if given; returns the wall
/// time and the sorted latencies (ms) of the accepted ones.
fn run(url: &str, jobs: Vec<Value>, clients: usize, interval: Option<Duration>) -> (f64, Vec<f64>) {
    let queue = Arc::new(Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>()));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..clients {
            let (queue, latencies) = (queue.clone(), latencies.clone());
            s.spawn(move || {
                let agent = ureq::AgentBuilder::new().build();
                loop {
                    let Some((i, job)) = queue.lock().expect("lock").pop() else {
                        return;
                    };
                    if let Some(interval) = interval {
                        let due = start + interval * i as u32;
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                    }
                    let t = Instant::now();
                    let outcome = rpc(&agent, url, "pool_submit", job);
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    match outcome {
                        Ok(_) => latencies.lock().expect("lock").push(ms),
                        Err(e) => panic!("spend refused: {e}"),
                    }
                }
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let mut l = Arc::try_unwrap(latencies)
        .expect("joined")
        .into_inner()
        .expect("lock");
    l.sort_by(f64::total_cmp);
    (wall, l)
}

/// Deposit number `i` to `me`, proved, as a `pool_submit` parameter.
fn proved_deposit(i: usize, me: &vm31::Address, deployment: &Deployment) -> (Note, Value) {
    let rng = &mut ChaCha20Rng::seed_from_u64(1000 + i as u64);
    let note = Note::new(me.public_key, M31(0), 1_000 + i as u64, rng);
    let ct = encrypt(&note, &me.encryption_key, rng).expect("encrypt");
    let statement = DepositStatement {
        amount: note.amount,
        asset_id: note.asset_id,
        commitment: note.commitment(),
        ciphertext_hash: ciphertext_hash(&ct),
        external: ExternalData::default(),
    };
    let proof = prove_deposit(&statement, deployment, &note, rng).expect("prove");
    let submission = Submission::Deposit {
        statement,
        ciphertext: CiphertextHex::from(&ct),
        proof: hex::encode(proof.to_bytes().expect("bytes")),
    };
    (note, serde_json::to_value(submission).expect("json"))
}

/// A spend of `note` (at `index`, anchored at `root`) and a dummy into two notes to self.
fn proved_spend(
    i: usize,
    sk: &SpendingKey,
    note: &Note,
    index: u32,
    path: vm31::MerklePath,
    root: vm31::Digest,
    deployment: &Deployment,
) -> (SpendStatement, SpendProof, Value) {
    let rng = &mut ChaCha20Rng::seed_from_u64(5000 + i as u64);
    let me = sk.address();
    let half = note.amount / 2;
    let outputs = [half, note.amount - half].map(|a| Note::new(me.public_key, M31(0), a, rng));
    let cts = outputs.map(|n| encrypt(&n, &me.encryption_key, rng).expect("encrypt"));
    let real = SpendInput {
        spending_key: sk.clone(),
        note: *note,
        index,
        path,
        dummy: false,
    };
    let dummy = SpendInput::dummy(sk, M31(0), rng);
    let statement = SpendStatement {
        root,
        nullifiers: [real.nullifier(), dummy.nullifier()],
        output_commitments: outputs.map(|n| n.commitment()),
        ciphertext_hashes: [ciphertext_hash(&cts[0]), ciphertext_hash(&cts[1])],
        external: ExternalData::default(),
    };
    let witness = SpendWitness {
        inputs: [real, dummy],
        outputs,
    };
    let proof = prove_spend(&statement, deployment, &witness, rng).expect("prove");
    let submission = Submission::Spend {
        statement: statement.clone(),
        ciphertexts: [CiphertextHex::from(&cts[0]), CiphertextHex::from(&cts[1])],
        proof: hex::encode(proof.to_bytes().expect("bytes")),
    };
    let value = serde_json::to_value(submission).expect("json");
    (statement, proof, value)
}

fn main() {
    let n_notes = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(DEFAULT_NOTES)
        .max(120);
    let dir = tempfile::tempdir().expect("tempdir");
    let deployment = Deployment {
        chain_id: 1,
        pool_id: [3; 32],
    };
    let mut config = NodeConfig::new(dir.path().join("pool.sqlite"), deployment);
    config.block_interval = Duration::from_millis(200);
    let node = Node::open(config.clone()).expect("open");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(vm31_node::rpc::serve(node, listener, async {
        let _ = stopped.await;
    }));

    // Notes: one key, `n_notes` deposits proved on all cores.
    let sk = SpendingKey::random(&mut ChaCha20Rng::seed_from_u64(1));
    let me = sk.address();
    let t = Instant::now();
    let deposits: Vec<(Note, Value)> = (0..n_notes)
        .into_par_iter()
        .map(|i| proved_deposit(i, &me, &deployment))
        .collect();
    let prove_deposits = t.elapsed().as_secs_f64();
    let agent = ureq::AgentBuilder::new().build();
    let mut tree = MerkleTree::new();
    let mut indices = Vec::new();
    for (note, job) in &deposits {
        let receipt = rpc(&agent, &url, "pool_submit", job.clone()).expect("deposit");
        indices.push(receipt["leaf_indices"][0].as_u64().expect("index") as u32);
        tree.append(note.commitment()).expect("append");
    }
    loop {
        let s = rpc(&agent, &url, "pool_status", json!({})).expect("status");
        if s["sealed_tree_size"].as_u64() == Some(n_notes as u64) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let root = tree.root();

    // One spend per note, proved in advance.
    let t = Instant::now();
    let spends: Vec<(SpendStatement, SpendProof, Value)> = deposits
        .par_iter()
        .zip(indices.par_iter())
        .enumerate()
        .map(|(i, ((note, _), &index))| {
            let path = tree.path(index).expect("path");
            proved_spend(i, &sk, note, index, path, root, &deployment)
        })
        .collect();
    let prove_spends = t.elapsed().as_secs_f64();

    // Baseline: one spend verification in this process.
    let mut window = RootWindow::new();
    window.push(root);
    let t = Instant::now();
    for (statement, proof, _) in spends.iter().take(20) {
        verify_spend(statement, proof, &deployment, &window).expect("verifies");
    }
    let verify_ms = t.elapsed().as_secs_f64() * 1e3 / 20.0;

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "setup: {n_notes} deposits proved in {prove_deposits:.1} s, {n_notes} spends in {prove_spends:.1} s ({cores} cores)"
    );
    println!("one spend verification: {verify_ms:.2} ms");
    let jobs: Vec<Value> = spends.iter().map(|(_, _, j)| j.clone()).collect();
    let paced_n = 100;
    let (paced_jobs, load_jobs) = jobs.split_at(paced_n);
    let (wall, lat) = run(
        &url,
        paced_jobs.to_vec(),
        4,
        Some(Duration::from_secs_f64(1.0 / PACED_RATE)),
    );
    println!(
        "paced {PACED_RATE} tx/s: {} spends in {wall:.2} s, p50 {:.1} ms, p99 {:.1} ms",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    let per_round = load_jobs.len() / 2;
    for (round, clients) in [(0, 4), (1, 16)] {
        let slice = load_jobs[round * per_round..(round + 1) * per_round].to_vec();
        let (wall, lat) = run(&url, slice, clients, None);
        let rate = lat.len() as f64 / wall;
        println!(
            "saturation, {clients:>2} clients: {} spends in {wall:.2} s = {rate:.0} verified spends/s, p50 {:.1} ms, p99 {:.1} ms; {:.2} of one core's verification rate ({:.0}/s)",
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            rate * verify_ms / 1e3,
            1e3 / verify_ms
        );
    }

    // Nothing lost: every nullifier is stored and the reopened database checks out.
    let s = rpc(&agent, &url, "pool_status", json!({})).expect("status");
    let accepted = paced_n + 2 * per_round;
    assert_eq!(s["nullifiers_spent"].as_u64(), Some(2 * accepted as u64));
    assert_eq!(
        s["tree_size"].as_u64(),
        Some((n_notes + 2 * accepted) as u64)
    );
    let _ = stop.send(());
    runtime.block_on(server).expect("join").expect("serve");
    drop(runtime);
    std::thread::sleep(Duration::from_millis(300));
    let reopened = vm31_node::store::Store::open(&config.db, &deployment).expect("reopen");
    reopened.check_integrity().expect("integrity");
    println!(
        "after the run: {} nullifiers (note and dummy per spend), {} leaves; reopened database passes the integrity check",
        reopened.state.nullifiers_spent,
        reopened.state.frontier.len()
    );
}
