//! The typed, immutable messages actors exchange, and the one [`Event`] enum the recorder sees.
//!
//! Every message is `Copy` and fixed-size (no heap): the live hot path moves them through
//! bounded queues without allocating. Timestamps are UTC nanoseconds ([`UnixNanos`]); market
//! data carries both exchange time and local receive time. Everything downstream of a bar that
//! triggered a decision carries that bar's [`DecisionId`], so `bar → regime → signal → forecast →
//! weights → risk verdict → order → fill` join on it. Symbols are small indices into the run's
//! symbol table ([`SymbolId`]); names live in the wiring, not in messages.
//!
//! Owns the message vocabulary only: no behaviour beyond constructors and accessors.

use crate::clock::UnixNanos;
use crate::exact::{Price, Qty};

/// Index of a symbol in the run's symbol table (`0..MAX_SYMBOLS`).
pub type SymbolId = u16;

/// Most symbols one pipeline trades (fixed so weight vectors need no heap).
pub const MAX_SYMBOLS: usize = 16;

/// Most HMM states a regime message carries.
pub const MAX_REGIME_STATES: usize = 8;

/// Identifies one decision: the sequence number of the bar that triggered it (unique within a
/// run, increasing in event time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DecisionId(pub u64);

/// Identifies one order within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct OrderId(pub u64);

/// One trade print.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    /// Symbol.
    pub symbol: SymbolId,
    /// Exchange event time.
    pub ts_exchange: UnixNanos,
    /// Local receive time (equal to `ts_exchange` in replay).
    pub ts_received: UnixNanos,
    /// Price.
    pub price: f64,
    /// Quantity (base asset).
    pub qty: f64,
    /// True when the buyer was the maker (the aggressor sold).
    pub buyer_is_maker: bool,
}

/// Best bid and offer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    /// Symbol.
    pub symbol: SymbolId,
    /// Exchange event time.
    pub ts_exchange: UnixNanos,
    /// Local receive time.
    pub ts_received: UnixNanos,
    /// Best bid price.
    pub bid: f64,
    /// Quantity at the best bid.
    pub bid_qty: f64,
    /// Best ask price.
    pub ask: f64,
    /// Quantity at the best ask.
    pub ask_qty: f64,
}

/// A closed time bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Symbol.
    pub symbol: SymbolId,
    /// The decision this bar may trigger.
    pub decision: DecisionId,
    /// When the bar became known at the exchange: its end (`ohlcv.end_ns()`).
    pub ts_exchange: UnixNanos,
    /// Local receive time of the trade or kline that closed it.
    pub ts_received: UnixNanos,
    /// The validated OHLCV values; `ohlcv.start_ns()` is the bar's identifying time.
    pub ohlcv: strategies::bars::Bar,
}

/// Market regime label (the three named HMM states, or not yet known).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum RegimeLabel {
    /// Before the detector has a model or enough data.
    #[default]
    Unknown,
    /// Persistent drift.
    Trending,
    /// Calm chop.
    MeanReverting,
    /// High volatility.
    Volatile,
}

impl RegimeLabel {
    /// Lower-case name used in files: `unknown`, `trending`, `mean_reverting`, `volatile`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RegimeLabel::Unknown => "unknown",
            RegimeLabel::Trending => "trending",
            RegimeLabel::MeanReverting => "mean_reverting",
            RegimeLabel::Volatile => "volatile",
        }
    }

    /// All labels, in file order.
    pub const ALL: [RegimeLabel; 4] = [
        RegimeLabel::Unknown,
        RegimeLabel::Trending,
        RegimeLabel::MeanReverting,
        RegimeLabel::Volatile,
    ];
}

impl From<strategies::hmm::Regime> for RegimeLabel {
    fn from(r: strategies::hmm::Regime) -> Self {
        match r {
            strategies::hmm::Regime::Trending => RegimeLabel::Trending,
            strategies::hmm::Regime::MeanReverting => RegimeLabel::MeanReverting,
            strategies::hmm::Regime::Volatile => RegimeLabel::Volatile,
        }
    }
}

/// The regime detector's belief after one bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regime {
    /// Symbol.
    pub symbol: SymbolId,
    /// Decision of the bar that produced it.
    pub decision: DecisionId,
    /// Event time (the bar's end).
    pub ts: UnixNanos,
    /// Most likely label.
    pub label: RegimeLabel,
    /// Index of the most likely state.
    pub state: u8,
    /// Number of valid entries in `probabilities`.
    pub n_states: u8,
    /// Filtered state probabilities (first `n_states` entries).
    pub probabilities: [f64; MAX_REGIME_STATES],
    /// Probability of the most likely state.
    pub confidence: f64,
}

/// Which strategy produced a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StrategyKind {
    /// EMA12/EMA26 up-cross with an RSI band and SuperTrend confirmation.
    SmartMomentum,
    /// Plain EMA cross.
    EmaCross,
    /// Donchian breakout (the trending regime's momentum strategy).
    Breakout,
    /// Z-score mean reversion.
    MeanReversion,
    /// Risk-off: flat.
    RiskOff,
}

impl StrategyKind {
    /// Name used in files.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            StrategyKind::SmartMomentum => "smart_momentum",
            StrategyKind::EmaCross => "ema_cross",
            StrategyKind::Breakout => "breakout",
            StrategyKind::MeanReversion => "mean_reversion",
            StrategyKind::RiskOff => "risk_off",
        }
    }
}

/// What a signal asks for (spot, long-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignalAction {
    /// Open a long position.
    EnterLong,
    /// Close the long position.
    Exit,
}

impl SignalAction {
    /// Name used in files: `enter_long` or `exit`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            SignalAction::EnterLong => "enter_long",
            SignalAction::Exit => "exit",
        }
    }
}

/// A strategy's request for one symbol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    /// Symbol.
    pub symbol: SymbolId,
    /// Decision of the bar that triggered it.
    pub decision: DecisionId,
    /// Event time (the bar's end).
    pub ts: UnixNanos,
    /// Start time of the triggering bar (its identifying time in files).
    pub bar_start: UnixNanos,
    /// Close of the triggering bar.
    pub bar_close: f64,
    /// The strategy.
    pub strategy: StrategyKind,
    /// What it asks for.
    pub action: SignalAction,
    /// Regime at the time.
    pub regime: RegimeLabel,
    /// Stop-loss distance as a fraction of the entry fill price (0 = none).
    pub stop_loss: f64,
    /// Take-profit distance as a fraction of the entry fill price (0 = none).
    pub take_profit: f64,
}

/// The simulator's view of a signal's symbol over the forecast horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// Symbol.
    pub symbol: SymbolId,
    /// Decision.
    pub decision: DecisionId,
    /// Event time.
    pub ts: UnixNanos,
    /// Horizon in bars.
    pub horizon: u32,
    /// Price now.
    pub price: f64,
    /// Expected price at the horizon.
    pub expected_price: f64,
    /// 5 % quantile of the price at the horizon.
    pub q05: f64,
    /// Median price at the horizon.
    pub q50: f64,
    /// 95 % quantile of the price at the horizon.
    pub q95: f64,
    /// Expected return per bar over the horizon (`ln(expected/price)/horizon`).
    pub expected_return: f64,
    /// Return variance per bar implied by the paths.
    pub variance: f64,
    /// Price impact of the intended order at the horizon, as a fraction of the price.
    pub impact: f64,
}

/// Target portfolio weights (fractions of equity) per symbol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetWeights {
    /// Decision.
    pub decision: DecisionId,
    /// Event time.
    pub ts: UnixNanos,
    /// Which method produced them.
    pub method: AllocationMethod,
    /// Number of symbols (valid entries of `weights`).
    pub n: u8,
    /// Weight per symbol id; entries of symbols that hold no view are NaN ("keep as is").
    pub weights: [f64; MAX_SYMBOLS],
}

/// Allocation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AllocationMethod {
    /// All-in / all-out on a single symbol's signal.
    Signal,
    /// CARA mean-variance.
    Cara,
    /// Equal risk contributions.
    RiskParity,
    /// Sparse L1-penalised mean-variance.
    SparseL1,
}

impl AllocationMethod {
    /// Name used in files.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            AllocationMethod::Signal => "signal",
            AllocationMethod::Cara => "cara",
            AllocationMethod::RiskParity => "risk_parity",
            AllocationMethod::SparseL1 => "sparse_l1",
        }
    }
}

/// Order side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl Side {
    /// `BUY` / `SELL` (Binance spelling).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// Why an order exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrderReason {
    /// A strategy signal or rebalance.
    Signal,
    /// Stop-loss hit.
    StopLoss,
    /// Take-profit hit.
    TakeProfit,
    /// Kill switch or operator flatten.
    Flatten,
}

impl OrderReason {
    /// Name used in files: `signal`, `stop_loss`, `take_profit`, `flatten`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderReason::Signal => "signal",
            OrderReason::StopLoss => "stop_loss",
            OrderReason::TakeProfit => "take_profit",
            OrderReason::Flatten => "flatten",
        }
    }
}

/// How much an intent trades.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OrderSize {
    /// An exact quantity.
    Qty(Qty),
    /// Buy with all available cash, sized at fill time: `cash / ((1 + fee) · price)`, floored
    /// to the step.
    AllCash,
    /// Sell the whole position held at fill time.
    AllPosition,
}

/// A request to trade, before or after risk checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderIntent {
    /// Decision.
    pub decision: DecisionId,
    /// Event time.
    pub ts: UnixNanos,
    /// Symbol.
    pub symbol: SymbolId,
    /// Side.
    pub side: Side,
    /// Size.
    pub size: OrderSize,
    /// Estimated fill price used for the checks (the last close).
    pub reference_price: f64,
    /// Why.
    pub reason: OrderReason,
    /// Stop-loss fraction carried to the position (0 = none).
    pub stop_loss: f64,
    /// Take-profit fraction carried to the position (0 = none).
    pub take_profit: f64,
}

/// Order type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    /// Market order.
    Market,
    /// Limit order at a price.
    Limit(Price),
}

/// An order sent to a venue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Order {
    /// Order id.
    pub id: OrderId,
    /// Decision.
    pub decision: DecisionId,
    /// Time sent.
    pub ts: UnixNanos,
    /// Symbol.
    pub symbol: SymbolId,
    /// Side.
    pub side: Side,
    /// Size as sent (exact quantities are fixed at fill time for `AllCash`/`AllPosition`).
    pub size: OrderSize,
    /// Type.
    pub kind: OrderKind,
    /// Why.
    pub reason: OrderReason,
}

/// Maker or taker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liquidity {
    /// Added liquidity.
    Maker,
    /// Took liquidity.
    Taker,
}

/// An execution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fill {
    /// Order.
    pub order: OrderId,
    /// Decision.
    pub decision: DecisionId,
    /// Event time of the fill.
    pub ts: UnixNanos,
    /// Start time of the bar it filled in (files identify bars by start).
    pub bar_start: UnixNanos,
    /// Symbol.
    pub symbol: SymbolId,
    /// Side.
    pub side: Side,
    /// Exact quantity.
    pub qty: Qty,
    /// Exact price.
    pub price: Price,
    /// Fee in quote units.
    pub fee: f64,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// Why the order existed.
    pub reason: OrderReason,
}

/// Which risk check bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskCheck {
    /// Order notional above the limit.
    MaxOrderNotional,
    /// Position per symbol above the limit.
    MaxPosition,
    /// Gross exposure above the limit.
    MaxGrossExposure,
    /// Price too far from the last trade.
    PriceBand,
    /// Too many orders in one second.
    OrderRate,
    /// Too many open orders.
    MaxOpenOrders,
    /// Below the exchange's minimum notional after rounding.
    MinNotional,
    /// Quantity rounds to zero on the step grid.
    StepSize,
    /// Daily loss limit hit.
    DailyLoss,
    /// Drawdown limit hit.
    MaxDrawdown,
    /// Regime exposure scaling applied.
    RegimeScaling,
    /// Market data too old.
    StaleData,
    /// Trading halted (kill switch or operator).
    Halted,
}

impl RiskCheck {
    /// Name used in files.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RiskCheck::MaxOrderNotional => "max_order_notional",
            RiskCheck::MaxPosition => "max_position",
            RiskCheck::MaxGrossExposure => "max_gross_exposure",
            RiskCheck::PriceBand => "price_band",
            RiskCheck::OrderRate => "order_rate",
            RiskCheck::MaxOpenOrders => "max_open_orders",
            RiskCheck::MinNotional => "min_notional",
            RiskCheck::StepSize => "step_size",
            RiskCheck::DailyLoss => "daily_loss",
            RiskCheck::MaxDrawdown => "max_drawdown",
            RiskCheck::RegimeScaling => "regime_scaling",
            RiskCheck::StaleData => "stale_data",
            RiskCheck::Halted => "halted",
        }
    }
}

/// What the risk manager did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskAction {
    /// The intent was rejected.
    Rejected,
    /// The intent was reduced to fit.
    Reduced,
    /// The kill switch tripped: flatten and halt until an operator resumes.
    KillSwitch,
    /// New orders halted (stale data), resumes by itself.
    Halted,
    /// Trading resumed.
    Resumed,
}

impl RiskAction {
    /// Name used in files.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            RiskAction::Rejected => "rejected",
            RiskAction::Reduced => "reduced",
            RiskAction::KillSwitch => "kill_switch",
            RiskAction::Halted => "halted",
            RiskAction::Resumed => "resumed",
        }
    }
}

/// A risk check that bit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskEvent {
    /// Decision, when the event concerns one.
    pub decision: Option<DecisionId>,
    /// Event time.
    pub ts: UnixNanos,
    /// Symbol, when the event concerns one.
    pub symbol: Option<SymbolId>,
    /// The check.
    pub check: RiskCheck,
    /// What was done.
    pub action: RiskAction,
    /// The observed value.
    pub value: f64,
    /// The limit.
    pub limit: f64,
}

/// An operator command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CommandKind {
    /// Stop sending new orders.
    Pause,
    /// Resume after a pause or a kill switch.
    Resume,
    /// Close every position.
    Flatten,
    /// Cancel all open orders.
    CancelAll,
    /// Trip the kill switch.
    KillSwitch,
    /// Stop the pipeline.
    Shutdown,
}

/// A command with its time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Command {
    /// When it was issued.
    pub ts: UnixNanos,
    /// What.
    pub kind: CommandKind,
}

/// The portfolio marked at a bar close (after every bar with that time was handled).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EquityMark {
    /// Event time (the bars' end).
    pub ts: UnixNanos,
    /// Start time of the bars marked (files identify bars by start).
    pub bar_start: UnixNanos,
    /// Cash plus positions at their last close.
    pub equity: f64,
    /// Cash (quote units).
    pub cash: f64,
    /// Number of valid entries in `positions`.
    pub n: u8,
    /// Position per symbol id (base units).
    pub positions: [f64; MAX_SYMBOLS],
    /// Realised PnL so far, after fees.
    pub realised_pnl: f64,
    /// Fees paid so far.
    pub fees: f64,
}

/// Every message, as the recorder sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// A trade.
    Trade(Trade),
    /// A quote.
    Quote(Quote),
    /// A bar.
    Bar(Bar),
    /// A regime update.
    Regime(Regime),
    /// A signal.
    Signal(Signal),
    /// A forecast.
    Forecast(Forecast),
    /// Target weights.
    TargetWeights(TargetWeights),
    /// An intent that passed risk.
    OrderIntent(OrderIntent),
    /// An order.
    Order(Order),
    /// A fill.
    Fill(Fill),
    /// A risk event.
    RiskEvent(RiskEvent),
    /// A command.
    Command(Command),
    /// A portfolio mark.
    EquityMark(EquityMark),
}

macro_rules! event_from {
    ($($t:ident),*) => {$(
        impl From<$t> for Event {
            fn from(m: $t) -> Self {
                Event::$t(m)
            }
        }
    )*};
}
event_from!(
    Trade,
    Quote,
    Bar,
    Regime,
    Signal,
    Forecast,
    TargetWeights,
    OrderIntent,
    Order,
    Fill,
    RiskEvent,
    Command,
    EquityMark
);

impl Event {
    /// The event's time (exchange time for market data).
    #[must_use]
    pub fn ts(&self) -> UnixNanos {
        match self {
            Event::Trade(m) => m.ts_exchange,
            Event::Quote(m) => m.ts_exchange,
            Event::Bar(m) => m.ts_exchange,
            Event::Regime(m) => m.ts,
            Event::Signal(m) => m.ts,
            Event::Forecast(m) => m.ts,
            Event::TargetWeights(m) => m.ts,
            Event::OrderIntent(m) => m.ts,
            Event::Order(m) => m.ts,
            Event::Fill(m) => m.ts,
            Event::RiskEvent(m) => m.ts,
            Event::Command(m) => m.ts,
            Event::EquityMark(m) => m.ts,
        }
    }

    /// The decision the event belongs to, if any.
    #[must_use]
    pub fn decision(&self) -> Option<DecisionId> {
        match self {
            Event::Trade(_) | Event::Quote(_) | Event::Command(_) | Event::EquityMark(_) => None,
            Event::Bar(m) => Some(m.decision),
            Event::Regime(m) => Some(m.decision),
            Event::Signal(m) => Some(m.decision),
            Event::Forecast(m) => Some(m.decision),
            Event::TargetWeights(m) => Some(m.decision),
            Event::OrderIntent(m) => Some(m.decision),
            Event::Order(m) => Some(m.decision),
            Event::Fill(m) => Some(m.decision),
            Event::RiskEvent(m) => m.decision,
        }
    }
}

/// An engine output with its monotonic sequence number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sequenced {
    /// Monotonic within a run, starting at 1.
    pub seq: u64,
    /// The event.
    pub event: Event,
}
