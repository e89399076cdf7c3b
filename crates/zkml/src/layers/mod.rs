//! The layer catalogue: each op family in one file, holding its lookup columns, whether its
//! value is advice, its prover step and its verifier step, behind the [`Layer`] trait.
//!
//! The prover ([`crate::prover`]) and the verifier ([`crate::verifier`]) walk the graph
//! backwards and ask each node's layer ([`of`]) what to do; claims travel between nodes, the
//! weight commitment and the advice commitment through one [`Router`], the same on both sides.
//! A new op goes into [`model::Op`] (with its shape rule in [`model::rules`]) and into one
//! family here.
//!
//! Families: [`matmul`] (weight and activation products), [`elementwise`] (add, mul, bias,
//! gains), [`linear`] (row sums, constants, slices, concatenations, broadcasts, RoPE's half
//! rotation), [`lookup`] (ReLU, rescale, function tables: the LogUp columns and their claims),
//! [`softmax`] (row max, exp, division), [`embedding`], [`io`] (inputs and zero assertions).

pub mod elementwise;
pub mod embedding;
pub mod io;
pub mod linear;
pub mod lookup;
pub mod matmul;
pub mod softmax;

use gkr::lookup::RealMask;
use gkr::{Claim, GkrError, TableKind};
use model::{NodeId, Op, Tensor};
use stwo::core::channel::Blake2sChannel;
#[cfg(feature = "prover")]
use stwo::core::fields::m31::M31;

use crate::circuit::{Circuit, ColumnKind, GraphShape, Sink};
#[cfg(feature = "prover")]
use crate::error::ProveError;
use crate::error::VerifyError;
use crate::proof::LayerProof;

/// One lookup column of a node: what it holds, the table it is looked up in, and which of its
/// entries take part (`None`: all, padding included).
pub type ColumnDef = (ColumnKind, TableKind, Option<RealMask>);

/// How the backward walk treats a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visit {
    /// No proof for this node.
    Skip,
    /// A proof whatever claims arrived (softmax steps, zero-checks): the node proves
    /// relations of its own, and its incoming claims go to the advice opening.
    Standalone,
    /// The node's claims, batched into one, are reduced to claims on its operands.
    Reduce,
}

/// What the prover has at hand for a node's step.
#[cfg(feature = "prover")]
pub struct ProveCx<'a> {
    pub model: &'a crate::CommittedModel,
    pub circuit: &'a Circuit,
    /// Every node's value, padded, in M31.
    pub vals: &'a [Vec<M31>],
    pub inputs: &'a [Tensor],
    /// The one-hot witness of each `SoftmaxMax` node, in [`Circuit::one_hot`] order.
    pub one_hots: &'a [Vec<M31>],
}

#[cfg(feature = "prover")]
impl ProveCx<'_> {
    /// The one-hot witness of `SoftmaxMax` node `id` (empty for another node).
    pub fn one_hot(&self, id: NodeId) -> &[M31] {
        self.circuit
            .one_hot
            .iter()
            .position(|&n| n == id)
            .map_or(&[], |k| self.one_hots[k].as_slice())
    }
}

/// What the verifier has at hand for a node's step.
pub struct VerifyCx<'a> {
    pub circuit: &'a Circuit,
    pub inputs: &'a [Tensor],
}

/// One op family's part of the protocol. Prover and verifier steps of a family live side by
/// side; both must touch the channel in the same order.
pub trait Layer: Sync {
    /// Whether the node's value is chosen by the prover (committed as advice and constrained
    /// by the node's lookups) rather than computed from its operands by a reduction.
    fn is_advice(&self) -> bool {
        false
    }

    /// The node's lookup columns.
    fn columns(&self, _s: &GraphShape, _id: NodeId) -> Vec<ColumnDef> {
        Vec::new()
    }

    /// How the walk treats node `id`, given whether claims on it arrived.
    fn visit(&self, c: &Circuit, id: NodeId, has_claims: bool) -> Visit {
        if c.sinks[id] == Sink::Computed && has_claims {
            Visit::Reduce
        } else {
            Visit::Skip
        }
    }

    /// The prover's step for node `id`: `claim` is the node's batched claim for a
    /// [`Visit::Reduce`] node, `None` for a [`Visit::Standalone`] one.
    #[cfg(feature = "prover")]
    fn prove(
        &self,
        cx: &ProveCx<'_>,
        id: NodeId,
        claim: Option<Claim>,
        to: &mut Router<'_>,
        channel: &mut Blake2sChannel,
    ) -> Result<LayerProof, ProveError>;

    /// The verifier's step for node `id` ([`Layer::prove`]'s mirror).
    fn verify(
        &self,
        cx: &VerifyCx<'_>,
        id: NodeId,
        claim: Option<Claim>,
        proof: &LayerProof,
        to: &mut Router<'_>,
        channel: &mut Blake2sChannel,
    ) -> Result<(), VerifyError>;
}

/// The layer of an op.
pub fn of(op: &Op) -> &'static dyn Layer {
    match op {
        Op::MatMul { .. } | Op::MatMulTransposed { .. } | Op::MatMulAct { .. } => {
            &matmul::MatMulLayer
        }
        Op::Add { .. }
        | Op::Mul { .. }
        | Op::AddBias { .. }
        | Op::MulColumn { .. }
        | Op::MulWeight { .. }
        | Op::MulWeightRows { .. } => &elementwise::ElementwiseLayer,
        Op::RowSum { .. }
        | Op::MulConst { .. }
        | Op::AddConst { .. }
        | Op::ColumnSlice { .. }
        | Op::RowSlice { .. }
        | Op::ConcatAligned { .. }
        | Op::ConcatColumns { .. }
        | Op::BroadcastColumn { .. }
        | Op::BroadcastRow { .. }
        | Op::WindowGather { .. }
        | Op::RotateHalf { .. } => &linear::LinearLayer,
        Op::Relu { .. } | Op::Rescale { .. } | Op::Lookup { .. } => &lookup::LookupLayer,
        Op::SoftmaxMax { .. } | Op::SoftmaxExp { .. } | Op::SoftmaxDiv { .. } => {
            &softmax::SoftmaxLayer
        }
        Op::Embedding { .. } => &embedding::EmbeddingLayer,
        Op::Input | Op::AssertZero { .. } => &io::IoLayer,
    }
}

/// Where claims go during the walk: onto nodes (reduced later), onto weights or onto advice
/// (both proved by the final opening). Prover and verifier fill it in the same order, so the
/// opening's claim lists agree.
pub struct Router<'c> {
    circuit: &'c Circuit,
    claims: Vec<Vec<Claim>>,
    /// Per softmax node, its lookup columns' claims in circuit order (split by its step).
    pending: Vec<Vec<Vec<Claim>>>,
    weights: Vec<(usize, Claim)>,
    advice: Vec<Claim>,
}

/// The claims left when the walk is over.
pub struct Routed {
    /// Per node, the claims on a public node (input, or the output when it is advice).
    pub public: Vec<(NodeId, Vec<Claim>)>,
    /// Per claim on a weight, its id and the claim on its padded table (lifted into the
    /// weight packing by [`crate::tiles::lift_weight_claims`]).
    pub weights: Vec<(usize, Claim)>,
    /// Lifted into the advice packing.
    pub advice: Vec<Claim>,
}

impl<'c> Router<'c> {
    pub fn new(circuit: &'c Circuit) -> Self {
        let n = circuit.shape.nodes.len();
        Self {
            circuit,
            claims: vec![Vec::new(); n],
            pending: vec![Vec::new(); n],
            weights: Vec::new(),
            advice: Vec::new(),
        }
    }

    /// A claim on node `id`'s value.
    pub fn node(&mut self, id: NodeId, claim: Claim) {
        self.claims[id].push(claim);
    }

    /// A claim on weight `w`'s table.
    pub fn weight(&mut self, w: usize, claim: &Claim) {
        self.weights.push((w, claim.clone()));
    }

    /// A claim on advice item `item`.
    pub fn advice(&mut self, item: usize, claim: &Claim) {
        self.advice
            .push(self.circuit.advice_packing.lift(item, claim));
    }

    /// Holds a softmax node's lookup column claims until its step.
    pub fn hold(&mut self, id: NodeId, claims: Vec<Claim>) {
        self.pending[id].push(claims);
    }

    /// Takes the held lookup claims of node `id`.
    pub fn take_held(&mut self, id: NodeId) -> Vec<Vec<Claim>> {
        std::mem::take(&mut self.pending[id])
    }

    pub fn has_claims(&self, id: NodeId) -> bool {
        !self.claims[id].is_empty()
    }

    /// Takes the claims on node `id`.
    pub fn take(&mut self, id: NodeId) -> Vec<Claim> {
        std::mem::take(&mut self.claims[id])
    }

    /// Ends the walk: claims on advice nodes join the advice claims (in node order), claims
    /// on public nodes are returned for the verifier to evaluate.
    pub fn finish(mut self) -> Routed {
        let mut public = Vec::new();
        for (id, claims) in self.claims.into_iter().enumerate() {
            match self.circuit.sinks[id] {
                Sink::Public => public.push((id, claims)),
                Sink::Advice(item) => {
                    for c in &claims {
                        self.advice.push(self.circuit.advice_packing.lift(item, c));
                    }
                }
                Sink::Computed => {}
            }
        }
        Routed {
            public,
            weights: self.weights,
            advice: self.advice,
        }
    }
}

/// The batched claim of a [`Visit::Reduce`] node.
fn reduce_claim<E>(claim: Option<Claim>, err: E) -> Result<Claim, E> {
    claim.ok_or(err)
}

/// The prover's error for a step called on a node its layer does not own (a bug).
#[cfg(feature = "prover")]
fn not_mine() -> ProveError {
    ProveError::Circuit(VerifyError::MalformedModel(
        "layer step called on another family's node".into(),
    ))
}

/// The verifier's error for a proof that does not fit the node.
fn mismatch() -> VerifyError {
    VerifyError::MalformedProof("layer proof kind does not match the node".into())
}

/// Wraps a reduction's error with the node it failed at.
fn layer_err(c: &Circuit, id: NodeId) -> impl Fn(GkrError) -> VerifyError + '_ {
    move |source| VerifyError::Layer {
        node: id,
        op: c.shape.nodes[id].op.kind(),
        source,
    }
}
