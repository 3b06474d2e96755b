//! L1-penalised minimum-variance portfolio with shorts allowed.
//!
//! ```text
//! minimise  w'Σw − λ w'μ + ρ‖w‖₁   subject to   Σᵢwᵢ = 1   (w free in sign)
//! ```
//!
//! Why shorts: on the long-only simplex (`w ≥ 0`, `Σw = 1`) the L1 norm is constant,
//! `‖w‖₁ = Σwᵢ = 1`, so the penalty would change nothing. Allowing `w < 0` makes `ρ` price
//! gross exposure `‖w‖₁ = 1 + 2·(total short)`; larger `ρ` gives fewer, smaller shorts and more
//! exact zeros.
//!
//! Solved exactly with the split `w = u − v`, `u, v ≥ 0` (`‖w‖₁ = 1'(u + v)` at the optimum),
//! a convex QP in `2n` variables with the single equality `1'u − 1'v = 1`, handed to the same
//! active-set solver as [`super::cara`]. Its KKT conditions are the subgradient optimality
//! conditions of the original problem: `2Σw − λμ − ν1 + ρz = 0` with `zᵢ = sign(wᵢ)` where
//! `wᵢ ≠ 0` and `|zᵢ| ≤ 1` where `wᵢ = 0`. For `ρ > 0` a pair `(uᵢ, vᵢ)` is never both
//! positive: their bound multipliers sum to `2ρ`.

use nalgebra::{DMatrix, DVector};

use super::qp::{self, Hessian};
use super::{Allocation, check_mu, check_param, validate_covariance};
use crate::Result;

/// `H = 2[Σ −Σ; −Σ Σ]` for `x = (u, v)`, never stored.
struct SplitCovariance<'a> {
    sigma: &'a DMatrix<f64>,
}

impl Hessian for SplitCovariance<'_> {
    fn dim(&self) -> usize {
        2 * self.sigma.nrows()
    }
    #[inline]
    fn entry(&self, i: usize, j: usize) -> f64 {
        let n = self.sigma.nrows();
        let (ri, si) = if i < n { (i, 1.0) } else { (i - n, -1.0) };
        let (rj, sj) = if j < n { (j, 1.0) } else { (j - n, -1.0) };
        2.0 * si * sj * self.sigma[(ri, rj)]
    }
}

/// Sparse (L1-penalised) portfolio: `min w'Σw − λw'μ + ρ‖w‖₁` s.t. `Σwᵢ = 1`, shorts allowed
/// (see the module docs for why). Solved exactly by the active-set QP on `w = u − v`; the
/// result satisfies the subgradient KKT conditions to rounding error and zero weights are
/// exactly `0.0`. [`Allocation::iterations`] counts active-set subproblems.
///
/// `λ ≥ 0` trades expected return against variance; `ρ ≥ 0` prices gross exposure (`ρ = 0`
/// is the shorts-allowed mean-variance portfolio, which needs `Σ` positive definite on the
/// budget hyperplane to be bounded).
///
/// # Errors
/// - invalid `sigma` (see [`super::validate_covariance`]); bad `mu` (shape, NaN);
/// - [`crate::Error::InvalidParameter`] unless `λ` and `ρ` are finite and `≥ 0`;
/// - [`crate::Error::Infeasible`] if the objective is unbounded below (a singular `Σ` whose
///   riskless long-short direction earns more `λμ` than its `ρ` cost);
/// - [`crate::Error::NoConvergence`] if the iteration cap is reached (not expected).
pub fn sparse_l1(
    mu: &DVector<f64>,
    sigma: &DMatrix<f64>,
    lambda: f64,
    rho: f64,
) -> Result<Allocation> {
    validate_covariance(sigma, "sigma")?;
    check_mu(mu, sigma)?;
    check_param(
        "lambda",
        lambda,
        |l| l >= 0.0,
        "return weight must be finite and >= 0",
    )?;
    check_param(
        "rho",
        rho,
        |r| r >= 0.0,
        "L1 penalty must be finite and >= 0",
    )?;
    let n = mu.len();
    // Start at the best single long asset: objective Σₖₖ − λμₖ + ρ.
    let start = (0..n)
        .min_by(|&i, &j| {
            let f = |k: usize| sigma[(k, k)] - lambda * mu[k];
            f(i).total_cmp(&f(j))
        })
        .unwrap_or(0);
    let c = DVector::from_fn(2 * n, |i, _| {
        if i < n {
            rho - lambda * mu[i]
        } else {
            rho + lambda * mu[i - n]
        }
    });
    let a = DVector::from_fn(2 * n, |i, _| if i < n { 1.0 } else { -1.0 });
    let sol = qp::solve(
        &SplitCovariance { sigma },
        &c,
        &a,
        1.0,
        start,
        "sparse_l1 active-set QP",
    )?;
    let mut w = DVector::from_fn(n, |i, _| sol.x[i] - sol.x[n + i]);
    // Remove the last rounding drift from the budget constraint.
    let total = w.sum();
    w /= total;
    Allocation::evaluate(w, Some(mu), sigma, sol.iterations)
}
