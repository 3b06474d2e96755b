//! Proptest: an intent that passes never exceeds a configured limit.

use super::*;

/// Which limits a proptest case switches on.
fn arb_config() -> impl Strategy<Value = RiskConfig> {
    (
        prop_oneof![Just(0.0), 10.0..5_000.0f64],
        prop_oneof![Just(0.0), 10.0..8_000.0f64],
        prop_oneof![Just(0.0), 0.05..1.5f64],
        prop_oneof![Just(0.0), 0.001..0.1f64],
        0u32..4,
        0u32..3,
        prop_oneof![Just(1.0), 0.0..1.0f64],
        any::<bool>(),
    )
        .prop_map(
            |(order, pos, gross, band, rate, open, volatile, filters)| RiskConfig {
                max_order_notional: order,
                max_position_notional: pos,
                max_gross_exposure: gross,
                price_band: band,
                max_orders_per_second: rate,
                max_open_orders: open,
                exchange_filters: filters,
                regime_scaling: RegimeScaling {
                    volatile,
                    ..RegimeScaling::default()
                },
                ..RiskConfig::default()
            },
        )
}

proptest! {
    #[test]
    fn a_passed_intent_never_exceeds_a_limit(
        cfg in arb_config(),
        last in 0.5..50_000.0f64,
        held in proptest::collection::vec(prop_oneof![Just(0.0), 0.0..5.0f64], 2),
        cash in 0.0..20_000.0f64,
        volatile in any::<bool>(),
        intents in proptest::collection::vec(
            (any::<bool>(), prop_oneof![Just(-1.0), 0.0..3.0f64], -0.2..0.2f64, 0i64..400_000_000),
            1..12,
        ),
    ) {
        let filters = InstrumentFilters {
            tick_size: Price::from_f64(0.01).unwrap(),
            step_size: q(0.0001),
            min_notional: 5.0,
        };
        let mut r = RiskManager::new(cfg.clone(), &[filters; 2]).unwrap();
        let mut ev = Vec::new();
        r.on_market(0, last, T0, &mut ev);
        r.on_market(1, last, T0, &mut ev);
        if volatile {
            r.on_regime(&regime(0, RegimeLabel::Volatile));
        }
        let mut v = PortfolioView::cash_only(cash);
        v.last_prices = [last; MAX_SYMBOLS];
        v.positions[0] = held[0];
        v.positions[1] = held[1];
        v.equity = cash + (held[0] + held[1]) * last;
        let held_value = held[0] * last;
        let gross = (held[0] + held[1]) * last;
        let m = if volatile { cfg.regime_scaling.volatile } else { 1.0 };
        let mut now = T0;
        let mut passed_times = Vec::new();
        for (is_buy, size, off, dt) in intents {
            now += dt;
            let size = if size < 0.0 {
                if is_buy { OrderSize::AllCash } else { OrderSize::AllPosition }
            } else {
                OrderSize::Qty(q(size))
            };
            let side = if is_buy { Side::Buy } else { Side::Sell };
            let it = intent(0, side, size, last * (1.0 + off));
            let Verdict::Pass(p) = r.check_intent(&it, &v, now, &mut ev) else { continue };
            passed_times.push((now, side == Side::Buy));
            let price = Price::from_f64(p.reference_price).unwrap();
            if cfg.exchange_filters {
                prop_assert_eq!(price.units() % filters.tick_size.units(), 0);
            }
            if side == Side::Sell {
                if let OrderSize::Qty(x) = p.size {
                    prop_assert!(x.to_f64() <= held[0] && x.units() > 0);
                }
                continue;
            }
            let n = match p.size {
                OrderSize::Qty(x) => {
                    prop_assert!(x.units() > 0);
                    if cfg.exchange_filters {
                        prop_assert_eq!(x.units() % filters.step_size.units(), 0);
                    }
                    notional(price, x)
                }
                OrderSize::AllCash => cash,
                OrderSize::AllPosition => { prop_assert!(false, "buy of AllPosition passed"); 0.0 }
            };
            let tol = 1e-9 * (1.0 + v.equity + n);
            if cfg.max_order_notional > 0.0 {
                prop_assert!(n <= cfg.max_order_notional + tol, "order {} > {}", n, cfg.max_order_notional);
            }
            if cfg.max_position_notional > 0.0 {
                prop_assert!(held_value + n <= cfg.max_position_notional + tol);
            }
            if cfg.max_gross_exposure > 0.0 {
                prop_assert!(gross + n <= cfg.max_gross_exposure * v.equity + tol);
            }
            if m < 1.0 {
                prop_assert!(held_value + n <= m * v.equity + tol);
            }
            if cfg.price_band > 0.0 {
                prop_assert!((p.reference_price - last).abs() / last <= cfg.price_band);
            }
            if cfg.exchange_filters {
                prop_assert!(n >= filters.min_notional);
            }
        }
        // A buy passes only when fewer than the limit orders (sells included) passed in the
        // second before it.
        if cfg.max_orders_per_second > 0 {
            for (k, (t, is_buy)) in passed_times.iter().enumerate() {
                let before = passed_times[..k]
                    .iter()
                    .filter(|(s, _)| *s > t - window::SECOND_NS)
                    .count();
                prop_assert!(!is_buy || before < cfg.max_orders_per_second as usize);
            }
        }
        // Every event names its check's limit and the intent's symbol.
        for e in &ev {
            prop_assert!(e.symbol == Some(0) || e.check == RiskCheck::StaleData);
        }
    }
}
