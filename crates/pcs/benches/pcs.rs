//! `cargo bench -p pcs`: commit / open / verify times and proof size for one claim.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use pcs::{commit, prove_openings_timed, verify_openings, Blake2sChannel, Claim, PcsConfig};
use stwo::core::fields::m31::{M31, P};
use stwo::core::fields::qm31::QM31;

fn main() {
    let config = PcsConfig::default();
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![16, 20, 24]
    } else {
        sizes
    };
    println!(
        "config {config:?}, {} conjectured bits, {} rayon threads",
        config.security_bits(),
        rayon::current_num_threads()
    );
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % P as u64) as u32
    };
    for n in sizes {
        let evals: Vec<M31> = (0..1usize << n).map(|_| M31::from(next())).collect();
        let t = Instant::now();
        let poly = commit(evals, &config);
        let commit_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let mut cache = Vec::new();
        poly.write_to(&mut cache).unwrap();
        let save_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let loaded = pcs::CommittedPoly::read_from(&mut cache.as_slice()).unwrap();
        let load_ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(loaded.commitment(), poly.commitment());
        drop(loaded);
        println!(
            "n={n:2}: cache {} MB: save (to memory) {save_ms:.1} ms, load (from memory) {load_ms:.1} ms",
            cache.len() >> 20
        );
        drop(cache);
        let point: Vec<QM31> = (0..n)
            .map(|_| QM31::from_m31_array(std::array::from_fn(|_| M31::from(next()))))
            .collect();
        let value = sumcheck::eval_mle_base(poly.evals(), &point);
        let claims = vec![vec![Claim { point, value }]];
        let mut open_ms = f64::MAX;
        let mut verify_ms = f64::MAX;
        let mut bytes = 0;
        let mut best_phases = None;
        for _ in 0..3 {
            let t = Instant::now();
            let (proof, phases) =
                prove_openings_timed(&[&poly], &claims, &config, &mut Blake2sChannel::default());
            let ms = t.elapsed().as_secs_f64() * 1e3;
            if ms < open_ms {
                open_ms = ms;
                best_phases = Some(phases);
            }
            bytes = proof.size_bytes();
            let t = Instant::now();
            verify_openings(
                &[poly.commitment()],
                &claims,
                &proof,
                &config,
                &mut Blake2sChannel::default(),
            )
            .unwrap();
            verify_ms = verify_ms.min(t.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "n={n:2}: commit {commit_ms:8.1} ms  open {open_ms:7.1} ms  verify {verify_ms:6.2} ms  proof {bytes} bytes  provable {} bits",
            config.provable_security_bits(n as u32 + config.log_blowup)
        );
        if let Some(p) = best_phases {
            let parts: Vec<String> = p
                .phases
                .iter()
                .map(|(name, ms)| format!("{name} {ms:.1}"))
                .collect();
            println!("       open phases (ms): {}", parts.join(", "));
        }
        // Eight claims at independent points (as an inference proof makes on its packed
        // weights): the batching sumcheck (phase 1) runs first.
        let claims = vec![(0..8)
            .map(|_| {
                let point: Vec<QM31> = (0..n)
                    .map(|_| QM31::from_m31_array(std::array::from_fn(|_| M31::from(next()))))
                    .collect();
                let value = sumcheck::eval_mle_base(poly.evals(), &point);
                Claim { point, value }
            })
            .collect::<Vec<_>>()];
        let t = Instant::now();
        let (proof, phases) =
            prove_openings_timed(&[&poly], &claims, &config, &mut Blake2sChannel::default());
        let open_ms = t.elapsed().as_secs_f64() * 1e3;
        verify_openings(
            &[poly.commitment()],
            &claims,
            &proof,
            &config,
            &mut Blake2sChannel::default(),
        )
        .unwrap();
        let parts: Vec<String> = phases
            .phases
            .iter()
            .map(|(name, ms)| format!("{name} {ms:.1}"))
            .collect();
        println!(
            "n={n:2}, 8 claims: open {open_ms:7.1} ms, phases (ms): {}",
            parts.join(", ")
        );
    }
}
