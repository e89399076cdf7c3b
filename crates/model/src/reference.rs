//! The decoder block of [`crate::transformer`] in `f32`, on the same (dequantised) weights: the
//! yardstick for the error of the integer model.

use crate::graph::Weight;
use crate::norm::NormRange;
use crate::rope::RopeScaling;
use crate::tensor::Tensor;
use crate::transformer::{BlockWeights, TransformerConfig};

/// A row-major `f32` matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    /// A quantised weight or tensor as real numbers: `value / 2^scale`.
    pub fn dequantise(data: &[i64], rows: usize, cols: usize, scale: u32) -> Self {
        let s = (1u64 << scale) as f32;
        Self {
            rows,
            cols,
            data: data.iter().map(|&v| v as f32 / s).collect(),
        }
    }

    /// A weight as real numbers.
    pub fn of(w: &Weight) -> Self {
        Self::dequantise(&w.data, w.shape.rows, w.shape.cols, w.scale)
    }

    fn get(&self, r: usize, c: usize) -> f32 {
        self.data[r * self.cols + c]
    }

    /// `self . w`.
    pub fn matmul(&self, w: &Matrix) -> Matrix {
        let mut out = vec![0f32; self.rows * w.cols];
        for i in 0..self.rows {
            for k in 0..self.cols {
                let a = self.get(i, k);
                for j in 0..w.cols {
                    out[i * w.cols + j] += a * w.get(k, j);
                }
            }
        }
        Matrix {
            rows: self.rows,
            cols: w.cols,
            data: out,
        }
    }

    fn zip(&self, other: &Matrix, f: impl Fn(f32, f32) -> f32) -> Matrix {
        let data = self.data.iter().zip(&other.data).map(|(&a, &b)| f(a, b));
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: data.collect(),
        }
    }

    /// Columns `[start, start + len)`.
    fn columns(&self, start: usize, len: usize) -> Matrix {
        let data = (0..self.rows)
            .flat_map(|r| (start..start + len).map(move |c| (r, c)))
            .map(|(r, c)| self.get(r, c));
        Matrix {
            rows: self.rows,
            cols: len,
            data: data.collect(),
        }
    }
}

/// RMSNorm of each row of `x`, times `gain` (`1 x cols`).
pub fn rms_norm(x: &Matrix, gain: &Matrix, eps: f64) -> Matrix {
    let mut out = x.clone();
    for (r, row) in out.data.chunks_mut(x.cols).enumerate() {
        let ms = (0..x.cols).map(|c| x.get(r, c).powi(2)).sum::<f32>() / x.cols as f32;
        let inv = 1.0 / (ms + eps as f32).sqrt();
        row.iter_mut()
            .enumerate()
            .for_each(|(c, v)| *v *= inv * gain.data[c]);
    }
    out
}

fn rope(x: &Matrix, head_dim: usize, theta: f64, scaling: RopeScaling) -> Matrix {
    let half = head_dim / 2;
    let mut out = x.clone();
    for r in 0..x.rows {
        for c in 0..x.cols {
            let i = c % head_dim;
            let freq = scaling.inv_freq(theta, head_dim, i % half);
            let (sin, cos) = ((r as f64) * freq).sin_cos();
            let rot = if i < half {
                -x.get(r, c + half)
            } else {
                x.get(r, c - half)
            };
            out.data[r * x.cols + c] = x.get(r, c) * cos as f32 + rot * sin as f32;
        }
    }
    out
}

/// Causal attention of one head.
fn attention(q: &Matrix, k: &Matrix, v: &Matrix) -> Matrix {
    let scale = 1.0 / (q.cols as f32).sqrt();
    let mut out = vec![0f32; q.rows * v.cols];
    for i in 0..q.rows {
        let s: Vec<f32> = (0..=i.min(k.rows - 1))
            .map(|j| (0..q.cols).map(|c| q.get(i, c) * k.get(j, c)).sum::<f32>() * scale)
            .collect();
        let mx = s.iter().copied().fold(f32::MIN, f32::max);
        let e: Vec<f32> = s.iter().map(|v| (v - mx).exp()).collect();
        let sum: f32 = e.iter().sum();
        for (j, ej) in e.iter().enumerate() {
            for c in 0..v.cols {
                out[i * v.cols + c] += ej / sum * v.get(j, c);
            }
        }
    }
    Matrix {
        rows: q.rows,
        cols: v.cols,
        data: out,
    }
}

/// One decoder block in `f32`.
pub fn block_f32(cfg: &TransformerConfig, w: &BlockWeights, x: &Matrix) -> Matrix {
    block_f32_observed(cfg, w, x, &mut |_, _| {})
}

/// The RMSNorms of a block, as [`block_f32_observed`] reports their inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NormSite {
    Attn,
    Ffn,
    /// Per-head norms: the input is viewed as one row per (position, head).
    Q,
    K,
    /// Not a norm: the FFN's product `act(gate) * up`, and the two branch outputs added to the
    /// residual stream (their magnitudes choose the wide constructions).
    FfnProduct,
    Branch,
    /// Inner tensors whose magnitudes choose their scales (`InnerLogs`).
    AttnIn,
    FfnIn,
    QProj,
    KProj,
    V,
    Gate,
    Up,
    Act,
}

/// `x . w (+ bias)`.
fn project(x: &Matrix, w: &Weight, bias: &Option<Weight>) -> Matrix {
    let y = x.matmul(&Matrix::of(w));
    match bias {
        Some(b) => {
            let b = Matrix::of(b);
            let mut y = y;
            for row in y.data.chunks_mut(y.cols) {
                row.iter_mut().zip(&b.data).for_each(|(v, bv)| *v += bv);
            }
            y
        }
        None => y,
    }
}

/// RMSNorm of every `head_dim` chunk of each row with `gain` (`1 x head_dim`), reporting the
/// chunks as rows to `observe`.
fn per_head_norm(
    x: &Matrix,
    gain: &Weight,
    eps: f64,
    head_dim: usize,
    observe: &mut dyn FnMut(&Matrix),
) -> Matrix {
    let heads = Matrix {
        rows: x.rows * x.cols / head_dim,
        cols: head_dim,
        data: x.data.clone(),
    };
    observe(&heads);
    let normed = rms_norm(&heads, &Matrix::of(gain), eps);
    Matrix {
        rows: x.rows,
        cols: x.cols,
        data: normed.data,
    }
}

/// [`block_f32`], showing `norm_input` the input of each of its RMSNorms.
fn block_f32_observed(
    cfg: &TransformerConfig,
    w: &BlockWeights,
    x: &Matrix,
    norm_input: &mut dyn FnMut(NormSite, &Matrix),
) -> Matrix {
    let hd = cfg.head_dim;
    norm_input(NormSite::Attn, x);
    let h = rms_norm(x, &Matrix::of(&w.attn_norm), cfg.eps);
    norm_input(NormSite::AttnIn, &h);
    let mut q = project(&h, &w.wq, &w.q_bias);
    let mut k = project(&h, &w.wk, &w.k_bias);
    let v = project(&h, &w.wv, &w.v_bias);
    norm_input(NormSite::V, &v);
    norm_input(NormSite::QProj, &q);
    norm_input(NormSite::KProj, &k);
    if let Some(g) = &w.q_norm {
        q = per_head_norm(&q, g, cfg.eps, hd, &mut |m| norm_input(NormSite::Q, m));
    }
    if let Some(g) = &w.k_norm {
        k = per_head_norm(&k, g, cfg.eps, hd, &mut |m| norm_input(NormSite::K, m));
    }
    let q = rope(&q, hd, cfg.rope_theta, cfg.rope_scaling);
    let k = rope(&k, hd, cfg.rope_theta, cfg.rope_scaling);
    let group = cfg.n_heads / cfg.n_kv_heads;
    let heads: Vec<Matrix> = (0..cfg.n_heads)
        .map(|head| {
            let g = head / group;
            attention(
                &q.columns(head * hd, hd),
                &k.columns(g * hd, hd),
                &v.columns(g * hd, hd),
            )
        })
        .collect();
    let mut o = Matrix {
        rows: x.rows,
        cols: cfg.n_heads * hd,
        data: Vec::with_capacity(x.rows * cfg.n_heads * hd),
    };
    for r in 0..x.rows {
        for head in &heads {
            o.data.extend_from_slice(&head.data[r * hd..(r + 1) * hd]);
        }
    }
    let attn = o.matmul(&Matrix::of(&w.wo));
    norm_input(NormSite::Branch, &attn);
    let r = x.zip(&attn, |a, b| a + b);
    norm_input(NormSite::Ffn, &r);
    let h = rms_norm(&r, &Matrix::of(&w.ffn_norm), cfg.eps);
    norm_input(NormSite::FfnIn, &h);
    let gate = h.matmul(&Matrix::of(&w.w_gate));
    let up = h.matmul(&Matrix::of(&w.w_up));
    norm_input(NormSite::Gate, &gate);
    norm_input(NormSite::Up, &up);
    let silu = gate.zip(&gate, |g, _| cfg.mlp_act.eval(g as f64) as f32);
    norm_input(NormSite::Act, &silu);
    let act = silu.zip(&up, |a, u| a * u);
    norm_input(NormSite::FfnProduct, &act);
    let down = act.matmul(&Matrix::of(&w.w_down));
    norm_input(NormSite::Branch, &down);
    r.zip(&down, |a, b| a + b)
}

/// The model of [`crate::transformer::transformer`] in `f32`: `tokens` select embedding rows
/// when an embedding is given, else `input` is the hidden state.
pub fn transformer_f32(
    cfg: &TransformerConfig,
    embedding: Option<(&Weight, &[usize])>,
    input: Option<&Matrix>,
    blocks: &[BlockWeights],
) -> Option<Matrix> {
    let mut x = match (embedding, input) {
        (Some((table, tokens)), _) => embed_f32(table, tokens)?,
        (None, Some(m)) => m.clone(),
        (None, None) => return None,
    };
    for w in blocks {
        x = block_f32(cfg, w, &x);
    }
    Some(x)
}

/// Calibrates the RMSNorms of `blocks` on the `f32` run from the hidden state `x` (the rows of
/// each norm's input, [`NormRange::observe`]); returns the last block's output and its range
/// (for a final norm). Blocks whose norm inputs have no finite statistics keep their ranges.
pub fn calibrate_norms(
    cfg: &TransformerConfig,
    x: &Matrix,
    blocks: &mut [BlockWeights],
) -> (Matrix, Option<NormRange>) {
    let mut x = x.clone();
    for w in blocks.iter_mut() {
        let mut seen: Vec<(NormSite, Option<NormRange>)> = Vec::with_capacity(6);
        let y = block_f32_observed(cfg, w, &x, &mut |site, m| {
            seen.push((site, NormRange::observe(&m.data, m.cols)))
        });
        let (mut product, mut branch) = (0, 0);
        let mut inner = crate::transformer::InnerLogs::default();
        for (site, range) in seen {
            let Some(r) = range else { continue };
            let log = Some(r.abs_max_log2);
            let magnitude = match site {
                NormSite::AttnIn => Some(&mut inner.attn_in),
                NormSite::FfnIn => Some(&mut inner.ffn_in),
                NormSite::V => Some(&mut inner.v),
                NormSite::QProj => Some(&mut inner.q),
                NormSite::KProj => Some(&mut inner.k),
                NormSite::Gate => Some(&mut inner.gate),
                NormSite::Up => Some(&mut inner.up),
                NormSite::Act => Some(&mut inner.act),
                NormSite::FfnProduct => {
                    product = product.max(r.abs_max_log2);
                    Some(&mut inner.prod)
                }
                _ => None,
            };
            if let Some(m) = magnitude {
                *m = log;
                continue;
            }
            let slot = match site {
                NormSite::Attn => &mut w.ranges.attn,
                NormSite::Ffn => &mut w.ranges.ffn,
                NormSite::Q => &mut w.ranges.q,
                NormSite::K => &mut w.ranges.k,
                NormSite::Branch => {
                    branch = branch.max(r.abs_max_log2);
                    continue;
                }
                // The inner magnitudes, recorded above.
                _ => continue,
            };
            *slot = r;
        }
        w.ranges.ffn_product_log2 = product;
        w.ranges.branch_log2 = branch;
        w.ranges.inner = inner;
        x = y;
    }
    let out = NormRange::observe(&x.data, x.cols);
    (x, out)
}

/// The hidden state of `tokens` (rows of the embedding table) in `f32`; `None` if a token is
/// not a row.
pub fn embed_f32(table: &Weight, tokens: &[usize]) -> Option<Matrix> {
    let d = table.shape.cols;
    let mut data = Vec::with_capacity(tokens.len() * d);
    for &t in tokens {
        data.extend_from_slice(table.data.get(t * d..(t + 1) * d)?);
    }
    Some(Matrix::dequantise(&data, tokens.len(), d, table.scale))
}

/// How far the integer model's output is from the `f32` reference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorReport {
    /// Largest `|got - want|`.
    pub max_abs: f32,
    /// Largest `|got - want|` over the largest `|want|` (relative to the output's range).
    pub max_rel: f32,
    /// Root mean square of `got - want`.
    pub rms: f32,
}

/// Compares an integer tensor at `scale` fractional bits with the reference.
///
/// Returns `None` if the shapes differ.
pub fn compare(got: &Tensor, scale: u32, want: &Matrix) -> Option<ErrorReport> {
    if got.shape.rows != want.rows || got.shape.cols != want.cols {
        return None;
    }
    let g = Matrix::dequantise(&got.data, want.rows, want.cols, scale);
    let diffs: Vec<f32> = g.data.iter().zip(&want.data).map(|(a, b)| a - b).collect();
    let max_abs = diffs.iter().fold(0f32, |m, d| m.max(d.abs()));
    let range = want.data.iter().fold(0f32, |m, v| m.max(v.abs()));
    let rms = (diffs.iter().map(|d| d * d).sum::<f32>() / diffs.len().max(1) as f32).sqrt();
    Some(ErrorReport {
        max_abs,
        max_rel: if range > 0.0 { max_abs / range } else { 0.0 },
        rms,
    })
}
