//! The lake's catalog: what is in it ([`inventory`], `hermes lake ls`) and, per series, its
//! size, time range, quality and provenance ([`stats`], `hermes lake stats`).
//!
//! Sources, cheapest first, and nothing else:
//! - the **listing** of each layer (`{layer}/{provider}/{market}/{category}/{symbol}/
//!   {interval}/year=/month=/day=/FILE`): days, files, bytes;
//! - the **ledger** (bronze): committed source versions, their rows, time range, versions
//!   and supersessions; listed bronze files no entry names are *orphans* (a crash or a failed
//!   ingest; invisible to every reader);
//! - each silver series' **`_quality.parquet`** (silver's commit record): rows, and for
//!   [`stats`] completeness, gaps, duplicates, misaligned bars, outliers (klines, read with
//!   [`read_quality`]) or duplicates, id gaps, missing ids, out-of-order and invalid rows
//!   (trades and aggTrades, by the series' category, read with [`read_trade_quality`]);
//! - each gold series' **`_state.json`** (gold's commit record, day → fingerprint): gold day
//!   files it does not list are counted as orphans (uncommitted);
//! - for gold and gold_test, which keep no row counts in a commit object, the **Parquet
//!   footer** of each day file, fetched with a ranged GET of the file's tail
//!   ([`FOOTER_PROBE`] bytes, then the exact footer length if it is longer): rows and the
//!   column names. Data pages are never read.
//!
//! A commit object or footer that cannot be read is a *problem* of its series (reported, the
//! row count left unknown), not an error of the whole listing: `ls` is how a damaged lake is
//! inspected. Owns the inventory model and its assembly; no rendering.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bytes::Bytes;
use chrono::NaiveDate;
use parquet::file::metadata::{FooterTail, ParquetMetaDataReader};
use serde::Serialize;

use super::error::{LakeError, Result};
use super::gold::{GOLD_STATE_FILE, GoldState};
use super::ledger::{LedgerEntry, read_ledger};
use super::quality::{QUALITY_FILE, QualityRow, SeriesQuality, read_quality};
use super::source::Category;
use super::trade_quality::{TradeQualityRow, TradeSeriesQuality, read_trade_quality};
use crate::layout::Layer;
use crate::store::Store;

/// Bytes of a day file's tail fetched first for its footer (most gold footers fit).
pub const FOOTER_PROBE: u64 = 16 * 1024;

/// Parquet's trailer: 4-byte footer length and the magic.
const TRAILER: usize = 8;

/// The layers, in the order the catalog reports them.
pub const LAYERS: [Layer; 4] = [Layer::Bronze, Layer::Silver, Layer::Gold, Layer::GoldTest];

/// One series' place in the layout (the same in every layer).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SeriesPath {
    /// Data provider, e.g. `binance`.
    pub provider: String,
    /// Market, e.g. `spot`, `futures-um`.
    pub market: String,
    /// Category: `klines`, `trades`, `aggTrades`.
    pub category: String,
    /// Symbol.
    pub symbol: String,
    /// Kline interval or `raw`.
    pub interval: String,
}

impl fmt::Display for SeriesPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.market, self.category, self.symbol, self.interval
        )
    }
}

impl SeriesPath {
    /// `{layer}/{provider}/{market}/{category}/{symbol}/{interval}`.
    #[must_use]
    pub fn dir(&self, layer: Layer) -> String {
        format!("{layer}/{}/{self}", self.provider)
    }
}

/// Which part of the lake to report; empty lists select everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogFilter {
    /// Layers.
    pub layers: Vec<Layer>,
    /// Symbols (exact, as in the paths).
    pub symbols: Vec<String>,
}

impl CatalogFilter {
    fn layer(&self, l: Layer) -> bool {
        self.layers.is_empty() || self.layers.contains(&l)
    }

    fn symbol(&self, s: &str) -> bool {
        self.symbols.is_empty() || self.symbols.iter().any(|x| x == s)
    }
}

/// Where a row count comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowsFrom {
    /// The committed ledger entries (bronze: every version's rows, superseded ones too).
    Ledger,
    /// The series' `_quality.parquet` (silver).
    Quality,
    /// The day files' Parquet footers (gold, gold_test).
    Footers,
    /// Not known: the commit object or a footer is missing or unreadable (see `problems`).
    Unknown,
}

/// One series of one layer, as `hermes lake ls` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesInventory {
    /// The layer.
    #[serde(serialize_with = "layer_name")]
    pub layer: Layer,
    /// The series.
    #[serde(flatten)]
    pub series: SeriesPath,
    /// First UTC day with data (bronze: committed partitions; else day files listed).
    #[serde(serialize_with = "opt_date")]
    pub first_day: Option<NaiveDate>,
    /// Last UTC day with data.
    #[serde(serialize_with = "opt_date")]
    pub last_day: Option<NaiveDate>,
    /// Days with data.
    pub days: u64,
    /// Data files (bronze: committed files, orphans not included).
    pub files: u64,
    /// Rows, when known (see `rows_from`).
    pub rows: Option<u64>,
    /// Where `rows` comes from.
    pub rows_from: RowsFrom,
    /// Bytes of every object of the series in the layer (orphans and commit objects
    /// included: what it occupies).
    pub bytes: u64,
    /// Bronze: distinct source files (by market, category and name); 0 elsewhere.
    pub sources: u64,
    /// Bronze: committed source versions (ledger entries); 0 elsewhere.
    pub versions: u64,
    /// Bronze: the highest version of any of its sources (1 = never re-delivered).
    pub latest_version: u32,
    /// Bronze: versions a newer version of the same source replaces (kept, unread by silver
    /// where the newer one has the same rows).
    pub superseded: u64,
    /// Listed day files no commit record names: bronze files no ledger entry lists, gold
    /// files `_state.json` does not list (0 for silver and gold_test).
    pub orphans: u64,
    /// What could not be read (the series is still listed).
    pub problems: Vec<String>,
}

/// A series' bronze figures for [`SeriesStats`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BronzeStats {
    /// First committed day.
    #[serde(serialize_with = "opt_date")]
    pub first_day: Option<NaiveDate>,
    /// Last committed day.
    #[serde(serialize_with = "opt_date")]
    pub last_day: Option<NaiveDate>,
    /// Committed days.
    pub days: u64,
    /// Committed files.
    pub files: u64,
    /// Rows of every committed version.
    pub rows: u64,
    /// Bytes listed (orphans included).
    pub bytes: u64,
    /// Distinct source files.
    pub sources: u64,
    /// Committed source versions.
    pub versions: u64,
    /// The highest version number.
    pub latest_version: u32,
    /// Versions replaced by a newer one.
    pub superseded: u64,
    /// Uncommitted files.
    pub orphans: u64,
    /// Earliest event time of any version, UTC ns.
    pub first_ns: Option<i64>,
    /// Latest event time of any version, UTC ns.
    pub last_ns: Option<i64>,
}

/// A series' silver figures for [`SeriesStats`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SilverStats {
    /// Day files listed.
    pub days: u64,
    /// Bytes listed (the quality table included).
    pub bytes: u64,
    /// First open time (klines) or trade time (trades, aggTrades), UTC ns (from the
    /// quality table).
    pub first_open_ns: Option<i64>,
    /// Last open time or trade time, UTC ns.
    pub last_open_ns: Option<i64>,
    /// Totals of a klines series' quality table (`None` for a trade series, or when the
    /// table is missing or unreadable).
    pub quality: Option<SeriesQuality>,
    /// Totals of a trades/aggTrades series' quality table (`None` for a klines series, or
    /// when the table is missing or unreadable).
    pub trade_quality: Option<TradeSeriesQuality>,
}

/// A series' gold or gold_test figures for [`SeriesStats`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerStats {
    /// Day files listed.
    pub days: u64,
    /// Rows from the footers (`None` if one is unreadable).
    pub rows: Option<u64>,
    /// Bytes listed.
    pub bytes: u64,
    /// First day.
    #[serde(serialize_with = "opt_date")]
    pub first_day: Option<NaiveDate>,
    /// Last day.
    #[serde(serialize_with = "opt_date")]
    pub last_day: Option<NaiveDate>,
    /// Silver days that have a day file in this layer, in % (`None` without silver days).
    pub coverage_pct: Option<f64>,
    /// The columns of the newest day file.
    pub columns: Vec<String>,
}

/// One series over all layers, as `hermes lake stats` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesStats {
    /// The series.
    #[serde(flatten)]
    pub series: SeriesPath,
    /// Rows: silver's when it has the series, else bronze's.
    pub rows: Option<u64>,
    /// Bytes in all layers.
    pub bytes: u64,
    /// First time, UTC ns: silver's first open time, else bronze's earliest event.
    pub first_ns: Option<i64>,
    /// Last time, UTC ns.
    pub last_ns: Option<i64>,
    /// Bronze.
    pub bronze: Option<BronzeStats>,
    /// Silver.
    pub silver: Option<SilverStats>,
    /// Gold.
    pub gold: Option<LayerStats>,
    /// gold_test.
    pub gold_test: Option<LayerStats>,
    /// What could not be read.
    pub problems: Vec<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn layer_name<S: serde::Serializer>(l: &Layer, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(l.as_str())
}

#[allow(clippy::ref_option)]
fn opt_date<S: serde::Serializer>(
    d: &Option<NaiveDate>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.collect_str(d),
        None => s.serialize_none(),
    }
}

/// What the listing shows of one series in one layer.
#[derive(Debug, Clone, Default)]
struct Listed {
    /// Day files: path → size.
    files: BTreeMap<String, u64>,
    /// Objects beside the `year=` directories (`_quality.parquet`, `_state.json`): name → size.
    meta: BTreeMap<String, u64>,
    /// Every object's bytes.
    bytes: u64,
}

impl Listed {
    fn days(&self) -> BTreeSet<NaiveDate> {
        self.files.keys().filter_map(|p| partition_day(p)).collect()
    }
}

/// The UTC day of a `…/year=YYYY/month=MM/day=DD/FILE` path.
fn partition_day(path: &str) -> Option<NaiveDate> {
    let mut parts = path.rsplit('/').skip(1);
    let mut field = |key: &str| -> Option<u32> { parts.next()?.strip_prefix(key)?.parse().ok() };
    let (d, m, y) = (field("day=")?, field("month=")?, field("year=")?);
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// `(series, rest)` of a path relative to a layer directory; `None` for a path too short to
/// belong to a series.
fn split_series(rest: &str) -> Option<(SeriesPath, &str)> {
    let mut it = rest.splitn(6, '/');
    let mut next = || it.next().map(str::to_string);
    let series = SeriesPath {
        provider: next()?,
        market: next()?,
        category: next()?,
        symbol: next()?,
        interval: next()?,
    };
    let tail = it.next()?;
    Some((series, tail))
}

fn store_err(store: &Store, rel: &str) -> impl Fn(crate::ReplayError) -> LakeError {
    let file = store.url_of(rel);
    move |source| LakeError::Store {
        file: file.clone(),
        source: Box::new(source),
    }
}

/// The listing of `layer`, by series (symbols filtered).
fn list_layer(
    store: &Store,
    layer: Layer,
    filter: &CatalogFilter,
) -> Result<BTreeMap<SeriesPath, Listed>> {
    let prefix = layer.as_str();
    let mut out: BTreeMap<SeriesPath, Listed> = BTreeMap::new();
    for e in store.list(prefix).map_err(store_err(store, prefix))? {
        let Some(rest) = e
            .path
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('/'))
        else {
            continue;
        };
        let Some((series, tail)) = split_series(rest) else {
            continue;
        };
        if !filter.symbol(&series.symbol) {
            continue;
        }
        let l = out.entry(series).or_default();
        l.bytes += e.size;
        if tail.contains('/') {
            l.files.insert(e.path, e.size);
        } else {
            l.meta.insert(tail.to_string(), e.size);
        }
    }
    Ok(out)
}

/// The bronze inventory: ledger entries grouped by series, joined with the listing.
fn bronze(store: &Store, filter: &CatalogFilter) -> Result<Vec<(SeriesPath, BronzeStats)>> {
    let ledger = read_ledger(store)?;
    let mut listed = list_layer(store, Layer::Bronze, filter)?;
    let mut by_series: BTreeMap<SeriesPath, Vec<&LedgerEntry>> = BTreeMap::new();
    for e in ledger.entries.values() {
        let series = SeriesPath {
            provider: super::bronze::PROVIDER.to_string(),
            market: e.market.as_str().to_string(),
            category: e.category.as_str().to_string(),
            symbol: e.symbol.clone(),
            interval: e.interval.clone(),
        };
        if filter.symbol(&series.symbol) {
            by_series.entry(series).or_default().push(e);
        }
    }
    for s in listed.keys() {
        by_series.entry(s.clone()).or_default();
    }
    Ok(by_series
        .into_iter()
        .map(|(series, entries)| {
            let l = listed.remove(&series).unwrap_or_default();
            let committed: BTreeSet<&str> = entries
                .iter()
                .flat_map(|e| e.partitions.iter().map(String::as_str))
                .collect();
            let replaced: BTreeSet<&str> = entries
                .iter()
                .filter_map(|e| e.supersedes.as_deref())
                .collect();
            let days: BTreeSet<NaiveDate> =
                committed.iter().filter_map(|p| partition_day(p)).collect();
            let (first_day, last_day) = first_last(&days);
            let stats = BronzeStats {
                first_day,
                last_day,
                days: days.len() as u64,
                files: committed.len() as u64,
                rows: entries.iter().map(|e| e.rows).sum(),
                bytes: l.bytes,
                sources: entries
                    .iter()
                    .map(|e| e.source_name.as_str())
                    .collect::<BTreeSet<_>>()
                    .len() as u64,
                versions: entries.len() as u64,
                latest_version: entries.iter().map(|e| e.version).max().unwrap_or(0),
                superseded: entries
                    .iter()
                    .filter(|e| replaced.contains(e.sha256.as_str()))
                    .count() as u64,
                orphans: l
                    .files
                    .keys()
                    .filter(|p| !committed.contains(p.as_str()))
                    .count() as u64,
                first_ns: entries.iter().map(|e| e.first_ns).min(),
                last_ns: entries.iter().map(|e| e.last_ns).max(),
            };
            (series, stats)
        })
        .collect())
}

fn bronze_inventory(store: &Store, filter: &CatalogFilter) -> Result<Vec<SeriesInventory>> {
    Ok(bronze(store, filter)?
        .into_iter()
        .map(|(series, b)| SeriesInventory {
            layer: Layer::Bronze,
            first_day: b.first_day,
            last_day: b.last_day,
            days: b.days,
            files: b.files,
            rows: Some(b.rows),
            rows_from: RowsFrom::Ledger,
            bytes: b.bytes,
            sources: b.sources,
            versions: b.versions,
            latest_version: b.latest_version,
            superseded: b.superseded,
            orphans: b.orphans,
            problems: Vec::new(),
            series,
        })
        .collect())
}

/// A silver series' quality table: the klines table or the trade table.
#[derive(Debug, Clone)]
enum SilverQuality {
    Klines(Vec<QualityRow>),
    Trades(Vec<TradeQualityRow>),
}

impl SilverQuality {
    fn rows(&self) -> u64 {
        match self {
            SilverQuality::Klines(q) => q.iter().map(|r| r.rows).sum(),
            SilverQuality::Trades(q) => q.iter().map(|r| r.rows).sum(),
        }
    }
}

/// Whether a series' category is a trade category (its quality table is the trade table).
fn is_trade_series(series: &SeriesPath) -> bool {
    [Category::Trades, Category::AggTrades]
        .iter()
        .any(|c| c.as_str() == series.category)
}

/// The quality rows of each listed silver series that has a quality table (read
/// concurrently, with the trade reader for trades and aggTrades series); a missing or
/// unreadable table is a problem of its series.
fn silver_quality(
    store: &Store,
    listed: &BTreeMap<SeriesPath, Listed>,
) -> Result<BTreeMap<SeriesPath, std::result::Result<SilverQuality, String>>> {
    let with: Vec<(&SeriesPath, String)> = listed
        .iter()
        .filter(|(_, l)| l.meta.contains_key(QUALITY_FILE))
        .map(|(s, _)| (s, format!("{}/{QUALITY_FILE}", s.dir(Layer::Silver))))
        .collect();
    let paths: Vec<&str> = with.iter().map(|(_, p)| p.as_str()).collect();
    let bodies = store
        .get_many(&paths)
        .map_err(store_err(store, Layer::Silver.as_str()))?;
    let mut out = BTreeMap::new();
    for ((series, path), body) in with.into_iter().zip(bodies) {
        let file = store.url_of(&path);
        let rows = if is_trade_series(series) {
            read_trade_quality(&file, body).map(SilverQuality::Trades)
        } else {
            read_quality(&file, body).map(SilverQuality::Klines)
        }
        .map_err(|e| e.to_string());
        out.insert(series.clone(), rows);
    }
    for s in listed.keys() {
        out.entry(s.clone()).or_insert_with(|| {
            Err(format!(
                "{} is missing: silver has not committed this series",
                store.url_of(&format!("{}/{QUALITY_FILE}", s.dir(Layer::Silver)))
            ))
        });
    }
    Ok(out)
}

/// What a day file's footer says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Footer {
    rows: u64,
    columns: Vec<String>,
}

/// Decodes the footer from a file's tail; `Err(Some(n))` when the tail is too short and the
/// last `n` bytes are needed.
fn decode_footer(tail: &Bytes, whole: bool) -> std::result::Result<Footer, Option<u64>> {
    let n = tail.len();
    let Some(trailer) = tail
        .get(n.saturating_sub(TRAILER)..)
        .filter(|t| t.len() == TRAILER)
    else {
        return Err(None);
    };
    let meta_len = FooterTail::try_from(trailer)
        .map_err(|_| None)?
        .metadata_length();
    let need = meta_len + TRAILER;
    if need > n {
        return if whole {
            Err(None)
        } else {
            Err(Some(need as u64))
        };
    }
    let meta =
        ParquetMetaDataReader::decode_metadata(&tail[n - need..n - TRAILER]).map_err(|_| None)?;
    let fm = meta.file_metadata();
    Ok(Footer {
        rows: u64::try_from(fm.num_rows()).unwrap_or(0),
        columns: fm
            .schema_descr()
            .root_schema()
            .get_fields()
            .iter()
            .map(|f| f.name().to_string())
            .collect(),
    })
}

/// The footers of day files (path → size), in order; an unreadable one is an `Err` naming it.
fn footers(
    store: &Store,
    files: &[(&str, u64)],
) -> Result<Vec<std::result::Result<Footer, String>>> {
    let paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
    let tails = store
        .get_tails(&paths, FOOTER_PROBE)
        .map_err(store_err(store, ""))?;
    let mut out = Vec::with_capacity(files.len());
    for (&(path, size), tail) in files.iter().zip(tails) {
        let bad = || format!("{}: not a readable Parquet footer", store.url_of(path));
        let whole = tail.len() as u64 >= size;
        let f = match decode_footer(&tail, whole) {
            Ok(f) => Ok(f),
            Err(Some(need)) => {
                let tail = store
                    .get_tails(&[path], need)
                    .map_err(store_err(store, path))?
                    .pop()
                    .unwrap_or_default();
                decode_footer(&tail, true).map_err(|_| bad())
            }
            Err(None) => Err(bad()),
        };
        out.push(f);
    }
    Ok(out)
}

/// Rows (if every footer reads), the newest file's columns, and the problems.
fn layer_rows(store: &Store, l: &Listed) -> Result<(Option<u64>, Vec<String>, Vec<String>)> {
    let files: Vec<(&str, u64)> = l.files.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    let mut rows = Some(0u64);
    let mut columns = Vec::new();
    let mut problems = Vec::new();
    for f in footers(store, &files)? {
        match f {
            Ok(f) => {
                rows = rows.map(|r| r + f.rows);
                columns = f.columns;
            }
            Err(p) => {
                rows = None;
                problems.push(p);
            }
        }
    }
    Ok((rows, columns, problems))
}

fn first_last(days: &BTreeSet<NaiveDate>) -> (Option<NaiveDate>, Option<NaiveDate>) {
    (days.first().copied(), days.last().copied())
}

/// Every series of every selected layer, layer by layer in [`LAYERS`] order, series in path
/// order (see the module docs for what is read).
///
/// # Errors
/// [`LakeError::Store`] when a listing or a GET fails, [`LakeError::Ledger`] for a ledger
/// entry that does not parse. A missing or unreadable quality table or footer is a problem of
/// its series instead.
pub fn inventory(store: &Store, filter: &CatalogFilter) -> Result<Vec<SeriesInventory>> {
    let mut out = Vec::new();
    for layer in LAYERS.into_iter().filter(|l| filter.layer(*l)) {
        if layer == Layer::Bronze {
            out.extend(bronze_inventory(store, filter)?);
            continue;
        }
        let listed = list_layer(store, layer, filter)?;
        let quality = if layer == Layer::Silver {
            silver_quality(store, &listed)?
        } else {
            BTreeMap::new()
        };
        for (series, l) in listed {
            let mut orphans = 0;
            let days = l.days();
            let (first_day, last_day) = first_last(&days);
            let (rows, rows_from, problems) = if layer == Layer::Silver {
                match quality.get(&series) {
                    Some(Ok(q)) => (Some(q.rows()), RowsFrom::Quality, vec![]),
                    Some(Err(p)) => (None, RowsFrom::Unknown, vec![p.clone()]),
                    None => (None, RowsFrom::Unknown, vec![]),
                }
            } else {
                let (rows, _, mut problems) = layer_rows(store, &l)?;
                if layer == Layer::Gold {
                    orphans = gold_uncommitted(store, &series, &l, &mut problems)?;
                }
                let from = if rows.is_some() {
                    RowsFrom::Footers
                } else {
                    RowsFrom::Unknown
                };
                (rows, from, problems)
            };
            out.push(SeriesInventory {
                layer,
                series,
                first_day,
                last_day,
                days: days.len() as u64,
                files: l.files.len() as u64,
                rows,
                rows_from,
                bytes: l.bytes,
                sources: 0,
                versions: 0,
                latest_version: 0,
                superseded: 0,
                orphans,
                problems,
            });
        }
    }
    Ok(out)
}

/// Gold day files the series' `_state.json` (gold's commit record) does not list: left by a
/// crashed run, or by a run whose state could not be read (a problem). Without a state every
/// day file is uncommitted.
fn gold_uncommitted(
    store: &Store,
    series: &SeriesPath,
    l: &Listed,
    problems: &mut Vec<String>,
) -> Result<u64> {
    let committed: BTreeSet<String> = if l.meta.contains_key(GOLD_STATE_FILE) {
        let path = format!("{}/{GOLD_STATE_FILE}", series.dir(Layer::Gold));
        let body = store.get(&path).map_err(store_err(store, &path))?;
        match serde_json::from_slice::<GoldState>(&body) {
            Ok(state) => state.days.into_keys().collect(),
            Err(e) => {
                problems.push(format!("{}: {e}", store.url_of(&path)));
                return Ok(0);
            }
        }
    } else {
        BTreeSet::new()
    };
    Ok(l.files
        .keys()
        .filter(|p| partition_day(p).is_none_or(|d| !committed.contains(&d.to_string())))
        .count() as u64)
}

/// Gold or gold_test figures of one listed series.
fn layer_stats(
    store: &Store,
    l: &Listed,
    silver_days: Option<&BTreeSet<NaiveDate>>,
    problems: &mut Vec<String>,
) -> Result<LayerStats> {
    let days = l.days();
    let (first_day, last_day) = first_last(&days);
    let (rows, columns, p) = layer_rows(store, l)?;
    problems.extend(p);
    #[allow(clippy::cast_precision_loss)]
    let coverage_pct = silver_days
        .filter(|s| !s.is_empty())
        .map(|s| s.intersection(&days).count() as f64 * 100.0 / s.len() as f64);
    Ok(LayerStats {
        days: days.len() as u64,
        rows,
        bytes: l.bytes,
        first_day,
        last_day,
        coverage_pct,
        columns,
    })
}

/// Per series over all layers: rows, bytes, time range, the silver quality totals (klines or
/// trade), bronze
/// versions and gold coverage (series in path order; `filter.layers` is ignored).
///
/// # Errors
/// As [`inventory`].
pub fn stats(store: &Store, filter: &CatalogFilter) -> Result<Vec<SeriesStats>> {
    let bronze = bronze(store, filter)?;
    let silver = list_layer(store, Layer::Silver, filter)?;
    let quality = silver_quality(store, &silver)?;
    let gold = list_layer(store, Layer::Gold, filter)?;
    let gold_test = list_layer(store, Layer::GoldTest, filter)?;
    let mut all: BTreeMap<SeriesPath, SeriesStats> = BTreeMap::new();
    let blank = |series: &SeriesPath| SeriesStats {
        series: series.clone(),
        rows: None,
        bytes: 0,
        first_ns: None,
        last_ns: None,
        bronze: None,
        silver: None,
        gold: None,
        gold_test: None,
        problems: Vec::new(),
    };
    for (series, b) in bronze {
        let s = all.entry(series.clone()).or_insert_with(|| blank(&series));
        s.rows = Some(b.rows);
        s.bytes += b.bytes;
        s.first_ns = b.first_ns;
        s.last_ns = b.last_ns;
        s.bronze = Some(b);
    }
    let mut silver_days: BTreeMap<SeriesPath, BTreeSet<NaiveDate>> = BTreeMap::new();
    for (series, l) in &silver {
        let s = all.entry(series.clone()).or_insert_with(|| blank(series));
        s.bytes += l.bytes;
        let days = l.days();
        let mut st = SilverStats {
            days: days.len() as u64,
            bytes: l.bytes,
            first_open_ns: None,
            last_open_ns: None,
            quality: None,
            trade_quality: None,
        };
        match quality.get(series) {
            Some(Ok(SilverQuality::Klines(rows))) => {
                let with_bars = || rows.iter().filter(|r| r.rows > 0);
                st.first_open_ns = with_bars().map(|r| r.first_open_time).min();
                st.last_open_ns = with_bars().map(|r| r.last_open_time).max();
                let q = SeriesQuality::of(rows);
                s.rows = Some(q.rows);
                s.first_ns = st.first_open_ns.or(s.first_ns);
                s.last_ns = st.last_open_ns.or(s.last_ns);
                st.quality = Some(q);
            }
            Some(Ok(SilverQuality::Trades(rows))) => {
                let q = TradeSeriesQuality::of(rows);
                st.first_open_ns = q.first_time;
                st.last_open_ns = q.last_time;
                s.rows = Some(q.rows);
                s.first_ns = st.first_open_ns.or(s.first_ns);
                s.last_ns = st.last_open_ns.or(s.last_ns);
                st.trade_quality = Some(q);
            }
            Some(Err(p)) => {
                s.rows = None;
                s.problems.push(p.clone());
            }
            None => {}
        }
        s.silver = Some(st);
        silver_days.insert(series.clone(), days);
    }
    for (layer, listed) in [(Layer::Gold, &gold), (Layer::GoldTest, &gold_test)] {
        for (series, l) in listed {
            let s = all.entry(series.clone()).or_insert_with(|| blank(series));
            let st = layer_stats(store, l, silver_days.get(series), &mut s.problems)?;
            s.bytes += st.bytes;
            if layer == Layer::Gold {
                s.gold = Some(st);
            } else {
                s.gold_test = Some(st);
            }
        }
    }
    Ok(all.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_layout_paths() {
        let (s, tail) =
            split_series("binance/spot/klines/BTCUSDT/1m/year=2020/month=01/day=01/x.parquet")
                .unwrap();
        assert_eq!(s.to_string(), "spot/klines/BTCUSDT/1m");
        assert_eq!(s.dir(Layer::Gold), "gold/binance/spot/klines/BTCUSDT/1m");
        assert_eq!(tail, "year=2020/month=01/day=01/x.parquet");
        assert_eq!(
            split_series("binance/spot/klines/BTCUSDT/1m/_quality.parquet")
                .unwrap()
                .1,
            "_quality.parquet"
        );
        assert!(split_series("binance/spot/klines/BTCUSDT/1m").is_none());
        assert_eq!(
            partition_day("silver/x/year=2020/month=02/day=29/part-0.parquet"),
            NaiveDate::from_ymd_opt(2020, 2, 29)
        );
        assert_eq!(partition_day("silver/x/year=2021/month=02/day=29/p"), None);
        assert_eq!(partition_day("silver/x/_quality.parquet"), None);
    }

    #[test]
    fn footer_from_a_tail_or_asks_for_more() {
        let bars: Vec<crate::BarRecord> = (0..5)
            .map(|i| crate::BarRecord {
                symbol: 0,
                open_time_ns: i * 60_000_000_000,
                close_time_ns: i * 60_000_000_000 + 59_999_999_999,
                open: 1.0,
                high: 2.0,
                low: 0.5,
                close: 1.5,
                volume: 3.0,
                quote_volume: 4.0,
                trade_count: 7,
            })
            .collect();
        let file = crate::write_bars_parquet(&bars).unwrap();
        let f = decode_footer(&file, true).unwrap();
        assert_eq!(f.rows, 5);
        assert!(
            f.columns.iter().any(|c| c == "open_time"),
            "{:?}",
            f.columns
        );
        let short = file.slice(file.len() - 20..);
        let need = decode_footer(&short, false).unwrap_err().unwrap();
        assert!(need > 20 && need < file.len() as u64, "{need}");
        assert_eq!(
            decode_footer(&file.slice(file.len() - need as usize..), true),
            Ok(f)
        );
        assert_eq!(decode_footer(&short, true), Err(None));
        assert_eq!(
            decode_footer(&Bytes::from_static(b"not parquet"), true),
            Err(None)
        );
    }
}
