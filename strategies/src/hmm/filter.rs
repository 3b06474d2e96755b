//! Forward filtering (online and batch), likelihood and forward-backward smoothing.

use super::kernel::{self, BackwardScratch, ForwardLog, Kernel, LogLik, LogRows};
use super::model::GaussianHmm;
use super::{check_obs, most_likely};
use crate::{Error, Result};

/// Streaming forward filter: one [`OnlineFilter::update`] per observation gives
/// `P(S_t | r_1..t)` and the running log-likelihood.
///
/// O(K²) per update, no allocation after construction; the model's constants (`½/σ²`,
/// `ln σ`) are precomputed. The batch [`GaussianHmm::filter`] runs this very code, so the two
/// agree bit for bit.
#[derive(Debug, Clone)]
pub struct OnlineFilter {
    kern: Kernel,
    probs: Vec<f64>,
    /// The next distribution, swapped with `probs` after each update.
    next: Vec<f64>,
    pred: Vec<f64>,
    emis: Vec<f64>,
    /// Log-space state for the rare steps the scaled form cannot hold.
    log: ForwardLog,
    loglik: LogLik,
    steps: u64,
}

impl OnlineFilter {
    /// A filter at t = 0 (no observation yet; [`OnlineFilter::probs`] is the initial
    /// distribution).
    #[must_use]
    pub fn new(model: &GaussianHmm) -> Self {
        let kern = model.kernel();
        let k = kern.k;
        OnlineFilter {
            probs: kern.initial.clone(),
            kern,
            next: vec![0.0; k],
            pred: vec![0.0; k],
            emis: vec![0.0; k],
            log: ForwardLog::new(k),
            loglik: LogLik::default(),
            steps: 0,
        }
    }

    /// Back to t = 0.
    pub fn reset(&mut self) {
        self.probs.copy_from_slice(&self.kern.initial);
        self.log.reset();
        self.loglik = LogLik::default();
        self.steps = 0;
    }

    /// Adds observation `r` and returns the filtered distribution `P(S_t | r_1..t)`.
    ///
    /// A non-finite `r` (NaN, ±∞) is treated as a *missing* observation: the distribution is
    /// propagated one step through the transition matrix and the log-likelihood is unchanged.
    /// Use [`OnlineFilter::try_update`] to reject it instead.
    #[inline]
    pub fn update(&mut self, r: f64) -> &[f64] {
        let first = self.steps == 0;
        self.steps += 1;
        if r.is_finite() {
            let prev = (!first).then_some(&self.probs[..]);
            let (a, s) = self.kern.filter_step(
                prev,
                r,
                &mut self.pred,
                &mut self.next,
                &mut self.emis,
                &mut self.log,
            );
            self.loglik.add(a, s);
            std::mem::swap(&mut self.probs, &mut self.next);
        } else if !first {
            self.kern
                .predict_only(&self.probs, &mut self.next, &mut self.log);
            std::mem::swap(&mut self.probs, &mut self.next);
        }
        &self.probs
    }

    /// Like [`OnlineFilter::update`] but rejects a non-finite observation (state unchanged).
    ///
    /// # Errors
    /// [`Error::NonFinite`] (`what = "obs"`, `index` = the step it would have been).
    pub fn try_update(&mut self, r: f64) -> Result<&[f64]> {
        if !r.is_finite() {
            return Err(Error::NonFinite {
                what: "obs",
                index: usize::try_from(self.steps).unwrap_or(usize::MAX),
                value: r,
            });
        }
        Ok(self.update(r))
    }

    /// The current filtered distribution (the initial distribution before any update).
    #[must_use]
    pub fn probs(&self) -> &[f64] {
        &self.probs
    }

    /// The most probable current state and its filtered probability (the confidence).
    #[must_use]
    pub fn most_likely(&self) -> (usize, f64) {
        most_likely(&self.probs).unwrap_or((0, 1.0))
    }

    /// `ln p(r_1..t)` over the observations so far (0 before any).
    #[must_use]
    pub fn log_likelihood(&self) -> f64 {
        self.loglik.value()
    }

    /// Number of updates since construction or the last reset.
    #[must_use]
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Number of states K.
    #[must_use]
    pub fn n_states(&self) -> usize {
        self.kern.k
    }
}

/// Output of [`GaussianHmm::filter`].
#[derive(Debug, Clone, PartialEq)]
pub struct Filtered {
    /// Number of states K.
    pub n_states: usize,
    /// `P(S_t = k | r_1..t)`, T×K row-major.
    pub probs: Vec<f64>,
    /// `ln p(r_1..t)` after each step (length T).
    pub loglik_running: Vec<f64>,
    /// `ln p(r_1..T)`.
    pub loglik: f64,
}

impl Filtered {
    /// Number of time steps T.
    #[must_use]
    pub fn len(&self) -> usize {
        self.loglik_running.len()
    }

    /// Whether there are no time steps (never true for a successful filter).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.loglik_running.is_empty()
    }

    /// The filtered distribution at step `t`.
    ///
    /// # Panics
    /// If `t >= len()`.
    #[must_use]
    pub fn at(&self, t: usize) -> &[f64] {
        &self.probs[t * self.n_states..(t + 1) * self.n_states]
    }

    /// The most probable state at each step with its filtered probability (confidence).
    #[must_use]
    pub fn most_likely(&self) -> Vec<(usize, f64)> {
        self.probs
            .chunks_exact(self.n_states)
            .map(|p| most_likely(p).unwrap_or((0, 1.0)))
            .collect()
    }
}

impl GaussianHmm {
    /// Batch forward filter: exactly the sequence of [`OnlineFilter::update`] results.
    ///
    /// # Errors
    /// [`Error::TooShort`] for empty `obs`, [`Error::NonFinite`] naming the first bad index.
    pub fn filter(&self, obs: &[f64]) -> Result<Filtered> {
        check_obs(obs)?;
        let mut f = OnlineFilter::new(self);
        let k = self.n_states();
        let mut probs = Vec::with_capacity(obs.len() * k);
        let mut loglik_running = Vec::with_capacity(obs.len());
        for &r in obs {
            probs.extend_from_slice(f.update(r));
            loglik_running.push(f.log_likelihood());
        }
        Ok(Filtered {
            n_states: k,
            probs,
            loglik_running,
            loglik: f.log_likelihood(),
        })
    }

    /// `ln p(r_1..T)` under the model.
    ///
    /// # Errors
    /// As [`GaussianHmm::filter`].
    pub fn log_likelihood(&self, obs: &[f64]) -> Result<f64> {
        check_obs(obs)?;
        let mut f = OnlineFilter::new(self);
        for &r in obs {
            f.update(r);
        }
        Ok(f.log_likelihood())
    }

    /// Smoothed posteriors `P(S_t = k | r_1..T)` by forward-backward, T×K row-major. The last
    /// row equals the last filtered distribution exactly.
    ///
    /// # Errors
    /// As [`GaussianHmm::filter`].
    pub fn smooth(&self, obs: &[f64]) -> Result<Vec<f64>> {
        check_obs(obs)?;
        let kern = self.kernel();
        let k = kern.k;
        let mut alpha = vec![0.0; obs.len() * k];
        let mut emis = vec![0.0; obs.len() * k];
        let mut pred = vec![0.0; k];
        let mut log_rows = LogRows::default();
        kernel::forward(&kern, obs, &mut alpha, &mut emis, &mut pred, &mut log_rows);
        kernel::backward(
            &kern,
            obs,
            &mut alpha,
            &emis,
            &log_rows,
            &mut BackwardScratch::new(k),
            None,
        );
        Ok(alpha)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hmm::StateParams;

    /// A: N(0, 1), B: N(0, 2²); A = [[0.9, 0.1], [0.2, 0.8]]; π = [½, ½].
    fn two_state() -> GaussianHmm {
        GaussianHmm::new(
            vec![
                StateParams::new("a", 0.0, 1.0),
                StateParams::new("b", 0.0, 2.0),
            ],
            vec![vec![0.9, 0.1], vec![0.2, 0.8]],
            vec![0.5, 0.5],
        )
        .unwrap()
    }

    /// Hand computation, observations r = [0, 2], φ = 1/√(2π):
    ///
    /// t=1, r=0: densities N(0;0,1) = φ, N(0;0,4) = φ/2.
    ///   α₁ ∝ [½φ, ¼φ], sum = ¾φ → P = [2/3, 1/3]; ln p(r₁) = ln ¾ − ½ ln 2π = −1.2066206…
    /// t=2, r=2: prediction [2/3·0.9 + 1/3·0.2, 2/3·0.1 + 1/3·0.8] = [2/3, 1/3] (stationary).
    ///   densities N(2;0,1) = φe⁻², N(2;0,4) = φe^(−½)/2.
    ///   α₂ ∝ [2/3·φe⁻², 1/3·φe^(−½)/2] = φ/6 · [4e⁻², e^(−½)]
    ///   → P(A) = 4e⁻² / (4e⁻² + e^(−½)) = 0.5413411/1.1478718 = 0.4716042…
    ///   ln p(r₂|r₁) = ln((4e⁻² + e^(−½)) / 6) − ½ ln 2π = −1.6538499… − 0.9189385… = −2.5727884…
    ///   total ln p(r₁, r₂) = −1.2066206… − 2.5727884… = −3.7794090…
    #[test]
    fn hand_checked_two_state_forward() {
        let m = two_state();
        let f = m.filter(&[0.0, 2.0]).unwrap();
        let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let ll1 = 0.75f64.ln() - half_ln_2pi;
        let (e2, eh) = ((-2.0f64).exp(), (-0.5f64).exp());
        let pa2 = 4.0 * e2 / (4.0 * e2 + eh);
        let ll2 = ll1 + ((4.0 * e2 + eh) / 6.0).ln() - half_ln_2pi;
        let close = |a: f64, b: f64| (a - b).abs() < 1e-14;
        assert!(
            close(f.at(0)[0], 2.0 / 3.0) && close(f.at(0)[1], 1.0 / 3.0),
            "{:?}",
            f.at(0)
        );
        assert!(
            close(f.at(1)[0], pa2) && close(f.at(1)[1], 1.0 - pa2),
            "{:?}",
            f.at(1)
        );
        assert!(
            close(f.loglik_running[0], ll1),
            "{} vs {ll1}",
            f.loglik_running[0]
        );
        assert!(close(f.loglik, ll2), "{} vs {ll2}", f.loglik);
        // The printed decimals of the comment.
        assert!((ll1 + 1.206_620_6).abs() < 1e-7);
        assert!((pa2 - 0.471_604_2).abs() < 1e-7);
        assert!((ll2 + 3.779_409_0).abs() < 1e-7);
        assert_eq!(m.log_likelihood(&[0.0, 2.0]).unwrap(), f.loglik);
        assert_eq!(f.most_likely()[1], (1, f.at(1)[1]));
    }

    #[test]
    fn outliers_never_give_nan() {
        // One state can be unreachable from the prediction: B is absorbing-free but A → A only.
        let m = GaussianHmm::new(
            vec![
                StateParams::new("tight", 0.0, 0.001),
                StateParams::new("wide", 0.0, 0.002),
            ],
            vec![vec![1.0, 0.0], vec![0.0, 1.0]],
            vec![1.0, 0.0],
        )
        .unwrap();
        let obs = [0.0, 1e6, -1e300, f64::MAX, 0.0, 5.0];
        let f = m.filter(&obs).unwrap();
        assert!(
            f.probs
                .iter()
                .all(|p| p.is_finite() && (0.0..=1.0).contains(p)),
            "{f:?}"
        );
        assert!(f.loglik_running.iter().all(|l| l.is_finite()), "{f:?}");
        let s = m.smooth(&obs).unwrap();
        assert!(
            s.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)),
            "{s:?}"
        );
        let (path, lp) = m.viterbi(&obs).unwrap();
        assert!(lp.is_finite() && path.iter().all(|&s| s == 0));
        // Both states possible: the wide one takes the outlier.
        let m2 = GaussianHmm::new(
            vec![
                StateParams::new("tight", 0.0, 0.001),
                StateParams::new("wide", 0.0, 0.002),
            ],
            vec![vec![0.5, 0.5], vec![0.5, 0.5]],
            vec![0.5, 0.5],
        )
        .unwrap();
        let f2 = m2.filter(&[1e6]).unwrap();
        assert_eq!(f2.at(0), &[0.0, 1.0]);
        assert!(f2.loglik.is_finite());
    }

    #[test]
    fn online_missing_and_try_update() {
        let m = two_state();
        let mut f = OnlineFilter::new(&m);
        assert_eq!(f.probs(), &[0.5, 0.5]);
        f.update(0.0);
        let ll = f.log_likelihood();
        let p = f.update(f64::NAN).to_vec();
        // Pure prediction from [2/3, 1/3] is the stationary distribution again.
        assert!((p[0] - 2.0 / 3.0).abs() < 1e-15 && f.log_likelihood() == ll);
        let e = f.try_update(f64::INFINITY).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NonFinite {
                    what: "obs",
                    index: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(f.steps(), 2);
        f.reset();
        assert_eq!(
            (f.steps(), f.log_likelihood(), f.probs()),
            (0, 0.0, &[0.5, 0.5][..])
        );
    }

    #[test]
    fn bad_batch_input_is_named() {
        let m = two_state();
        let e = m.filter(&[]).unwrap_err();
        assert!(matches!(e, Error::TooShort { what: "obs", .. }), "{e}");
        let e = m.smooth(&[0.0, f64::NAN]).unwrap_err();
        assert!(
            e.to_string()
                .contains("obs: value at index 1 is not finite"),
            "{e}"
        );
        assert!(m.log_likelihood(&[f64::INFINITY]).is_err());
        assert!(m.viterbi(&[]).is_err());
    }
}
