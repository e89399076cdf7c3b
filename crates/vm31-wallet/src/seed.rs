//! The seed phrase: a 24-word BIP-39 English mnemonic (256 bits of entropy) is the whole backup
//! of a wallet. Its BIP-39 seed (empty passphrase) is stretched into a [`SpendingKey`] by
//! rejection sampling over BLAKE2b-512 blocks; the viewing and encryption keys follow from the
//! spending key as in [`vm31::keys`].

pub use bip39::Mnemonic;

use bip39::Language;
use blake2::{Blake2b512, Digest as _};
use rand::{CryptoRng, RngCore};
use stwo::core::fields::m31::{M31, P};
use thiserror::Error;
use vm31::SpendingKey;
use zeroize::Zeroizing;

/// Words of every mnemonic this wallet makes or accepts.
pub const MNEMONIC_WORDS: usize = 24;
/// Domain label of the spending-key derivation.
const SPENDING_KEY_LABEL: &[u8] = b"vm31.spending-key.v1";

/// Why a phrase is not a valid seed phrase.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SeedError {
    /// The phrase has another number of words than [`MNEMONIC_WORDS`].
    #[error("a seed phrase has {expected} words, this one has {got}")]
    WordCount { expected: usize, got: usize },
    /// A word outside the BIP-39 English list (`word` counts from 1).
    #[error("word {word} of the seed phrase is not in the BIP-39 English word list")]
    UnknownWord { word: usize },
    /// All words are known but the checksum does not match.
    #[error("seed phrase checksum mismatch: a word is wrong or out of order")]
    BadChecksum,
}

/// A fresh 24-word mnemonic from 256 bits of `rng`.
pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Mnemonic {
    let mut entropy = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(entropy.as_mut());
    // 32 bytes is a valid BIP-39 entropy length, so this cannot fail.
    match Mnemonic::from_entropy_in(Language::English, entropy.as_ref()) {
        Ok(mnemonic) => mnemonic,
        Err(e) => unreachable!("256-bit entropy is valid BIP-39 entropy: {e}"),
    }
}

/// Parses a 24-word English mnemonic (any whitespace, any letter case) and checks its checksum.
pub fn parse(phrase: &str) -> Result<Mnemonic, SeedError> {
    let normalized = Zeroizing::new(
        phrase
            .split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" "),
    );
    let got = normalized.split_whitespace().count();
    if got != MNEMONIC_WORDS {
        return Err(SeedError::WordCount {
            expected: MNEMONIC_WORDS,
            got,
        });
    }
    Mnemonic::parse_in_normalized(Language::English, &normalized).map_err(|e| match e {
        bip39::Error::UnknownWord(index) => SeedError::UnknownWord { word: index + 1 },
        bip39::Error::BadWordCount(got) => SeedError::WordCount {
            expected: MNEMONIC_WORDS,
            got,
        },
        _ => SeedError::BadChecksum,
    })
}

/// The BIP-39 seed of `mnemonic` with the empty passphrase.
pub fn seed(mnemonic: &Mnemonic) -> Zeroizing<[u8; 64]> {
    Zeroizing::new(mnemonic.to_seed_normalized(""))
}

/// The spending key of a wallet restored from `mnemonic`.
pub fn spending_key_from_mnemonic(mnemonic: &Mnemonic) -> SpendingKey {
    spending_key_from_seed(&seed(mnemonic))
}

/// `BLAKE2b-512("vm31.spending-key.v1" ‖ seed ‖ le32(counter))` for `counter = 0, 1, ...`, read
/// as little-endian 4-byte words, each shifted right by one bit and kept if `< p`, until 8
/// elements: uniform over M31^8.
pub fn spending_key_from_seed(seed: &[u8; 64]) -> SpendingKey {
    let mut elements = [M31(0); 8];
    let mut filled = 0;
    let mut counter = 0u32;
    while filled < elements.len() {
        let mut hasher = Blake2b512::new();
        hasher.update(SPENDING_KEY_LABEL);
        hasher.update(seed);
        hasher.update(counter.to_le_bytes());
        let block = Zeroizing::new(<[u8; 64]>::from(hasher.finalize()));
        for word in block.chunks_exact(4) {
            let value = u32::from_le_bytes([word[0], word[1], word[2], word[3]]) >> 1;
            if value < P && filled < elements.len() {
                elements[filled] = M31(value);
                filled += 1;
            }
        }
        counter += 1;
    }
    SpendingKey(elements)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    /// BIP-39's all-`abandon` vector for 256 bits of zero entropy.
    const ZERO_PHRASE: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
        abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
        abandon abandon abandon abandon art";

    fn key_hex(key: &SpendingKey) -> String {
        hex::encode(vm31::canonical::m31s_to_le_bytes(&key.0))
    }

    #[test]
    fn spending_key_from_seed_is_pinned() {
        let mnemonic = parse(ZERO_PHRASE).unwrap();
        assert_eq!(mnemonic.to_entropy(), vec![0u8; 32]);
        // The BIP-39 reference seed of this phrase with the empty passphrase.
        assert_eq!(
            hex::encode(seed(&mnemonic).as_ref()),
            PINNED_SEED,
            "BIP-39 seed"
        );
        let key = spending_key_from_mnemonic(&mnemonic);
        assert_eq!(key_hex(&key), PINNED_KEY);
    }

    const PINNED_SEED: &str = "408b285c123836004f4b8842c89324c1f01382450c0d439af345ba7fc49acf70\
        5489c6fc77dbd4e3dc1dd8cc6bc9f043db8ada1e243c4a0eafb290d399480840";
    /// Cross-checked with an independent Python implementation (hashlib).
    const PINNED_KEY: &str = "2666350f2ff9f466d9d5166d84685147d3a5aa3dcccb3263f7ffe951bb94fc10";

    #[test]
    fn generate_round_trips_through_parse() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mnemonic = generate(&mut rng);
        assert_eq!(mnemonic.word_count(), MNEMONIC_WORDS);
        let phrase = mnemonic.to_string();
        assert_eq!(parse(&phrase).unwrap(), mnemonic);
        let shouted = format!("  {}\n", phrase.to_uppercase().replace(' ', "\t "));
        assert_eq!(parse(&shouted).unwrap(), mnemonic);
    }

    #[test]
    fn distinct_seeds_give_distinct_keys() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let keys: Vec<String> = (0..16)
            .map(|_| key_hex(&spending_key_from_mnemonic(&generate(&mut rng))))
            .collect();
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let mut seed = [7u8; 64];
        let a = spending_key_from_seed(&seed);
        seed[63] ^= 1;
        assert!(a != spending_key_from_seed(&seed));
    }

    #[test]
    fn invalid_phrases_fail() {
        let swapped = ZERO_PHRASE.replace("art", "abandon");
        assert_eq!(parse(&swapped), Err(SeedError::BadChecksum));
        let typo = ZERO_PHRASE.replacen("abandon", "abandom", 3);
        assert_eq!(parse(&typo), Err(SeedError::UnknownWord { word: 1 }));
        let short = ZERO_PHRASE.replacen("abandon ", "", 12);
        assert_eq!(
            parse(&short),
            Err(SeedError::WordCount {
                expected: 24,
                got: 12
            })
        );
        assert_eq!(
            parse(""),
            Err(SeedError::WordCount {
                expected: 24,
                got: 0
            })
        );
    }
}
