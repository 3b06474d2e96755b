//! Input checks and small helpers shared by the indicators. Owns no indicator math.

use crate::{Error, Result};

/// Longest period an indicator accepts. Windows are buffered (Bollinger keeps `period`
/// values) and warm-up indices are sums of periods, so an absurd period must be refused
/// before it overflows an index or exhausts memory; no market series needs more.
pub const MAX_PERIOD: usize = 1 << 24;

/// Rejects a period of 0 (every indicator needs at least one value per window) or above
/// [`MAX_PERIOD`].
pub(crate) fn check_period(name: &'static str, period: usize) -> Result<()> {
    if period == 0 || period > MAX_PERIOD {
        return Err(Error::InvalidParameter {
            name,
            value: period.to_string(),
            reason: format!("period must be between 1 and {MAX_PERIOD}"),
        });
    }
    Ok(())
}

/// Rejects a non-finite or negative band multiplier.
pub(crate) fn check_multiplier(name: &'static str, value: f64) -> Result<()> {
    if !value.is_finite() || value < 0.0 {
        return Err(Error::InvalidParameter {
            name,
            value: value.to_string(),
            reason: "multiplier must be finite and non-negative".into(),
        });
    }
    Ok(())
}

/// Rejects a non-finite streaming value at stream position `index`.
#[inline]
pub(crate) fn check_value(what: &'static str, index: usize, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFinite { what, index, value })
    }
}

/// Checks one high/low/close bar: all finite and `high >= low`.
#[inline]
pub(crate) fn check_bar(index: usize, high: f64, low: f64, close: f64) -> Result<()> {
    check_value("high", index, high)?;
    check_value("low", index, low)?;
    check_value("close", index, close)?;
    if high < low {
        return Err(Error::InvalidData {
            what: "bar",
            index,
            reason: format!("high {high} is below low {low}"),
        });
    }
    Ok(())
}

/// Checks three equally long high/low/close slices (lengths, finiteness, `high >= low`).
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
    check_finite("high", high)?;
    check_finite("low", low)?;
    check_finite("close", close)?;
    // Branch-free blocked scan first (vectorised); the exact scan only to name a bad bar.
    let ordered = high
        .chunks(8)
        .zip(low.chunks(8))
        .all(|(h, l)| h.iter().zip(l).fold(true, |ok, (h, l)| ok & (h >= l)));
    if ordered {
        return Ok(());
    }
    match high.iter().zip(low).position(|(h, l)| h < l) {
        Some(index) => Err(Error::InvalidData {
            what: "bar",
            index,
            reason: format!("high {} is below low {}", high[index], low[index]),
        }),
        None => Ok(()),
    }
}

/// Rejects a non-finite input value, naming the first one ([`crate::error::ensure_finite`]).
///
/// Fast path first: a branch-free scan in blocks of 8 that the compiler vectorises (the early-exit
/// `position` scan does not), so validation costs a fraction of the indicator; only when a bad
/// value exists does the exact scan run to name it.
#[inline]
pub(crate) fn check_finite(what: &'static str, xs: &[f64]) -> Result<()> {
    let all_finite = xs
        .chunks(8)
        .all(|c| c.iter().fold(true, |ok, x| ok & x.is_finite()));
    if all_finite {
        Ok(())
    } else {
        crate::error::ensure_finite(what, xs)
    }
}

/// Checks that an output slice has one slot per input row.
#[inline]
pub(crate) fn check_out(what: &'static str, out: &[f64], len: usize) -> Result<()> {
    if out.len() == len {
        Ok(())
    } else {
        Err(Error::Shape {
            what,
            expected: format!("{len} values (the length of the input)"),
            got: format!("{} values", out.len()),
        })
    }
}

/// A `len`-long output column for a batch kernel that then writes every element exactly once.
///
/// `vec![0.0; len]` is a zeroed allocation (`calloc`): memory fresh from the OS is already zero,
/// so unlike `vec![f64::NAN; len]` nothing is written here and each page is touched once, by the
/// kernel. Safe Rust has no cheaper way to hand out a buffer for slice-writing kernels.
#[inline]
pub(crate) fn zeroed(len: usize) -> Vec<f64> {
    vec![0.0; len]
}

/// Resizes a reusable output column to `len` rows, keeping its capacity (a kernel overwrites
/// every element next, so the contents do not matter).
#[inline]
pub(crate) fn fit(v: &mut Vec<f64>, len: usize) {
    v.resize(len, 0.0);
}

/// The bit patterns of a column, for bit-identity assertions (NaN == NaN).
#[cfg(test)]
pub(crate) fn bits(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.to_bits()).collect()
}

#[cfg(test)]
mod tests {
    use super::super::{Bollinger, atr, bollinger, macd, rsi, supertrend};
    use super::*;

    #[test]
    fn absurd_periods_are_errors_not_panics() {
        let xs = [1.0, 2.0, 3.0];
        assert!(check_period("p", MAX_PERIOD).is_ok());
        assert!(rsi(&xs, usize::MAX).is_err());
        assert!(macd(&xs, 1, usize::MAX, usize::MAX).is_err());
        assert!(macd(&xs, 1, 2, usize::MAX).is_err());
        assert!(bollinger(&xs, usize::MAX, 2.0).is_err());
        assert!(Bollinger::new(1 << 40, 2.0).is_err());
        assert!(atr(&xs, &xs, &xs, usize::MAX).is_err());
        assert!(supertrend(&xs, &xs, &xs, usize::MAX, 3.0).is_err());
    }
}
