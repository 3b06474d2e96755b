//! Cross-cutting HMM tests: proptest invariants against naive log-space references and brute
//! force, parameter recovery, determinism across thread counts, real BTCUSDT data, bad input.

use proptest::prelude::*;

use super::*;
use crate::Error;

/// Naive log-space forward: `ln α_t(j)` unnormalised, straight from the definition.
fn naive_log_alpha(m: &GaussianHmm, obs: &[f64]) -> Vec<Vec<f64>> {
    let k = m.n_states();
    let lb = |r: f64, j: usize| {
        let s = &m.states()[j];
        -s.std.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln() - 0.5 * ((r - s.mean) / s.std).powi(2)
    };
    let mut out: Vec<Vec<f64>> = Vec::new();
    for (t, &r) in obs.iter().enumerate() {
        let row = (0..k)
            .map(|j| {
                let prior = if t == 0 {
                    m.initial()[j].ln()
                } else {
                    lse(&(0..k)
                        .map(|i| out[t - 1][i] + m.transition_row(i)[j].ln())
                        .collect::<Vec<_>>())
                };
                prior + lb(r, j)
            })
            .collect();
        out.push(row);
    }
    out
}

/// Naive log-space backward `ln β_t(i)`.
fn naive_log_beta(m: &GaussianHmm, obs: &[f64]) -> Vec<Vec<f64>> {
    let k = m.n_states();
    let lb = |r: f64, j: usize| {
        let s = &m.states()[j];
        -s.std.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln() - 0.5 * ((r - s.mean) / s.std).powi(2)
    };
    let n = obs.len();
    let mut out = vec![vec![0.0; k]; n];
    for t in (0..n - 1).rev() {
        for i in 0..k {
            out[t][i] = lse(&(0..k)
                .map(|j| m.transition_row(i)[j].ln() + lb(obs[t + 1], j) + out[t + 1][j])
                .collect::<Vec<_>>());
        }
    }
    out
}

fn lse(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Brute-force best path over all K^T paths.
fn brute_viterbi(m: &GaussianHmm, obs: &[f64]) -> f64 {
    let k = m.n_states();
    let lb = |r: f64, j: usize| {
        let s = &m.states()[j];
        -s.std.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln() - 0.5 * ((r - s.mean) / s.std).powi(2)
    };
    let total = k.pow(u32::try_from(obs.len()).unwrap());
    (0..total)
        .map(|mut code| {
            let mut lp = 0.0;
            let mut prev = 0;
            for (t, &r) in obs.iter().enumerate() {
                let s = code % k;
                code /= k;
                lp += if t == 0 {
                    m.initial()[s].ln()
                } else {
                    m.transition_row(prev)[s].ln()
                };
                lp += lb(r, s);
                prev = s;
            }
            lp
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Random valid models: K in 1..=4, sticky-ish rows with occasional exact zeros.
fn arb_model() -> impl Strategy<Value = GaussianHmm> {
    (1usize..=4).prop_flat_map(|k| {
        (
            prop::collection::vec((-0.05f64..0.05, 0.001f64..0.1), k),
            prop::collection::vec(prop::collection::vec(0.0f64..1.0, k), k),
            prop::collection::vec(0.01f64..1.0, k),
        )
            .prop_map(move |(st, rows, init)| {
                let states = st
                    .iter()
                    .enumerate()
                    .map(|(i, &(m, s))| StateParams::new(format!("s{i}"), m, s));
                let rows = rows
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut r)| {
                        r[i] += 1.0; // never an all-zero row
                        for x in &mut r {
                            if *x < 0.1 {
                                *x = 0.0;
                            }
                        }
                        let s: f64 = r.iter().sum();
                        r.iter().map(|x| x / s).collect()
                    })
                    .collect();
                let s: f64 = init.iter().sum();
                GaussianHmm::new(states.collect(), rows, init.iter().map(|x| x / s).collect())
                    .expect("generated model is valid")
            })
    })
}

/// Returns, with occasional outliers of magnitude up to `outlier`.
fn arb_obs(max_len: usize, outlier: f64) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![8 => -0.1f64..0.1, 1 => -outlier..outlier, 1 => Just(0.0)],
        1..=max_len,
    )
}

fn is_distribution(p: &[f64]) -> bool {
    p.iter().all(|x| x.is_finite() && (0.0..=1.0).contains(x))
        && (p.iter().sum::<f64>() - 1.0).abs() < 1e-12
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn filter_and_smooth_are_distributions(m in arb_model(), obs in arb_obs(60, 1e3)) {
        let k = m.n_states();
        let f = m.filter(&obs).unwrap();
        let s = m.smooth(&obs).unwrap();
        for (pf, ps) in f.probs.chunks_exact(k).zip(s.chunks_exact(k)) {
            prop_assert!(is_distribution(pf), "filtered {pf:?}");
            prop_assert!(is_distribution(ps), "smoothed {ps:?}");
        }
        // Smoothed at T is filtered at T, bit for bit.
        prop_assert_eq!(&s[s.len() - k..], f.at(obs.len() - 1));
        prop_assert!(f.loglik.is_finite());
    }

    #[test]
    fn batch_equals_streaming_bitwise(m in arb_model(), obs in arb_obs(60, 1e3)) {
        let f = m.filter(&obs).unwrap();
        let mut online = OnlineFilter::new(&m);
        for (t, &r) in obs.iter().enumerate() {
            let p = online.update(r);
            prop_assert_eq!(p, f.at(t));
            prop_assert_eq!(online.log_likelihood().to_bits(), f.loglik_running[t].to_bits());
        }
        prop_assert_eq!(m.log_likelihood(&obs).unwrap().to_bits(), f.loglik.to_bits());
    }

    /// Scaled linear space == naive log space: the likelihood equals log-sum-exp of the final
    /// unnormalised log-alphas, filtered = normalised alphas, smoothed = normalised α·β.
    /// Outliers stay ≤ 1 (|z| ≤ 10³): with |ln b| ~ 10¹¹ both sides lose ~10⁻⁵ absolute
    /// precision in f64, which would test the reference rather than the implementation.
    #[test]
    fn scaled_equals_log_space(m in arb_model(), obs in arb_obs(40, 1.0)) {
        let k = m.n_states();
        let la = naive_log_alpha(&m, &obs);
        let lbeta = naive_log_beta(&m, &obs);
        let f = m.filter(&obs).unwrap();
        let s = m.smooth(&obs).unwrap();
        let ll_ref = lse(la.last().unwrap());
        prop_assert!((f.loglik - ll_ref).abs() <= 1e-9 * ll_ref.abs().max(1.0),
            "{} vs {}", f.loglik, ll_ref);
        for t in 0..obs.len() {
            let z = lse(&la[t]);
            let zs = lse(&(0..k).map(|j| la[t][j] + lbeta[t][j]).collect::<Vec<_>>());
            for j in 0..k {
                prop_assert!((f.at(t)[j] - (la[t][j] - z).exp()).abs() < 1e-9);
                prop_assert!((s[t * k + j] - (la[t][j] + lbeta[t][j] - zs).exp()).abs() < 1e-8,
                    "t={} j={} {} vs {}", t, j, s[t * k + j], (la[t][j] + lbeta[t][j] - zs).exp());
            }
            prop_assert!((f.loglik_running[t] - z).abs() <= 1e-9 * z.abs().max(1.0));
        }
    }

    #[test]
    fn viterbi_matches_brute_force(m in arb_model(), obs in arb_obs(6, 1e3)) {
        let (path, lp) = m.viterbi(&obs).unwrap();
        let best = brute_viterbi(&m, &obs);
        prop_assert!((lp - best).abs() <= 1e-9 * best.abs().max(1.0), "{lp} vs {best}");
        // The returned path attains the returned score.
        let k = m.n_states();
        prop_assert!(path.iter().all(|&s| s < k));
        let lb = |r: f64, j: usize| {
            let s = &m.states()[j];
            -s.std.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln() - 0.5 * ((r - s.mean) / s.std).powi(2)
        };
        let mut score = m.initial()[path[0]].ln() + lb(obs[0], path[0]);
        for t in 1..obs.len() {
            score += m.transition_row(path[t - 1])[path[t]].ln() + lb(obs[t], path[t]);
        }
        prop_assert!((score - lp).abs() <= 1e-9 * lp.abs().max(1.0));
    }
}

/// A well-separated 3-state model (already in canonical order).
fn truth() -> GaussianHmm {
    GaussianHmm::new(
        vec![
            StateParams::new("trending", 0.004, 0.006),
            StateParams::new("mean_reverting", 0.0, 0.002),
            StateParams::new("volatile", -0.002, 0.02),
        ],
        vec![
            vec![0.96, 0.03, 0.01],
            vec![0.02, 0.97, 0.01],
            vec![0.02, 0.03, 0.95],
        ],
        vec![0.3, 0.5, 0.2],
    )
    .unwrap()
}

/// Best accuracy over all label permutations.
fn best_permutation_accuracy(truth: &[usize], got: &[usize], k: usize) -> f64 {
    fn perms(k: usize) -> Vec<Vec<usize>> {
        if k == 0 {
            return vec![vec![]];
        }
        perms(k - 1)
            .into_iter()
            .flat_map(|p| {
                (0..k).map(move |pos| {
                    let mut q = p.clone();
                    q.insert(pos, k - 1);
                    q
                })
            })
            .collect()
    }
    perms(k)
        .iter()
        .map(|perm| {
            truth
                .iter()
                .zip(got)
                .filter(|&(&t, &g)| perm[g] == t)
                .count() as f64
                / truth.len() as f64
        })
        .fold(0.0, f64::max)
}

#[test]
fn recovers_a_known_model() {
    let m = truth();
    let sim = m.simulate(10_000, 2024);
    let report = fit(&sim.obs, &FitConfig::default()).unwrap();
    let (path, _) = report.model.viterbi(&sim.obs).unwrap();
    let acc = best_permutation_accuracy(&sim.states, &path, 3);
    // Canonical naming puts states in the same order as the truth, so no permutation needed.
    let direct = sim.states.iter().zip(&path).filter(|(a, b)| a == b).count() as f64 / 1e4;
    let true_ll = m.log_likelihood(&sim.obs).unwrap();
    eprintln!(
        "recovery: accuracy {acc:.4} (direct {direct:.4}), fit ll {:.3} vs true ll {true_ll:.3}, \
         restarts {:?}, iterations {}, converged {}",
        report.loglik, report.restarts, report.iterations, report.converged
    );
    assert!(acc >= 0.90, "accuracy {acc}");
    assert_eq!(
        direct, acc,
        "canonical order should match the truth's order"
    );
    assert!(
        report.loglik >= true_ll - 1e-6,
        "fit {} < true {true_ll}",
        report.loglik
    );
    for (got, want) in report.model.states().iter().zip(m.states()) {
        assert_eq!(got.name, want.name);
        assert!(
            (got.std / want.std - 1.0).abs() < 0.1,
            "{got:?} vs {want:?}"
        );
    }
    assert!(
        report
            .restarts
            .iter()
            .all(|l| l.is_finite() && *l <= report.loglik + 1e-6)
    );
}

#[test]
fn fit_is_deterministic_across_thread_counts() {
    let sim = truth().simulate(2_000, 9);
    let cfg = FitConfig {
        restarts: 5,
        seed: 77,
        ..FitConfig::default()
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fit(&sim.obs, &cfg).unwrap())
    };
    let one = run(1);
    let two = run(2);
    assert_eq!(one, two);
    assert_eq!(
        serde_json::to_string(&one.model).unwrap(),
        serde_json::to_string(&two.model).unwrap()
    );
    let again = fit(&sim.obs, &cfg).unwrap();
    assert_eq!(again, one);
    for (a, b) in one.restarts.iter().zip(&again.restarts) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
    // A different seed changes the random restarts (2..), not the deterministic ones (0, 1).
    let other = fit(
        &sim.obs,
        &FitConfig {
            seed: 78,
            ..cfg.clone()
        },
    )
    .unwrap();
    assert_eq!(other.restarts[..2], one.restarts[..2]);
    assert_ne!(other.restarts[2..], one.restarts[2..]);
}

#[test]
fn fits_real_btcusdt_hourly_returns() {
    let Some(closes) = crate::testdata::btcusdt_1h_closes() else {
        return;
    };
    let r = log_returns(&closes).unwrap();
    let cfg = FitConfig {
        restarts: 4,
        max_iter: 100,
        ..FitConfig::default()
    };
    let report = fit(&r, &cfg).unwrap();
    let m = &report.model;
    eprintln!(
        "btcusdt 1h: {} returns, {}",
        r.len(),
        serde_json::to_string(m).unwrap()
    );
    eprintln!(
        "loglik {:.1}, iterations {}, converged {}, restarts {:?}",
        report.loglik, report.iterations, report.converged, report.restarts
    );
    assert!(report.loglik.is_finite());
    let names: Vec<&str> = m.states().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["trending", "mean_reverting", "volatile"]);
    let stds: Vec<f64> = m.states().iter().map(|s| s.std).collect();
    assert!(stds[2] > stds[0] && stds[2] > stds[1], "{stds:?}");
    assert!(
        m.states()
            .iter()
            .all(|s| s.mean.is_finite() && s.std.is_finite() && s.std > 0.0)
    );
    let f = m.filter(&r).unwrap();
    assert!(f.probs.chunks_exact(3).all(is_distribution));
    let s = m.smooth(&r).unwrap();
    assert!(s.chunks_exact(3).all(is_distribution));
    // Hourly BTC volatility regimes are persistent.
    for i in 0..3 {
        assert!(m.transition_row(i)[i] > 0.5, "{:?}", m.transition_matrix());
    }
    let (path, lp) = m.viterbi(&r).unwrap();
    assert!(lp.is_finite() && lp >= report.loglik - 1e6 && lp <= report.loglik);
    let share = |k| path.iter().filter(|&&s| s == k).count() as f64 / path.len() as f64;
    eprintln!(
        "viterbi shares: {:.3} {:.3} {:.3}",
        share(0),
        share(1),
        share(2)
    );
}

#[test]
fn fit_rejects_bad_input() {
    let cfg = FitConfig::default();
    let e = fit(&[], &cfg).unwrap_err();
    assert!(matches!(e, Error::TooShort { what: "obs", .. }), "{e}");
    let e = fit(&[0.1, 0.2, 0.3], &cfg).unwrap_err();
    assert!(
        e.to_string().contains("needs at least 6 values, got 3"),
        "{e}"
    );
    let mut obs = truth().simulate(100, 1).obs;
    obs[42] = f64::NAN;
    let e = fit(&obs, &cfg).unwrap_err();
    assert!(
        e.to_string()
            .contains("obs: value at index 42 is not finite"),
        "{e}"
    );
    obs[42] = 0.0;
    for (bad, field) in [
        (
            FitConfig {
                states: 0,
                ..cfg.clone()
            },
            "states",
        ),
        (
            FitConfig {
                restarts: 0,
                ..cfg.clone()
            },
            "restarts",
        ),
        (
            FitConfig {
                max_iter: 0,
                ..cfg.clone()
            },
            "max_iter",
        ),
        (
            FitConfig {
                tol: f64::NAN,
                ..cfg.clone()
            },
            "tol",
        ),
        (
            FitConfig {
                var_floor: -1.0,
                ..cfg.clone()
            },
            "var_floor",
        ),
    ] {
        let e = fit(&obs, &bad).unwrap_err();
        assert!(e.to_string().contains(&format!("parameter {field}")), "{e}");
    }
    let e = serde_json::from_str::<FitConfig>(r#"{"state": 3}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `state`"), "{e}");
}

#[test]
fn fit_handles_degenerate_data() {
    // Constant data: the variance floor keeps everything finite.
    let report = fit(
        &[0.0; 50],
        &FitConfig {
            restarts: 3,
            ..FitConfig::default()
        },
    )
    .unwrap();
    assert!(report.loglik.is_finite());
    assert!(report.model.states().iter().all(|s| s.std >= 1e-10));
    // K = 1 and K = 2 name states by std.
    let obs = truth().simulate(500, 3).obs;
    let one = fit(
        &obs,
        &FitConfig {
            states: 1,
            restarts: 2,
            ..FitConfig::default()
        },
    )
    .unwrap();
    assert_eq!(one.model.states()[0].name, "state_0");
    let two = fit(
        &obs,
        &FitConfig {
            states: 2,
            restarts: 3,
            ..FitConfig::default()
        },
    )
    .unwrap();
    assert!(two.model.states()[0].std <= two.model.states()[1].std);
}

#[test]
fn log_returns_and_helpers() {
    let r = log_returns(&[100.0, 110.0, 99.0]).unwrap();
    assert!((r[0] - 1.1f64.ln()).abs() < 1e-15 && (r[1] - 0.9f64.ln()).abs() < 1e-15);
    let e = log_returns(&[100.0, 0.0, 3.0]).unwrap_err();
    assert!(
        e.to_string().contains("0 at index 1") && e.to_string().contains("> 0"),
        "{e}"
    );
    let e = log_returns(&[100.0, 5.0, f64::NAN]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NonFinite {
                what: "closes",
                index: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(matches!(log_returns(&[1.0]), Err(Error::TooShort { .. })));
    assert_eq!(most_likely(&[0.2, 0.5, 0.5, 0.1]), Some((1, 0.5)));
    assert_eq!(most_likely(&[]), None);
    assert_eq!(
        Regime::from_name("mean_reverting"),
        Some(Regime::MeanReverting)
    );
    assert_eq!(Regime::from_name("Volatile"), None);
    for r in Regime::ALL {
        assert_eq!(Regime::from_name(r.as_str()), Some(r));
        assert_eq!(r.to_string(), r.as_str());
    }
}

#[test]
fn warm_started_baum_welch_is_monotone() {
    let m = truth();
    let obs = m.simulate(3_000, 5).obs;
    let start = GaussianHmm::new(
        vec![
            StateParams::new("a", 0.0, 0.01),
            StateParams::new("b", 0.001, 0.003),
            StateParams::new("c", 0.0, 0.03),
        ],
        vec![
            vec![0.9, 0.05, 0.05],
            vec![0.05, 0.9, 0.05],
            vec![0.05, 0.05, 0.9],
        ],
        vec![1.0 / 3.0; 3],
    )
    .unwrap();
    let mut bw = BaumWelch::new(&start, &obs, 1e-10).unwrap();
    let mut prev = f64::NEG_INFINITY;
    for _ in 0..30 {
        let ll = bw.step().unwrap();
        assert!(ll >= prev - 1e-8 * ll.abs(), "EM decreased: {prev} -> {ll}");
        prev = ll;
    }
    assert!(bw.log_likelihood() >= prev - 1e-8 * prev.abs());
    let fitted = bw.model().unwrap();
    assert_eq!(fitted.states()[0].name, "a");
    assert!(BaumWelch::new(&start, &[], 1e-10).is_err());
    assert!(BaumWelch::new(&start, &obs, f64::NAN).is_err());
}

/// The persisted `scaled_equals_log_space` regression, by hand. s1 is absorbing and
/// r₃ = −0.80 is e¹³³¹ times likelier under s0 than under s1 (their σ ≈ 0.6 %), so no path in
/// s1 at t ≤ 3 survives: P(s0 at t | r) = 1 for t ≤ 3, although the *filtered* P(s0) at t = 2
/// is only ≈ 2e-228 (r₁ = 0.60 alone favours s1 by e³³⁴). The scaled backward pass used to
/// underflow there (z₂ ≈ 4e-313, since s1's relative density at t = 3 is stored as 0) and
/// restart β at 1, returning the filtered values instead.
fn absorbing_outlier_case() -> (GaussianHmm, Vec<f64>) {
    let m = GaussianHmm::new(
        vec![
            StateParams::new("s0", -0.040_322_478_926_897_32, 0.006_295_365_586_604_745_5),
            StateParams::new("s1", 0.0, 0.006_098_856_111_729_707),
        ],
        vec![
            vec![0.550_370_244_901_777_7, 0.449_629_755_098_222_34],
            vec![0.0, 1.0],
        ],
        vec![0.5, 0.5],
    )
    .unwrap();
    let obs = vec![
        0.081_350_330_556_526_13,
        0.601_257_373_866_779_8,
        0.074_377_648_163_925_32,
        -0.803_738_684_665_984_3,
        0.044_131_644_382_691_41,
        -0.066_008_474_416_014_61,
        0.890_357_349_391_828_2,
        -0.091_845_603_658_355_91,
        -0.077_691_473_235_115_88,
    ];
    (m, obs)
}

#[test]
fn absorbing_state_outlier_smooths_and_fits() {
    let (m, obs) = absorbing_outlier_case();
    let n = obs.len();
    let f = m.filter(&obs).unwrap();
    let s = m.smooth(&obs).unwrap();
    assert!(f.at(2)[0] < 1e-200, "filtered {:?}", f.at(2));
    for t in 0..=3 {
        assert!(
            (s[2 * t] - 1.0).abs() < 1e-12,
            "smoothed P(s0 at {t}) = {}",
            s[2 * t]
        );
    }
    // Against the naive log-space forward-backward at every step.
    let (la, lbeta) = (naive_log_alpha(&m, &obs), naive_log_beta(&m, &obs));
    for t in 0..n {
        let zs = lse(&[la[t][0] + lbeta[t][0], la[t][1] + lbeta[t][1]]);
        for j in 0..2 {
            let want = (la[t][j] + lbeta[t][j] - zs).exp();
            assert!(
                (s[2 * t + j] - want).abs() < 1e-12,
                "t={t} j={j}: {} vs {want}",
                s[2 * t + j]
            );
        }
        assert!(
            is_distribution(&s[2 * t..2 * t + 2]),
            "{:?}",
            &s[2 * t..2 * t + 2]
        );
    }
    assert_eq!(&s[2 * (n - 1)..], f.at(n - 1));

    // The Baum-Welch E-step shares the backward pass: its posteriors (the new initial
    // distribution is γ₀) and log-likelihood must agree too.
    let mut bw = BaumWelch::new(&m, &obs, 1e-10).unwrap();
    let ll = bw.step().unwrap();
    let ll_ref = lse(la.last().unwrap());
    assert!(
        (ll - ll_ref).abs() < 1e-9 * ll_ref.abs(),
        "{ll} vs {ll_ref}"
    );
    let fitted = bw.model().unwrap();
    assert!(is_distribution(fitted.initial()), "{:?}", fitted.initial());
    assert!(
        (fitted.initial()[0] - 1.0).abs() < 1e-12,
        "γ₀ = {:?}",
        fitted.initial()
    );
    assert_eq!(fitted.transition_row(1), &[0.0, 1.0], "s1 stays absorbing");
    for i in 0..2 {
        assert!(is_distribution(fitted.transition_row(i)));
        let st = &fitted.states()[i];
        assert!(
            st.mean.is_finite() && st.std.is_finite() && st.std > 0.0,
            "{st:?}"
        );
    }
    // Further iterations stay finite and monotone.
    let mut prev = ll;
    for _ in 0..5 {
        let l = bw.step().unwrap();
        assert!(l.is_finite() && l >= prev - 1e-8 * l.abs(), "{prev} -> {l}");
        prev = l;
    }
}

/// The forward filter's counterpart: with both states absorbing, r₀ = 0.60 and r₁ = 0.074 put
/// filtered P(s0) at e⁻⁸⁴³ (below the smallest f64), and r₂ = −0.80 then favours s0 by e¹⁸⁵⁴.
/// The scaled filter stored P(s0) as 0 and could never recover it (P(s0 at 2) = 0 instead of 1,
/// log-likelihood off by 1011); it now carries ln α through such steps.
#[test]
fn filter_recovers_a_state_below_f64_range() {
    let m = GaussianHmm::new(
        vec![
            StateParams::new("s0", -0.040_322_478_926_897_32, 0.006_295_365_586_604_745_5),
            StateParams::new("s1", 0.023_848_947_222_028_613, 0.006_098_856_111_729_707),
        ],
        vec![vec![1.0, 0.0], vec![0.0, 1.0]],
        vec![0.5, 0.5],
    )
    .unwrap();
    let obs = [
        0.601_257_373_866_779_8,
        0.074_377_648_163_925_32,
        -0.803_738_684_665_984_3,
    ];
    let f = m.filter(&obs).unwrap();
    assert_eq!(f.at(1), &[0.0, 1.0]);
    assert_eq!(f.at(2), &[1.0, 0.0]);
    let la = naive_log_alpha(&m, &obs);
    for (t, row) in la.iter().enumerate() {
        let z = lse(row);
        assert!(
            (f.loglik_running[t] - z).abs() < 1e-9 * z.abs(),
            "t={t}: {} vs {z}",
            f.loglik_running[t]
        );
    }
    // Streaming agrees bit for bit, also through a missing value in log space.
    let mut online = OnlineFilter::new(&m);
    for (t, &r) in obs.iter().enumerate() {
        assert_eq!(online.update(r), f.at(t));
        assert_eq!(
            online.log_likelihood().to_bits(),
            f.loglik_running[t].to_bits()
        );
    }
    let mut gap = OnlineFilter::new(&m);
    gap.update(obs[0]);
    gap.update(obs[1]);
    gap.update(f64::NAN);
    assert_eq!(gap.update(obs[2]), &[1.0, 0.0]);
    // Smoothing: s0 throughout.
    let s = m.smooth(&obs).unwrap();
    for t in 0..3 {
        assert!(
            (s[2 * t] - 1.0).abs() < 1e-12,
            "t={t}: {:?}",
            &s[2 * t..2 * t + 2]
        );
    }
}

/// A collapsed state (σ = 10⁻⁵ against returns of ~10⁻³, as Baum-Welch produces on prices
/// quantised to a tick) is below 2⁻⁹⁰⁰ after almost every return, so the filter runs in the
/// mixed form (linear entries plus the collapsed state's exact log) for long stretches; a run
/// of exact zero returns brings the state back from ≈ 10⁻²⁰⁰ (its inflow), and a state with no
/// inflow at all stays a structural zero. Filtered probabilities, the running likelihood and
/// the smoothed posteriors match the naive log-space recursions at every step, and streaming
/// equals batch bit for bit.
#[test]
fn collapsed_state_runs_in_mixed_form_and_matches_log_space() {
    let m = GaussianHmm::new(
        vec![
            StateParams::new("calm", 0.0, 1e-3),
            StateParams::new("wild", 0.0, 3e-3),
            StateParams::new("collapsed", 0.0, 1e-5),
            StateParams::new("unreachable", 0.5, 1e-3),
        ],
        vec![
            vec![0.99, 0.01 - 1e-200, 1e-200, 0.0],
            vec![0.02, 0.98, 0.0, 0.0],
            vec![1e-6, 0.0, 1.0 - 1e-6, 0.0],
            vec![0.5, 0.5, 0.0, 0.0],
        ],
        vec![0.5, 0.5, 0.0, 0.0],
    )
    .unwrap();
    let mut uniform = crate::testdata::uniforms(0x9e37_79b9_7f4a_7c15);
    let mut obs = Vec::new();
    for t in 0..1500 {
        let zero_run = (400..560).contains(&t) || (900..905).contains(&t);
        obs.push(if zero_run {
            0.0
        } else {
            // A rough normal (sum of uniforms), scaled to the calm state.
            1e-3 * ((0..4).map(|_| uniform()).sum::<f64>() - 2.0) * 1.7
        });
    }
    let f = m.filter(&obs).unwrap();
    let k = m.n_states();
    // The naive log-space forward, normalised at every step (the unnormalised one loses
    // digits as ln α grows to thousands): `lp` are log-probabilities, `ll` the running sum.
    let (mut lp, mut ll) = (Vec::<f64>::new(), 0.0);
    let mut deepest = 0.0f64;
    for (t, &r) in obs.iter().enumerate() {
        let row: Vec<f64> = (0..k)
            .map(|j| {
                let st = &m.states()[j];
                let prior = if t == 0 {
                    m.initial()[j].ln()
                } else {
                    lse(&(0..k)
                        .map(|i| lp[i] + m.transition_row(i)[j].ln())
                        .collect::<Vec<_>>())
                };
                prior
                    - st.std.ln()
                    - 0.5 * (2.0 * std::f64::consts::PI).ln()
                    - 0.5 * ((r - st.mean) / st.std).powi(2)
            })
            .collect();
        let z = lse(&row);
        ll += z;
        lp = row.iter().map(|v| v - z).collect();
        assert!(
            (f.loglik_running[t] - ll).abs() < 1e-12 * ll.abs().max(1.0),
            "t={t}: {} vs {ll}",
            f.loglik_running[t]
        );
        for (j, (&got, &l)) in f.at(t).iter().zip(&lp).enumerate() {
            let want = l.exp();
            assert!((got - want).abs() < 1e-12, "t={t} j={j}: {got} vs {want}");
        }
        deepest = deepest.min(lp[2]);
        assert_eq!(
            f.at(t)[3],
            0.0,
            "t={t}: no path reaches the unreachable state"
        );
    }
    assert!(
        deepest < -1000.0,
        "the collapsed state went below f64: {deepest}"
    );
    assert!(
        f.at(559)[2] > 0.99,
        "the zero run revives it: {:?}",
        f.at(559)
    );
    assert!(
        f.at(399)[2] < 1e-150,
        "before the run it is dead: {:?}",
        f.at(399)
    );
    let mut online = OnlineFilter::new(&m);
    for (t, &r) in obs.iter().enumerate() {
        assert_eq!(online.update(r), f.at(t), "t={t}");
        assert_eq!(
            online.log_likelihood().to_bits(),
            f.loglik_running[t].to_bits()
        );
    }
    // Smoothing and the Baum-Welch E-step against the naive forward-backward.
    let s = m.smooth(&obs).unwrap();
    let la = naive_log_alpha(&m, &obs);
    let lb = naive_log_beta(&m, &obs);
    for t in 0..obs.len() {
        let zs = lse(&(0..k).map(|j| la[t][j] + lb[t][j]).collect::<Vec<_>>());
        for j in 0..k {
            let want = (la[t][j] + lb[t][j] - zs).exp();
            assert!(
                (s[k * t + j] - want).abs() < 1e-9,
                "t={t} j={j}: {} vs {want}",
                s[k * t + j]
            );
        }
    }
    let mut bw = BaumWelch::new(&m, &obs, 1e-12).unwrap();
    let ll = bw.step().unwrap();
    let ll_ref = lse(la.last().unwrap());
    assert!(
        (ll - ll_ref).abs() < 1e-10 * ll_ref.abs(),
        "{ll} vs {ll_ref}"
    );
    let fitted = bw.model().unwrap();
    for i in 0..k {
        assert!(is_distribution(fitted.transition_row(i)));
    }
}

/// The running log-likelihood sums `a + ln s` with one logarithm at the end: against a
/// compensated sum of the logarithms, over normalisers from 2⁻¹⁰²² to 3 (the product of
/// mantissas is renormalised on the way) and with nothing added.
#[test]
fn log_likelihood_accumulator_matches_summed_logs() {
    use super::kernel::LogLik;
    assert_eq!(LogLik::default().value(), 0.0);
    let mut next = crate::testdata::uniforms(0x2545_f491_4f6c_dd1d);
    let mut acc = LogLik::default();
    let (mut sum, mut comp) = (0.0f64, 0.0f64);
    let mut kahan = |v: f64| {
        let y = v - comp;
        let t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    };
    for i in 0..200_000 {
        let s = match i % 1000 {
            0 => f64::MIN_POSITIVE,
            1 => 3.0,
            2 => 1.0,
            _ => 0.02 + 2.9 * next(),
        };
        let a = 5.0 * next() - 1.0;
        acc.add(a, s);
        kahan(a);
        kahan(s.ln());
    }
    let got = acc.value();
    assert!(
        (got - sum).abs() < 1e-12 * sum.abs(),
        "{got} vs {sum} (diff {})",
        got - sum
    );
}
