//! Hand-built GGUF buffers: a valid one read back, and each malformed input a clear error.
#![allow(clippy::unwrap_used)]

use std::io::Cursor;
use std::path::Path;

use model_import::gguf::{unpermute_rows, GgmlType, GgufError, GgufFile, Value};

fn s(b: &mut Vec<u8>, v: &str) {
    b.extend((v.len() as u64).to_le_bytes());
    b.extend(v.as_bytes());
}

/// Header, three metadata values (u32, string, array of strings) and one F32 tensor `[2, 2]`.
fn file(version: u32, ty: u32, offset: u64) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(version.to_le_bytes());
    b.extend(1u64.to_le_bytes());
    b.extend(3u64.to_le_bytes());
    s(&mut b, "llama.block_count");
    b.extend(4u32.to_le_bytes());
    b.extend(7u32.to_le_bytes());
    s(&mut b, "general.architecture");
    b.extend(8u32.to_le_bytes());
    s(&mut b, "llama");
    s(&mut b, "tokenizer.ggml.tokens");
    b.extend(9u32.to_le_bytes());
    b.extend(8u32.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    s(&mut b, "a");
    s(&mut b, "bc");
    s(&mut b, "w");
    b.extend(2u32.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    b.extend(ty.to_le_bytes());
    b.extend(offset.to_le_bytes());
    b.resize(b.len().div_ceil(32) * 32, 0);
    for v in [1.0f32, 2.0, 3.0, 4.0] {
        b.extend(v.to_le_bytes());
    }
    b
}

fn parse(b: &[u8]) -> Result<GgufFile, GgufError> {
    GgufFile::parse(Cursor::new(b), b.len() as u64, Path::new("t.gguf"))
}

#[test]
fn valid_file_works() {
    for version in [2, 3] {
        let b = file(version, 0, 0);
        let f = parse(&b).unwrap();
        assert_eq!(f.metadata["llama.block_count"], Value::Uint(7));
        assert_eq!(
            f.metadata["tokenizer.ggml.tokens"],
            Value::Array {
                elem_type: 8,
                len: 2
            }
        );
        let t = f.tensor("w").unwrap();
        assert_eq!((t.ty, t.shape(), t.size), (GgmlType::F32, vec![2, 2], 16));
        assert_eq!(
            f.read_f32_from(&mut Cursor::new(&b), "w").unwrap(),
            [1.0, 2.0, 3.0, 4.0]
        );
    }
}

#[test]
fn invalid_inputs_fail() {
    let good = file(3, 0, 0);
    let mut bad_magic = good.clone();
    bad_magic[0] = b'X';
    assert!(matches!(parse(&bad_magic), Err(GgufError::Magic { .. })));
    assert!(matches!(
        parse(&file(1, 0, 0)),
        Err(GgufError::Version { .. })
    ));
    assert!(matches!(
        parse(&good[..120]),
        Err(GgufError::Truncated { .. })
    ));
    assert!(matches!(
        parse(&file(3, 14, 0)),
        Err(GgufError::TensorType { .. })
    ));
    // Offset beyond the data section, and unaligned.
    assert!(matches!(
        parse(&file(3, 0, 64)),
        Err(GgufError::Tensor { .. })
    ));
    assert!(matches!(
        parse(&file(3, 0, 4)),
        Err(GgufError::Tensor { .. })
    ));
    // Huge counts are refused before allocating.
    let mut counts = good.clone();
    counts[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(parse(&counts), Err(GgufError::Count { .. })));
    let mut kv = good.clone();
    kv[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(parse(&kv), Err(GgufError::Count { .. })));
    // Unknown metadata value type (the first value's type field).
    let mut vt = good.clone();
    let at = 24 + 8 + "llama.block_count".len();
    vt[at..at + 4].copy_from_slice(&99u32.to_le_bytes());
    assert!(matches!(parse(&vt), Err(GgufError::ValueType { .. })));
    // A string length beyond the file.
    let mut sl = good.clone();
    sl[24..32].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(matches!(parse(&sl), Err(GgufError::Truncated { .. })));
    // Non-finite data.
    let mut nan = good.clone();
    let n = nan.len();
    nan[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
    let f = parse(&nan).unwrap();
    assert!(matches!(
        f.read_f32_from(&mut Cursor::new(&nan), "w"),
        Err(GgufError::NonFinite { index: 3, .. })
    ));
}

#[test]
fn unpermute_undoes_llama_cpp_permute() {
    // One head of 4 rows, 1 column: HF rows [a0, a1, b0, b1] are stored as [a0, b0, a1, b1].
    assert_eq!(
        unpermute_rows(&[0.0, 2.0, 1.0, 3.0], 1, 1),
        [0.0, 1.0, 2.0, 3.0]
    );
    // Two heads, 2 columns.
    let gguf = [
        0., 0., 2., 2., 1., 1., 3., 3., 4., 4., 6., 6., 5., 5., 7., 7.,
    ];
    let hf: Vec<f32> = (0..8).flat_map(|r| [r as f32; 2]).collect();
    assert_eq!(unpermute_rows(&gguf, 2, 2), hf);
}
