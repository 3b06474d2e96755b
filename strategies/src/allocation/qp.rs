//! Exact primal active-set solver for the convex quadratic programme
//!
//! ```text
//! minimise ½ x'Hx + c'x   subject to   a'x = b,   x ≥ 0,
//! ```
//!
//! with `H` symmetric positive **semi**-definite (singular `H` is fine) and every `aᵢ ≠ 0`.
//! It is the engine behind [`super::cara`] (`H = γΣ`, `a = 1`) and [`super::sparse_l1`]
//! (`x = (u, v)`, `w = u − v`). It owns the algorithm only; problem set-up and input validation
//! belong to the callers.
//!
//! # Algorithm (Nocedal & Wright, *Numerical Optimization*, §16.5, adapted to bounds)
//! The working set `W` holds the variables fixed at their bound `xᵢ = 0`; `F` is the rest.
//! Starting from a feasible vertex (`F = {k}`):
//! 1. Solve the equality-constrained subproblem on `F`: minimise over `x_F` with `a_F'x_F = b`.
//!    If `H_FF` is positive definite (Cholesky succeeds with no tiny pivot) this gives the unique
//!    minimiser `x*_F` by a Schur-complement solve with iterative refinement until the KKT
//!    residual is at rounding level; otherwise (or if refinement stalls) a null-space
//!    method with a symmetric eigendecomposition returns either the minimiser closest to the
//!    current point along flat directions, or — if the objective decreases linearly along a
//!    flat direction — that descent ray.
//! 2. Step from `x_F` toward `x*_F` (or along the ray) as far as feasibility allows (ratio
//!    test). Every variable that reaches 0 is fixed (moved to `W`) — all of them at once, so a
//!    free variable is never left sitting at its bound.
//! 3. At a subspace minimiser, compute `ν = a_F'g_F / a_F'a_F` and the bound multipliers
//!    `sᵢ = gᵢ − ν aᵢ` (`g = Hx + c`) for `i ∈ W`. If every `sᵢ ≥ −tol`, the KKT conditions
//!    hold and `x` is optimal (convexity makes KKT sufficient). Otherwise free the variable
//!    with the most negative multiplier (lowest index on ties).
//!
//! # Termination
//! After freeing `j` with `sⱼ < 0`, the new subproblem has a strictly lower value than the
//! current point and for its minimiser (or ray) `p` we have `g'p = sⱼ pⱼ < 0`, hence `pⱼ > 0`;
//! all other free variables are strictly positive (step 2), so the next step has positive length
//! and strictly decreases the objective (for any convex `H`, not only strictly convex). The
//! objective never increases, so no working set can be a subspace minimiser twice: with finitely
//! many working sets the method terminates, and between two minimisers at most `|F|` steps fix
//! variables. This rules out cycling without anti-cycling perturbations. As a guard against
//! floating-point trouble, a freed variable that is immediately re-fixed by a zero-length step
//! ends the search (its multiplier was rounding noise), and an iteration cap reports
//! [`Error::NoConvergence`] rather than looping.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::{Error, Result};

/// Read access to the (implicit) Hessian `H`.
pub(crate) trait Hessian {
    /// Number of variables.
    fn dim(&self) -> usize;
    /// `H[i, j]`.
    fn entry(&self, i: usize, j: usize) -> f64;
}

/// A solved programme.
#[derive(Debug, Clone)]
pub(crate) struct Solution {
    /// The optimal point; exactly 0 on the final working set.
    pub x: DVector<f64>,
    /// Subproblems solved.
    pub iterations: usize,
}

/// One solve of the equality-constrained subproblem on the free set.
enum Step {
    /// The subspace minimiser, over the free variables.
    Point(DVector<f64>),
    /// A direction (over the free variables) along which the objective decreases without bound
    /// inside the subspace.
    Ray(DVector<f64>),
}

/// Solves `min ½x'Hx + c'x` s.t. `a'x = b`, `x ≥ 0`, starting from the vertex `x = (b/a_k) e_k`
/// (the caller makes sure `b/a_k ≥ 0`).
///
/// # Errors
/// [`Error::Infeasible`] if the objective is unbounded below; [`Error::NoConvergence`] if the
/// iteration cap is hit (not expected; see the module docs).
pub(crate) fn solve<H: Hessian>(
    h: &H,
    c: &DVector<f64>,
    a: &DVector<f64>,
    b: f64,
    start: usize,
    what: &'static str,
) -> Result<Solution> {
    let n = h.dim();
    debug_assert!(c.len() == n && a.len() == n && start < n && a.iter().all(|v| *v != 0.0));
    let hmax = (0..n).map(|i| h.entry(i, i).abs()).fold(0.0, f64::max);
    let cmax = c.amax();
    let mut x = DVector::zeros(n);
    x[start] = b / a[start];
    let mut free = vec![false; n];
    free[start] = true;
    let max_iter = 20 * n + 100;
    let mut just_freed: Option<usize> = None;
    for iteration in 1..=max_iter {
        let idx: Vec<usize> = (0..n).filter(|&i| free[i]).collect();
        let xf = DVector::from_iterator(idx.len(), idx.iter().map(|&i| x[i]));
        let xscale = xf.amax().max(f64::MIN_POSITIVE);
        let gscale = cmax.max(hmax * xscale).max(f64::MIN_POSITIVE);
        let (p, full) = match subspace(h, c, a, b, &idx, &xf, hmax, gscale) {
            Step::Point(target) => (target - &xf, 1.0),
            Step::Ray(dir) => (dir, f64::INFINITY),
        };
        // Ratio test.
        let mut alpha = full;
        let mut blocking = None;
        for (k, &i) in idx.iter().enumerate() {
            if p[k] < 0.0 {
                let ratio = xf[k] / -p[k];
                if ratio < alpha {
                    alpha = ratio;
                    blocking = Some(i);
                }
            }
        }
        if !alpha.is_finite() {
            return Err(Error::Infeasible {
                what,
                detail: "objective is unbounded below on the feasible set".into(),
            });
        }
        if alpha == 0.0 && blocking.is_some() && blocking == just_freed {
            // The freed variable's multiplier was rounding noise: the point is optimal.
            return Ok(Solution {
                x,
                iterations: iteration,
            });
        }
        just_freed = None;
        let zero_tol = 1e-14 * xscale;
        for (k, &i) in idx.iter().enumerate() {
            x[i] = xf[k] + alpha * p[k];
            if Some(i) == blocking || x[i] <= zero_tol {
                x[i] = 0.0;
                free[i] = false;
            }
        }
        if !free.iter().any(|&f| f) {
            return Err(Error::Numerical {
                what,
                detail: "active-set step fixed every variable at its bound".into(),
            });
        }
        if alpha < full {
            continue;
        }
        // At a subspace minimiser: check the bound multipliers.
        let g = gradient(h, c, &x, &free);
        let nu = multiplier_from(&g, a, &free);
        let tol = 1e-11 * gscale.max(nu.abs() * a.amax());
        let mut worst: Option<(usize, f64)> = None;
        for i in (0..n).filter(|&i| !free[i]) {
            let s = g[i] - nu * a[i];
            if s < -tol && worst.is_none_or(|(_, w)| s < w) {
                worst = Some((i, s));
            }
        }
        match worst {
            None => {
                return Ok(Solution {
                    x,
                    iterations: iteration,
                });
            }
            Some((j, _)) => {
                free[j] = true;
                just_freed = Some(j);
            }
        }
    }
    Err(Error::NoConvergence {
        what,
        iterations: max_iter,
        residual: f64::NAN,
    })
}

/// `g = Hx + c`, using only the free columns (x is zero elsewhere).
fn gradient<H: Hessian>(h: &H, c: &DVector<f64>, x: &DVector<f64>, free: &[bool]) -> DVector<f64> {
    let n = h.dim();
    let idx: Vec<usize> = (0..n).filter(|&i| free[i]).collect();
    DVector::from_fn(n, |i, _| {
        c[i] + idx.iter().map(|&j| h.entry(i, j) * x[j]).sum::<f64>()
    })
}

/// Least-squares `ν` from `g_F = ν a_F`.
fn multiplier_from(g: &DVector<f64>, a: &DVector<f64>, free: &[bool]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for i in (0..g.len()).filter(|&i| free[i]) {
        num += a[i] * g[i];
        den += a[i] * a[i];
    }
    num / den
}

/// Minimises the objective over `{x_F : a_F'x_F = b}` (other variables at 0).
#[allow(clippy::too_many_arguments)]
fn subspace<H: Hessian>(
    h: &H,
    c: &DVector<f64>,
    a: &DVector<f64>,
    b: f64,
    idx: &[usize],
    xf: &DVector<f64>,
    hmax: f64,
    gscale: f64,
) -> Step {
    let m = idx.len();
    let af = DVector::from_iterator(m, idx.iter().map(|&i| a[i]));
    if m == 1 {
        return Step::Point(DVector::from_element(1, b / af[0]));
    }
    let hff = DMatrix::from_fn(m, m, |r, s| h.entry(idx[r], idx[s]));
    let cf = DVector::from_iterator(m, idx.iter().map(|&i| c[i]));
    if let Some(ch) = hff.clone().cholesky() {
        let l = ch.l_dirty();
        let min_pivot = (0..m)
            .map(|i| l[(i, i)] * l[(i, i)])
            .fold(f64::INFINITY, f64::min);
        let max_diag = (0..m).map(|i| hff[(i, i)]).fold(0.0, f64::max);
        if min_pivot > 1e-11 * max_diag {
            // Schur complement on the KKT system  H x − ν a = −c,  a'x = b:
            // x = H⁻¹f + ν H⁻¹a with ν = (h − a'H⁻¹f) / a'H⁻¹a, for right-hand side (f, h).
            let y = ch.solve(&af);
            let ay = af.dot(&y);
            if ay > 0.0 && ay.is_finite() {
                let kkt = |f: &DVector<f64>, h: f64| {
                    let z = ch.solve(f);
                    let nu = (h - af.dot(&z)) / ay;
                    (z + &y * nu, nu)
                };
                let (mut x, mut nu) = kkt(&(-&cf), b);
                // The Schur complement loses accuracy when H_FF is ill conditioned even if the
                // reduced Hessian is not (nearly collinear assets); iterative refinement on the
                // KKT residual restores it, and the null-space method takes over if it cannot.
                let tol = 1e-13 * gscale.max(nu.abs() * af.amax());
                for _ in 0..4 {
                    let rf = -&cf - (&hff * &x - &af * nu);
                    let rh = b - af.dot(&x);
                    if rf.amax() <= tol && rh.abs() <= 1e-15 * b.abs().max(1.0) {
                        return Step::Point(x);
                    }
                    let (dx, dnu) = kkt(&rf, rh);
                    x += dx;
                    nu += dnu;
                }
            }
        }
    }
    null_space_step(&hff, &cf, &af, b, xf, hmax, gscale)
}

/// Null-space method for a singular (or ill-conditioned) reduced Hessian.
fn null_space_step(
    hff: &DMatrix<f64>,
    cf: &DVector<f64>,
    af: &DVector<f64>,
    b: f64,
    xf: &DVector<f64>,
    hmax: f64,
    gscale: f64,
) -> Step {
    let m = af.len();
    let na2 = af.norm_squared();
    let xbar = af * (b / na2);
    // Householder vector v with (I − 2vv'/v'v) a ∝ e₀; its columns 1.. span a⊥.
    let mut v = af.clone();
    v[0] += af[0].signum() * na2.sqrt();
    let vv = v.norm_squared();
    let z = DMatrix::from_fn(m, m - 1, |r, k| {
        let e = if r == k + 1 { 1.0 } else { 0.0 };
        e - 2.0 * v[r] * v[k + 1] / vv
    });
    let mut red = z.tr_mul(&(hff * &z));
    red = (&red + red.transpose()) * 0.5;
    let r = z.tr_mul(&(hff * &xbar + cf));
    let eig = SymmetricEigen::new(red);
    let lam_max = eig.eigenvalues.amax();
    let flat = 1e-10 * lam_max.max(hmax);
    let t = eig.eigenvectors.tr_mul(&r);
    let y0 = eig.eigenvectors.tr_mul(&z.tr_mul(&(xf - &xbar)));
    let slope_tol = 1e-10 * gscale;
    let mut ray = DVector::zeros(m - 1);
    let mut is_ray = false;
    let mut yq = DVector::zeros(m - 1);
    for k in 0..m - 1 {
        let lam = eig.eigenvalues[k];
        if lam > flat {
            yq[k] = -t[k] / lam;
        } else if t[k].abs() > slope_tol {
            is_ray = true;
            ray[k] = -t[k];
        } else {
            yq[k] = y0[k];
        }
    }
    if is_ray {
        Step::Ray(&z * (&eig.eigenvectors * ray))
    } else {
        Step::Point(xbar + &z * (&eig.eigenvectors * yq))
    }
}
