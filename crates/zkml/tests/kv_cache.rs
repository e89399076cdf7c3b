//! Incremental decoding: a prefill step and a one-token step against the K/V cache it left,
//! each proved; the steps agree exactly with the full-sequence block; a cache entry swapped
//! after proving, a new K row that is not the computed one, and a cache that does not continue
//! the previous step are each rejected.
#![allow(clippy::unwrap_used)]

use model::decode::{cached_step, KvCache, KvInputs};
use model::examples::ACT_SCALE;
use model::execute::{execute, execute_checked};
use model::transformer::{random_transformer, transformer, BlockWeights, TransformerConfig};
use model::{ExecError, Graph, Shape, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zkml::prover::{prove_trace, WitnessCheck};
use zkml::{prove_all, verify_all, CommittedModel, ProofConfig, VerifyError};

const CFG: TransformerConfig = model::transformer::TINY_DECODER;

/// `rows x d_model` hidden states in [-1, 1].
fn hidden(rows: usize, seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let one = 1i64 << ACT_SCALE;
    Tensor::new(
        Shape::new(rows, CFG.d_model),
        (0..rows * CFG.d_model)
            .map(|_| rng.gen_range(-one..=one))
            .collect(),
    )
}

fn rows_of(t: &Tensor, from: usize, n: usize) -> Tensor {
    let c = t.shape.cols;
    Tensor::new(Shape::new(n, c), t.data[from * c..(from + n) * c].to_vec())
}

struct Step {
    model: CommittedModel,
    kvs: Vec<KvInputs>,
    inputs: Vec<Tensor>,
}

fn step(blocks: &[BlockWeights], cache: &KvCache, x: Tensor, pos0: usize) -> Step {
    let cfg = TransformerConfig {
        seq_len: x.shape.rows,
        ..CFG
    };
    let (graph, kvs): (Graph, _) = cached_step("step", &cfg, blocks, pos0).unwrap();
    let inputs = cache.step_inputs(&graph, &kvs, x).unwrap();
    let model = CommittedModel::new(graph, ProofConfig::default()).unwrap();
    Step { model, kvs, inputs }
}

#[test]
fn prefill_then_one_token_prove_and_match_the_full_block() {
    let (_, blocks) = random_transformer(&CFG, 2, 2, 17);
    let x = hidden(8, 3);
    let full = transformer("full", &CFG, None, &blocks).unwrap();
    let want = execute(&full, &x).unwrap().output(&full).clone();

    // Prefill: positions 0..7.
    let empty = KvCache { layers: vec![] };
    let pre = step(&blocks, &empty, rows_of(&x, 0, 7), 0);
    let (y0, p0) = prove_all(&pre.model, &pre.inputs, &()).unwrap();
    verify_all(&pre.model.vk, &pre.inputs, &y0, &p0).unwrap();
    assert_eq!(y0, rows_of(&want, 0, 7));
    assert_eq!(pre.kvs.len(), 2);

    // One token at position 7 against the cache of 7 rows.
    let cache = KvCache::after(&pre.inputs);
    let next = step(&blocks, &cache, rows_of(&x, 7, 1), 7);
    assert!(cache.check_next(&next.inputs));
    // Another graph (cache length, positions), the same weights and one weight commitment.
    assert_ne!(pre.model.vk.digest(), next.model.vk.digest());
    assert_eq!(pre.model.vk.weights, next.model.vk.weights);
    // The step's model can reuse the prefill's commitment outright.
    let rebound = CommittedModel::new(pre.model.graph.clone(), ProofConfig::default())
        .unwrap()
        .rebind(next.model.graph.clone())
        .unwrap();
    assert_eq!(rebound.vk, next.model.vk);
    // Another model's weights are refused.
    let (_, others) = random_transformer(&CFG, 2, 2, 18);
    let (foreign, _) = cached_step("other", &CFG, &others, 0).unwrap();
    assert!(matches!(
        rebound.rebind(foreign),
        Err(zkml::ProveError::WeightsDiffer)
    ));
    let (y1, p1) = prove_all(&next.model, &next.inputs, &()).unwrap();
    verify_all(&next.model.vk, &next.inputs, &y1, &p1).unwrap();
    // Exactly the full block's last row: same integers, same tables.
    assert_eq!(y1, rows_of(&want, 7, 1));
    eprintln!(
        "prefill 7 rows: proof {} B; one token against 7 cached rows: proof {} B",
        p0.size_bytes(),
        p1.size_bytes()
    );

    // A cached entry swapped after proving: the proof no longer verifies.
    for which in [1, 2, 3, 4] {
        let mut swapped = next.inputs.clone();
        swapped[which].data.swap(0, 2 * CFG.head_dim + 1);
        assert_ne!(swapped[which], next.inputs[which]);
        assert!(verify_all(&next.model.vk, &swapped, &y1, &p1).is_err());
    }
    // Missing or extra public inputs are refused by shape.
    assert!(matches!(
        verify_all(&next.model.vk, &next.inputs[..4], &y1, &p1),
        Err(VerifyError::InputCount { .. })
    ));
}

#[test]
fn a_step_must_continue_the_cache_and_bind_its_own_rows() {
    let (_, blocks) = random_transformer(&CFG, 2, 1, 23);
    let x = hidden(4, 5);
    let empty = KvCache { layers: vec![] };
    let pre = step(&blocks, &empty, rows_of(&x, 0, 3), 0);
    let cache = KvCache::after(&pre.inputs);

    // A step over an altered cache proves (it is a true statement about that cache) but does
    // not continue the proved one.
    let mut altered = cache.clone();
    altered.layers[0].1.data[5] += 1;
    let other = step(&blocks, &altered, rows_of(&x, 3, 1), 3);
    assert!(!cache.check_next(&other.inputs));
    let honest = step(&blocks, &cache, rows_of(&x, 3, 1), 3);
    assert!(cache.check_next(&honest.inputs));

    // A new K row that is not the computed one: the executor refuses it, and a prover that
    // proves the trace anyway is caught.
    let mut forged = honest.inputs.clone();
    let last_row = 3 * forged[1].shape.cols;
    forged[1].data[last_row + 4] += 1;
    let err = zkml::prove_all(&honest.model, &forged, &()).unwrap_err();
    assert!(
        matches!(err, zkml::ProveError::Exec(ExecError::NotZero { .. })),
        "{err}"
    );
    let trace = execute_checked(&honest.model.graph, &forged, false).unwrap();
    let (y, p) = prove_trace(&honest.model, &forged, &trace, &(), WitnessCheck::Lenient).unwrap();
    assert!(verify_all(&honest.model.vk, &forged, &y, &p).is_err());
}
