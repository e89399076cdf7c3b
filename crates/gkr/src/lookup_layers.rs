//! The input layers of the LogUp GKR (prover side), built in STWO's packed form: a column
//! instance's denominators `z_t - (v0 + beta v1)` over its concatenated columns and its mask
//! numerators, and a table's `-m_b / (z_t - t_b)`, with `z_t = z - gamma t` for table `t`
//! (see [`Challenges`]). Each vector of 16 lanes is computed at once
//! from packed base-field values, in parallel.

use num_traits::Zero;
use rayon::prelude::*;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
use stwo::prover::backend::simd::column::SecureColumn;
use stwo::prover::backend::simd::m31::{PackedM31, N_LANES};
use stwo::prover::backend::simd::qm31::PackedQM31;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::lookups::gkr_prover::Layer;
use stwo::prover::lookups::mle::Mle;

use crate::lookup::{Challenges, LookupColumn, TableData};
use crate::lookup_instances::Instance;

/// Packed vectors per parallel task.
const TASK: usize = 1 << 8;

fn load(c: &[M31]) -> PackedM31 {
    PackedM31::from_array(std::array::from_fn(|l| c[l]))
}

fn column(values: Vec<QM31>, packed: Vec<PackedQM31>) -> Mle<SimdBackend, QM31> {
    if packed.is_empty() {
        return Mle::new(values.into_iter().collect());
    }
    let length = packed.len() * N_LANES;
    Mle::new(SecureColumn {
        data: packed,
        length,
    })
}

/// `z - (v0 + beta v1)` (`z` already tagged with the table) for every row of the instance's columns, concatenated.
fn denominators(
    inst: &Instance,
    columns: &[LookupColumn<'_>],
    z: QM31,
    beta: QM31,
) -> Mle<SimdBackend, QM31> {
    let len = columns[inst.columns[0]].values[0].len();
    if len < N_LANES {
        let values = inst
            .columns
            .iter()
            .flat_map(|&c| {
                let col = &columns[c];
                (0..len).map(move |i| {
                    let second = col.values.get(1).map_or(QM31::from(0u32), |s| beta * s[i]);
                    z - (QM31::from(col.values[0][i]) + second)
                })
            })
            .collect();
        return column(values, vec![]);
    }
    let (zp, bp) = (PackedQM31::broadcast(z), PackedQM31::broadcast(beta));
    let mut packed = Vec::with_capacity(inst.columns.len() * len / N_LANES);
    for &c in &inst.columns {
        let col = &columns[c];
        let first = col.values[0].par_chunks_exact(N_LANES).with_min_len(TASK);
        match col.values.get(1) {
            Some(second) => packed.par_extend(
                first
                    .zip(second.par_chunks_exact(N_LANES))
                    .map(|(a, b)| zp - (PackedQM31::from(load(a)) + bp * load(b))),
            ),
            None => packed.par_extend(first.map(|a| zp - PackedQM31::from(load(a)))),
        }
    }
    column(vec![], packed)
}

/// The GKR input layer of a column instance.
pub(crate) fn column_layer(
    inst: &Instance,
    columns: &[LookupColumn<'_>],
    tables: &[TableData<'_>],
    ch: Challenges,
) -> Layer<SimdBackend> {
    for &c in &inst.columns {
        let col = &columns[c];
        assert_eq!(
            col.values.len(),
            tables[col.table].kind.arity(),
            "column arity"
        );
    }
    let z = ch.z_of_table(columns[inst.columns[0]].table);
    let denominators = denominators(inst, columns, z, ch.beta);
    match inst.mask {
        None => Layer::LogUpSingles { denominators },
        Some(mask) => {
            let one_column = mask.table();
            let copies = inst.columns.len();
            let numerators = if one_column.len() >= N_LANES {
                let lifted: Vec<PackedQM31> = one_column
                    .chunks_exact(N_LANES)
                    .map(|c| PackedQM31::from(load(c)))
                    .collect();
                column(vec![], (0..copies).flat_map(|_| lifted.clone()).collect())
            } else {
                let values = (0..copies)
                    .flat_map(|_| one_column.iter().map(|&m| QM31::from(m)))
                    .collect();
                column(values, vec![])
            };
            Layer::LogUpGeneric {
                numerators,
                denominators,
            }
        }
    }
}

/// The GKR input layer of a table: `-m_b / (z - (t_b0 + beta t_b1))`, `z` tagged with the
/// table; 16 rows at a time.
pub(crate) fn table_layer(
    table: &TableData<'_>,
    mults: &[M31],
    beta: QM31,
    z: QM31,
) -> Layer<SimdBackend> {
    let size = 1usize << table.kind.log_size();
    if size < N_LANES || mults.len() != size {
        let numerators = mults.iter().map(|&m| -QM31::from(m)).collect();
        let denominators = (0..size)
            .map(|b| {
                let row = table.row(b);
                z - (QM31::from(row[0]) + beta * row[1])
            })
            .collect();
        return Layer::LogUpGeneric {
            numerators: column(numerators, vec![]),
            denominators: column(denominators, vec![]),
        };
    }
    let (zp, bp) = (PackedQM31::broadcast(z), PackedQM31::broadcast(beta));
    let denominators = (0..size / N_LANES)
        .into_par_iter()
        .with_min_len(TASK)
        .map(|p| {
            let rows: [[M31; 2]; N_LANES] = std::array::from_fn(|l| table.row(p * N_LANES + l));
            let v0 = PackedM31::from_array(std::array::from_fn(|l| rows[l][0]));
            let v1 = PackedM31::from_array(std::array::from_fn(|l| rows[l][1]));
            zp - (PackedQM31::from(v0) + bp * v1)
        })
        .collect();
    let numerators = mults
        .par_chunks_exact(N_LANES)
        .with_min_len(TASK)
        .map(|c| PackedQM31::zero() - PackedQM31::from(load(c)))
        .collect();
    Layer::LogUpGeneric {
        numerators: column(vec![], numerators),
        denominators: column(vec![], denominators),
    }
}
