//! Row-wise softmax in three integer steps, and the embedding lookup.
//!
//! `softmax(x)_ij = floor(e_ij 2^q / s_i)` with `e_ij = round(exp((x_ij - m_i) / 2^scale) 2^k)`
//! (a committed exp table), `m_i` the row maximum and `s_i = sum_j e_ij`, over the allowed
//! entries of each row (all real columns, or with a causal mask columns `j <= i`); other
//! entries are 0. Each step is a node ([`Op::SoftmaxMax`], [`Op::SoftmaxExp`],
//! [`Op::SoftmaxDiv`]) whose relation the proof checks completely (see the `gkr` crate's
//! `softmax` module); the builder only accepts them in this pattern.
//!
//! Bounds the proof relies on, checked here: the exp table's values on inputs `t <= 0` lie in
//! `[0, 2^k]` with `exp(0) >= 1`, and `k + log2(padded columns) <= 14`, so that row sums stay
//! at most `2^14`; `q <= 14`, so that the quotient is in the activation range; the gap
//! `m_i - x_ij` must fit the exp table's domain, `2^15` (the executor refuses larger gaps).

use crate::execute::{ExecError, ACT_HI, ACT_LO};
use crate::func::Func;
use crate::graph::{GraphBuilder, GraphError, NodeId, Op, Weight};
use crate::tensor::{Shape, Tensor};
use crate::ACT_BITS;

/// Fractional bits of a softmax output built by [`GraphBuilder::softmax`].
pub const SOFTMAX_BITS: u32 = 14;
/// `log2` of the largest row sum of exp values the proof allows.
pub const MAX_ROW_SUM_BITS: u32 = 14;

/// Largest vocabulary of an embedding. Token ids are public and only select table rows (the
/// verifier evaluates the one-hot side itself), so they need not fit the activation range.
pub const MAX_VOCAB: usize = 1 << 18;
/// Fractional bits of the exp values, at most.
const MAX_EXP_BITS: u32 = 12;
/// Fewer fractional bits of the exp values than this are too coarse to be useful.
const MIN_EXP_BITS: u32 = 4;

fn bad(node: NodeId, op: &'static str, detail: String) -> GraphError {
    GraphError::ShapeMismatch { node, op, detail }
}

impl GraphBuilder {
    /// Softmax over each row of `input` (a causal mask if `causal`), at [`SOFTMAX_BITS`]
    /// fractional bits. The exp values get `min(12, 14 - log2 cols)` fractional bits.
    pub fn softmax(&mut self, input: NodeId, causal: bool) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        let lc = x.shape.log_cols();
        let k = MAX_EXP_BITS.min(MAX_ROW_SUM_BITS.saturating_sub(lc));
        if k < MIN_EXP_BITS {
            return Err(bad(
                self.nodes.len(),
                "softmax",
                format!(
                    "{} columns leave fewer than {MIN_EXP_BITS} bits for exp",
                    x.shape.cols
                ),
            ));
        }
        let max = self.softmax_max(input, causal)?;
        let e = self.softmax_exp(input, max, Func::Exp.table(x.scale, k))?;
        self.softmax_div(e, SOFTMAX_BITS)
    }

    /// Row maximum over the allowed entries.
    pub fn softmax_max(&mut self, input: NodeId, causal: bool) -> Result<NodeId, GraphError> {
        let x = self.node(input)?.clone();
        if causal && x.shape.rows > x.shape.cols {
            return Err(bad(
                self.nodes.len(),
                "softmax_max",
                "a causal mask needs at least as many columns as rows".into(),
            ));
        }
        self.push(
            Op::SoftmaxMax { input, causal },
            Shape::new(x.shape.rows, 1),
            x.scale,
        )
    }

    /// `exp(input - max)` on the allowed entries through `table` (an exp table at the input's
    /// scale, see [`Func::table`]); `max` must be the [`Op::SoftmaxMax`] of `input`.
    pub fn softmax_exp(
        &mut self,
        input: NodeId,
        max: NodeId,
        table: Weight,
    ) -> Result<NodeId, GraphError> {
        let id = self.nodes.len();
        let x = self.node(input)?.clone();
        let causal = match self.node(max)?.op {
            Op::SoftmaxMax { input: i, causal } if i == input => causal,
            _ => {
                return Err(bad(
                    id,
                    "softmax_exp",
                    "max must be the softmax_max of the same input".into(),
                ))
            }
        };
        check_exp_table(id, &table)?;
        let k = table.scale;
        if x.shape.log_cols() + k > MAX_ROW_SUM_BITS {
            return Err(bad(
                id,
                "softmax_exp",
                format!("exp bits {k} + log2 columns exceed {MAX_ROW_SUM_BITS}"),
            ));
        }
        let table = match self.weights.iter().position(|w| *w == table) {
            Some(t) => t,
            None => self.weight(table)?,
        };
        self.push(
            Op::SoftmaxExp {
                input,
                max,
                table,
                causal,
            },
            x.shape,
            k,
        )
    }

    /// `floor(e 2^shift / rowsum(e))` for `input` a [`Op::SoftmaxExp`].
    pub fn softmax_div(&mut self, input: NodeId, shift: u32) -> Result<NodeId, GraphError> {
        let e = self.node(input)?.clone();
        let Op::SoftmaxExp { causal, .. } = e.op else {
            return Err(bad(
                self.nodes.len(),
                "softmax_div",
                "input must be a softmax_exp".into(),
            ));
        };
        if !(1..=SOFTMAX_BITS).contains(&shift) {
            return Err(GraphError::BadShift {
                node: self.nodes.len(),
                shift,
            });
        }
        self.push(
            Op::SoftmaxDiv {
                input,
                shift,
                causal,
            },
            e.shape,
            shift,
        )
    }

    /// Rows of `table` (`vocab x d`) selected by the token ids of the public input, which must
    /// be a `seq x 1` column at scale 0.
    pub fn embedding(&mut self, input: NodeId, table: Weight) -> Result<NodeId, GraphError> {
        let id = self.nodes.len();
        let x = self.node(input)?.clone();
        if input != 0 || x.shape.cols != 1 || x.scale != 0 {
            return Err(bad(
                id,
                "embedding",
                "the token ids must be the model input, a column at scale 0".into(),
            ));
        }
        if table.shape.rows > MAX_VOCAB {
            return Err(bad(id, "embedding", "vocabulary above 2^18".into()));
        }
        let (cols, scale) = (table.shape.cols, table.scale);
        let w = self.weight(table)?;
        self.push(
            Op::Embedding { input, table: w },
            Shape::new(x.shape.rows, cols),
            scale,
        )
    }
}

/// The exp table must be `1 x 2^ACT_BITS`, with values in `[0, 2^k]` on inputs `t <= 0` and at
/// least 1 at `t = 0`: the bounds the division's proof relies on.
fn check_exp_table(node: NodeId, t: &Weight) -> Result<(), GraphError> {
    let zero = (-ACT_LO) as usize;
    let ok = t.shape == Shape::new(1, 1 << ACT_BITS)
        && t.scale <= MAX_EXP_BITS
        && t.data.len() == 1 << ACT_BITS
        && t.data[..=zero]
            .iter()
            .all(|&v| (0..=1i64 << t.scale).contains(&v))
        && t.data[zero] >= 1;
    if ok {
        Ok(())
    } else {
        Err(bad(
            node,
            "softmax_exp",
            "table must be an exp table bounded by 2^k on t <= 0".into(),
        ))
    }
}

/// Whether column `j` of row `i` takes part.
pub fn allowed(causal: bool, i: usize, j: usize) -> bool {
    !causal || j <= i
}

/// Row maxima over the allowed entries.
pub(crate) fn row_max(x: &Tensor, causal: bool) -> Tensor {
    let cols = x.shape.cols;
    let data = x
        .data
        .chunks(cols)
        .enumerate()
        .map(|(i, row)| {
            row.iter()
                .enumerate()
                .filter(|&(j, _)| allowed(causal, i, j))
                .map(|(_, &v)| v)
                .max()
                .unwrap_or(0)
        })
        .collect();
    Tensor::new(Shape::new(x.shape.rows, 1), data)
}

/// `table[x - m]` on the allowed entries, 0 elsewhere.
pub(crate) fn exp_rows(
    node: NodeId,
    x: &Tensor,
    m: &Tensor,
    table: &[i64],
    causal: bool,
) -> Result<Tensor, ExecError> {
    let cols = x.shape.cols;
    let mut data = vec![0; x.data.len()];
    for (idx, out) in data.iter_mut().enumerate() {
        let (i, j) = (idx / cols, idx % cols);
        if !allowed(causal, i, j) {
            continue;
        }
        let t = x.data[idx] - m.data[i];
        if !(ACT_LO..ACT_HI).contains(&t) {
            return Err(ExecError::ActivationRange {
                node,
                op: "softmax_exp (gap to the row max)",
                value: t,
                lo: ACT_LO,
                hi: ACT_HI,
            });
        }
        *out = table[(t - ACT_LO) as usize];
    }
    Ok(Tensor::new(x.shape, data))
}

/// `floor(e 2^shift / rowsum(e))`, 0 on rows summing to 0 or less.
pub(crate) fn div_rows(e: &Tensor, shift: u32) -> Tensor {
    let cols = e.shape.cols;
    let data = e
        .data
        .chunks(cols)
        .flat_map(|row| {
            let s: i64 = row.iter().sum();
            row.iter()
                .map(move |&v| if s > 0 { (v << shift).div_euclid(s) } else { 0 })
        })
        .collect();
    Tensor::new(e.shape, data)
}

/// The table rows named by `ids`.
pub(crate) fn embed(node: NodeId, ids: &Tensor, table: &Weight) -> Result<Tensor, ExecError> {
    let (vocab, d) = (table.shape.rows, table.shape.cols);
    let mut data = Vec::with_capacity(ids.data.len() * d);
    for (index, &id) in ids.data.iter().enumerate() {
        if !(0..vocab as i64).contains(&id) {
            return Err(ExecError::TokenRange {
                node,
                index,
                value: id,
                vocab,
            });
        }
        let r = id as usize;
        data.extend_from_slice(&table.data[r * d..(r + 1) * d]);
    }
    Ok(Tensor::new(Shape::new(ids.shape.rows, d), data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::execute;
    use crate::graph::validate;

    #[test]
    fn causal_softmax_values() {
        let mut b = GraphBuilder::new("s", Shape::new(3, 3), 0).unwrap();
        let p = b.softmax(0, true).unwrap();
        let g = b.build(p).unwrap();
        validate(&g).unwrap();
        let x = Tensor::new(Shape::new(3, 3), vec![0, 9, 9, 1, 0, 9, 0, 0, 0]);
        let t = execute(&g, &x).unwrap();
        // Row maxima over the allowed prefix only.
        assert_eq!(t.values[1].data, vec![0, 1, 0]);
        let p = &t.values[3];
        assert_eq!(p.data[..3], [1 << SOFTMAX_BITS, 0, 0]);
        // Three equal scores: a third each, rounded down.
        assert_eq!(p.data[6..], [(1 << SOFTMAX_BITS) / 3; 3]);
        assert!(p.data[3] > p.data[4] && p.data[5] == 0);
    }

    #[test]
    fn steps_only_in_their_pattern() {
        let mut b = GraphBuilder::new("s", Shape::new(4, 4), 8).unwrap();
        let y = b.rescale(0, 1).unwrap();
        let m = b.softmax_max(0, false).unwrap();
        let table = Func::Exp.table(8, 10);
        // The max of another input, or not a max at all.
        assert!(b.softmax_exp(y, m, table.clone()).is_err());
        assert!(b.softmax_exp(0, y, table.clone()).is_err());
        // An exp table that exceeds 2^k on t <= 0.
        let mut big = table.clone();
        big.data[100] = 1 << 11;
        assert!(b.softmax_exp(0, m, big).is_err());
        // A division of anything but an exp step.
        assert!(b.softmax_div(y, 14).is_err());
        let e = b.softmax_exp(0, m, table).unwrap();
        assert!(b.softmax_div(e, 15).is_err());
        assert!(b.softmax_div(e, 14).is_ok());
        // A causal mask needs a key for every query.
        let mut b = GraphBuilder::new("s", Shape::new(4, 2), 8).unwrap();
        assert!(b.softmax(0, true).is_err());
        // Embeddings read the public token ids only.
        let table = Weight {
            name: "e".into(),
            shape: Shape::new(4, 2),
            scale: 8,
            data: vec![0; 8].into(),
        };
        assert!(b.embedding(0, table).is_err());
    }
}
