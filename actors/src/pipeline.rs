//! The pipeline: every actor of the architecture composed in its order, driven one market event
//! at a time. Both hosts drive this same code: the replay host in event time from history, the
//! live host on its engine thread from the exchange feed.
//!
//! Owns the order in which actors see a bar and the plumbing of their outputs (recording every
//! message, in order, with a sequence number). It owns no trading logic of its own beyond one
//! rule: a signal that cannot change anything (an entry while long or with an order pending, an
//! exit while flat) is recorded but goes no further, so the simulator and allocator only run on
//! decisions that matter.
//!
//! Per bar: executor (pending next-open fills, stop-loss / take-profit) → portfolio mark and
//! risk market update → regime detector → strategy selector → simulator → allocator → risk
//! manager → executor → portfolio. After every bar of one timestamp, [`Pipeline::end_of_time`]
//! marks the portfolio and lets the risk manager check the daily-loss and drawdown limits.
//!
//! The hot path allocates nothing per message: every output buffer is owned here and reused.
//!
//! # Regimes computed ahead
//! The regime detector is the one actor whose output depends on market data only (never on a
//! decision, a fill or the portfolio), and it is the costliest one (Baum-Welch refits). A host
//! may therefore split it off with [`Pipeline::split_regime_stage`] before the first event and
//! run the returned [`RegimeStage`] on another thread, ahead of the pipeline, over the same
//! event sequence; the regimes it produces are handed back in order with
//! [`Pipeline::push_staged_regimes`] and consumed one per bar, checked against the bar's symbol
//! and [`crate::messages::DecisionId`]. The stage runs its own copy of the bar builder, so it
//! numbers bars exactly as the pipeline does; the regimes, and so every record, are those of
//! the inline detector, bit for bit (tested).

use std::collections::VecDeque;

use serde::Serialize;

use crate::allocator::{Allocator, AllocatorConfig};
use crate::bar_builder::{BarBuilder, BarBuilderConfig};
use crate::clock::UnixNanos;
use crate::driver::MarketEvent;
use crate::exact::InstrumentFilters;
use crate::executor::{Executor, ExecutorConfig, Rejection};
use crate::messages::{
    Bar, Command, EquityMark, Fill, MAX_SYMBOLS, Order, OrderIntent, Regime, RiskEvent,
    SignalAction, SymbolId, Trade,
};
use crate::portfolio::{Portfolio, PortfolioConfig, RoundTrip};
use crate::recorder::{Recorder, Sink, SinkError};
use crate::regime_detector::{Arrival, RegimeConfig, RegimeDetector};
use crate::risk::{PortfolioView, RiskConfig, RiskManager};
use crate::simulator::{Simulator, SimulatorConfig};
use crate::strategy_selector::{SelectorConfig, StrategySelector};

/// Everything a pipeline is built from.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Master seed (the simulator's and the regime refits' streams derive from it).
    pub seed: u64,
    /// Number of symbols (ids `0..n_symbols`).
    pub n_symbols: usize,
    /// Bar interval (`1m`, `1h`, …).
    pub interval: String,
    /// Starting cash.
    pub cash: f64,
    /// Fraction of cash an entry intends to use (sizes the simulator's impact estimate).
    pub entry_fraction: f64,
    /// Strategy selection.
    pub selector: SelectorConfig,
    /// Regime detection.
    pub regime: RegimeConfig,
    /// Chiarella forecasts.
    pub simulator: SimulatorConfig,
    /// Allocation.
    pub allocator: AllocatorConfig,
    /// Risk limits.
    pub risk: RiskConfig,
    /// Fills and fees.
    pub executor: ExecutorConfig,
}

/// The pipeline could not be built or hit an unrecoverable error.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// An actor's configuration is invalid.
    #[error("{actor}: {message}")]
    Config {
        /// Which actor.
        actor: &'static str,
        /// Every problem.
        message: String,
    },
    /// A bar or trade was refused by an actor.
    #[error("{actor}: {message}")]
    Input {
        /// Which actor.
        actor: &'static str,
        /// What was wrong (names symbol and time).
        message: String,
    },
    /// The recorder's sink failed: the run stops rather than lose records.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// Counters of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PipelineStats {
    /// Bars handled.
    pub bars: u64,
    /// Bars the bar builder refused as late or duplicated.
    pub late_bars: u64,
    /// Signals emitted by the selector.
    pub signals: u64,
    /// Signals that could change nothing (entry while long or pending, exit while flat).
    pub signals_ignored: u64,
    /// Forecasts made.
    pub forecasts: u64,
    /// Forecasts the simulator could not make (calibration failed, too little history).
    pub forecast_failures: u64,
    /// Orders sent.
    pub orders: u64,
    /// Fills.
    pub fills: u64,
    /// Orders or intents the executor refused, by reason.
    pub rejections: std::collections::BTreeMap<&'static str, u64>,
    /// Regime detector model fits, all symbols.
    pub regime_fits: u64,
    /// Strategy switches by the adaptive selector.
    pub strategy_switches: u64,
}

/// One regime computed ahead by a [`RegimeStage`], or the detector's refusal of the bar.
pub type StagedRegime = Result<Regime, String>;

/// Bars whose regime detector arrival runs ahead of their settling in a [`RegimeStage`]: a
/// fit due at a bar then computes on the fitter thread while the stage settles the bars before
/// it (at a few million bars per second, about 15–20 ms of work, longer than a typical refit).
pub const STAGE_LOOKAHEAD_BARS: usize = 1 << 16;

/// The market half of the pipeline (bar builder → regime detector), split off to run ahead on
/// another thread; see the module docs.
///
/// Inside, the detector's two halves are apart by up to [`STAGE_LOOKAHEAD_BARS`] bars: a bar
/// *arrives* (its return enters the window; a fit due there starts on the fitter thread) when
/// its event is pushed, and is *settled* (the fit put in use, the filter stepped, the regime
/// emitted) that many bars later. Events are released, with their regimes, once every bar they
/// closed is settled. The regimes are exactly those of the inline detector.
#[derive(Debug)]
pub struct RegimeStage {
    /// Bars between arrival and settling.
    lookahead: usize,
    bars: BarBuilder,
    regime: RegimeDetector,
    buf: Vec<Bar>,
    /// Events pushed and not yet released, with the number of bars each closed.
    events: VecDeque<(usize, MarketEvent, usize)>,
    /// Bars arrived and not yet settled (or the detector's refusal of one).
    arrived: VecDeque<Result<Arrival, Box<str>>>,
    /// Regimes settled and not yet released.
    settled: VecDeque<StagedRegime>,
}

impl RegimeStage {
    /// Sets the bars between arrival and settling (tests use short ones).
    #[cfg(test)]
    pub(crate) fn set_lookahead(&mut self, bars: usize) {
        self.lookahead = bars;
    }

    /// Takes one host input (with its source index), exactly as the pipeline's bar builder
    /// will; the bars it closes arrive at the detector. An input the bar builder refuses closes
    /// no bar (the pipeline refuses it the same way and stops the replay there).
    pub fn push(&mut self, index: usize, event: MarketEvent) {
        self.buf.clear();
        let built = match &event {
            MarketEvent::Kline {
                symbol,
                ohlcv,
                ts_received,
            } => self
                .bars
                .on_kline(*symbol, *ohlcv, *ts_received, &mut self.buf)
                .is_ok(),
            MarketEvent::Trade(t) => self.bars.on_trade(t, &mut self.buf).is_ok(),
            MarketEvent::Command(_) => false,
        };
        let mut closed = 0;
        if built {
            for b in &self.buf {
                let a = self.regime.arrive(b).map_err(|e| e.to_string().into());
                self.arrived.push_back(a);
                closed += 1;
            }
        }
        self.events.push_back((index, event, closed));
    }

    /// Settles bars beyond the lookahead (every bar with `all`, at the end of the input) and
    /// moves each event whose bars are all settled, with their regimes, into `events` and
    /// `regimes`, in order.
    pub fn release(
        &mut self,
        all: bool,
        events: &mut Vec<(usize, MarketEvent)>,
        regimes: &mut Vec<StagedRegime>,
    ) {
        while self.arrived.len() > self.lookahead || (all && !self.arrived.is_empty()) {
            let Some(a) = self.arrived.pop_front() else {
                break;
            };
            self.settled
                .push_back(a.map(|a| self.regime.settle(a)).map_err(String::from));
        }
        while let Some(&(index, event, closed)) = self.events.front() {
            if self.settled.len() < closed {
                break;
            }
            self.events.pop_front();
            events.push((index, event));
            regimes.extend(self.settled.drain(..closed));
        }
    }
}

/// The composed actors and their reusable buffers.
pub struct Pipeline<S: Sink> {
    bars: BarBuilder,
    regime: RegimeDetector,
    /// Regimes computed ahead by a [`RegimeStage`], while one is split off.
    ahead: Option<VecDeque<StagedRegime>>,
    selector: StrategySelector,
    simulator: Simulator,
    allocator: Allocator,
    risk: RiskManager,
    executor: Executor,
    portfolio: Portfolio,
    recorder: Recorder<S>,
    n_symbols: usize,
    entry_fraction: f64,
    last_bar: [Option<Bar>; MAX_SYMBOLS],
    bar_buf: Vec<Bar>,
    orders: Vec<Order>,
    fills: Vec<Fill>,
    rejections: Vec<Rejection>,
    intents: Vec<OrderIntent>,
    events: Vec<RiskEvent>,
    trips: Vec<RoundTrip>,
    stats: PipelineStats,
}

fn cfg_err(actor: &'static str) -> impl Fn(String) -> PipelineError {
    move |message| PipelineError::Config { actor, message }
}

impl<S: Sink> Pipeline<S> {
    /// Builds every actor.
    ///
    /// # Errors
    /// [`PipelineError::Config`] naming the actor and listing its problems.
    pub fn new(
        config: PipelineConfig,
        filters: &[InstrumentFilters],
        recorder: Recorder<S>,
    ) -> Result<Self, PipelineError> {
        let n = config.n_symbols;
        if n == 0 || n > MAX_SYMBOLS || filters.len() != n {
            return Err(PipelineError::Config {
                actor: "pipeline",
                message: format!(
                    "{n} symbols with {} filter sets; 1..={MAX_SYMBOLS} symbols, one filter set each",
                    filters.len()
                ),
            });
        }
        let bars = BarBuilder::new(
            &BarBuilderConfig {
                interval: config.interval.clone(),
                ..BarBuilderConfig::default()
            },
            n,
        )
        .map_err(|e| cfg_err("bar_builder")(e.to_string()))?;
        let mut regime_cfg = config.regime.clone();
        regime_cfg.seed ^= config.seed;
        let regime =
            RegimeDetector::new(regime_cfg, n).map_err(|e| cfg_err("regime")(e.to_string()))?;
        let selector =
            StrategySelector::new(config.selector.clone(), n).map_err(cfg_err("strategy"))?;
        let mut sim_cfg = config.simulator.clone();
        sim_cfg.seed ^= config.seed;
        let simulator =
            Simulator::new(sim_cfg, n).map_err(|e| cfg_err("simulator")(e.to_string()))?;
        let allocator = Allocator::new(config.allocator.clone(), n)
            .map_err(|e| cfg_err("allocator")(e.to_string()))?;
        let risk = RiskManager::new(config.risk.clone(), filters)
            .map_err(|e| cfg_err("risk")(e.to_string()))?;
        let executor = Executor::new(config.executor, filters)
            .map_err(|e| cfg_err("execution")(e.to_string()))?;
        let portfolio = Portfolio::new(
            &PortfolioConfig {
                initial_cash: config.cash,
            },
            n,
        )
        .map_err(|e| cfg_err("portfolio")(e.to_string()))?;
        Ok(Self {
            bars,
            regime,
            ahead: None,
            selector,
            simulator,
            allocator,
            risk,
            executor,
            portfolio,
            recorder,
            n_symbols: n,
            entry_fraction: config.entry_fraction,
            last_bar: [None; MAX_SYMBOLS],
            bar_buf: Vec::with_capacity(16),
            orders: Vec::with_capacity(16),
            fills: Vec::with_capacity(16),
            rejections: Vec::with_capacity(16),
            intents: Vec::with_capacity(MAX_SYMBOLS),
            events: Vec::with_capacity(16),
            trips: Vec::with_capacity(1024),
            stats: PipelineStats::default(),
        })
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> &PipelineStats {
        &self.stats
    }

    /// The portfolio.
    #[must_use]
    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    /// Round trips closed so far.
    #[must_use]
    pub fn round_trips(&self) -> &[RoundTrip] {
        &self.trips
    }

    /// Splits the regime detector off into a [`RegimeStage`] that a host runs ahead over the
    /// same inputs; from now on the pipeline takes each bar's regime from
    /// [`Pipeline::push_staged_regimes`]. `None` once any input was handled (the stage must see
    /// the whole sequence) or while a stage is already split off.
    pub fn split_regime_stage(&mut self) -> Option<RegimeStage> {
        if self.ahead.is_some() || self.stats.bars > 0 || self.stats.late_bars > 0 {
            return None;
        }
        if self.bars.late_bars() > 0 || self.last_bar.iter().any(Option::is_some) {
            return None;
        }
        self.ahead = Some(VecDeque::with_capacity(1 << 12));
        let mut regime = self.regime.clone();
        regime.fit_in_background();
        Some(RegimeStage {
            lookahead: STAGE_LOOKAHEAD_BARS,
            bars: self.bars.clone(),
            regime,
            buf: Vec::with_capacity(16),
            events: VecDeque::with_capacity(STAGE_LOOKAHEAD_BARS + 1024),
            arrived: VecDeque::with_capacity(STAGE_LOOKAHEAD_BARS + 1024),
            settled: VecDeque::with_capacity(1024),
        })
    }

    /// Queues regimes computed ahead by the split-off stage, in its order.
    pub fn push_staged_regimes(&mut self, regimes: impl IntoIterator<Item = StagedRegime>) {
        if let Some(q) = self.ahead.as_mut() {
            q.extend(regimes);
        }
    }

    /// Takes the stage back (its detector's state and fit counts become the pipeline's) and
    /// returns to computing regimes inline. Regimes still queued (none after a complete run)
    /// are dropped.
    pub fn join_regime_stage(&mut self, stage: RegimeStage) {
        self.regime = stage.regime;
        self.ahead = None;
    }

    /// The regime of `bar`: from the detector, or the next one computed ahead.
    fn regime_of(&mut self, bar: &Bar) -> Result<Regime, PipelineError> {
        let err = |message: String| PipelineError::Input {
            actor: "regime",
            message,
        };
        let Some(q) = self.ahead.as_mut() else {
            return self.regime.on_bar(bar).map_err(|e| err(e.to_string()));
        };
        match q.pop_front() {
            Some(Ok(r)) if r.symbol == bar.symbol && r.decision == bar.decision => Ok(r),
            Some(Ok(r)) => Err(err(format!(
                "the regime stage is out of step: its next regime is for symbol {} decision {}, \
                 the bar is symbol {} decision {}",
                r.symbol, r.decision.0, bar.symbol, bar.decision.0
            ))),
            Some(Err(message)) => Err(err(message)),
            None => Err(err(format!(
                "the regime stage is out of step: no regime queued for symbol {} decision {}",
                bar.symbol, bar.decision.0
            ))),
        }
    }

    /// A replayed kline (a closed bar) of `symbol`.
    ///
    /// # Errors
    /// A refused bar ([`PipelineError::Input`]) or a sink failure.
    pub fn on_kline(
        &mut self,
        symbol: SymbolId,
        ohlcv: strategies::bars::Bar,
        ts_received: UnixNanos,
    ) -> Result<(), PipelineError> {
        let mut buf = std::mem::take(&mut self.bar_buf);
        buf.clear();
        let r = self
            .bars
            .on_kline(symbol, ohlcv, ts_received, &mut buf)
            .map_err(|e| PipelineError::Input {
                actor: "bar_builder",
                message: e.to_string(),
            });
        let r = r.and_then(|_| {
            if buf.is_empty() {
                self.stats.late_bars += 1;
            }
            buf.iter().try_for_each(|b| self.on_bar(b))
        });
        self.bar_buf = buf;
        r
    }

    /// A trade: recorded, then built into bars; every bar it closes runs the pipeline.
    ///
    /// # Errors
    /// A refused trade or a sink failure.
    pub fn on_trade(&mut self, trade: &Trade) -> Result<(), PipelineError> {
        self.recorder.record(*trade)?;
        let mut buf = std::mem::take(&mut self.bar_buf);
        buf.clear();
        let r = self
            .bars
            .on_trade(trade, &mut buf)
            .map_err(|e| PipelineError::Input {
                actor: "bar_builder",
                message: e.to_string(),
            });
        let r = r.and_then(|_| buf.iter().try_for_each(|b| self.on_bar(b)));
        self.bar_buf = buf;
        r
    }

    fn view(&self) -> PortfolioView {
        let mut positions = [0.0; MAX_SYMBOLS];
        let mut last_prices = [0.0; MAX_SYMBOLS];
        for i in 0..self.n_symbols {
            let id = i as SymbolId;
            positions[i] = self.portfolio.position(id).to_f64();
            last_prices[i] = self.portfolio.last_price(id);
        }
        let pv = self.portfolio.view();
        PortfolioView {
            equity: pv.equity,
            cash: pv.cash,
            peak_equity: pv.peak_equity,
            positions,
            last_prices,
        }
    }

    fn apply_outputs(&mut self) -> Result<(), PipelineError> {
        let mut orders = std::mem::take(&mut self.orders);
        for o in orders.drain(..) {
            self.stats.orders += 1;
            self.risk.on_order(&o);
            self.recorder.record(o)?;
        }
        self.orders = orders;
        let mut fills = std::mem::take(&mut self.fills);
        for f in fills.drain(..) {
            self.stats.fills += 1;
            self.portfolio
                .on_fill(&f, &mut self.trips)
                .map_err(|e| PipelineError::Input {
                    actor: "portfolio",
                    message: e.to_string(),
                })?;
            self.risk.on_fill(&f);
            self.recorder.record(f)?;
        }
        self.fills = fills;
        for r in self.rejections.drain(..) {
            *self.stats.rejections.entry(r.reason.as_str()).or_default() += 1;
        }
        for e in self.events.drain(..) {
            self.recorder.record(e)?;
        }
        Ok(())
    }

    fn send_intents(&mut self, bar: &Bar) -> Result<(), PipelineError> {
        let intents = std::mem::take(&mut self.intents);
        for intent in &intents {
            self.recorder.record(*intent)?;
            let target_bar = self.last_bar[usize::from(intent.symbol)].unwrap_or(*bar);
            match self
                .executor
                .on_intent(intent, &target_bar, &self.portfolio, &mut self.fills)
            {
                Ok(order) => self.orders.push(order),
                Err(rej) => self.rejections.push(rej),
            }
            // Orders before fills: record the order, then apply its fills.
            self.apply_outputs()?;
        }
        self.intents = intents;
        self.intents.clear();
        Ok(())
    }

    fn on_bar(&mut self, bar: &Bar) -> Result<(), PipelineError> {
        self.stats.bars += 1;
        let s = usize::from(bar.symbol);
        self.last_bar[s] = Some(*bar);
        self.recorder.record(*bar)?;

        // (1) Pending next-open orders and protective stops, against this bar.
        self.executor.on_bar_open(
            bar,
            &self.portfolio,
            &mut self.orders,
            &mut self.fills,
            &mut self.rejections,
        );
        self.apply_outputs()?;

        // (2) Marks.
        self.portfolio.mark(bar);
        self.risk.on_bar(bar, &mut self.events);
        self.simulator
            .on_bar(bar)
            .map_err(|e| PipelineError::Input {
                actor: "simulator",
                message: e.to_string(),
            })?;
        self.allocator
            .on_bar(bar)
            .map_err(|e| PipelineError::Input {
                actor: "allocator",
                message: e.to_string(),
            })?;

        // (3) Regime.
        let regime = self.regime_of(bar)?;
        self.risk.on_regime(&regime);
        self.recorder.record(regime)?;

        // (4) Strategy.
        let signal = self
            .selector
            .on_bar(bar, &regime)
            .map_err(|e| PipelineError::Input {
                actor: "strategy",
                message: e.to_string(),
            })?;
        let Some(signal) = signal else {
            return self.apply_outputs();
        };
        self.stats.signals += 1;
        self.recorder.record(signal)?;
        let held = self.portfolio.position(bar.symbol).units() > 0;
        let pending = self.executor.pending_order(bar.symbol).is_some();
        let useful = match signal.action {
            SignalAction::EnterLong => !held && !pending,
            SignalAction::Exit => held && !pending,
        };
        if !useful {
            self.stats.signals_ignored += 1;
            return self.apply_outputs();
        }
        self.risk.on_signal(&signal);

        // (5) Forecast on entries (a failed forecast degrades to the signal alone).
        if signal.action == SignalAction::EnterLong {
            let notional = self.portfolio.cash() * self.entry_fraction;
            match self.simulator.on_signal(&signal, notional) {
                Ok(Some(forecast)) => {
                    self.stats.forecasts += 1;
                    self.allocator
                        .on_forecast(&forecast)
                        .map_err(|e| PipelineError::Input {
                            actor: "allocator",
                            message: e.to_string(),
                        })?;
                    self.recorder.record(forecast)?;
                }
                Ok(None) => {}
                Err(_) => self.stats.forecast_failures += 1,
            }
        }

        // (6) Allocation.
        let targets = self
            .allocator
            .on_signal(&signal)
            .map_err(|e| PipelineError::Input {
                actor: "allocator",
                message: e.to_string(),
            })?;
        self.recorder.record(targets)?;

        // (7) Risk → (8) executor → (9) portfolio.
        let view = self.view();
        self.risk.on_targets(
            &targets,
            &view,
            bar.ts_exchange,
            &mut self.intents,
            &mut self.events,
        );
        self.apply_outputs()?;
        self.send_intents(bar)
    }

    /// Closes a bar time: marks the portfolio (recorded as an [`EquityMark`]) and runs the
    /// daily-loss and drawdown checks, whose kill switch flattens every position.
    ///
    /// # Errors
    /// A sink failure.
    pub fn end_of_time(
        &mut self,
        bar_start: UnixNanos,
        ts: UnixNanos,
    ) -> Result<EquityMark, PipelineError> {
        let mark = self.portfolio.equity_mark(ts, bar_start);
        self.recorder.record(mark)?;
        let view = self.view();
        self.risk
            .on_equity(&view, ts, &mut self.intents, &mut self.events);
        self.apply_outputs()?;
        if !self.intents.is_empty() {
            let any = self.intents[0].symbol;
            if let Some(bar) = self.last_bar[usize::from(any)] {
                self.send_intents(&bar)?;
            }
        }
        Ok(mark)
    }

    /// An operator command (pause, resume, flatten, kill switch …).
    ///
    /// # Errors
    /// A sink failure.
    pub fn on_command(&mut self, command: &Command) -> Result<(), PipelineError> {
        self.recorder.record(*command)?;
        let view = self.view();
        self.risk
            .on_command(command, &view, &mut self.intents, &mut self.events);
        self.apply_outputs()?;
        if let Some(bar) = self
            .intents
            .first()
            .and_then(|i| self.last_bar[usize::from(i.symbol)])
        {
            self.send_intents(&bar)?;
        }
        Ok(())
    }

    /// Ends the run: open positions become `end` round trips at the last close, pending orders
    /// that never filled are counted, the recorder is flushed. Returns the sink, every round
    /// trip and the counters.
    ///
    /// # Errors
    /// A sink failure.
    pub fn finish(mut self) -> Result<(S, Vec<RoundTrip>, PipelineStats), PipelineError> {
        self.executor.finish(&mut self.rejections);
        for r in self.rejections.drain(..) {
            *self.stats.rejections.entry(r.reason.as_str()).or_default() += 1;
        }
        self.portfolio.finish(&mut self.trips);
        self.stats.strategy_switches = self.selector.switches();
        self.stats.regime_fits = (0..self.n_symbols)
            .map(|i| self.regime.fits(i as SymbolId))
            .sum();
        self.stats.late_bars = self.stats.late_bars.max(self.bars.late_bars());
        self.recorder.flush()?;
        Ok((self.recorder.into_sink(), self.trips, self.stats))
    }
}
