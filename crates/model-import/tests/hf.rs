//! SafeTensors import of the tiny Llama fixtures: shapes, quantisation bounds, dtypes, shards.
#![allow(clippy::unwrap_used)]

mod hf_common;

use hf_common::{data, edited, keep, tiny, tiny_bf16, write_fixtures, Raw, SEED};
use model_import::hf::synth::{tiny_llama_config, write_synthetic};
use model_import::hf::{Checkpoint, Family, HfError, INDEX_FILE};
use model_import::{load_decoder, LoadOptions, QuantConfig, QuantTensor, Strategy};
use safetensors::Dtype;

#[test]
#[ignore = "rewrites the committed fixtures in tests/data"]
fn regenerate_tiny_llama() {
    write_fixtures(&data(""));
}

#[test]
fn fixtures_match_the_generator() {
    let tmp = tempfile::tempdir().unwrap();
    write_fixtures(tmp.path());
    for dir in ["tiny-llama", "tiny-llama-bf16"] {
        for file in ["config.json", "model.safetensors"] {
            let fresh = std::fs::read(tmp.path().join(dir).join(file)).unwrap();
            let committed = std::fs::read(data(dir).join(file)).unwrap();
            assert!(
                fresh == committed,
                "{dir}/{file} differs from the generator: run the ignored regenerate_tiny_llama"
            );
            if file == "model.safetensors" {
                // The reference parser accepts what our streaming writer wrote.
                let st = safetensors::SafeTensors::deserialize(&committed).unwrap();
                let ours = Checkpoint::open(&data(dir)).unwrap();
                assert_eq!(st.len(), ours.names().len());
                assert_eq!(st.len(), 18 + 2 + usize::from(dir == "tiny-llama"));
            }
        }
    }
}

fn options(quant: QuantConfig) -> LoadOptions {
    LoadOptions {
        quant,
        layers: None,
    }
}

#[test]
fn tiny_llama_loads_with_checked_shapes() {
    let w = load_decoder(&tiny(), &LoadOptions::default()).unwrap();
    let c = &w.config;
    assert_eq!(c.family, Family::Llama);
    assert_eq!(
        (
            c.hidden_size,
            c.num_attention_heads,
            c.num_key_value_heads,
            c.head_dim
        ),
        (64, 4, 2, 16)
    );
    assert_eq!(
        (c.intermediate_size, c.num_hidden_layers, c.vocab_size),
        (128, 2, 256)
    );
    assert_eq!((c.rms_norm_eps, c.rope_theta), (1e-5, 10_000.0));
    assert!(!c.tie_word_embeddings && !w.lm_head_tied && !c.qk_norm && !c.attention_bias);
    let shape = |t: &QuantTensor| (t.shape.rows, t.shape.cols);
    assert_eq!(shape(&w.embed), (256, 64));
    assert_eq!(shape(&w.lm_head), (64, 256));
    assert_eq!(shape(&w.final_norm), (1, 64));
    assert_eq!(w.layers.len(), 2);
    for l in &w.layers {
        assert_eq!(shape(&l.q_proj), (64, 64));
        assert_eq!(shape(&l.k_proj), (64, 32));
        assert_eq!(shape(&l.v_proj), (64, 32));
        assert_eq!(shape(&l.o_proj), (64, 64));
        assert_eq!(shape(&l.gate_proj), (64, 128));
        assert_eq!(shape(&l.up_proj), (64, 128));
        assert_eq!(shape(&l.down_proj), (128, 64));
        assert_eq!(shape(&l.input_norm), (1, 64));
        assert_eq!(shape(&l.post_attention_norm), (1, 64));
        assert!(l.q_bias.is_none() && l.o_bias.is_none() && l.q_norm.is_none());
    }
    let per_layer = 2 * 4096 + 2 * 2048 + 3 * 8192 + 2 * 64;
    assert_eq!(w.n_params(), 2 * 16384 + 2 * per_layer + 64);
    // The graph weights are valid `model` weights of the same shapes.
    let wt = w.layers[0].q_proj.to_weight();
    assert_eq!(wt.data.len(), 64 * 64);
    assert!(wt.data.iter().any(|&v| v != 0));
}

/// Every dequantised value against the f32 tensor: within `max |w| / qmax` over its column
/// (Symmetric8) or group (Int4), or half a step of the fixed-point grid (Direct, vectors, and
/// exponents at the cap). The folded graph weight equals the dequantised values.
#[test]
fn dequantised_weights_are_within_the_quantisation_bound() {
    let ckpt = Checkpoint::open(&tiny()).unwrap();
    let configs = [
        QuantConfig::symmetric8(8),
        QuantConfig::int4(8, 32),
        QuantConfig::int4(8, 64),
        QuantConfig::direct(8, 12),
    ];
    for quant in configs {
        let w = ckpt.load_decoder(&options(quant)).unwrap();
        for t in w.tensors() {
            let src = ckpt.read_f32(&t.name).unwrap();
            let (rows, cols) = (t.shape.rows, t.shape.cols);
            let vector = rows == 1;
            let transposed = !vector && t.name != "model.embed_tokens.weight";
            let at = |i: usize, j: usize| {
                if transposed {
                    src[j * rows + i]
                } else {
                    src[i * cols + j]
                }
            };
            let (group, qmax, grid) = match quant.strategy {
                _ if vector => (rows, f32::INFINITY, 16),
                Strategy::Direct => (rows, f32::INFINITY, 12),
                Strategy::Symmetric8 => (rows, 127.0, 12),
                Strategy::Int4 { group } => (group as usize, 7.0, 12),
            };
            let deq = t.dequantise();
            let mut worst = 0f32;
            for i in 0..rows {
                let lo = i / group * group;
                for j in 0..cols {
                    let m = (lo..(lo + group).min(rows)).fold(0f32, |m, r| m.max(at(r, j).abs()));
                    let bound = (m / qmax).max(0.5 / (1u32 << grid) as f32) * (1.0 + 1e-6);
                    let err = (deq[i * cols + j] - at(i, j)).abs();
                    assert!(
                        err <= bound,
                        "{} ({i},{j}) {quant:?}: {err} > {bound}",
                        t.name
                    );
                    worst = worst.max(err / bound);
                    if qmax.is_finite() {
                        assert!(t.values.get(i * cols + j).abs() as f32 <= qmax);
                    }
                }
            }
            // Some value is not exactly representable: the check has teeth.
            assert!(worst > 0.05, "{} {quant:?}: worst {worst}", t.name);
            let weight = t.to_weight();
            let s = 2f64.powi(weight.scale as i32);
            for (a, b) in weight.data.iter().zip(&deq) {
                assert_eq!(*a as f64 / s, f64::from(*b), "{}", t.name);
            }
        }
    }
}

#[test]
fn bf16_variant_is_tied_and_rounds_the_f32_values() {
    let f32s = Checkpoint::open(&tiny()).unwrap();
    let bf16 = Checkpoint::open(&tiny_bf16()).unwrap();
    assert!(bf16.config.tie_word_embeddings);
    assert!(!bf16.contains("lm_head.weight"));
    for name in bf16.names() {
        assert_eq!(bf16.meta(name).unwrap().dtype, Dtype::BF16);
        let (a, b) = (bf16.read_f32(name).unwrap(), f32s.read_f32(name).unwrap());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= y.abs() / 256.0, "{name}: {x} vs {y}");
        }
    }
    let w = bf16.load_decoder(&LoadOptions::default()).unwrap();
    assert!(w.lm_head_tied);
    assert_eq!(w.lm_head.name, "lm_head.weight");
    // The head is the transposed embedding, quantised per vocabulary column.
    let embed = bf16.read_f32("model.embed_tokens.weight").unwrap();
    let head = w.lm_head.dequantise();
    for v in 0..256 {
        let m = (0..64).fold(0f32, |m, h| m.max(embed[v * 64 + h].abs()));
        for h in 0..64 {
            assert!((head[h * 256 + v] - embed[v * 64 + h]).abs() <= m / 127.0 + 1e-6);
        }
    }
}

#[test]
fn first_layers_only() {
    let all = load_decoder(&tiny(), &LoadOptions::default()).unwrap();
    let one = load_decoder(
        &tiny(),
        &LoadOptions {
            layers: Some(1),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(one.layers.len(), 1);
    assert_eq!(one.layers[0], all.layers[0]);
    assert_eq!((&one.embed, &one.lm_head), (&all.embed, &all.lm_head));
    let err = load_decoder(
        &tiny(),
        &LoadOptions {
            layers: Some(3),
            ..LoadOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(
        err,
        HfError::LayerCount {
            asked: 3,
            available: 2
        }
    ));
}

#[test]
fn sharded_checkpoint_with_index_loads_like_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    write_synthetic(tmp.path(), &tiny_llama_config(false), Dtype::F32, SEED, 3).unwrap();
    assert!(tmp.path().join(INDEX_FILE).exists());
    assert!(tmp.path().join("model-00003-of-00003.safetensors").exists());
    let sharded = load_decoder(tmp.path(), &LoadOptions::default()).unwrap();
    let single = load_decoder(&tiny(), &LoadOptions::default()).unwrap();
    assert_eq!(sharded, single);
}

/// Per-row INT8 (F32 scales) and packed INT4 (F16 group scales) tensors decode to `q * s`.
#[test]
fn int8_and_packed_int4_tensors_decode_with_their_scales() {
    let q8_name = "model.layers.0.self_attn.q_proj.weight";
    let q4_name = "model.layers.0.mlp.gate_proj.weight";
    let mut want8 = vec![];
    let mut want4 = vec![];
    let dir = edited(|name, raw| {
        let w: Vec<f32> = raw
            .bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if name == q8_name {
            // [64, 64], one scale per row.
            let scales: Vec<f32> = w
                .chunks(64)
                .map(|r| r.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0)
                .collect();
            let q: Vec<i8> = w
                .iter()
                .enumerate()
                .map(|(k, v)| (v / scales[k / 64]).round() as i8)
                .collect();
            want8 = q
                .iter()
                .enumerate()
                .map(|(k, &q)| f32::from(q) * scales[k / 64])
                .collect();
            return vec![
                (
                    name.into(),
                    Raw {
                        dtype: Dtype::I8,
                        shape: vec![64, 64],
                        bytes: q.iter().map(|&q| q as u8).collect(),
                    },
                ),
                (format!("{name}_scale"), Raw::f32(vec![64], &scales)),
            ];
        }
        if name == q4_name {
            // [128, 64] as [128, 32] bytes, groups of 32: scales [128, 2] in F16.
            let scales: Vec<f32> = w
                .chunks(32)
                .map(|g| {
                    half::f16::from_f32(g.iter().fold(0f32, |m, v| m.max(v.abs())) / 7.0).to_f32()
                })
                .collect();
            let q: Vec<i8> = w
                .iter()
                .enumerate()
                .map(|(k, v)| (v / scales[k / 32]).round().clamp(-7.0, 7.0) as i8)
                .collect();
            want4 = q
                .iter()
                .enumerate()
                .map(|(k, &q)| f32::from(q) * scales[k / 32])
                .collect();
            let bytes = q
                .chunks(2)
                .map(|p| (p[0] as u8 & 0x0f) | ((p[1] as u8) << 4))
                .collect();
            let scale_bytes = scales
                .iter()
                .flat_map(|s| half::f16::from_f32(*s).to_le_bytes())
                .collect();
            return vec![
                (
                    name.into(),
                    Raw {
                        dtype: Dtype::U8,
                        shape: vec![128, 32],
                        bytes,
                    },
                ),
                (
                    format!("{name}_scale"),
                    Raw {
                        dtype: Dtype::F16,
                        shape: vec![128, 2],
                        bytes: scale_bytes,
                    },
                ),
            ];
        }
        keep(name, raw)
    });
    let ckpt = Checkpoint::open(dir.path()).unwrap();
    assert_eq!(ckpt.meta(q4_name).unwrap().shape, vec![128, 64]);
    assert_eq!(ckpt.read_f32(q8_name).unwrap(), want8);
    assert_eq!(ckpt.read_f32(q4_name).unwrap(), want4);
    assert!(want4.iter().any(|&v| v < 0.0) && want8.iter().any(|&v| v < 0.0));
    let w = ckpt.load_decoder(&LoadOptions::default()).unwrap();
    assert_eq!(
        (
            w.layers[0].gate_proj.shape.rows,
            w.layers[0].gate_proj.shape.cols
        ),
        (64, 128)
    );
}

#[test]
fn bad_group_size_is_refused() {
    let err = load_decoder(&tiny(), &options(QuantConfig::int4(8, 48))).unwrap_err();
    assert!(matches!(
        err,
        HfError::Quant(model_import::ImportError::GroupSize { group: 48 })
    ));
}
