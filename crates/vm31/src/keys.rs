//! Key hierarchy. Everything is derived from a random [`SpendingKey`]:
//!
//! ```text
//! spending key sk (8 × M31, secret, never leaves the client)
//! ├── public key   pk  = hash(PUBLIC_KEY,  sk)   owner field of notes; spending proves knowledge of sk
//! └── viewing key  vk  = hash(VIEWING_KEY, sk)   read-only access to the wallet's incoming notes
//!     └── encryption secret  esk = BLAKE2b-256("vm31.x25519.sk.v1" ‖ vk)  (an X25519 scalar)
//!         └── encryption public key  epk = X25519(esk, base point)
//! ```
//!
//! A payment [`Address`] is `(pk, epk)`. Senders encrypt each note to `epk` with a fresh
//! ephemeral key ([`crate::encryption`]), so a sender learns nothing about other notes of the
//! same recipient; the viewing key (or the encryption secret) is what the owner hands to an
//! auditor. Deriving the X25519 key from the viewing key rather than storing it means a wallet
//! backup is the spending key alone.

use std::fmt;

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest as _};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::{M31, P};
use x25519_dalek::{PublicKey as X25519Public, StaticSecret};

use crate::canonical::{m31_array, m31s_to_le_bytes};
use crate::sponge::{hash, Digest, Domain, DIGEST_LEN};

const ENCRYPTION_KEY_LABEL: &[u8; 17] = b"vm31.x25519.sk.v1";

/// A uniformly random M31 element (rejection sampling of 31-bit integers).
pub(crate) fn random_m31<R: RngCore + CryptoRng>(rng: &mut R) -> M31 {
    loop {
        let v = rng.next_u32() >> 1;
        if v < P {
            return M31(v);
        }
    }
}

/// The root secret of a wallet: 8 uniformly random field elements (248 bits).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendingKey(#[serde(with = "m31_array")] pub [M31; DIGEST_LEN]);

/// Owner identifier placed in notes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicKey(#[serde(with = "m31_array")] pub Digest);

/// Read-only key: derives the encryption secret that opens incoming notes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewingKey(#[serde(with = "m31_array")] pub Digest);

/// The X25519 secret that decrypts notes sent to this wallet (with its public key cached, since
/// trial decryption binds it into every key derivation).
#[derive(Clone)]
pub struct EncryptionSecretKey {
    pub(crate) secret: StaticSecret,
    pub(crate) public: EncryptionPublicKey,
}

/// The X25519 public key senders encrypt notes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EncryptionPublicKey(pub [u8; 32]);

/// What a sender needs to pay a wallet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Address {
    pub public_key: PublicKey,
    pub encryption_key: EncryptionPublicKey,
}

impl SpendingKey {
    /// Samples a fresh spending key.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self(std::array::from_fn(|_| random_m31(rng)))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(hash(Domain::PUBLIC_KEY, &self.0))
    }

    pub fn viewing_key(&self) -> ViewingKey {
        ViewingKey(hash(Domain::VIEWING_KEY, &self.0))
    }

    pub fn address(&self) -> Address {
        Address {
            public_key: self.public_key(),
            encryption_key: self.viewing_key().encryption_public_key(),
        }
    }
}

impl ViewingKey {
    pub fn encryption_secret_key(&self) -> EncryptionSecretKey {
        let mut hasher = Blake2b::<U32>::new();
        hasher.update(ENCRYPTION_KEY_LABEL);
        hasher.update(m31s_to_le_bytes(&self.0));
        let bytes: [u8; 32] = hasher.finalize().into();
        EncryptionSecretKey::from_secret(StaticSecret::from(bytes))
    }

    pub fn encryption_public_key(&self) -> EncryptionPublicKey {
        self.encryption_secret_key().public_key()
    }
}

impl EncryptionSecretKey {
    /// A random key, for wallets that keep the encryption key apart from the spending key.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self::from_secret(StaticSecret::random_from_rng(rng))
    }

    /// From the 32 secret bytes (clamped by X25519).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self::from_secret(StaticSecret::from(bytes))
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }

    pub fn public_key(&self) -> EncryptionPublicKey {
        self.public
    }

    fn from_secret(secret: StaticSecret) -> Self {
        let public = EncryptionPublicKey(X25519Public::from(&secret).to_bytes());
        Self { secret, public }
    }
}

impl fmt::Debug for SpendingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpendingKey(<redacted>)")
    }
}

impl fmt::Debug for ViewingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ViewingKey(<redacted>)")
    }
}

impl fmt::Debug for EncryptionSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionSecretKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    #[test]
    fn derivation_is_deterministic_and_separated() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let sk = SpendingKey::random(&mut rng);
        assert_eq!(sk.address(), sk.clone().address());
        assert_ne!(sk.public_key().0, sk.viewing_key().0);
        let other = SpendingKey::random(&mut rng);
        assert_ne!(sk.address().public_key, other.address().public_key);
        assert_ne!(sk.address().encryption_key, other.address().encryption_key);
    }

    #[test]
    fn secrets_are_not_printed() {
        let sk = SpendingKey::random(&mut ChaCha20Rng::seed_from_u64(2));
        assert_eq!(format!("{sk:?}"), "SpendingKey(<redacted>)");
        assert_eq!(format!("{:?}", sk.viewing_key()), "ViewingKey(<redacted>)");
    }

    #[test]
    fn serde_round_trip_works() {
        let sk = SpendingKey::random(&mut ChaCha20Rng::seed_from_u64(3));
        let back: SpendingKey = serde_json::from_str(&serde_json::to_string(&sk).unwrap()).unwrap();
        assert!(back == sk);
        let addr = sk.address();
        let back: Address = serde_json::from_str(&serde_json::to_string(&addr).unwrap()).unwrap();
        assert_eq!(back, addr);
        assert!(serde_json::from_str::<SpendingKey>(&format!("[{P},0,0,0,0,0,0,0]")).is_err());
    }
}
