//! End-to-end tests: completeness, soundness against cheating provers and tampered proofs.

use num_traits::One;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::{M31, P};
use stwo::core::fields::qm31::QM31;
use sumcheck::eval_mle_base;

use crate::*;

fn cfg(k: u32) -> PcsConfig {
    cfg2(k, k)
}

fn cfg2(k: u32, first: u32) -> PcsConfig {
    PcsConfig {
        log_blowup: 2,
        n_queries: 20,
        pow_bits: 6,
        fold_arity_log: k,
        first_fold_arity_log: first,
    }
}

fn rand_qm31(rng: &mut impl Rng) -> QM31 {
    QM31::from_m31_array(std::array::from_fn(|_| M31::from(rng.gen_range(0..P))))
}

fn rand_evals(rng: &mut impl Rng, n: usize) -> Vec<M31> {
    (0..1 << n)
        .map(|_| M31::from(rng.gen_range(0..P)))
        .collect()
}

fn true_claims(rng: &mut impl Rng, evals: &[M31], count: usize) -> Vec<Claim> {
    let n = evals.len().trailing_zeros() as usize;
    (0..count)
        .map(|_| {
            let point: Vec<QM31> = (0..n).map(|_| rand_qm31(rng)).collect();
            let value = eval_mle_base(evals, &point);
            Claim { point, value }
        })
        .collect()
}

fn channel() -> Blake2sChannel {
    let mut c = Blake2sChannel::default();
    c.mix_u64(42);
    c
}

fn prove(polys: &[&CommittedPoly], claims: &[Vec<Claim>], config: &PcsConfig) -> OpeningProof {
    prove_openings(polys, claims, config, &mut channel())
}

fn verify(
    comms: &[PolyCommitment],
    claims: &[Vec<Claim>],
    proof: &OpeningProof,
    config: &PcsConfig,
) -> Result<(), PcsError> {
    verify_openings(comms, claims, proof, config, &mut channel())
}

/// Commits random polynomials of the given sizes, proves `n_claims` true claims each, checks.
fn roundtrip(sizes: &[usize], n_claims: usize, config: &PcsConfig, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let polys: Vec<CommittedPoly> = sizes
        .iter()
        .map(|&n| commit(rand_evals(&mut rng, n), config))
        .collect();
    let claims: Vec<Vec<Claim>> = polys
        .iter()
        .map(|p| true_claims(&mut rng, p.evals(), n_claims))
        .collect();
    let refs: Vec<&CommittedPoly> = polys.iter().collect();
    let proof = prove(&refs, &claims, config);
    let comms: Vec<PolyCommitment> = polys.iter().map(|p| p.commitment()).collect();
    verify(&comms, &claims, &proof, config).unwrap_or_else(|e| {
        panic!(
            "sizes {sizes:?} claims {n_claims} k {}: {e}",
            config.fold_arity_log
        )
    });
}

#[test]
fn single_claim_all_sizes() {
    for n in 0..=12 {
        roundtrip(&[n], 1, &cfg(3), n as u64);
    }
}

#[test]
fn all_arities() {
    for k in 1..=5 {
        for n in [0, 1, 4, 7, 9] {
            roundtrip(&[n], 1, &cfg(k), 100 + n as u64);
        }
        roundtrip(&[6, 2, 0, 6, 9, 5], 2, &cfg(k), 7 + k as u64);
    }
}

#[test]
fn larger_first_arity() {
    for (k, first) in [(1, 2), (2, 5), (3, 8), (4, 8), (4, 10), (5, 7)] {
        for n in [0, 1, 3, 7, 8, 9, 12] {
            roundtrip(&[n], 1, &cfg2(k, first), 200 + n as u64);
        }
        roundtrip(&[9, 2, 0, 6, 9, 5], 2, &cfg2(k, first), 17 + k as u64);
        roundtrip(&[12, 11, 4, 8, 1], 1, &cfg2(k, first), 27 + k as u64);
    }
}

#[test]
fn several_claims_and_polys() {
    roundtrip(&[8], 3, &cfg(4), 1);
    roundtrip(&[10, 10], 1, &cfg(4), 2);
    roundtrip(&[11, 3, 7, 0], 2, &cfg(4), 3);
    roundtrip(&[0, 0], 2, &cfg(2), 4);
    roundtrip(&[12, 5, 12, 1], 3, &PcsConfig::default(), 5);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn random_points(n in 0usize..9, m in 1usize..4, seed in any::<u64>()) {
        let sizes: Vec<usize> = (0..m).map(|j| n.saturating_sub(j * 2)).collect();
        let k = 1 + (seed % 4) as u32;
        let first = k + ((seed >> 8) % 4) as u32;
        roundtrip(&sizes, 1 + (seed % 3) as usize, &cfg2(k, first), seed);
    }
}

struct Setup {
    poly: CommittedPoly,
    claims: Vec<Vec<Claim>>,
    config: PcsConfig,
}

fn setup(n: usize, seed: u64) -> Setup {
    let config = cfg(3);
    let mut rng = StdRng::seed_from_u64(seed);
    let poly = commit(rand_evals(&mut rng, n), &config);
    let claims = vec![true_claims(&mut rng, poly.evals(), 1)];
    Setup {
        poly,
        claims,
        config,
    }
}

#[test]
fn wrong_value_rejected() {
    let s = setup(9, 1);
    let mut bad = s.claims.clone();
    bad[0][0].value += QM31::one();
    // Honest proof for the true claim, checked against the wrong value.
    let proof = prove(&[&s.poly], &s.claims, &s.config);
    let r = verify(&[s.poly.commitment()], &bad, &proof, &s.config);
    assert!(matches!(r, Err(PcsError::Sumcheck { .. })), "{r:?}");
    // A prover running on the wrong claim.
    let proof = prove(&[&s.poly], &bad, &s.config);
    let r = verify(&[s.poly.commitment()], &bad, &proof, &s.config);
    assert!(r.is_err(), "{r:?}");
}

#[test]
fn wrong_point_rejected() {
    let s = setup(9, 2);
    let proof = prove(&[&s.poly], &s.claims, &s.config);
    let mut bad = s.claims.clone();
    bad[0][0].point[3] += QM31::one();
    let r = verify(&[s.poly.commitment()], &bad, &proof, &s.config);
    assert!(r.is_err(), "{r:?}");
    bad[0][0].point.pop();
    let r = verify(&[s.poly.commitment()], &bad, &proof, &s.config);
    assert!(matches!(r, Err(PcsError::WrongShape { .. })), "{r:?}");
}

/// The prover commits `f`, then opens `f'` (one entry changed) with a claim true for `f'`.
#[test]
fn one_changed_entry_rejected() {
    for (n, idx) in [(4usize, 3usize), (9, 0), (9, 311), (12, 4095)] {
        for reencode in [false, true] {
            let mut s = setup(n, 3 + idx as u64);
            let old = s.poly.evals()[idx];
            s.poly.tamper_eval(idx, old + M31::from(1u32));
            if reencode {
                s.poly.reencode_without_recommit();
            }
            let point = s.claims[0][0].point.clone();
            let value = eval_mle_base(s.poly.evals(), &point);
            let claims = vec![vec![Claim { point, value }]];
            let proof = prove(&[&s.poly], &claims, &s.config);
            let r = verify(&[s.poly.commitment()], &claims, &proof, &s.config);
            assert!(
                matches!(
                    r,
                    Err(PcsError::FinalMismatch { .. })
                        | Err(PcsError::FoldMismatch { .. })
                        | Err(PcsError::MerkleInvalid { .. })
                ),
                "n={n} idx={idx} reencode={reencode}: {r:?}"
            );
        }
    }
}

#[test]
fn other_commitment_rejected() {
    let s = setup(8, 4);
    let other = setup(8, 5);
    let proof = prove(&[&s.poly], &s.claims, &s.config);
    let r = verify(&[other.poly.commitment()], &s.claims, &proof, &s.config);
    assert!(matches!(r, Err(PcsError::MerkleInvalid { .. })), "{r:?}");
    let mut c = s.poly.commitment();
    c.n_variables += 1;
    assert!(verify(&[c], &s.claims, &proof, &s.config).is_err());
}

fn multi_setup() -> (Vec<CommittedPoly>, Vec<Vec<Claim>>, PcsConfig) {
    let config = cfg(2);
    let mut rng = StdRng::seed_from_u64(9);
    let polys: Vec<CommittedPoly> = [5usize, 3, 0]
        .iter()
        .map(|&n| commit(rand_evals(&mut rng, n), &config))
        .collect();
    let claims = polys
        .iter()
        .map(|p| true_claims(&mut rng, p.evals(), 2))
        .collect();
    (polys, claims, config)
}

#[test]
fn tampered_bytes_rejected() {
    let (polys, claims, config) = multi_setup();
    let refs: Vec<&CommittedPoly> = polys.iter().collect();
    let comms: Vec<PolyCommitment> = polys.iter().map(|p| p.commitment()).collect();
    let proof = prove(&refs, &claims, &config);
    verify(&comms, &claims, &proof, &config).unwrap();
    let bytes = bincode::serialize(&proof).unwrap();
    assert_eq!(bytes.len(), proof.size_bytes());
    let mut n_checked = 0;
    for pos in (0..bytes.len()).step_by(3) {
        for flip in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[pos] ^= flip;
            if let Ok(p) = bincode::deserialize::<OpeningProof>(&b) {
                n_checked += 1;
                assert!(
                    verify(&comms, &claims, &p, &config).is_err(),
                    "flip at byte {pos} accepted"
                );
            }
        }
    }
    assert!(n_checked > 100);
    // Truncation.
    for cut in [1, 5, bytes.len() / 2, bytes.len() - 1] {
        assert!(bincode::deserialize::<OpeningProof>(&bytes[..cut]).is_err());
    }
}

fn replace_u32(bytes: &mut [u8], from: u32, to: u32) -> bool {
    let f = from.to_le_bytes();
    match bytes.windows(4).position(|w| w == f) {
        Some(i) => {
            bytes[i..i + 4].copy_from_slice(&to.to_le_bytes());
            true
        }
        None => false,
    }
}

#[test]
fn non_canonical_rejected() {
    let s = setup(6, 6);
    let proof = prove(&[&s.poly], &s.claims, &s.config);
    let bytes = bincode::serialize(&proof).unwrap();
    // The final value's first coordinate, and the first decommitted M31 value, set to P.
    let fv = proof.final_value.to_m31_array()[0].0;
    let mut b = bytes.clone();
    assert!(replace_u32(&mut b, fv, P));
    assert!(bincode::deserialize::<OpeningProof>(&b).is_err());
    // Same value + p in a decommitment (would be equal mod p if accepted).
    let v = proof.poly_decommitments[0].values[0].0;
    let mut b = bytes.clone();
    assert!(replace_u32(&mut b, v, v.wrapping_add(P)));
    assert!(bincode::deserialize::<OpeningProof>(&b).is_err());
}

#[test]
fn structural_tampering_rejected() {
    let (polys, claims, config) = multi_setup();
    let refs: Vec<&CommittedPoly> = polys.iter().collect();
    let comms: Vec<PolyCommitment> = polys.iter().map(|p| p.commitment()).collect();
    let proof = prove(&refs, &claims, &config);
    let mut p = proof.clone();
    p.batch = None;
    assert!(verify(&comms, &claims, &p, &config).is_err());
    let mut p = proof.clone();
    p.layer_roots.pop();
    assert!(verify(&comms, &claims, &p, &config).is_err());
    let mut p = proof.clone();
    p.poly_decommitments[0].values.pop();
    assert!(verify(&comms, &claims, &p, &config).is_err());
    let mut p = proof.clone();
    p.sumcheck.round_polys[0].0.push(QM31::one());
    assert!(verify(&comms, &claims, &p, &config).is_err());
    let mut p = proof.clone();
    p.pow_nonce ^= 1 << 40;
    assert!(verify(&comms, &claims, &p, &config).is_err());
    let mut p = proof.clone();
    p.final_value += QM31::one();
    assert!(verify(&comms, &claims, &p, &config).is_err());
    // Different config at verification.
    let mut other = config;
    other.n_queries += 1;
    assert!(verify(&comms, &claims, &proof, &other).is_err());
    // Wrong number of commitments.
    assert!(verify(&comms[..2], &claims[..2], &proof, &config).is_err());
    assert!(verify(&[], &[], &proof, &config).is_err());
}

#[test]
fn default_security_at_least_96_bits() {
    let c = PcsConfig::default();
    c.validate().unwrap();
    assert!(c.security_bits() >= 96, "{}", c.security_bits());
    assert!(c.provable_security_bits(16) < c.security_bits());
    let bad = PcsConfig {
        fold_arity_log: 0,
        ..c
    };
    assert!(bad.validate().is_err());
    let bad = PcsConfig {
        first_fold_arity_log: c.fold_arity_log - 1,
        ..c
    };
    assert!(bad.validate().is_err());
    let bad = PcsConfig {
        first_fold_arity_log: 11,
        ..c
    };
    assert!(bad.validate().is_err());
    assert!(try_commit(vec![M31::from(1u32); 3], &c).is_err());
}

#[test]
fn provable_bits_fall_with_the_domain() {
    let c = PcsConfig::default();
    assert!(c.provable_security_bits(28) < c.provable_security_bits(16));
    // The commit-phase term does not shrink with the queries: at 2^28 no number of queries
    // (up to the validated 512) reaches 96 provable bits in QM31.
    let many = PcsConfig {
        n_queries: 512,
        pow_bits: 32,
        ..c
    };
    assert!(many.provable_security_bits(28) < 96);
    assert!(many.provable_security_bits(28) > c.provable_security_bits(28));
}

#[test]
fn provable_bits_of_default_config_pinned() {
    // docs/soundness.md's table: 38 queries at rate 1/4 and 20 PoW bits.
    let c = PcsConfig::default();
    assert_eq!(c.security_bits(), 96);
    assert_eq!(c.provable_security_bits(12), 57);
    assert_eq!(c.provable_security_bits(16), 56);
    assert_eq!(c.provable_security_bits(20), 55);
    assert_eq!(c.provable_security_bits(28), 49);
    // The settings the doc names as provably 96-bit up to 2^24.
    let more = |log_blowup, n_queries| PcsConfig {
        log_blowup,
        n_queries,
        ..c
    };
    assert_eq!(more(2, 120).provable_security_bits(24), 97);
    assert_eq!(more(4, 84).provable_security_bits(24), 96);
    assert_eq!(more(2, 120).provable_security_bits(28), 93);
}

#[test]
fn cache_roundtrip_and_corruption() {
    for (n, config) in [
        (0usize, cfg(3)),
        (5, cfg2(2, 4)),
        (11, PcsConfig::default()),
    ] {
        let mut rng = StdRng::seed_from_u64(40 + n as u64);
        let poly = commit(rand_evals(&mut rng, n), &config);
        let claims = vec![true_claims(&mut rng, poly.evals(), 2)];
        let mut bytes = Vec::new();
        poly.write_to(&mut bytes).unwrap();
        let loaded = CommittedPoly::read_from(&mut bytes.as_slice()).unwrap();
        assert_eq!(loaded.commitment(), poly.commitment());
        assert_eq!(loaded.evals(), poly.evals());
        assert_eq!(loaded.config(), poly.config());
        let proof = prove(&[&poly], &claims, &config);
        assert_eq!(prove(&[&loaded], &claims, &config), proof);
        verify(&[loaded.commitment()], &claims, &proof, &config).unwrap();
        // Every single corrupted byte (sampled) and every truncation length (sampled) fails.
        let step = (bytes.len() / 300).max(1);
        for pos in (0..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
            let mut b = bytes.clone();
            b[pos] ^= 0x10;
            let r = CommittedPoly::read_from(&mut b.as_slice());
            assert!(matches!(r, Err(PcsError::Cache(_))), "n={n} byte {pos}");
        }
        for cut in (0..bytes.len()).step_by(step) {
            let r = CommittedPoly::read_from(&mut &bytes[..cut]);
            assert!(matches!(r, Err(PcsError::Cache(_))), "n={n} cut {cut}");
        }
        // Trailing garbage is rejected too.
        let mut b = bytes.clone();
        b.push(0);
        assert!(CommittedPoly::read_from(&mut b.as_slice()).is_err());
    }
}

/// A file with a valid checksum but inconsistent content (e.g. written by another version of
/// the code) is still rejected, not loaded.
#[test]
fn cache_inconsistent_content_rejected() {
    use stwo::core::vcs::blake2_hash::{Blake2sHash, Blake2sHasher};
    let config = cfg(2);
    let poly = commit(rand_evals(&mut StdRng::seed_from_u64(1), 4), &config);
    let mut bytes = Vec::new();
    poly.write_to(&mut bytes).unwrap();
    let reseal = |mut body: Vec<u8>| {
        body.truncate(body.len() - 32);
        let leaves: Vec<Blake2sHash> = body
            .chunks(pcs_cache_chunk())
            .map(Blake2sHasher::hash)
            .collect();
        let mut h = Blake2sHasher::new();
        leaves.iter().for_each(|l| h.update(&l.0));
        body.extend_from_slice(&h.finalize().0);
        body
    };
    // Resealing the original gives the same bytes.
    assert_eq!(reseal(bytes.clone()), bytes);
    // Version, config, size and a non-canonical value, each with a valid checksum.
    for (off, val) in [(8usize, 2u32), (12, 0), (28, 0), (32, 5), (36, P)] {
        let mut b = bytes.clone();
        b[off..off + 4].copy_from_slice(&val.to_le_bytes());
        let r = CommittedPoly::read_from(&mut reseal(b).as_slice());
        assert!(matches!(r, Err(PcsError::Cache(_))), "offset {off}: {r:?}");
    }
}

fn pcs_cache_chunk() -> usize {
    crate::cache::CHECKSUM_CHUNK
}
