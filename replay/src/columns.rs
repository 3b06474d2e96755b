//! Shared Parquet column plumbing for the record decoders ([`crate::bars`], [`crate::trades`]):
//! resolving a column by its accepted names, and reading Arrow arrays as `f64`, `u64` or UTC
//! nanoseconds without per-row allocation.
//!
//! Owns type dispatch and null/range checks; it knows nothing about bars or trades.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::reader::ChunkReader;

use crate::epoch::epoch_to_ns;
use crate::error::{ReplayError, Result};

/// Rows per decoded Arrow batch.
const BATCH_ROWS: usize = 4096;

/// A column the decoder looks for: the first alias present (case-insensitive) is used.
pub(crate) struct Wanted {
    /// The column's canonical name, used in reports.
    pub name: &'static str,
    /// Accepted names, in order of preference.
    pub aliases: &'static [&'static str],
    /// Whether its absence is an error.
    pub required: bool,
}

/// An opened Parquet file with its wanted columns resolved.
pub(crate) struct Opened {
    pub reader: ParquetRecordBatchReader,
    /// The file's actual column name for each [`Wanted`], `None` when absent.
    pub names: Vec<Option<String>>,
    /// Rows in the file (from the footer).
    pub rows: u64,
}

/// Opens `source` (the file's bytes in memory, or an open [`std::fs::File`] read a column
/// chunk at a time as the batches are decoded) as Parquet and projects the wanted columns.
pub(crate) fn open<R: ChunkReader + 'static>(
    file: &str,
    source: R,
    wanted: &[Wanted],
) -> Result<Opened> {
    let parquet_err = |source| ReplayError::Parquet {
        file: file.to_string(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(source).map_err(parquet_err)?;
    let schema = builder.schema().clone();
    let rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let mut names = Vec::with_capacity(wanted.len());
    let mut roots = Vec::with_capacity(wanted.len());
    for w in wanted {
        let found = w.aliases.iter().find_map(|alias| {
            schema
                .fields()
                .iter()
                .position(|f| f.name().eq_ignore_ascii_case(alias))
        });
        match found {
            Some(i) => {
                names.push(Some(schema.field(i).name().clone()));
                roots.push(i);
            }
            None if w.required => {
                let present: Vec<&str> =
                    schema.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(ReplayError::MissingColumn {
                    file: file.to_string(),
                    column: if w.aliases.len() > 1 {
                        format!("{:?} (or {})", w.name, w.aliases[1..].join("/"))
                    } else {
                        format!("{:?}", w.name)
                    },
                    present: present.join(", "),
                });
            }
            None => names.push(None),
        }
    }
    roots.sort_unstable();
    roots.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        // The reader allocates buffers for a whole batch up front: a day file of 1m bars has
        // 1440 rows, so a 64k-row batch would cost more than the decoding.
        .with_batch_size(
            usize::try_from(rows)
                .unwrap_or(BATCH_ROWS)
                .clamp(1, BATCH_ROWS),
        )
        .build()
        .map_err(parquet_err)?;
    Ok(Opened {
        reader,
        names,
        rows,
    })
}

/// The next batch, or a [`ReplayError::Parquet`] naming the file.
pub(crate) fn next_batch(file: &str, opened: &mut Opened) -> Result<Option<RecordBatch>> {
    match opened.reader.next() {
        None => Ok(None),
        Some(Ok(b)) => Ok(Some(b)),
        Some(Err(e)) => Err(ReplayError::Parquet {
            file: file.to_string(),
            source: parquet::errors::ParquetError::External(Box::new(e)),
        }),
    }
}

/// Where a batch sits in its file, for error messages.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub file: &'a str,
    /// Rows of the file before this batch.
    pub row0: u64,
}

impl Ctx<'_> {
    pub fn bad_value(&self, column: &str, index: usize, reason: String) -> ReplayError {
        ReplayError::BadValue {
            file: self.file.to_string(),
            column: column.to_string(),
            row: self.row0 + index as u64 + 1,
            reason,
        }
    }

    fn bad_type(&self, column: &str, dt: &DataType) -> ReplayError {
        ReplayError::BadColumnType {
            file: self.file.to_string(),
            column: column.to_string(),
            data_type: dt.to_string(),
        }
    }

    fn no_nulls(&self, column: &str, a: &dyn Array) -> Result<()> {
        if a.null_count() == 0 {
            return Ok(());
        }
        let i = (0..a.len()).find(|&i| a.is_null(i)).unwrap_or(0);
        Err(self.bad_value(column, i, "null value".into()))
    }
}

/// Fetches column `name` of a batch (it was projected, so it is there).
pub(crate) fn column<'b>(
    ctx: Ctx<'_>,
    batch: &'b RecordBatch,
    name: &str,
) -> Result<&'b dyn Array> {
    batch
        .column_by_name(name)
        .map(AsRef::as_ref)
        .ok_or_else(|| ReplayError::MissingColumn {
            file: ctx.file.to_string(),
            column: format!("{name:?}"),
            present: batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// A numeric column read as `f64`.
pub(crate) enum Num<'a> {
    F64(&'a [f64]),
    F32(&'a [f32]),
    I64(&'a [i64]),
    I32(&'a [i32]),
    U64(&'a [u64]),
    U32(&'a [u32]),
    /// Unscaled decimal values and `10^scale`.
    Dec(&'a [i128], f64),
    /// A column the file does not have.
    Const(f64),
}

impl Num<'_> {
    /// Writes the column into `dst` (one value per element) through `set`; the type match
    /// sits outside the loop so each arm is a tight copy.
    #[allow(clippy::cast_precision_loss)]
    pub fn fill<R>(&self, dst: &mut [R], set: impl Fn(&mut R, f64)) {
        let each = dst.iter_mut();
        match self {
            Num::F64(v) => each.zip(v.iter()).for_each(|(r, &x)| set(r, x)),
            Num::F32(v) => each.zip(v.iter()).for_each(|(r, &x)| set(r, f64::from(x))),
            Num::I64(v) => each.zip(v.iter()).for_each(|(r, &x)| set(r, x as f64)),
            Num::I32(v) => each.zip(v.iter()).for_each(|(r, &x)| set(r, f64::from(x))),
            Num::U64(v) => each.zip(v.iter()).for_each(|(r, &x)| set(r, x as f64)),
            Num::U32(v) => each.zip(v.iter()).for_each(|(r, &x)| set(r, f64::from(x))),
            Num::Dec(v, div) => each
                .zip(v.iter())
                .for_each(|(r, &x)| set(r, x as f64 / div)),
            Num::Const(c) => each.for_each(|r| set(r, *c)),
        }
    }
}

/// Reads a Float64/Float32/Int/UInt/Decimal128 column as `f64`; nulls are errors.
pub(crate) fn num<'a>(ctx: Ctx<'_>, column: &str, a: &'a dyn Array) -> Result<Num<'a>> {
    ctx.no_nulls(column, a)?;
    Ok(match a.data_type() {
        DataType::Float64 => Num::F64(a.as_primitive::<Float64Type>().values()),
        DataType::Float32 => Num::F32(a.as_primitive::<Float32Type>().values()),
        DataType::Int64 => Num::I64(a.as_primitive::<Int64Type>().values()),
        DataType::Int32 => Num::I32(a.as_primitive::<Int32Type>().values()),
        DataType::UInt64 => Num::U64(a.as_primitive::<UInt64Type>().values()),
        DataType::UInt32 => Num::U32(a.as_primitive::<UInt32Type>().values()),
        DataType::Decimal128(_, scale) => Num::Dec(
            a.as_primitive::<Decimal128Type>().values(),
            10f64.powi(i32::from(*scale)),
        ),
        dt => return Err(ctx.bad_type(column, dt)),
    })
}

/// A column of non-negative counts.
pub(crate) enum Count<'a> {
    I64(&'a [i64]),
    I32(&'a [i32]),
    U64(&'a [u64]),
    U32(&'a [u32]),
    /// Integral floats (pandas writes counts with missing values as float).
    F64(&'a [f64]),
    Zero,
}

impl Count<'_> {
    /// The count at `i`, or `None` when it is negative or not an integer.
    #[inline]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn get(&self, i: usize) -> Option<u64> {
        match self {
            Count::I64(v) => u64::try_from(v[i]).ok(),
            Count::I32(v) => u64::try_from(v[i]).ok(),
            Count::U64(v) => Some(v[i]),
            Count::U32(v) => Some(u64::from(v[i])),
            Count::F64(v) => {
                let x = v[i];
                (x >= 0.0 && x.fract() == 0.0 && x < 1.8e19).then_some(x as u64)
            }
            Count::Zero => Some(0),
        }
    }
}

impl Count<'_> {
    /// Writes the column into `dst` through `set`; `Err(i)` at the first bad value.
    pub fn fill<R>(&self, dst: &mut [R], set: impl Fn(&mut R, u64)) -> Result<(), usize> {
        match self {
            Count::U64(v) => dst.iter_mut().zip(v.iter()).for_each(|(r, &x)| set(r, x)),
            Count::Zero => dst.iter_mut().for_each(|r| set(r, 0)),
            _ => {
                for (i, r) in dst.iter_mut().enumerate() {
                    set(r, self.get(i).ok_or(i)?);
                }
            }
        }
        Ok(())
    }
}

/// Reads an integer (or integral float) column as counts; nulls are errors.
pub(crate) fn count<'a>(ctx: Ctx<'_>, column: &str, a: &'a dyn Array) -> Result<Count<'a>> {
    ctx.no_nulls(column, a)?;
    Ok(match a.data_type() {
        DataType::Int64 => Count::I64(a.as_primitive::<Int64Type>().values()),
        DataType::Int32 => Count::I32(a.as_primitive::<Int32Type>().values()),
        DataType::UInt64 => Count::U64(a.as_primitive::<UInt64Type>().values()),
        DataType::UInt32 => Count::U32(a.as_primitive::<UInt32Type>().values()),
        DataType::Float64 => Count::F64(a.as_primitive::<Float64Type>().values()),
        dt => return Err(ctx.bad_type(column, dt)),
    })
}

/// A time column: integer epochs whose unit is detected per value, or a fixed unit.
pub(crate) enum Times<'a> {
    /// Int64 epochs; each value's unit is detected from its magnitude (see [`epoch_to_ns`]).
    Detect(&'a [i64]),
    /// Values in a known unit and the nanoseconds per unit.
    Scaled(&'a [i64], i64),
}

impl Times<'_> {
    /// UTC nanoseconds at `i`, or `None` on overflow.
    #[inline]
    pub fn get(&self, i: usize) -> Option<i64> {
        match self {
            Times::Detect(v) => epoch_to_ns(v[i]),
            Times::Scaled(v, k) => v[i].checked_mul(*k),
        }
    }

    /// Writes the column into `dst` through `set`; `Err(i)` at the first value that
    /// overflows nanoseconds.
    pub fn fill<R>(&self, dst: &mut [R], set: impl Fn(&mut R, i64)) -> Result<(), usize> {
        match self {
            Times::Scaled(v, 1) => dst.iter_mut().zip(v.iter()).for_each(|(r, &x)| set(r, x)),
            _ => {
                for (i, r) in dst.iter_mut().enumerate() {
                    set(r, self.get(i).ok_or(i)?);
                }
            }
        }
        Ok(())
    }

    /// The raw stored value at `i`, for messages.
    pub fn raw(&self, i: usize) -> i64 {
        match self {
            Times::Detect(v) | Times::Scaled(v, _) => v[i],
        }
    }
}

/// Reads an Int64 or Timestamp (any unit, any zone) column; nulls are errors.
pub(crate) fn times<'a>(ctx: Ctx<'_>, column: &str, a: &'a dyn Array) -> Result<Times<'a>> {
    ctx.no_nulls(column, a)?;
    Ok(match a.data_type() {
        DataType::Int64 => Times::Detect(a.as_primitive::<Int64Type>().values()),
        DataType::Timestamp(TimeUnit::Second, _) => Times::Scaled(
            a.as_primitive::<TimestampSecondType>().values(),
            1_000_000_000,
        ),
        DataType::Timestamp(TimeUnit::Millisecond, _) => Times::Scaled(
            a.as_primitive::<TimestampMillisecondType>().values(),
            1_000_000,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Times::Scaled(a.as_primitive::<TimestampMicrosecondType>().values(), 1_000)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            Times::Scaled(a.as_primitive::<TimestampNanosecondType>().values(), 1)
        }
        dt => return Err(ctx.bad_type(column, dt)),
    })
}
