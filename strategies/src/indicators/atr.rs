//! Average true range, Wilder smoothing, TA-Lib convention (`TA_ATR`, unstable period 0).
//!
//! `TR_t = max(h_t − l_t, |h_t − c_{t−1}|, |l_t − c_{t−1}|)` needs the previous close, so the
//! first bar has **no** true range: it only supplies `c_0`. The ATR is seeded with the mean of
//! the first `n` true ranges (bars `1..=n`) and first output at index `n`; after that
//! `ATR_t = ATR_{t−1}·a + TR_t·(1 − a)` with `a = (n − 1)/n`. That is exactly the arithmetic of
//! the TA-Lib 0.8 C library's portable build (`TA_ATR.default`); on CPUs with FMA the TA-Lib
//! wheel dispatches to a fused-multiply-add build, which differs in the last ulp or so. For
//! `n = 1` the ATR is the true range (TA-Lib returns `TRANGE` there; same numbers).

use super::common::{check_bar, check_bars, check_out, check_period};
use crate::Result;

/// True range of a bar given the previous close.
#[inline(always)]
#[must_use]
pub fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
    max_finite(
        max_finite(high - low, (prev_close - high).abs()),
        (prev_close - low).abs(),
    )
}

/// `max(a, b)` for non-NaN operands as one `maxsd` (`f64::max` adds a NaN test and a blend).
#[inline(always)]
pub(crate) fn max_finite(a: f64, b: f64) -> f64 {
    if a > b { a } else { b }
}

/// `min(a, b)` for non-NaN operands as one `minsd`.
#[inline(always)]
pub(crate) fn min_finite(a: f64, b: f64) -> f64 {
    if a < b { a } else { b }
}

/// One Wilder step of the ATR, shared by the streaming and both batch forms (ATR, SuperTrend).
#[inline(always)]
pub(crate) fn atr_step(prev: f64, tr: f64, decay: f64, weight: f64) -> f64 {
    prev * decay + tr * weight
}

/// Streaming ATR(n): O(1) state, no allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Atr {
    period: usize,
    decay: f64,
    weight: f64,
    /// Bars seen, saturating at `period + 1`.
    seen: usize,
    prev_close: f64,
    /// Sum of true ranges during the seed, then the ATR.
    value: f64,
    updates: usize,
}

impl Atr {
    /// An ATR over `period` true ranges (TA-Lib default 14; Hermes's feature set uses 10).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] when `period` is 0.
    pub fn new(period: usize) -> Result<Self> {
        check_period("atr.period", period)?;
        let decay = (period as f64 - 1.0) / period as f64;
        Ok(Self {
            period,
            decay,
            weight: 1.0 - decay,
            seen: 0,
            prev_close: f64::NAN,
            value: 0.0,
            updates: 0,
        })
    }

    /// Index (0-based) of the first bar that produces an output: `n`.
    #[must_use]
    pub fn warm_up(&self) -> usize {
        self.period
    }

    /// Feeds one bar; `None` during the warm-up.
    ///
    /// # Errors
    /// [`crate::Error::NonFinite`] or [`crate::Error::InvalidData`] (`high < low`), with
    /// index = updates since construction or reset; the state is then unchanged.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Result<Option<f64>> {
        check_bar(self.updates, high, low, close)?;
        self.updates += 1;
        Ok(self.push(high, low, close))
    }

    /// The current value, `None` during the warm-up.
    #[must_use]
    pub fn value(&self) -> Option<f64> {
        (self.seen > self.period).then_some(self.value)
    }

    /// Forgets all input, as if just constructed.
    pub fn reset(&mut self) {
        *self = Self {
            seen: 0,
            prev_close: f64::NAN,
            value: 0.0,
            updates: 0,
            ..*self
        };
    }

    /// `(decay, weight, raw value, previous close)` for the batch steady-state loops.
    #[inline]
    pub(crate) fn state(&self) -> (f64, f64, f64, f64) {
        (self.decay, self.weight, self.value, self.prev_close)
    }

    /// Unchecked update (input already validated).
    #[inline]
    pub(crate) fn push(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let tr = true_range(high, low, self.prev_close);
        self.prev_close = close;
        if self.seen > self.period {
            self.value = atr_step(self.value, tr, self.decay, self.weight);
            return Some(self.value);
        }
        if self.seen == 0 {
            self.seen = 1;
            return None;
        }
        self.value += tr;
        self.seen += 1;
        if self.seen > self.period {
            self.value /= self.period as f64;
            Some(self.value)
        } else {
            None
        }
    }
}

/// ATR(n) over high/low/close slices; NaN for the first `n` rows. Bit-identical to
/// [`Atr::update`].
///
/// Allocates the output once; to reuse a buffer across calls use [`atr_into`].
///
/// # Errors
/// [`crate::Error::InvalidParameter`] when `period` is 0; [`crate::Error::Shape`] when the
/// lengths differ; [`crate::Error::NonFinite`] / [`crate::Error::InvalidData`] (`high < low`)
/// naming the first bad index.
pub fn atr(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Result<Vec<f64>> {
    check_period("atr.period", period)?;
    check_bars(high, low, close)?;
    Ok(atr_unchecked(high, low, close, period))
}

/// [`atr`] into a caller-owned buffer (one slot per bar, every slot overwritten, NaN during the
/// warm-up): no allocation. Bit-identical to [`atr`].
///
/// # Errors
/// As [`atr`]; [`crate::Error::Shape`] (`"atr out"`) when `out.len() != close.len()`. On error
/// `out` is unchanged.
pub fn atr_into(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    out: &mut [f64],
) -> Result<()> {
    check_period("atr.period", period)?;
    check_bars(high, low, close)?;
    check_out("atr out", out, close.len())?;
    atr_fill(high, low, close, period, out);
    Ok(())
}

/// Batch ATR on validated input, into a fresh vector written once by `extend` over exact-size
/// iterators (no zeroing or fill pass). Same steps as [`atr_fill`].
pub(crate) fn atr_unchecked(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Vec<f64> {
    let len = close.len();
    let Ok(mut a) = Atr::new(period) else {
        return vec![f64::NAN; len];
    };
    let warm = (period + 1).min(len);
    let mut out = Vec::with_capacity(len);
    let bars = high.iter().zip(low).zip(close).take(warm);
    out.extend(bars.map(|((h, l), c)| a.push(*h, *l, *c).unwrap_or(f64::NAN)));
    if warm < len {
        let (decay, weight, mut v, _) = a.state();
        let bars = high[warm..]
            .iter()
            .zip(&low[warm..])
            .zip(&close[warm - 1..]);
        out.extend(bars.map(|((h, l), pc)| {
            v = atr_step(v, true_range(*h, *l, *pc), decay, weight);
            v
        }));
    }
    out
}

/// Batch ATR kernel on validated input: writes every element of `out` (`close.len()` long)
/// exactly once.
pub(crate) fn atr_fill(high: &[f64], low: &[f64], close: &[f64], period: usize, out: &mut [f64]) {
    let len = close.len();
    debug_assert!(high.len() == len && low.len() == len && out.len() == len);
    let Ok(mut a) = Atr::new(period) else {
        out.fill(f64::NAN);
        return;
    };
    let warm = (period + 1).min(len).min(out.len());
    let (out_warm, out_rest) = out.split_at_mut(warm);
    let bars = high.iter().zip(low).zip(close);
    for (o, ((h, l), c)) in out_warm.iter_mut().zip(bars) {
        *o = a.push(*h, *l, *c).unwrap_or(f64::NAN);
    }
    if out_rest.is_empty() {
        return;
    }
    // Steady state: bar t with the previous close `close[t − 1]`.
    let (decay, weight, mut v, _) = a.state();
    let bars = high[warm..]
        .iter()
        .zip(&low[warm..])
        .zip(&close[warm - 1..]);
    for (o, ((h, l), pc)) in out_rest.iter_mut().zip(bars) {
        v = atr_step(v, true_range(*h, *l, *pc), decay, weight);
        *o = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::common::bits;
    use proptest::prelude::*;

    #[test]
    fn hand_checked_values() {
        assert_eq!(true_range(10.0, 8.0, 9.0), 2.0);
        assert_eq!(true_range(10.0, 8.0, 13.0), 5.0); // gap down: |l − c| = 5
        assert_eq!(true_range(10.0, 8.0, 5.0), 5.0); // gap up: |h − c| = 5
        // n = 2: bar 0 only gives c0 = 9. TR1 = max(2, 1, 1) = 2, TR2 = max(1, 3, 2) = 3 →
        // seed 2.5 at index 2; TR3 = max(4, 4, 0) = 4 → 2.5·0.5 + 4·0.5 = 3.25.
        let h = [10.0, 11.0, 13.0, 12.0];
        let l = [8.0, 9.0, 12.0, 8.0];
        let c = [9.0, 10.0, 12.0, 9.0];
        let out = atr(&h, &l, &c, 2).unwrap();
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_eq!(&out[2..], &[2.5, 3.25]);
        // n = 1 is the true range from bar 1 on.
        assert_eq!(&atr(&h, &l, &c, 1).unwrap()[1..], &[2.0, 3.0, 4.0]);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(Atr::new(0).is_err());
        let err = atr(&[1.0, 2.0], &[0.5, 2.5], &[1.0, 2.0], 1).unwrap_err();
        assert!(
            matches!(err, crate::Error::InvalidData { index: 1, .. }),
            "{err}"
        );
        assert!(matches!(
            atr(&[1.0], &[0.5, 0.4], &[1.0], 1),
            Err(crate::Error::Shape { .. })
        ));
        let mut a = Atr::new(2).unwrap();
        assert!(matches!(
            a.update(1.0, f64::NAN, 1.0),
            Err(crate::Error::NonFinite { index: 0, .. })
        ));
    }

    #[test]
    fn into_rejects_a_wrong_length_buffer() {
        let mut out = [7.0; 1];
        let err = atr_into(&[2.0, 2.0], &[1.0, 1.0], &[1.5, 1.5], 1, &mut out).unwrap_err();
        assert!(
            matches!(
                err,
                crate::Error::Shape {
                    what: "atr out",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(out, [7.0], "untouched on error");
    }

    proptest! {
        #[test]
        fn into_equals_allocating_on_a_dirty_buffer(
            bars in prop::collection::vec((1.0f64..1e4, 0.0f64..100.0, 0.0f64..1.0), 0..150),
            n in 1usize..20, junk in -1e9f64..1e9
        ) {
            let high: Vec<f64> = bars.iter().map(|b| b.0 + b.1).collect();
            let low: Vec<f64> = bars.iter().map(|b| b.0).collect();
            let close: Vec<f64> = bars.iter().map(|b| b.0 + b.1 * b.2).collect();
            let want = atr(&high, &low, &close, n).unwrap();
            let mut out = vec![junk; bars.len()];
            for _ in 0..2 {
                atr_into(&high, &low, &close, n, &mut out).unwrap();
                prop_assert_eq!(bits(&out), bits(&want));
            }
        }

        #[test]
        fn streaming_equals_batch(bars in prop::collection::vec((1.0f64..1e4, 0.0f64..100.0, 0.0f64..1.0), 0..150), n in 1usize..20) {
            let high: Vec<f64> = bars.iter().map(|b| b.0 + b.1).collect();
            let low: Vec<f64> = bars.iter().map(|b| b.0).collect();
            let close: Vec<f64> = bars.iter().map(|b| b.0 + b.1 * b.2).collect();
            let batch = atr(&high, &low, &close, n).unwrap();
            let mut a = Atr::new(n).unwrap();
            for i in 0..bars.len() {
                let s = a.update(high[i], low[i], close[i]).unwrap();
                prop_assert_eq!(s.is_some(), i >= a.warm_up());
                prop_assert_eq!(s.unwrap_or(f64::NAN).to_bits(), batch[i].to_bits());
                if let Some(v) = s { prop_assert!(v >= 0.0); }
            }
        }
    }
}
