//! Indicator and bar-builder throughput on 1M rows of a seeded random walk (rows/s, trades/s).
//!
//! Run: `cargo bench --bench indicators` (about a minute and a half). Peers' TA-Lib figures on
//! the same machine are in the strategies indicators report; every batch indicator should beat
//! them. Each batch indicator is measured twice: the allocating function (`<name>`, fresh output
//! columns per call, so it pays the OS page faults of multi-MB buffers) and the buffer-reusing
//! `_into` variant (`<name>/into`, the same output buffers every iteration).

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use strategies::bars::{TimeBarBuilder, TimeBarConfig, Trade};
use strategies::indicators::{
    BollingerSeries, MacdSeries, StandardFeatureEngine, StandardFeatures, SuperTrendSeries, atr,
    atr_into, bollinger, bollinger_into, ema, ema_into, macd, macd_into, rsi, rsi_into,
    standard_features, standard_features_into, supertrend, supertrend_into,
};

mod common;
use common::{SplitMix, bars};

const ROWS: usize = 1_000_000;

/// 20 flat samples (every iteration is milliseconds long), ~1 s warm-up, ~2 s measurement.
fn configure(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(ROWS as u64));
}

fn indicators(c: &mut Criterion) {
    let (high, low, close) = bars(ROWS);
    let mut g = c.benchmark_group("indicators_1M");
    configure(&mut g);
    let mut col = vec![0.0; ROWS];

    g.bench_function("ema_12", |b| b.iter(|| ema(black_box(&close), 12).unwrap()));
    g.bench_function("ema_12/into", |b| {
        b.iter(|| ema_into(black_box(&close), 12, &mut col).unwrap());
    });
    g.bench_function("rsi_14", |b| b.iter(|| rsi(black_box(&close), 14).unwrap()));
    g.bench_function("rsi_14/into", |b| {
        b.iter(|| rsi_into(black_box(&close), 14, &mut col).unwrap());
    });
    g.bench_function("macd_12_26_9", |b| {
        b.iter(|| macd(black_box(&close), 12, 26, 9).unwrap())
    });
    let mut macd_out = MacdSeries::default();
    g.bench_function("macd_12_26_9/into", |b| {
        b.iter(|| macd_into(black_box(&close), 12, 26, 9, &mut macd_out).unwrap());
    });
    g.bench_function("bollinger_20_2", |b| {
        b.iter(|| bollinger(black_box(&close), 20, 2.0).unwrap())
    });
    let mut bb_out = BollingerSeries::default();
    g.bench_function("bollinger_20_2/into", |b| {
        b.iter(|| bollinger_into(black_box(&close), 20, 2.0, &mut bb_out).unwrap());
    });
    g.bench_function("atr_10", |b| {
        b.iter(|| atr(black_box(&high), &low, &close, 10).unwrap())
    });
    g.bench_function("atr_10/into", |b| {
        b.iter(|| atr_into(black_box(&high), &low, &close, 10, &mut col).unwrap());
    });
    g.bench_function("supertrend_10_3", |b| {
        b.iter(|| supertrend(black_box(&high), &low, &close, 10, 3.0).unwrap())
    });
    let mut st_out = SuperTrendSeries::default();
    g.bench_function("supertrend_10_3/into", |b| {
        b.iter(|| supertrend_into(black_box(&high), &low, &close, 10, 3.0, &mut st_out).unwrap());
    });
    g.bench_function("standard_features_batch", |b| {
        b.iter(|| standard_features(black_box(&high), &low, &close).unwrap())
    });
    let mut features_out = StandardFeatures::default();
    g.bench_function("standard_features_batch/into", |b| {
        b.iter(|| {
            standard_features_into(black_box(&high), &low, &close, &mut features_out).unwrap()
        });
    });
    g.bench_function("standard_feature_engine_streaming", |b| {
        b.iter(|| {
            let mut e = StandardFeatureEngine::new();
            let mut acc = 0.0;
            for i in 0..ROWS {
                let row = e.update(black_box(high[i]), low[i], close[i]).unwrap();
                acc += row.rsi_14.unwrap_or(0.0);
            }
            acc
        });
    });
    g.finish();
}

fn bar_builder(c: &mut Criterion) {
    // 1M trades, ~50 per second on average, with a few out-of-order and late ones; 1-minute bars.
    let mut rng = SplitMix(7);
    let mut ts = 1_600_000_000_000_000_000i64;
    let mut price = 30_000.0f64;
    let trades: Vec<Trade> = (0..ROWS)
        .map(|_| {
            ts += (rng.next_f64() * 40_000_000.0) as i64;
            price *= 1.0 + (rng.next_f64() - 0.5) * 0.0004;
            let jitter = if rng.next_f64() < 0.01 {
                -(rng.next_f64() * 2e9) as i64
            } else {
                0
            };
            Trade {
                ts_ns: ts + jitter,
                price,
                qty: 0.001 + rng.next_f64() * 0.5,
            }
        })
        .collect();
    let mut g = c.benchmark_group("bars_1M_trades");
    configure(&mut g);
    g.bench_function("time_bars_1m", |b| {
        let mut closed = Vec::with_capacity(1024);
        b.iter(|| {
            let mut builder = TimeBarBuilder::new(TimeBarConfig::new(60_000_000_000)).unwrap();
            let mut n = 0usize;
            for t in &trades {
                builder.push(black_box(*t), &mut closed).unwrap();
                n += closed.len();
                closed.clear();
            }
            n + usize::from(builder.flush().is_some())
        });
    });
    g.finish();
}

criterion_group!(benches, indicators, bar_builder);
criterion_main!(benches);
