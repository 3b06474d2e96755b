//! One-bar returns of a close series: simple `ret_1 = close_t / close_{t−1} − 1` and log
//! `log_ret_1 = ln(close_t / close_{t−1})`, none on the first bar (warm-up index 1).
//!
//! Prices must be finite and strictly positive (a zero or negative close has no return). The
//! streaming [`Returns`] and the batch [`returns`] / [`returns_into`] run the same step
//! function, so they are bit-identical; the log return is `ln` of the ratio (not a difference
//! of logs), so `log_ret_1 == ln(1 + ret_1)` up to the rounding of `ret_1`.

use super::common::{check_finite, check_value, fit};
use crate::{Error, Result};

/// One step: `(close / prev − 1, ln(close / prev))`.
#[inline(always)]
fn return_step(prev: f64, close: f64) -> (f64, f64) {
    let ratio = close / prev;
    (ratio - 1.0, ratio.ln())
}

/// Rejects a non-positive price at `index` (finiteness is checked separately).
fn check_positive(index: usize, close: f64) -> Result<()> {
    if close > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidData {
            what: "close",
            index,
            reason: format!("price {close} is not positive (no return is defined)"),
        })
    }
}

/// One bar's returns from [`Returns::update`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReturnRow {
    /// `close / prev − 1`.
    pub simple: f64,
    /// `ln(close / prev)`.
    pub log: f64,
}

/// Streaming one-bar returns: O(1) state (the previous close), no allocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Returns {
    prev: Option<f64>,
    updates: usize,
}

impl Returns {
    /// A fresh stream.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Index (0-based) of the first bar with a return: 1.
    #[must_use]
    pub fn warm_up(&self) -> usize {
        1
    }

    /// Feeds one close; `None` on the first bar.
    ///
    /// # Errors
    /// [`crate::Error::NonFinite`] or [`crate::Error::InvalidData`] (not positive), with index =
    /// updates since construction or reset; the state is then unchanged.
    pub fn update(&mut self, close: f64) -> Result<Option<ReturnRow>> {
        check_value("close", self.updates, close)?;
        check_positive(self.updates, close)?;
        self.updates += 1;
        let out = self.prev.map(|p| {
            let (simple, log) = return_step(p, close);
            ReturnRow { simple, log }
        });
        self.prev = Some(close);
        Ok(out)
    }

    /// Forgets all input, as if just constructed.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Simple and log returns of a close series, NaN on the first row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReturnSeries {
    /// `close_t / close_{t−1} − 1`.
    pub simple: Vec<f64>,
    /// `ln(close_t / close_{t−1})`.
    pub log: Vec<f64>,
}

/// One-bar returns over a slice; NaN on row 0. Bit-identical to [`Returns::update`].
///
/// # Errors
/// [`crate::Error::NonFinite`] or [`crate::Error::InvalidData`] (a price ≤ 0) naming the first
/// bad index.
pub fn returns(close: &[f64]) -> Result<ReturnSeries> {
    let mut out = ReturnSeries::default();
    returns_into(close, &mut out.simple, &mut out.log)?;
    Ok(out)
}

/// [`returns`] into caller-owned columns: each is resized to `close.len()` (keeping its
/// capacity) and every row overwritten. Bit-identical to [`returns`].
///
/// # Errors
/// As [`returns`]. On error the columns are unchanged.
pub fn returns_into(close: &[f64], simple: &mut Vec<f64>, log: &mut Vec<f64>) -> Result<()> {
    check_finite("close", close)?;
    if let Some(index) = close.iter().position(|&c| c <= 0.0) {
        check_positive(index, close[index])?;
    }
    fit(simple, close.len());
    fit(log, close.len());
    if let (Some(s0), Some(l0)) = (simple.first_mut(), log.first_mut()) {
        (*s0, *l0) = (f64::NAN, f64::NAN);
    }
    let rows = close
        .windows(2)
        .zip(simple.iter_mut().skip(1).zip(log.iter_mut().skip(1)));
    for (w, (s, l)) in rows {
        (*s, *l) = return_step(w[0], w[1]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::common::bits;
    use proptest::prelude::*;

    #[test]
    fn hand_checked_values() {
        let r = returns(&[100.0, 110.0, 99.0, 99.0]).unwrap();
        assert!(r.simple[0].is_nan() && r.log[0].is_nan());
        // 110/100 − 1 = 0.1 (to the rounding of 1.1 − 1), 99/110 − 1 = −0.1, 99/99 − 1 = 0.
        assert!((r.simple[1] - 0.1).abs() < 1e-15);
        assert!((r.simple[2] + 0.1).abs() < 1e-15);
        assert_eq!(r.simple[3], 0.0);
        assert_eq!(r.log[1], 1.1f64.ln());
        assert_eq!(r.log[2], (99.0f64 / 110.0).ln());
        assert_eq!(r.log[3], 0.0);
        assert!(returns(&[]).unwrap().simple.is_empty());
        let one = returns(&[5.0]).unwrap();
        assert_eq!((one.simple.len(), one.log.len()), (1, 1));
        assert!(one.simple[0].is_nan());
    }

    #[test]
    fn rejects_bad_prices_naming_the_index() {
        let err = returns(&[1.0, 2.0, f64::NAN]).unwrap_err();
        assert!(matches!(err, Error::NonFinite { index: 2, .. }), "{err}");
        let err = returns(&[1.0, 0.0]).unwrap_err();
        assert!(matches!(err, Error::InvalidData { index: 1, .. }), "{err}");
        let (mut s, mut l) = (vec![7.0; 3], vec![8.0; 3]);
        assert!(returns_into(&[1.0, -2.0], &mut s, &mut l).is_err());
        assert_eq!((s, l), (vec![7.0; 3], vec![8.0; 3]), "untouched on error");

        let mut r = Returns::new();
        assert_eq!(r.update(2.0).unwrap(), None);
        assert!(matches!(
            r.update(f64::INFINITY),
            Err(Error::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            r.update(-1.0),
            Err(Error::InvalidData { index: 1, .. })
        ));
        // A rejected price leaves the previous close in place.
        assert_eq!(r.update(4.0).unwrap().map(|x| x.simple), Some(1.0));
        r.reset();
        assert_eq!(r.update(4.0).unwrap(), None);
    }

    proptest! {
        #[test]
        fn streaming_equals_batch(xs in prop::collection::vec(1e-3f64..1e6, 0..200)) {
            let batch = returns(&xs).unwrap();
            let mut r = Returns::new();
            for (i, x) in xs.iter().enumerate() {
                let row = r.update(*x).unwrap();
                prop_assert_eq!(row.is_some(), i >= r.warm_up());
                let (s, l) = row.map_or((f64::NAN, f64::NAN), |o| (o.simple, o.log));
                prop_assert_eq!(s.to_bits(), batch.simple[i].to_bits(), "row {}", i);
                prop_assert_eq!(l.to_bits(), batch.log[i].to_bits(), "row {}", i);
            }
        }

        #[test]
        fn into_equals_allocating_on_a_dirty_buffer(
            xs in prop::collection::vec(1e-3f64..1e6, 0..200), junk in -1e9f64..1e9, dirty in 0usize..300
        ) {
            let want = returns(&xs).unwrap();
            let (mut s, mut l) = (vec![junk; dirty], vec![junk; dirty + 1]);
            for _ in 0..2 {
                returns_into(&xs, &mut s, &mut l).unwrap();
                prop_assert_eq!(bits(&s), bits(&want.simple));
                prop_assert_eq!(bits(&l), bits(&want.log));
            }
        }

        #[test]
        fn log_is_ln_one_plus_simple(xs in prop::collection::vec(1e-3f64..1e6, 2..100)) {
            let r = returns(&xs).unwrap();
            for i in 1..xs.len() {
                prop_assert!((r.log[i] - r.simple[i].ln_1p()).abs() <= 1e-12 * (1.0 + r.log[i].abs()));
            }
        }
    }
}
