//! The proof format: versioned, self-describing, compact binary or JSON.
//!
//! Binary layout: the 8-byte magic `SMLPROOF`, a little-endian `u32` format version, then the
//! bincode encoding of [`ProofFile`]. JSON: the same [`ProofFile`] through serde, whose
//! `format` and `version` fields say what it is. Field elements are range-checked on decoding.
//! Files of either format are at most [`MAX_PROOF_BYTES`], when written and when read.

use bincode::Options;
use gkr::claim::CombineProof;
use gkr::elementwise::{AddBiasProof, AddProof, MulProof};
use gkr::gather::GatherProof;
use gkr::linear::{EvalProof, EvalsProof, PairProof};
use gkr::lookup::{Felts, LookupProof};
use gkr::matmul::MatMulProof;
use gkr::softmax::{RowMaxProof, SoftmaxDivProof, SoftmaxExpProof, ZeroProof};
use model::Tensor;
use pcs::{OpeningProof, PolyCommitment};
use serde::{Deserialize, Serialize};

use crate::error::{EncodeError, VerifyError};

/// Version of the proof format and protocol.
pub const PROOF_VERSION: u32 = 10;
const MAGIC: &[u8; 8] = b"SMLPROOF";
/// Largest proof file written or read, in either format: bounds the decoder's work and
/// allocations on a hostile file. Proofs are far smaller (a transformer block's is ~0.3 MB);
/// JSON spells each field element in decimal, about three times the binary size.
pub const MAX_PROOF_BYTES: u64 = 256 << 20;

/// The reduction of one linear layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerProof {
    MatMul(MatMulProof),
    AddBias(AddBiasProof),
    Add(AddProof),
    /// `Mul`, `MulColumn` and `MulWeight`.
    Mul(MulProof),
    /// `RowSum` and `MulConst`.
    Eval(EvalProof),
    /// `AddConst` (no prover message).
    AddConst,
    /// `RotateHalf`.
    Pair(PairProof),
    /// `ColumnSlice` (no prover message).
    Relabel,
    /// `ConcatColumns`.
    Evals(EvalsProof),
    /// `SoftmaxMax`: the gap split and the zero-checks of the one-hot.
    SoftmaxMax(RowMaxProof),
    /// `SoftmaxExp`: the table input split and the zero-check off the mask.
    SoftmaxExp(SoftmaxExpProof),
    /// `SoftmaxDiv`: the remainder split, the quotient-times-sum product, the zero-check.
    SoftmaxDiv(SoftmaxDivProof),
    /// `Lookup` on a padded tensor: its output vanishes on the padding.
    ZeroPadding(ZeroProof),
    /// `WindowGather`: the sumcheck over the input's rows.
    Gather(GatherProof),
}

/// The proof for one computed node: optional batching of its claims, then its reduction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeProof {
    pub node: u32,
    pub combine: Option<CombineProof>,
    pub layer: LayerProof,
}

/// A proof that `output = model(input)` for the model with digest `model_digest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelProof {
    pub version: u32,
    pub model_digest: [u8; 32],
    /// The configuration the prover used (bound through the digest; carried so that a
    /// verifier holding a key of another configuration says so rather than "another model").
    pub config: crate::ProofConfig,
    /// One commitment per advice chunk (`Circuit::advice_chunks`).
    pub advice: Vec<PolyCommitment>,
    pub lookup: LookupProof,
    /// Per rescale node (graph order): the output's value at the remainder column's point.
    pub rescale_splits: Felts,
    /// A batched stack's block inputs `X_1 .. X_{N-1}` at the chain's point
    /// ([`crate::chain`]); empty for an ordinary graph.
    pub chain: Felts,
    pub nodes: Vec<NodeProof>,
    /// Per claim on a tiled weight (walk order), each tile's value at the claim's point
    /// ([`crate::tiles`]).
    pub weight_tiles: Felts,
    pub opening: OpeningProof,
}

/// A proof file: the statement (every public input, the output) and the proof. `model_name`
/// is a label the proof does not bind; `model_digest` must be the hex of
/// `proof.model_digest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofFile {
    pub format: String,
    pub version: u32,
    pub model_name: String,
    pub model_digest: String,
    /// The first public input.
    pub input: Tensor,
    /// The other public inputs of a model with several (an encoder's attention mask), in
    /// input-node order.
    pub more_inputs: Vec<Tensor>,
    pub output: Tensor,
    /// The other public outputs of a model with several, in order
    /// ([`model::Graph::more_outputs`]).
    pub more_outputs: Vec<Tensor>,
    pub proof: ModelProof,
}

/// Encoding of a proof file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofFormat {
    Binary,
    Json,
}

/// The binary body's encoding, without a size limit (sizes are checked around it).
fn encoding() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
}

/// Bytes before the bincode body: magic and version.
const HEADER_BYTES: u64 = MAGIC.len() as u64 + 4;

impl ModelProof {
    /// Size of the bincode encoding in bytes.
    pub fn size_bytes(&self) -> usize {
        encoding().serialized_size(self).map_or(0, |s| s as usize)
    }

    /// Bytes of each part of the encoding: advice commitments, lookups (with the rescale
    /// splits), the layer reductions (with the chain) and the weight and advice opening.
    pub fn size_parts(&self) -> [(&'static str, usize); 4] {
        [
            ("advice", encoded_len(&self.advice)),
            (
                "lookups",
                encoded_len(&self.lookup) + encoded_len(&self.rescale_splits),
            ),
            (
                "layers",
                encoded_len(&self.nodes) + encoded_len(&self.chain),
            ),
            (
                "opening",
                encoded_len(&self.opening) + encoded_len(&self.weight_tiles),
            ),
        ]
    }
}

impl ModelProof {
    /// Bytes of the layer reductions by kind (the claim batching of every node as
    /// `"combine"`), largest first: where a proof's size goes.
    pub fn layer_sizes(&self) -> Vec<(&'static str, usize)> {
        let mut by: Vec<(&'static str, usize)> = Vec::new();
        let mut add = |k: &'static str, b: usize| match by.iter_mut().find(|e| e.0 == k) {
            Some(e) => e.1 += b,
            None => by.push((k, b)),
        };
        for n in &self.nodes {
            add("combine", encoded_len(&n.combine));
            add(n.layer.kind(), encoded_len(&n.layer));
        }
        by.sort_by_key(|e| std::cmp::Reverse(e.1));
        by
    }
}

impl LayerProof {
    /// The variant's name.
    pub fn kind(&self) -> &'static str {
        match self {
            LayerProof::MatMul(_) => "matmul",
            LayerProof::AddBias(_) => "add_bias",
            LayerProof::Add(_) => "add",
            LayerProof::Mul(_) => "mul",
            LayerProof::Eval(_) => "eval",
            LayerProof::AddConst => "add_const",
            LayerProof::Pair(_) => "pair",
            LayerProof::Relabel => "relabel",
            LayerProof::Evals(_) => "evals",
            LayerProof::SoftmaxMax(_) => "softmax_max",
            LayerProof::SoftmaxExp(_) => "softmax_exp",
            LayerProof::SoftmaxDiv(_) => "softmax_div",
            LayerProof::ZeroPadding(_) => "zero_padding",
            LayerProof::Gather(_) => "gather",
        }
    }
}

/// Bytes of `value`'s binary encoding.
fn encoded_len<T: Serialize>(value: &T) -> usize {
    encoding().serialized_size(value).map_or(0, |s| s as usize)
}

/// Refuses `bytes` beyond [`MAX_PROOF_BYTES`].
fn within_limit(bytes: usize) -> Result<(), VerifyError> {
    let bytes = bytes as u64;
    if bytes > MAX_PROOF_BYTES {
        return Err(VerifyError::ProofTooLarge {
            bytes,
            limit: MAX_PROOF_BYTES,
        });
    }
    Ok(())
}

impl ProofFile {
    pub const FORMAT: &'static str = "stwo-ml-proof";

    /// A proof file for `output = model(input)` of the committed model `model`.
    #[cfg(feature = "prover")]
    pub fn new(
        model: &crate::CommittedModel,
        input: Tensor,
        output: Tensor,
        proof: ModelProof,
    ) -> Self {
        Self::new_all(model, vec![input], output, proof)
    }

    /// A proof file for `output = model(inputs)`, `inputs` one tensor per input node in
    /// order (at least one).
    #[cfg(feature = "prover")]
    pub fn new_all(
        model: &crate::CommittedModel,
        inputs: Vec<Tensor>,
        output: Tensor,
        proof: ModelProof,
    ) -> Self {
        let mut inputs = inputs.into_iter();
        let input = inputs
            .next()
            .unwrap_or_else(|| Tensor::new(model::Shape::new(0, 0), vec![]));
        Self {
            format: Self::FORMAT.into(),
            version: PROOF_VERSION,
            model_name: model.graph.name.clone(),
            model_digest: model.vk.digest_hex(),
            input,
            more_inputs: inputs.collect(),
            output,
            more_outputs: Vec::new(),
            proof,
        }
    }

    /// The file with the model's further public outputs (a trace's
    /// [`model::execute::Trace::more_outputs`]).
    pub fn with_more_outputs(mut self, more_outputs: Vec<Tensor>) -> Self {
        self.more_outputs = more_outputs;
        self
    }

    /// Every public output, in order: the main one first.
    pub fn outputs(&self) -> Vec<Tensor> {
        std::iter::once(&self.output)
            .chain(&self.more_outputs)
            .cloned()
            .collect()
    }

    /// Every public input, in order.
    pub fn inputs(&self) -> Vec<Tensor> {
        std::iter::once(&self.input)
            .chain(&self.more_inputs)
            .cloned()
            .collect()
    }

    /// Encodes the file; refused if the encoding fails or exceeds [`MAX_PROOF_BYTES`] (which
    /// [`Self::decode`] would refuse).
    pub fn encode(&self, format: ProofFormat) -> Result<Vec<u8>, EncodeError> {
        let too_large = |bytes| EncodeError::TooLarge {
            bytes,
            limit: MAX_PROOF_BYTES,
        };
        let failed = |e: &dyn std::fmt::Display| EncodeError::Serialize(e.to_string());
        match format {
            ProofFormat::Binary => {
                let body = encoding().serialized_size(self).map_err(|e| failed(&e))?;
                let total = HEADER_BYTES.saturating_add(body);
                if total > MAX_PROOF_BYTES {
                    return Err(too_large(total));
                }
                let mut out = Vec::with_capacity(total as usize);
                out.extend_from_slice(MAGIC);
                out.extend_from_slice(&PROOF_VERSION.to_le_bytes());
                encoding()
                    .serialize_into(&mut out, self)
                    .map_err(|e| failed(&e))?;
                Ok(out)
            }
            ProofFormat::Json => {
                let out = serde_json::to_vec_pretty(self).map_err(|e| failed(&e))?;
                if out.len() as u64 > MAX_PROOF_BYTES {
                    return Err(too_large(out.len() as u64));
                }
                Ok(out)
            }
        }
    }

    /// Decodes a file in either format (detected from the first bytes); refused beyond
    /// [`MAX_PROOF_BYTES`].
    pub fn decode(bytes: &[u8]) -> Result<Self, VerifyError> {
        within_limit(bytes.len())?;
        let file: ProofFile = if let Some(rest) = bytes.strip_prefix(MAGIC.as_slice()) {
            if rest.len() < 4 {
                return Err(VerifyError::Decode("truncated header".into()));
            }
            let (ver, body) = rest.split_at(4);
            let ver = u32::from_le_bytes([ver[0], ver[1], ver[2], ver[3]]);
            if ver != PROOF_VERSION {
                return Err(VerifyError::Version {
                    expected: PROOF_VERSION,
                    got: ver,
                });
            }
            encoding()
                .with_limit(MAX_PROOF_BYTES)
                .deserialize(body)
                .map_err(|e| VerifyError::Decode(e.to_string()))?
        } else {
            serde_json::from_slice(bytes).map_err(|e| VerifyError::Decode(e.to_string()))?
        };
        if file.format != Self::FORMAT {
            return Err(VerifyError::Decode(format!("not a {} file", Self::FORMAT)));
        }
        if file.version != PROOF_VERSION || file.proof.version != PROOF_VERSION {
            return Err(VerifyError::Version {
                expected: PROOF_VERSION,
                got: file.version,
            });
        }
        // The header's digest is what a reader sees first: it must be the one the proof binds.
        if file.model_digest != hex::encode(file.proof.model_digest) {
            return Err(VerifyError::Decode(
                "the header's model digest is not the proof's".into(),
            ));
        }
        let fits = |t: &Tensor| t.shape.rows.checked_mul(t.shape.cols) == Some(t.data.len());
        let tensors = std::iter::once(&file.input)
            .chain(&file.more_inputs)
            .chain([&file.output])
            .chain(&file.more_outputs);
        if !tensors.into_iter().all(fits) {
            return Err(VerifyError::Decode(
                "tensor data does not match its shape".into(),
            ));
        }
        Ok(file)
    }
}
