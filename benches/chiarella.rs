//! Criterion benches for the Chiarella simulator and the performance metrics.
//!
//! The design question: can the strategy loop afford a fresh Monte-Carlo of 1,000 paths ×
//! 300 steps per decision? Target ≤ 5 ms on a 2-core machine. Throughput is in path-steps for
//! the simulator and in bar returns for the metrics.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use strategies::chiarella::{
    ChiarellaParams, OrderImpactSpec, SimConfig, order_impact, simulate, simulate_terminal,
    simulate_with_order,
};
use strategies::metrics::performance;

fn params() -> ChiarellaParams {
    ChiarellaParams {
        p0: 100.0,
        fundamental: 100.0,
        alpha_f: 0.2,
        alpha_c: 0.5,
        w_f: 0.5,
        w_c: 0.3,
        w_n: 0.2,
        sigma_n: 1.0,
        sigma_p: 0.1,
        lambda: 1.0,
        dt: 1.0,
    }
}

fn bench_simulate(c: &mut Criterion) {
    let mut group = c.benchmark_group("chiarella");
    group.warm_up_time(Duration::from_secs(2));
    for (paths, steps, samples, secs) in [(1_000, 300, 100, 5), (10_000, 300, 20, 8)] {
        let cfg = SimConfig {
            paths,
            steps,
            seed: 42,
        };
        group.throughput(Throughput::Elements((paths * steps) as u64));
        group
            .sample_size(samples)
            .measurement_time(Duration::from_secs(secs));
        group.bench_function(format!("simulate/{paths}x{steps}"), |b| {
            b.iter(|| simulate(black_box(&params()), black_box(&cfg)).expect("valid inputs"));
        });
        if paths == 1_000 {
            let order = OrderImpactSpec {
                size: 5.0,
                steps: 30,
            };
            group.bench_function(format!("simulate_with_order/{paths}x{steps}"), |b| {
                b.iter(|| {
                    simulate_with_order(black_box(&params()), black_box(&cfg), black_box(&order))
                        .expect("valid inputs")
                });
            });
        }
    }
    group.finish();
}

/// The adaptive backtest's per-entry-signal forecast at the simulator's default shape
/// (256 paths × 60 steps): as `actors::simulator` makes it (`simulator_forecast_terminal`: the
/// terminal-only summary and the impulse response), as it made it before
/// (`simulator_forecast`: the full summary, then the order's impact on one paired path), and
/// the building blocks, including the paired run at the full shape.
fn bench_forecast(c: &mut Criterion) {
    let mut group = c.benchmark_group("chiarella_forecast");
    group.warm_up_time(Duration::from_secs(2));
    group
        .sample_size(100)
        .measurement_time(Duration::from_secs(4));
    let cfg = SimConfig {
        paths: 256,
        steps: 60,
        seed: 42,
    };
    let order = OrderImpactSpec {
        size: 5.0,
        steps: 1,
    };
    group.throughput(Throughput::Elements((cfg.paths * cfg.steps) as u64));
    group.bench_function("simulate/256x60", |b| {
        b.iter(|| simulate(black_box(&params()), black_box(&cfg)).expect("valid inputs"));
    });
    group.bench_function("simulate_with_order/256x60", |b| {
        b.iter(|| {
            simulate_with_order(black_box(&params()), black_box(&cfg), black_box(&order))
                .expect("valid inputs")
        });
    });
    group.bench_function("simulate_terminal/256x60", |b| {
        b.iter(|| simulate_terminal(black_box(&params()), black_box(&cfg)).expect("valid inputs"));
    });
    let one_path = SimConfig { paths: 1, ..cfg };
    group.bench_function("simulator_forecast/256x60+1", |b| {
        b.iter(|| {
            let s = simulate(black_box(&params()), black_box(&cfg)).expect("valid inputs");
            let i = simulate_with_order(black_box(&params()), &one_path, black_box(&order))
                .expect("valid inputs");
            (s, i)
        });
    });
    group.bench_function("simulator_forecast_terminal/256x60", |b| {
        b.iter(|| {
            let t = simulate_terminal(black_box(&params()), black_box(&cfg)).expect("valid inputs");
            let i = order_impact(black_box(&params()), cfg.steps, black_box(&order))
                .expect("valid inputs");
            (t, i)
        });
    });
    group.finish();
}

fn bench_metrics(c: &mut Criterion) {
    const BARS: usize = 1_000_000;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut equity = Vec::with_capacity(BARS);
    let mut v = 10_000.0_f64;
    for _ in 0..BARS {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        v *= 1.0 + 0.01 * (u - 0.499);
        equity.push(v);
    }
    let mut group = c.benchmark_group("metrics");
    group.throughput(Throughput::Elements(BARS as u64));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("performance/1M_returns", |b| {
        b.iter(|| performance(black_box(&equity), Some(10_000.0), &[], 8760.0).expect("valid"));
    });
    group.finish();
}

criterion_group!(benches, bench_simulate, bench_forecast, bench_metrics);
criterion_main!(benches);
