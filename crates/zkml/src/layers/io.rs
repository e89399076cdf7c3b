//! Inputs and zero assertions. An input's claims are evaluated by the verifier (a public
//! input) or opened (a stack's committed input); an `AssertZero` node is proved when the
//! walk starts (its input's MLE vanishes at a random point), so neither has a step here.

use gkr::Claim;
use model::NodeId;
use stwo::core::channel::Blake2sChannel;

use super::{mismatch, Layer, Router, VerifyCx, Visit};
#[cfg(feature = "prover")]
use super::{not_mine, ProveCx};
use crate::circuit::Circuit;
#[cfg(feature = "prover")]
use crate::error::ProveError;
use crate::error::VerifyError;
use crate::proof::LayerProof;

/// `Input`, `AssertZero`.
pub struct IoLayer;

impl Layer for IoLayer {
    fn visit(&self, _: &Circuit, _: NodeId, _: bool) -> Visit {
        Visit::Skip
    }

    #[cfg(feature = "prover")]
    fn prove(
        &self,
        _: &ProveCx<'_>,
        _: NodeId,
        _: Option<Claim>,
        _: &mut Router<'_>,
        _: &mut Blake2sChannel,
    ) -> Result<LayerProof, ProveError> {
        Err(not_mine())
    }

    fn verify(
        &self,
        _: &VerifyCx<'_>,
        _: NodeId,
        _: Option<Claim>,
        _: &LayerProof,
        _: &mut Router<'_>,
        _: &mut Blake2sChannel,
    ) -> Result<(), VerifyError> {
        Err(mismatch())
    }
}

/// Tensors asserted zero: their MLE vanishes at a random point (prover and verifier alike).
pub fn assert_zero_claims(
    circuit: &Circuit,
    to: &mut Router<'_>,
    channel: &mut impl stwo::core::channel::Channel,
) {
    for node in &circuit.shape.nodes {
        if let model::Op::AssertZero { input } = node.op {
            let point = channel.draw_secure_felts(node.shape.n_vars() as usize);
            to.node(
                input,
                Claim::new(
                    point,
                    stwo::core::fields::qm31::QM31::from(
                        stwo::core::fields::m31::M31::from_u32_unchecked(0),
                    ),
                ),
            );
        }
    }
}
