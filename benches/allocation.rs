//! Allocation solvers on seeded factor-model covariances: CARA (exact active-set QP) and
//! sparse L1 at 50 assets, risk parity at 50 and 500 assets, Ledoit-Wolf on 500 × 50 returns.
//!
//! Run: `cargo bench --bench allocation`. Targets: CARA and risk parity at 50 assets ≤ 1 ms,
//! risk parity at 500 assets ≤ 50 ms.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nalgebra::{DMatrix, DVector};
use strategies::allocation::{cara, ledoit_wolf, risk_parity, sparse_l1};

mod common;
use common::SplitMix;

/// Daily-scale loadings of a 5-factor model: a market factor (all loadings positive) and four
/// sector-like factors.
fn loadings(n: usize, rng: &mut SplitMix) -> DMatrix<f64> {
    DMatrix::from_fn(n, 5, |_, f| {
        if f == 0 {
            0.01 * (0.5 + rng.next_f64())
        } else {
            0.006 * rng.normal()
        }
    })
}

/// `Σ = BB' + D`, idiosyncratic variances from (0.01)²·[0.5, 2].
fn factor_covariance(n: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = SplitMix(seed);
    let b = loadings(n, &mut rng);
    let mut s = &b * b.transpose();
    for i in 0..n {
        s[(i, i)] += 1e-4 * (0.5 + 1.5 * rng.next_f64());
    }
    s.fill_lower_triangle_with_upper_triangle();
    s
}

/// Expected daily returns of roughly the size of real ones.
fn expected_returns(n: usize, seed: u64) -> DVector<f64> {
    let mut rng = SplitMix(seed);
    DVector::from_fn(n, |_, _| 0.0005 + 0.001 * rng.normal())
}

/// `T × n` returns from the factor model.
fn factor_returns(t: usize, n: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = SplitMix(seed);
    let b = loadings(n, &mut rng);
    let f = DMatrix::from_fn(t, 5, |_, _| rng.normal());
    let mut r = f * b.transpose();
    for x in r.iter_mut() {
        *x += 0.01 * rng.normal();
    }
    r
}

fn bench_allocation(c: &mut Criterion) {
    let mut g = c.benchmark_group("allocation");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    let n = 50;
    let sigma = factor_covariance(n, 7);
    let mu = expected_returns(n, 11);
    g.throughput(Throughput::Elements(n as u64));
    // γ = 5 holds a few assets; γ = 200 diversifies into most of them (more active-set steps).
    for gamma in [5.0, 200.0] {
        g.bench_function(BenchmarkId::new(format!("cara_gamma{gamma}"), n), |b| {
            b.iter(|| cara(black_box(&mu), black_box(&sigma), black_box(gamma)).expect("cara"));
        });
    }
    g.bench_function(BenchmarkId::new("sparse_l1", n), |b| {
        b.iter(|| {
            sparse_l1(
                black_box(&mu),
                black_box(&sigma),
                black_box(0.5),
                black_box(2e-5),
            )
            .expect("sparse")
        });
    });
    g.bench_function(BenchmarkId::new("risk_parity", n), |b| {
        b.iter(|| risk_parity(black_box(&sigma)).expect("risk parity"));
    });

    let n = 500;
    let sigma = factor_covariance(n, 13);
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    g.bench_function(BenchmarkId::new("risk_parity", n), |b| {
        b.iter(|| risk_parity(black_box(&sigma)).expect("risk parity"));
    });
    g.sample_size(100);

    let returns = factor_returns(500, 50, 17);
    g.throughput(Throughput::Elements(500 * 50));
    g.bench_function(BenchmarkId::new("ledoit_wolf", "500x50"), |b| {
        b.iter(|| ledoit_wolf(black_box(&returns)).expect("ledoit-wolf"));
    });
    g.finish();
}

/// Prints what the benchmarked problems look like (support sizes, iterations), once.
fn describe(_: &mut Criterion) {
    let sigma = factor_covariance(50, 7);
    let mu = expected_returns(50, 11);
    let nz = |w: &DVector<f64>| w.iter().filter(|&&x| x != 0.0).count();
    let a = cara(&mu, &sigma, 5.0).expect("cara");
    let broad = cara(&mu, &sigma, 200.0).expect("cara");
    let s = sparse_l1(&mu, &sigma, 0.5, 2e-5).expect("sparse");
    let r50 = risk_parity(&sigma).expect("rp");
    let r500 = risk_parity(&factor_covariance(500, 13)).expect("rp");
    eprintln!(
        "problem sizes: cara/50 γ=5 {} assets held, {} iterations; γ=200 {} held, {} \
         iterations; sparse_l1/50 {} non-zero, {} \
         iterations; risk_parity/50 {} iterations; risk_parity/500 {} iterations",
        nz(&a.weights),
        a.iterations,
        nz(&broad.weights),
        broad.iterations,
        nz(&s.weights),
        s.iterations,
        r50.iterations,
        r500.iterations
    );
}

criterion_group!(benches, describe, bench_allocation);
criterion_main!(benches);
