//! The GGUF container (versions 2 and 3, little-endian): header, metadata, tensor infos and
//! the aligned data section. Every count, length and offset is checked against the file's
//! size before anything is allocated or read, so a malformed file is an error, never a panic
//! or a huge allocation.
//!
//! Layout: `"GGUF"`, `u32` version, `u64` tensor count, `u64` key/value count; the key/values
//! (string key, `u32` value type, value); the tensor infos (string name, `u32` n_dims, `u64`
//! dims fastest first, `u32` ggml type, `u64` offset into the data section); then, at the next
//! multiple of `general.alignment` (default 32), the data section. Strings are a `u64` length
//! and UTF-8 bytes. Arrays are a `u32` element type, a `u64` length and the elements; their
//! contents are skipped (only the type and length are kept: the tokenizer's arrays are not
//! needed here).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::dequant::{dequantise, GgmlType};
use super::GgufError;

/// Alignment of the data section when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Most dimensions of a tensor (ggml's `GGML_MAX_DIMS`).
pub const MAX_DIMS: u32 = 4;
const MAX_ARRAY_DEPTH: u32 = 4;

/// A metadata value. Arrays keep their element type id and length, not their contents.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Uint(u64),
    Int(i64),
    Float(f64),
    Bool(bool),
    String(String),
    Array { elem_type: u32, len: u64 },
}

/// One tensor's header entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// ggml's `ne`, fastest first: `dims[0]` is the row length.
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// Bytes from the start of the data section.
    pub offset: u64,
    /// Bytes of the data.
    pub size: u64,
}

impl TensorInfo {
    /// The row-major shape, slowest first (`[out, in]` for a linear weight).
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    pub fn numel(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// A parsed GGUF file: its metadata and tensor infos; tensor data is read on demand.
#[derive(Debug)]
pub struct GgufFile {
    pub path: PathBuf,
    pub version: u32,
    pub metadata: HashMap<String, Value>,
    pub tensors: Vec<TensorInfo>,
    /// Tensor name -> index in `tensors`.
    names: HashMap<String, usize>,
    /// Absolute offset of the data section.
    pub data_offset: u64,
    /// The strings of `tokenizer.ggml.tokens` (the vocabulary, by token id), when present.
    pub tokens: Option<Vec<String>>,
    /// The strings of `tokenizer.ggml.merges` (BPE merges, `"a b"`, by rank), when present.
    pub merges: Option<Vec<String>>,
}

/// The metadata key of the vocabulary.
pub const TOKENS_KEY: &str = "tokenizer.ggml.tokens";
/// The metadata key of the BPE merges.
pub const MERGES_KEY: &str = "tokenizer.ggml.merges";

struct Cursor<R> {
    r: R,
    pos: u64,
    len: u64,
    path: PathBuf,
}

impl<R: Read + Seek> Cursor<R> {
    fn need(&self, n: u64) -> Result<(), GgufError> {
        if self.len.saturating_sub(self.pos) < n {
            return Err(GgufError::Truncated {
                path: self.path.clone(),
                at: self.pos,
                need: n,
                len: self.len,
            });
        }
        Ok(())
    }

    /// Moves to absolute position `pos` (within the file).
    fn seek_to(&mut self, pos: u64) -> Result<(), GgufError> {
        self.r
            .seek(std::io::SeekFrom::Start(pos))
            .map_err(|e| self.io(e))?;
        self.pos = pos;
        Ok(())
    }

    fn io(&self, source: std::io::Error) -> GgufError {
        GgufError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], GgufError> {
        self.need(N as u64)?;
        let mut b = [0u8; N];
        self.r.read_exact(&mut b).map_err(|e| self.io(e))?;
        self.pos += N as u64;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    fn u64(&mut self) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }

    fn skip(&mut self, n: u64) -> Result<(), GgufError> {
        self.need(n)?;
        let step = i64::try_from(n).map_err(|_| self.count("skip", n, i64::MAX as u64))?;
        self.r
            .seek(SeekFrom::Current(step))
            .map_err(|e| self.io(e))?;
        self.pos += n;
        Ok(())
    }

    fn count(&self, what: &'static str, count: u64, limit: u64) -> GgufError {
        GgufError::Count {
            path: self.path.clone(),
            what,
            count,
            limit,
        }
    }

    fn string(&mut self) -> Result<String, GgufError> {
        let n = self.u64()?;
        let at = self.pos;
        self.need(n)?;
        let mut b = vec![0u8; n as usize];
        self.r.read_exact(&mut b).map_err(|e| self.io(e))?;
        self.pos += n;
        String::from_utf8(b).map_err(|_| GgufError::Utf8 {
            path: self.path.clone(),
            at,
        })
    }

    fn value(&mut self, key: &str, type_id: u32, depth: u32) -> Result<Value, GgufError> {
        Ok(match type_id {
            0 => Value::Uint(u64::from(self.bytes::<1>()?[0])),
            1 => Value::Int(i64::from(self.bytes::<1>()?[0] as i8)),
            2 => Value::Uint(u64::from(u16::from_le_bytes(self.bytes()?))),
            3 => Value::Int(i64::from(i16::from_le_bytes(self.bytes()?))),
            4 => Value::Uint(u64::from(self.u32()?)),
            5 => Value::Int(i64::from(i32::from_le_bytes(self.bytes()?))),
            6 => Value::Float(f64::from(f32::from_le_bytes(self.bytes()?))),
            7 => match self.bytes::<1>()?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => {
                    return Err(GgufError::Metadata {
                        path: self.path.clone(),
                        key: key.into(),
                        detail: format!("bool byte {b}"),
                    })
                }
            },
            8 => Value::String(self.string()?),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(self.count("array nesting", u64::from(depth), 3));
                }
                let elem_type = self.u32()?;
                let len = self.u64()?;
                match fixed_size(elem_type) {
                    Some(size) => {
                        let limit = self.len.saturating_sub(self.pos) / size;
                        if len > limit {
                            return Err(self.count("array length", len, limit));
                        }
                        self.skip(len * size)?;
                    }
                    None => {
                        // Strings or arrays: each takes at least 8 bytes.
                        let limit = self.len.saturating_sub(self.pos) / 8;
                        if len > limit {
                            return Err(self.count("array length", len, limit));
                        }
                        for _ in 0..len {
                            match elem_type {
                                8 => {
                                    let n = self.u64()?;
                                    self.skip(n)?;
                                }
                                _ => {
                                    self.value(key, elem_type, depth + 1)?;
                                }
                            }
                        }
                    }
                }
                Value::Array { elem_type, len }
            }
            10 => Value::Uint(self.u64()?),
            11 => Value::Int(i64::from_le_bytes(self.bytes()?)),
            12 => Value::Float(f64::from_le_bytes(self.bytes()?)),
            _ => {
                return Err(GgufError::ValueType {
                    path: self.path.clone(),
                    key: key.into(),
                    type_id,
                })
            }
        })
    }
}

/// Bytes of a fixed-size value type (`None` for strings, arrays and unknown types).
fn fixed_size(type_id: u32) -> Option<u64> {
    match type_id {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

impl GgufFile {
    /// Opens and parses `path`.
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let io = |source| GgufError::Io {
            path: path.into(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Self::parse(BufReader::new(file), len, path)
    }

    /// Parses a GGUF stream of `len` bytes (`path` names it in errors).
    pub fn parse<R: Read + Seek>(r: R, len: u64, path: &Path) -> Result<Self, GgufError> {
        let mut c = Cursor {
            r,
            pos: 0,
            len,
            path: path.into(),
        };
        let magic = c.bytes::<4>()?;
        if &magic != b"GGUF" {
            return Err(GgufError::Magic {
                path: path.into(),
                got: magic,
            });
        }
        let version = c.u32()?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::Version {
                path: path.into(),
                version,
            });
        }
        let n_tensors = c.u64()?;
        let n_kv = c.u64()?;
        // A key/value takes at least 8 + 4 + 1 bytes, a tensor info 8 + 4 + 8 + 4 + 8.
        let room = len.saturating_sub(c.pos);
        if n_kv > room / 13 {
            return Err(c.count("metadata count", n_kv, room / 13));
        }
        if n_tensors > room / 32 {
            return Err(c.count("tensor count", n_tensors, room / 32));
        }
        let mut metadata = HashMap::with_capacity(n_kv as usize);
        let (mut tokens, mut merges) = (None, None);
        for _ in 0..n_kv {
            let key = c.string()?;
            let type_id = c.u32()?;
            let start = c.pos;
            let value = c.value(&key, type_id, 0)?;
            let keep = match key.as_str() {
                TOKENS_KEY => Some(&mut tokens),
                MERGES_KEY => Some(&mut merges),
                _ => None,
            };
            if let (Some(slot), Value::Array { elem_type: 8, len }) = (keep, &value) {
                // Validated and skipped above; read again, keeping the strings.
                let end = c.pos;
                c.seek_to(start + 12)?;
                *slot = Some(
                    (0..*len)
                        .map(|_| c.string())
                        .collect::<Result<Vec<_>, _>>()?,
                );
                c.seek_to(end)?;
            }
            metadata.insert(key, value);
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(Value::Uint(a)) if *a > 0 && a.is_power_of_two() => *a,
            Some(other) => {
                return Err(GgufError::Metadata {
                    path: path.into(),
                    key: "general.alignment".into(),
                    detail: format!("{other:?} is not a power of two"),
                })
            }
        };
        let mut tensors = Vec::with_capacity(n_tensors as usize);
        for _ in 0..n_tensors {
            tensors.push(tensor_info(&mut c, alignment)?);
        }
        let data_offset = c.pos.div_ceil(alignment) * alignment;
        let data_len = len.saturating_sub(data_offset);
        let mut names = HashMap::with_capacity(tensors.len());
        for (i, t) in tensors.iter().enumerate() {
            if t.offset
                .checked_add(t.size)
                .is_none_or(|end| end > data_len)
            {
                return Err(GgufError::Tensor {
                    path: path.into(),
                    name: t.name.clone(),
                    detail: format!(
                        "data at {}..+{} is beyond the data section ({data_len} bytes)",
                        t.offset, t.size
                    ),
                });
            }
            if names.insert(t.name.clone(), i).is_some() {
                return Err(GgufError::Tensor {
                    path: path.into(),
                    name: t.name.clone(),
                    detail: "named twice".into(),
                });
            }
        }
        Ok(Self {
            path: path.into(),
            version,
            metadata,
            tensors,
            names,
            data_offset,
            tokens,
            merges,
        })
    }

    /// The info of tensor `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.names.get(name).map(|&i| &self.tensors[i])
    }

    /// The values of `name` in `f32`, row-major, read from `r` (the same file).
    pub fn read_f32_from<R: Read + Seek>(
        &self,
        r: &mut R,
        name: &str,
    ) -> Result<Vec<f32>, GgufError> {
        let t = self.tensor(name).ok_or_else(|| GgufError::MissingTensor {
            path: self.path.clone(),
            name: name.into(),
        })?;
        let io = |source| GgufError::Io {
            path: self.path.clone(),
            source,
        };
        r.seek(SeekFrom::Start(self.data_offset + t.offset))
            .map_err(io)?;
        let mut bytes = vec![0u8; t.size as usize];
        r.read_exact(&mut bytes).map_err(io)?;
        let mut out = Vec::with_capacity(t.numel() as usize);
        dequantise(t.ty, &bytes, &mut out);
        if let Some((index, &value)) = out.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(GgufError::NonFinite {
                path: self.path.clone(),
                name: name.into(),
                index,
                value,
            });
        }
        Ok(out)
    }

    /// [`Self::read_f32_from`] on a fresh handle of the file.
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>, GgufError> {
        let mut f = File::open(&self.path).map_err(|source| GgufError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.read_f32_from(&mut f, name)
    }
}

fn tensor_info<R: Read + Seek>(c: &mut Cursor<R>, alignment: u64) -> Result<TensorInfo, GgufError> {
    let name = c.string()?;
    let n_dims = c.u32()?;
    if n_dims == 0 || n_dims > MAX_DIMS {
        return Err(c.count(
            "tensor dimension count",
            u64::from(n_dims),
            u64::from(MAX_DIMS),
        ));
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        dims.push(c.u64()?);
    }
    let type_id = c.u32()?;
    let offset = c.u64()?;
    let bad = |detail: String| GgufError::Tensor {
        path: c.path.clone(),
        name: name.clone(),
        detail,
    };
    let ty = GgmlType::from_id(type_id).ok_or_else(|| GgufError::TensorType {
        path: c.path.clone(),
        name: name.clone(),
        type_id,
    })?;
    let numel = dims
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d))
        .filter(|&n| n > 0 && n <= c.len)
        .ok_or_else(|| bad(format!("dims {dims:?} are empty or larger than the file")))?;
    if !dims[0].is_multiple_of(ty.block() as u64) {
        return Err(bad(format!(
            "row length {} is not a multiple of the {ty:?} block ({})",
            dims[0],
            ty.block()
        )));
    }
    let size = ty
        .size_of(numel)
        .ok_or_else(|| bad(format!("size of {numel} values overflows")))?;
    if !offset.is_multiple_of(alignment) {
        return Err(bad(format!(
            "offset {offset} is not aligned to {alignment}"
        )));
    }
    Ok(TensorInfo {
        name,
        dims,
        ty,
        offset,
        size,
    })
}
