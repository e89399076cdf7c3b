//! The model commitment: weights packed into one Basefold-committed polynomial, bound together
//! with the circuit description and the proof configuration into a 32-byte digest.

use blake2::{Blake2s256, Digest};
use std::path::Path;

use model::tensor::to_m31;
use model::Graph;
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
        Ok(Self::load_or_commit(graph, config, None)?.0)
    }

    /// Like [`CommittedModel::new`], but reuses a commitment cached in `cache_dir` under the
    /// model's content hash, and stores a fresh one there. A cache file that fails its checksum,
    /// or whose polynomial is not exactly this model's weights, is ignored and rewritten.
    pub fn load_or_commit(
        graph: Graph,
        config: ProofConfig,
        cache_dir: Option<&Path>,
    ) -> Result<(Self, CacheStatus), ProveError> {
        model::graph::validate(&graph)?;
        let circuit = Circuit::new(GraphShape::of(&graph))?;
        let packed = pack_weights(&graph, &circuit);
        let path = cache_dir.map(|d| d.join(format!("{}.pcs", content_key(&packed, &config))));
        let cached = path
            .as_deref()
            .and_then(|p| load_cached(p, &packed, &config));
        let (weights, status) = match cached {
            Some(w) => (w, CacheStatus::Loaded),
            None => {
                let w = pcs::commit(packed, &config.pcs);
                let status = match path.as_deref().map(|p| store(p, &w)) {
                    None => CacheStatus::Disabled,
                    Some(Ok(())) => CacheStatus::Stored,
                    Some(Err(e)) => CacheStatus::StoreFailed(e.to_string()),
                };
                (w, status)
            }
        };
        let vk = VerifyingKey {
            shape: circuit.shape.clone(),
            weights: weights.commitment(),
            config,
        };
        Ok((
            Self {
                graph,
                circuit,
                weights,
                vk,
            },
            status,
        ))
    }
}

impl CommittedModel {
    /// The model of `graph` reusing this model's weight commitment, for a graph with exactly
    /// the same packed weights (the next step of a decoding session, whose cache length and
    /// positions differ): no commitment is computed. Refused if the weights differ.
    pub fn rebind(self, graph: Graph) -> Result<Self, ProveError> {
        model::graph::validate(&graph)?;
        let circuit = Circuit::new(GraphShape::of(&graph))?;
        let packed = pack_weights(&graph, &circuit);
        if self.weights.evals() != packed.as_slice() {
            return Err(ProveError::WeightsDiffer);
        }
        let vk = VerifyingKey {
            shape: circuit.shape.clone(),
            weights: self.vk.weights,
            config: self.vk.config,
        };
        Ok(Self {
            graph,
            circuit,
            weights: self.weights,
            vk,
        })
    }
}

/// What happened to the on-disk commitment cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    /// No cache directory was given.
    Disabled,
    /// The commitment was read from the cache.
    Loaded,
    /// A fresh commitment was written to the cache.
    Stored,
    /// A fresh commitment could not be written (the proof is unaffected).
    StoreFailed(String),
}

/// All weights, padded, in one table laid out by the circuit's weight packing.
fn pack_weights(graph: &Graph, circuit: &Circuit) -> Vec<M31> {
    let layout = &circuit.weight_packing;
    let mut packed = vec![M31::from_u32_unchecked(0); 1 << layout.n_vars];
    for (w, &(offset, _)) in graph.weights.iter().zip(&layout.items) {
        let cols = 1usize << w.shape.log_cols();
        for (r, row) in w.data.chunks(w.shape.cols).enumerate() {
            let dst = &mut packed[offset + r * cols..offset + r * cols + row.len()];
            dst.iter_mut().zip(row).for_each(|(d, &v)| *d = to_m31(v));
        }
    }
    packed
}

/// Content hash of the packed weights and the configuration: the cache key. Graphs that
/// differ only in structure (the steps of a decoding session) share one commitment.
fn content_key(packed: &[M31], config: &ProofConfig) -> String {
    let mut h = Blake2s256::new();
    h.update(b"stwo-ml/weight-cache/v2");
    h.update((packed.len() as u64).to_le_bytes());
    for chunk in packed.chunks(1 << 16) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.0.to_le_bytes()).collect();
        h.update(&bytes);
    }
    h.update(bincode::serialize(config).unwrap_or_default());
    hex::encode(h.finalize())
}

fn load_cached(path: &Path, packed: &[M31], config: &ProofConfig) -> Option<CommittedPoly> {
    let file = std::fs::File::open(path).ok()?;
    let poly = CommittedPoly::read_from(&mut std::io::BufReader::new(file)).ok()?;
    (poly.evals() == packed && poly.config() == &config.pcs).then_some(poly)
}

/// Writes atomically: a temporary file renamed into place, so a crash leaves no torn file.
fn store(path: &Path, poly: &CommittedPoly) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        poly.write_to(&mut w)?;
        std::io::Write::flush(&mut w)?;
    }
    std::fs::rename(&tmp, path)
}
