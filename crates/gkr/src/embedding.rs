//! Embedding lookup `Y = OneHot(ids) . E`: the rows of a committed table `E` (`vocab x d`)
//! selected by public token ids. It is the matmul reduction with the one-hot matrix as left
//! operand; the verifier evaluates the one-hot MLE itself from the ids,
//! `OneHot(r_i, r_v) = sum_i eq(r_i, i) eq(r_v, id_i)`, in `O(rows log vocab)`.

use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use sumcheck::{eq_eval, eq_evals};

/// The one-hot matrix of `ids` as a padded `2^log_rows x 2^log_vocab` table.
///
/// # Panics
/// Panics if an id is not below `2^log_vocab` or there are more ids than rows (caller bugs).
pub fn one_hot_table(ids: &[usize], log_rows: u32, log_vocab: u32) -> Vec<M31> {
    let mut t = vec![M31::from_u32_unchecked(0); 1 << (log_rows + log_vocab)];
    assert!(ids.len() <= 1 << log_rows, "more ids than rows");
    for (i, &id) in ids.iter().enumerate() {
        assert!(id < 1 << log_vocab, "id beyond the table");
        t[(i << log_vocab) + id] = M31::from_u32_unchecked(1);
    }
    t
}

/// The one-hot matrix's MLE at `point = (r_rows || r_vocab)`.
pub fn one_hot_eval(ids: &[usize], log_rows: usize, point: &[QM31]) -> QM31 {
    let (r_i, r_v) = point.split_at(log_rows.min(point.len()));
    let eq_rows = eq_evals(r_i);
    ids.iter()
        .zip(&eq_rows)
        .map(|(&id, &w)| w * eq_eval(&sumcheck::mle::hypercube_point(id, r_v.len()), r_v))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sumcheck::eval_mle_base;

    #[test]
    fn one_hot_eval_matches_table() {
        let ids = [3usize, 0, 7];
        let t = one_hot_table(&ids, 2, 3);
        let p: Vec<QM31> = (0..5)
            .map(|i| QM31::from_u32_unchecked(i * 13 + 1, 2, 9, i))
            .collect();
        assert_eq!(one_hot_eval(&ids, 2, &p), eval_mle_base(&t, &p));
    }
}
