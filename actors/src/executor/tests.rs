//! Unit tests of the executor and its paper venue (edge cases of the fill rules).

use super::*;
use crate::portfolio::{ExitReason, PortfolioConfig, RoundTrip};

const HOUR: i64 = 3_600_000_000_000;

fn bar(i: i64, o: f64, h: f64, l: f64, c: f64) -> Bar {
    let ohlcv = strategies::bars::Bar::new_checked(strategies::bars::BarParts {
        start_ns: i * HOUR,
        end_ns: (i + 1) * HOUR,
        open: o,
        high: h,
        low: l,
        close: c,
        volume: 1.0,
        quote_volume: c,
        trade_count: 1,
    })
    .unwrap();
    Bar {
        symbol: 0,
        decision: DecisionId(i as u64),
        ts_exchange: (i + 1) * HOUR,
        ts_received: (i + 1) * HOUR,
        ohlcv,
    }
}

fn flat(i: i64, c: f64) -> Bar {
    bar(i, c, c, c, c)
}

fn intent(b: &Bar, side: Side, size: OrderSize, sl: f64, tp: f64) -> OrderIntent {
    OrderIntent {
        decision: b.decision,
        ts: b.ts_exchange,
        symbol: 0,
        side,
        size,
        reference_price: b.ohlcv.close(),
        reason: OrderReason::Signal,
        stop_loss: sl,
        take_profit: tp,
    }
}

fn buy(b: &Bar, sl: f64, tp: f64) -> OrderIntent {
    intent(b, Side::Buy, OrderSize::AllCash, sl, tp)
}

fn sell(b: &Bar) -> OrderIntent {
    intent(b, Side::Sell, OrderSize::AllPosition, 0.0, 0.0)
}

fn qty(v: f64) -> Qty {
    Qty::from_f64(v).unwrap()
}

fn price(v: f64) -> Price {
    Price::from_f64(v).unwrap()
}

/// Executor + portfolio driven in the pipeline's order.
struct Rig {
    ex: Executor,
    pf: Portfolio,
    orders: Vec<Order>,
    fills: Vec<Fill>,
    rejections: Vec<Rejection>,
    trips: Vec<RoundTrip>,
}

impl Rig {
    fn new(config: ExecutorConfig, filters: InstrumentFilters) -> Self {
        Self {
            ex: Executor::new(config, &[filters]).unwrap(),
            pf: Portfolio::new(
                &PortfolioConfig {
                    initial_cash: 10_000.0,
                },
                1,
            )
            .unwrap(),
            orders: Vec::new(),
            fills: Vec::new(),
            rejections: Vec::new(),
            trips: Vec::new(),
        }
    }

    fn close(fee: f64) -> Self {
        let c = ExecutorConfig {
            maker_fee: fee,
            taker_fee: fee,
            ..ExecutorConfig::default()
        };
        Self::new(c, InstrumentFilters::NONE)
    }

    fn apply(&mut self) {
        for f in self.fills.drain(..) {
            self.pf.on_fill(&f, &mut self.trips).unwrap();
        }
    }

    /// Step (1) and the marks; returns the fills of the bar open.
    fn open(&mut self, b: &Bar) -> Vec<Fill> {
        self.ex.on_bar_open(
            b,
            &self.pf,
            &mut self.orders,
            &mut self.fills,
            &mut self.rejections,
        );
        let out = self.fills.clone();
        self.apply();
        self.pf.mark(b);
        out
    }

    fn intent(&mut self, b: &Bar, i: &OrderIntent) -> Result<Order, Rejection> {
        let r = self.ex.on_intent(i, b, &self.pf, &mut self.fills);
        self.apply();
        r
    }
}

#[test]
fn config_lists_every_problem() {
    let c = ExecutorConfig {
        fill: FillConvention::NextOpen,
        maker_fee: -0.1,
        taker_fee: f64::NAN,
        slippage_bps: 5_000.0,
    };
    assert_eq!(
        c.validate("executor"),
        vec![
            "executor.maker_fee must be in [0, 0.1), got -0.1".to_string(),
            "executor.taker_fee must be in [0, 0.1), got NaN".to_string(),
            "executor.slippage_bps must be in [0, 1000), got 5000".to_string(),
        ]
    );
    assert!(
        matches!(Executor::new(c, &[]), Err(ExecutorError::InvalidConfig { problems }) if problems.len() == 3)
    );
    assert!(ExecutorConfig::default().validate("executor").is_empty());
    assert_eq!(FillConvention::NextOpen.as_str(), "next-open");
}

#[test]
fn all_in_buy_pays_fees_on_both_sides() {
    let mut r = Rig::close(0.001);
    let b0 = flat(0, 100.0);
    r.open(&b0);
    let o = r.intent(&b0, &buy(&b0, 0.0, 0.0)).unwrap();
    assert_eq!(
        (o.id, o.kind, o.side),
        (OrderId(1), OrderKind::Market, Side::Buy)
    );
    // 10000 / 1.001 / 100 = 99.90009990..., floored to 10⁻⁸.
    assert_eq!(r.pf.position(0), qty(99.900_099_9));
    let entry_fee = 99.900_099_9 * 100.0 * 0.001;
    assert!((r.pf.cash() - (10_000.0 - 9_990.009_99 - entry_fee)).abs() < 1e-9);
    assert!(r.pf.cash() >= 0.0);
    let b1 = flat(1, 110.0);
    r.open(&b1);
    r.intent(&b1, &sell(&b1)).unwrap();
    let t = r.trips[0];
    assert_eq!((t.entry_price, t.exit_price), (100.0, 110.0));
    assert!((t.entry_fees - entry_fee).abs() < 1e-12);
    assert!((t.exit_fees - 99.900_099_9 * 110.0 * 0.001).abs() < 1e-12);
    assert!((t.pnl - (99.900_099_9 * 10.0 - t.entry_fees - t.exit_fees)).abs() < 1e-9);
    assert_eq!(t.exit_reason, ExitReason::Signal);
    assert_eq!(r.ex.stats().fills, 2);
}

#[test]
fn step_tick_and_min_notional_rounding() {
    let filters = InstrumentFilters {
        tick_size: price(0.01),
        step_size: qty(0.001),
        min_notional: 10.0,
    };
    let c = ExecutorConfig {
        slippage_bps: 10.0,
        ..ExecutorConfig::default()
    };
    let mut r = Rig::new(c, filters);
    let b0 = flat(0, 100.004);
    r.open(&b0);
    // Buy 1.23456 → 1.234 at 100.004·1.001 = 100.104004 → 100.10.
    let i = intent(&b0, Side::Buy, OrderSize::Qty(qty(1.234_56)), 0.0, 0.0);
    r.intent(&b0, &i).unwrap();
    assert_eq!(r.pf.position(0), qty(1.234));
    assert_eq!(r.trips.len(), 0);
    let b1 = flat(1, 100.0);
    r.open(&b1);
    for (size, side, why) in [
        (
            OrderSize::Qty(qty(0.000_9)),
            Side::Buy,
            RejectReason::ZeroQuantity,
        ),
        (
            OrderSize::Qty(qty(0.09)),
            Side::Buy,
            RejectReason::BelowMinNotional,
        ),
        (
            OrderSize::Qty(qty(1_000.0)),
            Side::Buy,
            RejectReason::InsufficientCash,
        ),
        (
            OrderSize::Qty(qty(2.0)),
            Side::Sell,
            RejectReason::InsufficientPosition,
        ),
        (OrderSize::AllCash, Side::Sell, RejectReason::InvalidSize),
    ] {
        let e = r
            .intent(&b1, &intent(&b1, side, size, 0.0, 0.0))
            .unwrap_err();
        assert_eq!(e.reason, why, "{size:?} {side:?}");
        assert_eq!(e.order, None);
    }
    // Sell 1.234 at 100·0.999 = 99.9; the whole position may go below the minimum notional.
    r.intent(&b1, &sell(&b1)).unwrap();
    assert_eq!(r.trips[0].entry_price, 100.1);
    assert_eq!(r.trips[0].exit_price, 99.9);
    assert_eq!(r.pf.position(0), Qty::ZERO);
    assert_eq!(r.ex.stats().rejected, 5);
}

#[test]
fn stop_loss_gap_through_fills_at_the_open() {
    let mut r = Rig::close(0.001);
    let b0 = flat(0, 100.0);
    r.open(&b0);
    r.intent(&b0, &buy(&b0, 0.02, 0.06)).unwrap();
    let s = r.ex.stop_levels(0).unwrap();
    assert_eq!(
        (s.entry_bar, s.stop_loss, s.take_profit),
        (0, Some(price(98.0)), Some(price(106.0)))
    );
    // Bar 1 never touches the levels; bar 2 opens below the stop.
    assert!(r.open(&bar(1, 100.0, 105.0, 98.5, 99.0)).is_empty());
    let f = r.open(&bar(2, 97.0, 99.0, 96.0, 98.5));
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].price, f[0].reason, f[0].ts, f[0].liquidity),
        (
            price(97.0),
            OrderReason::StopLoss,
            2 * HOUR,
            Liquidity::Taker
        )
    );
    assert_eq!(r.orders[0].kind, OrderKind::Market);
    assert_eq!(r.trips[0].exit_reason, ExitReason::StopLoss);
    assert_eq!(r.ex.stats().gap_fills, 1);
    assert_eq!(r.ex.stop_levels(0), None);
}

#[test]
fn stop_loss_intrabar_fills_at_the_stop_and_wins_over_take_profit() {
    let mut r = Rig::close(0.0);
    let b0 = flat(0, 100.0);
    r.open(&b0);
    r.intent(&b0, &buy(&b0, 0.02, 0.06)).unwrap();
    // Touches both 98 and 106: the stop-loss wins, at its price.
    let f = r.open(&bar(1, 100.0, 107.0, 97.0, 101.0));
    assert_eq!(
        (f[0].price, f[0].reason, f[0].ts),
        (price(98.0), OrderReason::StopLoss, 2 * HOUR)
    );
    assert_eq!(
        r.ex.stats(),
        ExecutorStats {
            orders: 2,
            fills: 2,
            stop_losses: 1,
            ..ExecutorStats::default()
        }
    );
}

#[test]
fn take_profit_is_a_maker_limit_and_gaps_fill_at_the_open() {
    let c = ExecutorConfig {
        maker_fee: 0.0002,
        taker_fee: 0.001,
        slippage_bps: 50.0,
        ..ExecutorConfig::default()
    };
    let mut r = Rig::new(c, InstrumentFilters::NONE);
    let b0 = flat(0, 100.0);
    r.open(&b0);
    r.intent(&b0, &buy(&b0, 0.0, 0.05)).unwrap();
    // Entry 100.5 (slippage); take = 105.525. Bar 1 touches it intrabar.
    assert_eq!(
        r.ex.stop_levels(0).unwrap().take_profit,
        Some(price(105.525))
    );
    let f = r.open(&bar(1, 101.0, 106.0, 100.0, 104.0));
    assert_eq!(
        (f[0].price, f[0].liquidity, f[0].reason),
        (price(105.525), Liquidity::Maker, OrderReason::TakeProfit)
    );
    assert!((f[0].fee - notional(f[0].price, f[0].qty) * 0.0002).abs() < 1e-12);
    assert_eq!(r.orders[0].kind, OrderKind::Limit(price(105.525)));
    // Again, now gapping above the take price: filled at the open, no slippage.
    let b2 = flat(2, 100.0);
    r.open(&b2);
    r.intent(&b2, &buy(&b2, 0.0, 0.05)).unwrap();
    let f = r.open(&bar(3, 110.0, 111.0, 109.0, 110.0));
    assert_eq!(
        (f[0].price, f[0].reason),
        (price(110.0), OrderReason::TakeProfit)
    );
    assert_eq!(r.ex.stats().gap_fills, 1);
    assert_eq!(r.trips.len(), 2);
    assert_eq!(r.trips[1].exit_reason, ExitReason::TakeProfit);
}

#[test]
fn no_re_entry_on_the_bar_of_a_stop_exit() {
    let mut r = Rig::close(0.001);
    let b0 = flat(0, 100.0);
    r.open(&b0);
    r.intent(&b0, &buy(&b0, 0.02, 0.0)).unwrap();
    let b1 = bar(1, 99.0, 99.5, 97.0, 99.0);
    assert_eq!(r.open(&b1).len(), 1);
    let e = r.intent(&b1, &buy(&b1, 0.02, 0.0)).unwrap_err();
    assert_eq!(
        (e.reason, e.decision),
        (RejectReason::OrderAlreadyOnBar, b1.decision)
    );
    assert_eq!(r.pf.position(0), Qty::ZERO);
    assert_eq!(r.ex.stats().dropped_same_bar, 1);
    // The next bar may enter again.
    let b2 = flat(2, 99.0);
    r.open(&b2);
    r.intent(&b2, &buy(&b2, 0.02, 0.0)).unwrap();
    assert!(r.pf.position(0) > Qty::ZERO);
    // Two orders on one bar under `close` are refused too.
    assert_eq!(
        r.intent(&b2, &sell(&b2)).unwrap_err().reason,
        RejectReason::OrderAlreadyOnBar
    );
}

#[test]
fn next_open_fills_at_the_next_open_and_checks_stops_from_the_bar_after() {
    let c = ExecutorConfig {
        fill: FillConvention::NextOpen,
        ..ExecutorConfig::default()
    };
    let mut r = Rig::new(c, InstrumentFilters::NONE);
    let b0 = flat(0, 100.0);
    r.open(&b0);
    let o = r.intent(&b0, &buy(&b0, 0.02, 0.0)).unwrap();
    assert_eq!(r.ex.pending_order(0), Some(o));
    assert_eq!(r.pf.position(0), Qty::ZERO);
    // A second intent for the same next open is dropped.
    assert_eq!(
        r.intent(&b0, &buy(&b0, 0.0, 0.0)).unwrap_err().reason,
        RejectReason::OrderAlreadyOnBar
    );
    // Bar 1 opens at 102 (the fill, stop 99.96) and trades down to 90: no stop on the entry bar.
    let b1 = bar(1, 102.0, 102.0, 90.0, 95.0);
    let f = r.open(&b1);
    assert_eq!(
        (f.len(), f[0].price, f[0].ts, f[0].bar_start),
        (1, price(102.0), HOUR, HOUR)
    );
    assert_eq!(r.ex.stop_levels(0).unwrap().stop_loss, Some(price(99.96)));
    // Bar 1 signals an exit; bar 2 opens at 94 and its low 93 is below the stop too: the
    // pending exit fills at the open as a signal, and no stop runs on that bar.
    r.intent(&b1, &sell(&b1)).unwrap();
    let f = r.open(&bar(2, 94.0, 96.0, 93.0, 95.0));
    assert_eq!(
        (f.len(), f[0].price, f[0].reason),
        (1, price(94.0), OrderReason::Signal)
    );
    assert_eq!(r.trips[0].exit_reason, ExitReason::Signal);
    assert_eq!(r.ex.stats().stop_losses, 0);
}

#[test]
fn next_open_order_on_the_last_bar_never_fills_and_is_reported() {
    let c = ExecutorConfig {
        fill: FillConvention::NextOpen,
        ..ExecutorConfig::default()
    };
    let mut r = Rig::new(c, InstrumentFilters::NONE);
    let last = flat(7, 100.0);
    r.open(&last);
    let o = r.intent(&last, &buy(&last, 0.0, 0.0)).unwrap();
    let mut rejections = Vec::new();
    r.ex.finish(&mut rejections);
    assert_eq!(rejections.len(), 1);
    assert_eq!(
        (rejections[0].order, rejections[0].reason),
        (Some(o.id), RejectReason::NeverFilled)
    );
    assert_eq!(r.ex.pending_order(0), None);
    assert_eq!(r.ex.stats().never_filled, 1);
    assert_eq!(r.ex.lifecycle(), Lifecycle::Stopped);
    assert_eq!(r.pf.position(0), Qty::ZERO);
}

#[test]
fn a_pending_sell_with_nothing_to_sell_is_rejected_at_the_open() {
    let c = ExecutorConfig {
        fill: FillConvention::NextOpen,
        ..ExecutorConfig::default()
    };
    let mut r = Rig::new(c, InstrumentFilters::NONE);
    let b0 = flat(0, 100.0);
    r.open(&b0);
    let o = r.intent(&b0, &sell(&b0)).unwrap();
    assert!(r.open(&flat(1, 100.0)).is_empty());
    assert_eq!(r.rejections.len(), 1);
    assert_eq!(
        (r.rejections[0].order, r.rejections[0].reason),
        (Some(o.id), RejectReason::ZeroQuantity)
    );
}

#[test]
fn invalid_intents_are_rejected() {
    let mut r = Rig::close(0.001);
    let b0 = flat(0, 100.0);
    r.open(&b0);
    assert_eq!(
        r.intent(&b0, &buy(&b0, 1.5, 0.0)).unwrap_err().reason,
        RejectReason::InvalidStop
    );
    assert_eq!(
        r.intent(&b0, &buy(&b0, 0.0, f64::NAN)).unwrap_err().reason,
        RejectReason::InvalidStop
    );
    let mut other = buy(&b0, 0.0, 0.0);
    other.symbol = 3;
    assert_eq!(
        r.intent(&b0, &other).unwrap_err().reason,
        RejectReason::UnknownSymbol
    );
    assert_eq!(r.pf.cash(), 10_000.0);
}
