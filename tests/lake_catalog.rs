//! `hermes lake ls` and `hermes lake stats` end to end (the real binary) on the real Binance
//! files of `shared/data`: the tables and their JSON (versions, superseded, orphans after a
//! crash, silver rows, gold and gold_test rows), stats equal to the series' `_quality.parquet`
//! (klines, and an aggTrades series' trade quality table), and empty, missing and malformed
//! roots.

mod common;

#[path = "../replay/tests/common/medallion.rs"]
mod medallion;

use std::path::Path;
use std::process::Command;

use common::{data_dir, hermes, hermes_err, hermes_ok};
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The whitespace-separated cells of the first table line starting with `prefix`.
fn row(stdout: &str, prefix: &str) -> Vec<String> {
    stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no row {prefix:?} in:\n{stdout}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn ls_lists_series_ranges_rows_bytes_versions() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let lostleaf = d.join("binance_datatool-lostleaf");
    let day1 = lostleaf.join("BTCUSDT-1m-2020-01-01.zip");
    hermes_ok(&["lake", "ingest", "--lake", s(&lake), s(&day1)]);
    // The same file name again with one changed close: version 2.
    let changed = medallion::changed_zip_copy(&day1, &tmp.path().join("v2"));
    let out = hermes_ok(&["lake", "ingest", "--lake", s(&lake), s(&changed)]);
    assert!(out.contains("version 2 (supersedes "), "{out}");
    hermes_ok(&[
        "lake",
        "ingest",
        "--lake",
        s(&lake),
        s(&lostleaf.join("BTCUSDT-1m-2020-01-02.zip")),
    ]);
    hermes_ok(&["lake", "silver", "--lake", s(&lake)]);

    let out = hermes_ok(&["lake", "ls", "--lake", s(&lake)]);
    let header = row(&out, "layer");
    assert_eq!(
        header,
        [
            "layer",
            "market",
            "category",
            "symbol",
            "interval",
            "first_day",
            "last_day",
            "days",
            "files",
            "rows",
            "bytes",
            "versions",
            "superseded",
            "orphans"
        ]
    );
    let bronze = row(&out, "bronze ");
    let at = |r: &[String], h: &str| r[header.iter().position(|x| x == h).unwrap()].clone();
    assert_eq!(
        &bronze[..9],
        [
            "bronze",
            "spot",
            "klines",
            "BTCUSDT",
            "1m",
            "2020-01-01",
            "2020-01-02",
            "2",
            "3"
        ]
    );
    assert_eq!(at(&bronze, "rows"), "4320", "every version's rows: {out}");
    assert_eq!(at(&bronze, "versions"), "3");
    assert_eq!(at(&bronze, "superseded"), "1");
    assert_eq!(at(&bronze, "orphans"), "0");
    let silver = row(&out, "silver ");
    assert_eq!(at(&silver, "days"), "2");
    assert_eq!(at(&silver, "rows"), "2880");
    assert_eq!(at(&silver, "versions"), "-");
    assert!(out.contains("lake ls in "), "{out}");
    assert!(out.contains(": 2 series, 5 files, "), "{out}");

    // --json: the same figures, and the filters.
    let v = json(&hermes_ok(&["lake", "ls", "--lake", s(&lake), "--json"]));
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    let b = &series[0];
    assert_eq!(
        (
            b["layer"].as_str(),
            b["versions"].as_u64(),
            b["latest_version"].as_u64()
        ),
        (Some("bronze"), Some(3), Some(2))
    );
    assert_eq!(
        b["bytes"].as_u64().unwrap(),
        at(&bronze, "bytes").parse::<u64>().unwrap()
    );
    assert_eq!(series[1]["rows"].as_u64(), Some(2880));
    assert_eq!(series[1]["rows_from"].as_str(), Some("quality"));
    let v = json(&hermes_ok(&[
        "lake",
        "ls",
        "--lake",
        s(&lake),
        "--json",
        "--layer",
        "silver",
    ]));
    assert_eq!(v["series"].as_array().unwrap().len(), 1);
    let v = json(&hermes_ok(&[
        "lake",
        "ls",
        "--lake",
        s(&lake),
        "--json",
        "--symbol",
        "ETHUSDT",
    ]));
    assert!(v["series"].as_array().unwrap().is_empty());

    // stats: one row per series, the quality table's figures.
    let out = hermes_ok(&["lake", "stats", "--lake", s(&lake)]);
    let r = row(&out, "spot/klines/BTCUSDT/1m");
    assert_eq!(
        r,
        [
            "spot/klines/BTCUSDT/1m",
            "2880",
            &r[2],
            "2020-01-01T00:00:00Z",
            "2020-01-02T23:59:00Z",
            "100.00%",
            "0",
            "0",
            // Versions 1 and 2 of 2020-01-01 share 1439 identical rows (one close differs).
            "1439",
            "0",
            "-",
            "0",
            &r[12],
            "3",
            "1",
            "-",
            "-"
        ],
        "{out}"
    );

    // Gold (and gold_test): rows from the day files' footers, every file committed by the
    // state, and stats' coverage of silver's days.
    let cfg = tmp.path().join("lake.toml");
    std::fs::write(
        &cfg,
        "[[gold_test.features]]\nname = \"ema_9\"\nkind = \"ema\"\nparams = { period = 9 }\n",
    )
    .unwrap();
    hermes_ok(&[
        "lake",
        "gold",
        "--lake",
        s(&lake),
        "--config",
        s(&cfg),
        "--with-test-features",
    ]);
    let out = hermes_ok(&["lake", "ls", "--lake", s(&lake), "--layer", "gold-test"]);
    let test = row(&out, "gold_test ");
    assert_eq!(
        (at(&test, "days"), at(&test, "rows"), at(&test, "orphans")),
        ("2".into(), "2880".into(), "-".into()),
        "{out}"
    );
    let out = hermes_ok(&["lake", "ls", "--lake", s(&lake), "--layer", "gold"]);
    let gold = row(&out, "gold ");
    assert_eq!(
        (at(&gold, "days"), at(&gold, "rows"), at(&gold, "orphans")),
        ("2".into(), "2880".into(), "0".into()),
        "{out}"
    );
    let out = hermes_ok(&["lake", "stats", "--lake", s(&lake)]);
    let r = row(&out, "spot/klines/BTCUSDT/1m");
    assert_eq!(&r[15..], ["2", "100.00%"], "{out}");
}

#[test]
fn stats_json_matches_quality_table() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    hermes_ok(&[
        "lake",
        "ingest",
        "--lake",
        s(&lake),
        s(&d.join("alphakit/spot/BTCUSDT-1h-2018-02.csv")),
        s(&d.join("alphakit/spot/ETHUSDT-1h-2021-01.csv")),
        s(&d.join(
            "binance_datatool-tommy-ca/data/futures/cm/daily/aggTrades/BTCUSD_PERP/\
             BTCUSD_PERP-aggTrades-2026-05-08.zip",
        )),
    ]);
    hermes_ok(&["lake", "silver", "--lake", s(&lake)]);
    let v = json(&hermes_ok(&["lake", "stats", "--lake", s(&lake), "--json"]));
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 3);
    // The aggTrades series: the trade quality table's totals as `trade_quality`.
    let agg = &series[0];
    assert_eq!(agg["category"].as_str(), Some("aggTrades"));
    let path = lake.join("silver/binance/futures-cm/aggTrades/BTCUSD_PERP/raw/_quality.parquet");
    let rows = replay::lake::read_trade_quality(
        s(&path),
        bytes::Bytes::from(std::fs::read(&path).unwrap()),
    )
    .unwrap();
    let tq = replay::lake::TradeSeriesQuality::of(&rows);
    assert_eq!(tq.rows, 105_280);
    assert_eq!(
        agg["silver"]["trade_quality"],
        serde_json::to_value(&tq).unwrap()
    );
    assert!(agg["silver"]["quality"].is_null());
    assert_eq!(agg["rows"].as_u64(), Some(105_280));
    assert_eq!(agg["first_ns"].as_i64(), tq.first_time);
    assert_eq!(agg["problems"].as_array().map(Vec::len), Some(0));
    // Its table row: id gaps, missing ids, dups, invalid, out of order; klines-only dashes.
    let out = hermes_ok(&["lake", "stats", "--lake", s(&lake)]);
    let r = row(&out, "futures-cm/aggTrades/BTCUSD_PERP/raw");
    let figures = [
        tq.id_gaps,
        tq.missing_ids,
        tq.duplicates,
        tq.invalid_rows,
        tq.out_of_order,
    ]
    .map(|n| n.to_string());
    assert_eq!(&r[1..2], ["105280"], "{out}");
    assert_eq!(r[5], "-", "{out}");
    assert_eq!(&r[6..11], figures, "{out}");
    assert_eq!(&r[11..13], ["-", "-"], "{out}");
    assert!(!out.contains("PROBLEM"), "{out}");
    let out = hermes_ok(&["lake", "ls", "--lake", s(&lake), "--layer", "silver"]);
    let r = row(&out, "silver  futures-cm");
    assert_eq!(&r[7..10], ["1", "1", "105280"], "{out}");
    for st in series.iter().filter(|st| st["category"] == "klines") {
        let dir = format!(
            "silver/binance/spot/klines/{}/1h",
            st["symbol"].as_str().unwrap()
        );
        let path = lake.join(&dir).join("_quality.parquet");
        let rows =
            replay::lake::read_quality(s(&path), bytes::Bytes::from(std::fs::read(&path).unwrap()))
                .unwrap();
        let want = serde_json::to_value(replay::lake::SeriesQuality::of(&rows)).unwrap();
        assert_eq!(st["silver"]["quality"], want, "{dir}");
        assert_eq!(st["rows"], want["rows"]);
        assert_eq!(st["first_ns"].as_i64(), Some(rows[0].first_open_time));
        assert_eq!(
            st["last_ns"].as_i64(),
            Some(rows[rows.len() - 1].last_open_time)
        );
        assert_eq!(st["bronze"]["versions"].as_u64(), Some(1));
    }
    let btc = &series[1];
    assert_eq!(btc["symbol"].as_str(), Some("BTCUSDT"));
    let q = &btc["silver"]["quality"];
    assert_eq!(
        (q["rows"].as_u64(), q["misaligned"].as_u64()),
        (Some(640), Some(43))
    );
    let one = json(&hermes_ok(&[
        "lake",
        "stats",
        "--lake",
        s(&lake),
        "--json",
        "--symbol",
        "ETHUSDT",
    ]));
    assert_eq!(one["series"].as_array().unwrap().len(), 1);
    assert_eq!(one["series"][0], series[2]);
}

#[test]
fn ls_counts_orphans_after_a_crash_before_the_commit() {
    let Some(d) = data_dir() else { return };
    if !cfg!(debug_assertions) {
        eprintln!("SKIPPED: the failpoint is honoured only in debug builds");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let zip = d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-02.zip");
    let out = Command::new(env!("CARGO_BIN_EXE_hermes"))
        .args(["lake", "ingest", "--lake", s(&lake), s(&zip)])
        .env("HERMES_LAKE_FAILPOINT", "before_ledger")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = hermes_ok(&["lake", "ls", "--lake", s(&lake)]);
    let header = row(&out, "layer");
    let bronze = row(&out, "bronze ");
    let at = |h: &str| bronze[header.iter().position(|x| x == h).unwrap()].clone();
    assert_eq!(
        (
            at("days"),
            at("files"),
            at("rows"),
            at("versions"),
            at("orphans")
        ),
        ("0".into(), "0".into(), "0".into(), "0".into(), "1".into()),
        "{out}"
    );
    assert_eq!((at("first_day"), at("last_day")), ("-".into(), "-".into()));
    hermes_ok(&["lake", "ingest", "--lake", s(&lake), s(&zip)]);
    let out = hermes_ok(&["lake", "ls", "--lake", s(&lake)]);
    let bronze = row(&out, "bronze ");
    assert_eq!(
        bronze[header.iter().position(|x| x == "orphans").unwrap()],
        "0"
    );
    assert_eq!(
        bronze[header.iter().position(|x| x == "rows").unwrap()],
        "1440"
    );
}

#[test]
fn ls_on_empty_or_missing_root() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-lake");
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for root in [&missing, &empty] {
        let out = hermes_ok(&["lake", "ls", "--lake", s(root)]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].starts_with("layer"), "{out}");
        assert!(lines[1].contains(": 0 series, 0 files, 0 bytes"), "{out}");
        let v = json(&hermes_ok(&["lake", "ls", "--lake", s(root), "--json"]));
        assert!(v["series"].as_array().unwrap().is_empty());
        let out = hermes_ok(&["lake", "stats", "--lake", s(root)]);
        assert!(out.contains(": 0 series"), "{out}");
    }
    assert!(!missing.exists(), "ls creates nothing");
    let err = hermes_err(&["lake", "ls", "--lake", "gs://bucket/lake"], 78);
    assert!(err.contains("unsupported scheme"), "{err}");
    let err = hermes_err(&["lake", "stats", "--lake", "s3://A_B/lake"], 78);
    assert!(err.contains("bucket"), "{err}");
    let out = hermes(&["lake", "ls", "--lake", s(&empty), "--layer", "platinum"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_unreadable_quality_table_is_a_problem_after_the_table() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let zip = d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip");
    hermes_ok(&["lake", "ingest", "--lake", s(&lake), s(&zip)]);
    hermes_ok(&["lake", "silver", "--lake", s(&lake)]);
    let quality = lake.join("silver/binance/spot/klines/BTCUSDT/1m/_quality.parquet");
    std::fs::write(&quality, b"truncated").unwrap();
    let out = hermes(&["lake", "ls", "--lake", s(&lake)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let silver = row(&stdout, "silver ");
    assert_eq!(
        (silver[7].as_str(), silver[9].as_str()),
        ("1", "?"),
        "{stdout}"
    );
    assert!(
        stdout.contains("PROBLEM  silver spot/klines/BTCUSDT/1m: quality table ")
            && stdout.contains(s(&quality)),
        "{stdout}"
    );
    let err = hermes_err(&["lake", "stats", "--lake", s(&lake)], 1);
    assert!(
        err.contains("1 object(s) could not be read") && err.contains(s(&quality)),
        "{err}"
    );
}
