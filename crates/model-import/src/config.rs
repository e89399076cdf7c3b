//! Typed quantisation configuration.

use serde::{Deserialize, Serialize};

/// How real weights become integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Strategy {
    /// Fixed point: every weight is `round(w * 2^weight_scale_bits)`, no clamping.
    Direct,
    /// Per-output-channel INT8: column `j` of a weight matrix gets the power-of-two scale
    /// `2^e_j`, `e_j = min(floor(log2(127 / max_i |w_ij|)), weight_scale_bits)`, so its integers
    /// lie in `[-127, 127]`. See [`crate::quantize`] for how the per-channel scales are realised
    /// with one rescale.
    Symmetric8,
    /// Group-wise symmetric INT4: along the input dimension (the rows of a `k x n` weight),
    /// each run of `group` rows of column `j` gets its own power-of-two scale
    /// `2^e`, `e = floor(log2(7 / max |w|))` over the group (capped at `weight_scale_bits`), and
    /// integers in `[-7, 7]`. Realised in the graph by the same folding as `Symmetric8`.
    Int4 { group: u32 },
}

impl Strategy {
    /// Name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Direct => "direct",
            Strategy::Symmetric8 => "symmetric8",
            Strategy::Int4 { .. } => "int4",
        }
    }
}

/// Quantisation settings. Part of what determines the imported graph (and so its digest):
/// prover and verifier must use the same values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuantConfig {
    pub strategy: Strategy,
    /// Fractional bits of the model input, and the finest scale any activation gets.
    /// Calibration lowers it per node where values would leave the activation range.
    pub act_scale_bits: u32,
    /// [`Strategy::Direct`]: the weight scale. [`Strategy::Symmetric8`] and
    /// [`Strategy::Int4`]: the finest per-channel (per-group) scale, which bounds the scale of
    /// channels with tiny weights.
    pub weight_scale_bits: u32,
}

impl QuantConfig {
    /// Fixed point at `act_scale_bits` activations and `weight_scale_bits` weights.
    pub const fn direct(act_scale_bits: u32, weight_scale_bits: u32) -> Self {
        Self {
            strategy: Strategy::Direct,
            act_scale_bits,
            weight_scale_bits,
        }
    }

    /// Per-channel INT8 weights, activations at `act_scale_bits`.
    pub const fn symmetric8(act_scale_bits: u32) -> Self {
        Self {
            strategy: Strategy::Symmetric8,
            act_scale_bits,
            weight_scale_bits: 12,
        }
    }

    /// Group-wise INT4 weights (`group` rows per scale, 32 or 64), activations at
    /// `act_scale_bits`.
    pub const fn int4(act_scale_bits: u32, group: u32) -> Self {
        Self {
            strategy: Strategy::Int4 { group },
            act_scale_bits,
            weight_scale_bits: 12,
        }
    }
}

/// INT4 group sizes [`QuantConfig::validate`] accepts.
pub const INT4_GROUPS: [u32; 2] = [32, 64];

/// Largest accepted `act_scale_bits`: an input at this scale still has a unit of range.
pub const MAX_ACT_SCALE_BITS: u32 = model::ACT_BITS - 2;
/// Largest accepted `weight_scale_bits` (products and rescale shifts stay below 2^30).
pub const MAX_WEIGHT_SCALE_BITS: u32 = 16;

impl QuantConfig {
    /// Checks the scales are in the ranges the quantiser supports, and an INT4 group size.
    pub fn validate(&self) -> Result<(), crate::ImportError> {
        if let Strategy::Int4 { group } = self.strategy {
            if !INT4_GROUPS.contains(&group) {
                return Err(crate::ImportError::GroupSize { group });
            }
        }
        if self.act_scale_bits > MAX_ACT_SCALE_BITS
            || self.weight_scale_bits > MAX_WEIGHT_SCALE_BITS
        {
            return Err(crate::ImportError::Config {
                act_scale_bits: self.act_scale_bits,
                weight_scale_bits: self.weight_scale_bits,
            });
        }
        Ok(())
    }
}

impl Default for QuantConfig {
    /// Per-channel INT8 weights, activations at 8 fractional bits (as the built-in models).
    fn default() -> Self {
        Self::symmetric8(8)
    }
}
