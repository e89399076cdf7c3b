use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::Value;

use super::*;

fn secrets() -> WalletSecrets {
    WalletSecrets {
        mnemonic: "abandon ".repeat(23) + "art",
        birthday: 42,
    }
}

fn created() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    create(
        dir.path(),
        b"hunter2",
        &secrets(),
        KdfParams::INSECURE_TEST,
        &mut rng,
    )
    .unwrap();
    dir
}

type Edit = fn(&mut Value);

fn edit(dir: &Path, change: impl FnOnce(&mut Value)) {
    let mut value: Value = serde_json::from_slice(&fs::read(path(dir)).unwrap()).unwrap();
    change(&mut value);
    fs::write(path(dir), serde_json::to_vec(&value).unwrap()).unwrap();
}

#[test]
fn round_trip_works() {
    let dir = created();
    assert_eq!(open(dir.path(), b"hunter2").unwrap(), secrets());
    assert_eq!(kdf_params(dir.path()).unwrap(), KdfParams::INSECURE_TEST);
    let value: Value = serde_json::from_slice(&fs::read(path(dir.path())).unwrap()).unwrap();
    assert_eq!(value["format"], "vm31-wallet");
    assert_eq!(value["kdf"]["alg"], "argon2id");
    assert_eq!(value["kdf"]["v"], 19);
    assert_eq!(value["kdf"]["salt"].as_str().unwrap().len(), 32);
    assert_eq!(value["nonce"].as_str().unwrap().len(), 48);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(path(dir.path())).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // No temporary file is left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn default_params_work() {
    assert_eq!(
        KdfParams::default(),
        KdfParams {
            m_kib: 65536,
            t: 3,
            p: 4
        }
    );
    KdfParams::default().check().unwrap();
    assert!(!KdfParams::default().is_weak());
    assert!(KdfParams::INSECURE_TEST.is_weak());
}

#[test]
fn wrong_password_fails() {
    let dir = created();
    let err = open(dir.path(), b"hunter3").unwrap_err();
    assert!(matches!(err, KeyFileError::WrongPassword));
    assert_eq!(err.to_string(), "wrong password (or damaged wallet file)");
}

#[test]
fn existing_file_is_not_replaced() {
    let dir = created();
    let before = fs::read(path(dir.path())).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let err = create(
        dir.path(),
        b"other",
        &secrets(),
        KdfParams::INSECURE_TEST,
        &mut rng,
    )
    .unwrap_err();
    assert!(matches!(err, KeyFileError::AlreadyExists { .. }));
    assert_eq!(fs::read(path(dir.path())).unwrap(), before);
}

#[test]
fn missing_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        open(dir.path(), b"x"),
        Err(KeyFileError::NotFound { .. })
    ));
}

#[test]
fn tampered_header_fails() {
    // Each edit keeps the file well-formed and the parameters in range: only the tag catches it.
    let edits: [(&str, Edit); 4] = [
        ("m_kib", |v| v["kdf"]["m_kib"] = 32.into()),
        ("t", |v| v["kdf"]["t"] = 2.into()),
        ("salt", |v| v["kdf"]["salt"] = "00".repeat(16).into()),
        ("nonce", |v| v["nonce"] = "11".repeat(24).into()),
    ];
    for (name, change) in edits {
        let dir = created();
        edit(dir.path(), change);
        assert!(
            matches!(
                open(dir.path(), b"hunter2"),
                Err(KeyFileError::WrongPassword)
            ),
            "{name}"
        );
    }
    // Upper-case hex is the same header canonically and still opens.
    let dir = created();
    edit(dir.path(), |v| {
        let salt = v["kdf"]["salt"].as_str().unwrap().to_uppercase();
        v["kdf"]["salt"] = salt.into();
    });
    assert_eq!(open(dir.path(), b"hunter2").unwrap(), secrets());
}

#[test]
fn out_of_range_params_fail_before_kdf() {
    let cases: [Edit; 4] = [
        |v| v["kdf"]["m_kib"] = (MAX_M_KIB as u64 + 1).into(),
        |v| v["kdf"]["t"] = 65.into(),
        |v| v["kdf"]["t"] = 0.into(),
        |v| v["kdf"]["p"] = 0.into(),
    ];
    for change in cases {
        let dir = created();
        edit(dir.path(), change);
        assert!(matches!(
            open(dir.path(), b"hunter2"),
            Err(KeyFileError::KdfParams { .. })
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let params = KdfParams {
        m_kib: 8,
        t: 1,
        p: 4,
    };
    assert!(matches!(
        create(dir.path(), b"x", &secrets(), params, &mut rng),
        Err(KeyFileError::KdfParams { .. })
    ));
}

#[test]
fn malformed_files_fail() {
    let dir = created();
    let good = fs::read(path(dir.path())).unwrap();
    let mut cases: Vec<Vec<u8>> = (0..good.len() - 1).map(|n| good[..n].to_vec()).collect();
    cases.push(b"\xff\xfe garbage".to_vec());
    cases.push(b"[]".to_vec());
    for bytes in cases {
        fs::write(path(dir.path()), &bytes).unwrap();
        let result = open(dir.path(), b"hunter2");
        assert!(
            matches!(result, Err(KeyFileError::Malformed { .. })),
            "{:?}: {result:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let edits: [Edit; 7] = [
        |v| v["format"] = "other".into(),
        |v| v["version"] = 2.into(),
        |v| v["kdf"]["alg"] = "argon2i".into(),
        |v| v["aead"] = "aes".into(),
        |v| v["nonce"] = "zz".into(),
        |v| v["ciphertext"] = "00".into(),
        |v| v["extra"] = 1.into(),
    ];
    for change in edits {
        fs::write(path(dir.path()), &good).unwrap();
        edit(dir.path(), change);
        let result = open(dir.path(), b"hunter2");
        assert!(
            matches!(result, Err(KeyFileError::Malformed { .. })),
            "{result:?}"
        );
    }
}

#[test]
fn secrets_debug_is_redacted() {
    assert!(!format!("{:?}", secrets()).contains("abandon"));
}
