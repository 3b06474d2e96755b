//! The replay source against a local lake in a temp dir: merge order, chunk invariance,
//! missing partitions, gaps, unsorted and duplicate rows, corrupt files, range filters, and
//! the real NautilusTrader trades sample.

use replay::{
    BarRecord, BarReplay, LakeRecord, LakeRoot, Layer, Replay, ReplayError, ReplayReport,
    ReplaySpec, S3Options, Store, TradeRecord, TradeReplay,
};

#[path = "../../tests/common/data.rs"]
mod data;
#[path = "common/lake.rs"]
mod lake;

use lake::{DAY, MINUTE, T0};

struct Lake {
    _dir: tempfile::TempDir,
    store: Store,
}

fn new_lake() -> Lake {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_with(
        &LakeRoot::Local(dir.path().to_path_buf()),
        &S3Options::default(),
    )
    .expect("store");
    Lake { _dir: dir, store }
}

fn spec(lake: &Lake, symbols: &[&str], chunk_days: u32) -> ReplaySpec {
    ReplaySpec {
        root: lake.store.root().clone(),
        layer: Layer::Silver,
        provider: "binance".into(),
        market: "spot".into(),
        category: "klines".into(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        interval: "1m".into(),
        interval_ns: MINUTE,
        start_ns: None,
        end_ns: None,
        chunk_days,
        prefetch: false,
    }
}

fn trade_spec(lake: &Lake, symbols: &[&str], chunk_days: u32) -> ReplaySpec {
    ReplaySpec {
        category: "trades".into(),
        interval: "raw".into(),
        interval_ns: 0,
        ..spec(lake, symbols, chunk_days)
    }
}

/// Runs a replay to the end: all records, the chunk count, the report.
fn run<R: LakeRecord>(store: &Store, spec: &ReplaySpec) -> (Vec<R>, usize, ReplayReport) {
    let mut r = Replay::<R>::open(store, spec).expect("open");
    let mut all = Vec::new();
    let mut buf = Vec::new();
    let mut chunks = 0;
    while let Some(info) = r.next_chunk(&mut buf).expect("chunk") {
        assert_eq!(info.index, chunks);
        assert_eq!(info.rows, buf.len());
        all.extend_from_slice(&buf);
        chunks += 1;
    }
    assert_eq!(chunks, r.chunks());
    assert!(r.report().finished);
    (all, chunks, r.into_report())
}

fn with_symbol(mut b: Vec<BarRecord>, s: u16) -> Vec<BarRecord> {
    for x in &mut b {
        x.symbol = s;
    }
    b
}

/// Three symbols × three days of full 1m days, and the expected merged stream.
fn three_by_three() -> (Lake, Vec<BarRecord>) {
    let lake = new_lake();
    let mut expected = Vec::new();
    for (i, s) in ["AAA", "BBB", "CCC"].iter().enumerate() {
        for day in 0..3 {
            let b = lake::bars(i as u64, day, 1440);
            lake::put_bars(&lake.store, &lake::bar_dir(s, day), "part-0.parquet", &b);
            expected.extend(with_symbol(b, i as u16));
        }
    }
    expected.sort_by_key(|b| (b.open_time_ns, b.symbol));
    (lake, expected)
}

#[test]
fn merges_symbols_by_time_then_symbol_index() {
    let (lake, expected) = three_by_three();
    let (got, chunks, report) =
        run::<BarRecord>(&lake.store, &spec(&lake, &["AAA", "BBB", "CCC"], 1));
    assert_eq!(chunks, 3);
    assert_eq!(got.len(), 3 * 3 * 1440);
    assert_eq!(got, expected);
    // Same timestamp: symbol order is the spec's order.
    assert_eq!(
        got[..3].iter().map(|b| b.symbol).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.totals.partitions, 9);
    assert_eq!(report.totals.rows_read, 3 * 3 * 1440);
    assert_eq!(report.totals.rows_emitted, 3 * 3 * 1440);
    assert_eq!(report.files_listed, 9);
    assert_eq!(report.symbols[1].first_ns, Some(T0));
    assert_eq!(report.symbols[1].last_ns, Some(T0 + 3 * DAY - MINUTE));

    // Spec order, not name order, breaks ties.
    let (got, _, _) = run::<BarRecord>(&lake.store, &spec(&lake, &["CCC", "AAA"], 2));
    assert_eq!(got[0].symbol, 0);
    assert_eq!(got[0].open, lake::bar_at(2, T0).open);
    assert_eq!(got[1].open, lake::bar_at(0, T0).open);
}

/// A lake with every anomaly the replay must report: a missing day, gaps (one across a day
/// boundary), unsorted rows, duplicates across two files, a row outside its day, and an
/// ignored marker file.
fn messy_lake() -> Lake {
    let lake = new_lake();
    let s = &lake.store;
    // AAA: days 0..4 complete except: day 0 lacks its last bar (gap across the day boundary),
    // day 2 lacks bars 100..110 (a 10-bar gap), day 3 is reversed (unsorted).
    let mut d0 = lake::bars(0, 0, 1440);
    d0.pop();
    lake::put_bars(s, &lake::bar_dir("AAA", 0), "part-0.parquet", &d0);
    lake::put_bars(
        s,
        &lake::bar_dir("AAA", 1),
        "part-0.parquet",
        &lake::bars(0, 1, 1440),
    );
    let mut d2 = lake::bars(0, 2, 1440);
    d2.drain(100..110);
    lake::put_bars(s, &lake::bar_dir("AAA", 2), "part-0.parquet", &d2);
    let mut d3 = lake::bars(0, 3, 1440);
    d3.reverse();
    lake::put_bars(s, &lake::bar_dir("AAA", 3), "part-0.parquet", &d3);
    lake::put_raw(s, &lake::bar_dir("AAA", 3), "_SUCCESS", b"");
    // BBB: day 1 missing; day 2 in two overlapping files (bars 0..800 and 700..1440, the
    // second with altered prices that must lose), plus a stray bar from day 0 in day 3.
    lake::put_bars(
        s,
        &lake::bar_dir("BBB", 0),
        "part-0.parquet",
        &lake::bars(1, 0, 1440),
    );
    let d2 = lake::bars(1, 2, 1440);
    lake::put_bars(s, &lake::bar_dir("BBB", 2), "part-0.parquet", &d2[..800]);
    let mut overlap = d2[700..].to_vec();
    for b in &mut overlap {
        b.open += 1000.0;
    }
    lake::put_bars(s, &lake::bar_dir("BBB", 2), "part-1.parquet", &overlap);
    let mut d3 = lake::bars(1, 3, 1440);
    d3.push(lake::bar_at(1, T0 + 5 * MINUTE));
    lake::put_bars(s, &lake::bar_dir("BBB", 3), "part-0.parquet", &d3);
    lake
}

#[test]
fn reports_missing_days_gaps_unsorted_duplicates_and_strays() {
    let lake = messy_lake();
    let (got, _, r) = run::<BarRecord>(&lake.store, &spec(&lake, &["AAA", "BBB"], 1));
    // Output is strictly increasing per symbol and ordered by (time, symbol).
    assert!(
        got.windows(2)
            .all(|w| (w[0].open_time_ns, w[0].symbol) < (w[1].open_time_ns, w[1].symbol))
    );
    assert!(!r.is_clean());

    let missing: Vec<(&str, &str)> = r
        .missing_partitions
        .iter()
        .map(|m| (m.symbol.as_str(), m.date.as_str()))
        .collect();
    assert_eq!(missing, [("BBB", "2024-01-02")]);
    assert_eq!(r.totals.missing_partitions, 1);

    let gaps: Vec<(&str, i64, i64, u64)> = r
        .gaps
        .iter()
        .map(|g| (g.symbol.as_str(), g.from_ns, g.to_ns, g.missing_bars))
        .collect();
    assert_eq!(
        gaps,
        [
            ("AAA", T0 + DAY - 2 * MINUTE, T0 + DAY, 1),
            ("BBB", T0 + DAY - MINUTE, T0 + 2 * DAY, 1440),
            (
                "AAA",
                T0 + 2 * DAY + 99 * MINUTE,
                T0 + 2 * DAY + 110 * MINUTE,
                10
            ),
        ]
    );
    assert_eq!((r.totals.gaps, r.totals.missing_bars), (3, 1451));

    let (a, b) = (&r.symbols[0].counts, &r.symbols[1].counts);
    assert_eq!((a.unsorted_partitions, a.unsorted_rows), (1, 1439));
    assert_eq!(a.duplicates, 0);
    assert_eq!(b.duplicates, 100);
    assert_eq!(b.outside_partition_rows, 1);
    assert_eq!(r.totals.outside_range_rows, 0);
    assert_eq!(r.ignored_files_total, 1);
    assert!(
        r.ignored_files[0].ends_with("day=04/_SUCCESS"),
        "{:?}",
        r.ignored_files
    );
    // BBB day 2: where the two files overlap (bars 700..800) the first file's rows win.
    let bbb_day2: Vec<&BarRecord> = got
        .iter()
        .filter(|x| x.symbol == 1 && x.open_time_ns / DAY == (T0 + 2 * DAY) / DAY)
        .collect();
    assert_eq!(bbb_day2.len(), 1440);
    assert!(bbb_day2[..800].iter().all(|x| x.open < 1000.0));
    assert!(bbb_day2[800..].iter().all(|x| x.open > 1000.0));
    // Rows: AAA 1439 + 1440 + 1430 + 1440, BBB 1440 + 1440 + 1440 (+100 dup, +1 stray read).
    assert_eq!(a.rows_emitted, 1439 + 1440 + 1430 + 1440);
    assert_eq!(b.rows_read, 1440 + 1540 + 1441);
    assert_eq!(b.rows_emitted, 3 * 1440);
    assert_eq!(r.totals.rows_emitted as usize, got.len());
}

#[test]
fn output_and_report_do_not_depend_on_chunking_or_prefetch() {
    let lake = messy_lake();
    let base = spec(&lake, &["AAA", "BBB"], 1);
    let (want, _, want_report) = run::<BarRecord>(&lake.store, &base);
    for chunk_days in [1, 2, 3, 4, 100] {
        for prefetch in [false, true] {
            let s = ReplaySpec {
                chunk_days,
                prefetch,
                ..base.clone()
            };
            let (got, chunks, report) = run::<BarRecord>(&lake.store, &s);
            assert_eq!(chunks, 4usize.div_ceil(chunk_days as usize));
            assert!(
                got == want,
                "records differ: chunk_days {chunk_days}, prefetch {prefetch}"
            );
            assert_eq!(
                report, want_report,
                "chunk_days {chunk_days}, prefetch {prefetch}"
            );
        }
    }
}

#[test]
fn range_filter_trims_rows_and_reports_days_without_data() {
    let (lake, expected) = three_by_three();
    let mut s = spec(&lake, &["AAA", "BBB"], 1);
    // From day 0 12:00 to day 2 06:00, and from the day before the data starts.
    s.start_ns = Some(T0 + DAY / 2);
    s.end_ns = Some(T0 + 2 * DAY + DAY / 4);
    let (got, chunks, r) = run::<BarRecord>(&lake.store, &s);
    let want: Vec<BarRecord> = expected
        .iter()
        .filter(|b| {
            b.symbol < 2
                && b.open_time_ns >= s.start_ns.unwrap()
                && b.open_time_ns < s.end_ns.unwrap()
        })
        .copied()
        .collect();
    assert_eq!(chunks, 3);
    assert_eq!(got, want);
    assert_eq!(r.totals.outside_range_rows, 2 * (720 + 1080));
    assert_eq!(r.symbols[0].first_ns, s.start_ns);
    assert_eq!(r.symbols[0].last_ns, Some(s.end_ns.unwrap() - MINUTE));
    assert_eq!(r.totals.missing_partitions, 0);

    // A range reaching outside the data reports the days with no partition.
    s.start_ns = Some(T0 - DAY);
    s.end_ns = Some(T0 + 4 * DAY + 1);
    let (_, _, r) = run::<BarRecord>(&lake.store, &s);
    let missing: Vec<(&str, &str)> = r
        .missing_partitions
        .iter()
        .map(|m| (m.symbol.as_str(), m.date.as_str()))
        .collect();
    assert_eq!(
        missing,
        [
            ("AAA", "2023-12-31"),
            ("AAA", "2024-01-04"),
            ("AAA", "2024-01-05"),
            ("BBB", "2023-12-31"),
            ("BBB", "2024-01-04"),
            ("BBB", "2024-01-05"),
        ]
    );
    // A range with no partitions at all for a symbol is an error, not an empty replay.
    s.start_ns = Some(T0 + 10 * DAY);
    s.end_ns = Some(T0 + 11 * DAY);
    let err = BarReplay::open(&lake.store, &s).unwrap_err();
    assert!(
        matches!(err, ReplayError::NoPartitions { ref symbol, .. } if symbol == "AAA"),
        "{err}"
    );
}

#[test]
fn corrupt_parquet_names_the_file_and_faults_the_replay() {
    for prefetch in [false, true] {
        let (lake, _) = three_by_three();
        lake::put_raw(
            &lake.store,
            &lake::bar_dir("BBB", 1),
            "part-1.parquet",
            b"PAR1 not really parquet PAR1",
        );
        let mut s = spec(&lake, &["AAA", "BBB", "CCC"], 1);
        s.prefetch = prefetch;
        let mut r = BarReplay::open(&lake.store, &s).expect("open");
        let mut buf = Vec::new();
        assert!(r.next_chunk(&mut buf).expect("day 0 is fine").is_some());
        let err = r.next_chunk(&mut buf).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ReplayError::Parquet { .. }), "{msg}");
        assert!(
            msg.contains("BBB/1m/year=2024/month=01/day=02/part-1.parquet"),
            "{msg}"
        );
        assert!(!err.is_recoverable());
        assert!(matches!(r.next_chunk(&mut buf), Err(ReplayError::Faulted)));
    }
}

#[test]
fn a_missing_column_names_file_and_column() {
    let lake = new_lake();
    let bytes = replay::write_trades_parquet(&lake::trades(0, 0, 10)).unwrap();
    lake.store
        .put(&format!("{}/x.parquet", lake::bar_dir("AAA", 0)), bytes)
        .unwrap();
    let mut r = BarReplay::open(&lake.store, &spec(&lake, &["AAA"], 1)).unwrap();
    let err = r.next_chunk(&mut Vec::new()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("day=01/x.parquet") && msg.contains("\"open\""),
        "{msg}"
    );
}

#[test]
fn bad_layouts_and_specs_are_errors() {
    let (lake, _) = three_by_three();
    lake::put_raw(
        &lake.store,
        "silver/binance/spot/klines/AAA/1m/year=2024/month=13/day=01",
        "x.parquet",
        b"",
    );
    let err = BarReplay::open(&lake.store, &spec(&lake, &["AAA"], 1)).unwrap_err();
    assert!(
        matches!(&err, ReplayError::BadPartition { url, .. } if url.contains("month=13")),
        "{err}"
    );
    let err = BarReplay::open(&lake.store, &spec(&lake, &["ZZZ"], 1)).unwrap_err();
    assert!(matches!(err, ReplayError::NoPartitions { .. }), "{err}");

    let ok = spec(&lake, &["BBB"], 1);
    let cases: [(&str, ReplaySpec); 6] = [
        (
            "chunk_days",
            ReplaySpec {
                chunk_days: 0,
                ..ok.clone()
            },
        ),
        (
            "symbols",
            ReplaySpec {
                symbols: vec![],
                ..ok.clone()
            },
        ),
        (
            "symbols",
            ReplaySpec {
                symbols: vec!["BBB".into(), "BBB".into()],
                ..ok.clone()
            },
        ),
        (
            "interval_ns",
            ReplaySpec {
                interval_ns: 0,
                ..ok.clone()
            },
        ),
        (
            "end_ns",
            ReplaySpec {
                start_ns: Some(5),
                end_ns: Some(5),
                ..ok.clone()
            },
        ),
        (
            "root",
            ReplaySpec {
                root: LakeRoot::Local("/elsewhere".into()),
                ..ok.clone()
            },
        ),
    ];
    for (field, s) in cases {
        let err = BarReplay::open(&lake.store, &s).unwrap_err();
        assert!(
            matches!(&err, ReplayError::BadSpec { field: f, .. } if *f == field),
            "{field}: {err}"
        );
    }
    let err = BarReplay::open(
        &lake.store,
        &ReplaySpec {
            market: "sp/ot".into(),
            ..ok
        },
    )
    .unwrap_err();
    assert!(matches!(err, ReplayError::Layout(_)), "{err}");
}

#[test]
fn report_serializes_to_json() {
    let lake = messy_lake();
    let (_, _, r) = run::<BarRecord>(&lake.store, &spec(&lake, &["AAA", "BBB"], 2));
    let v: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(v["totals"]["duplicates"], 100);
    assert_eq!(v["symbols"][1]["symbol"], "BBB");
    assert_eq!(v["symbols"][1]["missing_partitions"], 1);
    assert_eq!(v["gaps"][2]["missing_bars"], 10);
    assert_eq!(v["missing_partitions"][0]["date"], "2024-01-02");
    assert_eq!(v["finished"], true);
}

#[test]
fn trades_merge_in_time_order_and_keep_equal_timestamps() {
    let lake = new_lake();
    let mut expected = Vec::new();
    for (i, s) in ["AAA", "BBB"].iter().enumerate() {
        for day in 0..3 {
            // Both symbols trade at the same instants (seed 0 and 7 give equal offsets).
            let mut t = lake::trades(7 * i as u64, day, 5000);
            // Two trades at one instant are legitimate and both kept, in file order.
            let mut twin = t[10];
            twin.qty = 99.0;
            t.insert(11, twin);
            lake::put_trades(&lake.store, &lake::trade_dir(s, day), "part-0.parquet", &t);
            expected.extend(t.into_iter().map(|x| TradeRecord {
                symbol: i as u16,
                ..x
            }));
        }
    }
    expected.sort_by_key(|t| (t.ts_ns, t.symbol));
    for chunk_days in [1, 2] {
        for prefetch in [false, true] {
            let s = ReplaySpec {
                prefetch,
                ..trade_spec(&lake, &["AAA", "BBB"], chunk_days)
            };
            let (got, _, r) = run::<TradeRecord>(&lake.store, &s);
            assert_eq!(got.len(), 2 * 3 * 5001);
            assert!(got == expected, "chunk_days {chunk_days}");
            assert_eq!(r.totals.duplicates, 0);
            assert_eq!(r.totals.gaps, 0, "interval 0 turns gap detection off");
        }
    }
}

#[test]
fn real_nautilus_binance_trades_replay_from_the_lake() {
    let Some(dir) = data::data_dir() else {
        return;
    };
    let path = dir.join("nautilus_trader/binance/btcusdt-trades.parquet");
    let bytes = bytes::Bytes::from(std::fs::read(&path).expect("read the nautilus trades sample"));
    let mut direct = Vec::new();
    let stats =
        replay::decode_trades(&path.display().to_string(), bytes.clone(), 0, &mut direct).unwrap();
    assert_eq!(stats.rows, 2001);
    // PROVENANCE.md: 2021-01-08 00:00:00.278 → 00:00:46.355 UTC.
    let t_first = 1_610_064_000_278_000_000;
    assert_eq!(direct[0].ts_ns, t_first);
    assert_eq!(
        direct.iter().map(|t| t.ts_ns).max(),
        Some(1_610_064_046_355_000_000)
    );
    assert!(
        direct
            .iter()
            .all(|t| t.price > 30_000.0 && t.price < 50_000.0 && t.qty > 0.0)
    );

    let lake = new_lake();
    lake.store
        .put(
            "silver/binance/spot/trades/BTCUSDT/raw/year=2021/month=01/day=08/part-0.parquet",
            bytes,
        )
        .unwrap();
    let (got, _, r) = run::<TradeRecord>(&lake.store, &trade_spec(&lake, &["BTCUSDT"], 1));
    let mut want = direct.clone();
    want.sort_by_key(|t| t.ts_ns);
    assert_eq!(got, want);
    assert_eq!(r.totals.rows_emitted, 2001);
    assert_eq!(r.symbols[0].first_ns, Some(t_first));
    let _ = TradeReplay::open(&lake.store, &trade_spec(&lake, &["BTCUSDT"], 1)).unwrap();
}
