//! Input checks and small helpers shared by the indicators. Owns no indicator math.

use crate::{Error, Result};

/// Rejects a period of 0 (every indicator needs at least one value per window).
pub(crate) fn check_period(name: &'static str, period: usize) -> Result<()> {
    if period == 0 {
        return Err(Error::InvalidParameter {
            name,
            value: "0".into(),
            reason: "period must be at least 1".into(),
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
    crate::error::ensure_finite("high", high)?;
    crate::error::ensure_finite("low", low)?;
    crate::error::ensure_finite("close", close)?;
    match high.iter().zip(low).position(|(h, l)| h < l) {
        Some(index) => Err(Error::InvalidData {
            what: "bar",
            index,
            reason: format!("high {} is below low {}", high[index], low[index]),
        }),
        None => Ok(()),
    }
}

/// A vector of `len` missing values (NaN), the batch form of warm-up rows.
#[inline]
pub(crate) fn missing(len: usize) -> Vec<f64> {
    vec![f64::NAN; len]
}
