//! One table per pre-trade check: at and below the limit it passes untouched, just past it it
//! reduces or rejects with a recorded event.

use super::*;

#[test]
fn max_order_notional_bites_just_above_the_limit() {
    let cfg = RiskConfig {
        max_order_notional: 1_000.0,
        ..RiskConfig::default()
    };
    let all_cash = intent(0, Side::Buy, OrderSize::AllCash, 100.0);
    let cases = [
        ("below", buy(0, 9.999), Want::Pass(qty_size(9.999))),
        ("at", buy(0, 10.0), Want::Pass(qty_size(10.0))),
        (
            "just above",
            buy(0, 10.001),
            Want::Reduced(qty_size(10.0), RiskCheck::MaxOrderNotional),
        ),
        (
            "all cash",
            all_cash,
            Want::Reduced(qty_size(10.0), RiskCheck::MaxOrderNotional),
        ),
    ];
    for (name, i, want) in cases {
        let mut r = manager(cfg.clone(), 1);
        assert_want(name, check(&mut r, &i, &flat(), T0), want);
    }
    let mut r = manager(cfg, 1);
    let (_, ev) = check(&mut r, &buy(0, 10.001), &flat(), T0);
    assert!(
        (ev[0].value - 1_000.1).abs() < 1e-9 && ev[0].limit == 1_000.0,
        "{ev:?}"
    );
    let mut off = manager(RiskConfig::default(), 1);
    assert_want(
        "off",
        check(&mut off, &buy(0, 99.0), &flat(), T0),
        Want::Pass(qty_size(99.0)),
    );
}

#[test]
fn max_position_bites_just_above_the_limit() {
    let cfg = RiskConfig {
        max_position_notional: 5_000.0,
        ..RiskConfig::default()
    };
    let cases = [
        (
            "below",
            holding(0, 40.0),
            buy(0, 9.999),
            Want::Pass(qty_size(9.999)),
        ),
        (
            "at",
            holding(0, 40.0),
            buy(0, 10.0),
            Want::Pass(qty_size(10.0)),
        ),
        (
            "just above",
            holding(0, 40.0),
            buy(0, 10.001),
            Want::Reduced(qty_size(10.0), RiskCheck::MaxPosition),
        ),
        (
            "full",
            holding(0, 50.0),
            buy(0, 0.001),
            Want::Reject(RiskCheck::MaxPosition),
        ),
        (
            "other symbol",
            holding(1, 50.0),
            buy(0, 50.0),
            Want::Pass(qty_size(50.0)),
        ),
    ];
    for (name, v, i, want) in cases {
        let mut r = manager(cfg.clone(), 2);
        assert_want(name, check(&mut r, &i, &v, T0), want);
    }
}

#[test]
fn max_gross_exposure_bites_just_above_the_limit() {
    let cfg = RiskConfig {
        max_gross_exposure: 0.5,
        ..RiskConfig::default()
    };
    // Symbol 1 holds 3 000 of 10 000 equity: room for 2 000 more.
    let cases = [
        (
            "below",
            holding(1, 30.0),
            buy(0, 19.999),
            Want::Pass(qty_size(19.999)),
        ),
        (
            "at",
            holding(1, 30.0),
            buy(0, 20.0),
            Want::Pass(qty_size(20.0)),
        ),
        (
            "just above",
            holding(1, 30.0),
            buy(0, 20.001),
            Want::Reduced(qty_size(20.0), RiskCheck::MaxGrossExposure),
        ),
        (
            "full",
            holding(1, 50.0),
            buy(0, 0.001),
            Want::Reject(RiskCheck::MaxGrossExposure),
        ),
    ];
    for (name, v, i, want) in cases {
        let mut r = manager(cfg.clone(), 2);
        assert_want(name, check(&mut r, &i, &v, T0), want);
    }
    let mut r = manager(cfg, 2);
    let (_, ev) = check(&mut r, &buy(0, 30.0), &holding(1, 30.0), T0);
    assert!(
        (ev[0].value - 0.6).abs() < 1e-12 && ev[0].limit == 0.5,
        "{ev:?}"
    );
}

#[test]
fn price_band_bites_just_outside_the_band() {
    let cfg = RiskConfig {
        price_band: 0.01,
        ..RiskConfig::default()
    };
    let at = |p| intent(0, Side::Buy, qty_size(1.0), p);
    let cases = [
        ("inside", at(100.5), Want::Pass(qty_size(1.0))),
        ("at upper", at(101.0), Want::Pass(qty_size(1.0))),
        ("at lower", at(99.0), Want::Pass(qty_size(1.0))),
        ("above", at(101.01), Want::Reject(RiskCheck::PriceBand)),
        ("below", at(98.99), Want::Reject(RiskCheck::PriceBand)),
        ("nonsense", at(f64::NAN), Want::Reject(RiskCheck::PriceBand)),
    ];
    for (name, i, want) in cases {
        let mut r = manager(cfg.clone(), 1);
        assert_want(name, check(&mut r, &i, &flat(), T0), want);
    }
    let mut off = manager(RiskConfig::default(), 1);
    assert_want(
        "off",
        check(&mut off, &at(150.0), &flat(), T0),
        Want::Pass(qty_size(1.0)),
    );
    // A passed reference price is put on the tick grid.
    let (v, _) = check(&mut off, &at(100.004), &flat(), T0);
    assert!(
        matches!(v, Verdict::Pass(i) if i.reference_price == 100.0),
        "{v:?}"
    );
}

#[test]
fn order_rate_bites_at_the_limit_within_one_second() {
    let cfg = RiskConfig {
        max_orders_per_second: 3,
        ..RiskConfig::default()
    };
    let mut r = manager(cfg, 1);
    let v = holding(0, 10.0);
    let sell = intent(0, Side::Sell, qty_size(1.0), 100.0);
    let s = window::SECOND_NS;
    // (time offset, intent, want): a sell counts in the window but is never limited.
    let steps = [
        (0, buy(0, 1.0), Want::Pass(qty_size(1.0))),
        (1, buy(0, 1.0), Want::Pass(qty_size(1.0))),
        (2, sell, Want::Pass(qty_size(1.0))),
        (3, buy(0, 1.0), Want::Reject(RiskCheck::OrderRate)),
        (4, sell, Want::Pass(qty_size(1.0))),
        (s - 1, buy(0, 1.0), Want::Reject(RiskCheck::OrderRate)),
        (s + 1, buy(0, 1.0), Want::Pass(qty_size(1.0))),
        // Window (2, s + 2]: the sell at 4 and the buy at s + 1.
        (s + 2, buy(0, 1.0), Want::Pass(qty_size(1.0))),
        (s + 3, buy(0, 1.0), Want::Reject(RiskCheck::OrderRate)),
    ];
    for (k, (dt, i, want)) in steps.into_iter().enumerate() {
        assert_want(&format!("step {k}"), check(&mut r, &i, &v, T0 + dt), want);
    }
    let (_, ev) = check(&mut r, &buy(0, 1.0), &v, T0 + s + 3);
    assert_eq!((ev[0].value, ev[0].limit), (3.0, 3.0));
}

#[test]
fn max_open_orders_bites_at_the_limit() {
    let cfg = RiskConfig {
        max_open_orders: 2,
        ..RiskConfig::default()
    };
    let cases: [(&str, &[u64], &[u64], Want); 4] = [
        ("none open", &[], &[], Want::Pass(qty_size(1.0))),
        ("one open", &[1], &[], Want::Pass(qty_size(1.0))),
        (
            "at limit",
            &[1, 2],
            &[],
            Want::Reject(RiskCheck::MaxOpenOrders),
        ),
        ("one filled", &[1, 2], &[1], Want::Pass(qty_size(1.0))),
    ];
    for (name, sent, filled, want) in cases {
        let mut r = manager(cfg.clone(), 1);
        sent.iter().for_each(|id| r.on_order(&order(*id)));
        filled.iter().for_each(|id| r.on_fill(&fill(*id)));
        assert_want(name, check(&mut r, &buy(0, 1.0), &flat(), T0), want);
    }
    // Within one batch, intents already passed count as open.
    let mut r = manager(
        RiskConfig {
            max_open_orders: 1,
            ..RiskConfig::default()
        },
        2,
    );
    let (intents, ev) = targets(&mut r, AllocationMethod::Cara, &[0.25, 0.25], &flat());
    assert_eq!(intents.len(), 1);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].check, ev[0].symbol),
        (RiskCheck::MaxOpenOrders, Some(1))
    );
}

#[test]
fn step_size_and_min_notional_bite_after_exact_rounding() {
    let with_min = InstrumentFilters {
        min_notional: 10.0,
        ..grid()
    };
    let cases = [
        (
            "below step",
            grid(),
            buy(0, 0.0009),
            Want::Reject(RiskCheck::StepSize),
        ),
        (
            "one step",
            grid(),
            buy(0, 0.001),
            Want::Pass(qty_size(0.001)),
        ),
        (
            "floored",
            grid(),
            buy(0, 0.0019),
            Want::Pass(qty_size(0.001)),
        ),
        (
            "at min notional",
            with_min,
            buy(0, 0.1),
            Want::Pass(qty_size(0.1)),
        ),
        (
            "below min notional",
            with_min,
            buy(0, 0.099),
            Want::Reject(RiskCheck::MinNotional),
        ),
    ];
    for (name, f, i, want) in cases {
        let mut r = manager_with(RiskConfig::default(), 1, f);
        assert_want(name, check(&mut r, &i, &flat(), T0), want);
    }
    // Filters off: only the 10⁻⁸ grid.
    let off = RiskConfig {
        exchange_filters: false,
        ..RiskConfig::default()
    };
    let mut r = manager_with(off, 1, with_min);
    assert_want(
        "off",
        check(&mut r, &buy(0, 0.0009), &flat(), T0),
        Want::Pass(qty_size(0.0009)),
    );
    // A sell is put on the grid too, and rejected when it rounds to nothing.
    let mut r = manager_with(RiskConfig::default(), 1, with_min);
    let v = holding(0, 1.0);
    let sell = |x| intent(0, Side::Sell, qty_size(x), 100.0);
    assert_want(
        "sell floored",
        check(&mut r, &sell(0.1009), &v, T0),
        Want::Pass(qty_size(0.1)),
    );
    assert_want(
        "sell dust",
        check(&mut r, &sell(0.0005), &v, T0),
        Want::Reject(RiskCheck::StepSize),
    );
    assert_want(
        "sell small",
        check(&mut r, &sell(0.05), &v, T0),
        Want::Reject(RiskCheck::MinNotional),
    );
}

#[test]
fn sells_are_cut_to_what_is_held() {
    let mut r = manager(RiskConfig::default(), 1);
    let sell = |x| intent(0, Side::Sell, qty_size(x), 100.0);
    assert_want(
        "within",
        check(&mut r, &sell(2.0), &holding(0, 2.0), T0),
        Want::Pass(qty_size(2.0)),
    );
    assert_want(
        "more than held",
        check(&mut r, &sell(2.001), &holding(0, 2.0), T0),
        Want::Reduced(OrderSize::AllPosition, RiskCheck::MaxPosition),
    );
    assert_want(
        "nothing held",
        check(&mut r, &sell(1.0), &flat(), T0),
        Want::Reject(RiskCheck::MaxPosition),
    );
    let all = intent(0, Side::Sell, OrderSize::AllPosition, 100.0);
    assert_want(
        "all, nothing held",
        check(&mut r, &all, &flat(), T0),
        Want::Reject(RiskCheck::MaxPosition),
    );
}
