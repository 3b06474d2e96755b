//! Tests of the risk manager: one table per check (each bites just past its limit and not at
//! or below it), the kill switch, regime scaling, staleness, commands, the weight → intent
//! conversion, config validation, and a proptest that a passed intent never exceeds a limit.

use super::*;
use crate::exact::{Price, Qty, notional};
use crate::messages::{
    AllocationMethod, Command, CommandKind, DecisionId, Fill, Liquidity, OrderId, OrderKind,
    Regime, RegimeLabel, StrategyKind,
};
use proptest::prelude::*;

mod checks;
mod config;
mod flows;
mod prop;

/// 2023-11-14 22:13:20 UTC.
const T0: i64 = 1_700_000_000_000_000_000;
const DEC: DecisionId = DecisionId(7);

fn q(x: f64) -> Qty {
    Qty::from_f64(x).unwrap()
}

fn grid() -> InstrumentFilters {
    InstrumentFilters {
        tick_size: Price::from_f64(0.01).unwrap(),
        step_size: q(0.001),
        min_notional: 0.0,
    }
}

/// A manager for `n` symbols on `filters`, each priced at 100 at `T0`.
fn manager_with(config: RiskConfig, n: usize, filters: InstrumentFilters) -> RiskManager {
    let mut r = RiskManager::new(config, &vec![filters; n]).unwrap();
    let mut ev = Vec::new();
    for s in 0..n {
        r.on_market(s as SymbolId, 100.0, T0, &mut ev);
    }
    assert!(ev.is_empty());
    r
}

fn manager(config: RiskConfig, n: usize) -> RiskManager {
    manager_with(config, n, grid())
}

fn intent(symbol: SymbolId, side: Side, size: OrderSize, reference_price: f64) -> OrderIntent {
    OrderIntent {
        decision: DEC,
        ts: T0,
        symbol,
        side,
        size,
        reference_price,
        reason: OrderReason::Signal,
        stop_loss: 0.0,
        take_profit: 0.0,
    }
}

fn buy(symbol: SymbolId, qty: f64) -> OrderIntent {
    intent(symbol, Side::Buy, OrderSize::Qty(q(qty)), 100.0)
}

/// 10 000 cash, no positions, marks at 100.
fn flat() -> PortfolioView {
    let mut v = PortfolioView::cash_only(10_000.0);
    v.last_prices = [100.0; MAX_SYMBOLS];
    v
}

/// `flat()` with `qty` of `symbol` bought at 100 out of the cash.
fn holding(symbol: usize, qty: f64) -> PortfolioView {
    let mut v = flat();
    v.positions[symbol] = qty;
    v.cash -= qty * 100.0;
    v
}

fn check(
    r: &mut RiskManager,
    i: &OrderIntent,
    v: &PortfolioView,
    now: UnixNanos,
) -> (Verdict, Vec<RiskEvent>) {
    let mut ev = Vec::new();
    let verdict = r.check_intent(i, v, now, &mut ev);
    (verdict, ev)
}

/// What a case expects.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// Passes with this size and no event.
    Pass(OrderSize),
    /// Passes reduced to this size, with a `Reduced` event of this check.
    Reduced(OrderSize, RiskCheck),
    /// Rejected by this check, with a `Rejected` event of it.
    Reject(RiskCheck),
}

fn assert_want(name: &str, got: (Verdict, Vec<RiskEvent>), want: Want) {
    let (verdict, ev) = got;
    match want {
        Want::Pass(size) => {
            assert!(
                matches!(verdict, Verdict::Pass(i) if i.size == size),
                "{name}: {verdict:?}"
            );
            assert!(ev.is_empty(), "{name}: unexpected events {ev:?}");
        }
        Want::Reduced(size, c) => {
            assert!(
                matches!(verdict, Verdict::Pass(i) if i.size == size),
                "{name}: {verdict:?}"
            );
            assert_eq!(ev.len(), 1, "{name}: {ev:?}");
            assert_eq!(
                (ev[0].check, ev[0].action),
                (c, RiskAction::Reduced),
                "{name}"
            );
        }
        Want::Reject(c) => {
            assert_eq!(verdict, Verdict::Reject(c), "{name}");
            assert_eq!(ev.len(), 1, "{name}: {ev:?}");
            assert_eq!(
                (ev[0].check, ev[0].action),
                (c, RiskAction::Rejected),
                "{name}"
            );
            assert_eq!(ev[0].decision, Some(DEC), "{name}");
        }
    }
}

fn qty_size(x: f64) -> OrderSize {
    OrderSize::Qty(q(x))
}

fn order(id: u64) -> Order {
    Order {
        id: OrderId(id),
        decision: DEC,
        ts: T0,
        symbol: 0,
        side: Side::Buy,
        size: OrderSize::AllCash,
        kind: OrderKind::Market,
        reason: OrderReason::Signal,
    }
}

fn fill(id: u64) -> Fill {
    Fill {
        order: OrderId(id),
        decision: DEC,
        ts: T0,
        bar_start: T0,
        symbol: 0,
        side: Side::Buy,
        qty: q(1.0),
        price: Price::from_f64(100.0).unwrap(),
        fee: 0.0,
        liquidity: Liquidity::Taker,
        reason: OrderReason::Signal,
    }
}

fn mark(equity: f64) -> PortfolioView {
    let mut v = holding(0, 10.0);
    v.positions[2] = 5.0;
    v.equity = equity;
    v.peak_equity = f64::NAN;
    v
}

/// (name, marks as (ts, equity), trips?)
type DayCase<'a> = (&'a str, &'a [(i64, f64)], bool);
/// (regime, weight, held, intent wanted, events wanted)
type RegimeCase<'a> = (
    RegimeLabel,
    f64,
    f64,
    Option<(Side, OrderSize)>,
    &'a [RiskCheck],
);
/// (method, weights, view, intents wanted as (symbol, side, size) in output order)
type TargetCase<'a> = (
    AllocationMethod,
    &'a [f64],
    PortfolioView,
    &'a [(SymbolId, Side, OrderSize)],
);

const DAY: i64 = 86_400_000_000_000;

fn regime(symbol: SymbolId, label: RegimeLabel) -> Regime {
    Regime {
        symbol,
        decision: DEC,
        ts: T0,
        label,
        state: 0,
        n_states: 3,
        probabilities: [0.0; 8],
        confidence: 1.0,
    }
}

fn targets(
    r: &mut RiskManager,
    method: AllocationMethod,
    w: &[f64],
    v: &PortfolioView,
) -> (Vec<OrderIntent>, Vec<RiskEvent>) {
    let mut weights = [f64::NAN; MAX_SYMBOLS];
    weights[..w.len()].copy_from_slice(w);
    let t = TargetWeights {
        decision: DEC,
        ts: T0,
        method,
        n: w.len() as u8,
        weights,
    };
    let (mut intents, mut ev) = (Vec::with_capacity(8), Vec::with_capacity(8));
    r.on_targets(&t, v, T0, &mut intents, &mut ev);
    (intents, ev)
}

fn signal(decision: DecisionId, stop_loss: f64) -> Signal {
    Signal {
        symbol: 0,
        decision,
        ts: T0,
        bar_start: T0,
        bar_close: 100.0,
        strategy: StrategyKind::SmartMomentum,
        action: crate::messages::SignalAction::EnterLong,
        regime: RegimeLabel::Trending,
        stop_loss,
        take_profit: 0.04,
    }
}
