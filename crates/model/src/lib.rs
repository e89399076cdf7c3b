//! The model layer: a computation graph over 2-D integer tensors in fixed point, its builder,
//! and an executor that runs it exactly as the proof system sees it (values are signed integers
//! embedded in M31 as `x mod p`). This crate knows nothing about proofs.
//!
//! Every tensor carries a fixed-point `scale` (number of fractional bits). `MatMul` and `Mul`
//! add the scales of their operands; `Rescale { shift }` divides by `2^shift` with rounding and
//! brings the result back into the activation range `[-2^(ACT_BITS-1), 2^(ACT_BITS-1))`, which
//! the prover range-checks. The executor computes with 64-bit integers and reports any value
//! that leaves the range in which M31 arithmetic equals integer arithmetic, instead of wrapping.
//!
//! Modules: [`graph`] (IR and [`GraphBuilder`]), [`rules`] (each op's output shape, shared
//! with the proof system's structure check), [`tensor`], [`execute`] (integer forward pass
//! keeping every intermediate tensor), [`examples`] (built-in models), [`norm`], [`rope`],
//! [`heads`], [`func`], [`softmax`] (softmax steps, embedding), [`transformer`] (decoder
//! blocks), [`stack`] (identical blocks stacked for one batched proof), [`decode`] (incremental decoding against a K/V cache bound by public inputs) and
//! [`reference`] (the same block in `f32`).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod decode;
pub mod examples;
pub mod execute;
pub mod func;
pub mod graph;
pub mod heads;
mod layout;
pub mod matmul;
pub mod norm;
pub mod reference;
pub mod rope;
pub mod rules;
pub mod softmax;
pub mod split;
pub mod stack;
pub mod tensor;
pub mod transformer;
mod validate;
pub mod weight_data;
pub mod wide;
pub mod window;

pub use execute::{execute, ExecError, Trace};
pub use func::Func;
pub use graph::{Graph, GraphBuilder, GraphError, Node, NodeId, Op, Weight, WeightData, WeightId};
pub use tensor::{Shape, Tensor};

/// Bits of the activation range: every `Rescale` output and `Relu` input lies in
/// `[-2^(ACT_BITS-1), 2^(ACT_BITS-1))`.
pub const ACT_BITS: u32 = 16;

/// Largest magnitude of an intermediate value: `(p - 1) / 2`. Inside `[-MAX_ABS, MAX_ABS]`
/// M31 arithmetic agrees with integer arithmetic.
pub const MAX_ABS: i64 = (stwo::core::fields::m31::P as i64 - 1) / 2;
