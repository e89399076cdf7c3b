use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use stwo::core::fields::m31::P;

use super::*;
use crate::keys::SpendingKey;

fn setup() -> (ChaCha20Rng, SpendingKey, Note) {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let sk = SpendingKey::random(&mut rng);
    let note = Note::new(sk.public_key(), M31(9), u64::MAX - 5, &mut rng);
    (rng, sk, note)
}

#[test]
fn round_trip_works() {
    let (mut rng, sk, note) = setup();
    let address = sk.address();
    let ct = encrypt(&note, &address.encryption_key, &mut rng).unwrap();
    assert_eq!(ct.body.len(), CIPHERTEXT_BODY_LEN);
    let key = sk.viewing_key().encryption_secret_key();
    assert_eq!(try_decrypt(&ct, &key), Some(note));
    // A fresh ephemeral key per note: same note twice gives unrelated ciphertexts.
    let ct2 = encrypt(&note, &address.encryption_key, &mut rng).unwrap();
    assert_ne!(ct.ephemeral_key, ct2.ephemeral_key);
    assert_ne!(ct.body, ct2.body);
    assert_ne!(ciphertext_hash(&ct), ciphertext_hash(&ct2));
}

#[test]
fn wrong_key_fails() {
    let (mut rng, sk, note) = setup();
    let ct = encrypt(&note, &sk.address().encryption_key, &mut rng).unwrap();
    let other = SpendingKey::random(&mut rng)
        .viewing_key()
        .encryption_secret_key();
    assert_eq!(try_decrypt(&ct, &other), None);
    assert_eq!(
        try_decrypt(&ct, &EncryptionSecretKey::random(&mut rng)),
        None
    );
}

#[test]
fn tampered_ciphertext_fails() {
    let (mut rng, sk, note) = setup();
    let key = sk.viewing_key().encryption_secret_key();
    let ct = encrypt(&note, &key.public_key(), &mut rng).unwrap();
    for i in 0..ct.body.len() {
        let mut bad = ct.clone();
        bad.body[i] ^= 1;
        assert_eq!(try_decrypt(&bad, &key), None, "body byte {i}");
    }
    for i in [0, 17, 31] {
        let mut bad = ct.clone();
        bad.ephemeral_key[i] ^= 0x40;
        assert_eq!(try_decrypt(&bad, &key), None, "key byte {i}");
    }
    let mut short = ct.clone();
    short.body.pop();
    assert_eq!(try_decrypt(&short, &key), None);
    let mut long = ct;
    long.body.push(0);
    assert_eq!(try_decrypt(&long, &key), None);
}

#[test]
fn small_order_keys_fail() {
    let (mut rng, sk, note) = setup();
    // 0 and 1 are small-order points on Curve25519's Montgomery form.
    for point in [[0u8; 32], {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    }] {
        assert_eq!(
            encrypt(&note, &EncryptionPublicKey(point), &mut rng),
            Err(Error::LowOrderEncryptionKey)
        );
        let key = sk.viewing_key().encryption_secret_key();
        let ct = Ciphertext {
            ephemeral_key: point,
            body: vec![0; CIPHERTEXT_BODY_LEN],
        };
        assert_eq!(try_decrypt(&ct, &key), None);
    }
}

#[test]
fn non_canonical_plaintext_fails() {
    let (_, _, note) = setup();
    let mut bytes = encode_note(&note);
    assert_eq!(decode_note(&bytes), Some(note));
    bytes[0..4].copy_from_slice(&P.to_le_bytes());
    assert_eq!(decode_note(&bytes), None);
    assert_eq!(decode_note(&bytes[1..]), None);
}

#[test]
fn ciphertext_hash_binds_everything() {
    let (mut rng, sk, note) = setup();
    let ct = encrypt(&note, &sk.address().encryption_key, &mut rng).unwrap();
    let h = ciphertext_hash(&ct);
    let mut a = ct.clone();
    a.body[40] ^= 1;
    let mut b = ct.clone();
    b.ephemeral_key[3] ^= 1;
    let mut c = ct.clone();
    c.body.push(0);
    for other in [a, b, c] {
        assert_ne!(ciphertext_hash(&other), h);
    }
    // Zero padding of the last limb does not collide with an explicit zero byte.
    let short = Ciphertext {
        ephemeral_key: [0; 32],
        body: vec![1],
    };
    let padded = Ciphertext {
        ephemeral_key: [0; 32],
        body: vec![1, 0],
    };
    assert_ne!(ciphertext_hash(&short), ciphertext_hash(&padded));
}

#[test]
fn serde_round_trip_works() {
    let (mut rng, sk, note) = setup();
    let ct = encrypt(&note, &sk.address().encryption_key, &mut rng).unwrap();
    let back: Ciphertext = bincode::deserialize(&bincode::serialize(&ct).unwrap()).unwrap();
    assert_eq!(back, ct);
}

/// Trial decryption of notes meant for someone else, as a wallet scanning the chain does.
fn scan(n: usize) -> std::time::Duration {
    let (mut rng, sk, note) = setup();
    let other = SpendingKey::random(&mut rng).address().encryption_key;
    let cts: Vec<_> = (0..n)
        .map(|_| encrypt(&note, &other, &mut rng).unwrap())
        .collect();
    let key = sk.viewing_key().encryption_secret_key();
    let start = std::time::Instant::now();
    let found = cts
        .iter()
        .filter(|ct| try_decrypt(ct, &key).is_some())
        .count();
    let elapsed = start.elapsed();
    assert_eq!(found, 0);
    elapsed
}

#[test]
fn trial_decryption_scan_works() {
    scan(200);
}

/// `cargo test -p vm31 --release -- --ignored trial_decryption_10k`
#[test]
#[ignore = "timing; run in release"]
fn trial_decryption_10k_is_fast() {
    let elapsed = scan(10_000);
    println!("trial-decrypted 10000 notes in {elapsed:?}");
    assert!(elapsed < std::time::Duration::from_secs(1), "{elapsed:?}");
}
