//! Lookup tables. `Range` and `Relu` tables are evaluated by the verifier itself in
//! `O(log)`; a `Committed` table's output column is data committed elsewhere (in the model's
//! weight commitment), so the verifier receives a claim about it instead of evaluating it.

use serde::{Deserialize, Serialize};
use stwo::core::fields::m31::{M31, P};
use stwo::core::fields::qm31::QM31;

/// A lookup table over `2^log_size` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TableKind {
    /// Row `b` holds the single value `lo + b`: a range check of `[lo, lo + 2^log_size)`.
    Range { lo: i64, log_size: u32 },
    /// Row `b` holds the pair `(t, max(t, 0))` with `t = b - 2^(log_size - 1)`: a ReLU table
    /// over the signed range, which also range-checks its input.
    Relu { log_size: u32 },
    /// Row `b` holds the pair `(t, f_b)` with `t = b - 2^(log_size - 1)` and `f` a committed
    /// column (any function of `t`: SiLU, GELU, exp, rsqrt, ...); `id` tells tables apart.
    Committed { log_size: u32, id: u32 },
}

pub(crate) fn signed_m31(x: i64) -> M31 {
    M31::from_u32_unchecked(x.rem_euclid(P as i64) as u32)
}

fn signed_of(x: M31) -> i64 {
    let v = x.0 as i64;
    if v > (P as i64) / 2 {
        v - P as i64
    } else {
        v
    }
}

impl TableKind {
    pub fn log_size(&self) -> u32 {
        match *self {
            TableKind::Range { log_size, .. }
            | TableKind::Relu { log_size }
            | TableKind::Committed { log_size, .. } => log_size,
        }
    }

    /// Number of components of a row (1 for a range, 2 for a pair table).
    pub fn arity(&self) -> usize {
        match self {
            TableKind::Range { .. } => 1,
            TableKind::Relu { .. } | TableKind::Committed { .. } => 2,
        }
    }

    /// Whether the second component is committed data rather than a formula.
    pub fn is_committed(&self) -> bool {
        matches!(self, TableKind::Committed { .. })
    }

    /// The MLE of each component at `point` (MSB-first), computed in `O(log_size)`. For a
    /// `Committed` table the second component is not known here and is returned as zero.
    pub fn eval(&self, point: &[QM31]) -> [QM31; 2] {
        let n = point.len();
        // sum_j 2^(n-1-j) x_j: the MLE of the row index.
        let index_from = |from: usize| -> QM31 {
            point[from..]
                .iter()
                .enumerate()
                .map(|(j, &x)| x * M31::from_u32_unchecked(1 << (n - 1 - from - j)))
                .sum()
        };
        let signed_index = |log_size: u32| index_from(0) - signed_m31(1i64 << (log_size - 1));
        match *self {
            TableKind::Range { lo, .. } => [index_from(0) + signed_m31(lo), QM31::default()],
            TableKind::Relu { log_size } => {
                // relu(t) = b_0 * (index without its top bit).
                let relu = if n == 0 {
                    QM31::default()
                } else {
                    point[0] * index_from(1)
                };
                [signed_index(log_size), relu]
            }
            TableKind::Committed { log_size, .. } => [signed_index(log_size), QM31::default()],
        }
    }
}

/// A table as the prover sees it: its kind and, for a committed table, its output column.
#[derive(Clone, Copy, Debug)]
pub struct TableData<'a> {
    pub kind: TableKind,
    pub values: Option<&'a [M31]>,
}

impl<'a> TableData<'a> {
    /// A table defined by its kind alone.
    pub fn formula(kind: TableKind) -> Self {
        Self { kind, values: None }
    }

    /// A committed table with output column `values` (length `2^log_size`).
    pub fn committed(kind: TableKind, values: &'a [M31]) -> Self {
        Self {
            kind,
            values: Some(values),
        }
    }

    fn committed_value(&self, b: usize) -> M31 {
        self.values
            .and_then(|v| v.get(b).copied())
            .unwrap_or(M31::from_u32_unchecked(0))
    }

    /// The components of row `b`.
    pub fn row(&self, b: usize) -> [M31; 2] {
        match self.kind {
            TableKind::Range { lo, .. } => [signed_m31(lo + b as i64), M31::from_u32_unchecked(0)],
            TableKind::Relu { log_size } => {
                let t = b as i64 - (1i64 << (log_size - 1));
                [signed_m31(t), signed_m31(t.max(0))]
            }
            TableKind::Committed { log_size, .. } => {
                let t = b as i64 - (1i64 << (log_size - 1));
                [signed_m31(t), self.committed_value(b)]
            }
        }
    }

    /// The row index holding `values`, if any.
    pub fn index_of(&self, values: [M31; 2]) -> Option<usize> {
        let size = 1i64 << self.kind.log_size();
        match self.kind {
            TableKind::Range { lo, .. } => {
                let b = signed_of(values[0]) - lo;
                (0..size).contains(&b).then_some(b as usize)
            }
            TableKind::Relu { .. } | TableKind::Committed { .. } => {
                let t = signed_of(values[0]);
                let b = t + size / 2;
                if !(0..size).contains(&b) {
                    return None;
                }
                let b = b as usize;
                (self.row(b)[1] == values[1]).then_some(b)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sumcheck::eval_mle_base;

    #[test]
    fn eval_matches_table_mle() {
        let pt: Vec<QM31> = (0..5)
            .map(|i| QM31::from_u32_unchecked(i * 11 + 3, 2, 7, i))
            .collect();
        for kind in [
            TableKind::Range {
                lo: -16,
                log_size: 5,
            },
            TableKind::Relu { log_size: 5 },
        ] {
            let data = TableData::formula(kind);
            for c in 0..kind.arity() {
                let col: Vec<M31> = (0..32).map(|b| data.row(b)[c]).collect();
                assert_eq!(eval_mle_base(&col, &pt), kind.eval(&pt)[c]);
            }
            for b in 0..32 {
                assert_eq!(data.index_of(data.row(b)), Some(b));
            }
        }
        let relu = TableData::formula(TableKind::Relu { log_size: 5 });
        assert_eq!(relu.index_of([signed_m31(-3), signed_m31(-3)]), None);
        assert_eq!(relu.index_of([signed_m31(16), signed_m31(16)]), None);
    }

    #[test]
    fn committed_table_rows() {
        let f: Vec<M31> = (0..16).map(|b| M31::from(b * b)).collect();
        let t = TableData::committed(TableKind::Committed { log_size: 4, id: 0 }, &f);
        assert_eq!(t.row(9), [signed_m31(1), M31::from(81)]);
        assert_eq!(t.index_of([signed_m31(1), M31::from(81)]), Some(9));
        assert_eq!(t.index_of([signed_m31(1), M31::from(80)]), None);
        assert_eq!(t.index_of([signed_m31(8), M31::from(0)]), None);
        let pt: Vec<QM31> = (0..4)
            .map(|i| QM31::from_u32_unchecked(i + 1, 5, 2, 8))
            .collect();
        let col: Vec<M31> = (0..16).map(|b| t.row(b)[0]).collect();
        assert_eq!(eval_mle_base(&col, &pt), t.kind.eval(&pt)[0]);
    }
}
