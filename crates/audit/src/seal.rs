//! Sealing logged records for a named recipient: X25519 with a fresh ephemeral key per record,
//! SHA-256 key derivation, ChaCha20-Poly1305 (the primitives of the privacy pool's memos). A
//! sealed record keeps the SHA-256 of its tensors in clear, so a report's proofs and inclusion
//! proofs check without the key; only the recipient reads the values.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x25519_dalek::{EphemeralSecret, PublicKey, StaticSecret};

/// Key-derivation label.
const KDF_LABEL: &[u8] = b"stwo-ml/audit/seal/v1";

/// Why a record cannot be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the recipient key is a low-order point")]
    LowOrderKey,
    #[error("not sealed to this key, or altered")]
    Open,
    #[error("a key must be 32 bytes of hex: {0}")]
    KeyFormat(String),
}

/// A recipient's secret key (32 bytes).
pub struct RecipientSecret(StaticSecret);

impl RecipientSecret {
    /// A fresh key from the OS's randomness.
    pub fn generate() -> Self {
        Self(StaticSecret::random_from_rng(OsRng))
    }

    pub fn from_hex(s: &str) -> Result<Self, SealError> {
        Ok(Self(StaticSecret::from(key_bytes(s)?)))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn public(&self) -> RecipientKey {
        RecipientKey(PublicKey::from(&self.0).to_bytes())
    }
}

/// A recipient's public key, named by its hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecipientKey(pub [u8; 32]);

impl RecipientKey {
    pub fn from_hex(s: &str) -> Result<Self, SealError> {
        key_bytes(s).map(Self)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

fn key_bytes(s: &str) -> Result<[u8; 32], SealError> {
    hex::decode(s.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| SealError::KeyFormat(format!("{} characters given", s.trim().len())))
}

/// A sealed byte string: the ephemeral public key and the AEAD output (hex in JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub epk: String,
    pub ct: String,
}

fn cipher(shared: &[u8; 32], epk: &[u8; 32], recipient: &[u8; 32]) -> ChaCha20Poly1305 {
    let mut kdf = Sha256::new();
    kdf.update(KDF_LABEL);
    kdf.update(shared);
    kdf.update(epk);
    kdf.update(recipient);
    let key: [u8; 32] = kdf.finalize().into();
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

/// Seals `plaintext` to `to`; `context` (what the bytes are) is authenticated, so a sealed
/// input cannot be passed off as an output. Each call uses a fresh ephemeral key, so the
/// all-zero nonce is never reused under one key.
pub fn seal(to: &RecipientKey, context: &[u8], plaintext: &[u8]) -> Result<Sealed, SealError> {
    let eph = EphemeralSecret::random_from_rng(OsRng);
    let epk = PublicKey::from(&eph).to_bytes();
    let shared = eph.diffie_hellman(&PublicKey::from(to.0));
    if !shared.was_contributory() {
        return Err(SealError::LowOrderKey);
    }
    let ct = cipher(shared.as_bytes(), &epk, &to.0)
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: plaintext,
                aad: context,
            },
        )
        .map_err(|_| SealError::Open)?;
    Ok(Sealed {
        epk: hex::encode(epk),
        ct: hex::encode(ct),
    })
}

/// Opens a [`seal`]ed byte string with the recipient's secret.
pub fn open(key: &RecipientSecret, context: &[u8], sealed: &Sealed) -> Result<Vec<u8>, SealError> {
    let epk: [u8; 32] = hex::decode(&sealed.epk)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(SealError::Open)?;
    let ct = hex::decode(&sealed.ct).map_err(|_| SealError::Open)?;
    let shared = key.0.diffie_hellman(&PublicKey::from(epk));
    if !shared.was_contributory() {
        return Err(SealError::Open);
    }
    let recipient = key.public().0;
    cipher(shared.as_bytes(), &epk, &recipient)
        .decrypt(
            &Nonce::default(),
            Payload {
                msg: &ct,
                aad: context,
            },
        )
        .map_err(|_| SealError::Open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_open_only_with_the_key_and_context() {
        let alice = RecipientSecret::generate();
        let bob = RecipientSecret::generate();
        let s = seal(&alice.public(), b"input", b"hello").unwrap();
        assert_eq!(open(&alice, b"input", &s).unwrap(), b"hello");
        assert!(open(&bob, b"input", &s).is_err());
        assert!(open(&alice, b"output", &s).is_err());
        let mut bad = s.clone();
        let mut ct = hex::decode(&bad.ct).unwrap();
        ct[0] ^= 1;
        bad.ct = hex::encode(ct);
        assert!(open(&alice, b"input", &bad).is_err());
        let again = RecipientSecret::from_hex(&alice.to_hex()).unwrap();
        assert_eq!(again.public(), alice.public());
        assert_ne!(
            seal(&alice.public(), b"input", b"hello").unwrap(),
            s,
            "fresh per seal"
        );
        assert!(RecipientKey::from_hex("abcd").is_err());
    }
}
