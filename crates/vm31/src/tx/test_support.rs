//! Checks shared by the transaction tests.

use rand::{CryptoRng, RngCore};
use stwo::core::fields::m31::M31;

use crate::stark::{ProofError, TxProof};
use crate::tx::Deployment;

/// The deployment the tests prove for.
pub(crate) const DEPLOYMENT: Deployment = Deployment {
    chain_id: 31,
    pool_id: [9; 32],
};

/// Another deployment (another pool on the same chain).
pub(crate) const OTHER_POOL: Deployment = Deployment {
    chain_id: 31,
    pool_id: [10; 32],
};

/// A broken caller RNG: all zeros. The prover's hedge must still hide the witness.
pub(crate) struct ZeroRng;

impl RngCore for ZeroRng {
    fn next_u32(&mut self) -> u32 {
        0
    }
    fn next_u64(&mut self) -> u64 {
        0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        dest.fill(0);
        Ok(())
    }
}

impl CryptoRng for ZeroRng {}

/// A proof's trace commitment.
pub(crate) fn trace_root(proof: &TxProof) -> stwo::core::vcs::blake2_hash::Blake2sHash {
    proof.stark.0.commitments[1]
}

/// The header checks: another version, another kind and a truncated header are refused.
pub(crate) fn assert_header_checked(
    bytes: &[u8],
    verify: impl Fn(&[u8]) -> Result<(), ProofError>,
) {
    let mut v1 = bytes.to_vec();
    v1[4..6].copy_from_slice(&1u16.to_le_bytes());
    assert!(matches!(
        verify(&v1),
        Err(ProofError::UnsupportedVersion { got: 1, .. })
    ));
    let mut other_kind = bytes.to_vec();
    other_kind[6] ^= 0x40;
    assert!(matches!(
        verify(&other_kind),
        Err(ProofError::KindMismatch { .. })
    ));
    assert!(matches!(
        verify(&bytes[..5]),
        Err(ProofError::Decode { .. })
    ));
    let mut magic = bytes.to_vec();
    magic[0] ^= 1;
    assert!(matches!(verify(&magic), Err(ProofError::Decode { .. })));
}

/// Flips one bit at about 40 positions spread over `bytes`; `verify` must refuse each.
pub(crate) fn assert_flipped_bytes_rejected(
    bytes: &[u8],
    verify: impl Fn(&[u8]) -> Result<(), ProofError>,
) {
    let step = (bytes.len() / 40).max(1);
    for pos in (0..bytes.len()).step_by(step) {
        let mut tampered = bytes.to_vec();
        tampered[pos] ^= 0x01;
        assert!(verify(&tampered).is_err(), "flipped byte {pos} accepted");
    }
}

/// No queried or sampled base-field value of `proof` is one of `secrets` (0 and 1, which
/// selectors and empty leaves open to, are not counted as secrets).
pub(crate) fn assert_openings_hide(proof: &TxProof, secrets: &[M31]) {
    let secrets: Vec<M31> = secrets.iter().copied().filter(|x| x.0 > 1).collect();
    let stark = &proof.stark.0;
    for v in stark.queried_values.iter().flatten().flatten() {
        assert!(
            !secrets.contains(v),
            "opened value {v:?} is a witness element"
        );
    }
    for v in stark.sampled_values.iter().flatten().flatten() {
        for x in v.to_m31_array() {
            assert!(
                !secrets.contains(&x),
                "sampled value {x:?} is a witness element"
            );
        }
    }
}
