//! Poseidon2 permutations per second on one thread: our scalar and 16-lane packed permutations,
//! and Plonky3's `default_mersenne31_poseidon2_16` on scalars and on its native packing.
//!
//! `cargo bench -p vm31 --bench poseidon2` (pass a number to change the iteration count).

use std::hint::black_box;
use std::time::{Duration, Instant};

use p3_field::Field;
use p3_mersenne_31::{default_mersenne31_poseidon2_16, Mersenne31};
use p3_symmetric::Permutation;
use stwo::core::fields::m31::M31;
use stwo::prover::backend::simd::m31::{PackedM31, N_LANES};
use vm31::poseidon2::{permute, permute_packed, WIDTH};

type P3Packed = <Mersenne31 as Field>::Packing;

fn rate(name: &str, permutations: u64, elapsed: Duration, baseline: Option<f64>) -> f64 {
    let per_sec = permutations as f64 / elapsed.as_secs_f64();
    let ratio = baseline
        .map(|b| format!("  ({:.2}x ours)", per_sec / b))
        .unwrap_or_default();
    println!(
        "{name:<28} {:>8.2} M perm/s  {:>7.1} ns/perm{ratio}",
        per_sec / 1e6,
        1e9 / per_sec
    );
    per_sec
}

fn main() {
    let iters: u64 = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(200_000);

    let mut state: [M31; WIDTH] = std::array::from_fn(|i| M31(i as u32));
    let start = Instant::now();
    for _ in 0..iters {
        permute(black_box(&mut state));
    }
    let scalar = rate("vm31 scalar", iters, start.elapsed(), None);
    let _ = black_box(state);

    let mut packed: [PackedM31; WIDTH] =
        std::array::from_fn(|i| PackedM31::broadcast(M31(i as u32)));
    let start = Instant::now();
    for _ in 0..iters / N_LANES as u64 {
        permute_packed(black_box(&mut packed));
    }
    let packed_rate = rate(
        "vm31 packed (16 lanes)",
        iters,
        start.elapsed(),
        Some(scalar),
    );
    let _ = black_box(packed);

    let perm = default_mersenne31_poseidon2_16();
    let mut p3_state: [Mersenne31; WIDTH] =
        Mersenne31::new_array(std::array::from_fn(|i| i as u32));
    let start = Instant::now();
    for _ in 0..iters {
        perm.permute_mut(black_box(&mut p3_state));
    }
    rate("plonky3 scalar", iters, start.elapsed(), Some(scalar));
    let _ = black_box(p3_state);

    let lanes = <P3Packed as p3_field::PackedValue>::WIDTH;
    let mut p3_packed: [P3Packed; WIDTH] =
        std::array::from_fn(|i| P3Packed::from(Mersenne31::new(i as u32)));
    let start = Instant::now();
    for _ in 0..iters / lanes as u64 {
        perm.permute_mut(black_box(&mut p3_packed));
    }
    let name = format!("plonky3 packed ({lanes} lanes)");
    rate(
        &name,
        iters / lanes as u64 * lanes as u64,
        start.elapsed(),
        Some(packed_rate),
    );
    let _ = black_box(p3_packed);
}
