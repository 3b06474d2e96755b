//! HMM benches (K = 3): the questions that decide the design.
//!
//! * `online_update`: ns per [`OnlineFilter::update`] (target ≤ 100 ns; numpy ≈ 6 µs).
//! * `viterbi`: observations/s over 100k observations (target ≥ 13M/s, hmmlearn ≈ 13M/s).
//! * `baum_welch_iteration`: observation-iterations/s, one EM iteration over 100k observations
//!   (target ≥ 5M/s; hmmlearn ≈ 1.3M/s).
//! * `fit`: a full default fit (8 restarts, ≤ 200 iterations) over 20k observations, for context.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strategies::hmm::{self, BaumWelch, FitConfig, GaussianHmm, OnlineFilter};

fn model() -> GaussianHmm {
    serde_json::from_str(
        r#"{"states":[{"name":"trending","mean":0.002,"std":0.006},
                      {"name":"mean_reverting","mean":0.0,"std":0.004},
                      {"name":"volatile","mean":-0.001,"std":0.02}],
            "transition":[[0.97,0.02,0.01],[0.02,0.97,0.01],[0.03,0.03,0.94]],
            "initial":[0.4,0.4,0.2]}"#,
    )
    .expect("bench model")
}

fn benches(c: &mut Criterion) {
    let m = model();
    let obs = m.simulate(100_000, 42).obs;
    let n = obs.len() as u64;

    let mut g = c.benchmark_group("hmm");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    g.throughput(Throughput::Elements(n));
    g.bench_function("online_update", |b| {
        let mut f = OnlineFilter::new(&m);
        b.iter(|| {
            f.reset();
            let mut acc = 0.0;
            for &r in &obs {
                acc += f.update(black_box(r))[0];
            }
            black_box(acc)
        });
    });

    g.bench_function("viterbi_100k", |b| {
        b.iter(|| black_box(m.viterbi(black_box(&obs))))
    });

    g.bench_function("filter_batch_100k", |b| {
        b.iter(|| black_box(m.filter(black_box(&obs))))
    });

    g.bench_function("baum_welch_iteration_100k", |b| {
        let mut bw = BaumWelch::new(&m, &obs, 1e-10).expect("bw");
        b.iter(|| black_box(bw.step()))
    });

    let fit_obs = &obs[..20_000];
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(fit_obs.len() as u64));
    g.bench_function("fit_default_20k", |b| {
        b.iter(|| black_box(hmm::fit(black_box(fit_obs), &FitConfig::default())))
    });
    g.finish();
}

criterion_group!(hmm_benches, benches);
criterion_main!(hmm_benches);
