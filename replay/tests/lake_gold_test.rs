//! `replay::lake` gold_test on a local lake, on real Binance files of `shared/data` (alphakit
//! BTCUSDT and ETHUSDT 1h, 2021-01..03; see its PROVENANCE.md): test feature columns by spec,
//! joined to gold on `(open_time, symbol)` by `read_features`, equal to the streaming
//! indicators bar for bar; incremental reruns; bad specs named by key.

use std::path::PathBuf;

use polars::prelude::{DataFrame, DataType};
use replay::lake::{Category, Market};
use replay::lake::{
    GoldOptions, GoldTestOptions, IngestOptions, IngestOutcome, LakeError, SeriesFilter, SeriesKey,
    SilverOptions, TestFeatureSpec, build_gold, build_gold_test, build_silver, ingest_files,
    read_features,
};
use strategies::indicators::{Ema, Rsi};

#[path = "../../tests/common/data.rs"]
mod data;

#[path = "common/medallion.rs"]
mod medallion;

use medallion::{INGESTED_AT, Lake, new_lake};

const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];

fn spec(name: &str, kind: &str, period: f64) -> TestFeatureSpec {
    TestFeatureSpec {
        name: name.into(),
        kind: kind.into(),
        params: [("period".to_string(), period)].into_iter().collect(),
    }
}

fn key(symbol: &str) -> SeriesKey {
    SeriesKey {
        market: Market::Spot,
        category: Category::Klines,
        symbol: symbol.into(),
        interval: "1h".into(),
    }
}

/// BTCUSDT and ETHUSDT 1h 2021-01..03 ingested, silver and gold built; `None` (loudly) when
/// the data directory is absent outside CI.
fn gold_lake() -> Option<Lake> {
    let dir = data::data_dir()?.join("alphakit/spot");
    let inputs: Vec<PathBuf> = SYMBOLS
        .iter()
        .flat_map(|s| (1..=3).map(move |m| format!("{s}-1h-2021-0{m}.csv")))
        .map(|n| dir.join(n))
        .collect();
    let lake = new_lake();
    let opts = IngestOptions {
        ingested_at_ns: INGESTED_AT,
        ..IngestOptions::default()
    };
    for o in ingest_files(&lake.store, &inputs, &opts, &|_| {}).expect("ledger") {
        assert!(matches!(o, IngestOutcome::Ingested { .. }), "{o:?}");
    }
    let s = build_silver(&lake.store, &SilverOptions::default()).expect("silver");
    assert_eq!(s.failures().count(), 0);
    let g = build_gold(&lake.store, &GoldOptions::default()).expect("gold");
    assert!(g.series.iter().all(|o| o.failures.is_empty()));
    Some(lake)
}

fn opts(features: Vec<TestFeatureSpec>) -> GoldTestOptions {
    GoldTestOptions {
        series: SeriesFilter::default(),
        features,
        ..GoldTestOptions::default()
    }
}

fn floats(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    let c = df
        .column(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .f64()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (0..c.len()).map(|i| c.get(i)).collect()
}

fn times(df: &DataFrame) -> Vec<i64> {
    df.column("open_time")
        .expect("open_time")
        .cast(&DataType::Int64)
        .expect("cast")
        .i64()
        .expect("i64")
        .into_no_null_iter()
        .collect()
}

#[test]
fn gold_test_joins_on_time_and_symbol() {
    let Some(lake) = gold_lake() else {
        return;
    };
    let specs = vec![spec("rsi_21", "rsi", 21.0), spec("ema_9", "ema", 9.0)];
    let built = build_gold_test(&lake.store, &opts(specs.clone())).expect("gold_test");
    assert_eq!(built.columns, ["rsi_21", "ema_9"]);
    assert_eq!(built.series.len(), 2);
    for o in &built.series {
        assert!(o.failure.is_none(), "{}: {:?}", o.key, o.failure);
        assert_eq!(o.days_written, 31 + 28 + 31, "{}", o.key);
        assert!(o.state_written);
    }
    let mut first_rsi = Vec::new();
    for symbol in SYMBOLS {
        let k = key(symbol);
        let gold = read_features(&lake.store, &k, None, None, false).expect("gold");
        let joined = read_features(&lake.store, &k, None, None, true).expect("joined");
        let rows = built
            .series
            .iter()
            .find(|o| o.key == k)
            .expect("series")
            .rows;
        assert_eq!(gold.height(), rows, "{symbol}");
        assert_eq!(
            joined.height(),
            gold.height(),
            "{symbol}: a left join keeps gold's rows"
        );
        assert!(rows > 2_000, "{symbol}: {rows} bars in three months");
        assert_eq!(times(&joined), times(&gold), "{symbol}: gold's order kept");
        let syms = joined
            .column("symbol")
            .expect("symbol")
            .str()
            .expect("utf8");
        assert!(
            (0..syms.len()).all(|i| syms.get(i) == Some(symbol)),
            "{symbol}"
        );
        // Each joined value equals the streaming indicator over this symbol's own closes, so
        // rows are matched on both time and symbol; nulls only in the warm-up.
        let close = floats(&joined, "close");
        let (rsi, ema) = (floats(&joined, "rsi_21"), floats(&joined, "ema_9"));
        let (mut r, mut e) = (Rsi::new(21).expect("rsi"), Ema::new(9).expect("ema"));
        for i in 0..rows {
            let c = close[i].expect("close");
            let (want_r, want_e) = (r.update(c).expect("bar"), e.update(c).expect("bar"));
            assert_eq!(
                rsi[i].map(f64::to_bits),
                want_r.map(f64::to_bits),
                "{symbol} row {i}"
            );
            assert_eq!(
                ema[i].map(f64::to_bits),
                want_e.map(f64::to_bits),
                "{symbol} row {i}"
            );
        }
        assert_eq!(rsi.iter().position(Option::is_some), Some(21), "{symbol}");
        assert_eq!(rsi.iter().filter(|v| v.is_none()).count(), 21, "{symbol}");
        assert_eq!(ema.iter().filter(|v| v.is_none()).count(), 8, "{symbol}");
        // Gold's own standard columns are still there beside the test ones.
        assert_eq!(floats(&joined, "rsi_14"), floats(&gold, "rsi_14"));
        first_rsi.push(rsi[100]);
        // A one-month range reads that month only, with the same values.
        let (feb, mar) = (1_612_137_600_000_000_000i64, 1_614_556_800_000_000_000i64);
        let month = read_features(&lake.store, &k, Some(feb), Some(mar), true).expect("month");
        let t = times(&joined);
        let lo = t.iter().position(|x| *x >= feb).expect("feb");
        let hi = t.iter().position(|x| *x >= mar).expect("mar");
        assert_eq!(month.height(), hi - lo, "{symbol}");
        assert_eq!(floats(&month, "rsi_21"), rsi[lo..hi].to_vec(), "{symbol}");
    }
    assert_ne!(first_rsi[0], first_rsi[1], "two symbols, two series");

    // Nothing new: nothing written. A changed spec list rewrites every day.
    let again = build_gold_test(&lake.store, &opts(specs.clone())).expect("rerun");
    assert!(
        again
            .series
            .iter()
            .all(|o| o.days_written == 0 && !o.state_written)
    );
    let puts = lake.store.io_counters().puts;
    let changed = vec![spec("rsi_21", "rsi", 21.0), spec("ema_10", "ema", 10.0)];
    let redo = build_gold_test(&lake.store, &opts(changed)).expect("changed");
    assert_eq!(redo.days_written(), 2 * 90);
    assert_eq!(
        lake.store.io_counters().puts - puts,
        2 * 91,
        "90 days + state, per symbol"
    );
    let joined = read_features(&lake.store, &key("ETHUSDT"), None, None, true).expect("joined");
    assert!(joined.column("ema_10").is_ok() && joined.column("ema_9").is_err());
    // --full rewrites every day even though nothing changed.
    let full = GoldTestOptions {
        full: true,
        ..opts(vec![
            spec("rsi_21", "rsi", 21.0),
            spec("ema_10", "ema", 10.0),
        ])
    };
    let redo = build_gold_test(&lake.store, &full).expect("full");
    assert_eq!(redo.days_written(), 2 * 90);
    assert!(redo.series.iter().all(|o| o.days_removed == 0));
}

#[test]
fn bad_spec_names_the_key_and_writes_nothing() {
    let Some(lake) = gold_lake() else {
        return;
    };
    let puts = lake.store.io_counters().puts;
    let bad = vec![spec("rsi_21", "rsi", 21.0), spec("ema_x", "ema", 0.0)];
    let e = build_gold_test(&lake.store, &opts(bad)).expect_err("period 0");
    assert!(
        matches!(&e, LakeError::FeatureSpec { key, .. } if key == "gold_test.features[1].params.period"),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("gold_test.features[1].params.period: "),
        "{e}"
    );
    assert_eq!(lake.store.io_counters().puts, puts);
    // Without gold_test files, the joined read says what to run.
    let e = read_features(&lake.store, &key("BTCUSDT"), None, None, true).expect_err("no test");
    assert!(e.to_string().contains("--with-test-features"), "{e}");
}
