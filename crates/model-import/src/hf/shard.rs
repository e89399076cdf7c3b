//! One `.safetensors` file: an 8-byte little-endian header length `n`, `n` bytes of JSON
//! (`name -> {dtype, shape, data_offsets}`), then the tensor bytes.
//!
//! Opening reads and checks the header only: the safetensors crate's `Metadata` validates the
//! offsets (contiguous, each tensor's byte length equal to its shape times its dtype width),
//! and we check that header and data together are exactly the file's length, so a truncated
//! file or a header that points past the end is refused before any tensor is read. Tensors
//! are then read one at a time, in fixed-size chunks through positioned reads: memory holds
//! one chunk of raw bytes, never a whole file or tensor of them.
//!
//! We read with `seek` + `read_exact` rather than a memory map: `memmap2::Mmap::map` is
//! `unsafe` (the map is undefined behaviour if the file changes underneath), which the
//! workspace forbids, and mapped pages that were read would count towards the resident set.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use safetensors::tensor::{Metadata, TensorInfo};

use super::HfError;

/// Largest header we accept (the safetensors crate's own limit).
pub const MAX_HEADER_LEN: u64 = 100_000_000;
/// Bytes per positioned read; a multiple of every dtype width.
pub const CHUNK: usize = 1 << 20;

/// An open `.safetensors` file with a checked header.
#[derive(Debug)]
pub struct Shard {
    pub path: PathBuf,
    file: File,
    /// Offset of the data section (`8 + n`).
    data_start: u64,
    pub tensors: HashMap<String, TensorInfo>,
}

impl Shard {
    /// Opens `path` and checks its header against the file's length.
    pub fn open(path: &Path) -> Result<Self, HfError> {
        let io = |source| HfError::Io {
            path: path.into(),
            source,
        };
        let header_err = |detail: String| HfError::Header {
            file: path.into(),
            detail,
        };
        let mut file = File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        if file_len < 8 {
            return Err(header_err(format!(
                "{file_len} bytes, shorter than the 8-byte header length"
            )));
        }
        let mut len_bytes = [0u8; 8];
        file.read_exact(&mut len_bytes).map_err(io)?;
        let n = u64::from_le_bytes(len_bytes);
        if n > MAX_HEADER_LEN || n > file_len - 8 {
            return Err(header_err(format!(
                "header length {n} exceeds the file ({file_len} bytes) or the {MAX_HEADER_LEN}-byte limit"
            )));
        }
        // n <= MAX_HEADER_LEN fits in usize.
        let mut header = vec![0u8; n as usize];
        file.read_exact(&mut header).map_err(io)?;
        let metadata: Metadata =
            serde_json::from_slice(&header).map_err(|e| header_err(e.to_string()))?;
        let expected = (metadata.data_len() as u64)
            .checked_add(8 + n)
            .ok_or_else(|| header_err("data length overflows".into()))?;
        if expected != file_len {
            return Err(HfError::FileSize {
                file: path.into(),
                expected,
                got: file_len,
            });
        }
        let tensors = metadata
            .tensors()
            .into_iter()
            .map(|(name, info)| (name, info.clone()))
            .collect();
        Ok(Self {
            path: path.into(),
            file,
            data_start: 8 + n,
            tensors,
        })
    }

    /// Feeds the bytes of `info` (a tensor of this shard) to `f`, in order, [`CHUNK`] bytes at
    /// a time.
    pub fn read_chunks(
        &self,
        info: &TensorInfo,
        mut f: impl FnMut(&[u8]) -> Result<(), HfError>,
    ) -> Result<(), HfError> {
        let io = |source| HfError::Io {
            path: self.path.clone(),
            source,
        };
        let (start, end) = info.data_offsets;
        let mut file = &self.file;
        file.seek(SeekFrom::Start(self.data_start + start as u64))
            .map_err(io)?;
        let mut buf = vec![0u8; CHUNK.min(end - start)];
        let mut left = end - start;
        while left > 0 {
            let take = left.min(CHUNK);
            file.read_exact(&mut buf[..take]).map_err(io)?;
            f(&buf[..take])?;
            left -= take;
        }
        Ok(())
    }
}
