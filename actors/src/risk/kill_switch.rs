//! The kill switch and operator commands of the risk manager: equity baselines (peak and UTC
//! day start), the daily-loss and drawdown trips, flatten intents, pause/resume. Owns the halt
//! state transitions; the pre-trade checks that read the halt live in `checks.rs`.

use super::view::valid_price;
use super::{DAY_NS, PortfolioView, RiskManager};
use crate::clock::UnixNanos;
use crate::messages::{
    Command, CommandKind, OrderIntent, OrderReason, OrderSize, RiskAction, RiskCheck, RiskEvent,
    Side, SymbolId,
};

impl RiskManager {
    /// An equity mark: tracks the peak and the UTC day's start equity (the last equity seen
    /// before the day began, or the day's first mark) and trips the kill switch when the day's
    /// loss reaches `daily_loss_limit` or the drawdown reaches `max_drawdown`: one
    /// `KillSwitch` event, a flatten intent per open position, and entries halted until a
    /// Resume command. Non-finite equity is ignored.
    pub fn on_equity(
        &mut self,
        view: &PortfolioView,
        ts: UnixNanos,
        out_intents: &mut Vec<OrderIntent>,
        out_events: &mut Vec<RiskEvent>,
    ) {
        let e = view.equity;
        if !e.is_finite() {
            return;
        }
        let day = ts.div_euclid(DAY_NS);
        match self.day {
            Some(d) if day <= d => {}
            Some(_) => {
                self.day = Some(day);
                self.day_start_equity = if self.last_equity.is_finite() {
                    self.last_equity
                } else {
                    e
                };
            }
            None => {
                self.day = Some(day);
                self.day_start_equity = e;
            }
        }
        self.peak_equity = self.peak_equity.max(e);
        if view.peak_equity.is_finite() {
            self.peak_equity = self.peak_equity.max(view.peak_equity);
        }
        self.last_equity = e;
        if self.kill.is_some() {
            return;
        }
        let c = &self.config;
        let trip = if c.daily_loss_limit > 0.0
            && self.day_start_equity > 0.0
            && (self.day_start_equity - e) / self.day_start_equity >= c.daily_loss_limit
        {
            Some((
                RiskCheck::DailyLoss,
                (self.day_start_equity - e) / self.day_start_equity,
                c.daily_loss_limit,
            ))
        } else if c.max_drawdown > 0.0
            && self.peak_equity > 0.0
            && (self.peak_equity - e) / self.peak_equity >= c.max_drawdown
        {
            Some((
                RiskCheck::MaxDrawdown,
                (self.peak_equity - e) / self.peak_equity,
                c.max_drawdown,
            ))
        } else {
            None
        };
        if let Some((check, value, limit)) = trip {
            self.trip(check, value, limit, view, ts, out_intents, out_events);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn trip(
        &mut self,
        check: RiskCheck,
        value: f64,
        limit: f64,
        view: &PortfolioView,
        ts: UnixNanos,
        out_intents: &mut Vec<OrderIntent>,
        out_events: &mut Vec<RiskEvent>,
    ) {
        self.kill = Some(check);
        out_events.push(RiskEvent {
            decision: None,
            ts,
            symbol: None,
            check,
            action: RiskAction::KillSwitch,
            value,
            limit,
        });
        self.flatten(view, ts, out_intents);
    }

    /// A flatten intent (sell everything, reason Flatten) for every symbol held.
    fn flatten(&mut self, view: &PortfolioView, ts: UnixNanos, out_intents: &mut Vec<OrderIntent>) {
        for i in 0..self.n_symbols {
            let Ok(symbol) = SymbolId::try_from(i) else {
                continue;
            };
            if view.held(symbol) <= 0.0 {
                continue;
            }
            let p = self.price(i, view);
            self.rate.record(ts);
            out_intents.push(OrderIntent {
                decision: self.last_decision,
                ts,
                symbol,
                side: Side::Sell,
                size: OrderSize::AllPosition,
                reference_price: if valid_price(p) { p } else { 0.0 },
                reason: OrderReason::Flatten,
                stop_loss: 0.0,
                take_profit: 0.0,
            });
        }
    }

    /// An operator command. Pause halts entries; Resume lifts a pause or the kill switch and
    /// resets the peak and day-start equity to the last mark (so the same loss does not trip
    /// again at once); KillSwitch trips the kill switch (`Halted`/`KillSwitch`) and flattens;
    /// Flatten flattens without halting; CancelAll forgets the open orders; Shutdown halts
    /// entries for good (lifecycle Stopping).
    pub fn on_command(
        &mut self,
        command: &Command,
        view: &PortfolioView,
        out_intents: &mut Vec<OrderIntent>,
        out_events: &mut Vec<RiskEvent>,
    ) {
        let ts = command.ts;
        let event = |action| RiskEvent {
            decision: None,
            ts,
            symbol: None,
            check: RiskCheck::Halted,
            action,
            value: 0.0,
            limit: 0.0,
        };
        match command.kind {
            CommandKind::Pause => {
                if !self.paused {
                    self.paused = true;
                    out_events.push(event(RiskAction::Halted));
                }
            }
            CommandKind::Resume => {
                if self.paused || self.kill.is_some() {
                    self.paused = false;
                    self.kill = None;
                    if self.last_equity.is_finite() {
                        self.peak_equity = self.last_equity;
                        self.day_start_equity = self.last_equity;
                    }
                    out_events.push(event(RiskAction::Resumed));
                }
            }
            CommandKind::KillSwitch => {
                if self.kill.is_none() {
                    self.trip(
                        RiskCheck::Halted,
                        0.0,
                        0.0,
                        view,
                        ts,
                        out_intents,
                        out_events,
                    );
                } else {
                    self.flatten(view, ts, out_intents);
                }
            }
            CommandKind::Flatten => self.flatten(view, ts, out_intents),
            CommandKind::CancelAll => self.open.clear(),
            CommandKind::Shutdown => self.shutting_down = true,
        }
    }
}
