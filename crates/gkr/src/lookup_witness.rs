//! The prover's witness for the lookups: how often each table row is looked up.

use rayon::prelude::*;
use stwo::core::fields::m31::M31;

use crate::error::GkrError;
use crate::lookup::{LookupColumn, TableData};

/// Counts how often each table row is looked up (columns in parallel, one count vector per
/// worker). On a value outside its table, the error names the first such column.
pub fn multiplicities(
    tables: &[TableData<'_>],
    columns: &[LookupColumn<'_>],
) -> Result<Vec<Vec<M31>>, GkrError> {
    let empty = || -> Vec<Vec<u32>> {
        tables
            .iter()
            .map(|t| vec![0u32; 1 << t.kind.log_size()])
            .collect()
    };
    // `Err((column, value))` keeps the lowest failing column.
    type Counts = Result<Vec<Vec<u32>>, (usize, u32)>;
    let merge = |a: Counts, b: Counts| -> Counts {
        match (a, b) {
            (Ok(mut a), Ok(b)) => {
                for (x, y) in a.iter_mut().zip(b) {
                    x.iter_mut().zip(y).for_each(|(u, v)| *u += v);
                }
                Ok(a)
            }
            (Err(e), Err(f)) => Err(e.min(f)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    };
    let counts = columns
        .par_iter()
        .enumerate()
        .fold(
            || Ok(empty()),
            |acc: Counts, (c, col)| {
                let mut counts = acc?;
                let table = tables[col.table];
                for (_, row) in col.rows() {
                    let b = table.index_of(row).ok_or((c, row[0].0))?;
                    counts[col.table][b] += 1;
                }
                Ok(counts)
            },
        )
        .reduce(|| Ok(empty()), merge)
        .map_err(|(column, value)| GkrError::ValueNotInTable { column, value })?;
    Ok(counts
        .into_iter()
        .map(|v| v.into_iter().map(M31::from).collect())
        .collect())
}
