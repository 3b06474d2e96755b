//! Least-squares calibration of the Chiarella model to a price series.
//!
//! Owns the regression and the mapping from its identifiable coefficients to
//! [`ChiarellaParams`]; it does not simulate (tests use [`super::sample_path`] for that).

use serde::Serialize;

use super::ChiarellaParams;
use crate::{Error, Result};

/// Fewest prices [`calibrate`] accepts (the regression has 3 coefficients and uses `n − 2` rows).
pub const MIN_CALIBRATION_PRICES: usize = 10;

/// A fitted model and the diagnostics of its regression.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Calibration {
    /// Fitted parameters under the documented normalisation (see [`calibrate`]); `p0` is the
    /// last price, so simulating from them starts from "now".
    pub params: ChiarellaParams,
    /// Whether the full regression found mean reversion (`a > 0` and `F > 0`). When `false` the
    /// restricted model `Δp[k] = b·Δp[k−1] + e[k]` was fitted instead: `a = 0`, `α_F = 0` and
    /// `F` is parked at the last price (fundamentalists are inactive).
    pub mean_reverting: bool,
    /// Per-step fundamentalist gain `a = λ·w_F·α_F·Δt`.
    pub a: f64,
    /// Per-step chartist gain `b = λ·w_C·α_C·Δt`.
    pub b: f64,
    /// Fitted fundamental value `F = intercept / a` (the last price when not mean-reverting).
    pub fundamental: f64,
    /// Identifiable product `λ·w_F·α_F = a / Δt`.
    pub fundamental_gain: f64,
    /// Identifiable product `λ·w_C·α_C = b / Δt`.
    pub chartist_gain: f64,
    /// Residual standard deviation per step, in price units (ddof = number of coefficients:
    /// 3, or 1 for the restricted model).
    pub residual_std: f64,
    /// Coefficient of determination `1 − SSR/SST` of `Δp` (SST centred; 1 when `Δp` is constant
    /// and fitted exactly; can be slightly negative for the restricted model, which has no
    /// intercept).
    pub r_squared: f64,
    /// Number of regression rows (`prices.len() − 2`).
    pub n: usize,
}

/// Fits the model to `prices` sampled every `dt` by ordinary least squares on
///
/// ```text
/// Δp[k] = p[k+1] − p[k] = a·(F − p[k]) + b·(p[k] − p[k−1]) + e[k],   k = 1 … n−2
/// ```
///
/// i.e. `Δp` regressed on `[1, p[k], Δp[k−1]]` (intercept `a·F`, slope `−a`, slope `b`).
///
/// Only `a = λ·w_F·α_F·Δt`, `b = λ·w_C·α_C·Δt`, `F` and the shock variance are identifiable.
/// Normalisation of the returned [`ChiarellaParams`]:
/// * `λ = 1` and equal weights `w_F = w_C = w_N = 1/3` (they sum to 1); the reaction speeds
///   absorb the scale: `α_F = 3a/Δt`, `α_C = 3b/Δt` (negative `α_C` = contrarian chartists).
/// * All residual noise is attributed to the noise traders: `σ_p = 0` and
///   `σ_N = 3·residual_std/Δt`, so the one-step shock `λ·w_N·σ_N·Δt` equals `residual_std`.
///   (`σ_N` and `σ_p` are not separately identifiable from prices: both are white noise.)
/// * `p0` is the last price.
///
/// Simulating the returned parameters reproduces the fitted dynamics in law.
///
/// When the window shows no mean reversion (fitted `a ≤ 0`, or `F = intercept/a` not > 0), `F`
/// is not identifiable: the restricted model `Δp[k] = b·Δp[k−1] + e[k]` is fitted instead and
/// [`Calibration::mean_reverting`] is `false` (`α_F = 0`, `F` = last price). Trending windows
/// are common in crypto, so this is a result, not an error. A tiny positive `a` gives a valid
/// but poorly determined (possibly far away) `F`.
///
/// # Errors
/// * [`Error::TooShort`] with fewer than [`MIN_CALIBRATION_PRICES`] prices;
/// * [`Error::NonFinite`] / [`Error::InvalidParameter`] (`"prices"`, naming the index) for a
///   non-finite or non-positive price; [`Error::InvalidParameter`] `"dt"` unless `dt > 0`;
/// * [`Error::Numerical`] (recoverable: a later window may fit) when the regression is singular
///   (constant prices, constant price changes).
pub fn calibrate(prices: &[f64], dt: f64) -> Result<Calibration> {
    validate_inputs(prices, dt)?;
    let fit = Ols::fit(prices)?;
    let a = -fit.slope_p;
    let fundamental = fit.intercept / a;
    let last = prices[prices.len() - 1];
    let (mean_reverting, a, b, fundamental, residual_std, r_squared) =
        if a > 0.0 && fundamental.is_finite() && fundamental > 0.0 {
            (
                true,
                a,
                fit.slope_momentum,
                fundamental,
                fit.residual_std,
                fit.r_squared,
            )
        } else {
            // No mean reversion in the window: F is not identifiable, so fit the restricted
            // model without fundamentalists (a = 0) and park F at the last price.
            let m = MomentumOnly::fit(prices);
            (false, 0.0, m.slope, last, m.residual_std, m.r_squared)
        };
    let third = 1.0 / 3.0;
    let params = ChiarellaParams {
        p0: last,
        fundamental,
        alpha_f: 3.0 * a / dt,
        alpha_c: 3.0 * b / dt,
        w_f: third,
        w_c: third,
        w_n: third,
        sigma_n: 3.0 * residual_std / dt,
        sigma_p: 0.0,
        lambda: 1.0,
        dt,
    };
    params.validate().map_err(|e| Error::Numerical {
        what: "chiarella calibration",
        detail: format!("fitted parameters are out of range: {e}"),
    })?;
    Ok(Calibration {
        params,
        mean_reverting,
        a,
        b,
        fundamental,
        fundamental_gain: a / dt,
        chartist_gain: b / dt,
        residual_std,
        r_squared,
        n: fit.n,
    })
}

fn validate_inputs(prices: &[f64], dt: f64) -> Result<()> {
    if prices.len() < MIN_CALIBRATION_PRICES {
        return Err(Error::TooShort {
            what: "prices",
            needed: MIN_CALIBRATION_PRICES,
            got: prices.len(),
        });
    }
    crate::error::ensure_finite("prices", prices)?;
    if let Some(i) = prices.iter().position(|&p| p <= 0.0) {
        return Err(Error::InvalidParameter {
            name: "prices",
            value: format!("{} at index {i}", prices[i]),
            reason: "prices must be > 0".into(),
        });
    }
    if !(dt.is_finite() && dt > 0.0) {
        return Err(Error::InvalidParameter {
            name: "dt",
            value: dt.to_string(),
            reason: "must be finite and > 0".into(),
        });
    }
    Ok(())
}

/// `Δp[k] = c + β_p·p[k] + β_m·Δp[k−1]`, solved on centred data (2×2 normal equations).
struct Ols {
    intercept: f64,
    slope_p: f64,
    slope_momentum: f64,
    residual_std: f64,
    r_squared: f64,
    n: usize,
}

impl Ols {
    fn fit(prices: &[f64]) -> Result<Self> {
        // Row k (1 ..= len−2): x1 = p[k], x2 = p[k] − p[k−1], y = p[k+1] − p[k].
        let rows = || prices.windows(3).map(|w| (w[1], w[1] - w[0], w[2] - w[1]));
        let n = prices.len() - 2;
        let nf = n as f64;
        let (s1, s2, sy) = rows().fold((0.0, 0.0, 0.0), |(a, b, c), (x1, x2, y)| {
            (a + x1, b + x2, c + y)
        });
        let (m1, m2, my) = (s1 / nf, s2 / nf, sy / nf);
        let (mut s11, mut s12, mut s22, mut s1y, mut s2y, mut syy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for (x1, x2, y) in rows() {
            let (d1, d2, dy) = (x1 - m1, x2 - m2, y - my);
            s11 += d1 * d1;
            s12 += d1 * d2;
            s22 += d2 * d2;
            s1y += d1 * dy;
            s2y += d2 * dy;
            syy += dy * dy;
        }
        let det = s11 * s22 - s12 * s12;
        // Relative test: det / (s11·s22) = 1 − corr(x1, x2)², 0 for collinear columns.
        if !(s11 > 0.0 && s22 > 0.0 && det > 1e-12 * s11 * s22) {
            return Err(Error::Numerical {
                what: "chiarella calibration",
                detail: "singular regression: prices are constant or their changes are \
                         collinear with the price level"
                    .into(),
            });
        }
        let slope_p = (s22 * s1y - s12 * s2y) / det;
        let slope_momentum = (s11 * s2y - s12 * s1y) / det;
        let intercept = my - slope_p * m1 - slope_momentum * m2;
        let ssr: f64 = rows()
            .map(|(x1, x2, y)| {
                let e = y - intercept - slope_p * x1 - slope_momentum * x2;
                e * e
            })
            .sum();
        let r_squared = if syy > 0.0 { 1.0 - ssr / syy } else { 1.0 };
        Ok(Ols {
            intercept,
            slope_p,
            slope_momentum,
            residual_std: (ssr / (nf - 3.0)).sqrt(),
            r_squared,
            n,
        })
    }
}

/// `Δp[k] = b·Δp[k−1] + e[k]` (no intercept, no level): the model without fundamentalists.
struct MomentumOnly {
    slope: f64,
    residual_std: f64,
    r_squared: f64,
}

impl MomentumOnly {
    /// Only called after [`Ols::fit`] succeeded, so `Δp[k−1]` is not constant and `Σ x² > 0`.
    fn fit(prices: &[f64]) -> Self {
        let rows = || prices.windows(3).map(|w| (w[1] - w[0], w[2] - w[1]));
        let n = (prices.len() - 2) as f64;
        let (sxx, sxy, sy) = rows().fold((0.0, 0.0, 0.0), |(a, b, c), (x, y)| {
            (a + x * x, b + x * y, c + y)
        });
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let my = sy / n;
        let (ssr, syy) = rows().fold((0.0, 0.0), |(r, t), (x, y)| {
            let e = y - slope * x;
            (r + e * e, t + (y - my) * (y - my))
        });
        MomentumOnly {
            slope,
            residual_std: (ssr / (n - 1.0)).sqrt(),
            r_squared: if syy > 0.0 { 1.0 - ssr / syy } else { 1.0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sample_path;
    use super::super::tests::base_params;
    use super::*;

    #[test]
    fn recovers_identifiable_products_from_a_simulated_path() {
        // a = λ·w_F·α_F·Δt = 1·0.5·0.2·1 = 0.1; b = 1·0.3·0.5·1 = 0.15;
        // shock std √((1·0.2·1·1)² + 0.1²) = √0.05 ≈ 0.2236; F = 100.
        let truth = base_params();
        let path = sample_path(&truth, 20_000, 2024).unwrap();
        let cal = calibrate(&path, truth.dt).unwrap();
        assert!(cal.mean_reverting);
        assert_eq!(cal.n, 19_999);
        assert!((cal.a - 0.1).abs() < 0.015, "{cal:?}");
        assert!((cal.b - 0.15).abs() < 0.02, "{cal:?}");
        assert!((cal.fundamental - 100.0).abs() < 0.05, "{cal:?}");
        assert!(
            (cal.residual_std - 0.05_f64.sqrt()).abs() < 0.005,
            "{cal:?}"
        );
        assert!(cal.r_squared > 0.0 && cal.r_squared < 1.0);
        // The normalised parameters give back the same gains and shock.
        let p = cal.params;
        assert!((p.w_f + p.w_c + p.w_n - 1.0).abs() < 1e-15);
        assert!((p.fundamental_gain_per_step() - cal.a).abs() < 1e-12);
        assert!((p.chartist_gain_per_step() - cal.b).abs() < 1e-12);
        assert!((p.shock_std_per_step() - cal.residual_std).abs() < 1e-12);
        assert_eq!(p.p0, *path.last().unwrap());
    }

    #[test]
    fn dt_rescales_the_products_not_the_gains() {
        let mut truth = base_params();
        truth.dt = 0.25;
        truth.alpha_f = 0.8; // a = 0.5·0.8·0.25 = 0.1 per step again
        let path = sample_path(&truth, 20_000, 7).unwrap();
        let cal = calibrate(&path, truth.dt).unwrap();
        // λ·w_F·α_F = 0.4, λ·w_C·α_C = 0.15
        assert!((cal.fundamental_gain - 0.4).abs() < 0.06, "{cal:?}");
        assert!((cal.chartist_gain - 0.15).abs() < 0.1, "{cal:?}");
    }

    #[test]
    fn input_errors_are_clear() {
        let err = calibrate(&[100.0; 5], 1.0).unwrap_err();
        assert!(matches!(
            err,
            Error::TooShort {
                what: "prices",
                needed: 10,
                got: 5
            }
        ));
        let err = calibrate(&[100.0; 50], 1.0).unwrap_err();
        assert!(err.to_string().contains("singular"), "{err}");
        // A straight line: Δp constant ⇒ momentum column constant ⇒ singular.
        let line: Vec<f64> = (0..50).map(|i| 100.0 + f64::from(i)).collect();
        assert!(
            calibrate(&line, 1.0)
                .unwrap_err()
                .to_string()
                .contains("singular")
        );
        let mut bad = vec![100.0; 20];
        bad[7] = f64::NAN;
        assert!(matches!(
            calibrate(&bad, 1.0),
            Err(Error::NonFinite { index: 7, .. })
        ));
        bad[7] = -3.0;
        let err = calibrate(&bad, 1.0).unwrap_err();
        assert!(err.to_string().contains("index 7"), "{err}");
        let ok: Vec<f64> = (0..20).map(|i| 100.0 + f64::from(i % 3)).collect();
        assert!(calibrate(&ok, 0.0).unwrap_err().to_string().contains("dt"));
    }

    #[test]
    fn trending_window_falls_back_to_momentum_only() {
        // Exponential growth with a wiggle: Δp grows with p, so the full fit has a < 0.
        let prices: Vec<f64> = (0..200)
            .map(|i| 100.0 * 1.01_f64.powi(i) + if i % 2 == 0 { 0.3 } else { -0.3 })
            .collect();
        let cal = calibrate(&prices, 1.0).unwrap();
        assert!(!cal.mean_reverting, "{cal:?}");
        assert_eq!((cal.a, cal.params.alpha_f), (0.0, 0.0));
        assert_eq!(cal.fundamental, prices[199]);
        assert!(cal.residual_std.is_finite() && cal.residual_std > 0.0);
        assert_eq!(cal.params.validate(), Ok(()));
    }

    #[test]
    fn real_btcusdt_windows_calibrate() {
        let Some(closes) = crate::testdata::btcusdt_1h_closes() else {
            return; // skipped loudly by testdata when the data directory is absent
        };
        let mut reverting = 0;
        for window in closes.chunks_exact(500) {
            let cal = calibrate(window, 1.0).unwrap();
            assert_eq!(cal.params.validate(), Ok(()));
            assert!(cal.residual_std > 0.0 && cal.r_squared < 1.0, "{cal:?}");
            reverting += usize::from(cal.mean_reverting);
        }
        assert!(reverting > 0, "some 500-hour windows of BTC mean-revert");
    }

    #[test]
    fn noiseless_fit_is_exact() {
        // Deterministic damped oscillation from a = 0.3, b = 0.4, F = 50: the regression is exact.
        let truth = ChiarellaParams {
            p0: 60.0,
            fundamental: 50.0,
            alpha_f: 0.6,
            alpha_c: 0.8,
            w_f: 0.5,
            w_c: 0.5,
            w_n: 0.0,
            sigma_n: 0.0,
            sigma_p: 0.0,
            lambda: 1.0,
            dt: 1.0,
        };
        let path = sample_path(&truth, 30, 0).unwrap();
        let cal = calibrate(&path, 1.0).unwrap();
        assert!((cal.a - 0.3).abs() < 1e-8, "{cal:?}");
        assert!((cal.b - 0.4).abs() < 1e-8, "{cal:?}");
        assert!((cal.fundamental - 50.0).abs() < 1e-6, "{cal:?}");
        assert!(cal.residual_std < 1e-8 && cal.r_squared > 1.0 - 1e-12);
    }
}
