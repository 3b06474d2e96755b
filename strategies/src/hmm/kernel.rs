//! Precomputed per-model constants and the one scaled forward step that the online filter, the
//! batch filter, smoothing and Baum-Welch all share (so they agree bit for bit).

/// Clamp on `½(r−μ)²/σ²` so that every finite observation has a finite log density.
pub(crate) const MAX_HALF_Z2: f64 = 1e300;

/// `½ ln 2π`.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_7;

/// Flat, precomputed model constants: everything an update needs without a division or a log.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kernel {
    /// Number of states.
    pub k: usize,
    /// State means.
    pub mean: Vec<f64>,
    /// `½ / σ²` per state.
    pub half_iv: Vec<f64>,
    /// `−ln σ − ½ ln 2π` per state.
    pub log_norm: Vec<f64>,
    /// Transition matrix, K×K row-major: `trans[i*k + j] = P(j | i)`.
    pub trans: Vec<f64>,
    /// Initial distribution.
    pub initial: Vec<f64>,
}

impl Kernel {
    /// A kernel for `k` states with all constants zero (fill with [`Kernel::set`]).
    pub fn zeros(k: usize) -> Self {
        Kernel {
            k,
            mean: vec![0.0; k],
            half_iv: vec![0.0; k],
            log_norm: vec![0.0; k],
            trans: vec![0.0; k * k],
            initial: vec![0.0; k],
        }
    }

    /// Overwrites the constants in place (no allocation) from means, variances, the flat
    /// transition matrix and the initial distribution.
    pub fn set(&mut self, mean: &[f64], var: &[f64], trans: &[f64], initial: &[f64]) {
        self.mean.copy_from_slice(mean);
        for ((h, l), &v) in self.half_iv.iter_mut().zip(&mut self.log_norm).zip(var) {
            *h = 0.5 / v;
            *l = -0.5 * v.ln() - HALF_LN_2PI;
        }
        self.trans.copy_from_slice(trans);
        self.initial.copy_from_slice(initial);
    }

    /// Writes `ln N(r; μ_j, σ_j²)` into `logb` and returns the largest.
    #[inline(always)]
    pub fn emission_logs(&self, r: f64, logb: &mut [f64]) -> f64 {
        let mut m = f64::NEG_INFINITY;
        for (((lb, &mu), &h), &ln) in logb
            .iter_mut()
            .zip(&self.mean)
            .zip(&self.half_iv)
            .zip(&self.log_norm)
        {
            let d = r - mu;
            let v = ln - (h * d * d).min(MAX_HALF_Z2);
            *lb = v;
            m = m.max(v);
        }
        m
    }

    /// One-step prediction `pred = p · A`.
    #[inline(always)]
    pub fn predict(&self, p: &[f64], pred: &mut [f64]) {
        let k = self.k;
        let mut rows = self.trans.chunks_exact(k);
        let (Some(first), Some(&p0)) = (rows.next(), p.first()) else {
            return;
        };
        for (q, &a) in pred.iter_mut().zip(first) {
            *q = p0 * a;
        }
        for (row, &pi) in rows.zip(&p[1..]) {
            for (q, &a) in pred.iter_mut().zip(row) {
                *q += pi * a;
            }
        }
    }

    /// Bayes update of the predicted distribution `pred` with observation `r`.
    ///
    /// Writes the normalised posterior into `out` and the relative emission densities
    /// `exp(ln b_j − max ln b)` (each in `[0, 1]`, the best state's exactly 1) into `emis`;
    /// returns the log-likelihood increment `ln p(r_t | r_1..t−1)`.
    #[inline(always)]
    pub fn update(&self, pred: &[f64], r: f64, out: &mut [f64], emis: &mut [f64]) -> f64 {
        let m = self.emission_logs(r, emis);
        let mut s = 0.0;
        for ((o, e), &q) in out.iter_mut().zip(emis.iter_mut()).zip(pred) {
            let b = (*e - m).exp();
            *e = b;
            let u = q * b;
            *o = u;
            s += u;
        }
        if s >= f64::MIN_POSITIVE {
            let inv = 1.0 / s;
            for o in out.iter_mut() {
                // min: u/s can round one ulp above 1.
                *o = (*o * inv).min(1.0);
            }
            m + s.ln()
        } else {
            m + self.update_log_space(pred, r, m, out)
        }
    }

    /// The rare path of [`Kernel::update`]: the normaliser underflowed, so redo the step with
    /// `ln pred_j + ln b_j − m` and a log-sum-exp. Returns the increment minus `m`.
    #[cold]
    #[inline(never)]
    fn update_log_space(&self, pred: &[f64], r: f64, m: f64, out: &mut [f64]) -> f64 {
        self.emission_logs(r, out);
        let mut mx = f64::NEG_INFINITY;
        for (o, &q) in out.iter_mut().zip(pred) {
            *o = q.ln() + (*o - m);
            mx = mx.max(*o);
        }
        if !mx.is_finite() {
            // Unreachable for a valid model (pred sums to 1); stay a distribution regardless.
            let u = 1.0 / out.len() as f64;
            out.fill(u);
            return f64::MIN_POSITIVE.ln();
        }
        let mut s = 0.0;
        for o in out.iter_mut() {
            *o = (*o - mx).exp();
            s += *o;
        }
        let inv = 1.0 / s;
        for o in out.iter_mut() {
            *o = (*o * inv).min(1.0);
        }
        mx + s.ln()
    }
}

/// Scaled forward pass over `obs` into `alpha` (T×K filtered probabilities) and `emis` (T×K
/// relative emission densities); returns the log-likelihood. `pred` is K scratch.
///
/// Performs exactly the arithmetic of [`crate::hmm::OnlineFilter::update`], step for step.
pub(crate) fn forward(
    kern: &Kernel,
    obs: &[f64],
    alpha: &mut [f64],
    emis: &mut [f64],
    pred: &mut [f64],
) -> f64 {
    let k = kern.k;
    let mut ll = 0.0;
    let mut prev: Option<&[f64]> = None;
    for ((&r, a), e) in obs
        .iter()
        .zip(alpha.chunks_exact_mut(k))
        .zip(emis.chunks_exact_mut(k))
    {
        let inc = match prev {
            None => kern.update(&kern.initial, r, a, e),
            Some(p) => {
                kern.predict(p, pred);
                kern.update(pred, r, a, e)
            }
        };
        ll += inc;
        prev = Some(a);
    }
    ll
}

/// Scratch for [`backward`]: three K-vectors.
#[derive(Debug, Clone)]
pub(crate) struct BackwardScratch {
    beta: Vec<f64>,
    bu: Vec<f64>,
    w: Vec<f64>,
}

impl BackwardScratch {
    /// Scratch for `k` states.
    pub fn new(k: usize) -> Self {
        BackwardScratch {
            beta: vec![0.0; k],
            bu: vec![0.0; k],
            w: vec![0.0; k],
        }
    }
}

/// Sufficient statistics accumulated by [`backward`] for the Baum-Welch M-step.
#[derive(Debug)]
pub(crate) struct Accum<'a> {
    /// The observations (length T).
    pub obs: &'a [f64],
    /// `Σ_t α_t(i) b_{t+1}(j) β_{t+1}(j) / z_t` at `[i*k + j]`; multiply by `A[i][j]` to get
    /// the expected transition counts.
    pub xi: &'a mut [f64],
    /// `Σ_t γ_t(j)`.
    pub s0: &'a mut [f64],
    /// `Σ_t γ_t(j) r_t`.
    pub s1: &'a mut [f64],
}

/// β is kept within `[BETA_RESCALE⁻¹, BETA_RESCALE]` (its scale is irrelevant: γ and ξ are
/// normalised explicitly), so the common step has no division on its dependency chain.
const BETA_RESCALE: f64 = 1e100;

/// Backward pass: turns the filtered `alpha` (from [`forward`]) into smoothed posteriors γ in
/// place; with `acc`, also adds the sufficient statistics (which it zeroes first).
///
/// γ and ξ at each step are normalised by the same
/// `z_t = Σ_i α_t(i) Σ_j A_ij b_{t+1}(j) β_{t+1}(j)`, and β (whose scale cancels) is only
/// rescaled when its sum leaves `[1e-100, 1e100]`, so no scale factor can underflow. If `z_t`
/// does underflow (forward and backward information contradict each other beyond f64 range),
/// γ_t falls back to the filtered α_t, that step adds nothing to ξ, and β restarts at 1.
pub(crate) fn backward(
    kern: &Kernel,
    alpha: &mut [f64],
    emis: &[f64],
    scratch: &mut BackwardScratch,
    mut acc: Option<Accum<'_>>,
) {
    let k = kern.k;
    let t_len = alpha.len() / k;
    let BackwardScratch { beta, bu, w } = scratch;
    if let Some(acc) = acc.as_mut() {
        acc.xi.fill(0.0);
        acc.s0.fill(0.0);
        acc.s1.fill(0.0);
        if let (Some(&r), Some(g)) = (acc.obs.last(), alpha.chunks_exact(k).last()) {
            add_moments(acc.s0, acc.s1, g, r);
        }
    }
    beta.fill(1.0);
    for t in (0..t_len.saturating_sub(1)).rev() {
        let e = &emis[(t + 1) * k..(t + 2) * k];
        for ((wj, &ej), &bj) in w.iter_mut().zip(e).zip(beta.iter()) {
            *wj = ej * bj;
        }
        let mut sb = 0.0;
        for (b, row) in bu.iter_mut().zip(kern.trans.chunks_exact(k)) {
            *b = row.iter().zip(w.iter()).map(|(a, x)| a * x).sum();
            sb += *b;
        }
        let a = &mut alpha[t * k..(t + 1) * k];
        let z: f64 = a.iter().zip(bu.iter()).map(|(x, y)| x * y).sum();
        if !(z >= f64::MIN_POSITIVE && z.is_finite()) {
            beta.fill(1.0);
            if let Some(acc) = acc.as_mut() {
                add_moments(acc.s0, acc.s1, a, acc.obs[t]);
            }
            continue;
        }
        let inv = 1.0 / z;
        if let Some(acc) = acc.as_mut() {
            for (row, &ai) in acc.xi.chunks_exact_mut(k).zip(a.iter()) {
                let s = ai * inv;
                for (x, &wj) in row.iter_mut().zip(w.iter()) {
                    *x += s * wj;
                }
            }
        }
        for (ai, &b) in a.iter_mut().zip(bu.iter()) {
            *ai = (*ai * b * inv).min(1.0);
        }
        if let Some(acc) = acc.as_mut() {
            add_moments(acc.s0, acc.s1, a, acc.obs[t]);
        }
        if (1.0 / BETA_RESCALE..=BETA_RESCALE).contains(&sb) {
            beta.copy_from_slice(bu);
        } else {
            let inv_sb = 1.0 / sb;
            for (bj, &b) in beta.iter_mut().zip(bu.iter()) {
                *bj = b * inv_sb;
            }
        }
    }
}

#[inline(always)]
fn add_moments(s0: &mut [f64], s1: &mut [f64], g: &[f64], r: f64) {
    for ((a, b), &gj) in s0.iter_mut().zip(s1.iter_mut()).zip(g) {
        *a += gj;
        *b += gj * r;
    }
}
