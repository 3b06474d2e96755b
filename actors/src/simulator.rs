//! The simulator (the adaptive step between a signal and its sizing): on an entry signal it
//! calibrates the Chiarella agent-based model on the symbol's recent closes, runs Monte-Carlo
//! paths over the forecast horizon and measures the price impact of the intended order.
//!
//! Owns, per symbol, rolling windows of closes and quote volumes (fed by [`Simulator::on_bar`])
//! and the cached calibration. The model maths (calibration, simulation, order impact) is
//! [`strategies::chiarella`]'s; this module must not reimplement it, size orders or read a clock.
//!
//! # Behaviour
//! * **Only entries are forecast.** [`Simulator::on_signal`] returns `Ok(None)` for exits and
//!   when the simulator is disabled. Call [`Simulator::on_bar`] for every bar *before* the
//!   signals of that bar, so the window ends at the signal's bar.
//! * **Calibration** ([`strategies::chiarella::calibrate`], one step per bar, `dt = 1`) uses the
//!   last `window` closes and is cached per symbol: it is redone when at least
//!   `recalibrate_every` bars of the symbol have passed since (0 = on every signal). The cached
//!   parameters are restarted from the current close (`p0`).
//! * **Paths**: [`strategies::chiarella::simulate_terminal`] with `paths` paths of `horizon`
//!   steps and a seed derived from `(seed, DecisionId)`, so a forecast depends only on the data
//!   and the decision, whatever was forecast before (chunked replays give identical forecasts).
//!   It is `simulate`'s terminal-price summary bit for bit, without the drawdowns nobody here
//!   reads.
//! * **Forecast fields**: `price` is the current close; `expected_price`, `q05`, `q50`, `q95`
//!   summarise the terminal price; `expected_return = ln(expected_price / price) / horizon`
//!   (per bar); `variance = (std of the terminal price / price)² / horizon` (per bar).
//! * **Impact of the intended order** (a quote notional, e.g. target weight × equity): a
//!   square-root law sets the order's size in the model's demand units,
//!   `Q = impact.coefficient · σ · √(notional / V)`, with `σ` the calibrated one-step price
//!   shock (price units) and `V` the mean quote volume per bar over the window; the order is
//!   worked evenly over `impact.steps` bars ([`OrderImpactSpec`]) and the Chiarella feedback
//!   (fundamentalists revert it, chartists amplify it) shapes it until the horizon.
//!   `impact = expected terminal impact / price`. The model is linear and paired runs share
//!   their shocks, so the impact is the same deterministic impulse response on every path:
//!   [`strategies::chiarella::order_impact`] computes it without simulating any path (it is
//!   `simulate_with_order`'s `expected_impact` up to that average's rounding, under one ulp of
//!   the price). A non-positive notional means no order: impact 0.
//! * **Errors never panic** and produce no forecast (the pipeline falls back to the signal
//!   alone): too little history ([`SimulatorError::Warmup`], not a degradation), a failed
//!   calibration or simulation, a window without volume, a forecast price ≤ 0. The latter set
//!   the actor [`Lifecycle::Degraded`] until the next successful forecast.
//! * **Cost**: one forecast allocates one `paths`-long `Vec` in the library. With the defaults
//!   the model part (256 × 60 paths and the impulse response) takes ≈ 39–41 µs in
//!   `cargo bench --bench chiarella` (`chiarella_forecast/simulator_forecast_terminal`, idle
//!   2-core box), against ≈ 44–46 µs for `simulate` plus a one-path `simulate_with_order`
//!   (`simulator_forecast`) and ≈ 95 µs before the lockstep kernel. Nearly all of it is drawing
//!   the 15,360 standard normals, which the forecast must reproduce exactly (plain `rand_distr`
//!   takes ≈ 36 µs for them on the same box). A recalibration (500 closes) adds a few µs. A
//!   backtest pays it once per entry signal.

use crate::config_key as key;
use serde::Deserialize;
use thiserror::Error;

use crate::lifecycle::Lifecycle;
use crate::messages::{Bar, Forecast, MAX_SYMBOLS, Signal, SignalAction, SymbolId};
use crate::ring::Ring;
use strategies::chiarella::{
    ChiarellaParams, MIN_CALIBRATION_PRICES, OrderImpactSpec, SimConfig, calibrate, order_impact,
    simulate_terminal,
};

/// Largest `paths × horizon` accepted: about 10 ms of one core per forecast.
pub const MAX_PATH_STEPS_PER_FORECAST: usize = 2_000_000;

/// Largest calibration `window`.
pub const MAX_WINDOW: usize = 1_000_000;

/// Simulator settings (`[simulator]` in the TOML files).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorConfig {
    /// Forecast entry signals; when `false` no forecast is made. Default `true`.
    pub enabled: bool,
    /// Closes the calibration uses (≥ 10). Default 500.
    pub window: usize,
    /// Forecast horizon in bars (≥ 1). Default 60.
    pub horizon: usize,
    /// Monte-Carlo paths (≥ 1). Default 256.
    pub paths: usize,
    /// Bars of a symbol between recalibrations; 0 = recalibrate on every signal. Default 60.
    pub recalibrate_every: usize,
    /// Run seed; each forecast's seed is derived from `(seed, DecisionId)`. Default 0.
    pub seed: u64,
    /// How the intended order's size maps to model demand.
    pub impact: ImpactConfig,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 500,
            horizon: 60,
            paths: 256,
            recalibrate_every: 60,
            seed: 0,
            impact: ImpactConfig::default(),
        }
    }
}

/// Square-root impact settings (`[simulator.impact]`); see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImpactConfig {
    /// `Y` of `Q = Y · σ · √(notional / V)` (≥ 0; 0 = no impact). Default 1.0.
    pub coefficient: f64,
    /// Bars the order is worked over (1..=horizon). Default 1.
    pub steps: usize,
}

impl Default for ImpactConfig {
    fn default() -> Self {
        Self {
            coefficient: 1.0,
            steps: 1,
        }
    }
}

impl SimulatorConfig {
    /// Every problem with the settings, each naming its key under `path` (e.g. `"simulator"`).
    #[must_use]
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut p = Vec::new();
        if !(MIN_CALIBRATION_PRICES..=MAX_WINDOW).contains(&self.window) {
            p.push(format!(
                "{} must be in {MIN_CALIBRATION_PRICES}..={MAX_WINDOW}, got {}",
                key(path, "window"),
                self.window
            ));
        }
        if self.horizon == 0 {
            p.push(format!("{} must be >= 1, got 0", key(path, "horizon")));
        }
        if self.paths == 0 {
            p.push(format!("{} must be >= 1, got 0", key(path, "paths")));
        }
        if self.paths.saturating_mul(self.horizon) > MAX_PATH_STEPS_PER_FORECAST {
            p.push(format!(
                "{} x {} = {} exceeds {MAX_PATH_STEPS_PER_FORECAST} steps per forecast",
                key(path, "paths"),
                key(path, "horizon"),
                self.paths.saturating_mul(self.horizon)
            ));
        }
        let c = self.impact.coefficient;
        if !(c.is_finite() && c >= 0.0) {
            p.push(format!(
                "{} must be a finite number >= 0, got {c}",
                key(path, "impact.coefficient")
            ));
        }
        if self.impact.steps == 0 || self.impact.steps > self.horizon.max(1) {
            p.push(format!(
                "{} must be in 1..={} (the horizon), got {}",
                key(path, "impact.steps"),
                self.horizon,
                self.impact.steps
            ));
        }
        p
    }
}

/// Why the simulator made no forecast. Everything but `Config` is recoverable: the pipeline
/// goes on with the signal alone.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SimulatorError {
    /// The configuration is invalid; every problem is listed with its key path.
    #[error("simulator config: {problems}")]
    Config {
        /// The problems, joined with "; ".
        problems: String,
    },
    /// A message names a symbol outside the run's symbol table.
    #[error("simulator: symbol {symbol} is outside the symbol table (0..{n_symbols})")]
    UnknownSymbol {
        /// The symbol id received.
        symbol: SymbolId,
        /// Number of symbols of the run.
        n_symbols: usize,
    },
    /// Fewer closes than the calibration window so far.
    #[error("simulator: symbol {symbol} has {have} closes, the calibration window needs {need}")]
    Warmup {
        /// The symbol.
        symbol: SymbolId,
        /// Closes held.
        have: usize,
        /// `window`.
        need: usize,
    },
    /// The intended order notional is NaN or infinite.
    #[error("simulator: symbol {symbol}: intended order notional {value} is not finite")]
    InvalidNotional {
        /// The symbol.
        symbol: SymbolId,
        /// The value received.
        value: f64,
    },
    /// The window traded nothing, so an order's participation (and impact) is undefined.
    #[error("simulator: symbol {symbol}: no quote volume in the last {window} bars")]
    NoVolume {
        /// The symbol.
        symbol: SymbolId,
        /// Bars looked at.
        window: usize,
    },
    /// The model library refused the data or diverged.
    #[error("simulator: symbol {symbol}: chiarella {stage} failed: {source}")]
    Model {
        /// The symbol.
        symbol: SymbolId,
        /// `"calibration"`, `"simulation"` or `"order impact"`.
        stage: &'static str,
        /// The library's error.
        source: strategies::Error,
    },
    /// The paths' mean terminal price is not > 0: no log return can be forecast.
    #[error("simulator: symbol {symbol}: expected price {expected_price} is not > 0")]
    NonPositiveForecast {
        /// The symbol.
        symbol: SymbolId,
        /// Mean terminal price.
        expected_price: f64,
    },
}

impl SimulatorError {
    /// Whether the simulator can go on (everything but a config error).
    #[must_use]
    pub fn is_recoverable(&self) -> bool {
        !matches!(self, SimulatorError::Config { .. })
    }

    /// Whether the error degrades the actor (a model failure, not missing history or input).
    fn degrades(&self) -> bool {
        matches!(
            self,
            SimulatorError::NoVolume { .. }
                | SimulatorError::Model { .. }
                | SimulatorError::NonPositiveForecast { .. }
        )
    }
}

#[derive(Debug, Clone)]
struct SymbolWindow {
    closes: Ring<f64>,
    quote_volumes: Ring<f64>,
    bars: u64,
    /// Cached parameters, the one-step shock σ and the symbol's bar count at calibration.
    calibration: Option<(ChiarellaParams, f64, u64)>,
}

/// Chiarella forecasts for entry signals. See the module docs.
#[derive(Debug, Clone)]
pub struct Simulator {
    config: SimulatorConfig,
    symbols: Vec<SymbolWindow>,
    scratch: Vec<f64>,
    forecasts: u64,
    failures: u64,
    calibrations: u64,
    last_error: Option<SimulatorError>,
}

impl Simulator {
    /// A simulator for `n_symbols` symbols (ids `0..n_symbols`).
    ///
    /// # Errors
    /// [`SimulatorError::Config`] listing every problem of `config`, or an `n_symbols` of 0 or
    /// above [`MAX_SYMBOLS`].
    pub fn new(config: SimulatorConfig, n_symbols: usize) -> Result<Self, SimulatorError> {
        let mut problems = config.validate("simulator");
        if n_symbols == 0 || n_symbols > MAX_SYMBOLS {
            problems.push(format!(
                "the run must have 1..={MAX_SYMBOLS} symbols, got {n_symbols}"
            ));
        }
        if !problems.is_empty() {
            return Err(SimulatorError::Config {
                problems: problems.join("; "),
            });
        }
        let window = if config.enabled { config.window } else { 1 };
        Ok(Self {
            symbols: vec![
                SymbolWindow {
                    closes: Ring::new(window),
                    quote_volumes: Ring::new(window),
                    bars: 0,
                    calibration: None,
                };
                n_symbols
            ],
            scratch: Vec::with_capacity(window),
            config,
            forecasts: 0,
            failures: 0,
            calibrations: 0,
            last_error: None,
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &SimulatorConfig {
        &self.config
    }

    /// `Degraded` while the last forecast attempt failed in the model (see the module docs),
    /// `Running` after a forecast (or when disabled), `Starting` before the first.
    #[must_use]
    pub fn lifecycle(&self) -> Lifecycle {
        if !self.config.enabled {
            Lifecycle::Running
        } else if self
            .last_error
            .as_ref()
            .is_some_and(SimulatorError::degrades)
        {
            Lifecycle::Degraded
        } else if self.forecasts > 0 {
            Lifecycle::Running
        } else {
            Lifecycle::Starting
        }
    }

    /// The last forecast attempt's error, if it failed.
    #[must_use]
    pub fn last_error(&self) -> Option<&SimulatorError> {
        self.last_error.as_ref()
    }

    /// Forecasts made.
    #[must_use]
    pub fn forecasts(&self) -> u64 {
        self.forecasts
    }

    /// Forecast attempts that failed (warm-up included).
    #[must_use]
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Calibrations run (successful or not).
    #[must_use]
    pub fn calibrations(&self) -> u64 {
        self.calibrations
    }

    fn slot(&self, symbol: SymbolId) -> Result<usize, SimulatorError> {
        let i = usize::from(symbol);
        if i < self.symbols.len() {
            Ok(i)
        } else {
            Err(SimulatorError::UnknownSymbol {
                symbol,
                n_symbols: self.symbols.len(),
            })
        }
    }

    /// Records a closed bar of a symbol (its close and quote volume).
    ///
    /// # Errors
    /// [`SimulatorError::UnknownSymbol`] (nothing changes).
    pub fn on_bar(&mut self, bar: &Bar) -> Result<(), SimulatorError> {
        let i = self.slot(bar.symbol)?;
        if self.config.enabled {
            let s = &mut self.symbols[i];
            s.closes.push(bar.ohlcv.close());
            s.quote_volumes.push(bar.ohlcv.quote_volume());
            s.bars += 1;
        }
        Ok(())
    }

    /// The forecast for an entry signal, given the notional (quote units) of the order it
    /// intends; `Ok(None)` for exits or when disabled.
    ///
    /// # Errors
    /// See [`SimulatorError`]; every error means "no forecast" and none is fatal except
    /// `UnknownSymbol` being a wiring bug.
    pub fn on_signal(
        &mut self,
        signal: &Signal,
        intended_notional: f64,
    ) -> Result<Option<Forecast>, SimulatorError> {
        if !self.config.enabled || signal.action != SignalAction::EnterLong {
            return Ok(None);
        }
        let i = self.slot(signal.symbol)?;
        match self.forecast(i, signal, intended_notional) {
            Ok(f) => {
                self.forecasts += 1;
                self.last_error = None;
                Ok(Some(f))
            }
            Err(e) => {
                self.failures += 1;
                self.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn forecast(
        &mut self,
        i: usize,
        signal: &Signal,
        notional: f64,
    ) -> Result<Forecast, SimulatorError> {
        let cfg = &self.config;
        let symbol = signal.symbol;
        if !notional.is_finite() {
            return Err(SimulatorError::InvalidNotional {
                symbol,
                value: notional,
            });
        }
        let s = &mut self.symbols[i];
        if s.closes.len() < cfg.window {
            return Err(SimulatorError::Warmup {
                symbol,
                have: s.closes.len(),
                need: cfg.window,
            });
        }
        let model_err = |stage, source| SimulatorError::Model {
            symbol,
            stage,
            source,
        };
        let fresh = s.calibration.filter(|&(_, _, at)| {
            cfg.recalibrate_every > 0 && s.bars - at < cfg.recalibrate_every as u64
        });
        let (cached, shock) = match fresh {
            Some((params, shock, _)) => (params, shock),
            None => {
                s.calibration = None;
                self.calibrations += 1;
                s.closes.copy_into(&mut self.scratch);
                let cal = calibrate(&self.scratch, 1.0).map_err(|e| model_err("calibration", e))?;
                s.calibration = Some((cal.params, cal.residual_std, s.bars));
                (cal.params, cal.residual_std)
            }
        };
        let price = s.closes.back(0).copied().unwrap_or(cached.p0);
        let params = ChiarellaParams {
            p0: price,
            ..cached
        };
        let sim = SimConfig {
            paths: cfg.paths,
            steps: cfg.horizon,
            seed: derive_seed(cfg.seed, signal.decision.0),
        };
        let t = simulate_terminal(&params, &sim).map_err(|e| model_err("simulation", e))?;
        if t.mean.is_nan() || t.mean <= 0.0 {
            return Err(SimulatorError::NonPositiveForecast {
                symbol,
                expected_price: t.mean,
            });
        }
        let impact = if notional > 0.0 && cfg.impact.coefficient > 0.0 {
            let n = s.quote_volumes.len() as f64;
            let volume = s.quote_volumes.iter().sum::<f64>() / n;
            if volume.is_nan() || volume <= 0.0 {
                return Err(SimulatorError::NoVolume {
                    symbol,
                    window: s.quote_volumes.len(),
                });
            }
            let size = cfg.impact.coefficient * shock * (notional / volume).sqrt();
            let order = OrderImpactSpec {
                size,
                steps: cfg.impact.steps,
            };
            order_impact(&params, cfg.horizon, &order).map_err(|e| model_err("order impact", e))?
                / price
        } else {
            0.0
        };
        let h = cfg.horizon as f64;
        let rel_std = t.std / price;
        Ok(Forecast {
            symbol,
            decision: signal.decision,
            ts: signal.ts,
            horizon: u32::try_from(cfg.horizon).unwrap_or(u32::MAX),
            price,
            expected_price: t.mean,
            q05: t.q05,
            q50: t.q50,
            q95: t.q95,
            expected_return: (t.mean / price).ln() / h,
            variance: rel_std * rel_std / h,
            impact,
        })
    }
}

/// A well-mixed seed from `(seed, index)` (SplitMix64 finaliser over a golden-ratio step).
fn derive_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{DecisionId, RegimeLabel, StrategyKind};
    use strategies::bars::BarParts;
    use strategies::chiarella::{sample_path, simulate, simulate_with_order};

    const M: i64 = 60_000_000_000;

    fn bar(symbol: SymbolId, k: usize, close: f64, quote_volume: f64) -> Bar {
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
                volume: quote_volume / close,
                quote_volume,
                trade_count: 1,
            })
            .unwrap(),
        }
    }

    fn signal(symbol: SymbolId, decision: u64, action: SignalAction) -> Signal {
        Signal {
            symbol,
            decision: DecisionId(decision),
            ts: 0,
            bar_start: 0,
            bar_close: 0.0,
            strategy: StrategyKind::SmartMomentum,
            action,
            regime: RegimeLabel::Trending,
            stop_loss: 0.0,
            take_profit: 0.0,
        }
    }

    /// A mean-reverting Chiarella path around 100 (a = 0.1, b = 0.15, shock ≈ 0.22).
    fn closes(n: usize, seed: u64) -> Vec<f64> {
        let truth = ChiarellaParams {
            p0: 100.0,
            fundamental: 100.0,
            alpha_f: 0.2,
            alpha_c: 0.5,
            w_f: 0.5,
            w_c: 0.3,
            w_n: 0.2,
            sigma_n: 1.0,
            sigma_p: 0.1,
            lambda: 1.0,
            dt: 1.0,
        };
        sample_path(&truth, n - 1, seed).unwrap()
    }

    fn fed(n: usize) -> Simulator {
        let mut sim = Simulator::new(SimulatorConfig::default(), 2).unwrap();
        for (k, c) in closes(n, 1).into_iter().enumerate() {
            sim.on_bar(&bar(0, k, c, 1e6)).unwrap();
        }
        sim
    }

    #[test]
    fn config_problems_are_all_listed_with_their_keys() {
        assert!(SimulatorConfig::default().validate("simulator").is_empty());
        let bad = SimulatorConfig {
            window: 3,
            horizon: 0,
            paths: 0,
            impact: ImpactConfig {
                coefficient: -1.0,
                steps: 0,
            },
            ..SimulatorConfig::default()
        };
        let p = bad.validate("simulator");
        for k in [
            "simulator.window",
            "simulator.horizon",
            "simulator.paths",
            "simulator.impact.coefficient",
            "simulator.impact.steps",
        ] {
            assert!(p.iter().any(|m| m.starts_with(k)), "{k} missing in {p:?}");
        }
        let huge = SimulatorConfig {
            paths: 1_000_000,
            horizon: 1_000,
            ..SimulatorConfig::default()
        };
        assert!(huge.validate("s")[0].contains("exceeds"));
        assert!(!Simulator::new(bad, 1).unwrap_err().is_recoverable());
    }

    #[test]
    fn same_seed_same_forecast_other_decision_other_paths_quantiles_ordered() {
        let mut a = fed(600);
        let mut b = fed(600);
        let fa = a
            .on_signal(&signal(0, 77, SignalAction::EnterLong), 5e4)
            .unwrap()
            .unwrap();
        let fb = b
            .on_signal(&signal(0, 77, SignalAction::EnterLong), 5e4)
            .unwrap()
            .unwrap();
        assert_eq!(fa, fb, "same data, seed and decision: identical forecast");
        let fc = a
            .on_signal(&signal(0, 78, SignalAction::EnterLong), 5e4)
            .unwrap()
            .unwrap();
        assert_ne!(fa.q50, fc.q50, "another decision draws other paths");
        assert_ne!(fa.expected_price, fc.expected_price);
        assert_eq!(
            a.calibrations(),
            1,
            "the second signal reuses the calibration"
        );
        for f in [fa, fc] {
            assert!(f.q05 < f.q50 && f.q50 < f.q95, "{f:?}");
            assert_eq!(f.horizon, 60);
            assert!(f.variance > 0.0 && f.expected_return.is_finite());
            let implied = (f.expected_price / f.price).ln() / 60.0;
            assert_eq!(f.expected_return, implied);
            // Buying pushes the price up; the fundamentalists pull most of it back by the
            // horizon, so the impact is positive and below the no-feedback impact Q / price.
            assert!(f.impact > 0.0, "{f:?}");
        }
        // A bigger order has a bigger impact (square root of participation).
        let small = a
            .on_signal(&signal(0, 79, SignalAction::EnterLong), 1e4)
            .unwrap()
            .unwrap();
        let big = a
            .on_signal(&signal(0, 79, SignalAction::EnterLong), 4e4)
            .unwrap()
            .unwrap();
        assert!(
            (big.impact / small.impact - 2.0).abs() < 1e-9,
            "{} {}",
            big.impact,
            small.impact
        );
        let none = a
            .on_signal(&signal(0, 79, SignalAction::EnterLong), 0.0)
            .unwrap()
            .unwrap();
        assert_eq!(none.impact, 0.0);
        assert_eq!(a.lifecycle(), Lifecycle::Running);
    }

    #[test]
    fn forecast_is_the_full_simulations_terminal_summary_and_paired_impact() {
        // The same forecast from the report-grade calls the actor used before: `simulate`'s
        // terminal summary (bit for bit) and the expected impact of a one-path
        // `simulate_with_order` (equal up to its rounding, under one ulp of the price).
        let mut sim = fed(600);
        let notional = 5e4;
        for decision in [77, 78, 1_000_003] {
            let f = sim
                .on_signal(&signal(0, decision, SignalAction::EnterLong), notional)
                .unwrap()
                .unwrap();
            let path = closes(600, 1);
            let cal = calibrate(&path[100..], 1.0).unwrap();
            let price = path[599];
            let params = ChiarellaParams {
                p0: price,
                ..cal.params
            };
            let cfg = SimConfig {
                paths: 256,
                steps: 60,
                seed: derive_seed(0, decision),
            };
            let t = simulate(&params, &cfg).unwrap().terminal;
            let rel_std = t.std / price;
            let want = [t.mean, t.q05, t.q50, t.q95, rel_std * rel_std / 60.0];
            let got = [f.expected_price, f.q05, f.q50, f.q95, f.variance];
            assert_eq!(
                got.map(f64::to_bits),
                want.map(f64::to_bits),
                "{got:?} {want:?}"
            );
            // Volume 1e6 per bar, default coefficient 1, one-step order.
            let order = OrderImpactSpec {
                size: cal.residual_std * (notional / 1e6).sqrt(),
                steps: 1,
            };
            let one_path = SimConfig { paths: 1, ..cfg };
            let paired = simulate_with_order(&params, &one_path, &order).unwrap();
            let old = paired.expected_impact / price;
            assert!(
                (f.impact - old).abs() <= 2.0 * f64::EPSILON,
                "{} vs {old}",
                f.impact
            );
            assert!(f.impact > 0.0);
        }
    }

    #[test]
    fn the_forecast_centres_on_the_fundamental() {
        // Far above a strongly mean-reverting fundamental, the forecast falls toward it.
        let mut sim = fed(600);
        let mut path = closes(600, 1);
        let last = path.len();
        path.push(103.0);
        sim.on_bar(&bar(0, last, 103.0, 1e6)).unwrap();
        let f = sim
            .on_signal(&signal(0, 1, SignalAction::EnterLong), 0.0)
            .unwrap()
            .unwrap();
        assert_eq!(f.price, 103.0);
        assert!(f.expected_price < 102.0 && f.expected_price > 98.0, "{f:?}");
        assert!(f.expected_return < 0.0);
    }

    #[test]
    fn exits_warmup_and_failures_give_no_forecast_and_never_panic() {
        let mut sim = fed(600);
        assert_eq!(
            sim.on_signal(&signal(0, 1, SignalAction::Exit), 1.0),
            Ok(None)
        );
        // Symbol 1 has no history.
        let err = sim
            .on_signal(&signal(1, 2, SignalAction::EnterLong), 1.0)
            .unwrap_err();
        assert_eq!(
            err,
            SimulatorError::Warmup {
                symbol: 1,
                have: 0,
                need: 500
            }
        );
        assert_eq!(
            sim.lifecycle(),
            Lifecycle::Starting,
            "warm-up does not degrade"
        );
        // Constant prices: the calibration regression is singular.
        for k in 0..500 {
            sim.on_bar(&bar(1, k, 50.0, 1e6)).unwrap();
        }
        let err = sim
            .on_signal(&signal(1, 3, SignalAction::EnterLong), 1.0)
            .unwrap_err();
        assert!(
            matches!(
                err,
                SimulatorError::Model {
                    stage: "calibration",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("singular"), "{err}");
        assert_eq!(sim.lifecycle(), Lifecycle::Degraded);
        assert!(matches!(
            sim.on_signal(&signal(0, 4, SignalAction::EnterLong), f64::NAN),
            Err(SimulatorError::InvalidNotional { .. })
        ));
        assert!(
            sim.on_signal(&signal(9, 4, SignalAction::EnterLong), 1.0)
                .is_err()
        );
        // A good forecast clears the degradation.
        assert!(
            sim.on_signal(&signal(0, 5, SignalAction::EnterLong), 1.0)
                .unwrap()
                .is_some()
        );
        assert_eq!(sim.lifecycle(), Lifecycle::Running);
        // No volume in the window: impact undefined.
        let mut dry = Simulator::new(SimulatorConfig::default(), 1).unwrap();
        for (k, c) in closes(600, 2).into_iter().enumerate() {
            dry.on_bar(&bar(0, k, c, 0.0)).unwrap();
        }
        assert!(matches!(
            dry.on_signal(&signal(0, 6, SignalAction::EnterLong), 1e3),
            Err(SimulatorError::NoVolume { .. })
        ));
        assert!(
            dry.on_signal(&signal(0, 6, SignalAction::EnterLong), 0.0)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn recalibrates_every_n_bars_and_chunking_does_not_matter() {
        let path = closes(800, 3);
        let signals = [550usize, 560, 620, 700, 790];
        let run = |chunk: usize| {
            let mut sim = Simulator::new(SimulatorConfig::default(), 1).unwrap();
            let mut out = Vec::new();
            for c in (0..path.len()).collect::<Vec<_>>().chunks(chunk) {
                for &k in c {
                    sim.on_bar(&bar(0, k, path[k], 1e6)).unwrap();
                    if signals.contains(&k) {
                        let s = signal(0, k as u64 + 1, SignalAction::EnterLong);
                        out.push(sim.on_signal(&s, 1e4).unwrap().unwrap());
                    }
                }
            }
            (out, sim.calibrations())
        };
        let (a, calibrations) = run(800);
        // Calibrated at 550, reused at 560, recalibrated at 620 (70 bars on), 700, 790.
        assert_eq!(calibrations, 4);
        assert_eq!(run(37), (a, calibrations));
    }
}
