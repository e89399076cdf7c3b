//! RMSNorm's fixed-point plan against `f64`: calibrated ranges keep small and large rows
//! precise, powers of two and other widths alike; inputs beyond the range give an overflow
//! error, never a silently wrong value.
#![allow(clippy::unwrap_used)]

use model::norm::{NormRange, NormScales};
use model::{execute, ExecError, GraphBuilder, Shape, Tensor, Weight};

const S: u32 = 8;

/// Rows of `n` values with rms about `rms`, as integers at `S` bits.
fn rows(n: usize, rms: &[f64]) -> Vec<i64> {
    let mut out = Vec::new();
    for (r, &a) in rms.iter().enumerate() {
        for c in 0..n {
            let v = a * (1.3 * ((r * 31 + c * 7) as f64 * 0.37).sin());
            out.push((v * f64::from(1 << S)).round() as i64);
        }
    }
    out
}

/// Largest relative error of the integer RMSNorm (unit gain) over all entries, relative to each
/// row's largest output.
fn rms_norm_error(n: usize, data: &[i64], range: &NormRange) -> Result<f64, ExecError> {
    let m = data.len() / n;
    let mut b = GraphBuilder::new("norm", Shape::new(m, n), S).unwrap();
    let gain = Weight {
        name: "gain".into(),
        shape: Shape::new(1, n),
        scale: S,
        data: vec![1 << S; n].into(),
    };
    let y = b.rms_norm_in(0, gain, 1e-6, range).unwrap();
    let g = b.build(y).unwrap();
    let t = execute(&g, &Tensor::new(Shape::new(m, n), data.to_vec()))?;
    let out = t.output(&g);
    let mut worst = 0f64;
    for (row, got) in data.chunks(n).zip(out.data.chunks(n)) {
        let x: Vec<f64> = row.iter().map(|&v| v as f64 / f64::from(1 << S)).collect();
        let inv = 1.0 / (x.iter().map(|v| v * v).sum::<f64>() / n as f64 + 1e-6).sqrt();
        let want: Vec<f64> = x.iter().map(|v| v * inv).collect();
        let top = want.iter().fold(0f64, |a, v| a.max(v.abs()));
        for (g, w) in got.iter().zip(&want) {
            worst = worst.max((*g as f64 / f64::from(1 << S) - w).abs() / top);
        }
    }
    Ok(worst)
}

fn real(data: &[i64]) -> Vec<f32> {
    data.iter().map(|&v| v as f32 / (1 << S) as f32).collect()
}

#[test]
fn calibrated_rows_small_and_large_are_precise() {
    for n in [64, 96, 1000] {
        for rms in [[0.05, 0.07, 0.1], [0.5, 1.0, 2.0], [4.0, 6.0, 8.0]] {
            let data = rows(n, &rms);
            let range = NormRange::observe(&real(&data), n).unwrap();
            let err = rms_norm_error(n, &data, &range).unwrap();
            // Measured: 0.16 % - 0.34 % of each row's largest output (the output's own step
            // is 2^-8 on values up to ~2).
            eprintln!("n {n} rms {rms:?}: max error {err:.5}");
            assert!(err < 0.006, "n {n} rms {rms:?}: {err} ({range:?})");
        }
    }
}

#[test]
fn uncalibrated_small_rows_saturate_and_calibration_fixes_them() {
    let n = 64;
    let data = rows(n, &[0.04, 0.05]);
    let default = rms_norm_error(n, &data, &NormRange::default()).unwrap();
    let range = NormRange::observe(&real(&data), n).unwrap();
    let calibrated = rms_norm_error(n, &data, &range).unwrap();
    assert!(default > 0.2, "{default}");
    assert!(calibrated < 0.03, "{calibrated}");
}

#[test]
fn rows_beyond_the_range_overflow_instead_of_lying() {
    let n = 256;
    let small = rows(n, &[0.5]);
    let range = NormRange::observe(&real(&small), n).unwrap();
    let big = rows(n, &[60.0]);
    match rms_norm_error(n, &big, &range) {
        Err(ExecError::Overflow { .. } | ExecError::ActivationRange { .. }) => {}
        other => panic!("expected an overflow, got {other:?}"),
    }
}

#[test]
fn scales_respect_the_field_and_table_bounds() {
    for n in [1usize, 3, 64, 100, 4096, 5120, 17408] {
        for (lo, hi, abs) in [(-12, -4, -1), (-6, 4, 4), (0, 12, 7), (-20, 14, 7)] {
            let r = NormRange {
                ms_min_log2: lo,
                ms_max_log2: hi,
                abs_max_log2: abs,
            };
            let sc = NormScales::choose(&r, S, n, 1e-6);
            let t = n.next_power_of_two().ilog2() as i32;
            let sum_scale = 2 * S as i32 - sc.square_shift as i32;
            // Row sums below 2^30 where the range is representable at all.
            if hi + 2 * S as i32 - 16 <= 14 {
                assert!(t + hi + sum_scale <= 30, "{n} {r:?} {sc:?}");
            }
            assert!(
                sc.mean_scale as i32 + hi <= 14 || sc.mean_scale == 0,
                "{r:?} {sc:?}"
            );
            assert!(sc.inv_scale <= 30, "{sc:?}");
        }
    }
}
