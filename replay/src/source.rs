//! The replay source: streams bars or trades of several symbols from the lake in event time.
//!
//! [`Replay::open`] lists each symbol's day partitions in the requested range — only the
//! months it spans (years for ranges over [`MONTH_LISTING_MAX`] months) — and records missing
//! days, then [`Replay::next_chunk`] hands out `chunk_days` days at a time, all
//! symbols merged by `(time, symbol index)`. Within a partition, rows outside the partition's
//! UTC day or the requested `[start, end)` are dropped, unsorted rows are sorted (stably),
//! and for bars repeated open times keep the first row; gaps are detected per symbol across
//! chunk boundaries. Everything dropped or missing is counted in the [`ReplayReport`]. The
//! output and the report do not depend on `chunk_days` or on prefetching.
//!
//! With [`ReplaySpec::prefetch`], a background thread fetches and decodes the next chunk
//! while the caller works on the current one (bounded: one chunk ahead, handed over through
//! a rendezvous channel). Owns ordering, filtering and the report; file formats live in
//! [`crate::bars`] and [`crate::trades`], object IO in [`crate::store`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::JoinHandle;

use bytes::Bytes;
use chrono::NaiveDate;

use crate::bars::{BarRecord, DecodeStats, decode_bars};
use crate::error::{ReplayError, Result};
use crate::layout::{Layer, PartitionPath};
use crate::report::{Counters, ReplayReport, SymbolReport};
use crate::store::{LakeRoot, Store};
use crate::trades::{TradeRecord, decode_trades};

/// Nanoseconds per UTC day.
pub const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySpec {
    /// The lake root; must be the root of the store passed to [`Replay::open`].
    pub root: LakeRoot,
    /// The layer to read.
    pub layer: Layer,
    /// Data provider, e.g. `binance`.
    pub provider: String,
    /// Market, e.g. `spot`.
    pub market: String,
    /// Category, e.g. `klines` or `trades`.
    pub category: String,
    /// Symbols; a record's `symbol` field is its index here, and ties in time are broken
    /// by this order.
    pub symbols: Vec<String>,
    /// Interval directory name, e.g. `1m` (`raw` for trades).
    pub interval: String,
    /// Interval length in ns: the gap threshold, and the bar length used when a bar file has
    /// no `close_time`. Must be > 0 for bars; 0 for trades turns gap detection off.
    pub interval_ns: i64,
    /// First time to emit (inclusive, UTC ns); `None` for the first partition.
    pub start_ns: Option<i64>,
    /// Time to stop before (exclusive, UTC ns); `None` for the last partition.
    pub end_ns: Option<i64>,
    /// Days (that have at least one partition) per chunk, ≥ 1.
    pub chunk_days: u32,
    /// Fetch and decode the next chunk on a background thread.
    pub prefetch: bool,
}

/// A record type the replay can stream: [`BarRecord`] or [`TradeRecord`].
pub trait LakeRecord: Copy + Send + 'static {
    /// `bars` or `trades`, for messages.
    const KIND: &'static str;
    /// Whether rows with equal times in one partition are duplicates (bars) or legitimate
    /// (trades).
    const DEDUP: bool;
    /// Whether `interval_ns` must be positive.
    const NEEDS_INTERVAL: bool;
    /// The event time used for ordering (bars: open time).
    fn ts_ns(&self) -> i64;
    /// The symbol index.
    fn symbol(&self) -> u16;
    /// Decodes one file, appending to `out`.
    ///
    /// # Errors
    /// See [`decode_bars`] and [`decode_trades`].
    fn decode(
        file: &str,
        bytes: Bytes,
        symbol: u16,
        interval_ns: i64,
        out: &mut Vec<Self>,
    ) -> Result<DecodeStats>;
}

impl LakeRecord for BarRecord {
    const KIND: &'static str = "bars";
    const DEDUP: bool = true;
    const NEEDS_INTERVAL: bool = true;
    #[inline]
    fn ts_ns(&self) -> i64 {
        self.open_time_ns
    }
    #[inline]
    fn symbol(&self) -> u16 {
        self.symbol
    }
    fn decode(
        file: &str,
        bytes: Bytes,
        symbol: u16,
        interval_ns: i64,
        out: &mut Vec<Self>,
    ) -> Result<DecodeStats> {
        decode_bars(file, bytes, symbol, interval_ns, out)
    }
}

impl LakeRecord for TradeRecord {
    const KIND: &'static str = "trades";
    const DEDUP: bool = false;
    const NEEDS_INTERVAL: bool = false;
    #[inline]
    fn ts_ns(&self) -> i64 {
        self.ts_ns
    }
    #[inline]
    fn symbol(&self) -> u16 {
        self.symbol
    }
    fn decode(
        file: &str,
        bytes: Bytes,
        symbol: u16,
        _interval_ns: i64,
        out: &mut Vec<Self>,
    ) -> Result<DecodeStats> {
        decode_trades(file, bytes, symbol, out)
    }
}

/// What [`Replay::next_chunk`] just delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkInfo {
    /// 0-based chunk number.
    pub index: usize,
    /// Number of chunks in the replay.
    pub chunks: usize,
    /// First UTC day of the chunk.
    pub first_day: NaiveDate,
    /// Last UTC day of the chunk.
    pub last_day: NaiveDate,
    /// Day partitions read (over all symbols).
    pub partitions: usize,
    /// Files read.
    pub files: usize,
    /// Bytes fetched.
    pub bytes: u64,
    /// Rows delivered.
    pub rows: usize,
}

/// Streams bars.
pub type BarReplay = Replay<BarRecord>;
/// Streams trades.
pub type TradeReplay = Replay<TradeRecord>;

#[derive(Debug, Clone)]
struct PartPlan {
    symbol: u16,
    day: i64,
    files: Vec<String>,
}

#[derive(Debug, Clone)]
struct ChunkPlan {
    first_day: i64,
    last_day: i64,
    parts: Vec<PartPlan>,
}

/// What the prefetcher needs to turn a plan into records.
struct Loader {
    store: Store,
    symbols: usize,
    interval_ns: i64,
    start_ns: i64,
    end_ns: i64,
}

struct Prepared<R> {
    records: Vec<R>,
    first_day: i64,
    last_day: i64,
    partitions: usize,
    files: usize,
    bytes: u64,
    per_symbol: Vec<Counters>,
    defaulted: BTreeMap<&'static str, u64>,
}

enum Mode<R> {
    Inline {
        loader: Loader,
        plans: std::vec::IntoIter<ChunkPlan>,
        spare: Vec<R>,
    },
    Prefetch {
        rx: Receiver<Result<Prepared<R>>>,
        recycle: SyncSender<Vec<R>>,
        worker: Option<JoinHandle<()>>,
    },
}

/// A running replay of one record type; see the module docs.
pub struct Replay<R: LakeRecord> {
    mode: Mode<R>,
    chunks: usize,
    days: usize,
    next_index: usize,
    interval_ns: i64,
    last_ts: Vec<Option<i64>>,
    report: ReplayReport,
    faulted: bool,
}

impl<R: LakeRecord> std::fmt::Debug for Replay<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("kind", &R::KIND)
            .field("series", &self.report.series)
            .field("chunks", &self.chunks)
            .field("next_index", &self.next_index)
            .finish_non_exhaustive()
    }
}

/// UTC day number (days since 1970-01-01) of a time.
#[must_use]
pub fn day_of(ns: i64) -> i64 {
    ns.div_euclid(NS_PER_DAY)
}

/// The date of a UTC day number, `None` outside chrono's range.
#[must_use]
pub fn date_of_day(day: i64) -> Option<NaiveDate> {
    let ce = i32::try_from(day.checked_add(719_163)?).ok()?;
    NaiveDate::from_num_days_from_ce_opt(ce)
}

fn day_of_date(d: NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&d)) - 719_163
}

fn date_string(day: i64) -> String {
    date_of_day(day).map_or_else(|| format!("day {day}"), |d| d.to_string())
}

fn validate(spec: &ReplaySpec, store: &Store, needs_interval: bool) -> Result<()> {
    let bad = |field, reason: String| Err(ReplayError::BadSpec { field, reason });
    if &spec.root != store.root() {
        return bad(
            "root",
            format!("{} is not the store's root {}", spec.root, store.root()),
        );
    }
    if spec.symbols.is_empty() {
        return bad("symbols", "no symbols".into());
    }
    if spec.symbols.len() > usize::from(u16::MAX) + 1 {
        return bad(
            "symbols",
            format!("{} symbols, at most 65536", spec.symbols.len()),
        );
    }
    let mut seen = BTreeSet::new();
    for s in &spec.symbols {
        if !seen.insert(s) {
            return bad("symbols", format!("{s} is listed twice"));
        }
    }
    if spec.chunk_days == 0 {
        return bad("chunk_days", "must be at least 1".into());
    }
    if spec.interval_ns < 0 || (needs_interval && spec.interval_ns == 0) {
        return bad(
            "interval_ns",
            format!(
                "{} (must be > 0 for bars, ≥ 0 for trades)",
                spec.interval_ns
            ),
        );
    }
    if let (Some(s), Some(e)) = (spec.start_ns, spec.end_ns)
        && s >= e
    {
        return bad("end_ns", format!("end {e} is not after start {s}"));
    }
    Ok(())
}

/// `{layer}/{provider}/{market}/{category}/{symbol}/{interval}`, checked by the layout.
fn series_dir(spec: &ReplaySpec, symbol: &str) -> Result<String> {
    let p = PartitionPath::new(
        spec.layer,
        &spec.provider,
        &spec.market,
        &spec.category,
        symbol,
        &spec.interval,
        (2000, 1, 1),
    )?;
    let dir = p.relative_dir();
    let cut = dir.len() - "/year=2000/month=01/day=01".len();
    Ok(dir[..cut].to_string())
}

/// Parses `year=YYYY/month=MM/day=DD` into a day number.
fn parse_partition(parts: &[&str]) -> std::result::Result<i64, String> {
    let field = |s: &str, key: &str| -> std::result::Result<u32, String> {
        s.strip_prefix(key)
            .and_then(|v| v.strip_prefix('='))
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("expected {key}=N, found {s:?}"))
    };
    let [y, m, d] = parts else {
        return Err("expected year=YYYY/month=MM/day=DD/FILE.parquet".into());
    };
    let year = i32::try_from(field(y, "year")?).map_err(|e| e.to_string())?;
    let (month, day) = (field(m, "month")?, field(d, "day")?);
    NaiveDate::from_ymd_opt(year, month, day)
        .map(day_of_date)
        .ok_or_else(|| format!("{year:04}-{month:02}-{day:02} is not a date"))
}

/// Ranges spanning at most this many calendar months are listed month by month.
pub const MONTH_LISTING_MAX: i32 = 36;

/// The prefixes to list for a series directory and an inclusive day range: one per month
/// (`…/year=YYYY/month=MM`) when the range spans at most [`MONTH_LISTING_MAX`] months, so a
/// one-month query lists (and then reads) only that month's partitions; else one per year;
/// the whole series for an open range.
#[must_use]
pub fn listing_prefixes(dir: &str, days: (Option<i64>, Option<i64>)) -> Vec<String> {
    let (Some(lo), Some(hi)) = days else {
        return vec![dir.to_string()];
    };
    let ym = |d| date_of_day(d).map(|x| (chrono::Datelike::year(&x), chrono::Datelike::month(&x)));
    let (Some((y0, m0)), Some((y1, m1))) = (ym(lo), ym(hi)) else {
        return vec![dir.to_string()];
    };
    let month_index = |y: i32, m: u32| y * 12 + i32::try_from(m).unwrap_or(1) - 1;
    let (a, b) = (month_index(y0, m0), month_index(y1, m1));
    if b < a {
        return Vec::new();
    }
    if b - a < MONTH_LISTING_MAX {
        (a..=b)
            .map(|k| {
                format!(
                    "{dir}/year={:04}/month={:02}",
                    k.div_euclid(12),
                    k.rem_euclid(12) + 1
                )
            })
            .collect()
    } else if y1 - y0 < 200 {
        (y0..=y1).map(|y| format!("{dir}/year={y:04}")).collect()
    } else {
        vec![dir.to_string()]
    }
}

/// One symbol's partitions in the day range, as day → sorted file paths.
fn list_symbol(
    store: &Store,
    dir: &str,
    days: (Option<i64>, Option<i64>),
    report: &mut ReplayReport,
) -> Result<BTreeMap<i64, Vec<String>>> {
    let prefixes = listing_prefixes(dir, days);
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for prefix in prefixes {
        for entry in store.list(&prefix)? {
            let Some(rest) = entry
                .path
                .strip_prefix(dir)
                .and_then(|r| r.strip_prefix('/'))
            else {
                report.record_ignored(store.url_of(&entry.path));
                continue;
            };
            if rest == crate::lake::QUALITY_FILE || rest == crate::lake::GOLD_STATE_FILE {
                // The series' quality table (silver) or state (gold): lake metadata.
                continue;
            }
            let parts: Vec<&str> = rest.split('/').collect();
            let name = parts.last().copied().unwrap_or("");
            if name.starts_with('.') || name.starts_with('_') || !name.ends_with(".parquet") {
                report.record_ignored(store.url_of(&entry.path));
                continue;
            }
            let day = parse_partition(&parts[..parts.len() - 1]).map_err(|reason| {
                ReplayError::BadPartition {
                    url: store.url_of(&entry.path),
                    reason,
                }
            })?;
            if days.0.is_some_and(|lo| day < lo) || days.1.is_some_and(|hi| day > hi) {
                continue;
            }
            out.entry(day).or_default().push(entry.path);
        }
    }
    Ok(out)
}

impl<R: LakeRecord> Replay<R> {
    /// Lists the partitions of every symbol and plans the chunks; with `prefetch`, starts
    /// fetching the first chunk.
    ///
    /// # Errors
    /// [`ReplayError::BadSpec`] (also when `spec.root` is not the store's root),
    /// [`ReplayError::Layout`] for unusable path segments, [`ReplayError::List`],
    /// [`ReplayError::BadPartition`] for a `.parquet` object outside the day layout,
    /// [`ReplayError::NoPartitions`] when a symbol has no partition in the range, and
    /// [`ReplayError::Prefetch`] when the thread cannot start.
    pub fn open(store: &Store, spec: &ReplaySpec) -> Result<Self> {
        validate(spec, store, R::NEEDS_INTERVAL)?;
        let day_lo = spec.start_ns.map(day_of);
        let day_hi = spec.end_ns.map(|e| day_of(e - 1));
        let mut report = ReplayReport {
            root: store.root().to_string(),
            series: format!(
                "{}/{}/{}/{}/*/{}",
                spec.layer, spec.provider, spec.market, spec.category, spec.interval
            ),
            start_ns: spec.start_ns,
            end_ns: spec.end_ns,
            symbols: spec
                .symbols
                .iter()
                .map(|s| SymbolReport {
                    symbol: s.clone(),
                    ..SymbolReport::default()
                })
                .collect(),
            ..ReplayReport::default()
        };
        // day → (symbol, files), days and symbols in order.
        let mut by_day: BTreeMap<i64, Vec<PartPlan>> = BTreeMap::new();
        for (i, symbol) in spec.symbols.iter().enumerate() {
            let dir = series_dir(spec, symbol)?;
            let parts = list_symbol(store, &dir, (day_lo, day_hi), &mut report)?;
            let (Some(&first), Some(&last)) = (parts.keys().next(), parts.keys().next_back())
            else {
                return Err(ReplayError::NoPartitions {
                    symbol: symbol.clone(),
                    category: spec.category.clone(),
                    url: store.url_of(&dir),
                });
            };
            for day in day_lo.unwrap_or(first)..=day_hi.unwrap_or(last) {
                if !parts.contains_key(&day) {
                    report.record_missing(i, date_string(day));
                }
            }
            let sym = u16::try_from(i).unwrap_or(u16::MAX);
            for (day, files) in parts {
                report.files_listed += files.len() as u64;
                by_day.entry(day).or_default().push(PartPlan {
                    symbol: sym,
                    day,
                    files,
                });
            }
        }
        let days: Vec<(i64, Vec<PartPlan>)> = by_day.into_iter().collect();
        let plans: Vec<ChunkPlan> = days
            .chunks(spec.chunk_days as usize)
            .map(|group| ChunkPlan {
                first_day: group[0].0,
                last_day: group[group.len() - 1].0,
                parts: group.iter().flat_map(|(_, p)| p.iter().cloned()).collect(),
            })
            .collect();
        let chunks = plans.len();
        let n_days = days.len();
        let loader = Loader {
            store: store.clone(),
            symbols: spec.symbols.len(),
            interval_ns: spec.interval_ns,
            start_ns: spec.start_ns.unwrap_or(i64::MIN),
            end_ns: spec.end_ns.unwrap_or(i64::MAX),
        };
        let mode = if spec.prefetch {
            spawn_prefetch(loader, plans)?
        } else {
            Mode::Inline {
                loader,
                plans: plans.into_iter(),
                spare: Vec::new(),
            }
        };
        Ok(Self {
            mode,
            chunks,
            days: n_days,
            next_index: 0,
            interval_ns: spec.interval_ns,
            last_ts: vec![None; spec.symbols.len()],
            report,
            faulted: false,
        })
    }

    /// Number of chunks planned.
    #[must_use]
    pub fn chunks(&self) -> usize {
        self.chunks
    }

    /// Number of UTC days with at least one partition of some symbol in the range (an upper
    /// bound on the days the replay spans, for sizing buffers).
    #[must_use]
    pub fn days(&self) -> usize {
        self.days
    }

    /// The report so far; complete when [`ReplayReport::finished`] is set.
    #[must_use]
    pub fn report(&self) -> &ReplayReport {
        &self.report
    }

    /// Consumes the replay, returning its report.
    #[must_use]
    pub fn into_report(self) -> ReplayReport {
        self.report
    }

    /// Replaces the contents of `out` with the next chunk's records in `(time, symbol)`
    /// order, or returns `None` (leaving `out` empty) when the replay is finished. A chunk may
    /// be empty when all its rows were dropped (and counted). Reusing `out` across calls
    /// avoids reallocating.
    ///
    /// # Errors
    /// Any store or decode error of the chunk's files (naming the file); after an error the
    /// replay is faulted and further calls return [`ReplayError::Faulted`].
    pub fn next_chunk(&mut self, out: &mut Vec<R>) -> Result<Option<ChunkInfo>> {
        out.clear();
        if self.faulted {
            return Err(ReplayError::Faulted);
        }
        let prepared = match self.take_prepared(std::mem::take(out)) {
            Ok(Some(p)) => p,
            Ok(None) => {
                self.report.finished = true;
                return Ok(None);
            }
            Err(e) => {
                self.faulted = true;
                return Err(e);
            }
        };
        let Prepared {
            records,
            first_day,
            last_day,
            partitions,
            files,
            bytes,
            per_symbol,
            defaulted,
        } = prepared;
        *out = records;
        for (i, c) in per_symbol.iter().enumerate() {
            self.report.symbols[i].counts.add_read(c);
            self.report.totals.add_read(c);
        }
        for (col, n) in defaulted {
            *self
                .report
                .defaulted_columns
                .entry(col.to_string())
                .or_default() += n;
        }
        self.scan(out);
        let info = ChunkInfo {
            index: self.next_index,
            chunks: self.chunks,
            first_day: date_of_day(first_day).unwrap_or_default(),
            last_day: date_of_day(last_day).unwrap_or_default(),
            partitions,
            files,
            bytes,
            rows: out.len(),
        };
        self.next_index += 1;
        Ok(Some(info))
    }

    fn take_prepared(&mut self, old: Vec<R>) -> Result<Option<Prepared<R>>> {
        match &mut self.mode {
            Mode::Inline {
                loader,
                plans,
                spare,
            } => {
                let Some(plan) = plans.next() else {
                    return Ok(None);
                };
                let buf = std::mem::replace(spare, old);
                loader.prepare(&plan, buf).map(Some)
            }
            Mode::Prefetch {
                rx,
                recycle,
                worker,
            } => {
                // The worker may reuse the caller's previous buffer; if it has one, drop it.
                let _ = recycle.try_send(old);
                match rx.recv() {
                    Ok(r) => r.map(Some),
                    Err(_) if self.next_index >= self.chunks => {
                        if let Some(h) = worker.take() {
                            let _ = h.join();
                        }
                        Ok(None)
                    }
                    Err(_) => Err(ReplayError::Prefetch {
                        reason: format!(
                            "thread stopped before chunk {} of {}",
                            self.next_index + 1,
                            self.chunks
                        ),
                    }),
                }
            }
        }
    }

    /// Per-symbol first/last times, rows emitted and gaps (across chunk boundaries).
    fn scan(&mut self, records: &[R]) {
        let interval = self.interval_ns;
        for r in records {
            let s = usize::from(r.symbol());
            let t = r.ts_ns();
            if let Some(prev) = self.last_ts[s] {
                let d = t.saturating_sub(prev);
                if interval > 0 && d > interval {
                    let missing = u64::try_from((d - 1) / interval).unwrap_or(0);
                    self.report.record_gap(s, prev, t, missing);
                }
            } else {
                self.report.symbols[s].first_ns = Some(t);
            }
            self.last_ts[s] = Some(t);
            self.report.symbols[s].counts.rows_emitted += 1;
        }
        self.report.totals.rows_emitted += records.len() as u64;
        for (s, last) in self.last_ts.iter().enumerate() {
            self.report.symbols[s].last_ns = *last;
        }
    }
}

fn spawn_prefetch<R: LakeRecord>(loader: Loader, plans: Vec<ChunkPlan>) -> Result<Mode<R>> {
    // Rendezvous: the worker holds at most the one chunk it has prepared until the caller
    // takes it, so it never runs more than one chunk ahead.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Prepared<R>>>(0);
    let (recycle, recycled) = std::sync::mpsc::sync_channel::<Vec<R>>(1);
    let worker = std::thread::Builder::new()
        .name("replay-prefetch".into())
        .spawn(move || {
            for plan in plans {
                let buf: Vec<R> = recycled.try_recv().unwrap_or_default();
                let r = loader.prepare(&plan, buf);
                let failed = r.is_err();
                if tx.send(r).is_err() || failed {
                    return;
                }
            }
        })
        .map_err(|e| ReplayError::Prefetch {
            reason: format!("cannot start: {e}"),
        })?;
    Ok(Mode::Prefetch {
        rx,
        recycle,
        worker: Some(worker),
    })
}

impl Loader {
    /// Fetches, decodes and cleans one chunk, then merges it by `(time, symbol)`.
    fn prepare<R: LakeRecord>(&self, plan: &ChunkPlan, mut buf: Vec<R>) -> Result<Prepared<R>> {
        let paths: Vec<&str> = plan
            .parts
            .iter()
            .flat_map(|p| p.files.iter().map(String::as_str))
            .collect();
        let fetched = self.store.get_many(&paths)?;
        let mut fetched = fetched.into_iter();
        let mut per_symbol = vec![Counters::default(); self.symbols];
        let mut defaulted: BTreeMap<&'static str, u64> = BTreeMap::new();
        let (mut files, mut bytes) = (0usize, 0u64);
        buf.clear();
        for part in &plan.parts {
            let c = &mut per_symbol[usize::from(part.symbol)];
            c.partitions += 1;
            let from = buf.len();
            for file in &part.files {
                let data = fetched.next().unwrap_or_default();
                let len = data.len() as u64;
                let url = self.store.url_of(file);
                let stats = R::decode(&url, data, part.symbol, self.interval_ns, &mut buf)?;
                c.files += 1;
                c.bytes += len;
                c.rows_read += stats.rows;
                files += 1;
                bytes += len;
                for col in stats.defaulted {
                    *defaulted.entry(col).or_default() += 1;
                }
            }
            let day_lo = part.day.saturating_mul(NS_PER_DAY);
            let day_hi = day_lo.saturating_add(NS_PER_DAY);
            clean_partition(
                &mut buf,
                from,
                (day_lo, day_hi),
                (self.start_ns, self.end_ns),
                c,
            );
        }
        // Each partition is sorted; a stable sort finds those runs and merges them.
        buf.sort_by_key(|r| (r.ts_ns(), r.symbol()));
        Ok(Prepared {
            records: buf,
            first_day: plan.first_day,
            last_day: plan.last_day,
            partitions: plan.parts.len(),
            files,
            bytes,
            per_symbol,
            defaulted,
        })
    }
}

/// Filters `buf[from..]` to its day and the range, sorts it if needed and (bars) drops
/// repeated times, counting everything in `c`.
fn clean_partition<R: LakeRecord>(
    buf: &mut Vec<R>,
    from: usize,
    (day_lo, day_hi): (i64, i64),
    (start, end): (i64, i64),
    c: &mut Counters,
) {
    let mut w = from;
    let mut prev = i64::MIN;
    let mut descents = 0u64;
    for i in from..buf.len() {
        let r = buf[i];
        let t = r.ts_ns();
        if t < day_lo || t >= day_hi {
            c.outside_partition_rows += 1;
            continue;
        }
        if t < start || t >= end {
            c.outside_range_rows += 1;
            continue;
        }
        if t < prev {
            descents += 1;
        }
        prev = t;
        buf[w] = r;
        w += 1;
    }
    buf.truncate(w);
    if descents > 0 {
        c.unsorted_partitions += 1;
        c.unsorted_rows += descents;
        buf[from..].sort_by_key(LakeRecord::ts_ns);
    }
    if R::DEDUP && buf.len() > from + 1 {
        let mut w = from + 1;
        for i in from + 1..buf.len() {
            let r = buf[i];
            if r.ts_ns() == buf[w - 1].ts_ns() {
                c.duplicates += 1;
            } else {
                buf[w] = r;
                w += 1;
            }
        }
        buf.truncate(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_prefixes_by_month_year_or_series() {
        let day = |y, m, d| day_of_date(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        let p = |lo, hi| listing_prefixes("s", (Some(lo), Some(hi)));
        assert_eq!(
            p(day(2020, 3, 1), day(2020, 3, 31)),
            ["s/year=2020/month=03"]
        );
        assert_eq!(
            p(day(2019, 12, 15), day(2020, 1, 14)),
            ["s/year=2019/month=12", "s/year=2020/month=01"]
        );
        // 36 months by month, 37 by year.
        let m36 = p(day(2018, 1, 1), day(2020, 12, 31));
        assert_eq!((m36.len(), m36[35].as_str()), (36, "s/year=2020/month=12"));
        assert_eq!(
            p(day(2018, 1, 1), day(2021, 1, 1)),
            ["s/year=2018", "s/year=2019", "s/year=2020", "s/year=2021"]
        );
        assert_eq!(listing_prefixes("s", (None, Some(day(2020, 1, 1)))), ["s"]);
        assert_eq!(listing_prefixes("s", (Some(0), None)), ["s"]);
        assert!(p(day(2020, 2, 1), day(2020, 1, 1)).is_empty());
    }

    fn bar(t: i64) -> BarRecord {
        BarRecord {
            symbol: 0,
            open_time_ns: t,
            close_time_ns: t + 9,
            open: t as f64,
            high: 0.0,
            low: 0.0,
            close: 0.0,
            volume: 0.0,
            quote_volume: 0.0,
            trade_count: 0,
        }
    }

    #[test]
    fn cleaning_filters_sorts_and_dedups_only_its_segment() {
        let mut buf: Vec<BarRecord> = [5, 1000, 130, 110, 110, 120, 250, 90, 200]
            .into_iter()
            .map(bar)
            .collect();
        buf[3].open = -1.0; // the first of two rows at 110 must survive
        let mut c = Counters::default();
        // Segment starts at 1: rows 1000 (outside day [100, 300)), 90 (outside day),
        // 250 (outside range [0, 240)).
        clean_partition(&mut buf, 1, (100, 300), (0, 240), &mut c);
        let times: Vec<i64> = buf.iter().map(|b| b.open_time_ns).collect();
        assert_eq!(times, [5, 110, 120, 130, 200]);
        assert_eq!(buf[1].open, -1.0);
        assert_eq!(c.outside_partition_rows, 2);
        assert_eq!(c.outside_range_rows, 1);
        assert_eq!(c.duplicates, 1);
        assert_eq!((c.unsorted_partitions, c.unsorted_rows), (1, 1));
    }

    #[test]
    fn days_and_dates_agree() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        let n = day_of_date(d);
        assert_eq!(date_of_day(n), Some(d));
        assert_eq!(day_of(n * NS_PER_DAY), n);
        assert_eq!(day_of(n * NS_PER_DAY - 1), n - 1);
        assert_eq!(day_of(-1), -1);
        assert_eq!(date_of_day(0).unwrap().to_string(), "1970-01-01");
    }

    #[test]
    fn partition_paths_parse_strictly() {
        let d = parse_partition(&["year=2024", "month=02", "day=29"]).unwrap();
        assert_eq!(date_string(d), "2024-02-29");
        for bad in [
            vec!["year=2023", "month=02", "day=29"],
            vec!["year=2024", "month=2x", "day=01"],
            vec!["year=2024", "day=01", "month=02"],
            vec!["year=2024", "month=02"],
        ] {
            assert!(parse_partition(&bad).is_err(), "{bad:?}");
        }
    }
}
