//! Agreement with TA-Lib 0.8 (EMA, RSI, MACD, BBANDS, ATR) and pandas-ta (SuperTrend) on real
//! BTCUSDT 1h klines (January 2021, 744 rows). The fixture and the script that regenerates it
//! live in `strategies/testdata/indicators/`.

use super::*;

const REFERENCE: &str = include_str!("../../testdata/indicators/btcusdt_1h_2021_01_reference.csv");

struct Reference {
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    /// Column name → values (NaN for empty fields), in file order.
    columns: Vec<(String, Vec<f64>)>,
}

fn load() -> Reference {
    let mut lines = REFERENCE.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
    for line in lines {
        for (i, field) in line.split(',').enumerate() {
            cols[i].push(if field.is_empty() {
                f64::NAN
            } else {
                field.parse().expect("number")
            });
        }
    }
    let get = |name: &str| cols[header.iter().position(|h| *h == name).expect(name)].clone();
    Reference {
        high: get("high"),
        low: get("low"),
        close: get("close"),
        columns: header
            .iter()
            .zip(&cols)
            .skip(4)
            .map(|(h, c)| ((*h).to_string(), c.clone()))
            .collect(),
    }
}

/// Largest relative error, asserting identical warm-up (NaN positions).
fn max_rel_err(name: &str, got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let mut worst = 0.0f64;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g.is_nan(),
            w.is_nan(),
            "{name}: warm-up differs at row {i} ({g} vs {w})"
        );
        if !w.is_nan() {
            worst = worst.max((g - w).abs() / w.abs().max(1e-300));
        }
    }
    worst
}

#[test]
fn standard_features_match_talib_and_pandas_ta() {
    let r = load();
    assert_eq!(r.close.len(), 744);
    let f = standard_features(&r.high, &r.low, &r.close).unwrap();
    let mut report = Vec::new();
    for ((name, got), (ref_name, want)) in StandardFeatures::COLUMNS
        .iter()
        .zip(f.columns())
        .zip(&r.columns)
    {
        assert_eq!(name, ref_name, "column order");
        let err = max_rel_err(name, got, want);
        report.push(format!("{name}: {err:.2e}"));
        assert!(err <= 1e-9, "{name}: max relative error {err:e}");
    }
    eprintln!(
        "max relative error vs TA-Lib / pandas-ta: {}",
        report.join(", ")
    );
}

#[test]
fn standalone_functions_match_the_reference_too() {
    let r = load();
    let col = |n: &str| r.columns.iter().find(|(h, _)| h == n).expect(n).1.clone();
    assert!(max_rel_err("ema_26", &ema(&r.close, 26).unwrap(), &col("ema_26")) <= 1e-12);
    assert!(max_rel_err("rsi_14", &rsi(&r.close, 14).unwrap(), &col("rsi_14")) <= 1e-12);
    assert!(
        max_rel_err(
            "atr_10",
            &atr(&r.high, &r.low, &r.close, 10).unwrap(),
            &col("atr_10")
        ) <= 1e-12
    );
    let m = macd(&r.close, 12, 26, 9).unwrap();
    assert!(max_rel_err("macd_signal", &m.signal, &col("macd_signal")) <= 1e-9);
    let st = supertrend(&r.high, &r.low, &r.close, 10, 3.0).unwrap();
    assert_eq!(
        max_rel_err("supertrend_dir", &st.direction, &col("supertrend_dir")),
        0.0
    );
}
