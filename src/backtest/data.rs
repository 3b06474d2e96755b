//! Market data for a backtest: one bar file (CSV, CSV.GZ or Parquet) or the lake, and the
//! embedded demo market the README's first command replays.
//!
//! Owns input checks and data-quality accounting for files (the lake's own accounting is the
//! replay crate's [`replay::ReplayReport`]). Nothing is skipped silently: unsorted rows are
//! sorted and counted, duplicated bar times keep the first row and are counted, gaps are
//! listed, and all of it lands in the report.

use std::path::Path;

use anyhow::{Context, Result};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use replay::BarRecord;
use serde::Serialize;

use crate::error::BadInput;
use crate::table::read_table;

/// A gap between consecutive bars of one symbol.
#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    /// Symbol.
    pub symbol: String,
    /// Start of the last bar before the gap (RFC 3339).
    pub after: String,
    /// Start of the first bar after the gap (RFC 3339).
    pub before: String,
    /// Bars missing.
    pub missing_bars: i64,
}

/// Data-quality accounting of a single-file source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileQuality {
    /// The file.
    pub source: String,
    /// Rows in the file.
    pub rows: usize,
    /// Rows that were not after the row before (the file was sorted by time).
    pub unsorted_rows: usize,
    /// Rows dropped because their bar time repeated an earlier row's.
    pub duplicates: usize,
    /// Number of gaps.
    pub gap_count: usize,
    /// Bars missing across all gaps.
    pub missing_bars: i64,
    /// The first 100 gaps.
    pub gaps: Vec<Gap>,
    /// Bar interval used (ns): configured, or the most common spacing in the file.
    pub interval_ns: i64,
}

/// Loads one bar file as symbol 0, sorted by time and deduplicated.
///
/// # Errors
/// [`BadInput`] naming the file and the column or row for a missing column, an unparseable
/// time or price, or a bar whose values are inconsistent (high < low, non-positive price).
pub fn load_file(
    path: &Path,
    symbol: &str,
    interval_ns: Option<i64>,
) -> Result<(Vec<BarRecord>, FileQuality)> {
    let name = path.display().to_string();
    let raw = if crate::table::Format::of(path)? == crate::table::Format::Parquet {
        parquet_rows(&name, read_bytes(path)?)?
    } else {
        read_text(path)?
    };
    load_rows(&name, raw, symbol, interval_ns)
}

/// [`load_file`] after reading: the file's rows `raw` sorted, checked, deduplicated, with the
/// interval's close times, and their quality.
fn load_rows(
    name: &str,
    raw: Vec<BarRecord>,
    symbol: &str,
    interval_ns: Option<i64>,
) -> Result<(Vec<BarRecord>, FileQuality)> {
    let mut q = FileQuality {
        source: name.to_string(),
        rows: raw.len(),
        ..FileQuality::default()
    };
    let mut raw = raw;
    q.unsorted_rows = raw
        .windows(2)
        .filter(|w| w[1].open_time_ns < w[0].open_time_ns)
        .count();
    if q.unsorted_rows > 0 {
        // Stable: among equal times the first row in the file is kept below.
        raw.sort_by_key(|r| r.open_time_ns);
    }
    for (i, r) in raw.iter().enumerate() {
        check_row(name, i + 1, r)?;
    }
    // In place: the first row of each bar time is kept.
    let mut rows = raw;
    let before = rows.len();
    rows.dedup_by_key(|r| r.open_time_ns);
    q.duplicates = before - rows.len();
    if rows.is_empty() {
        return Err(BadInput::new(format!("{name}: no bars")));
    }
    let times: Vec<i64> = rows.iter().map(|r| r.open_time_ns).collect();
    let interval = spacing_and_gaps(name, symbol, &times, interval_ns, &mut q)?;
    for r in &mut rows {
        r.close_time_ns = r.open_time_ns + interval - 1;
    }
    Ok((rows, q))
}

/// The bar interval (`interval_ns`, or the most common spacing) and the gaps of the sorted,
/// deduplicated bar times `times`, into `q`.
fn spacing_and_gaps(
    name: &str,
    symbol: &str,
    times: &[i64],
    interval_ns: Option<i64>,
    q: &mut FileQuality,
) -> Result<i64> {
    let interval = match interval_ns {
        Some(i) => i,
        None => most_common_spacing(times).ok_or_else(|| {
            BadInput::new(format!(
                "{name}: cannot infer the bar interval from a single bar; pass --interval"
            ))
        })?,
    };
    q.interval_ns = interval;
    let mut fmt = super::isotime::IsoFormatter::default();
    for w in times.windows(2) {
        let d = w[1] - w[0];
        if d > interval {
            q.gap_count += 1;
            let missing = d / interval - 1;
            q.missing_bars += missing;
            if q.gaps.len() < 100 {
                q.gaps.push(Gap {
                    symbol: symbol.to_string(),
                    after: fmt.format(w[0]),
                    before: fmt.format(w[1]),
                    missing_bars: missing,
                });
            }
        }
    }
    Ok(interval)
}

/// A bar file's rows: all of them, or a stream over a large Parquet file.
pub enum FileBars {
    /// Loaded (CSV files, and Parquet files whose rows are out of order).
    Loaded(Vec<BarRecord>),
    /// Decoded batch by batch as the replay reads it (a time-ordered Parquet file).
    Streamed(Box<FileStream>),
}

/// A time-ordered Parquet bar file read batch by batch: rows are validated, deduplicated (the
/// first row of a bar time is kept), restricted to the run's range and given the interval's
/// close time, exactly as [`load_file`] does, without holding the decoded file in memory.
pub struct FileStream {
    name: String,
    decoder: replay::BarFileDecoder,
    interval: i64,
    start: Option<i64>,
    end: Option<i64>,
    /// Rows of the file read so far (for error messages).
    row: usize,
    last_kept: Option<i64>,
}

impl FileStream {
    /// The next chunk of rows into `out` (cleared first); `false` at the end of the file.
    ///
    /// # Errors
    /// [`BadInput`] naming the file and row (a corrupt batch or an invalid bar).
    pub fn next_chunk(&mut self, out: &mut Vec<BarRecord>) -> Result<bool> {
        out.clear();
        while out.is_empty() {
            let base = self.row;
            let more = self
                .decoder
                .next_batch(out)
                .map_err(|e| BadInput::new(e.to_string()))?;
            if !more {
                return Ok(false);
            }
            self.row += out.len();
            let mut keep = 0;
            for i in 0..out.len() {
                let mut r = out[i];
                check_row(&self.name, base + i + 1, &r)?;
                let t = r.open_time_ns;
                if self.last_kept == Some(t) {
                    continue;
                }
                self.last_kept = Some(t);
                if self.start.is_some_and(|s| t < s) || self.end.is_some_and(|e| t >= e) {
                    continue;
                }
                default_trade_count(&mut r);
                r.close_time_ns = t + self.interval - 1;
                out[keep] = r;
                keep += 1;
            }
            out.truncate(keep);
        }
        Ok(true)
    }
}

/// Opens one bar file as symbol 0 for a run over `[start, end)`: a time-ordered Parquet file is
/// streamed (its order, duplicates, spacing and gaps are first read from its time column alone),
/// anything else is loaded by [`load_file`] and cut to the range.
///
/// # Errors
/// As [`load_file`], and [`BadInput`] when no bar falls in the range.
pub fn open_file(
    path: &Path,
    symbol: &str,
    interval_ns: Option<i64>,
    start: Option<i64>,
    end: Option<i64>,
) -> Result<(FileBars, FileQuality)> {
    let name = path.display().to_string();
    let in_range = |t: i64| start.is_none_or(|s| t >= s) && end.is_none_or(|e| t < e);
    let no_bars = || BadInput::new(format!("{name}: no bars in the requested range"));
    let (mut rows, q) = if crate::table::Format::of(path)? == crate::table::Format::Parquet {
        // Read through the open file, not into memory: the first look reads only the time
        // column's chunks, and the decoder then reads a row group's chunks as it reaches them
        // (on the replay thread), instead of the whole file being copied before replay starts.
        let file = open_input(path)?;
        let mut times = Vec::new();
        replay::decode_bar_times(&name, open_input(path)?, &mut times)
            .map_err(|e| BadInput::new(e.to_string()))?;
        if times.windows(2).all(|w| w[0] <= w[1]) {
            let mut q = FileQuality {
                source: name.clone(),
                rows: times.len(),
                ..FileQuality::default()
            };
            times.dedup();
            q.duplicates = q.rows - times.len();
            if times.is_empty() {
                return Err(BadInput::new(format!("{name}: no bars")));
            }
            let interval = spacing_and_gaps(&name, symbol, &times, interval_ns, &mut q)?;
            if !times.iter().any(|&t| in_range(t)) {
                return Err(no_bars());
            }
            drop(times);
            let decoder = replay::BarFileDecoder::open(&name, file, 0, 1)
                .map_err(|e| BadInput::new(e.to_string()))?;
            let stream = FileStream {
                name,
                decoder,
                interval,
                start,
                end,
                row: 0,
                last_kept: None,
            };
            return Ok((FileBars::Streamed(Box::new(stream)), q));
        }
        // Out of order: loaded whole and sorted, from the bytes already read.
        load_rows(
            &name,
            parquet_rows(&name, read_bytes(path)?)?,
            symbol,
            interval_ns,
        )?
    } else {
        load_file(path, symbol, interval_ns)?
    };
    rows.retain(|r| in_range(r.open_time_ns));
    if rows.is_empty() {
        return Err(no_bars());
    }
    Ok((FileBars::Loaded(rows), q))
}

/// Row `row` (1-based, in file order after sorting) of `file` as a valid bar, or why not.
fn check_row(file: &str, row: usize, r: &BarRecord) -> Result<()> {
    let (o, h, l, c, v, qv) = (r.open, r.high, r.low, r.close, r.volume, r.quote_volume);
    for (field, x) in [("open", o), ("high", h), ("low", l), ("close", c)] {
        if !(x.is_finite() && x > 0.0) {
            return Err(BadInput::new(format!(
                "{file}: row {row}: {field} = {x} is not a positive price"
            )));
        }
    }
    if !(h >= l && h >= o.max(c) && l <= o.min(c)) {
        return Err(BadInput::new(format!(
            "{file}: row {row}: inconsistent bar (open {o}, high {h}, low {l}, close {c})"
        )));
    }
    if !(v.is_finite() && v >= 0.0 && qv.is_finite() && qv >= 0.0) {
        return Err(BadInput::new(format!(
            "{file}: row {row}: volume = {v} / quote volume = {qv} is not a non-negative number"
        )));
    }
    Ok(())
}

/// `path` opened for reading; a missing or unreadable file is [`crate::error::NoInput`].
fn open_input(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path)
        .map_err(|e| crate::error::NoInput::new(format!("cannot open {}: {e}", path.display())))
}

/// The bytes of `path`; a missing or unreadable file is [`crate::error::NoInput`].
fn read_bytes(path: &Path) -> Result<bytes::Bytes> {
    std::fs::read(path)
        .map(bytes::Bytes::from)
        .map_err(|e| crate::error::NoInput::new(format!("cannot open {}: {e}", path.display())))
}

/// The rows of a Parquet bar file `name` through the lake's decoder (arrow arrays, tens of
/// millions of rows/s).
fn parquet_rows(name: &str, bytes: bytes::Bytes) -> Result<Vec<BarRecord>> {
    let mut out = Vec::new();
    replay::decode_bars(name, bytes, 0, 1, &mut out).map_err(|e| BadInput::new(e.to_string()))?;
    out.iter_mut().for_each(default_trade_count);
    Ok(out)
}

/// Without a trade count, a bar with volume counts as one trade.
fn default_trade_count(r: &mut BarRecord) {
    if r.trade_count == 0 && (r.volume > 0.0 || r.quote_volume > 0.0) {
        r.trade_count = 1;
    }
}

/// A CSV / CSV.GZ bar file (headerless Binance klines included) through the table reader.
fn read_text(path: &Path) -> Result<Vec<BarRecord>> {
    let table = read_table(path)?;
    let name = path.display().to_string();
    let time_col = table.time_column_name().ok_or_else(|| {
        BadInput::new(format!(
            "{name}: missing a time column (time, open_time, timestamp); columns: {}",
            table.names.join(",")
        ))
    })?;
    let times = table.times(&time_col)?;
    let col = |c: &str| table.f64s(c);
    let (open, high, low, close) = (col("open")?, col("high")?, col("low")?, col("close")?);
    let optional = |names: &[&str]| -> Result<Option<Vec<f64>>> {
        match names.iter().find(|n| table.find(n).is_some()) {
            Some(n) => Ok(Some(table.f64s(n)?)),
            None => Ok(None),
        }
    };
    let volume = optional(&["volume"])?;
    let quote_volume = optional(&["quote_volume", "quote_asset_volume"])?;
    let count = optional(&["count", "trade_count", "trades", "number_of_trades"])?;
    Ok((0..times.len())
        .map(|i| {
            let v = volume.as_ref().map_or(0.0, |x| x[i]);
            let qv = quote_volume.as_ref().map_or(v * close[i], |x| x[i]);
            // Without a trade-count column, a bar with volume counts as one trade.
            let trades = count
                .as_ref()
                .map_or(u64::from(v > 0.0), |x| x[i].max(0.0) as u64);
            BarRecord {
                symbol: 0,
                open_time_ns: times[i],
                close_time_ns: 0,
                open: open[i],
                high: high[i],
                low: low[i],
                close: close[i],
                volume: v,
                quote_volume: qv,
                trade_count: if v > 0.0 { trades.max(1) } else { trades },
            }
        })
        .collect())
}

fn most_common_spacing(times: &[i64]) -> Option<i64> {
    // A bar file has a handful of distinct spacings (the interval, gaps); count them in a
    // small table and sort only when there are many.
    let mut counts: Vec<(i64, usize)> = Vec::with_capacity(16);
    let mut few = true;
    for w in times.windows(2) {
        let d = w[1] - w[0];
        if d <= 0 {
            continue;
        }
        if let Some((_, n)) = counts.iter_mut().find(|(v, _)| *v == d) {
            *n += 1;
        } else if counts.len() < 64 {
            counts.push((d, 1));
        } else {
            few = false;
            break;
        }
    }
    if few {
        // The most frequent; among equally frequent spacings the smallest.
        return counts
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|&(d, _)| d);
    }
    most_common_by_sort(times)
}

/// [`most_common_spacing`] by sorting every spacing.
fn most_common_by_sort(times: &[i64]) -> Option<i64> {
    let mut diffs: Vec<i64> = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0)
        .collect();
    diffs.sort_unstable();
    let mut best = (0usize, None);
    let mut i = 0;
    while i < diffs.len() {
        let j = diffs[i..].partition_point(|d| *d == diffs[i]) + i;
        if j - i > best.0 {
            best = (j - i, Some(diffs[i]));
        }
        i = j;
    }
    best.1
}

/// The embedded demo market: `days` days of 1-minute bars for `symbols`, from a seeded
/// 3-state regime-switching model with correlated returns (a common market factor), so the
/// adaptive pipeline has regimes to find. Deterministic in `seed`.
#[must_use]
pub fn demo_bars(symbols: usize, days: usize, seed: u64, start_ns: i64) -> Vec<Vec<BarRecord>> {
    // (drift per minute, volatility per minute, market beta) per regime.
    const REGIMES: [(f64, f64, f64); 3] =
        [(4e-5, 6e-4, 0.8), (0.0, 3e-4, 0.5), (-5e-5, 1.6e-3, 0.9)];
    const STAY: f64 = 0.9995;
    let minute = 60_000_000_000i64;
    let n = days * 1440;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out: Vec<Vec<BarRecord>> = (0..symbols).map(|_| Vec::with_capacity(n)).collect();
    let mut price: Vec<f64> = (0..symbols)
        .map(|s| [60_000.0, 3_000.0, 150.0, 0.5][s % 4])
        .collect();
    let mut state = 1usize;
    // The calm regime mean-reverts towards the log price it started at (an OU pull of KAPPA
    // per minute), so mean reversion has something to find there.
    const KAPPA: f64 = 0.01;
    let mut anchor: Vec<f64> = price.iter().map(|p| p.ln()).collect();
    for t in 0..n {
        let u: f64 = rng.random();
        if u > STAY {
            state = (state + 1 + usize::from(rng.random::<f64>() < 0.5)) % 3;
            anchor = price.iter().map(|p| p.ln()).collect();
        }
        let (mu, sigma, beta) = REGIMES[state];
        let market: f64 = StandardNormal.sample(&mut rng);
        for (s, series) in out.iter_mut().enumerate() {
            let own: f64 = StandardNormal.sample(&mut rng);
            let pull = if state == 1 {
                -KAPPA * (price[s].ln() - anchor[s])
            } else {
                0.0
            };
            let r = mu + pull + sigma * (beta * market + (1.0 - beta * beta).sqrt() * own);
            let open = price[s];
            let close = open * r.exp();
            let wick: f64 = StandardNormal.sample(&mut rng);
            let spread = sigma * 0.5 * wick.abs();
            let high = open.max(close) * (1.0 + spread);
            let low = open.min(close) * (1.0 - spread);
            let open_time = start_ns + t as i64 * minute;
            let vol = 10.0 * (1.0 + rng.random::<f64>());
            series.push(BarRecord {
                symbol: s as u16,
                open_time_ns: open_time,
                close_time_ns: open_time + minute - 1,
                open: round_tick(open),
                high: round_tick(high),
                low: round_tick(low),
                close: round_tick(close),
                volume: vol,
                quote_volume: vol * close,
                trade_count: 100,
            });
            price[s] = round_tick(close);
        }
    }
    out
}

fn round_tick(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Writes the demo market into the lake at `root` (local directory), one Parquet file per
/// symbol and day, unless a manifest says this exact market is already there.
///
/// # Errors
/// IO failures naming the path.
pub fn ensure_demo_lake(root: &Path, spec: &DemoSpec) -> Result<bool> {
    let manifest = root.join("_hermes_demo.json");
    let want = serde_json::to_string(spec)?;
    if std::fs::read_to_string(&manifest).is_ok_and(|m| m == want) {
        return Ok(false);
    }
    let series = demo_bars(spec.symbols.len(), spec.days, spec.seed, spec.start_ns);
    let day_ns = 86_400_000_000_000i64;
    for (s, bars) in series.iter().enumerate() {
        for day in bars.chunks(1440) {
            let t0 = day[0].open_time_ns;
            let date = chrono::DateTime::from_timestamp_nanos(t0.div_euclid(day_ns) * day_ns);
            use chrono::Datelike;
            let part = replay::PartitionPath::new(
                replay::Layer::Silver,
                "binance",
                "spot",
                "klines",
                &spec.symbols[s],
                "1m",
                (date.year(), date.month(), date.day()),
            )?;
            let dir = root.join(part.relative_dir());
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let bytes = replay::write_bars_parquet(day)?;
            crate::table::write_atomically(&dir.join("part-0.parquet"), |w| {
                std::io::Write::write_all(w, &bytes)?;
                Ok(())
            })?;
        }
    }
    crate::table::write_atomically(&manifest, |w| {
        std::io::Write::write_all(w, want.as_bytes())?;
        Ok(())
    })?;
    Ok(true)
}

/// What the demo market is (its manifest).
#[derive(Debug, Clone, Serialize)]
pub struct DemoSpec {
    /// Generator version: bumped whenever [`demo_bars`] changes, so an old lake is rewritten.
    pub generator: u32,
    /// Symbols.
    pub symbols: Vec<String>,
    /// Days of 1-minute bars.
    pub days: usize,
    /// Seed.
    pub seed: u64,
    /// First bar time.
    pub start_ns: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drains a file opened by [`open_file`] into rows.
    fn drain(bars: FileBars) -> Result<Vec<BarRecord>> {
        match bars {
            FileBars::Loaded(rows) => Ok(rows),
            FileBars::Streamed(mut s) => {
                let (mut all, mut chunk) = (Vec::new(), Vec::new());
                while s.next_chunk(&mut chunk)? {
                    all.extend_from_slice(&chunk);
                }
                Ok(all)
            }
        }
    }

    fn parquet_bars(
        dir: &Path,
        name: &str,
        times: &[i64],
        bad_row: Option<usize>,
    ) -> std::path::PathBuf {
        let rows: Vec<BarRecord> = times
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let p = 100.0 + i as f64;
                BarRecord {
                    symbol: 0,
                    open_time_ns: t,
                    close_time_ns: t + 59_999_999_999,
                    open: p,
                    high: if bad_row == Some(i) { p - 5.0 } else { p + 1.0 },
                    low: p - 1.0,
                    close: p + 0.5,
                    volume: 2.0,
                    quote_volume: 2.0 * p,
                    trade_count: 0,
                }
            })
            .collect();
        let path = dir.join(name);
        std::fs::write(&path, replay::write_bars_parquet(&rows).unwrap()).unwrap();
        path
    }

    #[test]
    fn a_sorted_parquet_file_streams_the_rows_a_full_load_gives() {
        let d = tempfile::tempdir().unwrap();
        const M: i64 = 60_000_000_000;
        // Sorted, with duplicates (first kept) and a gap; many rows so it spans batches.
        let mut times: Vec<i64> = (0..20_000)
            .map(|i| 1_700_000_040 * 1_000_000_000 + i * M)
            .collect();
        let (t500, t0) = (times[500], times[0]);
        times.insert(500, t500);
        let t9000 = times[9_000];
        times.insert(9_000, t9000);
        times.retain(|t| !(t0 + 7_000 * M..t0 + 7_010 * M).contains(t));
        let path = parquet_bars(d.path(), "sorted.parquet", &times, None);
        let (start, end) = (Some(times[0] + 100 * M), Some(times[0] + 15_000 * M));
        let (bars, q) = open_file(&path, "BTCUSDT", None, start, end).unwrap();
        assert!(matches!(bars, FileBars::Streamed(_)));
        let streamed = drain(bars).unwrap();
        let (mut loaded, lq) = load_file(&path, "BTCUSDT", None).unwrap();
        loaded.retain(|r| r.open_time_ns >= start.unwrap() && r.open_time_ns < end.unwrap());
        assert_eq!(streamed, loaded);
        assert_eq!(streamed.len(), 15_000 - 100 - 10);
        assert_eq!(
            serde_json::to_value(&q).unwrap(),
            serde_json::to_value(&lq).unwrap()
        );
        assert_eq!((q.duplicates, q.gap_count, q.missing_bars), (2, 1, 10));
        assert!(streamed.iter().all(|r| r.trade_count == 1));

        // Out of order: loaded, sorted.
        let mut shuffled = times.clone();
        shuffled.swap(3, 4);
        let path = parquet_bars(d.path(), "unsorted.parquet", &shuffled, None);
        let (bars, q) = open_file(&path, "BTCUSDT", None, None, None).unwrap();
        assert!(matches!(bars, FileBars::Loaded(_)));
        assert_eq!(q.unsorted_rows, 1);

        // A bad row deep in a streamed file is named.
        let path = parquet_bars(d.path(), "bad.parquet", &times[..12_000], Some(11_000));
        let (bars, _) = open_file(&path, "BTCUSDT", None, None, None).unwrap();
        let err = drain(bars).unwrap_err().to_string();
        assert!(
            err.contains("bad.parquet: row 11001: inconsistent bar"),
            "{err}"
        );

        // Nothing in range.
        let path = parquet_bars(d.path(), "early.parquet", &times[..10], None);
        let err = open_file(&path, "BTCUSDT", None, end, None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no bars in the requested range"), "{err}");
    }

    #[test]
    fn most_common_spacing_counts_like_the_sort_including_ties_and_many_spacings() {
        let at = |times: &[i64]| -> Vec<i64> { times.to_vec() };
        // Ties go to the smaller spacing; non-positive steps are ignored.
        let cases: Vec<Vec<i64>> = vec![
            vec![0, 60, 120, 300, 540, 780, 780, 840],
            vec![0, 10, 30, 40, 60],
            vec![0],
            vec![5, 5, 5],
            // 100 distinct spacings: the sort path.
            (0..101).map(|i: i64| i * (i + 1) / 2).collect(),
            (0..3000)
                .map(|i: i64| i * 60 + (i % 7) * 1000 * i64::from(i % 50 == 0))
                .collect(),
        ];
        for times in cases {
            let rows = at(&times);
            assert_eq!(
                most_common_spacing(&rows),
                most_common_by_sort(&rows),
                "{times:?}"
            );
        }
        assert_eq!(
            most_common_spacing(&at(&[0, 60, 120, 300, 540, 780])),
            Some(60)
        );
        assert_eq!(most_common_spacing(&at(&[0, 10, 30, 40, 60])), Some(10));
    }

    #[test]
    fn file_rows_are_sorted_deduplicated_and_gaps_counted() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("bars.csv");
        std::fs::write(
            &p,
            "time,open,high,low,close,volume\n\
             2024-01-01T00:02:00Z,3,3,3,3,1\n\
             2024-01-01T00:00:00Z,1,1,1,1,1\n\
             2024-01-01T00:01:00Z,2,2,2,2,1\n\
             2024-01-01T00:01:00Z,9,9,9,9,1\n\
             2024-01-01T00:05:00Z,4,4,4,4,1\n",
        )
        .unwrap();
        let (rows, q) = load_file(&p, "X", None).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.close).collect::<Vec<_>>(),
            [1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(
            (q.unsorted_rows, q.duplicates, q.gap_count, q.missing_bars),
            (1, 1, 1, 2)
        );
        assert_eq!(q.interval_ns, 60_000_000_000);
        assert_eq!(q.gaps[0].after, "2024-01-01T00:02:00Z");
    }

    #[test]
    fn a_broken_bar_names_file_and_row() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("bad.csv");
        std::fs::write(&p, "time,open,high,low,close\n2024-01-01,1,0.5,1,1\n").unwrap();
        let e = load_file(&p, "X", None).unwrap_err().to_string();
        assert!(e.contains("bad.csv") && e.contains("row 1"), "{e}");
    }

    #[test]
    fn the_demo_market_is_deterministic_and_valid() {
        let a = demo_bars(2, 2, 7, 0);
        assert_eq!(a, demo_bars(2, 2, 7, 0));
        assert_ne!(a, demo_bars(2, 2, 8, 0));
        for b in a.iter().flatten() {
            assert!(b.low <= b.open.min(b.close) && b.high >= b.open.max(b.close) && b.low > 0.0);
        }
    }
}
