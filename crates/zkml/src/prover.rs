//! The prover: runs the model, commits to the advice, proves the lookups, walks the linear
//! layers backwards and opens every claim on weights and advice in one batch.

use gkr::claim::prove_combine;
use gkr::elementwise::{prove_add, prove_add_bias, prove_mul};
use gkr::linear;
use gkr::lookup::{self, Felts, LookupColumn, TableData, TableKind};
use gkr::matmul::{self, MatMulDims};
use gkr::Claim;
use model::execute::execute_all;
use model::tensor::to_m31;
use model::{NodeId, Op, Tensor, Trace};
use rayon::prelude::*;
use stwo::core::channel::Channel;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use sumcheck::eval_mle_base;

use crate::circuit::{padded_lookup_mask, rhs_padding_vars, ColumnKind, Sink};
use crate::commitment::CommittedModel;
use crate::error::ProveError;
use crate::proof::{LayerProof, ModelProof, NodeProof, PROOF_VERSION};
use crate::softmax;
use crate::transcript;
use crate::views::{
    column_claim, mul_weight_view, rows_weight_claim, rows_weight_view, weight_claim,
    weight_view_log_rows,
};

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
#[doc(hidden)]
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
    prove_trace(model, inputs, &trace, progress, WitnessCheck::Strict)
}

/// Proves a given execution trace. [`prove`] is the entry point; this one exists so that tests
/// can play a cheating prover with a forged trace.
#[doc(hidden)]
pub fn prove_trace(
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
    let mut channel = transcript::start(&digest, inputs, &output);

    // Lookup columns and the advice commitment.
    progress.stage("commit advice", 2, STAGES);
    let remainders: Vec<Option<Vec<M31>>> = graph
        .nodes
        .par_iter()
        .enumerate()
        .map(|(id, node)| match node.op {
            Op::Rescale { input, shift } => {
                let s = M31::from_u32_unchecked(1 << shift);
                Some(
                    vals[input]
                        .iter()
                        .zip(&vals[id])
                        .map(|(&x, &y)| x - s * y)
                        .collect(),
                )
            }
            _ => None,
        })
        .collect();
    let one_hots: Vec<Vec<M31>> = circuit
        .one_hot
        .iter()
        .map(|&id| softmax::one_hot(graph, id, &trace.values))
        .collect();
    let one_hot_of = |id: NodeId| -> &[M31] {
        circuit
            .one_hot
            .iter()
            .position(|&n| n == id)
            .map_or(&[], |k| one_hots[k].as_slice())
    };
    let virtual_columns: Vec<Vec<Vec<M31>>> = circuit
        .columns
        .par_iter()
        .map(|&(kind, _)| match softmax::column_node(kind) {
            Some(id) => softmax::column_tables(graph, kind, &vals, one_hot_of(id)),
            None => vec![],
        })
        .collect();
    let columns: Vec<LookupColumn<'_>> = circuit
        .columns
        .iter()
        .zip(&virtual_columns)
        .map(|((kind, spec), owned)| {
            let values: Vec<&[M31]> = match *kind {
                ColumnKind::SoftmaxOut(id) => vec![&vals[id]],
                ColumnKind::SoftmaxOneHot(_)
                | ColumnKind::SoftmaxGap(_)
                | ColumnKind::SoftmaxExp(_)
                | ColumnKind::SoftmaxRem(_)
                | ColumnKind::SoftmaxRemGap(_) => owned.iter().map(Vec::as_slice).collect(),
                ColumnKind::RescaleOutput(id) => vec![&vals[id]],
                ColumnKind::RescaleRemainder(id) => {
                    vec![remainders[id].as_deref().unwrap_or_default()]
                }
                ColumnKind::Relu(id) | ColumnKind::Lookup(id) => match graph.nodes[id].op {
                    Op::Relu { input } | Op::Lookup { input, .. } => vec![&vals[input], &vals[id]],
                    _ => vec![],
                },
            };
            LookupColumn {
                table: spec.table,
                values,
                mask: spec.mask,
            }
        })
        .collect();
    let wpack = &circuit.weight_packing;
    let tables: Vec<TableData<'_>> = circuit
        .tables
        .iter()
        .map(|&kind| match kind {
            TableKind::Committed { id, .. } => {
                TableData::committed(kind, model.weight_table(id as usize))
            }
            _ => TableData::formula(kind),
        })
        .collect();
    let mults = match (lookup::multiplicities(&tables, &columns), check) {
        (Ok(m), _) => m,
        (Err(e), WitnessCheck::Strict) => return Err(e.into()),
        (Err(_), WitnessCheck::Lenient) => lenient_multiplicities(&tables, &columns),
    };
    let advice_tables: Vec<&[M31]> = circuit
        .advice_nodes
        .iter()
        .map(|&id| vals[id].as_slice())
        .chain(one_hots.iter().map(Vec::as_slice))
        .chain(mults.iter().map(Vec::as_slice))
        .collect();
    let packed = circuit.advice_packing.pack(&advice_tables);
    let chunks = &circuit.advice_chunks(&model.vk.config)?;
    let advice_polys: Vec<pcs::CommittedPoly> = (0..chunks.vars.len())
        .map(|k| {
            let chunk = crate::packing::Packing::chunk_of(&packed, chunks, k);
            pcs::commit(chunk, &model.vk.config.pcs)
        })
        .collect();
    drop(packed);
    let advice: Vec<pcs::PolyCommitment> = advice_polys
        .iter()
        .map(pcs::CommittedPoly::commitment)
        .collect();
    for c in &advice {
        transcript::mix_root(&mut channel, &c.root, c.n_variables);
    }

    progress.stage("lookups", 3, STAGES);
    let (lookup_proof, lookup_claims) = lookup::prove(&tables, &columns, &mults, &mut channel);
    let n = graph.nodes.len();
    let mut claims: Vec<Vec<Claim>> = vec![Vec::new(); n];
    let mut splits = Vec::new();
    let mut pending: Vec<Vec<Vec<Claim>>> = vec![Vec::new(); n];
    for ((kind, _), col_claims) in circuit.columns.iter().zip(&lookup_claims.columns) {
        if let Some(id) = softmax::column_node(*kind) {
            pending[id].push(col_claims.clone());
            continue;
        }
        match *kind {
            ColumnKind::RescaleOutput(id) => claims[id].push(col_claims[0].clone()),
            ColumnKind::RescaleRemainder(id) => {
                let Op::Rescale { input, shift } = graph.nodes[id].op else {
                    continue;
                };
                let rem = &col_claims[0];
                let y_eval = eval_mle_base(&vals[id], &rem.point);
                channel.mix_felts(&[y_eval]);
                splits.push(y_eval);
                let s = M31::from_u32_unchecked(1 << shift);
                claims[id].push(Claim::new(rem.point.clone(), y_eval));
                claims[input].push(Claim::new(rem.point.clone(), rem.value + y_eval * s));
            }
            ColumnKind::Relu(id) | ColumnKind::Lookup(id) => {
                let (Op::Relu { input } | Op::Lookup { input, .. }) = graph.nodes[id].op else {
                    continue;
                };
                claims[input].push(col_claims[0].clone());
                claims[id].push(col_claims[1].clone());
            }
            _ => {}
        }
    }
    let mut advice_claims: Vec<Claim> = lookup_claims
        .multiplicities
        .iter()
        .enumerate()
        .map(|(t, c)| circuit.advice_packing.lift(circuit.multiplicity_item(t), c))
        .collect();

    // The output claim, when the output is computed by a linear layer; for a stack, the chain.
    let out_id = graph.output;
    let mut chain_evals = Vec::new();
    if log_blocks > 0 {
        let public_in = inputs
            .first()
            .ok_or(ProveError::Degenerate)?
            .to_padded_m31();
        let public_out = output.to_padded_m31();
        let (h, chain) =
            crate::chain::prove(&vals[0], &public_in, &public_out, log_blocks, &mut channel);
        chain_evals = h;
        claims[out_id].push(chain.output);
        claims[0].push(chain.input);
    } else if circuit.sinks[out_id] == Sink::Computed {
        let point = channel.draw_secure_felts(graph.nodes[out_id].shape.n_vars() as usize);
        let value = eval_mle_base(&vals[out_id], &point);
        claims[out_id].push(Claim::new(point, value));
    }
    // Tensors asserted zero: their MLE vanishes at a random point.
    for node in &graph.nodes {
        if let Op::AssertZero { input } = node.op {
            let point = channel.draw_secure_felts(node.shape.n_vars() as usize);
            claims[input].push(Claim::new(point, QM31::from(M31::from_u32_unchecked(0))));
        }
    }

    progress.stage("layer reductions", 4, STAGES);
    let mut weight_claims: Vec<Claim> = circuit
        .committed_tables()
        .zip(&lookup_claims.committed)
        .map(|(w, c)| wpack.lift(w, c))
        .collect();
    let mut nodes = Vec::new();
    for id in (1..n).rev() {
        if softmax::is_softmax(&graph.nodes[id].op) {
            let routing = softmax::Routing {
                claims: &mut claims,
                advice: &mut advice_claims,
            };
            let pend = std::mem::take(&mut pending[id]);
            let hot = one_hot_of(id);
            let layer = softmax::prove_node(circuit, id, &vals, hot, pend, routing, &mut channel);
            nodes.push(NodeProof {
                node: id as u32,
                combine: None,
                layer,
            });
            continue;
        }
        if let Some(mask) = padded_lookup_mask(&circuit.shape, id) {
            let (p, c) = gkr::softmax::prove_zero_off_mask(&vals[id], &mask, &mut channel);
            claims[id].push(c);
            nodes.push(NodeProof {
                node: id as u32,
                combine: None,
                layer: LayerProof::ZeroPadding(p),
            });
            continue;
        }
        if circuit.sinks[id] != Sink::Computed || claims[id].is_empty() {
            continue;
        }
        let node_claims = std::mem::take(&mut claims[id]);
        let (combine, claim) = if node_claims.len() == 1 {
            (None, node_claims[0].clone())
        } else {
            let (p, c) = prove_combine(&vals[id], &node_claims, &mut channel);
            (Some(p), c)
        };
        let shape = graph.nodes[id].shape;
        let layer = match graph.nodes[id].op {
            Op::MatMul { input, weight } => {
                let x = graph.nodes[input].shape;
                let dims = MatMulDims {
                    log_m: x.log_rows() - log_blocks,
                    log_k: x.log_cols(),
                    log_n: shape.log_cols(),
                    transpose_rhs: false,
                    log_blocks,
                };
                let w = model.weight_table(weight);
                let (p, ca, cw) = matmul::prove(&vals[input], w, dims, &claim, &mut channel);
                claims[input].push(ca);
                weight_claims.push(wpack.lift(weight, &cw));
                LayerProof::MatMul(p)
            }
            Op::MatMulAct {
                lhs,
                rhs,
                transpose_rhs,
            } => {
                let x = graph.nodes[lhs].shape;
                let dims = MatMulDims {
                    log_m: x.log_rows() - log_blocks,
                    log_k: x.log_cols(),
                    log_n: shape.log_cols(),
                    transpose_rhs,
                    log_blocks,
                };
                // A one-row right operand (seq_len 1) meets an operand padded to two.
                let extra = rhs_padding_vars(dims, graph.nodes[rhs].shape);
                let mut rhs_table = vals[rhs].clone();
                rhs_table.resize(rhs_table.len() << extra, M31::from(0u32));
                let (p, cl, cr) = matmul::prove(&vals[lhs], &rhs_table, dims, &claim, &mut channel);
                let cr = cr.strip_zero_padding(extra).ok_or(ProveError::Degenerate)?;
                claims[lhs].push(cl);
                claims[rhs].push(cr);
                LayerProof::MatMul(p)
            }
            Op::AddBias { input, bias } => {
                let b = model.weight_table(bias);
                let log_rows = shape.log_rows() as usize;
                let (p, cx, cb) = prove_add_bias(b, shape.rows, log_rows, &claim, &mut channel);
                claims[input].push(cx);
                weight_claims.push(wpack.lift(bias, &cb));
                LayerProof::AddBias(p)
            }
            Op::Add { lhs, rhs } => {
                let (p, cl, cr) = prove_add(&vals[lhs], &claim, &mut channel);
                claims[lhs].push(cl);
                claims[rhs].push(cr);
                LayerProof::Add(p)
            }
            Op::Mul { lhs, rhs } => {
                let (p, cl, cr) = prove_mul(&vals[lhs], &vals[rhs], &claim, &mut channel);
                claims[lhs].push(cl);
                claims[rhs].push(cr);
                LayerProof::Mul(p)
            }
            Op::RowSum { input } => {
                let xs = graph.nodes[input].shape;
                let (lr, lc) = (xs.log_rows() as usize, xs.log_cols() as usize);
                let (p, cx) = linear::prove_row_sum(&vals[input], lr, lc, &claim, &mut channel);
                claims[input].push(cx);
                LayerProof::Eval(p)
            }
            Op::MulConst { input, .. } => {
                let (p, cx) = linear::prove_mul_const(&vals[input], &claim, &mut channel);
                claims[input].push(cx);
                LayerProof::Eval(p)
            }
            Op::AddConst { input, c } => {
                let lr = shape.log_rows() as usize;
                let cx = linear::add_const_claim(to_m31(c), shape.rows, shape.cols, lr, &claim)?;
                claims[input].push(cx);
                LayerProof::AddConst
            }
            Op::MulColumn { lhs, rhs } => {
                let lc = shape.log_cols();
                let col = &vals[rhs];
                let expanded: Vec<M31> =
                    (0..vals[lhs].len()).map(|i| col[(i >> lc) << 1]).collect();
                let (p, cl, cr) = prove_mul(&vals[lhs], &expanded, &claim, &mut channel);
                claims[lhs].push(cl);
                claims[rhs].push(column_claim(&cr, shape.log_rows() as usize));
                LayerProof::Mul(p)
            }
            Op::MulWeight { input, weight } => {
                let w = model.weight_table(weight);
                let view_rows = weight_view_log_rows(graph.weights[weight].shape, shape);
                let (lr, lc) = (shape.log_rows(), shape.log_cols());
                let expanded = mul_weight_view(w, view_rows, lr, lc);
                let (p, cx, cw) = prove_mul(&vals[input], &expanded, &claim, &mut channel);
                claims[input].push(cx);
                let cw = weight_claim(cw, view_rows as usize, lr as usize);
                weight_claims.push(wpack.lift(weight, &cw));
                LayerProof::Mul(p)
            }
            Op::ColumnSlice { input, start, len } => {
                let x = graph.nodes[input].shape;
                let (lr, lc) = (x.log_rows() as usize, x.log_cols() as usize);
                let l = len.ilog2() as usize;
                let cx = linear::slice_claim(&claim, lr, lc, l, start / len)?;
                claims[input].push(cx);
                LayerProof::Relabel
            }
            Op::MulWeightRows {
                input,
                weight,
                row0,
            } => {
                let ws = graph.weights[weight].shape;
                // In a stack every block reads the same rows: the view repeats per block.
                let (lr, lc) = (shape.log_rows() - log_blocks, shape.log_cols());
                let view =
                    rows_weight_view(model.weight_table(weight), ws.log_cols(), lr, lc, row0)
                        .repeat(1 << log_blocks);
                let (p, cx, cv) = prove_mul(&vals[input], &view, &claim, &mut channel);
                claims[input].push(cx);
                let cv = Claim::new(cv.point[log_blocks as usize..].to_vec(), cv.value);
                let cw = rows_weight_claim(
                    &cv,
                    lr as usize,
                    ws.log_rows() as usize,
                    ws.log_cols() as usize,
                    row0,
                );
                weight_claims.push(wpack.lift(weight, &cw));
                LayerProof::Mul(p)
            }
            Op::RowSlice { input, start, len } => {
                let x = graph.nodes[input].shape;
                let (lr, lc) = (x.log_rows() as usize, x.log_cols() as usize);
                let l = len.ilog2() as usize;
                let cx = linear::row_slice_claim(&claim, lr, lc, l, start / len)?;
                claims[input].push(cx);
                LayerProof::Relabel
            }
            Op::ConcatAligned { ref parts } => {
                let tables: Vec<&[M31]> = parts.iter().map(|&p| vals[p].as_slice()).collect();
                let widths: Vec<usize> = parts
                    .iter()
                    .map(|&p| graph.nodes[p].shape.log_cols() as usize)
                    .collect();
                let lr = shape.log_rows() as usize;
                let (p, cs) =
                    linear::prove_concat_aligned(&tables, lr, &widths, &claim, &mut channel);
                for (&part, c) in parts.iter().zip(cs) {
                    claims[part].push(c);
                }
                LayerProof::Evals(p)
            }
            Op::ConcatColumns { ref parts } => {
                let w = graph.nodes[parts[0]].shape;
                let tables: Vec<&[M31]> = parts.iter().map(|&p| vals[p].as_slice()).collect();
                let (lr, lw) = (w.log_rows() as usize, w.log_cols() as usize);
                let (p, cs) = linear::prove_concat(&tables, lr, lw, &claim, &mut channel);
                for (&part, c) in parts.iter().zip(cs) {
                    claims[part].push(c);
                }
                LayerProof::Evals(p)
            }
            Op::BroadcastColumn { input, .. } => {
                let lr = shape.log_rows() as usize;
                let (p, cx) =
                    linear::prove_broadcast_column(&vals[input], lr, &claim, &mut channel);
                claims[input].push(cx);
                LayerProof::Eval(p)
            }
            Op::RotateHalf { input, log_block } => {
                let t = (shape.log_rows() + shape.log_cols() - log_block) as usize;
                let (p, c0, c1) = linear::prove_rotate_half(&vals[input], t, &claim, &mut channel);
                claims[input].push(c0);
                claims[input].push(c1);
                LayerProof::Pair(p)
            }
            Op::Embedding { table, .. } => {
                let ids: Vec<usize> = inputs
                    .first()
                    .map(|t| t.data.iter().map(|&v| v.max(0) as usize).collect())
                    .unwrap_or_default();
                let w = model.weight_table(table);
                let (p, cw) =
                    softmax::prove_embedding(circuit, id, table, &ids, w, &claim, &mut channel);
                weight_claims.push(wpack.lift(table, &cw));
                p
            }
            Op::Input
            | Op::AssertZero { .. }
            | Op::Relu { .. }
            | Op::Rescale { .. }
            | Op::Lookup { .. }
            | Op::SoftmaxMax { .. }
            | Op::SoftmaxExp { .. }
            | Op::SoftmaxDiv { .. } => continue,
        };
        nodes.push(NodeProof {
            node: id as u32,
            combine,
            layer,
        });
    }
    for (item, &id) in circuit.advice_nodes.iter().enumerate() {
        for c in &claims[id] {
            advice_claims.push(circuit.advice_packing.lift(item, c));
        }
    }

    progress.stage("opening", 5, STAGES);
    let advice_parts = (chunks, advice_polys.as_slice());
    let (polys, claim_lists) = opening_lists(model, advice_parts, weight_claims, advice_claims)?;
    let opening = pcs::prove_openings(&polys, &claim_lists, &model.vk.config.pcs, &mut channel);
    let proof = ModelProof {
        version: PROOF_VERSION,
        model_digest: digest,
        advice,
        lookup: lookup_proof,
        rescale_splits: Felts(splits),
        chain: Felts(chain_evals),
        nodes,
        opening,
    };
    Ok((output, proof))
}

/// The polynomials with at least one claim, weight chunks first, and their claims.
fn opening_lists<'a>(
    model: &'a CommittedModel,
    (advice_chunks, advice): (&crate::packing::Chunks, &'a [pcs::CommittedPoly]),
    weight_claims: Vec<Claim>,
    advice_claims: Vec<Claim>,
) -> Result<(Vec<&'a pcs::CommittedPoly>, Vec<Vec<pcs::Claim>>), ProveError> {
    let mut polys = Vec::new();
    let mut lists = Vec::new();
    let per_chunk = crate::packing::route_claims(&model.chunks, weight_claims)?;
    for (poly, claims) in model.weights.iter().zip(per_chunk) {
        if !claims.is_empty() {
            polys.push(poly);
            lists.push(crate::packing::pcs_claims(claims));
        }
    }
    let per_chunk = crate::packing::route_claims(advice_chunks, advice_claims)?;
    for (poly, claims) in advice.iter().zip(per_chunk) {
        if !claims.is_empty() {
            polys.push(poly);
            lists.push(crate::packing::pcs_claims(claims));
        }
    }
    Ok((polys, lists))
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
