//! Bollinger bands: middle = SMA(n), upper/lower = middle ± k·σ with the **population** standard
//! deviation (ddof 0), as TA-Lib's `BBANDS` with `matype = SMA`.
//!
//! **Rolling update.** Each step replaces the oldest value `o` by the new `x` with the
//! add-and-remove Welford update: `δ = x − o`, `mean' = mean + δ/n`,
//! `M2' = M2 + δ·((x − mean') + (o − mean))`, which never subtracts two large squares (TA-Lib's
//! `E[x²] − E[x]²` does, and loses ~9 digits on prices near 5e4). To stop rounding drift, every
//! `n`-th update — whenever the ring buffer wraps, so its storage order is the time order —
//! recomputes mean and `M2` exactly from the window (two passes, left to right). Cost stays O(1)
//! amortised (O(n) once every n updates); the result equals a direct two-pass computation at
//! every recompute and to ~1e-13 relative in between (tested to 1e-9 on real BTC prices).
//! `σ = sqrt(max(M2/n, 0))`; with `k ≥ 0` this gives `lower ≤ middle ≤ upper` exactly.

use super::common::{check_finite, check_multiplier, check_period, check_value, fit, zeroed};
use crate::Result;

/// One Bollinger row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerOutput {
    /// `middle + k·σ`.
    pub upper: f64,
    /// SMA(n).
    pub middle: f64,
    /// `middle − k·σ`.
    pub lower: f64,
}

/// Batch Bollinger bands: three columns, NaN during the warm-up. `Default` is empty, ready for
/// [`bollinger_into`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BollingerSeries {
    /// `middle + k·σ`.
    pub upper: Vec<f64>,
    /// SMA(n).
    pub middle: Vec<f64>,
    /// `middle − k·σ`.
    pub lower: Vec<f64>,
}

/// Exact mean and sum of squared deviations of a window (two passes, left to right).
#[inline]
fn exact(window: &[f64], n: f64) -> (f64, f64) {
    let mean = window.iter().sum::<f64>() / n;
    let m2 = window.iter().map(|v| (v - mean) * (v - mean)).sum();
    (mean, m2)
}

/// One add-and-remove Welford step.
#[inline(always)]
fn roll(mean: &mut f64, m2: &mut f64, x: f64, old: f64, inv_n: f64) {
    let delta = x - old;
    let new_mean = *mean + delta * inv_n;
    *m2 += delta * ((x - new_mean) + (old - *mean));
    *mean = new_mean;
}

#[inline(always)]
fn bands(mean: f64, m2: f64, inv_n: f64, num_std: f64) -> BollingerOutput {
    let dev = num_std * (m2 * inv_n).max(0.0).sqrt();
    BollingerOutput {
        upper: mean + dev,
        middle: mean,
        lower: mean - dev,
    }
}

/// Streaming Bollinger(n, k): a ring buffer of `n` values allocated once at construction, no
/// allocation per update.
#[derive(Debug, Clone, PartialEq)]
pub struct Bollinger {
    period: usize,
    num_std: f64,
    inv_n: f64,
    window: Box<[f64]>,
    /// Values stored so far, saturating at `period`.
    filled: usize,
    /// Next slot to overwrite once full.
    pos: usize,
    mean: f64,
    m2: f64,
    updates: usize,
}

impl Bollinger {
    /// Bands over `period` values at `num_std` standard deviations (TA-Lib default 20, 2).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] when `period` is 0 or `num_std` is negative or not
    /// finite.
    pub fn new(period: usize, num_std: f64) -> Result<Self> {
        check_period("bollinger.period", period)?;
        check_multiplier("bollinger.num_std", num_std)?;
        Ok(Self {
            period,
            num_std,
            inv_n: 1.0 / period as f64,
            window: vec![0.0; period].into_boxed_slice(),
            filled: 0,
            pos: 0,
            mean: f64::NAN,
            m2: f64::NAN,
            updates: 0,
        })
    }

    /// Index (0-based) of the first value that produces an output: `n − 1`.
    #[must_use]
    pub fn warm_up(&self) -> usize {
        self.period - 1
    }

    /// Feeds one value; `None` during the warm-up.
    ///
    /// # Errors
    /// [`crate::Error::NonFinite`] (index = updates since construction or reset) when `x` is
    /// NaN or infinite; the state is then unchanged.
    pub fn update(&mut self, x: f64) -> Result<Option<BollingerOutput>> {
        check_value("bollinger input", self.updates, x)?;
        self.updates += 1;
        Ok(self.push(x))
    }

    /// Forgets all input, as if just constructed.
    pub fn reset(&mut self) {
        self.filled = 0;
        self.pos = 0;
        self.mean = f64::NAN;
        self.m2 = f64::NAN;
        self.updates = 0;
    }

    /// Unchecked update (input already validated).
    #[inline]
    pub(crate) fn push(&mut self, x: f64) -> Option<BollingerOutput> {
        if self.filled < self.period {
            self.window[self.filled] = x;
            self.filled += 1;
            if self.filled < self.period {
                return None;
            }
            (self.mean, self.m2) = exact(&self.window, self.period as f64);
        } else {
            let old = std::mem::replace(&mut self.window[self.pos], x);
            self.pos += 1;
            if self.pos == self.period {
                self.pos = 0;
                (self.mean, self.m2) = exact(&self.window, self.period as f64);
            } else {
                roll(&mut self.mean, &mut self.m2, x, old, self.inv_n);
            }
        }
        Some(bands(self.mean, self.m2, self.inv_n, self.num_std))
    }
}

/// Bollinger bands over a slice; NaN for the first `n − 1` rows. Bit-identical to
/// [`Bollinger::update`].
///
/// Allocates the three columns once; to reuse them across calls use [`bollinger_into`].
///
/// # Errors
/// As [`Bollinger::new`]; [`crate::Error::NonFinite`] naming the first NaN or infinite input.
pub fn bollinger(xs: &[f64], period: usize, num_std: f64) -> Result<BollingerSeries> {
    Bollinger::new(period, num_std)?;
    check_finite("bollinger input", xs)?;
    Ok(bollinger_unchecked(xs, period, num_std))
}

/// [`bollinger`] into caller-owned columns: each is resized to `xs.len()` (reusing its
/// capacity, so no allocation once it is large enough) and every row overwritten.
/// Bit-identical to [`bollinger`].
///
/// # Errors
/// As [`bollinger`]. On error `out` is unchanged.
pub fn bollinger_into(
    xs: &[f64],
    period: usize,
    num_std: f64,
    out: &mut BollingerSeries,
) -> Result<()> {
    check_period("bollinger.period", period)?;
    check_multiplier("bollinger.num_std", num_std)?;
    check_finite("bollinger input", xs)?;
    for col in [&mut out.upper, &mut out.middle, &mut out.lower] {
        fit(col, xs.len());
    }
    bollinger_fill(
        xs,
        period,
        num_std,
        &mut out.upper,
        &mut out.middle,
        &mut out.lower,
    );
    Ok(())
}

/// Batch Bollinger on validated input and parameters.
pub(crate) fn bollinger_unchecked(xs: &[f64], period: usize, num_std: f64) -> BollingerSeries {
    let len = xs.len();
    let (mut upper, mut middle, mut lower) = (zeroed(len), zeroed(len), zeroed(len));
    bollinger_fill(xs, period, num_std, &mut upper, &mut middle, &mut lower);
    BollingerSeries {
        upper,
        middle,
        lower,
    }
}

/// Batch Bollinger kernel on validated parameters: writes every row of the three columns (each
/// `xs.len()` long) exactly once. Reads the value leaving the window from the slice instead of a
/// ring buffer; the arithmetic is the streaming form's, step for step.
///
/// The streaming form recomputes exactly whenever its ring buffer wraps, i.e. on every
/// `period`-th row after the first output. Here the rows after the first output are walked in
/// chunks of `period`: the first `period − 1` rows of a chunk roll, and its last row recomputes
/// from the window ending there — which is the chunk itself. So the inner loop has no counter
/// and no branch.
pub(crate) fn bollinger_fill(
    xs: &[f64],
    period: usize,
    num_std: f64,
    upper: &mut [f64],
    middle: &mut [f64],
    lower: &mut [f64],
) {
    let len = xs.len();
    debug_assert!(upper.len() == len && middle.len() == len && lower.len() == len);
    if len < period || period == 0 {
        for col in [upper, middle, lower] {
            col.fill(f64::NAN);
        }
        return;
    }
    let n = period as f64;
    let inv_n = 1.0 / n;
    let (u_warm, u_rest) = upper.split_at_mut(period);
    let (m_warm, m_rest) = middle.split_at_mut(period);
    let (l_warm, l_rest) = lower.split_at_mut(period);
    for col in [&mut *u_warm, &mut *m_warm, &mut *l_warm] {
        col.fill(f64::NAN);
    }
    let (mut mean, mut m2) = exact(&xs[..period], n);
    let first = bands(mean, m2, inv_n, num_std);
    (u_warm[period - 1], m_warm[period - 1], l_warm[period - 1]) =
        (first.upper, first.middle, first.lower);
    let new = xs[period..].chunks(period);
    let old = xs.chunks(period);
    let outs = u_rest
        .chunks_mut(period)
        .zip(m_rest.chunks_mut(period).zip(l_rest.chunks_mut(period)));
    for ((xc, oc), (uc, (mc, lc))) in new.zip(old).zip(outs) {
        let rolled = xc.len().min(period - 1);
        let rows = uc.iter_mut().zip(mc.iter_mut().zip(lc.iter_mut()));
        for ((x, o), (ou, (om, ol))) in xc[..rolled].iter().zip(oc).zip(rows) {
            roll(&mut mean, &mut m2, *x, *o, inv_n);
            let b = bands(mean, m2, inv_n, num_std);
            (*ou, *om, *ol) = (b.upper, b.middle, b.lower);
        }
        if rolled < xc.len() {
            (mean, m2) = exact(xc, n);
            let b = bands(mean, m2, inv_n, num_std);
            (uc[rolled], mc[rolled], lc[rolled]) = (b.upper, b.middle, b.lower);
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
        // Window (2, 4, 4, 4, 5, 5, 7, 9): mean 5, population σ 2.
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let out = bollinger(&xs, 8, 2.0).unwrap();
        assert!(out.middle[..7].iter().all(|v| v.is_nan()));
        assert_eq!((out.lower[7], out.middle[7], out.upper[7]), (1.0, 5.0, 9.0));
        // n = 2 rolling: windows (1,3) → mean 2, σ 1; (3,3) → σ 0.
        let out = bollinger(&[1.0, 3.0, 3.0], 2, 1.5).unwrap();
        assert_eq!((out.lower[1], out.middle[1], out.upper[1]), (0.5, 2.0, 3.5));
        assert_eq!((out.lower[2], out.middle[2], out.upper[2]), (3.0, 3.0, 3.0));
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(Bollinger::new(0, 2.0).is_err());
        assert!(Bollinger::new(20, -1.0).is_err());
        assert!(Bollinger::new(20, f64::NAN).is_err());
        assert!(bollinger(&[1.0, f64::INFINITY], 2, 2.0).is_err());
    }

    #[test]
    fn matches_direct_computation_on_real_btc_closes() {
        let Some(closes) = crate::testdata::btcusdt_1h_closes() else {
            return;
        };
        let out = bollinger(&closes, 20, 2.0).unwrap();
        let mut worst_mean = 0.0f64;
        let mut worst_sd = 0.0f64;
        for i in 19..closes.len() {
            let w = &closes[i - 19..=i];
            let mean = w.iter().sum::<f64>() / 20.0;
            let sd = (w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 20.0).sqrt();
            worst_mean = worst_mean.max(((out.middle[i] - mean) / mean).abs());
            let got_sd = (out.upper[i] - out.middle[i]) / 2.0;
            // σ relative to itself (floor at 1e-6 of the price for flat windows).
            worst_sd = worst_sd.max((got_sd - sd).abs() / sd.max(mean * 1e-6));
        }
        assert!(worst_mean < 1e-12, "worst middle error {worst_mean:e}");
        assert!(worst_sd < 1e-9, "worst sigma error {worst_sd:e}");
    }

    proptest! {
        #[test]
        fn into_equals_allocating_on_a_dirty_buffer(
            xs in prop::collection::vec(1.0f64..1e5, 0..200), n in 1usize..30, k in 0.0f64..4.0,
            junk in -1e9f64..1e9, dirty_len in 0usize..300
        ) {
            let want = bollinger(&xs, n, k).unwrap();
            let mut out = BollingerSeries {
                upper: vec![junk; dirty_len],
                middle: Vec::new(),
                lower: vec![junk; xs.len()],
            };
            for _ in 0..2 {
                bollinger_into(&xs, n, k, &mut out).unwrap();
                prop_assert_eq!(bits(&out.upper), bits(&want.upper));
                prop_assert_eq!(bits(&out.middle), bits(&want.middle));
                prop_assert_eq!(bits(&out.lower), bits(&want.lower));
            }
        }

        #[test]
        fn streaming_equals_batch_and_ordered(
            xs in prop::collection::vec(1.0f64..1e5, 0..200), n in 1usize..30, k in 0.0f64..4.0
        ) {
            let batch = bollinger(&xs, n, k).unwrap();
            let mut b = Bollinger::new(n, k).unwrap();
            for (i, x) in xs.iter().enumerate() {
                let s = b.update(*x).unwrap();
                prop_assert_eq!(s.is_some(), i >= b.warm_up());
                if let Some(o) = s {
                    prop_assert_eq!(o.upper.to_bits(), batch.upper[i].to_bits());
                    prop_assert_eq!(o.middle.to_bits(), batch.middle[i].to_bits());
                    prop_assert_eq!(o.lower.to_bits(), batch.lower[i].to_bits());
                    prop_assert!(o.lower <= o.middle && o.middle <= o.upper);
                } else {
                    prop_assert!(batch.middle[i].is_nan());
                }
            }
        }
    }
}
