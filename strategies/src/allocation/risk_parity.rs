//! Long-only equal-risk-contribution ("risk parity") portfolio.
//!
//! Owns the solver only: input checks come from [`super::validate_covariance`], diagnostics
//! from [`super::Allocation`].
//!
//! # Formulation (Spinu 2013; Griveau-Billion, Richard & Roncalli 2013)
//! With `D = diag(σ)` and the correlation matrix `C = D⁻¹ΣD⁻¹`, solve the strictly convex
//! problem
//!
//! `z* = argmin_{z > 0}  ½ z'Cz − (1/n) Σᵢ log zᵢ`.
//!
//! Its first-order condition is `zᵢ (Cz)ᵢ = 1/n` for every `i`, so `y = D⁻¹z` satisfies
//! `yᵢ(Σy)ᵢ = 1/n` and `w = y / Σᵢyᵢ` has equal risk contributions `RCᵢ = 1/n`. The
//! minimiser exists and is unique when no long-only portfolio has zero variance.
//!
//! Two phases:
//! 1. **Cyclical coordinate descent**: each coordinate is minimised exactly,
//!    `zᵢ ← (−cᵢ + √(cᵢ² + 4/n)) / 2` with `cᵢ = (Cz)ᵢ − zᵢ`, keeping `Cz` updated in O(n);
//!    a sweep costs O(n²) and decreases the objective monotonically (globally convergent).
//! 2. If the sweeps have not reached the tolerance after a budget proportional to `n`,
//!    **damped Newton** on the self-concordant `n·f`: step `Δ = ∇²F⁻¹∇F`, scaled by
//!    `1/(1+λ)` while the Newton decrement `λ > 1/4` (Nesterov's damped Newton: stays inside
//!    the domain, global convergence), full steps after (quadratic convergence).
//!
//! Stops when `maxᵢ |n zᵢ(Cz)ᵢ − 1| ≤ 1e-11` (so every `|n·RCᵢ − 1| ≲ 2e-11`), or at
//! `≤ 1e-9` once Newton stagnates at the rounding floor of a near-singular `Σ`. If it fails,
//! the long-only minimum-variance QP tells whether a zero-variance long-only portfolio is the
//! reason (then no equal-risk portfolio exists).

use nalgebra::{DMatrix, DVector};

use super::{Allocation, validate_covariance};
use crate::{Error, Result};

/// Target of `maxᵢ |n zᵢ(Cz)ᵢ − 1|`.
const TOLERANCE: f64 = 1e-11;
/// Accepted instead of [`TOLERANCE`] once Newton stops improving (rounding floor of an
/// ill-conditioned `Σ`); still well inside the documented `1e-8` on risk contributions.
const ACCEPT: f64 = 1e-9;
/// Newton steps allowed after the coordinate-descent phase.
const MAX_NEWTON: usize = 100;
/// `‖z‖∞` beyond which the iterates are declared divergent (a zero-variance long-only mix).
const BLOW_UP: f64 = 1e9;

/// The long-only portfolio whose assets contribute equally to its variance
/// (`RCᵢ = wᵢ(Σw)ᵢ / w'Σw = 1/n` to about `1e-11` relative), weights summing to 1. See the module docs
/// for the method. [`Allocation::expected_return`] is `0.0` (no `μ` is involved);
/// [`Allocation::iterations`] counts coordinate sweeps plus Newton steps.
///
/// # Errors
/// - invalid `sigma` (see [`validate_covariance`]);
/// - [`Error::InvalidParameter`] (`sigma`) if an asset has zero variance — it cannot carry
///   a share of the risk;
/// - [`Error::Infeasible`] if a long-only combination of assets has (numerically) zero
///   variance — below `1e-6` of a single asset's, in correlation units — so no
///   (well-conditioned) equal-risk portfolio exists;
/// - [`Error::NoConvergence`] / [`Error::Numerical`] if the solver fails (not expected for a
///   valid covariance).
pub fn risk_parity(sigma: &DMatrix<f64>) -> Result<Allocation> {
    validate_covariance(sigma, "sigma")?;
    let n = sigma.nrows();
    let max_var = sigma.diagonal().max();
    if let Some(i) = (0..n).find(|&i| sigma[(i, i)] <= 1e-14 * max_var) {
        return Err(Error::InvalidParameter {
            name: "sigma",
            value: format!("sigma[{i},{i}] = {:e}", sigma[(i, i)]),
            reason: format!(
                "asset {i} has zero variance; risk parity needs every asset to carry risk"
            ),
        });
    }
    if n == 1 {
        return Allocation::evaluate(DVector::from_element(1, 1.0), None, sigma, 0);
    }
    let vol = sigma.diagonal().map(f64::sqrt);
    let corr = DMatrix::from_fn(n, n, |i, j| {
        if i == j {
            1.0
        } else {
            sigma[(i, j)] / (vol[i] * vol[j])
        }
    });
    let (z, iterations) = match solve_unit_diagonal(&corr) {
        Ok(solved) => solved,
        Err(e) => return Err(explain_failure(&corr, e)),
    };
    let y = z.component_div(&vol);
    let w = &y / y.sum();
    Allocation::evaluate(w, None, sigma, iterations)
}

/// `maxᵢ |n zᵢ(Cz)ᵢ − 1|` (infinite if anything is non-finite). At the solution `z'Cz = 1`,
/// so this also bounds the relative error of every risk contribution: `|n·RCᵢ − 1| ≤ 2·dev`
/// to first order.
fn deviation(z: &DVector<f64>, cz: &DVector<f64>) -> f64 {
    let n = z.len() as f64;
    let mut worst = 0.0f64;
    for (a, b) in z.iter().zip(cz.iter()) {
        let d = (n * a * b - 1.0).abs();
        if !d.is_finite() {
            return f64::INFINITY;
        }
        worst = worst.max(d);
    }
    worst
}

/// Long-only portfolios with a variance below this fraction of a single asset's (in correlation
/// units) make the problem numerically ill-posed.
const RISKLESS: f64 = 1e-6;

/// When the solver fails, checks whether the reason is a long-only portfolio of (numerically)
/// zero variance — then no (well-conditioned) equal-risk portfolio exists: the long-only
/// minimum-variance QP on `C` decides it.
fn explain_failure(corr: &DMatrix<f64>, err: Error) -> Error {
    let zero_mu = DVector::zeros(corr.nrows());
    match super::cara(&zero_mu, corr, 1.0) {
        Ok(min_var) if min_var.variance <= RISKLESS => riskless(min_var.variance),
        _ => err,
    }
}

fn diverged() -> Error {
    Error::Numerical {
        what: "risk_parity",
        detail: "iterates diverged (is a long-only portfolio nearly riskless?)".into(),
    }
}

fn riskless(variance: f64) -> Error {
    Error::Infeasible {
        what: "risk_parity",
        detail: format!(
            "a long-only combination of assets is (numerically) riskless: variance {variance:e} \
             in units of one asset's variance, so no well-conditioned equal-risk-contribution \
             portfolio exists"
        ),
    }
}

/// Solves `zᵢ(Cz)ᵢ = 1/n`, `z > 0`, for a correlation-like `C` (unit diagonal).
fn solve_unit_diagonal(corr: &DMatrix<f64>) -> Result<(DVector<f64>, usize)> {
    let n = corr.nrows();
    let b = 1.0 / n as f64;
    let cols = corr.as_slice();
    // Start on the scale of the solution: z = t·1 with z'Cz = 1.
    let total = corr.sum();
    let t = if total > 0.0 {
        total.sqrt().recip()
    } else {
        (n as f64).sqrt().recip()
    };
    let mut z = DVector::from_element(n, t);
    let mut cz = corr * &z;
    let mut dev = deviation(&z, &cz);
    if !dev.is_finite() {
        return Err(diverged());
    }
    let mut iterations = 0;
    // Phase 1: cyclical coordinate descent. A Newton step costs about n/6 sweeps, so the
    // sweep budget scales with n.
    let budget = 30 + n / 4;
    while dev > TOLERANCE && iterations < budget {
        for i in 0..n {
            let c = cz[i] - z[i];
            let disc = (c * c + 4.0 * b).sqrt();
            let zi = if c >= 0.0 {
                2.0 * b / (c + disc)
            } else {
                0.5 * (disc - c)
            };
            let delta = zi - z[i];
            if delta != 0.0 {
                let col = &cols[i * n..(i + 1) * n];
                for (q, &cij) in cz.as_mut_slice().iter_mut().zip(col) {
                    *q += delta * cij;
                }
                z[i] = zi;
            }
        }
        iterations += 1;
        cz = corr * &z;
        dev = deviation(&z, &cz);
        if !dev.is_finite() || z.amax() > BLOW_UP {
            return Err(diverged());
        }
    }
    // Phase 2: damped Newton on F(z) = n(½z'Cz) − Σ log zᵢ.
    let nf = n as f64;
    let mut newton = 0;
    while dev > TOLERANCE {
        if newton == MAX_NEWTON {
            if dev <= ACCEPT {
                break;
            }
            return Err(Error::NoConvergence {
                what: "risk_parity",
                iterations,
                residual: dev,
            });
        }
        let grad = DVector::from_fn(n, |i, _| nf * cz[i] - 1.0 / z[i]);
        let mut hess = corr * nf;
        for i in 0..n {
            hess[(i, i)] += 1.0 / (z[i] * z[i]);
        }
        let step = hess
            .cholesky()
            .map(|ch| ch.solve(&grad))
            .ok_or_else(|| Error::Numerical {
                what: "risk_parity",
                detail: "Newton Hessian is not positive definite".into(),
            })?;
        let lambda = grad.dot(&step).max(0.0).sqrt();
        let mut scale = if lambda > 0.25 {
            1.0 / (1.0 + lambda)
        } else {
            1.0
        };
        let mut next = &z - &step * scale;
        while next.iter().any(|v| *v <= 0.0) {
            scale *= 0.5;
            next = &z - &step * scale;
            if scale < 1e-12 {
                return Err(Error::Numerical {
                    what: "risk_parity",
                    detail: "Newton step cannot stay in the positive orthant".into(),
                });
            }
        }
        z = next;
        cz = corr * &z;
        let previous = dev;
        dev = deviation(&z, &cz);
        newton += 1;
        if dev <= ACCEPT && dev > 0.5 * previous {
            // Stagnation at the rounding floor: quadratic convergence would have done better.
            iterations += 1;
            break;
        }
        iterations += 1;
        if !dev.is_finite() || z.amax() > BLOW_UP {
            return Err(diverged());
        }
    }
    Ok((z, iterations))
}
