//! Backtest report rendering: the equity/drawdown chart (`equity.png`, `equity.svg`) and one
//! self-contained `report.html`. This module only renders numbers the backtest has already
//! computed; it owns the plain-data input types ([`ReportInput`], [`RegimeSpan`],
//! [`TradeRow`], [`PreviewTable`]) and the input checks, and must not compute metrics, read
//! market data or read the clock. Every file is written atomically
//! ([`crate::table::write_atomically`]).
//!
//! `report_json` is the run's JSON report; the renderer reads these keys when present and
//! renders anything else generically:
//!
//! ```text
//! { "config_hash": "…", "seed": 42,
//!   "data_range": {"start": "…", "end": "…"},         // or data_start/data_end, *_ns integers
//!   "metrics": {"sharpe": 1.2, …},                     // metrics table
//!   "per_regime": {"trending": {"pnl": …, …}, …},      // or [{"regime": "trending", …}, …]
//!   "data_quality": {"gaps": 3, "missing_partitions": [..], "duplicates": 0, …},
//!   …other top-level scalars go to the run summary… }
//! ```

#![allow(
    dead_code,
    unused_imports,
    reason = "rendering API; the backtest command wires it in (remove when every item is used)"
)]

mod chart;
mod downsample;
mod html;
mod png;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::BadInput;
use crate::timeparse::format_timestamp;

pub use chart::{CHART_HEIGHT, CHART_WIDTH, RenderedCharts, render_charts, write_charts};
pub use html::{MAX_TRADE_ROWS, render_html, write_html};

/// File names written into the report directory.
pub const EQUITY_PNG: &str = "equity.png";
/// The chart as SVG.
pub const EQUITY_SVG: &str = "equity.svg";
/// The self-contained HTML report.
pub const REPORT_HTML: &str = "report.html";

/// Everything a report shows, as plain data computed by the backtest.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// Report title (escaped wherever it is shown).
    pub title: &'a str,
    /// The run's JSON report (summary, metrics, per-regime, data quality); see the module doc.
    pub report_json: &'a serde_json::Value,
    /// Equity curve: (UTC nanoseconds, equity), timestamps non-decreasing, values finite.
    pub equity: &'a [(i64, f64)],
    /// Regime spans shaded behind the chart, in any order.
    pub regimes: &'a [RegimeSpan],
    /// Closed (and open) trades, in the order to show them.
    pub trades: &'a [TradeRow],
    /// An optional preview of the decision log, shown as a table.
    pub decisions_preview: Option<&'a PreviewTable>,
}

/// A time span during which the detector reported one regime.
#[derive(Debug, Clone, PartialEq)]
pub struct RegimeSpan {
    /// Start, UTC nanoseconds (inclusive).
    pub start_ns: i64,
    /// End, UTC nanoseconds (exclusive); must not be before `start_ns`.
    pub end_ns: i64,
    /// Regime name: `trending`, `mean_reverting`, `volatile`, `unknown` get fixed colours,
    /// any other label a colour from a palette.
    pub label: String,
}

/// One trade, as shown in the trades table.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeRow {
    /// Instrument.
    pub symbol: String,
    /// `long`/`short` or `buy`/`sell`, as the backtest names it.
    pub side: String,
    /// Entry time, UTC nanoseconds.
    pub entry_ns: i64,
    /// Entry price.
    pub entry_price: f64,
    /// Exit time, UTC nanoseconds; `None` while open.
    pub exit_ns: Option<i64>,
    /// Exit price; `None` while open.
    pub exit_price: Option<f64>,
    /// Position size (base units).
    pub size: f64,
    /// Realised profit or loss (quote currency).
    pub pnl: f64,
    /// Why it closed (`stop`, `signal`, `end_of_data`, …); empty while open.
    pub exit_reason: String,
}

/// A small generic table (e.g. the first rows of the decision log), already formatted as text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PreviewTable {
    /// Section heading.
    pub caption: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of cells; short rows are padded, long rows truncated to `columns.len()`.
    pub rows: Vec<Vec<String>>,
    /// Rows in the full table (for the "showing n of m" note).
    pub total_rows: u64,
}

/// The files [`write_report`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFiles {
    /// `equity.png`.
    pub png: PathBuf,
    /// `equity.svg`.
    pub svg: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
}

/// Writes `equity.png`, `equity.svg` and `report.html` (with the SVG inlined) into `dir`,
/// creating `dir` if needed.
///
/// # Errors
/// Bad input (a non-finite or out-of-order equity point, a regime span ending before it
/// starts) or an IO failure, naming the file.
pub fn write_report(dir: &Path, input: &ReportInput<'_>) -> Result<ReportFiles> {
    let charts = write_charts(dir, input)?;
    write_html(dir, input, &charts.svg)?;
    Ok(ReportFiles {
        png: dir.join(EQUITY_PNG),
        svg: dir.join(EQUITY_SVG),
        html: dir.join(REPORT_HTML),
    })
}

/// Creates the report directory, naming it on failure.
fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create report directory {}", dir.display()))
}

/// Checks the equity curve: every value finite, timestamps non-decreasing. Names the first
/// bad point.
///
/// # Errors
/// [`BadInput`] at the first NaN/infinite value or timestamp that goes backwards.
pub fn validate_equity(equity: &[(i64, f64)]) -> Result<()> {
    let mut prev: Option<i64> = None;
    for (i, &(t, v)) in equity.iter().enumerate() {
        if !v.is_finite() {
            return Err(BadInput::new(format!(
                "equity curve point {i} at {}: value {v} is not finite; \
                 the chart cannot draw NaN or infinite equity",
                format_timestamp(t)
            )));
        }
        if let Some(p) = prev
            && t < p
        {
            return Err(BadInput::new(format!(
                "equity curve point {i}: time {} is before the previous point's {}; \
                 the curve must be sorted by time",
                format_timestamp(t),
                format_timestamp(p)
            )));
        }
        prev = Some(t);
    }
    Ok(())
}

/// Checks the regime spans: each ends at or after its start.
///
/// # Errors
/// [`BadInput`] naming the first span that ends before it starts.
pub fn validate_regimes(regimes: &[RegimeSpan]) -> Result<()> {
    match regimes.iter().position(|r| r.end_ns < r.start_ns) {
        Some(i) => Err(BadInput::new(format!(
            "regime span {i} ({:?}) ends at {} before it starts at {}",
            regimes[i].label,
            format_timestamp(regimes[i].end_ns),
            format_timestamp(regimes[i].start_ns)
        ))),
        None => Ok(()),
    }
}

/// Formats a number for people: six significant digits, trailing zeros trimmed, scientific
/// notation for very small or very large magnitudes, `NaN`/`inf` spelled out.
#[must_use]
pub fn fmt_human(x: f64) -> String {
    fmt_significant(x, 6)
}

/// Formats `x` with `digits` significant digits (1 to 15), trailing zeros trimmed; scientific
/// notation outside `[1e-4, 1e15)`; `NaN`/`inf`/`-inf` spelled out; never `-0`.
#[must_use]
pub fn fmt_significant(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let digits = digits.clamp(1, 15);
    let a = x.abs();
    if !(1e-4..1e15).contains(&a) {
        let p = digits - 1;
        return format!("{x:.p$e}");
    }
    // Digits after the point for `digits` significant digits.
    let magnitude = a.log10().floor() as i64;
    let decimals = (digits as i64 - 1 - magnitude).clamp(0, 20) as usize;
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_human_cases() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (1.23456789, "1.23457"),
            (-0.5, "-0.5"),
            (123456.789, "123457"),
            (10000.5, "10000.5"),
            (0.00012345678, "0.000123457"),
            (1e-7, "1.00000e-7"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for &(x, want) in cases {
            assert_eq!(fmt_human(x), want, "fmt_human({x})");
        }
        assert_eq!(fmt_significant(42_100.25, 10), "42100.25");
        assert_eq!(fmt_significant(0.1 + 0.2, 10), "0.3");
        assert_eq!(fmt_significant(-1e-9, 3), "-1.00e-9");
    }

    #[test]
    fn equity_validation_names_the_bad_point() {
        assert!(validate_equity(&[]).is_ok());
        assert!(validate_equity(&[(1, 1.0), (1, 2.0), (3, 0.5)]).is_ok());
        let err = validate_equity(&[(0, 1.0), (1, f64::NAN)]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("point 1") && msg.contains("NaN"), "{msg}");
        assert!(err.downcast_ref::<BadInput>().is_some());
        let msg = validate_equity(&[(5, 1.0), (4, 1.0)])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("point 1") && msg.contains("sorted"), "{msg}");
        let msg = validate_equity(&[(5, f64::INFINITY)])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("point 0") && msg.contains("inf"), "{msg}");
    }

    #[test]
    fn regime_validation_rejects_backwards_spans() {
        let ok = RegimeSpan {
            start_ns: 0,
            end_ns: 0,
            label: "trending".into(),
        };
        let bad = RegimeSpan {
            start_ns: 10,
            end_ns: 5,
            label: "volatile".into(),
        };
        assert!(validate_regimes(std::slice::from_ref(&ok)).is_ok());
        let msg = validate_regimes(&[ok, bad]).unwrap_err().to_string();
        assert!(msg.contains("span 1") && msg.contains("volatile"), "{msg}");
    }
}
