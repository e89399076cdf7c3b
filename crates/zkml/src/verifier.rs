//! The verifier. It derives every shape from the verifying key, replays the transcript, checks
//! each reduction, evaluates claims on the public input and output itself and checks the
//! batched opening of the weight and advice commitments.

use gkr::claim::verify_combine;
use gkr::elementwise::{verify_add, verify_add_bias, verify_mul};
use gkr::linear;
use gkr::lookup;
use gkr::matmul::{self, MatMulDims};
use gkr::{Claim, GkrError};
use model::execute::{ACT_HI, ACT_LO};
use model::tensor::to_m31;
use model::{Op, Tensor, MAX_ABS};
use stwo::core::channel::Channel;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use sumcheck::eval_mle_base;

use crate::circuit::{padded_lookup_mask, rhs_padding_vars, Circuit, ColumnKind, Sink};
use crate::commitment::VerifyingKey;
use crate::error::VerifyError;
use crate::proof::{LayerProof, ModelProof, PROOF_VERSION};
use crate::softmax;
use crate::transcript;
use crate::views::{column_claim, rows_weight_claim, weight_claim, weight_view_log_rows};

fn check_public(which: &'static str, t: &Tensor, lo: i64, hi: i64) -> Result<(), VerifyError> {
    match t
        .data
        .iter()
        .enumerate()
        .find(|(_, v)| !(lo..hi).contains(*v))
    {
        Some((index, &value)) => Err(VerifyError::PublicRange {
            which,
            index,
            value,
        }),
        None => Ok(()),
    }
}

fn check_shapes(circuit: &Circuit, inputs: &[Tensor], output: &Tensor) -> Result<(), VerifyError> {
    let input_nodes = model::graph::input_nodes(&circuit.shape.nodes);
    if input_nodes.len() != inputs.len() {
        return Err(VerifyError::InputCount {
            expected: input_nodes.len(),
            got: inputs.len(),
        });
    }
    // A stack's public input and output are one block's (the first's input, the last's output).
    let per_block = |s: model::Shape| model::Shape::new(s.rows / circuit.shape.blocks(), s.cols);
    let want_out = per_block(circuit.shape.nodes[circuit.shape.output].shape);
    let fits = |t: &Tensor| t.shape.rows.checked_mul(t.shape.cols) == Some(t.data.len());
    for (&id, input) in input_nodes.iter().zip(inputs) {
        let want_in = per_block(circuit.shape.nodes[id].shape);
        if input.shape != want_in || !fits(input) {
            return Err(VerifyError::InputShape {
                rows: want_in.rows,
                cols: want_in.cols,
                got_rows: input.shape.rows,
                got_cols: input.shape.cols,
            });
        }
        check_public("input", input, ACT_LO, ACT_HI)?;
    }
    if output.shape != want_out || !fits(output) {
        return Err(VerifyError::OutputShape {
            rows: want_out.rows,
            cols: want_out.cols,
            got_rows: output.shape.rows,
            got_cols: output.shape.cols,
        });
    }
    check_public("output", output, -MAX_ABS, MAX_ABS + 1)
}

/// Verifies that `output = model(input)` for the model of `vk`.
pub fn verify(
    vk: &VerifyingKey,
    input: &Tensor,
    output: &Tensor,
    proof: &ModelProof,
) -> Result<(), VerifyError> {
    verify_all(vk, std::slice::from_ref(input), output, proof)
}

/// [`verify`] for a model with several public inputs: one tensor per input node, in order.
pub fn verify_all(
    vk: &VerifyingKey,
    inputs: &[Tensor],
    output: &Tensor,
    proof: &ModelProof,
) -> Result<(), VerifyError> {
    if proof.version != PROOF_VERSION {
        return Err(VerifyError::Version {
            expected: PROOF_VERSION,
            got: proof.version,
        });
    }
    let digest = vk.digest();
    if proof.model_digest != digest {
        return Err(VerifyError::WrongModel {
            expected: hex::encode(digest),
            got: hex::encode(proof.model_digest),
        });
    }
    vk.config.pcs.validate().map_err(VerifyError::Opening)?;
    let circuit = vk.circuit()?;
    check_shapes(&circuit, inputs, output)?;
    for node in &circuit.shape.nodes {
        if let (Op::Embedding { table, .. }, Some(ids)) = (&node.op, inputs.first()) {
            softmax::token_ids(ids, circuit.shape.weights[*table].0.rows)?;
        }
    }
    let nodes = &circuit.shape.nodes;
    let bad = |s: &str| VerifyError::MalformedProof(s.to_string());

    let mut channel = transcript::start(&digest, inputs, output);
    let advice_chunks = circuit.advice_chunks(&vk.config)?;
    let advice_vars = &advice_chunks.vars;
    if proof.advice.len() != advice_vars.len()
        || proof
            .advice
            .iter()
            .zip(advice_vars)
            .any(|(c, &v)| c.n_variables != v)
    {
        return Err(bad("advice commitments of the wrong number or size"));
    }
    for c in &proof.advice {
        transcript::mix_root(&mut channel, &c.root, c.n_variables);
    }

    let specs: Vec<_> = circuit.columns.iter().map(|(_, s)| *s).collect();
    let lookup_claims = lookup::verify(&circuit.tables, &specs, &proof.lookup, &mut channel)
        .map_err(VerifyError::Lookup)?;
    let n = nodes.len();
    let mut claims: Vec<Vec<Claim>> = vec![Vec::new(); n];
    let mut splits = proof.rescale_splits.0.iter();
    let mut pending: Vec<Vec<Vec<Claim>>> = vec![Vec::new(); n];
    for ((kind, _), col_claims) in circuit.columns.iter().zip(&lookup_claims.columns) {
        if let Some(id) = softmax::column_node(*kind) {
            pending[id].push(col_claims.clone());
            continue;
        }
        match *kind {
            ColumnKind::RescaleOutput(id) => claims[id].push(col_claims[0].clone()),
            ColumnKind::RescaleRemainder(id) => {
                let Op::Rescale { input, shift } = nodes[id].op else {
                    continue;
                };
                let rem = &col_claims[0];
                let &y_eval = splits.next().ok_or_else(|| bad("missing rescale split"))?;
                channel.mix_felts(&[y_eval]);
                let s = M31::from_u32_unchecked(1 << shift);
                claims[id].push(Claim::new(rem.point.clone(), y_eval));
                claims[input].push(Claim::new(rem.point.clone(), rem.value + y_eval * s));
            }
            ColumnKind::Relu(id) | ColumnKind::Lookup(id) => {
                let (Op::Relu { input } | Op::Lookup { input, .. }) = nodes[id].op else {
                    continue;
                };
                claims[input].push(col_claims[0].clone());
                claims[id].push(col_claims[1].clone());
            }
            _ => {}
        }
    }
    if splits.next().is_some() {
        return Err(bad("extra rescale splits"));
    }
    let mut advice_claims: Vec<Claim> = lookup_claims
        .multiplicities
        .iter()
        .enumerate()
        .map(|(t, c)| circuit.advice_packing.lift(circuit.multiplicity_item(t), c))
        .collect();

    let out_id = circuit.shape.output;
    let out_table = output.to_padded_m31();
    let log_blocks = circuit.shape.log_blocks;
    if log_blocks > 0 {
        let in_table = inputs
            .first()
            .map(Tensor::to_padded_m31)
            .unwrap_or_default();
        let chain = crate::chain::verify(
            &proof.chain.0,
            &in_table,
            &out_table,
            log_blocks,
            &mut channel,
        )
        .ok_or_else(|| bad("chain evaluations of the wrong number"))?;
        claims[out_id].push(chain.output);
        claims[0].push(chain.input);
    } else if !proof.chain.0.is_empty() {
        return Err(bad("chain evaluations for an unbatched model"));
    } else if circuit.sinks[out_id] == Sink::Computed {
        let point = channel.draw_secure_felts(nodes[out_id].shape.n_vars() as usize);
        let value = eval_mle_base(&out_table, &point);
        claims[out_id].push(Claim::new(point, value));
    }
    for node in nodes {
        if let Op::AssertZero { input } = node.op {
            let point = channel.draw_secure_felts(node.shape.n_vars() as usize);
            claims[input].push(Claim::new(point, QM31::from(M31::from_u32_unchecked(0))));
        }
    }

    let wpack = &circuit.weight_packing;
    let mut weight_claims: Vec<Claim> = circuit
        .committed_tables()
        .zip(&lookup_claims.committed)
        .map(|(w, c)| wpack.lift(w, c))
        .collect();
    let mut node_proofs = proof.nodes.iter();
    for id in (1..n).rev() {
        let is_softmax = softmax::is_softmax(&nodes[id].op);
        let padded_lookup = padded_lookup_mask(&circuit.shape, id);
        if !is_softmax
            && padded_lookup.is_none()
            && (circuit.sinks[id] != Sink::Computed || claims[id].is_empty())
        {
            continue;
        }
        let np = node_proofs
            .next()
            .ok_or_else(|| bad("missing node proof"))?;
        if np.node as usize != id {
            return Err(bad("node proofs out of order"));
        }
        if (is_softmax || padded_lookup.is_some()) && np.combine.is_some() {
            return Err(bad("claim batching does not match the circuit"));
        }
        if let Some(mask) = padded_lookup {
            let LayerProof::ZeroPadding(p) = &np.layer else {
                return Err(bad("layer proof kind does not match the node"));
            };
            let c =
                gkr::softmax::verify_zero_off_mask(p, &mask, &mut channel).map_err(|source| {
                    VerifyError::Layer {
                        node: id,
                        op: "lookup (padding)",
                        source,
                    }
                })?;
            claims[id].push(c);
            continue;
        }
        if is_softmax {
            let routing = softmax::Routing {
                claims: &mut claims,
                advice: &mut advice_claims,
            };
            let pend = std::mem::take(&mut pending[id]);
            softmax::verify_node(&circuit, id, &np.layer, pend, routing, &mut channel)?;
            continue;
        }
        let op = nodes[id].op.kind();
        let layer_err = |source: GkrError| VerifyError::Layer {
            node: id,
            op,
            source,
        };
        let node_claims = std::mem::take(&mut claims[id]);
        let n_vars = nodes[id].shape.n_vars() as usize;
        let claim = match (&np.combine, node_claims.len()) {
            (None, 1) => node_claims[0].clone(),
            (Some(c), k) if k > 1 => {
                verify_combine(c, &node_claims, n_vars, &mut channel).map_err(layer_err)?
            }
            _ => return Err(bad("claim batching does not match the circuit")),
        };
        let shape = nodes[id].shape;
        match (&nodes[id].op, &np.layer) {
            (&Op::MatMul { input, weight }, LayerProof::MatMul(p)) => {
                let x = nodes[input].shape;
                let dims = MatMulDims {
                    log_m: x.log_rows() - log_blocks,
                    log_k: x.log_cols(),
                    log_n: shape.log_cols(),
                    transpose_rhs: false,
                    log_blocks,
                };
                let (ca, cw) = matmul::verify(p, dims, &claim, &mut channel).map_err(layer_err)?;
                claims[input].push(ca);
                weight_claims.push(wpack.lift(weight, &cw));
            }
            (
                &Op::MatMulAct {
                    lhs,
                    rhs,
                    transpose_rhs,
                },
                LayerProof::MatMul(p),
            ) => {
                let x = nodes[lhs].shape;
                let dims = MatMulDims {
                    log_m: x.log_rows() - log_blocks,
                    log_k: x.log_cols(),
                    log_n: shape.log_cols(),
                    transpose_rhs,
                    log_blocks,
                };
                let (cl, cr) = matmul::verify(p, dims, &claim, &mut channel).map_err(layer_err)?;
                let extra = rhs_padding_vars(dims, nodes[rhs].shape);
                let cr = cr
                    .strip_zero_padding(extra)
                    .ok_or_else(|| VerifyError::MalformedProof("degenerate matmul point".into()))?;
                claims[lhs].push(cl);
                claims[rhs].push(cr);
            }
            (&Op::AddBias { input, bias }, LayerProof::AddBias(p)) => {
                let log_rows = shape.log_rows() as usize;
                let (cx, cb) = verify_add_bias(p, shape.rows, log_rows, &claim, &mut channel)
                    .map_err(layer_err)?;
                claims[input].push(cx);
                weight_claims.push(wpack.lift(bias, &cb));
            }
            (&Op::Add { lhs, rhs }, LayerProof::Add(p)) => {
                let (cl, cr) = verify_add(p, &claim, &mut channel);
                claims[lhs].push(cl);
                claims[rhs].push(cr);
            }
            (&Op::Mul { lhs, rhs }, LayerProof::Mul(p)) => {
                let (cl, cr) = verify_mul(p, &claim, &mut channel).map_err(layer_err)?;
                claims[lhs].push(cl);
                claims[rhs].push(cr);
            }
            (&Op::RowSum { input }, LayerProof::Eval(p)) => {
                let xs = nodes[input].shape;
                let (lr, lc) = (xs.log_rows() as usize, xs.log_cols() as usize);
                let cx =
                    linear::verify_row_sum(p, lr, lc, &claim, &mut channel).map_err(layer_err)?;
                claims[input].push(cx);
            }
            (&Op::MulConst { input, c, .. }, LayerProof::Eval(p)) => {
                let cx = linear::verify_mul_const(p, to_m31(c), &claim, &mut channel)
                    .map_err(layer_err)?;
                claims[input].push(cx);
            }
            (&Op::AddConst { input, c }, LayerProof::AddConst) => {
                let lr = shape.log_rows() as usize;
                let cx = linear::add_const_claim(to_m31(c), shape.rows, shape.cols, lr, &claim)
                    .map_err(layer_err)?;
                claims[input].push(cx);
            }
            (&Op::MulColumn { lhs, rhs }, LayerProof::Mul(p)) => {
                let (cl, cr) = verify_mul(p, &claim, &mut channel).map_err(layer_err)?;
                claims[lhs].push(cl);
                claims[rhs].push(column_claim(&cr, shape.log_rows() as usize));
            }
            (&Op::MulWeight { input, weight }, LayerProof::Mul(p)) => {
                let (cx, cw) = verify_mul(p, &claim, &mut channel).map_err(layer_err)?;
                claims[input].push(cx);
                let view_rows = weight_view_log_rows(circuit.shape.weights[weight].0, shape);
                let cw = weight_claim(cw, view_rows as usize, shape.log_rows() as usize);
                weight_claims.push(wpack.lift(weight, &cw));
            }
            (&Op::ColumnSlice { input, start, len }, LayerProof::Relabel) => {
                let x = nodes[input].shape;
                let (lr, lc) = (x.log_rows() as usize, x.log_cols() as usize);
                let l = len.ilog2() as usize;
                let cx = linear::slice_claim(&claim, lr, lc, l, start / len).map_err(layer_err)?;
                claims[input].push(cx);
            }
            (
                &Op::MulWeightRows {
                    input,
                    weight,
                    row0,
                },
                LayerProof::Mul(p),
            ) => {
                let (cx, cv) = verify_mul(p, &claim, &mut channel).map_err(layer_err)?;
                claims[input].push(cx);
                let ws = circuit.shape.weights[weight].0;
                let cv = Claim::new(cv.point[log_blocks as usize..].to_vec(), cv.value);
                let cw = rows_weight_claim(
                    &cv,
                    (shape.log_rows() - log_blocks) as usize,
                    ws.log_rows() as usize,
                    ws.log_cols() as usize,
                    row0,
                );
                weight_claims.push(wpack.lift(weight, &cw));
            }
            (&Op::RowSlice { input, start, len }, LayerProof::Relabel) => {
                let x = nodes[input].shape;
                let (lr, lc) = (x.log_rows() as usize, x.log_cols() as usize);
                let l = len.ilog2() as usize;
                let cx =
                    linear::row_slice_claim(&claim, lr, lc, l, start / len).map_err(layer_err)?;
                claims[input].push(cx);
            }
            (Op::ConcatAligned { parts }, LayerProof::Evals(p)) => {
                let widths: Vec<usize> = parts
                    .iter()
                    .map(|&q| nodes[q].shape.log_cols() as usize)
                    .collect();
                let (lr, lc) = (shape.log_rows() as usize, shape.log_cols() as usize);
                let cs = linear::verify_concat_aligned(p, lr, lc, &widths, &claim, &mut channel)
                    .map_err(layer_err)?;
                for (&part, c) in parts.iter().zip(cs) {
                    claims[part].push(c);
                }
            }
            (Op::ConcatColumns { parts }, LayerProof::Evals(p)) => {
                let w = nodes[parts[0]].shape;
                let (lr, lw) = (w.log_rows() as usize, w.log_cols() as usize);
                let cs = linear::verify_concat(p, parts.len(), lr, lw, &claim, &mut channel)
                    .map_err(layer_err)?;
                for (&part, c) in parts.iter().zip(cs) {
                    claims[part].push(c);
                }
            }
            (&Op::BroadcastColumn { input, cols }, LayerProof::Eval(p)) => {
                let lr = shape.log_rows() as usize;
                let cx = linear::verify_broadcast_column(p, lr, cols, &claim, &mut channel)
                    .map_err(layer_err)?;
                claims[input].push(cx);
            }
            (&Op::RotateHalf { input, log_block }, LayerProof::Pair(p)) => {
                let t = (shape.log_rows() + shape.log_cols() - log_block) as usize;
                let (c0, c1) =
                    linear::verify_rotate_half(p, t, &claim, &mut channel).map_err(layer_err)?;
                claims[input].push(c0);
                claims[input].push(c1);
            }
            (&Op::Embedding { table, .. }, LayerProof::MatMul(p)) => {
                let ids = inputs.first().ok_or_else(|| bad("no token ids"))?;
                let cw =
                    softmax::verify_embedding(&circuit, id, table, ids, p, &claim, &mut channel)?;
                weight_claims.push(wpack.lift(table, &cw));
            }
            _ => return Err(bad("layer proof kind does not match the node")),
        }
    }
    if node_proofs.next().is_some() {
        return Err(bad("extra node proofs"));
    }

    // Claims on public tensors are evaluated here; claims on advice go to the opening.
    let mut input_tables = inputs.iter().map(Tensor::to_padded_m31);
    for (id, node_claims) in claims.iter().enumerate() {
        match circuit.sinks[id] {
            Sink::Public => {
                let in_table;
                let (table, which) = if nodes[id].op == Op::Input {
                    in_table = input_tables.next().unwrap_or_default();
                    (&in_table, "input")
                } else {
                    (&out_table, "output")
                };
                for c in node_claims {
                    if c.point.len() != nodes[id].shape.n_vars() as usize
                        || eval_mle_base(table, &c.point) != c.value
                    {
                        return Err(VerifyError::PublicClaimMismatch { which });
                    }
                }
            }
            Sink::Advice(item) => {
                for c in node_claims {
                    advice_claims.push(circuit.advice_packing.lift(item, c));
                }
            }
            Sink::Computed => {}
        }
    }

    let mut commitments = Vec::new();
    let mut lists = Vec::new();
    let chunks = vk.weight_chunks(&circuit)?;
    let per_chunk = crate::packing::route_claims(&chunks, weight_claims)?;
    for (commitment, claims) in vk.weights.iter().zip(per_chunk) {
        if !claims.is_empty() {
            commitments.push(*commitment);
            lists.push(crate::packing::pcs_claims(claims));
        }
    }
    let per_chunk = crate::packing::route_claims(&advice_chunks, advice_claims)?;
    for (commitment, claims) in proof.advice.iter().zip(per_chunk) {
        if !claims.is_empty() {
            commitments.push(*commitment);
            lists.push(crate::packing::pcs_claims(claims));
        }
    }
    pcs::verify_openings(
        &commitments,
        &lists,
        &proof.opening,
        &vk.config.pcs,
        &mut channel,
    )
    .map_err(VerifyError::Opening)
}
