//! The columns of each Binance public-data kind per market, with Binance's own names and the
//! cell type each is validated and stored as in bronze. Data only; no IO.
//!
//! Sources: data.binance.vision files and the headers of the futures files (spot files have no
//! header; their names are Binance's API documentation names, as in `hermes features`).

use super::source::{Category, Market};

/// How a cell is validated and stored in bronze.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellType {
    /// An epoch time in the file's unit (ms or µs): Int64, unit-checked.
    Time,
    /// An integer (counts, ids): Int64.
    Int,
    /// A decimal number kept as its verbatim text (Utf8) so no digit is lost.
    Dec,
    /// `true`/`false` (any case): Boolean.
    Bool,
}

impl CellType {
    /// What a cell of this type must be, for error messages.
    #[must_use]
    pub fn expected(self) -> &'static str {
        match self {
            CellType::Time => "an epoch time (integer)",
            CellType::Int => "an integer",
            CellType::Dec => "a decimal number",
            CellType::Bool => "true or false",
        }
    }
}

/// The columns of one (market, category).
#[derive(Debug, PartialEq, Eq)]
pub struct KindSpec {
    /// The market.
    pub market: Market,
    /// The category.
    pub category: Category,
    /// Column names and types, in file order.
    pub columns: &'static [(&'static str, CellType)],
    /// Index of the event-time column that decides the UTC day partition.
    pub time_column: usize,
}

impl KindSpec {
    /// The column names, comma separated (for messages).
    #[must_use]
    pub fn names(&self) -> String {
        self.columns
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(",")
    }
}

use CellType::{Bool, Dec, Int, Time};

/// The spot kline column names in file order (Binance's API names; the binary's CSV reader
/// recognises headerless kline files by them too).
pub const SPOT_KLINE_COLUMNS: [&str; 12] = names_of(SPOT_KLINES);

/// The names of `cols`, which must have exactly `N` entries (checked at compile time).
const fn names_of<const N: usize>(cols: &[(&'static str, CellType)]) -> [&'static str; N] {
    assert!(cols.len() == N);
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = cols[i].0;
        i += 1;
    }
    out
}

const SPOT_KLINES: &[(&str, CellType)] = &[
    ("open_time", Time),
    ("open", Dec),
    ("high", Dec),
    ("low", Dec),
    ("close", Dec),
    ("volume", Dec),
    ("close_time", Time),
    ("quote_volume", Dec),
    ("count", Int),
    ("taker_buy_base_volume", Dec),
    ("taker_buy_quote_volume", Dec),
    ("ignore", Dec),
];

const UM_KLINES: &[(&str, CellType)] = &[
    ("open_time", Time),
    ("open", Dec),
    ("high", Dec),
    ("low", Dec),
    ("close", Dec),
    ("volume", Dec),
    ("close_time", Time),
    ("quote_volume", Dec),
    ("count", Int),
    ("taker_buy_volume", Dec),
    ("taker_buy_quote_volume", Dec),
    ("ignore", Dec),
];

const CM_KLINES: &[(&str, CellType)] = &[
    ("open_time", Time),
    ("open", Dec),
    ("high", Dec),
    ("low", Dec),
    ("close", Dec),
    ("volume", Dec),
    ("close_time", Time),
    ("base_volume", Dec),
    ("count", Int),
    ("taker_buy_volume", Dec),
    ("taker_buy_base_volume", Dec),
    ("ignore", Dec),
];

const SPOT_AGG_TRADES: &[(&str, CellType)] = &[
    ("agg_trade_id", Int),
    ("price", Dec),
    ("quantity", Dec),
    ("first_trade_id", Int),
    ("last_trade_id", Int),
    ("transact_time", Time),
    ("is_buyer_maker", Bool),
    ("is_best_match", Bool),
];

const FUTURES_AGG_TRADES: &[(&str, CellType)] = &[
    ("agg_trade_id", Int),
    ("price", Dec),
    ("quantity", Dec),
    ("first_trade_id", Int),
    ("last_trade_id", Int),
    ("transact_time", Time),
    ("is_buyer_maker", Bool),
];

const SPOT_TRADES: &[(&str, CellType)] = &[
    ("id", Int),
    ("price", Dec),
    ("qty", Dec),
    ("quote_qty", Dec),
    ("time", Time),
    ("is_buyer_maker", Bool),
    ("is_best_match", Bool),
];

const UM_TRADES: &[(&str, CellType)] = &[
    ("id", Int),
    ("price", Dec),
    ("qty", Dec),
    ("quote_qty", Dec),
    ("time", Time),
    ("is_buyer_maker", Bool),
];

const CM_TRADES: &[(&str, CellType)] = &[
    ("id", Int),
    ("price", Dec),
    ("qty", Dec),
    ("base_qty", Dec),
    ("time", Time),
    ("is_buyer_maker", Bool),
];

/// Every supported (market, category), in detection order (spot first).
pub static SPECS: [KindSpec; 9] = [
    KindSpec {
        market: Market::Spot,
        category: Category::Klines,
        columns: SPOT_KLINES,
        time_column: 0,
    },
    KindSpec {
        market: Market::FuturesUm,
        category: Category::Klines,
        columns: UM_KLINES,
        time_column: 0,
    },
    KindSpec {
        market: Market::FuturesCm,
        category: Category::Klines,
        columns: CM_KLINES,
        time_column: 0,
    },
    KindSpec {
        market: Market::Spot,
        category: Category::AggTrades,
        columns: SPOT_AGG_TRADES,
        time_column: 5,
    },
    KindSpec {
        market: Market::FuturesUm,
        category: Category::AggTrades,
        columns: FUTURES_AGG_TRADES,
        time_column: 5,
    },
    KindSpec {
        market: Market::FuturesCm,
        category: Category::AggTrades,
        columns: FUTURES_AGG_TRADES,
        time_column: 5,
    },
    KindSpec {
        market: Market::Spot,
        category: Category::Trades,
        columns: SPOT_TRADES,
        time_column: 4,
    },
    KindSpec {
        market: Market::FuturesUm,
        category: Category::Trades,
        columns: UM_TRADES,
        time_column: 4,
    },
    KindSpec {
        market: Market::FuturesCm,
        category: Category::Trades,
        columns: CM_TRADES,
        time_column: 4,
    },
];

/// The spec of one (market, category).
#[must_use]
pub fn spec(market: Market, category: Category) -> &'static KindSpec {
    SPECS
        .iter()
        .find(|s| s.market == market && s.category == category)
        .unwrap_or(&SPECS[0])
}

/// Whether `s` is a plain decimal number as Binance writes them: optional `-`, digits, and
/// optionally `.` followed by digits (no exponent, no spaces).
#[must_use]
pub fn is_decimal(s: &str) -> bool {
    let b = s.strip_prefix('-').unwrap_or(s).as_bytes();
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    !int.is_empty()
        && int.iter().all(u8::is_ascii_digit)
        && frac.is_none_or(|f| !f.is_empty() && f.iter().all(u8::is_ascii_digit))
}

/// `true`/`false` in any case (spot trades write `True`/`False`).
#[must_use]
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_market_and_category_has_one_spec() {
        for m in Market::ALL {
            for c in [Category::Klines, Category::Trades, Category::AggTrades] {
                let s = spec(m, c);
                assert_eq!((s.market, s.category), (m, c));
                assert_eq!(s.columns[s.time_column].1, CellType::Time);
            }
        }
    }

    #[test]
    fn decimals_and_bools() {
        for ok in ["0", "7195.24000000", "-1.5", "10.1130", "38521"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["", "abc", "1.", ".5", "1e5", " 1", "1,5", "--1", "-", "NaN"] {
            assert!(!is_decimal(bad), "{bad}");
        }
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("1"), None);
    }
}
