//! Wallet scan rate over HTTP: `cargo bench -p vm31-wallet --bench scan`.
//!
//! Setup (not timed): a pool database of `N_NOTES` leaves (1 in 100 to the scanning wallet,
//! the rest to strangers), written through the node's store (proof verification is not what
//! is measured here), one sealed block; a node serving it on port 0. Timed: a fresh wallet's
//! `scan` over JSON-RPC from leaf 0 (page fetch, trial decryption on all cores, frontier and
//! witness updates, one store transaction per page). Prints notes/s and the share of the time
//! spent in trial decryption alone (measured on the same ciphertexts).

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use stwo::core::fields::m31::M31;
use vm31::tx::Deployment;
use vm31::{encrypt, try_decrypt, Note, SpendingKey};
use vm31_node::verify::Verified;
use vm31_node::{Node, NodeConfig};
use vm31_wallet::{KdfParams, NodeClient, Wallet};

const N_NOTES: usize = 100_000;
const OURS_EVERY: usize = 100;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let deployment = Deployment {
        chain_id: 1,
        pool_id: [5; 32],
    };
    let (wallet, _) = Wallet::create(
        &dir.path().join("wallet"),
        b"bench",
        None,
        KdfParams::INSECURE_TEST,
        &mut rand::rngs::OsRng,
    )
    .expect("wallet");
    let mut wallet = wallet;
    let me = wallet.address();
    let stranger = SpendingKey::random(&mut ChaCha20Rng::seed_from_u64(2)).address();

    let t = Instant::now();
    let leaves: Vec<Verified> = (0..N_NOTES)
        .into_par_iter()
        .map(|i| {
            let rng = &mut ChaCha20Rng::seed_from_u64(i as u64);
            let to = if i % OURS_EVERY == 0 { &me } else { &stranger };
            let note = Note::new(to.public_key, M31(0), 10 + i as u64, rng);
            let ct = encrypt(&note, &to.encryption_key, rng).expect("encrypt");
            let mut tx_id = [0u8; 32];
            tx_id[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Verified {
                tx_id,
                kind: "deposit",
                submission: Vec::new(),
                anchor: None,
                nullifiers: Vec::new(),
                leaves: vec![(note.commitment(), ct)],
                ledger: Vec::new(),
            }
        })
        .collect();
    let db = dir.path().join("pool.sqlite");
    let mut store = vm31_node::store::Store::open(&db, &deployment).expect("store");
    for group in leaves.chunks(5000) {
        let outcomes = store.apply_group(group).expect("apply");
        assert!(outcomes.iter().all(Result::is_ok));
    }
    store.seal().expect("seal");
    drop(store);
    println!(
        "setup: {N_NOTES} notes written in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Trial decryption alone, on all cores, for the same ciphertexts.
    let key = SpendingKey::random(&mut ChaCha20Rng::seed_from_u64(3))
        .viewing_key()
        .encryption_secret_key();
    let t = Instant::now();
    let hits = leaves
        .par_iter()
        .filter(|v| try_decrypt(&v.leaves[0].1, &key).is_some())
        .count();
    let decrypt_s = t.elapsed().as_secs_f64();
    assert_eq!(hits, 0);

    let mut config = NodeConfig::new(db, deployment);
    config.check_on_open = false;
    config.block_interval = Duration::from_secs(3600);
    let node = Node::open(config).expect("node");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    runtime.spawn(vm31_node::rpc::serve(
        node,
        listener,
        std::future::pending(),
    ));
    let client = NodeClient::new(&url);

    let t = Instant::now();
    let report = wallet.scan(&client, |_| {}).expect("scan");
    let scan_s = t.elapsed().as_secs_f64();
    assert_eq!(report.scanned, N_NOTES as u64);
    assert_eq!(report.found, N_NOTES.div_ceil(OURS_EVERY) as u64);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "scan of {N_NOTES} notes over HTTP ({} ours): {scan_s:.2} s = {:.0} notes/s on {cores} cores; trial decryption alone {decrypt_s:.2} s ({:.0}% of the scan)",
        report.found,
        N_NOTES as f64 / scan_s,
        100.0 * decrypt_s / scan_s
    );
}
