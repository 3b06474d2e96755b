//! Text rendering of `hermes lake` results for stdout: the ingest summary (one line per input
//! and a totals line), the silver quality table (one row per series) and the gold table, or
//! their JSON, and the `ls` and `stats` tables.
//! Formatting only.

use std::fmt::Write;

use replay::Layer;
use replay::lake::{
    Category, GapSpan, GoldSummary, GoldTestSummary, IngestOutcome, SeriesInventory, SeriesOutcome,
    SeriesStats, SilverSummary,
};
use serde_json::{Value, json};

use crate::timeparse::format_timestamp;

/// Counts of an ingest run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestTotals {
    /// New versions committed.
    pub ingested: usize,
    /// Inputs whose sha256 was already in the ledger.
    pub already: usize,
    /// Rejected or failed inputs (missing paths included).
    pub failed: usize,
}

/// One line per input (`ingested`, `present`, `FAILED`) and the totals line.
#[must_use]
pub fn ingest_summary(outcomes: &[IngestOutcome], root: &str) -> (String, IngestTotals) {
    let mut s = String::new();
    let mut t = IngestTotals::default();
    for o in outcomes {
        let input = o.input().display();
        match o {
            IngestOutcome::Ingested { entry: e, .. } => {
                t.ingested += 1;
                let _ = writeln!(
                    s,
                    "ingested {input}: {}/{}/{}/{} {} rows, {} day(s), {} times, checksum {}, \
                     version {}{}",
                    e.market,
                    e.category,
                    e.symbol,
                    e.interval,
                    e.rows,
                    e.partitions.len(),
                    e.time_unit.as_str(),
                    serde_json::to_value(e.checksum)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    e.version,
                    e.supersedes
                        .as_deref()
                        .map(|s| format!(" (supersedes {})", &s[..16.min(s.len())]))
                        .unwrap_or_default()
                );
            }
            IngestOutcome::AlreadyIngested {
                sha256, version, ..
            } => {
                t.already += 1;
                let _ = writeln!(
                    s,
                    "present  {input}: already ingested (sha256 {}, version {version})",
                    &sha256[..16.min(sha256.len())]
                );
            }
            IngestOutcome::Failed { error, .. } => {
                t.failed += 1;
                // The error names the input (and line/column where it applies).
                let _ = writeln!(s, "FAILED   {error}");
            }
        }
    }
    let _ = write!(
        s,
        "lake ingest into {root}: {} ingested, {} already present, {} failed",
        t.ingested, t.already, t.failed
    );
    (s, t)
}

/// `from → to (N h)`, or `-`.
fn gap_text(g: Option<GapSpan>) -> String {
    g.map_or_else(
        || "-".to_string(),
        |g| {
            #[allow(clippy::cast_precision_loss)]
            let hours = g.len_ns() as f64 / 3.6e12;
            format!(
                "{} → {} ({hours:.2} h)",
                format_timestamp(g.from_ns),
                format_timestamp(g.to_ns)
            )
        },
    )
}

/// The silver quality tables: one row per klines series (totals over its days), then (when
/// there are any) one row per trades/aggTrades series ([`trade_table`]), `FAILED` lines and a
/// totals line.
#[must_use]
pub fn silver_table(summary: &SilverSummary, root: &str) -> String {
    const HEAD: [&str; 15] = [
        "series",
        "days",
        "rows",
        "expected",
        "complete",
        "gaps",
        "missing",
        "misaligned",
        "dups",
        "conflicts",
        "invalid",
        "outliers",
        "written",
        "unchanged",
        "longest gap",
    ];
    let mut table: Vec<Vec<String>> = vec![HEAD.iter().map(|h| (*h).to_string()).collect()];
    let is_klines = |s: &&SeriesOutcome| s.key.category == Category::Klines;
    for s in summary.series.iter().filter(is_klines) {
        let q = &s.quality;
        table.push(vec![
            s.key.to_string(),
            q.days.to_string(),
            q.rows.to_string(),
            q.expected_rows.to_string(),
            format!("{:.2}%", q.completeness_pct),
            q.gaps.to_string(),
            q.missing_bars.to_string(),
            q.misaligned.to_string(),
            q.duplicates.to_string(),
            q.conflicts.to_string(),
            q.invalid_rows.to_string(),
            q.outliers.to_string(),
            s.days_written.to_string(),
            s.days_unchanged.to_string(),
            gap_text(q.longest_gap),
        ]);
    }
    let trades = summary.series.len() - (table.len() - 1);
    if trades > 0 && table.len() == 1 {
        // Trade series only: no empty klines table.
        table.clear();
    }
    let mut out = align(&table, 1);
    if trades > 0 {
        out.push_str(&trade_table(summary));
    }
    for s in &summary.series {
        for e in &s.failures {
            let _ = writeln!(out, "FAILED   {}: {e}", s.key);
        }
    }
    let _ = write!(
        out,
        "lake silver in {root}: {} series, {} day(s) written, {} unchanged, {} failed",
        summary.series.len(),
        summary.days_written(),
        summary.days_unchanged(),
        summary.failures().count()
    );
    out
}

/// The trades/aggTrades quality table: one row per series (totals over its days; id gaps
/// include those across midnight), first and last trade time.
fn trade_table(summary: &SilverSummary) -> String {
    const HEAD: [&str; 13] = [
        "series",
        "days",
        "rows",
        "dups",
        "conflicts",
        "invalid",
        "out_of_order",
        "id_gaps",
        "missing_ids",
        "written",
        "unchanged",
        "first trade",
        "last trade",
    ];
    let mut table: Vec<Vec<String>> = vec![HEAD.iter().map(|h| (*h).to_string()).collect()];
    for s in summary
        .series
        .iter()
        .filter(|s| s.key.category != Category::Klines)
    {
        let q = &s.trade_quality;
        table.push(vec![
            s.key.to_string(),
            q.days.to_string(),
            q.rows.to_string(),
            q.duplicates.to_string(),
            q.conflicts.to_string(),
            q.invalid_rows.to_string(),
            q.out_of_order.to_string(),
            q.id_gaps.to_string(),
            q.missing_ids.to_string(),
            s.days_written.to_string(),
            s.days_unchanged.to_string(),
            time_text(q.first_time),
            time_text(q.last_time),
        ]);
    }
    align(&table, 2)
}

/// The silver run as JSON: totals, and per series its quality totals and per-day rows.
#[must_use]
pub fn silver_json(summary: &SilverSummary, root: &str) -> Value {
    let series: Vec<Value> = summary
        .series
        .iter()
        .map(|s| {
            let mut v = json!({
                "series": s.key.to_string(),
                "market": s.key.market.as_str(),
                "category": s.key.category.as_str(),
                "symbol": s.key.symbol,
                "interval": s.key.interval,
                "days_written": s.days_written,
                "days_unchanged": s.days_unchanged,
                "quality_written": s.quality_written,
                "failures": s.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
            });
            // Klines and trade series have their own quality fields (see `replay::lake`).
            if s.key.category == Category::Klines {
                v["quality"] = json!(s.quality);
                v["days"] = json!(s.days);
            } else {
                v["quality"] = json!(s.trade_quality);
                v["days"] = json!(s.trade_days);
            }
            v
        })
        .collect();
    json!({
        "root": root,
        "days_written": summary.days_written(),
        "days_unchanged": summary.days_unchanged(),
        "failed": summary.failures().count(),
        "series": series,
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` of an optional time, or `-`.
fn time_text(ns: Option<i64>) -> String {
    ns.map_or_else(|| "-".to_string(), format_timestamp)
}

/// Left-aligns the first and the last `left_tail` columns (names, times, gaps), right-aligns
/// the counts between, two spaces apart.
fn align(table: &[Vec<String>], left_tail: usize) -> String {
    let cols = table.first().map_or(0, Vec::len);
    let left: Vec<usize> = std::iter::once(0)
        .chain(cols.saturating_sub(left_tail).max(1)..cols)
        .collect();
    aligned(table, &left)
}

/// The gold table: one row per series (days, written, unchanged, rows, first and last bar),
/// then `FAILED` lines and a totals line.
#[must_use]
pub fn gold_table(summary: &GoldSummary, root: &str) -> String {
    const HEAD: [&str; 7] = [
        "series",
        "days",
        "written",
        "unchanged",
        "rows",
        "first",
        "last",
    ];
    let mut table: Vec<Vec<String>> = vec![HEAD.iter().map(|h| (*h).to_string()).collect()];
    for s in &summary.series {
        table.push(vec![
            s.key.to_string(),
            s.days.to_string(),
            s.days_written.to_string(),
            s.days_unchanged.to_string(),
            s.rows.to_string(),
            time_text(s.first_open_time),
            time_text(s.last_open_time),
        ]);
    }
    let mut out = align(&table, 2);
    for s in &summary.series {
        for e in &s.failures {
            let _ = writeln!(out, "FAILED   {}: {e}", s.key);
        }
    }
    let _ = write!(
        out,
        "lake gold in {root}: {} series, {} day(s) written, {} unchanged, {} failed",
        summary.series.len(),
        summary.days_written(),
        summary.days_unchanged(),
        summary.failures().count()
    );
    out
}

/// The gold run as JSON: totals and per series its counts and time range.
#[must_use]
pub fn gold_json(summary: &GoldSummary, root: &str) -> Value {
    let series: Vec<Value> = summary
        .series
        .iter()
        .map(|s| {
            json!({
                "series": s.key.to_string(),
                "market": s.key.market.as_str(),
                "symbol": s.key.symbol,
                "interval": s.key.interval,
                "days": s.days,
                "days_written": s.days_written,
                "days_unchanged": s.days_unchanged,
                "days_removed": s.days_removed,
                "state_written": s.state_written,
                "rows": s.rows,
                "first_open_time": s.first_open_time.map(format_timestamp),
                "last_open_time": s.last_open_time.map(format_timestamp),
                "columns": replay::lake::gold_schema(s.key.market)
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect::<Vec<_>>(),
                "failures": s.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "root": root,
        "feature_set": replay::lake::FEATURE_SET,
        "days_written": summary.days_written(),
        "days_unchanged": summary.days_unchanged(),
        "failed": summary.failures().count(),
        "series": series,
    })
}

/// The gold_test run as a table: per series days written/unchanged and rows, then the
/// failures and a totals line naming the columns.
#[must_use]
pub fn gold_test_table(summary: &GoldTestSummary, root: &str) -> String {
    let mut table: Vec<Vec<String>> = vec![
        ["gold_test series", "written", "unchanged", "rows"]
            .iter()
            .map(|h| (*h).to_string())
            .collect(),
    ];
    for s in &summary.series {
        table.push(vec![
            s.key.to_string(),
            s.days_written.to_string(),
            s.days_unchanged.to_string(),
            s.rows.to_string(),
        ]);
    }
    let mut out = align(&table, 2);
    for (key, e) in summary.failures() {
        let _ = writeln!(out, "FAILED   {key}: {e}");
    }
    let _ = write!(
        out,
        "lake gold_test in {root}: {} series, {} day(s) written, {} failed; columns {}",
        summary.series.len(),
        summary.days_written(),
        summary.failures().count(),
        summary.columns.join(", ")
    );
    out
}

/// Columns padded to their widest cell; columns in `left` are left-aligned, the rest right.
fn aligned(table: &[Vec<String>], left: &[usize]) -> String {
    let cols = table.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            table
                .iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = " ".repeat(widths[c] - cell.chars().count());
            if left.contains(&c) {
                line.push_str(cell);
                line.push_str(&pad);
            } else {
                line.push_str(&pad);
                line.push_str(cell);
            }
            line.push_str("  ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// `hermes lake ls`: one row per layer and series, then `PROBLEM` lines and a totals line.
#[must_use]
pub fn ls_table(series: &[SeriesInventory], root: &str) -> String {
    const HEAD: [&str; 14] = [
        "layer",
        "market",
        "category",
        "symbol",
        "interval",
        "first_day",
        "last_day",
        "days",
        "files",
        "rows",
        "bytes",
        "versions",
        "superseded",
        "orphans",
    ];
    let mut table: Vec<Vec<String>> = vec![HEAD.iter().map(|h| (*h).to_string()).collect()];
    for s in series {
        let bronze = s.layer == Layer::Bronze;
        let only_bronze = |v: u64| if bronze { v.to_string() } else { "-".into() };
        table.push(vec![
            s.layer.to_string(),
            s.series.market.clone(),
            s.series.category.clone(),
            s.series.symbol.clone(),
            s.series.interval.clone(),
            or_dash(s.first_day),
            or_dash(s.last_day),
            s.days.to_string(),
            s.files.to_string(),
            s.rows.map_or_else(|| "?".to_string(), |r| r.to_string()),
            s.bytes.to_string(),
            only_bronze(s.versions),
            only_bronze(s.superseded),
            if matches!(s.layer, Layer::Bronze | Layer::Gold) {
                s.orphans.to_string()
            } else {
                "-".into()
            },
        ]);
    }
    let mut out = aligned(&table, &[0, 1, 2, 3, 4]);
    for s in series {
        for p in &s.problems {
            let _ = writeln!(out, "PROBLEM  {} {}: {p}", s.layer, s.series);
        }
    }
    let _ = write!(
        out,
        "lake ls in {root}: {} series, {} files, {} bytes (rows: bronze from the ledger, every \
         version; silver from _quality.parquet; gold from Parquet footers)",
        series.len(),
        series.iter().map(|s| s.files).sum::<u64>(),
        series.iter().map(|s| s.bytes).sum::<u64>()
    );
    out
}

/// The gold_test run as JSON.
#[must_use]
pub fn gold_test_json(summary: &GoldTestSummary) -> Value {
    let series: Vec<Value> = summary
        .series
        .iter()
        .map(|s| {
            json!({
                "series": s.key.to_string(),
                "days_written": s.days_written,
                "days_unchanged": s.days_unchanged,
                "rows": s.rows,
                "state_written": s.state_written,
                "failure": s.failure.as_ref().map(ToString::to_string),
            })
        })
        .collect();
    json!({
        "columns": summary.columns,
        "days_written": summary.days_written(),
        "series": series,
    })
}

/// `hermes lake stats`: one row per series over all layers, then `PROBLEM` lines and a
/// totals line. Silver quality columns: `gaps`/`missing` are bar gaps and missing bars for
/// klines, id gaps and missing ids for trades and aggTrades; `complete`, `misaligned` and
/// `outliers` are klines-only, `out_of_order` trades-only (dashes elsewhere).
#[must_use]
pub fn stats_table(series: &[SeriesStats], root: &str) -> String {
    const HEAD: [&str; 17] = [
        "series",
        "rows",
        "bytes",
        "first",
        "last",
        "complete",
        "gaps",
        "missing",
        "dups",
        "invalid",
        "out_of_order",
        "misaligned",
        "outliers",
        "versions",
        "superseded",
        "gold_days",
        "gold_cover",
    ];
    let mut table: Vec<Vec<String>> = vec![HEAD.iter().map(|h| (*h).to_string()).collect()];
    for s in series {
        let q = s.silver.as_ref().and_then(|x| x.quality.as_ref());
        let t = s.silver.as_ref().and_then(|x| x.trade_quality.as_ref());
        let b = s.bronze.as_ref();
        let g = s.gold.as_ref();
        table.push(vec![
            s.series.to_string(),
            s.rows.map_or_else(|| "?".to_string(), |r| r.to_string()),
            s.bytes.to_string(),
            time_text(s.first_ns),
            time_text(s.last_ns),
            or_dash(q.map(|q| format!("{:.2}%", q.completeness_pct))),
            or_dash(q.map(|q| q.gaps).or(t.map(|t| t.id_gaps))),
            or_dash(q.map(|q| q.missing_bars).or(t.map(|t| t.missing_ids))),
            or_dash(q.map(|q| q.duplicates).or(t.map(|t| t.duplicates))),
            or_dash(q.map(|q| q.invalid_rows).or(t.map(|t| t.invalid_rows))),
            or_dash(t.map(|t| t.out_of_order)),
            or_dash(q.map(|q| q.misaligned)),
            or_dash(q.map(|q| q.outliers)),
            or_dash(b.map(|b| b.versions)),
            or_dash(b.map(|b| b.superseded)),
            or_dash(g.map(|g| g.days)),
            or_dash(g.and_then(|g| g.coverage_pct).map(|c| format!("{c:.2}%"))),
        ]);
    }
    let mut out = aligned(&table, &[0, 3, 4]);
    for s in series {
        for p in &s.problems {
            let _ = writeln!(out, "PROBLEM  {}: {p}", s.series);
        }
    }
    let _ = write!(out, "lake stats in {root}: {} series", series.len());
    out
}
