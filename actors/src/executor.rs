//! The executor with its paper venue: turns risk-approved [`OrderIntent`]s into [`Order`]s and
//! fills them against the replayed bars, and runs the stop-loss / take-profit of the positions
//! it opened.
//!
//! Owns order ids, pending next-open orders, the stop levels of open positions and the
//! one-order-per-bar rule. It reads the books through `&Portfolio` at fill time (cash for all-in
//! buys, the position for full sells) and never changes them: the caller applies every [`Fill`]
//! to the portfolio before the next call for that symbol.
//!
//! # Fill convention (documented, and checked against vectorbt's `Portfolio.from_signals`)
//! - [`FillConvention::Close`]: an intent fills at once at the close of the bar that produced it.
//! - [`FillConvention::NextOpen`]: an intent becomes a pending market order that fills at the
//!   open of the symbol's next bar, in [`Executor::on_bar_open`]. A pending order still there
//!   when the data ends never fills; [`Executor::finish`] reports it ([`RejectReason::NeverFilled`]).
//!
//! Prices are rounded to the tick and quantities floored to the step ([`InstrumentFilters`]).
//! Market orders pay `taker_fee`, the take-profit limit order `maker_fee`, both as a fraction of
//! the fill's notional, on each side. Slippage (`slippage_bps`) moves market fills against the
//! order (buys up, sells down) before rounding; limit fills get none.
//!
//! Sizing at fill time: [`OrderSize::AllCash`] buys `floor_to_step(cash / (1 + fee) / price)`
//! (all-in: cash ≈ `qty·price·(1 + fee)`), [`OrderSize::AllPosition`] sells the whole position,
//! [`OrderSize::Qty`] trades that quantity floored to the step (a buy that costs more than the
//! cash, or a sell of more than is held, is rejected: spot is long-only).
//!
//! # Stops
//! A buy intent carries stop-loss / take-profit fractions; they are turned into price levels
//! from the entry **fill** price (`fill·(1 − sl)`, `fill·(1 + tp)`, rounded to the tick) when the
//! buy fills. [`Executor::on_bar_open`] checks them on every bar that starts **after** the
//! entry bar, against that bar's open, low and high:
//! - stop-loss: `open ≤ stop` → sell at the open (gap-through), else `low ≤ stop` → at the stop;
//! - take-profit (only when the stop-loss did not trigger, so the stop-loss wins when a bar
//!   touches both): `open ≥ take` → at the open, else `high ≥ take` → at the take price.
//!
//! The stop-loss is a stop-market order (taker, slippage applied), the take-profit a resting
//! limit sell (maker, no slippage). Adding to a position re-bases the levels given by the new
//! intent from the new fill (fractions of 0 keep the old level), as vectorbt's
//! `upon_stop_update="override"`.
//!
//! # One order per bar per symbol
//! At most one order fills per bar and symbol: the pending next-open order fills first at the
//! open, and then no stop is checked on that bar; under `Close`, an intent on a bar on which
//! that symbol already traded (a stop exit, so no re-entry on a stop's bar) is dropped with
//! [`RejectReason::OrderAlreadyOnBar`] and counted. Under `NextOpen` an intent targets the next
//! bar, so it is dropped only when an order is already pending for it.

use serde::Deserialize;

use crate::clock::UnixNanos;
use crate::exact::{FilterError, InstrumentFilters, Price, Qty, notional};
use crate::lifecycle::Lifecycle;
use crate::messages::{
    Bar, DecisionId, Fill, Liquidity, MAX_SYMBOLS, Order, OrderId, OrderIntent, OrderKind,
    OrderReason, OrderSize, Side, SymbolId,
};
use crate::portfolio::Portfolio;

/// When an intent fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FillConvention {
    /// At the close of the bar that produced the intent (`close`).
    #[default]
    Close,
    /// At the open of the next bar (`next-open`).
    NextOpen,
}

impl FillConvention {
    /// Name used in config and files: `close` or `next-open`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            FillConvention::Close => "close",
            FillConvention::NextOpen => "next-open",
        }
    }
}

/// Executor configuration (`[executor]` in TOML).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorConfig {
    /// Fill convention of the paper venue.
    pub fill: FillConvention,
    /// Fee of limit fills (take-profit), a fraction of notional (Binance spot default 0.001).
    pub maker_fee: f64,
    /// Fee of market fills (signals, next-open orders, stop-loss), a fraction of notional.
    pub taker_fee: f64,
    /// Slippage of market fills in basis points of the price (default 0).
    pub slippage_bps: f64,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            fill: FillConvention::Close,
            maker_fee: 0.001,
            taker_fee: 0.001,
            slippage_bps: 0.0,
        }
    }
}

impl ExecutorConfig {
    /// Every problem of this config, each with its key path under `path` (e.g. `executor`).
    #[must_use]
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, v) in [("maker_fee", self.maker_fee), ("taker_fee", self.taker_fee)] {
            if !(v.is_finite() && (0.0..0.1).contains(&v)) {
                problems.push(format!("{path}.{key} must be in [0, 0.1), got {v}"));
            }
        }
        let s = self.slippage_bps;
        if !(s.is_finite() && (0.0..1_000.0).contains(&s)) {
            problems.push(format!("{path}.slippage_bps must be in [0, 1000), got {s}"));
        }
        problems
    }
}

/// The executor could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecutorError {
    /// The configuration is invalid (every problem listed). Not recoverable: fix the config.
    #[error("invalid executor config: {}", problems.join("; "))]
    InvalidConfig {
        /// Each problem with its key path.
        problems: Vec<String>,
    },
    /// More symbols than a pipeline carries. Not recoverable: fix the wiring.
    #[error("executor with {n_symbols} symbols' filters, at most {max} supported")]
    TooManySymbols {
        /// Symbols given.
        n_symbols: usize,
        /// [`MAX_SYMBOLS`].
        max: usize,
    },
}

/// Why an intent or order did not fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// The symbol already had an order on this bar (e.g. a stop exit), or one is already pending
    /// for the next open.
    OrderAlreadyOnBar,
    /// The symbol is not in the executor's table, or the intent's symbol is not the bar's.
    UnknownSymbol,
    /// `AllCash` on a sell or `AllPosition` on a buy.
    InvalidSize,
    /// A stop-loss fraction outside `[0, 1)` or a take-profit fraction that is negative or not
    /// finite.
    InvalidStop,
    /// The quantity floors to zero on the step (or there is nothing to sell).
    ZeroQuantity,
    /// Below the symbol's minimum notional after rounding.
    BelowMinNotional,
    /// A buy that costs more than the cash.
    InsufficientCash,
    /// A sell of more than is held.
    InsufficientPosition,
    /// A price or quantity that cannot be an exact decimal (non-finite or out of range).
    Unrepresentable,
    /// A next-open order still pending when the data ended.
    NeverFilled,
}

impl RejectReason {
    /// Name used in files.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::OrderAlreadyOnBar => "order_already_on_bar",
            RejectReason::UnknownSymbol => "unknown_symbol",
            RejectReason::InvalidSize => "invalid_size",
            RejectReason::InvalidStop => "invalid_stop",
            RejectReason::ZeroQuantity => "zero_quantity",
            RejectReason::BelowMinNotional => "below_min_notional",
            RejectReason::InsufficientCash => "insufficient_cash",
            RejectReason::InsufficientPosition => "insufficient_position",
            RejectReason::Unrepresentable => "unrepresentable",
            RejectReason::NeverFilled => "never_filled",
        }
    }
}

impl From<FilterError> for RejectReason {
    fn from(_: FilterError) -> Self {
        RejectReason::Unrepresentable
    }
}

/// An intent or order that did not fill, for the pipeline to record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rejection {
    /// Decision of the intent.
    pub decision: DecisionId,
    /// When it was decided.
    pub ts: UnixNanos,
    /// Symbol.
    pub symbol: SymbolId,
    /// Side.
    pub side: Side,
    /// The order, when one had been created (a pending next-open order).
    pub order: Option<OrderId>,
    /// Why.
    pub reason: RejectReason,
}

/// Counters since construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExecutorStats {
    /// Orders created (intents accepted, and stop orders).
    pub orders: u64,
    /// Fills produced.
    pub fills: u64,
    /// Intents dropped by the one-order-per-bar rule.
    pub dropped_same_bar: u64,
    /// All rejections, including those dropped by the one-order-per-bar rule and never-filled
    /// orders.
    pub rejected: u64,
    /// Stop-loss exits.
    pub stop_losses: u64,
    /// Take-profit exits.
    pub take_profits: u64,
    /// Stop exits filled at the open because the bar opened beyond the level.
    pub gap_fills: u64,
    /// Pending orders reported by [`Executor::finish`].
    pub never_filled: u64,
}

/// Stop levels of an open position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopLevels {
    /// Start of the bar of the entry fill; levels are checked on later bars only.
    pub entry_bar: UnixNanos,
    /// Stop-loss price.
    pub stop_loss: Option<Price>,
    /// Take-profit price.
    pub take_profit: Option<Price>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Pending {
    order: Order,
    stop_loss: f64,
    take_profit: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct SymbolState {
    filters: InstrumentFilters,
    pending: Option<Pending>,
    stops: Option<StopLevels>,
    last_order_bar: Option<UnixNanos>,
}

impl SymbolState {
    const EMPTY: Self = Self {
        filters: InstrumentFilters::NONE,
        pending: None,
        stops: None,
        last_order_bar: None,
    };
}

/// One fill to make: where, at what base price, as which order type.
#[derive(Debug, Clone, Copy)]
struct FillRequest {
    side: Side,
    size: OrderSize,
    /// Price before slippage and rounding.
    base_price: f64,
    liquidity: Liquidity,
    stop_loss: f64,
    take_profit: f64,
}

/// What a fill request resolved to.
#[derive(Debug, Clone, Copy)]
struct Execution {
    price: Price,
    qty: Qty,
    fee: f64,
}

/// The executor and its paper venue.
#[derive(Debug, Clone)]
pub struct Executor {
    config: ExecutorConfig,
    lifecycle: Lifecycle,
    n_symbols: usize,
    symbols: [SymbolState; MAX_SYMBOLS],
    next_order: u64,
    stats: ExecutorStats,
}

impl Executor {
    /// An executor for the symbols `0..filters.len()` with their exchange filters.
    ///
    /// # Errors
    /// [`ExecutorError::InvalidConfig`] listing every config problem;
    /// [`ExecutorError::TooManySymbols`] above [`MAX_SYMBOLS`].
    pub fn new(
        config: ExecutorConfig,
        filters: &[InstrumentFilters],
    ) -> Result<Self, ExecutorError> {
        let problems = config.validate("executor");
        if !problems.is_empty() {
            return Err(ExecutorError::InvalidConfig { problems });
        }
        if filters.len() > MAX_SYMBOLS {
            return Err(ExecutorError::TooManySymbols {
                n_symbols: filters.len(),
                max: MAX_SYMBOLS,
            });
        }
        let mut symbols = [SymbolState::EMPTY; MAX_SYMBOLS];
        for (s, f) in symbols.iter_mut().zip(filters) {
            s.filters = *f;
        }
        Ok(Self {
            config,
            lifecycle: Lifecycle::Running,
            n_symbols: filters.len(),
            symbols,
            next_order: 0,
            stats: ExecutorStats::default(),
        })
    }

    /// Where the executor is in its life (`Running`, then `Stopped` after [`Executor::finish`]).
    #[must_use]
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    /// Counters since construction.
    #[must_use]
    pub fn stats(&self) -> ExecutorStats {
        self.stats
    }

    /// The order pending for `symbol`'s next open, if any.
    #[must_use]
    pub fn pending_order(&self, symbol: SymbolId) -> Option<Order> {
        self.state(symbol)?.pending.map(|p| p.order)
    }

    /// The stop levels of `symbol`'s open position, if any.
    #[must_use]
    pub fn stop_levels(&self, symbol: SymbolId) -> Option<StopLevels> {
        self.state(symbol)?.stops
    }

    /// Step (1) of the pipeline, for each bar of a symbol: fills the order pending for this
    /// bar's open, then — when no order filled on this bar — checks the stop-loss and
    /// take-profit of a position entered on an earlier bar against this bar's open, low and
    /// high. Stop orders go to `orders`, fills to `fills`, a pending order that cannot fill
    /// (e.g. nothing to sell any more) to `rejections`. A bar of an unknown symbol is ignored.
    pub fn on_bar_open(
        &mut self,
        bar: &Bar,
        portfolio: &Portfolio,
        orders: &mut Vec<Order>,
        fills: &mut Vec<Fill>,
        rejections: &mut Vec<Rejection>,
    ) {
        let symbol = bar.symbol;
        let Some(state) = self.state(symbol) else {
            return;
        };
        let bar_start = bar.ohlcv.start_ns();
        if let Some(p) = state.pending {
            self.symbols[usize::from(symbol)].pending = None;
            let request = FillRequest {
                side: p.order.side,
                size: p.order.size,
                base_price: bar.ohlcv.open(),
                liquidity: Liquidity::Taker,
                stop_loss: p.stop_loss,
                take_profit: p.take_profit,
            };
            match self.execute(symbol, bar_start, &request, portfolio) {
                Ok(x) => {
                    fills.push(self.fill(&p.order, &x, bar_start, bar_start, Liquidity::Taker))
                }
                Err(reason) => rejections.push(self.reject(
                    p.order.decision,
                    p.order.ts,
                    symbol,
                    p.order.side,
                    Some(p.order.id),
                    reason,
                )),
            }
        }
        self.check_stops(bar, portfolio, orders, fills);
    }

    /// Step (8) of the pipeline: one risk-approved intent, on the bar that produced it.
    ///
    /// Under `Close` it fills at once at `bar`'s close (the [`Fill`] is pushed onto `fills`);
    /// under `NextOpen` it becomes the symbol's pending order. Returns the order, or the
    /// [`Rejection`] when the intent is dropped (the one-order-per-bar rule, a size that rounds
    /// to nothing, too little cash or position, …).
    ///
    /// # Errors
    /// A [`Rejection`] saying why the intent was not executed; nothing else changes then.
    pub fn on_intent(
        &mut self,
        intent: &OrderIntent,
        bar: &Bar,
        portfolio: &Portfolio,
        fills: &mut Vec<Fill>,
    ) -> Result<Order, Rejection> {
        let reject = |s: &mut Self, reason| {
            Err(s.reject(
                intent.decision,
                intent.ts,
                intent.symbol,
                intent.side,
                None,
                reason,
            ))
        };
        let Some(state) = self.state(intent.symbol).copied() else {
            return reject(self, RejectReason::UnknownSymbol);
        };
        if bar.symbol != intent.symbol {
            return reject(self, RejectReason::UnknownSymbol);
        }
        let size_ok = matches!(
            (intent.side, intent.size),
            (_, OrderSize::Qty(_))
                | (Side::Buy, OrderSize::AllCash)
                | (Side::Sell, OrderSize::AllPosition)
        );
        if !size_ok {
            return reject(self, RejectReason::InvalidSize);
        }
        if intent.side == Side::Buy
            && !(valid_fraction(intent.stop_loss, 1.0)
                && valid_fraction(intent.take_profit, f64::MAX))
        {
            return reject(self, RejectReason::InvalidStop);
        }
        let bar_start = bar.ohlcv.start_ns();
        let busy = match self.config.fill {
            FillConvention::Close => state.last_order_bar == Some(bar_start),
            FillConvention::NextOpen => state.pending.is_some(),
        };
        if busy {
            self.stats.dropped_same_bar += 1;
            return reject(self, RejectReason::OrderAlreadyOnBar);
        }
        match self.config.fill {
            FillConvention::NextOpen => {
                let order = self.new_order(
                    intent.decision,
                    intent.ts,
                    intent.symbol,
                    intent.side,
                    intent.size,
                    OrderKind::Market,
                    intent.reason,
                );
                self.symbols[usize::from(intent.symbol)].pending = Some(Pending {
                    order,
                    stop_loss: intent.stop_loss,
                    take_profit: intent.take_profit,
                });
                Ok(order)
            }
            FillConvention::Close => {
                let request = FillRequest {
                    side: intent.side,
                    size: intent.size,
                    base_price: bar.ohlcv.close(),
                    liquidity: Liquidity::Taker,
                    stop_loss: intent.stop_loss,
                    take_profit: intent.take_profit,
                };
                match self.execute(intent.symbol, bar_start, &request, portfolio) {
                    Ok(x) => {
                        let order = self.new_order(
                            intent.decision,
                            intent.ts,
                            intent.symbol,
                            intent.side,
                            intent.size,
                            OrderKind::Market,
                            intent.reason,
                        );
                        fills.push(self.fill(
                            &order,
                            &x,
                            bar.ts_exchange,
                            bar_start,
                            Liquidity::Taker,
                        ));
                        Ok(order)
                    }
                    Err(reason) => reject(self, reason),
                }
            }
        }
    }

    /// End of data: every order still pending for a next open that never came is reported as
    /// [`RejectReason::NeverFilled`] and dropped. The executor is `Stopped` afterwards.
    pub fn finish(&mut self, rejections: &mut Vec<Rejection>) {
        for i in 0..self.n_symbols {
            if let Some(p) = self.symbols[i].pending.take() {
                self.stats.never_filled += 1;
                let o = p.order;
                rejections.push(self.reject(
                    o.decision,
                    o.ts,
                    o.symbol,
                    o.side,
                    Some(o.id),
                    RejectReason::NeverFilled,
                ));
            }
        }
        self.lifecycle = Lifecycle::Stopped;
    }

    fn state(&self, symbol: SymbolId) -> Option<&SymbolState> {
        self.symbols[..self.n_symbols].get(usize::from(symbol))
    }

    fn check_stops(
        &mut self,
        bar: &Bar,
        portfolio: &Portfolio,
        orders: &mut Vec<Order>,
        fills: &mut Vec<Fill>,
    ) {
        let symbol = bar.symbol;
        let i = usize::from(symbol);
        let bar_start = bar.ohlcv.start_ns();
        let state = self.symbols[i];
        let Some(stops) = state.stops else {
            return;
        };
        if state.last_order_bar == Some(bar_start) || stops.entry_bar >= bar_start {
            return;
        }
        if portfolio.position(symbol).units() <= 0 {
            // Flattened elsewhere: nothing left to protect.
            self.symbols[i].stops = None;
            return;
        }
        let (Some(open), Some(high), Some(low)) = (
            Price::from_f64(bar.ohlcv.open()),
            Price::from_f64(bar.ohlcv.high()),
            Price::from_f64(bar.ohlcv.low()),
        ) else {
            return;
        };
        let triggered = if let Some(sl) = stops.stop_loss.filter(|&sl| low <= sl) {
            Some((OrderReason::StopLoss, sl, open <= sl))
        } else {
            stops
                .take_profit
                .filter(|&tp| high >= tp)
                .map(|tp| (OrderReason::TakeProfit, tp, open >= tp))
        };
        let Some((reason, level, gap)) = triggered else {
            return;
        };
        let (kind, liquidity) = match reason {
            OrderReason::TakeProfit => (OrderKind::Limit(level), Liquidity::Maker),
            _ => (OrderKind::Market, Liquidity::Taker),
        };
        let base = if gap { open } else { level };
        let request = FillRequest {
            side: Side::Sell,
            size: OrderSize::AllPosition,
            base_price: base.to_f64(),
            liquidity,
            stop_loss: 0.0,
            take_profit: 0.0,
        };
        // A full sell of a positive position at a representable price cannot be rejected
        // (no minimum notional applies to closing what is held).
        if let Ok(x) = self.execute(symbol, bar_start, &request, portfolio) {
            let order = self.new_order(
                bar.decision,
                bar.ts_exchange,
                symbol,
                Side::Sell,
                OrderSize::AllPosition,
                kind,
                reason,
            );
            orders.push(order);
            let ts = if gap { bar_start } else { bar.ts_exchange };
            fills.push(self.fill(&order, &x, ts, bar_start, liquidity));
            match reason {
                OrderReason::TakeProfit => self.stats.take_profits += 1,
                _ => self.stats.stop_losses += 1,
            }
            if gap {
                self.stats.gap_fills += 1;
            }
        }
    }

    /// Prices, sizes and checks one fill of `symbol` on the bar starting at `bar_start`; on
    /// success records the bar as traded and updates the stop levels.
    fn execute(
        &mut self,
        symbol: SymbolId,
        bar_start: UnixNanos,
        r: &FillRequest,
        portfolio: &Portfolio,
    ) -> Result<Execution, RejectReason> {
        let i = usize::from(symbol);
        let filters = self.symbols[i].filters;
        let (fee_rate, slip) = match r.liquidity {
            Liquidity::Taker => (self.config.taker_fee, self.config.slippage_bps / 10_000.0),
            Liquidity::Maker => (self.config.maker_fee, 0.0),
        };
        let slipped = match r.side {
            Side::Buy => r.base_price * (1.0 + slip),
            Side::Sell => r.base_price * (1.0 - slip),
        };
        let price = filters.round_price(slipped)?;
        if price.units() <= 0 {
            return Err(RejectReason::Unrepresentable);
        }
        let held = portfolio.position(symbol);
        let qty = match r.size {
            OrderSize::Qty(q) => floor_to_step(q, filters.step_size),
            OrderSize::AllCash => {
                // vectorbt's order of operations: cash / (1 + fee), then / price.
                let cash = portfolio.cash().max(0.0);
                filters.floor_qty(cash / (1.0 + fee_rate) / price.to_f64())?
            }
            OrderSize::AllPosition => held,
        };
        if qty.units() <= 0 {
            return Err(RejectReason::ZeroQuantity);
        }
        let value = notional(price, qty);
        let fee = value * fee_rate;
        match r.side {
            Side::Buy => {
                if !filters.meets_min_notional(price, qty) {
                    return Err(RejectReason::BelowMinNotional);
                }
                if matches!(r.size, OrderSize::Qty(_)) && value + fee > portfolio.cash() {
                    return Err(RejectReason::InsufficientCash);
                }
            }
            Side::Sell => {
                if qty > held {
                    return Err(RejectReason::InsufficientPosition);
                }
                // Closing what is held is always allowed; a partial sell must meet the minimum.
                if qty != held && !filters.meets_min_notional(price, qty) {
                    return Err(RejectReason::BelowMinNotional);
                }
            }
        }
        let state = &mut self.symbols[i];
        state.last_order_bar = Some(bar_start);
        match r.side {
            Side::Buy => {
                let level = |fraction: f64, sign: f64| -> Option<Price> {
                    (fraction > 0.0)
                        .then(|| {
                            filters
                                .round_price(price.to_f64() * (1.0 + sign * fraction))
                                .ok()
                        })
                        .flatten()
                };
                let (sl, tp) = (level(r.stop_loss, -1.0), level(r.take_profit, 1.0));
                state.stops = match state.stops {
                    Some(old) if !held.is_zero() => Some(StopLevels {
                        entry_bar: if sl.is_some() || tp.is_some() {
                            bar_start
                        } else {
                            old.entry_bar
                        },
                        stop_loss: sl.or(old.stop_loss),
                        take_profit: tp.or(old.take_profit),
                    }),
                    _ => (sl.is_some() || tp.is_some()).then_some(StopLevels {
                        entry_bar: bar_start,
                        stop_loss: sl,
                        take_profit: tp,
                    }),
                };
            }
            Side::Sell => {
                if qty == held {
                    state.stops = None;
                }
            }
        }
        Ok(Execution { price, qty, fee })
    }

    #[allow(clippy::too_many_arguments)]
    fn new_order(
        &mut self,
        decision: DecisionId,
        ts: UnixNanos,
        symbol: SymbolId,
        side: Side,
        size: OrderSize,
        kind: OrderKind,
        reason: OrderReason,
    ) -> Order {
        self.next_order += 1;
        self.stats.orders += 1;
        Order {
            id: OrderId(self.next_order),
            decision,
            ts,
            symbol,
            side,
            size,
            kind,
            reason,
        }
    }

    fn fill(
        &mut self,
        order: &Order,
        x: &Execution,
        ts: UnixNanos,
        bar_start: UnixNanos,
        liquidity: Liquidity,
    ) -> Fill {
        self.stats.fills += 1;
        Fill {
            order: order.id,
            decision: order.decision,
            ts,
            bar_start,
            symbol: order.symbol,
            side: order.side,
            qty: x.qty,
            price: x.price,
            fee: x.fee,
            liquidity,
            reason: order.reason,
        }
    }

    fn reject(
        &mut self,
        decision: DecisionId,
        ts: UnixNanos,
        symbol: SymbolId,
        side: Side,
        order: Option<OrderId>,
        reason: RejectReason,
    ) -> Rejection {
        self.stats.rejected += 1;
        Rejection {
            decision,
            ts,
            symbol,
            side,
            order,
            reason,
        }
    }
}

/// True for a finite fraction in `[0, upper)`.
fn valid_fraction(v: f64, upper: f64) -> bool {
    v.is_finite() && v >= 0.0 && v < upper
}

/// `q` floored to a multiple of `step` (a step of 0 or 1 unit leaves it as is).
fn floor_to_step(q: Qty, step: Qty) -> Qty {
    let s = step.units();
    if s <= 1 {
        q
    } else {
        Qty::from_units(q.units().div_euclid(s) * s)
    }
}

#[cfg(test)]
mod tests;
