//! Portfolio allocation: covariance estimation and four allocators over `n` assets.
//!
//! | item | what it does |
//! |---|---|
//! | [`sample_covariance`], [`mean_returns`], [`ledoit_wolf`] | estimates from a `T × n` return matrix (rows are periods) |
//! | [`cara`] | exact long-only mean-variance (CARA utility) optimum, by an active-set QP |
//! | [`closed_form`] | the unconstrained `Σ⁻¹μ/γ` and its rescaling to sum 1 |
//! | [`risk_parity`] | long-only equal-risk-contribution portfolio |
//! | [`sparse_l1`] | L1-penalised minimum-variance portfolio with shorts allowed |
//! | [`risk_contributions`], [`validate_covariance`] | shared checks and diagnostics |
//!
//! This module owns the numerical methods only: it reads no files, keeps no state and draws no
//! random numbers, so every function is a deterministic function of its arguments. It must not
//! know about venues, prices or order sizes — turning weights into orders belongs to `actors`.
//!
//! Every allocator validates its inputs first (shape, finiteness, symmetry, positive
//! semi-definiteness, parameter domains) and returns a [`crate::Error`] naming the problem; no
//! input makes it panic or return non-finite weights.

mod covariance;
mod mean_variance;
mod qp;
mod risk_parity;
mod sparse;

#[cfg(test)]
mod tests;

use nalgebra::{DMatrix, DVector};

use crate::{Error, Result};

pub use covariance::{ledoit_wolf, mean_returns, sample_covariance};
pub use mean_variance::{ClosedForm, cara, closed_form};
pub use risk_parity::risk_parity;
pub use sparse::sparse_l1;

/// Relative tolerance of the symmetry test in [`validate_covariance`]:
/// `|Σᵢⱼ − Σⱼᵢ| ≤ SYMMETRY_TOL · maxₖₗ |Σₖₗ|`.
pub const SYMMETRY_TOL: f64 = 1e-10;

/// Relative tolerance of the positive semi-definiteness test in [`validate_covariance`]:
/// the smallest eigenvalue must satisfy `λ_min ≥ −PSD_TOL · λ_max`.
pub const PSD_TOL: f64 = 1e-9;

/// A portfolio and its diagnostics, as returned by every allocator.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// Portfolio weights, one per asset; they sum to 1.
    pub weights: DVector<f64>,
    /// Fractions of the portfolio variance contributed by each asset,
    /// `RCᵢ = wᵢ (Σw)ᵢ / (w'Σw)`; they sum to 1 (all zero if the variance is zero).
    pub risk_contributions: DVector<f64>,
    /// `w'μ`; `0.0` for allocators that take no expected returns ([`risk_parity`]).
    pub expected_return: f64,
    /// Portfolio variance `w'Σw`.
    pub variance: f64,
    /// Iterations the method used (active-set changes, sweeps plus Newton steps; 0 for closed
    /// forms).
    pub iterations: usize,
}

impl Allocation {
    /// Evaluates given weights: risk contributions, expected return (`0.0` without `mu`) and
    /// variance. Useful to report on weights computed elsewhere (e.g. equal weights).
    ///
    /// # Errors
    /// [`Error::Shape`] if `weights`, `mu` and `sigma` disagree in size; [`Error::NonFinite`]
    /// if any value is NaN or infinite.
    pub fn from_weights(
        weights: DVector<f64>,
        mu: Option<&DVector<f64>>,
        sigma: &DMatrix<f64>,
        iterations: usize,
    ) -> Result<Self> {
        check_square("sigma", sigma)?;
        check_len("weights", &weights, sigma.nrows())?;
        crate::error::ensure_finite("weights", weights.as_slice())?;
        crate::error::ensure_finite("sigma", sigma.as_slice())?;
        if let Some(mu) = mu {
            check_len("mu", mu, sigma.nrows())?;
            crate::error::ensure_finite("mu", mu.as_slice())?;
        }
        Self::evaluate(weights, mu, sigma, iterations)
    }

    /// [`Allocation::from_weights`] without the input checks, for allocators that have
    /// validated their inputs. The result is still checked: weights, variance and expected
    /// return must be finite (extreme λ or μ can overflow), so no allocator returns NaN weights.
    pub(crate) fn evaluate(
        weights: DVector<f64>,
        mu: Option<&DVector<f64>>,
        sigma: &DMatrix<f64>,
        iterations: usize,
    ) -> Result<Self> {
        if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
            return Err(Error::Numerical {
                what: "allocation",
                detail: format!(
                    "weight {i} is {} (inputs too extreme for f64; rescale mu, lambda or gamma)",
                    weights[i]
                ),
            });
        }
        let sw = sigma * &weights;
        let variance = weights.dot(&sw);
        let risk_contributions = contributions(&weights, &sw, variance);
        let expected_return = mu.map_or(0.0, |m| weights.dot(m));
        if !(variance.is_finite() && expected_return.is_finite()) {
            return Err(Error::Numerical {
                what: "allocation",
                detail: format!(
                    "portfolio variance {variance} or expected return {expected_return} is not \
                     finite (inputs too extreme for f64)"
                ),
            });
        }
        Ok(Self {
            weights,
            risk_contributions,
            expected_return,
            variance,
            iterations,
        })
    }
}

/// Risk contributions `RCᵢ = wᵢ (Σw)ᵢ / (w'Σw)` as fractions of the total variance (they sum
/// to 1). When `w'Σw ≤ 0` there is no risk to attribute and the result is all zeros.
///
/// # Panics
/// If `w.len()` differs from the size of `sigma` (a caller bug, as for a matrix product). Use
/// [`try_risk_contributions`] for unchecked input.
#[must_use]
pub fn risk_contributions(w: &DVector<f64>, sigma: &DMatrix<f64>) -> DVector<f64> {
    assert!(
        sigma.is_square() && sigma.nrows() == w.len(),
        "risk_contributions: weights have {} entries but sigma is {}x{}",
        w.len(),
        sigma.nrows(),
        sigma.ncols()
    );
    let sw = sigma * w;
    let variance = w.dot(&sw);
    contributions(w, &sw, variance)
}

/// Checked form of [`risk_contributions`].
///
/// # Errors
/// [`Error::Shape`] if `sigma` is not square or `w` does not match it; [`Error::NonFinite`]
/// on NaN or infinite input.
pub fn try_risk_contributions(w: &DVector<f64>, sigma: &DMatrix<f64>) -> Result<DVector<f64>> {
    check_square("sigma", sigma)?;
    check_len("weights", w, sigma.nrows())?;
    crate::error::ensure_finite("weights", w.as_slice())?;
    crate::error::ensure_finite("sigma", sigma.as_slice())?;
    Ok(risk_contributions(w, sigma))
}

fn contributions(w: &DVector<f64>, sw: &DVector<f64>, variance: f64) -> DVector<f64> {
    if variance > 0.0 && variance.is_finite() {
        w.component_mul(sw) / variance
    } else {
        DVector::zeros(w.len())
    }
}

/// Checks that `sigma` can serve as a covariance matrix: non-empty, square, finite, symmetric
/// to [`SYMMETRY_TOL`] relative to its largest entry, and positive semi-definite: its smallest
/// eigenvalue is at least `−PSD_TOL · λ_max`.
///
/// The PSD test first tries a Cholesky factorisation of `Σ + PSD_TOL·maxᵢΣᵢᵢ·I` (success
/// proves `λ_min > −PSD_TOL·maxᵢΣᵢᵢ ≥ −PSD_TOL·λ_max`); only if that fails are the eigenvalues
/// computed, to decide borderline cases and to report the smallest eigenvalue.
///
/// # Errors
/// - [`Error::TooShort`] for a 0×0 matrix;
/// - [`Error::Shape`] if not square;
/// - [`Error::NonFinite`] at the first NaN/infinite entry (index in column-major order);
/// - [`Error::NotPositiveDefinite`] with property `"symmetric"` or `"positive semi-definite"`,
///   naming the offending pair or the smallest eigenvalue.
pub fn validate_covariance(sigma: &DMatrix<f64>, what: &'static str) -> Result<()> {
    check_square(what, sigma)?;
    let n = sigma.nrows();
    crate::error::ensure_finite(what, sigma.as_slice())?;
    let max_abs = sigma.amax();
    let sym_tol = SYMMETRY_TOL * max_abs;
    for j in 0..n {
        for i in (j + 1)..n {
            let (a, b) = (sigma[(i, j)], sigma[(j, i)]);
            if (a - b).abs() > sym_tol {
                return Err(Error::NotPositiveDefinite {
                    what,
                    property: "symmetric",
                    detail: format!("entry [{i},{j}] = {a:e} but [{j},{i}] = {b:e}"),
                });
            }
        }
    }
    let max_diag = sigma.diagonal().max();
    if max_diag > 0.0 {
        let mut shifted = sigma.clone();
        for i in 0..n {
            shifted[(i, i)] += PSD_TOL * max_diag;
        }
        if shifted.cholesky().is_some() {
            return Ok(());
        }
    }
    let eig = sigma.clone().symmetric_eigenvalues();
    let (lo, hi) = (eig.min(), eig.max());
    if lo >= -PSD_TOL * hi.max(0.0) {
        Ok(())
    } else {
        Err(Error::NotPositiveDefinite {
            what,
            property: "positive semi-definite",
            detail: format!("smallest eigenvalue {lo:e} < -{PSD_TOL:e} x largest {hi:e}"),
        })
    }
}

/// Non-empty and square.
pub(crate) fn check_square(what: &'static str, m: &DMatrix<f64>) -> Result<()> {
    if m.nrows() == 0 || m.ncols() == 0 {
        return Err(Error::TooShort {
            what,
            needed: 1,
            got: 0,
        });
    }
    if !m.is_square() {
        return Err(Error::Shape {
            what,
            expected: "a square matrix".into(),
            got: format!("{}x{}", m.nrows(), m.ncols()),
        });
    }
    Ok(())
}

/// A vector of length `n`.
pub(crate) fn check_len(what: &'static str, v: &DVector<f64>, n: usize) -> Result<()> {
    if v.len() == n {
        Ok(())
    } else {
        Err(Error::Shape {
            what,
            expected: format!("{n} entries"),
            got: format!("{}", v.len()),
        })
    }
}

/// Checks `mu` against a validated `sigma`: same size, finite.
pub(crate) fn check_mu(mu: &DVector<f64>, sigma: &DMatrix<f64>) -> Result<()> {
    check_len("mu", mu, sigma.nrows())?;
    crate::error::ensure_finite("mu", mu.as_slice())
}

/// A finite parameter within a domain, or [`Error::InvalidParameter`] with `reason`.
pub(crate) fn check_param(
    name: &'static str,
    value: f64,
    ok: impl Fn(f64) -> bool,
    reason: &str,
) -> Result<()> {
    if value.is_finite() && ok(value) {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            value: format!("{value}"),
            reason: reason.into(),
        })
    }
}
