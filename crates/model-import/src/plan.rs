//! The real-valued graph an ONNX model is lowered to before quantisation: our IR's op set
//! with f32 parameters, on 2-D views: rows are the leading axes (the input's first), columns the
//! rest in row-major order (for an `N x C x H x W` image, `N` rows of `C*H*W` in NCHW order).
//! Its f64 forward pass calibrates the activation scales.

use model::Func;

/// Index of a step in [`Plan::steps`].
pub type StepId = usize;

/// A real-valued operation. Operands refer to earlier steps.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanOp {
    /// Input `index` of the model (the steps `0..n` are the inputs, in order).
    Input {
        index: usize,
    },
    /// Rows of a constant `vocab x cols` table selected by the integer ids of `ids` (a
    /// column): an embedding lookup.
    Embedding {
        ids: StepId,
        table: Vec<f32>,
    },
    /// `input (m x k) . weight (k x n)`, the weight row-major.
    MatMul {
        input: StepId,
        weight: Vec<f32>,
        k: usize,
    },
    /// `input + bias`, the bias `1 x cols` broadcast over rows, or `rows x cols` (a
    /// constant per entry: position embeddings).
    Bias {
        input: StepId,
        bias: Vec<f32>,
    },
    /// `input + c`.
    AddScalar {
        input: StepId,
        c: f32,
    },
    /// `input * c`.
    Scale {
        input: StepId,
        c: f32,
    },
    /// `input * c`, `c` a `1 x cols` row broadcast over rows, or one factor per entry
    /// (`rows x cols`, the window sizes of an average pool whose border windows hold padding).
    ScaleCols {
        input: StepId,
        c: Vec<f32>,
    },
    Add {
        lhs: StepId,
        rhs: StepId,
    },
    Mul {
        lhs: StepId,
        rhs: StepId,
    },
    Relu {
        input: StepId,
    },
    Func {
        input: StepId,
        func: Func,
    },
    /// `input (m x k) . weight (k x n)` for a small integer matrix (selections, differences,
    /// window sums, permutations): exact at the input's scale, no rescale.
    IntMatMul {
        input: StepId,
        weight: Vec<i64>,
        k: usize,
    },
    /// `lhs - rhs` for two activations.
    Sub {
        lhs: StepId,
        rhs: StepId,
    },
    /// Each row normalised, `(x - mean) / sqrt(var + eps) * gain + bias`, with `gain` and
    /// `bias` `1 x cols` rows.
    LayerNorm {
        input: StepId,
        gain: Vec<f32>,
        bias: Vec<f32>,
        eps: f32,
    },
    /// Softmax over each row.
    Softmax {
        input: StepId,
    },
    /// Each row divided by its Euclidean norm (sentence-transformers' `Normalize`).
    L2Normalize {
        input: StepId,
    },
    /// Columns `[start, start + len)`, `len` a power of two >= 2 dividing `start`.
    ColumnSlice {
        input: StepId,
        start: usize,
        len: usize,
    },
    /// The parts side by side, all of one shape `rows x 2^k` (`k >= 1`).
    ConcatColumns {
        parts: Vec<StepId>,
    },
    /// Attention scores with the keys whose `keep` entry (a `1 x cols` row of 0 / 1) is 0
    /// masked out: `input - P (1 - keep_j)`, with `P` ([`key_penalty`]) large enough that a
    /// masked score's softmax weight is below `e^-32` yet small enough to keep the scores'
    /// fixed-point resolution (an exporter's `-10000` or `-3.4e38` would not fit).
    KeyMask {
        input: StepId,
        keep: StepId,
    },
    /// `lhs (m x k) . rhs (k x n)`, or `lhs . rhs^T` with `rhs` `n x k`: two activations
    /// (attention scores and context).
    MatMulAct {
        lhs: StepId,
        rhs: StepId,
        transpose_rhs: bool,
    },
    /// Rows of a channels-last activation gathered through a window ([`model::window`]):
    /// im2col, window sums or one pool tap. Exact at the input's scale.
    Gather {
        input: StepId,
        win: model::window::Window,
        mode: model::window::Gather,
    },
}

/// A step: its op, the 2-D view of its output, and the tract node it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub op: PlanOp,
    pub rows: usize,
    pub cols: usize,
    pub name: String,
}

/// An input of a lowered model: its number of values, whether they are integers, and its
/// `N, C, H, W` where it is laid out channels-last ([`crate::source::channels_last`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanInput {
    pub len: usize,
    pub ints: bool,
    pub nchw: Option<[usize; 4]>,
}

/// Values in NCHW order (ONNX's) to channels-last order: row `(n, y, x)`, column `c`.
pub fn nchw_to_nhwc<T: Copy>(v: &[T], [n, c, h, w]: [usize; 4]) -> Vec<T> {
    let hw = h * w;
    let mut out = Vec::with_capacity(v.len());
    for img in 0..n {
        for p in 0..hw {
            out.extend((0..c).map(|ch| v[(img * c + ch) * hw + p]));
        }
    }
    out
}

/// The inverse of [`nchw_to_nhwc`].
pub fn nhwc_to_nchw<T: Copy>(v: &[T], [n, c, h, w]: [usize; 4]) -> Vec<T> {
    let hw = h * w;
    let mut out = Vec::with_capacity(v.len());
    for img in 0..n {
        for ch in 0..c {
            out.extend((0..hw).map(|p| v[(img * hw + p) * c + ch]));
        }
    }
    out
}

/// A lowered model.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// The outputs in the model's order (those `--outputs` picked); at least one.
    pub outputs: Vec<PlanOutput>,
    /// The model's inputs in order (steps `0..inputs.len()`).
    pub inputs: Vec<PlanInput>,
}

/// One output of a lowered model.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanOutput {
    /// The ONNX output's name.
    pub name: String,
    pub step: StepId,
    /// Its ONNX shape.
    pub dims: Vec<usize>,
    /// Its `N, C, H, W` where it is a channels-last feature map (its values are then in NHWC
    /// order; [`PlanOutput::in_onnx_order`]).
    pub nchw: Option<[usize; 4]>,
}

impl PlanOutput {
    /// The output's values (row-major in the output step's layout) in the ONNX model's order.
    pub fn in_onnx_order<T: Copy>(&self, values: Vec<T>) -> Vec<T> {
        match self.nchw {
            Some(d) if values.len() == d.iter().product::<usize>() => nhwc_to_nchw(&values, d),
            _ => values,
        }
    }
}

impl Plan {
    /// The first output (the proof's main output where it is computed).
    pub fn output(&self) -> &PlanOutput {
        &self.outputs[0]
    }

    /// Runs the plan in f64 on the inputs' values concatenated in order; returns every
    /// step's output (row-major).
    pub fn eval(&self, input: &[f32]) -> Vec<Vec<f64>> {
        let mut starts = Vec::with_capacity(self.inputs.len());
        let mut at = 0;
        for i in &self.inputs {
            starts.push(at);
            at += i.len;
        }
        let mut vals: Vec<Vec<f64>> = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let cols = step.cols;
            let v = match &step.op {
                PlanOp::Input { index } => {
                    let (from, len) = (starts[*index], self.inputs[*index].len);
                    let part = input.get(from..from + len).unwrap_or_default();
                    let vals: Vec<f64> = part.iter().map(|&x| f64::from(x)).collect();
                    match self.inputs[*index].nchw {
                        Some(d) if vals.len() == len => nchw_to_nhwc(&vals, d),
                        _ => vals,
                    }
                }
                // An id outside the table reads zeros here; the integer run refuses it.
                PlanOp::Embedding { ids, table } => vals[*ids]
                    .iter()
                    .flat_map(|&id| {
                        let r = usize::try_from(id as i64).unwrap_or(usize::MAX);
                        let row = r.checked_mul(cols).and_then(|a| table.get(a..a + cols));
                        (0..cols).map(move |j| row.map_or(0.0, |t| f64::from(t[j])))
                    })
                    .collect(),
                PlanOp::MatMul { input, weight, k } => {
                    matmul(&vals[*input], *k, cols, |i| f64::from(weight[i]))
                }
                PlanOp::IntMatMul { input, weight, k } => {
                    matmul(&vals[*input], *k, cols, |i| weight[i] as f64)
                }
                PlanOp::MatMulAct {
                    lhs,
                    rhs,
                    transpose_rhs,
                } => {
                    let k = self.steps[*lhs].cols;
                    let r = &vals[*rhs];
                    if *transpose_rhs {
                        matmul(&vals[*lhs], k, cols, |i| r[(i % cols) * k + i / cols])
                    } else {
                        matmul(&vals[*lhs], k, cols, |i| r[i])
                    }
                }
                PlanOp::Bias { input, bias } => {
                    map_cols(&vals[*input], bias.len(), |x, j| x + f64::from(bias[j]))
                }
                PlanOp::KeyMask { input, keep } => {
                    let p = key_penalty(&vals[*input]);
                    let keep = &vals[*keep];
                    map_cols(&vals[*input], cols, |x, j| x - p * (1.0 - keep[j]))
                }
                PlanOp::AddScalar { input, c } => map(&vals[*input], |x| x + f64::from(*c)),
                PlanOp::Scale { input, c } => map(&vals[*input], |x| x * f64::from(*c)),
                PlanOp::ScaleCols { input, c } => vals[*input]
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| x * f64::from(c[i % c.len().max(1)]))
                    .collect(),
                PlanOp::Add { lhs, rhs } => zip(&vals[*lhs], &vals[*rhs], |a, b| a + b),
                PlanOp::Mul { lhs, rhs } => zip(&vals[*lhs], &vals[*rhs], |a, b| a * b),
                PlanOp::Relu { input } => map(&vals[*input], |x| x.max(0.0)),
                PlanOp::Func { input, func } => map(&vals[*input], |x| func.eval(x)),
                PlanOp::Sub { lhs, rhs } => zip(&vals[*lhs], &vals[*rhs], |a, b| a - b),
                PlanOp::Softmax { input } => vals[*input]
                    .chunks(cols)
                    .flat_map(|row| {
                        let m = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                        let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
                        let sum: f64 = e.iter().sum();
                        e.into_iter().map(move |v| v / sum)
                    })
                    .collect(),
                PlanOp::Gather { input, win, mode } => {
                    let c = self.steps[*input].cols;
                    let block = if win.blocks(*mode) == 1 {
                        0
                    } else {
                        c.next_power_of_two().max(2)
                    };
                    let x = &vals[*input];
                    let mut out = vec![0.0; step.rows * cols];
                    win.for_each_entry(*mode, |o, b, i| {
                        for ch in 0..c {
                            out[o * cols + b * block + ch] += x[i * c + ch];
                        }
                    });
                    out
                }
                PlanOp::ColumnSlice { input, start, len } => vals[*input]
                    .chunks(self.steps[*input].cols.max(1))
                    .flat_map(|row| row[*start..*start + *len].iter().copied())
                    .collect(),
                PlanOp::ConcatColumns { parts } => (0..step.rows)
                    .flat_map(|r| {
                        let vals = &vals;
                        parts.iter().flat_map(move |&p| {
                            let w = self.steps[p].cols;
                            vals[p][r * w..(r + 1) * w].iter().copied()
                        })
                    })
                    .collect(),
                PlanOp::L2Normalize { input } => vals[*input]
                    .chunks(cols)
                    .flat_map(|row| {
                        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                        let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
                        row.iter().map(move |v| v * inv)
                    })
                    .collect(),
                PlanOp::LayerNorm {
                    input,
                    gain,
                    bias,
                    eps,
                } => vals[*input]
                    .chunks(cols)
                    .flat_map(|row| {
                        let n = row.len() as f64;
                        let mean = row.iter().sum::<f64>() / n;
                        let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                        let inv = 1.0 / (var + f64::from(*eps)).sqrt();
                        row.iter().enumerate().map(move |(j, v)| {
                            (v - mean) * inv * f64::from(gain[j]) + f64::from(bias[j])
                        })
                    })
                    .collect(),
            };
            vals.push(v);
        }
        vals
    }
}

/// The penalty of [`PlanOp::KeyMask`] for scores `x` (their values on the calibration input):
/// `2 max |x| + 32`, rounded up to an integer, so that a masked score is at least 32 below
/// every unmasked one of its row.
pub fn key_penalty(x: &[f64]) -> f64 {
    (2.0 * x.iter().fold(0f64, |m, v| m.max(v.abs())) + 32.0).ceil()
}

/// `x (rows x k) . w (k x cols)`, `w` read by flat index.
fn matmul(x: &[f64], k: usize, cols: usize, w: impl Fn(usize) -> f64) -> Vec<f64> {
    let rows = x.len() / k.max(1);
    let mut out = vec![0f64; rows * cols];
    for (r, row) in out.chunks_mut(cols).enumerate() {
        for t in 0..k {
            let a = x[r * k + t];
            for (j, o) in row.iter_mut().enumerate() {
                *o += a * w(t * cols + j);
            }
        }
    }
    out
}

fn map(x: &[f64], f: impl Fn(f64) -> f64) -> Vec<f64> {
    x.iter().map(|&v| f(v)).collect()
}

fn map_cols(x: &[f64], cols: usize, f: impl Fn(f64, usize) -> f64) -> Vec<f64> {
    x.iter().enumerate().map(|(i, &v)| f(v, i % cols)).collect()
}

fn zip(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}
