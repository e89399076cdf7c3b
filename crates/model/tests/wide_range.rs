//! Wide-range fixed point ([`model::wide`]): exact wide rescales, limb-split matmul inputs and
//! RMSNorm on rows whose magnitudes are many octaves apart, as in real checkpoints with
//! massive activations.
#![allow(clippy::unwrap_used)]

use model::execute::rescale_value;
use model::norm::NormRange;
use model::{execute, GraphBuilder, Shape, Tensor, Weight};

const S: u32 = 8;

fn pseudo(i: usize) -> f64 {
    ((i as f64 * 0.618_033_988_7).fract() - 0.5) * 2.0
}

#[test]
fn rescale_wide_is_exact_up_to_2_pow_22() {
    let (m, n) = (4, 32);
    let data: Vec<i64> = (0..m * n).map(|i| (pseudo(i) * 32000.0) as i64).collect();
    let mut b = GraphBuilder::new("wide", Shape::new(m, n), S).unwrap();
    let big = b.mul_const(0, 200, 0).unwrap();
    let y = b.rescale_wide(big, 2).unwrap();
    let g = b.build(y).unwrap();
    let t = execute(&g, &Tensor::new(Shape::new(m, n), data.clone())).unwrap();
    let out = t.output(&g);
    let mut top = 0;
    for (x, got) in data.iter().zip(&out.data) {
        assert_eq!(*got, rescale_value(x * 200, 2).0);
        top = top.max(got.abs());
    }
    assert!(top > 1 << 20, "{top}");
    // A plain rescale of the same value is refused (outside the 16-bit range).
    let mut b = GraphBuilder::new("plain", Shape::new(m, n), S).unwrap();
    let big = b.mul_const(0, 200, 0).unwrap();
    let y = b.rescale(big, 2).unwrap();
    let g = b.build(y).unwrap();
    assert!(execute(&g, &Tensor::new(Shape::new(m, n), data)).is_err());
}

#[test]
fn matmul_of_a_massive_product_keeps_precision() {
    let (m, k, n) = (2, 64, 16);
    // Row 0 carries products up to ~3000 real units, row 1 products below 1.
    let a: Vec<i64> = (0..m * k)
        .map(|i| match i / k {
            0 => (pseudo(i) * 60.0 * 256.0) as i64,
            _ => (pseudo(i) * 0.9 * 256.0) as i64,
        })
        .collect();
    let w = Weight {
        name: "w".into(),
        shape: Shape::new(k, n),
        scale: 7,
        data: (0..k * n).map(|i| (pseudo(i + 7) * 120.0) as i64).collect(),
    };
    let mut b = GraphBuilder::new("mlp", Shape::new(m, k), S).unwrap();
    let prod = b.mul(0, 0).unwrap();
    let (hi, lo) = b.rescale_limbs(prod, S).unwrap();
    let y = b.matmul_wide_input(hi.unwrap(), lo, &w, S).unwrap();
    let g = b.build(y).unwrap();
    let t = execute(&g, &Tensor::new(Shape::new(m, k), a.clone())).unwrap();
    let out = t.output(&g);
    for r in 0..m {
        for c in 0..n {
            let want: f64 = (0..k)
                .map(|j| {
                    let x = a[r * k + j] as f64 / 256.0;
                    (x * x * 256.0).round() / 256.0 * w.data[j * n + c] as f64 / 128.0
                })
                .sum();
            let got = out.data[r * n + c] as f64 / 256.0;
            assert!(
                (got - want).abs() <= 2.0 / 256.0,
                "({r},{c}): {got} vs {want}"
            );
        }
    }
}

/// Rows with rms about `rms[r]` (real units), each with one outlier channel of `outlier[r]`,
/// as integers at `S` bits divided by `mul` (the graph multiplies them back).
fn rows(n: usize, rms: &[f64], outlier: &[f64], mul: i64) -> Vec<i64> {
    let mut out = Vec::new();
    for (r, (&a, &o)) in rms.iter().zip(outlier).enumerate() {
        for c in 0..n {
            let v = if c == 3 {
                o
            } else {
                a * 1.3 * pseudo(r * n + c)
            };
            out.push((v * f64::from(1 << S) / mul as f64).round() as i64);
        }
    }
    out
}

/// The largest error of the wide norm's output relative to each row's largest output, for
/// `data` multiplied by `mul` (to reach values beyond the input range).
fn wide_norm_error(n: usize, data: &[i64], mul: i64) -> f64 {
    let m = data.len() / n;
    let real: Vec<f32> = data
        .iter()
        .map(|&v| (v * mul) as f32 / (1 << S) as f32)
        .collect();
    let range = NormRange::observe(&real, n).unwrap();
    let mut b = GraphBuilder::new("norm", Shape::new(m, n), S).unwrap();
    let x = b.mul_const(0, mul, 0).unwrap();
    let gain = Weight {
        name: "gain".into(),
        shape: Shape::new(1, n),
        scale: S,
        data: vec![1 << S; n].into(),
    };
    let y = b.rms_norm_wide(x, gain, 1e-5, &range).unwrap();
    let g = b.build(y).unwrap();
    let t = execute(&g, &Tensor::new(Shape::new(m, n), data.to_vec())).unwrap();
    let out = t.output(&g);
    let mut worst = 0f64;
    for (row, got) in real.chunks(n).zip(out.data.chunks(n)) {
        let ms = row.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n as f64;
        let inv = 1.0 / (ms + 1e-5).sqrt();
        let want: Vec<f64> = row.iter().map(|&v| f64::from(v) * inv).collect();
        let top = want.iter().fold(0f64, |a, v| a.max(v.abs()));
        let mut row_worst = 0f64;
        for (g, w) in got.iter().zip(&want) {
            row_worst = row_worst.max((*g as f64 / f64::from(1 << S) - w).abs() / top);
        }
        eprintln!("  row ms {ms:.3e}: error {row_worst:.5}");
        worst = worst.max(row_worst);
    }
    worst
}

#[test]
fn wide_norm_is_precise_on_rows_many_octaves_apart() {
    // A massive row (one channel at 24,000 real units, as in SmolLM2's first position) beside
    // rows of rms 4 to 100: mean squares 2^20 apart.
    for n in [64, 576] {
        let data = rows(
            n,
            &[30.0, 4.0, 10.0, 100.0],
            &[24_000.0, 5.0, -20.0, 300.0],
            256,
        );
        let err = wide_norm_error(n, &data, 256);
        eprintln!("n {n}: max error {err:.5}");
        assert!(err < 0.006, "n {n}: {err}");
    }
    // Small rows only: the same construction stays precise.
    let data = rows(96, &[0.05, 0.5, 2.0], &[0.1, 1.0, 3.0], 1);
    let err = wide_norm_error(96, &data, 1);
    eprintln!("small rows: max error {err:.5}");
    assert!(err < 0.006, "{err}");
}
