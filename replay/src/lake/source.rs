//! What a Binance public-data file is, from its name, its path and its `.CHECKSUM` sidecar:
//! [`parse_source_name`] (symbol, kind, interval, daily or monthly period, zip or CSV),
//! [`market_from_path`], [`read_checksum`] and the time-unit bands [`TimeUnit::detect`] (the
//! millisecond and microsecond bands of the shared rule in [`crate::epoch`]).
//! Pure functions; no IO.

use std::fmt;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::error::{LakeError, Result};
use crate::epoch::EpochUnit;

/// Kline intervals data.binance.vision publishes (monthly candles are `1mo`).
pub const KLINE_INTERVALS: [&str; 16] = [
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1mo",
];

/// The interval segment of trade-like series in the lake layout.
pub const RAW_INTERVAL: &str = "raw";

/// Binance data sets that share the kline or trade naming but are not ingested.
const UNSUPPORTED_KINDS: [&str; 12] = [
    "fundingRate",
    "bookTicker",
    "bookDepth",
    "metrics",
    "markPriceKlines",
    "indexPriceKlines",
    "premiumIndexKlines",
    "BVOLIndex",
    "EOHSummary",
    "liquidationSnapshot",
    "trading_day",
    "optionsData",
];

/// A Binance market: the lake's `market` path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Market {
    /// Spot.
    #[serde(rename = "spot")]
    Spot,
    /// USDⓈ-margined futures.
    #[serde(rename = "futures-um")]
    FuturesUm,
    /// Coin-margined futures.
    #[serde(rename = "futures-cm")]
    FuturesCm,
}

impl Market {
    /// Every market, in the order detection tries them.
    pub const ALL: [Market; 3] = [Market::Spot, Market::FuturesUm, Market::FuturesCm];

    /// The path segment: `spot`, `futures-um`, `futures-cm`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Market::Spot => "spot",
            Market::FuturesUm => "futures-um",
            Market::FuturesCm => "futures-cm",
        }
    }

    /// Parses a path segment as written by [`Market::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Market::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The data set of a file: the lake's `category` path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Category {
    /// Candles.
    #[serde(rename = "klines")]
    Klines,
    /// Individual trades.
    #[serde(rename = "trades")]
    Trades,
    /// Aggregated trades.
    #[serde(rename = "aggTrades")]
    AggTrades,
}

impl Category {
    /// The path segment: `klines`, `trades`, `aggTrades`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Klines => "klines",
            Category::Trades => "trades",
            Category::AggTrades => "aggTrades",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The period a file covers, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "period", rename_all = "lowercase")]
pub enum Period {
    /// One UTC day.
    Daily {
        /// The day.
        day: NaiveDate,
    },
    /// One UTC calendar month.
    Monthly {
        /// Year.
        year: i32,
        /// Month (1–12).
        month: u32,
    },
}

impl Period {
    /// Whether `day` lies inside the period.
    #[must_use]
    pub fn contains(&self, day: NaiveDate) -> bool {
        match *self {
            Period::Daily { day: d } => d == day,
            Period::Monthly { year, month } => day.year() == year && day.month() == month,
        }
    }

    /// `daily` or `monthly`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Period::Daily { .. } => "daily",
            Period::Monthly { .. } => "monthly",
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Daily { day } => write!(f, "{day}"),
            Period::Monthly { year, month } => write!(f, "{year:04}-{month:02}"),
        }
    }
}

/// How the CSV is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// A zip holding one CSV member (data.binance.vision's format).
    Zip,
    /// A plain CSV.
    Csv,
}

/// Everything a Binance public-data file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceKind {
    /// The file name without `.zip`/`.csv`, e.g. `BTCUSDT-1m-2020-01-01`.
    pub stem: String,
    /// The symbol, e.g. `BTCUSDT`, `BTCUSD_PERP`.
    pub symbol: String,
    /// Klines, trades or aggTrades.
    pub category: Category,
    /// The kline interval, or [`RAW_INTERVAL`] for trades.
    pub interval: String,
    /// The day or month covered.
    pub period: Period,
    /// Zip or CSV.
    pub container: Container,
}

fn is_symbol(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn number<T: std::str::FromStr>(s: &str, digits: usize) -> Option<T> {
    (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Parses a Binance public-data file name: `{SYMBOL}-{interval}-{YYYY-MM[-DD]}`,
/// `{SYMBOL}-trades-{…}` or `{SYMBOL}-aggTrades-{…}`, ending `.zip` or `.csv`. Only the last
/// path component is looked at.
///
/// # Errors
/// [`LakeError::UnknownName`] when the name does not follow the pattern (including a
/// `.CHECKSUM` sidecar), [`LakeError::UnsupportedKind`] for a Binance data set that is not
/// klines, trades or aggTrades (fundingRate, bookTicker …).
pub fn parse_source_name(path: &str) -> Result<SourceKind> {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let unknown = |reason: &str| LakeError::UnknownName {
        file: path.to_string(),
        reason: reason.to_string(),
    };
    if name.ends_with(".CHECKSUM") {
        return Err(unknown("a .CHECKSUM sidecar, not a data file"));
    }
    let (stem, container) = if let Some(s) = name.strip_suffix(".zip") {
        (s, Container::Zip)
    } else if let Some(s) = name.strip_suffix(".csv") {
        (s, Container::Csv)
    } else {
        return Err(unknown("expected a .zip or .csv file"));
    };
    let parts: Vec<&str> = stem.split('-').collect();
    let expected = "expected SYMBOL-INTERVAL-YYYY-MM[-DD], SYMBOL-trades-… or SYMBOL-aggTrades-…";
    if !(4..=5).contains(&parts.len()) {
        return Err(unknown(expected));
    }
    let (symbol, kind) = (parts[0], parts[1]);
    if UNSUPPORTED_KINDS.contains(&kind) {
        return Err(LakeError::UnsupportedKind {
            file: path.to_string(),
            kind: kind.to_string(),
        });
    }
    if !is_symbol(symbol) {
        return Err(unknown(&format!(
            "symbol {symbol:?} is not upper-case letters, digits and '_'"
        )));
    }
    let (category, interval) = match kind {
        "trades" => (Category::Trades, RAW_INTERVAL.to_string()),
        "aggTrades" => (Category::AggTrades, RAW_INTERVAL.to_string()),
        k if KLINE_INTERVALS.contains(&k) => (Category::Klines, k.to_string()),
        k if k.chars().all(|c| c.is_ascii_alphabetic() || c == '_') && k.len() > 2 => {
            return Err(LakeError::UnsupportedKind {
                file: path.to_string(),
                kind: k.to_string(),
            });
        }
        k => {
            return Err(unknown(&format!(
                "{k:?} is not a kline interval ({expected})"
            )));
        }
    };
    let year: i32 = number(parts[2], 4).ok_or_else(|| unknown(expected))?;
    let month: u32 = number(parts[3], 2).ok_or_else(|| unknown(expected))?;
    let bad_date = || unknown(&format!("{stem}: the date does not exist"));
    let period = match parts.get(4) {
        Some(d) => {
            let d: u32 = number(d, 2).ok_or_else(|| unknown(expected))?;
            Period::Daily {
                day: NaiveDate::from_ymd_opt(year, month, d).ok_or_else(bad_date)?,
            }
        }
        None => {
            NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad_date)?;
            Period::Monthly { year, month }
        }
    };
    Ok(SourceKind {
        stem: stem.to_string(),
        symbol: symbol.to_string(),
        category,
        interval,
        period,
        container,
    })
}

/// The market named by the file's directories, nearest first: `spot`, `futures/um`,
/// `futures/cm`, `futures-um`, `futures-cm` (data.binance.vision's layout and the lake's names).
#[must_use]
pub fn market_from_path(path: &Path) -> Option<Market> {
    let dirs: Vec<String> = path
        .parent()?
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    for (i, d) in dirs.iter().enumerate().rev() {
        let next = dirs.get(i + 1).map(String::as_str);
        match (d.as_str(), next) {
            ("spot", _) => return Some(Market::Spot),
            ("futures-um", _) | ("futures", Some("um")) => return Some(Market::FuturesUm),
            ("futures-cm", _) | ("futures", Some("cm")) => return Some(Market::FuturesCm),
            _ => {}
        }
    }
    None
}

/// Whether the file's directories name a Binance data set that shares the kline file naming
/// but is not klines (`markPriceKlines`, `indexPriceKlines`, `premiumIndexKlines`).
#[must_use]
pub fn unsupported_kind_from_path(path: &Path) -> Option<String> {
    path.parent()?.components().find_map(|c| {
        let s = c.as_os_str().to_string_lossy();
        UNSUPPORTED_KINDS
            .contains(&s.as_ref())
            .then(|| s.into_owned())
    })
}

/// Parses a `.CHECKSUM` sidecar, `<sha256 hex>  <file name>` (a trailing newline optional, a
/// `*` binary marker before the name accepted), and checks it names `expect_name`.
///
/// # Errors
/// [`LakeError::Checksum`] (with `file` = `expect_name`) when the text is not one such line or
/// names another file.
pub fn read_checksum(text: &str, expect_name: &str) -> Result<[u8; 32]> {
    let bad = |reason: String| LakeError::Checksum {
        file: expect_name.to_string(),
        reason,
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let [line] = lines.as_slice() else {
        return Err(bad(format!(
            "the .CHECKSUM file has {} non-empty lines, expected 1",
            lines.len()
        )));
    };
    let mut fields = line.split_whitespace();
    let hex = fields.next().unwrap_or("");
    let name = fields.next().map(|n| n.trim_start_matches('*'));
    if fields.next().is_some() {
        return Err(bad(format!("malformed line {line:?}")));
    }
    let digest = parse_sha256_hex(hex)
        .ok_or_else(|| bad(format!("{hex:?} is not a 64-digit hex sha256")))?;
    match name {
        Some(n) if n != expect_name => Err(bad(format!(
            "the .CHECKSUM file names {n:?}, not {expect_name:?}"
        ))),
        _ => Ok(digest),
    }
}

/// Lower-case hex of a digest.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn parse_sha256_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The unit of a Binance epoch integer. Spot files switched from milliseconds to microseconds
/// on 2025-01-01; futures files did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeUnit {
    /// Milliseconds (13 digits for current dates).
    #[serde(rename = "ms")]
    Millis,
    /// Microseconds (16 digits).
    #[serde(rename = "us")]
    Micros,
}

impl TimeUnit {
    /// The unit of `v` by the shared magnitude rule ([`EpochUnit::detect`]): `[1e11, 1e14)` is
    /// milliseconds (1973–5138), `[1e14, 1e17)` microseconds. Anything else is `None`: seconds
    /// and nanoseconds (Binance files hold neither, so such a value means a wrong column) and
    /// negative values (before 1970, which no Binance file holds).
    #[must_use]
    pub fn detect(v: i64) -> Option<Self> {
        if v < 0 {
            return None;
        }
        match EpochUnit::detect(v) {
            EpochUnit::Millis => Some(TimeUnit::Millis),
            EpochUnit::Micros => Some(TimeUnit::Micros),
            EpochUnit::Seconds | EpochUnit::Nanos => None,
        }
    }

    /// Nanoseconds per unit.
    #[must_use]
    pub fn nanos(self) -> i64 {
        EpochUnit::from(self).nanos()
    }

    /// `ms` or `us`, as stored in the `_time_unit` column.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Millis => "ms",
            TimeUnit::Micros => "us",
        }
    }

    /// The UTC day of `v` in this unit.
    #[must_use]
    pub fn day_of(self, v: i64) -> Option<NaiveDate> {
        let per_day = 86_400 * (1_000_000_000 / self.nanos());
        let days = v.div_euclid(per_day);
        NaiveDate::from_num_days_from_ce_opt(i32::try_from(days).ok()? + 719_163)
    }
}

impl From<TimeUnit> for EpochUnit {
    fn from(u: TimeUnit) -> Self {
        match u {
            TimeUnit::Millis => EpochUnit::Millis,
            TimeUnit::Micros => EpochUnit::Micros,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> Period {
        Period::Daily {
            day: NaiveDate::from_ymd_opt(y, m, d).unwrap(),
        }
    }

    #[test]
    fn source_names_table() {
        use Category::*;
        let monthly = |year, month| Period::Monthly { year, month };
        let cases: [(&str, &str, Category, &str, Period, Container); 11] = [
            (
                "BTCUSDT-1m-2020-01-01.zip",
                "BTCUSDT",
                Klines,
                "1m",
                day(2020, 1, 1),
                Container::Zip,
            ),
            (
                "data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2026-05-08.zip",
                "BTCUSDT",
                Klines,
                "1h",
                day(2026, 5, 8),
                Container::Zip,
            ),
            (
                "BTCUSD_PERP-aggTrades-2026-05-08.zip",
                "BTCUSD_PERP",
                AggTrades,
                "raw",
                day(2026, 5, 8),
                Container::Zip,
            ),
            (
                "ADABTC-1m-2021-11-28.zip",
                "ADABTC",
                Klines,
                "1m",
                day(2021, 11, 28),
                Container::Zip,
            ),
            (
                "BTCUSDT-1h-2018-02.csv",
                "BTCUSDT",
                Klines,
                "1h",
                monthly(2018, 2),
                Container::Csv,
            ),
            (
                "ETHUSDT-1h-2021-01.csv",
                "ETHUSDT",
                Klines,
                "1h",
                monthly(2021, 1),
                Container::Csv,
            ),
            (
                "BTCUSDT-5m-2022-04.csv",
                "BTCUSDT",
                Klines,
                "5m",
                monthly(2022, 4),
                Container::Csv,
            ),
            (
                "AVAXUSDT-1m-2026-02.csv",
                "AVAXUSDT",
                Klines,
                "1m",
                monthly(2026, 2),
                Container::Csv,
            ),
            (
                "BTCUSDT-1mo-2024-01.zip",
                "BTCUSDT",
                Klines,
                "1mo",
                monthly(2024, 1),
                Container::Zip,
            ),
            (
                "BTCUSDT-trades-2024-01-02.zip",
                "BTCUSDT",
                Trades,
                "raw",
                day(2024, 1, 2),
                Container::Zip,
            ),
            (
                "BTCUSDT-1s-2024-02-29.csv",
                "BTCUSDT",
                Klines,
                "1s",
                day(2024, 2, 29),
                Container::Csv,
            ),
        ];
        for (name, symbol, category, interval, period, container) in cases {
            let k = parse_source_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (
                    k.symbol.as_str(),
                    k.category,
                    k.interval.as_str(),
                    k.period,
                    k.container
                ),
                (symbol, category, interval, period, container),
                "{name}"
            );
        }
        assert_eq!(
            parse_source_name("x/BTCUSDT-1m-2020-01-01.zip")
                .unwrap()
                .stem,
            "BTCUSDT-1m-2020-01-01"
        );
        for bad in [
            "BTCUSD.csv",
            "btcusdt-depth-snap.csv",
            "BTCUSDT-1m-2020-01-01.zip.CHECKSUM",
            "BTCUSDT-1m-2020-01-01.parquet",
            "BTCUSDT-7m-2020-01-01.zip",
            "BTCUSDT-1m-2020-13.csv",
            "BTCUSDT-1m-2021-02-29.csv",
            "BTCUSDT-1m-20-01-01.csv",
            "btcusdt-1m-2020-01-01.csv",
        ] {
            assert!(
                matches!(parse_source_name(bad), Err(LakeError::UnknownName { .. })),
                "{bad}: {:?}",
                parse_source_name(bad)
            );
        }
        for (bad, kind) in [
            ("BTCUSDT-fundingRate-2026-04.zip", "fundingRate"),
            ("BTCUSDT-bookTicker-2024-01-01.zip", "bookTicker"),
        ] {
            match parse_source_name(bad) {
                Err(LakeError::UnsupportedKind { kind: k, .. }) => assert_eq!(k, kind),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn markets_from_paths() {
        let cases = [
            (
                "shared/data/binance_datatool-tommy-ca/data/spot/daily/klines/BTCUSDT/1h/x.zip",
                Some(Market::Spot),
            ),
            (
                "d/data/futures/cm/daily/aggTrades/BTCUSD_PERP/x.zip",
                Some(Market::FuturesCm),
            ),
            (
                "d/data/futures/um/monthly/klines/BTCUSDT/1m/x.zip",
                Some(Market::FuturesUm),
            ),
            (
                "alphakit/futures-um/BTCUSDT-1m-2022-05-04.csv",
                Some(Market::FuturesUm),
            ),
            ("owlacar-isda/AVAXUSDT-1m-2026-02.csv", None),
            ("BTCUSDT-1m-2020-01-01.zip", None),
        ];
        for (p, m) in cases {
            assert_eq!(market_from_path(Path::new(p)), m, "{p}");
        }
        assert_eq!(
            unsupported_kind_from_path(Path::new(
                "data/futures/um/daily/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip"
            )),
            Some("markPriceKlines".into())
        );
    }

    #[test]
    fn checksum_without_trailing_newline() {
        let real = "dd579c62368ded93d3f01a1904575b932279e32936e181c062763e605793c1c2  BTCUSDT-1m-2020-01-01.zip";
        let d = read_checksum(real, "BTCUSDT-1m-2020-01-01.zip").unwrap();
        assert_eq!(hex(&d), real[..64]);
        assert_eq!(
            read_checksum(&format!("{real}\n"), "BTCUSDT-1m-2020-01-01.zip").unwrap(),
            d
        );
        let star = real.replace("  ", " *");
        assert_eq!(
            read_checksum(&star, "BTCUSDT-1m-2020-01-01.zip").unwrap(),
            d
        );
        for (text, needle) in [
            (real, "names \"BTCUSDT-1m-2020-01-01.zip\", not"),
            ("", "0 non-empty lines"),
            ("abc  BTCUSDT-1m-2020-01-02.zip", "not a 64-digit hex"),
            (&format!("{real}\n{real}"), "2 non-empty lines"),
        ] {
            let e = read_checksum(text, "BTCUSDT-1m-2020-01-02.zip").unwrap_err();
            assert!(e.to_string().contains(needle), "{text:?}: {e}");
            assert_eq!(e.file(), "BTCUSDT-1m-2020-01-02.zip");
        }
    }

    #[test]
    fn unit_detection_and_days() {
        assert_eq!(TimeUnit::detect(1_577_836_800_000), Some(TimeUnit::Millis));
        assert_eq!(
            TimeUnit::detect(1_778_198_400_000_000),
            Some(TimeUnit::Micros)
        );
        assert_eq!(
            TimeUnit::detect(1_778_201_999_999_999),
            Some(TimeUnit::Micros)
        );
        assert_eq!(TimeUnit::detect(1_577_836_800), None, "seconds");
        assert_eq!(
            TimeUnit::detect(1_577_836_800_000_000_000),
            None,
            "nanoseconds"
        );
        assert_eq!(TimeUnit::detect(-1_577_836_800_000), None);
        // The lake's bands are the shared rule's ms and µs bands, edges included.
        for v in [
            99_999_999_999,
            100_000_000_000,
            99_999_999_999_999,
            100_000_000_000_000,
            99_999_999_999_999_999,
            100_000_000_000_000_000,
        ] {
            let shared = EpochUnit::detect(v);
            assert_eq!(
                TimeUnit::detect(v).map(EpochUnit::from),
                match shared {
                    EpochUnit::Millis | EpochUnit::Micros => Some(shared),
                    _ => None,
                },
                "{v}"
            );
            if let Some(u) = TimeUnit::detect(v) {
                assert_eq!(v.checked_mul(u.nanos()), crate::epoch_to_ns(v), "{v}");
            }
        }
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd);
        assert_eq!(TimeUnit::Millis.day_of(1_577_836_800_000), d(2020, 1, 1));
        assert_eq!(TimeUnit::Millis.day_of(1_577_923_199_999), d(2020, 1, 1));
        assert_eq!(TimeUnit::Millis.day_of(1_577_923_200_000), d(2020, 1, 2));
        assert_eq!(
            TimeUnit::Micros.day_of(1_778_198_400_000_000),
            d(2026, 5, 8)
        );
        assert!(
            day(2020, 1, 1)
                != Period::Monthly {
                    year: 2020,
                    month: 1
                }
        );
        assert!(
            Period::Monthly {
                year: 2018,
                month: 2
            }
            .contains(d(2018, 2, 28).unwrap())
        );
        assert!(
            !Period::Monthly {
                year: 2018,
                month: 2
            }
            .contains(d(2018, 3, 1).unwrap())
        );
    }
}
