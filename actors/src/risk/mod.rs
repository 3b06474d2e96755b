//! The RiskManager actor: pre-trade checks on every order intent, the kill switch, and the
//! conversion of target weights into order intents.
//!
//! Consumes market prices ([`RiskManager::on_market`] / [`RiskManager::on_bar`]), regimes and
//! signals (for regime scaling and the protective exits an entry carries), target weights,
//! orders and fills (open-order count), equity marks (kill switch) and operator commands.
//! Produces the [`OrderIntent`]s that passed and a [`RiskEvent`] for every check that bit. It owns
//! the limits' state (rate window, open orders, peak and day-start equity, halts); it must not
//! own positions or cash, which it reads from a [`PortfolioView`] the Portfolio fills.
//!
//! # What is checked, and what is exempt
//! * **Entries** (buys) go through, in order: halt (kill switch, operator pause, shutdown) →
//!   stale data → price band → order rate → open orders → sizing limits (order notional,
//!   position, gross exposure, regime cap; reduced to the tightest, rejected when one leaves no
//!   room) → exchange filters (step size, minimum notional). Their reference price is rounded
//!   to the tick.
//! * **Reductions** (sells; spot is long-only) bypass every entry limit, the halts and stale
//!   data: reducing exposure never adds risk, and a stop-loss must not be blocked by a feed
//!   outage or a halt. A quantity sell is still put on the step grid (rejected when it rounds
//!   to zero or below the minimum notional, which the exchange would reject anyway), a sell of
//!   more than is held is cut to [`OrderSize::AllPosition`], and a sell with nothing held is
//!   rejected (`MaxPosition`, limit 0).
//! * **Flatten** intents ([`OrderReason::Flatten`]: kill switch or operator) always pass
//!   unchanged.
//!
//! Every passed order counts in the rate window. Checks allocate nothing: outputs go into the
//! caller's buffers and the internal buffers are preallocated in [`RiskManager::new`].
//!
//! # Target weights → intents
//! Per symbol with a finite weight (NaN = keep as is; negative = 0, spot is long-only), the
//! weight is multiplied by the regime multiplier, then:
//! * weight 0 with a position → sell [`OrderSize::AllPosition`];
//! * [`AllocationMethod::Signal`] (the single-symbol all-in policy) and weight exactly 1 → buy
//!   [`OrderSize::AllCash`] when flat, nothing when already long;
//! * otherwise the delta between `weight × equity` and the position's value at the last price,
//!   as an exact quantity floored to the step ([`InstrumentFilters::floor_qty`]).
//!
//! Sells are judged before buys, and each passed intent updates a working copy of the view, so
//! later intents of the same batch see its effect on cash, exposure and open orders.

mod checks;
mod config;
mod kill_switch;
mod view;
mod window;

#[cfg(test)]
mod tests;

pub use config::{MAX_ORDERS_PER_SECOND_LIMIT, OPEN_ORDER_CAPACITY, RegimeScaling, RiskConfig};
pub use view::PortfolioView;

use crate::clock::UnixNanos;
use crate::exact::InstrumentFilters;
use crate::lifecycle::Lifecycle;
use crate::messages::{
    AllocationMethod, Bar, DecisionId, Fill, MAX_SYMBOLS, Order, OrderIntent, OrderReason,
    OrderSize, Regime, RegimeLabel, RiskAction, RiskCheck, RiskEvent, Side, Signal, SymbolId,
    TargetWeights,
};
use view::valid_price;
use window::{OpenOrders, OrderRateWindow};

/// One UTC day in nanoseconds.
const DAY_NS: i64 = 86_400_000_000_000;

/// The risk manager's decision on one intent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The intent may go to the executor, possibly reduced (size) and with its reference price
    /// on the tick grid.
    Pass(OrderIntent),
    /// The intent must not be sent; the check that bit.
    Reject(RiskCheck),
}

/// The risk manager could not be built. Configuration errors: not recoverable, fix the config.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RiskError {
    /// The configuration has problems (every one listed, with its key path).
    #[error("invalid risk configuration: {}", problems.join("; "))]
    InvalidConfig {
        /// Each problem, with its key path.
        problems: Vec<String>,
    },
    /// More symbols than a pipeline trades.
    #[error("risk manager given filters for {given} symbols, at most {max} are supported")]
    TooManySymbols {
        /// Number of symbols given.
        given: usize,
        /// [`MAX_SYMBOLS`].
        max: usize,
    },
}

/// Stop-loss / take-profit a signal asked for, for the entry of the same decision.
#[derive(Debug, Clone, Copy, Default)]
struct ProtectiveExits {
    decision: Option<DecisionId>,
    stop_loss: f64,
    take_profit: f64,
}

/// The RiskManager actor. See the module documentation for the rules.
#[derive(Debug, Clone)]
pub struct RiskManager {
    config: RiskConfig,
    n_symbols: usize,
    filters: [InstrumentFilters; MAX_SYMBOLS],
    /// Last market price per symbol (NaN before the first).
    last_price: [f64; MAX_SYMBOLS],
    /// Time of the last market price per symbol (`i64::MIN` before the first).
    last_ts: [UnixNanos; MAX_SYMBOLS],
    /// Symbols currently halted for stale data (a `Halted` event was emitted).
    stale: [bool; MAX_SYMBOLS],
    regime: [RegimeLabel; MAX_SYMBOLS],
    exits: [ProtectiveExits; MAX_SYMBOLS],
    rate: OrderRateWindow,
    open: OpenOrders,
    /// The check that tripped the kill switch (`Halted` for the operator's), until resumed.
    kill: Option<RiskCheck>,
    paused: bool,
    shutting_down: bool,
    seen_market: bool,
    peak_equity: f64,
    day: Option<i64>,
    day_start_equity: f64,
    last_equity: f64,
    /// Latest decision seen; kill-switch and operator flatten intents carry it.
    last_decision: DecisionId,
}

impl RiskManager {
    /// A risk manager for the symbols whose exchange filters are given (symbol id = index).
    ///
    /// # Errors
    /// [`RiskError::InvalidConfig`] listing every problem of `config` (key paths under `risk`);
    /// [`RiskError::TooManySymbols`] for more than [`MAX_SYMBOLS`] filters.
    pub fn new(config: RiskConfig, filters: &[InstrumentFilters]) -> Result<Self, RiskError> {
        let problems = config.validate("risk");
        if !problems.is_empty() {
            return Err(RiskError::InvalidConfig { problems });
        }
        if filters.len() > MAX_SYMBOLS {
            return Err(RiskError::TooManySymbols {
                given: filters.len(),
                max: MAX_SYMBOLS,
            });
        }
        let mut table = [InstrumentFilters::NONE; MAX_SYMBOLS];
        table[..filters.len()].copy_from_slice(filters);
        let rate = OrderRateWindow::new(config.max_orders_per_second as usize);
        Ok(Self {
            n_symbols: filters.len(),
            filters: table,
            last_price: [f64::NAN; MAX_SYMBOLS],
            last_ts: [i64::MIN; MAX_SYMBOLS],
            stale: [false; MAX_SYMBOLS],
            regime: [RegimeLabel::Unknown; MAX_SYMBOLS],
            exits: [ProtectiveExits::default(); MAX_SYMBOLS],
            rate,
            open: OpenOrders::new(OPEN_ORDER_CAPACITY),
            kill: None,
            paused: false,
            shutting_down: false,
            seen_market: false,
            peak_equity: f64::NAN,
            day: None,
            day_start_equity: f64::NAN,
            last_equity: f64::NAN,
            last_decision: DecisionId(0),
            config,
        })
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &RiskConfig {
        &self.config
    }

    /// Starting before the first market price; Degraded while entries are halted (kill switch,
    /// pause, or any symbol's data stale); Stopping after a Shutdown command; Running otherwise.
    #[must_use]
    pub fn lifecycle(&self) -> Lifecycle {
        if self.shutting_down {
            Lifecycle::Stopping
        } else if !self.seen_market {
            Lifecycle::Starting
        } else if self.kill.is_some() || self.paused || self.stale.iter().any(|s| *s) {
            Lifecycle::Degraded
        } else {
            Lifecycle::Running
        }
    }

    /// The check that tripped the kill switch ([`RiskCheck::Halted`] for the operator's), while
    /// it holds.
    #[must_use]
    pub fn kill_switch(&self) -> Option<RiskCheck> {
        self.kill
    }

    /// True while new entries are halted by the kill switch, a pause or a shutdown (stale data
    /// halts per symbol and is not included).
    #[must_use]
    pub fn is_halted(&self) -> bool {
        self.kill.is_some() || self.paused || self.shutting_down
    }

    /// Orders currently counted as open.
    #[must_use]
    pub fn open_orders(&self) -> usize {
        self.open.len()
    }

    /// Peak equity and day-start equity as tracked for the kill switch (NaN before a mark).
    #[must_use]
    pub fn equity_baselines(&self) -> (f64, f64) {
        (self.peak_equity, self.day_start_equity)
    }

    fn index(&self, symbol: SymbolId) -> Option<usize> {
        let i = usize::from(symbol);
        (i < self.n_symbols).then_some(i)
    }

    /// A market price for `symbol` at `ts` (last trade or bar close). Non-finite or non-positive
    /// prices, unknown symbols and prints older than the last one are ignored. Fresh data for a
    /// symbol halted as stale resumes it (`StaleData`/`Resumed`, value = the gap in ns).
    pub fn on_market(
        &mut self,
        symbol: SymbolId,
        price: f64,
        ts: UnixNanos,
        out_events: &mut Vec<RiskEvent>,
    ) {
        let Some(i) = self.index(symbol) else { return };
        if !valid_price(price) || ts < self.last_ts[i] {
            return;
        }
        let gap = ts.saturating_sub(self.last_ts[i]);
        self.last_price[i] = price;
        self.last_ts[i] = ts;
        self.seen_market = true;
        if self.stale[i] {
            self.stale[i] = false;
            out_events.push(RiskEvent {
                decision: None,
                ts,
                symbol: Some(symbol),
                check: RiskCheck::StaleData,
                action: RiskAction::Resumed,
                value: gap as f64,
                limit: self.config.stale_after_ns as f64,
            });
        }
    }

    /// [`on_market`](Self::on_market) with a bar's close at its end time.
    pub fn on_bar(&mut self, bar: &Bar, out_events: &mut Vec<RiskEvent>) {
        self.on_market(bar.symbol, bar.ohlcv.close(), bar.ts_exchange, out_events);
    }

    /// Halts the symbols whose data has gone stale by `now` (one `StaleData`/`Halted` event per
    /// symbol and halt). Called by the host on a timer live; the checks call it for the symbol
    /// they judge.
    pub fn on_clock(&mut self, now: UnixNanos, out_events: &mut Vec<RiskEvent>) {
        for i in 0..self.n_symbols {
            if self.last_ts[i] != i64::MIN {
                let _ = self.check_stale(i, now, out_events);
            }
        }
    }

    /// The regime of a symbol, for regime scaling.
    pub fn on_regime(&mut self, regime: &Regime) {
        if let Some(i) = self.index(regime.symbol) {
            self.regime[i] = regime.label;
        }
    }

    /// A strategy signal: its stop-loss / take-profit are carried by the entry that
    /// [`on_targets`](Self::on_targets) makes for the same symbol and decision.
    pub fn on_signal(&mut self, signal: &Signal) {
        if let Some(i) = self.index(signal.symbol) {
            self.exits[i] = ProtectiveExits {
                decision: Some(signal.decision),
                stop_loss: signal.stop_loss,
                take_profit: signal.take_profit,
            };
        }
    }

    /// An order was sent: it counts as open until its first fill or a CancelAll.
    pub fn on_order(&mut self, order: &Order) {
        self.open.insert(order.id);
    }

    /// A fill: its order is no longer open (venues here fill an order in one fill).
    pub fn on_fill(&mut self, fill: &Fill) {
        self.open.remove(fill.order);
    }

    /// Converts target weights into order intents (module doc) and judges each; the intents
    /// that passed go to `out_intents`, every check that bit to `out_events`.
    pub fn on_targets(
        &mut self,
        targets: &TargetWeights,
        view: &PortfolioView,
        now: UnixNanos,
        out_intents: &mut Vec<OrderIntent>,
        out_events: &mut Vec<RiskEvent>,
    ) {
        self.last_decision = self.last_decision.max(targets.decision);
        // Plan every symbol's intent from the view as given, then judge sells before buys
        // against a working copy that each passed intent updates.
        let mut planned = [None; MAX_SYMBOLS];
        let n = usize::from(targets.n).min(self.n_symbols);
        for (i, slot) in planned.iter_mut().enumerate().take(n) {
            *slot = self.target_intent(targets, i, view);
        }
        let mut work = *view;
        let mut in_flight = 0usize;
        for pass_side in [Side::Sell, Side::Buy] {
            for (intent, scaled_from) in planned.iter().flatten() {
                if intent.side != pass_side {
                    continue;
                }
                if let Some((w, ws)) = scaled_from {
                    out_events.push(RiskEvent {
                        decision: Some(targets.decision),
                        ts: now,
                        symbol: Some(intent.symbol),
                        check: RiskCheck::RegimeScaling,
                        action: RiskAction::Reduced,
                        value: *w,
                        limit: *ws,
                    });
                }
                if let Verdict::Pass(passed) = self.judge(intent, &work, now, in_flight, out_events)
                {
                    in_flight += 1;
                    apply(&mut work, &passed);
                    out_intents.push(passed);
                }
            }
        }
    }

    /// The intent for symbol `i`'s target weight, and `(weight, scaled weight)` when regime
    /// scaling lowered it. `None` when nothing is to be traded.
    fn target_intent(
        &self,
        targets: &TargetWeights,
        i: usize,
        view: &PortfolioView,
    ) -> Option<(OrderIntent, Option<(f64, f64)>)> {
        let w = targets.weights[i];
        if !w.is_finite() {
            return None;
        }
        let w = w.max(0.0);
        let ws = w * self.config.regime_scaling.multiplier(self.regime[i]);
        let scaled = (ws < w).then_some((w, ws));
        let symbol = SymbolId::try_from(i).ok()?;
        let held = view.held(symbol);
        let p = self.price(i, view);
        let exits = self.exits[i];
        let (sl, tp) = if exits.decision == Some(targets.decision) {
            (exits.stop_loss, exits.take_profit)
        } else {
            (0.0, 0.0)
        };
        let intent = |side, size| OrderIntent {
            decision: targets.decision,
            ts: targets.ts,
            symbol,
            side,
            size,
            reference_price: p,
            reason: OrderReason::Signal,
            stop_loss: if side == Side::Buy { sl } else { 0.0 },
            take_profit: if side == Side::Buy { tp } else { 0.0 },
        };
        if ws == 0.0 {
            return (held > 0.0).then(|| (intent(Side::Sell, OrderSize::AllPosition), scaled));
        }
        if targets.method == AllocationMethod::Signal && ws == 1.0 {
            return (held <= 0.0).then(|| (intent(Side::Buy, OrderSize::AllCash), scaled));
        }
        if !valid_price(p) {
            // No price: an entry that cannot be sized; judge() rejects it as stale data.
            return Some((intent(Side::Buy, OrderSize::AllCash), scaled));
        }
        let delta = ws * view.equity - held * p;
        let filters = &self.filters[i];
        let (side, qty) = if delta > 0.0 {
            (Side::Buy, filters.floor_qty(delta / p).ok()?)
        } else if delta < 0.0 {
            (Side::Sell, filters.floor_qty(-delta / p).ok()?)
        } else {
            return None;
        };
        Some((intent(side, OrderSize::Qty(qty)), scaled))
    }

    /// Judges an intent made elsewhere (a strategy exit, an operator order). See the module doc
    /// for which checks apply to entries, reductions and flatten intents.
    pub fn check_intent(
        &mut self,
        intent: &OrderIntent,
        view: &PortfolioView,
        now: UnixNanos,
        out_events: &mut Vec<RiskEvent>,
    ) -> Verdict {
        self.last_decision = self.last_decision.max(intent.decision);
        self.judge(intent, view, now, 0, out_events)
    }

    /// The price to value symbol `i` at: the last market price, else the view's mark.
    fn price(&self, i: usize, view: &PortfolioView) -> f64 {
        if valid_price(self.last_price[i]) {
            self.last_price[i]
        } else {
            view.last_prices[i]
        }
    }
}

/// The estimated effect of a passed intent on the working view of one `on_targets` batch.
fn apply(work: &mut PortfolioView, intent: &OrderIntent) {
    let i = usize::from(intent.symbol);
    let p = intent.reference_price;
    if i >= MAX_SYMBOLS || !valid_price(p) {
        return;
    }
    let held = work.held(intent.symbol);
    match (intent.side, intent.size) {
        (Side::Buy, OrderSize::Qty(q)) => {
            work.positions[i] = held + q.to_f64();
            work.cash -= q.to_f64() * p;
        }
        (Side::Buy, OrderSize::AllCash) => {
            work.positions[i] = held + work.cash.max(0.0) / p;
            work.cash = work.cash.min(0.0);
        }
        (Side::Sell, OrderSize::Qty(q)) => {
            let q = q.to_f64().min(held);
            work.positions[i] = held - q;
            work.cash += q * p;
        }
        (Side::Sell, OrderSize::AllPosition) => {
            work.positions[i] = 0.0;
            work.cash += held * p;
        }
        (Side::Buy, OrderSize::AllPosition) | (Side::Sell, OrderSize::AllCash) => {}
    }
}
