//! One shape rule per op: the shape of an op's output from its operands' and weights' shapes.
//! The builder ([`crate::GraphBuilder`]) computes every node's shape with it, and the proof
//! system's structure check (`zkml::circuit`) checks a deserialised graph against it, so the
//! two cannot drift apart. In a stack of `2^log_blocks` blocks ([`crate::stack`]) every node's
//! rows are the blocks' rows stacked, and per-block weights are stacked the same way.

use crate::graph::{Node, NodeId, Op};
use crate::softmax::SOFTMAX_BITS;
use crate::tensor::Shape;
use crate::ACT_BITS;

/// The shape of `op`'s output, or `None` when its operands do not fit it. `nodes` are the
/// nodes before it (operands must be among them), `weights` the weights' shapes. An `Input`
/// declares its own shape: `None`.
pub fn output_shape(op: &Op, nodes: &[Node], weights: &[Shape], log_blocks: u32) -> Option<Shape> {
    let nb = 1usize.checked_shl(log_blocks)?;
    let node = |id: NodeId| nodes.get(id).map(|n| n.shape);
    let weight = |w: usize| weights.get(w).copied();
    let same = |a: NodeId, b: NodeId| Some(node(a)?).filter(|&s| node(b) == Some(s));
    let pow2 = |n: usize| n.is_power_of_two();
    match *op {
        Op::Input => None,
        Op::MatMul { input, weight: w } => {
            let (x, ws) = (node(input)?, weight(w)?);
            (x.cols.checked_mul(nb)? == ws.rows).then(|| Shape::new(x.rows, ws.cols))
        }
        Op::MatMulTransposed { input, weight: w } => {
            let (x, ws) = (node(input)?, weight(w)?);
            (nb == 1 && x.cols == ws.cols).then(|| Shape::new(x.rows, ws.rows))
        }
        Op::MatMulAct {
            lhs,
            rhs,
            transpose_rhs,
        } => {
            let (l, r) = (node(lhs)?, node(rhs)?);
            let (k, n) = if transpose_rhs {
                (r.cols, r.rows / nb)
            } else {
                (r.rows / nb, r.cols)
            };
            (r.rows.is_multiple_of(nb) && l.cols == k).then(|| Shape::new(l.rows, n))
        }
        Op::AddBias { input, bias } => {
            let x = node(input)?;
            let b = weight(bias)?;
            (b == Shape::new(1, x.cols) || b == x).then_some(x)
        }
        Op::Add { lhs, rhs } | Op::Mul { lhs, rhs } => same(lhs, rhs),
        Op::Relu { input } | Op::AssertZero { input } => node(input),
        Op::RowSum { input } => Some(Shape::new(node(input)?.rows, 1)),
        Op::MulConst { input, c, .. } => (c != 0 && c.abs() < 1 << 30).then_some(node(input)?),
        Op::AddConst { input, c } => (c.abs() < 1 << 30).then_some(node(input)?),
        Op::MulColumn { lhs, rhs } => {
            let x = node(lhs)?;
            (node(rhs)? == Shape::new(x.rows, 1)).then_some(x)
        }
        Op::MulWeight { input, weight: w } => {
            // A full tensor of gains, or one row of gains (in a stack one row per block).
            let (x, ws) = (node(input)?, weight(w)?);
            (ws == x || ws == Shape::new(nb, x.cols)).then_some(x)
        }
        Op::MulWeightRows {
            input,
            weight: w,
            row0,
        } => {
            let (x, ws) = (node(input)?, weight(w)?);
            let rows = 1usize << x.log_rows().checked_sub(log_blocks)?;
            let cols = 1usize << x.log_cols();
            (pow2(ws.cols)
                && cols.is_multiple_of(ws.cols)
                && pow2(ws.rows)
                && row0.is_multiple_of(rows)
                && row0.checked_add(rows).is_some_and(|end| end <= ws.rows))
            .then_some(x)
        }
        Op::ColumnSlice { input, start, len } => {
            let x = node(input)?;
            (len >= 2
                && pow2(len)
                && start.is_multiple_of(len)
                && start.checked_add(len).is_some_and(|end| end <= x.cols))
            .then(|| Shape::new(x.rows, len))
        }
        Op::RowSlice { input, start, len } => {
            let x = node(input)?;
            (pow2(len)
                && start.is_multiple_of(len)
                && start.checked_add(len).is_some_and(|end| end <= x.rows))
            .then(|| Shape::new(len, x.cols))
        }
        Op::ConcatColumns { ref parts } => {
            let first = node(*parts.first()?)?;
            let all_same = parts.iter().all(|&p| node(p) == Some(first));
            (all_same && first.cols >= 2 && pow2(first.cols))
                .then(|| Shape::new(first.rows, first.cols * parts.len()))
        }
        Op::ConcatAligned { ref parts } => {
            let shapes: Vec<Shape> = parts.iter().map(|&p| node(p)).collect::<Option<_>>()?;
            let rows = shapes.first()?.rows;
            (shapes
                .iter()
                .all(|s| s.rows == rows && s.cols >= 2 && pow2(s.cols))
                && shapes.windows(2).all(|w| w[1].cols <= w[0].cols))
            .then(|| Shape::new(rows, shapes.iter().map(|s| s.cols).sum()))
        }
        Op::WindowGather {
            input,
            ref window,
            mode,
        } => (nb == 1)
            .then_some(())
            .and_then(|()| crate::window::gather_shape(node(input)?, window, mode)),
        Op::BroadcastRow { input, rows } => {
            let x = node(input)?;
            (x.rows == 1 && rows >= 1).then(|| Shape::new(rows, x.cols))
        }
        Op::BroadcastColumn { input, cols } => {
            let x = node(input)?;
            (x.cols == 1 && cols >= 1).then(|| Shape::new(x.rows, cols))
        }
        Op::RotateHalf { input, log_block } => {
            let x = node(input)?;
            ((1..=20).contains(&log_block) && x.cols.is_multiple_of(1usize << log_block))
                .then_some(x)
        }
        Op::Lookup { input, table } => {
            (weight(table)? == Shape::new(1, 1 << ACT_BITS)).then_some(node(input)?)
        }
        Op::Rescale { input, shift } => (1..=crate::execute::MAX_SHIFT)
            .contains(&shift)
            .then_some(node(input)?),
        Op::SoftmaxMax { input, causal } => {
            let x = node(input)?;
            (!causal || x.rows / nb <= x.cols).then(|| Shape::new(x.rows, 1))
        }
        Op::SoftmaxExp {
            input,
            max,
            table,
            causal,
        } => {
            let max_fits = nodes.get(max)?.op == Op::SoftmaxMax { input, causal };
            let table_fits = weight(table)? == Shape::new(1, 1 << ACT_BITS);
            (max_fits && table_fits).then_some(node(input)?)
        }
        Op::SoftmaxDiv {
            input,
            shift,
            causal,
        } => {
            let exp =
                matches!(nodes.get(input)?.op, Op::SoftmaxExp { causal: c, .. } if c == causal);
            (exp && (1..=SOFTMAX_BITS).contains(&shift)).then_some(node(input)?)
        }
        Op::Embedding { input, table } => {
            let (x, w) = (node(input)?, weight(table)?);
            (input == 0 && x.cols == 1 && w.rows <= crate::softmax::MAX_VOCAB)
                .then(|| Shape::new(x.rows, w.cols))
        }
    }
}
