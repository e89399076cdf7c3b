//! Weights committed as power-of-two tiles instead of one zero-padded table.
//!
//! A `rows x cols` weight is used by the layers as its zero-padded `2^a x 2^b` table `W`, and
//! a claim on it is a claim `W(r_row, r_col) = v` (row bits first, most significant first).
//! Padding both dimensions to powers of two can more than double what is committed (a
//! `576 x 576` projection pads to `1024 x 1024`, a `49,152`-row vocabulary to `65,536`), and
//! the commitment's codeword is four times that. So a large weight whose dimensions are far
//! from powers of two is cut along each dimension into at most two power-of-two parts
//! (`576 = 512 + 64`, `1536 = 1024 + 512`; the smaller part rounded up), and only the tiles
//! (part x part) are committed.
//!
//! Tile `i` covers rows `row0_i .. row0_i + 2^s_i` and columns `col0_i .. col0_i + 2^t_i`, with
//! `row0_i` a multiple of `2^s_i` (parts are placed in decreasing size), so inside `W` it is
//! the sub-cube whose top `a - s_i` row bits spell `row0_i / 2^s_i` and whose top `b - t_i`
//! column bits spell `col0_i / 2^t_i`. Since `W` is zero outside the tiles,
//!
//! `W(r_row, r_col) = sum_i eq(r_row_hi, row0_i / 2^s_i) eq(r_col_hi, col0_i / 2^t_i) T_i(r_row_lo, r_col_lo)`.
//!
//! The prover sends every `v_i = T_i(r_row_lo, r_col_lo)` ([`crate::proof::ModelProof::weight_tiles`]);
//! the verifier checks the sum against `v`, absorbs the `v_i` into the transcript and hands
//! one claim per tile to the weight opening. A wrong `v_i` fails that opening; values that
//! do not add up are refused here. Which weights are tiled, and how, follows from the shape
//! alone ([`tiles_of`]), so prover and verifier agree.

use stwo::core::channel::{Blake2sChannel, Channel};
use stwo::core::fields::qm31::QM31;

use gkr::Claim;
use model::Shape;

use crate::circuit::Circuit;
use crate::error::VerifyError;

/// Smallest padded weight (in variables) that is tiled: below it, the extra claims cost more
/// than the padding.
pub const MIN_TILED_VARS: u32 = 16;
/// Largest tile (in variables): larger ones are cut into bands of rows. Below the largest
/// committed polynomial of every configuration with a blowup up to 2^4 (`2^(28 - 4)`).
pub const MAX_TILE_VARS: u32 = 24;
/// Smallest part of a cut dimension.
const MIN_PART: usize = 16;

/// One tile of a weight: a power-of-two block of its padded table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    pub row0: usize,
    pub col0: usize,
    pub log_rows: u32,
    pub log_cols: u32,
}

impl Tile {
    pub fn n_vars(&self) -> u32 {
        self.log_rows + self.log_cols
    }
}

/// The parts of a dimension of `len` (padded to `2^log_pad`): `(offset, log2 size)`.
fn parts(len: usize, log_pad: u32) -> Vec<(usize, u32)> {
    let whole = vec![(0, log_pad)];
    if len < 2 * MIN_PART || len.is_power_of_two() {
        return whole;
    }
    let first = 1usize << len.ilog2();
    let second = (len - first).next_power_of_two();
    if second >= first || second < MIN_PART {
        return whole;
    }
    vec![(0, first.ilog2()), (first, second.ilog2())]
}

/// The tiles of a weight of `shape` in a graph of `2^log_blocks` stacked blocks: the whole
/// padded table unless tiling commits at most three quarters of it (and the weight is at least
/// `2^MIN_TILED_VARS` padded), any tile above `2^MAX_TILE_VARS` entries cut into bands of rows;
/// in a stack, always the whole table.
pub fn tiles_of(shape: Shape, log_blocks: u32) -> Vec<Tile> {
    if log_blocks > 0 {
        return vec![Tile {
            row0: 0,
            col0: 0,
            log_rows: shape.log_rows(),
            log_cols: shape.log_cols(),
        }];
    }
    cut_into_bands(power_of_two_tiles(shape))
}

/// Tiles above `2^MAX_TILE_VARS` entries cut into bands of rows, so that every item fits a
/// committed chunk (a 151,936 x 896 vocabulary's `131,072 x 1,024` tile is 2^27 entries).
fn cut_into_bands(tiles: Vec<Tile>) -> Vec<Tile> {
    tiles
        .into_iter()
        .flat_map(|t| {
            let band = MAX_TILE_VARS.saturating_sub(t.log_cols).min(t.log_rows);
            let n = if t.n_vars() > MAX_TILE_VARS && t.log_cols < MAX_TILE_VARS {
                1usize << (t.log_rows - band)
            } else {
                1
            };
            let log_rows = if n > 1 { band } else { t.log_rows };
            (0..n).map(move |i| Tile {
                row0: t.row0 + (i << log_rows),
                log_rows,
                ..t
            })
        })
        .collect()
}

/// The power-of-two tiles of a weight (one, the whole padded table, unless cutting pays).
fn power_of_two_tiles(shape: Shape) -> Vec<Tile> {
    let whole = vec![Tile {
        row0: 0,
        col0: 0,
        log_rows: shape.log_rows(),
        log_cols: shape.log_cols(),
    }];
    if shape.n_vars() < MIN_TILED_VARS {
        return whole;
    }
    let rows = parts(shape.rows, shape.log_rows());
    let cols = parts(shape.cols, shape.log_cols());
    let tiles: Vec<Tile> = rows
        .iter()
        .flat_map(|&(row0, log_rows)| {
            cols.iter().map(move |&(col0, log_cols)| Tile {
                row0,
                col0,
                log_rows,
                log_cols,
            })
        })
        .collect();
    let tiled: usize = tiles.iter().map(|t| 1usize << t.n_vars()).sum();
    if 4 * tiled > 3usize << shape.n_vars() {
        return whole;
    }
    tiles
}

/// `eq(r, bits(index))`, `index` spelled with `r.len()` bits, most significant first.
fn eq_index(r: &[QM31], index: usize) -> QM31 {
    let n = r.len();
    r.iter().enumerate().fold(QM31::from(1u32), |acc, (j, &x)| {
        if (index >> (n - 1 - j)) & 1 == 1 {
            acc * x
        } else {
            acc * (QM31::from(1u32) - x)
        }
    })
}

/// Tile `t`'s selector at `point` (a point of the padded table with `log_rows` row
/// variables) and the tile's own point.
pub fn tile_point(t: &Tile, log_rows: u32, point: &[QM31]) -> (QM31, Vec<QM31>) {
    let (r_row, r_col) = point.split_at(log_rows as usize);
    let (row_hi, row_lo) = r_row.split_at((log_rows - t.log_rows) as usize);
    let (col_hi, col_lo) = r_col.split_at(r_col.len() - t.log_cols as usize);
    let sel = eq_index(row_hi, t.row0 >> t.log_rows) * eq_index(col_hi, t.col0 >> t.log_cols);
    (sel, [row_lo, col_lo].concat())
}

/// Lifts the weight claims (weight id, claim on its padded table, in walk order) into the
/// weight packing. A tiled weight's claim takes its tile values from `values` (in order),
/// which must add up to the claim's value and all be used; they are absorbed into the
/// transcript. Prover and verifier both call this (the prover with the true values).
pub fn lift_weight_claims(
    circuit: &Circuit,
    claims: Vec<(usize, Claim)>,
    values: &[QM31],
    channel: &mut Blake2sChannel,
) -> Result<Vec<Claim>, VerifyError> {
    let bad = |s: &str| VerifyError::MalformedProof(format!("weight tiles: {s}"));
    let mut rest = values;
    let mut lifted = Vec::with_capacity(claims.len());
    for (w, claim) in claims {
        let tiles = &circuit.weight_tiles[w];
        let first = circuit.weight_items[w];
        if tiles.len() == 1 {
            lifted.push(circuit.weight_packing.lift(first, &claim));
            continue;
        }
        if rest.len() < tiles.len() {
            return Err(bad("too few tile values"));
        }
        let (mine, tail) = rest.split_at(tiles.len());
        rest = tail;
        let log_rows = circuit.shape.weights[w].0.log_rows();
        if claim.point.len() != circuit.shape.weights[w].0.n_vars() as usize {
            return Err(bad("claim of the wrong dimension"));
        }
        let mut sum = QM31::from(0u32);
        for (i, (t, &v)) in tiles.iter().zip(mine).enumerate() {
            let (sel, point) = tile_point(t, log_rows, &claim.point);
            sum += sel * v;
            lifted.push(
                circuit
                    .weight_packing
                    .lift(first + i, &Claim::new(point, v)),
            );
        }
        if sum != claim.value {
            return Err(bad("tile values do not add up to the claim"));
        }
    }
    if !rest.is_empty() {
        return Err(bad("too many tile values"));
    }
    if !values.is_empty() {
        channel.mix_felts(values);
    }
    Ok(lifted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_shapes_tile_without_padding() {
        let n = |s: Shape| -> usize { tiles_of(s, 0).iter().map(|t| 1 << t.n_vars()).sum() };
        // SmolLM2-135M: every projection and the vocabulary commit exactly their entries.
        for (r, c) in [
            (576, 576),
            (576, 192),
            (576, 1536),
            (1536, 576),
            (49152, 576),
        ] {
            assert_eq!(n(Shape::new(r, c)), r * c, "{r} x {c}");
        }
        // Powers of two, small weights and stacks stay whole.
        assert_eq!(tiles_of(Shape::new(1024, 512), 0).len(), 1);
        // Large tiles are cut into bands of at most 2^24 entries.
        let vocab = tiles_of(Shape::new(151_936, 896), 0);
        assert!(vocab.iter().all(|t| t.n_vars() <= MAX_TILE_VARS));
        assert_eq!(n(Shape::new(151_936, 896)), (131_072 + 32_768) * 1024);
        assert_eq!(tiles_of(Shape::new(8192, 4096), 0).len(), 2);
        assert_eq!(tiles_of(Shape::new(24, 20), 0).len(), 1);
        assert_eq!(tiles_of(Shape::new(576, 576), 1).len(), 1);
        // 896 = 512 + 384 gains nothing from a cut; 4864 = 4096 + 768 does.
        assert_eq!(tiles_of(Shape::new(896, 896), 0).len(), 1);
        assert_eq!(n(Shape::new(896, 4864)), 1024 * (4096 + 1024));
    }

    #[test]
    fn tiles_are_aligned_and_disjoint() {
        for (r, c) in [
            (576, 1536),
            (49152, 576),
            (100, 4864),
            (1536, 48),
            (20_000, 1_000),
        ] {
            let s = Shape::new(r, c);
            let tiles = tiles_of(s, 0);
            let mut seen = vec![false; 1 << s.n_vars()];
            for t in &tiles {
                assert_eq!(t.row0 % (1 << t.log_rows), 0);
                assert_eq!(t.col0 % (1 << t.log_cols), 0);
                for i in t.row0..t.row0 + (1 << t.log_rows) {
                    for j in t.col0..t.col0 + (1 << t.log_cols) {
                        let k = (i << s.log_cols()) + j;
                        assert!(!seen[k], "overlap");
                        seen[k] = true;
                    }
                }
            }
            for i in 0..r {
                for j in 0..c {
                    assert!(seen[(i << s.log_cols()) + j], "entry {i},{j} uncovered");
                }
            }
        }
    }
}
