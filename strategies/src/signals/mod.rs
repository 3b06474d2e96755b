//! Trading-signal generators: per-bar entry/exit conditions for **long-only spot** trading.
//!
//! Owns the signal rules only. It does not size, place or track orders, and it does not know
//! whether a position is open: every generator is *stateless about positions* and reports the
//! raw condition of each bar as a [`SignalAction`]. The executor decides what to do with it (it
//! ignores [`SignalAction::EnterLong`] while already long and [`SignalAction::ExitLong`] while
//! flat), and it applies any protective stops (see [`SmartMomentum::stop_loss`]). There is no
//! short side: an exit closes a long, it never opens a short.
//!
//! | generator | enters long when | exits when |
//! |---|---|---|
//! | [`SmartMomentum`] | EMA(12) crosses above EMA(26), 45 ≤ RSI(14) ≤ 55, SuperTrend(10, 3) bullish | SuperTrend turns bearish |
//! | [`EmaCross`] | EMA(fast) crosses above EMA(slow) | EMA(fast) crosses below EMA(slow) |
//! | [`ZScoreReversion`] | z-score of the close over the window ≤ −entry_z | z ≥ −exit_z |
//! | [`Breakout`] | close > highest high of the previous `entry_window` bars | close < lowest low of the previous `exit_window` bars |
//!
//! Every generator has
//! - a checked constructor `new(params) -> Result<Self>` and a params struct that deserialises
//!   from a TOML/JSON table (`deny_unknown_fields`, every field defaulted) with `problems()`
//!   (every problem at once, each naming its key as `<strategy>.<field>`) and `validate()`;
//! - `update(high, low, close) -> Result<SignalAction>`, fed one bar at a time in time order:
//!   O(1) work (amortised for [`ZScoreReversion`] and [`Breakout`]), **no allocation**; a
//!   non-finite field is an [`Error::NonFinite`] whose `what` names the field (`"high"`,
//!   `"low"`, `"close"`), a bar with `high < low` an [`Error::InvalidData`]; the index is the
//!   number of bars accepted since construction or `reset()`, and a rejected bar leaves the
//!   state untouched;
//! - `warm_up()`: the 0-based index of the first bar on which any signal can be emitted (every
//!   earlier bar gives [`SignalAction::None`]);
//! - a batch function (`smart_momentum_signals`, …) over equally long slices that returns the
//!   same actions as feeding the bars one by one (proptested), so a backtest and the live path
//!   agree, and chunked processing stays continuous when the streaming state is carried over.
//!
//! Generators read the bar's high, low and close even when the rule uses only the close, so a
//! bad bar is refused the same way by all of them.

mod breakout;
mod ema_cross;
mod smart_momentum;
mod zscore;

#[cfg(test)]
mod real_data_tests;

pub use breakout::{Breakout, BreakoutParams, breakout_signals};
pub use ema_cross::{EmaCross, EmaCrossParams, ema_cross_signals};
pub use smart_momentum::{
    SmartMomentum, SmartMomentumInputs, SmartMomentumParams, SmartMomentumRule,
    smart_momentum_signals,
};
pub use zscore::{RollingZScore, ZScoreReversion, ZScoreReversionParams, zscore_signals};

use serde::{Deserialize, Serialize};

use crate::indicators::MAX_PERIOD;
use crate::{Error, Result};

/// What a generator says about one bar. Long-only spot: there is no short side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalAction {
    /// No condition fired on this bar (also every bar of the warm-up).
    #[default]
    None,
    /// The entry condition holds on this bar: open a long if flat.
    EnterLong,
    /// The exit condition holds on this bar: close the long if one is open.
    ExitLong,
}

impl SignalAction {
    /// Whether this is [`SignalAction::None`].
    #[must_use]
    pub fn is_none(self) -> bool {
        self == SignalAction::None
    }
}

/// `fast` crossed above `slow` on this bar: `fast > slow` now and `fast ≤ slow` on the previous
/// bar. False while any of the four values is missing (NaN), since every comparison with NaN is.
#[inline(always)]
pub(crate) fn crossed_above(prev_fast: f64, prev_slow: f64, fast: f64, slow: f64) -> bool {
    fast > slow && prev_fast <= prev_slow
}

/// `fast` crossed below `slow` on this bar: `fast < slow` now and `fast ≥ slow` on the previous
/// bar. False while any value is missing (NaN).
#[inline(always)]
pub(crate) fn crossed_below(prev_fast: f64, prev_slow: f64, fast: f64, slow: f64) -> bool {
    fast < slow && prev_fast >= prev_slow
}

/// Checks one bar, naming the bad field: `high`, `low`, `close` finite (in that order), then
/// `high >= low`. `index` is the bar's position in the stream or the slice.
#[inline]
pub(crate) fn check_bar(index: usize, high: f64, low: f64, close: f64) -> Result<()> {
    for (what, value) in [("high", high), ("low", low), ("close", close)] {
        if !value.is_finite() {
            return Err(Error::NonFinite { what, index, value });
        }
    }
    if high < low {
        return Err(Error::InvalidData {
            what: "bar",
            index,
            reason: format!("high {high} is below low {low}"),
        });
    }
    Ok(())
}

/// Checks three high/low/close slices for a batch run: equal lengths, then every bar in time
/// order with [`check_bar`], so the error is the one the streaming form reports first.
pub(crate) fn check_bars(high: &[f64], low: &[f64], close: &[f64]) -> Result<()> {
    for (what, xs) in [("low", low), ("close", close)] {
        if xs.len() != high.len() {
            return Err(Error::Shape {
                what,
                expected: format!("{} values (the length of high)", high.len()),
                got: format!("{} values", xs.len()),
            });
        }
    }
    // Branch-free scan first (vectorises); the exact in-order scan only to name a bad bar.
    let ok = high
        .iter()
        .zip(low)
        .zip(close)
        .fold(true, |ok, ((h, l), c)| {
            ok & h.is_finite() & l.is_finite() & c.is_finite() & (h >= l)
        });
    if ok {
        return Ok(());
    }
    for (index, ((h, l), c)) in high.iter().zip(low).zip(close).enumerate() {
        check_bar(index, *h, *l, *c)?;
    }
    Ok(())
}

/// Runs a per-bar step over validated slices into a fresh vector (the batch form of the
/// generators whose batch and streaming forms share one kernel).
pub(crate) fn run_batch(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    mut step: impl FnMut(f64, f64, f64) -> SignalAction,
) -> Result<Vec<SignalAction>> {
    check_bars(high, low, close)?;
    let mut out = Vec::with_capacity(close.len());
    out.extend(
        high.iter()
            .zip(low)
            .zip(close)
            .map(|((h, l), c)| step(*h, *l, *c)),
    );
    Ok(out)
}

/// A problem with a window/period parameter: 0 (or below `min`) or above [`MAX_PERIOD`].
pub(crate) fn window_problem(name: &'static str, value: usize, min: usize) -> Option<Error> {
    (value < min || value > MAX_PERIOD).then(|| Error::InvalidParameter {
        name,
        value: value.to_string(),
        reason: format!("must be between {min} and {MAX_PERIOD}"),
    })
}

/// A problem with a real parameter: not finite, or outside `range` (`reason` says which).
pub(crate) fn real_problem(
    name: &'static str,
    value: f64,
    ok: bool,
    reason: impl Into<String>,
) -> Option<Error> {
    if !value.is_finite() {
        return Some(Error::InvalidParameter {
            name,
            value: value.to_string(),
            reason: "must be finite".into(),
        });
    }
    (!ok).then(|| Error::InvalidParameter {
        name,
        value: value.to_string(),
        reason: reason.into(),
    })
}

/// The first problem of a list, as a `Result`.
pub(crate) fn first_problem(problems: Vec<Error>) -> Result<()> {
    problems.into_iter().next().map_or(Ok(()), Err)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Shared generators of test bars.

    use proptest::prelude::*;

    /// Bars from `(base, range, close position)` triples: `low = base`, `high = base + range`,
    /// `close = low + range·pos` (clamped into the bar).
    pub(crate) fn bars_from(raw: &[(f64, f64, f64)]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let high = raw.iter().map(|b| b.0 + b.1).collect();
        let low = raw.iter().map(|b| b.0).collect();
        let close = raw.iter().map(|b| b.0 + b.1 * b.2).collect();
        (high, low, close)
    }

    /// A random walk of bars (multiplicative steps up to ±4 %), so EMAs cross, RSI wanders
    /// through its whole range and SuperTrend flips: independent random bars would almost
    /// never produce the rarer conditions.
    pub(crate) fn walk_bars(
        max_len: usize,
    ) -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<f64>)> {
        (
            100.0f64..10_000.0,
            prop::collection::vec((-0.04f64..0.04, 0.0f64..0.02, 0.0f64..1.0), 0..max_len),
        )
            .prop_map(|(start, steps)| {
                let mut price = start;
                let raw: Vec<(f64, f64, f64)> = steps
                    .iter()
                    .map(|(r, w, pos)| {
                        price *= 1.0 + r;
                        let range = price * w;
                        (price - range * pos, range, *pos)
                    })
                    .collect();
                bars_from(&raw)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crosses_need_both_bars_defined() {
        assert!(
            crossed_above(1.0, 1.0, 2.0, 1.0),
            "equal before counts as not above"
        );
        assert!(
            !crossed_above(1.5, 1.0, 2.0, 1.0),
            "already above is not a cross"
        );
        assert!(!crossed_above(f64::NAN, 1.0, 2.0, 1.0));
        assert!(!crossed_above(1.0, f64::NAN, 2.0, 1.0));
        assert!(!crossed_above(1.0, 2.0, 2.0, 2.0), "equal now is not above");
        assert!(crossed_below(2.0, 2.0, 1.0, 2.0));
        assert!(!crossed_below(1.0, 2.0, 0.5, 2.0));
        assert!(!crossed_below(f64::NAN, 2.0, 1.0, 2.0));
    }

    #[test]
    fn bad_bars_name_the_field_and_index() {
        let e = check_bar(7, 1.0, f64::NAN, 1.0).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NonFinite {
                    what: "low",
                    index: 7,
                    ..
                }
            ),
            "{e}"
        );
        let e = check_bar(0, f64::INFINITY, 1.0, 1.0).unwrap_err();
        assert!(matches!(e, Error::NonFinite { what: "high", .. }), "{e}");
        let e = check_bar(0, 2.0, 1.0, f64::NEG_INFINITY).unwrap_err();
        assert!(matches!(e, Error::NonFinite { what: "close", .. }), "{e}");
        let e = check_bar(3, 1.0, 2.0, 1.5).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidData {
                    what: "bar",
                    index: 3,
                    ..
                }
            ),
            "{e}"
        );
        // Batch: the first bad bar in time order, whatever the field.
        let h = [2.0, 2.0, f64::NAN];
        let l = [1.0, 1.0, 1.0];
        let c = [1.5, f64::NAN, 1.5];
        let e = check_bars(&h, &l, &c).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NonFinite {
                    what: "close",
                    index: 1,
                    ..
                }
            ),
            "{e}"
        );
        let e = check_bars(&h, &l[..2], &c).unwrap_err();
        assert!(matches!(e, Error::Shape { what: "low", .. }), "{e}");
    }

    #[test]
    fn actions_serialise_in_snake_case() {
        let json = serde_json::to_string(&[SignalAction::EnterLong, SignalAction::ExitLong]);
        assert_eq!(json.unwrap(), r#"["enter_long","exit_long"]"#);
        assert!(SignalAction::default().is_none());
    }
}
