//! `hermes lake silver` end to end (the real binary) on the real Binance files of
//! `shared/data`: the quality table and its JSON, the no-op rerun, a backtest reading the
//! silver layer, a bad bronze file (exit 65, named), a missing lake (exit 66) and an empty one;
//! the trades table (the COIN-M aggTrades day beside a klines series).

mod common;

use std::io::Read;
use std::path::Path;

use common::{data_dir, hermes, hermes_err, hermes_ok};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The whitespace-separated cells of the table row of `series`.
fn row(stdout: &str, series: &str) -> Vec<String> {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{series} ")))
        .unwrap_or_else(|| panic!("no row {series} in:\n{stdout}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn lake_silver_prints_quality_table() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let lostleaf = d.join("binance_datatool-lostleaf");
    hermes_ok(&[
        "lake",
        "ingest",
        "--lake",
        s(&lake),
        s(&d.join("alphakit/spot/BTCUSDT-1h-2018-02.csv")),
        s(&lostleaf.join("BTCUSDT-1m-2020-01-01.zip")),
        s(&lostleaf.join("BTCUSDT-1m-2020-01-02.zip")),
    ]);
    let out = hermes_ok(&["lake", "silver", "--lake", s(&lake)]);
    let header = out.lines().next().unwrap();
    for h in [
        "series",
        "days",
        "rows",
        "expected",
        "complete",
        "gaps",
        "missing",
        "misaligned",
        "dups",
        "outliers",
        "longest gap",
    ] {
        assert!(header.contains(h), "{header}");
    }
    let h1 = row(&out, "spot/klines/BTCUSDT/1h");
    assert_eq!(
        &h1[..14],
        [
            "spot/klines/BTCUSDT/1h",
            "28",
            "640",
            "672",
            "95.24%",
            "1",
            "33",
            "43",
            "0",
            "0",
            "0",
            "0",
            "28",
            "0"
        ],
        "{out}"
    );
    assert!(
        out.contains("2018-02-08T00:00:00Z → 2018-02-09T09:28:14.789Z (33.47 h)"),
        "{out}"
    );
    let m1 = row(&out, "spot/klines/BTCUSDT/1m");
    assert_eq!(
        &m1[..8],
        [
            "spot/klines/BTCUSDT/1m",
            "2",
            "2880",
            "2880",
            "100.00%",
            "0",
            "0",
            "0"
        ],
        "{out}"
    );
    assert!(
        out.ends_with(&format!(
            "lake silver in {}: 2 series, 30 day(s) written, 0 unchanged, 0 failed\n",
            s(&lake)
        )),
        "{out}"
    );
    assert!(
        lake.join("silver/binance/spot/klines/BTCUSDT/1h/_quality.parquet")
            .is_file()
    );

    // Nothing changed: nothing written.
    let again = hermes_ok(&["lake", "silver", "--lake", s(&lake)]);
    assert!(
        again.contains("2 series, 0 day(s) written, 30 unchanged, 0 failed"),
        "{again}"
    );

    // JSON, filtered to one series: the per-day rows.
    let json = hermes_ok(&[
        "lake",
        "silver",
        "--lake",
        s(&lake),
        "--symbol",
        "BTCUSDT",
        "--interval",
        "1h",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    let q = &series[0]["quality"];
    assert_eq!(
        (
            q["misaligned"].as_u64(),
            q["gaps"].as_u64(),
            q["rows"].as_u64()
        ),
        (Some(43), Some(1), Some(640))
    );
    assert_eq!(
        q["longest_gap"]["to_ns"].as_i64(),
        Some(1_518_168_494_789_000_000)
    );
    let days = series[0]["days"].as_array().unwrap();
    assert_eq!(days.len(), 28);
    assert_eq!(days[8]["date"], "2018-02-09");
    assert_eq!(days[8]["midnight_gap"], true);
    assert_eq!(days[8]["midnight_missing_bars"], 33);

    // The backtest reads the silver layer.
    let bt = tmp.path().join("bt");
    hermes_ok(&[
        "backtest",
        "--lake",
        s(&lake),
        "--layer",
        "silver",
        "--symbols",
        "BTCUSDT",
        "--interval",
        "1m",
        "--strategy",
        "ema-cross",
        "--out",
        s(&bt),
        "--no-charts",
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bt.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["data_range"]["bars"], 2880);
    assert_eq!(report["data_range"]["first_bar"], "2020-01-01T00:00:00Z");
}

#[test]
fn lake_silver_names_a_bad_bronze_file_and_goes_on() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    hermes_ok(&[
        "lake",
        "ingest",
        "--lake",
        s(&lake),
        s(&d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip")),
        s(&d.join("nautilus_trader/ADABTC-1m-2021-11-28.zip")),
    ]);
    let day = lake.join("bronze/binance/spot/klines/BTCUSDT/1m/year=2020/month=01/day=01");
    let bad = std::fs::read_dir(&day)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&bad, b"not parquet").unwrap();
    let out = hermes(&["lake", "silver", "--lake", s(&lake)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = hermes_err(&["lake", "silver", "--lake", s(&lake)], 65);
    assert_eq!(out.status.code(), Some(65), "{stdout}");
    assert!(
        stderr.contains(s(&bad)) && stderr.contains("not a readable Parquet file"),
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!(
            "FAILED   spot/klines/BTCUSDT/1m: bronze file {}",
            s(&bad)
        )),
        "{stdout}"
    );
    // The other series was built.
    assert!(
        stdout.contains("1 day(s) written, 0 unchanged, 1 failed"),
        "{stdout}"
    );
    assert!(
        lake.join("silver/binance/spot/klines/ADABTC/1m/year=2021/month=11/day=28/part-0.parquet")
            .is_file()
    );
}

#[test]
fn lake_silver_on_a_missing_or_empty_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-lake");
    let stderr = hermes_err(&["lake", "silver", "--lake", s(&missing)], 66);
    assert!(stderr.contains(s(&missing)), "{stderr}");
    assert!(!missing.exists());
    // An empty lake: nothing to do; a symbol it does not hold is bad input.
    std::fs::create_dir_all(&missing).unwrap();
    let out = hermes_ok(&["lake", "silver", "--lake", s(&missing)]);
    assert!(out.contains("0 series, 0 day(s) written"), "{out}");
    let stderr = hermes_err(
        &[
            "lake",
            "silver",
            "--lake",
            s(&missing),
            "--symbol",
            "NOPEUSDT",
        ],
        65,
    );
    assert!(
        stderr.contains("no bronze series in") && stderr.contains("matches --symbol NOPEUSDT"),
        "{stderr}"
    );
}

/// The aggTrades series is built and listed in the trades table, its counts equal to those
/// counted here from the CSV; the klines table stays as it was.
#[test]
fn lake_silver_lists_trade_series() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let agg = d.join(
        "binance_datatool-tommy-ca/data/futures/cm/daily/aggTrades/BTCUSD_PERP/BTCUSD_PERP-aggTrades-2026-05-08.zip",
    );
    hermes_ok(&[
        "lake",
        "ingest",
        "--lake",
        s(&lake),
        s(&agg),
        s(&d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip")),
    ]);
    // From the CSV: rows, id gaps and missing ids, rows earlier than the row above.
    let mut text = String::new();
    zip::ZipArchive::new(std::fs::File::open(&agg).unwrap())
        .unwrap()
        .by_index(0)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let rows: Vec<(i64, i64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].parse().unwrap(), c[5].parse().unwrap())
        })
        .collect();
    let mut ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    ids.sort_unstable();
    let steps: Vec<i64> = ids
        .windows(2)
        .map(|w| w[1] - w[0] - 1)
        .filter(|&m| m > 0)
        .collect();
    let ooo = rows.windows(2).filter(|w| w[1].1 < w[0].1).count();

    let out = hermes_ok(&["lake", "silver", "--lake", s(&lake)]);
    assert!(out.lines().next().unwrap().contains("misaligned"), "{out}");
    assert_eq!(
        row(&out, "spot/klines/BTCUSDT/1m")[1..3],
        ["1", "1440"],
        "{out}"
    );
    let head = out
        .lines()
        .find(|l| l.contains("id_gaps"))
        .unwrap_or_else(|| panic!("no trades table in:\n{out}"));
    for h in [
        "series",
        "rows",
        "dups",
        "out_of_order",
        "missing_ids",
        "first trade",
    ] {
        assert!(head.contains(h), "{head}");
    }
    let a = row(&out, "futures-cm/aggTrades/BTCUSD_PERP/raw");
    let want = [
        "futures-cm/aggTrades/BTCUSD_PERP/raw".to_string(),
        "1".into(),
        rows.len().to_string(),
        "0".into(),
        "0".into(),
        "0".into(),
        ooo.to_string(),
        steps.len().to_string(),
        steps.iter().sum::<i64>().to_string(),
        "1".into(),
        "0".into(),
        "2026-05-08T00:00:00.020Z".into(),
    ];
    assert_eq!(a[..12], want, "{out}");
    assert!(!out.contains("skipped"), "{out}");
    assert!(
        out.ends_with(&format!(
            "lake silver in {}: 2 series, 2 day(s) written, 0 unchanged, 0 failed\n",
            s(&lake)
        )),
        "{out}"
    );
    assert!(
        lake.join("silver/binance/futures-cm/aggTrades/BTCUSD_PERP/raw/year=2026/month=05/day=08/part-0.parquet")
            .is_file()
    );

    // JSON: the trade quality fields per series and per day; the rerun writes nothing.
    let json = hermes_ok(&[
        "lake",
        "silver",
        "--lake",
        s(&lake),
        "--market",
        "futures-cm",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (v["days_written"].as_u64(), v["days_unchanged"].as_u64()),
        (Some(0), Some(1))
    );
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    let q = &series[0]["quality"];
    assert_eq!(q["rows"].as_u64(), Some(rows.len() as u64));
    assert_eq!(q["id_gaps"].as_u64(), Some(steps.len() as u64));
    let day = &series[0]["days"][0];
    assert_eq!(day["date"], "2026-05-08");
    assert_eq!(day["first_id"].as_i64(), ids.first().copied());
    assert_eq!(day["last_id"].as_i64(), ids.last().copied());
    assert!(day.get("expected_rows").is_none(), "{day}");
}
