//! LogUp lookups proved with batched GKR for fractional sums ([`crate::logup_gkr`]).
//!
//! Each looked-up column `c` of table number `k` (one or two component tables of length
//! `2^n_c`, compressed as `v0 + beta v1 + gamma k`) becomes an instance `sum_i 1 / (z - v_i)`;
//! each table `T` an instance `sum_b -m_b / (z - t_b)` with committed multiplicities `m`, its
//! rows tagged with its number the same way. The verifier checks that all
//! instance sums add to zero (so every looked-up row is in its table, error `<= (N+T)/|QM31|`),
//! and that the input-layer claims of the GKR match (a) the column evaluations the prover names
//! at the GKR point — these become claims on the underlying tensors — and (b) the table MLE,
//! which the verifier evaluates itself, and the multiplicities' evaluation, which becomes a
//! claim for the commitment opening.
//!
//! `z`, `beta` and `gamma` are drawn here, so the caller must have bound every column and
//! multiplicity to the channel (by commitment) before calling.

use num_traits::{One, Zero};
#[cfg(feature = "prover")]
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::QM31;
#[cfg(feature = "prover")]
use stwo::prover::backend::simd::SimdBackend;
#[cfg(feature = "prover")]
use stwo::prover::lookups::gkr_prover::{prove_batch, Layer};

use crate::claim::Claim;
use crate::error::GkrError;
use crate::logup_gkr::verify_batch;
pub use crate::logup_gkr::GkrProofData;
use crate::lookup_instances::{instances, Instance};
#[cfg(feature = "prover")]
use crate::lookup_layers::{column_layer, table_layer};
#[cfg(feature = "prover")]
pub use crate::lookup_witness::multiplicities;
pub use crate::table::{TableData, TableKind};

/// A looked-up column: `values[j]` is component `j` (as many as the table's arity), each a
/// power-of-two table of at least 2 entries.
#[derive(Clone, Debug)]
pub struct LookupColumn<'a> {
    pub table: usize,
    pub values: Vec<&'a [M31]>,
    /// Only the real entries of a padded tensor take part (see [`RealMask`]).
    pub mask: Option<RealMask>,
}

/// The real (unpadded) entries of a `rows x cols` tensor stored as a `2^log_rows x 2^log_cols`
/// table, optionally restricted to a causal pattern (column `j` allowed in row `i` only when
/// `j <= i`, the attention mask of a decoder). A masked column is looked up with numerator
/// `mask(b)` instead of 1, so padding rows (which need not be table rows, e.g. `exp(0) != 0`)
/// and masked-out entries take no part; the verifier evaluates the mask's MLE itself.
///
/// With `log_blocks > 0` the rows are `2^log_blocks` stacked blocks (all rows real) and the
/// causal pattern restarts in each block: `j <= i mod 2^(log_rows - log_blocks)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealMask {
    pub rows: usize,
    pub cols: usize,
    pub log_rows: u32,
    pub log_cols: u32,
    pub causal: bool,
    pub log_blocks: u32,
}

impl RealMask {
    /// Whether table index `i` is a real (and, if causal, allowed) entry.
    pub fn contains(&self, i: usize) -> bool {
        let (r, c) = (i >> self.log_cols, i & ((1 << self.log_cols) - 1));
        let in_block = r & ((1 << (self.log_rows - self.log_blocks)) - 1);
        r < self.rows && c < self.cols && (!self.causal || c <= in_block)
    }

    /// The mask as a 0/1 table over the padded hypercube.
    pub fn table(&self) -> Vec<M31> {
        (0..1usize << (self.log_rows + self.log_cols))
            .map(|i| M31::from_u32_unchecked(u32::from(self.contains(i))))
            .collect()
    }

    /// The mask's MLE at `point`, in `O(2^log_rows + 2^log_cols)` when causal.
    pub fn eval(&self, point: &[QM31]) -> QM31 {
        if self.log_blocks > 0 {
            // Every block is the same mask, and sum_b eq(r_b, b) = 1.
            let lb = (self.log_blocks as usize).min(point.len());
            let block = Self {
                rows: self.rows >> self.log_blocks,
                log_rows: self.log_rows - self.log_blocks,
                log_blocks: 0,
                ..*self
            };
            return block.eval(&point[lb..]);
        }
        let (r, c) = point.split_at((self.log_rows as usize).min(point.len()));
        if !self.causal {
            return crate::elementwise::row_mask_eval(self.rows, r)
                * crate::elementwise::row_mask_eval(self.cols, c);
        }
        // sum_{i < rows} eq(r, i) sum_{j <= min(i, cols - 1)} eq(c, j)
        let (er, ec) = (sumcheck::eq_evals(r), sumcheck::eq_evals(c));
        let mut prefix = QM31::zero();
        let mut total = QM31::zero();
        for i in 0..self.rows.min(er.len()) {
            if i < self.cols.min(ec.len()) {
                prefix += ec[i];
            }
            total += er[i] * prefix;
        }
        total
    }
}

/// What the verifier knows of a column: its table and `log2` of its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub table: usize,
    pub log_len: u32,
    pub mask: Option<RealMask>,
}

/// A vector of QM31 values with canonical serialisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Felts(#[serde(with = "sumcheck::felt::qm31_vec")] pub Vec<QM31>);

/// The prover's messages for all lookups of one proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupProof {
    pub gkr: GkrProofData,
    /// Per column, each component's MLE at the column's GKR point.
    pub column_evals: Vec<Felts>,
    /// Per table, the multiplicities' MLE at the table's GKR point.
    pub multiplicity_evals: Felts,
    /// Per committed table (in table order), its output column's MLE at the table's point.
    pub committed_evals: Felts,
}

impl LookupProof {
    /// The proof of a circuit without lookups.
    pub fn empty() -> Self {
        Self {
            gkr: GkrProofData {
                sumcheck_proofs: vec![],
                layer_masks: vec![],
                output_claims: vec![],
            },
            column_evals: vec![],
            multiplicity_evals: Felts(vec![]),
            committed_evals: Felts(vec![]),
        }
    }
}

/// Claims produced by the lookup argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupClaims {
    /// Per column, per component.
    pub columns: Vec<Vec<Claim>>,
    /// Per table, on its multiplicities.
    pub multiplicities: Vec<Claim>,
    /// Per committed table (in table order), on its output column.
    pub committed: Vec<Claim>,
}

/// The LogUp challenges: `z`, `beta` (second component) and `gamma` (table tag).
fn draw_challenges(channel: &mut Blake2sChannel) -> Challenges {
    let z = channel.draw_secure_felt();
    let beta = channel.draw_secure_felt();
    let gamma = channel.draw_secure_felt();
    Challenges { z, beta, gamma }
}

/// A row `(v0, v1)` of table `t` is compressed as `v0 + beta v1 + gamma t`: the tag keeps a
/// column from being satisfied by another table's rows (a wider range, or a range row `(x, 0)`
/// offered as a ReLU pair), since all instances' sums are checked together.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Challenges {
    pub z: QM31,
    pub beta: QM31,
    pub gamma: QM31,
}

impl Challenges {
    /// `z - gamma t`: the denominators of table `t` and its columns are this minus
    /// `v0 + beta v1`.
    pub(crate) fn z_of_table(&self, table: usize) -> QM31 {
        self.z - self.gamma * M31::from_u32_unchecked(table as u32)
    }
}

impl LookupColumn<'_> {
    /// The looked-up rows (index and components; the second is 0 for one-component tables),
    /// skipping entries outside the mask.
    pub fn rows(&self) -> impl Iterator<Item = (usize, [M31; 2])> + '_ {
        (0..self.values[0].len())
            .filter(|&i| self.mask.is_none_or(|m| m.contains(i)))
            .map(|i| {
                let mut row = [M31::from_u32_unchecked(0); 2];
                for (j, comp) in self.values.iter().enumerate() {
                    row[j] = comp[i];
                }
                (i, row)
            })
    }

    #[cfg(feature = "prover")]
    fn spec(&self) -> ColumnSpec {
        let len = self.values[0].len();
        assert!(len >= 2 && len.is_power_of_two(), "column length");
        ColumnSpec {
            table: self.table,
            log_len: len.ilog2(),
            mask: self.mask,
        }
    }
}

/// Each vector's multilinear extension at `point_of(log2 len)`: one `eq` table per length
/// (all vectors of a length share the batch point's suffix), then a dot product per vector.
#[cfg(feature = "prover")]
fn evaluate_at_suffixes(
    vectors: &[&[M31]],
    point_of: &(dyn Fn(usize) -> Vec<QM31> + Sync),
) -> Vec<QM31> {
    let mut eqs: Vec<(usize, Vec<QM31>)> = Vec::new();
    for v in vectors {
        let n = v.len().ilog2() as usize;
        if !eqs.iter().any(|(m, _)| *m == n) {
            eqs.push((n, sumcheck::eq_evals(&point_of(n))));
        }
    }
    vectors
        .par_iter()
        .map(|v| {
            let n = v.len().ilog2() as usize;
            let Some((_, eq)) = eqs.iter().find(|(m, _)| *m == n) else {
                unreachable!("an eq table per length")
            };
            eq.iter().zip(v.iter()).map(|(&e, &x)| e * x).sum()
        })
        .collect()
}

/// Each column's components at its point.
#[cfg(feature = "prover")]
fn evaluate_columns(
    columns: &[LookupColumn<'_>],
    point_of: &(dyn Fn(usize) -> Vec<QM31> + Sync),
) -> Vec<Felts> {
    let flat: Vec<&[M31]> = columns
        .iter()
        .flat_map(|c| c.values.iter().copied())
        .collect();
    let mut evals = evaluate_at_suffixes(&flat, point_of).into_iter();
    columns
        .iter()
        .map(|c| Felts(evals.by_ref().take(c.values.len()).collect()))
        .collect()
}

/// Proves that every row of every column lies in its table.
///
/// # Panics
/// Panics if the columns do not match their tables' arity, are shorter than 2, or a value is
/// not in its table (call [`multiplicities`] first to get an error instead).
#[cfg(feature = "prover")]
pub fn prove(
    tables: &[TableData<'_>],
    columns: &[LookupColumn<'_>],
    multiplicities: &[Vec<M31>],
    channel: &mut Blake2sChannel,
) -> (LookupProof, LookupClaims) {
    let ch = draw_challenges(channel);
    if columns.is_empty() && tables.is_empty() {
        return (
            LookupProof::empty(),
            LookupClaims {
                columns: vec![],
                multiplicities: vec![],
                committed: vec![],
            },
        );
    }
    let specs: Vec<ColumnSpec> = columns.iter().map(LookupColumn::spec).collect();
    let layout = instances(&specs);
    let mut layers: Vec<Layer<SimdBackend>> = layout
        .iter()
        .map(|inst| column_layer(inst, columns, tables, ch))
        .collect();
    let table_layers: Vec<Layer<SimdBackend>> = tables
        .par_iter()
        .zip(multiplicities)
        .enumerate()
        .map(|(t, (table, mults))| table_layer(table, mults, ch.beta, ch.z_of_table(t)))
        .collect();
    layers.extend(table_layers);
    let (gkr, artifact) = prove_batch(channel, layers);
    let n_layers = artifact.ood_point.len();
    let point_of = |n_vars: usize| artifact.ood_point[n_layers - n_vars..].to_vec();

    let column_evals = evaluate_columns(columns, &point_of);
    let column_claims = columns
        .iter()
        .zip(&column_evals)
        .map(|(col, evals)| {
            let pt = point_of(col.values[0].len().ilog2() as usize);
            evals.0.iter().map(|&e| Claim::new(pt.clone(), e)).collect()
        })
        .collect();
    let mut mult_claims = Vec::new();
    let mut mult_evals = Vec::new();
    let mut committed_claims = Vec::new();
    let mut committed_evals = Vec::new();
    // Multiplicities, then committed tables' outputs, evaluated together.
    let vectors: Vec<&[M31]> = multiplicities
        .iter()
        .map(Vec::as_slice)
        .chain(tables.iter().filter_map(|t| t.values))
        .collect();
    let table_evals = evaluate_at_suffixes(&vectors, &point_of);
    let (m_evals, mut c_evals) = (
        &table_evals[..tables.len()],
        table_evals[tables.len()..].iter(),
    );
    for (table, &e) in tables.iter().zip(m_evals) {
        let pt = point_of(table.kind.log_size() as usize);
        if table.values.is_some() {
            let Some(&f) = c_evals.next() else {
                unreachable!("one evaluation per committed table")
            };
            committed_claims.push(Claim::new(pt.clone(), f));
            committed_evals.push(f);
        }
        mult_claims.push(Claim::new(pt, e));
        mult_evals.push(e);
    }
    for e in &column_evals {
        channel.mix_felts(&e.0);
    }
    channel.mix_felts(&mult_evals);
    channel.mix_felts(&committed_evals);

    let proof = LookupProof {
        gkr: GkrProofData::from_stwo(&gkr),
        column_evals,
        multiplicity_evals: Felts(mult_evals),
        committed_evals: Felts(committed_evals),
    };
    (
        proof,
        LookupClaims {
            columns: column_claims,
            multiplicities: mult_claims,
            committed: committed_claims,
        },
    )
}

/// Verifies the lookups of `columns` into `tables`; returns the claims to check elsewhere.
pub fn verify(
    tables: &[TableKind],
    columns: &[ColumnSpec],
    proof: &LookupProof,
    channel: &mut Blake2sChannel,
) -> Result<LookupClaims, GkrError> {
    let bad = |s: &str| GkrError::MalformedLookup(s.to_string());
    let ch = draw_challenges(channel);
    if columns
        .iter()
        .any(|c| c.table >= tables.len() || c.log_len == 0)
    {
        return Err(bad("column spec"));
    }
    if tables.iter().any(|t| t.log_size() == 0) {
        return Err(bad("empty table"));
    }
    if columns.is_empty() && tables.is_empty() {
        // One encoding per statement: a circuit without lookups has the empty proof.
        if *proof != LookupProof::empty() {
            return Err(bad("lookup proof without lookups must be empty"));
        }
        return Ok(LookupClaims {
            columns: vec![],
            multiplicities: vec![],
            committed: vec![],
        });
    }
    let n_committed = tables.iter().filter(|t| t.is_committed()).count();
    if proof.column_evals.len() != columns.len()
        || proof.multiplicity_evals.0.len() != tables.len()
        || proof.committed_evals.0.len() != n_committed
    {
        return Err(bad("wrong number of evaluations"));
    }
    for (c, e) in columns.iter().zip(&proof.column_evals) {
        if e.0.len() != tables[c.table].arity() {
            return Err(bad("column evaluation arity"));
        }
    }
    let layout = instances(columns);
    let n_vars: Vec<usize> = layout
        .iter()
        .map(Instance::n_vars)
        .chain(tables.iter().map(|t| t.log_size() as usize))
        .collect();
    // The instance sums must cancel.
    let mut num = QM31::zero();
    let mut den = QM31::one();
    for claim in &proof.gkr.output_claims {
        let &[n, d] = claim.0.as_slice() else {
            return Err(bad("output claim of wrong shape"));
        };
        if d.is_zero() {
            return Err(GkrError::LookupSumNonZero);
        }
        num = num * d + n * den;
        den *= d;
    }
    if !num.is_zero() {
        return Err(GkrError::LookupSumNonZero);
    }

    let artifact = verify_batch(&n_vars, &proof.gkr, channel)?;
    let n_layers = artifact.ood_point.len();
    let point_of = |n: usize| artifact.ood_point[n_layers - n..].to_vec();

    for (i, inst) in layout.iter().enumerate() {
        let got = &artifact.input_claims[i];
        let evals: Vec<&[QM31]> = inst
            .columns
            .iter()
            .map(|&c| proof.column_evals[c].0.as_slice())
            .collect();
        let z = ch.z_of_table(columns[inst.columns[0]].table);
        let want = inst.input_claim(&point_of(inst.n_vars()), &evals, z, ch.beta);
        if *got != want {
            return Err(GkrError::LookupInputMismatch { instance: i });
        }
    }
    let column_claims = columns
        .iter()
        .zip(&proof.column_evals)
        .map(|(spec, evals)| {
            let pt = point_of(spec.log_len as usize);
            evals.0.iter().map(|&e| Claim::new(pt.clone(), e)).collect()
        })
        .collect();
    let mut mult_claims = Vec::new();
    let mut committed_claims = Vec::new();
    let mut committed_evals = proof.committed_evals.0.iter();
    for (t, table) in tables.iter().enumerate() {
        let i = layout.len() + t;
        let got = &artifact.input_claims[i];
        let pt = point_of(table.log_size() as usize);
        let mut row = table.eval(&pt);
        if table.is_committed() {
            let &f = committed_evals
                .next()
                .ok_or_else(|| bad("missing committed table evaluation"))?;
            row[1] = f;
            committed_claims.push(Claim::new(pt.clone(), f));
        }
        let m = proof.multiplicity_evals.0[t];
        let den = ch.z_of_table(t) - (row[0] + ch.beta * row[1]);
        if got[0] != -m || got[1] != den {
            return Err(GkrError::LookupInputMismatch { instance: i });
        }
        mult_claims.push(Claim::new(pt, m));
    }
    for e in &proof.column_evals {
        channel.mix_felts(&e.0);
    }
    channel.mix_felts(&proof.multiplicity_evals.0);
    channel.mix_felts(&proof.committed_evals.0);
    Ok(LookupClaims {
        columns: column_claims,
        multiplicities: mult_claims,
        committed: committed_claims,
    })
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
