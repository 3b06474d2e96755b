//! Bars in the lake: [`BarRecord`], the Parquet decoder that accepts the column names and
//! types found in the wild ([`decode_bars`]), and the canonical writer ([`write_bars_parquet`]).
//!
//! Owns the bar file format only; partitions, ordering and gap checks belong to
//! [`crate::source`].
//!
//! Accepted columns (names case-insensitive, first alias present wins):
//!
//! | field | names | types |
//! |---|---|---|
//! | open time | `open_time`, `time`, `timestamp`, `ts` | Int64 epoch (unit detected per value: s/ms/µs/ns by magnitude, as Binance switched spot files from ms to µs in 2025), or Timestamp of any unit |
//! | close time (optional) | `close_time` | as open time; absent → `open_time + interval − 1 ns` |
//! | open, high, low, close, volume | same names | Float64/32, Int64/32, UInt64/32, Decimal128 |
//! | quote volume (optional) | `quote_volume`, `quote_asset_volume` | as prices; absent → `0.0` |
//! | trade count (optional) | `trade_count`, `count`, `number_of_trades` | Int64/32, UInt64/32, integral Float64; absent → `0` |
//!
//! An absent optional column is not silent: [`DecodeStats::defaulted`] names it and the replay
//! report counts the files per defaulted column. Missing *values* are never defaulted: a null
//! cell, a negative or fractional count, or a time that overflows nanoseconds is an error
//! naming the file, column and row.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;
use serde::Serialize;

use crate::columns::{self, Count, Ctx, Num, Wanted};
use crate::error::{ReplayError, Result};

/// One OHLCV bar of one symbol. Times are UTC nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BarRecord {
    /// Index of the symbol in the replay's symbol list (0 when decoded outside a replay).
    pub symbol: u16,
    /// Start of the bar (inclusive).
    pub open_time_ns: i64,
    /// End of the bar (Binance convention: `open_time + interval − 1 ns`).
    pub close_time_ns: i64,
    /// First trade price.
    pub open: f64,
    /// Highest trade price.
    pub high: f64,
    /// Lowest trade price.
    pub low: f64,
    /// Last trade price.
    pub close: f64,
    /// Base-asset volume.
    pub volume: f64,
    /// Quote-asset volume (`0.0` when the file has no such column).
    pub quote_volume: f64,
    /// Number of trades (`0` when the file has no such column).
    pub trade_count: u64,
}

impl BarRecord {
    /// All zeros: a placeholder before the decoder fills a row.
    pub const EMPTY: BarRecord = BarRecord {
        symbol: 0,
        open_time_ns: 0,
        close_time_ns: 0,
        open: 0.0,
        high: 0.0,
        low: 0.0,
        close: 0.0,
        volume: 0.0,
        quote_volume: 0.0,
        trade_count: 0,
    };
}

/// What decoding one file found besides its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Rows decoded.
    pub rows: u64,
    /// Optional columns the file lacks, filled with their documented default.
    pub defaulted: Vec<&'static str>,
}

const OPEN_TIME: usize = 0;
const CLOSE_TIME: usize = 1;
const OPEN: usize = 2;
const HIGH: usize = 3;
const LOW: usize = 4;
const CLOSE: usize = 5;
const VOLUME: usize = 6;
const QUOTE_VOLUME: usize = 7;
const TRADE_COUNT: usize = 8;

const WANTED: [Wanted; 9] = [
    Wanted {
        name: "open_time",
        aliases: &["open_time", "time", "timestamp", "ts"],
        required: true,
    },
    Wanted {
        name: "close_time",
        aliases: &["close_time"],
        required: false,
    },
    Wanted {
        name: "open",
        aliases: &["open"],
        required: true,
    },
    Wanted {
        name: "high",
        aliases: &["high"],
        required: true,
    },
    Wanted {
        name: "low",
        aliases: &["low"],
        required: true,
    },
    Wanted {
        name: "close",
        aliases: &["close"],
        required: true,
    },
    Wanted {
        name: "volume",
        aliases: &["volume"],
        required: true,
    },
    Wanted {
        name: "quote_volume",
        aliases: &["quote_volume", "quote_asset_volume"],
        required: false,
    },
    Wanted {
        name: "trade_count",
        aliases: &["trade_count", "count", "number_of_trades"],
        required: false,
    },
];

/// Decodes one Parquet file of bars, appending to `out` with `symbol` set on every record.
/// `file` names the file in errors; `interval_ns` (> 0) fills an absent `close_time`. Rows
/// keep the file's order: sorting, deduplication and range checks are the replay's job.
///
/// # Errors
/// [`ReplayError::Parquet`] for a corrupt file, [`ReplayError::MissingColumn`] (also when
/// `close_time` is absent and `interval_ns <= 0`), [`ReplayError::BadColumnType`], and
/// [`ReplayError::BadValue`] for nulls, bad counts and times that overflow — each naming the
/// file. On error `out` is left as it was.
pub fn decode_bars(
    file: &str,
    bytes: Bytes,
    symbol: u16,
    interval_ns: i64,
    out: &mut Vec<BarRecord>,
) -> Result<DecodeStats> {
    let mut d = BarFileDecoder::open(file, bytes, symbol, interval_ns)?;
    out.reserve(usize::try_from(d.rows()).unwrap_or(0));
    let base = out.len();
    loop {
        match d.next_batch(out) {
            Ok(true) => {}
            Ok(false) => return Ok(d.finish()),
            Err(e) => {
                // Earlier batches are dropped too: `out` is left as it was.
                out.truncate(base);
                return Err(e);
            }
        }
    }
}

/// A Parquet file of bars decoded one record batch at a time, with the rules of
/// [`decode_bars`]; for streaming a large file without holding all of it decoded.
pub struct BarFileDecoder {
    file: String,
    opened: columns::Opened,
    names: Vec<Option<String>>,
    symbol: u16,
    interval_ns: i64,
    row0: u64,
    stats: DecodeStats,
}

impl BarFileDecoder {
    /// Opens `source` (the file `file`: its bytes, or an open [`std::fs::File`], which is
    /// then read a column chunk at a time as batches are decoded) and resolves its columns.
    ///
    /// # Errors
    /// As [`decode_bars`].
    pub fn open<R: ChunkReader + 'static>(
        file: &str,
        source: R,
        symbol: u16,
        interval_ns: i64,
    ) -> Result<Self> {
        let opened = columns::open(file, source, &WANTED)?;
        let names = opened.names.clone();
        let mut stats = DecodeStats::default();
        for (w, n) in WANTED.iter().zip(&names) {
            if n.is_none() {
                stats.defaulted.push(w.name);
            }
        }
        if names[CLOSE_TIME].is_none() && interval_ns <= 0 {
            return Err(ReplayError::MissingColumn {
                file: file.to_string(),
                column: "\"close_time\" (needed: the interval is unknown)".into(),
                present: names
                    .iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(Self {
            file: file.to_string(),
            opened,
            names,
            symbol,
            interval_ns,
            row0: 0,
            stats,
        })
    }

    /// Rows the file says it holds.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.opened.rows
    }

    /// Appends the next record batch's rows to `out`; `false` at the end of the file.
    ///
    /// # Errors
    /// As [`decode_bars`]; `out` is then left as it was.
    pub fn next_batch(&mut self, out: &mut Vec<BarRecord>) -> Result<bool> {
        let base = out.len();
        let r = self.decode_batch(out);
        if r.is_err() {
            out.truncate(base);
        }
        r
    }

    /// What was decoded so far (all of it after the last batch).
    #[must_use]
    pub fn finish(mut self) -> DecodeStats {
        self.stats.rows = self.row0;
        self.stats
    }

    fn decode_batch(&mut self, out: &mut Vec<BarRecord>) -> Result<bool> {
        let file = self.file.as_str();
        let Some(batch) = columns::next_batch(file, &mut self.opened)? else {
            return Ok(false);
        };
        let (names, symbol, interval_ns, row0) =
            (&self.names, self.symbol, self.interval_ns, self.row0);
        let ctx = Ctx { file, row0 };
        let col = |i: usize| -> Result<Option<(&str, &dyn arrow_array::Array)>> {
            match &names[i] {
                Some(n) => Ok(Some((n.as_str(), columns::column(ctx, &batch, n)?))),
                None => Ok(None),
            }
        };
        let num = |i: usize, default: f64| -> Result<Num<'_>> {
            match col(i)? {
                Some((n, a)) => columns::num(ctx, n, a),
                None => Ok(Num::Const(default)),
            }
        };
        let (ot_name, ot) = col(OPEN_TIME)?.ok_or_else(|| missing(file, "open_time"))?;
        let open_time = columns::times(ctx, ot_name, ot)?;
        let close_time = match col(CLOSE_TIME)? {
            Some((n, a)) => Some((n, columns::times(ctx, n, a)?)),
            None => None,
        };
        let (open, high, low, close, volume) = (
            num(OPEN, 0.0)?,
            num(HIGH, 0.0)?,
            num(LOW, 0.0)?,
            num(CLOSE, 0.0)?,
            num(VOLUME, 0.0)?,
        );
        let quote_volume = num(QUOTE_VOLUME, 0.0)?;
        let (count_name, trade_count) = match col(TRADE_COUNT)? {
            Some((n, a)) => (n, columns::count(ctx, n, a)?),
            None => ("trade_count", Count::Zero),
        };
        // Column at a time: every type match happens once per batch, not once per cell.
        let base = out.len();
        out.resize(base + batch.num_rows(), BarRecord::EMPTY);
        let dst = &mut out[base..];
        let overflow = |name: &str, t: &columns::Times<'_>, i: usize| {
            let raw = t.raw(i);
            ctx.bad_value(name, i, format!("time {raw} overflows nanoseconds"))
        };
        open_time
            .fill(dst, |r, v| r.open_time_ns = v)
            .map_err(|i| overflow(ot_name, &open_time, i))?;
        match &close_time {
            Some((n, ct)) => ct
                .fill(dst, |r, v| r.close_time_ns = v)
                .map_err(|i| overflow(n, ct, i))?,
            None => dst.iter_mut().for_each(|r| {
                r.close_time_ns = r.open_time_ns.saturating_add(interval_ns - 1);
            }),
        }
        trade_count
            .fill(dst, |r, v| r.trade_count = v)
            .map_err(|i| ctx.bad_value(count_name, i, "not a non-negative integer count".into()))?;
        open.fill(dst, |r, v| r.open = v);
        high.fill(dst, |r, v| r.high = v);
        low.fill(dst, |r, v| r.low = v);
        close.fill(dst, |r, v| r.close = v);
        volume.fill(dst, |r, v| r.volume = v);
        quote_volume.fill(dst, |r, v| r.quote_volume = v);
        for r in dst.iter_mut() {
            r.symbol = symbol;
        }
        self.row0 += batch.num_rows() as u64;
        Ok(true)
    }
}

/// The `open_time` column of a Parquet file of bars, as UTC nanoseconds, appended to `out`
/// (a cheap first look at a file's order before decoding the rest). From an open
/// [`std::fs::File`] only the time column's chunks are read.
///
/// # Errors
/// [`ReplayError::Parquet`], [`ReplayError::MissingColumn`], [`ReplayError::BadColumnType`],
/// [`ReplayError::BadValue`] (nulls, overflow), naming the file.
pub fn decode_bar_times<R: ChunkReader + 'static>(
    file: &str,
    source: R,
    out: &mut Vec<i64>,
) -> Result<()> {
    let mut opened = columns::open(file, source, &WANTED[..1])?;
    let name = opened.names[0]
        .clone()
        .ok_or_else(|| missing(file, "open_time"))?;
    out.reserve(usize::try_from(opened.rows).unwrap_or(0));
    let mut row0 = 0u64;
    while let Some(batch) = columns::next_batch(file, &mut opened)? {
        let ctx = Ctx { file, row0 };
        let t = columns::times(ctx, &name, columns::column(ctx, &batch, &name)?)?;
        for i in 0..batch.num_rows() {
            out.push(t.get(i).ok_or_else(|| {
                ctx.bad_value(&name, i, format!("time {} overflows nanoseconds", t.raw(i)))
            })?);
        }
        row0 += batch.num_rows() as u64;
    }
    Ok(())
}

fn missing(file: &str, column: &str) -> ReplayError {
    ReplayError::MissingColumn {
        file: file.to_string(),
        column: format!("{column:?}"),
        present: String::new(),
    }
}

/// Compression of the files the lake's writers produce.
///
/// The default is LZ4 (raw), not zstd, for a measured reason: parquet-rs 59 builds a zstd
/// compressor *and* decompressor context for every column chunk it reads, which costs about
/// 0.3 ms per 9-column file: a 1440-row day of 1m bars then decodes at ~3 M rows/s with zstd
/// against ~10 M rows/s with LZ4, for files ~35 % larger (synthetic bars, `benches/replay.rs`).
/// Spark ≥ 3.3, DuckDB, Polars and pyarrow read LZ4_RAW.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileCompression {
    /// LZ4 raw blocks: fastest to decode.
    #[default]
    Lz4Raw,
    /// Zstandard at the given level (1–22): smallest files, slow to open.
    Zstd(i32),
    /// Snappy: the most widely readable.
    Snappy,
    /// No compression.
    None,
}

/// Writer settings shared by the lake's writers.
fn writer_properties(compression: FileCompression) -> Result<WriterProperties> {
    Ok(writer_properties_builder(compression)?.build())
}

/// [`writer_properties`] as a builder, for writers that tune more (gold: dictionaries off
/// for float columns, key-value metadata).
pub(crate) fn writer_properties_builder(
    compression: FileCompression,
) -> Result<parquet::file::properties::WriterPropertiesBuilder> {
    let c = match compression {
        FileCompression::Lz4Raw => Compression::LZ4_RAW,
        FileCompression::Zstd(level) => {
            Compression::ZSTD(ZstdLevel::try_new(level).map_err(|e| ReplayError::Encode {
                what: "parquet",
                reason: e.to_string(),
            })?)
        }
        FileCompression::Snappy => Compression::SNAPPY,
        FileCompression::None => Compression::UNCOMPRESSED,
    };
    Ok(WriterProperties::builder().set_compression(c))
}

/// Encodes `batch` as one Parquet file.
pub(crate) fn encode(
    what: &'static str,
    batch: &RecordBatch,
    compression: FileCompression,
) -> Result<Bytes> {
    encode_with(what, batch, writer_properties(compression)?)
}

/// Encodes `batch` as one Parquet file with explicit writer settings.
pub(crate) fn encode_with(
    what: &'static str,
    batch: &RecordBatch,
    props: WriterProperties,
) -> Result<Bytes> {
    encode_into(what, batch, props, batch.num_rows() * 16 + 1024)
}

/// [`encode_with`] into a buffer of `capacity` bytes to start with (the expected file size,
/// so a large file is not copied through every doubling).
pub(crate) fn encode_into(
    what: &'static str,
    batch: &RecordBatch,
    props: WriterProperties,
    capacity: usize,
) -> Result<Bytes> {
    let enc = |e: parquet::errors::ParquetError| ReplayError::Encode {
        what,
        reason: e.to_string(),
    };
    let mut buf = Vec::with_capacity(capacity);
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).map_err(enc)?;
    w.write(batch).map_err(enc)?;
    w.close().map_err(enc)?;
    Ok(Bytes::from(buf))
}

/// Encodes bars as the lake's canonical bar file ([`FileCompression::default`]):
/// `open_time`, `close_time` (Int64 UTC ns), `open`, `high`, `low`, `close`, `volume`,
/// `quote_volume` (Float64), `trade_count` (Int64). `symbol` is not stored: the partition
/// path names the symbol.
///
/// # Errors
/// [`ReplayError::Encode`] when a count exceeds `i64::MAX` or the encoder fails.
pub fn write_bars_parquet(bars: &[BarRecord]) -> Result<Bytes> {
    write_bars_parquet_with(bars, FileCompression::default())
}

/// [`write_bars_parquet`] with a chosen compression.
///
/// # Errors
/// As [`write_bars_parquet`], plus a zstd level outside 1–22.
pub fn write_bars_parquet_with(bars: &[BarRecord], compression: FileCompression) -> Result<Bytes> {
    let f64_col = |f: fn(&BarRecord) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(bars.iter().map(f)))
    };
    let counts = bars
        .iter()
        .map(|b| i64::try_from(b.trade_count))
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|_| ReplayError::Encode {
            what: "bars",
            reason: "trade_count exceeds i64::MAX".into(),
        })?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            bars.iter().map(|b| b.open_time_ns),
        )),
        Arc::new(Int64Array::from_iter_values(
            bars.iter().map(|b| b.close_time_ns),
        )),
        f64_col(|b| b.open),
        f64_col(|b| b.high),
        f64_col(|b| b.low),
        f64_col(|b| b.close),
        f64_col(|b| b.volume),
        f64_col(|b| b.quote_volume),
        Arc::new(Int64Array::from(counts)),
    ];
    let field = |n: &str, t: DataType| Field::new(n, t, false);
    let schema = Schema::new(vec![
        field("open_time", DataType::Int64),
        field("close_time", DataType::Int64),
        field("open", DataType::Float64),
        field("high", DataType::Float64),
        field("low", DataType::Float64),
        field("close", DataType::Float64),
        field("volume", DataType::Float64),
        field("quote_volume", DataType::Float64),
        field("trade_count", DataType::Int64),
    ]);
    let batch =
        RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| ReplayError::Encode {
            what: "bars",
            reason: e.to_string(),
        })?;
    encode("bars", &batch, compression)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Decimal128Array, Float32Array, TimestampMillisecondArray, UInt32Array};

    fn bar(t: i64, p: f64) -> BarRecord {
        BarRecord {
            symbol: 0,
            open_time_ns: t,
            close_time_ns: t + 59_999_999_999,
            open: p,
            high: p + 2.0,
            low: p - 1.0,
            close: p + 1.0,
            volume: 10.5,
            quote_volume: 10.5 * p,
            trade_count: 42,
        }
    }

    fn encode_cols(cols: Vec<(&str, ArrayRef)>) -> Bytes {
        let batch = RecordBatch::try_from_iter(cols).unwrap();
        encode("test", &batch, FileCompression::Snappy).unwrap()
    }

    #[test]
    fn round_trips_the_canonical_format() {
        let bars: Vec<BarRecord> = (0..1000)
            .map(|i| {
                bar(
                    1_700_000_000_000_000_000 + i * 60_000_000_000,
                    100.0 + i as f64,
                )
            })
            .collect();
        for c in [
            FileCompression::Lz4Raw,
            FileCompression::Zstd(3),
            FileCompression::Snappy,
            FileCompression::None,
        ] {
            let bytes = write_bars_parquet_with(&bars, c).unwrap();
            let mut out = vec![bars[0]];
            let stats = decode_bars("mem.parquet", bytes, 0, 60_000_000_000, &mut out).unwrap();
            assert_eq!(out[1..], bars, "{c:?}");
            assert_eq!(stats.rows, 1000);
            assert!(stats.defaulted.is_empty());
        }
        assert!(write_bars_parquet_with(&bars, FileCompression::Zstd(99)).is_err());
    }

    #[test]
    fn accepts_binance_names_units_and_types() {
        // Binance-style: ms open_time as Timestamp, µs close_time as Int64, Float32 prices,
        // Decimal128 volume, `count` as UInt32, no quote volume.
        let t0 = 1_778_198_400_000i64; // 2026-05-08 00:00 UTC in ms
        let cols: Vec<(&str, ArrayRef)> = vec![
            (
                "timestamp",
                Arc::new(
                    TimestampMillisecondArray::from(vec![t0, t0 + 3_600_000]).with_timezone("UTC"),
                ),
            ),
            (
                "close_time",
                Arc::new(Int64Array::from(vec![
                    1_778_201_999_999_999,
                    1_778_205_599_999_999,
                ])),
            ),
            ("Open", Arc::new(Float32Array::from(vec![1.5f32, 2.5]))),
            ("high", Arc::new(Float64Array::from(vec![2.0, 3.0]))),
            ("low", Arc::new(Int64Array::from(vec![1, 2]))),
            ("close", Arc::new(Float64Array::from(vec![1.75, 2.75]))),
            (
                "volume",
                Arc::new(
                    Decimal128Array::from(vec![12_345i128, 100])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
            ("count", Arc::new(UInt32Array::from(vec![7u32, 8]))),
        ];
        let mut out = Vec::new();
        let stats = decode_bars(
            "b.parquet",
            encode_cols(cols),
            3,
            3_600_000_000_000,
            &mut out,
        )
        .unwrap();
        assert_eq!(stats.defaulted, ["quote_volume"]);
        assert_eq!(out.len(), 2);
        let b = out[0];
        assert_eq!(b.symbol, 3);
        assert_eq!(b.open_time_ns, t0 * 1_000_000);
        assert_eq!(b.close_time_ns, 1_778_201_999_999_999_000);
        assert_eq!((b.open, b.high, b.low, b.close), (1.5, 2.0, 1.0, 1.75));
        assert!((b.volume - 123.45).abs() < 1e-12);
        assert_eq!((b.quote_volume, b.trade_count), (0.0, 7));
    }

    #[test]
    fn absent_close_time_uses_the_interval() {
        let cols: Vec<(&str, ArrayRef)> = vec![
            ("ts", Arc::new(Int64Array::from(vec![1_600_000_000i64]))), // seconds
            ("open", Arc::new(Float64Array::from(vec![1.0]))),
            ("high", Arc::new(Float64Array::from(vec![1.0]))),
            ("low", Arc::new(Float64Array::from(vec![1.0]))),
            ("close", Arc::new(Float64Array::from(vec![1.0]))),
            ("volume", Arc::new(Float64Array::from(vec![1.0]))),
        ];
        let bytes = encode_cols(cols);
        let mut out = Vec::new();
        let stats = decode_bars("s.parquet", bytes.clone(), 0, 60_000_000_000, &mut out).unwrap();
        assert_eq!(
            stats.defaulted,
            ["close_time", "quote_volume", "trade_count"]
        );
        assert_eq!(out[0].open_time_ns, 1_600_000_000_000_000_000);
        assert_eq!(out[0].close_time_ns, 1_600_000_059_999_999_999);
        let err = decode_bars("s.parquet", bytes, 0, 0, &mut out).unwrap_err();
        assert!(err.to_string().contains("close_time"), "{err}");
    }

    #[test]
    fn bad_files_name_file_column_and_row() {
        let mut out = Vec::new();
        let err = decode_bars(
            "lake/x.parquet",
            Bytes::from_static(b"PAR1garbage"),
            0,
            1,
            &mut out,
        )
        .unwrap_err();
        assert!(matches!(err, ReplayError::Parquet { .. }), "{err}");
        assert!(err.to_string().contains("lake/x.parquet"), "{err}");

        let cols: Vec<(&str, ArrayRef)> = vec![
            (
                "open_time",
                Arc::new(Int64Array::from(vec![1_600_000_000_000i64])),
            ),
            ("open", Arc::new(Float64Array::from(vec![1.0]))),
        ];
        let err = decode_bars("m.parquet", encode_cols(cols), 0, 1, &mut out).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ReplayError::MissingColumn { .. }), "{msg}");
        assert!(
            msg.contains("m.parquet") && msg.contains("\"high\""),
            "{msg}"
        );

        let cols: Vec<(&str, ArrayRef)> = vec![
            ("open_time", Arc::new(Int64Array::from(vec![1i64, 2]))),
            ("open", Arc::new(Float64Array::from(vec![Some(1.0), None]))),
            ("high", Arc::new(Float64Array::from(vec![1.0, 1.0]))),
            ("low", Arc::new(Float64Array::from(vec![1.0, 1.0]))),
            ("close", Arc::new(Float64Array::from(vec![1.0, 1.0]))),
            ("volume", Arc::new(Float64Array::from(vec![1.0, 1.0]))),
            ("trade_count", Arc::new(Int64Array::from(vec![1i64, -1]))),
        ];
        out.clear();
        let err = decode_bars("n.parquet", encode_cols(cols.clone()), 0, 1, &mut out).unwrap_err();
        assert!(out.is_empty(), "a failed decode leaves `out` as it was");
        assert!(
            matches!(&err, ReplayError::BadValue { column, row: 2, .. } if column == "open"),
            "{err}"
        );
        let mut cols = cols;
        cols[1].1 = Arc::new(Float64Array::from(vec![1.0, 1.0]));
        let err = decode_bars("n.parquet", encode_cols(cols), 0, 1, &mut out).unwrap_err();
        assert!(
            matches!(&err, ReplayError::BadValue { column, row: 2, .. } if column == "trade_count"),
            "{err}"
        );
    }
}
