//! Gold: each silver klines series with Hermes's standard features and one-bar returns, one
//! Parquet file per series-day, computed over the **whole series in time order**.
//!
//! The features come from `strategies` ([`standard_features_into`], [`returns_into`]), the
//! same step functions as the live [`strategies::indicators::StandardFeatureEngine`], so gold
//! equals the streaming indicators bar for bar. They are path-dependent (EMAs, Wilder's RSI,
//! SuperTrend), so a series is computed from its first silver bar: no warm-up restart per day,
//! and gaps or misaligned bars do not reset the indicators (as live). Then the columns are
//! sliced per UTC day.
//!
//! Gold day file
//! `gold/binance/{market}/klines/{SYMBOL}/{interval}/year=/month=/day=/part-0.parquet`
//! ([`gold_schema`]): `open_time`, `close_time` Timestamp(ns, UTC); `symbol` Utf8; the silver
//! bar columns (`open high low close volume`, the market's volume columns Float64,
//! `trade_count` Int64); the twelve [`StandardFeatures::COLUMNS`] (Float64, **null** during
//! each indicator's warm-up; `supertrend_dir` Int8 ±1); `ret_1 = close / prev − 1` and
//! `log_ret_1 = ln(close / prev)` (null on the series' first bar). [`crate::BarReplay`] reads
//! it like silver (extra columns are not projected). Written by arrow-rs: the times and
//! `trade_count` `DELTA_BINARY_PACKED` uncompressed (a few bits a row); the full-precision
//! floats a block compressor cannot shrink, or shrinks by a quarter or less at a cost that
//! dominates the write (volumes, EMAs, RSI, MACD, Bollinger, ATR, returns) plain and
//! uncompressed; the rest (prices, SuperTrend and its direction, `symbol`) with [`GoldOptions::compression`] (LZ4 raw by default); dictionary encoding for `symbol`
//! only (float dictionaries cost time and rarely pay), min/max statistics on the time columns
//! only; the day's fingerprint is in the key-value metadata (`hermes.gold.fingerprint`).
//!
//! Speed: a silver day's Arrow columns are reused as the gold day's bar columns and the
//! feature columns are computed once per series and sliced per day, so nothing is copied per
//! day but the symbol and `supertrend_dir` columns; days are encoded in parallel and put a
//! chunk at a time ([`Store::put_many`]).
//!
//! Commit: each day file is one atomic put; the series' `_state.json` ([`GoldState`]: day →
//! fingerprint) is written last. A day's fingerprint chains the silver inputs of every day up
//! to it — `fp_d = sha256(fp_{d−1} ‖ silver inputs_fingerprint_d ‖ "standard-v1")` — so a
//! changed early day changes every later fingerprint, as the features require. A run writes
//! the days whose fingerprint differs from the state (all with `full`); when none does, it
//! reads nothing but the quality table and the state, and writes nothing. A crash leaves each
//! day file old or new and the old state, so the rerun rewrites what is missing. A bad silver
//! file fails its series (named); the other series go on.
//!
//! Silver's commit record, `_quality.parquet`, says which silver days exist and their inputs'
//! fingerprints: gold reads only the days it lists (an uncommitted silver file is invisible).
//!
//! Owns the gold format, the fingerprint chain and the gold commit; feature maths lives in
//! `strategies`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType};
use arrow_array::{Array, ArrayRef, Float64Array, Int8Array, RecordBatch, StringArray};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, Schema, TimeUnit as ArrowTimeUnit};
use bytes::Bytes;
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::EnabledStatistics;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use strategies::indicators::{StandardFeatures, returns_into, standard_features_into};

use super::bronze::PROVIDER;
use super::error::{LakeError, Result};
use super::quality::{QUALITY_FILE, QualityRow, read_quality};
use super::silver::{SeriesFilter, SeriesKey, SilverType, kline_columns};
use super::source::{Category, Market};
use crate::bars::{FileCompression, encode_into, writer_properties_builder};
use crate::layout::Layer;
use crate::store::Store;

/// The name of every gold day file.
pub const GOLD_FILE: &str = "part-0.parquet";

/// The name of a series' gold commit record, beside its `year=` directories (the replay's
/// listing skips it).
pub const GOLD_STATE_FILE: &str = "_state.json";

/// The feature set gold computes, part of every fingerprint: bump it when the columns or their
/// maths change, and the next run rewrites every day.
pub const FEATURE_SET: &str = "standard-v1";

/// The return columns, after [`StandardFeatures::COLUMNS`].
pub const RETURN_COLUMNS: [&str; 2] = ["ret_1", "log_ret_1"];

/// Silver days fetched at once (bounded concurrent GETs).
const DAYS_PER_FETCH: usize = 64;

/// The most rows a series' buffers reserve up front from silver's quality table: the counts
/// come from a file, so a corrupt one must not ask for an impossible allocation (the buffers
/// still grow past it as real rows arrive).
const MAX_RESERVE_ROWS: usize = 1 << 24;

/// Version of the [`GoldState`] layout.
const STATE_SCHEMA: u32 = 1;

/// How to build gold.
#[derive(Debug, Clone, Default)]
pub struct GoldOptions {
    /// The series to build.
    pub series: SeriesFilter,
    /// Rewrite every day, ignoring the state's fingerprints.
    pub full: bool,
    /// Gold Parquet compression (LZ4 raw by default), for the columns it can shrink (see the
    /// module docs).
    pub compression: FileCompression,
}

/// A series' gold commit record, `gold/…/{interval}/_state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldState {
    /// Layout version (1).
    pub schema: u32,
    /// [`FEATURE_SET`] of the run that wrote it.
    pub feature_set: String,
    /// Day (`YYYY-MM-DD`) → fingerprint of the committed gold file, in date order.
    pub days: BTreeMap<String, String>,
}

/// What a run did to one series.
#[derive(Debug)]
pub struct GoldSeriesOutcome {
    /// The series.
    pub key: SeriesKey,
    /// Days in silver's quality table (the days gold covers).
    pub days: usize,
    /// Day files written.
    pub days_written: usize,
    /// Days whose fingerprint had not changed.
    pub days_unchanged: usize,
    /// Gold days removed because silver no longer has them.
    pub days_removed: usize,
    /// Whether `_state.json` was written.
    pub state_written: bool,
    /// Bars over all days.
    pub rows: u64,
    /// First open time of the series, UTC ns.
    pub first_open_time: Option<i64>,
    /// Last open time, UTC ns.
    pub last_open_time: Option<i64>,
    /// What failed (a bad silver file fails the whole series); the other series went on.
    pub failures: Vec<LakeError>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct GoldSummary {
    /// Every selected series, in key order.
    pub series: Vec<GoldSeriesOutcome>,
}

impl GoldSummary {
    /// Day files written.
    #[must_use]
    pub fn days_written(&self) -> usize {
        self.series.iter().map(|s| s.days_written).sum()
    }

    /// Days left as they were.
    #[must_use]
    pub fn days_unchanged(&self) -> usize {
        self.series.iter().map(|s| s.days_unchanged).sum()
    }

    /// Every failure, series by series.
    pub fn failures(&self) -> impl Iterator<Item = (&SeriesKey, &LakeError)> {
        self.series
            .iter()
            .flat_map(|s| s.failures.iter().map(move |e| (&s.key, e)))
    }
}

impl SeriesKey {
    /// The gold file of `day`.
    ///
    /// # Errors
    /// As [`SeriesKey::partition`].
    pub fn gold_file(&self, day: NaiveDate) -> Result<String> {
        Ok(format!(
            "{}/{GOLD_FILE}",
            self.partition(Layer::Gold, day)?.relative_dir()
        ))
    }

    /// The series' gold commit record, `gold/…/{interval}/_state.json`.
    #[must_use]
    pub fn gold_state_file(&self) -> String {
        format!("{}/{GOLD_STATE_FILE}", self.dir(Layer::Gold))
    }
}

/// The columns of a gold day file of `market`, in file order (see the module docs).
#[must_use]
pub fn gold_schema(market: Market) -> Schema {
    let ts = DataType::Timestamp(ArrowTimeUnit::Nanosecond, Some("UTC".into()));
    let mut fields = vec![
        Field::new("open_time", ts.clone(), false),
        Field::new("close_time", ts, false),
        Field::new("symbol", DataType::Utf8, false),
    ];
    for &(name, _, t) in kline_columns(market) {
        match t {
            SilverType::Time => {}
            SilverType::Float => fields.push(Field::new(name, DataType::Float64, false)),
            SilverType::Int => fields.push(Field::new(name, DataType::Int64, false)),
        }
    }
    for name in StandardFeatures::COLUMNS {
        let dt = if name == "supertrend_dir" {
            DataType::Int8
        } else {
            DataType::Float64
        };
        fields.push(Field::new(name, dt, true));
    }
    for name in RETURN_COLUMNS {
        fields.push(Field::new(name, DataType::Float64, true));
    }
    Schema::new(fields)
}

/// `sha256(prev ‖ silver ‖ FEATURE_SET)`, lower-case hex (newline-separated).
fn chain(prev: &str, silver: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(silver.as_bytes());
    h.update(b"\n");
    h.update(FEATURE_SET.as_bytes());
    super::source::hex(&h.finalize())
}

fn store_err(store: &Store, path: &str) -> impl Fn(crate::ReplayError) -> LakeError {
    let file = store.url_of(path);
    move |source| LakeError::Store {
        file: file.clone(),
        source: Box::new(source),
    }
}

/// The klines series silver has committed (a `_quality.parquet`), in key order.
fn silver_series(store: &Store) -> Result<Vec<SeriesKey>> {
    let root = format!("{}/{PROVIDER}", Layer::Silver);
    let listed = store.list(&root).map_err(store_err(store, &root))?;
    let mut keys: Vec<SeriesKey> = listed
        .iter()
        .filter_map(|e| {
            let rest = e.path.strip_prefix(&root)?.strip_prefix('/')?;
            let parts: Vec<&str> = rest.split('/').collect();
            let [market, category, symbol, interval, file] = parts.as_slice() else {
                return None;
            };
            if *file != QUALITY_FILE || *category != Category::Klines.as_str() {
                return None;
            }
            Some(SeriesKey {
                market: Market::parse(market)?,
                category: Category::Klines,
                symbol: (*symbol).to_string(),
                interval: (*interval).to_string(),
            })
        })
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// Builds gold for every selected silver klines series (see the module docs), series in
/// parallel.
///
/// # Errors
/// Only when the silver layer cannot be listed; per-series failures are in
/// [`GoldSeriesOutcome::failures`].
pub fn build_gold(store: &Store, opts: &GoldOptions) -> Result<GoldSummary> {
    let keys: Vec<SeriesKey> = silver_series(store)?
        .into_iter()
        .filter(|k| opts.series.matches(k))
        .collect();
    let series = keys
        .into_par_iter()
        .map(|key| {
            let mut out = GoldSeriesOutcome {
                key,
                days: 0,
                days_written: 0,
                days_unchanged: 0,
                days_removed: 0,
                state_written: false,
                rows: 0,
                first_open_time: None,
                last_open_time: None,
                failures: Vec::new(),
            };
            if let Err(e) = build_series(store, opts, &mut out) {
                out.failures.push(e);
            }
            out
        })
        .collect();
    Ok(GoldSummary { series })
}

/// The series' committed gold state (empty before the first run).
fn old_state(store: &Store, key: &SeriesKey) -> Result<GoldState> {
    let path = key.gold_state_file();
    let Some(bytes) = store.get_opt(&path).map_err(store_err(store, &path))? else {
        return Ok(GoldState::default());
    };
    let bad = |reason: String| LakeError::GoldState {
        file: store.url_of(&path),
        reason,
    };
    let state: GoldState = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if state.schema != STATE_SCHEMA {
        return Err(bad(format!(
            "schema {} (this build reads {STATE_SCHEMA})",
            state.schema
        )));
    }
    Ok(state)
}

fn build_series(store: &Store, opts: &GoldOptions, out: &mut GoldSeriesOutcome) -> Result<()> {
    let key = out.key.clone();
    let qpath = key.quality_file();
    let qbytes = store.get(&qpath).map_err(store_err(store, &qpath))?;
    let mut silver_days: Vec<QualityRow> = read_quality(&store.url_of(&qpath), qbytes)?;
    silver_days.sort_by_key(|r| r.date);
    silver_days.dedup_by_key(|r| r.date);
    out.days = silver_days.len();
    out.rows = silver_days
        .iter()
        .fold(0u64, |n, r| n.saturating_add(r.rows));
    out.first_open_time = silver_days
        .iter()
        .find(|r| r.rows > 0)
        .map(|r| r.first_open_time);
    out.last_open_time = silver_days
        .iter()
        .rev()
        .find(|r| r.rows > 0)
        .map(|r| r.last_open_time);

    // With `full` the fingerprints are ignored (and an unreadable state is replaced), but the
    // state still names the committed days, so gold days silver no longer has are removed.
    let old = match old_state(store, &key) {
        Ok(s) => s,
        Err(_) if opts.full => GoldState::default(),
        Err(e) => return Err(e),
    };
    let mut prev = String::new();
    let mut fps: Vec<(NaiveDate, String)> = Vec::with_capacity(silver_days.len());
    for r in &silver_days {
        prev = chain(&prev, &r.inputs_fingerprint);
        fps.push((r.date, prev.clone()));
    }
    let todo: Vec<usize> = (0..fps.len())
        .filter(|&i| {
            opts.full
                || old
                    .days
                    .get(&fps[i].0.to_string())
                    .is_none_or(|f| *f != fps[i].1)
        })
        .collect();
    out.days_unchanged = fps.len() - todo.len();
    let stale: Vec<NaiveDate> = old
        .days
        .keys()
        .filter_map(|d| d.parse::<NaiveDate>().ok())
        .filter(|d| fps.binary_search_by(|(x, _)| x.cmp(d)).is_err())
        .collect();

    let mut state = GoldState {
        schema: STATE_SCHEMA,
        feature_set: FEATURE_SET.to_string(),
        days: BTreeMap::new(),
    };
    for (i, (day, fp)) in fps.iter().enumerate() {
        if todo.binary_search(&i).is_err() {
            state.days.insert(day.to_string(), fp.clone());
        }
    }
    if !todo.is_empty() {
        // Path-dependent features: the whole series, from its first bar.
        let bars = read_series(store, &key, &silver_days)?;
        let feats = Features::of(&bars, &key)?;
        let schema = Arc::new(gold_schema(key.market));
        let props = gold_writer_properties(opts.compression).map_err(|e| LakeError::Store {
            file: format!("{key} gold"),
            source: Box::new(e),
        })?;
        // Days encoded in parallel a chunk at a time, each chunk's files put concurrently.
        let mut written: Vec<(usize, Result<()>)> = Vec::with_capacity(todo.len());
        for chunk in todo.chunks(DAYS_PER_FETCH) {
            let encoded: Vec<(usize, Result<(String, Bytes)>)> = chunk
                .par_iter()
                .map(|&i| {
                    let (day, fp) = &fps[i];
                    let r = key.gold_file(*day).and_then(|path| {
                        let body = write_gold_day(&bars, &feats, i, &key, fp, &schema, &props)?;
                        Ok((path, body))
                    });
                    (i, r)
                })
                .collect();
            let mut puts = Vec::with_capacity(encoded.len());
            let mut put_days = Vec::with_capacity(encoded.len());
            for (i, r) in encoded {
                match r {
                    Ok(object) => {
                        puts.push(object);
                        put_days.push(i);
                    }
                    Err(e) => written.push((i, Err(e))),
                }
            }
            let paths: Vec<String> = puts.iter().map(|(p, _)| p.clone()).collect();
            for ((i, path), r) in put_days.into_iter().zip(&paths).zip(store.put_many(puts)) {
                written.push((i, r.map_err(store_err(store, path))));
            }
        }
        for (i, r) in written {
            let (day, fp) = &fps[i];
            match r {
                Ok(()) => {
                    state.days.insert(day.to_string(), fp.clone());
                    out.days_written += 1;
                }
                // The old fingerprint stays (or none): the next run retries the day.
                Err(e) => {
                    if let Some(f) = old.days.get(&day.to_string()) {
                        state.days.insert(day.to_string(), f.clone());
                    }
                    out.failures.push(e);
                }
            }
        }
    }
    for day in stale {
        let path = key.gold_file(day)?;
        store.delete(&path).map_err(store_err(store, &path))?;
        out.days_removed += 1;
    }
    if state != old {
        let path = key.gold_state_file();
        let body = serde_json::to_vec_pretty(&state).map_err(|e| LakeError::GoldState {
            file: store.url_of(&path),
            reason: e.to_string(),
        })?;
        store
            .put(&path, Bytes::from(body))
            .map_err(store_err(store, &path))?;
        out.state_written = true;
    }
    Ok(())
}

/// A whole silver series: each day's checked Arrow columns (reused by gold as they are) and
/// the columns the features need, concatenated in time order.
#[derive(Default)]
struct SeriesBars {
    /// The silver days, in the quality table's order.
    days: Vec<SilverDay>,
    /// Row range of each silver day in the concatenated columns.
    ranges: Vec<Range<usize>>,
    /// The silver file of each day (for errors).
    files: Vec<String>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
}

impl SeriesBars {
    /// The day and file of row `row`.
    fn locate(&self, row: usize) -> (usize, &str) {
        let d = self.ranges.partition_point(|r| r.end <= row);
        (
            row - self.ranges.get(d).map_or(0, |r| r.start),
            self.files.get(d).map_or("", String::as_str),
        )
    }
}

/// One decoded silver day: its bar columns in gold order (`open_time`, `close_time`, the
/// market's float columns, `trade_count`), types and nulls checked.
struct SilverDay {
    rows: usize,
    columns: Vec<ArrayRef>,
}

impl SilverDay {
    /// The open times (the first column).
    fn open_time(&self) -> &[i64] {
        self.columns.first().map_or(&[], |c| {
            c.as_primitive::<TimestampNanosecondType>().values()
        })
    }

    /// The float column `name` (silver column order, `kline_columns`).
    fn float(&self, market: Market, name: &str) -> &[f64] {
        kline_columns(market)
            .iter()
            .position(|c| c.0 == name)
            .and_then(|i| self.columns.get(i))
            .map_or(&[], |c| c.as_primitive::<Float64Type>().values())
    }
}

/// Decodes one silver day file, checking its columns (names, types, no nulls).
fn decode_silver(file: &str, bytes: Bytes, market: Market) -> Result<SilverDay> {
    let bad = |reason: String| LakeError::BadSilver {
        file: file.to_string(),
        reason,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    // One batch of exactly the file's rows: the reader allocates a whole batch up front (so a
    // footer claiming absurd rows is capped; more rows than the cap arrive as more batches).
    let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let reader = builder
        .with_batch_size(rows.clamp(1, MAX_RESERVE_ROWS))
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let batches = reader
        .collect::<std::result::Result<Vec<RecordBatch>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let batch = match batches.as_slice() {
        [] => RecordBatch::new_empty(Arc::new(silver_schema(market))),
        [b] => b.clone(),
        more => {
            return Err(bad(format!(
                "{} record batches for {rows} rows (expected one)",
                more.len()
            )));
        }
    };
    let ts = DataType::Timestamp(ArrowTimeUnit::Nanosecond, Some("UTC".into()));
    let mut columns = Vec::with_capacity(kline_columns(market).len());
    for &(name, _, t) in kline_columns(market) {
        let dt = match t {
            SilverType::Time => &ts,
            SilverType::Float => &DataType::Float64,
            SilverType::Int => &DataType::Int64,
        };
        let c = batch
            .column_by_name(name)
            .ok_or_else(|| bad(format!("column {name} is missing")))?;
        if c.data_type() != dt {
            return Err(bad(format!(
                "column {name} has type {}, expected {dt}",
                c.data_type()
            )));
        }
        if c.null_count() > 0 {
            return Err(bad(format!("column {name} has {} nulls", c.null_count())));
        }
        columns.push(Arc::clone(c));
    }
    Ok(SilverDay {
        rows: batch.num_rows(),
        columns,
    })
}

/// The rows to reserve for `days`: their quality-table row counts, saturated and capped at
/// [`MAX_RESERVE_ROWS`].
fn reserve_rows(days: &[QualityRow]) -> usize {
    days.iter()
        .map(|r| usize::try_from(r.rows).unwrap_or(usize::MAX))
        .fold(0usize, usize::saturating_add)
        .min(MAX_RESERVE_ROWS)
}

/// The silver bar columns of `market` (for an empty day).
fn silver_schema(market: Market) -> Schema {
    let ts = DataType::Timestamp(ArrowTimeUnit::Nanosecond, Some("UTC".into()));
    Schema::new(
        kline_columns(market)
            .iter()
            .map(|&(name, _, t)| {
                let dt = match t {
                    SilverType::Time => ts.clone(),
                    SilverType::Float => DataType::Float64,
                    SilverType::Int => DataType::Int64,
                };
                Field::new(name, dt, false)
            })
            .collect::<Vec<_>>(),
    )
}

/// Reads every silver day of the series (the quality table's days, in date order), checking
/// that open times increase strictly across the whole series.
fn read_series(store: &Store, key: &SeriesKey, days: &[QualityRow]) -> Result<SeriesBars> {
    let market = key.market;
    let total = reserve_rows(days);
    let mut bars = SeriesBars {
        days: Vec::with_capacity(days.len()),
        ranges: Vec::with_capacity(days.len()),
        files: Vec::with_capacity(days.len()),
        high: Vec::with_capacity(total),
        low: Vec::with_capacity(total),
        close: Vec::with_capacity(total),
    };
    let mut prev: Option<i64> = None;
    for chunk in days.chunks(DAYS_PER_FETCH) {
        let paths = chunk
            .iter()
            .map(|r| key.silver_file(r.date))
            .collect::<Result<Vec<_>>>()?;
        let bodies = store
            .get_many(&paths)
            .map_err(store_err(store, &key.dir(Layer::Silver)))?;
        let decoded: Vec<(String, Result<SilverDay>)> = paths
            .par_iter()
            .zip(bodies)
            .map(|(p, b)| {
                let url = store.url_of(p);
                let d = decode_silver(&url, b, market);
                (url, d)
            })
            .collect();
        for (url, day) in decoded {
            let day = day?;
            let open_time = day.open_time();
            let mut before = prev;
            for (i, &t) in open_time.iter().enumerate() {
                if let Some(b) = before.filter(|&b| t <= b) {
                    return Err(LakeError::BadSilver {
                        file: url,
                        reason: format!(
                            "row {i}: open_time {t} does not follow the previous bar's {b} \
                             (silver must be sorted and unique across days)"
                        ),
                    });
                }
                before = Some(t);
            }
            prev = before;
            let start = bars.close.len();
            bars.high.extend_from_slice(day.float(market, "high"));
            bars.low.extend_from_slice(day.float(market, "low"));
            bars.close.extend_from_slice(day.float(market, "close"));
            bars.ranges.push(start..start + day.rows);
            bars.days.push(day);
            bars.files.push(url);
        }
    }
    Ok(bars)
}

/// The feature and return columns of a whole series (NaN where null), as Arrow arrays whose
/// per-day slices share the buffers.
struct Features {
    /// [`StandardFeatures::COLUMNS`] then [`RETURN_COLUMNS`].
    columns: Vec<Float64Array>,
    /// The row of each column's last NaN (null in gold), if any.
    last_nan: Vec<Option<usize>>,
}

impl Features {
    fn of(bars: &SeriesBars, key: &SeriesKey) -> Result<Self> {
        let rejected = |e: strategies::Error| {
            let index = match &e {
                strategies::Error::NonFinite { index, .. }
                | strategies::Error::InvalidData { index, .. } => Some(*index),
                _ => None,
            };
            match index {
                Some(i) => {
                    let (row, file) = bars.locate(i);
                    LakeError::BadSilver {
                        file: file.to_string(),
                        reason: format!("row {row}: {e}"),
                    }
                }
                None => LakeError::BadSilver {
                    file: key.dir(Layer::Silver),
                    reason: e.to_string(),
                },
            }
        };
        let mut standard = StandardFeatures::default();
        standard_features_into(&bars.high, &bars.low, &bars.close, &mut standard)
            .map_err(rejected)?;
        let (mut ret, mut log_ret) = (Vec::new(), Vec::new());
        returns_into(&bars.close, &mut ret, &mut log_ret).map_err(rejected)?;
        // `StandardFeatures::COLUMNS` order, then the returns.
        let columns = standard
            .into_columns()
            .into_iter()
            .chain([ret, log_ret])
            .map(Float64Array::from)
            .collect::<Vec<_>>();
        let last_nan = columns
            .iter()
            .map(|c| c.values().iter().rposition(|x| x.is_nan()))
            .collect();
        Ok(Self { columns, last_nan })
    }
}

/// Rows `r` of a whole-series column, NaN → null: a zero-copy slice when the rows lie after
/// the column's last NaN (`last_nan`, as every row after the indicators' warm-up does).
fn nullable(col: &Float64Array, last_nan: Option<usize>, r: &Range<usize>) -> ArrayRef {
    if last_nan.is_some_and(|n| n >= r.start) {
        Arc::new(
            col.values()[r.clone()]
                .iter()
                .map(|x| (!x.is_nan()).then_some(*x))
                .collect::<Float64Array>(),
        )
    } else {
        Arc::new(col.slice(r.start, r.len()))
    }
}

/// Columns stored with `DELTA_BINARY_PACKED` and no compression: times a bar apart and
/// counts pack to a few bits a row, which a block compressor does not approach.
const DELTA_COLUMNS: [&str; 3] = ["open_time", "close_time", "trade_count"];

/// Columns stored plain and uncompressed, whatever the codec: full-precision floats (quote
/// volumes, smoothed indicators) that a block compressor cannot shrink but pays to try.
const RAW_COLUMNS: [&str; 16] = [
    "volume",
    "quote_volume",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
    "ema_12",
    "ema_26",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "atr_10",
    "ret_1",
    "log_ret_1",
];

/// The gold writer settings but the key-value metadata (see the module docs).
fn gold_writer_properties(
    compression: FileCompression,
) -> crate::Result<parquet::file::properties::WriterPropertiesBuilder> {
    let mut b = writer_properties_builder(compression)?
        .set_dictionary_enabled(false)
        .set_column_dictionary_enabled(ColumnPath::from("symbol"), true)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_column_statistics_enabled(ColumnPath::from("open_time"), EnabledStatistics::Chunk)
        .set_column_statistics_enabled(ColumnPath::from("close_time"), EnabledStatistics::Chunk);
    for name in DELTA_COLUMNS {
        b = b
            .set_column_encoding(ColumnPath::from(name), Encoding::DELTA_BINARY_PACKED)
            .set_column_compression(ColumnPath::from(name), Compression::UNCOMPRESSED);
    }
    for name in RAW_COLUMNS {
        b = b.set_column_compression(ColumnPath::from(name), Compression::UNCOMPRESSED);
    }
    Ok(b)
}

/// Encodes silver day `i` of a series as one gold day file (see the module docs), with
/// `schema` = [`gold_schema`] and `props` = [`gold_writer_properties`].
fn write_gold_day(
    bars: &SeriesBars,
    f: &Features,
    i: usize,
    key: &SeriesKey,
    fingerprint: &str,
    schema: &Arc<Schema>,
    props: &parquet::file::properties::WriterPropertiesBuilder,
) -> Result<Bytes> {
    let (day, r) = (&bars.days[i], &bars.ranges[i]);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    columns.extend(day.columns[..2].iter().cloned());
    columns.push(Arc::new(StringArray::from_iter_values(
        std::iter::repeat_n(key.symbol.as_str(), r.len()),
    )));
    columns.extend(day.columns[2..].iter().cloned());
    for ((name, col), &last_nan) in StandardFeatures::COLUMNS
        .iter()
        .zip(&f.columns)
        .zip(&f.last_nan)
    {
        if *name == "supertrend_dir" {
            let v = &col.values()[r.clone()];
            let dir: Vec<i8> = v.iter().map(|x| if *x > 0.0 { 1 } else { -1 }).collect();
            let nulls = last_nan
                .is_some_and(|n| n >= r.start)
                .then(|| NullBuffer::from_iter(v.iter().map(|x| !x.is_nan())));
            columns.push(Arc::new(Int8Array::new(dir.into(), nulls)));
        } else {
            columns.push(nullable(col, last_nan, r));
        }
    }
    let n = StandardFeatures::COLUMNS.len();
    for (col, &last_nan) in f.columns[n..].iter().zip(&f.last_nan[n..]) {
        columns.push(nullable(col, last_nan, r));
    }
    let what = format!("{key} gold");
    let err = |source| LakeError::Store {
        file: what.clone(),
        source: Box::new(source),
    };
    let batch = RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| {
        err(crate::ReplayError::Encode {
            what: "gold",
            reason: e.to_string(),
        })
    })?;
    let props = props
        .clone()
        .set_key_value_metadata(Some(vec![
            KeyValue::new("hermes.gold.fingerprint".into(), fingerprint.to_string()),
            KeyValue::new("hermes.gold.feature_set".into(), FEATURE_SET.to_string()),
        ]))
        .build();
    // Most gold columns are stored raw: a day's file is close to 8 bytes a value.
    let capacity = r.len() * 8 * schema.fields().len() + 4096;
    encode_into("gold", &batch, props, capacity).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gold_paths_and_schema() {
        let k = SeriesKey {
            market: Market::Spot,
            category: Category::Klines,
            symbol: "BTCUSDT".into(),
            interval: "1h".into(),
        };
        assert_eq!(
            k.gold_file(NaiveDate::from_ymd_opt(2020, 1, 2).unwrap())
                .unwrap(),
            "gold/binance/spot/klines/BTCUSDT/1h/year=2020/month=01/day=02/part-0.parquet"
        );
        assert_eq!(
            k.gold_state_file(),
            "gold/binance/spot/klines/BTCUSDT/1h/_state.json"
        );
        let names: Vec<String> = gold_schema(Market::Spot)
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names.len(), 3 + 9 + 12 + 2);
        assert_eq!(&names[..4], ["open_time", "close_time", "symbol", "open"]);
        assert_eq!(names[12], "ema_12");
        assert_eq!(&names[24..], ["ret_1", "log_ret_1"]);
    }

    #[test]
    fn impossible_row_counts_in_silver_quality_fail_the_series_not_the_process() {
        use super::super::quality::{DayBars, DayCounts, KlineInterval, assess_day, write_quality};
        use crate::store::{LakeRoot, S3Options};
        // A corrupt quality table claiming i64::MAX rows a day: the row total and the buffers
        // reserved from it must neither overflow nor abort; the missing silver days fail the
        // series.
        let tmp = tempfile::tempdir().unwrap();
        let root = LakeRoot::Local(tmp.path().to_path_buf());
        let store = Store::create(&root, &S3Options::default()).unwrap();
        let key = SeriesKey {
            market: Market::Spot,
            category: Category::Klines,
            symbol: "BTCUSDT".into(),
            interval: "1h".into(),
        };
        let iv = KlineInterval::parse("1h").unwrap();
        let rows: Vec<QualityRow> = (1..=3)
            .map(|d| {
                let date = NaiveDate::from_ymd_opt(2020, 1, d).unwrap();
                let t = [i64::from(d) * 86_400_000_000_000];
                let bars = DayBars {
                    open_time: &t,
                    high: &[1.0],
                    low: &[1.0],
                    close: &[1.0],
                };
                let mut r = assess_day(date, bars, iv, DayCounts::default(), "k".into());
                r.rows = u64::MAX;
                r
            })
            .collect();
        store
            .put(&key.quality_file(), write_quality("q", &rows).unwrap())
            .unwrap();
        assert_eq!(reserve_rows(&rows), MAX_RESERVE_ROWS);
        let summary = build_gold(&store, &GoldOptions::default()).unwrap();
        let [out] = summary.series.as_slice() else {
            panic!("one series expected: {summary:?}");
        };
        assert_eq!((out.days, out.rows), (3, u64::MAX));
        assert_eq!(out.failures.len(), 1, "{out:?}");
        assert!(!out.state_written);
    }

    #[test]
    fn the_chain_carries_every_earlier_day() {
        let a = chain("", "s1");
        let b = chain(&a, "s2");
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        // A changed first day changes the second day's fingerprint too.
        assert_ne!(chain(&chain("", "s1x"), "s2"), b);
        assert_eq!(chain(&chain("", "s1"), "s2"), b);
    }
}
