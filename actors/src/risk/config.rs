//! [`RiskConfig`]: the risk limits as loaded from TOML (`[risk]`), their defaults and their
//! validation. Owns the limit values and their on/off conventions only; the checks that apply
//! them live in the risk manager.
//!
//! Conventions (every check can be switched off):
//!
//! | key | unit | off | bites when |
//! |---|---|---|---|
//! | `max_order_notional` | quote | `0` | an entry's notional is above it (reduced to fit) |
//! | `max_position_notional` | quote, per symbol | `0` | the position's value after an entry is above it (reduced; rejected when no room) |
//! | `max_gross_exposure` | fraction of equity | `0` | Σ position values after an entry exceed it × equity (reduced / rejected) |
//! | `price_band` | fraction of the last trade | `0` | an entry's reference price is further than it from the last trade (rejected) |
//! | `max_orders_per_second` | orders | `0` | that many orders already passed in the last second (rejected) |
//! | `max_open_orders` | orders | `0` | that many orders are already open (rejected) |
//! | `exchange_filters` | bool | `false` | the step-floored quantity is zero (`StepSize`) or below the minimum notional (rejected) |
//! | `daily_loss_limit` | fraction of day-start equity | `0` | the loss since the UTC day's start reaches it (kill switch) |
//! | `max_drawdown` | fraction of peak equity | `0` | the drawdown from the peak reaches it (kill switch) |
//! | `regime_scaling.*` | multiplier in \[0, 1\] | `1` | below 1: target weights are scaled by it and a symbol's value is capped at it × equity |
//! | `stale_after_ns` | nanoseconds | `0` | the symbol's last market data is older than it (entries rejected until fresh data) |
//!
//! "Max" limits are inclusive (a value equal to the limit passes); the kill-switch limits trip
//! when the loss reaches the limit. The defaults switch every limit off (filters on, which do
//! nothing with [`InstrumentFilters::NONE`](crate::exact::InstrumentFilters::NONE)), so a
//! single-symbol all-in backtest is not altered by the risk manager.

use crate::config_key as key;
use serde::Deserialize;

use crate::messages::RegimeLabel;

/// Largest `max_orders_per_second` (the rate window's ring buffer is preallocated to it).
pub const MAX_ORDERS_PER_SECOND_LIMIT: u32 = 100_000;

/// Largest `max_open_orders`, and the number of open orders the risk manager tracks by id.
pub const OPEN_ORDER_CAPACITY: usize = 1024;

/// Pre-trade limits, kill-switch thresholds and regime scaling. See the module doc for units and
/// the "0 = off" conventions.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Largest notional of one entry order (quote units); 0 = off.
    pub max_order_notional: f64,
    /// Largest value of one symbol's position after an entry (quote units); 0 = off.
    pub max_position_notional: f64,
    /// Largest gross exposure after an entry, as a fraction of equity (1.0 = no leverage);
    /// 0 = off.
    pub max_gross_exposure: f64,
    /// Largest distance of an entry's reference price from the last trade, as a fraction of the
    /// last trade (fat-finger band); 0 = off.
    pub price_band: f64,
    /// Most orders in any sliding one-second window of event time; 0 = off.
    pub max_orders_per_second: u32,
    /// Most open orders (sent, not yet filled); 0 = off.
    pub max_open_orders: u32,
    /// Enforce the symbols' exchange filters (step size, minimum notional) on quantities;
    /// false = only the 10⁻⁸ representation grid (a zero quantity is always rejected).
    pub exchange_filters: bool,
    /// Loss since the UTC day's start, as a fraction of the day-start equity, that trips the
    /// kill switch; 0 = off.
    pub daily_loss_limit: f64,
    /// Drawdown from peak equity, as a fraction of the peak, that trips the kill switch; 0 = off.
    pub max_drawdown: f64,
    /// Exposure multipliers per regime.
    pub regime_scaling: RegimeScaling,
    /// Age of a symbol's last market data (ns, against the time passed in) beyond which new
    /// entries are halted until fresh data arrives; 0 = off.
    pub stale_after_ns: i64,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            max_order_notional: 0.0,
            max_position_notional: 0.0,
            max_gross_exposure: 0.0,
            price_band: 0.0,
            max_orders_per_second: 0,
            max_open_orders: 0,
            exchange_filters: true,
            daily_loss_limit: 0.0,
            max_drawdown: 0.0,
            regime_scaling: RegimeScaling::default(),
            stale_after_ns: 0,
        }
    }
}

/// Exposure multiplier per regime label, each in \[0, 1\]; 1 = no scaling (the default), 0 = no
/// new exposure in that regime.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegimeScaling {
    /// Multiplier while trending.
    pub trending: f64,
    /// Multiplier while mean-reverting.
    pub mean_reverting: f64,
    /// Multiplier while volatile (e.g. 0.5 halves exposure).
    pub volatile: f64,
    /// Multiplier before the regime is known.
    pub unknown: f64,
}

impl Default for RegimeScaling {
    fn default() -> Self {
        Self {
            trending: 1.0,
            mean_reverting: 1.0,
            volatile: 1.0,
            unknown: 1.0,
        }
    }
}

impl RegimeScaling {
    /// The multiplier for `label`.
    #[must_use]
    pub const fn multiplier(&self, label: RegimeLabel) -> f64 {
        match label {
            RegimeLabel::Unknown => self.unknown,
            RegimeLabel::Trending => self.trending,
            RegimeLabel::MeanReverting => self.mean_reverting,
            RegimeLabel::Volatile => self.volatile,
        }
    }
}

fn non_negative(problems: &mut Vec<String>, path: &str, name: &str, v: f64, what: &str) {
    if !(v.is_finite() && v >= 0.0) {
        problems.push(format!(
            "{} must be a finite number >= 0 ({what}; 0 = off), got {v}",
            key(path, name)
        ));
    }
}

fn fraction(problems: &mut Vec<String>, path: &str, name: &str, v: f64, what: &str) {
    if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
        problems.push(format!(
            "{} must be in [0, 1] ({what}), got {v}",
            key(path, name)
        ));
    }
}

impl RiskConfig {
    /// Every problem of the configuration, each with its key path under `path` (e.g. `risk`);
    /// empty when valid.
    #[must_use]
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut p = Vec::new();
        non_negative(
            &mut p,
            path,
            "max_order_notional",
            self.max_order_notional,
            "quote units",
        );
        non_negative(
            &mut p,
            path,
            "max_position_notional",
            self.max_position_notional,
            "quote units per symbol",
        );
        non_negative(
            &mut p,
            path,
            "max_gross_exposure",
            self.max_gross_exposure,
            "fraction of equity",
        );
        non_negative(
            &mut p,
            path,
            "price_band",
            self.price_band,
            "fraction of the last trade",
        );
        if self.max_orders_per_second > MAX_ORDERS_PER_SECOND_LIMIT {
            p.push(format!(
                "{} must be at most {MAX_ORDERS_PER_SECOND_LIMIT} (0 = off), got {}",
                key(path, "max_orders_per_second"),
                self.max_orders_per_second
            ));
        }
        if self.max_open_orders as usize > OPEN_ORDER_CAPACITY {
            p.push(format!(
                "{} must be at most {OPEN_ORDER_CAPACITY} (0 = off), got {}",
                key(path, "max_open_orders"),
                self.max_open_orders
            ));
        }
        fraction(
            &mut p,
            path,
            "daily_loss_limit",
            self.daily_loss_limit,
            "fraction of day-start equity; 0 = off",
        );
        fraction(
            &mut p,
            path,
            "max_drawdown",
            self.max_drawdown,
            "fraction of peak equity; 0 = off",
        );
        let rs = key(path, "regime_scaling");
        let s = &self.regime_scaling;
        for (name, v) in [
            ("trending", s.trending),
            ("mean_reverting", s.mean_reverting),
            ("volatile", s.volatile),
            ("unknown", s.unknown),
        ] {
            fraction(&mut p, &rs, name, v, "exposure multiplier; 1 = no scaling");
        }
        if self.stale_after_ns < 0 {
            p.push(format!(
                "{} must be >= 0 (nanoseconds; 0 = off), got {}",
                key(path, "stale_after_ns"),
                self.stale_after_ns
            ));
        }
        p
    }
}
