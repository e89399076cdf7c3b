//! Integer forward pass that keeps every intermediate tensor for the prover.

use thiserror::Error;

use crate::graph::{Graph, NodeId, Op};
use crate::layout;
pub use crate::matmul::{matmul, matmul_transposed};
use crate::softmax;
use crate::tensor::{Shape, Tensor};
use crate::{ACT_BITS, MAX_ABS};

/// Every node's output, indexed like [`Graph::nodes`].
#[derive(Clone, Debug)]
pub struct Trace {
    pub values: Vec<Tensor>,
}

impl Trace {
    /// The output tensor of the graph.
    pub fn output<'a>(&'a self, graph: &Graph) -> &'a Tensor {
        &self.values[graph.output]
    }

    /// The further public outputs ([`Graph::more_outputs`]), in order.
    pub fn more_outputs(&self, graph: &Graph) -> Vec<Tensor> {
        graph
            .more_outputs
            .iter()
            .map(|&id| self.values[id].clone())
            .collect()
    }
}

/// Why a forward pass cannot be proved.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecError {
    #[error("input has shape {got_rows}x{got_cols}, model expects {rows}x{cols}")]
    InputShape {
        rows: usize,
        cols: usize,
        got_rows: usize,
        got_cols: usize,
    },
    #[error("input value {value} at index {index} is outside the activation range [{lo}, {hi})")]
    InputRange {
        index: usize,
        value: i64,
        lo: i64,
        hi: i64,
    },
    #[error(
        "node {node} ({op}): value {value} overflows the M31 range |x| <= {MAX_ABS}; \
         lower the scales or add a rescale"
    )]
    Overflow {
        node: NodeId,
        op: &'static str,
        value: i64,
    },
    #[error("node {node} (embedding): token id {value} at index {index} is not below {vocab}")]
    TokenRange {
        node: NodeId,
        index: usize,
        value: i64,
        vocab: usize,
    },
    #[error(
        "node {node} ({op}): value {value} is outside the activation range [{lo}, {hi}); \
         the rescale shift is too small"
    )]
    ActivationRange {
        node: NodeId,
        op: &'static str,
        value: i64,
        lo: i64,
        hi: i64,
    },
    #[error("the model takes {expected} input tensors, got {got}")]
    InputCount { expected: usize, got: usize },
    #[error("batched graph: {0}")]
    Graph(crate::graph::GraphError),
    #[error(
        "node {node} (assert_zero): entry {index} is {value}, not 0: a computed tensor differs \
         from the public one it is bound to"
    )]
    NotZero {
        node: NodeId,
        index: usize,
        value: i64,
    },
}

/// Lower end of the activation range.
pub const ACT_LO: i64 = -(1 << (ACT_BITS - 1));
/// Upper end (exclusive) of the activation range.
pub const ACT_HI: i64 = 1 << (ACT_BITS - 1);

/// The largest rescale shift ([`rescale_output_log_range`] has at least two values).
pub const MAX_SHIFT: u32 = 29;

/// `log2` of the size of the range `[-2^(l-1), 2^(l-1))` a rescale output by `2^shift` must
/// lie in: the activation range up to shift 14, `30 - shift` beyond. The proof decomposes
/// `x = 2^s y + r` with `y` and `r` looked up in their ranges, which is unique for a field
/// value `x` only while the two ranges span fewer than `p` integers (`2^l 2^s < p`); in M31
/// `2^16 2^15 = 1`, so at `s = 16` the activation range would let `(y - 2^15, r + 1)` stand
/// for `(y, r)`. An output that rounds outside this range is an execution error.
pub fn rescale_output_log_range(shift: u32) -> u32 {
    if shift <= 14 {
        ACT_BITS
    } else {
        30 - shift.min(MAX_SHIFT)
    }
}

/// `round(x / 2^shift)` with ties rounded up, and the remainder `x - 2^shift * y`.
pub fn rescale_value(x: i64, shift: u32) -> (i64, i64) {
    let y = (x + (1 << (shift - 1))) >> shift;
    (y, x - (y << shift))
}

/// Runs the graph on `input`, checking every range the proof relies on.
pub fn execute(graph: &Graph, input: &Tensor) -> Result<Trace, ExecError> {
    execute_all(graph, std::slice::from_ref(input))
}

/// Runs a graph with several input nodes on one tensor per input node, in node order.
pub fn execute_all(graph: &Graph, inputs: &[Tensor]) -> Result<Trace, ExecError> {
    if graph.log_blocks > 0 {
        let [input] = inputs else {
            return Err(ExecError::InputCount {
                expected: 1,
                got: inputs.len(),
            });
        };
        return crate::stack::execute_stacked(graph, input);
    }
    run(graph, inputs, usize::MAX, |_| {}, true)
}

/// Checks `inputs` against the graph's input nodes: count, shapes and the activation range.
fn check_inputs(graph: &Graph, inputs: &[Tensor]) -> Result<(), ExecError> {
    let nodes = graph.input_nodes();
    if nodes.len() != inputs.len() {
        return Err(ExecError::InputCount {
            expected: nodes.len(),
            got: inputs.len(),
        });
    }
    for (&id, input) in nodes.iter().zip(inputs) {
        let want = graph.nodes[id].shape;
        if input.shape != want || input.data.len() != want.rows * want.cols {
            return Err(ExecError::InputShape {
                rows: want.rows,
                cols: want.cols,
                got_rows: input.shape.rows,
                got_cols: input.shape.cols,
            });
        }
        // Token ids are checked against the vocabulary by the embedding.
        let (lo, hi) = match crate::graph::is_token_input(&graph.nodes, id) {
            true => (0, crate::softmax::MAX_VOCAB as i64),
            false => (ACT_LO, ACT_HI),
        };
        if let Some((index, &value)) = input
            .data
            .iter()
            .enumerate()
            .find(|(_, v)| !(lo..hi).contains(*v))
        {
            return Err(ExecError::InputRange {
                index,
                value,
                lo,
                hi,
            });
        }
    }
    Ok(())
}

/// Runs the graph like [`execute`] but lets `forge` alter the value of node `forged` before
/// the nodes after it are computed from it. Soundness tests use it to play a cheating prover
/// whose trace is consistent everywhere except at one relation. It runs the graph as one
/// block: for a stack, forge one block of [`crate::stack::block_of`] and stack the traces.
/// Only with the `test-utils` feature.
#[cfg(feature = "test-utils")]
pub fn execute_forged(
    graph: &Graph,
    inputs: &[Tensor],
    forged: NodeId,
    forge: impl Fn(&mut Tensor),
) -> Result<Trace, ExecError> {
    run(graph, inputs, forged, forge, true)
}

/// [`execute_all`], with [`Op::AssertZero`] enforced only when `strict_asserts` (filling a
/// K/V cache runs the graph before its public rows are known, see [`crate::decode`]).
pub fn execute_checked(
    graph: &Graph,
    inputs: &[Tensor],
    strict_asserts: bool,
) -> Result<Trace, ExecError> {
    run(graph, inputs, usize::MAX, |_| {}, strict_asserts)
}

/// The values of nodes `0..=last` only (assertions not enforced): what a K/V cache fill needs
/// of the blocks up to one, while the caches of the later blocks are still unknown and their
/// values meaningless ([`crate::decode`]).
pub fn execute_prefix(graph: &Graph, inputs: &[Tensor], last: NodeId) -> Result<Trace, ExecError> {
    run_until(graph, inputs, usize::MAX, |_| {}, false, last)
}

fn run(
    graph: &Graph,
    inputs: &[Tensor],
    forged: NodeId,
    forge: impl Fn(&mut Tensor),
    strict_asserts: bool,
) -> Result<Trace, ExecError> {
    run_until(graph, inputs, forged, forge, strict_asserts, usize::MAX)
}

/// [`run`] over nodes `0..=last` only.
fn run_until(
    graph: &Graph,
    inputs: &[Tensor],
    forged: NodeId,
    forge: impl Fn(&mut Tensor),
    strict_asserts: bool,
    last: NodeId,
) -> Result<Trace, ExecError> {
    check_inputs(graph, inputs)?;
    let mut next_input = inputs.iter();
    let mut values: Vec<Tensor> = Vec::with_capacity(graph.nodes.len());
    for (id, node) in graph.nodes.iter().enumerate().take(last.saturating_add(1)) {
        let mut out = eval_node(
            graph,
            id,
            &values,
            &mut next_input,
            inputs.len(),
            forged,
            strict_asserts,
        )?;
        if id == forged {
            forge(&mut out);
        }
        if let Some(&value) = out.data.iter().find(|v| v.abs() > MAX_ABS) {
            return Err(ExecError::Overflow {
                node: id,
                op: node.op.kind(),
                value,
            });
        }
        values.push(out);
    }
    Ok(Trace { values })
}

/// The value of node `id` from the earlier nodes' `values` (an input takes the next tensor of
/// `next_input`). An assertion is enforced when `strict_asserts`, except at the forged node.
fn eval_node<'a>(
    graph: &Graph,
    id: NodeId,
    values: &[Tensor],
    next_input: &mut impl Iterator<Item = &'a Tensor>,
    n_inputs: usize,
    forged: NodeId,
    strict_asserts: bool,
) -> Result<Tensor, ExecError> {
    let node = &graph.nodes[id];
    Ok(match node.op {
        Op::Input => match next_input.next() {
            Some(t) => t.clone(),
            None => {
                return Err(ExecError::InputCount {
                    expected: values.len() + 1,
                    got: n_inputs,
                })
            }
        },
        Op::MatMul { input, weight } => {
            let w = &graph.weights[weight];
            matmul(&values[input], &w.data, w.shape)
        }
        Op::MatMulTransposed { input, weight } => {
            let w = &graph.weights[weight];
            matmul_transposed(&values[input], &w.data, w.shape)
        }
        Op::MatMulAct {
            lhs,
            rhs,
            transpose_rhs,
        } => {
            let r = &values[rhs];
            if transpose_rhs {
                let (n, k) = (r.shape.rows, r.shape.cols);
                let t: Vec<i64> = (0..k * n).map(|i| r.data[(i % n) * k + i / n]).collect();
                matmul(&values[lhs], &t, Shape::new(k, n))
            } else {
                matmul(&values[lhs], &r.data, r.shape)
            }
        }
        Op::AddBias { input, bias } => {
            let x = &values[input];
            let b = &graph.weights[bias].data;
            // A row repeats down the rows; a full bias adds entry by entry.
            let period = b.len().max(1);
            let data = x
                .data
                .iter()
                .enumerate()
                .map(|(i, v)| v + b[i % period])
                .collect();
            Tensor::new(x.shape, data)
        }
        Op::Add { lhs, rhs } => zip_with(&values[lhs], &values[rhs], |a, b| a + b),
        Op::Mul { lhs, rhs } => zip_with(&values[lhs], &values[rhs], |a, b| a * b),
        Op::Relu { input } => {
            let x = &values[input];
            check_act(id, "relu input", x)?;
            Tensor::new(x.shape, x.data.iter().map(|&v| v.max(0)).collect())
        }
        Op::Lookup { input, table } => {
            let x = &values[input];
            check_act(id, "lookup input", x)?;
            let t = &graph.weights[table].data;
            Tensor::new(
                x.shape,
                x.data.iter().map(|&v| t[(v - ACT_LO) as usize]).collect(),
            )
        }
        Op::ColumnSlice { input, start, len } => layout::column_slice(&values[input], start, len),
        Op::ConcatAligned { ref parts } => layout::concat(parts, values),
        Op::ConcatColumns { ref parts } => layout::concat(parts, values),
        Op::BroadcastColumn { input, cols } => layout::broadcast_column(&values[input], cols),
        Op::BroadcastRow { input, rows } => layout::broadcast_row(&values[input], rows),
        Op::WindowGather {
            input,
            ref window,
            mode,
        } => crate::window::gather(&values[input], window, mode, graph.nodes[id].shape),
        Op::RowSum { input } => layout::row_sum(&values[input]),
        Op::MulConst { input, c, .. } => {
            let x = &values[input];
            Tensor::new(x.shape, x.data.iter().map(|&v| v * c).collect())
        }
        Op::AddConst { input, c } => {
            let x = &values[input];
            Tensor::new(x.shape, x.data.iter().map(|&v| v + c).collect())
        }
        Op::MulColumn { lhs, rhs } => {
            let (x, s) = (&values[lhs], &values[rhs]);
            let cols = x.shape.cols;
            let data = x
                .data
                .iter()
                .enumerate()
                .map(|(i, &v)| v * s.data[i / cols])
                .collect();
            Tensor::new(x.shape, data)
        }
        Op::MulWeight { input, weight } => {
            let x = &values[input];
            let w = &graph.weights[weight].data;
            let n = w.len();
            Tensor::new(
                x.shape,
                x.data
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| v * w[i % n])
                    .collect(),
            )
        }
        Op::RotateHalf { input, log_block } => layout::rotate_half(&values[input], log_block),
        Op::SoftmaxMax { input, causal } => softmax::row_max(&values[input], causal),
        Op::SoftmaxExp {
            input,
            max,
            table,
            causal,
        } => {
            let t = &graph.weights[table].data;
            softmax::exp_rows(id, &values[input], &values[max], t, causal)?
        }
        Op::SoftmaxDiv { input, shift, .. } => softmax::div_rows(&values[input], shift),
        Op::Embedding { input, table } => {
            softmax::embed(id, &values[input], &graph.weights[table])?
        }
        Op::MulWeightRows {
            input,
            weight,
            row0,
        } => {
            let x = &values[input];
            let w = &graph.weights[weight];
            let (cols, wc) = (x.shape.cols, w.shape.cols);
            let data = x
                .data
                .iter()
                .enumerate()
                .map(|(i, &v)| v * w.data[(row0 + i / cols) * wc + (i % cols) % wc])
                .collect();
            Tensor::new(x.shape, data)
        }
        Op::RowSlice { input, start, len } => layout::row_slice(&values[input], start, len),
        Op::AssertZero { input } => {
            let x = &values[input];
            if let Some((index, &value)) = x.data.iter().enumerate().find(|(_, v)| **v != 0) {
                if strict_asserts && id != forged {
                    return Err(ExecError::NotZero {
                        node: id,
                        index,
                        value,
                    });
                }
            }
            x.clone()
        }
        Op::Rescale { input, shift } => {
            let x = &values[input];
            let data = x.data.iter().map(|&v| rescale_value(v, shift).0).collect();
            let y = Tensor::new(x.shape, data);
            let half = 1i64 << (rescale_output_log_range(shift) - 1);
            if let Some(&value) = y.data.iter().find(|v| !(-half..half).contains(*v)) {
                return Err(ExecError::ActivationRange {
                    node: id,
                    op: "rescale (the output range of its shift)",
                    value,
                    lo: -half,
                    hi: half,
                });
            }
            y
        }
    })
}

fn check_act(node: NodeId, op: &'static str, t: &Tensor) -> Result<(), ExecError> {
    match t.data.iter().find(|v| !(ACT_LO..ACT_HI).contains(*v)) {
        Some(&value) => Err(ExecError::ActivationRange {
            node,
            op,
            value,
            lo: ACT_LO,
            hi: ACT_HI,
        }),
        None => Ok(()),
    }
}

fn zip_with(a: &Tensor, b: &Tensor, f: impl Fn(i64, i64) -> i64) -> Tensor {
    Tensor::new(
        a.shape,
        a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y)).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{GraphBuilder, Weight};
    use proptest::prelude::*;

    #[test]
    fn rescale_rounds_half_up() {
        assert_eq!(rescale_value(5, 1), (3, -1));
        assert_eq!(rescale_value(-5, 1), (-2, -1));
        assert_eq!(rescale_value(7, 2), (2, -1));
        assert_eq!(rescale_value(-6, 2), (-1, -2));
    }

    proptest! {
        #[test]
        fn rescale_remainder_in_range(x in -(1i64 << 40)..(1i64 << 40), s in 1u32..20) {
            let (y, r) = rescale_value(x, s);
            prop_assert_eq!(x, (y << s) + r);
            prop_assert!(r >= -(1 << (s - 1)) && r < (1 << (s - 1)));
        }

        #[test]
        fn matmul_matches_naive(m in 1usize..40, k in 1usize..9, n in 1usize..1100, seed in any::<u64>()) {
            let mut s = seed;
            let mut next = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); ((s >> 33) as i64 % 200) - 100 };
            let x = Tensor::new(Shape::new(m, k), (0..m * k).map(|_| next()).collect());
            let w: Vec<i64> = (0..k * n).map(|_| next()).collect();
            let got = matmul(&x, &w, Shape::new(k, n));
            for i in 0..m { for j in 0..n {
                let want: i64 = (0..k).map(|t| x.get(i, t) * w[t * n + j]).sum();
                prop_assert_eq!(got.get(i, j), want);
            }}
        }
    }

    /// Large entries on both sides of the `f64` exactness bound: the result is exact either way.
    #[test]
    fn matmul_is_exact_near_the_f64_bound() {
        for (x_mag, w_mag) in [(1i64 << 29, 1i64 << 21), (1i64 << 29, 1i64 << 28)] {
            let (m, k, n) = (20, 5, 70);
            let x = Tensor::new(
                Shape::new(m, k),
                (0..m * k).map(|i| x_mag - 7 * i as i64).collect(),
            );
            let w: Vec<i64> = (0..k * n)
                .map(|i| {
                    if i % 3 == 0 {
                        -w_mag + i as i64
                    } else {
                        w_mag - 1
                    }
                })
                .collect();
            let got = matmul(&x, &w, Shape::new(k, n));
            for i in 0..m {
                for j in 0..n {
                    let want: i128 = (0..k)
                        .map(|t| x.get(i, t) as i128 * w[t * n + j] as i128)
                        .sum();
                    assert_eq!(
                        got.get(i, j) as i128,
                        want,
                        "x {x_mag} w {w_mag} ({i}, {j})"
                    );
                }
            }
        }
    }

    #[test]
    fn overflow_is_reported() {
        let mut b = GraphBuilder::new("t", Shape::new(1, 2), 0).unwrap();
        let w = Weight {
            name: "w".into(),
            shape: Shape::new(2, 1),
            scale: 0,
            data: vec![1 << 29, 1 << 29].into(),
        };
        let y = b.matmul(0, w).unwrap();
        let g = b.build(y).unwrap();
        let err = execute(&g, &Tensor::new(Shape::new(1, 2), vec![2, 2])).unwrap_err();
        assert!(matches!(err, ExecError::Overflow { node: 1, .. }));
    }

    #[test]
    fn bad_input_is_reported() {
        let b = GraphBuilder::new("t", Shape::new(1, 2), 0).unwrap();
        let g = b.build(0).unwrap();
        assert!(matches!(
            execute(&g, &Tensor::new(Shape::new(2, 1), vec![0, 0])),
            Err(ExecError::InputShape { .. })
        ));
        assert!(matches!(
            execute(&g, &Tensor::new(Shape::new(1, 2), vec![0, 1 << 20])),
            Err(ExecError::InputRange { index: 1, .. })
        ));
    }
}
