//! Prove and verify time and proof size per transaction type, on this machine's cores.
//!
//! `cargo bench -p vm31 --bench tx`. Timed: `prove_*` (native witness check, trace, commitments,
//! STARK) and `verify_*` (root window, preprocessed commitment, STARK verification), each the
//! median of a few runs.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use stwo::core::fields::m31::M31;
use vm31::stark::security_bits;
use vm31::tx::{
    prove_deposit, prove_spend, prove_withdraw, verify_deposit, verify_spend, verify_withdraw,
    Deployment, DepositStatement, ExternalData, SpendInput, SpendStatement, SpendWitness,
    WithdrawStatement, WithdrawWitness,
};
use vm31::{MerkleTree, Note, RootWindow, SpendingKey};

const RUNS: usize = 7;

fn median_ms(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

struct Timing {
    prove: Vec<f64>,
    verify: Vec<f64>,
    bytes: usize,
}

impl Timing {
    fn print(self, name: &str) {
        println!(
            "{name:<9} prove {:>7.1} ms   verify {:>6.2} ms   proof {:>7} bytes",
            median_ms(self.prove),
            median_ms(self.verify),
            self.bytes
        );
    }
}

/// Runs `prove` then `verify` [`RUNS`] times; `prove` returns the proof's byte length and state.
fn time<T>(mut prove: impl FnMut() -> (T, usize), mut verify: impl FnMut(&T)) -> Timing {
    let mut timing = Timing {
        prove: Vec::new(),
        verify: Vec::new(),
        bytes: 0,
    };
    for _ in 0..RUNS {
        let t = Instant::now();
        let (proof, bytes) = prove();
        timing.prove.push(t.elapsed().as_secs_f64() * 1e3);
        timing.bytes = bytes;
        let t = Instant::now();
        verify(&proof);
        timing.verify.push(t.elapsed().as_secs_f64() * 1e3);
    }
    timing
}

fn main() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let sk = SpendingKey::random(&mut rng);
    let note = Note::new(sk.public_key(), M31(1), 5_000_000_000, &mut rng);
    let deposit = DepositStatement {
        amount: note.amount,
        asset_id: note.asset_id,
        commitment: note.commitment(),
        ciphertext_hash: [M31(9); 8],
        external: ExternalData {
            recipient: [1; 32],
            ..ExternalData::default()
        },
    };
    let mut tree = MerkleTree::new();
    let index = tree.append(note.commitment()).expect("append");
    let mut window = RootWindow::new();
    window.push(tree.root());
    let change = Note::new(sk.public_key(), note.asset_id, 1_000_000_000 - 50, &mut rng);
    let withdraw = WithdrawStatement {
        root: tree.root(),
        nullifier: note.nullifier(&sk, index),
        asset_id: note.asset_id,
        amount: note.amount - change.amount - 50,
        change_commitment: change.commitment(),
        change_ciphertext_hash: [M31(3); 8],
        external: ExternalData {
            recipient: [2; 32],
            relayer: [3; 32],
            fee: 50,
            fee_asset: note.asset_id,
        },
    };
    let witness = WithdrawWitness {
        spending_key: sk,
        note,
        index,
        path: tree.path(index).expect("path"),
        change,
    };
    let deployment = Deployment {
        chain_id: 1,
        pool_id: [7; 32],
    };
    let mut rng2 = ChaCha20Rng::seed_from_u64(2);

    println!("security: {} conjectured bits", security_bits());
    time(
        || {
            let proof = prove_deposit(&deposit, &deployment, &note, &mut rng).expect("prove");
            let bytes = proof.to_bytes().expect("encode").len();
            (proof, bytes)
        },
        |proof| verify_deposit(&deposit, proof, &deployment).expect("verify"),
    )
    .print("deposit");
    time(
        || {
            let proof = prove_withdraw(&withdraw, &deployment, &witness, &mut rng2).expect("prove");
            let bytes = proof.to_bytes().expect("encode").len();
            (proof, bytes)
        },
        |proof| verify_withdraw(&withdraw, proof, &deployment, &window).expect("verify"),
    )
    .print("withdraw");
    let (spend, spend_witness, spend_window) = spend_setup(&mut rng);
    time(
        || {
            let proof = prove_spend(&spend, &deployment, &spend_witness, &mut rng2).expect("prove");
            let bytes = proof.to_bytes().expect("encode").len();
            (proof, bytes)
        },
        |proof| verify_spend(&spend, proof, &deployment, &spend_window).expect("verify"),
    )
    .print("spend");
}

/// Two notes of two owners in a tree of 1000 notes, spent into two notes with a fee.
fn spend_setup(rng: &mut ChaCha20Rng) -> (SpendStatement, SpendWitness, RootWindow) {
    let keys = [SpendingKey::random(rng), SpendingKey::random(rng)];
    let mut tree = MerkleTree::new();
    for i in 0..1000u64 {
        let filler = Note::new(keys[0].public_key(), M31(1), i, rng);
        tree.append(filler.commitment()).expect("append");
    }
    let amounts = [3_000_000_000u64, 2_500_000_123];
    let notes = [0, 1].map(|i| Note::new(keys[i].public_key(), M31(1), amounts[i], rng));
    let indices = notes.map(|n| tree.append(n.commitment()).expect("append"));
    let fee = 1_000;
    let recipient = SpendingKey::random(rng).public_key();
    let outputs = [
        4_000_000_000u64,
        amounts[0] + amounts[1] - 4_000_000_000 - fee,
    ]
    .map(|a| Note::new(recipient, M31(1), a, rng));
    let mut window = RootWindow::new();
    window.push(tree.root());
    let statement = SpendStatement {
        root: tree.root(),
        nullifiers: [0, 1].map(|i| notes[i].nullifier(&keys[i], indices[i])),
        output_commitments: outputs.map(|n| n.commitment()),
        ciphertext_hashes: [[M31(5); 8], [M31(6); 8]],
        external: ExternalData {
            relayer: [4; 32],
            fee,
            fee_asset: M31(1),
            ..ExternalData::default()
        },
    };
    let inputs = [0, 1].map(|i| SpendInput {
        spending_key: keys[i].clone(),
        note: notes[i],
        index: indices[i],
        path: tree.path(indices[i]).expect("path"),
        dummy: false,
    });
    let witness = SpendWitness { inputs, outputs };
    (statement, witness, window)
}
