//! Exact prices and quantities: fixed-point decimals with 8 fractional digits (Binance's precision
//! for every spot symbol), stored as `i64`. Model math is `f64`; anything that becomes an order or
//! a fill goes through [`InstrumentFilters`], which rounds it onto the symbol's tick and step grid
//! exactly, so the order log never holds a price the exchange would reject.
//!
//! Owns the number types and filter rounding only; no IO.

use std::fmt;

/// Fixed-point scale: 10⁸ units per whole.
pub const SCALE: i64 = 100_000_000;

const SCALE_F: f64 = SCALE as f64;
/// Largest magnitude accepted from `f64` (about 9.2·10¹⁰ quote or base units).
const MAX_WHOLE: f64 = (i64::MAX / SCALE) as f64;

macro_rules! fixed {
    ($name:ident, $what:literal) => {
        #[doc = concat!("An exact ", $what, ": a decimal with 8 fractional digits, stored in units of 10⁻⁸.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(i64);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(0);

            /// From raw units of 10⁻⁸.
            #[must_use]
            pub const fn from_units(units: i64) -> Self {
                Self(units)
            }

            /// Raw units of 10⁻⁸.
            #[must_use]
            pub const fn units(self) -> i64 {
                self.0
            }

            /// The nearest representable value to `v`, or `None` for a non-finite or out-of-range
            /// value.
            #[must_use]
            pub fn from_f64(v: f64) -> Option<Self> {
                if !v.is_finite() || v.abs() >= MAX_WHOLE {
                    return None;
                }
                // Values are rounded to the nearest unit; `as` saturates and the range check above
                // keeps it exact.
                Some(Self((v * SCALE_F).round() as i64))
            }

            /// The value as `f64` (model math).
            #[must_use]
            pub fn to_f64(self) -> f64 {
                self.0 as f64 / SCALE_F
            }

            /// True when zero.
            #[must_use]
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }
        }

        impl fmt::Display for $name {
            /// Exact decimal, without trailing zeros (`12.5`, `0.00001`, `3`).
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_decimal(f, self.0)
            }
        }
    };
}

fixed!(Price, "price (quote per base)");
fixed!(Qty, "quantity (base asset)");

impl Qty {
    /// `self − other` (quantities may be signed positions).
    #[must_use]
    pub const fn minus(self, other: Self) -> Self {
        Self(self.0 - other.0)
    }

    /// `self + other`.
    #[must_use]
    pub const fn plus(self, other: Self) -> Self {
        Self(self.0 + other.0)
    }

    /// The absolute value.
    #[must_use]
    pub const fn abs(self) -> Self {
        Self(self.0.abs())
    }
}

/// Notional `price × qty` in quote units, exact in `i128` then converted to `f64`.
#[must_use]
pub fn notional(price: Price, qty: Qty) -> f64 {
    let units = i128::from(price.units()) * i128::from(qty.units());
    // units are 10⁻¹⁶ quote; f64 has 53 bits, so the conversion rounds once.
    units as f64 / (SCALE_F * SCALE_F)
}

fn write_decimal(f: &mut fmt::Formatter<'_>, units: i64) -> fmt::Result {
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let whole = abs / SCALE as u64;
    let mut frac = abs % SCALE as u64;
    if frac == 0 {
        return write!(f, "{sign}{whole}");
    }
    let mut digits = 8;
    while frac.is_multiple_of(10) {
        frac /= 10;
        digits -= 1;
    }
    write!(f, "{sign}{whole}.{frac:0digits$}")
}

/// A symbol's exchange filters (Binance `PRICE_FILTER`, `LOT_SIZE`, `NOTIONAL`). A zero tick or
/// step means "no grid beyond 10⁻⁸" (a research backtest on a single file).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InstrumentFilters {
    /// Price tick size.
    pub tick_size: Price,
    /// Quantity step size.
    pub step_size: Qty,
    /// Minimum order notional in quote units (0 = none).
    pub min_notional: f64,
}

/// Why a value could not be placed on the exchange grid.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum FilterError {
    /// A non-finite or out-of-range model value.
    #[error("{field} = {value} cannot be represented as an exact decimal")]
    Unrepresentable {
        /// Which value.
        field: &'static str,
        /// The value.
        value: f64,
    },
}

impl InstrumentFilters {
    /// Filters with no grid and no minimum notional.
    pub const NONE: Self = Self {
        tick_size: Price::ZERO,
        step_size: Qty::ZERO,
        min_notional: 0.0,
    };

    /// `price` rounded to the nearest tick (ties away from zero).
    ///
    /// # Errors
    /// [`FilterError::Unrepresentable`] for a non-finite or out-of-range price.
    pub fn round_price(&self, price: f64) -> Result<Price, FilterError> {
        let p = Price::from_f64(price).ok_or(FilterError::Unrepresentable {
            field: "price",
            value: price,
        })?;
        let tick = self.tick_size.units();
        if tick <= 1 {
            return Ok(p);
        }
        let u = p.units();
        let down = u.div_euclid(tick) * tick;
        let rem = u - down;
        Ok(Price::from_units(if rem * 2 >= tick {
            down + tick
        } else {
            down
        }))
    }

    /// `qty` rounded DOWN to the step (an order never exceeds what was sized).
    ///
    /// # Errors
    /// [`FilterError::Unrepresentable`] for a non-finite or out-of-range quantity.
    pub fn floor_qty(&self, qty: f64) -> Result<Qty, FilterError> {
        if !qty.is_finite() || qty.abs() >= MAX_WHOLE {
            return Err(FilterError::Unrepresentable {
                field: "qty",
                value: qty,
            });
        }
        // Floor in units first (never round up past the sized amount), then to the step.
        let units = (qty * SCALE_F).floor() as i64;
        let step = self.step_size.units();
        if step <= 1 {
            return Ok(Qty::from_units(units));
        }
        Ok(Qty::from_units(units.div_euclid(step) * step))
    }

    /// True when `price × qty` reaches the minimum notional.
    #[must_use]
    pub fn meets_min_notional(&self, price: Price, qty: Qty) -> bool {
        notional(price, qty.abs()) >= self.min_notional
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_exact_and_trimmed() {
        assert_eq!(Price::from_f64(12.5).unwrap().to_string(), "12.5");
        assert_eq!(Qty::from_units(1_000).to_string(), "0.00001");
        assert_eq!(Qty::from_units(-150_000_000).to_string(), "-1.5");
        assert_eq!(Price::from_units(3 * SCALE).to_string(), "3");
        assert_eq!(Price::from_f64(f64::NAN), None);
        assert_eq!(Price::from_f64(1e12), None);
    }

    #[test]
    fn filters_round_onto_the_grid() {
        let f = InstrumentFilters {
            tick_size: Price::from_f64(0.01).unwrap(),
            step_size: Qty::from_f64(0.00001).unwrap(),
            min_notional: 5.0,
        };
        assert_eq!(f.round_price(101.234).unwrap().to_string(), "101.23");
        assert_eq!(f.round_price(101.235).unwrap().to_string(), "101.24");
        assert_eq!(f.floor_qty(0.123_456_789).unwrap().to_string(), "0.12345");
        assert_eq!(f.floor_qty(0.000_009_99).unwrap(), Qty::ZERO);
        let p = f.round_price(100.0).unwrap();
        assert!(!f.meets_min_notional(p, f.floor_qty(0.0499).unwrap()));
        assert!(f.meets_min_notional(p, f.floor_qty(0.05).unwrap()));
        assert!(f.floor_qty(f64::INFINITY).is_err());
        assert_eq!(notional(p, Qty::from_f64(0.5).unwrap()), 50.0);
    }
}
