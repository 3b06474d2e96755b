//! `replay::lake` silver on a local lake, on the real Binance files of `shared/data` (see its
//! PROVENANCE.md): ms and µs sources scaled to ns, the gap and misaligned bars of 2018-02,
//! overlapping sources and versions deduplicated (newest wins), incremental reruns counted by
//! the store's IO counters, silver read back by `BarReplay`, and a bad bronze file; trades and
//! aggTrades silver (the COIN-M aggTrades day, and a spot trades file made from real trades)
//! checked against their CSV and read back by `TradeReplay`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int64Type, TimestampMillisecondType, TimestampNanosecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit as ArrowTimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use polars::prelude::{
    HiveOptions, LazyFrame, ParquetWriter, ScanArgsParquet, ScanSources, col, lit,
};
use replay::lake::{
    GapSpan, IngestOptions, IngestOutcome, LakeError, SeriesFilter, SeriesOutcome, SilverOptions,
    SilverSummary, build_silver, ingest_files,
};
use replay::{BarRecord, BarReplay, Layer, ReplaySpec, Store, TradeRecord, TradeReplay};

#[path = "../../tests/common/data.rs"]
mod data;

#[path = "common/medallion.rs"]
mod medallion;

use medallion::{INGESTED_AT, Lake, new_lake};

fn ingest(lake: &Lake, inputs: &[PathBuf]) {
    ingest_at(lake, inputs, INGESTED_AT);
}

fn ingest_at(lake: &Lake, inputs: &[PathBuf], at: i64) {
    let opts = IngestOptions {
        ingested_at_ns: at,
        ..IngestOptions::default()
    };
    for o in ingest_files(&lake.store, inputs, &opts, &|_| {}).expect("ledger") {
        assert!(matches!(o, IngestOutcome::Ingested { .. }), "{o:?}");
    }
}

fn silver(lake: &Lake, full: bool) -> SilverSummary {
    let opts = SilverOptions {
        full,
        ..SilverOptions::default()
    };
    let s = build_silver(&lake.store, &opts).expect("ledger readable");
    for o in &s.series {
        assert!(o.failures.is_empty(), "{}: {:?}", o.key, o.failures);
    }
    s
}

fn series<'a>(s: &'a SilverSummary, name: &str) -> &'a SeriesOutcome {
    s.series
        .iter()
        .find(|o| o.key.to_string() == name)
        .unwrap_or_else(|| panic!("no series {name}"))
}

fn read_batch(store: &Store, path: &str) -> RecordBatch {
    let bytes = store.get(path).expect("get");
    let mut batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .expect("parquet")
        .with_batch_size(1 << 20)
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect();
    assert_eq!(batches.len(), 1, "{path}");
    batches.remove(0)
}

fn times(b: &RecordBatch, name: &str) -> Vec<i64> {
    let c = b.column_by_name(name).expect(name);
    assert_eq!(
        c.data_type(),
        &DataType::Timestamp(ArrowTimeUnit::Nanosecond, Some("UTC".into())),
        "{name}"
    );
    c.as_primitive::<TimestampNanosecondType>()
        .values()
        .to_vec()
}

fn floats(b: &RecordBatch, name: &str) -> Vec<f64> {
    let c = b.column_by_name(name).expect(name);
    assert_eq!(c.data_type(), &DataType::Float64, "{name}");
    c.as_primitive::<Float64Type>().values().to_vec()
}

fn ints(b: &RecordBatch, name: &str) -> Vec<i64> {
    let c = b.column_by_name(name).expect(name);
    assert_eq!(c.data_type(), &DataType::Int64, "{name}");
    c.as_primitive::<Int64Type>().values().to_vec()
}

fn unzip_member(path: &Path) -> String {
    let f = std::fs::File::open(path).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let mut s = String::new();
    z.by_index(0).unwrap().read_to_string(&mut s).unwrap();
    s
}

/// UTC ns of a date and time.
fn ns(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_milli_opt(h, mi, s, ms)
        .unwrap()
        .and_utc()
        .timestamp_nanos_opt()
        .unwrap()
}

/// In-memory buffers have no path to read hive partitions from.
fn scan_args() -> ScanArgsParquet {
    ScanArgsParquet {
        hive_options: HiveOptions::new_disabled(),
        ..ScanArgsParquet::default()
    }
}

/// Polars scans a bronze file from memory, casts its text prices and collects.
#[test]
fn polars_scans_a_bronze_buffer() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    ingest(
        &lake,
        &[d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip")],
    );
    let files = lake.store.list("bronze").unwrap();
    assert_eq!(files.len(), 1);
    let bytes = lake.store.get(&files[0].path).unwrap();
    let sources = ScanSources::Buffers(Arc::from([polars_buffer::Buffer::from_owner(bytes)]));
    let df = LazyFrame::scan_parquet_sources(sources, scan_args())
        .unwrap()
        .select([
            col("open_time"),
            col("close").strict_cast(polars::prelude::DataType::Float64),
        ])
        .collect()
        .unwrap();
    assert_eq!(df.height(), 1440);
    let t = df.column("open_time").unwrap().i64().unwrap();
    assert_eq!(t.get(0), Some(1_577_836_800_000));
    let c = df.column("close").unwrap().f64().unwrap();
    assert_eq!(c.get(0), Some(7_186.68));
}

#[test]
fn silver_types_and_scales_ms_and_us() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    ingest(
        &lake,
        &[
            d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip"),
            d.join("binance_datatool-tommy-ca/data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2026-05-08.zip"),
            d.join("binance_datatool-tommy-ca/data/futures/cm/daily/aggTrades/BTCUSD_PERP/BTCUSD_PERP-aggTrades-2026-05-08.zip"),
        ],
    );
    let s = silver(&lake, false);
    assert_eq!((s.days_written(), s.days_unchanged()), (3, 0));
    // The aggTrades day is built too (its values: `silver_aggtrades_…` below).
    let agg = series(&s, "futures-cm/aggTrades/BTCUSD_PERP/raw");
    assert_eq!((agg.days_written, agg.trade_quality.rows), (1, 105_280));
    assert!(agg.days.is_empty());

    // ms → ns.
    let m = read_batch(
        &lake.store,
        "silver/binance/spot/klines/BTCUSDT/1m/year=2020/month=01/day=01/part-0.parquet",
    );
    let names: Vec<&str> = m
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(
        names,
        [
            "open_time",
            "close_time",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "quote_volume",
            "taker_buy_base_volume",
            "taker_buy_quote_volume",
            "trade_count"
        ]
    );
    assert_eq!(m.num_rows(), 1440);
    let (ot, ct) = (times(&m, "open_time"), times(&m, "close_time"));
    assert_eq!(ot[0], 1_577_836_800_000_000_000);
    assert_eq!(ct[0], 1_577_836_859_999_000_000);
    assert!(ot.windows(2).all(|w| w[1] - w[0] == 60_000_000_000));
    // The first CSV line: 7195.24, 7196.25, 7183.14, 7186.68, 51.642812, …, 493 trades.
    assert_eq!(floats(&m, "open")[0], 7195.24);
    assert_eq!(floats(&m, "close")[0], 7186.68);
    assert_eq!(floats(&m, "volume")[0], 51.642812);
    assert_eq!(floats(&m, "taker_buy_quote_volume")[0], 140_888.414_282_73);
    assert_eq!(ints(&m, "trade_count")[0], 493);

    // µs (2026 spot) → ns.
    let h = read_batch(
        &lake.store,
        "silver/binance/spot/klines/BTCUSDT/1h/year=2026/month=05/day=08/part-0.parquet",
    );
    assert_eq!(h.num_rows(), 24);
    let (ot, ct) = (times(&h, "open_time"), times(&h, "close_time"));
    assert_eq!(ot[0], 1_778_198_400_000_000_000);
    assert_eq!(ct[0], 1_778_201_999_999_999_000);
    assert_eq!(ot[23], 1_778_198_400_000_000_000 + 23 * 3_600_000_000_000);

    // Both days complete.
    for name in ["spot/klines/BTCUSDT/1m", "spot/klines/BTCUSDT/1h"] {
        let q = &series(&s, name).quality;
        assert_eq!(q.completeness_pct, 100.0, "{name}");
        assert_eq!(
            (
                q.gaps,
                q.misaligned,
                q.duplicates,
                q.conflicts,
                q.invalid_rows
            ),
            (0, 0, 0, 0, 0),
            "{name}"
        );
    }
    assert_eq!(series(&s, "spot/klines/BTCUSDT/1m").quality.rows, 1440);
}

#[test]
fn silver_reports_gap_and_misaligned_bars_of_2018_02() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    ingest(&lake, &[d.join("alphakit/spot/BTCUSDT-1h-2018-02.csv")]);
    let s = silver(&lake, false);
    let o = series(&s, "spot/klines/BTCUSDT/1h");
    assert_eq!((o.days_written, o.days.len()), (28, 28));
    let q = &o.quality;
    assert_eq!(
        (q.days, q.missing_days, q.rows, q.expected_rows),
        (28, 0, 640, 672)
    );
    assert!((q.completeness_pct - 640.0 * 100.0 / 672.0).abs() < 1e-9);
    // 43 candles at hh:28:14.789 from 2018-02-09 09:28 to 2018-02-11 03:28.
    assert_eq!(q.misaligned, 43);
    // One gap: the outage from 2018-02-08 00:00 to 2018-02-09 09:28:14.789 (33.47 h),
    // missing the 33 slots 01:00 … 09:00.
    assert_eq!((q.gaps, q.missing_bars), (1, 33));
    let gap = GapSpan {
        from_ns: ns(2018, 2, 8, 0, 0, 0, 0),
        to_ns: ns(2018, 2, 9, 9, 28, 14, 789),
    };
    assert_eq!(q.longest_gap, Some(gap));
    assert!((gap.len_ns() as f64 / 3.6e12 - 33.47).abs() < 0.005);
    assert_eq!(
        (q.duplicates, q.conflicts, q.invalid_rows, q.outliers),
        (0, 0, 0, 0)
    );
    // Per day: the 8th has one bar, the 9th starts after the gap (across midnight).
    let day = |n: u32| &o.days[(n - 1) as usize];
    assert_eq!((day(8).rows, day(8).gaps, day(8).misaligned), (1, 0, 0));
    assert!((day(8).completeness_pct - 100.0 / 24.0).abs() < 1e-9);
    let d9 = day(9);
    assert_eq!((d9.rows, d9.misaligned, d9.gaps), (15, 15, 0));
    assert!(d9.midnight_gap);
    assert_eq!(d9.midnight_missing_bars, 33);
    assert_eq!(d9.midnight_gap_span(), Some(gap));
    assert_eq!((day(10).misaligned, day(11).misaligned), (24, 4));
    // 03:28 → 04:00 is a short step, not a gap; 23:28 → 00:28 across midnight is continuous.
    assert_eq!((day(11).rows, day(11).gaps), (24, 0));
    assert!(!day(11).midnight_gap && !day(10).midnight_gap);
    assert_eq!(
        day(10).prev_last_open_time,
        Some(ns(2018, 2, 9, 23, 28, 14, 789))
    );
    assert_eq!(day(1).prev_last_open_time, None);
    // The table next to the data says the same.
    let table = replay::lake::read_quality(
        "q",
        lake.store
            .get("silver/binance/spot/klines/BTCUSDT/1h/_quality.parquet")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(table, o.days);
    // The misaligned bars are in silver as delivered.
    let b = read_batch(
        &lake.store,
        "silver/binance/spot/klines/BTCUSDT/1h/year=2018/month=02/day=09/part-0.parquet",
    );
    assert_eq!(times(&b, "open_time")[0], gap.to_ns);
}

/// The lostleaf CSV of 2020-01-01 written beside `dir` under `name`, with `edit` applied to
/// line 17 (1-based).
fn lostleaf_csv(d: &Path, dir: &Path, name: &str, edit: impl Fn(&mut Vec<String>)) -> PathBuf {
    let text = unzip_member(&d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip"));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cells: Vec<String> = lines[16].split(',').map(str::to_string).collect();
    edit(&mut cells);
    lines[16] = cells.join(",");
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

#[test]
fn silver_dedups_overlapping_sources_and_the_newest_wins() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let tmp = tempfile::tempdir().unwrap();
    // The daily zip and the same rows as a monthly CSV: every row twice.
    let zip = d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip");
    let monthly = lostleaf_csv(&d, &tmp.path().join("v1"), "BTCUSDT-1m-2020-01.csv", |_| {});
    ingest(&lake, &[zip, monthly]);
    let s = silver(&lake, false);
    let o = series(&s, "spot/klines/BTCUSDT/1m");
    assert_eq!(o.days_written, 1);
    let day = &o.days[0];
    assert_eq!(
        (day.rows, day.duplicates, day.conflicts, day.source_files),
        (1440, 1440, 0, 2)
    );
    let path = "silver/binance/spot/klines/BTCUSDT/1m/year=2020/month=01/day=01/part-0.parquet";
    let vol17 = floats(&read_batch(&lake.store, path), "volume")[16];

    // A corrected monthly file (line 17's volume changed) ingested later: version 2 of the
    // same name. Its row wins; the identical rows count as duplicates.
    let v2 = lostleaf_csv(&d, &tmp.path().join("v2"), "BTCUSDT-1m-2020-01.csv", |c| {
        c[5] = "1.00000000".into();
    });
    ingest_at(&lake, &[v2], INGESTED_AT + 1);
    let s = silver(&lake, false);
    let o = series(&s, "spot/klines/BTCUSDT/1m");
    assert_eq!((o.days_written, o.days_unchanged), (1, 0));
    let day = &o.days[0];
    // 4320 rows read: 1441 distinct, 1440 kept.
    assert_eq!(
        (day.rows, day.duplicates, day.conflicts, day.source_files),
        (1440, 2879, 1, 3)
    );
    let b = read_batch(&lake.store, path);
    assert_eq!(floats(&b, "volume")[16], 1.0);
    assert_ne!(vol17, 1.0);
    assert_eq!(
        times(&b, "open_time")[16],
        1_577_836_800_000_000_000 + 16 * 60_000_000_000
    );
}

#[test]
fn silver_rerun_writes_nothing_and_changes_rebuild_only_their_days() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let dir = d.join("binance_datatool-lostleaf");
    ingest(&lake, &[dir.join("BTCUSDT-1m-2020-01-01.zip")]);
    let io = || lake.store.io_counters();
    let before = io();
    let s = silver(&lake, false);
    // One day file and the quality table.
    assert_eq!(io().puts - before.puts, 2);
    assert!(series(&s, "spot/klines/BTCUSDT/1m").quality_written);
    let day1 = "silver/binance/spot/klines/BTCUSDT/1m/year=2020/month=01/day=01/part-0.parquet";
    let first = lake.store.get(day1).unwrap();

    // Nothing changed: nothing written, no bronze read.
    let before = io();
    let s = silver(&lake, false);
    let after = io();
    assert_eq!((after.puts, after.deletes), (before.puts, before.deletes));
    assert_eq!(
        after.gets - before.gets,
        2,
        "only the ledger entry and the quality table are read"
    );
    assert_eq!((s.days_written(), s.days_unchanged()), (0, 1));
    assert!(!series(&s, "spot/klines/BTCUSDT/1m").quality_written);

    // The next day arrives: only it is built, linked to the day before across midnight.
    ingest(&lake, &[dir.join("BTCUSDT-1m-2020-01-02.zip")]);
    let before = io();
    let s = silver(&lake, false);
    assert_eq!(io().puts - before.puts, 2);
    let o = series(&s, "spot/klines/BTCUSDT/1m");
    assert_eq!((o.days_written, o.days_unchanged), (1, 1));
    assert_eq!(
        o.days[1].prev_last_open_time,
        Some(ns(2020, 1, 1, 23, 59, 0, 0))
    );
    assert!(!o.days[1].midnight_gap);
    assert_eq!((o.quality.rows, o.quality.gaps), (2880, 0));

    // --full rewrites every day, byte for byte the same.
    let before = io();
    let s = silver(&lake, true);
    assert_eq!((io().puts - before.puts, s.days_written()), (3, 2));
    assert_eq!(lake.store.get(day1).unwrap(), first);

    // A crash before the commit (the quality table lost): the rerun finishes the job.
    lake.store
        .delete("silver/binance/spot/klines/BTCUSDT/1m/_quality.parquet")
        .unwrap();
    let s = silver(&lake, false);
    assert_eq!(s.days_written(), 2);
    let before = io();
    silver(&lake, false);
    assert_eq!(io().puts, before.puts);
}

#[test]
fn silver_is_readable_by_bar_replay() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let dir = d.join("binance_datatool-lostleaf");
    let zips = [
        dir.join("BTCUSDT-1m-2020-01-01.zip"),
        dir.join("BTCUSDT-1m-2020-01-02.zip"),
    ];
    ingest(&lake, &zips);
    silver(&lake, false);
    let spec = ReplaySpec {
        root: lake.store.root().clone(),
        layer: Layer::Silver,
        provider: "binance".into(),
        market: "spot".into(),
        category: "klines".into(),
        symbols: vec!["BTCUSDT".into()],
        interval: "1m".into(),
        interval_ns: 60_000_000_000,
        start_ns: None,
        end_ns: None,
        chunk_days: 1,
        prefetch: false,
    };
    let mut replay = BarReplay::open(&lake.store, &spec).unwrap();
    let mut bars: Vec<BarRecord> = Vec::new();
    let mut chunk = Vec::new();
    while replay.next_chunk(&mut chunk).unwrap().is_some() {
        bars.extend_from_slice(&chunk);
    }
    let report = replay.into_report();
    // Clean: the quality table beside the data is lake metadata, not an ignored stray file.
    assert!(report.is_clean(), "{report:?}");
    let csv: String = zips.iter().map(|z| unzip_member(z)).collect();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!((bars.len(), lines.len()), (2880, 2880));
    for (b, line) in bars.iter().zip(&lines) {
        let c: Vec<&str> = line.split(',').collect();
        let f = |i: usize| c[i].parse::<f64>().unwrap();
        let t = |i: usize| c[i].parse::<i64>().unwrap() * 1_000_000;
        assert_eq!((b.open_time_ns, b.close_time_ns), (t(0), t(6)), "{line}");
        assert_eq!(
            (b.open, b.high, b.low, b.close),
            (f(1), f(2), f(3), f(4)),
            "{line}"
        );
        assert_eq!((b.volume, b.quote_volume), (f(5), f(7)), "{line}");
        assert_eq!(b.trade_count, c[8].parse::<u64>().unwrap(), "{line}");
    }
}

/// Rewrites a committed bronze file with one column replaced by `value`; returns its URL.
fn break_bronze(lake: &Lake, day_dir: &str, value: polars::prelude::Expr) -> String {
    let files = lake.store.list(day_dir).unwrap();
    assert_eq!(files.len(), 1);
    let path = files[0].path.clone();
    let mut df = LazyFrame::scan_parquet_sources(
        ScanSources::Buffers(Arc::from([polars_buffer::Buffer::from_owner(
            lake.store.get(&path).unwrap(),
        )])),
        scan_args(),
    )
    .unwrap()
    .with_column(value)
    .collect()
    .unwrap();
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
    lake.store.put(&path, buf.into()).unwrap();
    lake.store.url_of(&path)
}

#[test]
fn a_bad_bronze_file_is_named_and_other_series_go_on() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    ingest(
        &lake,
        &[
            d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip"),
            d.join("nautilus_trader/ADABTC-1m-2021-11-28.zip"),
        ],
    );
    let btc = "bronze/binance/spot/klines/BTCUSDT/1m/year=2020/month=01/day=01";
    let btc_file = lake.store.list(btc).unwrap()[0].path.clone();
    let original = lake.store.get(&btc_file).unwrap();
    let int_high = lit(1i64)
        .strict_cast(polars::prelude::DataType::Int64)
        .alias("high");
    let bad = break_bronze(&lake, btc, int_high);
    let opts = SilverOptions::default();
    let s = build_silver(&lake.store, &opts).unwrap();
    let broken = series(&s, "spot/klines/BTCUSDT/1m");
    assert_eq!((broken.days_written, broken.failures.len()), (0, 1));
    let e = &broken.failures[0];
    assert!(matches!(e, LakeError::BadBronze { .. }), "{e}");
    assert!(e.is_bad_input());
    let msg = e.to_string();
    assert!(
        msg.contains(&bad) && msg.contains("column high has type Int64, expected Utf8"),
        "{msg}"
    );
    let ok = series(&s, "spot/klines/ADABTC/1m");
    assert_eq!((ok.days_written, ok.quality.rows), (1, 1440));
    assert!(ok.failures.is_empty());
    // Nothing of the broken day in silver, and the next run tries it again.
    assert!(
        lake.store
            .list("silver/binance/spot/klines/BTCUSDT/1m/year=2020")
            .unwrap()
            .is_empty()
    );
    let s = build_silver(&lake.store, &opts).unwrap();
    assert_eq!(series(&s, "spot/klines/BTCUSDT/1m").failures.len(), 1);
    assert_eq!(s.days_unchanged(), 1);
    // The filter leaves the broken series alone.
    let only_ada = SilverOptions {
        series: SeriesFilter {
            symbols: vec!["ADABTC".into()],
            ..SeriesFilter::default()
        },
        ..SilverOptions::default()
    };
    let s = build_silver(&lake.store, &only_ada).unwrap();
    assert_eq!(s.series.len(), 1);
    assert_eq!(s.failures().count(), 0);

    // Right types, but a price that is not a number, or an unknown time unit: named too.
    for (value, want) in [
        (lit("abc").alias("open"), "open"),
        (
            lit("s").alias("_time_unit"),
            "column open_time has values that do not convert (is _time_unit ms or us?)",
        ),
    ] {
        lake.store.put(&btc_file, original.clone()).unwrap();
        let bad = break_bronze(&lake, btc, value);
        let s = build_silver(&lake.store, &opts).unwrap();
        let e = &series(&s, "spot/klines/BTCUSDT/1m").failures[0];
        let msg = e.to_string();
        assert!(matches!(e, LakeError::BadBronze { .. }), "{msg}");
        assert!(msg.contains(&bad) && msg.contains(want), "{msg}");
    }
}

fn bools(b: &RecordBatch, name: &str) -> Vec<bool> {
    let c = b.column_by_name(name).expect(name);
    assert_eq!(c.data_type(), &DataType::Boolean, "{name}");
    assert_eq!(c.null_count(), 0, "{name}");
    c.as_boolean().iter().map(|v| v.unwrap()).collect()
}

fn column_names(b: &RecordBatch) -> Vec<&str> {
    b.schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect()
}

/// Every trade of a silver trade series through `TradeReplay`.
fn trade_replay(lake: &Lake, market: &str, category: &str, symbol: &str) -> Vec<TradeRecord> {
    let spec = ReplaySpec {
        root: lake.store.root().clone(),
        layer: Layer::Silver,
        provider: "binance".into(),
        market: market.into(),
        category: category.into(),
        symbols: vec![symbol.into()],
        interval: "raw".into(),
        interval_ns: 0,
        start_ns: None,
        end_ns: None,
        chunk_days: 1,
        prefetch: false,
    };
    let mut replay = TradeReplay::open(&lake.store, &spec).unwrap();
    let mut out: Vec<TradeRecord> = Vec::new();
    let mut chunk = Vec::new();
    while replay.next_chunk(&mut chunk).unwrap().is_some() {
        out.extend_from_slice(&chunk);
    }
    let report = replay.into_report();
    assert!(report.is_clean(), "{report:?}");
    out
}

/// `(id gaps, missing ids)` of a set of ids, counted here from the source rows.
fn id_gaps(ids: &[i64]) -> (u64, u64) {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    let steps: Vec<i64> = v
        .windows(2)
        .map(|w| w[1] - w[0] - 1)
        .filter(|&m| m > 0)
        .collect();
    (steps.len() as u64, steps.iter().sum::<i64>() as u64)
}

/// Input rows whose time is before the row above them (file order).
fn descents(times: &[i64]) -> u64 {
    times.windows(2).filter(|w| w[1] < w[0]).count() as u64
}

const AGG_ZIP: &str = "binance_datatool-tommy-ca/data/futures/cm/daily/aggTrades/BTCUSD_PERP/BTCUSD_PERP-aggTrades-2026-05-08.zip";
const AGG_DAY: &str =
    "silver/binance/futures-cm/aggTrades/BTCUSD_PERP/raw/year=2026/month=05/day=08/part-0.parquet";

/// The tommy-ca COIN-M aggTrades day (header, 105 280 rows, ms): silver equals the CSV sorted
/// by (time, id) with `ts` = `transact_time` × 10⁶; its id gaps and out-of-order rows are
/// those counted here from the CSV; a rerun writes nothing; the same rows under a monthly name
/// are all duplicates, and a corrected later delivery wins its row.
#[test]
fn silver_aggtrades_equal_the_csv_and_count_ids_duplicates_and_conflicts() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let zip = d.join(AGG_ZIP);
    ingest(&lake, std::slice::from_ref(&zip));
    let s = silver(&lake, false);
    let o = series(&s, "futures-cm/aggTrades/BTCUSD_PERP/raw");
    assert_eq!((o.days_written, o.trade_days.len()), (1, 1));

    // The CSV, parsed here: id, price, quantity, first id, last id, time (ms), is_buyer_maker.
    let text = unzip_member(&zip);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
        )
    );
    type Agg = (i64, i64, f64, f64, i64, i64, bool);
    let rows: Vec<Agg> = lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let t = c[5].parse::<i64>().unwrap() * 1_000_000;
            (
                t,
                c[0].parse().unwrap(),
                c[1].parse().unwrap(),
                c[2].parse().unwrap(),
                c[3].parse().unwrap(),
                c[4].parse().unwrap(),
                c[6] == "true",
            )
        })
        .collect();
    assert_eq!(rows.len(), 105_280);
    let csv_ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let csv_times: Vec<i64> = rows.iter().map(|r| r.0).collect();
    // Every row is valid and its id unique: silver keeps them all.
    assert!(rows.iter().all(|r| r.2 > 0.0 && r.3 > 0.0));
    let (gaps, missing) = id_gaps(&csv_ids);
    let ooo = descents(&csv_times);
    let mut expected = rows.clone();
    expected.sort_by_key(|r| (r.0, r.1));

    let b = read_batch(&lake.store, AGG_DAY);
    assert_eq!(
        column_names(&b),
        [
            "ts",
            "agg_trade_id",
            "price",
            "qty",
            "first_trade_id",
            "last_trade_id",
            "is_buyer_maker"
        ]
    );
    assert_eq!(b.num_rows(), 105_280);
    let ts = times(&b, "ts");
    let id = ints(&b, "agg_trade_id");
    let (price, qty) = (floats(&b, "price"), floats(&b, "qty"));
    let (first, last) = (ints(&b, "first_trade_id"), ints(&b, "last_trade_id"));
    let maker = bools(&b, "is_buyer_maker");
    for (i, e) in expected.iter().enumerate() {
        let got: Agg = (ts[i], id[i], price[i], qty[i], first[i], last[i], maker[i]);
        assert_eq!(&got, e, "row {i}");
    }
    assert_eq!(ts[0], 1_778_198_400_020_000_000);

    let day = &o.trade_days[0];
    assert_eq!(
        (day.rows, day.duplicates, day.conflicts, day.invalid_rows),
        (105_280, 0, 0, 0)
    );
    assert_eq!(
        (day.id_gaps, day.missing_ids, day.out_of_order),
        (gaps, missing, ooo)
    );
    assert_eq!(
        (day.first_id, day.last_id),
        (
            *csv_ids.iter().min().unwrap(),
            *csv_ids.iter().max().unwrap()
        )
    );
    assert_eq!((day.first_time, day.last_time), (ts[0], ts[105_279]));
    assert_eq!((day.prev_last_id, day.source_files), (None, 1));

    // TradeReplay reads the silver day: the same trades, in the same order.
    let replayed = trade_replay(&lake, "futures-cm", "aggTrades", "BTCUSD_PERP");
    assert_eq!(replayed.len(), 105_280);
    for (i, r) in replayed.iter().enumerate() {
        assert_eq!(
            (r.ts_ns, r.price, r.qty),
            (ts[i], price[i], qty[i]),
            "row {i}"
        );
    }

    // Nothing new: nothing written.
    let before = lake.store.io_counters();
    let s = silver(&lake, false);
    assert_eq!(lake.store.io_counters().puts, before.puts);
    let o = series(&s, "futures-cm/aggTrades/BTCUSD_PERP/raw");
    assert_eq!(
        (o.days_written, o.days_unchanged, o.quality_written),
        (0, 1, false)
    );

    // The same rows under the monthly name (a plain CSV, so another sha256): all duplicates.
    let tmp = tempfile::tempdir().unwrap();
    let cm = tmp.path().join("futures/cm");
    std::fs::create_dir_all(&cm).unwrap();
    let monthly = cm.join("BTCUSD_PERP-aggTrades-2026-05.csv");
    std::fs::write(&monthly, &text).unwrap();
    ingest_at(&lake, std::slice::from_ref(&monthly), INGESTED_AT + 1);
    let s = silver(&lake, false);
    let o = series(&s, "futures-cm/aggTrades/BTCUSD_PERP/raw");
    let day = &o.trade_days[0];
    assert_eq!(
        (
            o.days_written,
            day.rows,
            day.duplicates,
            day.conflicts,
            day.source_files
        ),
        (1, 105_280, 105_280, 0, 2)
    );
    // Out-of-order rows are counted per input file: twice now.
    assert_eq!((day.id_gaps, day.out_of_order), (gaps, 2 * ooo));

    // A corrected delivery of that name (line 3's price changed), ingested later: version 2.
    // Its row wins; the other rows of all three files are duplicates.
    let mut edited: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cells: Vec<String> = edited[2].split(',').map(str::to_string).collect();
    assert_eq!(cells[0], "480537904");
    cells[1] = "80000.5".into();
    edited[2] = cells.join(",");
    let v2 = tmp
        .path()
        .join("v2/futures/cm/BTCUSD_PERP-aggTrades-2026-05.csv");
    std::fs::create_dir_all(v2.parent().unwrap()).unwrap();
    std::fs::write(&v2, edited.join("\n") + "\n").unwrap();
    ingest_at(&lake, &[v2], INGESTED_AT + 2);
    let s = silver(&lake, false);
    let day = &series(&s, "futures-cm/aggTrades/BTCUSD_PERP/raw").trade_days[0];
    // 315 840 rows read: 105 281 distinct, 105 280 kept.
    assert_eq!(
        (day.rows, day.duplicates, day.conflicts, day.source_files),
        (105_280, 210_559, 1, 3)
    );
    let b = read_batch(&lake.store, AGG_DAY);
    let ids = ints(&b, "agg_trade_id");
    let k = ids.iter().position(|&i| i == 480_537_904).unwrap();
    assert_eq!(floats(&b, "price")[k], 80_000.5);
}

/// A Binance spot `trades` CSV made in the test from real trades: shared/data holds no
/// data.binance.vision spot trades file, so the NautilusTrader sample of real Binance spot
/// BTCUSDT trades of 2021-01-08 (`nautilus_trader/binance/btcusdt-trades.parquet`, see
/// PROVENANCE.md) is reshaped into the spot trades layout (headerless `id, price, qty,
/// quote_qty, time, is_buyer_maker, is_best_match`, ms): `quote_qty` = price × qty and
/// `is_best_match` = true are derived, not Binance's. Then edited: row 10 repeated, rows 100
/// and 101 removed (an id gap), a zero-quantity row added (invalid) and rows 50 and 51
/// swapped when their times differ (out of order). Silver keeps the rest, sorted, and
/// `TradeReplay` reads it.
#[test]
fn silver_spot_trades_from_real_rows_and_trade_replay_reads_them() {
    let Some(d) = data::data_dir() else { return };
    let bytes = bytes::Bytes::from(
        std::fs::read(d.join("nautilus_trader/binance/btcusdt-trades.parquet")).unwrap(),
    );
    let b = read_all(bytes);
    let n = b.num_rows();
    assert_eq!(n, 2001);
    let t = b.column_by_name("timestamp").unwrap();
    let t: Vec<i64> = t
        .as_primitive::<TimestampMillisecondType>()
        .values()
        .to_vec();
    let id = ints(&b, "trade_id");
    let (price, qty) = (floats(&b, "price"), floats(&b, "quantity"));
    let maker: Vec<bool> = b
        .column_by_name("buyer_maker")
        .unwrap()
        .as_string::<i32>()
        .iter()
        .map(|v| v.unwrap() == "True")
        .collect();
    // (time ms, id, price, qty, is_buyer_maker) in file order.
    let mut rows: Vec<(i64, i64, f64, f64, bool)> = (0..n)
        .map(|i| (t[i], id[i], price[i], qty[i], maker[i]))
        .collect();
    rows.insert(11, rows[10]);
    rows.drain(101..103);
    if rows[50].0 != rows[51].0 {
        rows.swap(50, 51);
    }
    let invalid = (rows[5].0, 999_999_999_999, rows[5].2, 0.0, false);
    rows.push(invalid);
    let csv: String = rows
        .iter()
        .map(|r| {
            format!(
                "{},{},{},{},{},{},true\n",
                r.1,
                r.2,
                r.3,
                r.2 * r.3,
                r.0,
                r.4
            )
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let spot = tmp.path().join("spot");
    std::fs::create_dir_all(&spot).unwrap();
    let file = spot.join("BTCUSDT-trades-2021-01-08.csv");
    std::fs::write(&file, csv).unwrap();

    let lake = new_lake();
    ingest(&lake, &[file]);
    let s = silver(&lake, false);
    let o = series(&s, "spot/trades/BTCUSDT/raw");
    assert_eq!(o.days_written, 1);

    // Expected here: valid rows, unique by id, sorted by (time, id).
    let ooo = descents(&rows.iter().map(|r| r.0).collect::<Vec<_>>());
    let mut kept: Vec<_> = rows.iter().copied().filter(|r| r.3 > 0.0).collect();
    kept.sort_by_key(|r| (r.0, r.1));
    kept.dedup_by_key(|r| r.1);
    let (gaps, missing) = id_gaps(&kept.iter().map(|r| r.1).collect::<Vec<_>>());
    assert!(gaps >= 1 && missing >= 2, "the removed rows leave a gap");
    assert_eq!(kept.len(), n - 2);

    let day = &o.trade_days[0];
    assert_eq!(
        (day.rows, day.duplicates, day.conflicts, day.invalid_rows),
        (kept.len() as u64, 1, 0, 1)
    );
    assert_eq!(
        (day.id_gaps, day.missing_ids, day.out_of_order),
        (gaps, missing, ooo)
    );

    let b = read_batch(
        &lake.store,
        "silver/binance/spot/trades/BTCUSDT/raw/year=2021/month=01/day=08/part-0.parquet",
    );
    assert_eq!(
        column_names(&b),
        [
            "ts",
            "id",
            "price",
            "qty",
            "quote_qty",
            "is_buyer_maker",
            "is_best_match"
        ]
    );
    let (ts, ids) = (times(&b, "ts"), ints(&b, "id"));
    let (p, q, qq) = (
        floats(&b, "price"),
        floats(&b, "qty"),
        floats(&b, "quote_qty"),
    );
    let (m, best) = (bools(&b, "is_buyer_maker"), bools(&b, "is_best_match"));
    assert_eq!(b.num_rows(), kept.len());
    for (i, r) in kept.iter().enumerate() {
        assert_eq!(
            (ts[i], ids[i], p[i], q[i], qq[i], m[i], best[i]),
            (r.0 * 1_000_000, r.1, r.2, r.3, r.2 * r.3, r.4, true),
            "row {i}"
        );
    }

    let replayed = trade_replay(&lake, "spot", "trades", "BTCUSDT");
    assert_eq!(replayed.len(), kept.len());
    for (r, k) in replayed.iter().zip(&kept) {
        assert_eq!((r.ts_ns, r.price, r.qty), (k.0 * 1_000_000, k.2, k.3));
    }
}

fn read_all(bytes: bytes::Bytes) -> RecordBatch {
    let mut batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(batches.len(), 1);
    batches.remove(0)
}

/// A bad aggTrades bronze file fails its day, named with the column; nothing is written for
/// it and the next run tries again.
#[test]
fn a_bad_trades_bronze_file_is_named() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    ingest(&lake, &[d.join(AGG_ZIP)]);
    let dir = "bronze/binance/futures-cm/aggTrades/BTCUSD_PERP/raw/year=2026/month=05/day=08";
    let file = lake.store.list(dir).unwrap()[0].path.clone();
    let original = lake.store.get(&file).unwrap();
    let int_flag = lit(1i64)
        .strict_cast(polars::prelude::DataType::Int64)
        .alias("is_buyer_maker");
    for (value, want) in [
        (
            int_flag,
            "column is_buyer_maker has type Int64, expected Boolean",
        ),
        (lit("abc").alias("quantity"), "quantity"),
        (
            lit("s").alias("_time_unit"),
            "column ts has values that do not convert (is _time_unit ms or us?)",
        ),
    ] {
        lake.store.put(&file, original.clone()).unwrap();
        let bad = break_bronze(&lake, dir, value);
        let s = build_silver(&lake.store, &SilverOptions::default()).unwrap();
        let o = series(&s, "futures-cm/aggTrades/BTCUSD_PERP/raw");
        assert_eq!((o.days_written, o.failures.len()), (0, 1));
        let e = &o.failures[0];
        let msg = e.to_string();
        assert!(
            matches!(e, LakeError::BadBronze { .. }) && e.is_bad_input(),
            "{msg}"
        );
        assert!(msg.contains(&bad) && msg.contains(want), "{msg}");
        assert!(
            lake.store
                .list("silver/binance/futures-cm/aggTrades")
                .unwrap()
                .iter()
                .all(|f| !f.path.ends_with("part-0.parquet")),
            "no day file"
        );
    }
    // Repaired: the day is built.
    lake.store.put(&file, original).unwrap();
    let s = silver(&lake, false);
    assert_eq!(
        series(&s, "futures-cm/aggTrades/BTCUSD_PERP/raw").days_written,
        1
    );
}
