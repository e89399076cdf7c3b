use p3_field::PrimeField32;
use p3_mersenne_31::{
    default_mersenne31_poseidon2_16, Mersenne31, MERSENNE31_POSEIDON2_RC_16_EXTERNAL_FINAL,
    MERSENNE31_POSEIDON2_RC_16_EXTERNAL_INITIAL, MERSENNE31_POSEIDON2_RC_16_INTERNAL,
};
use p3_symmetric::Permutation;
use proptest::prelude::*;
use stwo::core::fields::m31::{M31, P};
use stwo::prover::backend::simd::m31::N_LANES;

use super::constants::{HALF_FULL_ROUNDS, PARTIAL_ROUNDS};
use super::*;

fn to_p3(state: &[M31; WIDTH]) -> [Mersenne31; WIDTH] {
    state.map(|x| Mersenne31::new(x.0))
}

fn from_p3(state: &[Mersenne31; WIDTH]) -> [M31; WIDTH] {
    state.map(|x| M31(x.as_canonical_u32()))
}

fn p3_permutation(state: &[M31; WIDTH]) -> [M31; WIDTH] {
    let mut p3_state = to_p3(state);
    default_mersenne31_poseidon2_16().permute_mut(&mut p3_state);
    from_p3(&p3_state)
}

fn canonical_state() -> impl Strategy<Value = [M31; WIDTH]> {
    prop::array::uniform16(0..P).prop_map(|a| a.map(M31))
}

#[test]
fn round_constants_match_plonky3() {
    let rc = &ROUND_CONSTANTS;
    assert_eq!(rc.external_initial.len(), HALF_FULL_ROUNDS);
    assert_eq!(rc.internal.len(), PARTIAL_ROUNDS);
    for r in 0..HALF_FULL_ROUNDS {
        assert_eq!(
            rc.external_initial[r],
            from_p3(&MERSENNE31_POSEIDON2_RC_16_EXTERNAL_INITIAL[r])
        );
        assert_eq!(
            rc.external_terminal[r],
            from_p3(&MERSENNE31_POSEIDON2_RC_16_EXTERNAL_FINAL[r])
        );
    }
    assert_eq!(
        rc.internal.to_vec(),
        MERSENNE31_POSEIDON2_RC_16_INTERNAL
            .map(|x| M31(x.as_canonical_u32()))
            .to_vec()
    );
}

/// Plonky3's own test vector for `default_mersenne31_poseidon2_16`.
#[test]
fn plonky3_published_vector() {
    let input: [M31; WIDTH] = std::array::from_fn(|i| M31(i as u32));
    let expected = [
        0x0b2c803a, 0x5b1ee4d1, 0x49c6b1e3, 0x2cdc280c, 0x310a60c8, 0x530a729e, 0x4e61bcb4,
        0x2e84d3c3, 0x58709c08, 0x7e82ac42, 0x2162bcef, 0x6d153ab6, 0x742cf0e3, 0x2f21632d,
        0x61adce1e, 0x1973d6f1,
    ]
    .map(M31);
    assert_eq!(permutation(input), expected);
}

/// Our own vectors, generated once with this code (after it matched Plonky3) and pinned.
#[test]
fn pinned_vectors() {
    let zero = permutation([M31(0); WIDTH]);
    let max = permutation([M31(P - 1); WIDTH]);
    assert_eq!(zero, PINNED_ZERO.map(M31));
    assert_eq!(max, PINNED_MAX.map(M31));
}

const PINNED_ZERO: [u32; WIDTH] = [
    1979953422, 1493054217, 1413039529, 793528525, 1991532431, 1452398999, 2139305457, 115569251,
    578123152, 888018360, 2023371979, 2040599109, 777358681, 1655641335, 1621200949, 882626881,
];
const PINNED_MAX: [u32; WIDTH] = [
    1043514317, 90353239, 504558013, 119508879, 205409240, 1809226164, 102033135, 922950663,
    197378190, 706133213, 1306612627, 155342297, 854097881, 1071717067, 531204543, 1861717295,
];

#[test]
fn edge_states_match_plonky3() {
    for v in [0, 1, 2, P - 2, P - 1] {
        let state = [M31(v); WIDTH];
        assert_eq!(
            permutation(state),
            p3_permutation(&state),
            "constant state {v}"
        );
    }
    for i in 0..WIDTH {
        let mut state = [M31(0); WIDTH];
        state[i] = M31(P - 1);
        assert_eq!(permutation(state), p3_permutation(&state), "unit state {i}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn scalar_matches_plonky3(state in canonical_state()) {
        prop_assert_eq!(permutation(state), p3_permutation(&state));
    }

    #[test]
    fn packed_matches_scalar(states in prop::array::uniform16(canonical_state())) {
        let states: [[M31; WIDTH]; N_LANES] = states;
        let mut packed = pack(&states);
        prop_assert_eq!(unpack(&packed), states);
        permute_packed(&mut packed);
        let expected = states.map(permutation);
        prop_assert_eq!(unpack(&packed), expected);
    }
}
