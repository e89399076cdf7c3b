//! Notes, their commitments and nullifiers.
//!
//! A note's field encoding (16 elements, exactly two sponge blocks):
//!
//! ```text
//! owner public key (8) ‖ asset id (1) ‖ amount limbs (3) ‖ blinding (4)
//! ```
//!
//! The `u64` amount is split into little-endian limbs of 22, 22 and 20 bits
//! ([`AMOUNT_LIMB_BITS`]), so each limb fits M31 with room for a carry when two are added, and a
//! circuit range-checks it with small lookups. The blinding (4 elements, 124 bits) hides the note
//! in its commitment.
//!
//! * commitment `cm = hash(NOTE_COMMITMENT, encoding)`;
//! * nullifier `nf = hash(NULLIFIER, sk ‖ cm ‖ [position])`.
//!
//! The nullifier binds the leaf position as well as the commitment: two notes with the same
//! commitment at two leaves (a sender reusing a blinding) have two nullifiers, and each is
//! spendable once. (The pool node also refuses a commitment already in its tree.)

use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::M31;

use crate::canonical::{m31, m31_array};
use crate::error::Error;
use crate::keys::{random_m31, PublicKey, SpendingKey};
use crate::sponge::{hash, Digest, Domain, DIGEST_LEN};

/// Bit widths of the amount limbs, least significant first.
pub const AMOUNT_LIMB_BITS: [u32; 3] = [22, 22, 20];
/// Elements of blinding randomness.
pub const BLINDING_LEN: usize = 4;
/// Elements of a note's field encoding.
pub const NOTE_ENCODING_LEN: usize = DIGEST_LEN + 1 + AMOUNT_LIMB_BITS.len() + BLINDING_LEN;

/// A shielded note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Note {
    pub owner: PublicKey,
    #[serde(with = "m31")]
    pub asset_id: M31,
    pub amount: u64,
    #[serde(with = "m31_array")]
    pub blinding: [M31; BLINDING_LEN],
}

/// A note commitment: a leaf of the commitment tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Commitment(#[serde(with = "m31_array")] pub Digest);

/// A nullifier, published when the note is spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Nullifier(#[serde(with = "m31_array")] pub Digest);

/// Splits an amount into its limbs ([`AMOUNT_LIMB_BITS`]).
pub fn amount_to_limbs(amount: u64) -> [M31; 3] {
    let mut rest = amount;
    AMOUNT_LIMB_BITS.map(|bits| {
        let limb = (rest & ((1 << bits) - 1)) as u32;
        rest >>= bits;
        M31(limb)
    })
}

/// Joins limbs into an amount, rejecting any limb outside its range.
pub fn amount_from_limbs(limbs: &[M31; 3]) -> Result<u64, Error> {
    let mut amount = 0u64;
    let mut shift = 0;
    for (limb, (value, &bits)) in limbs.iter().zip(&AMOUNT_LIMB_BITS).enumerate() {
        if value.0 >> bits != 0 {
            return Err(Error::AmountLimbOutOfRange {
                limb,
                value: value.0,
                bits,
            });
        }
        amount |= u64::from(value.0) << shift;
        shift += bits;
    }
    Ok(amount)
}

impl Note {
    /// A note to `owner` with fresh blinding.
    pub fn new<R: RngCore + CryptoRng>(
        owner: PublicKey,
        asset_id: M31,
        amount: u64,
        rng: &mut R,
    ) -> Self {
        Self {
            owner,
            asset_id,
            amount,
            blinding: std::array::from_fn(|_| random_m31(rng)),
        }
    }

    /// The field encoding hashed into the commitment.
    pub fn encode(&self) -> [M31; NOTE_ENCODING_LEN] {
        let mut out = [M31(0); NOTE_ENCODING_LEN];
        out[..DIGEST_LEN].copy_from_slice(&self.owner.0);
        out[DIGEST_LEN] = self.asset_id;
        out[DIGEST_LEN + 1..DIGEST_LEN + 4].copy_from_slice(&amount_to_limbs(self.amount));
        out[DIGEST_LEN + 4..].copy_from_slice(&self.blinding);
        out
    }

    /// Inverse of [`encode`](Self::encode); rejects out-of-range amount limbs.
    pub fn decode(encoding: &[M31; NOTE_ENCODING_LEN]) -> Result<Self, Error> {
        let mut owner = [M31(0); DIGEST_LEN];
        owner.copy_from_slice(&encoding[..DIGEST_LEN]);
        let limbs = [
            encoding[DIGEST_LEN + 1],
            encoding[DIGEST_LEN + 2],
            encoding[DIGEST_LEN + 3],
        ];
        let mut blinding = [M31(0); BLINDING_LEN];
        blinding.copy_from_slice(&encoding[DIGEST_LEN + 4..]);
        Ok(Self {
            owner: PublicKey(owner),
            asset_id: encoding[DIGEST_LEN],
            amount: amount_from_limbs(&limbs)?,
            blinding,
        })
    }

    pub fn commitment(&self) -> Commitment {
        Commitment(hash(Domain::NOTE_COMMITMENT, &self.encode()))
    }

    /// The nullifier the owner reveals to spend this note, stored at leaf `position`.
    pub fn nullifier(&self, spending_key: &SpendingKey, position: u32) -> Nullifier {
        nullifier(spending_key, &self.commitment(), position)
    }
}

/// Elements a nullifier hashes: key, commitment, leaf position.
pub const NULLIFIER_INPUT_LEN: usize = 2 * DIGEST_LEN + 1;

/// `hash(NULLIFIER, sk ‖ cm ‖ [position])`. Binding the position makes two notes with one
/// commitment (at two leaves) two distinct spendable notes with distinct nullifiers.
pub fn nullifier(spending_key: &SpendingKey, commitment: &Commitment, position: u32) -> Nullifier {
    let mut input = [M31(0); NULLIFIER_INPUT_LEN];
    input[..DIGEST_LEN].copy_from_slice(&spending_key.0);
    input[DIGEST_LEN..2 * DIGEST_LEN].copy_from_slice(&commitment.0);
    input[2 * DIGEST_LEN] = M31(position);
    Nullifier(hash(Domain::NULLIFIER, &input))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use stwo::core::fields::m31::P;

    use super::*;

    fn sample() -> (SpendingKey, Note) {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let sk = SpendingKey::random(&mut rng);
        let note = Note::new(sk.public_key(), M31(3), 1_234_567_890_123, &mut rng);
        (sk, note)
    }

    #[test]
    fn amount_limbs_round_trip() {
        for amount in [
            0,
            1,
            (1 << 22) - 1,
            1 << 22,
            1 << 44,
            u64::MAX,
            0x0123_4567_89ab_cdef,
        ] {
            let limbs = amount_to_limbs(amount);
            assert_eq!(amount_from_limbs(&limbs), Ok(amount));
        }
        assert_eq!(
            amount_to_limbs(u64::MAX).map(|x| x.0),
            [(1 << 22) - 1, (1 << 22) - 1, (1 << 20) - 1]
        );
    }

    #[test]
    fn out_of_range_limb_fails() {
        let err = amount_from_limbs(&[M31(0), M31(0), M31(1 << 20)]);
        assert_eq!(
            err,
            Err(Error::AmountLimbOutOfRange {
                limb: 2,
                value: 1 << 20,
                bits: 20
            })
        );
        assert!(amount_from_limbs(&[M31(1 << 22), M31(0), M31(0)]).is_err());
    }

    #[test]
    fn encoding_round_trips() {
        let (_, note) = sample();
        assert_eq!(Note::decode(&note.encode()), Ok(note));
    }

    #[test]
    fn commitment_and_nullifier_are_deterministic() {
        let (sk, note) = sample();
        assert_eq!(note.commitment(), note.commitment());
        assert_eq!(
            note.nullifier(&sk, 4),
            nullifier(&sk, &note.commitment(), 4)
        );
        assert_ne!(note.nullifier(&sk, 4).0, note.commitment().0);
    }

    #[test]
    fn commitment_depends_on_every_field() {
        let (_, note) = sample();
        let cm = note.commitment();
        let mut variants = Vec::new();
        for i in 0..DIGEST_LEN {
            let mut n = note;
            n.owner.0[i] += M31(1);
            variants.push(n);
        }
        let mut n = note;
        n.asset_id += M31(1);
        variants.push(n);
        for bit in [0, 21, 22, 43, 44, 63] {
            let mut n = note;
            n.amount ^= 1 << bit;
            variants.push(n);
        }
        for i in 0..BLINDING_LEN {
            let mut n = note;
            n.blinding[i] += M31(1);
            variants.push(n);
        }
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(v.commitment(), cm, "variant {i}");
        }
    }

    #[test]
    fn nullifier_depends_on_key_and_commitment() {
        let (sk, note) = sample();
        let nf = note.nullifier(&sk, 5);
        for i in 0..DIGEST_LEN {
            let mut other = sk.clone();
            other.0[i] += M31(1);
            assert_ne!(note.nullifier(&other, 5), nf, "key element {i}");
            let mut cm = note.commitment();
            cm.0[i] += M31(1);
            assert_ne!(nullifier(&sk, &cm, 5), nf, "commitment element {i}");
        }
        // One commitment at two leaves: two nullifiers.
        assert_ne!(note.nullifier(&sk, 6), nf);
    }

    /// Golden values: a change to the note encoding or a domain tag shows up here.
    #[test]
    fn pinned_commitment_and_nullifier() {
        let sk = SpendingKey(std::array::from_fn(|i| M31(i as u32 + 1)));
        let note = Note {
            owner: sk.public_key(),
            asset_id: M31(2),
            amount: 1_000_000_007,
            blinding: [M31(11), M31(12), M31(13), M31(14)],
        };
        assert_eq!(note.commitment().0, PINNED_COMMITMENT.map(M31));
        assert_eq!(note.nullifier(&sk, 3).0, PINNED_NULLIFIER.map(M31));
    }

    const PINNED_COMMITMENT: [u32; 8] = [
        1873997989, 1455654535, 725272307, 2023570748, 1985177487, 1860718439, 644166008, 249923416,
    ];
    const PINNED_NULLIFIER: [u32; 8] = [
        1539132878, 2028728345, 124673555, 325892213, 596746393, 640740725, 389688209, 536399967,
    ];

    #[test]
    fn serde_rejects_non_canonical() {
        let (_, note) = sample();
        let json = serde_json::to_string(&note).unwrap();
        assert_eq!(serde_json::from_str::<Note>(&json).unwrap(), note);
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["asset_id"] = P.into();
        assert!(serde_json::from_value::<Note>(value).is_err());
    }
}
