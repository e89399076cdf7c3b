//! The proof format: versioned, self-describing, compact binary or JSON.
//!
//! Binary layout: the 8-byte magic `SMLPROOF`, a little-endian `u32` format version, then the
//! bincode encoding of [`ProofFile`]. JSON: the same [`ProofFile`] through serde, whose
//! `format` and `version` fields say what it is. Field elements are range-checked on decoding.

use bincode::Options;
use gkr::claim::CombineProof;
use gkr::elementwise::{AddBiasProof, AddProof, MulProof};
use gkr::linear::{EvalProof, EvalsProof, PairProof};
use gkr::lookup::{Felts, LookupProof};
use gkr::matmul::MatMulProof;
use gkr::softmax::{RowMaxProof, SoftmaxDivProof, SoftmaxExpProof, ZeroProof};
use model::Tensor;
use pcs::{OpeningProof, PolyCommitment};
use serde::{Deserialize, Serialize};

use crate::error::VerifyError;

/// Version of the proof format and protocol.
pub const PROOF_VERSION: u32 = 7;
const MAGIC: &[u8; 8] = b"SMLPROOF";
/// Largest proof file accepted (bounds the decoder's allocations).
pub const MAX_PROOF_BYTES: u64 = 1 << 30;

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
    /// One commitment per advice chunk (`Circuit::advice_chunks`).
    pub advice: Vec<PolyCommitment>,
    pub lookup: LookupProof,
    /// Per rescale node (graph order): the output's value at the remainder column's point.
    pub rescale_splits: Felts,
    /// A batched stack's block inputs `X_1 .. X_{N-1}` at the chain's point
    /// ([`crate::chain`]); empty for an ordinary graph.
    pub chain: Felts,
    pub nodes: Vec<NodeProof>,
    pub opening: OpeningProof,
}

/// A proof file: the statement (input, output) and the proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofFile {
    pub format: String,
    pub version: u32,
    pub model_name: String,
    pub model_digest: String,
    pub input: Tensor,
    pub output: Tensor,
    pub proof: ModelProof,
}

/// Encoding of a proof file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofFormat {
    Binary,
    Json,
}

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(MAX_PROOF_BYTES)
}

impl ModelProof {
    /// Size of the bincode encoding in bytes.
    pub fn size_bytes(&self) -> usize {
        options().serialized_size(self).map_or(0, |s| s as usize)
    }
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
        Self {
            format: Self::FORMAT.into(),
            version: PROOF_VERSION,
            model_name: model.graph.name.clone(),
            model_digest: model.vk.digest_hex(),
            input,
            output,
            proof,
        }
    }

    /// Encodes the file.
    pub fn encode(&self, format: ProofFormat) -> Vec<u8> {
        match format {
            ProofFormat::Binary => {
                let mut out = MAGIC.to_vec();
                out.extend_from_slice(&PROOF_VERSION.to_le_bytes());
                out.extend(options().serialize(self).unwrap_or_default());
                out
            }
            ProofFormat::Json => serde_json::to_vec_pretty(self).unwrap_or_default(),
        }
    }

    /// Decodes a file in either format (detected from the first bytes).
    pub fn decode(bytes: &[u8]) -> Result<Self, VerifyError> {
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
            options()
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
        let fits = |t: &Tensor| t.shape.rows.checked_mul(t.shape.cols) == Some(t.data.len());
        if !fits(&file.input) || !fits(&file.output) {
            return Err(VerifyError::Decode(
                "tensor data does not match its shape".into(),
            ));
        }
        Ok(file)
    }
}
