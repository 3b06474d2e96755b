//! Replay throughput (`Throughput::Elements` = bars): decoding a bar file (a 1440-row day of
//! 1m bars, and a 144k-row file) with LZ4 and zstd, and streaming a local lake of 3 symbols ×
//! 20 days of 1m bars with and without prefetch.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use replay::{
    BarRecord, BarReplay, FileCompression, LakeRoot, Layer, ReplaySpec, S3Options, Store,
    decode_bars, write_bars_parquet_with,
};

#[path = "../tests/common/lake.rs"]
mod lake;

const SYMBOLS: [&str; 3] = ["AAAUSDT", "BBBUSDT", "CCCUSDT"];
const DAYS: i64 = 20;

fn decode(c: &mut Criterion) {
    let rows: Vec<BarRecord> = (0..100).flat_map(|d| lake::bars(1, d, 1440)).collect();
    let mut g = c.benchmark_group("decode_bars");
    let mut out = Vec::with_capacity(rows.len());
    for (name, codec) in [
        ("lz4", FileCompression::Lz4Raw),
        ("zstd3", FileCompression::Zstd(3)),
    ] {
        for n in [1440, rows.len()] {
            let bytes = write_bars_parquet_with(&rows[..n], codec).expect("encode");
            g.throughput(Throughput::Elements(n as u64));
            g.bench_function(format!("{n}_rows_{name}"), |b| {
                b.iter(|| {
                    out.clear();
                    decode_bars("bench", bytes.clone(), 0, lake::MINUTE, &mut out).expect("decode");
                    black_box(out.len())
                });
            });
        }
    }
    g.finish();
}

fn replay(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = LakeRoot::Local(dir.path().to_path_buf());
    let store = Store::open_with(&root, &S3Options::default()).expect("store");
    for (i, s) in SYMBOLS.iter().enumerate() {
        for day in 0..DAYS {
            let bars = lake::bars(i as u64, day, 1440);
            lake::put_bars(&store, &lake::bar_dir(s, day), "part-0.parquet", &bars);
        }
    }
    let rows = SYMBOLS.len() as u64 * DAYS as u64 * 1440;
    let mut g = c.benchmark_group("replay_local_3x20d_1m");
    g.throughput(Throughput::Elements(rows));
    g.sample_size(10);
    for (name, prefetch, chunk_days) in [
        ("prefetch_chunk1", true, 1),
        ("inline_chunk1", false, 1),
        ("prefetch_chunk5", true, 5),
    ] {
        let spec = ReplaySpec {
            root: root.clone(),
            layer: Layer::Silver,
            provider: "binance".into(),
            market: "spot".into(),
            category: "klines".into(),
            symbols: SYMBOLS.iter().map(|s| s.to_string()).collect(),
            interval: "1m".into(),
            interval_ns: lake::MINUTE,
            start_ns: None,
            end_ns: None,
            chunk_days,
            prefetch,
        };
        let mut out = Vec::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut r = BarReplay::open(&store, &spec).expect("open");
                let mut n = 0usize;
                while let Some(info) = r.next_chunk(&mut out).expect("chunk") {
                    n += info.rows;
                    black_box(&out);
                }
                assert_eq!(n as u64, rows);
            });
        });
    }
    g.finish();
}

criterion_group!(benches, decode, replay);
criterion_main!(benches);
