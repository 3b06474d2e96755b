//! Mean-variance (CARA-utility) allocation: the exact long-only, fully invested optimum
//! ([`cara`]) and the unconstrained closed form ([`closed_form`]).
//!
//! With a CARA (exponential) utility and Gaussian returns, maximising expected utility is
//! maximising `w'μ − (γ/2) w'Σw`, `γ > 0` the absolute risk aversion.

use nalgebra::{DMatrix, DVector};

use super::qp::{self, Hessian};
use super::{Allocation, check_mu, check_param, validate_covariance};
use crate::{Error, Result};

/// `γΣ` as the QP Hessian.
struct ScaledCovariance<'a> {
    sigma: &'a DMatrix<f64>,
    gamma: f64,
}

impl Hessian for ScaledCovariance<'_> {
    fn dim(&self) -> usize {
        self.sigma.nrows()
    }
    #[inline]
    fn entry(&self, i: usize, j: usize) -> f64 {
        self.gamma * self.sigma[(i, j)]
    }
}

/// The inputs both mean-variance solvers take: a valid covariance, a matching finite `μ` and
/// a finite `γ > 0`.
fn check_mean_variance_inputs(mu: &DVector<f64>, sigma: &DMatrix<f64>, gamma: f64) -> Result<()> {
    validate_covariance(sigma, "sigma")?;
    check_mu(mu, sigma)?;
    check_param(
        "gamma",
        gamma,
        |g| g > 0.0,
        "risk aversion must be finite and > 0",
    )?;
    Ok(())
}

/// The exact long-only CARA / mean-variance portfolio:
///
/// `maximise w'μ − (γ/2) w'Σw   subject to   Σᵢwᵢ = 1,  w ≥ 0`.
///
/// Solved exactly by a primal active-set QP (see the `qp` module): it starts at the best
/// single-asset portfolio and adds/removes assets until the KKT conditions
/// `μ − γΣw − ν·1 + s = 0`, `s ≥ 0`, `sᵢwᵢ = 0` hold to rounding error; because the problem is
/// convex these are sufficient for a global optimum. It terminates finitely (strict descent
/// after each release, so no active set repeats: no cycling) and reports the number of
/// subproblems solved in [`Allocation::iterations`]. A singular but PSD `Σ` (e.g. duplicated
/// assets) is handled by a null-space step; the optimal *value* is then unique and one
/// optimal portfolio is returned (weights that are zero are exactly `0.0`).
///
/// # Errors
/// - invalid `sigma` (see [`validate_covariance`]);
/// - [`Error::Shape`] / [`Error::NonFinite`] for a bad `mu`;
/// - [`Error::InvalidParameter`] unless `γ` is finite and `> 0`;
/// - [`Error::NoConvergence`] if the active-set iteration cap is reached (not expected).
pub fn cara(mu: &DVector<f64>, sigma: &DMatrix<f64>, gamma: f64) -> Result<Allocation> {
    check_mean_variance_inputs(mu, sigma, gamma)?;
    let n = mu.len();
    // Best single asset: minimises (γ/2)Σₖₖ − μₖ.
    let start = (0..n)
        .min_by(|&i, &j| {
            let f = |k: usize| 0.5 * gamma * sigma[(k, k)] - mu[k];
            f(i).total_cmp(&f(j))
        })
        .unwrap_or(0);
    let h = ScaledCovariance { sigma, gamma };
    let c = -mu;
    let ones = DVector::from_element(n, 1.0);
    let sol = qp::solve(&h, &c, &ones, 1.0, start, "cara active-set QP")?;
    let mut w = sol.x;
    // Remove the last rounding drift from the budget constraint.
    let total = w.sum();
    w /= total;
    Allocation::evaluate(w, Some(mu), sigma, sol.iterations)
}

/// Result of [`closed_form`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedForm {
    /// The unconstrained CARA optimum `Σ⁻¹μ/γ` (no budget, shorts and leverage allowed): the
    /// holdings of risky assets when the rest sits in a zero-return cash account.
    pub raw: DVector<f64>,
    /// `raw / Σᵢrawᵢ`: rescaled to sum 1 (the tangency portfolio direction).
    pub rescaled: Allocation,
}

/// The unconstrained mean-variance solution `Σ⁻¹μ/γ` and its rescaling to sum 1.
///
/// The rescaled portfolio is **not** the solution of [`cara`] in general: rescaling does not
/// impose `w ≥ 0` (it can hold shorts), and even when all entries are positive the budget
/// `Σw = 1` is not the unconstrained optimum's own scale, so the risk–return trade-off differs.
/// They coincide only when `Σ⁻¹μ/γ` already sums to 1 and is non-negative. The rescaling also
/// flips the sign of the whole portfolio when `Σᵢrawᵢ < 0`.
///
/// # Errors
/// - invalid `sigma`, bad `mu` or `γ` as for [`cara`];
/// - [`Error::NotPositiveDefinite`] (property `"positive definite"`) when `Σ` is singular or
///   numerically singular (its Cholesky factorisation fails or has a pivot below `1e-12`
///   relative to the largest variance) — `Σ⁻¹` does not exist;
/// - [`Error::Numerical`] when `Σᵢrawᵢ ≈ 0` (below `1e-12·‖raw‖₁`): the rescaling divides by
///   zero.
pub fn closed_form(mu: &DVector<f64>, sigma: &DMatrix<f64>, gamma: f64) -> Result<ClosedForm> {
    check_mean_variance_inputs(mu, sigma, gamma)?;
    let n = mu.len();
    let singular = |detail: String| Error::NotPositiveDefinite {
        what: "sigma",
        property: "positive definite",
        detail,
    };
    let chol = sigma.clone().cholesky().ok_or_else(|| {
        singular("Cholesky factorisation failed: Σ is singular, Σ⁻¹μ does not exist".into())
    })?;
    let l = chol.l_dirty();
    let max_diag = sigma.diagonal().max();
    if let Some(i) = (0..n).find(|&i| l[(i, i)] * l[(i, i)] <= 1e-12 * max_diag) {
        return Err(singular(format!(
            "numerically singular: Cholesky pivot {i} is {:e} vs largest variance {max_diag:e}",
            l[(i, i)] * l[(i, i)]
        )));
    }
    let raw = chol.solve(mu) / gamma;
    if raw.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numerical {
            what: "closed_form",
            detail: "Σ⁻¹μ/γ overflowed".into(),
        });
    }
    let total = raw.sum();
    let l1 = raw.lp_norm(1);
    if total.abs() <= 1e-12 * l1 || l1 == 0.0 {
        return Err(Error::Numerical {
            what: "closed_form rescaling",
            detail: format!(
                "the raw weights Σ⁻¹μ/γ sum to {total:e} (≈ 0 against ‖raw‖₁ = {l1:e}); \
                 they cannot be rescaled to sum 1"
            ),
        });
    }
    let rescaled = Allocation::evaluate(&raw / total, Some(mu), sigma, 0)?;
    Ok(ClosedForm { raw, rescaled })
}
