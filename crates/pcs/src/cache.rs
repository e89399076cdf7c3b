//! Persisting a [`CommittedPoly`] (e.g. a cache beside a model), so that loading skips the
//! FFT and Merkle hashing of a commit.
//!
//! Format (all integers little-endian `u32`; every shape is derived from `n` and the config,
//! so the file holds no lengths):
//!
//! | field | size |
//! |---|---|
//! | magic `b"STWOPCS\0"` | 8 bytes |
//! | version ([`CACHE_VERSION`]) | 4 |
//! | config: `log_blowup`, `n_queries`, `pow_bits`, `fold_arity_log`, `first_fold_arity_log` | 20 |
//! | `n` (number of variables) | 4 |
//! | evaluations | `4 * 2^n` |
//! | codeword, as the `2^a` Merkle columns (`a = min(first_fold_arity_log, n)`), column after column | `4 * 2^(n + log_blowup)` |
//! | Merkle tree layers, root layer first (`2^i` hashes in layer `i`, `i = 0 ..= n + log_blowup - a`) | `32 * (2^(n + log_blowup - a + 1) - 1)` |
//! | checksum | 32 |
//!
//! The checksum is the Blake2s hash of the concatenated Blake2s hashes of the consecutive
//! [`CHECKSUM_CHUNK`]-byte chunks of everything before it (the last chunk may be shorter), so
//! that both cores hash. Loading checks the checksum, the exact length, the config and that
//! every field element is canonical; any mismatch is a [`PcsError::Cache`].

use std::io::{Read, Write};

use rayon::prelude::*;
use stwo::core::fields::m31::{M31, P};
use stwo::core::vcs::blake2_hash::{Blake2sHash, Blake2sHasher};
use stwo::prover::backend::simd::column::BaseColumn;
use stwo::prover::backend::simd::m31::{PackedM31, N_LANES};

use crate::config::PcsConfig;
use crate::encode::{CommittedPoly, Tree};
use crate::error::PcsError;
use crate::fold::Schedule;

const MAGIC: &[u8; 8] = b"STWOPCS\0";
/// Version of the cache format.
pub const CACHE_VERSION: u32 = 1;
/// Chunk size of the two-level checksum.
pub const CHECKSUM_CHUNK: usize = 1 << 20;
const HEADER: usize = 8 + 4 + 20 + 4;
/// Elements per parallel conversion task.
const CONVERT: usize = 1 << 14;

fn checksum(body: &[u8]) -> [u8; 32] {
    let leaves: Vec<Blake2sHash> = body
        .par_chunks(CHECKSUM_CHUNK)
        .map(Blake2sHasher::hash)
        .collect();
    let mut h = Blake2sHasher::new();
    for l in &leaves {
        h.update(&l.0);
    }
    h.finalize().0
}

/// Sizes in bytes of the sections after the header.
struct Sizes {
    leaf_log: u32,
    log_rows: u32,
    evals: usize,
    columns: usize,
    tree: usize,
}

fn sizes(n: u32, config: &PcsConfig) -> Sizes {
    let leaf_log = Schedule::poly_leaf_log(n as usize, config);
    let log_rows = n + config.log_blowup - leaf_log;
    Sizes {
        leaf_log,
        log_rows,
        evals: 4 << n,
        columns: 4 << (n + config.log_blowup),
        tree: 32 * ((2usize << log_rows) - 1),
    }
}

fn put_m31s(dst: &mut [u8], src: &[M31]) {
    dst.par_chunks_mut(4 * CONVERT)
        .zip(src.par_chunks(CONVERT))
        .for_each(|(d, s)| {
            for (d4, v) in d.chunks_exact_mut(4).zip(s) {
                d4.copy_from_slice(&v.0.to_le_bytes());
            }
        });
}

fn get_m31s(src: &[u8]) -> Result<Vec<M31>, PcsError> {
    src.par_chunks_exact(4)
        .with_min_len(CONVERT)
        .map(|b| {
            let x = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            (x < P).then_some(M31::from_u32_unchecked(x))
        })
        .collect::<Option<Vec<M31>>>()
        .ok_or_else(|| PcsError::Cache("non-canonical field element".into()))
}

/// A column straight into packed form (no intermediate `Vec<M31>`).
fn get_column(src: &[u8]) -> Result<BaseColumn, PcsError> {
    let length = src.len() / 4;
    if !length.is_multiple_of(N_LANES) {
        return get_m31s(src).map(|v| BaseColumn::from_cpu(&v));
    }
    let data = src
        .par_chunks_exact(4 * N_LANES)
        .with_min_len(CONVERT / N_LANES)
        .map(|b| {
            let mut lanes = [M31::from_u32_unchecked(0); N_LANES];
            for (l, w) in lanes.iter_mut().zip(b.chunks_exact(4)) {
                let x = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                if x >= P {
                    return None;
                }
                *l = M31::from_u32_unchecked(x);
            }
            Some(PackedM31::from_array(lanes))
        })
        .collect::<Option<Vec<PackedM31>>>()
        .ok_or_else(|| PcsError::Cache("non-canonical field element".into()))?;
    Ok(BaseColumn { data, length })
}

fn cache_err(what: impl Into<String>) -> PcsError {
    PcsError::Cache(what.into())
}

impl CommittedPoly {
    /// Writes the committed polynomial (evaluations, codeword, Merkle tree) in the format
    /// described in the [`crate::cache`] module, followed by its checksum.
    pub fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        let n = self.n_variables as u32;
        let c = &self.config;
        let sz = sizes(n, c);
        let mut body = vec![0u8; HEADER + sz.evals + sz.columns + sz.tree];
        let header: Vec<u8> = [
            CACHE_VERSION,
            c.log_blowup,
            u32::try_from(c.n_queries).unwrap_or(u32::MAX),
            c.pow_bits,
            c.fold_arity_log,
            c.first_fold_arity_log,
            n,
        ]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
        body[..8].copy_from_slice(MAGIC);
        body[8..HEADER].copy_from_slice(&header);
        let (evals, rest) = body[HEADER..].split_at_mut(sz.evals);
        let (columns, tree) = rest.split_at_mut(sz.columns);
        put_m31s(evals, &self.evals);
        let col_bytes = 4usize << sz.log_rows;
        columns
            .par_chunks_mut(col_bytes)
            .zip(self.columns.par_iter())
            .for_each(|(d, col)| put_m31s(d, &col.as_slice()[..1 << sz.log_rows]));
        let mut off = 0;
        for layer in &self.tree.layers {
            for h in layer {
                tree[off..off + 32].copy_from_slice(&h.0);
                off += 32;
            }
        }
        if off != tree.len() || self.columns.len() != 1 << sz.leaf_log {
            return Err(std::io::Error::other("unexpected Merkle tree shape"));
        }
        let sum = checksum(&body);
        w.write_all(&body)?;
        w.write_all(&sum)?;
        w.flush()
    }

    /// Reads a committed polynomial written by [`CommittedPoly::write_to`]. Truncated,
    /// corrupted or otherwise invalid data gives [`PcsError::Cache`].
    pub fn read_from(r: &mut impl Read) -> Result<CommittedPoly, PcsError> {
        let io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => cache_err("truncated"),
            _ => cache_err(format!("read failed: {e}")),
        };
        let mut head = [0u8; HEADER];
        r.read_exact(&mut head).map_err(io)?;
        // The total size follows from the header; a corrupted header is caught by the
        // checksum (or by the size check below) once the data is read.
        let hw = |i: usize| {
            let o = 8 + 4 * i;
            u32::from_le_bytes([head[o], head[o + 1], head[o + 2], head[o + 3]])
        };
        let (blowup, n_hdr) = (hw(1), hw(6));
        if !(1..=8).contains(&blowup) || n_hdr > crate::config::MAX_LOG_CODEWORD - blowup {
            return Err(cache_err("invalid header"));
        }
        let first = hw(5).min(n_hdr);
        let log_rows = (n_hdr + blowup).saturating_sub(first);
        let total = HEADER
            + (4usize << n_hdr)
            + (4usize << (n_hdr + blowup))
            + 32 * ((2usize << log_rows) - 1)
            + 32;
        let mut data = vec![0u8; total];
        data[..HEADER].copy_from_slice(&head);
        r.read_exact(&mut data[HEADER..]).map_err(io)?;
        let mut extra = [0u8; 1];
        if r.read(&mut extra).map_err(io)? != 0 {
            return Err(cache_err("trailing data after the checksum"));
        }
        let (body, sum) = data.split_at(data.len() - 32);
        if &body[..8] != MAGIC {
            return Err(cache_err("not a committed-polynomial cache (bad magic)"));
        }
        if checksum(body).as_slice() != sum {
            return Err(cache_err("checksum mismatch (truncated or corrupted)"));
        }
        let word = |i: usize| {
            let o = 8 + 4 * i;
            u32::from_le_bytes([body[o], body[o + 1], body[o + 2], body[o + 3]])
        };
        if word(0) != CACHE_VERSION {
            return Err(cache_err(format!("unsupported version {}", word(0))));
        }
        let config = PcsConfig {
            log_blowup: word(1),
            n_queries: word(2) as usize,
            pow_bits: word(3),
            fold_arity_log: word(4),
            first_fold_arity_log: word(5),
        };
        config
            .validate()
            .map_err(|e| cache_err(format!("invalid config: {e}")))?;
        let n = word(6);
        if n > config.max_n_variables() {
            return Err(cache_err("too many variables for the config"));
        }
        let sz = sizes(n, &config);
        let expected = HEADER + sz.evals + sz.columns + sz.tree;
        if body.len() != expected {
            return Err(cache_err(format!(
                "wrong length: expected {expected} bytes before the checksum, got {}",
                body.len()
            )));
        }
        let (evals, rest) = body[HEADER..].split_at(sz.evals);
        let (columns, tree) = rest.split_at(sz.columns);
        let evals = get_m31s(evals)?;
        let columns = columns
            .par_chunks(4usize << sz.log_rows)
            .map(get_column)
            .collect::<Result<Vec<BaseColumn>, PcsError>>()?;
        let mut layers = Vec::with_capacity(sz.log_rows as usize + 1);
        let mut off = 0;
        for i in 0..=sz.log_rows {
            let len = 32usize << i;
            let layer: Vec<Blake2sHash> = tree[off..off + len]
                .chunks_exact(32)
                .map(|h| {
                    let mut a = [0u8; 32];
                    a.copy_from_slice(h);
                    Blake2sHash(a)
                })
                .collect();
            off += len;
            layers.push(layer);
        }
        Ok(CommittedPoly {
            evals,
            n_variables: n as usize,
            config,
            columns,
            tree: Tree { layers },
        })
    }
}
