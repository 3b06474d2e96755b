//! `replay::lake` silver on a local lake, on the real Binance files of `shared/data` (see its
//! PROVENANCE.md): ms and µs sources scaled to ns, the gap and misaligned bars of 2018-02,
//! overlapping sources and versions deduplicated (newest wins), incremental reruns counted by
//! the store's IO counters, silver read back by `BarReplay`, and a bad bronze file.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType};
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
use replay::{BarRecord, BarReplay, Layer, ReplaySpec, Store};

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
    assert_eq!((s.days_written(), s.days_unchanged()), (2, 0));
    // Trades-like series stay in bronze, said so.
    let agg = series(&s, "futures-cm/aggTrades/BTCUSD_PERP/raw");
    assert!(agg.skipped.as_deref().unwrap().contains("klines only"));

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
