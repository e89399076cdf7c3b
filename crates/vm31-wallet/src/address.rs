//! Payment addresses as text: `vm31` followed by 136 hex digits, the public key (8 × u32 LE), the
//! X25519 encryption key and a 4-byte BLAKE2b checksum of both.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest as _};
use vm31::canonical::m31_from_u32;
use vm31::{Address, EncryptionPublicKey, PublicKey};

const PREFIX: &str = "vm31";
const BODY_LEN: usize = 64;

/// Why a text is not an address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("an address starts with \"vm31\" and has 136 hex digits after it")]
    Shape,
    #[error("address checksum does not match (mistyped?)")]
    Checksum,
    #[error("address holds a key element that is not below p")]
    NonCanonical,
}

fn checksum(body: &[u8]) -> [u8; 4] {
    let digest: [u8; 32] = Blake2b::<U32>::new()
        .chain_update(b"vm31.address.v1")
        .chain_update(body)
        .finalize()
        .into();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The text form of `address`.
pub fn encode(address: &Address) -> String {
    let mut body: Vec<u8> = address
        .public_key
        .0
        .iter()
        .flat_map(|x| x.0.to_le_bytes())
        .collect();
    body.extend(address.encryption_key.0);
    let sum = checksum(&body);
    body.extend(sum);
    format!("{PREFIX}{}", hex::encode(body))
}

/// Parses [`encode`]'s output, checking the checksum and every element.
pub fn decode(text: &str) -> Result<Address, AddressError> {
    let hex_part = text
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(AddressError::Shape)?;
    let bytes = hex::decode(hex_part).map_err(|_| AddressError::Shape)?;
    if bytes.len() != BODY_LEN + 4 {
        return Err(AddressError::Shape);
    }
    let (body, sum) = bytes.split_at(BODY_LEN);
    if checksum(body) != sum {
        return Err(AddressError::Checksum);
    }
    let mut pk = vm31::merkle::EMPTY_LEAF;
    for (x, chunk) in pk.iter_mut().zip(body[..32].chunks(4)) {
        let v = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        *x = m31_from_u32(v).map_err(|_| AddressError::NonCanonical)?;
    }
    let mut epk = [0u8; 32];
    epk.copy_from_slice(&body[32..]);
    Ok(Address {
        public_key: PublicKey(pk),
        encryption_key: EncryptionPublicKey(epk),
    })
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let sk = vm31::SpendingKey::random(&mut ChaCha20Rng::seed_from_u64(1));
        let address = sk.address();
        let text = encode(&address);
        assert_eq!(text.len(), 4 + 2 * (BODY_LEN + 4));
        assert_eq!(decode(&text).unwrap(), address);
        let mut typo = text.clone().into_bytes();
        typo[10] = if typo[10] == b'0' { b'1' } else { b'0' };
        let typo = String::from_utf8(typo).unwrap();
        assert_eq!(decode(&typo), Err(AddressError::Checksum));
        assert_eq!(decode("vm31abc"), Err(AddressError::Shape));
        assert_eq!(decode(&text[4..]), Err(AddressError::Shape));
    }
}
