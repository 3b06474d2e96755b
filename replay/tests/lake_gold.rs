//! `replay::lake` gold on a local lake, on the real Binance files of `shared/data` (see its
//! PROVENANCE.md): the features of 47 months of BTCUSDT 1h equal the streaming engine bar for
//! bar across ~1 400 day files (no warm-up restart per day), incremental runs counted by the
//! store's IO counters (a new month writes only its days, a corrected early day rewrites every
//! later one, a rerun writes nothing), a crash before the commit, a bad silver file, and gold
//! read back by `BarReplay` and by an independent Parquet reader (polars), and gold built on
//! S3 (SeaweedFS) byte for byte equal to gold built on local disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int8Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use polars::prelude::{HiveOptions, LazyFrame, ScanArgsParquet, ScanSources};
use replay::lake::{
    GoldOptions, GoldSummary, IngestOptions, IngestOutcome, LakeError, SeriesFilter, SilverOptions,
    SilverSummary, build_gold, build_silver, gold_schema, ingest_files,
};
use replay::lake::{GoldState, Market};
use replay::{BarRecord, BarReplay, LakeRoot, Layer, ReplaySpec, S3Options, Store};
use strategies::indicators::{Returns, StandardFeatureEngine, StandardFeatures};

#[path = "../../tests/common/data.rs"]
mod data;

#[path = "common/medallion.rs"]
mod medallion;

#[path = "../../tests/common/s3.rs"]
mod s3;

use medallion::{INGESTED_AT, Lake, new_lake};

fn ingest_at(lake: &Lake, inputs: &[PathBuf], at: i64) {
    let opts = IngestOptions {
        ingested_at_ns: at,
        ..IngestOptions::default()
    };
    for o in ingest_files(&lake.store, inputs, &opts, &|_| {}).expect("ledger") {
        assert!(matches!(o, IngestOutcome::Ingested { .. }), "{o:?}");
    }
}

fn silver(lake: &Lake) -> SilverSummary {
    let s = build_silver(&lake.store, &SilverOptions::default()).expect("ledger readable");
    assert_eq!(s.failures().count(), 0, "{:?}", s.series);
    s
}

fn gold(lake: &Lake, full: bool) -> GoldSummary {
    let opts = GoldOptions {
        full,
        ..GoldOptions::default()
    };
    let g = build_gold(&lake.store, &opts).expect("silver listable");
    for o in &g.series {
        assert!(o.failures.is_empty(), "{}: {:?}", o.key, o.failures);
    }
    g
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

fn f64s(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let c = b.column_by_name(name).expect(name);
    let a = c.as_primitive::<Float64Type>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

/// Every gold day file of a series, in date order.
fn gold_days(store: &Store, series: &str) -> Vec<String> {
    let mut files: Vec<String> = store
        .list(&format!("gold/binance/{series}"))
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .filter(|p| p.ends_with("/part-0.parquet"))
        .collect();
    files.sort();
    files
}

fn alphakit_btc_1h(d: &Path) -> Vec<PathBuf> {
    let dir = d.join("alphakit/spot");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("BTCUSDT-1h-") && n.ends_with(".csv"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn gold_features_equal_the_streaming_engine_bar_for_bar() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let months = alphakit_btc_1h(&d);
    assert_eq!(months.len(), 47);
    ingest_at(&lake, &months, INGESTED_AT);
    let s = silver(&lake);
    // 33 812 CSV rows; silver drops one invalid bar (the zero-volume placeholder of
    // 2020-12-21 14:00 whose close time precedes its open).
    assert_eq!(s.series[0].quality.invalid_rows, 1);
    let bars = 33_811;
    let g = gold(&lake, false);
    assert_eq!(g.series.len(), 1);
    let o = &g.series[0];
    assert_eq!(o.key.to_string(), "spot/klines/BTCUSDT/1h");
    assert_eq!(o.rows, bars as u64);
    assert_eq!((o.days_written, o.days_unchanged), (o.days, 0));
    assert!(o.days > 1_350 && o.days < 1_450, "{}", o.days);
    assert!(o.state_written);

    let files = gold_days(&lake.store, "spot/klines/BTCUSDT/1h");
    assert_eq!(files.len(), o.days);
    let schema = gold_schema(Market::Spot);
    let mut engine = StandardFeatureEngine::new();
    let mut rets = Returns::new();
    let (mut rows, mut nulls) = (0usize, [0usize; 14]);
    let mut prev_open = i64::MIN;
    for (n, path) in files.iter().enumerate() {
        let b = read_batch(&lake.store, path);
        assert_eq!(b.schema().fields(), schema.fields(), "{path}");
        // Gold carries silver's bars unchanged.
        let silver_path = path.replacen("gold/", "silver/", 1);
        let s = read_batch(&lake.store, &silver_path);
        for name in [
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
            "trade_count",
        ] {
            assert_eq!(
                b.column_by_name(name).unwrap().to_data(),
                s.column_by_name(name).unwrap().to_data(),
                "{path} {name}"
            );
        }
        let sym = b.column_by_name("symbol").unwrap().as_string::<i32>();
        assert!(sym.iter().all(|s| s == Some("BTCUSDT")), "{path}");
        let open = b
            .column_by_name("open_time")
            .unwrap()
            .as_primitive::<TimestampNanosecondType>()
            .values()
            .to_vec();
        let (high, low, close) = (f64s(&b, "high"), f64s(&b, "low"), f64s(&b, "close"));
        let feats: Vec<Vec<Option<f64>>> = StandardFeatures::COLUMNS
            .iter()
            .map(|c| {
                if *c == "supertrend_dir" {
                    let a = b.column_by_name(c).unwrap().as_primitive::<Int8Type>();
                    (0..a.len())
                        .map(|i| a.is_valid(i).then(|| f64::from(a.value(i))))
                        .collect()
                } else {
                    f64s(&b, c)
                }
            })
            .collect();
        let (ret, log_ret) = (f64s(&b, "ret_1"), f64s(&b, "log_ret_1"));
        for i in 0..b.num_rows() {
            assert!(open[i] > prev_open, "{path} row {i}: time order");
            prev_open = open[i];
            let row = engine
                .update(high[i].unwrap(), low[i].unwrap(), close[i].unwrap())
                .unwrap()
                .to_array();
            for (c, name) in StandardFeatures::COLUMNS.iter().enumerate() {
                let want = (!row[c].is_nan()).then_some(row[c]);
                assert_eq!(
                    feats[c][i].map(f64::to_bits),
                    want.map(f64::to_bits),
                    "{path} row {i} {name}"
                );
                nulls[c] += usize::from(feats[c][i].is_none());
            }
            let r = rets.update(close[i].unwrap()).unwrap();
            assert_eq!(
                ret[i].map(f64::to_bits),
                r.map(|r| r.simple.to_bits()),
                "{path} row {i} ret_1"
            );
            assert_eq!(
                log_ret[i].map(f64::to_bits),
                r.map(|r| r.log.to_bits()),
                "{path} row {i} log_ret_1"
            );
            nulls[12] += usize::from(ret[i].is_none());
            nulls[13] += usize::from(log_ret[i].is_none());
            rows += 1;
        }
        // No restart per day: after the first days, every day starts with every feature set.
        if n >= 2 && b.num_rows() > 0 {
            for (c, name) in StandardFeatures::COLUMNS.iter().enumerate() {
                assert!(
                    feats[c][0].is_some(),
                    "{path}: {name} null at the day's start"
                );
            }
        }
    }
    assert_eq!(rows, bars);
    // Nulls only in each indicator's warm-up at the very start of the series.
    let mut want = StandardFeatures::WARM_UP.to_vec();
    want.extend([1, 1]);
    assert_eq!(nulls.to_vec(), want);
    // The series starts 2017-08-17 04:00: the first bar of 2017-08-19 has every feature.
    let b = read_batch(
        &lake.store,
        "gold/binance/spot/klines/BTCUSDT/1h/year=2017/month=08/day=19/part-0.parquet",
    );
    for c in StandardFeatures::COLUMNS {
        assert!(b.column_by_name(c).unwrap().is_valid(0), "{c}");
    }
    // The state lists every day.
    let state: GoldState = serde_json::from_slice(
        &lake
            .store
            .get("gold/binance/spot/klines/BTCUSDT/1h/_state.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(state.days.len(), o.days);
    assert_eq!(state.feature_set, "standard-v1");
}

/// The 24 bars of 2021-01-15 from the ETH January CSV as a daily CSV in `dir`, with the
/// close (and high, to keep the bar valid) of 10:00 raised by 1 %.
fn corrected_eth_day(d: &Path, dir: &Path) -> PathBuf {
    let src = d.join("alphakit/spot/ETHUSDT-1h-2021-01.csv");
    let text = std::fs::read_to_string(&src).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .skip(14 * 24)
        .take(24)
        .map(str::to_string)
        .collect();
    let mut c: Vec<String> = lines[10].split(',').map(str::to_string).collect();
    assert_eq!(c[0], "1610704800000", "2021-01-15 10:00");
    let close: f64 = c[4].parse::<f64>().unwrap() * 1.01;
    let high: f64 = c[2].parse::<f64>().unwrap().max(close);
    c[4] = format!("{close:.8}");
    c[2] = format!("{high:.8}");
    lines[10] = c.join(",");
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("ETHUSDT-1h-2021-01-15.csv");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

#[test]
fn gold_is_incremental() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let spot = d.join("alphakit/spot");
    let io = || lake.store.io_counters();
    ingest_at(&lake, &[spot.join("ETHUSDT-1h-2021-01.csv")], INGESTED_AT);
    silver(&lake);
    let before = io();
    let g = gold(&lake, false);
    // 31 day files and the state.
    assert_eq!((g.days_written(), io().puts - before.puts), (31, 32));
    let series = "spot/klines/ETHUSDT/1h";
    let jan: Vec<(String, bytes::Bytes)> = gold_days(&lake.store, series)
        .into_iter()
        .map(|p| {
            let b = lake.store.get(&p).unwrap();
            (p, b)
        })
        .collect();
    assert_eq!(jan.len(), 31);

    // Nothing new: nothing written, no silver day read (the quality table and the state).
    let before = io();
    let g = gold(&lake, false);
    let after = io();
    assert_eq!((after.puts, after.deletes), (before.puts, before.deletes));
    assert_eq!(after.gets - before.gets, 2);
    assert_eq!((g.days_written(), g.days_unchanged()), (0, 31));
    assert!(!g.series[0].state_written);

    // February arrives: only its 28 days (and the state) are written; January is untouched.
    ingest_at(&lake, &[spot.join("ETHUSDT-1h-2021-02.csv")], INGESTED_AT);
    silver(&lake);
    let before = io();
    let g = gold(&lake, false);
    assert_eq!((g.days_written(), g.days_unchanged()), (28, 31));
    assert_eq!(io().puts - before.puts, 29);
    for (p, b) in &jan {
        assert_eq!(&lake.store.get(p).unwrap(), b, "{p}");
    }
    // February continues January's indicators: its first bar has every feature.
    let feb1 = read_batch(
        &lake.store,
        "gold/binance/spot/klines/ETHUSDT/1h/year=2021/month=02/day=01/part-0.parquet",
    );
    for c in StandardFeatures::COLUMNS {
        assert!(feb1.column_by_name(c).unwrap().is_valid(0), "{c}");
    }
    let before = io();
    gold(&lake, false);
    assert_eq!(io().puts, before.puts, "a rerun writes nothing");

    // A corrected bar of 2021-01-15 (a newer daily file): silver rewrites that day, and gold
    // every day from it to the end (the features are path-dependent): 17 + 28 days.
    let tmp = tempfile::tempdir().unwrap();
    ingest_at(&lake, &[corrected_eth_day(&d, tmp.path())], INGESTED_AT + 1);
    silver(&lake);
    let before = io();
    let g = gold(&lake, false);
    assert_eq!((g.days_written(), g.days_unchanged()), (45, 14));
    assert_eq!(io().puts - before.puts, 46);
    for (p, b) in &jan[..14] {
        assert_eq!(&lake.store.get(p).unwrap(), b, "{p}");
    }
    for (p, b) in &jan[14..] {
        assert_ne!(&lake.store.get(p).unwrap(), b, "{p}");
    }

    // A crash before the commit (the state lost): the rerun rewrites every day, byte for
    // byte the same, and commits.
    let state = "gold/binance/spot/klines/ETHUSDT/1h/_state.json";
    let jan31 = &jan[30].0;
    let was = lake.store.get(jan31).unwrap();
    lake.store.delete(state).unwrap();
    let g = gold(&lake, false);
    assert_eq!(g.days_written(), 59);
    assert_eq!(lake.store.get(jan31).unwrap(), was);
    let before = io();
    gold(&lake, false);
    assert_eq!(io().puts, before.puts);
    // --full rewrites every day, identically (the state, unchanged, is not rewritten).
    let before = io();
    let g = gold(&lake, true);
    assert_eq!((g.days_written(), io().puts - before.puts), (59, 59));
    assert_eq!(lake.store.get(jan31).unwrap(), was);

    // A committed gold day that silver no longer has is removed, and the state forgets it.
    let stray = "gold/binance/spot/klines/ETHUSDT/1h/year=2020/month=12/day=31/part-0.parquet";
    lake.store.put(stray, was.clone()).unwrap();
    let mut st: GoldState = serde_json::from_slice(&lake.store.get(state).unwrap()).unwrap();
    st.days.insert("2020-12-31".into(), "0".repeat(64));
    let committed = serde_json::to_vec(&st).unwrap();
    lake.store.put(state, committed.into()).unwrap();
    let g = gold(&lake, false);
    assert_eq!((g.days_written(), g.series[0].days_removed), (0, 1));
    assert!(g.series[0].state_written);
    assert!(lake.store.get_opt(stray).unwrap().is_none());

    // An unreadable state is the lake's fault, not the input's; --full rebuilds it.
    lake.store
        .put(state, bytes::Bytes::from_static(b"{\"schema\": 1,"))
        .unwrap();
    let g = build_gold(&lake.store, &GoldOptions::default()).unwrap();
    let e = &g.series[0].failures[0];
    assert!(
        matches!(e, LakeError::GoldState { .. }) && !e.is_bad_input(),
        "{e}"
    );
    assert!(e.to_string().contains("--full"), "{e}");
    assert_eq!(gold(&lake, true).days_written(), 59);
    assert_eq!(gold(&lake, false).days_written(), 0);
}

#[test]
fn gold_is_readable_by_bar_replay_and_polars() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let spot = d.join("alphakit/spot");
    ingest_at(
        &lake,
        &[
            spot.join("ETHUSDT-1h-2021-01.csv"),
            spot.join("ETHUSDT-1h-2021-02.csv"),
        ],
        INGESTED_AT,
    );
    silver(&lake);
    gold(&lake, false);
    let spec = |layer| ReplaySpec {
        root: lake.store.root().clone(),
        layer,
        provider: "binance".into(),
        market: "spot".into(),
        category: "klines".into(),
        symbols: vec!["ETHUSDT".into()],
        interval: "1h".into(),
        interval_ns: 3_600_000_000_000,
        start_ns: None,
        end_ns: None,
        chunk_days: 7,
        prefetch: false,
    };
    let replay_all = |layer| {
        let mut r = BarReplay::open(&lake.store, &spec(layer)).unwrap();
        let mut bars: Vec<BarRecord> = Vec::new();
        let mut chunk = Vec::new();
        while r.next_chunk(&mut chunk).unwrap().is_some() {
            bars.extend_from_slice(&chunk);
        }
        let report = r.into_report();
        // `_state.json` is lake metadata, not an ignored stray file.
        assert_eq!(report.ignored_files_total, 0, "{report:?}");
        assert_eq!(report.totals.rows_emitted, bars.len() as u64);
        bars
    };
    let (g, s) = (replay_all(Layer::Gold), replay_all(Layer::Silver));
    assert_eq!(g.len(), 744 + 671);
    assert_eq!(g, s);

    // polars (its own Parquet reader) sees the same columns and values.
    let path = "gold/binance/spot/klines/ETHUSDT/1h/year=2021/month=02/day=10/part-0.parquet";
    let bytes = lake.store.get(path).unwrap();
    let df = LazyFrame::scan_parquet_sources(
        ScanSources::Buffers(Arc::from([polars_buffer::Buffer::from_owner(
            bytes.clone(),
        )])),
        ScanArgsParquet {
            hive_options: HiveOptions::new_disabled(),
            ..ScanArgsParquet::default()
        },
    )
    .unwrap()
    .collect()
    .unwrap();
    let b = read_batch(&lake.store, path);
    assert_eq!(df.height(), 24);
    assert_eq!(df.width(), b.num_columns());
    for name in [
        "close",
        "ema_26",
        "rsi_14",
        "macd_hist",
        "atr_10",
        "log_ret_1",
    ] {
        let ca = df.column(name).unwrap().f64().unwrap();
        let p: Vec<Option<f64>> = (0..ca.len()).map(|i| ca.get(i)).collect();
        assert_eq!(p, f64s(&b, name), "{name}");
    }
    let ca = df.column("supertrend_dir").unwrap().i8().unwrap();
    let dir: Vec<Option<i8>> = (0..ca.len()).map(|i| ca.get(i)).collect();
    assert!(dir.iter().all(|d| matches!(d, Some(1 | -1))), "{dir:?}");
    let counts = b
        .column_by_name("trade_count")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert!(counts.values().iter().all(|&c| c > 0));
}

#[test]
fn a_bad_silver_file_is_named_and_other_series_go_on() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    let spot = d.join("alphakit/spot");
    ingest_at(
        &lake,
        &[
            spot.join("ETHUSDT-1h-2021-01.csv"),
            spot.join("BTCUSDT-1h-2021-01.csv"),
        ],
        INGESTED_AT,
    );
    silver(&lake);
    let bad = "silver/binance/spot/klines/ETHUSDT/1h/year=2021/month=01/day=20/part-0.parquet";
    lake.store
        .put(bad, bytes::Bytes::from_static(b"not parquet"))
        .unwrap();
    let g = build_gold(&lake.store, &GoldOptions::default()).unwrap();
    let eth = g.series.iter().find(|s| s.key.symbol == "ETHUSDT").unwrap();
    assert_eq!((eth.days_written, eth.failures.len()), (0, 1));
    let e = &eth.failures[0];
    assert!(matches!(e, LakeError::BadSilver { .. }), "{e}");
    assert!(e.is_bad_input());
    let msg = e.to_string();
    assert!(
        msg.contains(&lake.store.url_of(bad)) && msg.contains("not a readable Parquet file"),
        "{msg}"
    );
    // Nothing of the broken series in gold, not even a state; BTC is complete.
    assert!(
        lake.store
            .list("gold/binance/spot/klines/ETHUSDT")
            .unwrap()
            .is_empty()
    );
    let btc = g.series.iter().find(|s| s.key.symbol == "BTCUSDT").unwrap();
    assert_eq!((btc.days_written, btc.failures.len()), (31, 0));
    // The filter leaves the broken series alone.
    let only_btc = GoldOptions {
        series: SeriesFilter {
            symbols: vec!["BTCUSDT".into()],
            ..SeriesFilter::default()
        },
        ..GoldOptions::default()
    };
    let g = build_gold(&lake.store, &only_btc).unwrap();
    assert_eq!((g.series.len(), g.failures().count()), (1, 0));
}

#[test]
fn gold_on_seaweedfs_equals_local_disk() {
    let Some(d) = data::data_dir() else { return };
    let Some(server) = s3::SeaweedFs::start_or_skip("gold_on_seaweedfs_equals_local_disk") else {
        return;
    };
    let lake = new_lake();
    ingest_at(
        &lake,
        &[d.join("alphakit/spot/ETHUSDT-1h-2021-01.csv")],
        INGESTED_AT,
    );
    silver(&lake);
    let options = S3Options {
        endpoint: Some(server.endpoint()),
        access_key_id: Some(s3::ACCESS_KEY.into()),
        secret_access_key: Some(s3::SECRET_KEY.into()),
        session_token: None,
        region: s3::REGION.into(),
    };
    let root = LakeRoot::parse(&format!("s3://{}/lakes/gold", s3::BUCKET)).unwrap();
    let remote = Store::open_with(&root, &options).unwrap();
    for f in lake.store.list("").unwrap() {
        remote
            .put(&f.path, lake.store.get(&f.path).unwrap())
            .unwrap();
    }
    gold(&lake, false);
    let g = build_gold(&remote, &GoldOptions::default()).unwrap();
    assert_eq!((g.days_written(), g.failures().count()), (31, 0));
    let local_gold = lake.store.list("gold").unwrap();
    assert_eq!(remote.list("gold").unwrap(), local_gold);
    assert_eq!(local_gold.len(), 32);
    for f in &local_gold {
        assert_eq!(
            remote.get(&f.path).unwrap(),
            lake.store.get(&f.path).unwrap(),
            "{}",
            f.path
        );
    }
    let before = remote.io_counters();
    let g = build_gold(&remote, &GoldOptions::default()).unwrap();
    assert_eq!(
        (g.days_written(), remote.io_counters().puts),
        (0, before.puts)
    );
}
