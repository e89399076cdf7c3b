//! What a transaction proof is bound to outside the pool's state: the deployment it is meant for
//! and its external data (who is paid, who relays it, and the fee).
//!
//! ```text
//! deployment = hash(DEPLOYMENT, [PROOF_VERSION] ‖ limbs(chain_id) ‖ bytes24(pool_id))
//! ext_hash   = hash(EXTERNAL_DATA, deployment ‖ bytes24(recipient ‖ relayer) ‖ limbs(fee) ‖ fee_asset)
//! ```
//! `bytes24` packs 3 bytes per element (always below `p`); every input has a fixed length. The
//! 8 elements of `ext_hash` are a public input of every statement, so a proof verifies for one
//! deployment and one `(recipient, relayer, fee, fee asset)` only: it does not replay on
//! another pool or chain, and a relayer cannot redirect it. The verifier's caller (the pool)
//! recomputes the hash from its own deployment and the submitted fields; nobody submits a hash.

use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::M31;

use crate::canonical::m31;
use crate::note::amount_to_limbs;
use crate::sponge::{hash, Digest, Domain};
use crate::stark::PROOF_VERSION;

/// One running pool: the chain (or network) it serves and its own random identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub chain_id: u64,
    #[serde(with = "hex32")]
    pub pool_id: [u8; 32],
}

impl Deployment {
    /// The deployment's field digest (absorbed into every external-data hash).
    pub fn digest(&self) -> Digest {
        let mut input = vec![M31(u32::from(PROOF_VERSION))];
        input.extend(amount_to_limbs(self.chain_id));
        input.extend(bytes24(&self.pool_id));
        hash(Domain::DEPLOYMENT, &input)
    }
}

/// The public, non-pool side of a transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalData {
    /// Who is paid: a withdrawal's payee, a deposit's paying account; zero for a spend.
    #[serde(with = "hex32")]
    pub recipient: [u8; 32],
    /// Who relays the transaction and is paid the fee (zero if none).
    #[serde(with = "hex32")]
    pub relayer: [u8; 32],
    /// Fee paid to the relayer, in `fee_asset`.
    pub fee: u64,
    /// The asset of the fee (a spend's notes must be in it when `fee > 0`).
    #[serde(with = "m31")]
    pub fee_asset: M31,
}

impl ExternalData {
    /// The hash the statements carry as a public input.
    pub fn hash(&self, deployment: &Deployment) -> Digest {
        let mut input = deployment.digest().to_vec();
        let mut accounts = [0u8; 64];
        accounts[..32].copy_from_slice(&self.recipient);
        accounts[32..].copy_from_slice(&self.relayer);
        input.extend(bytes24(&accounts));
        input.extend(amount_to_limbs(self.fee));
        input.push(self.fee_asset);
        hash(Domain::EXTERNAL_DATA, &input)
    }
}

/// Three bytes per element, little endian, the last chunk zero-padded.
fn bytes24(bytes: &[u8]) -> Vec<M31> {
    bytes
        .chunks(3)
        .map(|chunk| {
            let mut limb = [0u8; 4];
            limb[..chunk.len()].copy_from_slice(chunk);
            M31(u32::from_le_bytes(limb))
        })
        .collect()
}

/// `[u8; 32]` as 64 lowercase hex digits.
pub mod hex32 {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out)
            .map_err(|e| D::Error::custom(format!("expected 64 hex digits: {e}")))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Deployment {
        Deployment {
            chain_id: 1,
            pool_id: [7; 32],
        }
    }

    #[test]
    fn every_field_changes_the_hash() {
        let d = deployment();
        let base = ExternalData {
            recipient: [1; 32],
            relayer: [2; 32],
            fee: 5,
            fee_asset: M31(3),
        };
        let h = base.hash(&d);
        let mut changed = vec![
            ExternalData { fee: 6, ..base },
            ExternalData {
                fee_asset: M31(4),
                ..base
            },
        ];
        for i in [0, 31] {
            let mut e = base;
            e.recipient[i] ^= 1;
            changed.push(e);
            let mut e = base;
            e.relayer[i] ^= 1;
            changed.push(e);
        }
        for e in changed {
            assert_ne!(e.hash(&d), h, "{e:?}");
        }
        let other_chain = Deployment { chain_id: 2, ..d };
        let mut other_pool = d;
        other_pool.pool_id[31] ^= 1;
        assert_ne!(base.hash(&other_chain), h);
        assert_ne!(base.hash(&other_pool), h);
    }

    #[test]
    fn json_round_trip_and_bad_hex() {
        let e = ExternalData {
            recipient: [0xab; 32],
            ..ExternalData::default()
        };
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(&"ab".repeat(32)));
        assert_eq!(serde_json::from_str::<ExternalData>(&json).unwrap(), e);
        let bad = json.replace(&"ab".repeat(32), "zz");
        assert!(serde_json::from_str::<ExternalData>(&bad).is_err());
    }
}
