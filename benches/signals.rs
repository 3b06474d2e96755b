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

const ROWS: usize = 1_000_000;

/// SplitMix64: a tiny seeded generator, enough for a realistic price path.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Hourly-like OHLC bars: log random walk from 30 000 with ±0.5% steps (as `benches/indicators`).
fn bars() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = SplitMix(42);
    let (mut high, mut low, mut close) = (
        Vec::with_capacity(ROWS),
        Vec::with_capacity(ROWS),
        Vec::with_capacity(ROWS),
    );
    let mut price = 30_000.0f64;
    for _ in 0..ROWS {
        let open = price;
        price *= 1.0 + (rng.next_f64() - 0.5) * 0.01;
        high.push(open.max(price) * (1.0 + rng.next_f64() * 0.003));
        low.push(open.min(price) * (1.0 - rng.next_f64() * 0.003));
        close.push(price);
    }
    (high, low, close)
}

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
    let (high, low, close) = bars();
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
