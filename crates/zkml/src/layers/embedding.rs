//! The token embedding: the public token ids select rows of the committed table, proved as
//! the one-hot matrix of the ids times the table (`gkr::matmul`); the verifier evaluates the
//! one-hot side itself from the ids (`gkr::embedding`).

use gkr::embedding::one_hot_eval;
#[cfg(feature = "prover")]
use gkr::embedding::one_hot_table;
use gkr::matmul::{self, MatMulDims};
use gkr::{Claim, GkrError};
use model::{NodeId, Op, Tensor};
use stwo::core::channel::Blake2sChannel;

use super::{mismatch, reduce_claim, Layer, Router, VerifyCx};
#[cfg(feature = "prover")]
use super::{not_mine, ProveCx};
use crate::circuit::{Circuit, GraphShape};
#[cfg(feature = "prover")]
use crate::error::ProveError;
use crate::error::VerifyError;
use crate::proof::LayerProof;

/// `Embedding`.
pub struct EmbeddingLayer;

impl Layer for EmbeddingLayer {
    #[cfg(feature = "prover")]
    fn prove(
        &self,
        cx: &ProveCx<'_>,
        id: NodeId,
        claim: Option<Claim>,
        to: &mut Router<'_>,
        channel: &mut Blake2sChannel,
    ) -> Result<LayerProof, ProveError> {
        let claim = reduce_claim(claim, not_mine())?;
        let Op::Embedding { table, .. } = cx.circuit.shape.nodes[id].op else {
            return Err(not_mine());
        };
        let ids: Vec<usize> = cx
            .inputs
            .first()
            .map(|t| t.data.iter().map(|&v| v.max(0) as usize).collect())
            .unwrap_or_default();
        let dims = embedding_dims(&cx.circuit.shape, id, table);
        let hot = one_hot_table(&ids, dims.log_m, dims.log_k);
        let eq_n = sumcheck::mle::eq_evals(&claim.point[dims.log_m as usize..]);
        let w = cx.model.weight_view(table).fold_cols(&eq_n);
        let (p, _, cw) = matmul::prove_folded(&hot, w, dims, &claim, channel);
        let p = LayerProof::MatMul(p);
        to.weight(table, &cw);
        Ok(p)
    }

    fn verify(
        &self,
        cx: &VerifyCx<'_>,
        id: NodeId,
        claim: Option<Claim>,
        proof: &LayerProof,
        to: &mut Router<'_>,
        channel: &mut Blake2sChannel,
    ) -> Result<(), VerifyError> {
        let claim = reduce_claim(claim, mismatch())?;
        let (&Op::Embedding { table, .. }, LayerProof::MatMul(p)) =
            (&cx.circuit.shape.nodes[id].op, proof)
        else {
            return Err(mismatch());
        };
        let ids = cx
            .inputs
            .first()
            .ok_or_else(|| VerifyError::MalformedProof("no token ids".into()))?;
        let cw = verify_embedding(cx.circuit, id, table, ids, p, &claim, channel)?;
        to.weight(table, &cw);
        Ok(())
    }
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

/// Verifies the embedding node `id`'s matmul with the one-hot of the public ids: checks the one-hot claim against the public ids.
fn verify_embedding(
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
