//! The softmax nodes and the embedding in the inference proof: their witness columns, and the
//! routing of their reductions' claims (the reductions live in `gkr::softmax` and
//! `gkr::embedding`).
//!
//! A softmax node's lookup claims are held until the backward walk reaches the node; there
//! the node's proof splits them and runs its zero-checks, whatever claims arrived from later
//! nodes (those go to the opening like any advice claim).

use gkr::embedding::one_hot_eval;
#[cfg(feature = "prover")]
use gkr::embedding::one_hot_table;
use gkr::matmul::{self, MatMulDims};
use gkr::softmax as sm;
use gkr::{Claim, GkrError};
use model::{Graph, NodeId, Op, Shape, Tensor};
use stwo::core::channel::Blake2sChannel;
use stwo::core::fields::m31::M31;

use crate::circuit::{softmax_mask, Circuit, ColumnKind, GraphShape};
use crate::error::VerifyError;
use crate::proof::LayerProof;

/// Whether `op` is one of the softmax steps (proved at its place in the walk, always).
pub fn is_softmax(op: &Op) -> bool {
    matches!(
        op,
        Op::SoftmaxMax { .. } | Op::SoftmaxExp { .. } | Op::SoftmaxDiv { .. }
    )
}

/// The one-hot witness of `SoftmaxMax` node `id`: per real row, the first allowed entry equal
/// to the claimed maximum, or failing that (a forged maximum) the first largest one.
pub fn one_hot(graph: &Graph, id: NodeId, values: &[Tensor]) -> Vec<M31> {
    let Op::SoftmaxMax { input, causal } = graph.nodes[id].op else {
        return vec![];
    };
    let (x, m) = (&values[input], &values[id]);
    let (rows, cols) = (x.shape.rows, x.shape.cols);
    let lc = x.shape.log_cols();
    let block_rows = rows >> graph.log_blocks;
    let mut h = vec![M31::from_u32_unchecked(0); 1 << x.shape.n_vars()];
    for i in 0..rows {
        let allowed = (0..cols).filter(|&j| model::softmax::allowed(causal, i % block_rows, j));
        let best = allowed
            .clone()
            .find(|&j| x.get(i, j) == m.data[i])
            .or_else(|| allowed.max_by_key(|&j| (x.get(i, j), std::cmp::Reverse(j))));
        if let Some(j) = best {
            h[(i << lc) + j] = M31::from_u32_unchecked(1);
        }
    }
    h
}

/// The component tables of a softmax lookup column that are not node values themselves.
pub fn column_tables(
    graph: &Graph,
    kind: ColumnKind,
    vals: &[Vec<M31>],
    one_hot: &[M31],
) -> Vec<Vec<M31>> {
    let col_of = |node: NodeId, shape: Shape| -> Vec<M31> {
        let lc = shape.log_cols();
        (0..1usize << shape.n_vars())
            .map(|b| vals[node][(b >> lc) << 1])
            .collect()
    };
    match kind {
        ColumnKind::SoftmaxOneHot(_) => vec![one_hot.to_vec()],
        ColumnKind::SoftmaxGap(id) => {
            let x = graph.nodes[id].op.inputs()[0];
            let m = col_of(id, graph.nodes[x].shape);
            vec![m.iter().zip(&vals[x]).map(|(&m, &x)| m - x).collect()]
        }
        ColumnKind::SoftmaxExp(id) => {
            let Op::SoftmaxExp { input, max, .. } = graph.nodes[id].op else {
                return vec![];
            };
            let m = col_of(max, graph.nodes[input].shape);
            let arg = vals[input].iter().zip(&m).map(|(&x, &m)| x - m).collect();
            vec![arg, vals[id].clone()]
        }
        ColumnKind::SoftmaxRem(id) | ColumnKind::SoftmaxRemGap(id) => {
            let Op::SoftmaxDiv { input, shift, .. } = graph.nodes[id].op else {
                return vec![];
            };
            let lc = graph.nodes[id].shape.log_cols();
            let e = &vals[input];
            let s: Vec<M31> = e.chunks(1 << lc).map(|r| r.iter().copied().sum()).collect();
            let q = M31::from_u32_unchecked(1 << shift);
            let one = M31::from_u32_unchecked(1);
            let rem = (0..e.len()).map(|b| {
                let r = e[b] * q - vals[id][b] * s[b >> lc];
                if matches!(kind, ColumnKind::SoftmaxRem(_)) {
                    r
                } else {
                    s[b >> lc] - one - r
                }
            });
            vec![rem.collect()]
        }
        _ => vec![],
    }
}

/// Where a softmax node's claims go.
pub struct Routing<'a> {
    pub claims: &'a mut [Vec<Claim>],
    /// Claims on the advice polynomial (lifted).
    pub advice: &'a mut Vec<Claim>,
}

impl Routing<'_> {
    fn route(&mut self, circuit: &Circuit, id: NodeId, out: sm::SoftmaxClaims) {
        let op = &circuit.shape.nodes[id].op;
        let input = op.inputs()[0];
        self.claims[input].extend(out.input);
        match *op {
            Op::SoftmaxMax { .. } => {
                self.claims[id].extend(out.max);
                self.one_hot(circuit, id, out.aux);
            }
            Op::SoftmaxExp { max, .. } => {
                self.claims[max].extend(out.max);
                self.claims[id].extend(out.aux);
            }
            _ => self.claims[id].extend(out.aux),
        }
    }

    fn one_hot(&mut self, circuit: &Circuit, id: NodeId, claims: Vec<Claim>) {
        if let Some(item) = circuit.one_hot_item(id) {
            for c in &claims {
                self.advice.push(circuit.advice_packing.lift(item, c));
            }
        }
    }

    /// Routes the lookup claims of node `id` that need no split (one-hot, exp value,
    /// quotient range) and returns the ones its reduction splits.
    fn lookups(&mut self, circuit: &Circuit, id: NodeId, pending: Vec<Vec<Claim>>) -> Vec<Claim> {
        let mut split = Vec::new();
        for ((kind, _), mut comps) in circuit
            .columns
            .iter()
            .filter(|(k, _)| column_node(*k) == Some(id))
            .zip(pending)
        {
            match kind {
                ColumnKind::SoftmaxOneHot(_) => self.one_hot(circuit, id, comps),
                ColumnKind::SoftmaxOut(_) => self.claims[id].extend(comps),
                ColumnKind::SoftmaxExp(_) => {
                    self.claims[id].extend(comps.drain(1..));
                    split.extend(comps);
                }
                _ => split.extend(comps),
            }
        }
        split
    }
}

/// The softmax node a column belongs to.
pub fn column_node(kind: ColumnKind) -> Option<NodeId> {
    match kind {
        ColumnKind::SoftmaxOneHot(id)
        | ColumnKind::SoftmaxGap(id)
        | ColumnKind::SoftmaxExp(id)
        | ColumnKind::SoftmaxRem(id)
        | ColumnKind::SoftmaxRemGap(id)
        | ColumnKind::SoftmaxOut(id) => Some(id),
        _ => None,
    }
}

fn mask_of(s: &GraphShape, id: NodeId) -> (gkr::lookup::RealMask, NodeId) {
    let op = &s.nodes[id].op;
    let input = op.inputs()[0];
    let causal = matches!(
        *op,
        Op::SoftmaxMax { causal: true, .. }
            | Op::SoftmaxExp { causal: true, .. }
            | Op::SoftmaxDiv { causal: true, .. }
    );
    (
        softmax_mask(s.nodes[input].shape, causal, s.log_blocks),
        input,
    )
}

/// Proves softmax node `id`; `pending` are its lookup column claims in circuit order.
#[cfg(feature = "prover")]
pub fn prove_node(
    circuit: &Circuit,
    id: NodeId,
    vals: &[Vec<M31>],
    one_hot: &[M31],
    pending: Vec<Vec<Claim>>,
    mut to: Routing<'_>,
    channel: &mut Blake2sChannel,
) -> LayerProof {
    let split = to.lookups(circuit, id, pending);
    let (mask, input) = mask_of(&circuit.shape, id);
    let (layer, out) = match circuit.shape.nodes[id].op {
        Op::SoftmaxMax { .. } => {
            let (p, out) =
                sm::prove_row_max(&vals[input], &vals[id], one_hot, &mask, &split[0], channel);
            (LayerProof::SoftmaxMax(p), out)
        }
        Op::SoftmaxExp { .. } => {
            let (p, out) =
                sm::prove_softmax_exp(&vals[input], &vals[id], &mask, &split[0], channel);
            (LayerProof::SoftmaxExp(p), out)
        }
        Op::SoftmaxDiv { shift, .. } => {
            let (p, out) = sm::prove_softmax_div(
                &vals[input],
                &vals[id],
                &mask,
                shift,
                &split[0],
                &split[1],
                channel,
            );
            (LayerProof::SoftmaxDiv(p), out)
        }
        _ => return LayerProof::Relabel,
    };
    to.route(circuit, id, out);
    layer
}

/// Verifier side of [`prove_node`].
pub fn verify_node(
    circuit: &Circuit,
    id: NodeId,
    layer: &LayerProof,
    pending: Vec<Vec<Claim>>,
    mut to: Routing<'_>,
    channel: &mut Blake2sChannel,
) -> Result<(), VerifyError> {
    let node = &circuit.shape.nodes[id];
    let layer_err = |source: GkrError| VerifyError::Layer {
        node: id,
        op: node.op.kind(),
        source,
    };
    let split = to.lookups(circuit, id, pending);
    let (mask, _) = mask_of(&circuit.shape, id);
    let need = if matches!(node.op, Op::SoftmaxDiv { .. }) {
        2
    } else {
        1
    };
    if split.len() != need {
        return Err(VerifyError::MalformedProof(
            "softmax lookup claims do not match the circuit".into(),
        ));
    }
    let out = match (&node.op, layer) {
        (Op::SoftmaxMax { .. }, LayerProof::SoftmaxMax(p)) => {
            sm::verify_row_max(p, &mask, &split[0], channel)
        }
        (Op::SoftmaxExp { .. }, LayerProof::SoftmaxExp(p)) => {
            sm::verify_softmax_exp(p, &mask, &split[0], channel)
        }
        (&Op::SoftmaxDiv { shift, .. }, LayerProof::SoftmaxDiv(p)) => {
            sm::verify_softmax_div(p, &mask, shift, &split[0], &split[1], channel)
        }
        _ => {
            return Err(VerifyError::MalformedProof(
                "layer proof kind does not match the node".into(),
            ))
        }
    }
    .map_err(layer_err)?;
    to.route(circuit, id, out);
    Ok(())
}

/// The embedding's matmul dimensions: one-hot (`seq x vocab`) times the table.
fn embedding_dims(s: &GraphShape, id: NodeId, table: usize) -> MatMulDims {
    let shape = s.nodes[id].shape;
    MatMulDims {
        log_m: shape.log_rows(),
        log_k: s.weights[table].0.log_rows(),
        log_n: shape.log_cols(),
        transpose_rhs: false,
        log_blocks: 0,
    }
}

/// The token ids of the public input, each checked against the vocabulary.
pub fn token_ids(input: &Tensor, vocab: usize) -> Result<Vec<usize>, VerifyError> {
    input
        .data
        .iter()
        .enumerate()
        .map(|(index, &v)| {
            usize::try_from(v)
                .ok()
                .filter(|&id| id < vocab)
                .ok_or(VerifyError::PublicRange {
                    which: "token id",
                    index,
                    value: v,
                })
        })
        .collect()
}

/// Proves the embedding node `id`: returns its proof and the claim on the table.
#[cfg(feature = "prover")]
pub fn prove_embedding(
    circuit: &Circuit,
    id: NodeId,
    table: usize,
    ids: &[usize],
    weights: &[M31],
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> (LayerProof, Claim) {
    let dims = embedding_dims(&circuit.shape, id, table);
    let hot = one_hot_table(ids, dims.log_m, dims.log_k);
    let (p, _, cw) = matmul::prove(&hot, weights, dims, claim, channel);
    (LayerProof::MatMul(p), cw)
}

/// Verifier side of [`prove_embedding`]: checks the one-hot claim against the public ids.
pub fn verify_embedding(
    circuit: &Circuit,
    id: NodeId,
    table: usize,
    input: &Tensor,
    proof: &matmul::MatMulProof,
    claim: &Claim,
    channel: &mut Blake2sChannel,
) -> Result<Claim, VerifyError> {
    let layer_err = |source: GkrError| VerifyError::Layer {
        node: id,
        op: "embedding",
        source,
    };
    let ids = token_ids(input, circuit.shape.weights[table].0.rows)?;
    let dims = embedding_dims(&circuit.shape, id, table);
    let (ch, cw) = matmul::verify(proof, dims, claim, channel).map_err(layer_err)?;
    if one_hot_eval(&ids, dims.log_m as usize, &ch.point) != ch.value {
        return Err(layer_err(GkrError::FinalEvalMismatch {
            layer: "embedding one-hot",
        }));
    }
    Ok(cw)
}
