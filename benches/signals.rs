//! Signal-generator throughput (bars/s) on 1M hourly-like bars of a seeded random walk: each
//! generator streamed one bar at a time (`<name>/stream`, the live path: one `update` per bar,
//! no allocation) and its batch function over the slices (`<name>/batch`, the backtest path).
//!
//! Run: `cargo bench --bench signals` (about half a minute).

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use strategies::signals::{
    Breakout, BreakoutParams, EmaCross, EmaCrossParams, SignalAction, SmartMomentum,
    SmartMomentumParams, ZScoreReversion, ZScoreReversionParams, breakout_signals,
    ema_cross_signals, smart_momentum_signals, zscore_signals,
};

mod common;
use common::bars;

const ROWS: usize = 1_000_000;

/// 20 flat samples (every iteration is milliseconds long), ~1 s warm-up, ~2 s measurement.
fn configure(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(ROWS as u64));
}

/// Streams every bar through `update` and counts the non-`None` actions (so nothing is
/// optimised away).
fn stream(
    (high, low, close): (&[f64], &[f64], &[f64]),
    mut update: impl FnMut(f64, f64, f64) -> strategies::Result<SignalAction>,
) -> usize {
    let mut signals = 0;
    for i in 0..close.len() {
        let a = update(black_box(high[i]), low[i], close[i]).unwrap();
        signals += usize::from(a != SignalAction::None);
    }
    signals
}

fn signals(c: &mut Criterion) {
    let (high, low, close) = bars(ROWS);
    let bars = (&high[..], &low[..], &close[..]);
    let mut g = c.benchmark_group("signals_1M");
    configure(&mut g);

    let sm = SmartMomentumParams::default();
    g.bench_function("smart_momentum/stream", |b| {
        b.iter(|| {
            let mut s = SmartMomentum::new(sm).unwrap();
            stream(bars, |h, l, c| s.update(h, l, c))
        })
    });
    g.bench_function("smart_momentum/batch", |b| {
        b.iter(|| smart_momentum_signals(black_box(&high), &low, &close, &sm).unwrap())
    });

    let ec = EmaCrossParams::default();
    g.bench_function("ema_cross/stream", |b| {
        b.iter(|| {
            let mut s = EmaCross::new(ec).unwrap();
            stream(bars, |h, l, c| s.update(h, l, c))
        })
    });
    g.bench_function("ema_cross/batch", |b| {
        b.iter(|| ema_cross_signals(black_box(&high), &low, &close, &ec).unwrap())
    });

    let zp = ZScoreReversionParams::default();
    g.bench_function("zscore_reversion/stream", |b| {
        b.iter(|| {
            let mut s = ZScoreReversion::new(zp).unwrap();
            stream(bars, |h, l, c| s.update(h, l, c))
        })
    });
    g.bench_function("zscore_reversion/batch", |b| {
        b.iter(|| zscore_signals(black_box(&high), &low, &close, &zp).unwrap())
    });

    let bp = BreakoutParams::default();
    g.bench_function("breakout/stream", |b| {
        b.iter(|| {
            let mut s = Breakout::new(bp).unwrap();
            stream(bars, |h, l, c| s.update(h, l, c))
        })
    });
    g.bench_function("breakout/batch", |b| {
        b.iter(|| breakout_signals(black_box(&high), &low, &close, &bp).unwrap())
    });
    g.finish();
}

criterion_group!(benches, signals);
criterion_main!(benches);
