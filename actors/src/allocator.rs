//! The allocator: turns a signal (and the forecasts that back it) into target portfolio weights.
//!
//! Owns the covariance window (one row of bar log returns per bar time, all symbols), the latest
//! forecast per symbol and the allocation policy. The optimisers are [`strategies::allocation`]'s
//! (Ledoit-Wolf, CARA, risk parity, sparse L1); this module must not reimplement them, turn
//! weights into orders (the risk manager and executor do) or read a clock.
//!
//! # Policies (`policy` in the config)
//! * `signal` — single symbol, no optimisation: `EnterLong` → `max_weight` for the signal's
//!   symbol (regime-independent), method `Signal`.
//! * `cara` — long-only mean-variance with cash: [`cara`] over the *active set* plus a cash
//!   asset (return 0, variance 0), so the risky weights sum to ≤ 1 and the rest stays cash.
//! * `risk_parity` — equal risk contributions over the active set ([`risk_parity`]).
//! * `sparse_l1` — [`sparse_l1`] with return weight `lambda` and L1 penalty `rho`; the library
//!   allows shorts (that is what makes the penalty bite), so the result is projected on the
//!   long-only set: negative weights become 0 and, if the longs then sum above 1, they are
//!   scaled to sum 1. The penalty prices gross exposure, so fewer names survive.
//! * `auto` — chooses by the cost regime of the signal's forecast, in this order
//!   ([`choose_auto`]): with `edge = expected_return × horizon` (the forecast log return to the
//!   horizon) and `cost = |impact| + auto.round_trip_cost`,
//!   1. `edge ≤ 0` or `cost > auto.max_cost_ratio × edge` → `sparse_l1` (trading is expensive
//!      against what it should earn: concentrate on fewer names);
//!   2. else the signal's regime is `Volatile` → `risk_parity` (forecast returns are least
//!      trustworthy; spread the risk);
//!   3. else → `cara`.
//!
//! # Inputs and outputs
//! * **Active set**: the symbols whose latest [`Forecast`] is at most `forecast_ttl_bars` bar
//!   times old (older ones are dropped), sorted by id; the signal's symbol must be one of them.
//! * **Expected returns** are the forecasts' `expected_return` (log return per bar);
//!   **covariance** is Ledoit-Wolf ([`ledoit_wolf`]) on the last `T` rows of bar log returns,
//!   `T = min(cov_window, rows since every active symbol's first return)`, at least
//!   `min_cov_bars`. One row per bar time (bar start); a symbol without a bar at a time has
//!   return 0 in that row (its next return spans the gap). Both are divided by the mean asset
//!   variance before optimising, which leaves CARA and risk parity unchanged and makes `rho`
//!   relative to the typical variance (`lambda` is the return weight, like `2/gamma`).
//! * **Weights**: long-only, each clipped to `[0, max_weight]`, sum ≤ 1 (the rest is cash);
//!   weight clipped away stays cash. Symbols outside the active set get NaN ("keep as is").
//!   An `Exit` gives weight 0 to its symbol (NaN elsewhere, method `Signal`) and drops its
//!   forecast.
//! * **Fallback**: when an optimising policy cannot run (the signal's symbol has no fresh
//!   forecast, too little history, a solver error) the signal policy is used instead and the
//!   reason is kept ([`Allocator::last_fallback`]); a solver error also sets
//!   [`Lifecycle::Degraded`] until the next successful optimisation.
//! * One optimisation allocates a few small matrices (≤ 16 assets × `cov_window`); signals are
//!   rare, bars (the hot path) allocate nothing.

use crate::config_key as key;
use nalgebra::{DMatrix, DVector};
use serde::Deserialize;
use thiserror::Error;

use crate::lifecycle::Lifecycle;
use crate::messages::{
    AllocationMethod, Bar, Forecast, MAX_SYMBOLS, RegimeLabel, Signal, SignalAction, SymbolId,
    TargetWeights,
};
use crate::ring::Ring;
use strategies::allocation::{cara, ledoit_wolf, risk_parity, sparse_l1};

/// Largest `cov_window`.
pub const MAX_COV_WINDOW: usize = 1_000_000;

/// Which allocation policy the allocator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocationPolicy {
    /// All-in / all-out on the signal's symbol.
    Signal,
    /// Long-only CARA mean-variance with cash.
    Cara,
    /// Equal risk contributions.
    RiskParity,
    /// Sparse L1-penalised mean-variance, projected long-only.
    SparseL1,
    /// Chosen per signal by the cost regime (see the module docs).
    Auto,
}

/// The `auto` policy's thresholds (`[allocator.auto]`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoRule {
    /// Fees and spread of entering and leaving, as a fraction of the price (≥ 0).
    /// Default 0.002 (2 × 10 bp taker fee).
    pub round_trip_cost: f64,
    /// Largest cost / edge ratio still traded normally (> 0). Default 0.5.
    pub max_cost_ratio: f64,
}

impl Default for AutoRule {
    fn default() -> Self {
        Self {
            round_trip_cost: 0.002,
            max_cost_ratio: 0.5,
        }
    }
}

/// Allocator settings (`[allocator]` in the TOML files).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllocatorConfig {
    /// The policy. Default `signal`.
    pub policy: AllocationPolicy,
    /// Largest weight of one symbol, in (0, 1]. Default 1.
    pub max_weight: f64,
    /// CARA risk aversion γ (> 0). Default 5.
    pub gamma: f64,
    /// Sparse L1 return weight λ (≥ 0; `2/γ` matches CARA's trade-off). Default 0.4.
    pub lambda: f64,
    /// Sparse L1 penalty ρ on gross exposure, relative to the mean asset variance (≥ 0).
    /// Default 0.1.
    pub rho: f64,
    /// Bar times of returns kept for the covariance (≥ 2). Default 1 440.
    pub cov_window: usize,
    /// Fewest rows an optimisation needs (2..=cov_window). Default 60.
    pub min_cov_bars: usize,
    /// Bar times after which a forecast is dropped. Default 60.
    pub forecast_ttl_bars: u64,
    /// The `auto` policy's thresholds.
    pub auto: AutoRule,
}

impl Default for AllocatorConfig {
    fn default() -> Self {
        Self {
            policy: AllocationPolicy::Signal,
            max_weight: 1.0,
            gamma: 5.0,
            lambda: 0.4,
            rho: 0.1,
            cov_window: 1_440,
            min_cov_bars: 60,
            forecast_ttl_bars: 60,
            auto: AutoRule::default(),
        }
    }
}

impl AllocatorConfig {
    /// Every problem with the settings, each naming its key under `path` (e.g. `"allocator"`).
    #[must_use]
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut p = Vec::new();
        if !(self.max_weight > 0.0 && self.max_weight <= 1.0) {
            p.push(format!(
                "{} must be in (0, 1], got {}",
                key(path, "max_weight"),
                self.max_weight
            ));
        }
        let positive = [
            ("gamma", self.gamma),
            ("auto.max_cost_ratio", self.auto.max_cost_ratio),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                p.push(format!(
                    "{} must be a finite number > 0, got {v}",
                    key(path, name)
                ));
            }
        }
        let non_negative = [
            ("lambda", self.lambda),
            ("rho", self.rho),
            ("auto.round_trip_cost", self.auto.round_trip_cost),
        ];
        for (name, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                p.push(format!(
                    "{} must be a finite number >= 0, got {v}",
                    key(path, name)
                ));
            }
        }
        if !(2..=MAX_COV_WINDOW).contains(&self.cov_window) {
            p.push(format!(
                "{} must be in 2..={MAX_COV_WINDOW}, got {}",
                key(path, "cov_window"),
                self.cov_window
            ));
        }
        if self.min_cov_bars < 2 || self.min_cov_bars > self.cov_window {
            p.push(format!(
                "{} must be in 2..={} ({}), got {}",
                key(path, "min_cov_bars"),
                self.cov_window,
                key(path, "cov_window"),
                self.min_cov_bars
            ));
        }
        p
    }
}

/// Why the allocator refused a setting or a message. Everything but `Config` is recoverable.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AllocatorError {
    /// The configuration is invalid; every problem is listed with its key path.
    #[error("allocator config: {problems}")]
    Config {
        /// The problems, joined with "; ".
        problems: String,
    },
    /// A message names a symbol outside the run's symbol table.
    #[error("allocator: symbol {symbol} is outside the symbol table (0..{n_symbols})")]
    UnknownSymbol {
        /// The symbol id received.
        symbol: SymbolId,
        /// Number of symbols of the run.
        n_symbols: usize,
    },
}

/// Why an optimising policy fell back to the signal policy.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Fallback {
    /// The signal's symbol has no forecast younger than `forecast_ttl_bars`.
    #[error("symbol {symbol} has no fresh forecast")]
    NoForecast {
        /// The signal's symbol.
        symbol: SymbolId,
    },
    /// Too few rows of returns for the active set.
    #[error("{have} rows of returns for the active set, {need} needed (min_cov_bars)")]
    ShortHistory {
        /// Rows available.
        have: usize,
        /// `min_cov_bars`.
        need: usize,
    },
    /// The estimator or optimiser failed.
    #[error("{method} failed: {detail}")]
    Solver {
        /// The method tried.
        method: &'static str,
        /// The library's error.
        detail: String,
    },
}

/// The `auto` policy's choice for a signal whose forecast is `forecast` in regime `regime`
/// (see the module docs for the rule).
#[must_use]
pub fn choose_auto(rule: &AutoRule, forecast: &Forecast, regime: RegimeLabel) -> AllocationMethod {
    let edge = forecast.expected_return * f64::from(forecast.horizon);
    let cost = forecast.impact.abs() + rule.round_trip_cost;
    if edge.is_nan() || edge <= 0.0 || cost > rule.max_cost_ratio * edge {
        AllocationMethod::SparseL1
    } else if regime == RegimeLabel::Volatile {
        AllocationMethod::RiskParity
    } else {
        AllocationMethod::Cara
    }
}

/// Log returns of all symbols at one bar time.
#[derive(Debug, Clone, Copy, Default)]
struct Row {
    start: i64,
    returns: [f64; MAX_SYMBOLS],
}

/// Target weights from signals, forecasts and the covariance of recent returns. See the module
/// docs.
#[derive(Debug, Clone)]
pub struct Allocator {
    config: AllocatorConfig,
    n: usize,
    rows: Ring<Row>,
    row_count: u64,
    last_close: [f64; MAX_SYMBOLS],
    first_row: [Option<u64>; MAX_SYMBOLS],
    forecasts: [Option<(Forecast, u64)>; MAX_SYMBOLS],
    fallbacks: u64,
    last_fallback: Option<Fallback>,
    misaligned_bars: u64,
}

impl Allocator {
    /// An allocator for `n_symbols` symbols (ids `0..n_symbols`).
    ///
    /// # Errors
    /// [`AllocatorError::Config`] listing every problem of `config`, or an `n_symbols` of 0 or
    /// above [`MAX_SYMBOLS`].
    pub fn new(config: AllocatorConfig, n_symbols: usize) -> Result<Self, AllocatorError> {
        let mut problems = config.validate("allocator");
        if n_symbols == 0 || n_symbols > MAX_SYMBOLS {
            problems.push(format!(
                "the run must have 1..={MAX_SYMBOLS} symbols, got {n_symbols}"
            ));
        }
        if !problems.is_empty() {
            return Err(AllocatorError::Config {
                problems: problems.join("; "),
            });
        }
        let rows = if config.policy == AllocationPolicy::Signal {
            1
        } else {
            config.cov_window
        };
        Ok(Self {
            rows: Ring::new(rows),
            config,
            n: n_symbols,
            row_count: 0,
            last_close: [f64::NAN; MAX_SYMBOLS],
            first_row: [None; MAX_SYMBOLS],
            forecasts: [None; MAX_SYMBOLS],
            fallbacks: 0,
            last_fallback: None,
            misaligned_bars: 0,
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &AllocatorConfig {
        &self.config
    }

    /// `Degraded` while the last optimisation fell back because a solver failed, `Running`
    /// otherwise.
    #[must_use]
    pub fn lifecycle(&self) -> Lifecycle {
        if matches!(self.last_fallback, Some(Fallback::Solver { .. })) {
            Lifecycle::Degraded
        } else {
            Lifecycle::Running
        }
    }

    /// Why the last entry signal fell back to the signal policy (cleared by a successful
    /// optimisation).
    #[must_use]
    pub fn last_fallback(&self) -> Option<&Fallback> {
        self.last_fallback.as_ref()
    }

    /// Entry signals that fell back to the signal policy.
    #[must_use]
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks
    }

    /// Bars that arrived older than the newest bar time (their return went into the newest row).
    #[must_use]
    pub fn misaligned_bars(&self) -> u64 {
        self.misaligned_bars
    }

    fn slot(&self, symbol: SymbolId) -> Result<usize, AllocatorError> {
        let i = usize::from(symbol);
        if i < self.n {
            Ok(i)
        } else {
            Err(AllocatorError::UnknownSymbol {
                symbol,
                n_symbols: self.n,
            })
        }
    }

    /// Records a closed bar: its log return goes into the row of its bar time. Call it for
    /// every bar before the signals of that bar.
    ///
    /// # Errors
    /// [`AllocatorError::UnknownSymbol`] (nothing changes).
    pub fn on_bar(&mut self, bar: &Bar) -> Result<(), AllocatorError> {
        let i = self.slot(bar.symbol)?;
        let start = bar.ohlcv.start_ns();
        match self.rows.back(0) {
            Some(row) if start == row.start => {}
            Some(row) if start < row.start => self.misaligned_bars += 1,
            _ => {
                self.rows.push(Row {
                    start,
                    returns: [0.0; MAX_SYMBOLS],
                });
                self.row_count += 1;
            }
        }
        let close = bar.ohlcv.close();
        if close > 0.0 {
            let r = (close / self.last_close[i]).ln();
            if r.is_finite()
                && let Some(row) = self.rows.newest_mut()
            {
                row.returns[i] += r;
                self.first_row[i].get_or_insert(self.row_count);
            }
            self.last_close[i] = close;
        }
        Ok(())
    }

    /// Keeps `forecast` as its symbol's latest view.
    ///
    /// # Errors
    /// [`AllocatorError::UnknownSymbol`] (nothing changes).
    pub fn on_forecast(&mut self, forecast: &Forecast) -> Result<(), AllocatorError> {
        let i = self.slot(forecast.symbol)?;
        self.forecasts[i] = Some((*forecast, self.row_count));
        Ok(())
    }

    /// The target weights for a signal.
    ///
    /// # Errors
    /// [`AllocatorError::UnknownSymbol`] (nothing changes).
    pub fn on_signal(&mut self, signal: &Signal) -> Result<TargetWeights, AllocatorError> {
        let i = self.slot(signal.symbol)?;
        let mut weights = [f64::NAN; MAX_SYMBOLS];
        let mut method = AllocationMethod::Signal;
        match (signal.action, self.config.policy) {
            (SignalAction::Exit, _) => {
                self.forecasts[i] = None;
                weights[i] = 0.0;
            }
            (SignalAction::EnterLong, AllocationPolicy::Signal) => {
                weights[i] = self.config.max_weight;
            }
            (SignalAction::EnterLong, policy) => match self.optimise(i, signal, policy) {
                Ok((chosen, active, w)) => {
                    self.last_fallback = None;
                    method = chosen;
                    for (&a, &x) in active.iter().zip(&w) {
                        weights[a] = x;
                    }
                }
                Err(why) => {
                    self.fallbacks += 1;
                    self.last_fallback = Some(why);
                    weights[i] = self.config.max_weight;
                }
            },
        }
        Ok(TargetWeights {
            decision: signal.decision,
            ts: signal.ts,
            method,
            n: u8::try_from(self.n).unwrap_or(u8::MAX),
            weights,
        })
    }

    fn fresh_forecast(&self, i: usize) -> Option<&Forecast> {
        self.forecasts[i]
            .as_ref()
            .filter(|(_, at)| self.row_count - at <= self.config.forecast_ttl_bars)
            .map(|(f, _)| f)
    }

    /// The method used, the active symbols and their weights.
    fn optimise(
        &self,
        i: usize,
        signal: &Signal,
        policy: AllocationPolicy,
    ) -> Result<(AllocationMethod, Vec<usize>, Vec<f64>), Fallback> {
        let cfg = &self.config;
        let own = self.fresh_forecast(i).ok_or(Fallback::NoForecast {
            symbol: signal.symbol,
        })?;
        let method = match policy {
            AllocationPolicy::Cara => AllocationMethod::Cara,
            AllocationPolicy::RiskParity => AllocationMethod::RiskParity,
            AllocationPolicy::SparseL1 => AllocationMethod::SparseL1,
            AllocationPolicy::Auto => choose_auto(&cfg.auto, own, signal.regime),
            AllocationPolicy::Signal => AllocationMethod::Signal,
        };
        let active: Vec<usize> = (0..self.n)
            .filter(|&a| self.fresh_forecast(a).is_some())
            .collect();
        let history = active
            .iter()
            .map(|&a| {
                self.first_row[a].map_or(0, |first| {
                    usize::try_from(self.row_count - first + 1).unwrap_or(usize::MAX)
                })
            })
            .min()
            .unwrap_or(0)
            .min(self.rows.len());
        if history < cfg.min_cov_bars {
            return Err(Fallback::ShortHistory {
                have: history,
                need: cfg.min_cov_bars,
            });
        }
        let m = active.len();
        let skip = self.rows.len() - history;
        let mut x = DMatrix::zeros(history, m);
        for (t, row) in self.rows.iter().skip(skip).enumerate() {
            for (j, &a) in active.iter().enumerate() {
                x[(t, j)] = row.returns[a];
            }
        }
        let solver = |method: &'static str| {
            move |e: strategies::Error| Fallback::Solver {
                method,
                detail: e.to_string(),
            }
        };
        let (sigma, _shrinkage) = ledoit_wolf(&x).map_err(solver("ledoit_wolf"))?;
        let scale = sigma.trace() / m as f64;
        if !(scale > 0.0 && scale.is_finite()) {
            return Err(Fallback::Solver {
                method: "ledoit_wolf",
                detail: format!("mean variance of the active set is {scale}"),
            });
        }
        let sigma = sigma / scale;
        let mu = DVector::from_fn(m, |j, _| {
            self.fresh_forecast(active[j])
                .map_or(0.0, |f| f.expected_return)
                / scale
        });
        let raw: Vec<f64> = match method {
            AllocationMethod::Cara => {
                let mut ext = DMatrix::zeros(m + 1, m + 1);
                ext.view_mut((0, 0), (m, m)).copy_from(&sigma);
                let mu_ext = DVector::from_fn(m + 1, |j, _| if j < m { mu[j] } else { 0.0 });
                let a = cara(&mu_ext, &ext, cfg.gamma).map_err(solver("cara"))?;
                a.weights.iter().take(m).copied().collect()
            }
            AllocationMethod::RiskParity => risk_parity(&sigma)
                .map_err(solver("risk_parity"))?
                .weights
                .iter()
                .copied()
                .collect(),
            AllocationMethod::SparseL1 | AllocationMethod::Signal => {
                sparse_l1(&mu, &sigma, cfg.lambda, cfg.rho)
                    .map_err(solver("sparse_l1"))?
                    .weights
                    .iter()
                    .copied()
                    .collect()
            }
        };
        Ok((method, active, long_only(&raw, cfg.max_weight)))
    }
}

/// Negative weights → 0; longs scaled to sum ≤ 1; each clipped to `max_weight` (the clipped
/// part stays cash).
fn long_only(raw: &[f64], max_weight: f64) -> Vec<f64> {
    let mut w: Vec<f64> = raw
        .iter()
        .map(|&x| if x.is_finite() { x.max(0.0) } else { 0.0 })
        .collect();
    let total: f64 = w.iter().sum();
    if total > 1.0 {
        w.iter_mut().for_each(|x| *x /= total);
    }
    w.iter_mut().for_each(|x| *x = x.min(max_weight));
    // Rounding of the division above can leave the sum an ulp above 1.
    let total: f64 = w.iter().sum();
    if total > 1.0 {
        w.iter_mut()
            .for_each(|x| *x /= total * (1.0 + f64::EPSILON));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{DecisionId, StrategyKind};
    use rand::{RngExt, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;
    use strategies::bars::BarParts;

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

    fn signal(symbol: SymbolId, action: SignalAction, regime: RegimeLabel) -> Signal {
        Signal {
            symbol,
            decision: DecisionId(1_000 + u64::from(symbol)),
            ts: 5,
            bar_start: 0,
            bar_close: 0.0,
            strategy: StrategyKind::Breakout,
            action,
            regime,
            stop_loss: 0.0,
            take_profit: 0.0,
        }
    }

    fn forecast(symbol: SymbolId, expected_return: f64, impact: f64) -> Forecast {
        Forecast {
            symbol,
            decision: DecisionId(1),
            ts: 0,
            horizon: 60,
            price: 100.0,
            expected_price: 100.0 * (expected_return * 60.0).exp(),
            q05: 99.0,
            q50: 100.0,
            q95: 101.0,
            expected_return,
            variance: 1e-6,
            impact,
        }
    }

    /// 4 symbols, `bars` bar times of correlated returns with volatilities 0.1 %..0.4 %.
    fn fed(config: AllocatorConfig, bars: usize, seed: u64) -> Allocator {
        let mut a = Allocator::new(config, 4).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut closes = [100.0f64; 4];
        for k in 0..bars {
            let common: f64 = rng.random_range(-1.0..1.0);
            for (s, c) in closes.iter_mut().enumerate() {
                let own: f64 = rng.random_range(-1.0..1.0);
                *c *= (0.001 * (s + 1) as f64 * (0.5 * common + own)).exp();
                a.on_bar(&bar(s as SymbolId, k, *c)).unwrap();
            }
        }
        a
    }

    fn policy(p: AllocationPolicy) -> AllocatorConfig {
        AllocatorConfig {
            policy: p,
            max_weight: 0.6,
            ..AllocatorConfig::default()
        }
    }

    #[test]
    fn config_problems_are_all_listed_with_their_keys() {
        assert!(AllocatorConfig::default().validate("allocator").is_empty());
        let bad = AllocatorConfig {
            max_weight: 1.5,
            gamma: 0.0,
            lambda: -1.0,
            rho: f64::NAN,
            cov_window: 1,
            min_cov_bars: 5,
            auto: AutoRule {
                round_trip_cost: -0.1,
                max_cost_ratio: 0.0,
            },
            ..AllocatorConfig::default()
        };
        let p = bad.validate("allocator");
        for k in [
            "allocator.max_weight",
            "allocator.gamma",
            "allocator.lambda",
            "allocator.rho",
            "allocator.cov_window",
            "allocator.min_cov_bars",
            "allocator.auto.round_trip_cost",
            "allocator.auto.max_cost_ratio",
        ] {
            assert!(p.iter().any(|m| m.starts_with(k)), "{k} missing in {p:?}");
        }
        assert!(Allocator::new(bad, 4).is_err());
    }

    #[test]
    fn signal_policy_is_all_in_all_out_with_nan_elsewhere() {
        let mut a = Allocator::new(policy(AllocationPolicy::Signal), 3).unwrap();
        let t = a
            .on_signal(&signal(1, SignalAction::EnterLong, RegimeLabel::Volatile))
            .unwrap();
        assert_eq!(
            (t.method, t.n, t.decision, t.ts),
            (AllocationMethod::Signal, 3, DecisionId(1001), 5)
        );
        assert_eq!(t.weights[1], 0.6);
        assert!(t.weights[0].is_nan() && t.weights[2].is_nan());
        let t = a
            .on_signal(&signal(1, SignalAction::Exit, RegimeLabel::Unknown))
            .unwrap();
        assert_eq!(t.weights[1], 0.0);
        assert!(t.weights[0].is_nan() && t.weights[2].is_nan());
        assert_eq!(
            a.on_signal(&signal(3, SignalAction::Exit, RegimeLabel::Unknown)),
            Err(AllocatorError::UnknownSymbol {
                symbol: 3,
                n_symbols: 3
            })
        );
    }

    #[test]
    fn optimised_weights_are_long_only_capped_and_sum_to_at_most_one() {
        let views = [0.0004, 0.0001, -0.0002, 0.0003];
        for p in [
            AllocationPolicy::Cara,
            AllocationPolicy::RiskParity,
            AllocationPolicy::SparseL1,
            AllocationPolicy::Auto,
        ] {
            for seed in 0..4 {
                let mut a = fed(policy(p), 300, seed);
                for (s, &mu) in views.iter().enumerate() {
                    a.on_forecast(&forecast(s as SymbolId, mu, 1e-4)).unwrap();
                }
                let t = a
                    .on_signal(&signal(0, SignalAction::EnterLong, RegimeLabel::Trending))
                    .unwrap();
                assert_eq!(a.last_fallback(), None, "{p:?}");
                assert_ne!(t.method, AllocationMethod::Signal);
                let w = &t.weights[..4];
                assert!(w.iter().all(|&x| (0.0..=0.6).contains(&x)), "{p:?} {w:?}");
                let total: f64 = w.iter().sum();
                assert!(total <= 1.0 && total > 0.0, "{p:?} {w:?}");
                if p == AllocationPolicy::RiskParity {
                    // Equal risk: the calmest symbol (0) gets the largest weight.
                    assert!(w[0] > w[1] && w[1] > w[2] && w[2] > w[3], "{w:?}");
                    assert!(
                        (total - 1.0).abs() < 1e-9,
                        "nothing clipped: fully invested"
                    );
                }
                if p == AllocationPolicy::Cara {
                    assert_eq!(w[2], 0.0, "a negative view gets nothing: {w:?}");
                }
            }
        }
    }

    #[test]
    fn cara_keeps_cash_when_no_view_pays() {
        let mut a = fed(policy(AllocationPolicy::Cara), 300, 9);
        a.on_forecast(&forecast(0, -0.001, 0.0)).unwrap();
        let t = a
            .on_signal(&signal(0, SignalAction::EnterLong, RegimeLabel::Trending))
            .unwrap();
        assert_eq!(t.method, AllocationMethod::Cara);
        assert_eq!(t.weights[0], 0.0);
        assert!(
            t.weights[1..4].iter().all(|w| w.is_nan()),
            "no view: keep as is"
        );
    }

    #[test]
    fn exits_zero_the_symbol_and_drop_its_view_and_old_views_expire() {
        let mut a = fed(policy(AllocationPolicy::RiskParity), 100, 1);
        a.on_forecast(&forecast(0, 0.001, 0.0)).unwrap();
        a.on_forecast(&forecast(2, 0.001, 0.0)).unwrap();
        let t = a
            .on_signal(&signal(0, SignalAction::EnterLong, RegimeLabel::Trending))
            .unwrap();
        assert!(t.weights[0] > 0.0 && t.weights[2] > 0.0);
        assert!(t.weights[1].is_nan() && t.weights[3].is_nan());
        let t = a
            .on_signal(&signal(2, SignalAction::Exit, RegimeLabel::Trending))
            .unwrap();
        assert_eq!(t.weights[2], 0.0);
        assert_eq!(t.method, AllocationMethod::Signal);
        assert!([0, 1, 3].iter().all(|&s| t.weights[s].is_nan()));
        let t = a
            .on_signal(&signal(0, SignalAction::EnterLong, RegimeLabel::Trending))
            .unwrap();
        assert_eq!(t.weights[0], 0.6, "alone, capped at max_weight");
        assert!(t.weights[2].is_nan(), "its view was dropped by the exit");
        // 61 more bar times: the forecast of symbol 0 is older than the 60-bar TTL.
        let mut b = fed(policy(AllocationPolicy::RiskParity), 100, 1);
        b.on_forecast(&forecast(0, 0.001, 0.0)).unwrap();
        for k in 100..161 {
            b.on_bar(&bar(0, k, 100.0 + (k % 3) as f64)).unwrap();
        }
        b.on_signal(&signal(0, SignalAction::EnterLong, RegimeLabel::Trending))
            .unwrap();
        assert_eq!(b.last_fallback(), Some(&Fallback::NoForecast { symbol: 0 }));
        assert_eq!(b.fallbacks(), 1);
    }

    #[test]
    fn falls_back_to_the_signal_without_history_or_forecast() {
        let mut a = fed(policy(AllocationPolicy::Cara), 10, 1);
        let s = signal(1, SignalAction::EnterLong, RegimeLabel::Trending);
        let t = a.on_signal(&s).unwrap();
        assert_eq!((t.method, t.weights[1]), (AllocationMethod::Signal, 0.6));
        assert_eq!(a.last_fallback(), Some(&Fallback::NoForecast { symbol: 1 }));
        a.on_forecast(&forecast(1, 0.001, 0.0)).unwrap();
        a.on_signal(&s).unwrap();
        assert_eq!(
            a.last_fallback(),
            Some(&Fallback::ShortHistory { have: 9, need: 60 })
        );
        assert_eq!(a.lifecycle(), Lifecycle::Running);
        // Flat prices: zero variance, risk parity cannot run — a solver fallback degrades.
        let mut flat = Allocator::new(policy(AllocationPolicy::RiskParity), 1).unwrap();
        for k in 0..100 {
            flat.on_bar(&bar(0, k, 100.0)).unwrap();
        }
        flat.on_forecast(&forecast(0, 0.001, 0.0)).unwrap();
        let t = flat
            .on_signal(&signal(0, SignalAction::EnterLong, RegimeLabel::Trending))
            .unwrap();
        assert_eq!(t.method, AllocationMethod::Signal);
        assert!(matches!(
            a.last_fallback(),
            Some(Fallback::ShortHistory { .. })
        ));
        assert!(
            matches!(flat.last_fallback(), Some(Fallback::Solver { .. })),
            "{:?}",
            flat.last_fallback()
        );
        assert_eq!(flat.lifecycle(), Lifecycle::Degraded);
    }

    #[test]
    fn auto_picks_as_documented() {
        let rule = AutoRule::default(); // round trip 0.002, ratio 0.5
        // edge = 0.0001 × 60 = 0.006; cost = impact + 0.002.
        let cases = [
            (0.0001, 0.0, RegimeLabel::Trending, AllocationMethod::Cara),
            (
                0.0001,
                0.0,
                RegimeLabel::MeanReverting,
                AllocationMethod::Cara,
            ),
            (0.0001, 0.0, RegimeLabel::Unknown, AllocationMethod::Cara),
            (
                0.0001,
                0.0,
                RegimeLabel::Volatile,
                AllocationMethod::RiskParity,
            ),
            (
                0.0001,
                0.001,
                RegimeLabel::Volatile,
                AllocationMethod::RiskParity,
            ), // 0.003 = 0.5 edge
            (
                0.0001,
                0.0011,
                RegimeLabel::Trending,
                AllocationMethod::SparseL1,
            ), // 0.0031 > 0.003
            (
                0.0001,
                -0.0011,
                RegimeLabel::Volatile,
                AllocationMethod::SparseL1,
            ), // |impact|
            (0.0, 0.0, RegimeLabel::Trending, AllocationMethod::SparseL1), // no edge
            (
                -0.0001,
                0.0,
                RegimeLabel::Volatile,
                AllocationMethod::SparseL1,
            ),
        ];
        for (mu, impact, regime, want) in cases {
            let got = choose_auto(&rule, &forecast(0, mu, impact), regime);
            assert_eq!(got, want, "mu {mu} impact {impact} {regime:?}");
        }
        // And the actor uses it.
        let mut a = fed(policy(AllocationPolicy::Auto), 200, 2);
        a.on_forecast(&forecast(0, 0.0001, 0.0)).unwrap();
        let t = a
            .on_signal(&signal(0, SignalAction::EnterLong, RegimeLabel::Volatile))
            .unwrap();
        assert_eq!(t.method, AllocationMethod::RiskParity);
        a.on_forecast(&forecast(0, 0.0001, 0.01)).unwrap();
        let t = a
            .on_signal(&signal(0, SignalAction::EnterLong, RegimeLabel::Volatile))
            .unwrap();
        assert_eq!(t.method, AllocationMethod::SparseL1);
    }

    #[test]
    fn long_only_projection() {
        assert_eq!(long_only(&[1.5, -0.5], 1.0), [1.0, 0.0]);
        assert_eq!(long_only(&[0.5, 0.5], 0.3), [0.3, 0.3]);
        assert_eq!(long_only(&[0.2, f64::NAN], 1.0), [0.2, 0.0]);
        let w = long_only(&[0.7, 0.7, 0.7], 1.0);
        assert!(w.iter().sum::<f64>() <= 1.0);
    }
}
