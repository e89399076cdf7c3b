//! Sealing the wallet store's rows: a key derived from the spending key encrypts every note and
//! witness (XChaCha20-Poly1305, random nonce, the row's tag as associated data) and turns
//! positions, commitments and nullifiers into keyed tags (BLAKE2b-256 keyed by prefix), so the
//! database reveals neither which leaves of the pool are ours, nor amounts, assets or spends.
//! Only the number of notes and their status (unspent, reserved, spent) stay visible.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest as _};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use vm31::canonical::m31s_to_le_bytes;
use vm31::SpendingKey;
use zeroize::Zeroizing;

const KEY_LABEL: &[u8] = b"vm31.wallet-store.v1";
const NONCE_LEN: usize = 24;

/// The store's secret key.
pub struct StoreKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(<redacted>)")
    }
}

/// Why a sealed row does not open.
#[derive(Debug, thiserror::Error)]
#[error("a sealed wallet row does not open with this wallet's key (another wallet's database, or damaged)")]
pub struct UnsealError;

impl StoreKey {
    /// The key of the wallet whose spending key is `sk`.
    pub fn derive(sk: &SpendingKey) -> Self {
        let mut hasher = Blake2b::<U32>::new();
        hasher.update(KEY_LABEL);
        hasher.update(m31s_to_le_bytes(&sk.0));
        Self(Zeroizing::new(hasher.finalize().into()))
    }

    /// A key for tests.
    #[cfg(test)]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The keyed tag of `data` in `domain` (a position, a commitment, a nullifier).
    pub fn tag(&self, domain: &[u8], data: &[u8]) -> Vec<u8> {
        let mut hasher = Blake2b::<U32>::new();
        hasher.update(self.0.as_ref());
        hasher.update([domain.len() as u8]);
        hasher.update(domain);
        hasher.update(data);
        hasher.finalize().to_vec()
    }

    /// `nonce ‖ XChaCha20-Poly1305(plaintext, ad)`.
    pub fn seal(&self, ad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new(self.0.as_ref().into());
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: ad,
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    /// Opens [`seal`](Self::seal)'s output under the same `ad`.
    pub fn open(&self, ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, UnsealError> {
        if sealed.len() < NONCE_LEN {
            return Err(UnsealError);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        XChaCha20Poly1305::new(self.0.as_ref().into())
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: ad })
            .map_err(|_| UnsealError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_opens_only_with_its_key_and_tag() {
        let key = StoreKey::from_bytes([1; 32]);
        let sealed = key.seal(b"row 1", b"a note");
        assert_eq!(key.open(b"row 1", &sealed).unwrap(), b"a note");
        assert!(key.open(b"row 2", &sealed).is_err(), "moved to another row");
        assert!(StoreKey::from_bytes([2; 32])
            .open(b"row 1", &sealed)
            .is_err());
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert!(key.open(b"row 1", &flipped).is_err());
        assert!(key.open(b"row 1", &sealed[..10]).is_err());
        assert_ne!(key.seal(b"row 1", b"a note"), sealed, "fresh nonce");
        assert_ne!(key.tag(b"position", b"1"), key.tag(b"nullifier", b"1"));
        assert_ne!(key.tag(b"position", b"1"), key.tag(b"position", b"2"));
    }
}
