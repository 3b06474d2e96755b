//! `replay::lake::catalog` on a local lake built from the real Binance files of `shared/data`
//! (see its PROVENANCE.md): the inventory of every layer (ranges, rows, bytes, versions,
//! orphans), what it reads (store IO counters: listings, ledger and quality tables; gold's
//! state and footers), gold files the state does not commit, unreadable footers reported per
//! series, gold_test listed beside gold, and stats equal to the quality tables (klines, and an
//! aggTrades series' trade quality table, read with the trade reader).

use std::path::PathBuf;

use replay::lake::{
    CatalogFilter, Failpoint, GoldOptions, GoldTestOptions, IngestOptions, IngestOutcome,
    LEDGER_DIR, RowsFrom, SeriesInventory, SeriesQuality, SilverOptions, TestFeatureSpec,
    TradeSeriesQuality, build_gold, build_gold_test, build_silver, ingest_files, inventory,
    read_quality, read_trade_quality, stats,
};
use replay::{Layer, Store};

#[path = "../../tests/common/data.rs"]
mod data;

#[path = "common/medallion.rs"]
mod medallion;

use medallion::{INGESTED_AT, Lake, changed_zip_copy, new_lake};

fn ingest_with(lake: &Lake, inputs: &[PathBuf], at: i64, failpoint: Option<Failpoint>) -> usize {
    let opts = IngestOptions {
        ingested_at_ns: at,
        failpoint,
        ..IngestOptions::default()
    };
    ingest_files(&lake.store, inputs, &opts, &|_| {})
        .expect("ledger")
        .iter()
        .filter(|o| matches!(o, IngestOutcome::Ingested { .. }))
        .count()
}

fn silver(lake: &Lake) {
    let s = build_silver(&lake.store, &SilverOptions::default()).expect("silver");
    assert_eq!(s.failures().count(), 0);
}

fn find<'a>(inv: &'a [SeriesInventory], layer: Layer, symbol: &str) -> &'a SeriesInventory {
    inv.iter()
        .find(|s| s.layer == layer && s.series.symbol == symbol)
        .unwrap_or_else(|| panic!("no {layer} {symbol} in {inv:#?}"))
}

/// Bytes of every object under `prefix`.
fn bytes_under(store: &Store, prefix: &str) -> u64 {
    store.list(prefix).unwrap().iter().map(|e| e.size).sum()
}

/// Lostleaf 2020-01-01 and -02 (with CHECKSUMs), then a changed same-named copy of -01
/// (version 2), silver, and an ADABTC ingest stopped before its commit (one orphan).
fn versioned_lake() -> Option<(Lake, tempfile::TempDir)> {
    let d = data::data_dir()?;
    let lake = new_lake();
    let tmp = tempfile::tempdir().unwrap();
    let lostleaf = d.join("binance_datatool-lostleaf");
    let day1 = lostleaf.join("BTCUSDT-1m-2020-01-01.zip");
    let day2 = lostleaf.join("BTCUSDT-1m-2020-01-02.zip");
    assert_eq!(
        ingest_with(&lake, &[day1.clone(), day2], INGESTED_AT, None),
        2
    );
    let changed = changed_zip_copy(&day1, &tmp.path().join("v2"));
    assert_eq!(ingest_with(&lake, &[changed], INGESTED_AT + 1, None), 1);
    silver(&lake);
    let ada = d.join("nautilus_trader/ADABTC-1m-2021-11-28.zip");
    assert_eq!(
        ingest_with(
            &lake,
            &[ada],
            INGESTED_AT + 2,
            Some(Failpoint::BeforeLedger)
        ),
        0
    );
    Some((lake, tmp))
}

#[test]
fn ls_lists_series_ranges_rows_bytes_versions() {
    let Some((lake, _tmp)) = versioned_lake() else {
        return;
    };
    let before = lake.store.io_counters();
    let inv = inventory(&lake.store, &CatalogFilter::default()).unwrap();
    let io = lake.store.io_counters();
    // Listings (ledger, four layers), the three ledger entries and one quality table: no
    // data file is read.
    assert_eq!(io.lists - before.lists, 5);
    assert_eq!(io.gets - before.gets, 3 + 1);
    assert_eq!(io.puts, before.puts);

    assert_eq!(inv.len(), 3, "{inv:#?}");
    let b = find(&inv, Layer::Bronze, "BTCUSDT");
    assert_eq!(b.series.to_string(), "spot/klines/BTCUSDT/1m");
    assert_eq!(
        (
            b.first_day.unwrap().to_string(),
            b.last_day.unwrap().to_string()
        ),
        ("2020-01-01".into(), "2020-01-02".into())
    );
    assert_eq!((b.days, b.files, b.rows), (2, 3, Some(3 * 1440)));
    assert_eq!(b.rows_from, RowsFrom::Ledger);
    assert_eq!(
        (
            b.sources,
            b.versions,
            b.latest_version,
            b.superseded,
            b.orphans
        ),
        (2, 3, 2, 1, 0)
    );
    assert_eq!(
        b.bytes,
        bytes_under(&lake.store, "bronze/binance/spot/klines/BTCUSDT")
    );
    // The crashed ingest: nothing committed, its day file counted as an orphan.
    let a = find(&inv, Layer::Bronze, "ADABTC");
    assert_eq!((a.days, a.files, a.rows, a.versions), (0, 0, Some(0), 0));
    assert_eq!(a.orphans, 1);
    assert!(a.bytes > 0);
    let s = find(&inv, Layer::Silver, "BTCUSDT");
    assert_eq!((s.days, s.files, s.rows), (2, 2, Some(2880)));
    assert_eq!(s.rows_from, RowsFrom::Quality);
    assert_eq!(
        s.bytes,
        bytes_under(&lake.store, "silver/binance/spot/klines/BTCUSDT")
    );
    assert!(s.problems.is_empty() && b.problems.is_empty());

    // Filters.
    let only = |layers: Vec<Layer>, symbols: &[&str]| {
        let f = CatalogFilter {
            layers,
            symbols: symbols.iter().map(|s| (*s).to_string()).collect(),
        };
        inventory(&lake.store, &f)
            .unwrap()
            .iter()
            .map(|s| format!("{} {}", s.layer, s.series.symbol))
            .collect::<Vec<_>>()
    };
    assert_eq!(only(vec![Layer::Silver], &[]), ["silver BTCUSDT"]);
    assert_eq!(only(vec![], &["ADABTC"]), ["bronze ADABTC"]);
    assert!(only(vec![Layer::Gold], &[]).is_empty());

    // The rerun commits the orphan.
    let d = data::data_dir().unwrap();
    let ada = d.join("nautilus_trader/ADABTC-1m-2021-11-28.zip");
    assert_eq!(ingest_with(&lake, &[ada], INGESTED_AT + 3, None), 1);
    let inv = inventory(&lake.store, &CatalogFilter::default()).unwrap();
    let a = find(&inv, Layer::Bronze, "ADABTC");
    assert_eq!(
        (a.days, a.rows, a.versions, a.orphans),
        (1, Some(1440), 1, 0)
    );
}

#[test]
fn gold_rows_come_from_footers_and_a_bad_footer_is_a_problem() {
    let Some((lake, _tmp)) = versioned_lake() else {
        return;
    };
    let g = build_gold(&lake.store, &GoldOptions::default()).unwrap();
    assert_eq!((g.days_written(), g.failures().count()), (2, 0));
    let gold_filter = CatalogFilter {
        layers: vec![Layer::Gold],
        symbols: vec![],
    };
    let before = lake.store.io_counters();
    let inv = inventory(&lake.store, &gold_filter).unwrap();
    let io = lake.store.io_counters();
    let g = find(&inv, Layer::Gold, "BTCUSDT");
    assert_eq!((g.days, g.files, g.rows, g.orphans), (2, 2, Some(2880), 0));
    assert_eq!(g.rows_from, RowsFrom::Footers);
    // One listing; one tail read per day file (at most the probe size) and the state.
    assert_eq!((io.lists - before.lists, io.gets - before.gets), (1, 3));
    assert!(
        io.bytes_read - before.bytes_read
            <= 2 * replay::lake::catalog::FOOTER_PROBE
                + lake
                    .store
                    .get("gold/binance/spot/klines/BTCUSDT/1m/_state.json")
                    .unwrap()
                    .len() as u64
    );

    let st = stats(&lake.store, &CatalogFilter::default()).unwrap();
    let btc = st.iter().find(|s| s.series.symbol == "BTCUSDT").unwrap();
    let gold = btc.gold.as_ref().unwrap();
    assert_eq!(
        (gold.days, gold.rows, gold.coverage_pct),
        (2, Some(2880), Some(100.0))
    );
    assert!(
        gold.columns.iter().any(|c| c == "rsi_14") && gold.columns.iter().any(|c| c == "close"),
        "{:?}",
        gold.columns
    );

    // gold_test (gold's columns and a test feature): listed beside gold, rows from its
    // footers, its columns and coverage in stats.
    let t = build_gold_test(
        &lake.store,
        &GoldTestOptions {
            features: vec![TestFeatureSpec {
                name: "ema_9".into(),
                kind: "ema".into(),
                params: [("period".to_string(), 9.0)].into_iter().collect(),
            }],
            ..GoldTestOptions::default()
        },
    )
    .unwrap();
    assert_eq!((t.days_written(), t.failures().count()), (2, 0));
    let test_filter = CatalogFilter {
        layers: vec![Layer::GoldTest],
        symbols: vec![],
    };
    let inv = inventory(&lake.store, &test_filter).unwrap();
    assert_eq!(inv.len(), 1, "{inv:#?}");
    let gt = find(&inv, Layer::GoldTest, "BTCUSDT");
    assert_eq!(
        (gt.days, gt.files, gt.rows, gt.rows_from),
        (2, 2, Some(2880), RowsFrom::Footers)
    );
    assert!(gt.problems.is_empty(), "{:?}", gt.problems);
    assert_eq!(
        gt.bytes,
        bytes_under(&lake.store, "gold_test/binance/spot/klines/BTCUSDT")
    );
    let st = stats(&lake.store, &CatalogFilter::default()).unwrap();
    let btc = st.iter().find(|s| s.series.symbol == "BTCUSDT").unwrap();
    let gt = btc.gold_test.as_ref().unwrap();
    assert_eq!(
        (gt.days, gt.rows, gt.coverage_pct),
        (2, Some(2880), Some(100.0))
    );
    assert!(gt.columns.iter().any(|c| c == "ema_9"), "{:?}", gt.columns);

    // A day file the state does not list (as a crashed run leaves): an orphan.
    let day2 = "gold/binance/spot/klines/BTCUSDT/1m/year=2020/month=01/day=02/part-0.parquet";
    let body = lake.store.get(day2).unwrap();
    lake.store
        .put(&day2.replace("day=02", "day=03"), body)
        .unwrap();
    let inv = inventory(&lake.store, &gold_filter).unwrap();
    let g = find(&inv, Layer::Gold, "BTCUSDT");
    assert_eq!((g.days, g.rows, g.orphans), (3, Some(3 * 1440), 1));

    // A day file that is not Parquet: the series is still listed, rows unknown, named.
    lake.store
        .put(day2, bytes::Bytes::from_static(b"not a parquet file"))
        .unwrap();
    let inv = inventory(&lake.store, &gold_filter).unwrap();
    let g = find(&inv, Layer::Gold, "BTCUSDT");
    assert_eq!((g.rows, g.rows_from), (None, RowsFrom::Unknown));
    assert_eq!(g.problems.len(), 1);
    assert!(
        g.problems[0].contains("day=02/part-0.parquet") && g.problems[0].contains("footer"),
        "{:?}",
        g.problems
    );
}

#[test]
fn stats_match_the_quality_tables() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let lostleaf = d.join("binance_datatool-lostleaf");
    assert_eq!(
        ingest_with(
            &lake,
            &[
                d.join("alphakit/spot/BTCUSDT-1h-2018-02.csv"),
                lostleaf.join("BTCUSDT-1m-2020-01-01.zip"),
                lostleaf.join("BTCUSDT-1m-2020-01-02.zip"),
                d.join("binance_datatool-tommy-ca/data/futures/cm/daily/aggTrades/BTCUSD_PERP/BTCUSD_PERP-aggTrades-2026-05-08.zip"),
            ],
            INGESTED_AT,
            None,
        ),
        4
    );
    silver(&lake);
    let st = stats(&lake.store, &CatalogFilter::default()).unwrap();
    let names: Vec<String> = st.iter().map(|s| s.series.to_string()).collect();
    assert_eq!(
        names,
        [
            "futures-cm/aggTrades/BTCUSD_PERP/raw",
            "spot/klines/BTCUSDT/1h",
            "spot/klines/BTCUSDT/1m"
        ]
    );
    for s in st.iter().filter(|s| s.series.category == "klines") {
        let path = format!("{}/_quality.parquet", s.series.dir(Layer::Silver));
        let rows = read_quality(&path, lake.store.get(&path).unwrap()).unwrap();
        let want = SeriesQuality::of(&rows);
        let silver = s.silver.as_ref().unwrap();
        assert_eq!(silver.quality.as_ref(), Some(&want), "{}", s.series);
        assert_eq!(s.rows, Some(want.rows));
        assert_eq!(s.first_ns, Some(rows[0].first_open_time));
        assert_eq!(s.last_ns, Some(rows[rows.len() - 1].last_open_time));
        let b = s.bronze.as_ref().unwrap();
        assert_eq!(
            (b.versions, b.latest_version, b.superseded),
            (b.sources, 1, 0)
        );
        assert_eq!(s.bytes, silver.bytes + b.bytes);
        assert!(s.gold.is_none());
    }
    // The figures the silver tests establish for 2018-02.
    let h = &st[1];
    let q = h.silver.as_ref().unwrap().quality.as_ref().unwrap();
    assert_eq!((q.rows, q.misaligned, q.gaps), (640, 43, 1));
    assert!(q.completeness_pct < 100.0);
    // The aggTrades series: its quality table is the trade table, read with the trade
    // reader; the figures are its totals.
    let agg = &st[0];
    assert!(agg.problems.is_empty(), "{:?}", agg.problems);
    let path = format!("{}/_quality.parquet", agg.series.dir(Layer::Silver));
    let rows = read_trade_quality(&path, lake.store.get(&path).unwrap()).unwrap();
    let want = TradeSeriesQuality::of(&rows);
    let silver = agg.silver.as_ref().unwrap();
    assert!(silver.quality.is_none());
    assert_eq!(silver.trade_quality.as_ref(), Some(&want));
    assert_eq!((want.days, want.rows), (1, 105_280));
    assert_eq!(agg.rows, Some(105_280));
    assert_eq!(
        (agg.first_ns, agg.last_ns),
        (Some(rows[0].first_time), Some(rows[0].last_time))
    );
    assert!(agg.first_ns.unwrap() < agg.last_ns.unwrap());
    let b = agg.bronze.as_ref().unwrap();
    assert_eq!((b.days, b.files, b.rows), (1, 1, 105_280));
    assert_eq!(agg.bytes, silver.bytes + b.bytes);
    // `ls`: the silver row of the series, rows from its trade quality table.
    let inv = inventory(&lake.store, &CatalogFilter::default()).unwrap();
    let s = find(&inv, Layer::Silver, "BTCUSD_PERP");
    assert_eq!((s.days, s.files, s.rows), (1, 1, Some(105_280)));
    assert_eq!(s.rows_from, RowsFrom::Quality);
    assert!(inv.iter().all(|s| s.problems.is_empty()), "{inv:#?}");
    // The ledger is the bronze commit record: one entry per ingested file.
    assert_eq!(lake.store.list(LEDGER_DIR).unwrap().len(), 4);
}
