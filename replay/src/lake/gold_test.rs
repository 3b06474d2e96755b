//! The gold_test layer: the test feature columns ([`super::features`]) of every silver series
//! beside gold, for A/B comparisons — and the read path that joins them to gold.
//!
//! Like gold, the columns are computed over the **whole silver series in time order**, then
//! sliced per UTC day: null during each indicator's warm-up, never restarted at a day boundary.
//!
//! Day file `gold_test/binance/{market}/klines/{SYMBOL}/{interval}/year=/month=/day=/part-0.parquet`
//! (arrow-rs, LZ4 raw): `open_time` Timestamp(ns, UTC), `symbol` Utf8, then one column per spec
//! in spec order (Float64; `supertrend_dir` Int8 ±1). Commit: each day file is one atomic put;
//! the series' `_state.json` (the spec list and each day's fingerprint) is written last. Day
//! `d`'s fingerprint is `sha256(fp(d−1) ‖ silver inputs of d ‖ spec list)`, so a changed spec
//! list rewrites every day and a changed silver day rewrites it and every later day (the
//! indicators carry state forward); a run with nothing new writes nothing.
//!
//! [`read_features`]: gold ⋈ gold_test, a polars lazy left join on `(open_time, symbol)` over
//! the day files of a time range.
//!
//! Owns the gold_test layer and the join; gold's own columns are [`super::gold`]'s.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow_array::TimestampNanosecondArray;
use arrow_array::{ArrayRef, Float64Array, Int8Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit as ArrowTimeUnit};
use bytes::Bytes;
use chrono::NaiveDate;
use polars::prelude::{
    DataFrame, JoinArgs, JoinType, LazyFrame, MaintainOrderJoin, PolarsError, ScanArgsParquet,
    ScanSources, col, lit,
};
use polars_core::query_result::QueryResult;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{LakeError, Result};
use super::features::{FeatureValues, TestFeature, TestFeatureSpec, compile_features};
use super::quality::read_quality;
use super::silver::{SeriesFilter, SeriesKey};
use super::source::{Category, Market};
use crate::bars::{BarRecord, FileCompression, decode_bars, encode};
use crate::error::ReplayError;
use crate::layout::Layer;
use crate::source::NS_PER_DAY;
use crate::store::Store;

/// The name of every gold_test day file.
pub const GOLD_TEST_FILE: &str = "part-0.parquet";

/// The series' commit record, `gold_test/…/{interval}/_state.json`.
pub const STATE_FILE: &str = "_state.json";

/// Part of every fingerprint: bump it when the gold_test format or rules change.
const GOLD_TEST_FORMAT: &str = "hermes-gold-test-v1";

/// sha256 over the format and the spec list (as given, in order), lower-case hex.
fn spec_fingerprint(specs: &[TestFeatureSpec]) -> String {
    let mut h = Sha256::new();
    h.update(GOLD_TEST_FORMAT.as_bytes());
    for s in specs {
        h.update(format!("\n{}|{}", s.name, s.kind).as_bytes());
        for (k, v) in &s.params {
            h.update(format!("|{k}={:016x}", v.to_bits()).as_bytes());
        }
    }
    super::source::hex(&h.finalize())
}

fn day_fingerprint(prev: &str, silver: &str, specs: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("{prev}\n{silver}\n{specs}").as_bytes());
    super::source::hex(&h.finalize())
}

/// The commit record of a gold_test series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoldTestState {
    schema: u32,
    format: String,
    features: Vec<TestFeatureSpec>,
    /// Day (`YYYY-MM-DD`) → fingerprint.
    days: BTreeMap<String, String>,
}

/// How to build gold_test.
#[derive(Debug, Clone, Default)]
pub struct GoldTestOptions {
    /// The series to build.
    pub series: SeriesFilter,
    /// The columns (`[[gold_test.features]]`).
    pub features: Vec<TestFeatureSpec>,
    /// Rewrite every day, ignoring the fingerprints in `_state.json`.
    pub full: bool,
    /// Parquet compression (LZ4 raw by default).
    pub compression: FileCompression,
}

/// What a run did to one series.
#[derive(Debug)]
pub struct GoldTestOutcome {
    /// The series.
    pub key: SeriesKey,
    /// Rows of the series (all days).
    pub rows: usize,
    /// Day files written.
    pub days_written: usize,
    /// Days whose fingerprint had not changed.
    pub days_unchanged: usize,
    /// gold_test days removed because silver no longer has them.
    pub days_removed: usize,
    /// Whether `_state.json` was written.
    pub state_written: bool,
    /// What failed (the series is then left for the next run).
    pub failure: Option<LakeError>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct GoldTestSummary {
    /// The column names, in file order after `open_time, symbol`.
    pub columns: Vec<String>,
    /// Every selected series, in key order.
    pub series: Vec<GoldTestOutcome>,
}

impl GoldTestSummary {
    /// Day files written.
    #[must_use]
    pub fn days_written(&self) -> usize {
        self.series.iter().map(|s| s.days_written).sum()
    }

    /// Every failure, series by series.
    pub fn failures(&self) -> impl Iterator<Item = (&SeriesKey, &LakeError)> {
        self.series
            .iter()
            .filter_map(|s| s.failure.as_ref().map(|e| (&s.key, e)))
    }
}

fn store_err(store: &Store, path: &str) -> impl Fn(ReplayError) -> LakeError {
    let file = store.url_of(path);
    move |source| LakeError::Store {
        file: file.clone(),
        source: Box::new(source),
    }
}

/// The kline series that have a silver quality table (silver's commit record), in key order.
///
/// # Errors
/// [`LakeError::Store`] when the listing fails.
pub fn silver_series(store: &Store, filter: &SeriesFilter) -> Result<Vec<SeriesKey>> {
    let prefix = format!("{}/{}", Layer::Silver, super::bronze::PROVIDER);
    let listed = store.list(&prefix).map_err(store_err(store, &prefix))?;
    let mut out = BTreeSet::new();
    for e in listed {
        let parts: Vec<&str> = e.path.split('/').collect();
        if let [_, _, market, category, symbol, interval, name] = parts.as_slice()
            && *name == super::quality::QUALITY_FILE
            && *category == Category::Klines.as_str()
            && let Some(market) = Market::parse(market)
        {
            let key = SeriesKey {
                market,
                category: Category::Klines,
                symbol: (*symbol).to_string(),
                interval: (*interval).to_string(),
            };
            if filter.matches(&key) {
                out.insert(key);
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// `gold_test/…/{interval}/_state.json` of a series.
#[must_use]
pub fn state_file(key: &SeriesKey) -> String {
    format!("{}/{STATE_FILE}", key.dir(Layer::GoldTest))
}

/// The gold_test day file of `day`.
///
/// # Errors
/// As [`SeriesKey::partition`].
pub fn gold_test_file(key: &SeriesKey, day: NaiveDate) -> Result<String> {
    Ok(format!(
        "{}/{GOLD_TEST_FILE}",
        key.partition(Layer::GoldTest, day)?.relative_dir()
    ))
}

/// Builds gold_test for every selected silver series (see the module docs).
///
/// # Errors
/// [`LakeError::FeatureSpec`] for a bad spec (nothing is written), [`LakeError::Store`] when
/// the silver listing fails; per-series failures are in [`GoldTestOutcome::failure`].
pub fn build_gold_test(store: &Store, opts: &GoldTestOptions) -> Result<GoldTestSummary> {
    let features = compile_features(&opts.features)?;
    let mut summary = GoldTestSummary {
        columns: features.iter().map(|f| f.name.clone()).collect(),
        series: Vec::new(),
    };
    for key in silver_series(store, &opts.series)? {
        let mut outcome = GoldTestOutcome {
            key,
            rows: 0,
            days_written: 0,
            days_unchanged: 0,
            days_removed: 0,
            state_written: false,
            failure: None,
        };
        if let Err(e) = build_series(store, opts, &features, &mut outcome) {
            outcome.failure = Some(e);
        }
        summary.series.push(outcome);
    }
    Ok(summary)
}

/// The series' state, `None` before the first run.
fn old_state(store: &Store, key: &SeriesKey) -> Result<Option<GoldTestState>> {
    let path = state_file(key);
    let Some(bytes) = store.get_opt(&path).map_err(store_err(store, &path))? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| LakeError::State {
            file: store.url_of(&path),
            reason: format!("{e} (rebuild with --full)"),
        })
}

/// The rows of each day in a series' bars: `(day, range)`.
type DayRanges = Vec<(NaiveDate, std::ops::Range<usize>)>;

/// Every silver bar of a series in time order, and the day boundaries.
fn read_silver(
    store: &Store,
    key: &SeriesKey,
    days: &[NaiveDate],
) -> Result<(Vec<BarRecord>, DayRanges)> {
    let paths = days
        .iter()
        .map(|d| key.silver_file(*d))
        .collect::<Result<Vec<_>>>()?;
    let mut bars = Vec::new();
    let mut ranges = Vec::with_capacity(days.len());
    // Bounded memory per fetch: 32 day files at a time.
    for (chunk_days, chunk_paths) in days.chunks(32).zip(paths.chunks(32)) {
        let bodies = store
            .get_many(chunk_paths)
            .map_err(store_err(store, &key.dir(Layer::Silver)))?;
        for ((day, path), body) in chunk_days.iter().zip(chunk_paths).zip(bodies) {
            let start = bars.len();
            let url = store.url_of(path);
            decode_bars(&url, body, 0, 0, &mut bars).map_err(|e| LakeError::BadLayer {
                file: url.clone(),
                reason: e.to_string(),
            })?;
            // In time order across files too: the day files are listed in day order.
            let from = start.saturating_sub(1);
            if let Some(w) = bars[from..]
                .windows(2)
                .position(|w| w[1].open_time_ns <= w[0].open_time_ns)
            {
                return Err(LakeError::BadLayer {
                    file: url,
                    reason: format!(
                        "row {}: open_time is not after the previous bar's",
                        (from + w + 1) - start
                    ),
                });
            }
            ranges.push((*day, start..bars.len()));
        }
    }
    Ok((bars, ranges))
}

fn build_series(
    store: &Store,
    opts: &GoldTestOptions,
    features: &[TestFeature],
    out: &mut GoldTestOutcome,
) -> Result<()> {
    let key = out.key.clone();
    let qpath = key.quality_file();
    let qbytes = store.get(&qpath).map_err(store_err(store, &qpath))?;
    // In date order (the fingerprint chain and the day ranges depend on it), one row a day.
    let mut quality = read_quality(&store.url_of(&qpath), qbytes)?;
    quality.sort_by_key(|r| r.date);
    quality.dedup_by_key(|r| r.date);
    let specs_fp = spec_fingerprint(&opts.features);
    // `full` rewrites every day but still reads the state (so days silver dropped are
    // removed); an unreadable state is then replaced instead of failing the series.
    let old = match old_state(store, &key) {
        Ok(s) => s,
        Err(_) if opts.full => None,
        Err(e) => return Err(e),
    };
    let old_days = old.map(|s| s.days).unwrap_or_default();
    let mut fps = BTreeMap::new();
    let mut prev = String::new();
    for r in &quality {
        let fp = day_fingerprint(&prev, &r.inputs_fingerprint, &specs_fp);
        fps.insert(r.date.to_string(), fp.clone());
        prev = fp;
    }
    let todo: BTreeSet<NaiveDate> = quality
        .iter()
        .filter(|r| opts.full || old_days.get(&r.date.to_string()) != fps.get(&r.date.to_string()))
        .map(|r| r.date)
        .collect();
    out.days_unchanged = quality.len() - todo.len();
    if todo.is_empty() && old_days.len() == fps.len() {
        // Saturating: the counts come from silver's quality file.
        out.rows = quality.iter().fold(0usize, |n, r| {
            n.saturating_add(usize::try_from(r.rows).unwrap_or(usize::MAX))
        });
        return Ok(());
    }
    let days: Vec<NaiveDate> = quality.iter().map(|r| r.date).collect();
    let (bars, ranges) = read_silver(store, &key, &days)?;
    out.rows = bars.len();
    let high: Vec<f64> = bars.iter().map(|b| b.high).collect();
    let low: Vec<f64> = bars.iter().map(|b| b.low).collect();
    let close: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let times: Vec<i64> = bars.iter().map(|b| b.open_time_ns).collect();
    let columns = features
        .iter()
        .map(|f| f.compute(&high, &low, &close))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| LakeError::BadLayer {
            file: store.url_of(&key.dir(Layer::Silver)),
            reason: e.to_string(),
        })?;
    for (day, range) in ranges {
        if !todo.contains(&day) {
            continue;
        }
        if let Some(t) = times[range.clone()]
            .iter()
            .find(|t| t.div_euclid(NS_PER_DAY) != day_number(day))
        {
            return Err(LakeError::BadLayer {
                file: store.url_of(&key.silver_file(day)?),
                reason: format!("open_time {t} is outside the partition's day {day}"),
            });
        }
        let path = gold_test_file(&key, day)?;
        let body = encode_day(
            &store.url_of(&path),
            &key.symbol,
            &times[range.clone()],
            features,
            &columns,
            range,
            opts.compression,
        )?;
        store.put(&path, body).map_err(store_err(store, &path))?;
        out.days_written += 1;
    }
    // Days silver no longer has: their files go before the state that no longer lists them.
    for day in old_days.keys().filter(|d| !fps.contains_key(*d)) {
        let Ok(date) = day.parse::<NaiveDate>() else {
            continue;
        };
        let path = gold_test_file(&key, date)?;
        store.delete(&path).map_err(store_err(store, &path))?;
        out.days_removed += 1;
    }
    let state = GoldTestState {
        schema: 1,
        format: GOLD_TEST_FORMAT.into(),
        features: opts.features.clone(),
        days: fps,
    };
    let path = state_file(&key);
    let text = serde_json::to_vec_pretty(&state).map_err(|e| LakeError::State {
        file: store.url_of(&path),
        reason: e.to_string(),
    })?;
    store
        .put(&path, Bytes::from(text))
        .map_err(store_err(store, &path))?;
    out.state_written = true;
    Ok(())
}

fn day_number(day: NaiveDate) -> i64 {
    use chrono::Datelike;
    i64::from(day.num_days_from_ce()) - 719_163
}

/// One gold_test day file.
fn encode_day(
    file: &str,
    symbol: &str,
    times: &[i64],
    features: &[TestFeature],
    columns: &[FeatureValues],
    range: std::ops::Range<usize>,
    compression: FileCompression,
) -> Result<Bytes> {
    let mut fields = vec![
        Field::new(
            "open_time",
            DataType::Timestamp(ArrowTimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("symbol", DataType::Utf8, false),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from(times.to_vec()).with_timezone("UTC")),
        Arc::new(StringArray::from(vec![symbol; times.len()])),
    ];
    for (f, values) in features.iter().zip(columns) {
        match values {
            FeatureValues::Float(v) => {
                fields.push(Field::new(&f.name, DataType::Float64, true));
                arrays.push(Arc::new(Float64Array::from(
                    v[range.clone()]
                        .iter()
                        .map(|x| (!x.is_nan()).then_some(*x))
                        .collect::<Vec<_>>(),
                )));
            }
            FeatureValues::Direction(v) => {
                fields.push(Field::new(&f.name, DataType::Int8, true));
                arrays.push(Arc::new(Int8Array::from(v[range.clone()].to_vec())));
            }
        }
    }
    let err = |source| LakeError::Store {
        file: file.to_string(),
        source: Box::new(source),
    };
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| {
        err(ReplayError::Encode {
            what: "gold_test",
            reason: e.to_string(),
        })
    })?;
    encode("gold_test", &batch, compression).map_err(err)
}

/// The UTC day of a `…/year=YYYY/month=MM/day=DD/FILE` path.
fn partition_day(path: &str) -> Option<NaiveDate> {
    let mut parts = path.rsplit('/').skip(1);
    let mut field = |key: &str| -> Option<u32> { parts.next()?.strip_prefix(key)?.parse().ok() };
    let (d, m, y) = (field("day=")?, field("month=")?, field("year=")?);
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// The day files of a series in `layer` whose day meets `[start_ns, end_ns)`, in day order.
fn day_files(
    store: &Store,
    key: &SeriesKey,
    layer: Layer,
    start_ns: Option<i64>,
    end_ns: Option<i64>,
) -> Result<Vec<String>> {
    let dir = key.dir(layer);
    let lo = start_ns.map(|s| s.div_euclid(NS_PER_DAY));
    let hi = end_ns.map(|e| e.saturating_sub(1).div_euclid(NS_PER_DAY));
    let mut out: Vec<(NaiveDate, String)> = store
        .list(&dir)
        .map_err(store_err(store, &dir))?
        .into_iter()
        .filter(|e| e.path.ends_with(".parquet"))
        .filter_map(|e| Some((partition_day(&e.path)?, e.path)))
        .filter(|(d, _)| {
            let n = day_number(*d);
            lo.is_none_or(|lo| n >= lo) && hi.is_none_or(|hi| n <= hi)
        })
        .collect();
    out.sort();
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

/// A lazy scan of the given lake objects (fetched concurrently, scanned from memory).
fn scan(store: &Store, key: &SeriesKey, paths: &[String], layer: Layer) -> Result<LazyFrame> {
    let bodies = store
        .get_many(paths)
        .map_err(store_err(store, &key.dir(layer)))?;
    let buffers: Vec<polars_buffer::Buffer<u8>> = bodies
        .into_iter()
        .map(polars_buffer::Buffer::from_owner)
        .collect();
    let args = ScanArgsParquet {
        hive_options: polars::prelude::HiveOptions::new_disabled(),
        ..ScanArgsParquet::default()
    };
    LazyFrame::scan_parquet_sources(ScanSources::Buffers(Arc::from(buffers)), args)
        .map_err(|e| polars_err(key, layer, &e))
}

fn polars_err(key: &SeriesKey, layer: Layer, e: &PolarsError) -> LakeError {
    LakeError::Polars {
        what: format!("{layer} {key}"),
        reason: e.to_string(),
    }
}

/// Gold rows of a series in `[start_ns, end_ns)` (open time, UTC ns), in time order, with the
/// gold_test columns joined on `(open_time, symbol)` when `with_test` (polars lazy left join:
/// every gold row kept, null where gold_test has no row).
///
/// # Errors
/// [`LakeError::Store`] for listing/fetching, [`LakeError::BadLayer`] when the range holds no
/// gold file, [`LakeError::Polars`] for a file polars cannot read or a failed plan.
pub fn read_features(
    store: &Store,
    key: &SeriesKey,
    start_ns: Option<i64>,
    end_ns: Option<i64>,
    with_test: bool,
) -> Result<DataFrame> {
    let gold_paths = day_files(store, key, Layer::Gold, start_ns, end_ns)?;
    if gold_paths.is_empty() {
        return Err(LakeError::BadLayer {
            file: store.url_of(&key.dir(Layer::Gold)),
            reason: "no gold day file in the range (run hermes lake gold)".into(),
        });
    }
    let as_text = || col("symbol").cast(polars::prelude::DataType::String);
    let mut plan = scan(store, key, &gold_paths, Layer::Gold)?.with_column(as_text());
    if with_test {
        let test_paths = day_files(store, key, Layer::GoldTest, start_ns, end_ns)?;
        if test_paths.is_empty() {
            return Err(LakeError::BadLayer {
                file: store.url_of(&key.dir(Layer::GoldTest)),
                reason: "no gold_test day file in the range (run hermes lake gold \
                         --with-test-features)"
                    .into(),
            });
        }
        let test = scan(store, key, &test_paths, Layer::GoldTest)?.with_column(as_text());
        let on = [col("open_time"), col("symbol")];
        let mut args = JoinArgs::new(JoinType::Left);
        args.maintain_order = MaintainOrderJoin::Left;
        plan = plan.join(test, on.clone(), on, args);
    }
    let t = || col("open_time").cast(polars::prelude::DataType::Int64);
    if let Some(s) = start_ns {
        plan = plan.filter(t().gt_eq(lit(s)));
    }
    if let Some(e) = end_ns {
        plan = plan.filter(t().lt(lit(e)));
    }
    let df = match plan
        .collect_with_engine(polars::prelude::Engine::InMemory)
        .map_err(|e| polars_err(key, Layer::Gold, &e))?
    {
        QueryResult::Single(df) => df,
        QueryResult::Multiple(frames) => {
            return Err(LakeError::Polars {
                what: format!("gold {key}"),
                reason: format!("one plan gave {} frames, expected one", frames.len()),
            });
        }
    };
    Ok(df)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, kind: &str, params: &[(&str, f64)]) -> TestFeatureSpec {
        TestFeatureSpec {
            name: name.into(),
            kind: kind.into(),
            params: params.iter().map(|(k, v)| ((*k).to_string(), *v)).collect(),
        }
    }

    #[test]
    fn an_end_at_the_smallest_time_reads_nothing_without_overflow() {
        use crate::store::{LakeRoot, S3Options};
        let tmp = tempfile::tempdir().unwrap();
        let store =
            Store::create(&LakeRoot::Local(tmp.path().into()), &S3Options::default()).unwrap();
        let key = SeriesKey {
            market: Market::Spot,
            category: Category::Klines,
            symbol: "BTCUSDT".into(),
            interval: "1h".into(),
        };
        for with_test in [false, true] {
            let e = read_features(&store, &key, None, Some(i64::MIN), with_test).unwrap_err();
            assert!(matches!(e, LakeError::BadLayer { .. }), "{e:?}");
        }
    }

    #[test]
    fn spec_list_changes_the_fingerprint() {
        let a = [spec("r", "rsi", &[("period", 21.0)])];
        let b = [spec("r", "rsi", &[("period", 22.0)])];
        assert_ne!(spec_fingerprint(&a), spec_fingerprint(&b));
        assert_eq!(spec_fingerprint(&a), spec_fingerprint(&a.clone()));
        assert_eq!(
            partition_day("gold_test/x/year=2021/month=03/day=31/part-0.parquet"),
            NaiveDate::from_ymd_opt(2021, 3, 31)
        );
    }
}
