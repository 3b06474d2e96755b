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

    /// One filter step: the filtered distribution after observation `r`, given the previous
    /// one `prev` (`None` at the first step, which starts from the initial distribution).
    ///
    /// Writes the normalised posterior into `out` (which must not alias `prev`), the relative
    /// emission densities `exp(ln b_j − max ln b)` (each in `[0, 1]`, the best state's
    /// exactly 1) into `emis`, and uses `pred` as scratch; returns the log-likelihood
    /// increment `ln p(r_t | r_1..t−1)`.
    ///
    /// The scaled step is used while it is exact to rounding, i.e. every unnormalised entry
    /// `pred_j · b_j` is ≥ [`TINY`] or an exact structural zero (see [`TINY`] for why). Else —
    /// an outlier so extreme that a state's relative density underflows, or a prediction too
    /// small to hold — the step is done in log space from `ln prev` and `ln A` (or from the
    /// log-space state `log` carries when the previous step was already there), and `log`
    /// keeps `ln α_t` until every entry is again 0 or within 2⁹⁰⁰ of the largest. Without such
    /// events the arithmetic is exactly the plain scaled filter.
    #[inline(always)]
    pub fn filter_step(
        &self,
        prev: Option<&[f64]>,
        r: f64,
        pred: &mut [f64],
        out: &mut [f64],
        emis: &mut [f64],
        log: &mut ForwardLog,
    ) -> f64 {
        if !log.active {
            let pred: &[f64] = match prev {
                None => &self.initial,
                Some(p) => {
                    self.predict(p, pred);
                    pred
                }
            };
            let m = self.emission_logs(r, emis);
            let mut s = 0.0;
            let mut lo = f64::INFINITY;
            for ((o, e), &q) in out.iter_mut().zip(emis.iter_mut()).zip(pred) {
                let b = (*e - m).exp();
                *e = b;
                let u = q * b;
                *o = u;
                s += u;
                lo = lo.min(u);
            }
            if lo >= TINY || (s >= f64::MIN_POSITIVE && self.zeros_are_exact(prev, out)) {
                let inv = 1.0 / s;
                for o in out.iter_mut() {
                    // min: u/s can round one ulp above 1.
                    *o = (*o * inv).min(1.0);
                }
                return m + s.ln();
            }
        }
        self.filter_step_log_space(prev, r, out, emis, log)
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

    /// The rare path of [`Kernel::filter_step`]: the step in log space. `out` holds
    /// `ln pred_j` and then `ln pred_j + ln b_j − m` before the final probabilities.
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
        let k = self.k;
        if log.active {
            self.predict_log(&log.lp, out);
        } else if let Some(p) = prev {
            for (l, &pi) in log.lp.iter_mut().zip(p) {
                *l = pi.ln();
            }
            self.predict_log(&log.lp, out);
        } else {
            for (o, &q) in out.iter_mut().zip(&self.initial) {
                *o = q.ln();
            }
        }
        let m = self.emission_logs(r, emis);
        for (o, e) in out.iter_mut().zip(emis.iter_mut()) {
            *o += *e - m;
            *e = (*e - m).exp();
        }
        let lz = log_sum_exp(out.iter().copied());
        log.stepped = true;
        if !lz.is_finite() {
            // Unreachable for a valid model (the prediction has mass and every log density is
            // finite); stay a distribution regardless.
            let u = 1.0 / k as f64;
            out.fill(u);
            log.lp.fill(0.0);
            log.active = false;
            return m + f64::MIN_POSITIVE.ln();
        }
        log.active = !normalise_log(out, lz, &mut log.lp);
        for o in out.iter_mut() {
            *o = (*o - lz).exp().min(1.0);
        }
        m + lz
    }

    /// `out_j = ln Σ_i exp(lp_i) A_ij` (−∞ where no state with mass leads to `j`).
    fn predict_log(&self, lp: &[f64], out: &mut [f64]) {
        let k = self.k;
        for (j, o) in out.iter_mut().enumerate() {
            *o = log_sum_exp(
                lp.iter()
                    .zip(self.log_trans.chunks_exact(k))
                    .map(|(&l, row)| l + row[j]),
            );
        }
    }

    /// A step without an observation (a missing value): `out = prev · A`, in log space while
    /// `log` is active.
    pub fn predict_only(&self, prev: &[f64], out: &mut [f64], log: &mut ForwardLog) {
        if !log.active {
            self.predict(prev, out);
            return;
        }
        self.predict_log(&log.lp, out);
        let lz = log_sum_exp(out.iter().copied());
        log.active = !normalise_log(out, lz, &mut log.lp);
        for o in out.iter_mut() {
            *o = (*o - lz).exp().min(1.0);
        }
    }
}

/// Writes the log-probabilities `x − lz` (`lz = ln Σ exp x`) into `lp`; returns whether every
/// entry is −∞ or within 2⁹⁰⁰ of the largest (so the linear form holds them exactly).
fn normalise_log(x: &[f64], lz: f64, lp: &mut [f64]) -> bool {
    let mx = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut ok = true;
    for (l, &v) in lp.iter_mut().zip(x) {
        *l = v - lz;
        ok &= v == f64::NEG_INFINITY || v - mx >= LN_TINY;
    }
    ok
}

/// Log-space state of the forward filter, carried while the scaled form cannot hold the
/// filtered distribution (see [`Kernel::filter_step`]).
#[derive(Debug, Clone)]
pub(crate) struct ForwardLog {
    /// Whether the next step must start from `lp`.
    active: bool,
    /// `ln α` of the last log-space step (log-probabilities).
    lp: Vec<f64>,
    /// Set by every log-space step (cleared by [`forward`], which records those rows).
    stepped: bool,
}

impl ForwardLog {
    /// Inactive state for `k` states.
    pub fn new(k: usize) -> Self {
        ForwardLog {
            active: false,
            lp: vec![0.0; k],
            stepped: false,
        }
    }

    /// Back to the scaled form (a filter reset).
    pub fn reset(&mut self) {
        self.active = false;
        self.stepped = false;
    }
}

/// The filtered rows a [`forward`] pass computed in log space, with their `ln α_t`: the linear row may have lost entries below 2⁻¹⁰⁷⁴ that the backward pass needs
/// when later observations make those states likely again.
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
    let mut ll = 0.0;
    for (t, (&r, e)) in obs.iter().zip(emis.chunks_exact_mut(k)).enumerate() {
        let (done, rest) = alpha.split_at_mut(t * k);
        let prev = (t > 0).then(|| &done[(t - 1) * k..]);
        ll += kern.filter_step(prev, r, pred, &mut rest[..k], e, log);
        if log.stepped {
            log.stepped = false;
            rows.push(t);
            vals.extend_from_slice(&log.lp);
        }
    }
    ll
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
    mut acc: Option<Accum<'_>>,
) {
    let k = kern.k;
    let t_len = alpha.len() / k;
    let BackwardScratch { beta, bu, w } = scratch;
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
            for (b, row) in bu.iter_mut().zip(kern.trans.chunks_exact(k)) {
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
        Some(l) => a.copy_from_slice(l),
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
