//! The prover's witness for the lookups: how often each table row is looked up.

use rayon::prelude::*;
use stwo::core::fields::m31::M31;

use crate::error::GkrError;
use crate::lookup::{LookupColumn, TableData};

/// Counts how often each table row is looked up: tables in parallel, each table's columns in
/// order into one count vector. On a value outside its table, the error names the first such
/// column.
pub fn multiplicities(
    tables: &[TableData<'_>],
    columns: &[LookupColumn<'_>],
) -> Result<Vec<Vec<M31>>, GkrError> {
    let counts: Vec<Result<Vec<u32>, (usize, u32)>> = tables
        .par_iter()
        .enumerate()
        .map(|(t, table)| {
            let mut counts = vec![0u32; 1 << table.kind.log_size()];
            for (c, col) in columns.iter().enumerate().filter(|(_, c)| c.table == t) {
                for (_, row) in col.rows() {
                    let b = table.index_of(row).ok_or((c, row[0].0))?;
                    counts[b] += 1;
                }
            }
            Ok(counts)
        })
        .collect();
    let mut out = Vec::with_capacity(tables.len());
    let mut first_error: Option<(usize, u32)> = None;
    for c in counts {
        match c {
            Ok(v) => out.push(v.into_iter().map(M31::from).collect()),
            Err(e) => first_error = Some(first_error.map_or(e, |f| f.min(e))),
        }
    }
    match first_error {
        Some((column, value)) => Err(GkrError::ValueNotInTable { column, value }),
        None => Ok(out),
    }
}
