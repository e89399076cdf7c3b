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
    prove_deposit, prove_withdraw, verify_deposit, verify_withdraw, DepositStatement,
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
    };
    let mut tree = MerkleTree::new();
    let index = tree.append(note.commitment()).expect("append");
    let mut window = RootWindow::new();
    window.push(tree.root());
    let withdraw = WithdrawStatement {
        root: tree.root(),
        nullifier: note.nullifier(&sk),
        amount: note.amount,
        asset_id: note.asset_id,
        recipient: [M31(3); 8],
    };
    let witness = WithdrawWitness {
        spending_key: sk,
        note,
        index,
        path: tree.path(index).expect("path"),
    };
    let mut rng2 = ChaCha20Rng::seed_from_u64(2);

    println!("security: {} conjectured bits", security_bits());
    time(
        || {
            let proof = prove_deposit(&deposit, &note, &mut rng).expect("prove");
            let bytes = proof.to_bytes().expect("encode").len();
            (proof, bytes)
        },
        |proof| verify_deposit(&deposit, proof).expect("verify"),
    )
    .print("deposit");
    time(
        || {
            let proof = prove_withdraw(&withdraw, &witness, &mut rng2).expect("prove");
            let bytes = proof.to_bytes().expect("encode").len();
            (proof, bytes)
        },
        |proof| verify_withdraw(&withdraw, proof, &window).expect("verify"),
    )
    .print("withdraw");
    println!("spend     not implemented");
}
