//! What an entry's `input` and `output` bytes hold when the log records a model's inference:
//! the request and the exact public tensors a proof of it carries, as JSON. A proof is matched
//! to its entry by these tensors, without the model.

use model::Tensor;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The input side of one inference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferenceInput {
    /// The request's input, as the client sent it.
    pub request: Value,
    /// The quantised input tensors, one per model input, in proof order.
    pub tensors: Vec<Tensor>,
}

/// The public outputs of one inference, in proof order (the main output first), with the
/// number of fractional bits of each (`value / 2^scale_bits` is the real number).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InferenceOutput {
    pub tensors: Vec<Tensor>,
    pub scale_bits: Vec<u32>,
}

impl InferenceInput {
    /// The bytes an entry stores.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of tensors and a JSON value always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(b)
    }
}

impl InferenceOutput {
    /// The bytes an entry stores.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(b)
    }

    /// The index of the largest value of the main output's first row (a classifier's class,
    /// a decoder's next token at its first position); ties go to the lowest index.
    pub fn argmax(&self) -> Option<usize> {
        let t = self.tensors.first()?;
        let row = &t.data[..t.shape.cols.min(t.data.len())];
        row.iter()
            .enumerate()
            .max_by_key(|(i, v)| (**v, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
    }

    /// The outputs as real numbers.
    pub fn reals(&self) -> Vec<Vec<f64>> {
        self.tensors
            .iter()
            .zip(&self.scale_bits)
            .map(|(t, &s)| {
                let scale = 2f64.powi(s as i32);
                t.data.iter().map(|&v| v as f64 / scale).collect()
            })
            .collect()
    }
}
