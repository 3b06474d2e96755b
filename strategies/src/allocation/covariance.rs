//! Mean and covariance estimates from a `T × n` matrix of returns (rows are periods, columns
//! are assets): the sample mean, the unbiased sample covariance (ddof 1) and the Ledoit-Wolf
//! shrinkage estimator. Owns estimation only; it does not compute returns from prices.

use nalgebra::{DMatrix, DVector};

use crate::{Error, Result};

/// Checks a return matrix: at least `min_rows` periods, at least one asset, all finite.
fn check_returns(returns: &DMatrix<f64>, min_rows: usize) -> Result<()> {
    if returns.ncols() == 0 {
        return Err(Error::TooShort {
            what: "returns (assets)",
            needed: 1,
            got: 0,
        });
    }
    if returns.nrows() < min_rows {
        return Err(Error::TooShort {
            what: "returns (periods)",
            needed: min_rows,
            got: returns.nrows(),
        });
    }
    crate::error::ensure_finite("returns", returns.as_slice())
}

/// Column means of `returns` (`T × n`): the mean return of each asset.
///
/// # Errors
/// [`Error::TooShort`] without rows or columns; [`Error::NonFinite`] on NaN/infinite input
/// (index in column-major order).
pub fn mean_returns(returns: &DMatrix<f64>) -> Result<DVector<f64>> {
    check_returns(returns, 1)?;
    Ok(column_means(returns))
}

fn column_means(returns: &DMatrix<f64>) -> DVector<f64> {
    let t = returns.nrows() as f64;
    DVector::from_iterator(returns.ncols(), returns.column_iter().map(|c| c.sum() / t))
}

/// `returns` with each column's mean removed.
fn centred(returns: &DMatrix<f64>) -> DMatrix<f64> {
    let means = column_means(returns);
    let mut x = returns.clone();
    for (mut col, m) in x.column_iter_mut().zip(means.iter()) {
        col.add_scalar_mut(-m);
    }
    x
}

/// Up to this many assets [`ledoit_wolf`] accumulates the centred moments row by row in one
/// pass (no copies of the matrix: the allocator's per-decision case of a few assets over a
/// day of bars); above it, nalgebra's blocked GEMM on the centred copy is faster.
const SMALL_ASSETS: usize = 8;

/// For `n ≤ SMALL_ASSETS` columns: `X'X` of the centred returns (exactly symmetric) and
/// `Σₜ ‖xₜ‖⁴` of the centred rows, in one pass after the column means.
fn centred_moments_small(returns: &DMatrix<f64>) -> (DMatrix<f64>, f64) {
    let (t, n) = (returns.nrows(), returns.ncols());
    let means = column_means(returns);
    if n == 1 {
        // One asset (the allocator's usual case): the same sums over the contiguous column.
        let mean = means[0];
        let (mut ss, mut fourth) = (0.0f64, 0.0f64);
        for &x in returns.as_slice() {
            let v = x - mean;
            let norm2 = v * v;
            ss += norm2;
            fourth += norm2 * norm2;
        }
        return (DMatrix::from_element(1, 1, ss), fourth);
    }
    let mut acc = [[0.0f64; SMALL_ASSETS]; SMALL_ASSETS];
    let mut fourth = 0.0;
    let mut c = [0.0f64; SMALL_ASSETS];
    for r in 0..t {
        let mut norm2 = 0.0;
        for j in 0..n {
            let v = returns[(r, j)] - means[j];
            c[j] = v;
            norm2 += v * v;
        }
        for i in 0..n {
            for j in i..n {
                acc[i][j] += c[i] * c[j];
            }
        }
        fourth += norm2 * norm2;
    }
    let g = DMatrix::from_fn(n, n, |i, j| acc[i.min(j)][i.max(j)]);
    (g, fourth)
}

/// `X'X` made exactly symmetric (its upper triangle mirrored). `xt` is `X'`: the product of
/// two plain matrices goes through nalgebra's blocked GEMM, several times faster than
/// `tr_mul`'s dot products.
fn gram(xt: &DMatrix<f64>, x: &DMatrix<f64>) -> DMatrix<f64> {
    let mut g = xt * x;
    g.fill_lower_triangle_with_upper_triangle();
    g
}

/// Unbiased sample covariance (ddof 1, like `numpy.cov(returns, rowvar=False)`) of a `T × n`
/// return matrix; the result is `n × n` and exactly symmetric.
///
/// # Errors
/// [`Error::TooShort`] with fewer than 2 periods or no assets; [`Error::NonFinite`] on
/// NaN/infinite input.
pub fn sample_covariance(returns: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    check_returns(returns, 2)?;
    let x = centred(returns);
    Ok(gram(&x.transpose(), &x) / (returns.nrows() - 1) as f64)
}

/// Ledoit-Wolf shrinkage of the covariance toward a scaled identity (Ledoit & Wolf 2004, "A
/// well-conditioned estimator for large-dimensional covariance matrices"), returned with its
/// shrinkage intensity `δ ∈ [0, 1]`:
///
/// `Σ_LW = (1 − δ)·S + δ·m·I`, `m = tr(S)/n`,
///
/// following `sklearn.covariance.ledoit_wolf(X)` (`assume_centered=False`) exactly: the data
/// are centred by their column means and `S = X'X/T` is the **ddof 0** (maximum-likelihood)
/// covariance, as in the paper — so `Σ_LW` at `δ = 0` is `(T−1)/T` times
/// [`sample_covariance`]. With `d² = ‖S − mI‖²_F / n` and
/// `b̄² = (Σₜ‖xₜ‖⁴/T − ‖S‖²_F) / (nT)`, the intensity is `min(b̄², d²)/d²` (0 when `d² = 0`,
/// i.e. when `S` is already a multiple of the identity). For one asset `δ = 0`.
///
/// # Errors
/// [`Error::TooShort`] with fewer than 2 periods or no assets; [`Error::NonFinite`] on
/// NaN/infinite input.
pub fn ledoit_wolf(returns: &DMatrix<f64>) -> Result<(DMatrix<f64>, f64)> {
    check_returns(returns, 2)?;
    let (t, n) = (returns.nrows(), returns.ncols());
    let (s, fourth) = if n <= SMALL_ASSETS {
        centred_moments_small(returns)
    } else {
        let x = centred(returns);
        let xt = x.transpose();
        // Σₜ ‖xₜ‖⁴ (sklearn's sum of X²'X²).
        let fourth: f64 = xt.column_iter().map(|r| r.norm_squared().powi(2)).sum();
        (gram(&xt, &x), fourth)
    };
    let s = s / t as f64;
    if n == 1 {
        return Ok((s, 0.0));
    }
    let nf = n as f64;
    let tf = t as f64;
    let trace = s.trace();
    let m = trace / nf;
    let s_frob2 = s.norm_squared();
    // ‖S − mI‖²_F / n, expanded as sklearn does.
    let d2 = (s_frob2 - 2.0 * m * trace + nf * m * m) / nf;
    let b2 = ((fourth / tf - s_frob2) / (nf * tf)).max(0.0);
    let delta = if d2 > 0.0 { b2.min(d2) / d2 } else { 0.0 };
    let mut shrunk = s * (1.0 - delta);
    for i in 0..n {
        shrunk[(i, i)] += delta * m;
    }
    Ok((shrunk, delta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> DMatrix<f64> {
        // 4 periods x 2 assets.
        DMatrix::from_row_slice(4, 2, &[0.01, 0.02, -0.02, 0.01, 0.03, -0.01, 0.00, 0.02])
    }

    /// The one-pass moments of small asset sets equal the centred copy + GEMM ones to rounding,
    /// for 1..=8 assets, including a column with a large mean (centring matters).
    #[test]
    fn small_set_moments_match_the_gemm_path() {
        let mut uniform = crate::testdata::uniforms(0x9e37_79b9_7f4a_7c15);
        let mut next = || uniform() - 0.5;
        for n in 1..=SMALL_ASSETS {
            let r = DMatrix::from_fn(1440, n, |_, j| {
                0.01 * next() + if j == 1 { 0.3 } else { 0.0 }
            });
            let (g, fourth) = centred_moments_small(&r);
            let xc = centred(&r);
            let xt = xc.transpose();
            let g_ref = gram(&xt, &xc);
            let fourth_ref: f64 = xt.column_iter().map(|c| c.norm_squared().powi(2)).sum();
            assert!(
                (fourth - fourth_ref).abs() <= 1e-12 * fourth_ref,
                "n={n}: {fourth} vs {fourth_ref}"
            );
            for i in 0..n {
                for j in 0..n {
                    assert_eq!(g[(i, j)], g[(j, i)]);
                    assert!(
                        (g[(i, j)] - g_ref[(i, j)]).abs()
                            <= 1e-12 * g_ref[(i, i)].max(g_ref[(j, j)]),
                        "n={n} ({i},{j}): {} vs {}",
                        g[(i, j)],
                        g_ref[(i, j)]
                    );
                }
            }
        }
    }

    #[test]
    fn mean_and_sample_covariance_by_hand() {
        let r = small();
        let mu = mean_returns(&r).unwrap();
        assert!((mu[0] - 0.005).abs() < 1e-15 && (mu[1] - 0.01).abs() < 1e-15);
        let s = sample_covariance(&r).unwrap();
        // Asset 0 deviations: .005 -.025 .025 -.005 ; asset 1: .01 0 -.02 .01
        let v0 = (0.005f64.powi(2) * 2.0 + 0.025f64.powi(2) * 2.0) / 3.0;
        let v1 = (0.01f64.powi(2) * 2.0 + 0.02f64.powi(2)) / 3.0;
        let c01 = (0.005 * 0.01 + 0.025 * -0.02 + -0.005 * 0.01) / 3.0;
        assert!((s[(0, 0)] - v0).abs() < 1e-17);
        assert!((s[(1, 1)] - v1).abs() < 1e-17);
        assert!((s[(0, 1)] - c01).abs() < 1e-17 && s[(0, 1)] == s[(1, 0)]);
    }

    #[test]
    fn ledoit_wolf_is_a_convex_combination_of_mle_and_scaled_identity() {
        let r = small();
        let (lw, delta) = ledoit_wolf(&r).unwrap();
        assert!((0.0..=1.0).contains(&delta));
        let s = sample_covariance(&r).unwrap() * (3.0 / 4.0);
        let m = s.trace() / 2.0;
        assert!((lw[(0, 1)] - (1.0 - delta) * s[(0, 1)]).abs() < 1e-18);
        assert!((lw[(0, 0)] - ((1.0 - delta) * s[(0, 0)] + delta * m)).abs() < 1e-18);
        // Trace is preserved by shrinkage toward m·I.
        assert!((lw.trace() - s.trace()).abs() < 1e-17);
    }

    #[test]
    fn ledoit_wolf_one_asset_and_identity_like_data() {
        let r = DMatrix::from_column_slice(3, 1, &[0.01, 0.02, -0.03]);
        let (lw, delta) = ledoit_wolf(&r).unwrap();
        assert_eq!(delta, 0.0);
        assert!((lw[(0, 0)] - sample_covariance(&r).unwrap()[(0, 0)] * 2.0 / 3.0).abs() < 1e-18);
        // Orthogonal, equal-variance columns: S = mI already, d² = 0 ⇒ δ = 0, no NaN.
        let r = DMatrix::from_row_slice(4, 2, &[1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0]);
        let (lw, delta) = ledoit_wolf(&r).unwrap();
        assert_eq!(delta, 0.0);
        assert!(lw.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn bad_returns_are_errors() {
        let one_row = DMatrix::from_row_slice(1, 2, &[0.1, 0.2]);
        assert!(matches!(
            sample_covariance(&one_row),
            Err(Error::TooShort { needed: 2, .. })
        ));
        assert!(matches!(ledoit_wolf(&one_row), Err(Error::TooShort { .. })));
        assert!(mean_returns(&one_row).is_ok());
        let empty = DMatrix::<f64>::zeros(5, 0);
        assert!(matches!(mean_returns(&empty), Err(Error::TooShort { .. })));
        let mut nan = small();
        nan[(2, 1)] = f64::NAN;
        assert!(matches!(
            sample_covariance(&nan),
            Err(Error::NonFinite { index: 6, .. })
        ));
        assert!(matches!(ledoit_wolf(&nan), Err(Error::NonFinite { .. })));
        assert!(matches!(mean_returns(&nan), Err(Error::NonFinite { .. })));
    }
}
