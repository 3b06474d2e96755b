//! Timestamps as users write them in files, to UTC nanoseconds (`i64`).
//!
//! Accepted forms:
//! - ISO-8601 / RFC 3339 with an offset (`2024-01-01T12:00:00+02:00`, `…Z`), converted to UTC;
//! - ISO-8601 without an offset (`2024-01-01T12:00:00`, `2024-01-01 12:00:00.5`,
//!   `2024-01-01 12:00`), taken as UTC;
//! - a date alone (`2024-01-01`), midnight UTC;
//! - an integer epoch whose unit is detected from its magnitude: `|v| ≥ 1e17` nanoseconds,
//!   `≥ 1e14` microseconds, `≥ 1e11` milliseconds, otherwise seconds. Binance spot files
//!   switched from ms to µs on 2025-01-01, so detection is per value, not per file. The rule is
//!   [`replay::epoch`]'s, shared with the Parquet decoders and the lake ingest. An integral
//!   float (`1577836800000.0`) is accepted as the integer it spells.
//!
//! Owns parsing and formatting only; it never reads the clock.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

pub use replay::epoch_to_ns;

const NAIVE_FORMATS: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

/// Parses one timestamp cell (see the module docs for the accepted forms).
///
/// # Errors
/// A message saying what the text is not, for the caller to prefix with file, column and row.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty timestamp".into());
    }
    if let Ok(v) = s.parse::<i64>() {
        return epoch_to_ns(v).ok_or_else(|| format!("epoch {v} is out of range"));
    }
    if let Ok(f) = s.parse::<f64>() {
        if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18 {
            #[allow(clippy::cast_possible_truncation)]
            return epoch_to_ns(f as i64).ok_or_else(|| format!("epoch {s} is out of range"));
        }
        return Err(format!("{s:?} is not an integer epoch"));
    }
    let to_ns = |dt: DateTime<Utc>| {
        dt.timestamp_nanos_opt()
            .ok_or_else(|| format!("{s:?} is outside the nanosecond range"))
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return to_ns(dt.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return to_ns(dt.with_timezone(&Utc));
        }
    }
    for fmt in NAIVE_FORMATS {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return to_ns(dt.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return to_ns(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(format!("{s:?} is neither ISO-8601 nor an integer epoch"))
}

/// Formats UTC nanoseconds as RFC 3339 with a `Z` suffix and only the sub-second digits needed.
#[must_use]
pub fn format_timestamp(ns: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T2020: i64 = 1_577_836_800_000_000_000; // 2020-01-01T00:00:00Z in ns

    #[test]
    fn parses_every_documented_form() {
        let cases: &[(&str, i64)] = &[
            ("2020-01-01T00:00:00Z", T2020),
            ("2020-01-01T02:00:00+02:00", T2020),
            ("2020-01-01 00:00:00", T2020),
            ("2020-01-01T00:00:00.000000001", T2020 + 1),
            ("2020-01-01 00:00", T2020),
            ("2020-01-01", T2020),
            ("2020-01-01 00:00:00+0000", T2020),
            ("1577836800", T2020),
            ("1577836800000", T2020),
            ("1577836800000000", T2020),
            ("1577836800000000000", T2020),
            ("1577836800000.0", T2020),
            (" 1577836800000 ", T2020),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timestamp(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn binance_spot_switch_to_microseconds_is_detected_per_value() {
        // Real open times: BTCUSDT-1m-2020-01-01 (ms) and BTCUSDT-1h-2026-05-08 (µs).
        assert_eq!(parse_timestamp("1577836800000"), Ok(T2020));
        assert_eq!(
            parse_timestamp("1778198400000000"),
            Ok(1_778_198_400_000_000_000)
        );
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for bad in [
            "",
            "yesterday",
            "2020-13-01",
            "1.5",
            "NaN",
            "2020-01-01T25:00:00",
        ] {
            let err = parse_timestamp(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
        assert!(parse_timestamp("9223372036854775807").is_ok());
        assert!(
            parse_timestamp("99999999999999999").is_err(),
            "µs value overflowing i64 ns"
        );
    }

    #[test]
    fn format_round_trips() {
        assert_eq!(format_timestamp(T2020), "2020-01-01T00:00:00Z");
        assert_eq!(
            format_timestamp(T2020 + 1_500_000),
            "2020-01-01T00:00:00.001500Z"
        );
        assert_eq!(parse_timestamp(&format_timestamp(T2020 + 7)), Ok(T2020 + 7));
    }
}
