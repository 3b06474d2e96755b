//! The lake's path layout:
//! `{root}/{layer}/{provider}/{market}/{category}/{symbol}/{interval}/year=YYYY/month=MM/day=DD/`.
//! Owns path formatting and validation only; no IO.

use std::fmt;

/// A Medallion layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// Source columns as delivered, plus provenance.
    Bronze,
    /// Typed, deduplicated, sorted, gap-checked.
    Silver,
    /// Features computed by the live indicator code.
    Gold,
    /// Experimental features, joined to gold for A/B tests.
    GoldTest,
}

impl Layer {
    /// The directory name of the layer.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Bronze => "bronze",
            Layer::Silver => "silver",
            Layer::Gold => "gold",
            Layer::GoldTest => "gold_test",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A path segment that cannot be used in the layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// Empty, or contains a path separator, `..`, `=` or whitespace.
    #[error("lake path segment {field} = {value:?} is invalid: {reason}")]
    BadSegment {
        /// Which segment (provider, market, category, symbol, interval).
        field: &'static str,
        /// The value supplied.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A calendar date that does not exist.
    #[error("lake partition date {year:04}-{month:02}-{day:02} is not a valid date")]
    BadDate {
        /// Year.
        year: i32,
        /// Month.
        month: u32,
        /// Day.
        day: u32,
    },
}

/// One day-partition directory of one series in the lake.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionPath {
    layer: Layer,
    provider: String,
    market: String,
    category: String,
    symbol: String,
    interval: String,
    year: i32,
    month: u32,
    day: u32,
}

fn check_segment(field: &'static str, value: &str) -> Result<String, LayoutError> {
    let bad = |reason| {
        Err(LayoutError::BadSegment {
            field,
            value: value.to_string(),
            reason,
        })
    };
    if value.is_empty() {
        return bad("empty");
    }
    if value == "." || value == ".." {
        return bad("relative path component");
    }
    if value
        .chars()
        .any(|c| c == '/' || c == '\\' || c == '=' || c.is_whitespace())
    {
        return bad("contains '/', '\\', '=' or whitespace");
    }
    Ok(value.to_string())
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

impl PartitionPath {
    /// A checked partition path.
    ///
    /// # Errors
    /// [`LayoutError::BadSegment`] for an unusable segment, [`LayoutError::BadDate`] for a
    /// date that does not exist.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        layer: Layer,
        provider: &str,
        market: &str,
        category: &str,
        symbol: &str,
        interval: &str,
        (year, month, day): (i32, u32, u32),
    ) -> Result<Self, LayoutError> {
        if !(1..=days_in_month(year, month)).contains(&day) {
            return Err(LayoutError::BadDate { year, month, day });
        }
        Ok(Self {
            layer,
            provider: check_segment("provider", provider)?,
            market: check_segment("market", market)?,
            category: check_segment("category", category)?,
            symbol: check_segment("symbol", symbol)?,
            interval: check_segment("interval", interval)?,
            year,
            month,
            day,
        })
    }

    /// The partition directory relative to the lake root, with `/` separators.
    #[must_use]
    pub fn relative_dir(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}/{}/year={:04}/month={:02}/day={:02}",
            self.layer,
            self.provider,
            self.market,
            self.category,
            self.symbol,
            self.interval,
            self.year,
            self.month,
            self.day
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_documented_layout() {
        let p = PartitionPath::new(
            Layer::Silver,
            "binance",
            "spot",
            "klines",
            "BTCUSDT",
            "1m",
            (2024, 2, 29),
        )
        .unwrap();
        assert_eq!(
            p.relative_dir(),
            "silver/binance/spot/klines/BTCUSDT/1m/year=2024/month=02/day=29"
        );
    }

    #[test]
    fn rejects_bad_segments_and_dates() {
        let e = PartitionPath::new(
            Layer::Gold,
            "binance",
            "spot",
            "klines",
            "../x",
            "1m",
            (2024, 1, 1),
        );
        assert!(matches!(
            e,
            Err(LayoutError::BadSegment {
                field: "symbol",
                ..
            })
        ));
        let e = PartitionPath::new(
            Layer::Gold,
            "binance",
            "spot",
            "klines",
            "BTC",
            "1m",
            (2023, 2, 29),
        );
        assert!(matches!(e, Err(LayoutError::BadDate { .. })));
        let e = PartitionPath::new(
            Layer::Gold,
            "binance",
            "",
            "klines",
            "BTC",
            "1m",
            (2023, 2, 1),
        );
        assert!(matches!(
            e,
            Err(LayoutError::BadSegment {
                field: "market",
                ..
            })
        ));
    }
}
