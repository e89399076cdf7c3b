//! Tests of the LogUp lookups.
use super::*;
use sumcheck::{eval_mle_base, SumcheckProof};

fn fd(tables: &[TableKind]) -> Vec<TableData<'static>> {
    tables.iter().map(|&k| TableData::formula(k)).collect()
}

fn m(x: i64) -> M31 {
    M31::from_u32_unchecked(x.rem_euclid(stwo::core::fields::m31::P as i64) as u32)
}

fn setup(xs: &[i64]) -> (Vec<TableKind>, Vec<M31>, Vec<M31>, Vec<M31>) {
    let tables = vec![
        TableKind::Range {
            lo: -8,
            log_size: 4,
        },
        TableKind::Relu { log_size: 5 },
    ];
    let a: Vec<M31> = xs.iter().map(|&x| m(x)).collect();
    let r: Vec<M31> = xs.iter().map(|&x| m(x.max(0))).collect();
    let b: Vec<M31> = xs.iter().map(|&x| m(x * 2)).collect();
    (tables, a, r, b)
}

#[test]
fn lookup_works() {
    let xs: Vec<i64> = (0..16).map(|i| (i * 7 % 16) - 8).collect();
    let (tables, a, r, b) = setup(&xs);
    let cols = vec![
        LookupColumn {
            table: 0,
            values: vec![&a],
            mask: None,
        },
        LookupColumn {
            table: 1,
            values: vec![&b, &b],
            mask: None,
        },
    ];
    // b = 2x is not relu(b) for negative x: must be detected before proving.
    assert!(multiplicities(&fd(&tables), &cols).is_err());
    let bb: Vec<M31> = xs.iter().map(|&x| m((2 * x).max(0))).collect();
    let cols = vec![
        LookupColumn {
            table: 0,
            values: vec![&a],
            mask: None,
        },
        LookupColumn {
            table: 1,
            values: vec![&b, &bb],
            mask: None,
        },
        LookupColumn {
            table: 1,
            values: vec![&a[..2], &r[..2]],
            mask: None,
        },
    ];
    let mults = multiplicities(&fd(&tables), &cols).unwrap();
    let mut pc = Blake2sChannel::default();
    let (proof, claims) = prove(&fd(&tables), &cols, &mults, &mut pc);
    let specs: Vec<ColumnSpec> = cols
        .iter()
        .map(|c| ColumnSpec {
            table: c.table,
            log_len: c.values[0].len().ilog2(),
            mask: None,
        })
        .collect();
    let mut vc = Blake2sChannel::default();
    let vclaims = verify(&tables, &specs, &proof, &mut vc).unwrap();
    assert_eq!(vclaims, claims);
    assert_eq!(
        eval_mle_base(&a, &claims.columns[0][0].point),
        claims.columns[0][0].value
    );
    assert_eq!(
        eval_mle_base(&mults[1], &claims.multiplicities[1].point),
        claims.multiplicities[1].value
    );
}

#[test]
fn committed_table_works_and_wrong_output_fails() {
    // f(t) = 3t + 1 on [-8, 8), committed elsewhere.
    let kind = TableKind::Committed { log_size: 4, id: 7 };
    let f: Vec<M31> = (0..16).map(|b| m(3 * (b - 8) + 1)).collect();
    let tables = [TableData::committed(kind, &f)];
    let xs: Vec<M31> = (0..8).map(|i| m(i - 4)).collect();
    let ys: Vec<M31> = (0..8).map(|i| m(3 * (i - 4) + 1)).collect();
    let cols = vec![LookupColumn {
        table: 0,
        values: vec![&xs, &ys],
        mask: None,
    }];
    let mults = multiplicities(&tables, &cols).unwrap();
    let mut pc = Blake2sChannel::default();
    let (proof, claims) = prove(&tables, &cols, &mults, &mut pc);
    let specs = vec![ColumnSpec {
        table: 0,
        log_len: 3,
        mask: None,
    }];
    let v = verify(&[kind], &specs, &proof, &mut Blake2sChannel::default()).unwrap();
    assert_eq!(v, claims);
    assert_eq!(
        eval_mle_base(&f, &v.committed[0].point),
        v.committed[0].value
    );

    // A prover claiming a different committed column at the point is caught by the caller's
    // opening; a wrong column value breaks the sum here.
    let mut bad_y = ys.clone();
    bad_y[2] += M31::from(1);
    let cols = vec![LookupColumn {
        table: 0,
        values: vec![&xs, &bad_y],
        mask: None,
    }];
    assert!(multiplicities(&tables, &cols).is_err());
    let mut pc = Blake2sChannel::default();
    let (proof, _) = prove(&tables, &cols, &mults, &mut pc);
    assert!(matches!(
        verify(&[kind], &specs, &proof, &mut Blake2sChannel::default()),
        Err(GkrError::LookupSumNonZero)
    ));
}

#[test]
fn masked_column_ignores_padding() {
    // A 3 x 3 tensor padded to 4 x 4 whose padding (0, 0) is not a table row: f(t) = t + 5.
    let kind = TableKind::Committed { log_size: 4, id: 0 };
    let f: Vec<M31> = (0..16).map(|b| m(b - 8 + 5)).collect();
    let tables = [TableData::committed(kind, &f)];
    let mask = RealMask {
        rows: 3,
        cols: 3,
        log_rows: 2,
        log_cols: 2,
        causal: false,
        log_blocks: 0,
    };
    let xs: Vec<M31> = (0..16)
        .map(|i| {
            if mask.contains(i) {
                m((i % 7) as i64 - 3)
            } else {
                m(0)
            }
        })
        .collect();
    let ys: Vec<M31> = (0..16)
        .map(|i| if mask.contains(i) { xs[i] + m(5) } else { m(0) })
        .collect();
    let unmasked = vec![LookupColumn {
        table: 0,
        values: vec![&xs, &ys],
        mask: None,
    }];
    assert!(multiplicities(&tables, &unmasked).is_err());
    let cols = vec![LookupColumn {
        table: 0,
        values: vec![&xs, &ys],
        mask: Some(mask),
    }];
    let mults = multiplicities(&tables, &cols).unwrap();
    let (proof, claims) = prove(&tables, &cols, &mults, &mut Blake2sChannel::default());
    let specs = vec![ColumnSpec {
        table: 0,
        log_len: 4,
        mask: Some(mask),
    }];
    let v = verify(&[kind], &specs, &proof, &mut Blake2sChannel::default()).unwrap();
    assert_eq!(v, claims);
    // The verifier's own mask decides: a different mask rejects the proof.
    let other = RealMask {
        rows: 4,
        cols: 3,
        log_rows: 2,
        log_cols: 2,
        causal: false,
        log_blocks: 0,
    };
    let specs = vec![ColumnSpec {
        table: 0,
        log_len: 4,
        mask: Some(other),
    }];
    assert!(verify(&[kind], &specs, &proof, &mut Blake2sChannel::default()).is_err());
}

#[test]
fn value_outside_table_fails() {
    // A prover that forces a value outside the table through with fake multiplicities.
    let xs: Vec<i64> = vec![1, 2, 3, 100];
    let (tables, a, _, _) = setup(&xs);
    let cols = vec![LookupColumn {
        table: 0,
        values: vec![&a],
        mask: None,
    }];
    let mut mults = vec![vec![M31::from(0); 16], vec![M31::from(0); 32]];
    for &x in &xs[..3] {
        mults[0][(x + 8) as usize] += M31::from(1);
    }
    mults[0][15] += M31::from(1); // claims 7 instead of 100
    let mut pc = Blake2sChannel::default();
    let (proof, _) = prove(&fd(&tables), &cols, &mults, &mut pc);
    let specs = vec![ColumnSpec {
        table: 0,
        log_len: 2,
        mask: None,
    }];
    let mut vc = Blake2sChannel::default();
    assert!(matches!(
        verify(&tables, &specs, &proof, &mut vc),
        Err(GkrError::LookupSumNonZero)
    ));
}

#[test]
fn malformed_proof_fails_without_panic() {
    let xs: Vec<i64> = (0..8).map(|i| i - 4).collect();
    let (tables, a, _, _) = setup(&xs);
    let cols = vec![LookupColumn {
        table: 0,
        values: vec![&a],
        mask: None,
    }];
    let mults = multiplicities(&fd(&tables[..1]), &cols).unwrap();
    let mut pc = Blake2sChannel::default();
    let (proof, _) = prove(&fd(&tables[..1]), &cols, &mults, &mut pc);
    let specs = vec![ColumnSpec {
        table: 0,
        log_len: 3,
        mask: None,
    }];
    let mut tampered = proof.clone();
    tampered.gkr.sumcheck_proofs.pop();
    assert!(verify(
        &tables[..1],
        &specs,
        &tampered,
        &mut Blake2sChannel::default()
    )
    .is_err());
    let mut tampered = proof.clone();
    tampered.gkr.layer_masks[0].pop();
    assert!(verify(
        &tables[..1],
        &specs,
        &tampered,
        &mut Blake2sChannel::default()
    )
    .is_err());
    let mut tampered = proof.clone();
    tampered.column_evals[0].0[0] += QM31::one();
    assert!(matches!(
        verify(
            &tables[..1],
            &specs,
            &tampered,
            &mut Blake2sChannel::default()
        ),
        Err(GkrError::LookupInputMismatch { instance: 0 })
    ));
    let mut tampered = proof;
    tampered.gkr.sumcheck_proofs[2].round_polys[0].0[0] += QM31::one();
    assert!(verify(
        &tables[..1],
        &specs,
        &tampered,
        &mut Blake2sChannel::default()
    )
    .is_err());
}

/// One-component, unmasked columns of table 0.
fn plain_columns(data: &[Vec<M31>]) -> Vec<LookupColumn<'_>> {
    data.iter()
        .map(|v| LookupColumn {
            table: 0,
            values: vec![v],
            mask: None,
        })
        .collect()
}

#[test]
fn grouped_columns_prove_and_bind_each_column() {
    // Seven columns of one table and length, plus two masked ones: instances of 4, 2, 1 and
    // a masked pair. Each column's claim must hold on that column.
    let (tables, _, _, _) = setup(&[0]);
    let data: Vec<Vec<M31>> = (0..9)
        .map(|c| {
            (0..8)
                .map(|i| m(((i * 3 + c * 5) % 16) as i64 - 8))
                .collect()
        })
        .collect();
    let mask = RealMask {
        rows: 2,
        cols: 3,
        log_rows: 1,
        log_cols: 2,
        causal: true,
        log_blocks: 0,
    };
    let mut cols = plain_columns(&data[..7]);
    for v in &data[7..] {
        cols.push(LookupColumn {
            table: 0,
            values: vec![v],
            mask: Some(mask),
        });
    }
    let specs: Vec<ColumnSpec> = cols.iter().map(LookupColumn::spec).collect();
    assert_eq!(crate::lookup_instances::instances(&specs).len(), 4);
    let mults = multiplicities(&fd(&tables), &cols).unwrap();
    let (proof, claims) = prove(&fd(&tables), &cols, &mults, &mut Blake2sChannel::default());
    let v = verify(&tables, &specs, &proof, &mut Blake2sChannel::default()).unwrap();
    assert_eq!(v, claims);
    for (c, col) in cols.iter().enumerate() {
        let cl = &claims.columns[c][0];
        assert_eq!(eval_mle_base(col.values[0], &cl.point), cl.value);
    }
    // Changing one column's evaluation, or swapping two inside a group, is caught.
    for c in [0, 2, 5, 6, 8] {
        let mut t = proof.clone();
        t.column_evals[c].0[0] += QM31::one();
        assert!(matches!(
            verify(&tables, &specs, &t, &mut Blake2sChannel::default()),
            Err(GkrError::LookupInputMismatch { .. })
        ));
    }
    let mut t = proof.clone();
    t.column_evals.swap(1, 3);
    assert!(verify(&tables, &specs, &t, &mut Blake2sChannel::default()).is_err());
    // A value outside the table in the third column of a group, forced with fake counts.
    let mut bad = data.clone();
    bad[2][5] = m(100);
    let bad_cols = plain_columns(&bad[..4]);
    let mut mults = vec![vec![M31::from(0); 16], vec![M31::from(0); 32]];
    for (c, v) in bad.iter().take(4).enumerate() {
        for (i, x) in v.iter().enumerate() {
            // The out-of-table 100 is counted as the row of -8.
            let p = stwo::core::fields::m31::P as i64;
            let signed = if x.0 as i64 > p / 2 {
                x.0 as i64 - p
            } else {
                x.0 as i64
            };
            let row = if c == 2 && i == 5 {
                0
            } else {
                (signed + 8) as usize
            };
            mults[0][row] += M31::from(1);
        }
    }
    let (proof, _) = prove(
        &fd(&tables),
        &bad_cols,
        &mults,
        &mut Blake2sChannel::default(),
    );
    let specs: Vec<ColumnSpec> = bad_cols.iter().map(LookupColumn::spec).collect();
    assert!(matches!(
        verify(&tables, &specs, &proof, &mut Blake2sChannel::default()),
        Err(GkrError::LookupSumNonZero)
    ));
}

#[test]
fn column_cannot_use_another_tables_rows() {
    // Rows are tagged with their table: a value of a wider range table, or a row (x, 0) of a
    // range table offered as a ReLU pair, does not satisfy another table's column even with
    // the multiplicities moved to the table that holds it.
    let tables = vec![
        TableKind::Range {
            lo: -8,
            log_size: 4,
        },
        TableKind::Range {
            lo: -64,
            log_size: 7,
        },
        TableKind::Relu { log_size: 5 },
    ];
    let narrow: Vec<M31> = [1i64, 2, 3, 40].iter().map(|&x| m(x)).collect();
    let relu_x: Vec<M31> = [1i64, -2, 5, 3].iter().map(|&x| m(x)).collect();
    let relu_y: Vec<M31> = [1i64, 0, 0, 3].iter().map(|&x| m(x)).collect();
    let cols = vec![
        LookupColumn {
            table: 0,
            values: vec![&narrow],
            mask: None,
        },
        LookupColumn {
            table: 2,
            values: vec![&relu_x, &relu_y],
            mask: None,
        },
    ];
    let mut mults = vec![
        vec![M31::from(0); 16],
        vec![M31::from(0); 128],
        vec![M31::from(0); 32],
    ];
    for x in [1i64, 2, 3] {
        mults[0][(x + 8) as usize] += M31::from(1);
    }
    mults[1][40 + 64] += M31::from(1); // 40 from the wide range table
    for x in [1i64, -2, 3] {
        mults[2][(x + 16) as usize] += M31::from(1);
    }
    mults[1][5 + 64] += M31::from(1); // (5, 0) from the wide range table
    let specs = vec![
        ColumnSpec {
            table: 0,
            log_len: 2,
            mask: None,
        },
        ColumnSpec {
            table: 2,
            log_len: 2,
            mask: None,
        },
    ];
    let mut pc = Blake2sChannel::default();
    let (proof, _) = prove(&fd(&tables), &cols, &mults, &mut pc);
    let mut vc = Blake2sChannel::default();
    assert!(matches!(
        verify(&tables, &specs, &proof, &mut vc),
        Err(GkrError::LookupSumNonZero)
    ));
}

#[test]
fn lookup_proof_must_be_empty_without_lookups() {
    let (proof, claims) = prove(&[], &[], &[], &mut Blake2sChannel::default());
    assert_eq!(proof, LookupProof::empty());
    assert_eq!(
        verify(&[], &[], &proof, &mut Blake2sChannel::default()).unwrap(),
        claims
    );
    // Anything in the proof of a circuit without lookups is a second encoding of it.
    let mut padded = LookupProof::empty();
    padded.multiplicity_evals.0.push(QM31::one());
    assert!(matches!(
        verify(&[], &[], &padded, &mut Blake2sChannel::default()),
        Err(GkrError::MalformedLookup(_))
    ));
    let mut padded = LookupProof::empty();
    padded.gkr.sumcheck_proofs.push(SumcheckProof {
        round_polys: vec![],
    });
    assert!(matches!(
        verify(&[], &[], &padded, &mut Blake2sChannel::default()),
        Err(GkrError::MalformedLookup(_))
    ));
}
