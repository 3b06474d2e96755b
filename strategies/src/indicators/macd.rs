//! MACD, TA-Lib convention (`TA_MACD` / `TA_INT_MACD` with EMA unstable period 0).
//!
//! TA-Lib aligns the two EMAs: the slow EMA(s) is seeded with the mean of values `0..s`, and the
//! fast EMA(f) is **not** a standalone EMA of the series: its SMA seed is the mean of values
//! `s−f .. s` (the last `f` values before index `s`), so both first exist at index `s − 1`.
//! MACD line = fast − slow. The signal is an EMA(g) of the MACD line seeded with the mean of its
//! first `g` values; TA-Lib outputs all three lines (macd, signal, hist = macd − signal) only
//! from index `s − 1 + g − 1` (33 for 12/26/9), and so does this. EMA steps as in
//! [`super::ema`].

use super::common::{check_finite, check_period, check_value, fit, zeroed};
use super::ema::{Ema, ema_step};
use crate::{Error, Result};

/// One MACD row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdOutput {
    /// Fast EMA − slow EMA.
    pub macd: f64,
    /// EMA of the MACD line.
    pub signal: f64,
    /// `macd − signal`.
    pub hist: f64,
}

/// Batch MACD: three columns, NaN during the warm-up. `Default` is empty, ready for
/// [`macd_into`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MacdSeries {
    /// Fast EMA − slow EMA.
    pub macd: Vec<f64>,
    /// EMA of the MACD line.
    pub signal: Vec<f64>,
    /// `macd − signal`.
    pub hist: Vec<f64>,
}

/// Streaming MACD(fast, slow, signal): O(1) state, no allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
    /// Values seen, saturating at `slow − fast` (from then on the fast EMA is fed).
    seen: usize,
    updates: usize,
}

impl Macd {
    /// MACD with the given periods (TA-Lib default 12, 26, 9).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when a period is 0 or `fast >= slow`.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self> {
        check_period("macd.fast", fast)?;
        check_period("macd.slow", slow)?;
        check_period("macd.signal", signal)?;
        if fast >= slow {
            return Err(Error::InvalidParameter {
                name: "macd.fast",
                value: fast.to_string(),
                reason: format!("must be below macd.slow = {slow}"),
            });
        }
        Ok(Self {
            fast: Ema::new(fast)?,
            slow: Ema::new(slow)?,
            signal: Ema::new(signal)?,
            seen: 0,
            updates: 0,
        })
    }

    /// Index (0-based) of the first value that produces an output: `slow − 1 + signal − 1`.
    #[must_use]
    pub fn warm_up(&self) -> usize {
        self.slow.period() - 1 + self.signal.period() - 1
    }

    /// Feeds one value; `None` during the warm-up.
    ///
    /// # Errors
    /// [`Error::NonFinite`] (index = updates since construction or reset) when `x` is NaN or
    /// infinite; the state is then unchanged.
    pub fn update(&mut self, x: f64) -> Result<Option<MacdOutput>> {
        check_value("macd input", self.updates, x)?;
        self.updates += 1;
        Ok(self.push(x))
    }

    /// Forgets all input, as if just constructed.
    pub fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
        self.seen = 0;
        self.updates = 0;
    }

    /// The `(fast, slow, signal)` EMAs, for batch steady-state loops.
    #[inline]
    pub(crate) fn emas(&self) -> (&Ema, &Ema, &Ema) {
        (&self.fast, &self.slow, &self.signal)
    }

    /// Unchecked update (input already validated).
    #[inline]
    pub(crate) fn push(&mut self, x: f64) -> Option<MacdOutput> {
        let offset = self.slow.period() - self.fast.period();
        let slow = self.slow.push(x);
        let fast = if self.seen >= offset {
            self.fast.push(x)
        } else {
            self.seen += 1;
            None
        };
        let macd = fast? - slow?;
        let signal = self.signal.push(macd)?;
        Some(MacdOutput {
            macd,
            signal,
            hist: macd - signal,
        })
    }
}

/// MACD over a slice; NaN for the first `slow − 1 + signal − 1` rows. Bit-identical to
/// [`Macd::update`].
///
/// Allocates the three columns once; to reuse them across calls use [`macd_into`].
///
/// # Errors
/// As [`Macd::new`]; [`Error::NonFinite`] naming the first NaN or infinite input.
pub fn macd(xs: &[f64], fast: usize, slow: usize, signal: usize) -> Result<MacdSeries> {
    let m = Macd::new(fast, slow, signal)?;
    check_finite("macd input", xs)?;
    Ok(macd_unchecked(xs, m))
}

/// [`macd`] into caller-owned columns: each is resized to `xs.len()` (reusing its capacity, so
/// no allocation once it is large enough) and every row overwritten. Bit-identical to [`macd`].
///
/// # Errors
/// As [`macd`]. On error `out` is unchanged.
pub fn macd_into(
    xs: &[f64],
    fast: usize,
    slow: usize,
    signal: usize,
    out: &mut MacdSeries,
) -> Result<()> {
    let m = Macd::new(fast, slow, signal)?;
    check_finite("macd input", xs)?;
    for col in [&mut out.macd, &mut out.signal, &mut out.hist] {
        fit(col, xs.len());
    }
    macd_fill(xs, m, &mut out.macd, &mut out.signal, &mut out.hist);
    Ok(())
}

/// Batch MACD on validated input, from a fresh [`Macd`].
pub(crate) fn macd_unchecked(xs: &[f64], m: Macd) -> MacdSeries {
    let len = xs.len();
    let (mut macd, mut signal, mut hist) = (zeroed(len), zeroed(len), zeroed(len));
    macd_fill(xs, m, &mut macd, &mut signal, &mut hist);
    MacdSeries { macd, signal, hist }
}

/// Batch MACD kernel from a fresh [`Macd`]: writes every row of the three columns (each
/// `xs.len()` long) exactly once.
pub(crate) fn macd_fill(
    xs: &[f64],
    mut m: Macd,
    macd: &mut [f64],
    signal: &mut [f64],
    hist: &mut [f64],
) {
    let len = xs.len();
    debug_assert!(macd.len() == len && signal.len() == len && hist.len() == len);
    let warm = (m.warm_up() + 1).min(len).min(macd.len());
    let (m_warm, m_rest) = macd.split_at_mut(warm);
    let (s_warm, s_rest) = signal.split_at_mut(warm);
    let (h_warm, h_rest) = hist.split_at_mut(warm);
    let (xs_warm, xs_rest) = xs.split_at(warm);
    let warm_rows = m_warm.iter_mut().zip(s_warm.iter_mut().zip(h_warm));
    for (x, (om, (os, oh))) in xs_warm.iter().zip(warm_rows) {
        (*om, *os, *oh) = match m.push(*x) {
            Some(o) => (o.macd, o.signal, o.hist),
            None => (f64::NAN, f64::NAN, f64::NAN),
        };
    }
    // Steady state: three multiply-add chains, no Option, no bounds checks.
    let (fa, fd) = m.fast.coefficients();
    let (sa, sd) = m.slow.coefficients();
    let (ga, gd) = m.signal.coefficients();
    let (mut f, mut s, mut g) = (m.fast.raw(), m.slow.raw(), m.signal.raw());
    let rows = m_rest.iter_mut().zip(s_rest.iter_mut().zip(h_rest));
    for (x, (om, (os, oh))) in xs_rest.iter().zip(rows) {
        s = ema_step(s, *x, sa, sd);
        f = ema_step(f, *x, fa, fd);
        let line = f - s;
        g = ema_step(g, line, ga, gd);
        (*om, *os, *oh) = (line, g, line - g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::common::bits;
    use proptest::prelude::*;

    #[test]
    fn fast_ema_is_seeded_at_slow_minus_fast() {
        // fast 2, slow 3, signal 1: slow seed mean(x0..x2), fast seed mean(x1, x2); signal(1) = macd.
        let xs = [1.0, 2.0, 6.0, 3.0];
        let out = macd(&xs, 2, 3, 1).unwrap();
        assert!(out.macd[..2].iter().all(|v| v.is_nan()));
        assert_eq!(out.macd[2], 4.0 - 3.0);
        assert_eq!(out.signal[2], 1.0);
        assert_eq!(out.hist[2], 0.0);
        // Next: fast k = 2/3 → 4/3 + 3·2/3 = 3.333…; slow k = 0.5 → 1.5 + 1.5 = 3.
        let fast = 4.0 * (1.0 - 2.0 / 3.0) + 3.0 * (2.0 / 3.0);
        assert_eq!(out.macd[3], fast - 3.0);
    }

    #[test]
    fn default_warm_up_is_33() {
        let m = Macd::new(12, 26, 9).unwrap();
        assert_eq!(m.warm_up(), 33);
        let xs: Vec<f64> = (0..40).map(|i| 100.0 + f64::from(i).sin()).collect();
        let out = macd(&xs, 12, 26, 9).unwrap();
        assert!(out.macd[..33].iter().all(|v| v.is_nan()) && !out.macd[33].is_nan());
        assert!(!out.signal[33].is_nan() && !out.hist[33].is_nan());
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(Macd::new(26, 12, 9).is_err());
        assert!(Macd::new(12, 12, 9).is_err());
        assert!(Macd::new(12, 26, 0).is_err());
        assert!(matches!(
            macd(&[f64::NAN], 12, 26, 9),
            Err(Error::NonFinite { index: 0, .. })
        ));
    }

    proptest! {
        #[test]
        fn into_equals_allocating_on_a_dirty_buffer(
            xs in prop::collection::vec(1.0f64..1e5, 0..150),
            fast in 1usize..10, extra in 1usize..15, sig in 1usize..10,
            junk in -1e9f64..1e9, dirty_len in 0usize..300
        ) {
            let slow = fast + extra;
            let want = macd(&xs, fast, slow, sig).unwrap();
            let mut out = MacdSeries {
                macd: vec![junk; dirty_len],
                signal: vec![junk; dirty_len / 2],
                hist: Vec::new(),
            };
            for _ in 0..2 {
                macd_into(&xs, fast, slow, sig, &mut out).unwrap();
                prop_assert_eq!(bits(&out.macd), bits(&want.macd));
                prop_assert_eq!(bits(&out.signal), bits(&want.signal));
                prop_assert_eq!(bits(&out.hist), bits(&want.hist));
            }
        }

        #[test]
        fn streaming_equals_batch(
            xs in prop::collection::vec(1.0f64..1e5, 0..150),
            fast in 1usize..10, extra in 1usize..15, sig in 1usize..10
        ) {
            let slow = fast + extra;
            let batch = macd(&xs, fast, slow, sig).unwrap();
            let mut m = Macd::new(fast, slow, sig).unwrap();
            for (i, x) in xs.iter().enumerate() {
                let s = m.update(*x).unwrap();
                prop_assert_eq!(s.is_some(), i >= m.warm_up());
                let o = s.unwrap_or(MacdOutput { macd: f64::NAN, signal: f64::NAN, hist: f64::NAN });
                prop_assert_eq!(o.macd.to_bits(), batch.macd[i].to_bits());
                prop_assert_eq!(o.signal.to_bits(), batch.signal[i].to_bits());
                prop_assert_eq!(o.hist.to_bits(), batch.hist[i].to_bits());
            }
        }
    }
}
