//! Which files `hermes lake download` fetches: data.binance.vision's names and paths for a
//! symbol × market × kind × interval × date range, exactly as the site lays them out. Pure:
//! no network, no disk, no clock.
//!
//! `data/{spot|futures/um|futures/cm}/{daily|monthly}/{klines/SYM/INT|trades/SYM|aggTrades/SYM}/NAME.zip`
//! with `NAME` = `SYM-INT-YYYY-MM[-DD]` (klines) or `SYM-{trades|aggTrades}-YYYY-MM[-DD]`, and the
//! sidecar `NAME.zip.CHECKSUM` beside it.

use chrono::{Datelike, Months, NaiveDate};
use replay::lake::{Category, Market};

/// Kline intervals data.binance.vision publishes.
pub const INTERVALS: [&str; 16] = [
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1mo",
];

/// The most files one command may plan (about 27 years of daily files of one series).
pub const MAX_FILES: usize = 10_000;

/// Daily or monthly archives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One file per UTC day.
    Daily,
    /// One file per calendar month.
    Monthly,
}

/// One end of `--from`/`--to`: a month (`YYYY-MM`) or a day (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateBound {
    /// `YYYY-MM`.
    Month(NaiveDate),
    /// `YYYY-MM-DD`.
    Day(NaiveDate),
}

impl DateBound {
    /// Parses `YYYY-MM` or `YYYY-MM-DD`.
    ///
    /// # Errors
    /// A message naming the text when it is neither.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            && s.len() == 10
        {
            return Ok(Self::Day(d));
        }
        if s.len() == 7
            && let Ok(d) = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        {
            return Ok(Self::Month(d));
        }
        Err(format!("{s:?} is not YYYY-MM or YYYY-MM-DD"))
    }

    /// The first day it covers.
    fn first_day(self) -> NaiveDate {
        match self {
            Self::Month(d) | Self::Day(d) => d,
        }
    }

    /// The last day it covers.
    fn last_day(self) -> NaiveDate {
        match self {
            Self::Day(d) => d,
            Self::Month(d) => d
                .checked_add_months(Months::new(1))
                .and_then(|n| n.pred_opt())
                .unwrap_or(d),
        }
    }
}

/// What to fetch, as validated values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRequest {
    /// Symbols, e.g. `BTCUSDT`, `BTCUSD_PERP`.
    pub symbols: Vec<String>,
    /// Market.
    pub market: Market,
    /// Data set.
    pub category: Category,
    /// Kline interval (`None` for trades and aggTrades).
    pub interval: Option<String>,
    /// First period.
    pub from: DateBound,
    /// Last period (inclusive).
    pub to: DateBound,
    /// Forced granularity; `None` = from the form of `from`/`to`.
    pub granularity: Option<Granularity>,
}

/// One archive to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// Path below the base URL and below `--dest`, e.g.
    /// `data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-01-01.zip`.
    pub rel_path: String,
    /// The file name (last segment of `rel_path`).
    pub name: String,
}

impl RemoteFile {
    /// The sidecar's path: `rel_path` + `.CHECKSUM`.
    #[must_use]
    pub fn checksum_rel_path(&self) -> String {
        format!("{}.CHECKSUM", self.rel_path)
    }
}

/// The files of a request, in symbol (first mention) then time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadPlan {
    /// Archives to fetch.
    pub files: Vec<RemoteFile>,
}

/// The site's directory for a market.
#[must_use]
pub fn market_dir(market: Market) -> &'static str {
    match market {
        Market::Spot => "spot",
        Market::FuturesUm => "futures/um",
        Market::FuturesCm => "futures/cm",
    }
}

/// Plans the files of `req`.
///
/// # Errors
/// A message naming the flag for: no symbol, a malformed symbol, an interval given for trades
/// or unknown to the site, `from` after `to`, `YYYY-MM` mixed with `YYYY-MM-DD` without
/// `--daily`/`--monthly`, or more than [`MAX_FILES`] files.
pub fn plan(req: &DownloadRequest) -> Result<DownloadPlan, String> {
    if req.symbols.is_empty() {
        return Err("--symbol: at least one symbol is required".into());
    }
    for s in &req.symbols {
        if s.is_empty()
            || !s
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!(
                "--symbol {s:?}: expected upper-case letters, digits and '_' (e.g. BTCUSDT)"
            ));
        }
    }
    let interval = match (req.category, req.interval.as_deref()) {
        (Category::Klines, None) => "1m",
        (Category::Klines, Some(i)) if INTERVALS.contains(&i) => i,
        (Category::Klines, Some(i)) => {
            return Err(format!(
                "--interval {i:?}: not one of {}",
                INTERVALS.join(", ")
            ));
        }
        (c, Some(i)) => return Err(format!("--interval {i:?}: {c} files have no interval")),
        (_, None) => "",
    };
    let granularity = match (req.granularity, req.from, req.to) {
        (Some(g), _, _) => g,
        (None, DateBound::Month(_), DateBound::Month(_)) => Granularity::Monthly,
        (None, DateBound::Day(_), DateBound::Day(_)) => Granularity::Daily,
        _ => {
            return Err(
                "--from/--to: both YYYY-MM (monthly files) or both YYYY-MM-DD (daily \
                        files), or say --daily/--monthly"
                    .into(),
            );
        }
    };
    let (first, last) = (req.from.first_day(), req.to.last_day());
    if first > last {
        return Err(format!("--from {first} is after --to {last}"));
    }
    let periods = periods(first, last, granularity);
    let total = periods.len().saturating_mul(req.symbols.len());
    if total > MAX_FILES {
        return Err(format!(
            "the range plans {total} files, more than {MAX_FILES}: split the request"
        ));
    }
    let gran_dir = match granularity {
        Granularity::Daily => "daily",
        Granularity::Monthly => "monthly",
    };
    let mut files = Vec::with_capacity(total);
    let mut seen = std::collections::BTreeSet::new();
    // A symbol given twice is planned once: two workers must never share a `.part`.
    for sym in req.symbols.iter().filter(|s| seen.insert(s.as_str())) {
        let (dir, stem) = match req.category {
            Category::Klines => (
                format!("klines/{sym}/{interval}"),
                format!("{sym}-{interval}"),
            ),
            c => (format!("{c}/{sym}"), format!("{sym}-{c}")),
        };
        for p in &periods {
            let name = format!("{stem}-{p}.zip");
            files.push(RemoteFile {
                rel_path: format!("data/{}/{gran_dir}/{dir}/{name}", market_dir(req.market)),
                name,
            });
        }
    }
    Ok(DownloadPlan { files })
}

/// The period labels (`YYYY-MM` or `YYYY-MM-DD`) from `first` to `last`, inclusive.
fn periods(first: NaiveDate, last: NaiveDate, g: Granularity) -> Vec<String> {
    let mut out = Vec::new();
    match g {
        Granularity::Daily => {
            let mut d = first;
            while d <= last && out.len() <= MAX_FILES {
                out.push(d.format("%Y-%m-%d").to_string());
                let Some(n) = d.succ_opt() else { break };
                d = n;
            }
        }
        Granularity::Monthly => {
            let (mut y, mut m) = (first.year(), first.month());
            while (y, m) <= (last.year(), last.month()) && out.len() <= MAX_FILES {
                out.push(format!("{y:04}-{m:02}"));
                (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(category: Category, from: &str, to: &str) -> DownloadRequest {
        DownloadRequest {
            symbols: vec!["BTCUSDT".into()],
            market: Market::Spot,
            category,
            interval: None,
            from: DateBound::parse(from).unwrap(),
            to: DateBound::parse(to).unwrap(),
            granularity: None,
        }
    }

    fn paths(p: &DownloadPlan) -> Vec<&str> {
        p.files.iter().map(|f| f.rel_path.as_str()).collect()
    }

    #[test]
    fn urls_for_monthly_and_daily_ranges() {
        let p = plan(&req(Category::Klines, "2023-11", "2024-02")).unwrap();
        assert_eq!(
            paths(&p),
            [
                "data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2023-11.zip",
                "data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2023-12.zip",
                "data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip",
                "data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02.zip",
            ]
        );
        assert_eq!(p.files[2].name, "BTCUSDT-1m-2024-01.zip");
        assert_eq!(
            p.files[2].checksum_rel_path(),
            "data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip.CHECKSUM"
        );
        // Daily across a leap-year month end.
        let p = plan(&req(Category::Klines, "2024-02-28", "2024-03-01")).unwrap();
        assert_eq!(
            paths(&p),
            [
                "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-28.zip",
                "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-29.zip",
                "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-03-01.zip",
            ]
        );
        // One day, one month.
        assert_eq!(
            plan(&req(Category::Klines, "2020-01-01", "2020-01-01"))
                .unwrap()
                .files
                .len(),
            1
        );
        // --daily over months: every day of both months; --monthly over days: the months.
        let mut r = req(Category::Klines, "2024-01", "2024-02");
        r.granularity = Some(Granularity::Daily);
        let p = plan(&r).unwrap();
        assert_eq!(p.files.len(), 31 + 29);
        assert!(p.files[59].rel_path.ends_with("BTCUSDT-1m-2024-02-29.zip"));
        let mut r = req(Category::Klines, "2024-12-31", "2025-01-01");
        r.granularity = Some(Granularity::Monthly);
        assert_eq!(
            plan(&r)
                .unwrap()
                .files
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>(),
            ["BTCUSDT-1m-2024-12.zip", "BTCUSDT-1m-2025-01.zip"]
        );
    }

    #[test]
    fn urls_for_markets_kinds_and_symbols() {
        let mut r = req(Category::Klines, "2022-05-04", "2022-05-04");
        r.market = Market::FuturesUm;
        r.interval = Some("5m".into());
        r.symbols = vec!["BTCUSDT".into(), "ETHUSDT".into(), "BTCUSDT".into()];
        assert_eq!(
            paths(&plan(&r).unwrap()),
            [
                "data/futures/um/daily/klines/BTCUSDT/5m/BTCUSDT-5m-2022-05-04.zip",
                "data/futures/um/daily/klines/ETHUSDT/5m/ETHUSDT-5m-2022-05-04.zip",
            ]
        );
        let mut r = req(Category::Trades, "2024-01", "2024-01");
        assert_eq!(
            paths(&plan(&r).unwrap()),
            ["data/spot/monthly/trades/BTCUSDT/BTCUSDT-trades-2024-01.zip"]
        );
        r.category = Category::AggTrades;
        r.market = Market::FuturesCm;
        r.symbols = vec!["BTCUSD_PERP".into()];
        assert_eq!(
            paths(&plan(&r).unwrap()),
            ["data/futures/cm/monthly/aggTrades/BTCUSD_PERP/BTCUSD_PERP-aggTrades-2024-01.zip"]
        );
    }

    #[test]
    fn bad_requests_name_the_flag() {
        let cases: Vec<(DownloadRequest, &str)> = vec![
            (
                DownloadRequest {
                    symbols: vec![],
                    ..req(Category::Klines, "2024-01", "2024-01")
                },
                "--symbol",
            ),
            (
                DownloadRequest {
                    symbols: vec!["btc/usdt".into()],
                    ..req(Category::Klines, "2024-01", "2024-01")
                },
                "--symbol",
            ),
            (
                DownloadRequest {
                    interval: Some("7m".into()),
                    ..req(Category::Klines, "2024-01", "2024-01")
                },
                "--interval",
            ),
            (
                DownloadRequest {
                    interval: Some("1m".into()),
                    ..req(Category::Trades, "2024-01", "2024-01")
                },
                "no interval",
            ),
            (req(Category::Klines, "2024-01", "2024-01-05"), "--daily"),
            (req(Category::Klines, "2024-02", "2024-01"), "after"),
            (req(Category::Klines, "1990-01-01", "2024-01-01"), "split"),
        ];
        for (r, want) in cases {
            let e = plan(&r).unwrap_err();
            assert!(e.contains(want), "{r:?}: {e}");
        }
        for bad in ["2024", "2024-13", "2024-1-05", "2024-02-30", "x"] {
            assert!(DateBound::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            DateBound::parse("2024-02").unwrap(),
            DateBound::Month(NaiveDate::from_ymd_opt(2024, 2, 1).unwrap())
        );
    }
}
