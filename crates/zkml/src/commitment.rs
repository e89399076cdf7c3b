//! The model commitment: weights packed into one Basefold-committed polynomial, bound together
//! with the circuit description and the proof configuration into a 32-byte digest.

use blake2::{Blake2s256, Digest};
use model::{Graph, Tensor};
use pcs::{CommittedPoly, PolyCommitment};
use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::M31;

use crate::circuit::{Circuit, GraphShape};
use crate::config::ProofConfig;
use crate::error::{ProveError, VerifyError};

/// What a verifier needs: the circuit structure, the weight commitment and the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyingKey {
    pub shape: GraphShape,
    pub weights: PolyCommitment,
    pub config: ProofConfig,
}

impl VerifyingKey {
    /// The model digest: Blake2s over a domain tag and the canonical encoding of the key.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Blake2s256::new();
        h.update(b"stwo-ml/model-commitment/v1");
        // bincode of plain data cannot fail.
        h.update(bincode::serialize(self).unwrap_or_default());
        h.finalize().into()
    }

    /// The digest as hex, for reports and errors.
    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest())
    }

    /// Derives the circuit, checking the structure.
    pub fn circuit(&self) -> Result<Circuit, VerifyError> {
        Circuit::new(self.shape.clone())
    }
}

/// A model with its weights committed: what the prover works from.
#[derive(Debug)]
pub struct CommittedModel {
    pub graph: Graph,
    pub circuit: Circuit,
    pub weights: CommittedPoly,
    pub vk: VerifyingKey,
}

impl CommittedModel {
    /// Validates the graph and commits to all of its weights (every value, no sampling).
    pub fn new(graph: Graph, config: ProofConfig) -> Result<Self, ProveError> {
        model::graph::validate(&graph)?;
        let circuit = Circuit::new(GraphShape::of(&graph))?;
        let tables: Vec<Vec<M31>> = graph
            .weights
            .iter()
            .map(|w| Tensor::new(w.shape, w.data.clone()).to_padded_m31())
            .collect();
        let refs: Vec<&[M31]> = tables.iter().map(Vec::as_slice).collect();
        let packed = circuit.weight_packing.pack(&refs);
        drop(tables);
        let weights = pcs::commit(packed, &config.pcs);
        let vk = VerifyingKey {
            shape: circuit.shape.clone(),
            weights: weights.commitment(),
            config,
        };
        Ok(Self {
            graph,
            circuit,
            weights,
            vk,
        })
    }
}
