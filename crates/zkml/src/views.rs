//! Views of weights and columns over an input's padded layout, and how a claim on a view
//! becomes a claim on the stored tensor: column broadcasts, row gains (`1 x n`, a stack's
//! per-block `blocks x n`, or full) and RoPE's shared position tables.

use model::Shape;
use stwo::core::fields::m31::M31;

/// A claim on a column-broadcast table at `rho` as a claim on the `m x 1` column (stored
/// `2^log_rows x 2`, values in column 0).
pub fn column_claim(c: &gkr::Claim, log_rows: usize) -> gkr::Claim {
    let mut point = c.point[..log_rows].to_vec();
    point.push(stwo::core::fields::qm31::QM31::default());
    gkr::Claim::new(point, c.value)
}

/// The claim on a [`model::Op::MulWeightRows`] weight (`2^weight_log_rows x 2^weight_log_cols`) from
/// the claim `c` on its row-and-column view at the input's layout (`log_rows` row variables,
/// then the column variables, the last `weight_log_cols` of which index the weight's columns):
/// the rows' block index as leading bits, the view's row variables, its last column variables.
pub fn rows_weight_claim(
    c: &gkr::Claim,
    log_rows: usize,
    weight_log_rows: usize,
    weight_log_cols: usize,
    row0: usize,
) -> gkr::Claim {
    let block = row0 >> log_rows;
    let lead = weight_log_rows - log_rows;
    let one = stwo::core::fields::qm31::QM31::from(M31::from(1u32));
    let zero = stwo::core::fields::qm31::QM31::from(M31::from(0u32));
    let mut point: Vec<_> = (0..lead)
        .map(|j| {
            if (block >> (lead - 1 - j)) & 1 == 1 {
                one
            } else {
                zero
            }
        })
        .collect();
    point.extend_from_slice(&c.point[..log_rows]);
    point.extend_from_slice(&c.point[c.point.len() - weight_log_cols..]);
    gkr::Claim::new(point, c.value)
}

/// The view `V[i][c] = W[row0 + i][c mod w]` of a [`model::Op::MulWeightRows`] weight over the
/// input's padded layout (`2^log_rows x 2^log_cols`), `w_table` the weight's padded table.
pub fn rows_weight_view(
    w_table: &[M31],
    weight_log_cols: u32,
    log_rows: u32,
    log_cols: u32,
    row0: usize,
) -> Vec<M31> {
    let (wc, cols) = (1usize << weight_log_cols, 1usize << log_cols);
    (0..1usize << (log_rows + log_cols))
        .map(|i| w_table[(row0 + i / cols) * wc + (i % cols) % wc])
        .collect()
}

/// A claim on a [`model::Op::MulWeight`] weight's view (the weight over the input's padded layout) at
/// `rho` as a claim on the weight, `2^weight_log_rows` of whose rows each cover an equal run
/// of the input's `2^log_rows` rows: a `1 x n` gain keeps only the column coordinates, a
/// stack's per-block gain (`blocks x n`) also the leading block coordinates, a full weight the
/// whole point.
pub fn weight_claim(c: gkr::Claim, weight_log_rows: usize, log_rows: usize) -> gkr::Claim {
    let mut point = c.point[..weight_log_rows].to_vec();
    point.extend_from_slice(&c.point[log_rows..]);
    gkr::Claim::new(point, c.value)
}

/// `log2` of the rows of a [`model::Op::MulWeight`] weight as its view sees them: 0 for a `1 x n`
/// gain, the input's padded rows for a full weight, the block bits for a stack's gains.
pub fn weight_view_log_rows(weight: Shape, node: Shape) -> u32 {
    if weight.rows == 1 {
        0
    } else if weight == node {
        node.log_rows()
    } else {
        weight.log_rows()
    }
}

/// The view of a [`model::Op::MulWeight`] weight (padded table `w`) over its input's padded layout
/// (`2^log_rows x 2^log_cols`): view row `i` reads weight row `i >> (log_rows - view_log_rows)`.
pub fn mul_weight_view(w: &[M31], view_log_rows: u32, log_rows: u32, log_cols: u32) -> Vec<M31> {
    let shift = log_rows - view_log_rows + log_cols;
    let mask = (1usize << log_cols) - 1;
    (0..1usize << (log_rows + log_cols))
        .map(|i| w[((i >> shift) << log_cols) | (i & mask)])
        .collect()
}
