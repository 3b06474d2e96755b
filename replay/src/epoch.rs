//! The one rule for the unit of an integer epoch: detected from its magnitude, per value.
//!
//! `|v| ≥ 1e17` is nanoseconds, `≥ 1e14` microseconds, `≥ 1e11` milliseconds, anything smaller
//! seconds. Binance spot files switched from milliseconds to microseconds on 2025-01-01, so the
//! unit is decided per value, not per file. For current dates the bands are far apart: seconds
//! have 10 digits, milliseconds 13, microseconds 16, nanoseconds 19; `1e11` ms is 1973-03-03 and
//! `1e14` ms is the year 5138.
//!
//! Every reader of epoch integers uses this table: the Parquet decoders ([`crate::bars`],
//! [`crate::trades`]), the lake's CSV ingest ([`crate::lake::TimeUnit::detect`], which accepts
//! only the millisecond and microsecond bands) and the binary's timestamp parser.
//!
//! Owns the thresholds and the scale; it reads no data and no clock.

/// The unit an integer epoch was detected to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochUnit {
    /// Seconds: `|v| < 1e11`.
    Seconds,
    /// Milliseconds: `1e11 ≤ |v| < 1e14`.
    Millis,
    /// Microseconds: `1e14 ≤ |v| < 1e17`.
    Micros,
    /// Nanoseconds: `|v| ≥ 1e17`.
    Nanos,
}

/// The smallest magnitude read as milliseconds.
pub const MILLIS_FROM: u64 = 100_000_000_000;
/// The smallest magnitude read as microseconds.
pub const MICROS_FROM: u64 = 100_000_000_000_000;
/// The smallest magnitude read as nanoseconds.
pub const NANOS_FROM: u64 = 100_000_000_000_000_000;

impl EpochUnit {
    /// Detects the unit of `v` from its magnitude (see the module docs).
    #[inline]
    #[must_use]
    pub fn detect(v: i64) -> Self {
        let a = v.unsigned_abs();
        if a >= NANOS_FROM {
            EpochUnit::Nanos
        } else if a >= MICROS_FROM {
            EpochUnit::Micros
        } else if a >= MILLIS_FROM {
            EpochUnit::Millis
        } else {
            EpochUnit::Seconds
        }
    }

    /// Nanoseconds per unit.
    #[inline]
    #[must_use]
    pub fn nanos(self) -> i64 {
        match self {
            EpochUnit::Seconds => 1_000_000_000,
            EpochUnit::Millis => 1_000_000,
            EpochUnit::Micros => 1_000,
            EpochUnit::Nanos => 1,
        }
    }
}

/// Converts an integer epoch to UTC nanoseconds, its unit detected from its magnitude
/// ([`EpochUnit::detect`]); `None` on overflow.
#[inline]
#[must_use]
pub fn epoch_to_ns(v: i64) -> Option<i64> {
    v.checked_mul(EpochUnit::detect(v).nanos())
}

#[cfg(test)]
mod tests {
    use super::{EpochUnit, epoch_to_ns};

    #[test]
    fn epoch_units_by_magnitude() {
        // 2020-01-01T00:00:00Z in s, ms, µs, ns.
        let ns = 1_577_836_800_000_000_000;
        assert_eq!(epoch_to_ns(1_577_836_800), Some(ns));
        assert_eq!(epoch_to_ns(1_577_836_800_000), Some(ns));
        assert_eq!(epoch_to_ns(1_577_836_800_000_000), Some(ns));
        assert_eq!(epoch_to_ns(ns), Some(ns));
        // A Binance µs close_time from 2026.
        assert_eq!(
            epoch_to_ns(1_778_201_999_999_999),
            Some(1_778_201_999_999_999_000)
        );
        assert_eq!(epoch_to_ns(0), Some(0));
        // The largest "seconds" value overflows nanoseconds: an error, not a wrap.
        assert_eq!(epoch_to_ns(99_999_999_999), None);
    }

    #[test]
    fn thresholds_are_inclusive_lower_bounds_on_the_magnitude() {
        let cases = [
            (99_999_999_999, EpochUnit::Seconds),
            (100_000_000_000, EpochUnit::Millis),
            (99_999_999_999_999, EpochUnit::Millis),
            (100_000_000_000_000, EpochUnit::Micros),
            (99_999_999_999_999_999, EpochUnit::Micros),
            (100_000_000_000_000_000, EpochUnit::Nanos),
            (i64::MAX, EpochUnit::Nanos),
            (i64::MIN, EpochUnit::Nanos),
            (-100_000_000_000, EpochUnit::Millis),
            (-99_999_999_999, EpochUnit::Seconds),
        ];
        for (v, want) in cases {
            assert_eq!(EpochUnit::detect(v), want, "{v}");
        }
        // Negative epochs (before 1970) scale like positive ones.
        assert_eq!(epoch_to_ns(-1_000), Some(-1_000_000_000_000));
        assert_eq!(
            epoch_to_ns(-100_000_000_000),
            Some(-100_000_000_000_000_000)
        );
    }
}
