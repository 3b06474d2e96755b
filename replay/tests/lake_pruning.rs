//! Partition pruning on a real lake: BTCUSDT 1h from the 47 alphakit monthly CSVs
//! (2017-08 … 2021-06, see `shared/data/PROVENANCE.md`) ingested and built into silver; a
//! one-month replay lists only that month and reads only its day files (the store's IO
//! counters), and returns exactly the bars a whole-series replay has in that month.

use std::path::PathBuf;

use replay::lake::{IngestOptions, IngestOutcome, SilverOptions, build_silver, ingest_files};
use replay::{BarRecord, BarReplay, Layer, ReplaySpec, Store};

#[path = "../../tests/common/data.rs"]
mod data;

#[path = "common/medallion.rs"]
mod medallion;

use medallion::{INGESTED_AT, new_lake};

const HOUR: i64 = 3_600_000_000_000;

fn ns(y: i32, m: u32, d: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_nanos_opt()
        .unwrap()
}

fn spec(store: &Store, start_ns: Option<i64>, end_ns: Option<i64>) -> ReplaySpec {
    ReplaySpec {
        root: store.root().clone(),
        layer: Layer::Silver,
        provider: "binance".into(),
        market: "spot".into(),
        category: "klines".into(),
        symbols: vec!["BTCUSDT".into()],
        interval: "1h".into(),
        interval_ns: HOUR,
        start_ns,
        end_ns,
        chunk_days: 7,
        prefetch: false,
    }
}

fn replay_all(store: &Store, spec: &ReplaySpec) -> Vec<BarRecord> {
    let mut r = BarReplay::open(store, spec).unwrap();
    let mut bars = Vec::new();
    let mut chunk = Vec::new();
    while r.next_chunk(&mut chunk).unwrap().is_some() {
        bars.extend_from_slice(&chunk);
    }
    bars
}

#[test]
fn month_query_touches_only_that_month() {
    let Some(d) = data::data_dir() else { return };
    let mut csvs: Vec<PathBuf> = std::fs::read_dir(d.join("alphakit/spot"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("BTCUSDT-1h-") && n.ends_with(".csv")
        })
        .collect();
    csvs.sort();
    assert_eq!(csvs.len(), 47, "alphakit BTCUSDT 1h 2017-08 … 2021-06");
    let lake = new_lake();
    let opts = IngestOptions {
        ingested_at_ns: INGESTED_AT,
        ..IngestOptions::default()
    };
    for o in ingest_files(&lake.store, &csvs, &opts, &|_| {}).unwrap() {
        assert!(matches!(o, IngestOutcome::Ingested { .. }), "{o:?}");
    }
    let s = build_silver(&lake.store, &SilverOptions::default()).unwrap();
    assert_eq!(s.failures().count(), 0);
    assert!(s.days_written() > 1_000, "{}", s.days_written());

    let march = lake
        .store
        .list("silver/binance/spot/klines/BTCUSDT/1h/year=2020/month=03")
        .unwrap();
    assert_eq!(march.len(), 31);
    let march_bytes: u64 = march.iter().map(|e| e.size).sum();

    let before = lake.store.io_counters();
    let (lo, hi) = (ns(2020, 3, 1), ns(2020, 4, 1));
    let bars = replay_all(&lake.store, &spec(&lake.store, Some(lo), Some(hi)));
    let io = lake.store.io_counters();
    assert_eq!(
        io.lists - before.lists,
        1,
        "one listing: year=2020/month=03"
    );
    assert_eq!(
        io.listed - before.listed,
        31,
        "it returns March's day files only"
    );
    assert_eq!(io.gets - before.gets, 31, "GETs: March's day files");
    assert_eq!(io.bytes_read - before.bytes_read, march_bytes);

    // The same bars a whole-series replay has in March.
    let all = replay_all(&lake.store, &spec(&lake.store, None, None));
    assert!(all.len() > 30_000, "{}", all.len());
    let within = |lo: i64, hi: i64| -> Vec<BarRecord> {
        all.iter()
            .filter(|b| (lo..hi).contains(&b.open_time_ns))
            .copied()
            .collect()
    };
    let want = within(lo, hi);
    let csv_rows = std::fs::read_to_string(d.join("alphakit/spot/BTCUSDT-1h-2020-03.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(bars.len(), csv_rows, "the monthly CSV's rows");
    assert_eq!(bars, want);

    // Across a year boundary: two month listings; over 36 months: one per year.
    let before = lake.store.io_counters();
    let (lo, hi) = (ns(2019, 12, 15), ns(2020, 1, 15));
    let dec_jan = replay_all(&lake.store, &spec(&lake.store, Some(lo), Some(hi)));
    let io = lake.store.io_counters();
    assert_eq!(io.lists - before.lists, 2);
    assert_eq!(dec_jan, within(lo, hi));
    let before = lake.store.io_counters();
    let (lo, hi) = (ns(2017, 9, 1), ns(2021, 1, 1));
    let long = replay_all(&lake.store, &spec(&lake.store, Some(lo), Some(hi)));
    let io = lake.store.io_counters();
    assert_eq!(io.lists - before.lists, 4, "2017, 2018, 2019, 2020");
    assert_eq!(long, within(lo, hi));
}
