//! The dual track of a decoder: the integer graph of [`DecoderModel`] against the same model in
//! `f32` ([`model::reference`]), on the logits.
//!
//! Two references: the `f32` forward pass on the graph's own (quantised) weights, which
//! isolates the error of the integer arithmetic (activations at 2^-8, the exp / rsqrt / silu
//! tables), and, when given, on a second load of the checkpoint at fine precision (weights
//! rounded to 2^-16, [`checkpoint_options`]), which adds the error of weight quantisation.
//! The top-1 token of each position is compared as well.

use std::fmt;

use model::examples::ACT_SCALE;
use model::reference::{
    block_f32, compare, embed_f32, rms_norm, transformer_f32, ErrorReport, Matrix,
};
use model::transformer::{BlockWeights, TransformerConfig};
use model::{NodeId, Tensor, Trace, Weight};

use super::graph::{
    block_weights, check_supported, transformer_config, DecoderError, DecoderModel,
};
use super::{DecoderWeights, LoadOptions, QuantTensor};
use crate::QuantConfig;

/// Load options for the fine-precision reference: every weight to 2^-16 (fixed point).
pub fn checkpoint_options(layers: Option<usize>) -> LoadOptions {
    LoadOptions {
        quant: QuantConfig::direct(ACT_SCALE, crate::config::MAX_WEIGHT_SCALE_BITS),
        layers,
    }
}

/// The logits of the decoder in `f32`: embedding rows of `ids`, the blocks, final RMSNorm, LM
/// head. `None` if an id is not a row of the embedding.
fn logits_f32(
    cfg: &TransformerConfig,
    embedding: &Weight,
    blocks: &[BlockWeights],
    final_norm: &Weight,
    lm_head: &Matrix,
    ids: &[usize],
) -> Option<Matrix> {
    let h = transformer_f32(cfg, Some((embedding, ids)), None, blocks)?;
    let h = rms_norm(&h, &Matrix::of(final_norm), cfg.eps);
    Some(h.matmul(lm_head))
}

/// How the integer logits compare with the `f32` references.
#[derive(Clone, Debug, PartialEq)]
pub struct DualTrack {
    pub rows: usize,
    pub cols: usize,
    /// Against `f32` on the graph's own weights.
    pub quantised: ErrorReport,
    /// Against `f32` on the checkpoint's weights at 2^-16, when given.
    pub checkpoint: Option<ErrorReport>,
    /// Positions whose largest logit is the same token in the integer run and the (finest)
    /// reference.
    pub top1_agree: usize,
    /// The token with the largest integer logit at each position (the predicted next token).
    pub top1: Vec<usize>,
    /// Per block, its output hidden state against `f32` on the same weights (empty unless
    /// [`DecoderModel::block_errors`] filled it in).
    pub blocks: Vec<ErrorReport>,
}

/// Index of the largest value of each row (the first on ties).
fn argmax_rows(data: &[f32], cols: usize) -> Vec<usize> {
    data.chunks(cols.max(1))
        .map(|row| {
            row.iter()
                .enumerate()
                .fold(
                    (0, f32::MIN),
                    |best, (i, &v)| {
                        if v > best.1 {
                            (i, v)
                        } else {
                            best
                        }
                    },
                )
                .0
        })
        .collect()
}

impl DecoderModel {
    /// The logits in `f32` on this model's (quantised) weights.
    pub fn reference(&self, ids: &[usize]) -> Result<Matrix, DecoderError> {
        self.input(ids)?;
        logits_f32(
            &self.config,
            &self.act_embedding(),
            &self.blocks,
            &self.final_norm,
            &self.head_f32(),
            ids,
        )
        .ok_or(DecoderError::NoTokens)
    }

    /// Compares `got` (the graph's output on `ids`) with the references; `checkpoint` is the
    /// same layers loaded with [`checkpoint_options`].
    pub fn dual_track(
        &self,
        ids: &[usize],
        got: &Tensor,
        checkpoint: Option<&DecoderWeights>,
    ) -> Result<DualTrack, DecoderError> {
        let want = self.reference(ids)?;
        let shape_error = || DecoderError::OutputShape {
            expected: (want.rows, want.cols),
            got: (got.shape.rows, got.shape.cols),
        };
        let quantised = compare(got, ACT_SCALE, &want).ok_or_else(shape_error)?;
        let (checkpoint, finest) = match checkpoint {
            Some(w) => {
                check_supported(w)?;
                if w.layers.len() != self.blocks.len() || w.config.vocab_size != self.vocab {
                    return Err(DecoderError::ReferenceMismatch {
                        layers: w.layers.len(),
                        expected: self.blocks.len(),
                    });
                }
                let cfg = transformer_config(w, self.config.seq_len);
                let exact = |t: &QuantTensor| t.to_weight();
                let blocks: Vec<BlockWeights> = w
                    .layers
                    .iter()
                    .map(|l| block_weights(l, exact, exact))
                    .collect();
                let fine = logits_f32(
                    &cfg,
                    &w.embed.to_weight(),
                    &blocks,
                    &w.final_norm.to_weight(),
                    &Matrix::of(&w.lm_head.to_weight()),
                    ids,
                )
                .ok_or(DecoderError::NoTokens)?;
                let report = compare(got, ACT_SCALE, &fine).ok_or_else(shape_error)?;
                (Some(report), fine)
            }
            None => (None, want),
        };
        let ints: Vec<f32> = got.data.iter().map(|&v| v as f32).collect();
        let top1 = argmax_rows(&ints, got.shape.cols);
        let top1_agree = top1
            .iter()
            .zip(argmax_rows(&finest.data, finest.cols))
            .filter(|(a, b)| **a == *b)
            .count();
        Ok(DualTrack {
            rows: got.shape.rows,
            cols: got.shape.cols,
            quantised,
            checkpoint,
            top1_agree,
            top1,
            blocks: Vec::new(),
        })
    }

    /// Each block's output in the integer run (`trace` values at `nodes`, from
    /// [`DecoderModel::graph_with_blocks`]) against the `f32` blocks on the same weights.
    pub fn block_errors(
        &self,
        ids: &[usize],
        trace: &Trace,
        nodes: &[NodeId],
    ) -> Result<Vec<ErrorReport>, DecoderError> {
        self.input(ids)?;
        let mut x = embed_f32(&self.act_embedding(), ids).ok_or(DecoderError::NoTokens)?;
        let mut out = Vec::with_capacity(nodes.len());
        for (w, &node) in self.blocks.iter().zip(nodes) {
            x = block_f32(&self.config, w, &x);
            let got = trace.values.get(node).ok_or(DecoderError::NoTokens)?;
            let err = compare(got, ACT_SCALE, &x).ok_or(DecoderError::OutputShape {
                expected: (x.rows, x.cols),
                got: (got.shape.rows, got.shape.cols),
            })?;
            out.push(err);
        }
        Ok(out)
    }
}

fn errors(e: &ErrorReport) -> String {
    format!(
        "max abs {:.4}, max rel {:.4}, rms {:.4}",
        e.max_abs, e.max_rel, e.rms
    )
}

impl fmt::Display for DualTrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dual-track on the logits ({}x{}): vs f32 on the quantised weights: {}",
            self.rows,
            self.cols,
            errors(&self.quantised)
        )?;
        if let Some(c) = &self.checkpoint {
            write!(f, "; vs f32 on the checkpoint weights: {}", errors(c))?;
        }
        write!(
            f,
            "; top-1 token agrees at {}/{} positions\nnext tokens (largest proved logit per \
             position): {:?}",
            self.top1_agree, self.rows, self.top1
        )?;
        for (i, e) in self.blocks.iter().enumerate() {
            write!(
                f,
                "\nblock {i} output vs f32 on the quantised weights: {}",
                errors(e)
            )?;
        }
        Ok(())
    }
}
