//! Bad SafeTensors input: each is a typed error naming the tensor, field or file, never a
//! panic. Corrupted copies of the tiny Llama are written into temporary folders.
#![allow(clippy::unwrap_used)]

mod hf_common;

use std::path::Path;

use hf_common::{edited, keep, tiny, Raw};
use model_import::hf::{Checkpoint, HfError, INDEX_FILE};
use model_import::{load_decoder, LoadOptions};
use safetensors::Dtype;

fn load(dir: &Path) -> HfError {
    load_decoder(dir, &LoadOptions::default()).unwrap_err()
}

/// The error's message names `what`.
fn names(err: &HfError, what: &str) {
    assert!(
        err.to_string().contains(what),
        "'{err}' does not name {what}"
    );
}

const UP: &str = "model.layers.1.mlp.up_proj.weight";

#[test]
fn missing_tensor_is_named() {
    let dir = edited(|name, raw| if name == UP { vec![] } else { keep(name, raw) });
    let err = load(dir.path());
    assert!(matches!(&err, HfError::MissingTensor { name, .. } if name == UP));
    names(&err, UP);
}

#[test]
fn wrong_shape_is_named() {
    // [128, 64] written as [64, 128]: same size, transposed.
    let dir = edited(|name, raw| {
        let shape = if name == UP {
            vec![64, 128]
        } else {
            raw.shape.clone()
        };
        keep(name, Raw { shape, ..raw })
    });
    let err = load(dir.path());
    assert!(matches!(&err, HfError::Shape { name, expected, got, .. }
        if name == UP && *expected == [128, 64] && *got == [64, 128]));
    names(&err, "model.safetensors");
}

#[test]
fn wrong_dtype_is_named() {
    let dir = edited(|name, raw| {
        let dtype = if name == UP { Dtype::I32 } else { raw.dtype };
        keep(name, Raw { dtype, ..raw })
    });
    let err = load(dir.path());
    assert!(matches!(&err, HfError::Dtype { name, dtype, .. } if name == UP && dtype == "I32"));
}

#[test]
fn int8_without_scale_fails() {
    let dir = edited(|name, raw| {
        if name == UP {
            let bytes = vec![1u8; 128 * 64];
            return keep(
                name,
                Raw {
                    dtype: Dtype::I8,
                    shape: raw.shape,
                    bytes,
                },
            );
        }
        keep(name, raw)
    });
    let err = load(dir.path());
    assert!(matches!(&err, HfError::Scale { name, .. } if name == UP));
    names(&err, "up_proj.weight_scale");
}

#[test]
fn int4_scale_without_whole_groups_fails() {
    let dir = edited(|name, raw| {
        if name == UP {
            return vec![
                (
                    name.into(),
                    Raw {
                        dtype: Dtype::U8,
                        shape: vec![128, 32],
                        bytes: vec![0x21; 128 * 32],
                    },
                ),
                (
                    format!("{name}_scale"),
                    Raw::f32(vec![128, 3], &[0.1; 128 * 3]),
                ),
            ];
        }
        keep(name, raw)
    });
    let err = load(dir.path());
    assert!(
        matches!(&err, HfError::Scale { name, .. } if name == UP),
        "{err}"
    );
}

#[test]
fn non_finite_weight_is_named() {
    let dir = edited(|name, mut raw| {
        if name == UP {
            raw.bytes[40..44].copy_from_slice(&f32::NAN.to_le_bytes());
        }
        keep(name, raw)
    });
    let err = load(dir.path());
    assert!(matches!(&err, HfError::NonFinite { name, index: 10, .. } if name == UP));
}

#[test]
fn weight_beyond_the_vector_range_is_named() {
    let norm = "model.norm.weight";
    let dir = edited(|name, raw| {
        if name == norm {
            return keep(name, Raw::f32(vec![64], &[1e6; 64]));
        }
        keep(name, raw)
    });
    let err = load(dir.path());
    assert!(matches!(&err, HfError::Range { name, .. } if name == norm));
}

/// A copy of the fixture with its `model.safetensors` bytes passed through `corrupt`.
fn corrupted(corrupt: impl FnOnce(&mut Vec<u8>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(tiny().join(f), dir.path().join(f)).unwrap();
    }
    let path = dir.path().join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    corrupt(&mut bytes);
    std::fs::write(&path, bytes).unwrap();
    dir
}

fn header_len(bytes: &[u8]) -> usize {
    u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

#[test]
fn truncated_file_fails() {
    let dir = corrupted(|b| b.truncate(b.len() - 10));
    let err = load(dir.path());
    assert!(matches!(&err, HfError::FileSize { expected, got, .. } if expected - got == 10));
    names(&err, "model.safetensors");
}

#[test]
fn trailing_bytes_fail() {
    let dir = corrupted(|b| b.extend([0u8; 4]));
    assert!(matches!(load(dir.path()), HfError::FileSize { .. }));
}

#[test]
fn header_length_beyond_the_file_fails() {
    for len in [u64::MAX, 1 << 40, 0x10_0000] {
        let dir = corrupted(|b| b[..8].copy_from_slice(&len.to_le_bytes()));
        assert!(matches!(load(dir.path()), HfError::Header { .. }), "{len}");
    }
}

#[test]
fn file_shorter_than_the_length_prefix_fails() {
    let dir = corrupted(|b| b.truncate(5));
    assert!(matches!(load(dir.path()), HfError::Header { .. }));
}

#[test]
fn header_that_is_not_json_fails() {
    let dir = corrupted(|b| b[8] = b'#');
    assert!(matches!(load(dir.path()), HfError::Header { .. }));
}

#[test]
fn header_offsets_that_lie_fail() {
    // Shrink the first tensor's end offset by 4 bytes: offsets no longer match its shape.
    let dir = corrupted(|b| {
        let n = header_len(b);
        let header = String::from_utf8(b[8..8 + n].to_vec()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&header).unwrap();
        let end = v["model.embed_tokens.weight"]["data_offsets"][1]
            .as_u64()
            .unwrap();
        let lie = header.replacen(&format!(",{end}]"), &format!(",{}]", end - 4), 1);
        let mut lie = lie.into_bytes();
        lie.resize(n, b' ');
        b[8..8 + n].copy_from_slice(&lie);
    });
    let err = load(dir.path());
    assert!(matches!(&err, HfError::Header { .. }), "{err}");
}

#[test]
fn header_pointing_past_the_end_fails() {
    // A one-tensor file whose offsets claim 4000 bytes of data; 16 are there.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(tiny().join("config.json"), dir.path().join("config.json")).unwrap();
    let header = br#"{"x":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.extend([0u8; 16]);
    std::fs::write(dir.path().join("model.safetensors"), bytes).unwrap();
    let err = Checkpoint::open(dir.path()).unwrap_err();
    assert!(matches!(&err, HfError::FileSize { got, .. } if *got == 8 + header.len() as u64 + 16));
}

/// A copy of the fixture with `config.json` replaced by `text`.
fn with_config(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        tiny().join("model.safetensors"),
        dir.path().join("model.safetensors"),
    )
    .unwrap();
    std::fs::write(dir.path().join("config.json"), text).unwrap();
    dir
}

#[test]
fn config_errors_name_the_field_and_file() {
    let good = std::fs::read_to_string(tiny().join("config.json")).unwrap();
    let cases = [
        (
            good.replace("\"vocab_size\"", "\"vocab_sizes\""),
            "vocab_size",
        ),
        (
            good.replace("\"hidden_size\": 64", "\"hidden_size\": 64.5"),
            "hidden_size",
        ),
        (
            good.replace("\"rope_theta\": 10000.0", "\"rope_theta\": \"big\""),
            "rope_theta",
        ),
        (
            good.replace("\"model_type\": \"llama\"", "\"model_type\": 3"),
            "model_type",
        ),
    ];
    for (text, field) in cases {
        assert_ne!(text, good, "{field}: the edit did not apply");
        let dir = with_config(&text);
        let err = load(dir.path());
        assert!(
            matches!(&err, HfError::ConfigField { field: f, .. } if *f == field),
            "{err}"
        );
        names(&err, "config.json");
    }
    let dir = with_config("{ not json");
    assert!(matches!(load(dir.path()), HfError::Json { .. }));
}

#[test]
fn config_and_weights_must_agree() {
    // A config with a wider FFN than the tensors: the first MLP weight is the wrong shape.
    let good = std::fs::read_to_string(tiny().join("config.json")).unwrap();
    let dir =
        with_config(&good.replace("\"intermediate_size\": 128", "\"intermediate_size\": 256"));
    let err = load(dir.path());
    assert!(
        matches!(&err, HfError::Shape { name, .. } if name == "model.layers.0.mlp.gate_proj.weight")
    );
}

#[test]
fn missing_config_and_missing_shards_fail() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(dir.path());
    assert!(matches!(&err, HfError::Io { .. }));
    names(&err, "config.json");
    std::fs::copy(tiny().join("config.json"), dir.path().join("config.json")).unwrap();
    assert!(matches!(load(dir.path()), HfError::NoShards { .. }));
}

/// A copy of the fixture with an index file `index`.
fn with_index(index: &str) -> tempfile::TempDir {
    let dir = corrupted(|_| {});
    std::fs::write(dir.path().join(INDEX_FILE), index).unwrap();
    dir
}

#[test]
fn bad_indexes_fail() {
    let dir = with_index(r#"{"weight_map": {"model.norm.weight": "model-2.safetensors"}}"#);
    let err = load(dir.path());
    assert!(matches!(&err, HfError::Io { .. }));
    names(&err, "model-2.safetensors");
    let dir = with_index(r#"{"weight_map": {"model.norm.weight": "../model.safetensors"}}"#);
    assert!(matches!(load(dir.path()), HfError::Index { .. }));
    let dir = with_index(r#"{"weight_map": {"lm_head.bias": "model.safetensors"}}"#);
    let err = load(dir.path());
    assert!(matches!(&err, HfError::Index { .. }));
    names(&err, "lm_head.bias");
    let dir = with_index(r#"{"metadata": {}}"#);
    assert!(matches!(load(dir.path()), HfError::Index { .. }));
}

#[test]
fn tensor_in_two_shards_fails() {
    let dir = corrupted(|_| {});
    std::fs::copy(
        tiny().join("model.safetensors"),
        dir.path().join("model-b.safetensors"),
    )
    .unwrap();
    let err = load(dir.path());
    assert!(matches!(&err, HfError::Duplicate { .. }));
    names(&err, "model-b.safetensors");
}
