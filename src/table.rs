//! Research-file tables: read CSV (plain or `.csv.gz`) or Parquet into named columns, look
//! columns up with errors that name the file, column and row, and write CSV or Parquet
//! atomically (a temporary file beside the target, renamed into place, so a failed run never
//! leaves a half-written output or clobbers a good one).
//!
//! The format is chosen by extension. A CSV must have a header row, except a headerless
//! Binance kline CSV (12 numeric columns), which gets Binance's column names. CSV cells are
//! kept as text so a CSV-to-CSV run reproduces input cells byte for byte; they are parsed when
//! a command asks for a typed column.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

use crate::error::{BadInput, open_input};
use strategies::error::fmt_num;

use crate::timeparse::{epoch_to_ns, format_timestamp, parse_timestamp};

/// Binance kline CSV columns, in file order.
pub const BINANCE_KLINE_COLUMNS: [&str; 12] = replay::lake::schema::SPOT_KLINE_COLUMNS;

/// Names accepted for the time column of a bar file, in order of preference.
const TIME_ALIASES: [&str; 6] = ["time", "open_time", "timestamp", "datetime", "date", ""];

/// A file format, from the path's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values.
    Csv,
    /// Gzip-compressed CSV (read only).
    CsvGz,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format of `path`, by extension.
    ///
    /// # Errors
    /// An unsupported extension, naming the file.
    pub fn of(path: &Path) -> Result<Self> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_lowercase();
        if name.ends_with(".csv") {
            Ok(Format::Csv)
        } else if name.ends_with(".csv.gz") {
            Ok(Format::CsvGz)
        } else if name.ends_with(".parquet") || name.ends_with(".pq") {
            Ok(Format::Parquet)
        } else {
            Err(BadInput::new(format!(
                "{}: unsupported file type (expected .csv, .csv.gz or .parquet)",
                path.display()
            )))
        }
    }
}

/// One column's cells. `None` is an empty cell / null.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Raw text, as read from CSV or a string column.
    Text(Vec<Option<String>>),
    /// Floating point.
    Float(Vec<Option<f64>>),
    /// Integers.
    Int(Vec<Option<i64>>),
    /// Booleans.
    Bool(Vec<Option<bool>>),
    /// UTC nanoseconds.
    Time(Vec<Option<i64>>),
    /// A Parquet column of a type the research commands do not read (dictionary, decimal,
    /// nested…). Reading the file still works; using or writing this column is an error.
    Unsupported {
        /// The Arrow type, for the error message.
        dtype: String,
        /// Number of cells.
        len: usize,
    },
}

impl Column {
    /// Number of cells.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Column::Text(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::Int(v) | Column::Time(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Unsupported { len, .. } => *len,
        }
    }

    /// Float column from model output: NaN (warm-up, undefined) becomes an empty cell.
    #[must_use]
    pub fn from_f64_nan_empty(values: &[f64]) -> Self {
        Column::Float(values.iter().map(|v| v.is_finite().then_some(*v)).collect())
    }

    /// The cell at `row` as text, as it is written to CSV (empty for a missing value).
    fn cell_text(&self, row: usize) -> String {
        match self {
            Column::Text(v) => v[row].clone().unwrap_or_default(),
            // `+ 0.0` prints −0 as 0; tiny and huge magnitudes in scientific notation.
            Column::Float(v) => v[row].map(|x| fmt_num(x + 0.0)).unwrap_or_default(),
            Column::Int(v) => v[row].map(|x| x.to_string()).unwrap_or_default(),
            Column::Bool(v) => v[row].map(|x| x.to_string()).unwrap_or_default(),
            Column::Time(v) => v[row].map(format_timestamp).unwrap_or_default(),
            Column::Unsupported { .. } => String::new(),
        }
    }
}

/// A table read from (or to be written to) a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Where it came from, for error messages.
    pub source: PathBuf,
    /// Column names, in file order.
    pub names: Vec<String>,
    /// Columns, parallel to `names`.
    pub columns: Vec<Column>,
}

impl Table {
    /// An empty table that will be written to `dest`.
    #[must_use]
    pub fn new(dest: &Path) -> Self {
        Self {
            source: dest.to_path_buf(),
            names: Vec::new(),
            columns: Vec::new(),
        }
    }

    /// Number of rows.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// Appends a column (replacing one of the same name, so reruns over an output are clean).
    pub fn push(&mut self, name: &str, column: Column) {
        debug_assert!(self.columns.is_empty() || column.len() == self.rows());
        if let Some(i) = self.names.iter().position(|n| n == name) {
            self.columns[i] = column;
        } else {
            self.names.push(name.to_string());
            self.columns.push(column);
        }
    }

    /// Index of the column called `name`, compared case-insensitively.
    #[must_use]
    pub fn find(&self, name: &str) -> Option<usize> {
        self.names
            .iter()
            .position(|n| n.trim().eq_ignore_ascii_case(name))
    }

    fn check_supported(&self, i: usize) -> Result<()> {
        match &self.columns[i] {
            Column::Unsupported { dtype, .. } => Err(BadInput::new(format!(
                "{}: column {:?} has type {dtype}, which hermes cannot read",
                self.source.display(),
                self.names[i]
            ))),
            _ => Ok(()),
        }
    }

    /// Errors on the first column of an unsupported type: such a table cannot be written.
    fn check_all_supported(&self) -> Result<()> {
        (0..self.columns.len()).try_for_each(|i| self.check_supported(i))
    }

    fn require(&self, name: &str) -> Result<usize> {
        self.find(name).ok_or_else(|| {
            BadInput::new(format!(
                "{}: missing column {name:?} (columns: {})",
                self.source.display(),
                self.names.join(",")
            ))
        })
    }

    /// The column `name` as finite `f64`s; every cell must be present and numeric.
    ///
    /// # Errors
    /// A missing column, an empty cell, or a non-numeric or non-finite value, naming the file,
    /// column and 1-based data row.
    pub fn f64s(&self, name: &str) -> Result<Vec<f64>> {
        let i = self.require(name)?;
        let col_name = &self.names[i];
        let bad = |row: usize, what: String| {
            BadInput::new(format!(
                "{}: column {col_name:?}, row {}: {what}",
                self.source.display(),
                row + 1
            ))
        };
        let out: Vec<f64> = match &self.columns[i] {
            Column::Text(v) => v
                .iter()
                .enumerate()
                .map(|(r, c)| match c.as_deref().map(str::trim) {
                    None | Some("") => Err(bad(r, "empty cell".into())),
                    Some(s) => s
                        .parse::<f64>()
                        .map_err(|_| bad(r, format!("{s:?} is not a number"))),
                })
                .collect::<Result<_>>()?,
            Column::Float(v) => v
                .iter()
                .enumerate()
                .map(|(r, c)| c.ok_or_else(|| bad(r, "missing value".into())))
                .collect::<Result<_>>()?,
            #[allow(clippy::cast_precision_loss)]
            Column::Int(v) => v
                .iter()
                .enumerate()
                .map(|(r, c)| {
                    c.map(|x| x as f64)
                        .ok_or_else(|| bad(r, "missing value".into()))
                })
                .collect::<Result<_>>()?,
            Column::Bool(_) | Column::Time(_) | Column::Unsupported { .. } => {
                bail!(BadInput::new(format!(
                    "{}: column {col_name:?} is not numeric",
                    self.source.display()
                )))
            }
        };
        if let Some(r) = out.iter().position(|x| !x.is_finite()) {
            return Err(bad(r, format!("value {} is not finite", out[r])));
        }
        Ok(out)
    }

    /// The column `name` as text (for labels such as asset names).
    ///
    /// # Errors
    /// A missing column or an empty cell, naming file, column and row.
    pub fn strings(&self, name: &str) -> Result<Vec<String>> {
        let i = self.require(name)?;
        self.check_supported(i)?;
        (0..self.rows())
            .map(|r| {
                let s = self.columns[i].cell_text(r);
                if s.trim().is_empty() {
                    Err(BadInput::new(format!(
                        "{}: column {:?}, row {}: empty cell",
                        self.source.display(),
                        self.names[i],
                        r + 1
                    )))
                } else {
                    Ok(s.trim().to_string())
                }
            })
            .collect()
    }

    /// The name of the time column of a bar or equity file: `time`, or an accepted alias
    /// (`open_time`, `timestamp`, `datetime`, `date`, or an unnamed first column).
    #[must_use]
    pub fn time_column_name(&self) -> Option<String> {
        TIME_ALIASES
            .iter()
            .find_map(|alias| self.find(alias).map(|i| self.names[i].clone()))
    }

    /// The column `name` as UTC nanoseconds (see [`crate::timeparse`]).
    ///
    /// # Errors
    /// A missing column, an empty cell or an unparseable timestamp, naming file, column, row.
    pub fn times(&self, name: &str) -> Result<Vec<i64>> {
        let i = self.require(name)?;
        let col_name = &self.names[i];
        let bad = |row: usize, what: String| {
            BadInput::new(format!(
                "{}: column {col_name:?}, row {}: {what}",
                self.source.display(),
                row + 1
            ))
        };
        match &self.columns[i] {
            Column::Time(v) => v
                .iter()
                .enumerate()
                .map(|(r, c)| c.ok_or_else(|| bad(r, "missing timestamp".into())))
                .collect(),
            Column::Int(v) => v
                .iter()
                .enumerate()
                .map(|(r, c)| {
                    let x = c.ok_or_else(|| bad(r, "missing timestamp".into()))?;
                    epoch_to_ns(x).ok_or_else(|| bad(r, format!("epoch {x} is out of range")))
                })
                .collect(),
            Column::Text(v) => v
                .iter()
                .enumerate()
                .map(|(r, c)| parse_timestamp(c.as_deref().unwrap_or("")).map_err(|e| bad(r, e)))
                .collect(),
            // An integral float spells an epoch (as `1577836800000.0` does in CSV).
            Column::Float(v) => v
                .iter()
                .enumerate()
                .map(|(r, c)| {
                    let x = c.ok_or_else(|| bad(r, "missing timestamp".into()))?;
                    if x.fract() != 0.0 || x.abs() >= 9.2e18 {
                        return Err(bad(r, format!("{x} is not an integer epoch")));
                    }
                    #[allow(clippy::cast_possible_truncation)]
                    let v = x as i64;
                    epoch_to_ns(v).ok_or_else(|| bad(r, format!("epoch {v} is out of range")))
                })
                .collect(),
            Column::Bool(_) | Column::Unsupported { .. } => {
                bail!(bad(
                    0,
                    "a boolean or unsupported column cannot be a timestamp".into()
                ))
            }
        }
    }
}

/// Reads a table from CSV, `.csv.gz` or Parquet, by extension.
///
/// # Errors
/// Unsupported extension, unreadable file, malformed CSV (ragged rows), corrupt Parquet, or a
/// file with no data rows — each naming the file.
pub fn read_table(path: &Path) -> Result<Table> {
    let table = match Format::of(path)? {
        Format::Csv => read_csv(path, open(path)?)?,
        Format::CsvGz => read_csv(path, flate2::read::MultiGzDecoder::new(open(path)?))?,
        Format::Parquet => read_parquet(path)?,
    };
    if table.rows() == 0 {
        bail!(BadInput::new(format!("{}: no data rows", path.display())));
    }
    Ok(table)
}

fn open(path: &Path) -> Result<BufReader<File>> {
    Ok(BufReader::new(open_input(path)?))
}

fn read_csv(path: &Path, reader: impl Read) -> Result<Table> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .from_reader(reader);
    let mut records = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| {
            BadInput::new(format!(
                "{}: line {}: malformed CSV: {e}",
                path.display(),
                i + 1
            ))
        })?;
        records.push(rec);
    }
    let Some(first) = records.first() else {
        bail!(BadInput::new(format!("{}: empty file", path.display())));
    };
    let headerless_binance = first.len() == BINANCE_KLINE_COLUMNS.len()
        && first.iter().all(|f| f.trim().parse::<f64>().is_ok());
    let (names, data): (Vec<String>, &[csv::StringRecord]) = if headerless_binance {
        (
            BINANCE_KLINE_COLUMNS
                .iter()
                .map(|s| (*s).to_string())
                .collect(),
            &records[..],
        )
    } else {
        (
            // A UTF-8 byte-order mark (Excel's CSV export) is not part of the first name.
            first
                .iter()
                .map(|s| s.trim_start_matches('\u{feff}').trim().to_string())
                .collect(),
            &records[1..],
        )
    };
    check_unique_names(path, &names)?;
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(data.len()); names.len()];
    for rec in data {
        for (col, cell) in columns.iter_mut().zip(rec.iter()) {
            col.push((!cell.is_empty()).then(|| cell.to_string()));
        }
    }
    Ok(Table {
        source: path.to_path_buf(),
        names,
        columns: columns.into_iter().map(Column::Text).collect(),
    })
}

/// Rejects a header naming one column twice (compared as lookups compare: trimmed, ASCII
/// case-insensitive), which would make every lookup ambiguous and the output unreadable.
fn check_unique_names(path: &Path, names: &[String]) -> Result<()> {
    for (i, n) in names.iter().enumerate() {
        if let Some(j) = names[..i]
            .iter()
            .position(|m| m.trim().eq_ignore_ascii_case(n.trim()))
        {
            bail!(BadInput::new(format!(
                "{}: duplicate column name {n:?} (columns {} and {})",
                path.display(),
                j + 1,
                i + 1
            )));
        }
    }
    Ok(())
}

fn read_parquet(path: &Path) -> Result<Table> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let corrupt = |e: &dyn std::fmt::Display| {
        BadInput::new(format!(
            "{}: not a readable Parquet file: {e}",
            path.display()
        ))
    };
    let file = open_input(path)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| corrupt(&e))?;
    let schema = builder.schema().clone();
    let reader = builder.build().map_err(|e| corrupt(&e))?;
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    check_unique_names(path, &names)?;
    let mut columns: Vec<Option<Column>> = vec![None; names.len()];
    for batch in reader {
        let batch = batch.map_err(|e| corrupt(&e))?;
        for (i, array) in batch.columns().iter().enumerate() {
            let part = arrow_to_column(path, &names[i], array.as_ref())?;
            match &mut columns[i] {
                None => columns[i] = Some(part),
                Some(col) => append(col, part),
            }
        }
    }
    let columns = columns
        .into_iter()
        .zip(schema.fields())
        .map(|(c, f)| c.unwrap_or_else(|| empty_like(f.data_type())))
        .collect();
    Ok(Table {
        source: path.to_path_buf(),
        names,
        columns,
    })
}

fn empty_like(dt: &DataType) -> Column {
    match dt {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Column::Float(Vec::new()),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => Column::Time(Vec::new()),
        DataType::Boolean => Column::Bool(Vec::new()),
        dt if dt.is_integer() => Column::Int(Vec::new()),
        _ => Column::Text(Vec::new()),
    }
}

fn append(into: &mut Column, part: Column) {
    match (into, part) {
        (Column::Text(a), Column::Text(b)) => a.extend(b),
        (Column::Float(a), Column::Float(b)) => a.extend(b),
        (Column::Int(a), Column::Int(b)) | (Column::Time(a), Column::Time(b)) => a.extend(b),
        (Column::Bool(a), Column::Bool(b)) => a.extend(b),
        (Column::Unsupported { len: a, .. }, Column::Unsupported { len: b, .. }) => *a += b,
        // One schema per file: every batch of a column has the same type.
        _ => unreachable!("parquet batches of one column share a type"),
    }
}

fn collect<T: Copy>(a: impl Iterator<Item = Option<T>>) -> Vec<Option<T>> {
    a.collect()
}

/// An integer column of a type that always fits in `i64`.
fn widen<T>(a: &dyn Array) -> Column
where
    T: arrow_array::ArrowPrimitiveType,
    i64: From<T::Native>,
{
    Column::Int(
        a.as_primitive::<T>()
            .iter()
            .map(|x| x.map(i64::from))
            .collect(),
    )
}

fn arrow_to_column(path: &Path, name: &str, a: &dyn Array) -> Result<Column> {
    let ints = |v: Vec<Option<i64>>| Column::Int(v);
    Ok(match a.data_type() {
        DataType::Float64 => Column::Float(collect(a.as_primitive::<Float64Type>().iter())),
        DataType::Float32 => Column::Float(
            a.as_primitive::<Float32Type>()
                .iter()
                .map(|x| x.map(f64::from))
                .collect(),
        ),
        DataType::Int64 => widen::<Int64Type>(a),
        DataType::Int32 => widen::<Int32Type>(a),
        DataType::Int16 => widen::<Int16Type>(a),
        DataType::Int8 => widen::<Int8Type>(a),
        DataType::UInt32 => widen::<UInt32Type>(a),
        DataType::UInt16 => widen::<UInt16Type>(a),
        DataType::UInt8 => widen::<UInt8Type>(a),
        DataType::UInt64 => ints(
            a.as_primitive::<UInt64Type>()
                .iter()
                .enumerate()
                .map(|(r, x)| {
                    x.map(|v| {
                        i64::try_from(v).map_err(|_| {
                            BadInput::new(format!(
                                "{}: column {name:?}: value {v} in this batch's row {} exceeds \
                                 the signed 64-bit range",
                                path.display(),
                                r + 1
                            ))
                        })
                    })
                    .transpose()
                })
                .collect::<Result<_>>()?,
        ),
        DataType::Boolean => Column::Bool(a.as_boolean().iter().collect()),
        DataType::Utf8 => Column::Text(
            a.as_string::<i32>()
                .iter()
                .map(|s| s.map(String::from))
                .collect(),
        ),
        DataType::LargeUtf8 => Column::Text(
            a.as_string::<i64>()
                .iter()
                .map(|s| s.map(String::from))
                .collect(),
        ),
        DataType::Utf8View => Column::Text(
            a.as_string_view()
                .iter()
                .map(|s| s.map(String::from))
                .collect(),
        ),
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            let ns = arrow_cast_to_ns(a)
                .map_err(|e| BadInput::new(format!("{}: column {name:?}: {e}", path.display())))?;
            Column::Time(ns)
        }
        other => Column::Unsupported {
            dtype: other.to_string(),
            len: a.len(),
        },
    })
}

fn arrow_cast_to_ns(a: &dyn Array) -> Result<Vec<Option<i64>>, String> {
    use arrow_array::types::{
        Date32Type, Date64Type, TimestampMicrosecondType, TimestampMillisecondType,
        TimestampNanosecondType, TimestampSecondType,
    };
    let scale = |v: Vec<Option<i64>>, k: i64| -> Result<Vec<Option<i64>>, String> {
        v.into_iter()
            .map(|x| {
                x.map(|x| x.checked_mul(k).ok_or("timestamp out of range"))
                    .transpose()
            })
            .collect::<Result<_, _>>()
            .map_err(String::from)
    };
    match a.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => scale(
            collect(a.as_primitive::<TimestampSecondType>().iter()),
            1_000_000_000,
        ),
        DataType::Timestamp(TimeUnit::Millisecond, _) => scale(
            collect(a.as_primitive::<TimestampMillisecondType>().iter()),
            1_000_000,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => scale(
            collect(a.as_primitive::<TimestampMicrosecondType>().iter()),
            1_000,
        ),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            Ok(collect(a.as_primitive::<TimestampNanosecondType>().iter()))
        }
        DataType::Date32 => scale(
            a.as_primitive::<Date32Type>()
                .iter()
                .map(|x| x.map(i64::from))
                .collect(),
            86_400_000_000_000,
        ),
        DataType::Date64 => scale(collect(a.as_primitive::<Date64Type>().iter()), 1_000_000),
        other => Err(format!("type {other} is not a timestamp")),
    }
}

/// Writes `table` to `path` (CSV or Parquet by extension), atomically.
///
/// # Errors
/// Unsupported extension, or an IO failure naming the file; the target is untouched then.
pub fn write_table(table: &Table, path: &Path) -> Result<()> {
    let format = Format::of(path)?;
    table.check_all_supported()?;
    write_atomically(path, |file| match format {
        Format::Csv => write_csv(table, file),
        Format::Parquet => write_parquet(table, file),
        Format::CsvGz => bail!(BadInput::new(format!(
            "{}: writing .csv.gz is not supported; use .csv or .parquet",
            path.display()
        ))),
    })
}

/// Writes a table as CSV to any writer (stdout, for instance).
///
/// # Errors
/// Any IO error.
pub fn write_csv(table: &Table, out: impl Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(&table.names)?;
    let mut row = Vec::with_capacity(table.columns.len());
    for r in 0..table.rows() {
        row.clear();
        row.extend(table.columns.iter().map(|c| c.cell_text(r)));
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

fn write_parquet(table: &Table, out: &mut BufWriter<File>) -> Result<()> {
    let time_name = table.time_column_name();
    let mut fields = Vec::with_capacity(table.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
    for (name, col) in table.names.iter().zip(&table.columns) {
        let is_time = time_name.as_deref() == Some(name.as_str());
        let array: ArrayRef = match col {
            Column::Float(v) => Arc::new(Float64Array::from(v.clone())),
            Column::Int(v) => Arc::new(Int64Array::from(v.clone())),
            Column::Bool(v) => Arc::new(BooleanArray::from(v.clone())),
            Column::Time(v) => {
                Arc::new(TimestampNanosecondArray::from(v.clone()).with_timezone("UTC"))
            }
            Column::Text(v) => text_to_arrow(table, name, v, is_time)?,
            Column::Unsupported { .. } => unreachable!("checked by write_table"),
        };
        fields.push(Field::new(name, array.data_type().clone(), true));
        arrays.push(array);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(out, batch.schema(), Some(props))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}

/// A CSV text column written to Parquet: the time column as a UTC timestamp, all-numeric
/// columns as integers or floats, anything else as strings.
fn text_to_arrow(
    table: &Table,
    name: &str,
    v: &[Option<String>],
    is_time: bool,
) -> Result<ArrayRef> {
    if is_time {
        let ns = table.times(name)?;
        return Ok(Arc::new(
            TimestampNanosecondArray::from(ns).with_timezone("UTC"),
        ));
    }
    let cells = || v.iter().flatten().map(|s| s.trim());
    if cells().all(|s| s.parse::<i64>().is_ok()) {
        let ints: Vec<Option<i64>> = v
            .iter()
            .map(|c| c.as_ref().and_then(|s| s.trim().parse().ok()))
            .collect();
        return Ok(Arc::new(Int64Array::from(ints)));
    }
    if cells().all(|s| s.parse::<f64>().is_ok()) {
        let fl: Vec<Option<f64>> = v
            .iter()
            .map(|c| c.as_ref().and_then(|s| s.trim().parse().ok()))
            .collect();
        return Ok(Arc::new(Float64Array::from(fl)));
    }
    Ok(Arc::new(StringArray::from(v.to_vec())))
}

/// Runs `write` into a temporary file beside `path`, then renames it over `path`. On any
/// failure the temporary file is removed and `path` is left as it was.
///
/// # Errors
/// The writer's error, or an IO failure naming the file.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let file = File::create(&tmp)
            .with_context(|| format!("cannot create output {}", path.display()))?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move output into place at {}", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn csv_round_trip_keeps_cells_and_order() {
        let d = tmp();
        let p = d.path().join("in.csv");
        std::fs::write(&p, "time,close\n2020-01-01,1.50\n2020-01-02,1.25\n").unwrap();
        let mut t = read_table(&p).unwrap();
        assert_eq!(t.f64s("close").unwrap(), vec![1.5, 1.25]);
        assert_eq!(
            t.times("TIME").unwrap()[1] - t.times("time").unwrap()[0],
            86_400_000_000_000
        );
        t.push("x", Column::from_f64_nan_empty(&[f64::NAN, 2.0]));
        let out = d.path().join("out.csv");
        write_table(&t, &out).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "time,close,x\n2020-01-01,1.50,\n2020-01-02,1.25,2\n"
        );
    }

    #[test]
    fn parquet_round_trip_types_columns() {
        let d = tmp();
        let p = d.path().join("in.csv");
        std::fs::write(
            &p,
            "time,close,n,sym\n1577836800000,1.5,3,BTC\n1577836860000,2,4,ETH\n",
        )
        .unwrap();
        let t = read_table(&p).unwrap();
        let out = d.path().join("out.parquet");
        write_table(&t, &out).unwrap();
        let back = read_table(&out).unwrap();
        assert_eq!(back.names, t.names);
        assert_eq!(
            back.columns[0],
            Column::Time(vec![
                Some(1_577_836_800_000_000_000),
                Some(1_577_836_860_000_000_000)
            ])
        );
        assert_eq!(back.columns[1], Column::Float(vec![Some(1.5), Some(2.0)]));
        assert_eq!(back.columns[2], Column::Int(vec![Some(3), Some(4)]));
        assert_eq!(back.f64s("close").unwrap(), vec![1.5, 2.0]);
        assert_eq!(back.strings("sym").unwrap(), vec!["BTC", "ETH"]);
    }

    #[test]
    fn headerless_binance_klines_get_names() {
        let d = tmp();
        let p = d.path().join("k.csv");
        std::fs::write(
            &p,
            "1577836800000,7195.24,7196.25,7183.14,7186.68,51.64,1577836859999,371233.9,493,19.6,141110.6,0\n",
        )
        .unwrap();
        let t = read_table(&p).unwrap();
        assert_eq!(t.names[0], "open_time");
        assert_eq!(t.time_column_name().as_deref(), Some("open_time"));
        assert_eq!(t.f64s("close").unwrap(), vec![7186.68]);
    }

    #[test]
    fn bad_inputs_name_file_column_and_row() {
        let d = tmp();
        let p = d.path().join("bad.csv");
        std::fs::write(&p, "time,close\n2020-01-01,abc\n").unwrap();
        let e = read_table(&p)
            .unwrap()
            .f64s("close")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad.csv") && e.contains("\"close\"") && e.contains("row 1"),
            "{e}"
        );
        let e = read_table(&p)
            .unwrap()
            .f64s("volume")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing column \"volume\""), "{e}");
        std::fs::write(&p, "time,close\n").unwrap();
        assert!(
            read_table(&p)
                .unwrap_err()
                .to_string()
                .contains("no data rows")
        );
        std::fs::write(&p, "").unwrap();
        assert!(
            read_table(&p)
                .unwrap_err()
                .to_string()
                .contains("empty file")
        );
        std::fs::write(&p, "a,b\n1,2\n3\n").unwrap();
        assert!(
            read_table(&p)
                .unwrap_err()
                .to_string()
                .contains("malformed CSV")
        );
        std::fs::write(&p, "time,close\n2020-01-01,NaN\n").unwrap();
        assert!(
            read_table(&p)
                .unwrap()
                .f64s("close")
                .unwrap_err()
                .to_string()
                .contains("not finite")
        );
        let q = d.path().join("x.parquet");
        std::fs::write(&q, b"PAR1 not really").unwrap();
        let e = read_table(&q).unwrap_err().to_string();
        assert!(e.contains("x.parquet") && e.contains("Parquet"), "{e}");
        assert!(Format::of(Path::new("a.xlsx")).is_err());
    }

    #[test]
    fn failed_write_leaves_existing_output_untouched() {
        let d = tmp();
        let p = d.path().join("keep.csv");
        std::fs::write(&p, "precious").unwrap();
        let r = write_atomically(&p, |_| bail!("boom"));
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "precious");
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "temp file removed"
        );
    }
}

/// Real-data tests of the model library fed through this module's readers: the `strategies`
/// crate is IO-free, so its models meet real Parquet files here.
#[cfg(test)]
mod real_data_tests {
    use super::*;
    use crate::test_data::data_dir;
    use strategies::bars::{TimeBarBuilder, TimeBarConfig, Trade};

    /// 2,001 real Binance BTCUSDT spot trades (2021-01-08, ms timestamps, Parquet written by
    /// NautilusTrader) into 1-second bars: every trade lands in exactly one bar, and each bar
    /// equals a direct group-by of the trades of its second.
    #[test]
    fn time_bars_from_real_binance_trades_match_a_direct_group_by() {
        let Some(dir) = data_dir() else { return };
        let t = read_table(&dir.join("nautilus_trader/binance/btcusdt-trades.parquet")).unwrap();
        let (ts, price, qty) = (
            t.times("timestamp").unwrap(),
            t.f64s("price").unwrap(),
            t.f64s("quantity").unwrap(),
        );
        assert_eq!(ts.len(), 2001);
        let second = 1_000_000_000;
        let mut builder = TimeBarBuilder::new(TimeBarConfig::new(second)).unwrap();
        let mut bars = Vec::new();
        for ((&ts_ns, &price), &qty) in ts.iter().zip(&price).zip(&qty) {
            builder
                .push(Trade { ts_ns, price, qty }, &mut bars)
                .unwrap();
        }
        bars.extend(builder.flush());
        assert_eq!(builder.late_trades(), 0, "the file is in time order");
        assert_eq!(bars.iter().map(|b| b.trade_count()).sum::<u64>(), 2001);
        assert!(
            bars.windows(2).all(|w| w[0].end_ns() <= w[1].start_ns()),
            "sorted, disjoint"
        );
        for bar in &bars {
            let idx: Vec<usize> = (0..ts.len())
                .filter(|&i| ts[i].div_euclid(second) * second == bar.start_ns())
                .collect();
            assert_eq!(bar.trade_count() as usize, idx.len());
            assert_eq!(bar.open(), price[idx[0]]);
            assert_eq!(bar.close(), price[*idx.last().unwrap()]);
            let hi = idx.iter().map(|&i| price[i]).fold(f64::MIN, f64::max);
            let lo = idx.iter().map(|&i| price[i]).fold(f64::MAX, f64::min);
            assert_eq!((bar.high(), bar.low()), (hi, lo));
            let vol: f64 = idx.iter().map(|&i| qty[i]).sum();
            let notional: f64 = idx.iter().map(|&i| price[i] * qty[i]).sum();
            assert!((bar.volume() - vol).abs() <= 1e-12 * vol.max(1.0));
            assert!((bar.vwap() - notional / vol).abs() <= 1e-9 * bar.vwap());
        }
        assert!(
            bars.len() >= 40,
            "46 seconds of trading, got {} bars",
            bars.len()
        );
    }
}
