//! The quality report of silver klines: one [`QualityRow`] per series-day, assessed in plain
//! Rust from the day's deduplicated bars ([`assess_day`]), linked across days
//! ([`link_days`]), summed per series ([`SeriesQuality`]) and stored as the series'
//! `_quality.parquet` ([`write_quality`], [`read_quality`]).
//!
//! Rules (an interval is *on the grid* when it divides a UTC day: `1s` … `1d`):
//! - **expected rows**: bars of the interval in a UTC day (`86 400 s / interval`); for `3d`,
//!   `1w`, `1mo` the rows found (there is no per-day grid).
//! - **completeness** = `min(rows, expected) / expected`, in %.
//! - **gap**: two consecutive bars more than one interval apart; it runs from the open time of
//!   the bar before to the open time of the bar after, and misses `⌈step / interval⌉ − 1` bars.
//!   Gaps inside a day count on that day; the step from the previous day's last bar to a
//!   day's first bar (*across midnight*, also over days without any bar) is the day's
//!   `midnight_gap`. A series' longest gap is the longest of both kinds.
//! - **misaligned**: an open time that is not a multiple of the interval (grid intervals).
//! - **outlier** (flagged, kept): a bar whose log return from the previous bar of the day
//!   deviates from the day's median return by more than 10 robust sigmas (`1.4826 · MAD`) and
//!   exceeds 1 % in size, or whose log range `ln(high / low)` exceeds 10 × the day's median
//!   range and 1 %. Needs at least [`OUTLIER_MIN_BARS`] bars in the day.
//! - **duplicates**, **conflicts**, **invalid rows** are counted by the silver build (rows
//!   removed: identical repeats, different rows for one open time where the newest source
//!   won, and rows that are not a valid bar).
//!
//! Owns the rules and the table format; no IO beyond encoding and decoding bytes.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use super::error::{LakeError, Result};
use crate::bars::{FileCompression, encode};
use crate::source::NS_PER_DAY;

/// The file name of a series' quality table, beside its `year=` directories (the replay's
/// listing skips names starting with `_`).
pub const QUALITY_FILE: &str = "_quality.parquet";

/// Fewest bars in a day for the outlier rule to apply.
pub const OUTLIER_MIN_BARS: usize = 10;

/// Robust sigmas a return must deviate from the day's median to be an outlier.
const OUTLIER_SIGMAS: f64 = 10.0;
/// `MAD × 1.4826` estimates the standard deviation of normal data.
const MAD_TO_SIGMA: f64 = 1.4826;
/// Returns and ranges below 1 % are never outliers (flat markets have a zero MAD).
const OUTLIER_FLOOR: f64 = 0.01;
/// A range this many times the day's median range is an outlier.
const RANGE_MULTIPLE: f64 = 10.0;

/// A kline interval as the quality rules use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KlineInterval {
    /// Nominal length in ns (`1mo`: 31 days, the longest month).
    pub ns: i64,
    /// Whether the interval divides a UTC day, so bars sit on an epoch-aligned grid.
    pub on_grid: bool,
}

impl KlineInterval {
    /// The interval of a Binance kline interval name (`1s` … `1d`, `3d`, `1w`, `1mo`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        const S: i64 = 1_000_000_000;
        let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
        let n: i64 = num.parse().ok().filter(|&n| n > 0)?;
        let unit_ns = match unit {
            "s" => S,
            "m" => 60 * S,
            "h" => 3_600 * S,
            "d" => 86_400 * S,
            "w" => 7 * 86_400 * S,
            "mo" => 31 * 86_400 * S,
            _ => return None,
        };
        let ns = n.checked_mul(unit_ns)?;
        let on_grid = unit != "w" && unit != "mo" && ns <= NS_PER_DAY && NS_PER_DAY % ns == 0;
        Some(Self { ns, on_grid })
    }

    /// Bars in a full UTC day (`None` off the grid).
    #[must_use]
    pub fn per_day(self) -> Option<u64> {
        self.on_grid
            .then(|| u64::try_from(NS_PER_DAY / self.ns).unwrap_or(0))
    }

    /// Bars missing in a step of `step` ns between two bars (0 when `step ≤ interval`).
    #[must_use]
    pub fn missing_in(self, step: i64) -> u64 {
        if step <= self.ns {
            return 0;
        }
        let slots = step / self.ns + i64::from(step % self.ns != 0);
        u64::try_from(slots - 1).unwrap_or(0)
    }
}

/// One gap: from the open time of the bar before to the open time of the bar after (UTC ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GapSpan {
    /// Open time of the last bar before the gap.
    pub from_ns: i64,
    /// Open time of the first bar after it.
    pub to_ns: i64,
}

impl GapSpan {
    /// Its length in ns.
    #[must_use]
    pub fn len_ns(self) -> i64 {
        self.to_ns - self.from_ns
    }
}

/// What the silver build removed from one series-day before assessing it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    /// Rows that repeat another row of the same open time exactly.
    pub duplicates: u64,
    /// Rows dropped for a different row of the same open time from a newer source.
    pub conflicts: u64,
    /// Rows that are not a valid bar (dropped).
    pub invalid_rows: u64,
    /// Bronze files read.
    pub source_files: u64,
}

/// The quality of one series-day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityRow {
    /// The UTC day.
    #[serde(serialize_with = "date_text")]
    pub date: NaiveDate,
    /// Bars in silver.
    pub rows: u64,
    /// Bars a complete day has (see the module docs).
    pub expected_rows: u64,
    /// `min(rows, expected) / expected`, in %.
    pub completeness_pct: f64,
    /// Gaps between bars of this day.
    pub gaps: u64,
    /// Bars those gaps miss.
    pub missing_bars: u64,
    /// The longest of those gaps.
    pub largest_gap: Option<GapSpan>,
    /// Open times off the interval grid.
    pub misaligned: u64,
    /// Identical repeated rows removed.
    pub duplicates: u64,
    /// Conflicting rows removed (the newest source won).
    pub conflicts: u64,
    /// Invalid rows removed.
    pub invalid_rows: u64,
    /// Bars flagged as outliers (kept).
    pub outliers: u64,
    /// First open time, UTC ns.
    pub first_open_time: i64,
    /// Last open time, UTC ns.
    pub last_open_time: i64,
    /// The previous silver day's last open time (`None` on the series' first day).
    pub prev_last_open_time: Option<i64>,
    /// Whether the step from that bar to this day's first bar is a gap.
    pub midnight_gap: bool,
    /// Bars that step misses.
    pub midnight_missing_bars: u64,
    /// Bronze files read.
    pub source_files: u64,
    /// sha256 of the day's bronze inputs: the day is rebuilt when it changes.
    pub inputs_fingerprint: String,
}

fn date_text<S: serde::Serializer>(d: &NaiveDate, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(d)
}

impl QualityRow {
    /// The gap across midnight, if any.
    #[must_use]
    pub fn midnight_gap_span(&self) -> Option<GapSpan> {
        match (self.midnight_gap, self.prev_last_open_time) {
            (true, Some(from_ns)) => Some(GapSpan {
                from_ns,
                to_ns: self.first_open_time,
            }),
            _ => None,
        }
    }
}

/// The median of `v` (sorted in place); `None` when empty.
fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        f64::midpoint(v[n / 2 - 1], v[n / 2])
    })
}

/// Indices of the outlier bars (see the module docs); `high`, `low`, `close` are the day's
/// bars in time order, all positive.
#[must_use]
pub fn outlier_bars(high: &[f64], low: &[f64], close: &[f64]) -> Vec<usize> {
    let n = close.len();
    if n < OUTLIER_MIN_BARS {
        return Vec::new();
    }
    let returns: Vec<f64> = close.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
    let ranges: Vec<f64> = high.iter().zip(low).map(|(h, l)| (h / l).ln()).collect();
    let med_r = median(&mut returns.clone()).unwrap_or(0.0);
    let mut dev: Vec<f64> = returns.iter().map(|r| (r - med_r).abs()).collect();
    let sigma = MAD_TO_SIGMA * median(&mut dev).unwrap_or(0.0);
    let med_x = median(&mut ranges.clone()).unwrap_or(0.0);
    (0..n)
        .filter(|&i| {
            let ret = i > 0 && {
                let r = returns[i - 1];
                (r - med_r).abs() > OUTLIER_SIGMAS * sigma && r.abs() > OUTLIER_FLOOR
            };
            let x = ranges[i];
            ret || (x > RANGE_MULTIPLE * med_x && x > OUTLIER_FLOOR)
        })
        .collect()
}

/// The bars of one series-day, deduplicated and sorted by open time (UTC ns).
#[derive(Debug, Clone, Copy)]
pub struct DayBars<'a> {
    /// Open times, strictly increasing.
    pub open_time: &'a [i64],
    /// Highs.
    pub high: &'a [f64],
    /// Lows.
    pub low: &'a [f64],
    /// Closes.
    pub close: &'a [f64],
}

/// Assesses one series-day. The fields that depend on the previous day
/// (`prev_last_open_time`, `midnight_*`) are left empty for [`link_days`].
#[must_use]
pub fn assess_day(
    date: NaiveDate,
    bars: DayBars<'_>,
    interval: KlineInterval,
    counts: DayCounts,
    inputs_fingerprint: String,
) -> QualityRow {
    let t = bars.open_time;
    let rows = t.len() as u64;
    let expected_rows = interval.per_day().unwrap_or(rows);
    #[allow(clippy::cast_precision_loss)]
    let completeness_pct = if expected_rows == 0 {
        100.0
    } else {
        rows.min(expected_rows) as f64 * 100.0 / expected_rows as f64
    };
    let (mut gaps, mut missing_bars, mut largest_gap) = (0, 0, None::<GapSpan>);
    for w in t.windows(2) {
        let step = w[1] - w[0];
        if step > interval.ns {
            gaps += 1;
            missing_bars += interval.missing_in(step);
            let g = GapSpan {
                from_ns: w[0],
                to_ns: w[1],
            };
            if largest_gap.is_none_or(|l| step > l.len_ns()) {
                largest_gap = Some(g);
            }
        }
    }
    let misaligned = if interval.on_grid {
        t.iter()
            .filter(|&&x| x.rem_euclid(interval.ns) != 0)
            .count() as u64
    } else {
        0
    };
    QualityRow {
        date,
        rows,
        expected_rows,
        completeness_pct,
        gaps,
        missing_bars,
        largest_gap,
        misaligned,
        duplicates: counts.duplicates,
        conflicts: counts.conflicts,
        invalid_rows: counts.invalid_rows,
        outliers: outlier_bars(bars.high, bars.low, bars.close).len() as u64,
        first_open_time: t.first().copied().unwrap_or(0),
        last_open_time: t.last().copied().unwrap_or(0),
        prev_last_open_time: None,
        midnight_gap: false,
        midnight_missing_bars: 0,
        source_files: counts.source_files,
        inputs_fingerprint,
    }
}

/// Fills the across-midnight fields of `rows` (one series, sorted by date): each day's step
/// from the previous row's last bar. Days with no rows do not break the chain.
pub fn link_days(rows: &mut [QualityRow], interval: KlineInterval) {
    let mut prev: Option<i64> = None;
    for r in rows.iter_mut() {
        r.prev_last_open_time = prev;
        let step = prev.map(|p| r.first_open_time - p);
        r.midnight_gap = r.rows > 0 && step.is_some_and(|s| s > interval.ns);
        r.midnight_missing_bars = match step {
            Some(s) if r.rows > 0 => interval.missing_in(s),
            _ => 0,
        };
        if r.rows > 0 {
            prev = Some(r.last_open_time);
        }
    }
}

/// One series' totals over its days.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SeriesQuality {
    /// Days with a silver partition.
    pub days: u64,
    /// Calendar days between the first and last that have none.
    pub missing_days: u64,
    /// First day (`YYYY-MM-DD`).
    pub first_day: Option<String>,
    /// Last day.
    pub last_day: Option<String>,
    /// Bars.
    pub rows: u64,
    /// Bars complete days would have.
    pub expected_rows: u64,
    /// `Σ min(rows, expected) / Σ expected` over the days present, in %.
    pub completeness_pct: f64,
    /// Gaps, inside days and across midnight.
    pub gaps: u64,
    /// Bars those gaps miss.
    pub missing_bars: u64,
    /// The longest gap.
    pub longest_gap: Option<GapSpan>,
    /// Misaligned bars.
    pub misaligned: u64,
    /// Identical repeats removed.
    pub duplicates: u64,
    /// Conflicting rows removed.
    pub conflicts: u64,
    /// Invalid rows removed.
    pub invalid_rows: u64,
    /// Outlier bars flagged.
    pub outliers: u64,
}

impl SeriesQuality {
    /// Sums linked day rows (sorted by date).
    #[must_use]
    pub fn of(rows: &[QualityRow]) -> Self {
        let mut q = SeriesQuality {
            days: rows.len() as u64,
            first_day: rows.first().map(|r| r.date.to_string()),
            last_day: rows.last().map(|r| r.date.to_string()),
            ..SeriesQuality::default()
        };
        if let (Some(a), Some(b)) = (rows.first(), rows.last()) {
            let span = u64::try_from((b.date - a.date).num_days() + 1).unwrap_or(0);
            q.missing_days = span.saturating_sub(q.days);
        }
        let mut complete = 0u64;
        for r in rows {
            q.rows += r.rows;
            q.expected_rows += r.expected_rows;
            complete += r.rows.min(r.expected_rows);
            q.gaps += r.gaps + u64::from(r.midnight_gap);
            q.missing_bars += r.missing_bars + r.midnight_missing_bars;
            for g in r.largest_gap.into_iter().chain(r.midnight_gap_span()) {
                if q.longest_gap.is_none_or(|l| g.len_ns() > l.len_ns()) {
                    q.longest_gap = Some(g);
                }
            }
            q.misaligned += r.misaligned;
            q.duplicates += r.duplicates;
            q.conflicts += r.conflicts;
            q.invalid_rows += r.invalid_rows;
            q.outliers += r.outliers;
        }
        #[allow(clippy::cast_precision_loss)]
        {
            q.completeness_pct = if q.expected_rows == 0 {
                100.0
            } else {
                complete as f64 * 100.0 / q.expected_rows as f64
            };
        }
        q
    }
}

const COLUMNS: [TableColumn; 21] = [
    ("date", DataType::Date32, false),
    ("rows", DataType::Int64, false),
    ("expected_rows", DataType::Int64, false),
    ("completeness_pct", DataType::Float64, false),
    ("gaps", DataType::Int64, false),
    ("missing_bars", DataType::Int64, false),
    ("largest_gap_from", DataType::Int64, true),
    ("largest_gap_to", DataType::Int64, true),
    ("misaligned", DataType::Int64, false),
    ("duplicates", DataType::Int64, false),
    ("conflicts", DataType::Int64, false),
    ("invalid_rows", DataType::Int64, false),
    ("outliers", DataType::Int64, false),
    ("first_open_time", DataType::Int64, false),
    ("last_open_time", DataType::Int64, false),
    ("prev_last_open_time", DataType::Int64, true),
    ("midnight_gap", DataType::Boolean, false),
    ("midnight_missing_bars", DataType::Int64, false),
    ("source_files", DataType::Int64, false),
    ("inputs_fingerprint", DataType::Utf8, false),
    ("schema", DataType::Int64, false),
];

/// The quality table format version (the `schema` column).
const QUALITY_SCHEMA: i64 = 1;

fn days_since_epoch(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((d - epoch).num_days()).unwrap_or(i32::MAX)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Encodes a series' quality rows as its `_quality.parquet` (times as Int64 UTC ns).
///
/// # Errors
/// [`LakeError::Store`] when encoding fails.
pub fn write_quality(file: &str, rows: &[QualityRow]) -> Result<Bytes> {
    let ints = |f: fn(&QualityRow) -> u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| i(f(r)))))
    };
    let opt = |f: fn(&QualityRow) -> Option<i64>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Int64Array>())
    };
    let times = |f: fn(&QualityRow) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(rows.iter().map(f)))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| days_since_epoch(r.date)),
        )),
        ints(|r| r.rows),
        ints(|r| r.expected_rows),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.completeness_pct),
        )),
        ints(|r| r.gaps),
        ints(|r| r.missing_bars),
        opt(|r| r.largest_gap.map(|g| g.from_ns)),
        opt(|r| r.largest_gap.map(|g| g.to_ns)),
        ints(|r| r.misaligned),
        ints(|r| r.duplicates),
        ints(|r| r.conflicts),
        ints(|r| r.invalid_rows),
        ints(|r| r.outliers),
        times(|r| r.first_open_time),
        times(|r| r.last_open_time),
        opt(|r| r.prev_last_open_time),
        Arc::new(BooleanArray::from(
            rows.iter().map(|r| r.midnight_gap).collect::<Vec<bool>>(),
        )),
        ints(|r| r.midnight_missing_bars),
        ints(|r| r.source_files),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.inputs_fingerprint.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(std::iter::repeat_n(
            QUALITY_SCHEMA,
            rows.len(),
        ))),
    ];
    encode_table(file, "quality", &COLUMNS, columns)
}

/// One column of a quality table: name, type, nullable.
pub(super) type TableColumn = (&'static str, DataType, bool);

/// Encodes `columns` as a quality table `what` with the columns `spec` (default compression).
///
/// # Errors
/// [`LakeError::Store`] naming `file` when the batch cannot be built or encoded.
pub(super) fn encode_table(
    file: &str,
    what: &'static str,
    spec: &[TableColumn],
    columns: Vec<ArrayRef>,
) -> Result<Bytes> {
    let schema = Schema::new(
        spec.iter()
            .map(|(n, t, null)| Field::new(*n, t.clone(), *null))
            .collect::<Vec<_>>(),
    );
    let store_err = |source| LakeError::Store {
        file: file.to_string(),
        source: Box::new(source),
    };
    let batch = RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| {
        store_err(crate::ReplayError::Encode {
            what,
            reason: e.to_string(),
        })
    })?;
    encode(what, &batch, FileCompression::default()).map_err(store_err)
}

/// Checks that `b` has every column of `spec` with its type and no null where it is not
/// nullable; `missing` follows the message of a missing column.
pub(super) fn check_table_columns(
    b: &RecordBatch,
    spec: &[TableColumn],
    missing: &str,
) -> std::result::Result<(), String> {
    for (name, dt, nullable) in spec {
        let c = b
            .column_by_name(name)
            .ok_or_else(|| format!("column {name} is missing{missing}"))?;
        if c.data_type() != dt {
            return Err(format!(
                "column {name} has type {}, expected {dt}",
                c.data_type()
            ));
        }
        if !nullable && c.null_count() > 0 {
            return Err(format!("column {name} has nulls"));
        }
    }
    Ok(())
}

/// Decodes a `_quality.parquet` written by [`write_quality`].
///
/// # Errors
/// [`LakeError::Quality`] naming `file` and the column for anything unreadable.
pub fn read_quality(file: &str, bytes: Bytes) -> Result<Vec<QualityRow>> {
    let bad = |reason: String| LakeError::Quality {
        file: file.to_string(),
        reason,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(ParquetRecordBatchReaderBuilder::build)
        .map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        read_batch(&batch, &mut out).map_err(bad)?;
    }
    Ok(out)
}

fn read_batch(b: &RecordBatch, out: &mut Vec<QualityRow>) -> std::result::Result<(), String> {
    check_table_columns(b, &COLUMNS, "")?;
    let col = |n: &str| b.column_by_name(n).map(AsRef::as_ref);
    let int = |n: &str| -> &[i64] {
        col(n).map_or(&[], |a: &dyn Array| a.as_primitive::<Int64Type>().values())
    };
    let count = |n: &str, k: usize| -> std::result::Result<u64, String> {
        u64::try_from(int(n)[k]).map_err(|_| format!("column {n}, row {}: negative", k + 1))
    };
    let opt = |n: &str, k: usize| -> Option<i64> {
        let a = col(n)?.as_primitive::<Int64Type>();
        a.is_valid(k).then(|| a.value(k))
    };
    let dates = col("date").map(|a| a.as_primitive::<Date32Type>());
    let pct = col("completeness_pct").map(|a| a.as_primitive::<Float64Type>());
    let gap = col("midnight_gap").map(AsArray::as_boolean);
    let fp = col("inputs_fingerprint").map(AsArray::as_string::<i32>);
    let (Some(dates), Some(pct), Some(gap), Some(fp)) = (dates, pct, gap, fp) else {
        return Err("columns missing".into());
    };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    for k in 0..b.num_rows() {
        if int("schema")[k] != QUALITY_SCHEMA {
            return Err(format!(
                "schema {} (this build reads {QUALITY_SCHEMA})",
                int("schema")[k]
            ));
        }
        let date = epoch
            .checked_add_signed(chrono::TimeDelta::days(i64::from(dates.value(k))))
            .ok_or_else(|| format!("column date, row {}: out of range", k + 1))?;
        let largest_gap = match (opt("largest_gap_from", k), opt("largest_gap_to", k)) {
            (Some(from_ns), Some(to_ns)) => Some(GapSpan { from_ns, to_ns }),
            _ => None,
        };
        out.push(QualityRow {
            date,
            rows: count("rows", k)?,
            expected_rows: count("expected_rows", k)?,
            completeness_pct: pct.value(k),
            gaps: count("gaps", k)?,
            missing_bars: count("missing_bars", k)?,
            largest_gap,
            misaligned: count("misaligned", k)?,
            duplicates: count("duplicates", k)?,
            conflicts: count("conflicts", k)?,
            invalid_rows: count("invalid_rows", k)?,
            outliers: count("outliers", k)?,
            first_open_time: int("first_open_time")[k],
            last_open_time: int("last_open_time")[k],
            prev_last_open_time: opt("prev_last_open_time", k),
            midnight_gap: gap.value(k),
            midnight_missing_bars: count("midnight_missing_bars", k)?,
            source_files: count("source_files", k)?,
            inputs_fingerprint: fp.value(k).to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000_000;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn flat(n: usize, p: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        (vec![p * 1.001; n], vec![p * 0.999; n], vec![p; n])
    }

    #[test]
    fn intervals() {
        let h = KlineInterval::parse("1h").unwrap();
        assert_eq!((h.ns, h.on_grid, h.per_day()), (H, true, Some(24)));
        assert_eq!(KlineInterval::parse("1s").unwrap().per_day(), Some(86_400));
        assert_eq!(KlineInterval::parse("1d").unwrap().per_day(), Some(1));
        for off in ["3d", "1w", "1mo"] {
            assert!(!KlineInterval::parse(off).unwrap().on_grid, "{off}");
        }
        for bad in ["", "h", "0m", "1x", "m1", "-1m"] {
            assert!(KlineInterval::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(h.missing_in(H), 0);
        assert_eq!(h.missing_in(3 * H), 2);
        // 2018-02-08 00:00 → 2018-02-09 09:28:14.789: the slots 01:00 … 09:00 of the next day.
        assert_eq!(
            h.missing_in(33 * H + 28 * 60_000_000_000 + 14_789_000_000),
            33
        );
    }

    #[test]
    fn gaps_misalignment_and_completeness() {
        let t0 = 1_517_443_200_000_000_000; // 2018-02-01 00:00 UTC
        let t = [
            t0,
            t0 + H,
            t0 + 4 * H,
            t0 + 5 * H + 1_000,
            t0 + 6 * H + 1_000,
        ];
        let (h, l, c) = flat(t.len(), 100.0);
        let bars = DayBars {
            open_time: &t,
            high: &h,
            low: &l,
            close: &c,
        };
        let iv = KlineInterval::parse("1h").unwrap();
        let counts = DayCounts {
            duplicates: 2,
            conflicts: 1,
            invalid_rows: 0,
            source_files: 3,
        };
        let r = assess_day(day(2018, 2, 1), bars, iv, counts, "fp".into());
        assert_eq!((r.rows, r.expected_rows), (5, 24));
        assert!((r.completeness_pct - 500.0 / 24.0).abs() < 1e-12);
        // 01:00 → 04:00 misses 2 bars; 04:00 → 05:00+1µs misses 1 (the 05:00 slot).
        assert_eq!((r.gaps, r.missing_bars, r.misaligned), (2, 3, 2));
        assert_eq!(
            r.largest_gap,
            Some(GapSpan {
                from_ns: t0 + H,
                to_ns: t0 + 4 * H
            })
        );
        assert_eq!((r.duplicates, r.conflicts, r.source_files), (2, 1, 3));
        assert_eq!(r.outliers, 0);
    }

    #[test]
    fn midnight_links_skip_missing_days() {
        let iv = KlineInterval::parse("1h").unwrap();
        let mk = |d: NaiveDate, first: i64, last: i64| QualityRow {
            first_open_time: first,
            last_open_time: last,
            ..assess_day(
                d,
                DayBars {
                    open_time: &[first],
                    high: &[1.0],
                    low: &[1.0],
                    close: &[1.0],
                },
                iv,
                DayCounts::default(),
                String::new(),
            )
        };
        let d0 = 17_000 * NS_PER_DAY;
        let mut rows = vec![
            mk(day(2016, 7, 18), d0, d0 + 23 * H),
            mk(day(2016, 7, 19), d0 + 24 * H, d0 + 47 * H),
            mk(day(2016, 7, 21), d0 + 72 * H + 5, d0 + 80 * H),
        ];
        link_days(&mut rows, iv);
        assert_eq!(rows[0].prev_last_open_time, None);
        assert!(!rows[0].midnight_gap && !rows[1].midnight_gap);
        assert!(rows[2].midnight_gap);
        assert_eq!(rows[2].midnight_missing_bars, 25);
        let q = SeriesQuality::of(&rows);
        assert_eq!(
            (q.days, q.missing_days, q.gaps, q.missing_bars),
            (3, 1, 1, 25)
        );
        assert_eq!(
            q.longest_gap,
            Some(GapSpan {
                from_ns: d0 + 47 * H,
                to_ns: d0 + 72 * H + 5
            })
        );
    }

    #[test]
    fn outliers_need_a_robust_deviation_and_one_percent() {
        let n = 24u32;
        let mut close: Vec<f64> = (0..n).map(|i| 100.0 + 0.01 * f64::from(i % 3)).collect();
        let mut high: Vec<f64> = close.iter().map(|c| c * 1.002).collect();
        let low: Vec<f64> = close.iter().map(|c| c * 0.998).collect();
        assert!(outlier_bars(&high, &low, &close).is_empty());
        // A 5 % jump at bar 10 (and back at 11): both returns deviate.
        close[10] = 105.0;
        high[10] = 105.2;
        assert_eq!(outlier_bars(&high, &low, &close), [10, 11]);
        // A 0.5 % jump in a flat market: below the 1 % floor.
        let flat = vec![100.0; n as usize];
        let mut c2 = flat.clone();
        c2[5] = 100.5;
        assert!(outlier_bars(&flat, &flat, &c2).is_empty());
        // A range 20× the median and above 1 %.
        let mut h3 = high.clone();
        h3[3] = low[3] * 1.08;
        close[10] = close[9];
        high[10] = close[10] * 1.002;
        h3[10] = high[10];
        assert_eq!(outlier_bars(&h3, &low, &close), [3]);
        // Too few bars: no verdict.
        assert!(outlier_bars(&high[..9], &low[..9], &close[..9]).is_empty());
    }

    #[test]
    fn table_round_trip_and_bad_tables() {
        let iv = KlineInterval::parse("1m").unwrap();
        let t: Vec<i64> = (0..10).map(|k| k * 60_000_000_000).collect();
        let p = vec![1.0; 10];
        let b = DayBars {
            open_time: &t,
            high: &p,
            low: &p,
            close: &p,
        };
        let mut rows = vec![
            assess_day(day(1970, 1, 1), b, iv, DayCounts::default(), "a".into()),
            assess_day(
                day(1970, 1, 3),
                DayBars {
                    open_time: &[2 * NS_PER_DAY],
                    ..b
                },
                iv,
                DayCounts::default(),
                "b".into(),
            ),
        ];
        link_days(&mut rows, iv);
        let bytes = write_quality("q", &rows).unwrap();
        assert_eq!(read_quality("q", bytes).unwrap(), rows);
        let err = read_quality("lake/_quality.parquet", Bytes::from_static(b"nope")).unwrap_err();
        assert!(err.to_string().contains("lake/_quality.parquet"), "{err}");
        let other = crate::write_bars_parquet(&[crate::BarRecord::EMPTY]).unwrap();
        let err = read_quality("lake/_quality.parquet", other).unwrap_err();
        assert!(err.to_string().contains("column date is missing"), "{err}");
    }
}
