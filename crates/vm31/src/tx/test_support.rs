//! Checks shared by the transaction tests.

use stwo::core::fields::m31::M31;

use crate::stark::{ProofError, TxProof};

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
