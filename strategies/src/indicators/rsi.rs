//! Relative strength index, Wilder smoothing, TA-Lib convention (`TA_RSI`, unstable period 0,
//! not MetaStock-compatible).
//!
//! Changes `d_t = x_t − x_{t−1}` split into gain `max(d, 0)` and loss `max(−d, 0)`. The first
//! output, at index `n` (it needs `n` changes, so `n + 1` values), uses the simple means of the
//! first `n` gains and losses; after that Wilder smoothing
//! `avg_t = avg_{t−1}·(n−1)/n + x_t·(1/n)` (TA-Lib computes `(avg·(n−1) + x)·(1/n)`; the
//! difference is a few ulps, and this form is ~1.6× faster). `RSI = 100·avg_gain/(avg_gain +
//! avg_loss)`, so `0 ≤ RSI ≤ 100` exactly.
//!
//! **Flat market.** When `avg_gain + avg_loss == 0` (no price change anywhere in the smoothing
//! memory) the RSI is **0**, as in TA-Lib (its C code writes 0.0 there; checked against the
//! TA-Lib 0.8 wheel). Older TA-Lib versions tested `|sum| < 1e-8` instead of `== 0`, which
//! misreads low-priced assets (a 1e-10 step gives 0 instead of 100); this uses the exact test,
//! as current TA-Lib does.

use super::common::{check_finite, check_out, check_period, check_value, zeroed};
use crate::Result;

/// `max(d, 0)`, branch-free: `d > 0 ? d : 0` is exactly one `maxsd` on x86-64, cheaper than
/// `f64::max` (whose NaN rule costs a compare and a blend; inputs here are finite).
#[inline(always)]
fn gain(d: f64) -> f64 {
    if d > 0.0 { d } else { 0.0 }
}

/// `max(−d, 0)`, branch-free (one `maxsd`).
#[inline(always)]
fn loss(d: f64) -> f64 {
    let m = -d;
    if m > 0.0 { m } else { 0.0 }
}

/// RSI from the two averages (0 when both are 0, see the module doc).
#[inline(always)]
pub(crate) fn rsi_value(avg_gain: f64, avg_loss: f64) -> f64 {
    let total = avg_gain + avg_loss;
    if total > 0.0 {
        100.0 * (avg_gain / total)
    } else {
        0.0
    }
}

/// One Wilder step of both averages, shared by streaming and batch.
#[inline(always)]
pub(crate) fn wilder_step(ag: &mut f64, al: &mut f64, d: f64, decay: f64, weight: f64) {
    *ag = *ag * decay + gain(d) * weight;
    *al = *al * decay + loss(d) * weight;
}

/// Streaming RSI(n): O(1) state, no allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Rsi {
    period: usize,
    decay: f64,
    weight: f64,
    /// Values seen, saturating at `period + 1`.
    seen: usize,
    prev: f64,
    avg_gain: f64,
    avg_loss: f64,
    updates: usize,
}

impl Rsi {
    /// An RSI over `period` changes.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] when `period` is 0.
    pub fn new(period: usize) -> Result<Self> {
        check_period("rsi.period", period)?;
        let n = period as f64;
        Ok(Self {
            period,
            decay: (n - 1.0) / n,
            weight: 1.0 / n,
            seen: 0,
            prev: f64::NAN,
            avg_gain: 0.0,
            avg_loss: 0.0,
            updates: 0,
        })
    }

    /// The period `n`.
    #[must_use]
    pub fn period(&self) -> usize {
        self.period
    }

    /// Index (0-based) of the first value that produces an output: `n`.
    #[must_use]
    pub fn warm_up(&self) -> usize {
        self.period
    }

    /// Feeds one value; `None` during the warm-up.
    ///
    /// # Errors
    /// [`crate::Error::NonFinite`] (index = updates since construction or reset) when `x` is
    /// NaN or infinite; the state is then unchanged.
    pub fn update(&mut self, x: f64) -> Result<Option<f64>> {
        check_value("rsi input", self.updates, x)?;
        self.updates += 1;
        Ok(self.push(x))
    }

    /// The current value, `None` during the warm-up.
    #[must_use]
    pub fn value(&self) -> Option<f64> {
        (self.seen > self.period).then(|| rsi_value(self.avg_gain, self.avg_loss))
    }

    /// Forgets all input, as if just constructed.
    pub fn reset(&mut self) {
        *self = Self {
            seen: 0,
            prev: f64::NAN,
            avg_gain: 0.0,
            avg_loss: 0.0,
            updates: 0,
            ..*self
        };
    }

    /// `(decay, weight, avg_gain, avg_loss)` for batch steady-state loops.
    #[inline]
    pub(crate) fn state(&self) -> (f64, f64, f64, f64) {
        (self.decay, self.weight, self.avg_gain, self.avg_loss)
    }

    /// Unchecked update (input already validated).
    #[inline]
    pub(crate) fn push(&mut self, x: f64) -> Option<f64> {
        let d = x - self.prev;
        self.prev = x;
        if self.seen > self.period {
            wilder_step(
                &mut self.avg_gain,
                &mut self.avg_loss,
                d,
                self.decay,
                self.weight,
            );
            return Some(rsi_value(self.avg_gain, self.avg_loss));
        }
        if self.seen == 0 {
            self.seen = 1;
            return None;
        }
        // During the seed the averages hold the running sums.
        self.avg_gain += gain(d);
        self.avg_loss += loss(d);
        self.seen += 1;
        if self.seen > self.period {
            let n = self.period as f64;
            self.avg_gain /= n;
            self.avg_loss /= n;
            Some(rsi_value(self.avg_gain, self.avg_loss))
        } else {
            None
        }
    }
}

/// RSI(n) over a slice; NaN for the first `n` rows. Bit-identical to [`Rsi::update`].
///
/// Allocates the output once; to reuse a buffer across calls use [`rsi_into`].
///
/// # Errors
/// [`crate::Error::InvalidParameter`] when `period` is 0; [`crate::Error::NonFinite`] naming
/// the first NaN or infinite input.
pub fn rsi(xs: &[f64], period: usize) -> Result<Vec<f64>> {
    check_period("rsi.period", period)?;
    check_finite("rsi input", xs)?;
    Ok(rsi_unchecked(xs, period))
}

/// [`rsi`] into a caller-owned buffer (one slot per input row, every slot overwritten, NaN
/// during the warm-up): no allocation. Bit-identical to [`rsi`].
///
/// # Errors
/// [`crate::Error::InvalidParameter`] when `period` is 0; [`crate::Error::Shape`] (`"rsi out"`)
/// when `out.len() != xs.len()`; [`crate::Error::NonFinite`] naming the first NaN or infinite
/// input. On error `out` is unchanged.
pub fn rsi_into(xs: &[f64], period: usize, out: &mut [f64]) -> Result<()> {
    check_period("rsi.period", period)?;
    check_out("rsi out", out, xs.len())?;
    check_finite("rsi input", xs)?;
    rsi_fill(xs, period, out);
    Ok(())
}

/// Batch RSI on validated input: a zeroed (lazily mapped, not written) vector, then the kernel
/// writes each row once. (An `extend`-based form, as EMA and ATR use, compiles to a slower loop
/// here.)
pub(crate) fn rsi_unchecked(xs: &[f64], period: usize) -> Vec<f64> {
    let mut out = zeroed(xs.len());
    rsi_fill(xs, period, &mut out);
    out
}

/// Batch RSI kernel: writes every element of `out` (`out.len() == xs.len()`) exactly once.
pub(crate) fn rsi_fill(xs: &[f64], period: usize, out: &mut [f64]) {
    debug_assert_eq!(xs.len(), out.len());
    let Ok(mut r) = Rsi::new(period) else {
        out.fill(f64::NAN);
        return;
    };
    let warm = (period + 1).min(xs.len()).min(out.len());
    let (out_warm, out_rest) = out.split_at_mut(warm);
    for (o, x) in out_warm.iter_mut().zip(xs) {
        *o = r.push(*x).unwrap_or(f64::NAN);
    }
    if out_rest.is_empty() {
        return;
    }
    // Steady state: `xs[warm..]` paired with the previous values `xs[warm − 1..]`.
    let (decay, weight) = (r.decay, r.weight);
    let (mut ag, mut al) = (r.avg_gain, r.avg_loss);
    let pairs = xs[warm..].iter().zip(&xs[warm - 1..]);
    for (o, (x, prev)) in out_rest.iter_mut().zip(pairs) {
        wilder_step(&mut ag, &mut al, x - prev, decay, weight);
        *o = rsi_value(ag, al);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::common::bits;
    use proptest::prelude::*;

    #[test]
    fn hand_checked_values() {
        // n = 2. Changes: +2, −1 → seed avg gain 1, avg loss 0.5 → RSI 100·1/1.5.
        // Next change +3: gain = 1·0.5 + 3·0.5 = 2, loss = 0.5·0.5 = 0.25 → 100·2/2.25.
        let out = rsi(&[10.0, 12.0, 11.0, 14.0], 2).unwrap();
        assert!(out[0].is_nan() && out[1].is_nan());
        assert!((out[2] - 100.0 / 1.5).abs() < 1e-12);
        assert!((out[3] - 100.0 * 2.0 / 2.25).abs() < 1e-12);
        // Only gains → 100, only losses → 0, flat → 0 (TA-Lib convention).
        assert_eq!(rsi(&[1.0, 2.0, 3.0, 4.0], 2).unwrap()[3], 100.0);
        assert_eq!(rsi(&[4.0, 3.0, 2.0, 1.0], 2).unwrap()[3], 0.0);
        assert_eq!(rsi(&[5.0; 6], 3).unwrap()[3..], [0.0, 0.0, 0.0]);
        // Tiny steps are not mistaken for a flat market (old TA-Lib epsilon).
        let tiny: Vec<f64> = (0..10).map(|i| 1e-5 + f64::from(i) * 1e-10).collect();
        assert_eq!(rsi(&tiny, 3).unwrap()[5], 100.0);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(Rsi::new(0).is_err());
        assert!(matches!(
            rsi(&[1.0, 2.0, f64::NAN], 1),
            Err(crate::Error::NonFinite { index: 2, .. })
        ));
    }

    #[test]
    fn into_rejects_a_wrong_length_buffer() {
        let mut out = [7.0; 4];
        let err = rsi_into(&[1.0, 2.0, 3.0], 2, &mut out).unwrap_err();
        assert!(
            matches!(
                err,
                crate::Error::Shape {
                    what: "rsi out",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(out, [7.0; 4], "untouched on error");
    }

    proptest! {
        #[test]
        fn into_equals_allocating_on_a_dirty_buffer(
            xs in prop::collection::vec(1.0f64..1e5, 0..200), n in 1usize..30, junk in -1e9f64..1e9
        ) {
            let want = rsi(&xs, n).unwrap();
            let mut out = vec![junk; xs.len()];
            for _ in 0..2 {
                rsi_into(&xs, n, &mut out).unwrap();
                prop_assert_eq!(bits(&out), bits(&want));
            }
        }

        #[test]
        fn streaming_equals_batch_and_bounded(
            xs in prop::collection::vec(1.0f64..1e5, 0..200), n in 1usize..30
        ) {
            let batch = rsi(&xs, n).unwrap();
            let mut r = Rsi::new(n).unwrap();
            for (i, x) in xs.iter().enumerate() {
                let s = r.update(*x).unwrap();
                prop_assert_eq!(s.is_some(), i >= r.warm_up());
                prop_assert_eq!(s.unwrap_or(f64::NAN).to_bits(), batch[i].to_bits());
                prop_assert_eq!(r.value(), s);
                if let Some(v) = s {
                    prop_assert!((0.0..=100.0).contains(&v));
                }
            }
        }
    }
}
