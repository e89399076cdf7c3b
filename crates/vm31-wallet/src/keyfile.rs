//! The encrypted wallet file, `DIR/wallet.json`:
//!
//! ```text
//! {"format":"vm31-wallet","version":1,
//!  "kdf":{"alg":"argon2id","v":19,"m_kib":65536,"t":3,"p":4,"salt":hex16},
//!  "aead":"xchacha20poly1305","nonce":hex24,"ciphertext":hex}
//! ```
//!
//! Argon2id turns the password into a 32-byte key; XChaCha20-Poly1305 seals the JSON of
//! [`WalletSecrets`] with the header (every field but `ciphertext`, re-serialised canonically
//! from the parsed values) as associated data, so lowering the KDF cost in the file breaks the
//! tag. Parameters beyond [`MAX_M_KIB`] / [`MAX_T`] are refused before any work is done. The
//! file is written once, atomically (temporary file, fsync, no-clobber rename), mode 0600.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Name of the key file inside the wallet directory.
pub const FILE_NAME: &str = "wallet.json";
/// Largest Argon2 memory accepted when opening: 4 GiB.
pub const MAX_M_KIB: u32 = 4 * 1024 * 1024;
/// Largest Argon2 pass count accepted when opening.
pub const MAX_T: u32 = 64;
/// Largest Argon2 lane count accepted.
pub const MAX_P: u32 = 255;
/// Below this memory (19 MiB, OWASP's floor for Argon2id) a front end should warn.
pub const WEAK_M_KIB: u32 = 19 * 1024;

const FORMAT: &str = "vm31-wallet";
const VERSION: u32 = 1;
const KDF_ALG: &str = "argon2id";
const ARGON2_VERSION: u32 = 0x13;
const AEAD: &str = "xchacha20poly1305";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Errors of creating or opening a key file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The tag did not verify: the password is wrong or the file was changed.
    #[error("wrong password (or damaged wallet file)")]
    WrongPassword,
    #[error("no wallet file at {}", path.display())]
    NotFound { path: PathBuf },
    #[error("a wallet file already exists at {}", path.display())]
    AlreadyExists { path: PathBuf },
    /// The file is not a wallet file of this version.
    #[error("malformed wallet file: {what}")]
    Malformed { what: String },
    /// Argon2 parameters out of the accepted range.
    #[error(
        "Argon2 parameters m = {m_kib} KiB, t = {t}, p = {p} out of range \
         (8p <= m <= {MAX_M_KIB} KiB, 1 <= t <= {MAX_T}, 1 <= p <= {MAX_P})"
    )]
    KdfParams { m_kib: u32, t: u32, p: u32 },
    #[error("wallet file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    /// RFC 9106's second recommended setting: 64 MiB, 3 passes, 4 lanes.
    fn default() -> Self {
        Self {
            m_kib: 64 * 1024,
            t: 3,
            p: 4,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests only (64 KiB, one pass): offer no protection.
    pub const INSECURE_TEST: Self = Self {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    /// Checks the accepted range.
    pub fn check(&self) -> Result<(), KeyFileError> {
        let ok = (1..=MAX_P).contains(&self.p)
            && (1..=MAX_T).contains(&self.t)
            && self.m_kib <= MAX_M_KIB
            && self.m_kib >= 8 * self.p;
        if ok {
            Ok(())
        } else {
            Err(KeyFileError::KdfParams {
                m_kib: self.m_kib,
                t: self.t,
                p: self.p,
            })
        }
    }

    /// Below [`WEAK_M_KIB`].
    pub fn is_weak(&self) -> bool {
        self.m_kib < WEAK_M_KIB
    }
}

/// What the key file protects.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct WalletSecrets {
    /// The BIP-39 seed phrase, words separated by single spaces.
    pub mnemonic: String,
    /// Leaf index before which the wallet can own no note (0 for restored wallets).
    pub birthday: u64,
}

impl std::fmt::Debug for WalletSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletSecrets")
            .field("mnemonic", &"<redacted>")
            .field("birthday", &self.birthday)
            .finish()
    }
}

/// The path of the key file in `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Encrypts `secrets` under `password` into a new `DIR/wallet.json` (creating `DIR`, mode 0700
/// on unix, if needed). Refuses to replace an existing file.
pub fn create<R: RngCore + CryptoRng>(
    dir: &Path,
    password: &[u8],
    secrets: &WalletSecrets,
    params: KdfParams,
    rng: &mut R,
) -> Result<(), KeyFileError> {
    params.check()?;
    let path = path(dir);
    if path.exists() {
        return Err(KeyFileError::AlreadyExists { path });
    }
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut nonce);
    let kdf = KdfHeader::new(params, &salt);
    let aad = header_bytes(&kdf, &nonce);
    let key = derive_key(password, &salt, params)?;
    let plaintext = Zeroizing::new(
        serde_json::to_vec(secrets).map_err(|e| malformed(format!("secrets: {e}")))?,
    );
    let ciphertext = XChaCha20Poly1305::new(key.as_ref().into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| malformed("encryption failed".into()))?;
    let file = WalletFile {
        format: FORMAT.into(),
        version: VERSION,
        kdf,
        aead: AEAD.into(),
        nonce: hex::encode(nonce),
        ciphertext: hex::encode(ciphertext),
    };
    let mut text = serde_json::to_vec(&file).map_err(|e| malformed(e.to_string()))?;
    text.push(b'\n');
    write_new(dir, &path, &text)
}

/// Decrypts `DIR/wallet.json` with `password`.
pub fn open(dir: &Path, password: &[u8]) -> Result<WalletSecrets, KeyFileError> {
    let (file, params) = read(dir)?;
    let salt: [u8; SALT_LEN] = decode_hex(&file.kdf.salt, "kdf.salt")?;
    let nonce: [u8; NONCE_LEN] = decode_hex(&file.nonce, "nonce")?;
    let ciphertext = hex::decode(&file.ciphertext)
        .map_err(|e| malformed(format!("ciphertext is not hex: {e}")))?;
    if ciphertext.len() < TAG_LEN {
        return Err(malformed("ciphertext shorter than its tag".into()));
    }
    let aad = header_bytes(&KdfHeader::new(params, &salt), &nonce);
    let key = derive_key(password, &salt, params)?;
    let plaintext = Zeroizing::new(
        XChaCha20Poly1305::new(key.as_ref().into())
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyFileError::WrongPassword)?,
    );
    // The parser's message could quote the plaintext; keep it out of the error.
    serde_json::from_slice(&plaintext)
        .map_err(|_| malformed("decrypted secrets are not of the expected form".into()))
}

/// The KDF parameters of `DIR/wallet.json`, checked, without decrypting (to warn about weak
/// ones before asking for the password).
pub fn kdf_params(dir: &Path) -> Result<KdfParams, KeyFileError> {
    read(dir).map(|(_, params)| params)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WalletFile {
    format: String,
    version: u32,
    kdf: KdfHeader,
    aead: String,
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfHeader {
    alg: String,
    v: u32,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
}

/// The authenticated header: [`WalletFile`] without the ciphertext.
#[derive(Serialize)]
struct Header<'a> {
    format: &'a str,
    version: u32,
    kdf: &'a KdfHeader,
    aead: &'a str,
    nonce: String,
}

impl KdfHeader {
    fn new(params: KdfParams, salt: &[u8; SALT_LEN]) -> Self {
        Self {
            alg: KDF_ALG.into(),
            v: ARGON2_VERSION,
            m_kib: params.m_kib,
            t: params.t,
            p: params.p,
            salt: hex::encode(salt),
        }
    }
}

/// Canonical bytes of the header: built from typed values, hex in lower case.
fn header_bytes(kdf: &KdfHeader, nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    let header = Header {
        format: FORMAT,
        version: VERSION,
        kdf,
        aead: AEAD,
        nonce: hex::encode(nonce),
    };
    // Serialising plain strings and integers to a Vec cannot fail.
    serde_json::to_vec(&header).unwrap_or_default()
}

fn read(dir: &Path) -> Result<(WalletFile, KdfParams), KeyFileError> {
    let path = path(dir);
    let bytes = fs::read(&path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => KeyFileError::NotFound { path: path.clone() },
        _ => KeyFileError::Io {
            path: path.clone(),
            source,
        },
    })?;
    let file: WalletFile = serde_json::from_slice(&bytes)
        .map_err(|e| malformed(format!("not a vm31 wallet file ({e})")))?;
    expect("format", &file.format, FORMAT)?;
    if file.version != VERSION {
        return Err(malformed(format!(
            "version {} (this build reads version {VERSION})",
            file.version
        )));
    }
    expect("kdf.alg", &file.kdf.alg, KDF_ALG)?;
    if file.kdf.v != ARGON2_VERSION {
        return Err(malformed(format!("Argon2 version {}", file.kdf.v)));
    }
    expect("aead", &file.aead, AEAD)?;
    let params = KdfParams {
        m_kib: file.kdf.m_kib,
        t: file.kdf.t,
        p: file.kdf.p,
    };
    params.check()?;
    Ok((file, params))
}

fn expect(field: &str, got: &str, want: &str) -> Result<(), KeyFileError> {
    if got == want {
        Ok(())
    } else {
        Err(malformed(format!("{field} is {got:?}, expected {want:?}")))
    }
}

fn decode_hex<const N: usize>(text: &str, field: &str) -> Result<[u8; N], KeyFileError> {
    let bytes = hex::decode(text).map_err(|e| malformed(format!("{field} is not hex: {e}")))?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| malformed(format!("{field} has {} bytes, expected {N}", bytes.len())))
}

fn malformed(what: String) -> KeyFileError {
    KeyFileError::Malformed { what }
}

fn derive_key(
    password: &[u8],
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let bad_params = |_| KeyFileError::KdfParams {
        m_kib: params.m_kib,
        t: params.t,
        p: params.p,
    };
    let argon2_params =
        Params::new(params.m_kib, params.t, params.p, Some(32)).map_err(bad_params)?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params)
        .hash_password_into(password, salt, key.as_mut())
        .map_err(bad_params)?;
    Ok(key)
}

/// Writes `bytes` to `path` only if nothing is there: temporary file in `dir`, mode 0600,
/// fsync, hard-link rename that refuses to clobber, fsync of the directory.
fn write_new(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), KeyFileError> {
    let io_err = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    create_private_dir(dir).map_err(io_err)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".wallet.json.")
        .tempfile_in(dir)
        .map_err(io_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io_err)?;
    }
    tmp.write_all(bytes).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist_noclobber(path)
        .map_err(|e| match e.error.kind() {
            io::ErrorKind::AlreadyExists => KeyFileError::AlreadyExists {
                path: path.to_path_buf(),
            },
            _ => io_err(e.error),
        })?;
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err)?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
#[path = "keyfile_tests.rs"]
mod tests;
