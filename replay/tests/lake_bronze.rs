//! `replay::lake` ingest into bronze on a local lake, on the real Binance files of
//! `shared/data` (see its PROVENANCE.md): schema and provenance, unit and header detection,
//! day splitting, trades-like kinds, the ledger's idempotence and versions, and a crash
//! before the commit.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use arrow_array::{Array, BooleanArray, Int64Array, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use replay::Store;
use replay::lake::{
    Category, ChecksumStatus, Failpoint, IngestOptions, IngestOutcome, LedgerEntry, Market,
    MarketFrom, TimeUnit, bronze_orphans, ingest_files, read_ledger,
};

#[path = "../../tests/common/data.rs"]
mod data;

#[path = "common/medallion.rs"]
mod medallion;

use medallion::{INGESTED_AT, Lake, new_lake};

fn opts() -> IngestOptions {
    IngestOptions {
        ingested_at_ns: INGESTED_AT,
        ..IngestOptions::default()
    }
}

fn ingest(lake: &Lake, inputs: &[PathBuf], o: &IngestOptions) -> Vec<IngestOutcome> {
    ingest_files(&lake.store, inputs, o, &|_| {}).expect("ledger readable")
}

fn ingested(o: &IngestOutcome) -> &LedgerEntry {
    match o {
        IngestOutcome::Ingested { entry, .. } => entry,
        other => panic!("not ingested: {other:?}"),
    }
}

fn read_batches(store: &Store, path: &str) -> Vec<RecordBatch> {
    let bytes = store.get(path).expect("get");
    ParquetRecordBatchReaderBuilder::try_new(bytes)
        .expect("parquet")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| {
            panic!(
                "column {name} has type {}",
                b.column_by_name(name).unwrap().data_type()
            )
        })
}

/// Every bronze row of an entry, in partition order.
fn rows_of(store: &Store, e: &LedgerEntry) -> Vec<RecordBatch> {
    e.partitions
        .iter()
        .flat_map(|p| read_batches(store, p))
        .collect()
}

fn unzip_member(path: &Path) -> String {
    let f = std::fs::File::open(path).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let mut s = String::new();
    z.by_index(0).unwrap().read_to_string(&mut s).unwrap();
    s
}

/// Every object of the lake with its bytes.
fn snapshot(lake: &Lake) -> BTreeMap<String, Vec<u8>> {
    lake.store
        .list("")
        .unwrap()
        .into_iter()
        .map(|e| (e.path.clone(), lake.store.get(&e.path).unwrap().to_vec()))
        .collect()
}

#[test]
fn ingest_spot_daily_zip_with_checksum() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let zip = d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip");
    let out = ingest(&lake, std::slice::from_ref(&zip), &opts());
    let e = ingested(&out[0]);
    let sha = "dd579c62368ded93d3f01a1904575b932279e32936e181c062763e605793c1c2";
    assert_eq!(e.sha256, sha);
    assert_eq!(e.checksum, ChecksumStatus::Verified);
    assert_eq!(
        (e.market, e.category, e.symbol.as_str(), e.interval.as_str()),
        (Market::Spot, Category::Klines, "BTCUSDT", "1m")
    );
    assert_eq!(
        (e.rows, e.version, e.header, e.time_unit),
        (1440, 1, false, TimeUnit::Millis)
    );
    assert_eq!(e.member.as_deref(), Some("BTCUSDT-1m-2020-01-01.csv"));
    assert_eq!(e.first_ns, 1_577_836_800_000_000_000);
    assert_eq!(
        e.partitions,
        [format!(
            "bronze/binance/spot/klines/BTCUSDT/1m/year=2020/month=01/day=01/BTCUSDT-1m-2020-01-01-{}.parquet",
            &sha[..16]
        )]
    );
    // The ledger on disk says the same.
    let ledger = read_ledger(&lake.store).unwrap();
    assert_eq!(ledger.entries.get(sha), Some(e));
    // Every cell equals the CSV's text; provenance on every row.
    let csv = unzip_member(&zip);
    let lines: Vec<&str> = csv.lines().collect();
    let batches = rows_of(&lake.store, e);
    let b = &batches[0];
    assert_eq!(
        batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
        1440
    );
    let names: Vec<String> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
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
            "_source_file",
            "_source_sha256",
            "_source_line",
            "_time_unit",
            "_ingested_at"
        ]
    );
    let text_cols = [1, 2, 3, 4, 5, 7, 9, 10, 11];
    for (i, line) in lines.iter().enumerate().take(b.num_rows()) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(
            col::<Int64Array>(b, "open_time").value(i).to_string(),
            cells[0]
        );
        assert_eq!(
            col::<Int64Array>(b, "close_time").value(i).to_string(),
            cells[6]
        );
        assert_eq!(col::<Int64Array>(b, "count").value(i).to_string(), cells[8]);
        for c in text_cols {
            let name = b.schema().field(c).name().clone();
            assert_eq!(
                col::<StringArray>(b, &name).value(i),
                cells[c],
                "line {} {name}",
                i + 1
            );
        }
        assert_eq!(col::<Int64Array>(b, "_source_line").value(i), i as i64 + 1);
    }
    assert_eq!(col::<StringArray>(b, "_source_sha256").value(7), sha);
    assert_eq!(
        col::<StringArray>(b, "_source_file").value(0),
        "BTCUSDT-1m-2020-01-01.zip"
    );
    assert_eq!(col::<StringArray>(b, "_time_unit").value(0), "ms");
    let at = b.column_by_name("_ingested_at").unwrap();
    assert_eq!(at.data_type().to_string(), "Timestamp(ns, \"UTC\")");
    assert_eq!(at.null_count(), 0);
}

#[test]
fn ingest_detects_microseconds_from_2026_spot() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let zip = d.join(
        "binance_datatool-tommy-ca/data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2026-05-08.zip",
    );
    let out = ingest(&lake, &[zip], &opts());
    let e = ingested(&out[0]);
    assert_eq!(
        (e.time_unit, e.market, e.market_from),
        (TimeUnit::Micros, Market::Spot, MarketFrom::Path)
    );
    assert_eq!(
        (e.interval.as_str(), e.rows, e.partitions.len()),
        ("1h", 24, 1)
    );
    assert_eq!(e.checksum, ChecksumStatus::Verified);
    assert_eq!(e.first_ns, 1_778_198_400_000_000_000);
    let b = &rows_of(&lake.store, e)[0];
    assert_eq!(
        col::<Int64Array>(b, "open_time").value(0),
        1_778_198_400_000_000
    );
    assert_eq!(
        col::<Int64Array>(b, "close_time").value(23),
        1_778_284_799_999_999
    );
    assert_eq!(col::<StringArray>(b, "_time_unit").value(0), "us");
}

#[test]
fn ingest_header_csv_futures_um() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let out = ingest(
        &lake,
        &[d.join("owlacar-isda/AVAXUSDT-1m-2026-02.csv")],
        &opts(),
    );
    let e = ingested(&out[0]);
    assert!(e.header);
    assert_eq!(
        (e.market, e.market_from),
        (Market::FuturesUm, MarketFrom::Header)
    );
    assert_eq!(e.checksum, ChecksumStatus::Absent);
    assert_eq!((e.rows, e.partitions.len()), (40_320, 28));
    for (k, p) in e.partitions.iter().enumerate() {
        assert!(
            p.starts_with(&format!(
                "bronze/binance/futures-um/klines/AVAXUSDT/1m/year=2026/month=02/day={:02}/",
                k + 1
            )),
            "{p}"
        );
        let b = read_batches(&lake.store, p);
        assert_eq!(
            b.iter().map(RecordBatch::num_rows).sum::<usize>(),
            1440,
            "{p}"
        );
    }
    let first = &read_batches(&lake.store, &e.partitions[0])[0];
    assert!(first.column_by_name("taker_buy_volume").is_some());
    // Line 1 is the header: the first row is line 2.
    assert_eq!(col::<Int64Array>(first, "_source_line").value(0), 2);
    assert_eq!(col::<StringArray>(first, "open").value(0), "10.1130");
}

#[test]
fn ingest_monthly_csv_splits_by_utc_day() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let out = ingest(
        &lake,
        &[d.join("alphakit/spot/BTCUSDT-1h-2018-02.csv")],
        &opts(),
    );
    let e = ingested(&out[0]);
    assert_eq!(e.rows, 640);
    let mut total = 0;
    let mut misaligned = 0;
    for p in &e.partitions {
        let day: u32 = p.split("day=").nth(1).unwrap()[..2].parse().unwrap();
        for b in read_batches(&lake.store, p) {
            total += b.num_rows();
            for t in col::<Int64Array>(&b, "open_time").values() {
                assert_eq!(
                    (t / 86_400_000 - 17_562) as u32,
                    day,
                    "row of another day in {p}"
                );
                if t % 3_600_000 == 28 * 60_000 + 14_789 {
                    misaligned += 1;
                }
            }
        }
    }
    assert_eq!(total, 640);
    assert_eq!(misaligned, 43, "the hh:28:14.789 candles are kept verbatim");
    // The 33.47 h gap: 2018-02-08 holds only its 00:00 bar, 2018-02-09 restarts at 09:28.
    let rows_on = |day: &str| -> usize {
        let p = e.partitions.iter().find(|p| p.contains(day)).unwrap();
        read_batches(&lake.store, p)
            .iter()
            .map(RecordBatch::num_rows)
            .sum()
    };
    assert_eq!(
        (rows_on("day=08/"), rows_on("day=09/"), rows_on("day=10/")),
        (1, 15, 24)
    );
    assert_eq!(e.partitions.len(), 28);
}

#[test]
fn ingest_aggtrades_with_header() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let zip = d.join("binance_datatool-tommy-ca/data/futures/cm/daily/aggTrades/BTCUSD_PERP/BTCUSD_PERP-aggTrades-2026-05-08.zip");
    let out = ingest(&lake, &[zip], &opts());
    let e = ingested(&out[0]);
    assert_eq!(
        (e.market, e.category, e.interval.as_str()),
        (Market::FuturesCm, Category::AggTrades, "raw")
    );
    assert_eq!(
        (e.rows, e.header, e.time_unit),
        (105_280, true, TimeUnit::Millis)
    );
    assert_eq!(e.partitions.len(), 1);
    assert!(e.partitions[0].starts_with(
        "bronze/binance/futures-cm/aggTrades/BTCUSD_PERP/raw/year=2026/month=05/day=08/"
    ));
    let b = &rows_of(&lake.store, e)[0];
    let maker = col::<BooleanArray>(b, "is_buyer_maker");
    assert!(maker.true_count() > 0 && maker.false_count() > 0);
}

#[test]
fn reingest_is_a_noop_and_a_changed_file_is_a_new_version() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let csv = d.join("alphakit/spot/ETHUSDT-1h-2021-01.csv");
    let v1 = ingested(&ingest(&lake, std::slice::from_ref(&csv), &opts())[0]).clone();
    let before = snapshot(&lake);
    let again = ingest(
        &lake,
        std::slice::from_ref(&csv),
        &IngestOptions {
            ingested_at_ns: INGESTED_AT + 1,
            ..opts()
        },
    );
    assert!(
        matches!(&again[0], IngestOutcome::AlreadyIngested { sha256, version: 1, .. } if *sha256 == v1.sha256),
        "{again:?}"
    );
    assert_eq!(snapshot(&lake), before, "a re-ingest writes nothing");

    // A same-named copy with one price changed: version 2, v1's files kept unchanged.
    let text = std::fs::read_to_string(&csv).unwrap();
    let first = text.lines().next().unwrap();
    let mut cells: Vec<&str> = first.split(',').collect();
    let changed_close = format!("{}1", cells[4]);
    cells[4] = &changed_close;
    let changed = text.replacen(first, &cells.join(","), 1);
    let copy = lake.dir.path().join("ETHUSDT-1h-2021-01.csv");
    std::fs::write(&copy, changed).unwrap();
    let v2 = ingested(&ingest(&lake, &[copy], &opts())[0]).clone();
    assert_eq!(
        (v2.version, v2.supersedes.as_deref()),
        (2, Some(v1.sha256.as_str()))
    );
    assert_ne!(v2.partitions, v1.partitions);
    for (path, bytes) in &before {
        assert_eq!(
            &lake.store.get(path).unwrap().to_vec(),
            bytes,
            "{path} changed"
        );
    }
    let ledger = read_ledger(&lake.store).unwrap();
    assert_eq!(ledger.entries.len(), 2);
    let latest = ledger.latest();
    assert_eq!(latest.values().next().unwrap().sha256, v2.sha256);
    assert!(bronze_orphans(&lake.store, &ledger).unwrap().is_empty());
}

#[test]
fn crash_before_commit_is_invisible_and_rerun_finishes() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let zip = d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-02.zip");
    let crash = IngestOptions {
        failpoint: Some(Failpoint::BeforeLedger),
        ..opts()
    };
    let out = ingest(&lake, std::slice::from_ref(&zip), &crash);
    assert!(
        matches!(&out[0], IngestOutcome::Failed { error, .. } if !error.is_bad_input()),
        "{out:?}"
    );
    let ledger = read_ledger(&lake.store).unwrap();
    assert!(ledger.entries.is_empty());
    let orphans = bronze_orphans(&lake.store, &ledger).unwrap();
    assert_eq!(
        orphans.len(),
        1,
        "the day file is written but not committed"
    );
    let out = ingest(&lake, &[zip], &opts());
    let e = ingested(&out[0]);
    assert_eq!(
        e.partitions, orphans,
        "the rerun rewrites the same file and commits it"
    );
    let ledger = read_ledger(&lake.store).unwrap();
    assert_eq!(ledger.entries.len(), 1);
    assert!(bronze_orphans(&lake.store, &ledger).unwrap().is_empty());
}

#[test]
fn a_batch_runs_in_parallel_and_reports_in_input_order() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let inputs = [
        d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip"),
        d.join("nautilus_trader/corrupt-as-stored-in-git/ADABTC-1m-2021-11-27.zip"),
        d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-02.zip"),
        d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip"),
    ];
    let seen = std::sync::atomic::AtomicU64::new(0);
    let out = ingest_files(
        &lake.store,
        &inputs,
        &IngestOptions {
            threads: 2,
            ..opts()
        },
        &|n| {
            seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        },
    )
    .unwrap();
    let total: u64 = inputs
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(seen.into_inner(), total);
    for (o, p) in out.iter().zip(&inputs) {
        assert_eq!(o.input(), p.as_path());
    }
    assert!(matches!(out[0], IngestOutcome::Ingested { .. }));
    match &out[1] {
        IngestOutcome::Failed { error, .. } => {
            assert!(error.is_bad_input());
            assert!(
                error
                    .to_string()
                    .contains("ADABTC-1m-2021-11-27.zip: corrupt zip"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(out[2], IngestOutcome::Ingested { .. }));
    assert!(
        matches!(out[3], IngestOutcome::AlreadyIngested { version: 1, .. }),
        "same bytes twice in one batch"
    );
    let ledger = read_ledger(&lake.store).unwrap();
    assert_eq!(ledger.entries.len(), 2);
    assert!(bronze_orphans(&lake.store, &ledger).unwrap().is_empty());
}
