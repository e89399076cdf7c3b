//! How looked-up columns are laid out as GKR instances.
//!
//! Columns that read the same table, have the same length `2^n` and the same [`RealMask`] are
//! concatenated, `2^g` at a time, into one instance of `g + n` variables (column index as the
//! `g` leading, most significant, variables). Its fractional sum is the sum of its columns'
//! sums, so the LogUp statement is unchanged; what changes is the number of instances, each
//! with its own oracle in every GKR layer (a 4-block stack has 300 columns but only a few
//! dozen instances).
//!
//! The GKR ends at a point `(rho_sel, rho_col)` of the instance, `rho_col` the same length-`n`
//! suffix of the batch point that a single column would get. The denominator's multilinear
//! extension there is `z - sum_s eq(rho_sel, s) (e0_s + beta e1_s)` with `e_s` the column
//! evaluations at `rho_col`, and the numerator is the mask's extension at `rho_col` (or 1):
//! the verifier checks both from the column evaluations, which become claims on the columns
//! exactly as before. Prover and verifier derive the layout from the column specs alone.

use num_traits::{One, Zero};
use stwo::core::fields::qm31::QM31;

use crate::lookup::{ColumnSpec, RealMask};

/// Largest number of variables of a concatenated instance (`2^22` denominators, 64 MiB).
const MAX_INSTANCE_VARS: u32 = 22;

/// One GKR instance: `columns.len()` (a power of two) columns concatenated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Column indices, in concatenation order.
    pub columns: Vec<usize>,
    /// `log2` of each column's length.
    pub log_len: u32,
    pub mask: Option<RealMask>,
}

impl Instance {
    /// `log2` of the number of columns.
    pub fn log_group(&self) -> u32 {
        self.columns.len().ilog2()
    }

    /// The instance's number of variables.
    pub fn n_vars(&self) -> usize {
        (self.log_group() + self.log_len) as usize
    }

    /// The input-layer claim `[numerator, denominator]` the instance must end at, given the
    /// instance point and each column's component evaluations at the point's column suffix.
    pub fn input_claim(&self, point: &[QM31], evals: &[&[QM31]], z: QM31, beta: QM31) -> [QM31; 2] {
        let (sel, col) = point.split_at(self.log_group() as usize);
        let eq = sumcheck::eq_evals(sel);
        let mut v = QM31::zero();
        for (&w, e) in eq.iter().zip(evals) {
            let mut x = e[0];
            if let Some(&second) = e.get(1) {
                x += beta * second;
            }
            v += w * x;
        }
        let numerator = self.mask.map_or(QM31::one(), |m| m.eval(col));
        [numerator, z - v]
    }
}

/// Groups columns into instances: per (table, length, mask), in order of first appearance,
/// the columns are cut into power-of-two runs, largest first, of at most
/// `2^(MAX_INSTANCE_VARS - n)` columns.
pub fn instances(columns: &[ColumnSpec]) -> Vec<Instance> {
    let mut groups: Vec<(ColumnSpec, Vec<usize>)> = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        match groups.iter_mut().find(|(k, _)| k == c) {
            Some((_, v)) => v.push(i),
            None => groups.push((*c, vec![i])),
        }
    }
    let mut out = Vec::new();
    for (spec, cols) in groups {
        let max_group = 1usize << MAX_INSTANCE_VARS.saturating_sub(spec.log_len);
        let mut rest = cols.as_slice();
        while !rest.is_empty() {
            let take = (1usize << rest.len().ilog2()).min(max_group);
            let (head, tail) = rest.split_at(take);
            out.push(Instance {
                columns: head.to_vec(),
                log_len: spec.log_len,
                mask: spec.mask,
            });
            rest = tail;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(table: usize, log_len: u32) -> ColumnSpec {
        ColumnSpec {
            table,
            log_len,
            mask: None,
        }
    }

    #[test]
    fn groups_by_table_and_length_in_powers_of_two() {
        let cols = [
            spec(0, 4),
            spec(1, 4),
            spec(0, 4),
            spec(0, 5),
            spec(0, 4),
            spec(0, 4),
            spec(0, 4),
        ];
        let inst = instances(&cols);
        let layout: Vec<(Vec<usize>, u32)> = inst
            .iter()
            .map(|i| (i.columns.clone(), i.log_len))
            .collect();
        assert_eq!(
            layout,
            vec![
                (vec![0, 2, 4, 5], 4),
                (vec![6], 4),
                (vec![1], 4),
                (vec![3], 5)
            ]
        );
        assert_eq!(inst[0].n_vars(), 6);
        // Every column in exactly one instance.
        let mut all: Vec<usize> = inst.iter().flat_map(|i| i.columns.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..cols.len()).collect::<Vec<_>>());
    }

    #[test]
    fn instances_stay_under_the_size_cap() {
        let cols = vec![spec(0, 20); 9];
        let inst = instances(&cols);
        assert!(inst
            .iter()
            .all(|i| i.n_vars() <= MAX_INSTANCE_VARS as usize));
        assert_eq!(inst.iter().map(|i| i.columns.len()).sum::<usize>(), 9);
    }
}
