//! Kill switch, regime scaling, staleness, operator commands and the weight → intent
//! conversion, each followed through several messages.

use super::*;

#[test]
fn daily_loss_trips_at_the_limit() {
    let cfg = RiskConfig {
        daily_loss_limit: 0.05,
        ..RiskConfig::default()
    };
    let day1 = T0.div_euclid(DAY) * DAY + 3_600_000_000_000;
    // (marks as (ts, equity), trips?)
    let cases: [DayCase<'_>; 5] = [
        (
            "next day just below",
            &[(day1, 10_000.0), (day1 + DAY, 9_500.01)],
            false,
        ),
        (
            "next day at limit",
            &[(day1, 10_000.0), (day1 + DAY, 9_500.0)],
            true,
        ),
        (
            "same day at limit",
            &[(day1, 10_000.0), (day1 + 60, 9_500.0)],
            true,
        ),
        // The day starts from the last equity before it: yesterday's gain is not today's cushion.
        (
            "new baseline",
            &[
                (day1, 10_000.0),
                (day1 + 1, 12_000.0),
                (day1 + DAY, 11_500.0),
            ],
            false,
        ),
        (
            "loss over midnight",
            &[(day1, 10_000.0), (day1 + DAY, 9_400.0)],
            true,
        ),
    ];
    for (name, marks, trips) in cases {
        let mut r = manager(cfg.clone(), 3);
        let (mut intents, mut ev) = (Vec::new(), Vec::new());
        for (ts, e) in marks {
            r.on_equity(&mark(*e), *ts, &mut intents, &mut ev);
        }
        assert_eq!(r.kill_switch().is_some(), trips, "{name}: {ev:?}");
        assert_eq!(ev.len(), usize::from(trips), "{name}");
        if trips {
            assert_eq!(
                (ev[0].check, ev[0].action),
                (RiskCheck::DailyLoss, RiskAction::KillSwitch)
            );
            assert_eq!(ev[0].limit, 0.05);
        }
    }
}

#[test]
fn drawdown_trips_at_the_limit() {
    let cfg = RiskConfig {
        max_drawdown: 0.1,
        ..RiskConfig::default()
    };
    let cases = [
        ("just below", 9_900.01, false),
        ("at limit", 9_900.0, true),
        ("beyond", 5_000.0, true),
    ];
    for (name, e, trips) in cases {
        let mut r = manager(cfg.clone(), 3);
        let (mut intents, mut ev) = (Vec::new(), Vec::new());
        for (k, e) in [10_000.0, 11_000.0, e].into_iter().enumerate() {
            r.on_equity(&mark(e), T0 + k as i64, &mut intents, &mut ev);
        }
        assert_eq!(
            r.kill_switch(),
            trips.then_some(RiskCheck::MaxDrawdown),
            "{name}"
        );
        assert_eq!(ev.len(), usize::from(trips), "{name}");
    }
    // The portfolio's own peak counts (a restarted risk manager keeps the baseline).
    let mut r = manager(cfg, 3);
    let mut v = mark(9_000.0);
    v.peak_equity = 10_000.0;
    let (mut intents, mut ev) = (Vec::new(), Vec::new());
    r.on_equity(&v, T0, &mut intents, &mut ev);
    assert_eq!(r.kill_switch(), Some(RiskCheck::MaxDrawdown));
}

#[test]
fn kill_switch_flattens_halts_entries_and_waits_for_resume() {
    let cfg = RiskConfig {
        max_drawdown: 0.1,
        ..RiskConfig::default()
    };
    let mut r = manager(cfg, 3);
    let (mut intents, mut ev) = (Vec::new(), Vec::new());
    // A decision was seen: flatten intents carry it.
    let _ = check(&mut r, &buy(0, 1.0), &flat(), T0);
    r.on_equity(&mark(10_000.0), T0, &mut intents, &mut ev);
    assert!(intents.is_empty() && ev.is_empty());
    assert_eq!(r.lifecycle(), Lifecycle::Running);
    r.on_equity(&mark(8_500.0), T0 + 1, &mut intents, &mut ev);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].check, ev[0].action),
        (RiskCheck::MaxDrawdown, RiskAction::KillSwitch)
    );
    assert!((ev[0].value - 0.15).abs() < 1e-12);
    // One flatten per held symbol (0 and 2; 1 is flat), whole position, reason Flatten.
    assert_eq!(intents.len(), 2);
    for (it, sym) in intents.iter().zip([0, 2]) {
        assert_eq!(
            (it.symbol, it.side, it.size),
            (sym, Side::Sell, OrderSize::AllPosition)
        );
        assert_eq!(
            (it.reason, it.decision, it.ts),
            (OrderReason::Flatten, DEC, T0 + 1)
        );
        assert_eq!(it.reference_price, 100.0);
    }
    // Halted: entries rejected, reductions and flattens still pass; no second trip.
    assert_eq!(r.lifecycle(), Lifecycle::Degraded);
    assert_want(
        "entry",
        check(&mut r, &buy(0, 1.0), &mark(8_500.0), T0 + 2),
        Want::Reject(RiskCheck::Halted),
    );
    let sell = intent(0, Side::Sell, qty_size(1.0), 100.0);
    assert_want(
        "exit",
        check(&mut r, &sell, &mark(8_500.0), T0 + 2),
        Want::Pass(qty_size(1.0)),
    );
    assert_eq!(
        check(&mut r, &intents[0], &mark(8_500.0), T0 + 2).0,
        Verdict::Pass(intents[0])
    );
    let (mut i2, mut e2) = (Vec::new(), Vec::new());
    r.on_equity(&mark(8_000.0), T0 + 3, &mut i2, &mut e2);
    assert!(i2.is_empty() && e2.is_empty());
    // Targets are not turned into entries while halted.
    let (ti, te) = targets(&mut r, AllocationMethod::Cara, &[0.9], &flat());
    assert!(ti.is_empty());
    assert_eq!(te[0].check, RiskCheck::Halted);
    // Resume: event, entries pass again, and the same equity does not trip at once.
    let resume = Command {
        ts: T0 + 4,
        kind: CommandKind::Resume,
    };
    r.on_command(&resume, &mark(8_000.0), &mut i2, &mut e2);
    assert_eq!(
        (e2[0].check, e2[0].action),
        (RiskCheck::Halted, RiskAction::Resumed)
    );
    assert_eq!(r.kill_switch(), None);
    assert_eq!(r.lifecycle(), Lifecycle::Running);
    assert_want(
        "after resume",
        check(&mut r, &buy(0, 1.0), &flat(), T0 + 5),
        Want::Pass(qty_size(1.0)),
    );
    e2.clear();
    r.on_equity(&mark(8_000.0), T0 + 6, &mut i2, &mut e2);
    assert!(e2.is_empty() && r.kill_switch().is_none());
    assert_eq!(r.equity_baselines(), (8_000.0, 8_000.0));
    r.on_equity(&mark(7_200.0), T0 + 7, &mut i2, &mut e2);
    assert_eq!(
        r.kill_switch(),
        Some(RiskCheck::MaxDrawdown),
        "trips again from the new peak"
    );
}

#[test]
fn flatten_intents_always_pass() {
    let cfg = RiskConfig {
        max_orders_per_second: 1,
        stale_after_ns: 10,
        price_band: 0.001,
        ..RiskConfig::default()
    };
    let mut r = manager(cfg, 1);
    let (mut intents, mut ev) = (Vec::new(), Vec::new());
    let kill = Command {
        ts: T0,
        kind: CommandKind::KillSwitch,
    };
    r.on_command(&kill, &holding(0, 5.0), &mut intents, &mut ev);
    assert_eq!(
        (ev[0].check, ev[0].action),
        (RiskCheck::Halted, RiskAction::KillSwitch)
    );
    let mut flatten = intents[0];
    flatten.reference_price = 1e6; // far outside the band
    // Halted, stale (data 1 s old), rate used up: it still passes, unchanged.
    let (v, ev) = check(&mut r, &flatten, &holding(0, 5.0), T0 + 1_000_000_000);
    assert_eq!(v, Verdict::Pass(flatten));
    assert!(ev.is_empty());
}

#[test]
fn regime_scaling_reduces_exposure() {
    let cfg = RiskConfig {
        regime_scaling: RegimeScaling {
            volatile: 0.5,
            mean_reverting: 0.0,
            ..RegimeScaling::default()
        },
        ..RiskConfig::default()
    };
    // (regime, weight, held, want intent size, want events)
    let cases: [RegimeCase<'_>; 5] = [
        (
            RegimeLabel::Trending,
            1.0,
            0.0,
            Some((Side::Buy, OrderSize::AllCash)),
            &[],
        ),
        (
            RegimeLabel::Volatile,
            1.0,
            0.0,
            Some((Side::Buy, qty_size(50.0))),
            &[RiskCheck::RegimeScaling],
        ),
        (RegimeLabel::Volatile, 1.0, 50.0, None, &[]),
        (
            RegimeLabel::Volatile,
            1.0,
            80.0,
            Some((Side::Sell, qty_size(30.0))),
            &[RiskCheck::RegimeScaling],
        ),
        (
            RegimeLabel::MeanReverting,
            1.0,
            80.0,
            Some((Side::Sell, OrderSize::AllPosition)),
            &[RiskCheck::RegimeScaling],
        ),
    ];
    for (k, (label, w, held, want, want_ev)) in cases.into_iter().enumerate() {
        let mut r = manager(cfg.clone(), 1);
        r.on_regime(&regime(0, label));
        let (intents, ev) = targets(&mut r, AllocationMethod::Signal, &[w], &holding(0, held));
        assert_eq!(
            intents.iter().map(|i| (i.side, i.size)).next(),
            want,
            "case {k}"
        );
        let checks: Vec<_> = ev.iter().map(|e| e.check).collect();
        assert_eq!(checks, want_ev, "case {k}");
        if let Some(e) = ev.first() {
            assert_eq!((e.action, e.value), (RiskAction::Reduced, 1.0));
            assert_eq!(e.limit, cfg.regime_scaling.multiplier(label));
        }
    }
    // Intents made elsewhere are capped at multiplier × equity for the symbol.
    let mut r = manager(cfg.clone(), 1);
    r.on_regime(&regime(0, RegimeLabel::Volatile));
    let all_cash = intent(0, Side::Buy, OrderSize::AllCash, 100.0);
    assert_want(
        "capped",
        check(&mut r, &all_cash, &flat(), T0),
        Want::Reduced(qty_size(50.0), RiskCheck::RegimeScaling),
    );
    assert_want(
        "at cap",
        check(&mut r, &buy(0, 50.0), &flat(), T0),
        Want::Pass(qty_size(50.0)),
    );
    r.on_regime(&regime(0, RegimeLabel::MeanReverting));
    assert_want(
        "zero",
        check(&mut r, &buy(0, 1.0), &flat(), T0),
        Want::Reject(RiskCheck::RegimeScaling),
    );
}

#[test]
fn stale_data_halts_entries_and_recovers_on_fresh_data() {
    let s = 10_000_000_000; // 10 s
    let cfg = RiskConfig {
        stale_after_ns: s,
        ..RiskConfig::default()
    };
    let mut r = manager(cfg, 2);
    assert_want(
        "at the limit",
        check(&mut r, &buy(0, 1.0), &flat(), T0 + s),
        Want::Pass(qty_size(1.0)),
    );
    let (v, ev) = check(&mut r, &buy(0, 1.0), &flat(), T0 + s + 1);
    assert_eq!(v, Verdict::Reject(RiskCheck::StaleData));
    let got: Vec<_> = ev.iter().map(|e| (e.check, e.action, e.symbol)).collect();
    assert_eq!(
        got,
        [
            (RiskCheck::StaleData, RiskAction::Halted, Some(0)),
            (RiskCheck::StaleData, RiskAction::Rejected, Some(0))
        ]
    );
    assert_eq!((ev[0].value, ev[0].limit), ((s + 1) as f64, s as f64));
    assert_eq!(r.lifecycle(), Lifecycle::Degraded);
    // The halt is announced once; exits still pass.
    assert_want(
        "still stale",
        check(&mut r, &buy(0, 1.0), &flat(), T0 + 2 * s),
        Want::Reject(RiskCheck::StaleData),
    );
    let sell = intent(0, Side::Sell, qty_size(1.0), 100.0);
    assert_want(
        "exit",
        check(&mut r, &sell, &holding(0, 2.0), T0 + 2 * s),
        Want::Pass(qty_size(1.0)),
    );
    // The timer finds symbol 1 stale as well.
    let mut ev = Vec::new();
    r.on_clock(T0 + 2 * s, &mut ev);
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].symbol, ev[0].action), (Some(1), RiskAction::Halted));
    // Fresh data resumes each symbol by itself.
    ev.clear();
    r.on_market(0, 101.0, T0 + 3 * s, &mut ev);
    r.on_market(1, 101.0, T0 + 3 * s, &mut ev);
    let got: Vec<_> = ev.iter().map(|e| (e.check, e.action, e.symbol)).collect();
    assert_eq!(
        got,
        [
            (RiskCheck::StaleData, RiskAction::Resumed, Some(0)),
            (RiskCheck::StaleData, RiskAction::Resumed, Some(1))
        ]
    );
    assert_eq!(r.lifecycle(), Lifecycle::Running);
    let b = intent(0, Side::Buy, qty_size(1.0), 101.0);
    assert_want(
        "fresh",
        check(&mut r, &b, &flat(), T0 + 3 * s),
        Want::Pass(qty_size(1.0)),
    );
    // A symbol never priced cannot take an entry even with the check off.
    let mut r = RiskManager::new(RiskConfig::default(), &[grid()]).unwrap();
    assert_eq!(r.lifecycle(), Lifecycle::Starting);
    assert_want(
        "never priced",
        check(&mut r, &buy(0, 1.0), &flat(), T0),
        Want::Reject(RiskCheck::StaleData),
    );
    assert_want(
        "unknown symbol",
        check(&mut r, &buy(5, 1.0), &flat(), T0),
        Want::Reject(RiskCheck::StaleData),
    );
}

#[test]
fn operator_commands() {
    let mut r = manager(RiskConfig::default(), 2);
    let (mut intents, mut ev) = (Vec::new(), Vec::new());
    let cmd = |kind| Command { ts: T0, kind };
    r.on_command(&cmd(CommandKind::Pause), &flat(), &mut intents, &mut ev);
    r.on_command(&cmd(CommandKind::Pause), &flat(), &mut intents, &mut ev);
    assert_eq!(ev.len(), 1, "a second pause changes nothing");
    assert_eq!(
        (ev[0].check, ev[0].action),
        (RiskCheck::Halted, RiskAction::Halted)
    );
    assert!(r.is_halted());
    assert_want(
        "paused",
        check(&mut r, &buy(0, 1.0), &flat(), T0),
        Want::Reject(RiskCheck::Halted),
    );
    r.on_command(&cmd(CommandKind::Resume), &flat(), &mut intents, &mut ev);
    assert_eq!(ev[1].action, RiskAction::Resumed);
    assert!(!r.is_halted());
    // Flatten: one intent per held symbol, no halt.
    r.on_command(
        &cmd(CommandKind::Flatten),
        &holding(1, 3.0),
        &mut intents,
        &mut ev,
    );
    assert_eq!(intents.len(), 1);
    assert_eq!(
        (intents[0].symbol, intents[0].reason),
        (1, OrderReason::Flatten)
    );
    assert!(!r.is_halted() && ev.len() == 2);
    // CancelAll forgets the open orders.
    r.on_order(&order(1));
    r.on_order(&order(2));
    assert_eq!(r.open_orders(), 2);
    r.on_command(&cmd(CommandKind::CancelAll), &flat(), &mut intents, &mut ev);
    assert_eq!(r.open_orders(), 0);
    // Shutdown halts entries for good.
    r.on_command(&cmd(CommandKind::Shutdown), &flat(), &mut intents, &mut ev);
    assert_eq!(r.lifecycle(), Lifecycle::Stopping);
    assert_want(
        "shutting down",
        check(&mut r, &buy(0, 1.0), &flat(), T0),
        Want::Reject(RiskCheck::Halted),
    );
}

#[test]
fn target_weights_become_intents() {
    use AllocationMethod::{Cara, Signal as Sig};
    let nan = f64::NAN;
    // (method, weights, view, want (symbol, side, size) in output order)
    let cases: [TargetCase<'_>; 8] = [
        (Sig, &[1.0], flat(), &[(0, Side::Buy, OrderSize::AllCash)]),
        (Sig, &[1.0], holding(0, 1.0), &[]),
        (
            Sig,
            &[0.0],
            holding(0, 1.0),
            &[(0, Side::Sell, OrderSize::AllPosition)],
        ),
        (Sig, &[0.0], flat(), &[]),
        (Sig, &[nan], holding(0, 1.0), &[]),
        (Cara, &[0.25], flat(), &[(0, Side::Buy, qty_size(25.0))]),
        (
            Cara,
            &[0.25],
            holding(0, 30.0),
            &[(0, Side::Sell, qty_size(5.0))],
        ),
        // Sells first, then buys; a negative weight means flat (spot is long-only).
        (
            Cara,
            &[0.5, -0.2],
            holding(1, 10.0),
            &[
                (1, Side::Sell, OrderSize::AllPosition),
                (0, Side::Buy, qty_size(50.0)),
            ],
        ),
    ];
    for (k, (method, w, v, want)) in cases.into_iter().enumerate() {
        let mut r = manager(RiskConfig::default(), 2);
        let (intents, ev) = targets(&mut r, method, w, &v);
        let got: Vec<_> = intents.iter().map(|i| (i.symbol, i.side, i.size)).collect();
        assert_eq!(got, want, "case {k}");
        assert!(ev.is_empty(), "case {k}: {ev:?}");
        for i in &intents {
            assert_eq!(
                (i.decision, i.ts, i.reason, i.reference_price),
                (DEC, T0, OrderReason::Signal, 100.0)
            );
        }
    }
    // Protective exits come from the signal of the same decision only.
    let mut r = manager(RiskConfig::default(), 1);
    r.on_signal(&signal(DEC, 0.02));
    let (i, _) = targets(&mut r, Sig, &[1.0], &flat());
    assert_eq!((i[0].stop_loss, i[0].take_profit), (0.02, 0.04));
    r.on_signal(&signal(DecisionId(3), 0.02));
    let (i, _) = targets(&mut r, Sig, &[1.0], &flat());
    assert_eq!((i[0].stop_loss, i[0].take_profit), (0.0, 0.0));
}

#[test]
fn defaults_leave_an_all_in_backtest_unchanged() {
    let mut r = manager_with(RiskConfig::default(), 1, InstrumentFilters::NONE);
    for (k, it) in [
        intent(0, Side::Buy, OrderSize::AllCash, 123.456_78),
        intent(0, Side::Sell, OrderSize::AllPosition, 98.765_43),
    ]
    .into_iter()
    .enumerate()
    {
        let v = if it.side == Side::Buy {
            flat()
        } else {
            holding(0, 81.0)
        };
        for t in 0..50 {
            let (verdict, ev) = check(&mut r, &it, &v, T0 + t);
            assert_eq!(verdict, Verdict::Pass(it), "intent {k}");
            assert!(ev.is_empty());
        }
    }
}
