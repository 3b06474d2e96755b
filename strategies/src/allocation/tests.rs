//! Tests of the allocators: hand-checked small cases, real-data cross-checks against
//! numpy / scikit-learn / scipy / cvxpy (values pasted from
//! `strategies/testdata/allocation/make_fixture.py`), bad input, and proptest invariants.

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;

use super::*;
use crate::Error;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn dv(xs: &[f64]) -> DVector<f64> {
    DVector::from_column_slice(xs)
}

fn dm(n: usize, xs: &[f64]) -> DMatrix<f64> {
    DMatrix::from_row_slice(n, xs.len() / n, xs)
}

/// Scale for tolerances on gradients of `w'μ − (γ/2)w'Σw`-like objectives.
fn scale(mu: &DVector<f64>, sigma: &DMatrix<f64>, gamma: f64) -> f64 {
    1.0f64.max(mu.amax()).max(gamma * sigma.amax())
}

/// KKT of `max w'μ − (γ/2)w'Σw, 1'w = 1, w ≥ 0`: `μ − γΣw − ν1 + s = 0`, `s ≥ 0`, `s∘w = 0`.
fn assert_cara_kkt(mu: &DVector<f64>, sigma: &DMatrix<f64>, gamma: f64, w: &DVector<f64>) {
    let tol = 1e-10 * scale(mu, sigma, gamma);
    // Σw = 1 to rounding: a float sum of long-short weights carries error of order ‖w‖₁·ε, so
    // the budget is checked relative to the weights' scale (with tiny ρ on a near-singular Σ,
    // ‖w‖₁ reaches 1e5 and no algorithm can do better than ~1e-11 absolute).
    let l1 = w.abs().sum();
    assert!(
        (w.sum() - 1.0).abs() < 1e-12 * l1.max(1.0),
        "budget: sum = {}, l1 = {l1}",
        w.sum()
    );
    assert!(w.iter().all(|&x| x >= 0.0), "negative weight in {w}");
    let r = mu - sigma * w * gamma;
    let free: Vec<usize> = (0..w.len()).filter(|&i| w[i] > 0.0).collect();
    assert!(!free.is_empty());
    let nu = free.iter().map(|&i| r[i]).sum::<f64>() / free.len() as f64;
    for i in 0..w.len() {
        let s = nu - r[i]; // stationarity solved for s
        if w[i] > 0.0 {
            assert!(
                s.abs() <= tol,
                "stationarity at free {i}: residual {s:e} (tol {tol:e})"
            );
        } else {
            assert!(
                s >= -tol,
                "dual feasibility at {i}: s = {s:e} (tol {tol:e})"
            );
        }
    }
}

/// Subgradient KKT of `min w'Σw − λw'μ + ρ‖w‖₁, 1'w = 1`:
/// `2Σw − λμ − ν1 + ρz = 0`, `zᵢ = sign wᵢ` (wᵢ ≠ 0), `|zᵢ| ≤ 1` (wᵢ = 0).
fn assert_sparse_kkt(
    mu: &DVector<f64>,
    sigma: &DMatrix<f64>,
    lambda: f64,
    rho: f64,
    w: &DVector<f64>,
) {
    let tol = 1e-10
        * 1.0f64
            .max(lambda * mu.amax())
            .max(2.0 * sigma.amax())
            .max(rho);
    // Σw = 1 to rounding: a float sum of long-short weights carries error of order ‖w‖₁·ε, so
    // the budget is checked relative to the weights' scale (with tiny ρ on a near-singular Σ,
    // ‖w‖₁ reaches 1e5 and no algorithm can do better than ~1e-11 absolute).
    let l1 = w.abs().sum();
    assert!(
        (w.sum() - 1.0).abs() < 1e-12 * l1.max(1.0),
        "budget: sum = {}, l1 = {l1}",
        w.sum()
    );
    let g = sigma * w * 2.0 - mu * lambda;
    let nz: Vec<usize> = (0..w.len()).filter(|&i| w[i] != 0.0).collect();
    let nu = nz.iter().map(|&i| g[i] + rho * w[i].signum()).sum::<f64>() / nz.len() as f64;
    for i in 0..w.len() {
        if w[i] != 0.0 {
            let res = g[i] - nu + rho * w[i].signum();
            assert!(
                res.abs() <= tol,
                "stationarity at {i}: {res:e} (tol {tol:e})"
            );
        } else {
            let z = g[i] - nu; // must equal −ρzᵢ with |zᵢ| ≤ 1
            assert!(
                z.abs() <= rho + tol,
                "subgradient at zero weight {i}: |{z:e}| > ρ = {rho:e}"
            );
        }
    }
}

fn sparse_objective(
    mu: &DVector<f64>,
    sigma: &DMatrix<f64>,
    lambda: f64,
    rho: f64,
    w: &DVector<f64>,
) -> f64 {
    w.dot(&(sigma * w)) - lambda * w.dot(mu) + rho * w.lp_norm(1)
}

fn assert_equal_risk(a: &Allocation, tol: f64) {
    let n = a.weights.len() as f64;
    assert!((a.weights.sum() - 1.0).abs() < 1e-12);
    assert!(a.weights.iter().all(|&x| x > 0.0));
    for (i, rc) in a.risk_contributions.iter().enumerate() {
        assert!(
            (rc * n - 1.0).abs() <= tol,
            "RC[{i}] = {rc} vs 1/n, rel err {:e}",
            rc * n - 1.0
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-checked small cases
// ---------------------------------------------------------------------------------------------

#[test]
fn cara_two_assets_interior_matches_hand_formula() {
    // w₁ = ((μ₁−μ₂)/γ + Σ₂₂ − Σ₁₂) / (Σ₁₁ + Σ₂₂ − 2Σ₁₂) = 0.0906667/0.118
    let mu = dv(&[0.10, 0.08]);
    let sigma = dm(2, &[0.04, 0.006, 0.006, 0.09]);
    let a = cara(&mu, &sigma, 3.0).unwrap();
    let w1 = (0.02 / 3.0 + 0.084) / 0.118;
    assert!((a.weights[0] - w1).abs() < 1e-14, "{}", a.weights);
    assert!((a.weights[1] - (1.0 - w1)).abs() < 1e-14);
    assert!((a.expected_return - (0.10 * w1 + 0.08 * (1.0 - w1))).abs() < 1e-15);
    let var = 0.04 * w1 * w1 + 2.0 * 0.006 * w1 * (1.0 - w1) + 0.09 * (1.0 - w1).powi(2);
    assert!((a.variance - var).abs() < 1e-15);
    assert!((a.risk_contributions.sum() - 1.0).abs() < 1e-14);
    assert_cara_kkt(&mu, &sigma, 3.0, &a.weights);
}

#[test]
fn cara_two_assets_binding_constraint_gives_a_zero_weight() {
    // Unconstrained-in-budget optimum w₁ = (0.19/1 + 0.04)/0.08 = 2.875 > 1 ⇒ corner (1, 0).
    let mu = dv(&[0.20, 0.01]);
    let sigma = dm(2, &[0.04, 0.0, 0.0, 0.04]);
    let a = cara(&mu, &sigma, 1.0).unwrap();
    assert_eq!(a.weights.as_slice(), &[1.0, 0.0]);
    assert_eq!(a.risk_contributions.as_slice(), &[1.0, 0.0]);
    // Multiplier of w₂ ≥ 0: ν = μ₁ − γΣ₁₁ = 0.16, s₂ = ν − μ₂ = 0.15.
    assert_cara_kkt(&mu, &sigma, 1.0, &a.weights);
    // The closed form is interior-infeasible here: it shorts nothing but leverages asset 1.
    let cf = closed_form(&mu, &sigma, 1.0).unwrap();
    assert!((cf.raw[0] - 5.0).abs() < 1e-12 && (cf.raw[1] - 0.25).abs() < 1e-12);
    assert!((cf.rescaled.weights[0] - 5.0 / 5.25).abs() < 1e-12);
    assert!(
        cf.rescaled.weights[1] > 0.0,
        "rescaled closed form ≠ constrained optimum"
    );
}

#[test]
fn cara_singular_and_degenerate_covariances() {
    // Σ = 0: a linear programme, the best asset takes everything (null-space path).
    let mu = dv(&[0.1, 0.3, 0.2]);
    let a = cara(&mu, &DMatrix::zeros(3, 3), 2.0).unwrap();
    assert_eq!(a.weights.as_slice(), &[0.0, 1.0, 0.0]);
    assert_eq!(a.variance, 0.0);
    assert_eq!(a.risk_contributions.as_slice(), &[0.0, 0.0, 0.0]);
    // Duplicated asset (rank-deficient Σ): any split of the duplicate pair is optimal.
    let sigma = dm(3, &[0.04, 0.04, 0.01, 0.04, 0.04, 0.01, 0.01, 0.01, 0.09]);
    let mu = dv(&[0.12, 0.12, 0.05]);
    let a = cara(&mu, &sigma, 4.0).unwrap();
    assert_cara_kkt(&mu, &sigma, 4.0, &a.weights);
    let pair = a.weights[0] + a.weights[1];
    // Two-asset formula on (dup, asset 3): ((0.07)/4 + 0.09 − 0.01) / (0.04 + 0.09 − 0.02)
    assert!(
        (pair - (0.0175 + 0.08) / 0.11).abs() < 1e-12,
        "{}",
        a.weights
    );
    // Equal assets, equal returns: any split, still a valid optimum.
    let ones = DMatrix::from_element(4, 4, 0.01);
    let a = cara(&dv(&[0.05; 4]), &ones, 1.0).unwrap();
    assert_cara_kkt(&dv(&[0.05; 4]), &ones, 1.0, &a.weights);
}

#[test]
fn closed_form_diagonal_by_hand() {
    let mu = dv(&[0.10, 0.05, -0.02]);
    let sigma = DMatrix::from_diagonal(&dv(&[0.04, 0.01, 0.02]));
    let cf = closed_form(&mu, &sigma, 2.0).unwrap();
    let raw = [0.10 / 0.08, 0.05 / 0.02, -0.02 / 0.04];
    assert!((&cf.raw - dv(&raw)).amax() < 1e-13, "{}", cf.raw);
    let total: f64 = raw.iter().sum();
    assert!((cf.rescaled.weights[2] - raw[2] / total).abs() < 1e-13);
    assert!((cf.rescaled.weights.sum() - 1.0).abs() < 1e-14);
    assert_eq!(cf.rescaled.iterations, 0);
    // The constrained optimum differs: no short in asset 2.
    let c = cara(&mu, &sigma, 2.0).unwrap();
    assert_eq!(c.weights[2], 0.0);
    assert!((c.weights - &cf.rescaled.weights).amax() > 0.1);
    // Non-diagonal: γΣ·raw = μ.
    let sigma = dm(3, &[0.04, 0.01, 0.0, 0.01, 0.02, 0.005, 0.0, 0.005, 0.03]);
    let cf = closed_form(&mu, &sigma, 2.0).unwrap();
    assert!((&sigma * &cf.raw * 2.0 - &mu).amax() < 1e-15);
}

#[test]
fn closed_form_errors_name_the_problem() {
    let singular = dm(2, &[1.0, 1.0, 1.0, 1.0]);
    let err = closed_form(&dv(&[0.1, 0.2]), &singular, 1.0).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotPositiveDefinite {
                what: "sigma",
                property: "positive definite",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("singular"), "{err}");
    let err = closed_form(&dv(&[1.0, -1.0]), &DMatrix::identity(2, 2), 1.0).unwrap_err();
    assert!(matches!(err, Error::Numerical { .. }), "{err}");
    assert!(err.to_string().contains("sum to"), "{err}");
    let err = closed_form(&dv(&[0.0, 0.0]), &DMatrix::identity(2, 2), 1.0).unwrap_err();
    assert!(matches!(err, Error::Numerical { .. }), "{err}");
}

#[test]
fn risk_parity_diagonal_is_inverse_volatility() {
    let sigma = DMatrix::from_diagonal(&dv(&[0.04, 0.09, 0.01]));
    let a = risk_parity(&sigma).unwrap();
    let inv = [5.0, 10.0 / 3.0, 10.0];
    let total: f64 = inv.iter().sum();
    for (i, v) in inv.iter().enumerate() {
        assert!((a.weights[i] - v / total).abs() < 1e-12, "{}", a.weights);
    }
    assert_equal_risk(&a, 1e-10);
    assert_eq!(a.expected_return, 0.0);
}

#[test]
fn risk_parity_two_assets_is_inverse_volatility_for_any_correlation() {
    for rho in [-0.9, -0.3, 0.0, 0.5, 0.99, 1.0] {
        let (s1, s2) = (0.2, 0.5);
        let sigma = dm(2, &[s1 * s1, rho * s1 * s2, rho * s1 * s2, s2 * s2]);
        let a = risk_parity(&sigma).unwrap();
        let w1 = (1.0 / s1) / (1.0 / s1 + 1.0 / s2);
        assert!(
            (a.weights[0] - w1).abs() < 1e-11,
            "rho {rho}: {}",
            a.weights
        );
        assert_equal_risk(&a, 1e-9);
    }
}

#[test]
fn risk_parity_single_asset_and_duplicates() {
    let a = risk_parity(&dm(1, &[0.04])).unwrap();
    assert_eq!(a.weights.as_slice(), &[1.0]);
    // Duplicated asset: PSD but singular; ERC still unique.
    let sigma = dm(3, &[0.04, 0.04, 0.0, 0.04, 0.04, 0.0, 0.0, 0.0, 0.01]);
    let a = risk_parity(&sigma).unwrap();
    assert_equal_risk(&a, 1e-9);
    assert!(rel_close(a.weights[0], a.weights[1], 1e-9), "{}", a.weights);
}

#[test]
fn risk_parity_rejects_zero_variance_and_riskless_mixes() {
    let sigma = dm(2, &[0.04, 0.0, 0.0, 0.0]);
    let err = risk_parity(&sigma).unwrap_err();
    assert!(
        matches!(err, Error::InvalidParameter { name: "sigma", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("zero variance"), "{err}");
    // Perfectly negatively correlated, equal variance: (½, ½) has zero variance.
    let sigma = dm(2, &[0.04, -0.04, -0.04, 0.04]);
    let err = risk_parity(&sigma).unwrap_err();
    assert!(matches!(err, Error::Infeasible { .. }), "{err}");
}

#[test]
fn sparse_rho_zero_is_the_shorts_allowed_mean_variance_portfolio() {
    // min w'Σw − λw'μ s.t. 1'w = 1 ⇒ w = Σ⁻¹(λμ + ν1)/2 with ν fixing the budget.
    let mu = dv(&[0.10, 0.02, 0.06]);
    let sigma = dm(3, &[0.04, 0.01, 0.0, 0.01, 0.02, 0.005, 0.0, 0.005, 0.03]);
    let lambda = 0.5;
    let a = sparse_l1(&mu, &sigma, lambda, 0.0).unwrap();
    let inv = sigma.clone().try_inverse().unwrap();
    let x = &inv * &mu * (lambda / 2.0);
    let y = &inv * DVector::from_element(3, 0.5);
    let nu = (1.0 - x.sum()) / y.sum();
    let expected = x + y * nu;
    assert!(
        (&a.weights - &expected).amax() < 1e-13,
        "{} vs {}",
        a.weights,
        expected
    );
    assert!(
        a.weights.iter().any(|&w| w < 0.0),
        "this case shorts an asset"
    );
    assert_sparse_kkt(&mu, &sigma, lambda, 0.0, &a.weights);
}

#[test]
fn sparse_large_rho_removes_shorts() {
    // With a big enough ρ shorting never pays: the solution is long-only, and then ρ only
    // adds the constant ρ‖w‖₁ = ρ, so it equals the long-only QP of the same objective:
    // cara with μ' = λμ, γ = 2.
    let mu = dv(&[0.10, 0.02, 0.06]);
    let sigma = dm(3, &[0.04, 0.01, 0.0, 0.01, 0.02, 0.005, 0.0, 0.005, 0.03]);
    let a = sparse_l1(&mu, &sigma, 0.5, 10.0).unwrap();
    assert!(a.weights.iter().all(|&w| w >= 0.0));
    let long_only = cara(&(&mu * 0.5), &sigma, 2.0).unwrap();
    assert!((&a.weights - &long_only.weights).amax() < 1e-13);
    assert_sparse_kkt(&mu, &sigma, 0.5, 10.0, &a.weights);
}

#[test]
fn risk_contributions_by_hand() {
    let sigma = dm(2, &[0.04, 0.01, 0.01, 0.09]);
    let w = dv(&[0.5, 0.5]);
    // Σw = (0.025, 0.05), w'Σw = 0.0375
    let rc = risk_contributions(&w, &sigma);
    assert!((rc[0] - 0.0125 / 0.0375).abs() < 1e-15 && (rc[1] - 0.025 / 0.0375).abs() < 1e-15);
    assert_eq!(
        risk_contributions(&dv(&[0.0, 0.0]), &sigma).as_slice(),
        &[0.0, 0.0]
    );
    assert!(matches!(
        try_risk_contributions(&dv(&[1.0]), &sigma),
        Err(Error::Shape { .. })
    ));
    let ev = Allocation::from_weights(w, Some(&dv(&[0.1, 0.2])), &sigma, 0).unwrap();
    assert!((ev.expected_return - 0.15).abs() < 1e-15 && (ev.variance - 0.0375).abs() < 1e-15);
}

// ---------------------------------------------------------------------------------------------
// Bad input: errors, never panics or NaN
// ---------------------------------------------------------------------------------------------

#[test]
fn validate_covariance_rejects_each_problem_by_name() {
    assert_eq!(validate_covariance(&DMatrix::identity(3, 3), "s"), Ok(()));
    assert_eq!(validate_covariance(&DMatrix::zeros(2, 2), "s"), Ok(()));
    let e = validate_covariance(&DMatrix::zeros(0, 0), "s").unwrap_err();
    assert!(matches!(e, Error::TooShort { what: "s", .. }));
    let e = validate_covariance(&DMatrix::zeros(2, 3), "s").unwrap_err();
    assert!(matches!(e, Error::Shape { what: "s", .. }));
    assert!(e.to_string().contains("2x3"));
    let e = validate_covariance(&dm(2, &[1.0, 0.5, 0.4, 1.0]), "s").unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotPositiveDefinite {
                property: "symmetric",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("[1,0]"), "{e}");
    // Eigenvalues 3 and −1.
    let e = validate_covariance(&dm(2, &[1.0, 2.0, 2.0, 1.0]), "s").unwrap_err();
    assert!(matches!(
        e,
        Error::NotPositiveDefinite {
            property: "positive semi-definite",
            ..
        }
    ));
    assert!(e.to_string().contains("-1"), "{e}");
    let e = validate_covariance(&dm(2, &[1.0, f64::NAN, f64::NAN, 1.0]), "s").unwrap_err();
    assert!(matches!(
        e,
        Error::NonFinite {
            what: "s",
            index: 1,
            ..
        }
    ));
    let e = validate_covariance(&dm(2, &[f64::INFINITY, 0.0, 0.0, 1.0]), "s").unwrap_err();
    assert!(matches!(e, Error::NonFinite { index: 0, .. }));
    // Rounding-level asymmetry and negative eigenvalue are accepted.
    let near = dm(2, &[1.0, 1.0 + 1e-14, 1.0, 1.0 - 1e-13]);
    assert_eq!(validate_covariance(&near, "s"), Ok(()));
}

#[test]
fn every_allocator_rejects_bad_input_without_panicking() {
    let good = dm(2, &[0.04, 0.01, 0.01, 0.09]);
    let mu = dv(&[0.1, 0.2]);
    let bad_sigmas = [
        dm(2, &[0.04, 0.02, 0.01, 0.09]),         // non-symmetric
        dm(2, &[1.0, 2.0, 2.0, 1.0]),             // eigenvalue −1
        dm(2, &[0.04, f64::NAN, f64::NAN, 0.09]), // NaN
        DMatrix::zeros(2, 3),                     // not square
        DMatrix::zeros(3, 3),                     // shape mismatch with μ (cara etc.)
    ];
    for s in &bad_sigmas {
        assert!(cara(&mu, s, 1.0).is_err());
        assert!(closed_form(&mu, s, 1.0).is_err());
        assert!(sparse_l1(&mu, s, 1.0, 0.1).is_err());
        if s.nrows() == 2 {
            assert!(risk_parity(s).is_err());
        }
    }
    for m in [dv(&[0.1]), dv(&[0.1, f64::NAN]), dv(&[0.1, 0.2, 0.3])] {
        assert!(cara(&m, &good, 1.0).is_err());
        assert!(closed_form(&m, &good, 1.0).is_err());
        assert!(sparse_l1(&m, &good, 1.0, 0.1).is_err());
    }
    let e = cara(&dv(&[0.1, 0.2, 0.3]), &good, 1.0).unwrap_err();
    assert!(matches!(e, Error::Shape { what: "mu", .. }), "{e}");
    for g in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = cara(&mu, &good, g).unwrap_err();
        assert!(
            matches!(e, Error::InvalidParameter { name: "gamma", .. }),
            "{e}"
        );
        assert!(closed_form(&mu, &good, g).is_err());
    }
    for (l, r) in [
        (-1.0, 0.1),
        (1.0, -0.1),
        (f64::NAN, 0.1),
        (1.0, f64::INFINITY),
    ] {
        assert!(matches!(
            sparse_l1(&mu, &good, l, r),
            Err(Error::InvalidParameter { .. })
        ));
    }
    // Unbounded sparse problem: a riskless long-short pair with different returns, ρ too small.
    let dup = dm(2, &[0.04, 0.04, 0.04, 0.04]);
    let e = sparse_l1(&dv(&[0.1, 0.0]), &dup, 1.0, 0.01).unwrap_err();
    assert!(matches!(e, Error::Infeasible { .. }), "{e}");
    // …bounded once ρ exceeds the arbitrage: |λ(μ₁−μ₂)| = 0.1 < 2ρ.
    let a = sparse_l1(&dv(&[0.1, 0.0]), &dup, 1.0, 0.06).unwrap();
    assert_sparse_kkt(&dv(&[0.1, 0.0]), &dup, 1.0, 0.06, &a.weights);
}

// ---------------------------------------------------------------------------------------------
// Real data: 500 daily returns of 20 S&P 500 stocks (skfolio's dataset), see make_fixture.py
// ---------------------------------------------------------------------------------------------

fn sp500_returns() -> DMatrix<f64> {
    let text = include_str!("../../testdata/allocation/sp500_returns.csv");
    let mut values = Vec::new();
    let mut rows = 0;
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        values.extend(
            line.split(',')
                .skip(1)
                .map(|f| f.parse::<f64>().expect("number")),
        );
        rows += 1;
    }
    DMatrix::from_row_slice(rows, values.len() / rows, &values)
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300)
}

#[test]
fn real_data_covariances_match_numpy_and_sklearn() {
    let r = sp500_returns();
    assert_eq!(r.shape(), (500, 20));
    let mu = mean_returns(&r).unwrap();
    assert!(rel_close(mu[0], 0.00015919844109804016, 1e-12));
    assert!(rel_close(mu[19], 0.0023280002131083996, 1e-12));
    let s = sample_covariance(&r).unwrap();
    let (lw, delta) = ledoit_wolf(&r).unwrap();
    // numpy.cov(ddof=1) and sklearn.covariance.ledoit_wolf 1.9.1
    assert!(
        rel_close(delta, 0.022079932405268777, 1e-10),
        "shrinkage {delta}"
    );
    for (i, j, sv, lv) in [
        (0, 0, 0.00037757760611190967, 0.0003771316893887996),
        (0, 1, 0.0004166844829117624, 0.00040666914945935686),
        (5, 12, 0.00011726116084175975, 0.00011444269825193715),
        (19, 19, 0.0004179394918137142, 0.00041652344598657154),
    ] {
        assert!(
            rel_close(s[(i, j)], sv, 1e-11),
            "S[{i},{j}] = {}",
            s[(i, j)]
        );
        assert!(
            rel_close(lw[(i, j)], lv, 1e-11),
            "LW[{i},{j}] = {}",
            lw[(i, j)]
        );
    }
    validate_covariance(&lw, "lw").unwrap();
}

#[test]
fn real_data_cara_matches_exact_reference() {
    let r = sp500_returns();
    let (mu, s) = (mean_returns(&r).unwrap(), sample_covariance(&r).unwrap());
    let a = cara(&mu, &s, 10.0).unwrap();
    // SLSQP support, then the KKT system solved on it (numpy); cvxpy/Clarabel agrees to 6e-9.
    let support = [10, 11, 14, 16, 17, 19];
    let reference = [
        0.35232049769211077,
        0.10461855663968156,
        0.014890745071748078,
        0.06400857369250715,
        0.08160809986858264,
        0.3825535270353698,
    ];
    for i in 0..20 {
        let want = support
            .iter()
            .position(|&k| k == i)
            .map_or(0.0, |p| reference[p]);
        assert!(
            (a.weights[i] - want).abs() < 1e-10,
            "w[{i}] = {} vs {want}",
            a.weights[i]
        );
    }
    assert_cara_kkt(&mu, &s, 10.0, &a.weights);
}

#[test]
fn real_data_risk_parity_matches_scipy() {
    let r = sp500_returns();
    let s = sample_covariance(&r).unwrap();
    let a = risk_parity(&s).unwrap();
    // scipy L-BFGS-B on Spinu's objective, polished by Newton (numpy).
    let reference = [
        0.036849210106979925,
        0.025810844693391583,
        0.03892847507643562,
        0.03349515102745707,
        0.04690558665904553,
        0.03852055796695672,
        0.044641460111103794,
        0.07862545326603643,
        0.04290263534612934,
        0.0647129452655713,
        0.050087674109559104,
        0.07493943293700578,
        0.03967999197005801,
        0.065221151332657,
        0.06100282560877601,
        0.06610096358783545,
        0.027688200285891414,
        0.05456672391265169,
        0.0647519458778531,
        0.04456877085860515,
    ];
    for (i, want) in reference.iter().enumerate() {
        assert!(
            rel_close(a.weights[i], *want, 1e-9),
            "w[{i}] = {} vs {want}",
            a.weights[i]
        );
    }
    assert_equal_risk(&a, 1e-10);
}

#[test]
fn real_data_sparse_matches_cvxpy_and_rho_sparsifies() {
    let r = sp500_returns();
    let (mu, s) = (mean_returns(&r).unwrap(), sample_covariance(&r).unwrap());
    let (lambda, rho) = (0.05, 2e-5);
    let a = sparse_l1(&mu, &s, lambda, rho).unwrap();
    // cvxpy/Clarabel support and signs, polished by the KKT system on that support (numpy).
    let reference = [
        0.0,
        -0.02888332649491826,
        0.0,
        0.0,
        0.03481470444641404,
        0.0,
        0.042637072065324945,
        0.1315301851614782,
        0.0,
        0.10391417733235798,
        0.08143615684743433,
        0.14831018971515395,
        0.0,
        0.1852381719510797,
        0.05806517643289423,
        0.0,
        0.015377830451156878,
        0.07166091904252361,
        0.0037920255201058443,
        0.15210671752899446,
    ];
    for (i, want) in reference.iter().enumerate() {
        assert!(
            (a.weights[i] - want).abs() < 1e-10,
            "w[{i}] = {} vs {want}",
            a.weights[i]
        );
        assert_eq!(a.weights[i] == 0.0, *want == 0.0, "support differs at {i}");
    }
    assert_sparse_kkt(&mu, &s, lambda, rho, &a.weights);
    // Weakly more zeros as ρ grows, objective-optimal at each ρ.
    let mut zeros_prev = 0;
    for rho in [0.0, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3] {
        let a = sparse_l1(&mu, &s, lambda, rho).unwrap();
        assert_sparse_kkt(&mu, &s, lambda, rho, &a.weights);
        let zeros = a.weights.iter().filter(|&&w| w == 0.0).count();
        assert!(
            zeros >= zeros_prev,
            "rho {rho}: {zeros} zeros < {zeros_prev}"
        );
        zeros_prev = zeros;
    }
    let dense = sparse_l1(&mu, &s, lambda, 0.0).unwrap();
    assert_eq!(
        dense.weights.iter().filter(|&&w| w == 0.0).count(),
        0,
        "ρ = 0: no zeros"
    );
    assert!(
        zeros_prev >= 8,
        "a large ρ leaves a sparse portfolio ({zeros_prev} zeros)"
    );
}

// ---------------------------------------------------------------------------------------------
// Property tests on random PSD matrices Σ = AA' + εI
// ---------------------------------------------------------------------------------------------

/// (Σ, μ) with n ∈ [2, 20), rank(A) = k ∈ [1, 20), ε ∈ [lo, hi).
fn psd_case(eps_lo: f64, eps_hi: f64) -> impl Strategy<Value = (DMatrix<f64>, DVector<f64>)> {
    (2usize..20, 1usize..20, eps_lo..eps_hi)
        .prop_flat_map(|(n, k, eps)| {
            (
                Just(n),
                Just(k),
                Just(eps),
                prop::collection::vec(-1.0f64..1.0, n * k),
                prop::collection::vec(-0.5f64..0.5, n),
            )
        })
        .prop_map(|(n, k, eps, a, mu)| {
            let a = DMatrix::from_vec(n, k, a);
            let mut s = &a * a.transpose() + DMatrix::identity(n, n) * eps;
            s.fill_lower_triangle_with_upper_triangle();
            (s, DVector::from_vec(mu))
        })
}

proptest! {
    #[test]
    fn prop_cara_is_kkt_optimal((sigma, mu) in psd_case(1e-4, 0.1), gamma in 0.05f64..20.0) {
        let a = cara(&mu, &sigma, gamma).unwrap();
        assert_cara_kkt(&mu, &sigma, gamma, &a.weights);
        prop_assert!((a.risk_contributions.sum() - 1.0).abs() < 1e-10);
    }

    #[test]
    fn prop_cara_handles_singular_sigma((sigma, mu) in psd_case(0.0, 1e-300), gamma in 0.05f64..20.0) {
        let a = cara(&mu, &sigma, gamma).unwrap();
        assert_cara_kkt(&mu, &sigma, gamma, &a.weights);
    }

    #[test]
    fn prop_cara_beats_every_vertex_and_the_closed_form(
        (sigma, mu) in psd_case(1e-3, 0.1), gamma in 0.05f64..20.0,
    ) {
        let a = cara(&mu, &sigma, gamma).unwrap();
        let util = |w: &DVector<f64>| w.dot(&mu) - 0.5 * gamma * w.dot(&(&sigma * w));
        let best = util(&a.weights);
        for k in 0..mu.len() {
            let mut e = DVector::zeros(mu.len());
            e[k] = 1.0;
            prop_assert!(best >= util(&e) - 1e-12);
        }
        let cf = closed_form(&mu, &sigma, gamma);
        if let Ok(cf) = cf
            && cf.rescaled.weights.iter().all(|&w| w >= 0.0)
        {
            prop_assert!(best >= util(&cf.rescaled.weights) - 1e-12);
        }
    }

    #[test]
    fn prop_risk_parity_has_equal_contributions((sigma, _mu) in psd_case(1e-3, 0.1)) {
        let a = risk_parity(&sigma).unwrap();
        assert_equal_risk(&a, 1e-8);
    }

    #[test]
    fn prop_sparse_is_subgradient_optimal(
        (sigma, mu) in psd_case(1e-3, 0.1), lambda in 0.0f64..2.0, rho in 0.0f64..0.5,
    ) {
        let a = sparse_l1(&mu, &sigma, lambda, rho).unwrap();
        assert_sparse_kkt(&mu, &sigma, lambda, rho, &a.weights);
        // Not worse than the best single long asset.
        let f = sparse_objective(&mu, &sigma, lambda, rho, &a.weights);
        for k in 0..mu.len() {
            let mut e = DVector::zeros(mu.len());
            e[k] = 1.0;
            prop_assert!(f <= sparse_objective(&mu, &sigma, lambda, rho, &e) + 1e-12);
        }
    }

    #[test]
    fn prop_singular_sigma_gives_an_optimum_or_a_named_error(
        (sigma, mu) in psd_case(0.0, 1e-300), lambda in 0.0f64..2.0, rho in 0.0f64..0.5,
    ) {
        match sparse_l1(&mu, &sigma, lambda, rho) {
            Ok(a) => assert_sparse_kkt(&mu, &sigma, lambda, rho, &a.weights),
            Err(e) => prop_assert!(matches!(e, Error::Infeasible { .. }), "{e}"),
        }
        match risk_parity(&sigma) {
            Ok(a) => assert_equal_risk(&a, 1e-8),
            // Near-riskless long-only mixes are named; NoConvergence is the honest answer for
            // the rare ill-conditioned case in between (never a panic or NaN).
            Err(e) => prop_assert!(
                matches!(
                    e,
                    Error::Infeasible { .. }
                        | Error::InvalidParameter { .. }
                        | Error::NoConvergence { .. }
                ),
                "{e}"
            ),
        }
    }

    #[test]
    fn prop_ledoit_wolf_is_psd_and_trace_preserving(
        t in 2usize..40, n in 1usize..8, seed in prop::collection::vec(-0.05f64..0.05, 320),
    ) {
        let r = DMatrix::from_fn(t, n, |i, j| seed[(i * n + j) % seed.len()] * (1.0 + 0.1 * j as f64));
        let (lw, delta) = ledoit_wolf(&r).unwrap();
        prop_assert!((0.0..=1.0).contains(&delta));
        validate_covariance(&lw, "lw").unwrap();
        let s = sample_covariance(&r).unwrap() * ((t - 1) as f64 / t as f64);
        prop_assert!((lw.trace() - s.trace()).abs() <= 1e-12 * s.trace().max(1e-300));
    }
}
