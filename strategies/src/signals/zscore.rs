//! Z-score mean reversion: **EnterLong** when the close sits at least `entry_z` population
//! standard deviations below its rolling mean (`z ≤ −entry_z`), **ExitLong** once it is back to
//! `z ≥ −exit_z` (with the default `exit_z = 0`: back at or above the mean).
//!
//! `z_t = (close_t − mean)/σ` over the last `window` closes **including** bar `t`, with the
//! population standard deviation (ddof 0). A **flat** window (all closes equal) has no z and
//! gives no signal. Since one value of a window of `n` can sit at most `√(n − 1)` standard
//! deviations from the mean, `entry_z` above that could never fire and is rejected.
//!
//! **Numerics** ([`RollingZScore`]). The window is a ring buffer allocated once. The state is
//! the *shifted* sums `S1 = Σ(x − a)`, `S2 = Σ(x − a)²` around an anchor `a` that is always a
//! value inside the window (the newest value at the last recompute), so the sums carry the
//! spread of the window, not the price level: `mean = a + S1/n`,
//! `M2 = S2 − S1²/n` (that subtraction loses at most a factor `2n`, because `|mean − a|` is at
//! most the window's range `R` and `σ ≥ R/√(2n)`). Each bar adds the new value's terms and
//! removes the evicted one's. The sums are recomputed exactly from the window whenever the
//! ring wraps (every `n` bars, which also re-anchors before the anchor value leaves) and
//! whenever `M2` falls below 1e-3 of the largest term added or removed since the last
//! recompute — the add-and-remove cancellation after a spike leaves the window, the classic
//! failure of rolling variance. Cost: O(1) per bar amortised (O(n) on a recompute). Flatness is
//! tracked exactly, by counting the adjacent unequal pairs in the window, so a flat window is
//! recognised whatever the rounding of the sums. Tested against a direct two-pass computation
//! to 1e-9 in z.

use serde::{Deserialize, Serialize};

use super::{SignalAction, check_bar, first_problem, real_problem, run_batch, window_problem};
use crate::error::fmt_num;
use crate::{Error, Result};

/// Recompute the sums when `M2` drops below this fraction of the largest squared term since
/// the last recompute (bounds the relative error of `M2` by about `eps·(n + steps)/RECOMPUTE`).
const RECOMPUTE: f64 = 1e-3;

/// Rolling z-score of the newest value over a window of `n` values (population σ); a ring
/// buffer allocated once, no allocation per update. See the module doc for the numerics.
#[derive(Debug, Clone, PartialEq)]
pub struct RollingZScore {
    window: Box<[f64]>,
    inv_n: f64,
    /// Values stored so far, saturating at `n`.
    filled: usize,
    /// Slot of the oldest value (the next to overwrite) once full.
    pos: usize,
    anchor: f64,
    s1: f64,
    s2: f64,
    /// Largest squared shifted term added or removed since the last recompute.
    scale: f64,
    /// Adjacent pairs (in time order) of unequal values inside the window: 0 ⇔ flat.
    changes: usize,
    updates: usize,
}

impl RollingZScore {
    /// A z-score over `window` values.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`zscore.window`) when `window` is below 2 or above
    /// [`crate::indicators::MAX_PERIOD`].
    pub fn new(window: usize) -> Result<Self> {
        if let Some(e) = window_problem("zscore.window", window, 2) {
            return Err(e);
        }
        Ok(Self {
            window: vec![0.0; window].into_boxed_slice(),
            inv_n: 1.0 / window as f64,
            filled: 0,
            pos: 0,
            anchor: 0.0,
            s1: 0.0,
            s2: 0.0,
            scale: 0.0,
            changes: 0,
            updates: 0,
        })
    }

    /// The window length `n`.
    #[must_use]
    pub fn window(&self) -> usize {
        self.window.len()
    }

    /// Index (0-based) of the first value that can have a z-score: `n − 1`.
    #[must_use]
    pub fn warm_up(&self) -> usize {
        self.window.len() - 1
    }

    /// Feeds one value; the z-score of that value over the window ending with it, `None` during
    /// the warm-up and when the window is flat (σ = 0).
    ///
    /// # Errors
    /// [`Error::NonFinite`] (`what` = `"zscore input"`, index = updates since construction or
    /// reset) when `x` is NaN or infinite; the state is then unchanged.
    pub fn update(&mut self, x: f64) -> Result<Option<f64>> {
        if !x.is_finite() {
            return Err(Error::NonFinite {
                what: "zscore input",
                index: self.updates,
                value: x,
            });
        }
        self.updates += 1;
        Ok(self.push(x))
    }

    /// Mean of the window, `None` during the warm-up.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        self.is_full().then_some(self.anchor + self.s1 * self.inv_n)
    }

    /// Population standard deviation of the window, `None` during the warm-up; exactly 0 for a
    /// flat window.
    #[must_use]
    pub fn std(&self) -> Option<f64> {
        self.is_full().then(|| self.variance().sqrt())
    }

    /// Forgets all input, as if just constructed (keeps the buffer).
    pub fn reset(&mut self) {
        self.filled = 0;
        self.pos = 0;
        self.anchor = 0.0;
        (self.s1, self.s2, self.scale) = (0.0, 0.0, 0.0);
        self.changes = 0;
        self.updates = 0;
    }

    #[inline]
    fn is_full(&self) -> bool {
        self.filled == self.window.len()
    }

    /// `M2/n`, clamped at 0; exactly 0 when flat.
    #[inline]
    fn variance(&self) -> f64 {
        if self.changes == 0 {
            return 0.0;
        }
        let m = self.s1 * self.inv_n;
        (self.s2 * self.inv_n - m * m).max(0.0)
    }

    /// Exact shifted sums of the window around `anchor` (a value in the window).
    fn recompute(&mut self, anchor: f64) {
        self.anchor = anchor;
        let (mut s1, mut s2, mut scale) = (0.0, 0.0, 0.0f64);
        for v in self.window.iter() {
            let d = v - anchor;
            s1 += d;
            s2 += d * d;
            scale = scale.max(d * d);
        }
        (self.s1, self.s2, self.scale) = (s1, s2, scale);
    }

    /// Unchecked update (input already validated).
    #[inline]
    pub(crate) fn push(&mut self, x: f64) -> Option<f64> {
        let n = self.window.len();
        if self.filled < n {
            if self.filled > 0 && x != self.window[self.filled - 1] {
                self.changes += 1;
            }
            self.window[self.filled] = x;
            self.filled += 1;
            if self.filled < n {
                return None;
            }
            self.recompute(x);
        } else {
            let pos = self.pos;
            let next = if pos + 1 == n { 0 } else { pos + 1 };
            let newest = if pos == 0 { n - 1 } else { pos - 1 };
            let old = self.window[pos];
            // The pair (old, next oldest) leaves the window, (newest, x) enters it.
            self.changes -= usize::from(old != self.window[next]);
            self.changes += usize::from(x != self.window[newest]);
            self.window[pos] = x;
            self.pos = next;
            if next == 0 {
                // Wrapped: the storage order is the time order again; re-anchor on x (the
                // newest, which stays in the window until the next wrap).
                self.recompute(x);
            } else {
                let (dn, d_old) = (x - self.anchor, old - self.anchor);
                self.s1 += dn - d_old;
                self.s2 += dn * dn - d_old * d_old;
                self.scale = self.scale.max(dn * dn).max(d_old * d_old);
                let m2 = self.s2 - self.s1 * self.s1 * self.inv_n;
                if self.changes != 0 && (m2.is_nan() || m2 <= self.scale * RECOMPUTE) {
                    // x sits in slot `pos < n − 1`, so it stays in the window until the wrap.
                    self.recompute(x);
                }
            }
        }
        let var = self.variance();
        (var > 0.0).then(|| ((x - self.anchor) - self.s1 * self.inv_n) / var.sqrt())
    }
}

/// Parameters of [`ZScoreReversion`]. Deserialises from a table such as
/// `[strategy.zscore_reversion]` (unknown keys rejected, missing keys defaulted to 20 / 2 / 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZScoreReversionParams {
    /// Closes in the rolling window, including the current bar (20; at least 2).
    pub window: usize,
    /// Enter when `z ≤ −entry_z` (2.0; `0 < entry_z ≤ √(window − 1)`).
    pub entry_z: f64,
    /// Exit when `z ≥ −exit_z` (0.0: back at the mean; `−√(window − 1) ≤ exit_z < entry_z`).
    pub exit_z: f64,
}

impl Default for ZScoreReversionParams {
    fn default() -> Self {
        Self {
            window: 20,
            entry_z: 2.0,
            exit_z: 0.0,
        }
    }
}

impl ZScoreReversionParams {
    /// Checked parameters.
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn new(window: usize, entry_z: f64, exit_z: f64) -> Result<Self> {
        let p = Self {
            window,
            entry_z,
            exit_z,
        };
        p.validate()?;
        Ok(p)
    }

    /// Every problem with the parameters, each naming its key (`zscore_reversion.window`, …).
    #[must_use]
    pub fn problems(&self) -> Vec<Error> {
        let max_z = (self.window.max(1) as f64 - 1.0).sqrt();
        let window_ok = window_problem("zscore_reversion.window", self.window, 2);
        let bounded = window_ok.is_none();
        [
            window_ok,
            real_problem(
                "zscore_reversion.entry_z",
                self.entry_z,
                self.entry_z > 0.0 && (!bounded || self.entry_z <= max_z),
                format!(
                    "must be > 0 and at most sqrt(window - 1) = {}, the largest |z| a window \
                     can give",
                    fmt_num(max_z)
                ),
            ),
            real_problem(
                "zscore_reversion.exit_z",
                self.exit_z,
                self.exit_z < self.entry_z && (!bounded || self.exit_z >= -max_z),
                format!(
                    "must be below entry_z = {} (entry and exit must not overlap) and at least \
                     -sqrt(window - 1) = {}",
                    fmt_num(self.entry_z),
                    fmt_num(-max_z)
                ),
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Checks the parameters; [`problems`](Self::problems) lists every problem at once.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad key: `window` below 2 or above
    /// [`crate::indicators::MAX_PERIOD`], `entry_z` not in `(0, √(window − 1)]`, `exit_z` not
    /// below `entry_z` or below `−√(window − 1)`, or a non-finite value.
    pub fn validate(&self) -> Result<()> {
        first_problem(self.problems())
    }
}

/// Streaming z-score mean reversion over the close; a ring buffer allocated once, no
/// allocation per update.
#[derive(Debug, Clone, PartialEq)]
pub struct ZScoreReversion {
    params: ZScoreReversionParams,
    zscore: RollingZScore,
    last_z: Option<f64>,
    bars: usize,
}

impl ZScoreReversion {
    /// A generator with checked parameters.
    ///
    /// # Errors
    /// As [`ZScoreReversionParams::validate`].
    pub fn new(params: ZScoreReversionParams) -> Result<Self> {
        params.validate()?;
        Ok(Self {
            params,
            zscore: RollingZScore::new(params.window)?,
            last_z: None,
            bars: 0,
        })
    }

    /// The parameters.
    #[must_use]
    pub fn params(&self) -> &ZScoreReversionParams {
        &self.params
    }

    /// The z-score of the last bar, `None` during the warm-up or on a flat window.
    #[must_use]
    pub fn zscore(&self) -> Option<f64> {
        self.last_z
    }

    /// Index (0-based) of the first bar that can give a signal: `window − 1` (19).
    #[must_use]
    pub fn warm_up(&self) -> usize {
        self.params.window - 1
    }

    /// Feeds one bar (only the close enters the rule; high and low are checked).
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming `high`, `low` or `close`, or [`Error::InvalidData`] when
    /// `high < low`; the index is the number of bars accepted since construction or
    /// [`reset`](Self::reset), and the state is unchanged.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Result<SignalAction> {
        check_bar(self.bars, high, low, close)?;
        self.bars += 1;
        Ok(self.push(close))
    }

    /// Forgets all input, as if just constructed.
    pub fn reset(&mut self) {
        self.zscore.reset();
        self.last_z = None;
        self.bars = 0;
    }

    #[inline]
    fn push(&mut self, close: f64) -> SignalAction {
        self.last_z = self.zscore.push(close);
        match self.last_z {
            Some(z) if z <= -self.params.entry_z => SignalAction::EnterLong,
            Some(z) if z >= -self.params.exit_z => SignalAction::ExitLong,
            _ => SignalAction::None,
        }
    }
}

/// Z-score mean reversion over high/low/close slices: the same actions as
/// [`ZScoreReversion::update`] bar by bar (the same kernel over the slices).
///
/// # Errors
/// As [`ZScoreReversionParams::validate`]; [`Error::Shape`] when the lengths differ;
/// [`Error::NonFinite`] / [`Error::InvalidData`] naming the first bad bar in time order.
pub fn zscore_signals(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    params: &ZScoreReversionParams,
) -> Result<Vec<SignalAction>> {
    let mut g = ZScoreReversion::new(*params)?;
    run_batch(high, low, close, |_, _, c| g.push(c))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::walk_bars;
    use super::*;
    use SignalAction::{EnterLong, ExitLong, None};
    use proptest::prelude::*;

    /// Direct two-pass z-score of the last value of `w`; `None` when `w` is flat.
    fn naive_z(w: &[f64]) -> Option<f64> {
        let x = *w.last()?;
        if w.iter().all(|v| *v == w[0]) {
            return Option::None;
        }
        let n = w.len() as f64;
        let mean = w.iter().sum::<f64>() / n;
        let var = w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        Some((x - mean) / var.sqrt())
    }

    fn run(p: ZScoreReversionParams, c: &[f64]) -> Vec<SignalAction> {
        let mut g = ZScoreReversion::new(p).unwrap();
        let streamed: Vec<SignalAction> = c.iter().map(|x| g.update(*x, *x, *x).unwrap()).collect();
        assert_eq!(streamed, zscore_signals(c, c, c, &p).unwrap());
        streamed
    }

    /// Window 4. Closes 10, 10, 10, 10 (flat: no z, no signal), 6 → window 10, 10, 10, 6:
    /// mean 9, σ = √((1+1+1+9)/4) = √3, z = −3/√3 = −√3 = −1.732 ≤ −1.5 → EnterLong;
    /// 9 → 10, 10, 6, 9: mean 8.75, σ² = (1.5625·2 + 7.5625 + 0.0625)/4 = 2.6875,
    /// z = 0.25/1.6394 = 0.1525 ≥ 0 → ExitLong; 8 → 10, 6, 9, 8: mean 8.25, σ² = 2.1875,
    /// z = −0.1690: neither; 6 → 6, 9, 8, 6: mean 7.25, σ² = 1.6875, z = −0.9623: neither.
    #[test]
    fn hand_checked_signals() {
        let c = [10.0, 10.0, 10.0, 10.0, 6.0, 9.0, 8.0, 6.0];
        let p = ZScoreReversionParams::new(4, 1.5, 0.0).unwrap();
        assert_eq!(
            run(p, &c),
            [None, None, None, None, EnterLong, ExitLong, None, None]
        );
        let mut z = RollingZScore::new(4).unwrap();
        let zs: Vec<Option<f64>> = c.iter().map(|x| z.update(*x).unwrap()).collect();
        assert_eq!(&zs[..4], &[Option::None; 4], "warm-up, then a flat window");
        let want = [
            -(3.0f64.sqrt()),
            0.25 / 2.6875f64.sqrt(),
            -0.25 / 2.1875f64.sqrt(),
            -1.25 / 1.6875f64.sqrt(),
        ];
        for (got, want) in zs[4..].iter().zip(want) {
            assert!((got.unwrap() - want).abs() < 1e-12, "{got:?} vs {want}");
        }
        assert_eq!((z.mean(), z.std()), (Some(7.25), Some(1.6875f64.sqrt())));
    }

    #[test]
    fn flat_windows_give_no_signal_even_after_movement() {
        // Window 3: a flat stretch after a move; the sums are rounded but the flatness exact.
        let c = [0.1, 0.7, 0.3, 0.3, 0.3, 0.3, 0.2];
        let mut z = RollingZScore::new(3).unwrap();
        let mut zs = Vec::new();
        for (i, x) in c.iter().enumerate() {
            zs.push(z.update(*x).unwrap());
            if i == 4 || i == 5 {
                assert_eq!(z.std(), Some(0.0), "bar {i}: 0.3, 0.3, 0.3 is flat");
                assert!((z.mean().unwrap() - 0.3).abs() < 1e-15);
            }
        }
        assert!(zs[2].is_some() && zs[3].is_some());
        assert_eq!(&zs[4..6], &[Option::None, Option::None]);
        assert!(
            (zs[6].unwrap() + 2f64.sqrt()).abs() < 1e-12,
            "0.3, 0.3, 0.2: z = −√2"
        );
        let p = ZScoreReversionParams::new(3, 1.0, 0.0).unwrap();
        assert_eq!(run(p, &c)[4..6], [None, None]);
    }

    #[test]
    fn params_checked_and_from_config() {
        let p: ZScoreReversionParams = serde_json::from_str(r#"{"entry_z": 2.5}"#).unwrap();
        assert_eq!(p, ZScoreReversionParams::new(20, 2.5, 0.0).unwrap());
        assert!(serde_json::from_str::<ZScoreReversionParams>(r#"{"entryz": 2}"#).is_err());
        let bad = |w: usize, e: f64, x: f64| -> Vec<&'static str> {
            ZScoreReversionParams {
                window: w,
                entry_z: e,
                exit_z: x,
            }
            .problems()
            .into_iter()
            .map(|e| match e {
                Error::InvalidParameter { name, .. } => name,
                other => panic!("unexpected {other}"),
            })
            .collect()
        };
        assert!(bad(20, 2.0, 0.0).is_empty());
        assert_eq!(bad(1, 2.0, 0.0), ["zscore_reversion.window"]);
        assert_eq!(bad(20, 0.0, -1.0), ["zscore_reversion.entry_z"]);
        assert_eq!(
            bad(20, f64::NAN, 0.0),
            ["zscore_reversion.entry_z", "zscore_reversion.exit_z"]
        );
        assert_eq!(
            bad(20, 2.0, 2.0),
            ["zscore_reversion.exit_z"],
            "overlapping rules"
        );
        // |z| ≤ √(n − 1): window 4 can give at most 1.732.
        assert_eq!(bad(4, 1.8, 0.0), ["zscore_reversion.entry_z"]);
        assert_eq!(bad(4, 1.5, -1.8), ["zscore_reversion.exit_z"]);
        assert!(
            ZScoreReversion::new(ZScoreReversionParams {
                window: 0,
                ..Default::default()
            })
            .is_err()
        );
        assert!(RollingZScore::new(1).is_err());
    }

    #[test]
    fn bad_bars_and_values_are_errors_that_leave_the_state() {
        let p = ZScoreReversionParams::new(4, 1.5, 0.0).unwrap();
        let mut g = ZScoreReversion::new(p).unwrap();
        for x in [10.0, 10.0, 10.0, 10.0] {
            g.update(x, x, x).unwrap();
        }
        let e = g.update(6.0, f64::NAN, 6.0).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NonFinite {
                    what: "low",
                    index: 4,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(g.update(6.0, 6.0, 6.0).unwrap(), EnterLong);
        assert!((g.zscore().unwrap() + 3.0f64.sqrt()).abs() < 1e-12);
        let mut z = RollingZScore::new(2).unwrap();
        assert!(matches!(
            z.update(f64::NAN),
            Err(Error::NonFinite { index: 0, .. })
        ));
        g.reset();
        assert_eq!(g.zscore(), Option::None);
    }

    /// A spike far above a quiet series: after it leaves the window the add-and-remove sums
    /// would have cancelled catastrophically; the recompute rule keeps z exact.
    #[test]
    fn survives_a_spike_leaving_the_window() {
        let mut c: Vec<f64> = (0..200).map(|i| 100.0 + 0.001 * f64::from(i % 7)).collect();
        for (i, spike) in [
            (25, 1e9),
            (52, 3.7e8),
            (84, 1.234e7),
            (113, 5e5),
            (147, 9.1e9),
        ] {
            c[i] = spike;
        }
        let n = 10;
        let mut z = RollingZScore::new(n).unwrap();
        for (i, x) in c.iter().enumerate() {
            let got = z.update(*x).unwrap();
            if i + 1 >= n {
                let want = naive_z(&c[i + 1 - n..=i]);
                let (g, w) = (got.unwrap(), want.unwrap());
                assert!((g - w).abs() < 1e-9, "bar {i}: {g} vs {w}");
            }
        }
    }

    /// Prices as a random walk that often repeats the last value (flat windows), otherwise moves
    /// by 0.1 %–5 %, sometimes jumps ×10 (spikes); so windows are flat, ordinary or dominated
    /// by one outlier, and the naive two-pass reference stays well conditioned.
    fn prices(max_len: usize) -> impl Strategy<Value = Vec<f64>> {
        (
            1.0f64..1e5,
            prop::collection::vec((0u8..10, 0.001f64..0.05, any::<bool>()), 1..max_len),
        )
            .prop_map(|(start, steps)| {
                let mut p = start;
                steps
                    .iter()
                    .map(|(kind, r, up)| {
                        let sign = if *up { 1.0 } else { -1.0 };
                        match kind {
                            0..=3 => {}
                            4 => p *= if *up { 10.0 } else { 0.1 },
                            _ => p *= 1.0 + sign * r,
                        }
                        p
                    })
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn rolling_z_matches_a_naive_two_pass(xs in prices(400), n in 2usize..40) {
            let mut z = RollingZScore::new(n).unwrap();
            for (i, x) in xs.iter().enumerate() {
                let got = z.update(*x).unwrap();
                if i + 1 < n {
                    prop_assert!(got.is_none());
                    continue;
                }
                let w = &xs[i + 1 - n..=i];
                match (got, naive_z(w)) {
                    (Some(g), Some(want)) => prop_assert!(
                        (g - want).abs() <= 1e-9, "bar {}: {} vs {}", i, g, want
                    ),
                    (Option::None, Option::None) => {}
                    (g, want) => prop_assert!(false, "bar {}: {:?} vs {:?}", i, g, want),
                }
                let mean = w.iter().sum::<f64>() / n as f64;
                let m = z.mean().unwrap();
                prop_assert!((m - mean).abs() <= 1e-12 * mean.abs().max(1.0), "{} vs {}", m, mean);
            }
        }

        #[test]
        fn streaming_equals_batch(
            (high, low, close) in walk_bars(300), n in 2usize..30, entry in 0.1f64..1.0,
            exit in -1.0f64..1.0,
        ) {
            let max_z = ((n - 1) as f64).sqrt();
            let entry_z = entry * max_z;
            let exit_z = (exit * max_z).min(entry_z * 0.99);
            let p = ZScoreReversionParams::new(n, entry_z, exit_z).unwrap();
            let batch = zscore_signals(&high, &low, &close, &p).unwrap();
            let mut g = ZScoreReversion::new(p).unwrap();
            for i in 0..close.len() {
                let a = g.update(high[i], low[i], close[i]).unwrap();
                prop_assert_eq!(a, batch[i], "bar {}", i);
                if i < g.warm_up() {
                    prop_assert_eq!(a, SignalAction::None);
                }
            }
        }
    }
}
