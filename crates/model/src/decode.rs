//! Incremental decoding against a K/V cache bound by public inputs.
//!
//! A *step* runs the rows at positions `pos0 .. pos0 + r` of a sequence through the blocks: the
//! prefill (`pos0 = 0`, all prompt rows, causal attention) or one new token (`r = 1`, attending
//! to every earlier position). For every block the step takes two public inputs, K and V, with
//! one row per position up to its last (`pos0 + r` rows, all KV heads side by side, after RoPE
//! for K, at the activations' scale). Attention reads keys and values from them, and their rows
//! for the step's own positions are asserted equal to the K and V the step computes
//! ([`Op::AssertZero`](crate::Op::AssertZero) of the difference). So each step proves the rows
//! it adds; the rows before `pos0` are those earlier steps proved, which whoever checks a
//! sequence of steps confirms by comparing their public inputs ([`KvCache::check_next`]). A
//! cache entry swapped between steps fails that comparison; one swapped in a step's public
//! input after proving fails the proof.
//!
//! Each step has its own graph: the cache length and the RoPE tables of its positions are part
//! of it.

use crate::execute::{execute_checked, execute_prefix, ExecError, Trace};
use crate::graph::{Graph, GraphBuilder, GraphError, NodeId};
use crate::tensor::{Shape, Tensor};
use crate::transformer::{BlockWeights, TransformerConfig};

/// The public K and V inputs of one block in a step, and the assertions binding their rows
/// for the step's positions: `(assert node, column offset)` per KV head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvInputs {
    pub k: NodeId,
    pub v: NodeId,
    pub k_binds: Vec<(NodeId, usize)>,
    pub v_binds: Vec<(NodeId, usize)>,
    /// First position of the step, and its number of rows.
    pub pos0: usize,
    pub rows: usize,
}

impl GraphBuilder {
    /// Adds the public K / V inputs of a block (`pos0 + rows` rows) and asserts that rows
    /// `pos0..` equal the computed per-head keys `k` and values `v` (`rows x head_dim` each).
    pub(crate) fn bind_kv_cache(
        &mut self,
        cfg: &TransformerConfig,
        pos0: usize,
        k: &[NodeId],
        v: &[NodeId],
    ) -> Result<KvInputs, GraphError> {
        let hd = cfg.head_dim;
        let first = self.node(k[0])?.clone();
        let rows = first.shape.rows;
        if pos0 > 0 && rows != 1 {
            return Err(GraphError::ShapeMismatch {
                node: self.nodes.len(),
                op: "transformer_block_cached",
                detail: format!(
                    "{rows} rows after position {pos0}: a step is the prefill (from 0) or one token"
                ),
            });
        }
        let shape = Shape::new(pos0 + rows, cfg.n_kv_heads * hd);
        let v_scale = self.node(v[0])?.scale;
        let k_pub = self.public_input(shape, first.scale)?;
        let v_pub = self.public_input(shape, v_scale)?;
        let mut bind = |public: NodeId, computed: &[NodeId]| -> Result<_, GraphError> {
            let own = if pos0 == 0 {
                public
            } else {
                self.row_slice(public, pos0, rows)?
            };
            computed
                .iter()
                .enumerate()
                .map(|(g, &c)| {
                    let stored = self.column_slice(own, g * hd, hd)?;
                    let neg = self.mul_const(stored, -1, 0)?;
                    let diff = self.add(c, neg)?;
                    Ok((self.assert_zero(diff)?, g * hd))
                })
                .collect::<Result<Vec<_>, GraphError>>()
        };
        let k_binds = bind(k_pub, k)?;
        let v_binds = bind(v_pub, v)?;
        Ok(KvInputs {
            k: k_pub,
            v: v_pub,
            k_binds,
            v_binds,
            pos0,
            rows,
        })
    }

    /// One block on the rows of `x` at positions `pos0..` against a K/V cache of public
    /// inputs (see the module documentation).
    pub fn transformer_block_cached(
        &mut self,
        x: NodeId,
        cfg: &TransformerConfig,
        w: &BlockWeights,
        pos0: usize,
    ) -> Result<(NodeId, KvInputs), GraphError> {
        let (y, kv) = self.block_core(x, cfg, w, Some(pos0))?;
        let kv = kv.ok_or(GraphError::NoInput)?;
        Ok((y, kv))
    }
}

/// A decoding step's graph: the blocks on `cfg.seq_len` rows at positions `pos0..` of the
/// hidden state (`seq_len x d_model`, the graph's first input), each with its K/V inputs.
pub fn cached_step(
    name: &str,
    cfg: &TransformerConfig,
    blocks: &[BlockWeights],
    pos0: usize,
) -> Result<(Graph, Vec<KvInputs>), GraphError> {
    let scale = crate::examples::ACT_SCALE;
    let mut b = GraphBuilder::new(name, Shape::new(cfg.seq_len, cfg.d_model), scale)?;
    let mut x = 0;
    let mut kvs = Vec::with_capacity(blocks.len());
    for w in blocks {
        let (y, kv) = b.transformer_block_cached(x, cfg, w, pos0)?;
        kvs.push(kv);
        x = y;
    }
    Ok((b.build(x)?, kvs))
}

/// The K and V rows of every block for every position so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvCache {
    /// Per block: (K, V), `positions x (n_kv_heads * head_dim)`.
    pub layers: Vec<(Tensor, Tensor)>,
}

impl KvCache {
    /// The inputs of a step: `x` then, per block, K and V with the cached rows followed by the
    /// step's rows as computed by running the step ([`Self::fill`]).
    pub fn step_inputs(
        &self,
        graph: &Graph,
        kvs: &[KvInputs],
        x: Tensor,
    ) -> Result<Vec<Tensor>, ExecError> {
        let mut inputs = vec![x];
        for (l, kv) in kvs.iter().enumerate() {
            let shape = graph.nodes[kv.k].shape;
            let mut k = Tensor::zeros(shape);
            let mut v = Tensor::zeros(shape);
            if let Some((pk, pv)) = self.layers.get(l) {
                let n = pk.data.len().min(k.data.len());
                k.data[..n].copy_from_slice(&pk.data[..n]);
                v.data[..n].copy_from_slice(&pv.data[..n]);
            }
            inputs.push(k);
            inputs.push(v);
        }
        Self::fill(graph, kvs, &mut inputs)?;
        Ok(inputs)
    }

    /// Writes each block's computed K / V rows into its public inputs, block by block (a
    /// block's rows depend on the earlier blocks' caches): one run of the nodes up to each
    /// block's assertions, then a strict run of the whole graph. The step's rows start as zeros, so each assertion's value is the computed
    /// tensor itself.
    fn fill(graph: &Graph, kvs: &[KvInputs], inputs: &mut [Tensor]) -> Result<Trace, ExecError> {
        for (l, kv) in kvs.iter().enumerate() {
            // Only the blocks up to this one: the later ones still read zero caches, and their
            // values could leave the ranges calibrated for real ones.
            let last = kv.k_binds.iter().chain(&kv.v_binds).map(|b| b.0).max();
            let trace = execute_prefix(graph, inputs, last.unwrap_or(usize::MAX))?;
            for (which, binds) in [(1 + 2 * l, &kv.k_binds), (2 + 2 * l, &kv.v_binds)] {
                let cols = inputs[which].shape.cols;
                for &(node, col) in binds {
                    let got = &trace.values[node];
                    for r in 0..kv.rows {
                        let dst = (kv.pos0 + r) * cols + col;
                        let src = &got.data[r * got.shape.cols..(r + 1) * got.shape.cols];
                        inputs[which].data[dst..dst + src.len()].copy_from_slice(src);
                    }
                }
            }
        }
        execute_checked(graph, inputs, true)
    }

    /// The cache after a step with these inputs (its K / V inputs hold every position).
    pub fn after(inputs: &[Tensor]) -> Self {
        let layers = inputs[1..]
            .chunks(2)
            .filter_map(|kv| match kv {
                [k, v] => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect();
        Self { layers }
    }

    /// Whether a step's inputs continue this cache: the same number of blocks, and each K / V
    /// input starts with exactly the cached rows.
    pub fn check_next(&self, inputs: &[Tensor]) -> bool {
        let next = Self::after(inputs);
        next.layers.len() == self.layers.len()
            && self
                .layers
                .iter()
                .zip(&next.layers)
                .all(|((k0, v0), (k1, v1))| {
                    let prefix = |a: &Tensor, b: &Tensor| {
                        a.shape.cols == b.shape.cols
                            && a.shape.rows < b.shape.rows
                            && b.data.starts_with(&a.data)
                    };
                    prefix(k0, k1) && prefix(v0, v1)
                })
    }
}
