//! Checking a graph that did not come from the builder (a deserialised one): it is rebuilt
//! node by node through [`GraphBuilder`], so every shape and scale rule applies again.

use crate::graph::{Graph, GraphBuilder, GraphError, Op, WeightId};
use crate::tensor::Shape;

/// Checks a graph that did not come from the builder (e.g. deserialised): operands refer to
/// earlier nodes, shapes and scales are consistent, node 0 is an input.
pub fn validate(graph: &Graph) -> Result<(), GraphError> {
    if graph.log_blocks > 0 {
        // A stack is valid when its first block is and re-stacking it gives its shapes.
        if graph.log_blocks > 10 {
            return Err(GraphError::ShapeMismatch {
                node: 0,
                op: "stack",
                detail: format!("2^{} blocks", graph.log_blocks),
            });
        }
        let block = crate::stack::block_of(graph, 0)?;
        validate(&block)?;
        let n = 1usize << graph.log_blocks;
        for (id, (s, b)) in graph.nodes.iter().zip(&block.nodes).enumerate() {
            if s.shape.rows != b.shape.rows * n || b.shape.rows < 2 {
                return Err(GraphError::ShapeMismatch {
                    node: id,
                    op: s.op.kind(),
                    detail: "rows are not the blocks' rows stacked".into(),
                });
            }
        }
        return Ok(());
    }
    let first = graph.nodes.first().ok_or(GraphError::NoInput)?;
    if first.op != Op::Input {
        return Err(GraphError::NoInput);
    }
    let mut b = GraphBuilder::new(graph.name.clone(), first.shape, first.scale)?;
    for (id, node) in graph.nodes.iter().enumerate().skip(1) {
        for operand in node.op.inputs() {
            if operand >= id {
                return Err(GraphError::BadOperand { node: id, operand });
            }
        }
        let weight = |w: WeightId| {
            graph.weights.get(w).cloned().ok_or(GraphError::BadOperand {
                node: id,
                operand: w,
            })
        };
        let got = match node.op {
            Op::Input => b.public_input(node.shape, node.scale)?,
            Op::RowSlice { input, start, len } => b.row_slice(input, start, len)?,
            Op::AssertZero { input } => b.assert_zero(input)?,
            Op::MulWeightRows {
                input,
                weight: w,
                row0,
            } => b.mul_weight_rows(input, weight(w)?, row0)?,
            Op::MatMul { input, weight: w } => b.matmul(input, weight(w)?)?,
            Op::MatMulTransposed { input, weight: w } => {
                // The weight must be the one an earlier op added at this id.
                if b.weights.get(w) != graph.weights.get(w) {
                    return Err(GraphError::BadOperand {
                        node: id,
                        operand: w,
                    });
                }
                b.matmul_transposed(input, w)?
            }
            Op::MatMulAct {
                lhs,
                rhs,
                transpose_rhs,
            } => b.matmul_act(lhs, rhs, transpose_rhs)?,
            Op::AddBias { input, bias } => b.add_bias(input, weight(bias)?)?,
            Op::Add { lhs, rhs } => b.add(lhs, rhs)?,
            Op::Mul { lhs, rhs } => b.mul(lhs, rhs)?,
            Op::Relu { input } => b.relu(input)?,
            Op::RowSum { input } => b.row_sum(input)?,
            Op::MulConst {
                input,
                c,
                frac_bits,
            } => b.mul_const(input, c, frac_bits)?,
            Op::AddConst { input, c } => b.add_const(input, c)?,
            Op::MulColumn { lhs, rhs } => b.mul_column(lhs, rhs)?,
            Op::MulWeight { input, weight: w } => b.mul_weight(input, weight(w)?)?,
            Op::RotateHalf { input, log_block } => b.rotate_half(input, log_block)?,
            Op::BroadcastColumn { input, cols } => b.broadcast_column(input, cols)?,
            Op::BroadcastRow { input, rows } => b.broadcast_row(input, rows)?,
            Op::WindowGather {
                input,
                window,
                mode,
            } => b.window_gather(input, window, mode)?,
            Op::ColumnSlice { input, start, len } => b.column_slice(input, start, len)?,
            Op::ConcatColumns { ref parts } => b.concat_columns(parts)?,
            Op::ConcatAligned { ref parts } => b.concat_aligned(parts)?,
            Op::Lookup { input, table } => {
                let t = weight(table)?;
                if t.shape != Shape::new(1, 1 << crate::ACT_BITS) {
                    return Err(GraphError::ShapeMismatch {
                        node: id,
                        op: "lookup",
                        detail: "table must be 1 x 2^ACT_BITS".into(),
                    });
                }
                let w = match b.weights.iter().position(|x| *x == t) {
                    Some(w) => w,
                    None => b.weight(t.clone())?,
                };
                b.push(
                    Op::Lookup { input, table: w },
                    b.nodes[input].shape,
                    t.scale,
                )?
            }
            Op::Rescale { input, shift } => b.rescale(input, shift)?,
            Op::SoftmaxMax { input, causal } => b.softmax_max(input, causal)?,
            Op::SoftmaxExp {
                input, max, table, ..
            } => b.softmax_exp(input, max, weight(table)?)?,
            Op::SoftmaxDiv { input, shift, .. } => b.softmax_div(input, shift)?,
            Op::Embedding { input, table } => b.embedding(input, weight(table)?)?,
        };
        if b.nodes[got] != *node {
            return Err(GraphError::ShapeMismatch {
                node: id,
                op: node.op.kind(),
                detail: "declared shape or scale differs from the computed one".into(),
            });
        }
    }
    if let Some(&bad) = std::iter::once(&graph.output)
        .chain(&graph.more_outputs)
        .find(|&&o| o >= graph.nodes.len())
    {
        return Err(GraphError::BadOperand {
            node: graph.nodes.len(),
            operand: bad,
        });
    }
    Ok(())
}
