//! The regime detector: per symbol, an online Gaussian-HMM forward filter on the log returns of
//! bar closes, refitted periodically by Baum-Welch on a rolling window; one [`Regime`] per bar.
//!
//! Owns, per symbol, the rolling window of returns (a ring buffer), the current model, its
//! [`OnlineFilter`], the state → label map and the refit bookkeeping (count, failures, why it is
//! degraded). The HMM maths is [`strategies::hmm`]'s; this module must not reimplement it, and
//! must not choose strategies (the selector does) or read a clock.
//!
//! # Behaviour
//! * **Returns.** Bar `t` contributes `ln(close_t / close_{t−1})`. A bar whose close is zero
//!   or negative (a broken feed) contributes no return: the filter only predicts one step and
//!   the window is not touched; it is counted ([`RegimeDetector::invalid_closes`]).
//! * **Before a model exists** (no `model` in the config and no successful fit yet) every bar
//!   gets label `Unknown`, state 0, uniform probabilities `1/K` and confidence `1/K`.
//! * **Fit schedule**, in bars of the symbol (`n` counts its bars, the current one included):
//!   fits happen at `n = warmup_bars + j·refit_every`, `j = 0, 1, …`. With `refit_every = 0`
//!   the model is fitted once at `warmup_bars` (retried at every multiple of `warmup_bars`
//!   while no fit has succeeded) and never refitted; a model given in the config is then used
//!   as is for the whole run.
//! * **A fit** copies the window (the last `window` valid returns, oldest first; one
//!   allocation per fit, kept until the fit is in use) and runs, while the symbol has no model or with
//!   `warm_start = false`, [`strategies::hmm::fit`] with `restarts` seeded restarts, the seed
//!   derived from `(seed, fit index)` (fit index 0, 1, … per symbol, failed attempts included);
//!   with `warm_start = true` (default) later refits instead run Baum-Welch from the current
//!   model ([`BaumWelch`], same `tol`/variance-floor rules as `fit`, at most `warm_max_iter`
//!   iterations). Warm starts converge in a few iterations because consecutive windows
//!   overlap, which keeps the refit cost inside the backtest budget (see [`RegimeConfig`]);
//!   the cap bounds the rare slow one (EM crawling along a flat likelihood ridge: on the
//!   bench's 7-year series 3 of 84 warm refits ran to 50 iterations and cost a third of all
//!   refit time). EM never lowers the likelihood, and the next refit starts from the result,
//!   so a capped refit's progress is kept, not lost. The result is always
//!   canonicalised, so states map to labels by the library's naming
//!   ([`GaussianHmm::canonical_order`]: K = 3 → trending, mean-reverting, volatile).
//! * **A window without variation** (all returns equal: a halted or stale market) is refused
//!   before fitting: Baum-Welch would "succeed" with every state collapsed onto the variance
//!   floor, a model that means nothing.
//! * **After a successful refit the belief is carried over by re-filtering**: a fresh
//!   [`OnlineFilter`] of the new model is run over the last `refilter_bars` returns of the
//!   window (the whole window when 0), which include the current bar. This makes the belief a
//!   function of the data only (not of the old model's state numbering) and costs
//!   `refilter_bars` filter steps; the filter forgets its start within a few mixing times of
//!   the chain, far fewer than the default 2 000 bars.
//! * **Refits in the background** (`refit_lag_bars = L ≥ 1`, for the live host): a due fit
//!   copies the window and is handed to the detector's fitter thread (spawned on first use);
//!   the bar keeps the current model. The result — fitted and re-filtered over the window's
//!   tail on the fitter — is put in place at the symbol's bar `n + L`, where the filter then
//!   catches up over the returns of bars `n + 1 … n + L`. If the fit is not done by then the
//!   detector waits for it, so the records depend on `L` and the data only, never on timing:
//!   the live and replay hosts give the same records for the same `L`. `L = 0` (default) fits
//!   inline at bar `n`, as described above. A clone of a detector with a fit in flight redoes
//!   that fit itself from the copied window when it is due, with the same result.
//! * **A failed refit** keeps the previous model and filter (the filter then takes the bar's
//!   return as usual), marks the symbol degraded with the reason
//!   ([`RegimeDetector::degraded_reason`]) and the actor [`Lifecycle::Degraded`]; the next
//!   successful fit clears it.
//! * **Labels**: the label of the most likely state, or `Unknown` when its probability is below
//!   `min_confidence` (state, probabilities and confidence are still reported). States whose
//!   name is not a regime name (K ≠ 3) are labelled `Unknown`. A K = 3 model given in the
//!   config without regime names is canonicalised first.

use crate::config_key as key;
use serde::Deserialize;
use thiserror::Error;

use crate::lifecycle::Lifecycle;
use crate::messages::{Bar, MAX_REGIME_STATES, MAX_SYMBOLS, Regime, RegimeLabel, SymbolId};
use crate::ring::Ring;
use strategies::hmm::{
    BaumWelch, FitConfig, GaussianHmm, MAX_RESTARTS, OnlineFilter, Regime as HmmRegime,
};

/// Largest `window` accepted (80 MB of returns per symbol).
pub const MAX_WINDOW: usize = 10_000_000;

/// Regime detector settings (`[regime]` in the TOML files).
///
/// Cost: a refit costs about `iterations × window × 60–70 ns` (a little more while a collapsed
/// state keeps the filter in its mixed form), the filter about 50–100 ns a bar. On the bench's
/// 3.68 M synthetic 1-minute bars of one symbol the defaults make 85 fits costing about 0.7 s of
/// CPU (a 10 080-return window would halve that, at the cost of worse labels). In a
/// backtest the replay host runs them on a fitter thread ahead of their use (see
/// `crate::replay_host`), in the live host `refit_lag_bars` moves them off the engine thread.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegimeConfig {
    /// Run the detector; when `false` every bar gets the `Unknown` regime. Default `true`.
    pub enabled: bool,
    /// Number of hidden states K (1..=8). Default 3 (the named regimes).
    pub states: usize,
    /// Bars of a symbol collected before its first fit (≥ 2K + 1). Default 10 080 (a week of
    /// 1-minute bars).
    pub warmup_bars: usize,
    /// Bars between refits; 0 = never refit. Default 43 200 (30 days of 1-minute bars).
    pub refit_every: usize,
    /// Most recent returns each fit uses (≥ 2K). Default 20 000 (two weeks of 1-minute bars:
    /// on the bench's series, a third of the time in each of three volatility levels, a
    /// one-week window saw too few level changes and labelled 92 % of the bars volatile,
    /// against 52 % with 20 000).
    pub window: usize,
    /// Seeded EM restarts of a full fit. Default 2.
    pub restarts: usize,
    /// Most EM iterations per restart of a full fit. Default 50.
    pub max_iter: usize,
    /// Most EM iterations of a warm refit (see the module docs). Default 10.
    pub warm_max_iter: usize,
    /// EM convergence tolerance, relative to the log-likelihood (see `FitConfig::tol`).
    /// Default 1e-6.
    pub tol: f64,
    /// Variance floor as a fraction of the window's sample variance. Default 1e-4.
    pub var_floor: f64,
    /// Bars of a symbol between a fit's start and its result going into use; 0 = fit inline
    /// on the bar (see the module docs). Must be below `warmup_bars` and, when refitting, below
    /// `refit_every`. Default 0.
    pub refit_lag_bars: usize,
    /// Refits after the first start from the current model instead of seeded restarts.
    /// Default `true`.
    pub warm_start: bool,
    /// Returns re-filtered under a new model to carry the belief over (0 = the whole window).
    /// Default 2 000.
    pub refilter_bars: usize,
    /// Run seed; each fit's seed is derived from `(seed, fit index)`. Default 0.
    pub seed: u64,
    /// A model to start from (the binary loads it from a JSON file or an inline table); with
    /// it the detector labels from the first bar. Default none.
    pub model: Option<GaussianHmm>,
    /// Below this probability of the most likely state the label is `Unknown` (0..=1).
    /// Default 0 (never).
    pub min_confidence: f64,
}

impl Default for RegimeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            states: 3,
            warmup_bars: 10_080,
            refit_every: 43_200,
            window: 20_000,
            restarts: 2,
            max_iter: 50,
            warm_max_iter: 10,
            refit_lag_bars: 0,
            tol: 1e-6,
            var_floor: 1e-4,
            warm_start: true,
            refilter_bars: 2_000,
            seed: 0,
            model: None,
            min_confidence: 0.0,
        }
    }
}

impl RegimeConfig {
    /// Every problem with the settings, each naming its key under `path` (e.g. `"regime"`).
    #[must_use]
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut p = Vec::new();
        let k = self.states;
        if !(1..=MAX_REGIME_STATES).contains(&k) {
            p.push(format!(
                "{} must be in 1..={MAX_REGIME_STATES}, got {k}",
                key(path, "states")
            ));
        }
        let min_obs = (2 * k).max(2);
        if self.warmup_bars <= min_obs {
            p.push(format!(
                "{} must be > {min_obs} (2 x states returns for the first fit), got {}",
                key(path, "warmup_bars"),
                self.warmup_bars
            ));
        }
        if self.window < min_obs || self.window > MAX_WINDOW {
            p.push(format!(
                "{} must be in {min_obs}..={MAX_WINDOW} (at least 2 x states returns), got {}",
                key(path, "window"),
                self.window
            ));
        }
        if !(1..=MAX_RESTARTS).contains(&self.restarts) {
            p.push(format!(
                "{} must be in 1..={MAX_RESTARTS}, got {}",
                key(path, "restarts"),
                self.restarts
            ));
        }
        for (name, v) in [
            ("max_iter", self.max_iter),
            ("warm_max_iter", self.warm_max_iter),
        ] {
            if v == 0 {
                p.push(format!("{} must be >= 1, got 0", key(path, name)));
            }
        }
        let lag = self.refit_lag_bars;
        if lag > 0 && (lag >= self.warmup_bars || (self.refit_every > 0 && lag >= self.refit_every))
        {
            p.push(format!(
                "{} must be below {} ({}) and {} ({}), got {lag}",
                key(path, "refit_lag_bars"),
                key(path, "warmup_bars"),
                self.warmup_bars,
                key(path, "refit_every"),
                self.refit_every
            ));
        }
        for (name, v) in [("tol", self.tol), ("var_floor", self.var_floor)] {
            if !(v.is_finite() && v >= 0.0) {
                p.push(format!(
                    "{} must be a finite number >= 0, got {v}",
                    key(path, name)
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.min_confidence) {
            p.push(format!(
                "{} must be in [0, 1], got {}",
                key(path, "min_confidence"),
                self.min_confidence
            ));
        }
        if let Some(m) = &self.model {
            if m.n_states() != k {
                p.push(format!(
                    "{} has {} states but {} is {k}",
                    key(path, "model"),
                    m.n_states(),
                    key(path, "states")
                ));
            }
            if let Err(e) = m.validate() {
                p.push(format!("{}: {e}", key(path, "model")));
            }
        }
        p
    }

    fn fit_config(&self, seed: u64) -> FitConfig {
        FitConfig {
            states: self.states,
            restarts: self.restarts,
            seed,
            max_iter: self.max_iter,
            tol: self.tol,
            var_floor: self.var_floor,
        }
    }
}

/// Why the regime detector refused a setting or a bar.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RegimeError {
    /// The configuration is invalid; every problem is listed with its key path. Not
    /// recoverable.
    #[error("regime detector config: {problems}")]
    Config {
        /// The problems, joined with "; ".
        problems: String,
    },
    /// A bar names a symbol outside the run's symbol table (recoverable: skip the bar).
    #[error("regime detector: symbol {symbol} is outside the symbol table (0..{n_symbols})")]
    UnknownSymbol {
        /// The symbol id received.
        symbol: SymbolId,
        /// Number of symbols of the run.
        n_symbols: usize,
    },
}

/// A fit's result: the canonicalised model, its EM iterations and its filter re-filtered over
/// the tail of the window it was fitted on; or why it failed.
type FitOutcome = Result<(GaussianHmm, usize, OnlineFilter), String>;

/// A fit of one symbol, from its start (a copy of the window) to its use.
#[derive(Debug, Clone)]
struct PendingFit {
    /// Fit index of the symbol.
    index: u64,
    /// The symbol's bar count at which the result goes into use.
    apply_at: u64,
    /// The window the fit runs on.
    obs: Vec<f64>,
    /// Returns of the bars after the fit's start up to `apply_at`, which the new filter
    /// catches up over.
    catch_up: Vec<f64>,
    /// Handed to the fitter thread (else it is computed where it goes into use).
    sent: bool,
    /// The result, once known.
    result: Option<FitOutcome>,
}

/// One job for the fitter thread.
struct FitJob {
    symbol: usize,
    index: u64,
    obs: Vec<f64>,
}

/// The fitter thread and its queues. It keeps each symbol's chain of models (the model a warm
/// refit starts from is the one the previous fit left in use, as inline).
struct Fitter {
    jobs: Option<crossbeam_channel::Sender<FitJob>>,
    done: crossbeam_channel::Receiver<(usize, u64, FitOutcome)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Fitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fitter")
    }
}

impl Fitter {
    fn spawn(config: RegimeConfig, mut chain: Vec<Option<GaussianHmm>>) -> Option<Self> {
        let (jobs, job_rx) = crossbeam_channel::unbounded::<FitJob>();
        let (done_tx, done) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("hermes-regime-fit".into())
            .spawn(move || {
                while let Ok(job) = job_rx.recv() {
                    let prev = chain.get(job.symbol).and_then(Option::as_ref);
                    let out = compute_fit(&config, prev, &job.obs, job.index);
                    if let (Ok((m, _, _)), Some(slot)) = (&out, chain.get_mut(job.symbol)) {
                        *slot = Some(m.clone());
                    }
                    if done_tx.send((job.symbol, job.index, out)).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Self {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        })
    }
}

impl Drop for Fitter {
    fn drop(&mut self) {
        // Closing the job queue ends the thread after the fit it is running.
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What [`RegimeDetector::arrive`] learnt from a bar, for [`RegimeDetector::settle`] (small:
/// a host may hold tens of thousands of them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    /// The bar's symbol, decision and exchange time (what its regime message carries).
    key: BarKey,
    /// The symbol's bar count.
    n: u64,
    /// The bar's log return (NaN when there is none).
    ret: f64,
    /// The symbol's first bar.
    first: bool,
}

#[derive(Debug, Clone)]
struct SymbolState {
    /// Fits started and not yet in use, oldest first.
    pending: std::collections::VecDeque<PendingFit>,
    returns: Ring<f64>,
    last_close: Option<f64>,
    bars: u64,
    /// The bar count at which the next fit is due (`u64::MAX`: never).
    next_fit: u64,
    model: Option<GaussianHmm>,
    filter: Option<OnlineFilter>,
    labels: [RegimeLabel; MAX_REGIME_STATES],
    fits: u64,
    failed_fits: u64,
    em_iterations: u64,
    degraded: Option<String>,
}

/// Per-symbol online HMM regime detection with periodic refits. See the module docs.
#[derive(Debug)]
pub struct RegimeDetector {
    config: RegimeConfig,
    symbols: Vec<SymbolState>,
    invalid_closes: u64,
    /// Fits run on the fitter thread (`refit_lag_bars > 0`, or a host's choice).
    background: bool,
    /// The fitter thread, spawned on the first background fit.
    fitter: Option<Fitter>,
}

impl Clone for RegimeDetector {
    /// A copy without the fitter thread: a fit in flight is redone by the copy when due.
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            symbols: self.symbols.clone(),
            invalid_closes: self.invalid_closes,
            background: self.background,
            fitter: None,
        }
    }
}

impl RegimeDetector {
    /// A detector for `n_symbols` symbols (ids `0..n_symbols`).
    ///
    /// # Errors
    /// [`RegimeError::Config`] listing every problem of `config`, or an `n_symbols` of 0 or
    /// above [`MAX_SYMBOLS`].
    pub fn new(config: RegimeConfig, n_symbols: usize) -> Result<Self, RegimeError> {
        let mut problems = config.validate("regime");
        if n_symbols == 0 || n_symbols > MAX_SYMBOLS {
            problems.push(format!(
                "the run must have 1..={MAX_SYMBOLS} symbols, got {n_symbols}"
            ));
        }
        if !problems.is_empty() {
            return Err(RegimeError::Config {
                problems: problems.join("; "),
            });
        }
        let model = config.model.as_ref().map(|m| {
            let named = (0..m.n_states()).all(|i| m.regime(i).is_some());
            if m.n_states() == 3 && !named {
                m.canonicalized()
            } else {
                m.clone()
            }
        });
        let window = if config.enabled { config.window } else { 1 };
        let state = SymbolState {
            pending: std::collections::VecDeque::new(),
            returns: Ring::new(window),
            last_close: None,
            bars: 0,
            next_fit: if model.is_some() && config.refit_every == 0 {
                u64::MAX
            } else {
                config.warmup_bars as u64
            },
            labels: model
                .as_ref()
                .map_or([RegimeLabel::Unknown; MAX_REGIME_STATES], labels_of),
            filter: model.as_ref().map(OnlineFilter::new),
            model,
            fits: 0,
            failed_fits: 0,
            em_iterations: 0,
            degraded: None,
        };
        Ok(Self {
            symbols: vec![state; n_symbols],
            background: config.refit_lag_bars > 0,
            config,
            invalid_closes: 0,
            fitter: None,
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &RegimeConfig {
        &self.config
    }

    /// `Degraded` while any symbol's last fit failed; otherwise `Running` once any symbol has
    /// a model (or when disabled), `Starting` before.
    #[must_use]
    pub fn lifecycle(&self) -> Lifecycle {
        if !self.config.enabled {
            Lifecycle::Running
        } else if self.symbols.iter().any(|s| s.degraded.is_some()) {
            Lifecycle::Degraded
        } else if self.symbols.iter().any(|s| s.model.is_some()) {
            Lifecycle::Running
        } else {
            Lifecycle::Starting
        }
    }

    /// Why `symbol` is degraded (its last fit failed), if it is.
    #[must_use]
    pub fn degraded_reason(&self, symbol: SymbolId) -> Option<&str> {
        self.symbols.get(usize::from(symbol))?.degraded.as_deref()
    }

    /// The model `symbol` currently filters with.
    #[must_use]
    pub fn model(&self, symbol: SymbolId) -> Option<&GaussianHmm> {
        self.symbols.get(usize::from(symbol))?.model.as_ref()
    }

    /// Fits attempted for `symbol` (successful and failed).
    #[must_use]
    pub fn fits(&self, symbol: SymbolId) -> u64 {
        self.symbols.get(usize::from(symbol)).map_or(0, |s| s.fits)
    }

    /// EM iterations run for `symbol` (the best restart's for a full fit, every step of a warm
    /// refit), successful fits only.
    #[must_use]
    pub fn em_iterations(&self, symbol: SymbolId) -> u64 {
        self.symbols
            .get(usize::from(symbol))
            .map_or(0, |s| s.em_iterations)
    }

    /// Failed fits for `symbol`.
    #[must_use]
    pub fn failed_fits(&self, symbol: SymbolId) -> u64 {
        self.symbols
            .get(usize::from(symbol))
            .map_or(0, |s| s.failed_fits)
    }

    /// Bars whose close was not > 0 (no return taken), all symbols.
    #[must_use]
    pub fn invalid_closes(&self) -> u64 {
        self.invalid_closes
    }

    /// Runs fits on a fitter thread from now on (a host splitting arrival from settling, see
    /// [`RegimeDetector::arrive`]); records do not change. Only before the first bar.
    pub(crate) fn fit_in_background(&mut self) {
        if self.symbols.iter().all(|s| s.bars == 0) {
            self.background = true;
        }
    }

    /// Handles one closed bar of a symbol: updates the return window, fits when due, steps
    /// the filter and returns the symbol's regime for this bar.
    ///
    /// # Errors
    /// [`RegimeError::UnknownSymbol`] (nothing changes).
    pub fn on_bar(&mut self, bar: &Bar) -> Result<Regime, RegimeError> {
        let a = self.arrive(bar)?;
        Ok(self.settle(a))
    }

    /// The first half of [`RegimeDetector::on_bar`]: takes the bar's return into the window
    /// and starts a fit when one is due (on the fitter thread when fitting in the background).
    /// A host may let arrivals run ahead of [`RegimeDetector::settle`] (which must then see
    /// the same bars, in order), so a fit computes while the bars before its own are settled.
    ///
    /// # Errors
    /// [`RegimeError::UnknownSymbol`] (nothing changes).
    pub(crate) fn arrive(&mut self, bar: &Bar) -> Result<Arrival, RegimeError> {
        let i = usize::from(bar.symbol);
        if i >= self.symbols.len() {
            return Err(RegimeError::UnknownSymbol {
                symbol: bar.symbol,
                n_symbols: self.symbols.len(),
            });
        }
        if !self.config.enabled {
            return Ok(Arrival {
                key: bar.into(),
                n: 0,
                ret: f64::NAN,
                first: true,
            });
        }
        let close = bar.ohlcv.close();
        let s = &mut self.symbols[i];
        s.bars += 1;
        let n = s.bars;
        let first = s.last_close.is_none();
        let mut ret = f64::NAN;
        if close > 0.0 {
            if let Some(prev) = s.last_close {
                ret = (close / prev).ln();
            }
            s.last_close = Some(close);
        } else {
            self.invalid_closes += 1;
        }
        if ret.is_finite() {
            s.returns.push(ret);
            for p in s.pending.iter_mut().filter(|p| n <= p.apply_at) {
                p.catch_up.push(ret);
            }
        }
        if s.bars == s.next_fit {
            self.start_fit(i);
        }
        Ok(Arrival {
            key: bar.into(),
            n,
            ret,
            first,
        })
    }

    /// The second half of [`RegimeDetector::on_bar`]: puts a fit due at this bar in use
    /// (waiting for it if needed), steps the filter and returns the bar's regime.
    pub(crate) fn settle(&mut self, a: Arrival) -> Regime {
        let bar = a.key;
        let i = usize::from(bar.symbol);
        if !self.config.enabled || i >= self.symbols.len() {
            return unknown(bar, self.config.states);
        }
        let mut refitted = false;
        while self.symbols[i]
            .pending
            .front()
            .is_some_and(|p| p.apply_at == a.n)
        {
            refitted |= self.apply(i);
        }
        let s = &mut self.symbols[i];
        match &mut s.filter {
            Some(f) if !refitted && !a.first => {
                f.update(a.ret);
            }
            _ => {}
        }
        match &s.filter {
            Some(f) => regime_of(bar, f, &s.labels, self.config.min_confidence),
            None => unknown(bar, self.config.states),
        }
    }

    /// The bar count of the fit after one attempted at bar count `n` (see the module docs).
    fn next_fit_after(&self, n: u64, have_model: bool) -> u64 {
        match self.config.refit_every as u64 {
            0 if have_model => u64::MAX,
            0 => n.saturating_add(self.config.warmup_bars as u64),
            every => n.saturating_add(every),
        }
    }

    /// Starts the fit due at symbol `i`'s current bar: copies the window, schedules its use
    /// `refit_lag_bars` later and the next fit, and hands it to the fitter thread when fitting
    /// in the background.
    fn start_fit(&mut self, i: usize) {
        let lag = self.config.refit_lag_bars as u64;
        if self.background && self.fitter.is_none() {
            let chain = self.symbols.iter().map(|s| s.model.clone()).collect();
            self.fitter = Fitter::spawn(self.config.clone(), chain);
            if self.fitter.is_none() {
                self.background = false;
            }
        }
        let s = &mut self.symbols[i];
        let mut obs = Vec::with_capacity(s.returns.len());
        s.returns.copy_into(&mut obs);
        let index = s.fits;
        s.fits += 1;
        let n = s.bars;
        let mut sent = false;
        if self.background
            && let Some(tx) = self.fitter.as_ref().and_then(|f| f.jobs.as_ref())
        {
            sent = tx
                .send(FitJob {
                    symbol: i,
                    index,
                    obs: obs.clone(),
                })
                .is_ok();
        }
        self.symbols[i].pending.push_back(PendingFit {
            index,
            apply_at: n + lag,
            obs,
            catch_up: Vec::new(),
            sent,
            result: None,
        });
        // Whether a model will exist after this fit decides the schedule only when fitting
        // once (`refit_every = 0`): find out now (the fit is then the first one, or a retry).
        let have_model = if self.config.refit_every == 0 {
            self.symbols[i].model.is_some() || self.resolve_last(i)
        } else {
            true
        };
        let next = self.next_fit_after(n, have_model);
        self.symbols[i].next_fit = next;
    }

    /// Waits for (or computes) the newest pending fit of symbol `i`; whether it succeeded.
    fn resolve_last(&mut self, i: usize) -> bool {
        let Some(k) = self.symbols[i].pending.len().checked_sub(1) else {
            return false;
        };
        self.resolve(i, k);
        matches!(self.symbols[i].pending[k].result, Some(Ok(_)))
    }

    /// Makes sure pending fit `k` of symbol `i` has its result: from the fitter thread
    /// (waiting), or computed here from its window and the model in use.
    fn resolve(&mut self, i: usize, k: usize) {
        while self.symbols[i].pending[k].result.is_none() {
            let p = &self.symbols[i].pending[k];
            if !p.sent || self.fitter.is_none() {
                // Everything before it is in use (pending fits go into use in order), so the
                // model in use is the one a warm refit starts from.
                let prev = self.symbols[i].model.as_ref();
                let out = compute_fit(&self.config, prev, &p.obs, p.index);
                self.symbols[i].pending[k].result = Some(out);
                break;
            }
            let Some(f) = self.fitter.as_ref() else {
                break;
            };
            match f.done.recv() {
                Ok((sym, index, out)) => {
                    if let Some(q) = self
                        .symbols
                        .get_mut(sym)
                        .and_then(|s| s.pending.iter_mut().find(|q| q.index == index))
                    {
                        q.result = Some(out);
                    }
                }
                Err(_) => {
                    // The fitter is gone: compute what is left here.
                    self.fitter = None;
                    for s in &mut self.symbols {
                        for q in &mut s.pending {
                            q.sent = false;
                        }
                    }
                }
            }
        }
    }

    /// Puts symbol `i`'s oldest pending fit in use; `true` when a new model is in use.
    fn apply(&mut self, i: usize) -> bool {
        self.resolve(i, 0);
        let Some(mut p) = self.symbols[i].pending.pop_front() else {
            return false;
        };
        let outcome = p
            .result
            .take()
            .unwrap_or_else(|| Err("no fit result".into()));
        self.put_in_place(i, p.index, p.apply_at, outcome, &p.catch_up)
    }

    /// Uses a fit's outcome for symbol `i`: on success the model, labels and filter (caught up
    /// over `catch_up`, the returns since the fit started) replace the old ones.
    fn put_in_place(
        &mut self,
        i: usize,
        index: u64,
        at: u64,
        outcome: FitOutcome,
        catch_up: &[f64],
    ) -> bool {
        let refit_once = self.config.refit_every == 0;
        let s = &mut self.symbols[i];
        match outcome {
            Ok((model, iterations, mut filter)) => {
                s.em_iterations += iterations as u64;
                for &r in catch_up {
                    filter.update(r);
                }
                s.labels = labels_of(&model);
                s.filter = Some(filter);
                s.model = Some(model);
                s.degraded = None;
                if refit_once {
                    s.next_fit = u64::MAX;
                }
                true
            }
            Err(why) => {
                s.failed_fits += 1;
                s.degraded = Some(format!(
                    "fit {index} of symbol {i} in use from its bar {at} failed, previous model \
                     kept: {why}"
                ));
                false
            }
        }
    }
}

/// One fit on `obs` (fit index `index`): warm from `prev` when allowed, else seeded restarts;
/// canonicalised, with a filter of the new model run over the tail of `obs`.
fn compute_fit(
    cfg: &RegimeConfig,
    prev: Option<&GaussianHmm>,
    obs: &[f64],
    index: u64,
) -> FitOutcome {
    if obs.len() >= 2 && obs.iter().all(|&r| r == obs[0]) {
        return Err(format!(
            "no price variation in the refit window ({} returns all equal {})",
            obs.len(),
            obs[0]
        ));
    }
    let (model, iterations) = match (prev, cfg.warm_start) {
        (Some(prev), true) => warm_refit(prev, obs, cfg),
        _ => strategies::hmm::fit(obs, &cfg.fit_config(derive_seed(cfg.seed, index)))
            .map(|r| (r.model, r.iterations)),
    }
    .map_err(|e| e.to_string())?;
    let mut filter = OnlineFilter::new(&model);
    let tail = match cfg.refilter_bars {
        0 => obs,
        n => &obs[obs.len().saturating_sub(n)..],
    };
    for &r in tail {
        filter.update(r);
    }
    Ok((model, iterations, filter))
}

/// What a regime message takes from its bar.
#[derive(Debug, Clone, Copy)]
struct BarKey {
    symbol: SymbolId,
    decision: crate::messages::DecisionId,
    ts: crate::clock::UnixNanos,
}

impl From<&Bar> for BarKey {
    fn from(bar: &Bar) -> Self {
        Self {
            symbol: bar.symbol,
            decision: bar.decision,
            ts: bar.ts_exchange,
        }
    }
}

/// The regime message of a symbol's filter state.
fn regime_of(
    bar: BarKey,
    filter: &OnlineFilter,
    labels: &[RegimeLabel; MAX_REGIME_STATES],
    min_confidence: f64,
) -> Regime {
    let probs = filter.probs();
    let (state, confidence) = filter.most_likely();
    let mut probabilities = [0.0; MAX_REGIME_STATES];
    probabilities[..probs.len()].copy_from_slice(probs);
    let label = if confidence < min_confidence {
        RegimeLabel::Unknown
    } else {
        labels[state]
    };
    Regime {
        symbol: bar.symbol,
        decision: bar.decision,
        ts: bar.ts,
        label,
        state: u8::try_from(state).unwrap_or(u8::MAX),
        n_states: u8::try_from(probs.len()).unwrap_or(u8::MAX),
        probabilities,
        confidence,
    }
}

/// The `Unknown` regime: state 0, uniform probabilities over `k` states.
fn unknown(bar: BarKey, k: usize) -> Regime {
    let k = k.clamp(1, MAX_REGIME_STATES);
    let u = 1.0 / k as f64;
    let mut probabilities = [0.0; MAX_REGIME_STATES];
    probabilities[..k].fill(u);
    Regime {
        symbol: bar.symbol,
        decision: bar.decision,
        ts: bar.ts,
        label: RegimeLabel::Unknown,
        state: 0,
        n_states: u8::try_from(k).unwrap_or(u8::MAX),
        probabilities,
        confidence: u,
    }
}

fn labels_of(model: &GaussianHmm) -> [RegimeLabel; MAX_REGIME_STATES] {
    let mut labels = [RegimeLabel::Unknown; MAX_REGIME_STATES];
    for (i, l) in labels.iter_mut().enumerate().take(model.n_states()) {
        *l = model
            .regime(i)
            .map_or(RegimeLabel::Unknown, |r: HmmRegime| r.into());
    }
    labels
}

/// Baum-Welch from `prev` on `obs` with `fit`'s variance floor and stopping rule, canonicalised.
fn warm_refit(
    prev: &GaussianHmm,
    obs: &[f64],
    cfg: &RegimeConfig,
) -> strategies::Result<(GaussianHmm, usize)> {
    let n = obs.len() as f64;
    let mean = obs.iter().sum::<f64>() / n;
    let var = obs.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / n;
    let mut bw = BaumWelch::new(prev, obs, cfg.var_floor * var)?;
    let mut last = f64::NEG_INFINITY;
    let mut iterations = 0;
    while iterations < cfg.warm_max_iter {
        let ll = bw.step()?;
        iterations += 1;
        if ll - last <= cfg.tol * ll.abs().max(1.0) {
            break;
        }
        last = ll;
    }
    Ok((bw.model()?.canonicalized(), iterations))
}

/// A well-mixed seed from `(seed, index)` (SplitMix64 finaliser over a golden-ratio step), so
/// neighbouring indices get unrelated streams.
fn derive_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::DecisionId;
    use strategies::bars::BarParts;
    use strategies::hmm::StateParams;

    const M: i64 = 60_000_000_000;

    fn bar(symbol: SymbolId, k: usize, close: f64) -> Bar {
        let start = k as i64 * M;
        Bar {
            symbol,
            decision: DecisionId(k as u64 + 1),
            ts_exchange: start + M,
            ts_received: start + M,
            ohlcv: strategies::bars::Bar::new_checked(BarParts {
                start_ns: start,
                end_ns: start + M,
                open: close,
                high: close,
                low: close,
                close,
                volume: 1.0,
                quote_volume: close,
                trade_count: 1,
            })
            .unwrap(),
        }
    }

    /// A 2-regime series from a sticky 2-state HMM: calm (σ 0.1 %) and volatile (σ 1 %).
    /// Returns the closes (one more than returns) and the true state of each return.
    fn two_regime_series(n: usize, seed: u64) -> (Vec<f64>, Vec<usize>) {
        let truth = GaussianHmm::new(
            vec![
                StateParams::new("calm", 0.0002, 0.001),
                StateParams::new("wild", 0.0, 0.01),
            ],
            vec![vec![0.99, 0.01], vec![0.02, 0.98]],
            vec![1.0, 0.0],
        )
        .unwrap();
        let sim = truth.simulate(n, seed);
        let mut closes = vec![100.0];
        for r in &sim.obs {
            let last = closes[closes.len() - 1];
            closes.push(last * r.exp());
        }
        (closes, sim.states)
    }

    fn small_config() -> RegimeConfig {
        RegimeConfig {
            warmup_bars: 1_500,
            refit_every: 500,
            window: 1_500,
            refilter_bars: 500,
            seed: 7,
            ..RegimeConfig::default()
        }
    }

    fn run(det: &mut RegimeDetector, closes: &[f64]) -> Vec<Regime> {
        closes
            .iter()
            .enumerate()
            .map(|(k, &c)| det.on_bar(&bar(0, k, c)).unwrap())
            .collect()
    }

    #[test]
    fn config_problems_are_all_listed_with_their_keys() {
        assert!(RegimeConfig::default().validate("regime").is_empty());
        let bad = RegimeConfig {
            states: 9,
            warmup_bars: 3,
            window: 1,
            restarts: 0,
            max_iter: 0,
            warm_max_iter: 0,
            tol: f64::NAN,
            var_floor: -1.0,
            min_confidence: 1.5,
            ..RegimeConfig::default()
        };
        let p = bad.validate("regime");
        for k in [
            "regime.states",
            "regime.warmup_bars",
            "regime.window",
            "regime.restarts",
            "regime.max_iter",
            "regime.warm_max_iter",
            "regime.tol",
            "regime.var_floor",
            "regime.min_confidence",
        ] {
            assert!(p.iter().any(|m| m.starts_with(k)), "{k} missing in {p:?}");
        }
        let err = RegimeDetector::new(bad, 1).unwrap_err();
        assert!(
            err.to_string()
                .contains("regime.min_confidence must be in [0, 1], got 1.5")
        );
        let wrong_k = RegimeConfig {
            states: 2,
            model: Some(
                GaussianHmm::new(
                    vec![StateParams::new("a", 0.0, 1.0)],
                    vec![vec![1.0]],
                    vec![1.0],
                )
                .unwrap(),
            ),
            ..RegimeConfig::default()
        };
        let p = wrong_k.validate("regime");
        assert_eq!(p, ["regime.model has 1 states but regime.states is 2"]);
    }

    #[test]
    fn unknown_before_the_first_fit_then_labels_the_two_regimes() {
        let (closes, truth) = two_regime_series(4_000, 11);
        let cfg = small_config();
        let mut det = RegimeDetector::new(cfg.clone(), 1).unwrap();
        let out = run(&mut det, &closes);
        assert_eq!(det.lifecycle(), Lifecycle::Running);
        // Bars 1..warmup-1: no model yet.
        for r in &out[..cfg.warmup_bars - 1] {
            assert_eq!(r.label, RegimeLabel::Unknown);
            assert_eq!((r.state, r.n_states), (0, 3));
            assert_eq!(&r.probabilities[..3], &[1.0 / 3.0; 3]);
            assert_eq!(r.confidence, 1.0 / 3.0);
        }
        // From the first fit on: the volatile regime is `Volatile`, the calm one is not.
        // closes[k] carries the return truth[k - 1].
        let (mut hits, mut total) = (0, 0);
        for k in cfg.warmup_bars - 1..closes.len() {
            let r = &out[k];
            assert_ne!(r.label, RegimeLabel::Unknown);
            let volatile_truth = truth[k - 1] == 1;
            hits += usize::from((r.label == RegimeLabel::Volatile) == volatile_truth);
            total += 1;
            let p: f64 = r.probabilities[..3].iter().sum();
            assert!((p - 1.0).abs() < 1e-9);
            assert_eq!(r.confidence, r.probabilities[usize::from(r.state)]);
        }
        let accuracy = hits as f64 / total as f64;
        assert!(accuracy > 0.9, "accuracy {accuracy}");
        // Fits at bars 1500, 2000, 2500, 3000, 3500, 4000 (4001 bars fed).
        assert_eq!(det.fits(0), 6);
        assert_eq!(det.failed_fits(0), 0);
        let names: Vec<&str> = det
            .model(0)
            .unwrap()
            .states()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["trending", "mean_reverting", "volatile"]);
    }

    #[test]
    fn failing_refit_keeps_the_model_and_degrades_until_the_next_good_fit() {
        let (mut closes, _) = two_regime_series(2_000, 3);
        let cfg = RegimeConfig {
            warmup_bars: 1_000,
            refit_every: 500,
            window: 400,
            refilter_bars: 0,
            ..RegimeConfig::default()
        };
        let mut det = RegimeDetector::new(cfg, 1).unwrap();
        // The first fit (bar 1000) succeeds; then the price freezes, so the window of the fit
        // at bar 1500 holds 400 zero returns.
        let last = closes[1_000];
        closes.truncate(1_001);
        closes.extend(std::iter::repeat_n(last, 600));
        let out = run(&mut det, &closes[..1_499]);
        assert_eq!(det.lifecycle(), Lifecycle::Running);
        let before = det.model(0).unwrap().clone();
        let out2 = run_from(&mut det, &closes, 1_499);
        assert_eq!(det.lifecycle(), Lifecycle::Degraded);
        let why = det.degraded_reason(0).unwrap();
        assert!(why.contains("no price variation"), "{why}");
        assert!(
            why.contains("fit 1 of symbol 0 in use from its bar 1500"),
            "{why}"
        );
        assert_eq!(det.model(0), Some(&before), "previous model kept");
        assert_eq!((det.fits(0), det.failed_fits(0)), (2, 1));
        assert!(
            out.iter()
                .chain(&out2)
                .skip(999)
                .all(|r| r.label != RegimeLabel::Unknown)
        );
        // Prices move again: the next fit (bar 2000) sees a moving window and succeeds.
        let (more, _) = two_regime_series(600, 5);
        let mut tail: Vec<f64> = closes.clone();
        tail.extend(more[1..].iter().map(|c| c / 100.0 * last));
        run_from(&mut det, &tail, 1_601);
        assert_eq!(det.fits(0), 3);
        assert_eq!(det.lifecycle(), Lifecycle::Running);
        assert_eq!(det.degraded_reason(0), None);
    }

    fn run_from(det: &mut RegimeDetector, closes: &[f64], from: usize) -> Vec<Regime> {
        (from..closes.len())
            .map(|k| det.on_bar(&bar(0, k, closes[k])).unwrap())
            .collect()
    }

    #[test]
    fn background_refits_go_into_use_lag_bars_later_whatever_the_timing() {
        let (a, _) = two_regime_series(3_000, 31);
        let (b, _) = two_regime_series(3_000, 32);
        let bars: Vec<Bar> = (0..a.len())
            .flat_map(|k| [bar(0, k, a[k]), bar(1, k, b[k])])
            .collect();
        let lag = 37;
        let lagged = RegimeConfig {
            refit_lag_bars: lag,
            ..small_config()
        };
        // With the fitter thread, and a clone fed from the start (no thread: it redoes each
        // fit itself when due, from the copied window): the same regimes.
        let mut threaded = RegimeDetector::new(lagged.clone(), 2).unwrap();
        let mut copy = threaded.clone();
        let mut inline = RegimeDetector::new(small_config(), 2).unwrap();
        // Symbol 0's bars: the first fit at its bar 1500, the next at 2000, ...
        let mut models_at_start = Vec::new();
        for (j, bar) in bars.iter().enumerate() {
            let r1 = threaded.on_bar(bar).unwrap();
            let r2 = copy.on_bar(bar).unwrap();
            assert_eq!(r1, r2, "bar {j}");
            inline.on_bar(bar).unwrap();
            let n = j / 2 + 1; // the symbol's bar count
            if bar.symbol == 0 && (n == 1_500 || n == 2_000) {
                // Fit started: the inline detector has the model the lagged one will use.
                models_at_start.push(inline.model(0).cloned().unwrap());
                assert_eq!(threaded.fits(0), inline.fits(0));
            }
            if bar.symbol == 0 && n == 1_500 + lag - 1 {
                assert!(threaded.model(0).is_none(), "not in use before its bar");
                assert_eq!(r1.label, RegimeLabel::Unknown);
            }
            if bar.symbol == 0 && n == 1_500 + lag {
                assert_eq!(threaded.model(0), Some(&models_at_start[0]));
            }
            if bar.symbol == 0 && n == 2_000 + lag - 1 {
                assert_eq!(threaded.model(0), Some(&models_at_start[0]));
            }
            if bar.symbol == 0 && n == 2_000 + lag {
                // Warm-started from the same model on the same window: the same fit.
                assert_eq!(threaded.model(0), Some(&models_at_start[1]));
            }
        }
        assert_eq!(threaded.fits(0), 4);
        assert_eq!(threaded.failed_fits(0), 0);
    }

    #[test]
    fn arrivals_far_ahead_of_settling_give_the_inline_regimes() {
        // Settling runs behind arrival (as in the replay host's stage), with fits on the
        // fitter thread: the regimes equal the inline detector's, for a periodic schedule and
        // for a fit-once schedule whose first fit fails (flat prices) and is retried.
        let (a, _) = two_regime_series(4_000, 41);
        let mut flat = vec![100.0; 1_600];
        flat.extend(a.iter().map(|c| c / a[0] * 100.0));
        for (cfg, closes) in [
            (small_config(), a.clone()),
            (
                RegimeConfig {
                    refit_every: 0,
                    warmup_bars: 1_500,
                    ..small_config()
                },
                flat,
            ),
        ] {
            let bars: Vec<Bar> = closes
                .iter()
                .enumerate()
                .map(|(k, &c)| bar(0, k, c))
                .collect();
            let mut inline = RegimeDetector::new(cfg.clone(), 1).unwrap();
            let want: Vec<Regime> = bars.iter().map(|b| inline.on_bar(b).unwrap()).collect();
            for lookahead in [1, 700, 5_000] {
                let mut det = RegimeDetector::new(cfg.clone(), 1).unwrap();
                det.fit_in_background();
                let mut got = Vec::new();
                let mut arrived = std::collections::VecDeque::new();
                for b in &bars {
                    arrived.push_back(det.arrive(b).unwrap());
                    if arrived.len() > lookahead {
                        got.push(det.settle(arrived.pop_front().unwrap()));
                    }
                }
                got.extend(arrived.into_iter().map(|x| det.settle(x)));
                assert_eq!(got, want, "lookahead {lookahead}");
                assert_eq!(det.fits(0), inline.fits(0));
                assert_eq!(det.failed_fits(0), inline.failed_fits(0));
                assert_eq!(det.model(0), inline.model(0));
            }
            assert!(inline.fits(0) >= 2, "{}", inline.fits(0));
            if cfg.refit_every == 0 {
                // The first fit failed on the flat window, the retry succeeded, no more.
                assert_eq!((inline.fits(0), inline.failed_fits(0)), (2, 1));
            }
        }
    }

    #[test]
    fn refit_lag_must_be_shorter_than_the_schedule() {
        for (lag, ok) in [(0, true), (499, true), (500, false), (1_500, false)] {
            let c = RegimeConfig {
                refit_lag_bars: lag,
                ..small_config()
            };
            let p = c.validate("regime");
            assert_eq!(p.is_empty(), ok, "{lag}: {p:?}");
            if !ok {
                assert!(p[0].starts_with("regime.refit_lag_bars"), "{p:?}");
            }
        }
    }

    #[test]
    fn chunked_feeding_with_refits_across_chunk_boundaries_is_identical() {
        // Two symbols interleaved; refits every 500 bars; chunk sizes 333 and 777 put the
        // refit bars at different offsets inside the chunks.
        let (a, _) = two_regime_series(3_000, 21);
        let (b, _) = two_regime_series(3_000, 22);
        let bars: Vec<Bar> = (0..a.len())
            .flat_map(|k| [bar(0, k, a[k]), bar(1, k, b[k])])
            .collect();
        let feed = |chunk: usize| {
            let mut det = RegimeDetector::new(small_config(), 2).unwrap();
            let mut out = Vec::new();
            for c in bars.chunks(chunk) {
                let mut buf = Vec::with_capacity(c.len());
                for bar in c {
                    buf.push(det.on_bar(bar).unwrap());
                }
                out.extend(buf);
            }
            (out, det.fits(0), det.fits(1))
        };
        let x = feed(333);
        let y = feed(777);
        assert_eq!(x.1, 4, "fits at 1500, 2000, 2500, 3000");
        assert_eq!(x, y);
    }

    #[test]
    fn a_configured_model_labels_from_the_first_return_and_invalid_closes_are_skipped() {
        let model = GaussianHmm::new(
            vec![
                StateParams::new("x", 0.0, 0.01),
                StateParams::new("y", 0.002, 0.001),
                StateParams::new("z", 0.0, 0.0009),
            ],
            vec![
                vec![0.9, 0.05, 0.05],
                vec![0.05, 0.9, 0.05],
                vec![0.05, 0.05, 0.9],
            ],
            vec![1.0 / 3.0; 3],
        )
        .unwrap();
        let cfg = RegimeConfig {
            model: Some(model),
            refit_every: 0,
            min_confidence: 0.99,
            ..RegimeConfig::default()
        };
        let mut det = RegimeDetector::new(cfg, 1).unwrap();
        // Renamed canonically: x is the volatile one.
        assert_eq!(det.model(0).unwrap().states()[2].mean, 0.0);
        assert_eq!(det.model(0).unwrap().states()[2].std, 0.01);
        let r0 = det.on_bar(&bar(0, 0, 100.0)).unwrap();
        assert_eq!(
            r0.probabilities[..3],
            [1.0 / 3.0; 3],
            "the prior before any return"
        );
        // A 5 % move: volatile for sure.
        let r1 = det.on_bar(&bar(0, 1, 105.0)).unwrap();
        assert_eq!((r1.label, r1.state), (RegimeLabel::Volatile, 2));
        // A zero close: no return, the filter only predicts; the next close is compared with
        // the last valid one.
        let r2 = det.on_bar(&bar(0, 2, 0.0)).unwrap();
        assert_eq!(det.invalid_closes(), 1);
        assert!(r2.confidence < r1.confidence);
        assert_eq!(r2.label, RegimeLabel::Unknown, "below min_confidence");
        assert!(det.on_bar(&bar(3, 3, 1.0)).is_err());
        assert_eq!(det.fits(0), 0);
    }

    #[test]
    fn disabled_detector_says_unknown() {
        let cfg = RegimeConfig {
            enabled: false,
            ..RegimeConfig::default()
        };
        let mut det = RegimeDetector::new(cfg, 1).unwrap();
        let r = det.on_bar(&bar(0, 0, 1.0)).unwrap();
        assert_eq!(r.label, RegimeLabel::Unknown);
        assert_eq!(r.decision, DecisionId(1));
        assert_eq!(det.lifecycle(), Lifecycle::Running);
    }
}
