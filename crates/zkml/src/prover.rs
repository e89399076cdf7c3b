//! The prover: runs the model, commits to the advice, proves the lookups, walks the linear
//! layers backwards and opens every claim on weights and advice in one batch.

use gkr::claim::prove_combine;
use gkr::lookup::{self, Felts, LookupColumn, TableData, TableKind};
use gkr::Claim;
use model::execute::execute_all;
use model::{Tensor, Trace};
use rayon::prelude::*;
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use sumcheck::eval_mle_base;

use crate::circuit::Sink;
use crate::commitment::CommittedModel;
use crate::error::ProveError;
use crate::layers::{self, ProveCx, Router, Visit};
use crate::proof::{ModelProof, NodeProof, PROOF_VERSION};
use crate::transcript;

/// Receives progress reports from a long proof.
pub trait Progress {
    /// Called when a stage starts; `step` of `total`.
    fn stage(&self, name: &str, step: usize, total: usize);
}

impl Progress for () {
    fn stage(&self, _: &str, _: usize, _: usize) {}
}

const STAGES: usize = 5;

/// How the prover treats a witness that breaks a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WitnessCheck {
    /// Refuse to prove (the only mode of [`prove`]).
    Strict,
    /// Prove anyway with multiplicities that ignore the offending rows: simulates a cheating
    /// prover in soundness tests.
    Lenient,
}

/// Runs `model` on `input` and proves the result. Returns the output and the proof.
pub fn prove(
    model: &CommittedModel,
    input: &Tensor,
    progress: &dyn Progress,
) -> Result<(Tensor, ModelProof), ProveError> {
    prove_all(model, std::slice::from_ref(input), progress)
}

/// [`prove`] for a model with several public inputs: one tensor per input node, in order.
pub fn prove_all(
    model: &CommittedModel,
    inputs: &[Tensor],
    progress: &dyn Progress,
) -> Result<(Tensor, ModelProof), ProveError> {
    progress.stage("forward pass", 1, STAGES);
    let trace = execute_all(&model.graph, inputs)?;
    prove_witness(model, inputs, &trace, progress, WitnessCheck::Strict)
}

/// Proves a trace already computed by [`model::execute::execute_all`] on `model.graph` and
/// `inputs` (so that a caller who also reports on the forward pass runs it once). The trace
/// is the witness: one that breaks a lookup is refused, one that is not the graph's
/// computation gives a proof the verifier rejects.
pub fn prove_executed(
    model: &CommittedModel,
    inputs: &[Tensor],
    trace: &Trace,
    progress: &dyn Progress,
) -> Result<(Tensor, ModelProof), ProveError> {
    let fits = trace.values.len() == model.graph.nodes.len()
        && (trace.values.iter().zip(&model.graph.nodes))
            .all(|(t, n)| t.shape == n.shape && t.data.len() == n.shape.len());
    if !fits {
        return Err(ProveError::TraceMismatch);
    }
    prove_witness(model, inputs, trace, progress, WitnessCheck::Strict)
}

/// Proves a given execution trace, as a cheating prover would: with
/// [`WitnessCheck::Lenient`] a trace that breaks a lookup is proved anyway. Soundness tests use
/// it; only with the `test-utils` feature.
#[cfg(feature = "test-utils")]
pub fn prove_trace(
    model: &CommittedModel,
    inputs: &[Tensor],
    trace: &Trace,
    progress: &dyn Progress,
    check: WitnessCheck,
) -> Result<(Tensor, ModelProof), ProveError> {
    prove_witness(model, inputs, trace, progress, check)
}

/// The prover proper: proves the execution trace `trace` of `model` on `inputs`.
fn prove_witness(
    model: &CommittedModel,
    inputs: &[Tensor],
    trace: &Trace,
    progress: &dyn Progress,
    check: WitnessCheck,
) -> Result<(Tensor, ModelProof), ProveError> {
    let graph = &model.graph;
    let circuit = &model.circuit;
    let log_blocks = graph.log_blocks;
    let output = match log_blocks {
        0 => trace.output(graph).clone(),
        l => model::stack::block_rows(trace.output(graph), l, (1 << l) - 1),
    };
    let vals: Vec<Vec<M31>> = trace.values.par_iter().map(Tensor::to_padded_m31).collect();
    let digest = model.vk.digest();
    let more_outputs = trace.more_outputs(graph);
    let mut channel = transcript::start(&digest, inputs, &output, &more_outputs);

    progress.stage("commit advice", 2, STAGES);
    let one_hots: Vec<Vec<M31>> = circuit
        .one_hot
        .iter()
        .map(|&id| layers::softmax::one_hot(graph, id, &trace.values))
        .collect();
    let cx = ProveCx {
        model,
        circuit,
        vals: &vals,
        inputs,
        one_hots: &one_hots,
    };
    let witness: Vec<_> = circuit
        .columns
        .par_iter()
        .map(|&(kind, _)| layers::lookup::column_witness(&cx, kind))
        .collect();
    let columns: Vec<LookupColumn<'_>> = circuit
        .columns
        .iter()
        .zip(&witness)
        .map(|((_, spec), (borrowed, owned))| LookupColumn {
            table: spec.table,
            values: borrowed
                .iter()
                .copied()
                .chain(owned.iter().map(Vec::as_slice))
                .collect(),
            mask: spec.mask,
        })
        .collect();
    let committed: Vec<_> = circuit
        .tables
        .iter()
        .map(|&kind| match kind {
            TableKind::Committed { id, .. } => Some(model.weight_table(id as usize)),
            _ => None,
        })
        .collect();
    let tables: Vec<TableData<'_>> = circuit
        .tables
        .iter()
        .zip(&committed)
        .map(|(&kind, table)| match table {
            Some(t) => TableData::committed(kind, t),
            None => TableData::formula(kind),
        })
        .collect();
    let mults = match (lookup::multiplicities(&tables, &columns), check) {
        (Ok(m), _) => m,
        (Err(e), WitnessCheck::Strict) => return Err(e.into()),
        (Err(_), WitnessCheck::Lenient) => lenient_multiplicities(&tables, &columns),
    };
    let chunks = &circuit.advice_chunks(&model.vk.config)?;
    let advice_polys = commit_advice(circuit, &cx, &mults, chunks, &model.vk.config)?;
    let advice: Vec<pcs::PolyCommitment> = advice_polys
        .iter()
        .map(pcs::CommittedPoly::commitment)
        .collect();
    for c in &advice {
        transcript::mix_root(&mut channel, &c.root, c.n_variables);
    }

    progress.stage("lookups", 3, STAGES);
    let (lookup_proof, lookup_claims) = lookup::prove(&tables, &columns, &mults, &mut channel);
    drop(columns);
    drop(witness);
    let mut to = Router::new(circuit);
    let mut splits = Vec::new();
    layers::lookup::route_claims(circuit, &lookup_claims, &mut to, &mut channel, |id, rem| {
        let y = eval_mle_base(&vals[id], &rem.point);
        splits.push(y);
        Ok(y)
    })?;

    let chain_evals = output_claims(&cx, &output, &mut to, &mut channel)?;
    layers::io::assert_zero_claims(circuit, &mut to, &mut channel);

    progress.stage("layer reductions", 4, STAGES);
    let mut nodes = Vec::new();
    for id in (1..graph.nodes.len()).rev() {
        let layer = layers::of(&graph.nodes[id].op);
        let (combine, claim) = match layer.visit(circuit, id, to.has_claims(id)) {
            Visit::Skip => continue,
            Visit::Standalone => (None, None),
            Visit::Reduce => {
                let node_claims = to.take(id);
                if let [claim] = node_claims.as_slice() {
                    (None, Some(claim.clone()))
                } else {
                    let (p, c) = prove_combine(&vals[id], &node_claims, &mut channel);
                    (Some(p), Some(c))
                }
            }
        };
        let layer = layer.prove(&cx, id, claim, &mut to, &mut channel)?;
        nodes.push(NodeProof {
            node: id as u32,
            combine,
            layer,
        });
    }
    let routed = to.finish();

    progress.stage("opening", 5, STAGES);
    let tiles = model.tile_values(&routed.weights);
    let weight_claims =
        crate::tiles::lift_weight_claims(circuit, routed.weights, &tiles, &mut channel)?;
    let (polys, claim_lists) = crate::packing::opening_lists(
        (&model.chunks, &model.weights, weight_claims),
        (chunks, &advice_polys, routed.advice),
    )?;
    let opening = pcs::prove_openings(&polys, &claim_lists, &model.vk.config.pcs, &mut channel);
    let proof = ModelProof {
        version: PROOF_VERSION,
        model_digest: digest,
        config: model.vk.config,
        advice,
        lookup: lookup_proof,
        rescale_splits: Felts(splits),
        chain: Felts(chain_evals),
        nodes,
        weight_tiles: Felts(tiles),
        opening,
    };
    Ok((output, proof))
}

/// The claims on the output: for a stack, the chain binding every block's input to the
/// previous block's output (its evaluations go into the proof); otherwise, for each public
/// output computed by a linear layer, its MLE at a random point.
fn output_claims(
    cx: &ProveCx<'_>,
    output: &Tensor,
    to: &mut Router<'_>,
    channel: &mut Blake2sChannel,
) -> Result<Vec<QM31>, ProveError> {
    let (graph, vals, inputs) = (&cx.model.graph, cx.vals, cx.inputs);
    let out_id = graph.output;
    let log_blocks = graph.log_blocks;
    if log_blocks > 0 {
        let public_in = inputs
            .first()
            .ok_or(ProveError::Degenerate)?
            .to_padded_m31();
        let public_out = output.to_padded_m31();
        let (h, chain) =
            crate::chain::prove(&vals[0], &public_in, &public_out, log_blocks, channel);
        to.node(out_id, chain.output);
        to.node(0, chain.input);
        return Ok(h);
    }
    for id in cx.circuit.shape.outputs() {
        if cx.circuit.sinks[id] == Sink::Computed {
            let point = channel.draw_secure_felts(graph.nodes[id].shape.n_vars() as usize);
            let value = eval_mle_base(&vals[id], &point);
            to.node(id, Claim::new(point, value));
        }
    }
    Ok(Vec::new())
}

/// Packs the advice (advice node values, one-hot witnesses, multiplicities) and commits it in
/// its chunks.
fn commit_advice(
    circuit: &crate::circuit::Circuit,
    cx: &ProveCx<'_>,
    mults: &[Vec<M31>],
    chunks: &crate::packing::Chunks,
    config: &crate::ProofConfig,
) -> Result<Vec<pcs::CommittedPoly>, ProveError> {
    let advice_tables: Vec<&[M31]> = circuit
        .advice_nodes
        .iter()
        .map(|&id| cx.vals[id].as_slice())
        .chain(cx.one_hots.iter().map(Vec::as_slice))
        .chain(mults.iter().map(Vec::as_slice))
        .collect();
    let packed = circuit.advice_packing.pack(&advice_tables);
    Ok((0..chunks.vars.len())
        .map(|k| {
            let chunk = crate::packing::Packing::chunk_of(&packed, chunks, k);
            pcs::commit(chunk, &config.pcs)
        })
        .collect())
}

/// Multiplicities that count only the rows found in their table.
fn lenient_multiplicities(tables: &[TableData<'_>], columns: &[LookupColumn<'_>]) -> Vec<Vec<M31>> {
    let mut m: Vec<Vec<M31>> = tables
        .iter()
        .map(|t| vec![M31::from_u32_unchecked(0); 1 << t.kind.log_size()])
        .collect();
    for col in columns {
        let table = tables[col.table];
        for (_, row) in col.rows() {
            if let Some(b) = table.index_of(row) {
                m[col.table][b] += M31::from_u32_unchecked(1);
            }
        }
    }
    m
}
