//! A BERT-base-shaped encoder exported as ONNX, proved end to end through the importer: int64
//! `input_ids` and `attention_mask` (the last eighth of the positions padding), word +
//! position + token-type embeddings with LayerNorm, then per layer masked multi-head
//! self-attention (MatMul + bias, Reshape, Transpose, MatMul of two activations, Div,
//! mask Add, Softmax, MatMul, Transpose, Reshape, MatMul + bias), residual + LayerNorm, a Gelu
//! (Erf form) FFN, residual + LayerNorm; seeded random weights. The ONNX file is written by
//! this bench (with tract's protobuf types), not shipped.
//!
//! `cargo bench -p model-import --bench encoder [-- CASE]`, CASE `bert-base` (default: d 768,
//! 12 heads, ffn 3072, 12 layers, seq 128, vocab 30,522), `bert-base-64` (the same at seq 64)
//! or `bert-mini` (d 256, 4 heads, ffn 1024, 4 layers, seq 64, vocab 4,096). At seq 128 the
//! circuit's LogUp and sumcheck error bound leaves 95 bits, below the 96-bit floor: the
//! commitment is refused and the bench says so. Prints import, commit, prove, verify, the
//! prove / forward ratio, proof size, the output's error against tract's f32 run and the
//! peak resident set.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use model_import::recipe::{prepare_onnx, OnnxFile};
use model_import::{seeded_uniform, QuantConfig};
use prost::Message;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_shape_proto::{dimension::Value as Dim, Dimension};
use tract_onnx::pb::type_proto::{Tensor as TensorType, Value as Type};
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use zkml::{prove_executed, verify_all, CommittedModel, ProofConfig};

const FLOAT: i32 = 1;
const INT64: i32 = 7;

struct Shape {
    d: usize,
    heads: usize,
    ffn: usize,
    layers: usize,
    seq: usize,
    vocab: usize,
}

fn shape(case: &str) -> Shape {
    match case {
        "bert-mini" => Shape {
            d: 256,
            heads: 4,
            ffn: 1024,
            layers: 4,
            seq: 64,
            vocab: 4096,
        },
        _ => Shape {
            d: 768,
            heads: 12,
            ffn: 3072,
            layers: 12,
            seq: if case == "bert-base-64" { 64 } else { 128 },
            vocab: 30_522,
        },
    }
}

fn peak_gib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / (1u64 << 20) as f64)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The graph under construction: nodes, initialisers, a seeded value stream.
struct Builder {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    rng: Box<dyn Iterator<Item = f32>>,
}

fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}

impl Builder {
    fn node(&mut self, op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            op_type: op.into(),
            name: output.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            attribute: attrs,
            ..Default::default()
        });
    }

    fn floats(&mut self, name: &str, dims: &[usize], data: Vec<f32>) {
        self.inits.push(TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: FLOAT,
            float_data: data,
            ..Default::default()
        });
    }

    fn ints(&mut self, name: &str, dims: &[usize], data: Vec<i64>) {
        self.inits.push(TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: INT64,
            int64_data: data,
            ..Default::default()
        });
    }

    /// A seeded matrix uniform in `[-a, a]`, `a = sqrt(3 / fan_in)` (unit output variance).
    fn random(&mut self, name: &str, dims: &[usize], fan_in: usize) {
        let a = (3.0 / fan_in as f32).sqrt();
        let n: usize = dims.iter().product();
        let data = self
            .rng
            .by_ref()
            .take(n)
            .map(|u| (2.0 * u - 1.0) * a)
            .collect();
        self.floats(name, dims, data);
    }

    fn constant(&mut self, name: &str, dims: &[usize], v: f32) {
        let n: usize = dims.iter().product();
        self.floats(name, dims, vec![v; n]);
    }

    /// `x W + b` into `out`.
    fn linear(&mut self, x: &str, out: &str, k: usize, n: usize) {
        self.random(&format!("{out}.w"), &[k, n], k);
        self.random(&format!("{out}.b"), &[n], 64);
        self.node(
            "MatMul",
            &[x, &format!("{out}.w")],
            &format!("{out}.mm"),
            vec![],
        );
        self.node(
            "Add",
            &[&format!("{out}.mm"), &format!("{out}.b")],
            out,
            vec![],
        );
    }

    fn layer_norm(&mut self, x: &str, out: &str, d: usize) {
        self.constant(&format!("{out}.gamma"), &[d], 1.0);
        self.constant(&format!("{out}.beta"), &[d], 0.0);
        let (g, b) = (format!("{out}.gamma"), format!("{out}.beta"));
        let attrs = vec![attr_int("axis", -1), attr_float("epsilon", 1e-12)];
        self.node("LayerNormalization", &[x, &g, &b], out, attrs);
    }
}

fn tensor_info(name: &str, elem: i32, dims: &[usize]) -> ValueInfoProto {
    let dim = |d: usize| Dimension {
        value: Some(Dim::DimValue(d as i64)),
        denotation: String::new(),
    };
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            denotation: String::new(),
            value: Some(Type::TensorType(TensorType {
                elem_type: elem,
                shape: Some(TensorShapeProto {
                    dim: dims.iter().map(|&d| dim(d)).collect(),
                }),
            })),
        }),
        doc_string: String::new(),
    }
}

fn encoder(s: &Shape) -> ModelProto {
    let (d, h, dh) = (s.d, s.heads, s.d / s.heads);
    let mut b = Builder {
        nodes: vec![],
        inits: vec![],
        rng: Box::new(seeded_uniform(7)),
    };
    b.random("word_emb", &[s.vocab, d], 3);
    b.random("pos_emb", &[512, d], 30);
    b.random("type_emb", &[2, d], 30);
    b.ints("position_ids", &[1, s.seq], (0..s.seq as i64).collect());
    b.ints("token_type_ids", &[1, s.seq], vec![0; s.seq]);
    b.node(
        "Gather",
        &["word_emb", "input_ids"],
        "we",
        vec![attr_int("axis", 0)],
    );
    b.node(
        "Gather",
        &["pos_emb", "position_ids"],
        "pe",
        vec![attr_int("axis", 0)],
    );
    b.node(
        "Gather",
        &["type_emb", "token_type_ids"],
        "te",
        vec![attr_int("axis", 0)],
    );
    b.node("Add", &["we", "pe"], "e0", vec![]);
    b.node("Add", &["e0", "te"], "e1", vec![]);
    b.layer_norm("e1", "h0", d);
    b.ints("mask_axes", &[2], vec![1, 2]);
    b.constant("one", &[], 1.0);
    b.constant("neg_big", &[], -10000.0);
    b.node("Unsqueeze", &["attention_mask", "mask_axes"], "m0", vec![]);
    b.node("Cast", &["m0"], "m1", vec![attr_int("to", FLOAT as i64)]);
    b.node("Sub", &["one", "m1"], "m2", vec![]);
    b.node("Mul", &["m2", "neg_big"], "mask", vec![]);
    b.ints(
        "heads_shape",
        &[4],
        vec![1, s.seq as i64, h as i64, dh as i64],
    );
    b.ints("model_shape", &[3], vec![1, s.seq as i64, d as i64]);
    b.constant("sqrt_dh", &[], (dh as f32).sqrt());
    b.constant("sqrt2", &[], std::f32::consts::SQRT_2);
    b.constant("half", &[], 0.5);
    let mut x = "h0".to_string();
    for l in 0..s.layers {
        let p = |n: &str| format!("l{l}.{n}");
        for n in ["q", "k", "v"] {
            b.linear(&x, &p(n), d, d);
            b.node(
                "Reshape",
                &[&p(n), "heads_shape"],
                &p(&format!("{n}4")),
                vec![],
            );
        }
        let perm = |v: &[i64]| vec![attr_ints("perm", v)];
        b.node("Transpose", &[&p("q4")], &p("qt"), perm(&[0, 2, 1, 3]));
        b.node("Transpose", &[&p("k4")], &p("kt"), perm(&[0, 2, 3, 1]));
        b.node("Transpose", &[&p("v4")], &p("vt"), perm(&[0, 2, 1, 3]));
        b.node("MatMul", &[&p("qt"), &p("kt")], &p("s0"), vec![]);
        b.node("Div", &[&p("s0"), "sqrt_dh"], &p("s1"), vec![]);
        b.node("Add", &[&p("s1"), "mask"], &p("s2"), vec![]);
        b.node("Softmax", &[&p("s2")], &p("pr"), vec![attr_int("axis", -1)]);
        b.node("MatMul", &[&p("pr"), &p("vt")], &p("c0"), vec![]);
        b.node("Transpose", &[&p("c0")], &p("c1"), perm(&[0, 2, 1, 3]));
        b.node("Reshape", &[&p("c1"), "model_shape"], &p("c2"), vec![]);
        b.linear(&p("c2"), &p("o"), d, d);
        b.node("Add", &[&x, &p("o")], &p("r1"), vec![]);
        b.layer_norm(&p("r1"), &p("a"), d);
        b.linear(&p("a"), &p("f1"), d, s.ffn);
        b.node("Div", &[&p("f1"), "sqrt2"], &p("g0"), vec![]);
        b.node("Erf", &[&p("g0")], &p("g1"), vec![]);
        b.node("Add", &[&p("g1"), "one"], &p("g2"), vec![]);
        b.node("Mul", &[&p("f1"), &p("g2")], &p("g3"), vec![]);
        b.node("Mul", &[&p("g3"), "half"], &p("g4"), vec![]);
        b.linear(&p("g4"), &p("f2"), s.ffn, d);
        b.node("Add", &[&p("a"), &p("f2")], &p("r2"), vec![]);
        b.layer_norm(&p("r2"), &p("out"), d);
        x = p("out");
    }
    b.node("Identity", &[&x], "last_hidden_state", vec![]);
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        producer_name: "stwo-ml encoder bench".into(),
        graph: Some(GraphProto {
            name: "encoder".into(),
            node: b.nodes,
            initializer: b.inits,
            input: vec![
                tensor_info("input_ids", INT64, &[1, s.seq]),
                tensor_info("attention_mask", INT64, &[1, s.seq]),
            ],
            output: vec![tensor_info("last_hidden_state", FLOAT, &[1, s.seq, d])],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn main() {
    let case = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "bert-base".into());
    let s = shape(&case);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{case}.onnx"));
    let t = Instant::now();
    std::fs::write(&path, encoder(&s).encode_to_vec()).unwrap();
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "{case}: d {}, {} heads, ffn {}, {} layers, seq {}, vocab {}; ONNX {:.0} MB written in {:.1} s",
        s.d,
        s.heads,
        s.ffn,
        s.layers,
        s.seq,
        s.vocab,
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    // Token ids spread over the vocabulary; the last eighth of the positions is padding.
    let real = s.seq - s.seq / 8;
    let mut values: Vec<f32> = (0..s.seq)
        .map(|i| {
            if i < real {
                ((i * 7919 + 101) % s.vocab) as f32
            } else {
                0.0
            }
        })
        .collect();
    values.extend((0..s.seq).map(|i| if i < real { 1.0 } else { 0.0 }));
    let config = QuantConfig::direct(12, 12);
    let t = Instant::now();
    let file = OnnxFile::from(path.as_path());
    let prepared = prepare_onnx(file, &config, Some(&values), 1).unwrap();
    let import = t.elapsed();
    let report = match &prepared.report {
        Some(r) => r.to_string().lines().next().unwrap_or_default().to_string(),
        None => String::new(),
    };
    let t = Instant::now();
    model::execute::execute_all(&prepared.graph, &prepared.inputs).unwrap();
    let forward = t.elapsed();
    let t = Instant::now();
    let committed = match CommittedModel::new(prepared.graph.clone(), ProofConfig::default()) {
        Ok(c) => c,
        Err(e) => {
            println!("  not proved: {e}");
            return;
        }
    };
    let commit = t.elapsed();
    let t = Instant::now();
    let (y, proof) = prove_executed(&committed, &prepared.inputs, &prepared.trace, &()).unwrap();
    let prove = t.elapsed();
    let t = Instant::now();
    verify_all(&committed.vk, &prepared.inputs, &y, &proof).unwrap();
    let verify = t.elapsed();
    println!(
        "  {} parameters as committed; import (tract, lowering, calibration, quantised and f32 runs) {:.1} s",
        committed.graph.n_params(),
        import.as_secs_f64()
    );
    println!("  {report}");
    println!(
        "  forward {:.0} ms | commit {:.1} s | prove {:.2} s ({:.1}x forward) | verify {:.0} ms | proof {:.2} MB | peak {:.2} GiB",
        ms(forward),
        commit.as_secs_f64(),
        prove.as_secs_f64(),
        prove.as_secs_f64() / forward.as_secs_f64(),
        ms(verify),
        proof.size_bytes() as f64 / 1e6,
        peak_gib()
    );
}
