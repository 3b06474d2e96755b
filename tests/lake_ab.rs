//! gold_test and `hermes backtest --ab` through the real binary, on real Binance files of
//! `shared/data` (alphakit BTCUSDT and ETHUSDT 1h spot, 2021-01..03; see its PROVENANCE.md):
//! `hermes lake gold --with-test-features` writes the `[[gold_test.features]]` columns; A of
//! `--ab` (gold's standard columns) trades exactly as `--strategy smart-momentum` on silver; B
//! with `rsi = "rsi_21"` differs and both are reported side by side; bad specs and columns are
//! configuration errors naming their key.

mod common;

use std::path::{Path, PathBuf};

use common::{data_dir, hermes_err, hermes_ok};
use serde_json::Value;

const SYMBOLS: &str = "BTCUSDT,ETHUSDT";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const FEATURES: &str = r#"
[[gold_test.features]]
name = "rsi_21"
kind = "rsi"
params = { period = 21 }

[[gold_test.features]]
name = "ema_9"
kind = "ema"
params = { period = 9 }
"#;

/// A lake config with the test features and `ab` as its `[ab]` table body.
fn lake_config(dir: &Path, name: &str, ab: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{FEATURES}\n[ab]\n{ab}\n")).unwrap();
    path
}

/// BTCUSDT and ETHUSDT 1h 2021-01..03 → ingest → silver → gold with test features.
fn ab_lake(d: &Path, tmp: &Path) -> (PathBuf, PathBuf) {
    let dir = d.join("alphakit/spot");
    let lake = tmp.join("lake");
    let mut args = vec!["lake".to_string(), "ingest".into(), "--lake".into()];
    args.push(s(&lake).into());
    for sym in SYMBOLS.split(',') {
        for m in 1..=3 {
            args.push(s(&dir.join(format!("{sym}-1h-2021-0{m}.csv"))).into());
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    hermes_ok(&args);
    hermes_ok(&["lake", "silver", "--lake", s(&lake)]);
    let cfg = lake_config(tmp, "lake.toml", "rsi = \"rsi_21\"");
    let out = hermes_ok(&[
        "lake",
        "gold",
        "--lake",
        s(&lake),
        "--config",
        s(&cfg),
        "--with-test-features",
    ]);
    assert!(
        out.contains("lake gold_test in") && out.contains("180 day(s) written"),
        "{out}"
    );
    assert!(out.contains("columns rsi_21, ema_9"), "{out}");
    (lake, cfg)
}

fn backtest(lake: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "backtest",
        "--lake",
        s(lake),
        "--symbols",
        SYMBOLS,
        "--interval",
        "1h",
        "--out",
        s(out),
        "--no-charts",
    ];
    args.extend_from_slice(extra);
    hermes_ok(&args)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap()
}

#[test]
fn ab_baseline_equals_plain_smart_momentum() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (lake, cfg) = ab_lake(&d, tmp.path());
    let plain = tmp.path().join("plain");
    backtest(
        &lake,
        &plain,
        &["--layer", "silver", "--strategy", "smart-momentum"],
    );
    let ab = tmp.path().join("ab");
    backtest(&lake, &ab, &["--ab", "--lake-config", s(&cfg)]);
    let want = read(&plain.join("trades.csv"));
    assert!(
        want.lines().count() > 5,
        "Smart Momentum trades on three months of two symbols: {want}"
    );
    assert_eq!(read(&ab.join("A/trades.csv")), want);
    assert_eq!(
        read(&ab.join("A/equity.csv")),
        read(&plain.join("equity.csv"))
    );
    let (a, p) = (
        json(&ab.join("A/report.json")),
        json(&plain.join("report.json")),
    );
    assert_eq!(a["metrics"], p["metrics"]);
    assert_eq!(a["data_range"], p["data_range"]);
}

#[test]
fn ab_reports_side_by_side() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (lake, cfg) = ab_lake(&d, tmp.path());
    let ab = tmp.path().join("ab");
    let stdout = backtest(&lake, &ab, &["--ab", "--lake-config", s(&cfg)]);
    let v = json(&ab.join("ab.json"));
    assert_eq!(v["a"]["columns"]["rsi"], "rsi_14");
    assert_eq!(v["b"]["columns"]["rsi"], "rsi_21");
    assert_eq!(v["b"]["columns"]["ema_fast"], "ema_12");
    for side in ["a", "b"] {
        let m = &v[side]["metrics"];
        assert!(
            m["total_return"].is_f64() && m["trades"].is_u64(),
            "{side}: {m}"
        );
        assert_eq!(v[side]["bars"], v["a"]["bars"]);
    }
    let (a, b) = (&v["a"]["metrics"], &v["b"]["metrics"]);
    let diff = v["b_minus_a"]["total_return"].as_f64().unwrap();
    let want = b["total_return"].as_f64().unwrap() - a["total_return"].as_f64().unwrap();
    assert_eq!(diff.to_bits(), want.to_bits());
    let trades = |m: &Value| m["trades"].as_i64().unwrap();
    assert_eq!(
        v["b_minus_a"]["trades"].as_i64(),
        Some(trades(b) - trades(a))
    );
    // RSI(21) is smoother than RSI(14): other bars fall in the 45–55 band, other entries.
    let (ta, tb) = (
        read(&ab.join("A/trades.csv")),
        read(&ab.join("B/trades.csv")),
    );
    assert_ne!(ta, tb, "B reads rsi_21 and must trade differently");
    assert!(tb.lines().count() > 1, "B trades: {tb}");
    assert_eq!(
        json(&ab.join("B/report.json"))["metrics"],
        v["b"]["metrics"],
        "ab.json holds B's own metrics"
    );
    assert!(stdout.contains("metric"), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("total_return"))
        .unwrap_or_else(|| panic!("no total_return row: {stdout}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(cells.len(), 4, "{row}");
    assert_eq!(
        cells[1],
        format!("{:.6}", a["total_return"].as_f64().unwrap())
    );
    assert_eq!(
        cells[2],
        format!("{:.6}", b["total_return"].as_f64().unwrap())
    );
    let rsi_row: Vec<&str> = stdout
        .lines()
        .find(|l| l.starts_with("input rsi "))
        .unwrap_or_else(|| panic!("no input rsi row: {stdout}"))
        .split('|')
        .map(str::trim)
        .collect();
    assert_eq!(rsi_row, ["input rsi", "rsi_14", "rsi_21", "≠"]);
}

#[test]
fn bad_specs_and_columns_are_config_errors_naming_the_key() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (lake, _) = ab_lake(&d, tmp.path());
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        FEATURES.replace(
            "params = { period = 9 }",
            "params = { period = 9, alpha = 2 }",
        ),
    )
    .unwrap();
    let stderr = hermes_err(
        &[
            "lake",
            "gold",
            "--lake",
            s(&lake),
            "--config",
            s(&bad),
            "--with-test-features",
        ],
        78,
    );
    assert!(
        stderr.contains("gold_test.features[1].params.alpha"),
        "{stderr}"
    );
    let none = lake_config(tmp.path(), "none.toml", "rsi = \"rsi_99\"");
    let stderr = hermes_err(
        &[
            "backtest",
            "--ab",
            "--lake-config",
            s(&none),
            "--lake",
            s(&lake),
            "--symbols",
            SYMBOLS,
            "--interval",
            "1h",
            "--out",
            s(&tmp.path().join("x")),
            "--no-charts",
        ],
        78,
    );
    assert!(
        stderr.contains("ab.rsi = \"rsi_99\"") && stderr.contains("rsi_21"),
        "{stderr}"
    );
    // A gold_test day missing in mid-series (gold has it): the left join leaves B's column
    // null there, which --ab refuses rather than silently muting B's signals.
    let day = lake
        .join("gold_test/binance/spot/klines/ETHUSDT/1h/year=2021/month=02/day=10/part-0.parquet");
    std::fs::remove_file(&day).unwrap();
    let cfg = lake_config(tmp.path(), "ok.toml", "rsi = \"rsi_21\"");
    let stderr = hermes_err(
        &[
            "backtest",
            "--ab",
            "--lake-config",
            s(&cfg),
            "--lake",
            s(&lake),
            "--symbols",
            SYMBOLS,
            "--interval",
            "1h",
            "--out",
            s(&tmp.path().join("y")),
            "--no-charts",
        ],
        65,
    );
    assert!(
        stderr.contains("ab.rsi = \"rsi_21\": ETHUSDT has no value on row")
            && stderr.contains("--with-test-features"),
        "{stderr}"
    );
}
