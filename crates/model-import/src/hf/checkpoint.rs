//! A checkpoint folder: `config.json` and one or several `.safetensors` shards, with
//! `model.safetensors.index.json` when present, and tensors decoded to `f32` one at a time.
//!
//! **Dtypes.** `F32`, `F16` and `BF16` are read as they are. Two integer encodings are read
//! with a companion tensor `{name}_scale` (`F32`, `F16` or `BF16`), as compressed-tensors names
//! them (`...q_proj.weight` and `...q_proj.weight_scale`):
//! - `I8`: real value `q * s`, with the scale of shape `[]` or `[1]` (per tensor), or `[d0]` /
//!   `[d0, 1]` (per row: per output channel of a `[out, in]` linear weight).
//! - `U8` holding packed INT4: each byte is two signed 4-bit values in two's complement, the
//!   low nibble first (element `2k` in bits 0..4, `2k + 1` in bits 4..8), so a `[out, in]`
//!   weight is stored as `[out, in / 2]`. The scale has the tensor's leading dimensions and a
//!   last dimension of `n_groups`; `in / n_groups` consecutive elements of a row share one
//!   scale (`real = q * s[r][c / group]`, symmetric: no zero point).
//!
//! An `I8` or `U8` tensor without its scale is an [`HfError::Scale`]; any other dtype (`I32`,
//! `F64`, ...) an [`HfError::Dtype`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::Dtype;
use serde_json::Value;

use super::shard::Shard;
use super::{DecoderConfig, HfError};

/// Name of the shard index that transformers writes beside sharded checkpoints.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// Suffix of the companion scale tensor of an `I8` or packed INT4 tensor.
pub const SCALE_SUFFIX: &str = "_scale";

/// A tensor's dtype and logical shape (a packed INT4 tensor's last dimension is doubled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorMeta {
    pub name: String,
    pub file: PathBuf,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
}

impl TensorMeta {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// An opened decoder checkpoint folder: its config and its tensors ([`TensorFolder`], whose
/// methods it offers through `Deref`).
#[derive(Debug)]
pub struct Checkpoint {
    pub config: DecoderConfig,
    pub tensors: TensorFolder,
}

impl Checkpoint {
    /// Reads `dir/config.json` and the headers of the shards ([`TensorFolder::open`]).
    pub fn open(dir: &Path) -> Result<Self, HfError> {
        let config = DecoderConfig::load(&dir.join("config.json"))?;
        Ok(Self {
            config,
            tensors: TensorFolder::open(dir)?,
        })
    }
}

impl std::ops::Deref for Checkpoint {
    type Target = TensorFolder;

    fn deref(&self) -> &TensorFolder {
        &self.tensors
    }
}

/// The tensors of a checkpoint folder: the headers of all its shards, tensors read one at a
/// time.
#[derive(Debug)]
pub struct TensorFolder {
    pub dir: PathBuf,
    shards: Vec<Shard>,
    /// Tensor name -> index in `shards`.
    names: HashMap<String, usize>,
}

impl TensorFolder {
    /// Reads the headers of the shards of `dir`: those the index names, or every
    /// `*.safetensors` file of the folder when there is no index.
    pub fn open(dir: &Path) -> Result<Self, HfError> {
        let index_path = dir.join(INDEX_FILE);
        let weight_map = if index_path.exists() {
            Some(read_index(&index_path)?)
        } else {
            None
        };
        let files = match &weight_map {
            Some(map) => {
                let mut files: Vec<&String> = map.values().collect();
                files.sort();
                files.dedup();
                files.into_iter().map(|f| dir.join(f)).collect()
            }
            None => list_shards(dir)?,
        };
        let shards = files
            .iter()
            .map(|f| Shard::open(f))
            .collect::<Result<Vec<_>, _>>()?;
        let mut names = HashMap::new();
        for (i, shard) in shards.iter().enumerate() {
            for name in shard.tensors.keys() {
                if let Some(j) = names.insert(name.clone(), i) {
                    return Err(HfError::Duplicate {
                        name: name.clone(),
                        first: shards[j].path.clone(),
                        second: shard.path.clone(),
                    });
                }
            }
        }
        for (name, file) in weight_map.iter().flatten() {
            let holds = names
                .get(name)
                .is_some_and(|&i| shards[i].path == dir.join(file));
            if !holds {
                return Err(HfError::Index {
                    file: index_path.clone(),
                    detail: format!("'{name}' is mapped to '{file}', which does not hold it"),
                });
            }
        }
        Ok(Self {
            dir: dir.into(),
            shards,
            names,
        })
    }

    /// Whether the checkpoint holds `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    /// Every tensor name, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.names.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Total size of the shard files in bytes.
    pub fn file_bytes(&self) -> Result<u64, HfError> {
        self.shards.iter().try_fold(0u64, |sum, s| {
            let len = std::fs::metadata(&s.path)
                .map_err(|source| HfError::Io {
                    path: s.path.clone(),
                    source,
                })?
                .len();
            Ok(sum + len)
        })
    }

    fn locate(&self, name: &str) -> Result<&Shard, HfError> {
        self.names
            .get(name)
            .map(|&i| &self.shards[i])
            .ok_or_else(|| HfError::MissingTensor {
                dir: self.dir.clone(),
                name: name.into(),
            })
    }

    /// Dtype and logical shape of `name`.
    pub fn meta(&self, name: &str) -> Result<TensorMeta, HfError> {
        let shard = self.locate(name)?;
        let info = &shard.tensors[name];
        let mut shape = info.shape.clone();
        if info.dtype == Dtype::U8 {
            if let Some(last) = shape.last_mut() {
                *last *= 2;
            }
        }
        Ok(TensorMeta {
            name: name.into(),
            file: shard.path.clone(),
            dtype: info.dtype,
            shape,
        })
    }

    /// The real values of `name`, row-major in its logical shape. Non-finite values are an
    /// error.
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>, HfError> {
        let meta = self.meta(name)?;
        let shard = self.locate(name)?;
        let info = &shard.tensors[name];
        let mut out = Vec::with_capacity(meta.numel());
        match meta.dtype {
            Dtype::F32 => shard.read_chunks(info, |b| {
                out.extend(
                    b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                );
                Ok(())
            })?,
            Dtype::F16 => shard.read_chunks(info, |b| {
                out.extend(
                    b.chunks_exact(2)
                        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()),
                );
                Ok(())
            })?,
            Dtype::BF16 => shard.read_chunks(info, |b| {
                out.extend(
                    b.chunks_exact(2)
                        .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()),
                );
                Ok(())
            })?,
            Dtype::I8 | Dtype::U8 => self.read_scaled(&meta, shard, &mut out)?,
            other => {
                return Err(HfError::Dtype {
                    file: meta.file,
                    name: name.into(),
                    dtype: format!("{other:?}"),
                    expected: "F32, F16, BF16, or I8 / U8 (packed INT4) with a _scale tensor",
                })
            }
        }
        if let Some(index) = out.iter().position(|v| !v.is_finite()) {
            return Err(HfError::NonFinite {
                file: meta.file,
                name: name.into(),
                index,
                value: out[index],
            });
        }
        Ok(out)
    }

    /// `I8` or packed INT4 `meta` times its companion scale (see the module doc).
    fn read_scaled(
        &self,
        meta: &TensorMeta,
        shard: &Shard,
        out: &mut Vec<f32>,
    ) -> Result<(), HfError> {
        let scale_name = format!("{}{SCALE_SUFFIX}", meta.name);
        let scale_err = |detail: String| HfError::Scale {
            file: meta.file.clone(),
            name: meta.name.clone(),
            detail,
        };
        if !self.contains(&scale_name) {
            return Err(scale_err(format!(
                "{:?} tensor without a companion '{scale_name}'",
                meta.dtype
            )));
        }
        let scale_meta = self.meta(&scale_name)?;
        if !matches!(scale_meta.dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16) {
            return Err(scale_err(format!(
                "scale '{scale_name}' has dtype {:?}, expected F32, F16 or BF16",
                scale_meta.dtype
            )));
        }
        let scales = self.read_f32(&scale_name)?;
        let info = &shard.tensors[&meta.name];
        let last = meta.shape.last().copied().unwrap_or(1);
        if meta.dtype == Dtype::I8 {
            let d0 = meta.shape.first().copied().unwrap_or(1);
            let per = if scales.len() == 1 {
                meta.numel().max(1)
            } else if d0 > 0
                && scales.len() == d0
                && scale_meta.shape.iter().skip(1).all(|&d| d == 1)
            {
                meta.numel() / d0
            } else {
                return Err(scale_err(format!(
                    "scale shape {:?} is neither per tensor nor per row of {:?}",
                    scale_meta.shape, meta.shape
                )));
            };
            return shard.read_chunks(info, |b| {
                let at = out.len();
                out.extend(
                    b.iter()
                        .enumerate()
                        .map(|(k, &q)| f32::from(q as i8) * scales[(at + k) / per]),
                );
                Ok(())
            });
        }
        // Packed INT4: scale shape = leading dims + [n_groups].
        if meta.shape.is_empty() {
            return Err(scale_err("packed INT4 needs at least one dimension".into()));
        }
        let n_groups = scale_meta.shape.last().copied().unwrap_or(1);
        let lead_ok = scale_meta.shape.len() == meta.shape.len()
            && scale_meta.shape[..scale_meta.shape.len() - 1] == meta.shape[..meta.shape.len() - 1];
        if !lead_ok || n_groups == 0 || last % n_groups != 0 {
            return Err(scale_err(format!(
                "INT4 scale shape {:?} does not give whole groups of the rows of {:?}",
                scale_meta.shape, meta.shape
            )));
        }
        let group = last / n_groups;
        shard.read_chunks(info, |b| {
            for &byte in b {
                for nibble in [byte << 4, byte & 0xf0] {
                    // Arithmetic shift sign-extends the 4-bit value.
                    let q = (nibble as i8) >> 4;
                    let k = out.len();
                    let s = scales[(k / last) * n_groups + (k % last) / group];
                    out.push(f32::from(q) * s);
                }
            }
            Ok(())
        })
    }
}

/// `weight_map` of an index file, with each shard a plain file name inside the folder.
fn read_index(path: &Path) -> Result<HashMap<String, String>, HfError> {
    let err = |detail: String| HfError::Index {
        file: path.into(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|source| HfError::Io {
        path: path.into(),
        source,
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| HfError::Json {
        file: path.into(),
        detail: e.to_string(),
    })?;
    let Some(Value::Object(map)) = value.get("weight_map") else {
        return Err(err("no 'weight_map' object".into()));
    };
    map.iter()
        .map(|(name, file)| match file.as_str() {
            Some(f) if Path::new(f).file_name().is_some_and(|n| n == f) => {
                Ok((name.clone(), f.to_string()))
            }
            _ => Err(err(format!(
                "'{name}' maps to {file}, not a file name in the folder"
            ))),
        })
        .collect()
}

/// Every `*.safetensors` file of `dir`, sorted by name.
fn list_shards(dir: &Path) -> Result<Vec<PathBuf>, HfError> {
    let io = |source| HfError::Io {
        path: dir.into(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "safetensors") && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(HfError::NoShards { dir: dir.into() });
    }
    files.sort();
    Ok(files)
}
