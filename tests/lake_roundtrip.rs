//! The lake end to end through the real binary, on the real Binance files of `shared/data`:
//! two daily zips with their CHECKSUMs → `hermes lake ingest` → `silver` → `gold`, checked
//! against the CSV inside the zips and the streaming indicators (continuous across
//! midnight); a backtest on gold equals the one on silver; gold's exit statuses (a bad silver
//! file 65, named; an unmatched filter 65; a missing lake 66).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int8Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use common::{data_dir, hermes, hermes_err, hermes_ok};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strategies::indicators::{StandardFeatureEngine, StandardFeatures};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read_batch(path: &Path) -> RecordBatch {
    let bytes = bytes::Bytes::from(std::fs::read(path).unwrap());
    let mut batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(batches.len(), 1, "{}", path.display());
    batches.remove(0)
}

fn unzip_member(path: &Path) -> String {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut text = String::new();
    z.by_index(0).unwrap().read_to_string(&mut text).unwrap();
    text
}

/// The feature `name` of row `i` (Int8 `supertrend_dir` as f64), `None` when null.
fn feature(b: &RecordBatch, name: &str, i: usize) -> Option<f64> {
    let c = b.column_by_name(name).unwrap();
    if c.is_null(i) {
        return None;
    }
    Some(if name == "supertrend_dir" {
        f64::from(c.as_primitive::<Int8Type>().value(i))
    } else {
        c.as_primitive::<Float64Type>().value(i)
    })
}

/// A lake holding both lostleaf days (ingested from their zips, checked by their CHECKSUMs),
/// with silver built.
fn lostleaf_lake(d: &Path, lake: &Path) -> [PathBuf; 2] {
    let dir = d.join("binance_datatool-lostleaf");
    let zips = [
        dir.join("BTCUSDT-1m-2020-01-01.zip"),
        dir.join("BTCUSDT-1m-2020-01-02.zip"),
    ];
    let out = hermes_ok(&[
        "lake",
        "ingest",
        "--lake",
        s(lake),
        "--require-checksum",
        s(&zips[0]),
        s(&zips[1]),
    ]);
    assert!(out.contains("checksum verified"), "{out}");
    assert!(
        out.contains("2 ingested, 0 already present, 0 failed"),
        "{out}"
    );
    hermes_ok(&["lake", "silver", "--lake", s(lake)]);
    zips
}

#[test]
fn round_trip_zip_to_gold() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let zips = lostleaf_lake(&d, &lake);
    let out = hermes_ok(&["lake", "gold", "--lake", s(&lake)]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "series",
            "days",
            "written",
            "unchanged",
            "rows",
            "first",
            "last"
        ]
    );
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        [
            "spot/klines/BTCUSDT/1m",
            "2",
            "2",
            "0",
            "2880",
            "2020-01-01T00:00:00Z",
            "2020-01-02T23:59:00Z"
        ],
        "{out}"
    );
    assert!(
        out.ends_with(&format!(
            "lake gold in {}: 1 series, 2 day(s) written, 0 unchanged, 0 failed\n",
            s(&lake)
        )),
        "{out}"
    );

    // Two partitions, 2 880 rows, the CSV's prices, features continuous across midnight.
    let series = lake.join("gold/binance/spot/klines/BTCUSDT/1m");
    let days: Vec<RecordBatch> = ["day=01", "day=02"]
        .iter()
        .map(|day| read_batch(&series.join(format!("year=2020/month=01/{day}/part-0.parquet"))))
        .collect();
    assert_eq!(
        days.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(),
        [1440, 1440]
    );
    assert!(series.join("_state.json").is_file());
    let csv: String = zips.iter().map(|z| unzip_member(z)).collect();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2880);
    let mut engine = StandardFeatureEngine::new();
    for (n, line) in lines.iter().enumerate() {
        let (b, i) = (&days[n / 1440], n % 1440);
        let c: Vec<&str> = line.split(',').collect();
        let f = |k: usize| c[k].parse::<f64>().unwrap();
        let open = b
            .column_by_name("open_time")
            .unwrap()
            .as_primitive::<TimestampNanosecondType>()
            .value(i);
        assert_eq!(open, c[0].parse::<i64>().unwrap() * 1_000_000, "{line}");
        let close = b
            .column_by_name("close")
            .unwrap()
            .as_primitive::<Float64Type>();
        assert_eq!(close.value(i), f(4), "{line}");
        let want = engine.update(f(2), f(3), f(4)).unwrap().to_array();
        for (k, name) in StandardFeatures::COLUMNS.iter().enumerate() {
            assert_eq!(
                feature(b, name, i).map(f64::to_bits),
                (!want[k].is_nan()).then(|| want[k].to_bits()),
                "line {} {name}",
                n + 1
            );
        }
    }
    // Midnight: the second day's first bar has every feature, and its return is from the
    // first day's last close.
    for name in StandardFeatures::COLUMNS {
        assert!(feature(&days[1], name, 0).is_some(), "{name}");
    }
    let last_close = |b: &RecordBatch, i| {
        b.column_by_name("close")
            .unwrap()
            .as_primitive::<Float64Type>()
            .value(i)
    };
    let ret = days[1]
        .column_by_name("ret_1")
        .unwrap()
        .as_primitive::<Float64Type>()
        .value(0);
    assert_eq!(
        ret,
        last_close(&days[1], 0) / last_close(&days[0], 1439) - 1.0
    );
    assert!(days[0].column_by_name("ret_1").unwrap().is_null(0));

    // A rerun writes nothing; JSON says the same.
    let json = hermes_ok(&["lake", "gold", "--lake", s(&lake), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (v["days_written"].as_u64(), v["days_unchanged"].as_u64()),
        (Some(0), Some(2))
    );
    let ser = &v["series"][0];
    assert_eq!(ser["rows"], 2880);
    assert_eq!(ser["state_written"], false);
    assert_eq!(ser["columns"][3], "open");
    assert_eq!(ser["columns"].as_array().unwrap().len(), 26);
    assert_eq!(v["feature_set"], "standard-v1");
}

#[test]
fn backtest_reads_gold_like_silver() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    lostleaf_lake(&d, &lake);
    hermes_ok(&["lake", "gold", "--lake", s(&lake)]);
    let run = |layer: &str| {
        let out = tmp.path().join(format!("bt-{layer}"));
        hermes_ok(&[
            "backtest",
            "--lake",
            s(&lake),
            "--layer",
            layer,
            "--symbols",
            "BTCUSDT",
            "--interval",
            "1m",
            "--strategy",
            "ema-cross",
            "--out",
            s(&out),
            "--no-charts",
        ]);
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        assert_eq!(report["data_range"]["bars"], 2880, "{layer}");
        std::fs::read_to_string(out.join("trades.csv")).unwrap()
    };
    let (gold, silver) = (run("gold"), run("silver"));
    assert!(gold.lines().count() > 1, "the EMA cross trades: {gold}");
    assert_eq!(gold, silver);
}

#[test]
fn lake_gold_exit_statuses() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-lake");
    let stderr = hermes_err(&["lake", "gold", "--lake", s(&missing)], 66);
    assert!(stderr.contains(s(&missing)), "{stderr}");

    let lake = tmp.path().join("lake");
    lostleaf_lake(&d, &lake);
    let stderr = hermes_err(
        &["lake", "gold", "--lake", s(&lake), "--symbol", "NOPEUSDT"],
        65,
    );
    assert!(
        stderr.contains("no silver klines series") && stderr.contains("--symbol NOPEUSDT"),
        "{stderr}"
    );
    // A bad silver day: named, exit 65, nothing of the series in gold.
    let bad =
        lake.join("silver/binance/spot/klines/BTCUSDT/1m/year=2020/month=01/day=02/part-0.parquet");
    std::fs::write(&bad, b"not parquet").unwrap();
    let out = hermes(&["lake", "gold", "--lake", s(&lake)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(65), "{stdout}");
    let stderr = hermes_err(&["lake", "gold", "--lake", s(&lake)], 65);
    assert!(
        stderr.contains(s(&bad)) && stderr.contains("not a readable Parquet file"),
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!(
            "FAILED   spot/klines/BTCUSDT/1m: silver file {}",
            s(&bad)
        )),
        "{stdout}"
    );
    assert!(!lake.join("gold").exists());
}
