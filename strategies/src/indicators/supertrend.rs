//! SuperTrend as pandas-ta defines it (`pandas_ta.overlap.supertrend`, 0.3.14b / 0.4.x loop).
//!
//! Basic bands `hl2 ± m·ATR(n)` with `hl2 = 0.5·(h + l)` and ATR = [`super::atr`] (pandas-ta
//! takes TA-Lib's `ATR` whenever TA-Lib is importable, its default; without TA-Lib it uses a
//! pandas `ewm(alpha = 1/n, adjust = True)` of the true range, which differs in the early rows).
//! The direction starts at +1 (bullish). For every bar after the first one with an ATR:
//! - `close > upper_{t−1}` → direction +1; else `close < lower_{t−1}` → −1;
//! - else the direction is kept and the active band ratchets: while bullish
//!   `lower_t = max(lower_t, lower_{t−1})`, while bearish `upper_t = min(upper_t, upper_{t−1})`
//!   (the inactive band stays the basic band; on a flip bar nothing ratchets).
//!
//! Output value = lower band when bullish, upper band when bearish. First output at index `n`
//! (the ATR's); rows before are missing (pandas-ta writes NaN for the trend there, and NaN or its
//! +1 start value for the direction depending on the version).

use super::atr::{Atr, atr_step, max_finite, min_finite, true_range};
use super::common::{check_bar, check_bars, check_multiplier, fit, zeroed};
use crate::Result;

/// One SuperTrend row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SuperTrendOutput {
    /// The active band: the lower band when bullish, the upper band when bearish.
    pub value: f64,
    /// +1 bullish, −1 bearish.
    pub direction: i8,
}

/// Batch SuperTrend: NaN during the warm-up; direction as ±1.0. `Default` is empty, ready for
/// [`supertrend_into`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SuperTrendSeries {
    /// The active band.
    pub value: Vec<f64>,
    /// +1.0 bullish, −1.0 bearish.
    pub direction: Vec<f64>,
}

/// Basic bands `(hl2 + m·ATR, hl2 − m·ATR)`, shared by the streaming and the batch form.
#[inline(always)]
fn basic_bands(high: f64, low: f64, atr: f64, multiplier: f64) -> (f64, f64) {
    let hl2 = 0.5 * (high + low);
    let band = multiplier * atr;
    (hl2 + band, hl2 - band)
}

/// One SuperTrend step after the first output: the direction from the close against the
/// previous bands, then the ratchet of the active band when the direction is kept. Returns
/// `(upper, lower, direction)`. Written with selects rather than an if/else chain so the
/// data-dependent crossing tests compile without branches; same arithmetic (`max`/`min`) as
/// the module doc's rules, shared by the streaming and the batch form.
#[inline(always)]
fn ratchet(
    close: f64,
    (upper, lower): (f64, f64),
    (prev_upper, prev_lower): (f64, f64),
    direction: i8,
) -> (f64, f64, i8) {
    let up = close > prev_upper;
    let down = close < prev_lower;
    let keep = !up & !down;
    let bull = direction > 0;
    let lower = if keep & bull {
        max_finite(lower, prev_lower)
    } else {
        lower
    };
    let upper = if keep & !bull {
        min_finite(upper, prev_upper)
    } else {
        upper
    };
    let direction = if up {
        1
    } else if down {
        -1
    } else {
        direction
    };
    (upper, lower, direction)
}

/// Streaming SuperTrend(n, m): O(1) state, no allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct SuperTrend {
    atr: Atr,
    multiplier: f64,
    upper: f64,
    lower: f64,
    direction: i8,
    has_bands: bool,
    updates: usize,
}

impl SuperTrend {
    /// SuperTrend with an ATR over `period` bars and bands at `multiplier` ATRs (Hermes: 10, 3).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] when `period` is 0 or `multiplier` is negative or not
    /// finite.
    pub fn new(period: usize, multiplier: f64) -> Result<Self> {
        check_multiplier("supertrend.multiplier", multiplier)?;
        Ok(Self {
            atr: Atr::new(period)?,
            multiplier,
            upper: f64::NAN,
            lower: f64::NAN,
            direction: 1,
            has_bands: false,
            updates: 0,
        })
    }

    /// Index (0-based) of the first bar that produces an output: `n`.
    #[must_use]
    pub fn warm_up(&self) -> usize {
        self.atr.warm_up()
    }

    /// The ATR behind the bands, `None` during the warm-up.
    #[must_use]
    pub fn atr(&self) -> Option<f64> {
        self.atr.value()
    }

    /// Feeds one bar; `None` during the warm-up.
    ///
    /// # Errors
    /// [`crate::Error::NonFinite`] or [`crate::Error::InvalidData`] (`high < low`), with
    /// index = updates since construction or reset; the state is then unchanged.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Result<Option<SuperTrendOutput>> {
        check_bar(self.updates, high, low, close)?;
        self.updates += 1;
        Ok(self.push(high, low, close))
    }

    /// Forgets all input, as if just constructed.
    pub fn reset(&mut self) {
        self.atr.reset();
        self.upper = f64::NAN;
        self.lower = f64::NAN;
        self.direction = 1;
        self.has_bands = false;
        self.updates = 0;
    }

    /// Unchecked update (input already validated).
    #[inline]
    pub(crate) fn push(&mut self, high: f64, low: f64, close: f64) -> Option<SuperTrendOutput> {
        let atr = self.atr.push(high, low, close)?;
        let (mut upper, mut lower) = basic_bands(high, low, atr, self.multiplier);
        if self.has_bands {
            (upper, lower, self.direction) = ratchet(
                close,
                (upper, lower),
                (self.upper, self.lower),
                self.direction,
            );
        }
        self.has_bands = true;
        (self.upper, self.lower) = (upper, lower);
        let value = if self.direction > 0 { lower } else { upper };
        Some(SuperTrendOutput {
            value,
            direction: self.direction,
        })
    }
}

/// SuperTrend over high/low/close slices; NaN for the first `n` rows. Bit-identical to
/// [`SuperTrend::update`].
///
/// Allocates the two columns once; to reuse them across calls use [`supertrend_into`].
///
/// # Errors
/// As [`SuperTrend::new`]; [`crate::Error::Shape`] when the lengths differ;
/// [`crate::Error::NonFinite`] / [`crate::Error::InvalidData`] naming the first bad index.
pub fn supertrend(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    multiplier: f64,
) -> Result<SuperTrendSeries> {
    let st = SuperTrend::new(period, multiplier)?;
    check_bars(high, low, close)?;
    Ok(supertrend_unchecked(high, low, close, st))
}

/// [`supertrend`] into caller-owned columns: each is resized to `close.len()` (reusing its
/// capacity, so no allocation once it is large enough) and every row overwritten.
/// Bit-identical to [`supertrend`].
///
/// # Errors
/// As [`supertrend`]. On error `out` is unchanged.
pub fn supertrend_into(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    multiplier: f64,
    out: &mut SuperTrendSeries,
) -> Result<()> {
    let st = SuperTrend::new(period, multiplier)?;
    check_bars(high, low, close)?;
    fit(&mut out.value, close.len());
    fit(&mut out.direction, close.len());
    supertrend_fill(
        high,
        low,
        close,
        st,
        &mut out.value,
        &mut out.direction,
        None,
    );
    Ok(())
}

/// Batch SuperTrend on validated input, from a fresh [`SuperTrend`].
pub(crate) fn supertrend_unchecked(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    st: SuperTrend,
) -> SuperTrendSeries {
    let len = close.len();
    let (mut value, mut direction) = (zeroed(len), zeroed(len));
    supertrend_fill(high, low, close, st, &mut value, &mut direction, None);
    SuperTrendSeries { value, direction }
}

/// Batch SuperTrend kernel on validated input, from a fresh [`SuperTrend`]: writes every row of
/// both columns (each `close.len()` long) exactly once, and of `atr` too when given (the ATR
/// behind the bands, NaN during its warm-up: the same column as [`super::atr()`], which
/// [`super::standard_features`] takes from here instead of a second pass). The warm-up (through
/// the first output) runs the streaming struct; after it the ATR and band state live in
/// registers and every row runs the same step functions as [`SuperTrend::update`], with no
/// Option in the loop.
pub(crate) fn supertrend_fill(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    mut st: SuperTrend,
    value: &mut [f64],
    direction: &mut [f64],
    mut atr_out: Option<&mut [f64]>,
) {
    let len = close.len();
    debug_assert!(high.len() == len && low.len() == len);
    debug_assert!(value.len() == len && direction.len() == len);
    debug_assert!(atr_out.as_ref().is_none_or(|a| a.len() == len));
    let warm = (st.warm_up() + 1).min(len).min(value.len());
    let (v_warm, v_rest) = value.split_at_mut(warm);
    let (d_warm, d_rest) = direction.split_at_mut(warm);
    let bars = high.iter().zip(low).zip(close);
    for (i, (((h, l), c), (ov, od))) in bars.zip(v_warm.iter_mut().zip(d_warm)).enumerate() {
        (*ov, *od) = match st.push(*h, *l, *c) {
            Some(o) => (o.value, f64::from(o.direction)),
            None => (f64::NAN, f64::NAN),
        };
        if let Some(a) = atr_out.as_deref_mut() {
            a[i] = st.atr().unwrap_or(f64::NAN);
        }
    }
    if v_rest.is_empty() {
        return;
    }
    let (decay, weight, mut atr, _) = st.atr.state();
    let multiplier = st.multiplier;
    let (mut upper, mut lower, mut dir) = (st.upper, st.lower, st.direction);
    let mut step = |h: f64, l: f64, c: f64, pc: f64| {
        atr = atr_step(atr, true_range(h, l, pc), decay, weight);
        let basic = basic_bands(h, l, atr, multiplier);
        (upper, lower, dir) = ratchet(c, basic, (upper, lower), dir);
        (if dir > 0 { lower } else { upper }, f64::from(dir), atr)
    };
    let bars = high[warm..]
        .iter()
        .zip(&low[warm..])
        .zip(close[warm..].iter().zip(&close[warm - 1..]));
    let outs = v_rest.iter_mut().zip(d_rest);
    match atr_out {
        Some(a) => {
            for ((((h, l), (c, pc)), (ov, od)), oa) in bars.zip(outs).zip(&mut a[warm..]) {
                (*ov, *od, *oa) = step(*h, *l, *c, *pc);
            }
        }
        None => {
            for (((h, l), (c, pc)), (ov, od)) in bars.zip(outs) {
                (*ov, *od, _) = step(*h, *l, *c, *pc);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::common::bits;
    use proptest::prelude::*;

    #[test]
    fn hand_checked_values() {
        // n = 1 (ATR = TR), m = 1. Bar 0 gives c0 = 10 only.
        // Bar 1: h 11 l 9 c 10 → TR 2, hl2 10 → bands 12 / 8, first output: +1, value 8.
        // Bar 2: h 11 l 10 c 10.5 → TR 1, bands 11.5 / 9.5; no cross → bullish, lower
        //        max(9.5, 8) = 9.5.
        // Bar 3: h 10 l 9.6 c 9.7 → TR max(0.4, 0.5, 0.9) = 0.9, bands 10.7 / 8.9; no cross
        //        (9.7 ≥ 9.5) → lower ratchets to max(8.9, 9.5) = 9.5.
        // Bar 4: h 9.5 l 8 c 8.2 → TR 1.7, hl2 8.75, bands 10.45 / 7.05; close 8.2 < 9.5 → −1,
        //        value = upper 10.45 (no ratchet on the flip bar).
        // Bar 5: h 9 l 8 c 8.5 → TR 1, bands 9.5 / 7.5; no cross (8.5 ≤ 10.45, ≥ 7.05),
        //        bearish → upper min(9.5, 10.45) = 9.5.
        // Bar 6: h 10 l 9.8 c 9.9 → TR max(0.2, 1.5, 1.3) = 1.5, bands 11.4 / 8.4;
        //        close 9.9 > 9.5 → +1, value = lower 8.4.
        let h = [10.5, 11.0, 11.0, 10.0, 9.5, 9.0, 10.0];
        let l = [9.5, 9.0, 10.0, 9.6, 8.0, 8.0, 9.8];
        let c = [10.0, 10.0, 10.5, 9.7, 8.2, 8.5, 9.9];
        let st = supertrend(&h, &l, &c, 1, 1.0).unwrap();
        assert!(st.value[0].is_nan() && st.direction[0].is_nan());
        let expect = [
            (8.0, 1.0),
            (9.5, 1.0),
            (9.5, 1.0),
            (10.45, -1.0),
            (9.5, -1.0),
            (8.4, 1.0),
        ];
        for (i, (v, d)) in expect.iter().enumerate() {
            assert!(
                (st.value[i + 1] - v).abs() < 1e-12,
                "row {}: {} vs {v}",
                i + 1,
                st.value[i + 1]
            );
            assert_eq!(st.direction[i + 1], *d, "row {}", i + 1);
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(SuperTrend::new(0, 3.0).is_err());
        assert!(SuperTrend::new(10, f64::INFINITY).is_err());
        assert!(SuperTrend::new(10, -3.0).is_err());
    }

    proptest! {
        #[test]
        fn into_equals_allocating_on_a_dirty_buffer(
            bars in prop::collection::vec((1.0f64..1e4, 0.0f64..100.0, -0.5f64..1.5), 0..150),
            n in 1usize..15, m in 0.0f64..5.0, junk in -1e9f64..1e9, dirty_len in 0usize..300
        ) {
            let high: Vec<f64> = bars.iter().map(|b| b.0 + b.1).collect();
            let low: Vec<f64> = bars.iter().map(|b| b.0).collect();
            let close: Vec<f64> = bars.iter().map(|b| b.0 + b.1 * b.2).collect();
            let want = supertrend(&high, &low, &close, n, m).unwrap();
            let mut out = SuperTrendSeries { value: vec![junk; dirty_len], direction: Vec::new() };
            for _ in 0..2 {
                supertrend_into(&high, &low, &close, n, m, &mut out).unwrap();
                prop_assert_eq!(bits(&out.value), bits(&want.value));
                prop_assert_eq!(bits(&out.direction), bits(&want.direction));
            }
        }

        #[test]
        fn streaming_equals_batch(
            bars in prop::collection::vec((1.0f64..1e4, 0.0f64..100.0, -0.5f64..1.5), 0..150),
            n in 1usize..15, m in 0.0f64..5.0
        ) {
            let high: Vec<f64> = bars.iter().map(|b| b.0 + b.1).collect();
            let low: Vec<f64> = bars.iter().map(|b| b.0).collect();
            let close: Vec<f64> = bars.iter().map(|b| b.0 + b.1 * b.2).collect();
            let batch = supertrend(&high, &low, &close, n, m).unwrap();
            let mut st = SuperTrend::new(n, m).unwrap();
            for i in 0..bars.len() {
                let s = st.update(high[i], low[i], close[i]).unwrap();
                prop_assert_eq!(s.is_some(), i >= st.warm_up());
                match s {
                    Some(o) => {
                        prop_assert_eq!(o.value.to_bits(), batch.value[i].to_bits());
                        prop_assert_eq!(f64::from(o.direction), batch.direction[i]);
                        prop_assert!(o.direction == 1 || o.direction == -1);
                    }
                    None => prop_assert!(batch.value[i].is_nan() && batch.direction[i].is_nan()),
                }
            }
        }
    }
}
