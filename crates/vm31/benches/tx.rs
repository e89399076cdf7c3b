//! Prove and verify time and proof size per transaction type, on this machine's cores.
//!
//! `cargo bench -p vm31 --bench tx`. Timed: `prove_*` (witness rows, trace, commitments, STARK)
//! and `verify_*` (preprocessed commitment, STARK verification), each the median of a few runs.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use stwo::core::fields::m31::M31;
use vm31::stark::security_bits;
use vm31::tx::{prove_deposit, verify_deposit, DepositStatement};
use vm31::{Note, SpendingKey};

const RUNS: usize = 7;

fn median_ms(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let sk = SpendingKey::random(&mut rng);
    let note = Note::new(sk.public_key(), M31(1), 5_000_000_000, &mut rng);
    let statement = DepositStatement {
        amount: note.amount,
        asset_id: note.asset_id,
        commitment: note.commitment(),
        ciphertext_hash: [M31(9); 8],
    };
    let mut prove = Vec::new();
    let mut verify = Vec::new();
    let mut bytes = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let proof = prove_deposit(&statement, &note, &mut rng).expect("prove");
        prove.push(t.elapsed().as_secs_f64() * 1e3);
        bytes = proof.to_bytes().expect("encode").len();
        let t = Instant::now();
        verify_deposit(&statement, &proof).expect("verify");
        verify.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("security: {} conjectured bits", security_bits());
    println!(
        "deposit   prove {:>7.1} ms   verify {:>6.2} ms   proof {:>7} bytes",
        median_ms(prove),
        median_ms(verify),
        bytes
    );
    println!("withdraw  not implemented");
    println!("spend     not implemented");
}
