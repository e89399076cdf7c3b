//! Note encryption to a recipient's [`EncryptionPublicKey`], one fresh key agreement per note.
//!
//! ```text
//! sender:    e ← random X25519 scalar,  E = e·G
//!            k = BLAKE2b-256("vm31.memo.kdf.v1" ‖ X25519(e, pk_enc) ‖ E ‖ pk_enc)
//!            body = ChaCha20-Poly1305(k, nonce = 0, note plaintext)
//! recipient: k = BLAKE2b-256("vm31.memo.kdf.v1" ‖ X25519(sk_enc, E) ‖ E ‖ pk_enc), open body
//! ```
//!
//! Every note has its own ephemeral key, so the AEAD key is used once and the zero nonce is safe,
//! and a sender can read only the notes it sent itself (unlike a scheme keyed by the recipient's
//! viewing key, where every sender can read every note of that recipient). Small-order
//! recipient or ephemeral keys (an all-zero shared secret) are refused.
//!
//! The plaintext is the note in 60 bytes, little-endian: owner public key (8 × u32), asset id
//! (u32), amount (u64), blinding (4 × u32). Decryption rejects non-canonical field elements. A
//! wallet should also check that the decrypted note's owner is its own public key and that its
//! commitment is on chain before counting it.
//!
//! [`ciphertext_hash`] maps a ciphertext to 8 field elements for transaction public inputs.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest as _};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::M31;
use x25519_dalek::{EphemeralSecret, PublicKey as X25519Public, SharedSecret};

use crate::canonical::m31_from_u32;
use crate::error::Error;
use crate::keys::{EncryptionPublicKey, EncryptionSecretKey, PublicKey};
use crate::note::{Note, BLINDING_LEN};
use crate::sponge::{hash, Digest, Domain, DIGEST_LEN};

const KDF_LABEL: &[u8; 16] = b"vm31.memo.kdf.v1";
/// Bytes of an encoded note.
pub const NOTE_PLAINTEXT_LEN: usize = 4 * DIGEST_LEN + 4 + 8 + 4 * BLINDING_LEN;
/// Bytes of the Poly1305 tag.
const TAG_LEN: usize = 16;
/// Bytes of a ciphertext body.
pub const CIPHERTEXT_BODY_LEN: usize = NOTE_PLAINTEXT_LEN + TAG_LEN;

/// An encrypted note: the sender's ephemeral X25519 public key and the AEAD output.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ciphertext {
    pub ephemeral_key: [u8; 32],
    pub body: Vec<u8>,
}

/// Encrypts `note` to `recipient`.
pub fn encrypt<R: RngCore + CryptoRng>(
    note: &Note,
    recipient: &EncryptionPublicKey,
    rng: &mut R,
) -> Result<Ciphertext, Error> {
    let ephemeral = EphemeralSecret::random_from_rng(rng);
    let ephemeral_key = X25519Public::from(&ephemeral).to_bytes();
    let shared = ephemeral.diffie_hellman(&X25519Public::from(recipient.0));
    if !shared.was_contributory() {
        return Err(Error::LowOrderEncryptionKey);
    }
    let cipher = cipher(&shared, &ephemeral_key, recipient);
    let body = cipher
        .encrypt(&Nonce::default(), encode_note(note).as_slice())
        .map_err(|_| Error::AeadFailure)?;
    Ok(Ciphertext {
        ephemeral_key,
        body,
    })
}

/// Opens `ciphertext` with `key`; `None` if it was not encrypted to `key`, was altered, or does
/// not hold a well-formed note. Never panics.
pub fn try_decrypt(ciphertext: &Ciphertext, key: &EncryptionSecretKey) -> Option<Note> {
    if ciphertext.body.len() != CIPHERTEXT_BODY_LEN {
        return None;
    }
    let shared = key
        .secret
        .diffie_hellman(&X25519Public::from(ciphertext.ephemeral_key));
    if !shared.was_contributory() {
        return None;
    }
    let cipher = cipher(&shared, &ciphertext.ephemeral_key, &key.public);
    let plaintext = cipher
        .decrypt(&Nonce::default(), ciphertext.body.as_slice())
        .ok()?;
    decode_note(&plaintext)
}

/// `hash(CIPHERTEXT, [len mod 2^30, len >> 30] ‖ 3-byte little-endian limbs of
/// (ephemeral key ‖ body))`, `len` being the byte length. Limbs of 24 bits are always canonical;
/// the explicit length makes the zero-padded last limb unambiguous.
pub fn ciphertext_hash(ciphertext: &Ciphertext) -> Digest {
    let bytes: Vec<u8> = ciphertext
        .ephemeral_key
        .iter()
        .chain(&ciphertext.body)
        .copied()
        .collect();
    let len = bytes.len() as u64;
    let mut input = Vec::with_capacity(2 + bytes.len().div_ceil(3));
    input.push(M31((len & ((1 << 30) - 1)) as u32));
    input.push(M31((len >> 30) as u32));
    for chunk in bytes.chunks(3) {
        let mut limb = [0u8; 4];
        limb[..chunk.len()].copy_from_slice(chunk);
        input.push(M31(u32::from_le_bytes(limb)));
    }
    hash(Domain::CIPHERTEXT, &input)
}

fn cipher(
    shared: &SharedSecret,
    ephemeral_key: &[u8; 32],
    recipient: &EncryptionPublicKey,
) -> ChaCha20Poly1305 {
    let mut kdf = Blake2b::<U32>::new();
    kdf.update(KDF_LABEL);
    kdf.update(shared.as_bytes());
    kdf.update(ephemeral_key);
    kdf.update(recipient.0);
    let key: [u8; 32] = kdf.finalize().into();
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

fn encode_note(note: &Note) -> [u8; NOTE_PLAINTEXT_LEN] {
    let mut out = [0u8; NOTE_PLAINTEXT_LEN];
    let words = note.owner.0.iter().chain([&note.asset_id]).map(|x| x.0);
    let mut offset = 0;
    for w in words {
        out[offset..offset + 4].copy_from_slice(&w.to_le_bytes());
        offset += 4;
    }
    out[offset..offset + 8].copy_from_slice(&note.amount.to_le_bytes());
    offset += 8;
    for b in &note.blinding {
        out[offset..offset + 4].copy_from_slice(&b.0.to_le_bytes());
        offset += 4;
    }
    out
}

fn decode_note(bytes: &[u8]) -> Option<Note> {
    if bytes.len() != NOTE_PLAINTEXT_LEN {
        return None;
    }
    let word = |i: usize| -> Option<M31> {
        let b: [u8; 4] = bytes.get(i..i + 4)?.try_into().ok()?;
        m31_from_u32(u32::from_le_bytes(b)).ok()
    };
    let mut owner = [M31(0); DIGEST_LEN];
    for (i, x) in owner.iter_mut().enumerate() {
        *x = word(4 * i)?;
    }
    let asset_id = word(4 * DIGEST_LEN)?;
    let amount_at = 4 * DIGEST_LEN + 4;
    let amount = u64::from_le_bytes(bytes.get(amount_at..amount_at + 8)?.try_into().ok()?);
    let mut blinding = [M31(0); BLINDING_LEN];
    for (i, x) in blinding.iter_mut().enumerate() {
        *x = word(amount_at + 8 + 4 * i)?;
    }
    Some(Note {
        owner: PublicKey(owner),
        asset_id,
        amount,
        blinding,
    })
}

#[cfg(test)]
mod tests;
