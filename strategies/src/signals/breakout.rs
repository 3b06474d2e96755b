//! Donchian breakout: **EnterLong** when the close breaks above the highest high of the previous
//! `entry_window` bars, **ExitLong** when it breaks below the lowest low of the previous
//! `exit_window` bars. "Previous" excludes the current bar (a bar cannot break its own high),
//! and both comparisons are strict. The first entry can come on bar `entry_window`, the first
//! exit on bar `exit_window`.
//!
//! One bar never gives both: both channels contain bar `t − 1`, so
//! `max high ≥ high_{t−1} ≥ low_{t−1} ≥ min low`.
//!
//! The channel extremes come from two monotonic deques of `(bar index, price)`: the highs
//! deque keeps decreasing prices (a new high evicts every earlier high it equals or beats, as
//! none of them can be the maximum again), the lows deque increasing ones; entries that fall
//! out of the window leave from the front. Each bar is pushed and popped at most once, so a
//! bar costs O(1) amortised, and a deque never holds more than `window + 1` entries — both are
//! allocated with that capacity at construction, so updates never allocate.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::{SignalAction, check_bar, first_problem, run_batch, window_problem};
use crate::{Error, Result};

/// Parameters of [`Breakout`]. Deserialises from a table such as `[strategy.breakout]`
/// (unknown keys rejected, missing keys defaulted to 20 / 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakoutParams {
    /// Bars in the entry channel (20), before the current one.
    pub entry_window: usize,
    /// Bars in the exit channel (10), before the current one.
    pub exit_window: usize,
}

impl Default for BreakoutParams {
    fn default() -> Self {
        Self {
            entry_window: 20,
            exit_window: 10,
        }
    }
}

impl BreakoutParams {
    /// Checked parameters.
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn new(entry_window: usize, exit_window: usize) -> Result<Self> {
        let p = Self {
            entry_window,
            exit_window,
        };
        p.validate()?;
        Ok(p)
    }

    /// Every problem with the parameters, each naming its key (`breakout.entry_window`, …).
    #[must_use]
    pub fn problems(&self) -> Vec<Error> {
        [
            window_problem("breakout.entry_window", self.entry_window, 1),
            window_problem("breakout.exit_window", self.exit_window, 1),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Checks the parameters; [`problems`](Self::problems) lists every problem at once.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first window that is 0 or above
    /// [`crate::indicators::MAX_PERIOD`].
    pub fn validate(&self) -> Result<()> {
        first_problem(self.problems())
    }
}

/// A sliding-window extreme over the previous `window` values: a monotonic deque of
/// `(index, value)`, allocated once with room for `window + 1` entries.
#[derive(Debug, Clone, PartialEq)]
struct Channel {
    window: usize,
    deque: VecDeque<(usize, f64)>,
}

impl Channel {
    fn new(window: usize) -> Self {
        Self {
            window,
            deque: VecDeque::with_capacity(window + 1),
        }
    }

    /// The extreme of the values of bars `t − window ..= t − 1`, `None` until `t ≥ window`.
    /// Drops the entries older than that first.
    #[inline]
    fn extreme_before(&mut self, t: usize) -> Option<f64> {
        if t < self.window {
            return None;
        }
        let oldest = t - self.window;
        while self.deque.front().is_some_and(|(i, _)| *i < oldest) {
            self.deque.pop_front();
        }
        self.deque.front().map(|(_, v)| *v)
    }

    /// Adds bar `t`'s value, evicting the entries it dominates (`dominates(new, old)`). Call
    /// after [`extreme_before(t)`](Self::extreme_before).
    #[inline]
    fn push(&mut self, t: usize, value: f64, dominates: impl Fn(f64, f64) -> bool) {
        while self.deque.back().is_some_and(|(_, v)| dominates(value, *v)) {
            self.deque.pop_back();
        }
        // `extreme_before(t)` ran first, so only bars t − window ..= t − 1 remain: with this
        // one at most `window + 1` entries, the capacity reserved at construction.
        self.deque.push_back((t, value));
    }
}

/// Streaming Donchian breakout; two preallocated monotonic deques, no allocation per update.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakout {
    params: BreakoutParams,
    highs: Channel,
    lows: Channel,
    bars: usize,
}

impl Breakout {
    /// A generator with checked parameters (allocates both deques here, once).
    ///
    /// # Errors
    /// As [`BreakoutParams::validate`].
    pub fn new(params: BreakoutParams) -> Result<Self> {
        params.validate()?;
        Ok(Self {
            params,
            highs: Channel::new(params.entry_window),
            lows: Channel::new(params.exit_window),
            bars: 0,
        })
    }

    /// The parameters.
    #[must_use]
    pub fn params(&self) -> &BreakoutParams {
        &self.params
    }

    /// Index (0-based) of the first bar that can give a signal:
    /// `min(entry_window, exit_window)` (10: an exit; the first entry can come on bar 20).
    #[must_use]
    pub fn warm_up(&self) -> usize {
        self.params.entry_window.min(self.params.exit_window)
    }

    /// Feeds one bar.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming `high`, `low` or `close`, or [`Error::InvalidData`] when
    /// `high < low`; the index is the number of bars accepted since construction or
    /// [`reset`](Self::reset), and the state is unchanged.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Result<SignalAction> {
        check_bar(self.bars, high, low, close)?;
        Ok(self.push(high, low, close))
    }

    /// Forgets all input, as if just constructed (keeps the deques' storage).
    pub fn reset(&mut self) {
        self.highs.deque.clear();
        self.lows.deque.clear();
        self.bars = 0;
    }

    /// Capacities of the two deques (entry, exit), for the no-growth test and benches.
    #[cfg(test)]
    fn capacities(&self) -> (usize, usize) {
        (self.highs.deque.capacity(), self.lows.deque.capacity())
    }

    #[inline]
    fn push(&mut self, high: f64, low: f64, close: f64) -> SignalAction {
        let t = self.bars;
        self.bars += 1;
        let upper = self.highs.extreme_before(t);
        let lower = self.lows.extreme_before(t);
        self.highs.push(t, high, |new, old| new >= old);
        self.lows.push(t, low, |new, old| new <= old);
        match (upper, lower) {
            (Some(u), _) if close > u => SignalAction::EnterLong,
            (_, Some(l)) if close < l => SignalAction::ExitLong,
            _ => SignalAction::None,
        }
    }
}

/// Donchian breakout over high/low/close slices: the same actions as [`Breakout::update`] bar
/// by bar (the same kernel over the slices).
///
/// # Errors
/// As [`BreakoutParams::validate`]; [`Error::Shape`] when the lengths differ;
/// [`Error::NonFinite`] / [`Error::InvalidData`] naming the first bad bar in time order.
pub fn breakout_signals(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    params: &BreakoutParams,
) -> Result<Vec<SignalAction>> {
    let mut g = Breakout::new(*params)?;
    run_batch(high, low, close, |h, l, c| g.push(h, l, c))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::walk_bars;
    use super::*;
    use SignalAction::{EnterLong, ExitLong, None};
    use proptest::prelude::*;

    /// Entry window 3, exit window 2 (bar: high / low / close).
    /// - 0: 10 / 9 / 9.5; 1: 11 / 9.5 / 10; 2: 10.5 / 9 / 10 (exit channel min(9, 9.5) = 9).
    /// - 3: 12 / 11 / 11.5: close > max(10, 11, 10.5) = 11 → **EnterLong**.
    /// - 4: 12 / 11 / 11.5: entry channel max(11, 10.5, 12) = 12, exit channel min(9, 11) = 9.
    /// - 5: 12 / 11.8 / 12: close 12 = max(10.5, 12, 12), not strictly above → None.
    /// - 6: 11.9 / 11.5 / 11.7: exit channel min(11, 11.8) = 11 ≤ 11.7 → None.
    /// - 7: 11 / 10.5 / 10.9: close < min(11.8, 11.5) = 11.5 → **ExitLong**.
    #[test]
    fn hand_checked_breakouts() {
        let h = [10.0, 11.0, 10.5, 12.0, 12.0, 12.0, 11.9, 11.0];
        let l = [9.0, 9.5, 9.0, 11.0, 11.0, 11.8, 11.5, 10.5];
        let c = [9.5, 10.0, 10.0, 11.5, 11.5, 12.0, 11.7, 10.9];
        let p = BreakoutParams::new(3, 2).unwrap();
        let batch = breakout_signals(&h, &l, &c, &p).unwrap();
        assert_eq!(
            batch,
            [None, None, None, EnterLong, None, None, None, ExitLong]
        );
        let mut g = Breakout::new(p).unwrap();
        assert_eq!(g.warm_up(), 2);
        let streamed: Vec<SignalAction> = (0..c.len())
            .map(|i| g.update(h[i], l[i], c[i]).unwrap())
            .collect();
        assert_eq!(streamed, batch);
        // A close below the low of bar 0 on bar 2 exits as soon as the exit channel exists
        // (bar 2 with window 2), before any entry is possible.
        let e = breakout_signals(&[2.0, 2.0, 2.0], &[1.0, 1.0, 0.5], &[1.5, 1.5, 0.9], &p);
        assert_eq!(e.unwrap(), [None, None, ExitLong]);
    }

    #[test]
    fn deques_never_grow() {
        let p = BreakoutParams::new(5, 3).unwrap();
        let mut g = Breakout::new(p).unwrap();
        let before = g.capacities();
        assert!(before.0 >= 6 && before.1 >= 4);
        // A falling series fills the highs deque to the brim, a rising one the lows deque.
        for i in 0..200 {
            let x = if i < 100 {
                1000.0 - f64::from(i)
            } else {
                f64::from(i)
            };
            g.update(x + 1.0, x, x).unwrap();
            assert!(g.highs.deque.len() <= 6 && g.lows.deque.len() <= 4);
        }
        assert_eq!(g.capacities(), before);
    }

    #[test]
    fn params_checked_and_from_config() {
        let p: BreakoutParams = serde_json::from_str(r#"{"exit_window": 5}"#).unwrap();
        assert_eq!(p, BreakoutParams::new(20, 5).unwrap());
        assert!(serde_json::from_str::<BreakoutParams>(r#"{"window": 5}"#).is_err());
        let e = BreakoutParams {
            entry_window: 0,
            exit_window: 0,
        };
        assert_eq!(e.problems().len(), 2);
        assert!(matches!(
            BreakoutParams::new(10, 0),
            Err(Error::InvalidParameter {
                name: "breakout.exit_window",
                ..
            })
        ));
        assert!(Breakout::new(e).is_err());
    }

    #[test]
    fn bad_bars_are_errors_that_leave_the_state() {
        let mut g = Breakout::new(BreakoutParams::new(1, 1).unwrap()).unwrap();
        g.update(2.0, 1.0, 1.5).unwrap();
        let e = g.update(3.0, 2.0, f64::INFINITY).unwrap_err();
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
        assert_eq!(g.update(3.0, 2.5, 2.5).unwrap(), EnterLong);
        assert!(breakout_signals(&[1.0], &[1.0], &[], &BreakoutParams::default()).is_err());
    }

    proptest! {
        #[test]
        fn streaming_equals_batch_equals_naive(
            (high, low, close) in walk_bars(300), entry in 1usize..30, exit in 1usize..30
        ) {
            let p = BreakoutParams::new(entry, exit).unwrap();
            let batch = breakout_signals(&high, &low, &close, &p).unwrap();
            let mut g = Breakout::new(p).unwrap();
            for t in 0..close.len() {
                let a = g.update(high[t], low[t], close[t]).unwrap();
                prop_assert_eq!(a, batch[t], "bar {}", t);
                // O(window) reference.
                let up = (t >= entry)
                    .then(|| high[t - entry..t].iter().copied().fold(f64::MIN, f64::max));
                let down = (t >= exit)
                    .then(|| low[t - exit..t].iter().copied().fold(f64::MAX, f64::min));
                let want = if up.is_some_and(|u| close[t] > u) {
                    EnterLong
                } else if down.is_some_and(|d| close[t] < d) {
                    ExitLong
                } else {
                    None
                };
                prop_assert_eq!(a, want, "bar {}", t);
                if t < g.warm_up() {
                    prop_assert_eq!(a, None);
                }
            }
        }
    }
}
