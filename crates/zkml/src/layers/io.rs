//! Inputs and zero assertions. An input's claims are evaluated by the verifier (a public
//! input) or opened (a stack's committed input); an `AssertZero` node is proved when the
//! walk starts (its input's MLE vanishes at a random point), so neither has a step here.

use gkr::Claim;
use model::NodeId;
use stwo::core::channel::Blake2sChannel;

use super::{mismatch, not_mine, Layer, ProveCx, Router, VerifyCx, Visit};
use crate::circuit::Circuit;
use crate::error::{ProveError, VerifyError};
use crate::proof::LayerProof;

/// `Input`, `AssertZero`.
pub struct IoLayer;

impl Layer for IoLayer {
    fn visit(&self, _: &Circuit, _: NodeId, _: bool) -> Visit {
        Visit::Skip
    }

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
