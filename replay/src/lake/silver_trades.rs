//! Silver trades and aggTrades: the bronze rows of each series-day typed, scaled to UTC
//! nanoseconds, deduplicated by id and sorted by `(time, id)` — one Parquet file per
//! series-day — and the series' trade quality report ([`super::trade_quality`]).
//!
//! Inputs, precedence and commit are those of klines silver ([`super::silver`]): every bronze
//! file a committed ledger entry lists for the day, ranked by `(ingested_at, version,
//! sha256)`; the newest delivery wins on rows with the same id, and a row only an older
//! version has is kept. A day is rebuilt when its inputs' fingerprint differs from the one in
//! the series' `_quality.parquet` (or with `full`); the table is written last.
//!
//! The day's plan (polars, lazy, in memory like klines): scan each bronze buffer → the time
//! × 1 000 000 (`_time_unit` `ms`) or × 1 000 (`us`), ids and counts `i64`, prices and
//! quantities strictly cast from their verbatim text to `f64`, flags Boolean; each file's rows
//! out of time order (in file order) flagged → union → sort by `(id, rank desc)` → drop invalid
//! rows → `unique_stable(id)` → sort by `(ts, id)`. A row is invalid (dropped, counted) unless
//! `price > 0`, `qty > 0` and every float is finite.
//!
//! Silver day file
//! `silver/binance/{market}/{trades|aggTrades}/{SYMBOL}/raw/year=/month=/day=/part-0.parquet`
//! (arrow-rs, LZ4 raw), non-null columns:
//!
//! | kind | columns |
//! |---|---|
//! | aggTrades | `ts` Timestamp(ns, UTC) (`transact_time`), `agg_trade_id` Int64, `price`, `qty` (`quantity`) Float64, `first_trade_id`, `last_trade_id` Int64, `is_buyer_maker` Boolean, spot also `is_best_match` Boolean |
//! | trades | `ts` (`time`), `id` Int64, `price`, `qty` Float64, `quote_qty` (spot, USDⓈ-M) or `base_qty` (COIN-M) Float64, `is_buyer_maker` Boolean, spot also `is_best_match` Boolean |
//!
//! `ts`, `price` and `qty` are the names [`crate::TradeReplay`] reads; the other columns are
//! ignored by it.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::TimestampNanosecondArray;
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit as ArrowTimeUnit};
use bytes::Bytes;
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use polars::prelude::{
    DataFrame, Expr, IntoLazy, LazyFrame, PolarsError, ScanSources, SortMultipleOptions, UnionArgs,
    UniqueKeepStrategy, col, lit, when,
};

use super::error::{LakeError, Result};
use super::schema::{CellType, spec};
use super::silver::{
    BronzeInput, SeriesKey, SeriesOutcome, SilverOptions, build_changed_days, day_number, old_rows,
    run, scan_args, sort_typed,
};
use super::source::{Category, Market};
use super::trade_quality::{
    TradeDayCounts, TradeQualityRow, TradeSeriesQuality, assess_trade_day, link_trade_days,
    read_trade_quality, write_trade_quality,
};
use crate::bars::{FileCompression, encode};
use crate::error::ReplayError;
use crate::store::Store;

/// Part of every trade day's inputs fingerprint: bump it when the format or rules change.
const TRADES_FORMAT: &str = "hermes-silver-trades-v1";

/// How a silver trade column is made from bronze.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    /// An epoch in the file's unit → UTC ns (Timestamp(ns, UTC)), `ts`.
    Time,
    /// The id rows are deduplicated by (Int64).
    Id,
    /// Another Int64.
    Int,
    /// Verbatim decimal text → Float64.
    Float,
    /// Boolean as is.
    Bool,
}

type Columns = &'static [(&'static str, &'static str, Col)];

/// `(silver name, bronze name, kind)` of a trade series, in silver column order; `None` for
/// klines.
fn trade_columns(market: Market, category: Category) -> Option<Columns> {
    use Col::{Bool, Float, Id, Int, Time};
    Some(match (category, market) {
        (Category::Klines, _) => return None,
        (Category::AggTrades, Market::Spot) => &[
            ("ts", "transact_time", Time),
            ("agg_trade_id", "agg_trade_id", Id),
            ("price", "price", Float),
            ("qty", "quantity", Float),
            ("first_trade_id", "first_trade_id", Int),
            ("last_trade_id", "last_trade_id", Int),
            ("is_buyer_maker", "is_buyer_maker", Bool),
            ("is_best_match", "is_best_match", Bool),
        ],
        (Category::AggTrades, Market::FuturesUm | Market::FuturesCm) => &[
            ("ts", "transact_time", Time),
            ("agg_trade_id", "agg_trade_id", Id),
            ("price", "price", Float),
            ("qty", "quantity", Float),
            ("first_trade_id", "first_trade_id", Int),
            ("last_trade_id", "last_trade_id", Int),
            ("is_buyer_maker", "is_buyer_maker", Bool),
        ],
        (Category::Trades, Market::Spot) => &[
            ("ts", "time", Time),
            ("id", "id", Id),
            ("price", "price", Float),
            ("qty", "qty", Float),
            ("quote_qty", "quote_qty", Float),
            ("is_buyer_maker", "is_buyer_maker", Bool),
            ("is_best_match", "is_best_match", Bool),
        ],
        (Category::Trades, Market::FuturesUm) => &[
            ("ts", "time", Time),
            ("id", "id", Id),
            ("price", "price", Float),
            ("qty", "qty", Float),
            ("quote_qty", "quote_qty", Float),
            ("is_buyer_maker", "is_buyer_maker", Bool),
        ],
        (Category::Trades, Market::FuturesCm) => &[
            ("ts", "time", Time),
            ("id", "id", Id),
            ("price", "price", Float),
            ("qty", "qty", Float),
            ("base_qty", "base_qty", Float),
            ("is_buyer_maker", "is_buyer_maker", Bool),
        ],
    })
}

/// The silver name of the id column.
fn id_name(cols: Columns) -> &'static str {
    cols.iter().find(|c| c.2 == Col::Id).map_or("id", |c| c.0)
}

/// The bronze name of the time column.
fn time_bronze(cols: Columns) -> &'static str {
    cols.iter()
        .find(|c| c.2 == Col::Time)
        .map_or("time", |c| c.1)
}

/// Builds one trade series (see the module docs) into `out`.
pub(super) fn build_trade_series(
    store: &Store,
    opts: &SilverOptions,
    days: &BTreeMap<NaiveDate, Vec<BronzeInput>>,
    out: &mut SeriesOutcome,
) -> Result<()> {
    let key = out.key.clone();
    let cols = trade_columns(key.market, key.category).ok_or_else(|| LakeError::Ledger {
        path: key.to_string(),
        reason: format!("{} is not a trade category", key.category),
    })?;
    let old = old_rows(store, &key, opts.full, read_trade_quality, |r| r.date)?;
    let rows = build_changed_days(
        store,
        days,
        &old,
        TRADES_FORMAT,
        |r| r.inputs_fingerprint.as_str(),
        |day, files, fp| build_trade_day(&key, day, files, cols, fp, opts.compression),
        out,
    )?;
    let mut rows: Vec<TradeQualityRow> = rows.into_values().collect();
    link_trade_days(&mut rows);
    let unchanged = rows.len() == old.len() && rows.iter().zip(old.values()).all(|(a, b)| a == b);
    if out.days_written > 0 || !unchanged {
        let path = key.quality_file();
        let body = write_trade_quality(&store.url_of(&path), &rows)?;
        store.put(&path, body).map_err(|source| LakeError::Store {
            file: store.url_of(&path),
            source: Box::new(source),
        })?;
        out.quality_written = true;
    }
    out.trade_quality = TradeSeriesQuality::of(&rows);
    out.trade_days = rows;
    Ok(())
}

/// The bronze column type of a silver source column, from the ingest schema.
fn bronze_type(market: Market, category: Category, bronze: &str) -> Option<DataType> {
    let (_, t) = spec(market, category)
        .columns
        .iter()
        .find(|(n, _)| *n == bronze)?;
    Some(match t {
        CellType::Time | CellType::Int => DataType::Int64,
        CellType::Dec => DataType::Utf8,
        CellType::Bool => DataType::Boolean,
    })
}

/// Checks a bronze file's columns before polars reads it, so errors name the file and field.
fn check_bronze(file: &str, bytes: &Bytes, key: &SeriesKey, cols: Columns) -> Result<()> {
    let bad = |reason: String| LakeError::BadBronze {
        file: file.to_string(),
        reason,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let schema = builder.schema();
    let wanted = cols
        .iter()
        .filter_map(|(_, b, _)| Some((*b, bronze_type(key.market, key.category, b)?)))
        .chain([("_time_unit", DataType::Utf8)]);
    for (name, dt) in wanted {
        let field = schema.field_with_name(name).map_err(|_| {
            bad(format!(
                "column {name} is missing (the {} {} bronze schema has it)",
                key.market, key.category
            ))
        })?;
        let text =
            |t: &DataType| matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
        let same = field.data_type() == &dt || (text(&dt) && text(field.data_type()));
        if !same {
            return Err(bad(format!(
                "column {name} has type {}, expected {dt}",
                field.data_type()
            )));
        }
    }
    Ok(())
}

/// The typed columns of one bronze buffer, with its rank and the out-of-order flag (polars,
/// lazy).
fn typed_trades(
    bytes: Bytes,
    cols: Columns,
    rank: i64,
) -> std::result::Result<LazyFrame, PolarsError> {
    use polars::prelude::DataType as Pl;
    let sources = ScanSources::Buffers(Arc::from([polars_buffer::Buffer::from_owner(bytes)]));
    let per_unit = when(col("_time_unit").eq(lit("ms")))
        .then(lit(1_000_000i64))
        .when(col("_time_unit").eq(lit("us")))
        .then(lit(1_000i64))
        .otherwise(lit(polars::prelude::NULL).strict_cast(Pl::Int64));
    let mut exprs: Vec<Expr> = cols
        .iter()
        .map(|&(silver, bronze, t)| match t {
            Col::Time => (col(bronze) * per_unit.clone()).alias(silver),
            Col::Id | Col::Int => col(bronze).strict_cast(Pl::Int64).alias(silver),
            Col::Float => col(bronze).strict_cast(Pl::Float64).alias(silver),
            Col::Bool => col(bronze).strict_cast(Pl::Boolean).alias(silver),
        })
        .collect();
    exprs.push(lit(rank).alias("_rank"));
    let t = time_bronze(cols);
    exprs.push(
        col(t)
            .lt(col(t).shift(lit(1i64)))
            .fill_null(lit(false))
            .alias("_ooo"),
    );
    Ok(LazyFrame::scan_parquet_sources(sources, scan_args())?.select(exprs))
}

/// A valid trade: `price > 0`, `qty > 0`, every float finite.
fn valid_trade(cols: Columns) -> Expr {
    let mut e = col("price").gt(lit(0.0)).and(col("qty").gt(lit(0.0)));
    for &(silver, _, t) in cols {
        if t == Col::Float {
            e = e.and(col(silver).is_finite());
        }
    }
    e
}

/// The first of `files` whose cells do not convert, as a [`LakeError::BadBronze`] naming it.
fn name_bad_file(files: &[(String, &BronzeInput, Bytes)], cols: Columns) -> Option<LakeError> {
    files.iter().find_map(|(url, input, bytes)| {
        let bad = |reason: String| LakeError::BadBronze {
            file: url.clone(),
            reason,
        };
        match typed_trades(bytes.clone(), cols, input.rank).and_then(run) {
            Err(e) => Some(bad(e.to_string())),
            Ok(df) => df.columns().iter().find(|c| c.null_count() > 0).map(|c| {
                bad(format!(
                    "column {} has values that do not convert (is _time_unit ms or us?)",
                    c.name()
                ))
            }),
        }
    })
}

fn count_of(df: &DataFrame, name: &str) -> std::result::Result<usize, PolarsError> {
    let c = df
        .column(name)?
        .strict_cast(&polars::prelude::DataType::UInt64)?;
    Ok(usize::try_from(c.u64()?.get(0).unwrap_or(0)).unwrap_or(usize::MAX))
}

/// Builds one trade series-day: the silver file's bytes and the day's quality row.
fn build_trade_day(
    key: &SeriesKey,
    day: NaiveDate,
    files: &[(String, &BronzeInput, Bytes)],
    cols: Columns,
    fingerprint: String,
    compression: FileCompression,
) -> Result<(Bytes, TradeQualityRow)> {
    let what = format!("{key} {day}");
    let pl = |e: PolarsError| LakeError::Polars {
        what: what.clone(),
        reason: e.to_string(),
    };
    for (url, _, bytes) in files {
        check_bronze(url, bytes, key, cols)?;
    }
    let frames = files
        .iter()
        .map(|(_, input, bytes)| typed_trades(bytes.clone(), cols, input.rank))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(pl)?;
    let plan = polars::prelude::concat(&frames, UnionArgs::default()).map_err(pl)?;
    let id = id_name(cols);
    let sorted = sort_typed(plan, valid_trade(cols), id, &what, || {
        name_bad_file(files, cols)
    })?;
    let all = sorted.height();
    let value_cols: Vec<Expr> = cols.iter().map(|(s, _, _)| col(*s)).collect();
    let lazy = sorted.lazy();
    let heights = run(lazy.clone().select([
        col("_ooo").sum().alias("ooo"),
        col("_valid").sum().alias("valid"),
        polars::prelude::as_struct(value_cols.clone())
            .filter(col("_valid"))
            .n_unique()
            .alias("distinct"),
    ]))
    .map_err(pl)?;
    let (out_of_order, valid_rows, distinct) = (
        count_of(&heights, "ooo").map_err(pl)?,
        count_of(&heights, "valid").map_err(pl)?,
        count_of(&heights, "distinct").map_err(pl)?,
    );
    let mut silver = run(lazy
        .filter(col("_valid"))
        .unique_stable_generic(Some(vec![col(id)]), UniqueKeepStrategy::First)
        .sort(
            ["ts", id],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .select(value_cols))
    .map_err(pl)?;
    silver.rechunk_mut();
    let counts = TradeDayCounts {
        duplicates: valid_rows.saturating_sub(distinct) as u64,
        conflicts: distinct.saturating_sub(silver.height()) as u64,
        invalid_rows: all.saturating_sub(valid_rows) as u64,
        out_of_order: out_of_order as u64,
        source_files: files.len() as u64,
    };
    let ints = |n: &str| -> std::result::Result<&[i64], PolarsError> {
        silver.column(n)?.i64()?.cont_slice()
    };
    let (ts, ids) = (ints("ts").map_err(pl)?, ints(id).map_err(pl)?);
    if let Some(i) = ts
        .iter()
        .position(|&t| t.div_euclid(crate::source::NS_PER_DAY) != day_number(day))
    {
        return Err(LakeError::BadBronze {
            file: files
                .iter()
                .map(|f| f.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            reason: format!("time {} is outside the partition's day {day}", ts[i]),
        });
    }
    let row = assess_trade_day(day, ids, ts, counts, fingerprint);
    let body = encode_day(&silver, cols, &what, compression).map_err(|e| match e {
        Encode::Polars(e) => pl(e),
        Encode::Lake(e) => e,
    })?;
    Ok((body, row))
}

enum Encode {
    Polars(PolarsError),
    Lake(LakeError),
}

impl From<PolarsError> for Encode {
    fn from(e: PolarsError) -> Self {
        Encode::Polars(e)
    }
}

/// The silver day file (arrow-rs; `ts` as Timestamp(ns, UTC)) of a deduplicated frame (one
/// chunk, no nulls).
fn encode_day(
    df: &DataFrame,
    cols: Columns,
    what: &str,
    compression: FileCompression,
) -> std::result::Result<Bytes, Encode> {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for &(silver, _, t) in cols {
        let c = df.column(silver)?;
        let (dt, a): (DataType, ArrayRef) = match t {
            Col::Time => (
                DataType::Timestamp(ArrowTimeUnit::Nanosecond, Some("UTC".into())),
                Arc::new(
                    TimestampNanosecondArray::from(c.i64()?.cont_slice()?.to_vec())
                        .with_timezone("UTC"),
                ),
            ),
            Col::Id | Col::Int => (
                DataType::Int64,
                Arc::new(Int64Array::from(c.i64()?.cont_slice()?.to_vec())),
            ),
            Col::Float => (
                DataType::Float64,
                Arc::new(Float64Array::from(c.f64()?.cont_slice()?.to_vec())),
            ),
            // No nulls (checked before deduplication).
            Col::Bool => (
                DataType::Boolean,
                Arc::new(BooleanArray::from(
                    c.bool()?
                        .iter()
                        .map(|v| v.unwrap_or(false))
                        .collect::<Vec<bool>>(),
                )),
            ),
        };
        fields.push(Field::new(silver, dt, false));
        columns.push(a);
    }
    let err = |source| {
        Encode::Lake(LakeError::Store {
            file: what.to_string(),
            source: Box::new(source),
        })
    };
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| {
        err(ReplayError::Encode {
            what: "silver trades",
            reason: e.to_string(),
        })
    })?;
    encode("silver trades", &batch, compression).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every trade kind's columns exist in its bronze schema with a matching type.
    #[test]
    fn columns_match_the_bronze_schema() {
        for category in [Category::Trades, Category::AggTrades] {
            for market in [Market::Spot, Market::FuturesUm, Market::FuturesCm] {
                let cols = trade_columns(market, category).unwrap();
                assert_eq!(cols[0].0, "ts");
                for (_, b, t) in cols {
                    let dt = bronze_type(market, category, b)
                        .unwrap_or_else(|| panic!("{market} {category} {b}"));
                    let want = match t {
                        Col::Time | Col::Id | Col::Int => DataType::Int64,
                        Col::Float => DataType::Utf8,
                        Col::Bool => DataType::Boolean,
                    };
                    assert_eq!(dt, want, "{market} {category} {b}");
                }
                // Every bronze source column is carried to silver.
                assert_eq!(spec(market, category).columns.len(), cols.len());
            }
        }
        assert!(trade_columns(Market::Spot, Category::Klines).is_none());
    }
}
