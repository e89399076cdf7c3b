//! A decoder block of the Llama / Qwen shape and stacks of them, built from proved ops.
//!
//! Block: RMSNorm -> Q/K/V projections -> RoPE on Q and K -> per head `Q K^T / sqrt(head_dim)`
//! -> causal softmax -> `. V` -> heads concatenated -> O projection -> residual -> RMSNorm ->
//! SwiGLU FFN (`down(silu(gate(h)) * up(h))`) -> residual. Grouped-query attention: query head
//! `h` reads KV head `h / (n_heads / n_kv_heads)`. Activations are at
//! [`ACT_SCALE`](crate::examples::ACT_SCALE) fractional bits, weights at
//! [`WEIGHT_SCALE`](crate::examples::WEIGHT_SCALE); see [`crate::reference`] for the same block
//! in `f32`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::decode::KvInputs;
use crate::examples::{random_weight, ACT_SCALE};
use crate::func::Func;
use crate::graph::{Graph, GraphBuilder, GraphError, NodeId, Weight};
use crate::norm::NormRange;
use crate::tensor::Shape;

/// Shape parameters of a decoder block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransformerConfig {
    pub d_model: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    /// A power of two, at least 2.
    pub head_dim: usize,
    pub ffn_dim: usize,
    pub rope_theta: f64,
    /// RoPE frequency scaling (HF `rope_scaling`: none, linear or llama3).
    pub rope_scaling: crate::rope::RopeScaling,
    /// The gated MLP's activation: `down(act(gate(h)) * up(h))` (SiLU for SwiGLU, GELU for
    /// GeGLU).
    pub mlp_act: Func,
    pub eps: f64,
    pub seq_len: usize,
}

/// The tiny decoder shape of the test suite: d_model 64, 4 heads on 2 KV heads of 16,
/// ffn 128, 8 positions.
pub const TINY_DECODER: TransformerConfig = TransformerConfig {
    d_model: 64,
    n_heads: 4,
    n_kv_heads: 2,
    head_dim: 16,
    ffn_dim: 128,
    rope_theta: 10000.0,
    rope_scaling: crate::rope::RopeScaling::None,
    mlp_act: Func::Silu,
    eps: 1e-5,
    seq_len: 8,
};

/// The weights of one block (quantised: integers at their `scale`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockWeights {
    /// RMSNorm gains (`1 x d_model`) before attention and before the FFN.
    pub attn_norm: Weight,
    pub ffn_norm: Weight,
    /// `d_model x (heads * head_dim)` projections, and `(n_heads * head_dim) x d_model` output.
    pub wq: Weight,
    pub wk: Weight,
    pub wv: Weight,
    pub wo: Weight,
    /// `d_model x ffn_dim` gate and up projections, `ffn_dim x d_model` down projection.
    pub w_gate: Weight,
    pub w_up: Weight,
    pub w_down: Weight,
    /// Biases of the q / k / v projections (Qwen2), `1 x out` at the activations' scale.
    pub q_bias: Option<Weight>,
    pub k_bias: Option<Weight>,
    pub v_bias: Option<Weight>,
    /// Per-head RMSNorm gains on Q and K before RoPE (Qwen3), `1 x head_dim`.
    pub q_norm: Option<Weight>,
    pub k_norm: Option<Weight>,
    /// Bounds of every RMSNorm's input (calibrated by [`crate::reference::calibrate_norms`];
    /// the defaults otherwise).
    pub ranges: BlockNormRanges,
}

/// The [`NormRange`] of each RMSNorm of a block, and the magnitudes of its wide tensors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockNormRanges {
    pub attn: NormRange,
    pub ffn: NormRange,
    /// The per-head norms on Q and K (all heads share one range).
    pub q: NormRange,
    pub k: NormRange,
    /// `log2` of the largest magnitude (real units, with margin) of the FFN's product
    /// `act(gate) * up` and of the two branch outputs (attention and FFN) added to the
    /// residual stream; 0 when uncalibrated. Beyond the activation range at [`ACT_SCALE`]
    /// they take the wide constructions of [`crate::wide`].
    pub ffn_product_log2: i32,
    pub branch_log2: i32,
    /// Magnitudes of the small inner tensors, which choose their scales.
    pub inner: InnerLogs,
}

/// `log2` of the largest magnitude (real units, with margin) of a block's inner tensors:
/// each gets the finest scale that keeps it in the activation range
/// ([`InnerLogs::scale`]); `None` (uncalibrated) keeps [`ACT_SCALE`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InnerLogs {
    /// The outputs of the attention and FFN norms.
    pub attn_in: Option<i32>,
    pub ffn_in: Option<i32>,
    /// The query, key and value projections (values: also each head's attention output).
    pub q: Option<i32>,
    pub k: Option<i32>,
    pub v: Option<i32>,
    /// The FFN's gate and up projections and `act(gate)`.
    pub gate: Option<i32>,
    pub up: Option<i32>,
    pub act: Option<i32>,
    /// The FFN product `act(gate) * up`.
    pub prod: Option<i32>,
}

/// The scales of a block's inner tensors ([`InnerLogs::plan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InnerScales {
    pub attn_in: u32,
    pub v: u32,
    pub ffn_in: u32,
    pub gate: u32,
    pub up: u32,
    pub act: u32,
    pub prod: u32,
}

impl InnerLogs {
    /// The scale for a tensor below `2^log2` real units: `14 - log2`, between [`ACT_SCALE`]
    /// and 14 bits (so values stay below `2^14` and products and sums keep their bounds).
    pub fn scale(log2: Option<i32>) -> u32 {
        log2.map_or(ACT_SCALE, |l| (14 - l).clamp(ACT_SCALE as i32, 14) as u32)
    }

    /// The scales of `w`'s inner tensors. A matmul's input scale is also held to
    /// `29 - weight scale - log2 |output|`, so its accumulator stays below `2^29`, and a
    /// rescale's output below the range its shift allows. Uncalibrated: all [`ACT_SCALE`].
    pub fn plan(&self, w: &BlockWeights) -> InnerScales {
        let fit = |want: u32, weight: &[&Weight], out: &[Option<i32>]| -> u32 {
            let (Some(wmax), Some(omax)) = (
                weight.iter().map(|w| w.scale as i32).max(),
                out.iter().flatten().max(),
            ) else {
                return want;
            };
            (want as i32).min(29 - wmax - omax).max(ACT_SCALE as i32) as u32
        };
        let branch = Some(w.ranges.branch_log2);
        let calibrated = |x: Option<i32>| x.and(branch);
        let v = fit(Self::scale(self.v), &[&w.wo], &[calibrated(self.v)]);
        let attn_in = fit(
            Self::scale(self.attn_in),
            &[&w.wq, &w.wk, &w.wv],
            &[self.q, self.k, self.v],
        );
        let ffn_in = fit(
            Self::scale(self.ffn_in),
            &[&w.w_gate, &w.w_up],
            &[self.gate, self.up],
        );
        let prod = fit(
            Self::scale(self.prod),
            &[&w.w_down],
            &[calibrated(self.prod)],
        );
        InnerScales {
            attn_in,
            v,
            ffn_in,
            gate: Self::scale(self.gate),
            up: Self::scale(self.up),
            act: Self::scale(self.act),
            prod,
        }
    }

    /// Each magnitude covering both.
    pub fn union(self, other: Self) -> Self {
        let max = |a: Option<i32>, b: Option<i32>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => a.or(b),
        };
        Self {
            attn_in: max(self.attn_in, other.attn_in),
            ffn_in: max(self.ffn_in, other.ffn_in),
            q: max(self.q, other.q),
            k: max(self.k, other.k),
            v: max(self.v, other.v),
            prod: max(self.prod, other.prod),
            gate: max(self.gate, other.gate),
            up: max(self.up, other.up),
            act: max(self.act, other.act),
        }
    }
}

impl BlockNormRanges {
    /// Whether a tensor of magnitude below `2^log2` real units leaves the activation range at
    /// [`ACT_SCALE`].
    pub fn is_wide(log2: i32) -> bool {
        log2 + ACT_SCALE as i32 >= crate::ACT_BITS as i32 - 1
    }
}

impl BlockWeights {
    /// Seeded random weights: fan-in scaled projections, gains near 1.
    pub fn random(cfg: &TransformerConfig, layer: usize, rng: &mut impl Rng) -> Self {
        let (d, hd) = (cfg.d_model, cfg.head_dim);
        let name = |w: &str| format!("blk{layer}.{w}");
        let mut gain = |w: &str| Weight {
            name: name(w),
            shape: Shape::new(1, d),
            scale: ACT_SCALE,
            data: (0..d).map(|_| rng.gen_range(200..=312)).collect(),
        };
        let (attn_norm, ffn_norm) = (gain("attn_norm"), gain("ffn_norm"));
        Self {
            attn_norm,
            ffn_norm,
            wq: random_weight(&name("wq"), d, cfg.n_heads * hd, rng),
            wk: random_weight(&name("wk"), d, cfg.n_kv_heads * hd, rng),
            wv: random_weight(&name("wv"), d, cfg.n_kv_heads * hd, rng),
            wo: random_weight(&name("wo"), cfg.n_heads * hd, d, rng),
            w_gate: random_weight(&name("w_gate"), d, cfg.ffn_dim, rng),
            w_up: random_weight(&name("w_up"), d, cfg.ffn_dim, rng),
            w_down: random_weight(&name("w_down"), cfg.ffn_dim, d, rng),
            q_bias: None,
            k_bias: None,
            v_bias: None,
            q_norm: None,
            k_norm: None,
            ranges: BlockNormRanges::default(),
        }
    }
}

fn config_error(node: NodeId, detail: &str) -> GraphError {
    GraphError::ShapeMismatch {
        node,
        op: "transformer_block",
        detail: detail.into(),
    }
}

impl TransformerConfig {
    fn check(&self, node: NodeId) -> Result<(), GraphError> {
        if self.head_dim < 2 || !self.head_dim.is_power_of_two() {
            return Err(config_error(node, "head_dim must be a power of two >= 2"));
        }
        if self.n_kv_heads == 0 || !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return Err(config_error(
                node,
                "n_heads must be a multiple of n_kv_heads",
            ));
        }
        Ok(())
    }
}

impl GraphBuilder {
    /// `rescale(input . w, w.scale)`: a projection back at the input's scale (in exact
    /// power-of-two blocks when a dimension is not a power of two, [`crate::split`]).
    fn projection(&mut self, input: NodeId, w: &Weight) -> Result<NodeId, GraphError> {
        let shift = w.scale;
        let y = self.matmul_blocks(input, w)?;
        self.rescale(y, shift)
    }

    /// [`Self::projection_with_bias`] with the output at `scale` fractional bits (a bias is
    /// stored at [`ACT_SCALE`] and moved to `scale` with it).
    fn projection_to(
        &mut self,
        input: NodeId,
        w: &Weight,
        bias: &Option<Weight>,
        scale: u32,
    ) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.scale;
        if x == ACT_SCALE && scale == ACT_SCALE {
            return self.projection_with_bias(input, w, bias);
        }
        let y = self.matmul_blocks(input, w)?;
        let y = self.to_scale(y, scale, false)?;
        match bias {
            Some(b) => {
                let mut b = b.clone();
                let d = scale as i64 - b.scale as i64;
                b.data.iter_mut().for_each(|v| {
                    *v = if d >= 0 {
                        *v << d
                    } else {
                        (*v + (1 << (-d - 1))) >> -d
                    }
                });
                b.scale = scale;
                self.add_bias(y, b)
            }
            None => Ok(y),
        }
    }

    /// [`Self::projection`] plus the bias, when there is one.
    fn projection_with_bias(
        &mut self,
        input: NodeId,
        w: &Weight,
        bias: &Option<Weight>,
    ) -> Result<NodeId, GraphError> {
        let y = self.projection(input, w)?;
        match bias {
            Some(b) => self.add_bias(y, b.clone()),
            None => Ok(y),
        }
    }

    /// The `n` heads of `x` (`seq x n * head_dim`, rows at positions `pos0..`) with RoPE
    /// applied, each its own node. With a
    /// per-head RMSNorm gain (Qwen3) every head is normalised before its rotation; without,
    /// the whole projection is rotated at once and then sliced.
    fn rotated_heads(
        &mut self,
        x: NodeId,
        cfg: &TransformerConfig,
        n: usize,
        norm: &Option<Weight>,
        range: &NormRange,
        pos0: usize,
    ) -> Result<Vec<NodeId>, GraphError> {
        let hd = cfg.head_dim;
        let log_hd = hd.ilog2();
        match norm {
            None => {
                let r = self.rope_scaled(x, log_hd, cfg.rope_theta, cfg.rope_scaling, pos0)?;
                (0..n).map(|h| self.column_slice(r, h * hd, hd)).collect()
            }
            Some(gain) => (0..n)
                .map(|h| {
                    let xh = self.column_slice(x, h * hd, hd)?;
                    let xh = self.rms_norm_in(xh, gain.clone(), cfg.eps, range)?;
                    self.rope_scaled(xh, log_hd, cfg.rope_theta, cfg.rope_scaling, pos0)
                })
                .collect(),
        }
    }

    /// Attention scores `q k^T / sqrt(head_dim)` at the inputs' scale `s`.
    fn scores(&mut self, q: NodeId, k: NodeId, head_dim: usize) -> Result<NodeId, GraphError> {
        let s = self.node(q)?.scale;
        let raw = self.matmul_act(q, k, true)?;
        let log = head_dim.ilog2();
        if log.is_multiple_of(2) {
            // sqrt(head_dim) = 2^(log/2): read the product at log/2 more fractional bits (the
            // integers do not change) and rescale once.
            let raw = self.mul_const(raw, 1, log / 2)?;
            return self.rescale(raw, s + log / 2);
        }
        let scaled = self.rescale(raw, s)?;
        let c = ((1u64 << ACT_SCALE) as f64 / (head_dim as f64).sqrt()).round() as i64;
        let scaled = self.mul_const(scaled, c, ACT_SCALE)?;
        self.rescale(scaled, ACT_SCALE)
    }

    /// One decoder block on `x` (`seq_len x d_model` at [`ACT_SCALE`]); returns its output.
    pub fn transformer_block(
        &mut self,
        x: NodeId,
        cfg: &TransformerConfig,
        w: &BlockWeights,
    ) -> Result<NodeId, GraphError> {
        Ok(self.block_core(x, cfg, w, None)?.0)
    }

    /// The block of [`Self::transformer_block`]; with `cache = Some(pos0)` the rows of `x` are
    /// the positions `pos0..` and attention reads K and V from two public inputs covering every
    /// position up to the last row of `x`, whose rows for `x`'s positions are bound to the
    /// computed K and V ([`crate::decode`]). Returns the output and those public inputs.
    pub(crate) fn block_core(
        &mut self,
        x: NodeId,
        cfg: &TransformerConfig,
        w: &BlockWeights,
        cache: Option<usize>,
    ) -> Result<(NodeId, Option<KvInputs>), GraphError> {
        cfg.check(self.nodes.len())?;
        let hd = cfg.head_dim;
        let pos0 = cache.unwrap_or(0);
        let sc = w.ranges.inner.plan(w);
        let h = self.rms_norm_auto(x, w.attn_norm.clone(), cfg.eps, &w.ranges.attn, sc.attn_in)?;
        let q = self.projection_to(h, &w.wq, &w.q_bias, ACT_SCALE)?;
        let k = self.projection_to(h, &w.wk, &w.k_bias, ACT_SCALE)?;
        let v = self.projection_to(h, &w.wv, &w.v_bias, sc.v)?;
        let q = self.rotated_heads(q, cfg, cfg.n_heads, &w.q_norm, &w.ranges.q, pos0)?;
        let k = self.rotated_heads(k, cfg, cfg.n_kv_heads, &w.k_norm, &w.ranges.k, pos0)?;
        let v: Vec<NodeId> = (0..cfg.n_kv_heads)
            .map(|g| self.column_slice(v, g * hd, hd))
            .collect::<Result<_, _>>()?;
        let (keys, values, kv, causal) = match cache {
            None => (k, v, None, true),
            Some(pos0) => {
                let kv = self.bind_kv_cache(cfg, pos0, &k, &v)?;
                let keys = (0..cfg.n_kv_heads)
                    .map(|g| self.column_slice(kv.k, g * hd, hd))
                    .collect::<Result<_, _>>()?;
                let values = (0..cfg.n_kv_heads)
                    .map(|g| self.column_slice(kv.v, g * hd, hd))
                    .collect::<Result<_, _>>()?;
                (keys, values, Some(kv), pos0 == 0)
            }
        };
        let group = cfg.n_heads / cfg.n_kv_heads;
        let mut heads = Vec::with_capacity(cfg.n_heads);
        for (head, &qh) in q.iter().enumerate() {
            let g = head / group;
            let s = self.scores(qh, keys[g], hd)?;
            let p = self.softmax(s, causal)?;
            let p_scale = self.node(p)?.scale;
            let o = self.matmul_act(p, values[g], false)?;
            heads.push(self.rescale(o, p_scale)?);
        }
        let o = if heads.len() == 1 {
            heads[0]
        } else {
            self.concat_columns(&heads)?
        };
        let wide_branch = BlockNormRanges::is_wide(w.ranges.branch_log2);
        let attn = match (wide_branch, self.node(o)?.scale) {
            (false, ACT_SCALE) => self.projection(o, &w.wo)?,
            _ => {
                let y = self.matmul_blocks(o, &w.wo)?;
                self.to_scale(y, ACT_SCALE, wide_branch)?
            }
        };
        let r = self.add(x, attn)?;
        let h = self.rms_norm_auto(r, w.ffn_norm.clone(), cfg.eps, &w.ranges.ffn, sc.ffn_in)?;
        // The FFN's hidden activations stay in their power-of-two column parts (17408 =
        // 16384 + 1024 for Qwen3-14B) from the gate/up projections to the down projection,
        // whose row blocks they are: no padded 32768-column tensor to look up and commit.
        let gate = self.matmul_block_parts(h, &w.w_gate)?;
        let up = self.matmul_block_parts(h, &w.w_up)?;
        if gate.len() != up.len() {
            return Err(config_error(r, "gate and up projections differ in shape"));
        }
        let wide_product = BlockNormRanges::is_wide(w.ranges.ffn_product_log2);
        let mut prod = Vec::with_capacity(gate.len());
        for (&g, &u) in gate.iter().zip(&up) {
            let g = self.to_scale(g, sc.gate, false)?;
            let u = self.to_scale(u, sc.up, false)?;
            let act = self.activation(g, cfg.mlp_act, sc.act)?;
            let p = self.mul(act, u)?;
            prod.push(match wide_product {
                true => p,
                false => self.to_scale(p, sc.prod, false)?,
            });
        }
        let down = if wide_product {
            // Massive products: two limbs, one matmul each (crate::wide).
            let mut hi = Vec::with_capacity(prod.len());
            let mut lo = Vec::with_capacity(prod.len());
            for &p in &prod {
                let s_p = self.node(p)?.scale;
                let (h, l) = self.rescale_limbs(p, s_p - ACT_SCALE)?;
                hi.push(h.ok_or_else(|| config_error(p, "no limbs for the FFN product"))?);
                lo.push(l);
            }
            let d_hi = self.matmul_from_parts(&hi, &w.w_down)?;
            let d_lo = self.matmul_from_parts(&lo, &w.w_down)?;
            let d_hi = self.to_scale(d_hi, ACT_SCALE, true)?;
            let d_lo = self.to_scale(d_lo, ACT_SCALE, wide_branch)?;
            self.add(d_hi, d_lo)?
        } else {
            let down = self.matmul_from_parts(&prod, &w.w_down)?;
            self.to_scale(down, ACT_SCALE, wide_branch)?
        };
        Ok((self.add(r, down)?, kv))
    }
}

/// A model of `blocks.len()` decoder blocks. With an `embedding` table (`vocab x d_model` at
/// [`ACT_SCALE`]) the input is a `seq_len x 1` column of token ids; otherwise it is the
/// `seq_len x d_model` hidden state.
pub fn transformer(
    name: &str,
    cfg: &TransformerConfig,
    embedding: Option<Weight>,
    blocks: &[BlockWeights],
) -> Result<Graph, GraphError> {
    let (mut b, mut x) = match embedding {
        Some(table) => {
            let mut b = GraphBuilder::new(name, Shape::new(cfg.seq_len, 1), 0)?;
            let x = b.embedding(0, table)?;
            (b, x)
        }
        None => {
            let b = GraphBuilder::new(name, Shape::new(cfg.seq_len, cfg.d_model), ACT_SCALE)?;
            (b, 0)
        }
    };
    for w in blocks {
        x = b.transformer_block(x, cfg, w)?;
    }
    b.build(x)
}

impl BlockNormRanges {
    /// Each norm's range covering both.
    pub fn union(self, other: Self) -> Self {
        Self {
            attn: self.attn.union(other.attn),
            ffn: self.ffn.union(other.ffn),
            q: self.q.union(other.q),
            k: self.k.union(other.k),
            ffn_product_log2: self.ffn_product_log2.max(other.ffn_product_log2),
            branch_log2: self.branch_log2.max(other.branch_log2),
            inner: self.inner.union(other.inner),
        }
    }
}

/// Gives every block the union of the blocks' norm ranges, so that blocks calibrated apart
/// ([`crate::reference::calibrate_norms`]) share their rsqrt tables and constants and can be
/// stacked by [`batched_transformer`]. A wider range costs some of the norm's precision.
pub fn share_norm_ranges(blocks: &mut [BlockWeights]) {
    if let Some(shared) = blocks
        .iter()
        .map(|b| b.ranges)
        .reduce(BlockNormRanges::union)
    {
        blocks.iter_mut().for_each(|b| b.ranges = shared);
    }
}

/// `blocks.len()` decoder blocks (a power of two, at least 2) on a `seq_len x d_model` hidden
/// state, stacked for one batched proof ([`crate::stack`]): the same function as
/// [`transformer`] without an embedding. Every block must have the same norm ranges (so the
/// same lookup tables and constants: see [`share_norm_ranges`]); `seq_len` must be a power of
/// two of at least 2.
pub fn batched_transformer(
    name: &str,
    cfg: &TransformerConfig,
    blocks: &[BlockWeights],
) -> Result<Graph, GraphError> {
    let graphs = blocks
        .iter()
        .map(|w| transformer(name, cfg, None, std::slice::from_ref(w)))
        .collect::<Result<Vec<_>, _>>()?;
    crate::stack::stack_blocks(name, &graphs)
}

/// Seeded random weights for a model of `n_blocks` blocks with an embedding of `vocab` rows
/// (entries uniform in `[-1, 1]`).
pub fn random_transformer(
    cfg: &TransformerConfig,
    vocab: usize,
    n_blocks: usize,
    seed: u64,
) -> (Weight, Vec<BlockWeights>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let one = 1i64 << ACT_SCALE;
    let embedding = Weight {
        name: "embed".into(),
        shape: Shape::new(vocab, cfg.d_model),
        scale: ACT_SCALE,
        data: (0..vocab * cfg.d_model)
            .map(|_| rng.gen_range(-one..=one))
            .collect(),
    };
    let blocks = (0..n_blocks)
        .map(|l| BlockWeights::random(cfg, l, &mut rng))
        .collect();
    (embedding, blocks)
}
