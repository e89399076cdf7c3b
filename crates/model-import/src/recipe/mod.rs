//! Recipes: a model and an input made into what a prover needs, the same way for the CLI and
//! a server.
//!
//! [`Prepared`] is the result: the quantised graph, its input tensor, the integer forward
//! pass of the graph on it (the witness: prove it with `zkml::prove_executed` rather than
//! running the graph again) and the dual-track report against `f32`.
//!
//! - ONNX ([`prepare_onnx`]): load the file once with tract, quantise the real input at the
//!   activation scale, import with the activation scales calibrated on that quantised input
//!   (so a verifier rebuilds the graph from the proof's public input, [`onnx_graph`]), keep
//!   the import's checking forward pass as the trace, and compare it with tract's `f32` run.
//! - HuggingFace decoder folders ([`prepare_decoder`], configured by [`DecoderSource`]): open
//!   the checkpoint, fix the sequence length, load the quantised weights, calibrate the
//!   norms on the token ids, build the graph, run it once, and compare the logits with `f32`
//!   on the quantised weights and on the checkpoint's weights, block by block.
//!   [`decoder_graph`] rebuilds the graph for a verifier from the proof's token ids.
//! - A graph built elsewhere (a built-in example): [`Prepared::execute`].
//!
//! Modules: [`onnx`], [`decoder`], [`error`].

pub mod decoder;
pub mod encoder;
pub mod error;
pub mod onnx;
pub mod onnx_input;

use std::fmt;

use model::{execute, Graph, Tensor, Trace};

pub use decoder::{
    decoder_graph, decoder_model, prepare_decoder, token_ids_from_json, DecoderSource,
    DecoderSummary, DEFAULT_SEQ_LEN,
};
pub use encoder::{
    encoder_graph, encoder_inputs, encoder_inputs_from_json, prepare_encoder, EncoderSource,
};
pub use error::{CheckpointError, PrepareError, TokenIdsError};
pub use onnx::{
    calibrate_onnx, onnx_graph, prepare_onnx, prepare_onnx_fixed, OnnxFile, Trial, ACT_BITS_GRID,
    DEFAULT_CALIBRATION_SEED, WEIGHT_BITS_GRID,
};
pub use onnx_input::{InputJsonError, OnnxInputs};

use crate::hf::DualTrack;
use crate::Report;

/// A graph with its input and its forward pass, ready to commit and prove.
#[derive(Debug)]
pub struct Prepared {
    /// The quantised graph.
    pub graph: Graph,
    /// Its input tensors, one per input node in order (what the proof file carries and the
    /// verifier recalibrates on).
    pub inputs: Vec<Tensor>,
    /// The integer forward pass of `graph` on `inputs`: every node's value.
    pub trace: Trace,
    /// The integer output against `f32`, for imported models.
    pub report: Option<Comparison>,
    /// An imported model's outputs as its source names and shapes them, in order (those
    /// `--outputs` picked); empty for a graph whose one output needs no name (a decoder's
    /// logits, a built-in model).
    pub outputs: Vec<NamedOutput>,
}

/// One output of an imported model: its name and shape, and the node holding it.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedOutput {
    pub name: String,
    /// Its shape in the source model (NCHW for a feature map).
    pub dims: Vec<usize>,
    /// `N, C, H, W` where it is a channels-last feature map: the node holds it in NHWC order
    /// ([`crate::plan::PlanOutput::in_onnx_order`]).
    pub nchw: Option<[usize; 4]>,
    /// The graph node holding it: one of the graph's public outputs ([`Graph::output`], then
    /// [`Graph::more_outputs`]), or an input node for an input passed through.
    pub node: model::NodeId,
}

/// The dual-track report of a prepared model.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Comparison {
    /// An ONNX model against tract's `f32` run, layer by layer.
    Onnx(Report),
    /// A decoder's logits against `f32`, block by block.
    Decoder(DualTrack),
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Onnx(r) => r.fmt(f),
            Self::Decoder(t) => t.fmt(f),
        }
    }
}

impl Prepared {
    /// Runs `graph` on `input` (a model without an `f32` reference: no report).
    pub fn execute(graph: Graph, input: Tensor) -> Result<Self, PrepareError> {
        let trace = execute(&graph, &input).map_err(|source| PrepareError::Exec {
            model: graph.name.clone(),
            source,
        })?;
        Ok(Self {
            graph,
            inputs: vec![input],
            trace,
            report: None,
            outputs: Vec::new(),
        })
    }

    /// The first input tensor.
    pub fn input(&self) -> &Tensor {
        &self.inputs[0]
    }

    /// The graph's output in the trace.
    pub fn output(&self) -> &Tensor {
        self.trace.output(&self.graph)
    }
}
