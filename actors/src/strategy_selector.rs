//! StrategySelector: turns bars and regimes into [`Signal`]s, one symbol at a time.
//!
//! Owns the choice of strategy and the signal generators' streaming state; it does not size,
//! track positions or place orders (the executor ignores an entry while long and an exit while
//! flat).
//!
//! Policies ([`StrategyPolicy`]):
//! - a fixed strategy (`smart-momentum`, `ema-cross`, `breakout`, `mean-reversion`): its
//!   generator's entries and exits, whatever the regime;
//! - `adaptive`: the regime picks the strategy — Trending → breakout (momentum), Mean-reverting →
//!   z-score mean reversion, Volatile → risk-off (flat), Unknown → risk-off. A new regime takes
//!   over only after it has been the detector's label with confidence ≥ `min_confidence` for
//!   `min_dwell_bars` consecutive bars, so the selector does not flap. When the active strategy
//!   changes, an `Exit` signal hands over cleanly (a position belongs to the logic that opened it).
//!
//! Every generator of a symbol is fed every bar, active or not, so a strategy that takes over
//! is already warm (and chunked replay stays continuous: the state simply carries over).
//!
//! With a [`FeatureTape`] in [`SelectorConfig::feature_tape`] (backtests only: `hermes backtest
//! --ab`), Smart Momentum takes its indicator values from the tape, looked up by symbol and
//! bar start, and feeds them to the same [`SmartMomentumRule`] its streaming generator uses; a
//! bar the tape lacks is an error. The other strategies, and Smart Momentum without a tape, are
//! unchanged.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strategies::signals::{
    Breakout, BreakoutParams, EmaCross, EmaCrossParams, SignalAction as Raw, SmartMomentum,
    SmartMomentumParams, SmartMomentumRule, ZScoreReversion, ZScoreReversionParams,
};

pub use crate::feature_tape::FeatureTape;

use crate::lifecycle::Lifecycle;
use crate::messages::{Bar, Regime, RegimeLabel, Signal, SignalAction, StrategyKind, SymbolId};

/// Which strategy trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyPolicy {
    /// Smart Momentum, fixed.
    SmartMomentum,
    /// EMA cross, fixed.
    EmaCross,
    /// Donchian breakout, fixed.
    Breakout,
    /// Z-score mean reversion, fixed.
    MeanReversion,
    /// Chosen by the regime.
    Adaptive,
}

/// `[strategy]` configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelectorConfig {
    /// The policy.
    pub kind: StrategyPolicy,
    /// Bars a new regime must persist before the adaptive policy switches (≥ 1).
    pub min_dwell_bars: u32,
    /// Confidence a regime label needs to count towards the dwell, in `[0, 1]`.
    pub min_confidence: f64,
    /// Stop-loss fraction for strategies other than Smart Momentum (0 = none).
    pub stop_loss: f64,
    /// Take-profit fraction for strategies other than Smart Momentum (0 = none).
    pub take_profit: f64,
    /// Smart Momentum parameters (its stop-loss and take-profit included).
    pub smart_momentum: SmartMomentumParams,
    /// EMA cross parameters.
    pub ema_cross: EmaCrossParams,
    /// Breakout parameters.
    pub breakout: BreakoutParams,
    /// Mean-reversion parameters.
    pub mean_reversion: ZScoreReversionParams,
    /// Smart Momentum's inputs precomputed per symbol and bar (not configuration: set by the
    /// backtest, never read from or written to a file).
    #[serde(skip)]
    pub feature_tape: Option<Arc<FeatureTape>>,
}

impl Default for SelectorConfig {
    fn default() -> Self {
        Self {
            kind: StrategyPolicy::Adaptive,
            min_dwell_bars: 30,
            min_confidence: 0.6,
            stop_loss: 0.0,
            take_profit: 0.0,
            smart_momentum: SmartMomentumParams::default(),
            ema_cross: EmaCrossParams::default(),
            breakout: BreakoutParams::default(),
            mean_reversion: ZScoreReversionParams::default(),
            feature_tape: None,
        }
    }
}

impl SelectorConfig {
    /// Every problem, each with its key path under `path`.
    #[must_use]
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut p = Vec::new();
        if self.min_dwell_bars == 0 {
            p.push(format!("{path}.min_dwell_bars must be ≥ 1"));
        }
        if !(0.0..=1.0).contains(&self.min_confidence) {
            p.push(format!(
                "{path}.min_confidence must be in [0, 1], got {}",
                self.min_confidence
            ));
        }
        for (k, v) in [
            ("stop_loss", self.stop_loss),
            ("take_profit", self.take_profit),
        ] {
            if !(v.is_finite() && (0.0..1.0).contains(&v)) {
                p.push(format!("{path}.{k} must be in [0, 1) (0 = none), got {v}"));
            }
        }
        let prefix = |e: strategies::Error| format!("{path}.{e}");
        p.extend(self.smart_momentum.problems().into_iter().map(prefix));
        p.extend(self.ema_cross.problems().into_iter().map(prefix));
        p.extend(self.breakout.problems().into_iter().map(prefix));
        p.extend(self.mean_reversion.problems().into_iter().map(prefix));
        p
    }
}

/// A bar a generator refused (non-finite or inconsistent values).
#[derive(Debug, thiserror::Error)]
#[error("strategy {strategy} refused bar of symbol {symbol} at {ts}: {source}")]
pub struct SelectorError {
    /// The generator.
    pub strategy: &'static str,
    /// Symbol id.
    pub symbol: SymbolId,
    /// Bar start time.
    pub ts: i64,
    /// Why.
    pub source: strategies::Error,
}

/// Where Smart Momentum's indicator values come from. One per symbol, so the size difference
/// costs nothing; boxing the streaming generator would put a pointer chase on the live path.
#[allow(clippy::large_enum_variant)]
enum SmartSource {
    /// Its own streaming indicators over the bars (live, plain backtests).
    Bars(SmartMomentum),
    /// The feature tape: the rule and this symbol's cursor in the tape.
    Tape(SmartMomentumRule, usize),
}

struct SymbolState {
    smart: Option<SmartSource>,
    ema: Option<EmaCross>,
    breakout: Option<Breakout>,
    reversion: Option<ZScoreReversion>,
    active: StrategyKind,
    candidate: RegimeLabel,
    candidate_bars: u32,
}

/// The selector actor.
pub struct StrategySelector {
    config: SelectorConfig,
    symbols: Vec<SymbolState>,
    lifecycle: Lifecycle,
    switches: u64,
}

fn strategy_for(label: RegimeLabel) -> StrategyKind {
    match label {
        RegimeLabel::Trending => StrategyKind::Breakout,
        RegimeLabel::MeanReverting => StrategyKind::MeanReversion,
        RegimeLabel::Volatile | RegimeLabel::Unknown => StrategyKind::RiskOff,
    }
}

impl StrategySelector {
    /// A selector for `n_symbols` symbols.
    ///
    /// # Errors
    /// The configuration's problems, joined.
    pub fn new(config: SelectorConfig, n_symbols: usize) -> Result<Self, String> {
        let problems = config.validate("strategy");
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        let adaptive = config.kind == StrategyPolicy::Adaptive;
        let want = |k: StrategyPolicy| adaptive || config.kind == k;
        let mut symbols = Vec::with_capacity(n_symbols);
        for _ in 0..n_symbols {
            let e = |e: strategies::Error| e.to_string();
            symbols.push(SymbolState {
                smart: match (config.kind, &config.feature_tape) {
                    (StrategyPolicy::SmartMomentum, None) => Some(SmartSource::Bars(
                        SmartMomentum::new(config.smart_momentum).map_err(e)?,
                    )),
                    (StrategyPolicy::SmartMomentum, Some(_)) => Some(SmartSource::Tape(
                        SmartMomentumRule::new(&config.smart_momentum).map_err(e)?,
                        0,
                    )),
                    _ => None,
                },
                ema: if config.kind == StrategyPolicy::EmaCross {
                    Some(EmaCross::new(config.ema_cross).map_err(e)?)
                } else {
                    None
                },
                breakout: if want(StrategyPolicy::Breakout) {
                    Some(Breakout::new(config.breakout).map_err(e)?)
                } else {
                    None
                },
                reversion: if want(StrategyPolicy::MeanReversion) {
                    Some(ZScoreReversion::new(config.mean_reversion).map_err(e)?)
                } else {
                    None
                },
                active: match config.kind {
                    StrategyPolicy::SmartMomentum => StrategyKind::SmartMomentum,
                    StrategyPolicy::EmaCross => StrategyKind::EmaCross,
                    StrategyPolicy::Breakout => StrategyKind::Breakout,
                    StrategyPolicy::MeanReversion => StrategyKind::MeanReversion,
                    StrategyPolicy::Adaptive => StrategyKind::RiskOff,
                },
                candidate: RegimeLabel::Unknown,
                candidate_bars: 0,
            });
        }
        Ok(Self {
            config,
            symbols,
            lifecycle: Lifecycle::Running,
            switches: 0,
        })
    }

    /// The lifecycle state.
    #[must_use]
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// Strategy switches made by the adaptive policy so far.
    #[must_use]
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// The strategy currently active for `symbol`.
    #[must_use]
    pub fn active(&self, symbol: SymbolId) -> Option<StrategyKind> {
        self.symbols.get(usize::from(symbol)).map(|s| s.active)
    }

    /// Handles one bar (with the regime after it) and returns the signal, if any.
    ///
    /// # Errors
    /// [`SelectorError`] when a generator refuses the bar; the selector's state is unchanged
    /// for that generator.
    pub fn on_bar(&mut self, bar: &Bar, regime: &Regime) -> Result<Option<Signal>, SelectorError> {
        let Some(st) = self.symbols.get_mut(usize::from(bar.symbol)) else {
            return Ok(None);
        };
        let (h, l, c) = (bar.ohlcv.high(), bar.ohlcv.low(), bar.ohlcv.close());
        let err = |strategy: &'static str| {
            move |source| SelectorError {
                strategy,
                symbol: bar.symbol,
                ts: bar.ohlcv.start_ns(),
                source,
            }
        };
        let mut raw = [Raw::None; 5];
        match st.smart.as_mut() {
            None => {}
            Some(SmartSource::Bars(g)) => {
                raw[0] = g.update(h, l, c).map_err(err("smart_momentum"))?;
            }
            Some(SmartSource::Tape(rule, cursor)) => {
                let start = bar.ohlcv.start_ns();
                let inputs = self
                    .config
                    .feature_tape
                    .as_deref()
                    .and_then(|tape| tape.lookup(bar.symbol, start, cursor))
                    .ok_or_else(|| {
                        err("smart_momentum")(strategies::Error::InvalidData {
                            what: "feature tape",
                            index: *cursor,
                            reason: format!("no features for the bar starting at {start}"),
                        })
                    })?;
                raw[0] = rule.update(inputs);
            }
        }
        if let Some(g) = st.ema.as_mut() {
            raw[1] = g.update(h, l, c).map_err(err("ema_cross"))?;
        }
        if let Some(g) = st.breakout.as_mut() {
            raw[2] = g.update(h, l, c).map_err(err("breakout"))?;
        }
        if let Some(g) = st.reversion.as_mut() {
            raw[3] = g.update(h, l, c).map_err(err("mean_reversion"))?;
        }

        let mut handover = false;
        if self.config.kind == StrategyPolicy::Adaptive {
            let label = if regime.confidence >= self.config.min_confidence {
                regime.label
            } else {
                st.candidate
            };
            if label == st.candidate {
                st.candidate_bars = st.candidate_bars.saturating_add(1);
            } else {
                st.candidate = label;
                st.candidate_bars = 1;
            }
            let wanted = strategy_for(st.candidate);
            if wanted != st.active && st.candidate_bars >= self.config.min_dwell_bars {
                st.active = wanted;
                self.switches += 1;
                handover = true;
            }
        }

        let (action, sl, tp) = match st.active {
            StrategyKind::SmartMomentum => (
                raw[0],
                self.config.smart_momentum.stop_loss,
                self.config.smart_momentum.take_profit,
            ),
            StrategyKind::EmaCross => (raw[1], self.config.stop_loss, self.config.take_profit),
            StrategyKind::Breakout => (raw[2], self.config.stop_loss, self.config.take_profit),
            StrategyKind::MeanReversion => (raw[3], self.config.stop_loss, self.config.take_profit),
            StrategyKind::RiskOff => (raw[4], 0.0, 0.0),
        };
        let action = if handover {
            Some(SignalAction::Exit)
        } else {
            match action {
                Raw::None => None,
                Raw::EnterLong => Some(SignalAction::EnterLong),
                Raw::ExitLong => Some(SignalAction::Exit),
            }
        };
        Ok(action.map(|action| Signal {
            symbol: bar.symbol,
            decision: bar.decision,
            ts: bar.ts_exchange,
            bar_start: bar.ohlcv.start_ns(),
            bar_close: c,
            strategy: st.active,
            action,
            regime: regime.label,
            stop_loss: sl,
            take_profit: tp,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{DecisionId, MAX_REGIME_STATES};
    use strategies::bars::{Bar as Ohlcv, BarParts};

    fn bar(i: i64, close: f64) -> Bar {
        let ohlcv = Ohlcv::new_checked(BarParts {
            start_ns: i * 60,
            end_ns: (i + 1) * 60,
            open: close,
            high: close * 1.001,
            low: close * 0.999,
            close,
            volume: 1.0,
            quote_volume: close,
            trade_count: 1,
        })
        .unwrap();
        Bar {
            symbol: 0,
            decision: DecisionId(i as u64),
            ts_exchange: (i + 1) * 60,
            ts_received: (i + 1) * 60,
            ohlcv,
        }
    }

    fn regime(label: RegimeLabel, confidence: f64) -> Regime {
        Regime {
            symbol: 0,
            decision: DecisionId(0),
            ts: 0,
            label,
            state: 0,
            n_states: 3,
            probabilities: [0.0; MAX_REGIME_STATES],
            confidence,
        }
    }

    #[test]
    fn adaptive_switches_only_after_the_dwell_and_hands_over_with_an_exit() {
        let cfg = SelectorConfig {
            min_dwell_bars: 3,
            ..SelectorConfig::default()
        };
        let mut s = StrategySelector::new(cfg, 1).unwrap();
        assert_eq!(s.active(0), Some(StrategyKind::RiskOff));
        let t = regime(RegimeLabel::Trending, 0.9);
        assert!(s.on_bar(&bar(0, 100.0), &t).unwrap().is_none());
        assert!(s.on_bar(&bar(1, 100.0), &t).unwrap().is_none());
        assert_eq!(s.active(0), Some(StrategyKind::RiskOff));
        let sig = s.on_bar(&bar(2, 100.0), &t).unwrap().unwrap();
        assert_eq!(s.active(0), Some(StrategyKind::Breakout));
        assert_eq!(sig.action, SignalAction::Exit);
        assert_eq!(s.switches(), 1);
        // A low-confidence flicker to Volatile does not count; a confident one must persist.
        let v_low = regime(RegimeLabel::Volatile, 0.4);
        let v = regime(RegimeLabel::Volatile, 0.9);
        s.on_bar(&bar(3, 100.0), &v_low).unwrap();
        s.on_bar(&bar(4, 100.0), &v).unwrap();
        s.on_bar(&bar(5, 100.0), &t).unwrap();
        assert_eq!(s.active(0), Some(StrategyKind::Breakout));
        for i in 6..9 {
            s.on_bar(&bar(i, 100.0), &v).unwrap();
        }
        assert_eq!(s.active(0), Some(StrategyKind::RiskOff));
        assert_eq!(s.switches(), 2);
    }

    #[test]
    fn fixed_ema_cross_signals_match_the_generator() {
        let cfg = SelectorConfig {
            kind: StrategyPolicy::EmaCross,
            ..SelectorConfig::default()
        };
        let mut s = StrategySelector::new(cfg, 1).unwrap();
        let closes: Vec<f64> = (0..300)
            .map(|i| 100.0 + 10.0 * (f64::from(i) / 15.0).sin())
            .collect();
        let highs: Vec<f64> = closes.iter().map(|c| c * 1.001).collect();
        let lows: Vec<f64> = closes.iter().map(|c| c * 0.999).collect();
        let want = strategies::signals::ema_cross_signals(
            &highs,
            &lows,
            &closes,
            &EmaCrossParams::default(),
        )
        .unwrap();
        let unknown = regime(RegimeLabel::Unknown, 1.0);
        let mut entries = 0;
        for (i, (&c, w)) in closes.iter().zip(&want).enumerate() {
            let got = s.on_bar(&bar(i as i64, c), &unknown).unwrap();
            let got = got.map(|g| g.action);
            let expect = match w {
                Raw::None => None,
                Raw::EnterLong => Some(SignalAction::EnterLong),
                Raw::ExitLong => Some(SignalAction::Exit),
            };
            assert_eq!(got, expect, "bar {i}");
            entries += usize::from(expect == Some(SignalAction::EnterLong));
        }
        assert!(entries >= 3, "the test series must cross several times");
    }

    /// Smart Momentum on a tape of its own indicator values signals exactly as Smart Momentum
    /// on the bars; a bar the tape lacks is an error naming the bar.
    #[test]
    fn smart_momentum_on_a_feature_tape_equals_smart_momentum_on_bars() {
        use strategies::indicators::{Ema, Rsi, SuperTrend};
        use strategies::signals::SmartMomentumInputs;
        let closes: Vec<f64> = (0..400)
            .map(|i| 100.0 + 8.0 * (f64::from(i) / 11.0).sin() + 3.0 * (f64::from(i) / 3.7).cos())
            .collect();
        let bars: Vec<Bar> = closes
            .iter()
            .enumerate()
            .map(|(i, c)| bar(i as i64, *c))
            .collect();
        let (mut fast, mut slow) = (Ema::new(12).unwrap(), Ema::new(26).unwrap());
        let (mut rsi, mut st) = (Rsi::new(14).unwrap(), SuperTrend::new(10, 3.0).unwrap());
        let inputs: Vec<SmartMomentumInputs> = bars
            .iter()
            .map(|b| {
                let (h, l, c) = (b.ohlcv.high(), b.ohlcv.low(), b.ohlcv.close());
                SmartMomentumInputs {
                    ema_fast: fast.update(c).unwrap().unwrap_or(f64::NAN),
                    ema_slow: slow.update(c).unwrap().unwrap_or(f64::NAN),
                    rsi: rsi.update(c).unwrap().unwrap_or(f64::NAN),
                    supertrend_dir: st.update(h, l, c).unwrap().map_or(0, |o| o.direction),
                }
            })
            .collect();
        let starts: Vec<i64> = bars.iter().map(|b| b.ohlcv.start_ns()).collect();
        let mut tape = FeatureTape::new(1);
        tape.set_symbol(0, starts, inputs).unwrap();
        let plain_cfg = SelectorConfig {
            kind: StrategyPolicy::SmartMomentum,
            smart_momentum: SmartMomentumParams {
                rsi_low: 30.0,
                rsi_high: 70.0,
                ..SmartMomentumParams::default()
            },
            ..SelectorConfig::default()
        };
        let taped_cfg = SelectorConfig {
            feature_tape: Some(Arc::new(tape)),
            ..plain_cfg.clone()
        };
        let mut plain = StrategySelector::new(plain_cfg, 1).unwrap();
        let mut taped = StrategySelector::new(taped_cfg.clone(), 1).unwrap();
        let unknown = regime(RegimeLabel::Unknown, 1.0);
        let mut signals = 0;
        for b in &bars {
            let want = plain.on_bar(b, &unknown).unwrap().map(|s| s.action);
            assert_eq!(taped.on_bar(b, &unknown).unwrap().map(|s| s.action), want);
            signals += usize::from(want.is_some());
        }
        assert!(signals >= 4, "the series must enter and exit: {signals}");
        let mut taped = StrategySelector::new(taped_cfg, 1).unwrap();
        let e = taped.on_bar(&bar(1_000, 100.0), &unknown).unwrap_err();
        assert!(
            e.to_string()
                .contains("no features for the bar starting at 60000"),
            "{e}"
        );
    }

    #[test]
    fn bad_config_lists_every_problem() {
        let cfg = SelectorConfig {
            min_dwell_bars: 0,
            min_confidence: 2.0,
            stop_loss: -0.1,
            ..SelectorConfig::default()
        };
        let p = cfg.validate("strategy");
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().all(|m| m.starts_with("strategy.")));
        assert!(StrategySelector::new(cfg, 1).is_err());
    }
}
