//! Baum-Welch (EM) fitting with seeded, thread-count-independent restarts.
//!
//! # Conventions
//! * **Restarts.** Restart `i` starts from:
//!   - `i = 0`: *quantile k-means* — 1-D Lloyd iterations on the sorted data from centres at the
//!     `(j + ½)/K` quantiles; each state takes its cluster's mean and variance.
//!   - `i = 1`: *volatility split* — the data are split into K groups by the quantiles of
//!     `|r − median|`; each state takes its group's mean and variance (states ordered by
//!     volatility, which is how return regimes mostly differ).
//!   - `i ≥ 2`: *random* — means are randomly chosen observations, stds the sample std times
//!     `exp(U(−1.5, 1.5))`, each transition row keeps `U(0.5, 0.99)` on the diagonal and splits
//!     the rest by random weights; the generator is `Xoshiro256PlusPlus::seed_from_u64(seed)`
//!     advanced by `i` jumps (2¹²⁸ steps each), so restart `i` depends only on `(seed, i)`.
//!
//!   The deterministic inits use a 0.9 diagonal (0.1 spread evenly off it) and all inits a
//!   uniform initial distribution. Restarts run in parallel on rayon; each is a pure function
//!   of `(obs, config, i)` and the best is chosen sequentially (highest log-likelihood, ties to
//!   the lowest index), so results do not depend on the thread count.
//! * **Variance floor.** Every state variance is kept ≥ `max(var_floor × sample variance,
//!   MIN_VARIANCE)` (defaults `1e-4` and `1e-20`): for hourly BTC returns (σ ≈ 0.8 %) that is a
//!   σ floor of 1 % of the sample σ, so a state cannot collapse onto a run of identical
//!   returns (zero-volume hours) while genuine calm regimes are untouched. The floored M-step is
//!   the exact constrained maximiser, so EM stays monotone.
//! * **Convergence.** An iteration's E-step gives the log-likelihood ℓ of the current
//!   parameters; EM stops when `ℓ − ℓ_prev ≤ tol × max(1, |ℓ|)` (relative for large |ℓ|,
//!   absolute below 1) or after `max_iter` M-steps. The reported likelihood is recomputed for
//!   the returned (final, canonicalised) parameters.
//! * **Degenerate states.** A state with zero posterior mass keeps its previous mean and
//!   variance, a transition row with zero expected count its previous row.

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::check_obs;
use super::kernel::{self, Accum, BackwardScratch, Kernel, LogRows};
use super::model::GaussianHmm;
use crate::{Error, Result};

/// Absolute lower bound on any state variance during fitting (σ ≥ 1e-10).
pub const MIN_VARIANCE: f64 = 1e-20;

/// Baum-Welch settings. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FitConfig {
    /// Number of hidden states K (default 3).
    pub states: usize,
    /// Number of EM restarts (default 8; see the module docs for each restart's init).
    pub restarts: usize,
    /// Seed of the random restarts (default 0).
    pub seed: u64,
    /// Maximum M-steps per restart (default 200).
    pub max_iter: usize,
    /// Convergence tolerance: stop when the log-likelihood gains ≤ `tol × max(1, |ℓ|)`
    /// (default 1e-6).
    pub tol: f64,
    /// Variance floor as a fraction of the sample variance (default 1e-4); the effective floor
    /// is `max(var_floor × sample variance, MIN_VARIANCE)`.
    pub var_floor: f64,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            states: 3,
            restarts: 8,
            seed: 0,
            max_iter: 200,
            tol: 1e-6,
            var_floor: 1e-4,
        }
    }
}

impl FitConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad field: `states`, `restarts` or
    /// `max_iter` of 0, `tol` or `var_floor` negative or non-finite.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &'static str, value: String, reason: &str| {
            Err(Error::InvalidParameter {
                name,
                value,
                reason: reason.into(),
            })
        };
        if self.states == 0 {
            return bad("states", "0".into(), "need at least 1 state");
        }
        if self.states > MAX_STATES {
            return bad(
                "states",
                self.states.to_string(),
                &format!("at most {MAX_STATES} states are supported"),
            );
        }
        if self.restarts == 0 {
            return bad("restarts", "0".into(), "need at least 1 restart");
        }
        if self.restarts > MAX_RESTARTS {
            return bad(
                "restarts",
                self.restarts.to_string(),
                &format!("at most {MAX_RESTARTS} restarts are supported"),
            );
        }
        if self.max_iter == 0 {
            return bad("max_iter", "0".into(), "need at least 1 iteration");
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return bad("tol", self.tol.to_string(), "must be finite and >= 0");
        }
        if !(self.var_floor.is_finite() && self.var_floor >= 0.0) {
            return bad(
                "var_floor",
                self.var_floor.to_string(),
                "must be finite and >= 0",
            );
        }
        Ok(())
    }
}

/// Largest number of states [`fit`] accepts: a regime model with more states than this cannot
/// be identified from market returns, and the O(K²) work would dwarf the data.
pub const MAX_STATES: usize = 64;
/// Largest number of restarts [`fit`] accepts (each keeps its own model until the best wins).
pub const MAX_RESTARTS: usize = 10_000;

/// Result of [`fit`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitReport {
    /// The best model, canonicalised ([`GaussianHmm::canonicalized`]).
    pub model: GaussianHmm,
    /// Log-likelihood of `model` on the data.
    pub loglik: f64,
    /// M-steps taken by the best restart.
    pub iterations: usize,
    /// Whether the best restart met the tolerance before `max_iter`.
    pub converged: bool,
    /// Final log-likelihood of every restart in restart order (−∞ for a restart that failed
    /// numerically).
    pub restarts: Vec<f64>,
    /// Index of the best restart.
    pub best_restart: usize,
}

/// Flat model parameters while fitting.
#[derive(Debug, Clone, PartialEq)]
struct Params {
    mean: Vec<f64>,
    var: Vec<f64>,
    trans: Vec<f64>,
    initial: Vec<f64>,
}

impl Params {
    fn from_model(m: &GaussianHmm) -> Params {
        let k = m.n_states();
        Params {
            mean: m.states().iter().map(|s| s.mean).collect(),
            var: m.states().iter().map(|s| s.std * s.std).collect(),
            trans: (0..k).flat_map(|i| m.transition_row(i).to_vec()).collect(),
            initial: m.initial().to_vec(),
        }
    }

    /// Per-state `(mean, var)` with a sticky 0.9-diagonal transition matrix and a uniform
    /// initial distribution.
    fn sticky(mean: Vec<f64>, var: Vec<f64>) -> Params {
        let k = mean.len();
        let off = if k > 1 { 0.1 / (k - 1) as f64 } else { 0.0 };
        let diag = if k > 1 { 0.9 } else { 1.0 };
        let trans = (0..k * k)
            .map(|x| if x / k == x % k { diag } else { off })
            .collect();
        Params {
            mean,
            var,
            trans,
            initial: vec![1.0 / k as f64; k],
        }
    }
}

/// One Baum-Welch run over borrowed observations, with all buffers allocated once.
///
/// [`BaumWelch::step`] is one EM iteration (scaled forward-backward E-step, closed-form M-step
/// with the variance floor); it allocates nothing (beyond a buffer for the rare
/// log-space rows of the forward pass, kept across iterations). Useful on its own for warm-started refits
/// from a previous model.
#[derive(Debug, Clone)]
pub struct BaumWelch<'a> {
    obs: &'a [f64],
    names: Vec<String>,
    p: Params,
    var_floor: f64,
    kern: Kernel,
    alpha: Vec<f64>,
    emis: Vec<f64>,
    pred: Vec<f64>,
    log_rows: LogRows,
    scratch: BackwardScratch,
    xi: Vec<f64>,
    new_trans: Vec<f64>,
    s0: Vec<f64>,
    s1: Vec<f64>,
    s2: Vec<f64>,
}

impl<'a> BaumWelch<'a> {
    /// Starts EM from `init` on `obs`, keeping every variance ≥ `var_floor` (absolute).
    ///
    /// # Errors
    /// [`Error::TooShort`] / [`Error::NonFinite`] for empty or non-finite `obs`,
    /// [`Error::InvalidParameter`] for a negative or non-finite `var_floor`.
    pub fn new(init: &GaussianHmm, obs: &'a [f64], var_floor: f64) -> Result<Self> {
        check_obs(obs)?;
        if !(var_floor.is_finite() && var_floor >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "var_floor",
                value: var_floor.to_string(),
                reason: "must be finite and >= 0".into(),
            });
        }
        let names = init.states().iter().map(|s| s.name.clone()).collect();
        let mut p = Params::from_model(init);
        for v in &mut p.var {
            *v = v.max(var_floor);
        }
        Ok(Self::from_params(
            obs,
            p,
            var_floor.max(MIN_VARIANCE),
            names,
        ))
    }

    fn from_params(obs: &'a [f64], p: Params, var_floor: f64, names: Vec<String>) -> Self {
        let k = p.mean.len();
        let n = obs.len();
        BaumWelch {
            obs,
            names,
            p,
            var_floor,
            kern: Kernel::zeros(k),
            alpha: vec![0.0; n * k],
            emis: vec![0.0; n * k],
            pred: vec![0.0; k],
            log_rows: LogRows::default(),
            scratch: BackwardScratch::new(k),
            xi: vec![0.0; k * k],
            new_trans: vec![0.0; k * k],
            s0: vec![0.0; k],
            s1: vec![0.0; k],
            s2: vec![0.0; k],
        }
    }

    /// One EM iteration. Returns the log-likelihood of the parameters *before* the update.
    ///
    /// # Errors
    /// [`Error::Numerical`] if the likelihood or an updated parameter is not finite; the
    /// parameters are then left unchanged.
    pub fn step(&mut self) -> Result<f64> {
        let k = self.p.mean.len();
        let p = &mut self.p;
        self.kern.set(&p.mean, &p.var, &p.trans, &p.initial);
        let ll = kernel::forward(
            &self.kern,
            self.obs,
            &mut self.alpha,
            &mut self.emis,
            &mut self.pred,
            &mut self.log_rows,
        );
        if !ll.is_finite() {
            return Err(numerical(format!("log-likelihood is {ll}")));
        }
        kernel::backward(
            &self.kern,
            self.obs,
            &mut self.alpha,
            &self.emis,
            &self.log_rows,
            &mut self.scratch,
            Some(Accum {
                xi: &mut self.xi,
                s0: &mut self.s0,
                s1: &mut self.s1,
            }),
        );
        let gamma = &self.alpha;

        // Transitions: expected counts A_ij Σ_t α_t(i) b_{t+1}(j) β_{t+1}(j) / z_t.
        for ((new_row, xi_row), old_row) in self
            .new_trans
            .chunks_exact_mut(k)
            .zip(self.xi.chunks_exact(k))
            .zip(p.trans.chunks_exact(k))
        {
            let mut s = 0.0;
            for ((n, &x), &a) in new_row.iter_mut().zip(xi_row).zip(old_row) {
                *n = x * a;
                s += *n;
            }
            if s > 0.0 && s.is_finite() {
                let inv = 1.0 / s;
                new_row.iter_mut().for_each(|n| *n *= inv);
            } else {
                new_row.copy_from_slice(old_row);
            }
        }

        // Means from the fused first moments; variances by a second pass over γ around the new
        // means (exact, no E[r²] − E[r]² cancellation).
        let (s0, s1, s2) = (&mut self.s0, &mut self.s1, &mut self.s2);
        s2.fill(0.0);
        for ((m, &a), &b) in s1.iter_mut().zip(s0.iter()).zip(&p.mean) {
            // s1 becomes the new mean; a state without posterior mass keeps its old one.
            *m = if a > 0.0 { *m / a } else { b };
        }
        match k {
            2 => second_moments::<2>(gamma, self.obs, s1, s2),
            3 => second_moments::<3>(gamma, self.obs, s1, s2),
            4 => second_moments::<4>(gamma, self.obs, s1, s2),
            _ => second_moments_k(k, gamma, self.obs, s1, s2),
        }
        for ((v, &a), &old) in s2.iter_mut().zip(s0.iter()).zip(&p.var) {
            *v = if a > 0.0 {
                (*v / a).max(self.var_floor)
            } else {
                old
            };
        }

        let g0 = &gamma[..k];
        let g0_sum: f64 = g0.iter().sum();
        let ok = s1
            .iter()
            .chain(s2.iter())
            .chain(self.new_trans.iter())
            .all(|x| x.is_finite())
            && g0_sum > 0.0
            && g0_sum.is_finite();
        if !ok {
            return Err(numerical("M-step produced a non-finite parameter".into()));
        }
        p.mean.copy_from_slice(s1);
        p.var.copy_from_slice(s2);
        p.trans.copy_from_slice(&self.new_trans);
        for (i, &g) in p.initial.iter_mut().zip(g0) {
            *i = g / g0_sum;
        }
        Ok(ll)
    }

    /// Log-likelihood of the current parameters (one forward pass).
    pub fn log_likelihood(&mut self) -> f64 {
        let p = &self.p;
        self.kern.set(&p.mean, &p.var, &p.trans, &p.initial);
        kernel::forward(
            &self.kern,
            self.obs,
            &mut self.alpha,
            &mut self.emis,
            &mut self.pred,
            &mut self.log_rows,
        )
    }

    /// The current parameters as a model (state names taken from the initial model).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the parameters fail validation (not expected: every
    /// update keeps rows normalised and variances floored).
    pub fn model(&self) -> Result<GaussianHmm> {
        let p = &self.p;
        GaussianHmm::from_parts(&p.mean, &p.var, &p.trans, &p.initial, &self.names)
    }
}

/// Adds `Σ_t γ_t(j) (r_t − mean_j)²` to `s2[j]` (γ is T×K row-major, `k` states).
fn second_moments_k(k: usize, gamma: &[f64], obs: &[f64], mean: &[f64], s2: &mut [f64]) {
    for (g, &r) in gamma.chunks_exact(k).zip(obs) {
        for ((c, &m), &gj) in s2.iter_mut().zip(mean).zip(g) {
            let d = r - m;
            *c += gj * d * d;
        }
    }
}

/// [`second_moments_k`] for `K` states known at compile time (the sums in registers; the same
/// operations in the same order).
#[inline(always)]
fn second_moments<const K: usize>(gamma: &[f64], obs: &[f64], mean: &[f64], s2: &mut [f64]) {
    let mean: [f64; K] = std::array::from_fn(|j| mean[j]);
    let mut acc: [f64; K] = std::array::from_fn(|j| s2[j]);
    for (g, &r) in gamma.as_chunks::<K>().0.iter().zip(obs) {
        for ((c, &m), &gj) in acc.iter_mut().zip(&mean).zip(g) {
            let d = r - m;
            *c += gj * d * d;
        }
    }
    s2[..K].copy_from_slice(&acc);
}

fn numerical(detail: String) -> Error {
    Error::Numerical {
        what: "baum-welch",
        detail,
    }
}

/// Population mean and variance.
fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, v)
}

/// Mean and floored variance of a group; groups with < 2 members take `fallback`.
fn group_stats(xs: &[f64], fallback: (f64, f64), floor: f64) -> (f64, f64) {
    if xs.len() < 2 {
        return (
            xs.first().copied().unwrap_or(fallback.0),
            fallback.1.max(floor),
        );
    }
    let (m, v) = mean_var(xs);
    (m, v.max(floor))
}

/// Restart 0: quantile-initialised 1-D k-means on the sorted data.
fn kmeans_init(sorted: &[f64], k: usize, total: (f64, f64), floor: f64) -> Params {
    let n = sorted.len();
    let mut centres: Vec<f64> = (0..k)
        .map(|j| sorted[(((j as f64 + 0.5) / k as f64 * n as f64) as usize).min(n - 1)])
        .collect();
    let segments = |c: &[f64]| -> Vec<usize> {
        // bounds[j]..bounds[j+1] is cluster j (centres ascending ⇒ clusters contiguous).
        let mut b = vec![0usize; k + 1];
        for j in 1..k {
            let mid = 0.5 * (c[j - 1] + c[j]);
            b[j] = sorted.partition_point(|&x| x < mid).max(b[j - 1]);
        }
        b[k] = n;
        b
    };
    for _ in 0..100 {
        let b = segments(&centres);
        let next: Vec<f64> = (0..k)
            .map(|j| {
                let seg = &sorted[b[j]..b[j + 1]];
                if seg.is_empty() {
                    centres[j]
                } else {
                    seg.iter().sum::<f64>() / seg.len() as f64
                }
            })
            .collect();
        if next == centres {
            break;
        }
        centres = next;
    }
    let b = segments(&centres);
    let (mean, var) = (0..k)
        .map(|j| group_stats(&sorted[b[j]..b[j + 1]], total, floor))
        .unzip();
    Params::sticky(mean, var)
}

/// Restart 1: groups by quantiles of the absolute deviation from the median.
fn volatility_init(obs: &[f64], sorted: &[f64], k: usize, total: (f64, f64), floor: f64) -> Params {
    let n = obs.len();
    let median = sorted[n / 2];
    let mut dev: Vec<f64> = obs.iter().map(|r| (r - median).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let cuts: Vec<f64> = (1..k).map(|j| dev[j * n / k]).collect();
    let mut groups: Vec<Vec<f64>> = vec![Vec::new(); k];
    for &r in obs {
        let d = (r - median).abs();
        groups[cuts.partition_point(|&c| c <= d).min(k - 1)].push(r);
    }
    let (mean, var) = groups.iter().map(|g| group_stats(g, total, floor)).unzip();
    Params::sticky(mean, var)
}

/// Restarts ≥ 2: random parameters from the restart's own generator.
fn random_init(
    rng: &mut Xoshiro256PlusPlus,
    obs: &[f64],
    k: usize,
    total_var: f64,
    floor: f64,
) -> Params {
    let sd = total_var.sqrt();
    let mean = (0..k)
        .map(|_| obs[rng.random_range(0..obs.len())])
        .collect();
    let var = (0..k)
        .map(|_| {
            let s = sd * rng.random_range(-1.5f64..1.5).exp();
            (s * s).max(floor)
        })
        .collect();
    let mut trans = vec![0.0; k * k];
    for (i, row) in trans.chunks_exact_mut(k).enumerate() {
        if k == 1 {
            row[0] = 1.0;
            continue;
        }
        let stay: f64 = rng.random_range(0.5..0.99);
        for (j, x) in row.iter_mut().enumerate() {
            *x = if j == i {
                0.0
            } else {
                rng.random::<f64>() + 0.01
            };
        }
        let off: f64 = row.iter().sum();
        for (j, x) in row.iter_mut().enumerate() {
            *x = if j == i {
                stay
            } else {
                *x / off * (1.0 - stay)
            };
        }
    }
    Params {
        mean,
        var,
        trans,
        initial: vec![1.0 / k as f64; k],
    }
}

struct Outcome {
    model: GaussianHmm,
    loglik: f64,
    iterations: usize,
    converged: bool,
}

fn run_restart(
    obs: &[f64],
    init: Params,
    cfg: &FitConfig,
    floor: f64,
    names: Vec<String>,
) -> Result<Outcome> {
    let mut bw = BaumWelch::from_params(obs, init, floor, names);
    let (mut prev, mut iterations, mut converged) = (f64::NEG_INFINITY, 0, false);
    while iterations < cfg.max_iter {
        let ll = bw.step()?;
        iterations += 1;
        if ll - prev <= cfg.tol * ll.abs().max(1.0) {
            converged = true;
            break;
        }
        prev = ll;
    }
    let loglik = bw.log_likelihood();
    if !loglik.is_finite() {
        return Err(numerical(format!("final log-likelihood is {loglik}")));
    }
    Ok(Outcome {
        model: bw.model()?,
        loglik,
        iterations,
        converged,
    })
}

/// Fits a `cfg.states`-state Gaussian HMM to `obs` by Baum-Welch with `cfg.restarts` seeded
/// restarts, keeping the best log-likelihood; the model is returned canonicalised
/// (named regimes, canonical state order). See the module docs for initialisation, variance
/// floor and convergence.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad config; [`Error::TooShort`] for fewer than
/// `max(2, 2K)` observations; [`Error::NonFinite`] naming the first non-finite observation;
/// [`Error::Numerical`] if every restart fails numerically (the first restart's error).
pub fn fit(obs: &[f64], cfg: &FitConfig) -> Result<FitReport> {
    cfg.validate()?;
    check_obs(obs)?;
    let k = cfg.states;
    let needed = (2 * k).max(2);
    if obs.len() < needed {
        return Err(Error::TooShort {
            what: "obs",
            needed,
            got: obs.len(),
        });
    }
    let total = mean_var(obs);
    let floor = (cfg.var_floor * total.1).max(MIN_VARIANCE);
    let mut sorted = obs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let names: Vec<String> = (0..k).map(|i| format!("state_{i}")).collect();

    let outcomes: Vec<Result<Outcome>> = (0..cfg.restarts)
        .into_par_iter()
        .map(|i| {
            let init = match i {
                0 => kmeans_init(&sorted, k, total, floor),
                1 => volatility_init(obs, &sorted, k, total, floor),
                _ => {
                    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
                    for _ in 0..i {
                        rng.jump();
                    }
                    random_init(&mut rng, obs, k, total.1, floor)
                }
            };
            run_restart(obs, init, cfg, floor, names.clone())
        })
        .collect();

    let restarts: Vec<f64> = outcomes
        .iter()
        .map(|o| o.as_ref().map_or(f64::NEG_INFINITY, |o| o.loglik))
        .collect();
    let mut best: Option<(usize, &Outcome)> = None;
    for (i, o) in outcomes.iter().enumerate() {
        if let Ok(o) = o
            && best.is_none_or(|(_, b)| o.loglik > b.loglik)
        {
            best = Some((i, o));
        }
    }
    let Some((best_restart, b)) = best else {
        return Err(outcomes
            .into_iter()
            .find_map(Result::err)
            .unwrap_or_else(|| numerical("no restart produced a model".into())));
    };
    let model = b.model.canonicalized();
    let loglik = model.log_likelihood(obs)?;
    Ok(FitReport {
        model,
        loglik,
        iterations: b.iterations,
        converged: b.converged,
        restarts,
        best_restart,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_size_second_moments_match_the_general_loop_bit_for_bit() {
        let obs: Vec<f64> = (0..1_001)
            .map(|i| ((i * 7919) % 1_000) as f64 * 1e-4 - 0.05)
            .collect();
        let gamma: Vec<f64> = (0..obs.len() * 3)
            .map(|i| ((i * 104_729) % 997) as f64 / 997.0)
            .collect();
        let mean = [0.01, -0.003, 0.0];
        let (mut fixed, mut general) = ([0.5, 0.25, 0.125], [0.5, 0.25, 0.125]);
        second_moments::<3>(&gamma, &obs, &mean, &mut fixed);
        second_moments_k(3, &gamma, &obs, &mean, &mut general);
        assert_ne!(fixed, [0.5, 0.25, 0.125]);
        assert_eq!(fixed.map(f64::to_bits), general.map(f64::to_bits));
    }
}
