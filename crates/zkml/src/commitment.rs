//! The model commitment: weights packed into Basefold-committed polynomials (one, or several
//! of at most `2^max_weight_poly_vars` entries each, committed one after another so that only
//! one chunk's encoding is in flight), bound together with the circuit description and the
//! proof configuration into a 32-byte digest.

use blake2::{Blake2s256, Digest};

use pcs::PolyCommitment;
use serde::{Deserialize, Serialize};

use crate::circuit::{Circuit, GraphShape};
use crate::config::ProofConfig;
use crate::error::VerifyError;
use crate::packing::Chunks;
#[cfg(feature = "prover")]
use {
    crate::error::ProveError,
    crate::tiles::{tile_point, Tile},
    model::{tensor::to_m31, Graph},
    pcs::CommittedPoly,
    std::borrow::Cow,
    std::path::Path,
    stwo::core::fields::m31::M31,
    stwo::core::fields::qm31::QM31,
};

/// What a verifier needs: the circuit structure, the weight commitment and the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyingKey {
    pub shape: GraphShape,
    /// One commitment per weight chunk ([`VerifyingKey::weight_chunks`]).
    pub weights: Vec<PolyCommitment>,
    pub config: ProofConfig,
}

impl VerifyingKey {
    /// The model digest: Blake2s over a domain tag and the canonical (bincode) encoding of the
    /// key, streamed into the hash.
    ///
    /// # Panics
    /// Never for any value: see [`hash_encoding`].
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Blake2s256::new();
        h.update(b"stwo-ml/model-commitment/v1");
        hash_encoding(&mut h, self);
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

    /// How the circuit's packed weights are cut into the committed polynomials, checked
    /// against the commitments' count and sizes.
    pub fn weight_chunks(&self, circuit: &Circuit) -> Result<Chunks, VerifyError> {
        let chunks = weight_chunks(circuit, &self.config)?;
        let sizes: Vec<u32> = self.weights.iter().map(|c| c.n_variables).collect();
        if sizes != chunks.vars {
            return Err(VerifyError::MalformedModel(format!(
                "weight commitments of sizes {sizes:?}, the circuit packs {:?}",
                chunks.vars
            )));
        }
        Ok(chunks)
    }
}

/// The chunks of `circuit`'s weight packing under `config`.
pub(crate) fn weight_chunks(
    circuit: &Circuit,
    config: &ProofConfig,
) -> Result<Chunks, VerifyError> {
    let max = config.weight_poly_vars();
    circuit.weight_packing.trimmed_chunks(max).ok_or_else(|| {
        let largest = circuit.weight_packing.items.iter().map(|x| x.1).max();
        VerifyError::MalformedModel(format!(
            "a weight of 2^{} entries exceeds the largest committed polynomial (2^{max})",
            largest.unwrap_or(0)
        ))
    })
}

/// A model with its weights committed: what the prover works from.
#[cfg(feature = "prover")]
#[derive(Debug)]
pub struct CommittedModel {
    pub graph: Graph,
    pub circuit: Circuit,
    /// The committed weight chunks, in [`CommittedModel::chunks`] order.
    pub weights: Vec<CommittedPoly>,
    pub chunks: Chunks,
    pub vk: VerifyingKey,
}

#[cfg(feature = "prover")]
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
        let chunks = weight_chunks(&circuit, &config)?;
        let n_chunks = chunks.vars.len();
        let pack = |k: usize| pack_chunk(&graph, &circuit, &chunks, k);
        let (weights, status) = match cache_dir {
            // Without a cache each chunk is packed just before it is committed.
            None => {
                let w = (0..n_chunks)
                    .map(|k| pcs::commit(pack(k), &config.pcs))
                    .collect();
                (w, CacheStatus::Disabled)
            }
            // With one, the chunks are packed once: hashed for the key, compared with the
            // cached ones, and committed on a miss.
            Some(dir) => {
                let packed: Vec<Vec<M31>> = (0..n_chunks).map(pack).collect();
                let path = dir.join(content_key(&packed, &config));
                match load_cached(&path, &packed, &config) {
                    Some(w) => (w, CacheStatus::Loaded),
                    None => {
                        let w: Vec<CommittedPoly> = packed
                            .into_iter()
                            .map(|evals| pcs::commit(evals, &config.pcs))
                            .collect();
                        let status = match store(&path, &w) {
                            Ok(()) => CacheStatus::Stored,
                            Err(e) => CacheStatus::StoreFailed(e.to_string()),
                        };
                        (w, status)
                    }
                }
            }
        };
        let vk = VerifyingKey {
            shape: circuit.shape.clone(),
            weights: weights.iter().map(CommittedPoly::commitment).collect(),
            config,
        };
        Ok((
            Self {
                graph,
                circuit,
                weights,
                chunks,
                vk,
            },
            status,
        ))
    }
}

#[cfg(feature = "prover")]
impl CommittedModel {
    /// The model of `graph` reusing this model's weight commitment, for a graph with exactly
    /// the same packed weights (the next step of a decoding session, whose cache length and
    /// positions differ): no commitment is computed. Refused if the weights differ.
    pub fn rebind(self, graph: Graph) -> Result<Self, ProveError> {
        Ok(self.recommit(graph, false)?.0)
    }

    /// Like [`Self::rebind`], but a chunk whose packed weights differ is committed afresh
    /// (a decoding step whose softmax needs another exp table recommits the small chunk
    /// holding the tables, not the model). Returns the model and the number of chunks
    /// committed; refused if the chunks are laid out differently.
    pub fn update(self, graph: Graph) -> Result<(Self, usize), ProveError> {
        self.recommit(graph, true)
    }

    fn recommit(self, graph: Graph, allow: bool) -> Result<(Self, usize), ProveError> {
        model::graph::validate(&graph)?;
        let circuit = Circuit::new(GraphShape::of(&graph))?;
        let config = self.vk.config;
        let chunks = weight_chunks(&circuit, &config)?;
        if chunks != self.chunks {
            return Err(ProveError::WeightsDiffer);
        }
        let mut weights = self.weights;
        let mut roots = self.vk.weights;
        let mut changed = 0;
        for k in 0..chunks.vars.len() {
            let packed = pack_chunk(&graph, &circuit, &chunks, k);
            if weights[k].evals() != packed.as_slice() {
                if !allow {
                    return Err(ProveError::WeightsDiffer);
                }
                // The old chunk is dropped before the new one is encoded: only one chunk's
                // commitment is ever in flight.
                drop(weights.remove(k));
                weights.insert(k, pcs::commit(packed, &config.pcs));
                roots[k] = weights[k].commitment();
                changed += 1;
            }
        }
        let vk = VerifyingKey {
            shape: circuit.shape.clone(),
            weights: roots,
            config,
        };
        let model = Self {
            graph,
            circuit,
            weights,
            chunks,
            vk,
        };
        Ok((model, changed))
    }

    /// Weight `w`'s committed tiles inside their chunks.
    pub fn weight_view(&self, w: usize) -> WeightView<'_> {
        let first = self.circuit.weight_items[w];
        let tiles = self.circuit.weight_tiles[w]
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (offset, n) = self.circuit.weight_packing.items[first + i];
                let (k, local) = self.chunks.locate(offset);
                (*t, &self.weights[k].evals()[local..local + (1 << n)])
            })
            .collect();
        let shape = self.circuit.shape.weights[w].0;
        WeightView {
            log_rows: shape.log_rows(),
            log_cols: shape.log_cols(),
            tiles,
        }
    }

    /// Weight `w`'s zero-padded table: borrowed when it is committed whole, else assembled.
    pub fn weight_table(&self, w: usize) -> Cow<'_, [M31]> {
        self.weight_view(w).padded()
    }

    /// The tile values of the tiled weights' claims, in claim order
    /// ([`crate::tiles::lift_weight_claims`]).
    pub fn tile_values(&self, claims: &[(usize, gkr::Claim)]) -> Vec<QM31> {
        claims
            .iter()
            .filter(|(w, _)| self.circuit.weight_tiles[*w].len() > 1)
            .flat_map(|(w, c)| self.weight_view(*w).tile_values(&c.point))
            .collect()
    }
}

/// A weight's committed tiles, each with its table (row-major, `2^log_rows x 2^log_cols`).
#[cfg(feature = "prover")]
#[derive(Debug)]
pub struct WeightView<'a> {
    /// Variables of the padded table's rows and columns.
    pub log_rows: u32,
    pub log_cols: u32,
    pub tiles: Vec<(Tile, &'a [M31])>,
}

#[cfg(feature = "prover")]
impl<'a> WeightView<'a> {
    /// The zero-padded `2^log_rows x 2^log_cols` table.
    pub fn padded(&self) -> Cow<'a, [M31]> {
        if let [(_, table)] = self.tiles.as_slice() {
            return Cow::Borrowed(table);
        }
        let cols = 1usize << self.log_cols;
        let mut out = vec![M31::from_u32_unchecked(0); cols << self.log_rows];
        for (t, table) in &self.tiles {
            let w = 1usize << t.log_cols;
            for (r, row) in table.chunks(w).enumerate() {
                let at = (t.row0 + r) * cols + t.col0;
                out[at..at + w].copy_from_slice(row);
            }
        }
        Cow::Owned(out)
    }

    /// `out[r] = sum_c W[r][c] eq_n[c]` over the padded table, tile by tile (the padding
    /// is never materialised).
    pub fn fold_cols(&self, eq_n: &[QM31]) -> Vec<QM31> {
        let mut out = vec![QM31::from(0u32); 1 << self.log_rows];
        for (t, table) in &self.tiles {
            let w = 1usize << t.log_cols;
            let part = sumcheck::simd::rows_dot(table, w, &eq_n[t.col0..t.col0 + w]);
            for (o, v) in out[t.row0..].iter_mut().zip(part) {
                *o += v;
            }
        }
        out
    }

    /// `out[c] = sum_r eq_n[r] W[r][c]` over the padded table (the fold of the transposed
    /// weight), tile by tile.
    pub fn fold_rows(&self, eq_n: &[QM31]) -> Vec<QM31> {
        let mut out = vec![QM31::from(0u32); 1 << self.log_cols];
        for (t, table) in &self.tiles {
            let h = 1usize << t.log_rows;
            let w = 1usize << t.log_cols;
            let part = sumcheck::simd::cols_dot(table, w, &eq_n[t.row0..t.row0 + h]);
            for (o, v) in out[t.col0..].iter_mut().zip(part) {
                *o += v;
            }
        }
        out
    }

    /// Each tile's value at its part of `point` (a point of the padded table).
    pub fn tile_values(&self, point: &[QM31]) -> Vec<QM31> {
        self.tiles
            .iter()
            .map(|(t, table)| {
                let (_, sub) = tile_point(t, self.log_rows, point);
                let (rows, cols) = sub.split_at(t.log_rows as usize);
                let eq_c = sumcheck::mle::eq_evals(cols);
                let eq_r = sumcheck::mle::eq_evals(rows);
                let part = sumcheck::simd::rows_dot(table, 1 << t.log_cols, &eq_c);
                part.iter().zip(&eq_r).map(|(&a, &b)| a * b).sum()
            })
            .collect()
    }
}

/// What happened to the on-disk commitment cache.
#[cfg(feature = "prover")]
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

/// Chunk `k` of the weights, padded, laid out by the circuit's weight packing.
#[cfg(feature = "prover")]
fn pack_chunk(graph: &Graph, circuit: &Circuit, chunks: &Chunks, k: usize) -> Vec<M31> {
    let mut packed = vec![M31::from_u32_unchecked(0); 1 << chunks.vars[k]];
    for (w, weight) in graph.weights.iter().enumerate() {
        let first = circuit.weight_items[w];
        for (i, t) in circuit.weight_tiles[w].iter().enumerate() {
            let (offset, _) = circuit.weight_packing.items[first + i];
            let (chunk, local) = chunks.locate(offset);
            if chunk != k {
                continue;
            }
            // The tile's rows and columns that the weight has (the rest stays zero).
            let cols = weight.shape.cols;
            let rows = weight.shape.rows.min(t.row0 + (1 << t.log_rows));
            let col1 = cols.min(t.col0 + (1 << t.log_cols));
            for r in t.row0..rows {
                let src = &weight.data[r * cols + t.col0..r * cols + col1];
                let at = local + ((r - t.row0) << t.log_cols);
                packed[at..at + src.len()]
                    .iter_mut()
                    .zip(src)
                    .for_each(|(d, &v)| *d = to_m31(v));
            }
        }
    }
    packed
}

/// Content hash of the packed weight chunks and the configuration: the cache key. Graphs
/// that differ only in structure (the steps of a decoding session) share one commitment.
#[cfg(feature = "prover")]
fn content_key(packed: &[Vec<M31>], config: &ProofConfig) -> String {
    let mut h = Blake2s256::new();
    h.update(b"stwo-ml/weight-cache/v3");
    h.update((packed.len() as u64).to_le_bytes());
    for chunk in packed {
        h.update((chunk.len() as u64).to_le_bytes());
        for part in chunk.chunks(1 << 16) {
            let bytes: Vec<u8> = part.iter().flat_map(|v| v.0.to_le_bytes()).collect();
            h.update(&bytes);
        }
    }
    hash_encoding(&mut h, config);
    hex::encode(h.finalize())
}

/// Feeds bincode's encoding of `value` (the bytes `bincode::serialize` returns) to `h`.
///
/// # Panics
/// Never for the types hashed here (the verifying key and the proof configuration), whatever
/// their values: bincode's encoding fails only on a write error (the hasher cannot fail), a size
/// limit (none is set), a sequence of unknown length or a hand-written `Serialize` that returns
/// an error, and every type inside them derives `Serialize` over fields, `Vec`s, arrays,
/// integers and strings. A type added later that could fail makes this panic rather than hash
/// a truncated encoding.
fn hash_encoding(h: &mut Blake2s256, value: &impl Serialize) {
    struct Sink<'a>(&'a mut Blake2s256);
    impl std::io::Write for Sink<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    if let Err(e) = bincode::serialize_into(Sink(h), value) {
        panic!("bincode cannot fail on derived plain data, yet: {e}");
    }
}

/// Chunk `k`'s cache file under a cache key.
#[cfg(feature = "prover")]
fn chunk_path(base: &Path, k: usize) -> std::path::PathBuf {
    let name = base.file_name().map(|n| n.to_string_lossy().into_owned());
    base.with_file_name(format!("{}-{k}.pcs", name.unwrap_or_default()))
}

/// The cached chunks if every chunk file holds exactly these weights under this
/// configuration.
#[cfg(feature = "prover")]
fn load_cached(
    base: &Path,
    packed: &[Vec<M31>],
    config: &ProofConfig,
) -> Option<Vec<CommittedPoly>> {
    let mut polys = Vec::with_capacity(packed.len());
    for (k, evals) in packed.iter().enumerate() {
        let file = std::fs::File::open(chunk_path(base, k)).ok()?;
        let poly = CommittedPoly::read_from(&mut std::io::BufReader::new(file)).ok()?;
        if poly.evals() != evals.as_slice() || poly.config() != &config.pcs {
            return None;
        }
        polys.push(poly);
    }
    Some(polys)
}

/// Writes each chunk atomically: a temporary file renamed into place, so a crash leaves no
/// torn file (a missing chunk makes the next run commit again).
#[cfg(feature = "prover")]
fn store(base: &Path, polys: &[CommittedPoly]) -> std::io::Result<()> {
    if let Some(dir) = base.parent() {
        std::fs::create_dir_all(dir)?;
    }
    for (k, poly) in polys.iter().enumerate() {
        let path = chunk_path(base, k);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            poly.write_to(&mut w)?;
            std::io::Write::flush(&mut w)?;
        }
        std::fs::rename(&tmp, path)?;
    }
    Ok(())
}
