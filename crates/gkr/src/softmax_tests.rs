use super::*;
use crate::lookup::RealMask;

fn mask(rows: usize, cols: usize, causal: bool) -> RealMask {
    RealMask {
        rows,
        cols,
        log_rows: rows.next_power_of_two().ilog2(),
        log_cols: cols.next_power_of_two().ilog2().max(1),
        causal,
        log_blocks: 0,
    }
}

fn pt(n: usize, seed: u32) -> Vec<QM31> {
    (0..n as u32)
        .map(|i| QM31::from_u32_unchecked(i * 7 + seed, 3 + seed, i, 11))
        .collect()
}

#[test]
fn causal_mask_eval_matches_its_table() {
    for (rows, cols) in [(3, 3), (4, 4), (3, 5), (1, 2), (5, 8)] {
        for causal in [false, true] {
            let m = mask(rows, cols, causal);
            let p = pt((m.log_rows + m.log_cols) as usize, rows as u32);
            assert_eq!(m.eval(&p), eval_mle_base(&m.table(), &p), "{rows}x{cols}");
        }
    }
}

#[test]
fn block_causal_mask_restarts_per_block_and_eval_matches_its_table() {
    for (log_blocks, rows, cols) in [(1u32, 8usize, 4usize), (2, 16, 4), (2, 8, 2), (1, 8, 8)] {
        let m = RealMask {
            log_blocks,
            ..mask(rows, cols, true)
        };
        let per_block = rows >> log_blocks;
        for r in 0..rows {
            for c in 0..cols {
                let i = (r << m.log_cols) + c;
                assert_eq!(m.contains(i), c <= r % per_block, "{r},{c}");
            }
        }
        let p = pt((m.log_rows + m.log_cols) as usize, rows as u32 + 1);
        assert_eq!(m.eval(&p), eval_mle_base(&m.table(), &p), "{rows}x{cols}");
    }
}

#[test]
fn zero_off_mask_works_and_nonzero_fails() {
    let m = mask(3, 3, true);
    let t: Vec<M31> = (0..16)
        .map(|i| M31::from(if m.contains(i) { i as u32 + 1 } else { 0 }))
        .collect();
    let (proof, claim) = prove_zero_off_mask(&t, &m, &mut Blake2sChannel::default());
    assert_eq!(eval_mle_base(&t, &claim.point), claim.value);
    let got = verify_zero_off_mask(&proof, &m, &mut Blake2sChannel::default()).unwrap();
    assert_eq!(got, claim);

    // One entry above the diagonal.
    let mut bad = t.clone();
    bad[1] = M31::from(5);
    let (proof, _) = prove_zero_off_mask(&bad, &m, &mut Blake2sChannel::default());
    assert!(verify_zero_off_mask(&proof, &m, &mut Blake2sChannel::default()).is_err());
}

/// A 3 x 3 causal softmax step chain on small integers, tables padded to 4 x 4.
struct Witness {
    x: Vec<M31>,
    mx: Vec<M31>,
    h: Vec<M31>,
}

fn witness(m: &RealMask) -> Witness {
    let vals = [[5i64, 9, -2], [1, 7, 3], [4, -6, 4]];
    let mut x = vec![M31::from(0); 16];
    let mut mx = vec![M31::from(0); 8];
    let mut h = vec![M31::from(0); 16];
    for i in 0..3 {
        let mut best = (i64::MIN, 0);
        for j in 0..3 {
            x[i * 4 + j] = crate::table::signed_m31(vals[i][j]);
            if m.contains(i * 4 + j) && vals[i][j] > best.0 {
                best = (vals[i][j], j);
            }
        }
        mx[i * 2] = crate::table::signed_m31(best.0);
        h[i * 4 + best.1] = M31::from(1);
    }
    Witness { x, mx, h }
}

fn gap_claim(w: &Witness, point: Vec<QM31>) -> Claim {
    let d: Vec<M31> = (0..16).map(|i| w.mx[(i >> 2) << 1] - w.x[i]).collect();
    let v = eval_mle_base(&d, &point);
    Claim::new(point, v)
}

fn check(claims: &[Claim], table: &[M31]) -> bool {
    claims
        .iter()
        .all(|c| eval_mle_base(table, &c.point) == c.value)
}

#[test]
fn row_max_works_and_wrong_selection_fails() {
    let m = mask(3, 3, true);
    let w = witness(&m);
    let gap = gap_claim(&w, pt(4, 2));
    let (proof, claims) =
        prove_row_max(&w.x, &w.mx, &w.h, &m, &gap, &mut Blake2sChannel::default());
    let got = verify_row_max(&proof, &m, &gap, &mut Blake2sChannel::default()).unwrap();
    assert_eq!(got, claims);
    assert!(check(&claims.input, &w.x) && check(&claims.max, &w.mx) && check(&claims.aux, &w.h));

    // A max one above the true one: no selected entry has gap 0.
    let mut high = Witness {
        x: w.x.clone(),
        mx: w.mx.clone(),
        h: w.h.clone(),
    };
    high.mx[0] += M31::from(1);
    let gap = gap_claim(&high, pt(4, 2));
    let (proof, _) = prove_row_max(
        &high.x,
        &high.mx,
        &high.h,
        &m,
        &gap,
        &mut Blake2sChannel::default(),
    );
    assert!(verify_row_max(&proof, &m, &gap, &mut Blake2sChannel::default()).is_err());
}

#[test]
fn softmax_div_works() {
    let m = mask(3, 3, true);
    let shift = 8;
    // e on allowed entries only.
    let ev = [[64u32, 0, 0], [10, 64, 0], [64, 1, 64]];
    let mut e = vec![M31::from(0); 16];
    let mut p = vec![M31::from(0); 16];
    let mut r = vec![M31::from(0); 16];
    let mut g = vec![M31::from(0); 16];
    for i in 0..3 {
        let s: u32 = ev[i].iter().sum();
        for j in 0..3 {
            let q = (ev[i][j] << shift) / s;
            e[i * 4 + j] = M31::from(ev[i][j]);
            p[i * 4 + j] = M31::from(q);
            r[i * 4 + j] = M31::from((ev[i][j] << shift) - q * s);
            g[i * 4 + j] = M31::from(s) - M31::from(1) - r[i * 4 + j];
        }
        g[i * 4 + 3] = M31::from(s) - M31::from(1);
    }
    for j in 0..4 {
        g[12 + j] = -M31::from(1);
    }
    let point = pt(4, 5);
    let rem = Claim::new(point.clone(), eval_mle_base(&r, &point));
    let gap = Claim::new(point.clone(), eval_mle_base(&g, &point));
    let (proof, claims) = prove_softmax_div(
        &e,
        &p,
        &m,
        shift,
        &rem,
        &gap,
        &mut Blake2sChannel::default(),
    );
    let got = verify_softmax_div(
        &proof,
        &m,
        shift,
        &rem,
        &gap,
        &mut Blake2sChannel::default(),
    )
    .unwrap();
    assert_eq!(got, claims);
    assert!(check(&claims.input, &e) && check(&claims.aux, &p));
}
