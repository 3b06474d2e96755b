//! One Binance CSV (from a zip member or a plain file) → validated, typed columns in memory,
//! with the market chosen and the header and time unit detected. Every rejection names the
//! file, the 1-based line and, for a cell, the column. Owns parsing only; no lake IO.

use std::io::Read;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::error::{LakeError, Result};
use super::schema::{CellType, KindSpec, SPECS, is_decimal, parse_bool};
use super::source::{Market, SourceKind, TimeUnit};

/// How the market of a file was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarketFrom {
    /// The `--market` flag.
    Flag,
    /// A directory of the file's path (`spot`, `futures/um` …).
    Path,
    /// The header's column names.
    Header,
    /// The number of columns.
    Columns,
    /// Microsecond times (only spot switched to µs).
    TimeUnit,
    /// Nothing told: spot assumed.
    Default,
}

/// A market fixed before parsing, and by what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketHint {
    /// The market.
    pub market: Market,
    /// [`MarketFrom::Flag`] or [`MarketFrom::Path`].
    pub from: MarketFrom,
}

/// One column's cells.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Time and integer cells.
    Int(Vec<i64>),
    /// Decimal cells, verbatim: the concatenated text and each cell's end offset.
    Text {
        /// All cells' text, concatenated.
        buf: String,
        /// End offset of each cell in `buf`.
        ends: Vec<usize>,
    },
    /// Boolean cells.
    Bool(Vec<bool>),
}

impl ColumnData {
    fn new(t: CellType) -> Self {
        match t {
            CellType::Time | CellType::Int => ColumnData::Int(Vec::new()),
            CellType::Dec => ColumnData::Text {
                buf: String::new(),
                ends: Vec::new(),
            },
            CellType::Bool => ColumnData::Bool(Vec::new()),
        }
    }

    /// The text of decimal cell `i` (`None` for other column types).
    #[must_use]
    pub fn text(&self, i: usize) -> Option<&str> {
        match self {
            ColumnData::Text { buf, ends } => {
                let start = if i == 0 { 0 } else { ends[i - 1] };
                buf.get(start..*ends.get(i)?)
            }
            _ => None,
        }
    }
}

/// A parsed, validated file.
#[derive(Debug)]
pub struct ParsedCsv {
    /// The columns' spec (market and category).
    pub spec: &'static KindSpec,
    /// How the market was decided.
    pub market_from: MarketFrom,
    /// Whether the first line was a header.
    pub header: bool,
    /// The unit of every time column.
    pub unit: TimeUnit,
    /// One entry per spec column.
    pub columns: Vec<ColumnData>,
    /// The 1-based CSV line of each row.
    pub lines: Vec<i64>,
    /// The UTC day of each row (from the spec's time column).
    pub days: Vec<NaiveDate>,
}

impl ParsedCsv {
    /// Number of data rows.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.lines.len()
    }

    /// The smallest and largest value of the time column, in the file's unit.
    #[must_use]
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let ColumnData::Int(t) = &self.columns[self.spec.time_column] else {
            return None;
        };
        Some((*t.iter().min()?, *t.iter().max()?))
    }
}

/// Picks the spec of a file from its first record (see [`MarketFrom`] for the order).
fn choose_spec(
    file: &str,
    kind: &SourceKind,
    hint: Option<MarketHint>,
    first: &csv::StringRecord,
    header: bool,
) -> Result<(&'static KindSpec, MarketFrom)> {
    let candidates: Vec<&'static KindSpec> = SPECS
        .iter()
        .filter(|s| s.category == kind.category && hint.is_none_or(|h| h.market == s.market))
        .collect();
    let decided =
        |s: &'static KindSpec, otherwise: MarketFrom| (s, hint.map_or(otherwise, |h| h.from));
    if header {
        let names: Vec<&str> = first.iter().collect();
        let matching: Vec<_> = candidates
            .iter()
            .copied()
            .filter(|s| s.columns.iter().map(|(n, _)| *n).eq(names.iter().copied()))
            .collect();
        return match matching.as_slice() {
            [] => Err(LakeError::BadHeader {
                file: file.to_string(),
                kind: kind.category.to_string(),
                found: names.join(","),
                expected: candidates
                    .iter()
                    .map(|s| format!("{}: {}", s.market, s.names()))
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
            [one] => Ok(decided(one, MarketFrom::Header)),
            [first, ..] => Ok(decided(first, MarketFrom::Default)),
        };
    }
    let by_count: Vec<_> = candidates
        .iter()
        .copied()
        .filter(|s| s.columns.len() == first.len())
        .collect();
    let Some(&head) = by_count.first() else {
        let expected = candidates.first().map_or(0, |s| s.columns.len());
        return Err(LakeError::ColumnCount {
            file: file.to_string(),
            line: 1,
            found: first.len(),
            expected,
        });
    };
    if by_count.len() == 1 {
        return Ok(decided(head, MarketFrom::Columns));
    }
    let micros = first
        .get(head.time_column)
        .and_then(|c| c.parse::<i64>().ok())
        .and_then(TimeUnit::detect)
        == Some(TimeUnit::Micros);
    if micros && let Some(spot) = by_count.iter().find(|s| s.market == Market::Spot) {
        return Ok(decided(spot, MarketFrom::TimeUnit));
    }
    Ok(decided(head, MarketFrom::Default))
}

fn truncated(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Parses and validates a whole CSV: header or not, column count per row, each cell's type,
/// one time unit for every time column of the file, and every row inside the file's period.
///
/// `io_error` maps a read failure of the underlying reader (for a zip member: truncation or a
/// CRC mismatch) to the error to report.
///
/// # Errors
/// [`LakeError::Empty`], [`LakeError::BadHeader`], [`LakeError::ColumnCount`],
/// [`LakeError::BadCell`], [`LakeError::TimeUnit`], [`LakeError::OutsidePeriod`],
/// [`LakeError::Csv`], or whatever `io_error` returns.
pub fn parse_csv<R: Read>(
    reader: R,
    file: &str,
    kind: &SourceKind,
    hint: Option<MarketHint>,
    io_error: &dyn Fn(&std::io::Error) -> LakeError,
) -> Result<ParsedCsv> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut rec = csv::StringRecord::new();
    let read = |rdr: &mut csv::Reader<R>, rec: &mut csv::StringRecord, line: u64| {
        rdr.read_record(rec).map_err(|e| {
            let line = e.position().map_or(line, csv::Position::line);
            match e.into_kind() {
                csv::ErrorKind::Io(io) => io_error(&io),
                other => LakeError::Csv {
                    file: file.to_string(),
                    line,
                    reason: format!("{other:?}"),
                },
            }
        })
    };
    if !read(&mut rdr, &mut rec, 1)? {
        return Err(LakeError::Empty {
            file: file.to_string(),
        });
    }
    // A header has no numeric cell; a data row with a damaged cell still has numeric ones and
    // gets a cell error instead.
    let header = rec.iter().all(|c| !is_decimal(c));
    let (spec, market_from) = choose_spec(file, kind, hint, &rec, header)?;
    let mut columns: Vec<ColumnData> = spec
        .columns
        .iter()
        .map(|(_, t)| ColumnData::new(*t))
        .collect();
    let mut lines = Vec::new();
    let mut days = Vec::new();
    let mut unit: Option<TimeUnit> = None;
    let mut have = !header;
    if header {
        have = read(&mut rdr, &mut rec, 2)?;
    }
    while have {
        let line = rec
            .position()
            .map_or(lines.len() as u64 + 1, csv::Position::line);
        if rec.len() != spec.columns.len() {
            return Err(LakeError::ColumnCount {
                file: file.to_string(),
                line,
                found: rec.len(),
                expected: spec.columns.len(),
            });
        }
        for (i, ((name, t), cell)) in spec.columns.iter().zip(rec.iter()).enumerate() {
            let bad = || LakeError::BadCell {
                file: file.to_string(),
                line,
                column: (*name).to_string(),
                value: truncated(cell),
                expected: t.expected(),
            };
            match (&mut columns[i], t) {
                (ColumnData::Int(v), CellType::Time) => {
                    let x: i64 = cell.parse().map_err(|_| bad())?;
                    let u = TimeUnit::detect(x).ok_or_else(|| LakeError::TimeUnit {
                        file: file.to_string(),
                        line,
                        column: (*name).to_string(),
                        reason: format!("{x} is neither epoch milliseconds nor microseconds"),
                    })?;
                    match unit {
                        None => unit = Some(u),
                        Some(prev) if prev != u => {
                            return Err(LakeError::TimeUnit {
                                file: file.to_string(),
                                line,
                                column: (*name).to_string(),
                                reason: format!(
                                    "{x} is in {}, earlier times of the file in {} (mixed units)",
                                    u.as_str(),
                                    prev.as_str()
                                ),
                            });
                        }
                        Some(_) => {}
                    }
                    if i == spec.time_column {
                        let day = u.day_of(x).filter(|d| kind.period.contains(*d));
                        let Some(day) = day else {
                            return Err(LakeError::OutsidePeriod {
                                file: file.to_string(),
                                line,
                                time: x,
                                day: u.day_of(x).map_or_else(|| "?".into(), |d| d.to_string()),
                                period: kind.period.to_string(),
                            });
                        };
                        days.push(day);
                    }
                    v.push(x);
                }
                (ColumnData::Int(v), _) => v.push(cell.parse().map_err(|_| bad())?),
                (ColumnData::Text { buf, ends }, _) => {
                    if !is_decimal(cell) {
                        return Err(bad());
                    }
                    buf.push_str(cell);
                    ends.push(buf.len());
                }
                (ColumnData::Bool(v), _) => v.push(parse_bool(cell).ok_or_else(bad)?),
            }
        }
        lines.push(i64::try_from(line).unwrap_or(i64::MAX));
        have = read(&mut rdr, &mut rec, line + 1)?;
    }
    let Some(unit) = unit else {
        return Err(LakeError::Empty {
            file: file.to_string(),
        });
    };
    Ok(ParsedCsv {
        spec,
        market_from,
        header,
        unit,
        columns,
        lines,
        days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::source::parse_source_name;

    fn parse(name: &str, text: &str, hint: Option<Market>) -> Result<ParsedCsv> {
        let kind = parse_source_name(name).unwrap();
        let hint = hint.map(|market| MarketHint {
            market,
            from: MarketFrom::Flag,
        });
        parse_csv(text.as_bytes(), name, &kind, hint, &|e| LakeError::Csv {
            file: name.into(),
            line: 0,
            reason: e.to_string(),
        })
    }

    // Real rows: alphakit BTCUSDT-1h-2018-02.csv lines 1–2 and owlacar's futures header.
    const SPOT_1: &str = "1517443200000,10285.10000000,10335.00000000,10215.07000000,10263.18000000,594.44129000,1517446799999,6115555.42732146,5895,279.12304600,2872194.05048160,0";
    const SPOT_2: &str = "1517446800000,10263.18000000,10328.98000000,10216.00000000,10247.49000000,591.51572500,1517450399999,6075265.65422887,7011,206.87583500,2125737.84705670,0";
    const UM_HEADER: &str = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore";

    #[test]
    fn parses_headerless_spot_rows_verbatim() {
        let p = parse(
            "BTCUSDT-1h-2018-02.csv",
            &format!("{SPOT_1}\n{SPOT_2}"),
            None,
        )
        .unwrap();
        assert_eq!(p.rows(), 2);
        assert!(!p.header);
        assert_eq!(p.unit, TimeUnit::Millis);
        assert_eq!(p.spec.market, Market::Spot);
        assert_eq!(p.market_from, MarketFrom::Default);
        assert_eq!(p.lines, [1, 2]);
        assert_eq!(p.columns[1].text(0), Some("10285.10000000"));
        assert_eq!(p.columns[4].text(1), Some("10247.49000000"));
        assert_eq!(
            p.columns[0],
            ColumnData::Int(vec![1517443200000, 1517446800000])
        );
        assert_eq!(p.time_range(), Some((1517443200000, 1517446800000)));
    }

    #[test]
    fn header_picks_the_market_and_shifts_lines() {
        let row = "1769904000000,10.1130,10.1300,10.1090,10.1280,38521,1769904059999,389800.3310,1077,28754,290983.0070,0";
        let p = parse(
            "AVAXUSDT-1m-2026-02.csv",
            &format!("{UM_HEADER}\n{row}\n"),
            None,
        )
        .unwrap();
        assert!(p.header);
        assert_eq!(
            (p.spec.market, p.market_from),
            (Market::FuturesUm, MarketFrom::Header)
        );
        assert_eq!(p.lines, [2]);
        let e = parse(
            "AVAXUSDT-1m-2026-02.csv",
            &format!("{UM_HEADER}\n{row}\n"),
            Some(Market::Spot),
        )
        .unwrap_err();
        assert!(matches!(e, LakeError::BadHeader { .. }), "{e}");
    }

    #[test]
    fn unit_detection_and_mixed_units() {
        // Real µs row: tommy-ca spot BTCUSDT-1h-2026-05-08, line 1.
        let us = "1778198400000000,79855.12000000,80077.53000000,79687.99000000,79988.02000000,443.50929000,1778201999999999,35443632.01237218,95542,229.93232000,18376479.58960060,0";
        let p = parse("BTCUSDT-1h-2026-05-08.zip", us, None).unwrap();
        assert_eq!(
            (p.unit, p.spec.market, p.market_from),
            (TimeUnit::Micros, Market::Spot, MarketFrom::TimeUnit)
        );
        let mixed = us.replacen("1778201999999999", "1778201999999", 1);
        let e = parse("BTCUSDT-1h-2026-05-08.zip", &mixed, None).unwrap_err();
        assert!(
            e.to_string().contains("line 1, column close_time")
                && e.to_string().contains("mixed units"),
            "{e}"
        );
        let secs = SPOT_1.replacen("1517443200000", "1517443200", 1);
        let e = parse("BTCUSDT-1h-2018-02.csv", &secs, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("neither epoch milliseconds nor microseconds"),
            "{e}"
        );
    }

    #[test]
    fn csv_cell_errors_name_line_and_column() {
        let bad_high = SPOT_2.replacen("10328.98000000", "abc", 1);
        let cases: Vec<(String, &str)> = vec![
            (
                format!("{SPOT_1}\n{bad_high}"),
                "BTCUSDT-1h-2018-02.csv: line 2, column high: \"abc\" is not a decimal number",
            ),
            (
                format!("{SPOT_1}\n{SPOT_2},7"),
                "BTCUSDT-1h-2018-02.csv: line 2: 13 columns, expected 12",
            ),
            (
                SPOT_1.rsplit_once(',').unwrap().0.to_string(),
                "line 1: 11 columns, expected 12",
            ),
            (
                SPOT_1.replacen(",5895,", ",5895.5,", 1),
                "line 1, column count: \"5895.5\" is not an integer",
            ),
            (String::new(), "BTCUSDT-1h-2018-02.csv: empty file"),
            ("\n\n".into(), "empty file"),
            (
                SPOT_1.replacen("1517443200000", "1517443200000x", 1),
                "line 1, column open_time",
            ),
            (
                format!(
                    "{SPOT_1}\n{}",
                    SPOT_2.replacen("1517446800000", "1519862400000", 1)
                ),
                "line 2: time 1519862400000 (2018-03-01) is outside the file's period 2018-02",
            ),
            (
                "open,high\n1,2".into(),
                "line 1: header \"open,high\" does not match the klines columns",
            ),
        ];
        for (text, want) in cases {
            let e = parse("BTCUSDT-1h-2018-02.csv", &text, None).unwrap_err();
            assert!(e.to_string().contains(want), "want {want:?}, got {e}");
            assert!(e.is_bad_input());
            assert_eq!(e.file(), "BTCUSDT-1h-2018-02.csv");
        }
        // A header with nothing under it is empty too.
        let e = parse("AVAXUSDT-1m-2026-02.csv", UM_HEADER, None).unwrap_err();
        assert!(matches!(e, LakeError::Empty { .. }), "{e}");
    }

    #[test]
    fn aggtrades_bools_and_column_count_pick_the_market() {
        let spot = "1,42000.1,0.5,10,11,1704067200000,True,True";
        let p = parse("BTCUSDT-aggTrades-2024-01-01.csv", spot, None).unwrap();
        assert_eq!(
            (p.spec.market, p.market_from),
            (Market::Spot, MarketFrom::Columns)
        );
        assert_eq!(p.columns[6], ColumnData::Bool(vec![true]));
        let e = parse(
            "BTCUSDT-aggTrades-2024-01-01.csv",
            &spot.replace(",True,True", ",maybe,True"),
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("column is_buyer_maker: \"maybe\" is not true or false"),
            "{e}"
        );
    }
}
