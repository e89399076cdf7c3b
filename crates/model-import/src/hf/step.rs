//! Decoding steps of a whole decoder: token ids at positions `pos0..` against a K/V cache of
//! public inputs ([`model::decode`]), from the embedding to the logits.
//!
//! A generation is a prefill step (the prompt, `pos0 = 0`) and one step per new token. Every
//! step uses the same calibrated model (its scales fixed when it was calibrated), so a step
//! computes what the full-sequence graph computes at its positions, up to the softmax's exp
//! precision, which depends on the row length (`pos0 + rows` here).

use model::decode::{KvCache, KvInputs};
use model::transformer::TransformerConfig;
use model::{Graph, GraphBuilder, Shape, Tensor};

use super::graph::{DecoderError, DecoderModel};

/// A step's graph and where its K / V inputs are.
#[derive(Clone, Debug)]
pub struct StepGraph {
    pub graph: Graph,
    pub kvs: Vec<KvInputs>,
    pub pos0: usize,
    pub rows: usize,
}

impl DecoderModel {
    /// The graph of the step of `rows` token ids at positions `pos0..`: inputs the ids
    /// (`rows x 1`) then K and V per block (`pos0 + rows` rows each); output the logits of the
    /// step's rows. Named `<model>, step <pos0>+<rows>`.
    pub fn step_graph(&self, pos0: usize, rows: usize) -> Result<StepGraph, DecoderError> {
        if rows == 0 {
            return Err(DecoderError::NoTokens);
        }
        let cfg = TransformerConfig {
            seq_len: rows,
            ..self.config
        };
        let name = format!("{}, step {pos0}+{rows}", self.name);
        let mut b = GraphBuilder::new(name, Shape::new(rows, 1), 0)?;
        let (mut x, table) = self.embed(&mut b)?;
        let mut kvs = Vec::with_capacity(self.blocks.len());
        for w in &self.blocks {
            let (y, kv) = b.transformer_block_cached(x, &cfg, w, pos0)?;
            kvs.push(kv);
            x = y;
        }
        let logits = self.head(&mut b, x, table)?;
        Ok(StepGraph {
            graph: b.build(logits)?,
            kvs,
            pos0,
            rows,
        })
    }

    /// The step's inputs for the token `ids` after `cache` (empty for the prefill): the ids,
    /// then each block's K and V with the cached rows and the rows the step computes.
    pub fn step_inputs(
        &self,
        step: &StepGraph,
        cache: &KvCache,
        ids: &[usize],
    ) -> Result<Vec<Tensor>, DecoderError> {
        if ids.len() != step.rows {
            return Err(DecoderError::TokenCount {
                got: ids.len(),
                seq_len: step.rows,
            });
        }
        let x = self.ids_tensor(ids)?;
        cache
            .step_inputs(&step.graph, &step.kvs, x)
            .map_err(DecoderError::Exec)
    }
}
