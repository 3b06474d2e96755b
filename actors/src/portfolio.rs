//! The portfolio: cash, positions, PnL and equity, and the round-trip ledger.
//!
//! Owns the books only. It applies [`Fill`]s it is given (from the paper venue or the live venue's
//! user stream), marks positions at bar closes, and reports: an [`EquityMark`] per timestamp, a
//! [`PortfolioView`] for the risk manager, and one [`RoundTrip`] per flat-to-flat cycle of a
//! symbol. It never sends orders and never sizes them (the executor does, from [`Portfolio::cash`]
//! and [`Portfolio::position`]).
//!
//! Numbers: quantities are exact ([`Qty`]); cash, fees and PnL are `f64` in quote units, each fill
//! adding `±price·qty` (computed exactly, converted once) and its fee.
//!
//! Accounting identities (tested):
//! - `equity = cash + Σ qty·last_close = initial_cash + realised_pnl + unrealised_pnl`, where the
//!   cost basis of an open position includes its entry fees, so realised PnL is after all fees;
//! - a round trip's `pnl = Σ sell notional − Σ buy notional − entry_fees − exit_fees`.
//!
//! Round trips (the trade list): a trip opens with the first buy of a flat symbol and closes with
//! the sell that brings it back to zero. Its `entry_price` / `exit_price` are size-weighted
//! averages of the buys / sells (one fill each in the all-in strategy), `size` the quantity
//! bought, `exit_reason` the reason of the closing fill. [`Portfolio::finish`] reports a position
//! still open as exit reason `end` at the last close with zero exit fees, as vectorbt reports an
//! open trade (exit index = last bar, exit price = last close, exit fees 0, PnL unrealised).

use serde::Deserialize;

use crate::clock::UnixNanos;
use crate::exact::{Price, Qty, notional};
use crate::lifecycle::Lifecycle;
use crate::messages::{Bar, EquityMark, Fill, MAX_SYMBOLS, OrderReason, Side, SymbolId};

/// Nanoseconds per UTC day.
const DAY_NS: i64 = 86_400_000_000_000;

/// Portfolio configuration (`[portfolio]` in TOML).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortfolioConfig {
    /// Starting cash in quote units.
    pub initial_cash: f64,
}

impl Default for PortfolioConfig {
    fn default() -> Self {
        Self {
            initial_cash: 10_000.0,
        }
    }
}

impl PortfolioConfig {
    /// Every problem of this config, each with its key path under `path` (e.g. `portfolio`).
    #[must_use]
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.initial_cash.is_finite() && self.initial_cash > 0.0) {
            problems.push(format!(
                "{path}.initial_cash must be a finite number > 0, got {}",
                self.initial_cash
            ));
        }
        problems
    }
}

/// A portfolio could not be built, or a fill could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PortfolioError {
    /// The configuration is invalid (every problem listed). Not recoverable: fix the config.
    #[error("invalid portfolio config: {}", problems.join("; "))]
    InvalidConfig {
        /// Each problem with its key path.
        problems: Vec<String>,
    },
    /// More symbols than a pipeline carries. Not recoverable: fix the wiring.
    #[error("portfolio with {n_symbols} symbols, at most {max} supported")]
    TooManySymbols {
        /// Symbols asked for.
        n_symbols: usize,
        /// [`MAX_SYMBOLS`].
        max: usize,
    },
    /// A fill names a symbol outside the table. The fill is not applied; halt trading (the books
    /// and the venue disagree).
    #[error("fill of order {order} names symbol {symbol}, the portfolio has {n_symbols}")]
    UnknownSymbol {
        /// The order of the fill.
        order: u64,
        /// The symbol.
        symbol: SymbolId,
        /// Symbols in the table.
        n_symbols: usize,
    },
    /// A fill carries a non-positive quantity or price, or a non-finite or negative fee. Not
    /// applied; halt trading.
    #[error("fill of order {order}: {field} = {value} is invalid")]
    InvalidFill {
        /// The order of the fill.
        order: u64,
        /// Which field (`qty`, `price`, `fee`).
        field: &'static str,
        /// The value as text.
        value: String,
    },
    /// A sell larger than the position (spot is long-only). Not applied; halt trading.
    #[error("fill of order {order} sells {sold} of symbol {symbol}, only {held} held")]
    Oversold {
        /// The order of the fill.
        order: u64,
        /// The symbol.
        symbol: SymbolId,
        /// Quantity held.
        held: Qty,
        /// Quantity sold.
        sold: Qty,
    },
}

/// Why a round trip ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitReason {
    /// A strategy signal (or rebalance) closed it.
    Signal,
    /// The stop-loss closed it.
    StopLoss,
    /// The take-profit closed it.
    TakeProfit,
    /// The kill switch or an operator flatten closed it.
    Flatten,
    /// Still open at the end of the data, valued at the last close.
    End,
}

impl ExitReason {
    /// Name used in files: `signal`, `stop_loss`, `take_profit`, `flatten`, `end`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ExitReason::Signal => "signal",
            ExitReason::StopLoss => "stop_loss",
            ExitReason::TakeProfit => "take_profit",
            ExitReason::Flatten => "flatten",
            ExitReason::End => "end",
        }
    }
}

impl From<OrderReason> for ExitReason {
    fn from(r: OrderReason) -> Self {
        match r {
            OrderReason::Signal => ExitReason::Signal,
            OrderReason::StopLoss => ExitReason::StopLoss,
            OrderReason::TakeProfit => ExitReason::TakeProfit,
            OrderReason::Flatten => ExitReason::Flatten,
        }
    }
}

/// One closed (or, from [`Portfolio::finish`], still open) trade: flat → long → flat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundTrip {
    /// Symbol.
    pub symbol: SymbolId,
    /// Start time of the bar of the first entry fill.
    pub entry_time: UnixNanos,
    /// Size-weighted average entry fill price.
    pub entry_price: f64,
    /// Start time of the bar of the closing fill (the last marked bar for `end`).
    pub exit_time: UnixNanos,
    /// Size-weighted average exit price (the last close for what is still held at `end`).
    pub exit_price: f64,
    /// Quantity bought.
    pub size: Qty,
    /// Fees of the entry fills (quote).
    pub entry_fees: f64,
    /// Fees of the exit fills (quote; 0 for what is still held at `end`).
    pub exit_fees: f64,
    /// `Σ sell notional − Σ buy notional − entry_fees − exit_fees` (quote).
    pub pnl: f64,
    /// Why it ended.
    pub exit_reason: ExitReason,
}

impl RoundTrip {
    /// Header of the trades file written by [`RoundTrip::write_csv_row`].
    pub const CSV_HEADER: &'static str =
        "entry_time,entry_price,exit_time,exit_price,size,entry_fees,exit_fees,pnl,exit_reason";

    /// Appends one trades-file row (no newline): times as integer UTC nanoseconds of the bar
    /// starts, the size as an exact decimal, `f64`s in their shortest round-trip form.
    pub fn write_csv_row(&self, out: &mut String) {
        use std::fmt::Write as _;
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            self.entry_time,
            self.entry_price,
            self.exit_time,
            self.exit_price,
            self.size,
            self.entry_fees,
            self.exit_fees,
            self.pnl,
            self.exit_reason.as_str()
        );
    }
}

/// What the risk manager needs from the books, as one copy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PortfolioView {
    /// Cash plus positions at their last close, now.
    pub equity: f64,
    /// Cash (quote).
    pub cash: f64,
    /// `Σ |qty|·last_close` (quote).
    pub gross_exposure: f64,
    /// Highest equity seen at an [`EquityMark`] or now, whichever is higher.
    pub peak_equity: f64,
    /// Equity at the close of the previous UTC day's last marked bar (the initial cash on the
    /// first day).
    pub day_start_equity: f64,
    /// Realised PnL after fees.
    pub realised_pnl: f64,
    /// Unrealised PnL of open positions (after their entry fees).
    pub unrealised_pnl: f64,
    /// Fees paid so far.
    pub fees: f64,
}

/// An open trip's running sums.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OpenTrip {
    entry_time: UnixNanos,
    bought: Qty,
    /// Σ price·qty of the buys in units of 10⁻¹⁶ quote (exact).
    buy_units: i128,
    entry_fees: f64,
    sold: Qty,
    /// Σ price·qty of the sells in units of 10⁻¹⁶ quote (exact).
    sell_units: i128,
    exit_fees: f64,
}

/// One symbol's holding.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Holding {
    qty: Qty,
    /// Cost of the open quantity including its entry fees (quote).
    cost_basis: f64,
    /// Size-weighted average buy price of the open position (0 when flat).
    avg_entry_price: f64,
    /// Last close (NaN before the first mark or fill).
    last_price: f64,
    /// Start of the last marked bar (or of the last fill's bar before any mark).
    last_bar_start: UnixNanos,
    trip: Option<OpenTrip>,
}

impl Holding {
    const EMPTY: Self = Self {
        qty: Qty::ZERO,
        cost_basis: 0.0,
        avg_entry_price: 0.0,
        last_price: f64::NAN,
        last_bar_start: 0,
        trip: None,
    };

    fn market_value(&self) -> f64 {
        if self.qty.is_zero() {
            0.0
        } else {
            self.qty.to_f64() * self.last_price
        }
    }
}

/// Cash, positions, PnL and equity of one run or account.
#[derive(Debug, Clone)]
pub struct Portfolio {
    lifecycle: Lifecycle,
    n_symbols: usize,
    initial_cash: f64,
    cash: f64,
    fees: f64,
    realised_pnl: f64,
    holdings: [Holding; MAX_SYMBOLS],
    peak_equity: f64,
    day_start_equity: f64,
    /// UTC day of the last mark's bar start, and the equity of that mark.
    last_mark: Option<(i64, f64)>,
}

impl Portfolio {
    /// A flat portfolio holding `config.initial_cash` for `n_symbols` symbols (ids
    /// `0..n_symbols`).
    ///
    /// # Errors
    /// [`PortfolioError::InvalidConfig`] listing every config problem;
    /// [`PortfolioError::TooManySymbols`] above [`MAX_SYMBOLS`].
    pub fn new(config: &PortfolioConfig, n_symbols: usize) -> Result<Self, PortfolioError> {
        let problems = config.validate("portfolio");
        if !problems.is_empty() {
            return Err(PortfolioError::InvalidConfig { problems });
        }
        if n_symbols > MAX_SYMBOLS {
            return Err(PortfolioError::TooManySymbols {
                n_symbols,
                max: MAX_SYMBOLS,
            });
        }
        Ok(Self {
            lifecycle: Lifecycle::Running,
            n_symbols,
            initial_cash: config.initial_cash,
            cash: config.initial_cash,
            fees: 0.0,
            realised_pnl: 0.0,
            holdings: [Holding::EMPTY; MAX_SYMBOLS],
            peak_equity: config.initial_cash,
            day_start_equity: config.initial_cash,
            last_mark: None,
        })
    }

    /// Where the portfolio is in its life (`Running`, then `Stopped` after [`Portfolio::finish`]).
    #[must_use]
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// Number of symbols.
    #[must_use]
    pub fn n_symbols(&self) -> usize {
        self.n_symbols
    }

    /// Starting cash.
    #[must_use]
    pub fn initial_cash(&self) -> f64 {
        self.initial_cash
    }

    /// Cash now (quote).
    #[must_use]
    pub fn cash(&self) -> f64 {
        self.cash
    }

    /// Fees paid so far (quote).
    #[must_use]
    pub fn fees(&self) -> f64 {
        self.fees
    }

    /// Realised PnL so far, after all fees (quote).
    #[must_use]
    pub fn realised_pnl(&self) -> f64 {
        self.realised_pnl
    }

    /// Position of `symbol` (zero for an unknown symbol).
    #[must_use]
    pub fn position(&self, symbol: SymbolId) -> Qty {
        self.holding(symbol).map_or(Qty::ZERO, |h| h.qty)
    }

    /// Size-weighted average buy price of the open position of `symbol` (0 when flat).
    #[must_use]
    pub fn avg_entry_price(&self, symbol: SymbolId) -> f64 {
        self.holding(symbol).map_or(0.0, |h| h.avg_entry_price)
    }

    /// Last close of `symbol` (NaN before its first mark or fill).
    #[must_use]
    pub fn last_price(&self, symbol: SymbolId) -> f64 {
        self.holding(symbol).map_or(f64::NAN, |h| h.last_price)
    }

    /// Unrealised PnL of `symbol`: market value minus cost basis (entry fees included).
    #[must_use]
    pub fn unrealised_pnl(&self, symbol: SymbolId) -> f64 {
        self.holding(symbol)
            .map_or(0.0, |h| h.market_value() - h.cost_basis)
    }

    /// Unrealised PnL of every open position.
    #[must_use]
    pub fn total_unrealised_pnl(&self) -> f64 {
        self.active()
            .iter()
            .map(|h| h.market_value() - h.cost_basis)
            .sum()
    }

    /// Cash plus every position at its last close.
    #[must_use]
    pub fn equity(&self) -> f64 {
        self.cash + self.active().iter().map(Holding::market_value).sum::<f64>()
    }

    /// Applies one fill: cash, position, fees, realised PnL, and the round-trip ledger. A sell
    /// that brings the symbol back to flat pushes its [`RoundTrip`] onto `closed`.
    ///
    /// # Errors
    /// [`PortfolioError::UnknownSymbol`], [`PortfolioError::InvalidFill`],
    /// [`PortfolioError::Oversold`]; the portfolio is unchanged then.
    pub fn on_fill(
        &mut self,
        fill: &Fill,
        closed: &mut Vec<RoundTrip>,
    ) -> Result<(), PortfolioError> {
        let order = fill.order.0;
        let n_symbols = self.n_symbols;
        let invalid = |field: &'static str, value: String| PortfolioError::InvalidFill {
            order,
            field,
            value,
        };
        if usize::from(fill.symbol) >= n_symbols {
            return Err(PortfolioError::UnknownSymbol {
                order,
                symbol: fill.symbol,
                n_symbols,
            });
        }
        if fill.qty.units() <= 0 {
            return Err(invalid("qty", fill.qty.to_string()));
        }
        if fill.price.units() <= 0 {
            return Err(invalid("price", fill.price.to_string()));
        }
        if !(fill.fee.is_finite() && fill.fee >= 0.0) {
            return Err(invalid("fee", fill.fee.to_string()));
        }
        let h = &mut self.holdings[usize::from(fill.symbol)];
        let value = notional(fill.price, fill.qty);
        match fill.side {
            Side::Buy => {
                let old = h.qty.to_f64();
                let new_qty = h.qty.plus(fill.qty);
                h.avg_entry_price = (h.avg_entry_price * old
                    + fill.price.to_f64() * fill.qty.to_f64())
                    / new_qty.to_f64();
                h.qty = new_qty;
                h.cost_basis += value + fill.fee;
                self.cash -= value + fill.fee;
                let trip = h.trip.get_or_insert(OpenTrip {
                    entry_time: fill.bar_start,
                    bought: Qty::ZERO,
                    buy_units: 0,
                    entry_fees: 0.0,
                    sold: Qty::ZERO,
                    sell_units: 0,
                    exit_fees: 0.0,
                });
                trip.bought = trip.bought.plus(fill.qty);
                trip.buy_units += notional_units(fill.price, fill.qty);
                trip.entry_fees += fill.fee;
            }
            Side::Sell => {
                if fill.qty > h.qty {
                    return Err(PortfolioError::Oversold {
                        order,
                        symbol: fill.symbol,
                        held: h.qty,
                        sold: fill.qty,
                    });
                }
                let remaining = h.qty.minus(fill.qty);
                let released = if remaining.is_zero() {
                    h.cost_basis
                } else {
                    h.cost_basis * (fill.qty.to_f64() / h.qty.to_f64())
                };
                self.realised_pnl += value - fill.fee - released;
                h.cost_basis -= released;
                h.qty = remaining;
                self.cash += value - fill.fee;
                if let Some(trip) = h.trip.as_mut() {
                    trip.sold = trip.sold.plus(fill.qty);
                    trip.sell_units += notional_units(fill.price, fill.qty);
                    trip.exit_fees += fill.fee;
                }
                if remaining.is_zero() {
                    h.cost_basis = 0.0;
                    h.avg_entry_price = 0.0;
                    if let Some(trip) = h.trip.take() {
                        closed.push(close_trip(
                            fill.symbol,
                            &trip,
                            fill.bar_start,
                            Qty::ZERO,
                            f64::NAN,
                            fill.reason.into(),
                        ));
                    }
                }
            }
        }
        self.fees += fill.fee;
        if h.last_price.is_nan() {
            h.last_price = fill.price.to_f64();
            h.last_bar_start = fill.bar_start;
        }
        Ok(())
    }

    /// Marks `bar.symbol` at the bar's close (an unknown symbol is ignored).
    pub fn mark(&mut self, bar: &Bar) {
        if let Some(h) = self.holdings[..self.n_symbols].get_mut(usize::from(bar.symbol)) {
            h.last_price = bar.ohlcv.close();
            h.last_bar_start = bar.ohlcv.start_ns();
        }
    }

    /// The portfolio at the close of the bars starting at `bar_start` (call once per timestamp,
    /// after every symbol's bar was marked and its fills applied). Updates the peak equity and,
    /// on the first mark of a new UTC day (by bar start), the day-start equity.
    pub fn equity_mark(&mut self, ts: UnixNanos, bar_start: UnixNanos) -> EquityMark {
        let equity = self.equity();
        let day = bar_start.div_euclid(DAY_NS);
        match self.last_mark {
            Some((last_day, last_equity)) if last_day != day => self.day_start_equity = last_equity,
            _ => {}
        }
        self.last_mark = Some((day, equity));
        self.peak_equity = self.peak_equity.max(equity);
        let mut positions = [0.0; MAX_SYMBOLS];
        for (p, h) in positions.iter_mut().zip(self.active()) {
            *p = h.qty.to_f64();
        }
        EquityMark {
            ts,
            bar_start,
            equity,
            cash: self.cash,
            // n_symbols ≤ MAX_SYMBOLS = 16, checked in `new`.
            n: self.n_symbols as u8,
            positions,
            realised_pnl: self.realised_pnl,
            fees: self.fees,
        }
    }

    /// What the risk manager reads, now.
    #[must_use]
    pub fn view(&self) -> PortfolioView {
        let equity = self.equity();
        PortfolioView {
            equity,
            cash: self.cash,
            gross_exposure: self.active().iter().map(|h| h.market_value().abs()).sum(),
            peak_equity: self.peak_equity.max(equity),
            day_start_equity: self.day_start_equity,
            realised_pnl: self.realised_pnl,
            unrealised_pnl: self.total_unrealised_pnl(),
            fees: self.fees,
        }
    }

    /// Reports every position still open as a [`RoundTrip`] with exit reason `end`: what is
    /// still held valued at the last close with zero exit fees, exit time = the last marked bar.
    /// The books are not changed (the position stays open, as in vectorbt); the portfolio is
    /// `Stopped` afterwards. Trips are pushed in symbol order.
    pub fn finish(&mut self, open: &mut Vec<RoundTrip>) {
        for (i, h) in self.active().iter().enumerate() {
            if let (Some(trip), false) = (h.trip, h.qty.is_zero()) {
                // i < n_symbols ≤ MAX_SYMBOLS, so it fits a SymbolId.
                open.push(close_trip(
                    i as SymbolId,
                    &trip,
                    h.last_bar_start,
                    h.qty,
                    h.last_price,
                    ExitReason::End,
                ));
            }
        }
        self.lifecycle = Lifecycle::Stopped;
    }

    fn holding(&self, symbol: SymbolId) -> Option<&Holding> {
        self.active().get(usize::from(symbol))
    }

    fn active(&self) -> &[Holding] {
        &self.holdings[..self.n_symbols]
    }
}

/// `price × qty` in units of 10⁻¹⁶ quote, exact.
fn notional_units(price: Price, qty: Qty) -> i128 {
    i128::from(price.units()) * i128::from(qty.units())
}

/// Quote units of 10⁻¹⁶ as `f64`.
fn units_to_f64(units: i128) -> f64 {
    // One rounding in the conversion, as `exact::notional`.
    units as f64 / 1e16
}

/// `Σ price·qty / Σ qty` as a price, exact to the last bit when the average is a representable
/// price (one fill, or fills at one price).
fn average_price(notional_units: i128, qty: Qty) -> f64 {
    let den = i128::from(qty.units());
    if den <= 0 {
        return f64::NAN;
    }
    let (whole, rem) = (
        notional_units.div_euclid(den),
        notional_units.rem_euclid(den),
    );
    (whole as f64 + rem as f64 / den as f64) / 1e8
}

/// The round trip of `trip`; for `end`, `held` is what is still held and `last_price` its
/// last close.
fn close_trip(
    symbol: SymbolId,
    trip: &OpenTrip,
    exit_time: UnixNanos,
    held: Qty,
    last_price: f64,
    exit_reason: ExitReason,
) -> RoundTrip {
    let buy = units_to_f64(trip.buy_units);
    let (exit_value, exit_price) = if held.is_zero() {
        (
            units_to_f64(trip.sell_units),
            average_price(trip.sell_units, trip.sold),
        )
    } else {
        let held_value = held.to_f64() * last_price;
        let value = units_to_f64(trip.sell_units) + held_value;
        let price = if trip.sold.is_zero() {
            last_price
        } else {
            value / trip.bought.to_f64()
        };
        (value, price)
    };
    RoundTrip {
        symbol,
        entry_time: trip.entry_time,
        entry_price: average_price(trip.buy_units, trip.bought),
        exit_time,
        exit_price,
        size: trip.bought,
        entry_fees: trip.entry_fees,
        exit_fees: trip.exit_fees,
        pnl: exit_value - buy - trip.entry_fees - trip.exit_fees,
        exit_reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{DecisionId, Liquidity, OrderId};

    const HOUR: i64 = 3_600_000_000_000;

    fn bar(symbol: SymbolId, i: i64, close: f64) -> Bar {
        let ohlcv = strategies::bars::Bar::new_checked(strategies::bars::BarParts {
            start_ns: i * HOUR,
            end_ns: (i + 1) * HOUR,
            open: close,
            high: close,
            low: close,
            close,
            volume: 1.0,
            quote_volume: close,
            trade_count: 1,
        })
        .unwrap();
        Bar {
            symbol,
            decision: DecisionId(i as u64),
            ts_exchange: (i + 1) * HOUR,
            ts_received: (i + 1) * HOUR,
            ohlcv,
        }
    }

    fn fill(symbol: SymbolId, i: i64, side: Side, qty: f64, price: f64, fee: f64) -> Fill {
        Fill {
            order: OrderId(i as u64),
            decision: DecisionId(i as u64),
            ts: (i + 1) * HOUR,
            bar_start: i * HOUR,
            symbol,
            side,
            qty: Qty::from_f64(qty).unwrap(),
            price: Price::from_f64(price).unwrap(),
            fee,
            liquidity: Liquidity::Taker,
            reason: OrderReason::Signal,
        }
    }

    fn pf(n: usize) -> Portfolio {
        Portfolio::new(&PortfolioConfig::default(), n).unwrap()
    }

    #[test]
    fn config_lists_every_problem() {
        let c = PortfolioConfig { initial_cash: -5.0 };
        assert_eq!(
            c.validate("portfolio"),
            vec!["portfolio.initial_cash must be a finite number > 0, got -5".to_string()]
        );
        assert!(matches!(
            Portfolio::new(&c, 1),
            Err(PortfolioError::InvalidConfig { .. })
        ));
        assert!(matches!(
            Portfolio::new(&PortfolioConfig::default(), MAX_SYMBOLS + 1),
            Err(PortfolioError::TooManySymbols { .. })
        ));
    }

    #[test]
    fn round_trip_pays_fees_on_both_sides() {
        let mut p = pf(1);
        let mut trips = Vec::new();
        // Buy 2 @ 100 with fee 0.2, sell 2 @ 110 with fee 0.22.
        p.on_fill(&fill(0, 1, Side::Buy, 2.0, 100.0, 0.2), &mut trips)
            .unwrap();
        assert_eq!(p.cash(), 10_000.0 - 200.2);
        p.mark(&bar(0, 2, 105.0));
        assert!((p.equity() - (10_000.0 - 200.2 + 210.0)).abs() < 1e-9);
        assert!((p.unrealised_pnl(0) - (210.0 - 200.2)).abs() < 1e-9);
        p.on_fill(&fill(0, 3, Side::Sell, 2.0, 110.0, 0.22), &mut trips)
            .unwrap();
        assert_eq!(trips.len(), 1);
        let t = trips[0];
        assert_eq!(
            (t.entry_time, t.exit_time, t.size),
            (HOUR, 3 * HOUR, Qty::from_f64(2.0).unwrap())
        );
        assert_eq!((t.entry_price, t.exit_price), (100.0, 110.0));
        assert_eq!((t.entry_fees, t.exit_fees), (0.2, 0.22));
        assert!((t.pnl - (220.0 - 200.0 - 0.42)).abs() < 1e-12);
        assert_eq!(t.exit_reason, ExitReason::Signal);
        assert!((p.realised_pnl() - t.pnl).abs() < 1e-9);
        assert!((p.fees() - 0.42).abs() < 1e-12);
        assert!((p.cash() - (10_000.0 + t.pnl)).abs() < 1e-9);
        assert_eq!(p.position(0), Qty::ZERO);
        let mut row = String::new();
        t.write_csv_row(&mut row);
        assert!(row.starts_with(&format!("{HOUR},100,{},110,2,0.2,0.22,", 3 * HOUR)));
        assert!(row.ends_with(",signal"));
    }

    #[test]
    fn partial_exits_average_into_one_trip() {
        let mut p = pf(1);
        let mut trips = Vec::new();
        p.on_fill(&fill(0, 0, Side::Buy, 1.0, 100.0, 0.0), &mut trips)
            .unwrap();
        p.on_fill(&fill(0, 1, Side::Buy, 1.0, 120.0, 0.0), &mut trips)
            .unwrap();
        assert_eq!(p.avg_entry_price(0), 110.0);
        p.on_fill(&fill(0, 2, Side::Sell, 0.5, 130.0, 0.0), &mut trips)
            .unwrap();
        assert!(trips.is_empty());
        // Half a unit sold at 130 against an average cost of 110.
        assert!((p.realised_pnl() - 10.0).abs() < 1e-9);
        p.on_fill(&fill(0, 3, Side::Sell, 1.5, 90.0, 0.0), &mut trips)
            .unwrap();
        let t = trips[0];
        assert_eq!((t.entry_time, t.exit_time), (0, 3 * HOUR));
        assert_eq!(t.entry_price, 110.0);
        assert_eq!(t.exit_price, (65.0 + 135.0) / 2.0);
        assert!((t.pnl - (200.0 - 220.0)).abs() < 1e-9);
        assert!((p.realised_pnl() - t.pnl).abs() < 1e-9);
    }

    #[test]
    fn bad_fills_are_rejected_and_change_nothing() {
        let mut p = pf(1);
        let mut trips = Vec::new();
        let before = p.cash();
        assert!(matches!(
            p.on_fill(&fill(3, 0, Side::Buy, 1.0, 100.0, 0.0), &mut trips),
            Err(PortfolioError::UnknownSymbol { symbol: 3, .. })
        ));
        assert!(matches!(
            p.on_fill(&fill(0, 0, Side::Sell, 1.0, 100.0, 0.0), &mut trips),
            Err(PortfolioError::Oversold { .. })
        ));
        assert!(matches!(
            p.on_fill(&fill(0, 0, Side::Buy, 1.0, 100.0, f64::NAN), &mut trips),
            Err(PortfolioError::InvalidFill { field: "fee", .. })
        ));
        assert!(matches!(
            p.on_fill(&fill(0, 0, Side::Buy, 0.0, 100.0, 0.0), &mut trips),
            Err(PortfolioError::InvalidFill { field: "qty", .. })
        ));
        assert_eq!(p.cash(), before);
        assert_eq!(p.position(0), Qty::ZERO);
    }

    #[test]
    fn finish_reports_open_trips_at_the_last_close_like_vectorbt() {
        let mut p = pf(2);
        let mut trips = Vec::new();
        p.on_fill(&fill(1, 4, Side::Buy, 0.5, 200.0, 0.1), &mut trips)
            .unwrap();
        p.mark(&bar(1, 9, 220.0));
        p.finish(&mut trips);
        assert_eq!(p.lifecycle(), Lifecycle::Stopped);
        assert_eq!(trips.len(), 1);
        let t = trips[0];
        assert_eq!(t.symbol, 1);
        assert_eq!((t.entry_time, t.exit_time), (4 * HOUR, 9 * HOUR));
        assert_eq!((t.exit_price, t.exit_fees), (220.0, 0.0));
        assert!((t.pnl - (110.0 - 100.0 - 0.1)).abs() < 1e-12);
        assert_eq!(t.exit_reason, ExitReason::End);
        // The books are untouched.
        assert_eq!(p.position(1), Qty::from_f64(0.5).unwrap());
    }

    #[test]
    fn equity_marks_track_peak_and_day_start() {
        let mut p = pf(1);
        let mut trips = Vec::new();
        p.on_fill(&fill(0, 0, Side::Buy, 10.0, 100.0, 0.0), &mut trips)
            .unwrap();
        let mut last = 0.0;
        for (i, close) in [(0, 100.0), (22, 110.0), (23, 90.0), (24, 95.0), (25, 80.0)] {
            p.mark(&bar(0, i, close));
            let m = p.equity_mark((i + 1) * HOUR, i * HOUR);
            assert_eq!(m.n, 1);
            assert_eq!(m.positions[0], 10.0);
            assert!((m.equity - (9_000.0 + 10.0 * close)).abs() < 1e-9);
            last = m.equity;
        }
        let v = p.view();
        assert_eq!(v.equity, last);
        assert_eq!(v.peak_equity, 10_100.0);
        // Day 1 starts with the bar starting at hour 24; day start = equity at hour 23's close.
        assert_eq!(v.day_start_equity, 9_900.0);
        assert_eq!(v.gross_exposure, 800.0);
        assert!((v.equity - (p.initial_cash() + v.realised_pnl + v.unrealised_pnl)).abs() < 1e-9);
    }
}
