//! The pre-trade checks: how one intent is judged (entries, reductions, flatten), and the
//! staleness test. Owns the decision logic only; state changes beyond the rate window and the
//! stale flags belong to the actor's message handlers in `mod.rs`.

use super::view::valid_price;
use super::{PortfolioView, RiskManager, Verdict};
use crate::clock::UnixNanos;
use crate::exact::{InstrumentFilters, Price, Qty, notional};
use crate::messages::{
    MAX_SYMBOLS, OrderIntent, OrderReason, OrderSize, RiskAction, RiskCheck, RiskEvent, Side,
};

/// `q` floored onto the step grid, exactly (no round trip through `f64`).
fn floor_to_step(q: Qty, step: Qty) -> Qty {
    let s = step.units();
    if s <= 1 {
        q
    } else {
        Qty::from_units(q.units().div_euclid(s) * s)
    }
}

/// The largest quantity on the step grid whose exact notional at `price` is at most `cap`.
fn qty_for_notional(filters: &InstrumentFilters, price: Price, cap: f64) -> Qty {
    let Ok(mut q) = filters.floor_qty(cap / price.to_f64()) else {
        return Qty::ZERO;
    };
    let step = filters.step_size.units().max(1);
    // cap / price may round up by an ulp: step back until the exact notional fits.
    while q.units() > 0 && notional(price, q) > cap {
        q = Qty::from_units(q.units() - step);
    }
    if q.units() < 0 { Qty::ZERO } else { q }
}

/// The event of a check that bit on `intent`.
fn event(
    intent: &OrderIntent,
    now: UnixNanos,
    check: RiskCheck,
    action: RiskAction,
    value: f64,
    limit: f64,
) -> RiskEvent {
    RiskEvent {
        decision: Some(intent.decision),
        ts: now,
        symbol: Some(intent.symbol),
        check,
        action,
        value,
        limit,
    }
}

/// One sizing limit expressed as room left for the entry's notional.
struct Cap {
    check: RiskCheck,
    /// Notional the entry may have (quote units).
    room: f64,
    /// The observed value reported when it bites, in the check's own unit.
    value: f64,
    /// The configured limit, in the check's own unit.
    limit: f64,
}

impl RiskManager {
    /// Judges one intent against the current state; `in_flight` counts intents passed earlier in
    /// the same batch that are not yet reported as orders.
    pub(super) fn judge(
        &mut self,
        intent: &OrderIntent,
        view: &PortfolioView,
        now: UnixNanos,
        in_flight: usize,
        out: &mut Vec<RiskEvent>,
    ) -> Verdict {
        if intent.reason == OrderReason::Flatten {
            self.rate.record(now);
            return Verdict::Pass(*intent);
        }
        let Some(i) = self.index(intent.symbol) else {
            return self.reject(intent, now, RiskCheck::StaleData, f64::INFINITY, 0.0, out);
        };
        let verdict = match intent.side {
            Side::Sell => self.judge_reduction(intent, i, view, now, out),
            Side::Buy => self.judge_entry(intent, i, view, now, in_flight, out),
        };
        if matches!(verdict, Verdict::Pass(_)) {
            self.rate.record(now);
        }
        verdict
    }

    fn reject(
        &self,
        intent: &OrderIntent,
        now: UnixNanos,
        check: RiskCheck,
        value: f64,
        limit: f64,
        out: &mut Vec<RiskEvent>,
    ) -> Verdict {
        out.push(event(
            intent,
            now,
            check,
            RiskAction::Rejected,
            value,
            limit,
        ));
        Verdict::Reject(check)
    }

    /// The exact price an intent is checked (and sent) at: its reference price on the tick
    /// grid (only the 10⁻⁸ grid when filters are off). `None` when unusable.
    fn exact_price(&self, i: usize, reference: f64) -> Option<Price> {
        if !valid_price(reference) {
            return None;
        }
        let f = if self.config.exchange_filters {
            self.filters[i]
        } else {
            InstrumentFilters::NONE
        };
        f.round_price(reference).ok().filter(|p| p.units() > 0)
    }

    fn active_filters(&self, i: usize) -> InstrumentFilters {
        if self.config.exchange_filters {
            self.filters[i]
        } else {
            InstrumentFilters::NONE
        }
    }

    /// Sells: exempt from entry limits, halts and staleness; put on the grid and cut to what is
    /// held.
    fn judge_reduction(
        &mut self,
        intent: &OrderIntent,
        i: usize,
        view: &PortfolioView,
        now: UnixNanos,
        out: &mut Vec<RiskEvent>,
    ) -> Verdict {
        let held = view.held(intent.symbol);
        let mut passed = *intent;
        if let Some(p) = self.exact_price(i, intent.reference_price) {
            passed.reference_price = p.to_f64();
        }
        match intent.size {
            OrderSize::AllPosition => {
                if held <= 0.0 {
                    return self.reject(intent, now, RiskCheck::MaxPosition, 0.0, 0.0, out);
                }
                Verdict::Pass(passed)
            }
            OrderSize::AllCash => {
                // Selling "all cash" is meaningless for a spot long-only book.
                self.reject(intent, now, RiskCheck::StepSize, 0.0, 0.0, out)
            }
            OrderSize::Qty(q) => {
                let filters = self.active_filters(i);
                if held <= 0.0 {
                    return self.reject(intent, now, RiskCheck::MaxPosition, q.to_f64(), 0.0, out);
                }
                if q.to_f64() > held {
                    out.push(event(
                        intent,
                        now,
                        RiskCheck::MaxPosition,
                        RiskAction::Reduced,
                        q.to_f64(),
                        held,
                    ));
                    passed.size = OrderSize::AllPosition;
                    return Verdict::Pass(passed);
                }
                let fq = floor_to_step(q, filters.step_size);
                if fq.units() <= 0 {
                    let step = filters.step_size.to_f64();
                    return self.reject(intent, now, RiskCheck::StepSize, q.to_f64(), step, out);
                }
                if let Some(p) = self.exact_price(i, intent.reference_price) {
                    let n = notional(p, fq);
                    if n < filters.min_notional {
                        let m = filters.min_notional;
                        return self.reject(intent, now, RiskCheck::MinNotional, n, m, out);
                    }
                }
                passed.size = OrderSize::Qty(fq);
                Verdict::Pass(passed)
            }
        }
    }

    /// Marks symbol `i` stale when its data is older than `stale_after_ns` at `now` (emitting
    /// the `Halted` transition once). Returns the data's age when stale (∞ when there is no
    /// data at all, which is stale even with the check off: an entry cannot be priced).
    pub(super) fn check_stale(
        &mut self,
        i: usize,
        now: UnixNanos,
        out: &mut Vec<RiskEvent>,
    ) -> Option<f64> {
        if self.last_ts[i] == i64::MIN || !valid_price(self.last_price[i]) {
            return Some(f64::INFINITY);
        }
        let limit = self.config.stale_after_ns;
        let age = now.saturating_sub(self.last_ts[i]);
        if limit == 0 || age <= limit {
            return None;
        }
        if !self.stale[i] {
            self.stale[i] = true;
            out.push(RiskEvent {
                decision: None,
                ts: now,
                symbol: u16::try_from(i).ok(),
                check: RiskCheck::StaleData,
                action: RiskAction::Halted,
                value: age as f64,
                limit: limit as f64,
            });
        }
        Some(age as f64)
    }

    /// Buys: every check, in the order of the module doc.
    fn judge_entry(
        &mut self,
        intent: &OrderIntent,
        i: usize,
        view: &PortfolioView,
        now: UnixNanos,
        in_flight: usize,
        out: &mut Vec<RiskEvent>,
    ) -> Verdict {
        if self.is_halted() {
            return self.reject(intent, now, RiskCheck::Halted, 1.0, 0.0, out);
        }
        if let Some(age) = self.check_stale(i, now, out) {
            let limit = self.config.stale_after_ns as f64;
            return self.reject(intent, now, RiskCheck::StaleData, age, limit, out);
        }
        let c = &self.config;
        let last = self.last_price[i];
        let Some(price) = self.exact_price(i, intent.reference_price) else {
            let band = c.price_band;
            return self.reject(
                intent,
                now,
                RiskCheck::PriceBand,
                intent.reference_price,
                band,
                out,
            );
        };
        let p = price.to_f64();
        if c.price_band > 0.0 {
            let dev = (p - last).abs() / last;
            if dev.is_nan() || dev > c.price_band {
                let band = c.price_band;
                return self.reject(intent, now, RiskCheck::PriceBand, dev, band, out);
            }
        }
        if c.max_orders_per_second > 0 && !self.rate.allows(now) {
            let (n, lim) = (self.rate.count(now), c.max_orders_per_second);
            return self.reject(
                intent,
                now,
                RiskCheck::OrderRate,
                n as f64,
                f64::from(lim),
                out,
            );
        }
        let open = self.open.len() + in_flight;
        if c.max_open_orders > 0 && open >= c.max_open_orders as usize {
            let lim = f64::from(c.max_open_orders);
            return self.reject(intent, now, RiskCheck::MaxOpenOrders, open as f64, lim, out);
        }
        let filters = self.active_filters(i);
        // The requested notional: an exact quantity on the step grid, or all the cash.
        let (requested, mut size) = match intent.size {
            OrderSize::Qty(q) => {
                let fq = floor_to_step(q, filters.step_size);
                (notional(price, fq), OrderSize::Qty(fq))
            }
            OrderSize::AllCash => (view.cash.max(0.0), OrderSize::AllCash),
            OrderSize::AllPosition => {
                // Buying "all position" is meaningless for a spot long-only book.
                return self.reject(intent, now, RiskCheck::StepSize, 0.0, 0.0, out);
            }
        };
        let caps = self.caps(i, view, requested);
        if let Some(cap) = caps
            .iter()
            .flatten()
            .find(|cap| cap.room.is_nan() || cap.room <= 0.0)
        {
            let (check, value, limit) = (cap.check, cap.value, cap.limit);
            return self.reject(intent, now, check, value, limit, out);
        }
        let mut allowed = requested;
        for cap in caps.iter().flatten() {
            if requested > cap.room {
                out.push(event(
                    intent,
                    now,
                    cap.check,
                    RiskAction::Reduced,
                    cap.value,
                    cap.limit,
                ));
                allowed = allowed.min(cap.room);
            }
        }
        if allowed < requested {
            size = OrderSize::Qty(qty_for_notional(&filters, price, allowed));
        }
        // Exchange filters on the final size.
        let (qty_est, notional_est) = match size {
            OrderSize::Qty(q) => (q, notional(price, q)),
            _ => {
                let cash = view.cash.max(0.0);
                (filters.floor_qty(cash / p).unwrap_or(Qty::ZERO), cash)
            }
        };
        if qty_est.units() <= 0 {
            let requested_qty = match intent.size {
                OrderSize::Qty(q) => q.to_f64(),
                _ => view.cash.max(0.0) / p,
            };
            let step = filters.step_size.to_f64();
            return self.reject(intent, now, RiskCheck::StepSize, requested_qty, step, out);
        }
        if notional_est < filters.min_notional {
            let m = filters.min_notional;
            return self.reject(intent, now, RiskCheck::MinNotional, notional_est, m, out);
        }
        let mut passed = *intent;
        passed.size = size;
        passed.reference_price = p;
        Verdict::Pass(passed)
    }

    /// The sizing limits that are on, as room for an entry of symbol `i` whose requested
    /// notional is `requested`.
    fn caps(&self, i: usize, view: &PortfolioView, requested: f64) -> [Option<Cap>; 4] {
        let c = &self.config;
        let held_value = view.positions[i].max(0.0) * self.price(i, view);
        let equity = view.equity;
        let gross: f64 = (0..MAX_SYMBOLS)
            .filter(|j| view.positions[*j].is_finite() && view.positions[*j] != 0.0)
            .map(|j| {
                let p = self.price(j, view);
                if valid_price(p) {
                    view.positions[j].abs() * p
                } else {
                    0.0
                }
            })
            .sum();
        let m = c.regime_scaling.multiplier(self.regime[i]);
        [
            (c.max_order_notional > 0.0).then_some(Cap {
                check: RiskCheck::MaxOrderNotional,
                room: c.max_order_notional,
                value: requested,
                limit: c.max_order_notional,
            }),
            (c.max_position_notional > 0.0).then_some(Cap {
                check: RiskCheck::MaxPosition,
                room: c.max_position_notional - held_value,
                value: held_value + requested,
                limit: c.max_position_notional,
            }),
            (c.max_gross_exposure > 0.0).then_some(Cap {
                check: RiskCheck::MaxGrossExposure,
                room: c.max_gross_exposure * equity - gross,
                value: (gross + requested) / equity,
                limit: c.max_gross_exposure,
            }),
            (m < 1.0).then_some(Cap {
                check: RiskCheck::RegimeScaling,
                room: m * equity - held_value,
                value: (held_value + requested) / equity,
                limit: m,
            }),
        ]
    }
}
