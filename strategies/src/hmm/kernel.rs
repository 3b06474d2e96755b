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
    /// `ln trans` (−∞ for a zero), for the log-space steps.
    pub log_trans: Vec<f64>,
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
            log_trans: vec![0.0; k * k],
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
        for (l, &p) in self.log_trans.iter_mut().zip(trans) {
            *l = p.ln();
        }
        self.initial.copy_from_slice(initial);
    }

    /// Writes `ln N(r; μ_j, σ_j²)` into `logb` and returns the largest.
    #[inline(always)]
    pub fn emission_logs(&self, r: f64, logb: &mut [f64]) -> f64 {
        self.emission_logs_k(self.k, r, logb)
    }

    /// [`Kernel::emission_logs`] with the state count passed in, so that a caller that knows it
    /// at compile time gets a loop of fixed length (same arithmetic).
    #[inline(always)]
    fn emission_logs_k(&self, k: usize, r: f64, logb: &mut [f64]) -> f64 {
        let mut m = f64::NEG_INFINITY;
        for (((lb, &mu), &h), &ln) in logb[..k]
            .iter_mut()
            .zip(&self.mean[..k])
            .zip(&self.half_iv[..k])
            .zip(&self.log_norm[..k])
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
        self.predict_k(self.k, p, pred);
    }

    /// [`Kernel::predict`] with the state count passed in (see [`Kernel::emission_logs_k`]).
    #[inline(always)]
    fn predict_k(&self, k: usize, p: &[f64], pred: &mut [f64]) {
        let (p, pred) = (&p[..k], &mut pred[..k]);
        let mut rows = self.trans[..k * k].chunks_exact(k);
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

    /// One filter step: the filtered distribution after observation `r`, given the previous
    /// one `prev` (`None` at the first step, which starts from the initial distribution).
    ///
    /// Writes the normalised posterior into `out` (which must not alias `prev`), the relative
    /// emission densities `exp(ln b_j − max ln b)` (each in `[0, 1]`, the best state's
    /// exactly 1) into `emis`, and uses `pred` as scratch; returns the log-likelihood
    /// increment `ln p(r_t | r_1..t−1)` as `(a, s)` meaning `a + ln s` (add it to a [`LogLik`],
    /// which takes one logarithm when read instead of one per step).
    ///
    /// The scaled step is used while it is exact to rounding, i.e. every unnormalised entry
    /// `pred_j · b_j` is ≥ [`TINY`] or an exact structural zero (see [`TINY`] for why). Else —
    /// an outlier so extreme that a state's relative density underflows, a collapsed state far
    /// from the observation, or a prediction too small to hold — the step is done in the mixed
    /// form of [`Kernel::filter_step_log_space`] (the states below [`TINY`] carried as exact logs
    /// in `log`, the others linearly) until no state is below [`TINY`]. Without such events the
    /// arithmetic is exactly the plain scaled filter.
    #[inline(always)]
    pub fn filter_step(
        &self,
        prev: Option<&[f64]>,
        r: f64,
        pred: &mut [f64],
        out: &mut [f64],
        emis: &mut [f64],
        log: &mut ForwardLog,
    ) -> (f64, f64) {
        // The common state counts get loops of fixed length (the same arithmetic).
        match self.k {
            2 => self.filter_step_k(2, prev, r, pred, out, emis, log),
            3 => self.filter_step_k(3, prev, r, pred, out, emis, log),
            4 => self.filter_step_k(4, prev, r, pred, out, emis, log),
            k => self.filter_step_k(k, prev, r, pred, out, emis, log),
        }
    }

    /// [`Kernel::filter_step`] with the state count passed in.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn filter_step_k(
        &self,
        k: usize,
        prev: Option<&[f64]>,
        r: f64,
        pred: &mut [f64],
        out: &mut [f64],
        emis: &mut [f64],
        log: &mut ForwardLog,
    ) -> (f64, f64) {
        if !log.active {
            let pred: &[f64] = match prev {
                None => &self.initial[..k],
                Some(p) => {
                    self.predict_k(k, p, pred);
                    &pred[..k]
                }
            };
            let m = self.emission_logs_k(k, r, emis);
            let mut s = 0.0;
            let mut lo = f64::INFINITY;
            for ((o, e), &q) in out[..k].iter_mut().zip(emis[..k].iter_mut()).zip(pred) {
                // A collapsed state far from `r` underflows here on many steps.
                let b = exp_or_zero(*e - m);
                *e = b;
                let u = q * b;
                *o = u;
                s += u;
                lo = lo.min(u);
            }
            if lo >= TINY || (s >= f64::MIN_POSITIVE && self.zeros_are_exact(prev, out)) {
                let inv = 1.0 / s;
                for o in out[..k].iter_mut() {
                    // min: u/s can round one ulp above 1.
                    *o = (*o * inv).min(1.0);
                }
                return (m, s);
            }
        }
        (self.filter_step_log_space(prev, r, out, emis, log), 1.0)
    }

    /// Whether every entry of `u` below [`TINY`] is an exact zero because no state with
    /// previous mass (or initial mass, at the first step) can move to it. Previous entries are
    /// exact zeros or ≥ `TINY` (the scaled step's invariant), so a 0 found here is structural.
    #[cold]
    #[inline(never)]
    fn zeros_are_exact(&self, prev: Option<&[f64]>, u: &[f64]) -> bool {
        let k = self.k;
        u.iter().enumerate().all(|(j, &uj)| {
            uj >= TINY
                || (uj == 0.0
                    && match prev {
                        None => self.initial[j] == 0.0,
                        Some(p) => p
                            .iter()
                            .zip(self.trans.chunks_exact(k))
                            .all(|(&pi, row)| pi == 0.0 || row[j] == 0.0),
                    })
        })
    }

    /// The rare path of [`Kernel::filter_step`]: a step where some state's probability is
    /// below [`TINY`] (or would be after this observation), held exactly by mixing forms.
    ///
    /// Every entry of the filtered distribution is either *held linearly* (its probability is
    /// ≥ [`TINY`], or an exact structural zero — the linear row is exact to rounding) or *held in
    /// log space* (below [`TINY`]: `log.lp` keeps its exact `ln α`, the linear row only its
    /// possibly underflowed `exp`). Linear entries are propagated with the linear arithmetic; a
    /// log-space entry contributes at most `K · TINY` to any prediction, which is below
    /// 2⁻⁶² of a prediction ≥ [`PRED_EXACT`], so those columns are linear sums exact to
    /// rounding. Smaller predictions, and unnormalised values below [`TINY`], are computed in
    /// log space from the exact logs. So the step costs about a scaled step plus a logarithm
    /// per entry held in log space, instead of `K²` exponentials, and gives the log-space answer
    /// to rounding. `out` holds `ln pred_j` (then `ln u_j`) for the entries in log space until
    /// the final probabilities.
    #[cold]
    #[inline(never)]
    fn filter_step_log_space(
        &self,
        prev: Option<&[f64]>,
        r: f64,
        out: &mut [f64],
        emis: &mut [f64],
        log: &mut ForwardLog,
    ) -> f64 {
        let mut u = std::mem::take(&mut log.u);
        self.predict_mixed(prev, log, &mut u, out);
        let m = self.emission_logs(r, emis);
        for e in emis.iter_mut() {
            *e -= m;
        }
        let lz = settle_mixed(&mut u, out, Some(emis), log);
        log.u = u;
        log.stepped = true;
        m + lz
    }

    /// The prediction `α_{t−1} · A` of a mixed-form distribution (see
    /// [`Kernel::filter_step_log_space`]; `prev = None` is the initial distribution): `u_j`
    /// holds a linear prediction ≥ [`PRED_EXACT`], or NaN with `ln pred_j` (exact, −∞ for a
    /// structural zero) in `lout_j`.
    fn predict_mixed(
        &self,
        prev: Option<&[f64]>,
        log: &ForwardLog,
        u: &mut [f64],
        lout: &mut [f64],
    ) {
        let k = self.k;
        let Some(p) = prev else {
            for ((uj, lj), &q) in u.iter_mut().zip(lout.iter_mut()).zip(&self.initial) {
                if q >= PRED_EXACT {
                    *uj = q;
                } else {
                    *uj = f64::NAN;
                    *lj = q.ln();
                }
            }
            return;
        };
        // Entries held in log space (only while `log.active`) add nothing to the linear sums.
        let held_in_log = |i: usize| log.active && !log.lp[i].is_nan();
        u.fill(0.0);
        for (i, (&pi, row)) in p.iter().zip(self.trans.chunks_exact(k)).enumerate() {
            if !held_in_log(i) {
                for (uj, &a) in u.iter_mut().zip(row) {
                    *uj += pi * a;
                }
            }
        }
        for (j, (uj, lj)) in u.iter_mut().zip(lout.iter_mut()).enumerate() {
            if *uj >= PRED_EXACT {
                continue;
            }
            *uj = f64::NAN;
            *lj = log_sum_exp((0..k).map(|i| {
                let la = if held_in_log(i) { log.lp[i] } else { p[i].ln() };
                la + self.log_trans[i * k + j]
            }));
        }
    }

    /// A step without an observation (a missing value): `out = prev · A`, in the mixed form
    /// while `log` is active.
    pub fn predict_only(&self, prev: &[f64], out: &mut [f64], log: &mut ForwardLog) {
        if !log.active {
            self.predict(prev, out);
            return;
        }
        let mut u = std::mem::take(&mut log.u);
        self.predict_mixed(Some(prev), log, &mut u, out);
        settle_mixed(&mut u, out, None, log);
        log.u = u;
    }
}

/// `exp(x)`, with the arguments whose result rounds to 0 answered without calling `exp` (its
/// underflow path is slow), and 0 (the best state's relative density: `exp(0)` is exactly 1)
/// too; bit-identical to `x.exp()`.
#[inline(always)]
fn exp_or_zero(x: f64) -> f64 {
    if x < -750.0 {
        0.0
    } else if x == 0.0 {
        1.0
    } else {
        x.exp()
    }
}

/// Finishes a mixed-form step (see [`Kernel::filter_step_log_space`]) from the prediction in
/// `u` / `lout` (as [`Kernel::predict_mixed`] leaves it) and, with `emis`, the log relative
/// densities `ln b_j − max ln b` (replaced by the relative densities themselves); writes the
/// filtered probabilities into `lout`, the logs of the entries held in log space into `log.lp`
/// (NaN for the entries held linearly) and whether any is, and returns `ln Σ_j pred_j b_j`
/// (relative densities).
fn settle_mixed(
    u: &mut [f64],
    lout: &mut [f64],
    emis: Option<&mut [f64]>,
    log: &mut ForwardLog,
) -> f64 {
    // Unnormalised u_j = pred_j · b_j: linear when ≥ TINY, else NaN with its log in lout_j.
    let k = u.len();
    let mut apply = |j: usize, x: f64, b: f64| {
        let q = u[j];
        if q.is_nan() {
            let l = lout[j] + x;
            lout[j] = l;
            if l >= LN_TINY {
                u[j] = l.exp();
            }
        } else {
            let v = q * b;
            if v >= TINY {
                u[j] = v;
            } else {
                u[j] = f64::NAN;
                lout[j] = q.ln() + x;
            }
        }
    };
    match emis {
        Some(e) => {
            for (j, ej) in e.iter_mut().enumerate() {
                let x = *ej;
                let b = exp_or_zero(x);
                *ej = b;
                apply(j, x, b);
            }
        }
        None => (0..k).for_each(|j| apply(j, 0.0, 1.0)),
    }
    let s: f64 = u.iter().filter(|v| !v.is_nan()).sum();
    let lz = if s >= PRED_EXACT {
        // The entries in log space are each < TINY: below 2⁻⁶² of `s` together.
        s.ln()
    } else {
        // Everything in log space (rare: all the mass below 2⁻⁸³⁶ of the best density).
        for (uj, lj) in u.iter_mut().zip(lout.iter_mut()) {
            if !uj.is_nan() {
                *lj = uj.ln();
                *uj = f64::NAN;
            }
        }
        log_sum_exp(lout.iter().copied())
    };
    if !lz.is_finite() {
        // Unreachable for a valid model (the prediction has mass and every log density is
        // finite); stay a distribution regardless.
        let w = 1.0 / lout.len() as f64;
        lout.fill(w);
        log.lp.fill(f64::NAN);
        log.active = false;
        return f64::MIN_POSITIVE.ln();
    }
    let inv = 1.0 / s;
    let mut active = false;
    for ((o, l), &v) in lout.iter_mut().zip(log.lp.iter_mut()).zip(u.iter()) {
        let (p, lp) = if v.is_nan() {
            let lp = *o - lz;
            (exp_or_zero(lp).min(1.0), lp)
        } else {
            // min: v/s can round one ulp above 1.
            let p = (v * inv).min(1.0);
            (p, if p >= TINY { f64::NAN } else { v.ln() - lz })
        };
        *o = p;
        // Held linearly: a probability ≥ TINY, or a structural zero (−∞).
        let linear = lp.is_nan() || lp >= LN_TINY || lp == f64::NEG_INFINITY;
        *l = if linear { f64::NAN } else { lp };
        active |= !linear;
    }
    log.active = active;
    lz
}

/// Smallest linear prediction (and normaliser) a mixed-form step keeps linear: `2⁶⁴ ·`
/// [`TINY`], so that the entries held in log space (each below [`TINY`]) are below 2⁻⁶² of it.
const PRED_EXACT: f64 = f64::from_bits((1023 - 836) << 52);

/// Log-space state of the forward filter, carried while some filtered probability is below
/// [`TINY`] (see [`Kernel::filter_step_log_space`]).
#[derive(Debug, Clone)]
pub(crate) struct ForwardLog {
    /// Whether some entry of the last step is held in log space.
    active: bool,
    /// `ln α` of the last mixed-form step for the entries held in log space; NaN for the
    /// entries the linear row holds exactly.
    lp: Vec<f64>,
    /// Set by every mixed-form step (cleared by [`forward`], which records those rows).
    stepped: bool,
    /// K scratch: the linear predictions and unnormalised values of a mixed-form step.
    u: Vec<f64>,
}

impl ForwardLog {
    /// Inactive state for `k` states.
    pub fn new(k: usize) -> Self {
        ForwardLog {
            active: false,
            lp: vec![f64::NAN; k],
            stepped: false,
            u: vec![0.0; k],
        }
    }

    /// Back to the scaled form (a filter reset).
    pub fn reset(&mut self) {
        self.active = false;
        self.stepped = false;
    }
}

/// The filtered rows a [`forward`] pass computed in the mixed form, with `ln α_t` of their
/// entries held in log space (NaN where the linear row is exact): the linear row may have lost
/// entries below 2⁻¹⁰⁷⁴ that the backward pass needs when later observations make those states
/// likely again.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogRows {
    state: Option<ForwardLog>,
    t: Vec<usize>,
    vals: Vec<f64>,
}

/// Scaled forward pass over `obs` into `alpha` (T×K filtered probabilities) and `emis` (T×K
/// relative emission densities), recording log-space rows in `log_rows`; returns the
/// log-likelihood. `pred` is K scratch.
///
/// Performs exactly the arithmetic of [`crate::hmm::OnlineFilter::update`], step for step.
pub(crate) fn forward(
    kern: &Kernel,
    obs: &[f64],
    alpha: &mut [f64],
    emis: &mut [f64],
    pred: &mut [f64],
    log_rows: &mut LogRows,
) -> f64 {
    let k = kern.k;
    let LogRows {
        state,
        t: rows,
        vals,
    } = log_rows;
    let log = state.get_or_insert_with(|| ForwardLog::new(k));
    log.reset();
    rows.clear();
    vals.clear();
    // The common state counts keep the step's vectors in registers (the same arithmetic).
    match k {
        2 => forward_n::<2>(kern, obs, alpha, emis, log, rows, vals),
        3 => forward_n::<3>(kern, obs, alpha, emis, log, rows, vals),
        4 => forward_n::<4>(kern, obs, alpha, emis, log, rows, vals),
        _ => forward_k(kern, obs, alpha, emis, pred, log, rows, vals),
    }
}

/// [`forward`] for any state count, one [`Kernel::filter_step`] per observation (`log`, `rows`
/// and `vals` reset by the caller).
#[allow(clippy::too_many_arguments)]
fn forward_k(
    kern: &Kernel,
    obs: &[f64],
    alpha: &mut [f64],
    emis: &mut [f64],
    pred: &mut [f64],
    log: &mut ForwardLog,
    rows: &mut Vec<usize>,
    vals: &mut Vec<f64>,
) -> f64 {
    let k = kern.k;
    let mut ll = LogLik::default();
    for (t, (&r, e)) in obs.iter().zip(emis.chunks_exact_mut(k)).enumerate() {
        let (done, rest) = alpha.split_at_mut(t * k);
        let prev = (t > 0).then(|| &done[(t - 1) * k..]);
        let (a, s) = kern.filter_step(prev, r, pred, &mut rest[..k], e, log);
        ll.add(a, s);
        if log.stepped {
            log.stepped = false;
            rows.push(t);
            vals.extend_from_slice(&log.lp);
        }
    }
    ll.value()
}

/// [`forward`] for `K` states known at compile time: the scaled step of
/// [`Kernel::filter_step`] on arrays (so the previous row, the prediction and the model's
/// constants stay in registers), operation for operation, with the same fallback to
/// [`Kernel::filter_step_log_space`].
#[inline(always)]
fn forward_n<const K: usize>(
    kern: &Kernel,
    obs: &[f64],
    alpha: &mut [f64],
    emis: &mut [f64],
    log: &mut ForwardLog,
    rows: &mut Vec<usize>,
    vals: &mut Vec<f64>,
) -> f64 {
    let c = Consts::<K>::new(kern);
    let (arows, _) = alpha.as_chunks_mut::<K>();
    let (erows, _) = emis.as_chunks_mut::<K>();
    let mut ll = LogLik::default();
    // The previous filtered row (a copy of `alpha[t − 1]`).
    let mut p = [0.0; K];
    for (t, ((&r, a), e)) in obs.iter().zip(arows).zip(erows).enumerate() {
        let first = t == 0;
        let (m, s) = match (!log.active)
            .then(|| c.scaled_step(kern, (!first).then_some(&p), r, a, e))
            .flatten()
        {
            Some(step) => step,
            None => {
                let prev = (!first).then_some(&p[..]);
                (kern.filter_step_log_space(prev, r, a, e, log), 1.0)
            }
        };
        ll.add(m, s);
        p = *a;
        if log.stepped {
            log.stepped = false;
            rows.push(t);
            vals.extend_from_slice(&log.lp);
        }
    }
    ll.value()
}

/// A [`Kernel`]'s constants as arrays for `K` states known at compile time.
struct Consts<const K: usize> {
    mean: [f64; K],
    half_iv: [f64; K],
    log_norm: [f64; K],
    trans: [[f64; K]; K],
    initial: [f64; K],
}

impl<const K: usize> Consts<K> {
    /// The constants of `kern` (which has `K` states).
    #[inline(always)]
    fn new(kern: &Kernel) -> Self {
        let arr = |v: &[f64]| -> [f64; K] { std::array::from_fn(|j| v[j]) };
        Consts {
            mean: arr(&kern.mean),
            half_iv: arr(&kern.half_iv),
            log_norm: arr(&kern.log_norm),
            trans: std::array::from_fn(|i| arr(&kern.trans[i * K..(i + 1) * K])),
            initial: arr(&kern.initial),
        }
    }

    /// The scaled step of [`Kernel::filter_step_k`] (same operations in the same order):
    /// writes the posterior into `out` and the relative densities into `emis` and returns
    /// `(a, s)`, or `None` (with `out` and `emis` overwritten) when the step must be done in
    /// the mixed form.
    #[inline(always)]
    fn scaled_step(
        &self,
        kern: &Kernel,
        prev: Option<&[f64; K]>,
        r: f64,
        out: &mut [f64; K],
        emis: &mut [f64; K],
    ) -> Option<(f64, f64)> {
        let pred = match prev {
            None => self.initial,
            Some(p) => {
                let mut pred = [0.0; K];
                for (q, &a) in pred.iter_mut().zip(&self.trans[0]) {
                    *q = p[0] * a;
                }
                for (row, &pi) in self.trans.iter().zip(p).skip(1) {
                    for (q, &a) in pred.iter_mut().zip(row) {
                        *q += pi * a;
                    }
                }
                pred
            }
        };
        let mut m = f64::NEG_INFINITY;
        for (((lb, &mu), &h), &ln) in emis
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
        let mut s = 0.0;
        let mut lo = f64::INFINITY;
        for ((o, e), &q) in out.iter_mut().zip(emis.iter_mut()).zip(&pred) {
            let b = exp_or_zero(*e - m);
            *e = b;
            let u = q * b;
            *o = u;
            s += u;
            lo = lo.min(u);
        }
        if lo >= TINY || (s >= f64::MIN_POSITIVE && kern.zeros_are_exact(prev.map(|p| &p[..]), out))
        {
            let inv = 1.0 / s;
            for o in out.iter_mut() {
                *o = (*o * inv).min(1.0);
            }
            return Some((m, s));
        }
        None
    }
}

/// A running log-likelihood `Σ_t (a_t + ln s_t)` that takes one logarithm when read instead of
/// one per step: the `a_t` are summed, the `s_t` (positive normal numbers, the scaled
/// normalisers) multiplied as exact binary mantissas in `[1, 2)` with their exponents summed
/// as integers. The product of mantissas loses about one rounding per step, as the sum of
/// logarithms it replaces did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LogLik {
    sum: f64,
    mantissa: f64,
    exponent: i64,
}

impl Default for LogLik {
    fn default() -> Self {
        LogLik {
            sum: 0.0,
            mantissa: 1.0,
            exponent: 0,
        }
    }
}

impl LogLik {
    /// Adds `a + ln s` (`s` a positive normal number, as [`Kernel::filter_step`] returns).
    #[inline(always)]
    pub fn add(&mut self, a: f64, s: f64) {
        self.sum += a;
        let (f, e) = split_normal(s);
        self.mantissa *= f;
        self.exponent += e;
        // Mantissas are < 2, so this holds the product below 2⁵¹³ between checks.
        if self.mantissa >= 2f64.powi(512) {
            let (f, e) = split_normal(self.mantissa);
            self.mantissa = f;
            self.exponent += e;
        }
    }

    /// The total.
    pub fn value(&self) -> f64 {
        self.sum + (self.mantissa.ln() + self.exponent as f64 * std::f64::consts::LN_2)
    }
}

/// `x = f · 2^e` with `f ∈ [1, 2)`, for a positive normal `x` (exact: bit operations).
#[inline(always)]
fn split_normal(x: f64) -> (f64, i64) {
    const MANTISSA: u64 = (1 << 52) - 1;
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    (f64::from_bits((bits & MANTISSA) | (1023 << 52)), e)
}

/// Scratch for [`backward`]: three K-vectors.
#[derive(Debug, Clone)]
pub(crate) struct BackwardScratch {
    /// β (scaled) — or `ln β` (any scale) while the pass is in log space.
    beta: Vec<f64>,
    /// `Σ_j A_ij w_j` (or its log).
    bu: Vec<f64>,
    /// `b_{t+1}(j) β_{t+1}(j)` (or its log).
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
    /// `Σ_t α_t(i) b_{t+1}(j) β_{t+1}(j) / z_t` at `[i*k + j]`; multiply by `A[i][j]` to get
    /// the expected transition counts. Each term is capped at [`XI_TERM_MAX`] (it is at most
    /// `1 / A[i][j]`, so the cap only binds where `A[i][j] < 2⁻⁹⁰⁰`, e.g. exactly 0).
    pub xi: &'a mut [f64],
    /// `Σ_t γ_t(j)`.
    pub s0: &'a mut [f64],
    /// `Σ_t γ_t(j) r_t`.
    pub s1: &'a mut [f64],
}

/// β is kept within `[BETA_RESCALE⁻¹, BETA_RESCALE]` (its scale is irrelevant: γ and ξ are
/// normalised explicitly), so the common step has no division on its dependency chain.
const BETA_RESCALE: f64 = 1e100;

/// `2⁻⁹⁰⁰ ≈ 1.2e-271`: the smallest `Σ_j A_ij b_{t+1}(j) β_{t+1}(j)` entry and the smallest
/// normaliser `z_t` for which a scaled backward step is trusted.
///
/// Every quantity of the scaled step is non-negative, so it is accurate component by component
/// to a few ulps *except* where something underflows: a relative emission density
/// `exp(ln b_j − max ln b)` below 2⁻¹⁰⁷⁴ is stored as 0 (this is how an outlier's information
/// about the unlikely states is lost), and subnormal products lose their low bits. With β ≤ 1
/// and b ≤ 1 each such loss is below 2⁻¹⁰⁷⁴ in absolute terms, i.e. below `K·2⁻¹⁷⁴` relative
/// to any entry ≥ 2⁻⁹⁰⁰. Smaller entries may be wrong by any factor, so the step is redone in
/// log space from the log densities instead.
const TINY: f64 = f64::from_bits((1023 - 900) << 52);

/// `ln TINY`: a log-space β whose entries all lie within this of its largest can be returned to
/// the scaled form without an entry dropping below [`TINY`].
const LN_TINY: f64 = -623.832_462_503_950_8;

/// Cap on one term of [`Accum::xi`], `2⁹⁰⁰ = 1 / TINY` (the largest a trusted scaled step can
/// add: `α_t(i) / z_t · w_j ≤ 1 / TINY`).
pub(crate) const XI_TERM_MAX: f64 = f64::from_bits((1023 + 900) << 52);

/// Backward pass: turns the filtered `alpha` (from [`forward`] over `obs`) into smoothed
/// posteriors γ in place; with `acc`, also adds the sufficient statistics (which it zeroes
/// first).
///
/// γ and ξ at each step are normalised by the same
/// `z_t = Σ_i α_t(i) Σ_j A_ij b_{t+1}(j) β_{t+1}(j)`, and β (whose scale cancels) is only
/// rescaled when its sum leaves `[1e-100, 1e100]` (it never exceeds 1 entrywise: A is
/// row-stochastic and the relative densities are ≤ 1).
///
/// The scaled step is used while it is exact to rounding: every entry of `A·(b ⊙ β)` and `z_t`
/// at least [`TINY`]. Otherwise (an outlier whose density ratio underflows, meeting a
/// transition structure — e.g. an absorbing state — under which it decides the past; or a
/// filtered probability so small that `z_t` underflows) that step is redone in log space from
/// `ln α_t`, the recomputed log emission densities `ln b_{t+1}` and `ln β_{t+1}`, and the pass
/// stays in log space until β's entries are again within a factor 2⁹⁰⁰ of each other. So a
/// sequence without such events runs exactly the scaled arithmetic, and one with them gets the
/// log-space answer (taking `ln α_t` from `log_rows` where the forward pass had to work in log
/// space and the linear row may have lost entries).
pub(crate) fn backward(
    kern: &Kernel,
    obs: &[f64],
    alpha: &mut [f64],
    emis: &[f64],
    log_rows: &LogRows,
    scratch: &mut BackwardScratch,
    acc: Option<Accum<'_>>,
) {
    // The common state counts keep the step's vectors and the sums in registers (the same
    // arithmetic).
    match kern.k {
        2 => backward_n::<2>(kern, obs, alpha, emis, log_rows, acc),
        3 => backward_n::<3>(kern, obs, alpha, emis, log_rows, acc),
        4 => backward_n::<4>(kern, obs, alpha, emis, log_rows, acc),
        k => backward_k(k, kern, obs, alpha, emis, log_rows, scratch, acc),
    }
}

/// [`backward_k`] for `K` states known at compile time, on arrays: β, the step's vectors, the
/// transition matrix and the sufficient statistics are locals (written to `acc` at the end),
/// with the same operations in the same order and the same fallback to [`log_space_step`].
#[inline(always)]
fn backward_n<const K: usize>(
    kern: &Kernel,
    obs: &[f64],
    alpha: &mut [f64],
    emis: &[f64],
    log_rows: &LogRows,
    acc: Option<Accum<'_>>,
) {
    let trans: [[f64; K]; K] =
        std::array::from_fn(|i| std::array::from_fn(|j| kern.trans[i * K + j]));
    let with_acc = acc.is_some();
    let mut xi = [[0.0; K]; K];
    let (mut s0, mut s1) = ([0.0; K], [0.0; K]);
    let (arows, _) = alpha.as_chunks_mut::<K>();
    let (erows, _) = emis.as_chunks::<K>();
    let Some((last, arows)) = arows.split_last_mut() else {
        if let Some(acc) = acc {
            acc.xi.fill(0.0);
            acc.s0.fill(0.0);
            acc.s1.fill(0.0);
        }
        return;
    };
    if with_acc && let Some(&r) = obs.get(arows.len()) {
        add_moments(&mut s0, &mut s1, last, r);
    }
    let (mut beta, mut bu, mut w) = ([1.0; K], [0.0; K], [0.0; K]);
    // Rows of `log_rows` not yet passed (the pass runs backwards in time).
    let mut next_row = log_rows.t.len();
    // Whether `beta` holds ln β (normalised to max 0) rather than the scaled β.
    let mut log_mode = false;
    let steps = arows
        .iter_mut()
        .zip(erows.get(1..).unwrap_or_default())
        .zip(obs.iter().zip(obs.get(1..).unwrap_or_default()));
    for (t, ((a, e), (&r, &r_next))) in steps.enumerate().rev() {
        while next_row > 0 && log_rows.t[next_row - 1] > t {
            next_row -= 1;
        }
        if !log_mode {
            for ((wj, &ej), &bj) in w.iter_mut().zip(e).zip(beta.iter()) {
                *wj = ej * bj;
            }
            let mut sb = 0.0;
            let mut min_bu = f64::INFINITY;
            for (b, row) in bu.iter_mut().zip(&trans) {
                *b = row.iter().zip(w.iter()).map(|(a, x)| a * x).sum();
                sb += *b;
                min_bu = min_bu.min(*b);
            }
            let z: f64 = a.iter().zip(bu.iter()).map(|(x, y)| x * y).sum();
            if min_bu >= TINY && z >= TINY {
                let inv = 1.0 / z;
                if with_acc {
                    for (row, &ai) in xi.iter_mut().zip(a.iter()) {
                        let s = ai * inv;
                        for (x, &wj) in row.iter_mut().zip(w.iter()) {
                            *x += s * wj;
                        }
                    }
                }
                for (ai, &b) in a.iter_mut().zip(bu.iter()) {
                    *ai = (*ai * b * inv).min(1.0);
                }
                if with_acc {
                    add_moments(&mut s0, &mut s1, a, r);
                }
                if (1.0 / BETA_RESCALE..=BETA_RESCALE).contains(&sb) {
                    beta = bu;
                } else {
                    let inv_sb = 1.0 / sb;
                    for (bj, &b) in beta.iter_mut().zip(bu.iter()) {
                        *bj = b * inv_sb;
                    }
                }
                continue;
            }
            // Not trusted: redo this step in log space (see `backward_k`).
            for bj in beta.iter_mut() {
                *bj = bj.ln();
            }
        }
        let log_alpha = (next_row > 0 && log_rows.t[next_row - 1] == t)
            .then(|| &log_rows.vals[(next_row - 1) * K..next_row * K]);
        let back_to_scaled = log_space_step(
            kern,
            r_next,
            a,
            log_alpha,
            &mut beta,
            &mut w,
            &mut bu,
            with_acc.then_some(xi.as_flattened_mut()),
        );
        if with_acc {
            add_moments(&mut s0, &mut s1, a, r);
        }
        log_mode = !back_to_scaled;
        if back_to_scaled {
            for bj in beta.iter_mut() {
                *bj = bj.exp();
            }
        }
    }
    if let Some(acc) = acc {
        for (dst, src) in [
            (acc.xi, xi.as_flattened()),
            (acc.s0, &s0[..]),
            (acc.s1, &s1[..]),
        ] {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = v;
            }
        }
    }
}

/// [`backward`] with the state count passed in.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_k(
    k: usize,
    kern: &Kernel,
    obs: &[f64],
    alpha: &mut [f64],
    emis: &[f64],
    log_rows: &LogRows,
    scratch: &mut BackwardScratch,
    mut acc: Option<Accum<'_>>,
) {
    let t_len = alpha.len() / k;
    let BackwardScratch { beta, bu, w } = scratch;
    let (beta, bu, w) = (&mut beta[..k], &mut bu[..k], &mut w[..k]);
    let trans = &kern.trans[..k * k];
    // Rows of `log_rows` not yet passed (the pass runs backwards in time).
    let mut next_row = log_rows.t.len();
    if let Some(acc) = acc.as_mut() {
        acc.xi.fill(0.0);
        acc.s0.fill(0.0);
        acc.s1.fill(0.0);
        if let (Some(&r), Some(g)) = (obs.last(), alpha.chunks_exact(k).last()) {
            add_moments(acc.s0, acc.s1, g, r);
        }
    }
    beta.fill(1.0);
    // Whether `beta` holds ln β (normalised to max 0) rather than the scaled β.
    let mut log_mode = false;
    for t in (0..t_len.saturating_sub(1)).rev() {
        let a = &mut alpha[t * k..(t + 1) * k];
        while next_row > 0 && log_rows.t[next_row - 1] > t {
            next_row -= 1;
        }
        if !log_mode {
            let e = &emis[(t + 1) * k..(t + 2) * k];
            for ((wj, &ej), &bj) in w.iter_mut().zip(e).zip(beta.iter()) {
                *wj = ej * bj;
            }
            let mut sb = 0.0;
            let mut min_bu = f64::INFINITY;
            for (b, row) in bu.iter_mut().zip(trans.chunks_exact(k)) {
                *b = row.iter().zip(w.iter()).map(|(a, x)| a * x).sum();
                sb += *b;
                min_bu = min_bu.min(*b);
            }
            let z: f64 = a.iter().zip(bu.iter()).map(|(x, y)| x * y).sum();
            if min_bu >= TINY && z >= TINY {
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
                    add_moments(acc.s0, acc.s1, a, obs[t]);
                }
                if (1.0 / BETA_RESCALE..=BETA_RESCALE).contains(&sb) {
                    beta.copy_from_slice(bu);
                } else {
                    let inv_sb = 1.0 / sb;
                    for (bj, &b) in beta.iter_mut().zip(bu.iter()) {
                        *bj = b * inv_sb;
                    }
                }
                continue;
            }
            // Not trusted: redo this step in log space. β_{t+1} itself is exact to rounding
            // (every entry ≥ TINY: it passed this check one step later, or is all ones, or came
            // back from log space that way), so its log is a faithful start.
            for bj in beta.iter_mut() {
                *bj = bj.ln();
            }
        }
        let log_alpha = (next_row > 0 && log_rows.t[next_row - 1] == t)
            .then(|| &log_rows.vals[(next_row - 1) * k..next_row * k]);
        let back_to_scaled = log_space_step(
            kern,
            obs[t + 1],
            a,
            log_alpha,
            beta,
            w,
            bu,
            acc.as_mut().map(|acc| &mut *acc.xi),
        );
        if let Some(acc) = acc.as_mut() {
            add_moments(acc.s0, acc.s1, a, obs[t]);
        }
        log_mode = !back_to_scaled;
        if back_to_scaled {
            for bj in beta.iter_mut() {
                *bj = bj.exp();
            }
        }
    }
}

/// One backward step in log space: from `lbeta = ln β_{t+1}` (any scale) and the observation
/// `r = r_{t+1}`, turns `a = α_t` into γ_t (taking `ln α_t` from `log_alpha` if the forward
/// pass computed this row in log space, where `a` may have lost entries), adds ξ_t to `xi`
/// (if given), and leaves
/// `ln β_t − max ln β_t` in `lbeta`. `lw` and `lbu` are K scratch. Returns whether every entry
/// of the new β is within a factor 2⁹⁰⁰ of the largest (so the scaled form can take over).
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn log_space_step(
    kern: &Kernel,
    r: f64,
    a: &mut [f64],
    log_alpha: Option<&[f64]>,
    lbeta: &mut [f64],
    lw: &mut [f64],
    lbu: &mut [f64],
    xi: Option<&mut [f64]>,
) -> bool {
    let k = kern.k;
    // ln w_j = ln b_{t+1}(j) − max ln b + ln β_{t+1}(j): exact, where the stored relative
    // density exp(ln b_j − max ln b) may have underflowed to 0.
    let m = kern.emission_logs(r, lw);
    for (x, &lb) in lw.iter_mut().zip(lbeta.iter()) {
        *x = (*x - m) + lb;
    }
    for (u, row) in lbu.iter_mut().zip(kern.log_trans.chunks_exact(k)) {
        *u = log_sum_exp(row.iter().zip(lw.iter()).map(|(&la, &x)| la + x));
    }
    // ln α_t, into `a` (restored to γ_t below).
    match log_alpha {
        Some(l) => {
            for (x, &v) in a.iter_mut().zip(l) {
                *x = if v.is_nan() { x.ln() } else { v };
            }
        }
        None => a.iter_mut().for_each(|x| *x = x.ln()),
    }
    let lz = log_sum_exp(a.iter().zip(lbu.iter()).map(|(&la, &u)| la + u));
    if !lz.is_finite() {
        // Unreachable for a valid model (α_t has mass, every row of A has a positive entry and
        // every log density is finite); keep the filtered α_t and restart β at 1 regardless.
        let lz = log_sum_exp(a.iter().copied());
        a.iter_mut().for_each(|x| *x = (*x - lz).exp().min(1.0));
        lbeta.fill(0.0);
        return true;
    }
    if let Some(xi) = xi {
        for ((row, lrow), &lai) in xi
            .chunks_exact_mut(k)
            .zip(kern.log_trans.chunks_exact(k))
            .zip(a.iter())
        {
            if lai > f64::NEG_INFINITY {
                let la = lai - lz;
                for ((x, &ltr), &lwj) in row.iter_mut().zip(lrow).zip(lw.iter()) {
                    if ltr > f64::NEG_INFINITY {
                        *x += (la + lwj).exp().min(XI_TERM_MAX);
                    }
                }
            }
        }
    }
    for (ai, &u) in a.iter_mut().zip(lbu.iter()) {
        *ai = (*ai + u - lz).exp().min(1.0);
    }
    // lz finite ⇒ some lbu entry is finite, so the max is finite.
    let mx = lbu.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut lo = 0.0f64;
    for (lb, &u) in lbeta.iter_mut().zip(lbu.iter()) {
        *lb = u - mx;
        lo = lo.min(*lb);
    }
    lo >= LN_TINY
}

/// `ln Σ exp(x)`; −∞ for no terms or all −∞.
fn log_sum_exp(xs: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + xs.map(|x| (x - m).exp()).sum::<f64>().ln()
}

#[inline(always)]
fn add_moments(s0: &mut [f64], s1: &mut [f64], g: &[f64], r: f64) {
    for ((a, b), &gj) in s0.iter_mut().zip(s1.iter_mut()).zip(g) {
        *a += gj;
        *b += gj * r;
    }
}

#[cfg(test)]
mod tests {
    //! The fixed-size passes against the general ones, bit for bit.

    use super::*;
    use crate::hmm::GaussianHmm;

    /// A sticky 3-state model with a near-absorbing calm state, and returns with outliers far
    /// enough out that the passes take their log-space paths.
    fn model_and_obs() -> (GaussianHmm, Vec<f64>) {
        let m: GaussianHmm = serde_json::from_str(
            r#"{"states":[{"name":"trending","mean":0.002,"std":0.006},
                          {"name":"mean_reverting","mean":0.0,"std":0.0001},
                          {"name":"volatile","mean":-0.001,"std":0.02}],
                "transition":[[0.97,0.02,0.01],[0.0,0.999999,0.000001],[0.03,0.03,0.94]],
                "initial":[0.2,0.6,0.2]}"#,
        )
        .expect("test model");
        let mut obs = m.simulate(5_000, 7).obs;
        for (i, x) in obs.iter_mut().enumerate().skip(97).step_by(331) {
            *x = if i % 2 == 0 { 3.0 } else { -1e-7 };
        }
        (m, obs)
    }

    #[test]
    fn fixed_size_passes_match_the_general_ones_bit_for_bit() {
        let (m, obs) = model_and_obs();
        let kern = m.kernel();
        let k = kern.k;
        let n = obs.len();
        let run = |general: bool| {
            let (mut alpha, mut emis, mut pred) =
                (vec![0.0; n * k], vec![0.0; n * k], vec![0.0; k]);
            let mut log_rows = LogRows::default();
            let ll = if general {
                let LogRows { state, t, vals } = &mut log_rows;
                let log = state.get_or_insert_with(|| ForwardLog::new(k));
                forward_k(&kern, &obs, &mut alpha, &mut emis, &mut pred, log, t, vals)
            } else {
                forward(&kern, &obs, &mut alpha, &mut emis, &mut pred, &mut log_rows)
            };
            let filtered = alpha.clone();
            let (mut xi, mut s0, mut s1) = (vec![0.0; k * k], vec![0.0; k], vec![0.0; k]);
            let acc = Some(Accum {
                xi: &mut xi,
                s0: &mut s0,
                s1: &mut s1,
            });
            let mut scratch = BackwardScratch::new(k);
            if general {
                backward_k(
                    k,
                    &kern,
                    &obs,
                    &mut alpha,
                    &emis,
                    &log_rows,
                    &mut scratch,
                    acc,
                );
            } else {
                backward(&kern, &obs, &mut alpha, &emis, &log_rows, &mut scratch, acc);
            }
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            (
                ll.to_bits(),
                bits(&filtered),
                bits(&emis),
                log_rows.t.clone(),
                bits(&alpha),
                bits(&xi),
                bits(&s0),
                bits(&s1),
            )
        };
        let (fixed, general) = (run(false), run(true));
        assert!(
            !fixed.3.is_empty(),
            "the data must exercise the log-space rows"
        );
        assert_eq!(fixed.0, general.0, "log-likelihood");
        assert_eq!(fixed.3, general.3, "log-space rows");
        for (what, a, b) in [
            ("filtered rows", &fixed.1, &general.1),
            ("relative densities", &fixed.2, &general.2),
            ("smoothed rows", &fixed.4, &general.4),
            ("xi", &fixed.5, &general.5),
            ("s0", &fixed.6, &general.6),
            ("s1", &fixed.7, &general.7),
        ] {
            assert_eq!(a.len(), b.len(), "{what}: lengths");
            let first = a.iter().zip(b).position(|(x, y)| x != y);
            assert_eq!(first, None, "{what}: first entry that differs");
        }
    }
}
