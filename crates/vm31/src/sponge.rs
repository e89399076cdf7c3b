//! Hashing on top of the Poseidon2 permutation.
//!
//! **Sponge** ([`hash`]): rate 8 (state positions 0..8), capacity 8 (positions 8..16). The
//! capacity starts as `[domain, len mod 2^30, len >> 30, 0, …, 0]`, so the domain tag and the
//! input length are fixed before the first block is absorbed. Because the length is bound, the
//! last block is simply padded with zeros. Each block of 8 elements is added into the rate and
//! followed by one permutation (an empty input still takes one permutation); the digest is the
//! rate after the last permutation: 8 elements, 248 bits, so about 124 bits of collision
//! resistance with 248 bits of capacity behind it.
//!
//! **Compression** ([`compress`]) for Merkle nodes: `P(l ‖ r)[0..8] + l`, i.e. Plonky3's
//! `TruncatedPermutation` with a feed-forward of the left input. The feed-forward makes the
//! function non-invertible (with a bare truncated permutation anyone can pick an output, append
//! any 8 elements and run `P⁻¹` to get a preimage). Nodes and sponge digests cannot be confused:
//! the tree has a fixed depth, so a node's level is always known.

use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::{M31, P};

use crate::error::Error;
use crate::poseidon2::{permute, WIDTH};

/// Elements absorbed per permutation.
pub const RATE: usize = 8;
/// Elements of a digest.
pub const DIGEST_LEN: usize = 8;

/// A hash output or Merkle node: 8 canonical M31 elements.
pub type Digest = [M31; DIGEST_LEN];

/// Tags below this are reserved for the domains defined here.
const FIRST_CUSTOM_TAG: u32 = 1 << 16;

/// A domain-separation tag, placed in the first capacity element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Domain(u32);

impl Domain {
    /// Public key from spending key.
    pub const PUBLIC_KEY: Self = Self(1);
    /// Viewing key from spending key.
    pub const VIEWING_KEY: Self = Self(2);
    /// Note commitment.
    pub const NOTE_COMMITMENT: Self = Self(3);
    /// Nullifier.
    pub const NULLIFIER: Self = Self(4);
    /// Hash of a note ciphertext (a transaction public input).
    pub const CIPHERTEXT: Self = Self(5);
    /// Hash of a transaction's external data (deployment, recipient, relayer, fee).
    pub const EXTERNAL_DATA: Self = Self(6);
    /// A pool deployment (proof version, chain id, pool id).
    pub const DEPLOYMENT: Self = Self(7);

    /// A domain for use outside this crate: `tag` must lie in `[2^16, p)`.
    pub fn custom(tag: u32) -> Result<Self, Error> {
        if (FIRST_CUSTOM_TAG..P).contains(&tag) {
            Ok(Self(tag))
        } else {
            Err(Error::InvalidDomain { tag })
        }
    }

    /// The tag as a field element.
    pub fn tag(self) -> M31 {
        M31(self.0)
    }
}

/// Sponge hash of `input` under `domain`.
///
/// # Panics
/// If `input` has `2^60` elements or more (the length must fit the two 30-bit limbs).
pub fn hash(domain: Domain, input: &[M31]) -> Digest {
    let len = input.len() as u64;
    assert!(len < 1 << 60, "sponge input too long");
    let mut state = [M31(0); WIDTH];
    state[RATE] = domain.tag();
    state[RATE + 1] = M31((len & ((1 << 30) - 1)) as u32);
    state[RATE + 2] = M31((len >> 30) as u32);
    if input.is_empty() {
        permute(&mut state);
    }
    for block in input.chunks(RATE) {
        for (s, &x) in state.iter_mut().zip(block) {
            *s += x;
        }
        permute(&mut state);
    }
    std::array::from_fn(|i| state[i])
}

/// Two-to-one compression for Merkle nodes: `P(left ‖ right)[0..8] + left`.
pub fn compress(left: &Digest, right: &Digest) -> Digest {
    let mut state = [M31(0); WIDTH];
    state[..DIGEST_LEN].copy_from_slice(left);
    state[DIGEST_LEN..].copy_from_slice(right);
    permute(&mut state);
    std::array::from_fn(|i| state[i] + left[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poseidon2::permutation;

    fn input(n: usize) -> Vec<M31> {
        (0..n as u32).map(|i| M31(i * 7 + 1)).collect()
    }

    #[test]
    fn domains_separate() {
        let x = input(5);
        let domains = [
            Domain::PUBLIC_KEY,
            Domain::VIEWING_KEY,
            Domain::NOTE_COMMITMENT,
            Domain::NULLIFIER,
            Domain::CIPHERTEXT,
            Domain::EXTERNAL_DATA,
            Domain::DEPLOYMENT,
            Domain::custom(1 << 16).unwrap(),
        ];
        let digests: Vec<_> = domains.iter().map(|&d| hash(d, &x)).collect();
        for i in 0..digests.len() {
            for j in i + 1..digests.len() {
                assert_ne!(digests[i], digests[j], "domains {i} and {j}");
            }
        }
    }

    #[test]
    fn length_is_bound() {
        // Zero padding must not make [x] and [x, 0] collide, at any block boundary.
        for n in [0, 1, 7, 8, 9, 16] {
            let mut x = input(n);
            let h = hash(Domain::NULLIFIER, &x);
            x.push(M31(0));
            assert_ne!(h, hash(Domain::NULLIFIER, &x), "length {n}");
        }
    }

    #[test]
    fn hash_matches_definition() {
        let x = input(11);
        let mut state = [M31(0); WIDTH];
        state[8] = M31(3);
        state[9] = M31(11);
        for (i, &v) in x[..8].iter().enumerate() {
            state[i] = v;
        }
        let mut state = permutation(state);
        for (i, &v) in x[8..].iter().enumerate() {
            state[i] += v;
        }
        let state = permutation(state);
        assert_eq!(
            hash(Domain::NOTE_COMMITMENT, &x).to_vec(),
            state[..8].to_vec()
        );
    }

    #[test]
    fn custom_domain_range_is_checked() {
        assert!(Domain::custom(5).is_err());
        assert!(Domain::custom(P).is_err());
        assert!(Domain::custom(P - 1).is_ok());
    }

    #[test]
    fn compress_is_ordered_and_fed_forward() {
        let l: Digest = std::array::from_fn(|i| M31(i as u32));
        let r: Digest = std::array::from_fn(|i| M31(100 + i as u32));
        assert_ne!(compress(&l, &r), compress(&r, &l));
        let mut state = [M31(0); WIDTH];
        state[..8].copy_from_slice(&l);
        state[8..].copy_from_slice(&r);
        let p = permutation(state);
        let expected: Vec<M31> = (0..8).map(|i| p[i] + l[i]).collect();
        assert_eq!(compress(&l, &r).to_vec(), expected);
    }

    /// Pinned outputs, generated once by this code.
    #[test]
    fn pinned_vectors() {
        assert_eq!(
            hash(Domain::NOTE_COMMITMENT, &input(10)),
            PINNED_HASH.map(M31)
        );
        assert_eq!(
            compress(&[M31(1); 8], &[M31(2); 8]),
            PINNED_COMPRESS.map(M31)
        );
    }

    const PINNED_HASH: [u32; 8] = [
        1309535693, 1803125662, 1558942421, 630230587, 56834771, 256670296, 587300389, 164950934,
    ];
    const PINNED_COMPRESS: [u32; 8] = [
        332825421, 1479145691, 630853709, 865875426, 1908054383, 1937648103, 245111004, 1438064610,
    ];
}
