//! The quality report of silver trades and aggTrades: one [`TradeQualityRow`] per series-day,
//! assessed in plain Rust from the day's deduplicated rows ([`assess_trade_day`]), linked
//! across days ([`link_trade_days`]), summed per series ([`TradeSeriesQuality`]) and stored
//! as the series' `_quality.parquet` ([`write_trade_quality`], [`read_trade_quality`]).
//!
//! A table of its own, not [`super::QualityRow`]: the kline rules (expected bars,
//! completeness, misaligned open times, outlier bars) have no meaning for trades, and a
//! trade series has its own: the id sequence. The `table` column (`trades`) tells the two
//! apart; each reader rejects the other's table by its missing columns.
//!
//! Rules:
//! - **id gap**: two consecutive ids of the day's silver rows (in id order) more than 1 apart;
//!   it misses `step − 1` ids. Binance numbers a symbol's trades, and its aggregate trades,
//!   consecutively, so a gap is a loss. The step from the previous day's last id to a day's
//!   first id (*across midnight*, also over days without rows) is the day's
//!   `midnight_missing_ids`; a series' gaps count both kinds.
//! - **out of order**: input rows (in each bronze file's order, before deduplication) whose
//!   time is earlier than the row before them in the same file.
//! - **duplicates**, **conflicts**, **invalid rows** are counted by the silver build (rows
//!   removed: identical repeats of an id, different rows for one id where the newest source
//!   won, and rows with a price or quantity that is not positive and finite).
//!
//! Owns the rules and the table format; no IO beyond encoding and decoding bytes.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int64Type};
use arrow_array::{Array, ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use bytes::Bytes;
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use super::error::{LakeError, Result};
use super::quality::{TableColumn, check_table_columns, encode_table};

/// What the silver build removed from or saw in one trade series-day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TradeDayCounts {
    /// Rows that repeat another row of the same id exactly.
    pub duplicates: u64,
    /// Rows dropped for a different row of the same id from a newer source.
    pub conflicts: u64,
    /// Rows with a price or quantity not positive and finite (dropped).
    pub invalid_rows: u64,
    /// Input rows earlier than the row before them in their file.
    pub out_of_order: u64,
    /// Bronze files read.
    pub source_files: u64,
}

/// The quality of one trade series-day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TradeQualityRow {
    /// The UTC day.
    #[serde(serialize_with = "date_text")]
    pub date: NaiveDate,
    /// Rows in silver.
    pub rows: u64,
    /// Identical repeated rows removed.
    pub duplicates: u64,
    /// Conflicting rows removed (the newest source won).
    pub conflicts: u64,
    /// Invalid rows removed.
    pub invalid_rows: u64,
    /// Input rows out of time order in their file (kept, sorted).
    pub out_of_order: u64,
    /// Gaps in the day's id sequence.
    pub id_gaps: u64,
    /// Ids those gaps miss.
    pub missing_ids: u64,
    /// Smallest id (0 when the day has no rows).
    pub first_id: i64,
    /// Largest id.
    pub last_id: i64,
    /// First trade time, UTC ns.
    pub first_time: i64,
    /// Last trade time, UTC ns.
    pub last_time: i64,
    /// The previous silver day's last id (`None` on the series' first day).
    pub prev_last_id: Option<i64>,
    /// Ids missing between that id and this day's first.
    pub midnight_missing_ids: u64,
    /// Bronze files read.
    pub source_files: u64,
    /// sha256 of the day's bronze inputs: the day is rebuilt when it changes.
    pub inputs_fingerprint: String,
}

fn date_text<S: serde::Serializer>(d: &NaiveDate, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(d)
}

/// Ids missing in a step from `a` to `b` (0 unless `b > a + 1`).
fn missing_between(a: i64, b: i64) -> u64 {
    u64::try_from(i128::from(b) - i128::from(a) - 1).unwrap_or(0)
}

/// Assesses one trade series-day from its silver rows: `ids` (unique, any order) and `times`
/// (sorted). The fields that depend on the previous day are left empty for
/// [`link_trade_days`].
#[must_use]
pub fn assess_trade_day(
    date: NaiveDate,
    ids: &[i64],
    times: &[i64],
    counts: TradeDayCounts,
    inputs_fingerprint: String,
) -> TradeQualityRow {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let (mut id_gaps, mut missing_ids) = (0, 0);
    for w in sorted.windows(2) {
        let m = missing_between(w[0], w[1]);
        if m > 0 {
            id_gaps += 1;
            missing_ids += m;
        }
    }
    TradeQualityRow {
        date,
        rows: ids.len() as u64,
        duplicates: counts.duplicates,
        conflicts: counts.conflicts,
        invalid_rows: counts.invalid_rows,
        out_of_order: counts.out_of_order,
        id_gaps,
        missing_ids,
        first_id: sorted.first().copied().unwrap_or(0),
        last_id: sorted.last().copied().unwrap_or(0),
        first_time: times.first().copied().unwrap_or(0),
        last_time: times.last().copied().unwrap_or(0),
        prev_last_id: None,
        midnight_missing_ids: 0,
        source_files: counts.source_files,
        inputs_fingerprint,
    }
}

/// Fills the across-midnight fields of `rows` (one series, sorted by date). Days with no rows
/// do not break the chain.
pub fn link_trade_days(rows: &mut [TradeQualityRow]) {
    let mut prev: Option<i64> = None;
    for r in rows.iter_mut() {
        r.prev_last_id = prev;
        r.midnight_missing_ids = match prev {
            Some(p) if r.rows > 0 => missing_between(p, r.first_id),
            _ => 0,
        };
        if r.rows > 0 {
            prev = Some(r.last_id);
        }
    }
}

/// One trade series' totals over its days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TradeSeriesQuality {
    /// Days with a silver partition.
    pub days: u64,
    /// Calendar days between the first and last that have none.
    pub missing_days: u64,
    /// First day (`YYYY-MM-DD`).
    pub first_day: Option<String>,
    /// Last day.
    pub last_day: Option<String>,
    /// Rows.
    pub rows: u64,
    /// Identical repeats removed.
    pub duplicates: u64,
    /// Conflicting rows removed.
    pub conflicts: u64,
    /// Invalid rows removed.
    pub invalid_rows: u64,
    /// Input rows out of time order.
    pub out_of_order: u64,
    /// Id gaps, inside days and across midnight.
    pub id_gaps: u64,
    /// Ids those gaps miss.
    pub missing_ids: u64,
    /// First trade time, UTC ns.
    pub first_time: Option<i64>,
    /// Last trade time, UTC ns.
    pub last_time: Option<i64>,
}

impl TradeSeriesQuality {
    /// Sums linked day rows (sorted by date).
    #[must_use]
    pub fn of(rows: &[TradeQualityRow]) -> Self {
        let mut q = TradeSeriesQuality {
            days: rows.len() as u64,
            first_day: rows.first().map(|r| r.date.to_string()),
            last_day: rows.last().map(|r| r.date.to_string()),
            ..TradeSeriesQuality::default()
        };
        if let (Some(a), Some(b)) = (rows.first(), rows.last()) {
            let span = u64::try_from((b.date - a.date).num_days() + 1).unwrap_or(0);
            q.missing_days = span.saturating_sub(q.days);
        }
        // Saturating: the counts come from files (and ids from bronze), so a day with ids
        // spread over the whole i64 range already misses ~2^64 ids; two such days must not
        // overflow.
        for r in rows {
            q.rows = q.rows.saturating_add(r.rows);
            q.duplicates = q.duplicates.saturating_add(r.duplicates);
            q.conflicts = q.conflicts.saturating_add(r.conflicts);
            q.invalid_rows = q.invalid_rows.saturating_add(r.invalid_rows);
            q.out_of_order = q.out_of_order.saturating_add(r.out_of_order);
            q.id_gaps = q
                .id_gaps
                .saturating_add(r.id_gaps)
                .saturating_add(u64::from(r.midnight_missing_ids > 0));
            q.missing_ids = q
                .missing_ids
                .saturating_add(r.missing_ids)
                .saturating_add(r.midnight_missing_ids);
            if r.rows > 0 {
                q.first_time.get_or_insert(r.first_time);
                q.last_time = Some(r.last_time);
            }
        }
        q
    }
}

const COLUMNS: [TableColumn; 18] = [
    ("date", DataType::Date32, false),
    ("rows", DataType::Int64, false),
    ("duplicates", DataType::Int64, false),
    ("conflicts", DataType::Int64, false),
    ("invalid_rows", DataType::Int64, false),
    ("out_of_order", DataType::Int64, false),
    ("id_gaps", DataType::Int64, false),
    ("missing_ids", DataType::Int64, false),
    ("first_id", DataType::Int64, false),
    ("last_id", DataType::Int64, false),
    ("first_time", DataType::Int64, false),
    ("last_time", DataType::Int64, false),
    ("prev_last_id", DataType::Int64, true),
    ("midnight_missing_ids", DataType::Int64, false),
    ("source_files", DataType::Int64, false),
    ("inputs_fingerprint", DataType::Utf8, false),
    ("table", DataType::Utf8, false),
    ("schema", DataType::Int64, false),
];

/// The `table` column's value.
const TABLE: &str = "trades";
/// The trade quality table format version (the `schema` column).
const TRADE_QUALITY_SCHEMA: i64 = 1;

fn days_since_epoch(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((d - epoch).num_days()).unwrap_or(i32::MAX)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Encodes a trade series' quality rows as its `_quality.parquet` (times as Int64 UTC ns).
///
/// # Errors
/// [`LakeError::Store`] when encoding fails.
pub fn write_trade_quality(file: &str, rows: &[TradeQualityRow]) -> Result<Bytes> {
    let counts = |f: fn(&TradeQualityRow) -> u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| i(f(r)))))
    };
    let ints = |f: fn(&TradeQualityRow) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(rows.iter().map(f)))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| days_since_epoch(r.date)),
        )),
        counts(|r| r.rows),
        counts(|r| r.duplicates),
        counts(|r| r.conflicts),
        counts(|r| r.invalid_rows),
        counts(|r| r.out_of_order),
        counts(|r| r.id_gaps),
        counts(|r| r.missing_ids),
        ints(|r| r.first_id),
        ints(|r| r.last_id),
        ints(|r| r.first_time),
        ints(|r| r.last_time),
        Arc::new(rows.iter().map(|r| r.prev_last_id).collect::<Int64Array>()),
        counts(|r| r.midnight_missing_ids),
        counts(|r| r.source_files),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.inputs_fingerprint.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            TABLE,
            rows.len(),
        ))),
        Arc::new(Int64Array::from_iter_values(std::iter::repeat_n(
            TRADE_QUALITY_SCHEMA,
            rows.len(),
        ))),
    ];
    encode_table(file, "trade quality", &COLUMNS, columns)
}

/// Decodes a `_quality.parquet` written by [`write_trade_quality`].
///
/// # Errors
/// [`LakeError::Quality`] naming `file` and the column for anything unreadable (a klines
/// quality table included).
pub fn read_trade_quality(file: &str, bytes: Bytes) -> Result<Vec<TradeQualityRow>> {
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

fn read_batch(b: &RecordBatch, out: &mut Vec<TradeQualityRow>) -> std::result::Result<(), String> {
    check_table_columns(b, &COLUMNS, " (not a trade quality table)")?;
    let col = |n: &str| b.column_by_name(n).map(AsRef::as_ref);
    let int = |n: &str| -> &[i64] {
        col(n).map_or(&[], |a: &dyn Array| a.as_primitive::<Int64Type>().values())
    };
    let count = |n: &str, k: usize| -> std::result::Result<u64, String> {
        u64::try_from(int(n)[k]).map_err(|_| format!("column {n}, row {}: negative", k + 1))
    };
    let prev = col("prev_last_id").map(|a| a.as_primitive::<Int64Type>());
    let dates = col("date").map(|a| a.as_primitive::<Date32Type>());
    let fp = col("inputs_fingerprint").map(AsArray::as_string::<i32>);
    let table = col("table").map(AsArray::as_string::<i32>);
    let (Some(prev), Some(dates), Some(fp), Some(table)) = (prev, dates, fp, table) else {
        return Err("columns missing".into());
    };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    for k in 0..b.num_rows() {
        if table.value(k) != TABLE || int("schema")[k] != TRADE_QUALITY_SCHEMA {
            return Err(format!(
                "table {:?} schema {} (this build reads {TABLE:?} {TRADE_QUALITY_SCHEMA})",
                table.value(k),
                int("schema")[k]
            ));
        }
        let date = epoch
            .checked_add_signed(chrono::TimeDelta::days(i64::from(dates.value(k))))
            .ok_or_else(|| format!("column date, row {}: out of range", k + 1))?;
        out.push(TradeQualityRow {
            date,
            rows: count("rows", k)?,
            duplicates: count("duplicates", k)?,
            conflicts: count("conflicts", k)?,
            invalid_rows: count("invalid_rows", k)?,
            out_of_order: count("out_of_order", k)?,
            id_gaps: count("id_gaps", k)?,
            missing_ids: count("missing_ids", k)?,
            first_id: int("first_id")[k],
            last_id: int("last_id")[k],
            first_time: int("first_time")[k],
            last_time: int("last_time")[k],
            prev_last_id: prev.is_valid(k).then(|| prev.value(k)),
            midnight_missing_ids: count("midnight_missing_ids", k)?,
            source_files: count("source_files", k)?,
            inputs_fingerprint: fp.value(k).to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, d).unwrap()
    }

    #[test]
    fn id_gaps_inside_days_and_across_midnight() {
        // Ids in time order need not be in id order; 13 → 17 misses 3, 17 → 19 misses 1.
        let r = assess_trade_day(
            day(8),
            &[12, 10, 11, 13, 17, 19],
            &[1, 2, 3, 4, 5, 6],
            TradeDayCounts {
                duplicates: 4,
                out_of_order: 1,
                source_files: 2,
                ..TradeDayCounts::default()
            },
            "a".into(),
        );
        assert_eq!((r.rows, r.id_gaps, r.missing_ids), (6, 2, 4));
        assert_eq!(
            (r.first_id, r.last_id, r.first_time, r.last_time),
            (10, 19, 1, 6)
        );
        assert_eq!((r.duplicates, r.out_of_order, r.source_files), (4, 1, 2));
        let empty = assess_trade_day(day(9), &[], &[], TradeDayCounts::default(), "b".into());
        let next = assess_trade_day(
            day(11),
            &[25, 26],
            &[9, 10],
            TradeDayCounts::default(),
            "c".into(),
        );
        let mut rows = vec![r, empty, next];
        link_trade_days(&mut rows);
        assert_eq!(rows[0].prev_last_id, None);
        assert_eq!(
            (rows[1].prev_last_id, rows[1].midnight_missing_ids),
            (Some(19), 0)
        );
        // 19 → 25 over the empty day: 5 ids missing.
        assert_eq!(
            (rows[2].prev_last_id, rows[2].midnight_missing_ids),
            (Some(19), 5)
        );
        let q = TradeSeriesQuality::of(&rows);
        assert_eq!(
            (q.days, q.missing_days, q.rows, q.id_gaps, q.missing_ids),
            (3, 1, 8, 3, 9)
        );
        assert_eq!((q.first_time, q.last_time), (Some(1), Some(10)));

        let bytes = write_trade_quality("q", &rows).unwrap();
        assert_eq!(read_trade_quality("q", bytes).unwrap(), rows);
    }

    #[test]
    fn extreme_ids_saturate_the_series_totals() {
        // Each day's ids span the whole i64 range (a bad bronze file can say so): one day
        // misses 2^64 − 2 ids, so the two-day total must saturate, not overflow.
        let wide = |d| {
            assess_trade_day(
                day(d),
                &[i64::MIN, i64::MAX],
                &[1, 2],
                TradeDayCounts::default(),
                "w".into(),
            )
        };
        let mut rows = vec![wide(1), wide(2)];
        link_trade_days(&mut rows);
        assert_eq!(rows[0].missing_ids, u64::MAX - 1);
        let q = TradeSeriesQuality::of(&rows);
        assert_eq!((q.rows, q.id_gaps, q.missing_ids), (4, 2, u64::MAX));
    }

    #[test]
    fn a_klines_table_is_not_a_trade_table() {
        use super::super::quality::{DayBars, DayCounts, KlineInterval, assess_day, write_quality};
        let bars = DayBars {
            open_time: &[0],
            high: &[1.0],
            low: &[1.0],
            close: &[1.0],
        };
        let iv = KlineInterval::parse("1h").unwrap();
        let row = assess_day(day(8), bars, iv, DayCounts::default(), "k".into());
        let kl = write_quality("k", &[row]).unwrap();
        let err = read_trade_quality("lake/_quality.parquet", kl).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("lake/_quality.parquet") && msg.contains("not a trade quality table"),
            "{msg}"
        );
    }
}
