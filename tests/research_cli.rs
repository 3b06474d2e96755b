//! End-to-end tests of the research commands: the real `hermes` binary on real Binance and
//! market files (../shared/data) and on hand-made files, checking outputs against the model
//! library and hand-checked values, and bad input against one clear error line and exit code.

mod common;

use std::path::Path;

use common::{col, data_dir, hermes, hermes_err, hermes_ok, num, read_csv};

const EXIT_DATA: i32 = 65;
const EXIT_NO_INPUT: i32 = 66;
const EXIT_USAGE: i32 = 2;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Real BTCUSDT 1h klines of 2021-01 (headerless Binance CSV, 744 rows).
fn btc_hourly() -> Option<std::path::PathBuf> {
    Some(data_dir()?.join("alphakit/spot/BTCUSDT-1h-2021-01.csv"))
}

/// Writes the BTCUSDT 1h history of 2020-01..2021-06 as one bar file with a header.
fn btc_hourly_history(dir: &Path) -> Option<std::path::PathBuf> {
    let data = data_dir()?.join("alphakit/spot");
    let mut text = String::from("time,open,high,low,close,volume\n");
    for year in [2020, 2021] {
        for month in 1..=12 {
            let f = data.join(format!("BTCUSDT-1h-{year}-{month:02}.csv"));
            if !f.exists() {
                continue;
            }
            for line in std::fs::read_to_string(&f).unwrap().lines() {
                let c: Vec<&str> = line.split(',').collect();
                text.push_str(&c[..6].join(","));
                text.push('\n');
            }
        }
    }
    let out = dir.join("btc_1h.csv");
    std::fs::write(&out, text).unwrap();
    Some(out)
}

#[test]
fn help_exists_for_every_command() {
    for cmd in [
        vec!["--help"],
        vec!["features", "--help"],
        vec!["regime", "fit", "--help"],
        vec!["regime", "label", "--help"],
        vec!["simulate", "chiarella", "--help"],
        vec!["simulate", "calibrate", "--help"],
        vec!["allocate", "--help"],
        vec!["metrics", "--help"],
        vec!["demo", "--help"],
    ] {
        let out = hermes_ok(&cmd);
        assert!(out.contains("Usage: hermes"), "{cmd:?}: {out}");
    }
    let out = hermes(&["features"]);
    assert_eq!(out.status.code(), Some(EXIT_USAGE));
}

#[test]
fn features_on_real_binance_klines_match_the_library() {
    let Some(input) = btc_hourly() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.csv");
    hermes_ok(&["features", "--input", s(&input), "--output", s(&out)]);
    let (header, rows) = read_csv(&out);
    assert_eq!(rows.len(), 744, "one output row per input row");
    assert_eq!(&header[..12], &strategies_binance_columns());
    for name in strategies::indicators::StandardFeatures::COLUMNS {
        col(&header, name);
    }
    // Rows keep their input order and cells: the first open_time of the month.
    assert_eq!(rows[0][0], "1609459200000");
    let close: Vec<f64> = rows
        .iter()
        .map(|r| num(&r[col(&header, "close")]).unwrap())
        .collect();
    let high: Vec<f64> = rows
        .iter()
        .map(|r| num(&r[col(&header, "high")]).unwrap())
        .collect();
    let low: Vec<f64> = rows
        .iter()
        .map(|r| num(&r[col(&header, "low")]).unwrap())
        .collect();
    let lib = strategies::indicators::standard_features(&high, &low, &close).unwrap();
    for (name, values) in strategies::indicators::StandardFeatures::COLUMNS
        .iter()
        .zip(lib.columns())
    {
        let c = col(&header, name);
        for (r, want) in values.iter().enumerate() {
            match num(&rows[r][c]) {
                None => assert!(
                    want.is_nan(),
                    "{name} row {r}: empty cell but library has {want}"
                ),
                Some(got) => assert_eq!(got, *want, "{name} row {r}"),
            }
        }
    }
    // Warm-up is empty, not zero: EMA(12) first value at row 11, MACD signal at row 33.
    let ema = col(&header, "ema_12");
    assert!(rows[10][ema].is_empty() && !rows[11][ema].is_empty());
    let sig = col(&header, "macd_signal");
    assert!(rows[32][sig].is_empty() && !rows[33][sig].is_empty());
}

fn strategies_binance_columns() -> Vec<String> {
    [
        "open_time",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "close_time",
        "quote_volume",
        "count",
        "taker_buy_base_volume",
        "taker_buy_quote_volume",
        "ignore",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn features_parquet_output_round_trips_through_csv() {
    let Some(input) = btc_hourly() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("f.parquet");
    let csv_out = dir.path().join("f.csv");
    let csv_again = dir.path().join("g.csv");
    hermes_ok(&["features", "--input", s(&input), "--output", s(&pq)]);
    hermes_ok(&["features", "--input", s(&input), "--output", s(&csv_out)]);
    // Parquet in, CSV out: the features recomputed from the Parquet copy are the same values.
    hermes_ok(&["features", "--input", s(&pq), "--output", s(&csv_again)]);
    let (h1, r1) = read_csv(&csv_out);
    let (h2, r2) = read_csv(&csv_again);
    assert_eq!(h1, h2);
    assert_eq!(r1.len(), r2.len());
    for name in strategies::indicators::StandardFeatures::COLUMNS {
        let (a, b) = (col(&h1, name), col(&h2, name));
        for (x, y) in r1.iter().zip(&r2) {
            assert_eq!(num(&x[a]), num(&y[b]), "{name}");
        }
    }
    // The time column is a real timestamp in Parquet, printed as ISO-8601 in CSV.
    assert_eq!(r2[0][col(&h2, "open_time")], "2021-01-01T00:00:00Z");
}

#[test]
fn features_accept_iso_times_and_microsecond_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("time,open,high,low,close,volume\n");
    for i in 0..40 {
        let p = 100.0 + f64::from(i);
        text.push_str(&format!(
            "2024-01-01T{:02}:{:02}:00Z,{p},{},{},{p},1\n",
            i / 60,
            i % 60,
            p + 1.0,
            p - 1.0
        ));
    }
    let a = dir.path().join("iso.csv");
    std::fs::write(&a, &text).unwrap();
    hermes_ok(&[
        "features",
        "--input",
        s(&a),
        "--output",
        s(&dir.path().join("o.csv")),
    ]);
    let b = dir.path().join("us.csv");
    std::fs::write(
        &b,
        "time,open,high,low,close,volume\n1778198400000000,1,2,0.5,1.5,3\n",
    )
    .unwrap();
    hermes_ok(&[
        "features",
        "--input",
        s(&b),
        "--output",
        s(&dir.path().join("o2.parquet")),
    ]);
}

#[test]
fn features_bad_input_gets_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.csv");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cases: Vec<(std::path::PathBuf, &str)> = vec![
        (
            write("nohigh.csv", "time,open,low,close,volume\n1,1,1,1,1\n"),
            "missing column \"high\"",
        ),
        (
            write(
                "nan.csv",
                "time,open,high,low,close,volume\n1,1,2,0.5,NaN,1\n",
            ),
            "not finite",
        ),
        (
            write(
                "text.csv",
                "time,open,high,low,close,volume\n1,1,2,0.5,abc,1\n",
            ),
            "\"abc\" is not a number",
        ),
        (write("empty.csv", ""), "empty file"),
        (
            write("header.csv", "time,open,high,low,close,volume\n"),
            "no data rows",
        ),
        (
            write("ragged.csv", "time,open,high,low,close,volume\n1,1,2,0,1\n"),
            "malformed CSV",
        ),
        (
            write(
                "inverted.csv",
                "time,open,high,low,close,volume\n1,1,1,2,1,1\n",
            ),
            "high",
        ),
        (
            write(
                "badtime.csv",
                "time,open,high,low,close,volume\nsoon,1,2,0.5,1,1\n",
            ),
            "soon",
        ),
        (
            write("corrupt.parquet", "PAR1 definitely not parquet PAR1"),
            "Parquet",
        ),
        (write("bars.txt", "x"), "unsupported file type"),
    ];
    for (input, want) in cases {
        let err = hermes_err(
            &["features", "--input", s(&input), "--output", s(&out)],
            EXIT_DATA,
        );
        let name = input.file_name().unwrap().to_str().unwrap();
        assert!(err.contains(name), "error should name {name}: {err}");
        assert!(err.contains(want), "{name}: want {want:?} in {err}");
    }
    assert!(!out.exists(), "no output written on failure");
    let err = hermes_err(
        &[
            "features",
            "--input",
            s(&dir.path().join("absent.csv")),
            "--output",
            s(&out),
        ],
        EXIT_NO_INPUT,
    );
    assert!(err.contains("absent.csv"), "{err}");
}

#[test]
fn regime_fit_and_label_on_real_btc_history() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bars) = btc_hourly_history(dir.path()) else {
        return;
    };
    let model = dir.path().join("model.json");
    let labels = dir.path().join("labels.csv");
    hermes_ok(&[
        "regime",
        "fit",
        "--input",
        s(&bars),
        "--states",
        "3",
        "--restarts",
        "4",
        "--seed",
        "1",
        "--output",
        s(&model),
    ]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let states = json["states"].as_array().unwrap();
    assert_eq!(states.len(), 3);
    let mut names: Vec<&str> = states.iter().map(|s| s["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["mean_reverting", "trending", "volatile"]);
    for row in json["transition"].as_array().unwrap() {
        let sum: f64 = row
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-9);
    }
    let volatile = states.iter().find(|s| s["name"] == "volatile").unwrap()["std"]
        .as_f64()
        .unwrap();
    assert!(
        states
            .iter()
            .all(|s| s["std"].as_f64().unwrap() <= volatile)
    );

    // Same seed, same model, byte for byte.
    let again = dir.path().join("model2.json");
    hermes_ok(&[
        "regime",
        "fit",
        "--input",
        s(&bars),
        "--restarts",
        "4",
        "--seed",
        "1",
        "--output",
        s(&again),
    ]);
    assert_eq!(
        std::fs::read(&model).unwrap(),
        std::fs::read(&again).unwrap()
    );

    let stdout = hermes_ok(&[
        "regime",
        "label",
        "--model",
        s(&model),
        "--input",
        s(&bars),
        "--output",
        s(&labels),
    ]);
    let (header, rows) = read_csv(&labels);
    let n_bars = std::fs::read_to_string(&bars).unwrap().lines().count() - 1;
    assert_eq!(rows.len(), n_bars - 1, "one row per log return");
    for prefix in ["p_", "smoothed_"] {
        for r in &rows {
            let total: f64 = ["trending", "mean_reverting", "volatile"]
                .iter()
                .map(|n| num(&r[col(&header, &format!("{prefix}{n}"))]).unwrap())
                .sum();
            assert!((total - 1.0).abs() < 1e-9, "{prefix} sums to {total}");
        }
    }
    let (reg, conf) = (col(&header, "regime"), col(&header, "confidence"));
    for r in &rows {
        let p = num(&r[col(&header, &format!("p_{}", r[reg]))]).unwrap();
        assert_eq!(
            num(&r[conf]).unwrap(),
            p,
            "confidence is the chosen state's probability"
        );
        assert!(names.contains(&r[col(&header, "viterbi")].as_str()));
    }
    let last_ll = num(&rows.last().unwrap()[col(&header, "loglik")]).unwrap();
    let printed: f64 = stdout
        .trim()
        .trim_start_matches("log-likelihood:")
        .trim()
        .parse()
        .unwrap();
    assert!(
        (printed - last_ll).abs() <= 1e-6 * last_ll.abs().max(1.0),
        "{printed} vs {last_ll}"
    );
    assert!(rows[0][col(&header, "time")].starts_with("2020-01-01T01:00:00"));
}

#[test]
fn regime_label_with_a_hand_written_model_and_a_returns_column() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.json");
    std::fs::write(
        &model,
        r#"{"states":[{"name":"calm","mean":0.0,"std":0.01},{"name":"storm","mean":0.0,"std":0.05}],
            "transition":[[0.9,0.1],[0.2,0.8]],"initial":[0.5,0.5]}"#,
    )
    .unwrap();
    let input = dir.path().join("r.csv");
    std::fs::write(&input, "ret\n0.001\n-0.002\n0.09\n-0.08\n0.0005\n").unwrap();
    let out = dir.path().join("l.csv");
    hermes_ok(&[
        "regime",
        "label",
        "--model",
        s(&model),
        "--input",
        s(&input),
        "--column",
        "ret",
        "--output",
        s(&out),
    ]);
    let (header, rows) = read_csv(&out);
    assert_eq!(rows.len(), 5);
    let v = col(&header, "viterbi");
    assert_eq!(rows[0][v], "calm");
    assert_eq!(rows[2][v], "storm");
    assert_eq!(rows[3][v], "storm");
    assert_eq!(rows[4][v], "calm");

    for (bad, want) in [
        (
            r#"{"states":[{"name":"a","mean":0,"std":0.01}],"transition":[[0.5]],"initial":[1]}"#,
            "transition",
        ),
        (
            r#"{"states":[{"name":"a","mean":0,"std":-1}],"transition":[[1]],"initial":[1]}"#,
            "std",
        ),
        (r#"{"states":[], "transition":[], "initial":[]}"#, "state"),
        ("not json", "invalid model JSON"),
    ] {
        std::fs::write(&model, bad).unwrap();
        let err = hermes_err(
            &[
                "regime",
                "label",
                "--model",
                s(&model),
                "--input",
                s(&input),
                "--column",
                "ret",
                "--output",
                s(&out),
            ],
            EXIT_DATA,
        );
        assert!(
            err.contains("m.json") && err.contains(want),
            "{want}: {err}"
        );
    }
}

#[test]
fn chiarella_is_seeded_and_reports_impact() {
    let args = [
        "simulate",
        "chiarella",
        "--paths",
        "500",
        "--steps",
        "50",
        "--seed",
        "9",
    ];
    let a = hermes_ok(&args);
    let b = hermes_ok(&args);
    assert_eq!(a, b, "same seed, same output");
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    for k in ["mean", "std", "q01", "q05", "q50", "q95", "q99"] {
        assert!(v["terminal"][k].is_f64(), "terminal.{k}");
        assert!(v["max_drawdown"][k].is_f64(), "max_drawdown.{k}");
    }
    assert_eq!(v["paths"], 500);
    assert_eq!(v["steps"], 50);
    assert_eq!(v["seed"], 9);
    let q = |k: &str| v["terminal"][k].as_f64().unwrap();
    assert!(
        q("q01") <= q("q05")
            && q("q05") <= q("q50")
            && q("q50") <= q("q95")
            && q("q95") <= q("q99")
    );

    let with = hermes_ok(&[&args[..], &["--order-size", "10", "--order-steps", "5"]].concat());
    let w: serde_json::Value = serde_json::from_str(&with).unwrap();
    assert!(
        w["impact"]["expected_impact"].as_f64().unwrap() > 0.0,
        "a buy pushes the price up: {with}"
    );
    let sell = hermes_ok(&[&args[..], &["--order-size", "-10", "--order-steps", "5"]].concat());
    let sv: serde_json::Value = serde_json::from_str(&sell).unwrap();
    assert!(sv["impact"]["expected_impact"].as_f64().unwrap() < 0.0);

    let err = hermes_err(&["simulate", "chiarella", "--dt", "-1"], EXIT_DATA);
    assert!(err.contains("dt"), "{err}");
    let err = hermes_err(&["simulate", "chiarella", "--sigma-p", "-0.5"], EXIT_DATA);
    assert!(err.contains("sigma-p"), "{err}");
}

#[test]
fn chiarella_calibrates_to_real_prices() {
    let Some(input) = btc_hourly() else { return };
    let out = hermes_ok(&[
        "simulate",
        "calibrate",
        "--input",
        s(&input),
        "--column",
        "close",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["params"]["fundamental"].as_f64().unwrap().is_finite(),
        "{out}"
    );
}

fn write_mu_cov(dir: &Path, cov: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let mu = dir.join("mu.csv");
    let c = dir.join("cov.csv");
    std::fs::write(&mu, "asset,mu\nA,0.10\nB,0.05\nC,0.02\n").unwrap();
    std::fs::write(&c, cov).unwrap();
    (mu, c)
}

#[test]
fn allocate_every_method_from_mu_and_cov() {
    let dir = tempfile::tempdir().unwrap();
    // Rows deliberately in another order than MU.csv: matched by name.
    let (mu, cov) = write_mu_cov(
        dir.path(),
        "asset,A,B,C\nB,0.01,0.04,0.002\nA,0.04,0.01,0.0\nC,0.0,0.002,0.01\n",
    );
    for method in ["cara", "closed-form", "risk-parity", "sparse"] {
        let out = hermes_ok(&[
            "allocate",
            "--method",
            method,
            "--mu",
            s(&mu),
            "--cov",
            s(&cov),
            "--gamma",
            "3",
            "--rho",
            "0.001",
        ]);
        let mut r = csv::Reader::from_reader(out.as_bytes());
        assert_eq!(
            r.headers().unwrap().iter().collect::<Vec<_>>(),
            ["asset", "weight", "risk_contribution"]
        );
        let rows: Vec<(String, f64, f64)> = r
            .records()
            .map(|x| {
                let x = x.unwrap();
                (
                    x[0].to_string(),
                    x[1].parse().unwrap(),
                    x[2].parse().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
            ["A", "B", "C"]
        );
        let w: f64 = rows.iter().map(|r| r.1).sum();
        let rc: f64 = rows.iter().map(|r| r.2).sum();
        assert!((w - 1.0).abs() < 1e-9, "{method}: weights sum {w}");
        assert!(
            (rc - 1.0).abs() < 1e-9,
            "{method}: risk contributions sum {rc}"
        );
        if method == "risk-parity" {
            for r in &rows {
                assert!((r.2 - 1.0 / 3.0).abs() < 1e-8, "{method}: {rows:?}");
            }
        }
        if method == "cara" {
            assert!(rows.iter().all(|r| r.1 >= -1e-12), "long only: {rows:?}");
        }
    }
    let file = dir.path().join("w.csv");
    hermes_ok(&[
        "allocate",
        "--method",
        "cara",
        "--mu",
        s(&mu),
        "--cov",
        s(&cov),
        "--output",
        s(&file),
    ]);
    assert_eq!(read_csv(&file).1.len(), 3);
}

#[test]
fn allocate_rejects_bad_matrices_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "asset,A,B,C\nA,1,2,0\nB,2,1,0\nC,0,0,1\n",
            "positive semi-definite",
        ),
        ("asset,A,B,C\nA,1,0.5,0\nB,0,1,0\nC,0,0,1\n", "symmetric"),
        ("asset,A,B\nA,1,0\nB,0,1\n", "2x2"),
        ("asset,A,B,D\nA,1,0,0\nB,0,1,0\nD,0,0,1\n", "\"C\""),
        ("asset,A,B,C\nA,1,0,0\nB,0,NaN,0\nC,0,0,1\n", "not finite"),
    ];
    for (cov_text, want) in cases {
        let (mu, cov) = write_mu_cov(dir.path(), cov_text);
        let err = hermes_err(
            &[
                "allocate",
                "--method",
                "cara",
                "--mu",
                s(&mu),
                "--cov",
                s(&cov),
            ],
            EXIT_DATA,
        );
        assert!(
            err.contains("cov.csv") && err.contains(want),
            "want {want:?}: {err}"
        );
    }
    let (mu, cov) = write_mu_cov(dir.path(), "asset,A,B,C\nA,1,1,0\nB,1,1,0\nC,0,0,1\n");
    let err = hermes_err(
        &[
            "allocate",
            "--method",
            "closed-form",
            "--mu",
            s(&mu),
            "--cov",
            s(&cov),
        ],
        EXIT_DATA,
    );
    assert!(
        err.contains("cov.csv"),
        "singular matrix for closed form: {err}"
    );
    // …while the exact QP copes with the same singular (PSD) matrix.
    hermes_ok(&[
        "allocate",
        "--method",
        "cara",
        "--mu",
        s(&mu),
        "--cov",
        s(&cov),
    ]);
}

#[test]
fn allocate_from_real_stock_prices_with_ledoit_wolf() {
    let Some(data) = data_dir() else { return };
    let prices = data.join("pypi-skfolio-1.12.2/sp500_dataset.csv.gz");
    let out = hermes_ok(&[
        "allocate",
        "--method",
        "risk-parity",
        "--returns",
        s(&prices),
        "--shrinkage",
        "ledoit-wolf",
    ]);
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 20, "20 stocks");
    assert_eq!(&rows[0][0], "AAPL");
    for row in &rows {
        let rc: f64 = row[2].parse().unwrap();
        assert!(
            (rc - 0.05).abs() < 1e-7,
            "equal risk contributions: {row:?}"
        );
    }
}

#[test]
fn metrics_match_hand_checked_values() {
    let dir = tempfile::tempdir().unwrap();
    let eq = dir.path().join("e.csv");
    std::fs::write(
        &eq,
        "time,equity\n2024-01-01,110\n2024-01-02,99\n2024-01-03,120\n",
    )
    .unwrap();
    let tr = dir.path().join("t.csv");
    std::fs::write(
        &tr,
        "entry_time,exit_time,pnl,symbol\n2024-01-01T00:00:00Z,2024-01-01T12:00:00Z,10,BTC\n2024-01-02,2024-01-03,-1,BTC\n",
    )
    .unwrap();
    let out = hermes_ok(&[
        "metrics",
        "--equity",
        s(&eq),
        "--initial-equity",
        "100",
        "--trades",
        s(&tr),
        "--periods-per-year",
        "252",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {out}"));
    // Returns: 110/100−1 = 0.1, 99/110−1 = −0.1, 120/99−1 = 0.212121…
    let r = [0.1, -0.1, 120.0 / 99.0 - 1.0];
    let mean = r.iter().sum::<f64>() / 3.0;
    let sd = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!((f("total_return") - 0.2).abs() < 1e-12);
    assert!(
        (f("annualized_return") - (1.2_f64.powf(252.0 / 3.0) - 1.0)).abs()
            < 1e-6 * f("annualized_return")
    );
    assert!((f("sharpe") - mean / sd * 252f64.sqrt()).abs() < 1e-9);
    assert!((f("sortino") - mean / (0.01_f64 / 3.0).sqrt() * 252f64.sqrt()).abs() < 1e-9);
    assert!((f("max_drawdown") - (-0.1)).abs() < 1e-12, "99/110 − 1");
    assert_eq!(v["trades"], 2);
    assert!((f("win_rate") - 0.5).abs() < 1e-12);
    // Holding: 12 h and 24 h → 18 h.
    assert!((f("avg_holding") - 18.0 * 3600.0).abs() < 1e-6);
    assert!(f("var_95") > 0.0 && f("cvar_95") >= f("var_95"));

    let err = hermes_err(
        &["metrics", "--equity", s(&eq), "--periods-per-year", "0"],
        EXIT_DATA,
    );
    assert!(err.contains("periods-per-year"), "{err}");
    std::fs::write(&eq, "time,equity\n2024-01-01,110\n2024-01-02,-5\n").unwrap();
    let err = hermes_err(
        &["metrics", "--equity", s(&eq), "--periods-per-year", "252"],
        EXIT_DATA,
    );
    assert!(err.contains("e.csv"), "{err}");
    // With a trade list given too, a bad equity value still names the equity file.
    let err = hermes_err(
        &[
            "metrics",
            "--equity",
            s(&eq),
            "--trades",
            s(&tr),
            "--periods-per-year",
            "252",
        ],
        EXIT_DATA,
    );
    assert!(err.contains("e.csv") && !err.contains("t.csv"), "{err}");
}

#[test]
fn demo_runs_the_research_pipeline_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let stdout = hermes_ok(&["demo", "--out", s(&out), "--bars", "3000", "--seed", "3"]);
    for f in [
        "bars.csv",
        "features.parquet",
        "regime_model.json",
        "regimes.csv",
        "chiarella.json",
        "assets.csv",
        "allocation_risk_parity.csv",
        "allocation_cara.csv",
        "equity_regime_filtered.csv",
        "equity_buy_and_hold.csv",
        "metrics.json",
    ] {
        assert!(out.join(f).is_file(), "missing {f}: {stdout}");
    }
    let viterbi: f64 = stdout
        .split("Viterbi ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no Viterbi score in {stdout}"));
    assert!(
        viterbi > 80.0,
        "the regime model recovers the generating regimes: {stdout}"
    );
}

#[test]
fn closed_stdout_is_not_a_crash() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_hermes"))
        .args(["simulate", "chiarella", "--paths", "2000", "--steps", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before hermes prints, as `| head -0` does
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn extreme_or_inconsistent_input_is_rejected_not_mangled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let out = d.join("o.csv");
    let bars = |rows: &[&str]| format!("time,open,high,low,close,volume\n{}\n", rows.join("\n"));

    // Bars: non-positive prices, negative volume, duplicate or missing columns.
    let cases = [
        (
            "zero.csv",
            bars(&["1,1,2,0,1,1"]),
            "\"low\", row 1: price 0 is not positive",
        ),
        ("neg.csv", bars(&["1,1,2,0.5,-1,1"]), "\"close\", row 1"),
        ("vol.csv", bars(&["1,1,2,0.5,1,-3"]), "volume -3"),
        (
            "dup.csv",
            "time,open,high,low,close,volume,CLOSE\n1,1,2,0.5,1,1,1\n".into(),
            "duplicate column name",
        ),
        (
            "notime.csv",
            "open,high,low,close,volume\n1,2,0.5,1,1\n".into(),
            "missing column \"time\"",
        ),
    ];
    for (name, text, want) in cases {
        let input = write(name, &text);
        let err = hermes_err(
            &["features", "--input", s(&input), "--output", s(&out)],
            EXIT_DATA,
        );
        assert!(
            err.contains(name) && err.contains(want),
            "{name}: want {want:?}: {err}"
        );
    }
    // Prices so large that Bollinger's sums overflow: an error, not cells that look like warm-up.
    let huge: Vec<String> = (0..40)
        .map(|i| format!("{i},1e300,1e308,1e299,{}e300,1", 1 + i % 5))
        .collect();
    let huge_refs: Vec<&str> = huge.iter().map(String::as_str).collect();
    let input = write("huge.csv", &bars(&huge_refs));
    let err = hermes_err(
        &["features", "--input", s(&input), "--output", s(&out)],
        EXIT_DATA,
    );
    assert!(err.contains("overflows"), "{err}");
    assert!(!out.exists());

    // A directory is not an input file: exit 66, said plainly.
    let sub = d.join("dir.csv");
    std::fs::create_dir(&sub).unwrap();
    let err = hermes_err(
        &["features", "--input", s(&sub), "--output", s(&out)],
        EXIT_NO_INPUT,
    );
    assert!(err.contains("is a directory"), "{err}");
    let err = hermes_err(
        &[
            "regime",
            "label",
            "--model",
            s(&sub),
            "--input",
            s(&sub),
            "--output",
            s(&out),
        ],
        EXIT_NO_INPUT,
    );
    assert!(err.contains("is a directory"), "{err}");

    // Flags are named as flags, before any file is read, and absurd sizes are refused.
    let r = write(
        "r.csv",
        "ret\n0.01\n-0.02\n0.03\n0.0\n0.01\n-0.01\n0.02\n-0.03\n0.01\n0.0\n",
    );
    for (flag, value, want) in [
        ("--states", "18446744073709551615", "states"),
        ("--restarts", "100000000000", "restarts"),
        ("--states", "0", "states"),
    ] {
        let err = hermes_err(
            &[
                "regime",
                "fit",
                "--input",
                s(&r),
                "--column",
                "ret",
                flag,
                value,
                "--output",
                s(&d.join("m.json")),
            ],
            EXIT_DATA,
        );
        assert!(
            err.contains("command-line flags") && err.contains(want),
            "{flag} {value}: {err}"
        );
    }
    let (mu, cov) = write_mu_cov(
        d,
        "asset,A,B,C\nA,0.04,0.01,0\nB,0.01,0.04,0.002\nC,0,0.002,0.01\n",
    );
    let err = hermes_err(
        &[
            "allocate",
            "--method",
            "cara",
            "--mu",
            s(&mu),
            "--cov",
            s(&cov),
            "--gamma",
            "0",
        ],
        EXIT_DATA,
    );
    assert!(err.contains("--gamma") && !err.contains("cov.csv"), "{err}");
    let err = hermes_err(
        &[
            "allocate",
            "--method",
            "sparse",
            "--mu",
            s(&mu),
            "--cov",
            s(&cov),
            "--lambda",
            "1.7e308",
        ],
        EXIT_DATA,
    );
    assert!(
        err.contains("not finite") || err.contains("too extreme"),
        "no inf weights: {err}"
    );

    // Simulations whose figures overflow f64 say so instead of printing nulls.
    let err = hermes_err(
        &[
            "simulate",
            "chiarella",
            "--p0",
            "1e308",
            "--fundamental",
            "1e308",
            "--paths",
            "3",
            "--steps",
            "3",
        ],
        EXIT_DATA,
    );
    assert!(err.contains("overflow") || err.contains("diverge"), "{err}");
    let err = hermes_err(
        &["simulate", "chiarella", "--order-size", "1e308"],
        EXIT_DATA,
    );
    assert!(err.contains("overflow"), "{err}");

    // A file mixing price and return columns is not guessed at.
    let mixed = write(
        "mixed.csv",
        "date,A,B\n2024-01-01,100,0.01\n2024-01-02,101,-0.02\n2024-01-03,99,0.015\n",
    );
    let err = hermes_err(
        &["allocate", "--method", "cara", "--returns", s(&mixed)],
        EXIT_DATA,
    );
    assert!(err.contains("--kind"), "{err}");
    // …and a zero-variance asset is named for risk parity.
    let flat = write(
        "flat.csv",
        "date,A,B\n2024-01-01,100,50\n2024-01-02,101,50\n2024-01-03,99,50\n2024-01-04,102,50\n",
    );
    let err = hermes_err(
        &[
            "allocate",
            "--method",
            "risk-parity",
            "--returns",
            s(&flat),
            "--kind",
            "prices",
        ],
        EXIT_DATA,
    );
    assert!(err.contains("\"B\" has zero variance"), "{err}");

    // A hand-written model with a tiny std gets a readable message listing every problem.
    let model = write(
        "m2.json",
        r#"{"states":[{"name":"a","mean":0,"std":-1e-300}],"transition":[[0.5]],"initial":[1]}"#,
    );
    let err = hermes_err(
        &[
            "regime",
            "label",
            "--model",
            s(&model),
            "--input",
            s(&r),
            "--column",
            "ret",
            "--output",
            s(&out),
        ],
        EXIT_DATA,
    );
    assert!(
        err.contains("states[0].std = -1e-300") && err.contains("transition row 0 sums to 0.5"),
        "{err}"
    );
}
