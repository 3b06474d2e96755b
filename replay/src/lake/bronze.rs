//! Ingest: Binance public-data files → bronze Parquet, one file per source version per UTC day,
//! committed by a ledger entry written last.
//!
//! Per input, in parallel (rayon): read the bytes and hash them; a sha256 already in the ledger
//! is a no-op; otherwise the name, `.CHECKSUM`, zip and every CSV cell are validated before
//! anything is written, then the day files are written (invisible until committed). The
//! ledger entries are then committed one by one in input order, so versions of a same-named
//! file are numbered deterministically. A failure deletes the files that input wrote; files of
//! committed versions are never touched (names carry the source's sha256).
//!
//! Owns the ingest flow and the bronze file format; reads no clock (`ingested_at_ns` is given).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use chrono::{Datelike, NaiveDate};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::csvparse::{ColumnData, MarketFrom, MarketHint, ParsedCsv, parse_csv};
use super::error::{LakeError, Result};
use super::ledger::{ChecksumStatus, LEDGER_SCHEMA, Ledger, LedgerEntry, read_ledger};
use super::schema::CellType;
use super::source::{
    Container, Market, SourceKind, hex, market_from_path, parse_source_name, read_checksum,
    unsupported_kind_from_path,
};
use super::zipfile::with_csv_member;
use crate::bars::{FileCompression, encode};
use crate::layout::{Layer, PartitionPath};
use crate::store::Store;

/// The provider segment of every Binance series.
pub const PROVIDER: &str = "binance";

/// The provenance columns every bronze file carries after the source columns.
pub const PROVENANCE_COLUMNS: [&str; 5] = [
    "_source_file",
    "_source_sha256",
    "_source_line",
    "_time_unit",
    "_ingested_at",
];

/// A test hook that stops an ingest at a chosen point, as a crash would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// After the bronze files are written, before the ledger entry: the files stay as orphans
    /// and the input is reported failed.
    BeforeLedger,
}

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Force the market (`None`: from the path, the header, the columns or the time unit).
    pub market: Option<Market>,
    /// The `_ingested_at` of every row and the ledger's `ingested_at_ns`, UTC ns.
    pub ingested_at_ns: i64,
    /// Worker threads for the parallel phase (0: rayon's default, one per core).
    pub threads: usize,
    /// Fail an input that has no `.CHECKSUM` sidecar.
    pub require_checksum: bool,
    /// Bronze Parquet compression (zstd 3 by default: bronze is an archive).
    pub compression: FileCompression,
    /// A test failpoint (the binary honours it only in debug builds).
    pub failpoint: Option<Failpoint>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            market: None,
            ingested_at_ns: 0,
            threads: 0,
            require_checksum: false,
            compression: FileCompression::Zstd(3),
            failpoint: None,
        }
    }
}

/// What happened to one input.
#[derive(Debug)]
pub enum IngestOutcome {
    /// A new source version was committed.
    Ingested {
        /// The input path.
        input: PathBuf,
        /// Its ledger entry.
        entry: Box<LedgerEntry>,
    },
    /// The same bytes (sha256) are already in the ledger: nothing written.
    AlreadyIngested {
        /// The input path.
        input: PathBuf,
        /// The source's sha256.
        sha256: String,
        /// The committed version.
        version: u32,
    },
    /// The input was rejected or could not be stored; the lake is unchanged.
    Failed {
        /// The input path.
        input: PathBuf,
        /// Why.
        error: LakeError,
    },
}

impl IngestOutcome {
    /// The input path.
    #[must_use]
    pub fn input(&self) -> &Path {
        match self {
            IngestOutcome::Ingested { input, .. }
            | IngestOutcome::AlreadyIngested { input, .. }
            | IngestOutcome::Failed { input, .. } => input,
        }
    }
}

/// An input validated and written, waiting for its ledger entry.
struct Written {
    entry: LedgerEntry,
}

enum Prepared {
    Already { sha256: String, version: u32 },
    Written(Box<Written>),
}

/// Ingests `inputs` (files, not directories) into the lake's bronze layer. `progress` is
/// called with each input's size once it is processed.
///
/// # Errors
/// Only when the ledger cannot be read ([`LakeError::Store`], [`LakeError::Ledger`]); every
/// per-input failure is an [`IngestOutcome::Failed`] and the other inputs go on.
pub fn ingest_files(
    store: &Store,
    inputs: &[PathBuf],
    opts: &IngestOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<IngestOutcome>> {
    let ledger = read_ledger(store)?;
    let run = || -> Vec<std::result::Result<Prepared, LakeError>> {
        inputs
            .par_iter()
            .map(|input| {
                let (bytes, r) = prepare(store, &ledger, input, opts);
                progress(bytes);
                r
            })
            .collect()
    };
    let pool = (opts.threads > 0)
        .then(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(opts.threads)
                .build()
                .ok()
        })
        .flatten();
    let prepared = match pool {
        Some(pool) => pool.install(run),
        None => run(),
    };
    Ok(commit(store, &ledger, inputs, prepared, opts))
}

/// Commits the written inputs in input order: version numbers, then one ledger put each.
fn commit(
    store: &Store,
    ledger: &Ledger,
    inputs: &[PathBuf],
    prepared: Vec<std::result::Result<Prepared, LakeError>>,
    opts: &IngestOptions,
) -> Vec<IngestOutcome> {
    let mut latest: BTreeMap<_, (u32, String)> = ledger
        .latest()
        .into_iter()
        .map(|(k, e)| (k, (e.version, e.sha256.clone())))
        .collect();
    let mut committed: BTreeMap<String, u32> = BTreeMap::new();
    let mut out = Vec::with_capacity(inputs.len());
    for (input, p) in inputs.iter().zip(prepared) {
        let input = input.clone();
        let w = match p {
            Err(error) => {
                out.push(IngestOutcome::Failed { input, error });
                continue;
            }
            Ok(Prepared::Already { sha256, version }) => {
                out.push(IngestOutcome::AlreadyIngested {
                    input,
                    sha256,
                    version,
                });
                continue;
            }
            Ok(Prepared::Written(w)) => w,
        };
        let mut entry = w.entry;
        if let Some(&version) = committed.get(&entry.sha256) {
            out.push(IngestOutcome::AlreadyIngested {
                input,
                sha256: entry.sha256,
                version,
            });
            continue;
        }
        let key = entry.version_key();
        if let Some((v, sha)) = latest.get(&key) {
            entry.version = v + 1;
            entry.supersedes = Some(sha.clone());
        }
        if opts.failpoint == Some(Failpoint::BeforeLedger) {
            out.push(IngestOutcome::Failed {
                input: input.clone(),
                error: LakeError::Failpoint {
                    file: input.display().to_string(),
                    name: "before_ledger",
                },
            });
            continue;
        }
        let body = match serde_json::to_vec_pretty(&entry) {
            Ok(b) => b,
            Err(e) => {
                out.push(IngestOutcome::Failed {
                    error: LakeError::Ledger {
                        path: entry.path(),
                        reason: e.to_string(),
                    },
                    input,
                });
                continue;
            }
        };
        if let Err(source) = store.put(&entry.path(), Bytes::from(body)) {
            delete_all(store, &entry.partitions);
            out.push(IngestOutcome::Failed {
                error: LakeError::Store {
                    file: input.display().to_string(),
                    source: Box::new(source),
                },
                input,
            });
            continue;
        }
        committed.insert(entry.sha256.clone(), entry.version);
        latest.insert(key, (entry.version, entry.sha256.clone()));
        out.push(IngestOutcome::Ingested {
            input,
            entry: Box::new(entry),
        });
    }
    out
}

fn delete_all(store: &Store, paths: &[String]) {
    for p in paths {
        let _ = store.delete(p);
    }
}

/// Validates one input and writes its day files. Returns the bytes processed (for progress).
fn prepare(
    store: &Store,
    ledger: &Ledger,
    input: &Path,
    opts: &IngestOptions,
) -> (u64, std::result::Result<Prepared, LakeError>) {
    let file = input.display().to_string();
    let bytes = match read_input(input, &file) {
        Ok(b) => b,
        Err(e) => return (0, Err(e)),
    };
    let len = bytes.len() as u64;
    let sha256 = hex(&Sha256::digest(&bytes));
    if let Some(e) = ledger.entries.get(&sha256) {
        return (
            len,
            Ok(Prepared::Already {
                sha256,
                version: e.version,
            }),
        );
    }
    let r = validate_and_write(store, input, &file, &bytes, sha256, opts)
        .map(|w| Prepared::Written(Box::new(w)));
    (len, r)
}

fn read_input(input: &Path, file: &str) -> Result<Vec<u8>> {
    let unreadable = |reason: String| LakeError::Unreadable {
        file: file.to_string(),
        reason,
    };
    if input.is_dir() {
        return Err(unreadable("is a directory".into()));
    }
    std::fs::read(input).map_err(|e| unreadable(e.to_string()))
}

fn checksum_status(
    input: &Path,
    file: &str,
    name: &str,
    sha256: &str,
    require: bool,
) -> Result<ChecksumStatus> {
    let mut sidecar = input.as_os_str().to_owned();
    sidecar.push(".CHECKSUM");
    let sidecar = PathBuf::from(sidecar);
    let text = match std::fs::read(&sidecar) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if require {
                return Err(LakeError::MissingChecksum {
                    file: file.to_string(),
                    sidecar: sidecar.display().to_string(),
                });
            }
            return Ok(ChecksumStatus::Absent);
        }
        Err(e) => {
            return Err(LakeError::Checksum {
                file: file.to_string(),
                reason: format!("cannot read {}: {e}", sidecar.display()),
            });
        }
    };
    let bad = |reason: String| LakeError::Checksum {
        file: file.to_string(),
        reason,
    };
    let text = String::from_utf8(text).map_err(|_| bad("the .CHECKSUM file is not text".into()))?;
    let want = read_checksum(&text, name).map_err(|e| match e {
        LakeError::Checksum { reason, .. } => bad(reason),
        other => other,
    })?;
    let want = hex(&want);
    if want != sha256 {
        return Err(bad(format!(
            "mismatch: the file's sha256 is {sha256}, {} says {want}",
            sidecar.display()
        )));
    }
    Ok(ChecksumStatus::Verified)
}

fn validate_and_write(
    store: &Store,
    input: &Path,
    file: &str,
    bytes: &[u8],
    sha256: String,
    opts: &IngestOptions,
) -> Result<Written> {
    if let Some(kind) = unsupported_kind_from_path(input) {
        return Err(LakeError::UnsupportedKind {
            file: file.to_string(),
            kind,
        });
    }
    let kind = parse_source_name(file)?;
    let name = input
        .file_name()
        .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
    let checksum = checksum_status(input, file, &name, &sha256, opts.require_checksum)?;
    let hint = match (opts.market, market_from_path(input)) {
        (Some(market), _) => Some(MarketHint {
            market,
            from: MarketFrom::Flag,
        }),
        (None, Some(market)) => Some(MarketHint {
            market,
            from: MarketFrom::Path,
        }),
        (None, None) => None,
    };
    let (parsed, member) = match kind.container {
        Container::Zip => {
            let corrupt = |e: &std::io::Error| LakeError::CorruptZip {
                file: file.to_string(),
                reason: e.to_string(),
            };
            let (p, m) =
                with_csv_member(bytes, file, |r| parse_csv(r, file, &kind, hint, &corrupt))?;
            (p, Some(m))
        }
        Container::Csv => {
            let io = |e: &std::io::Error| LakeError::Csv {
                file: file.to_string(),
                line: 0,
                reason: e.to_string(),
            };
            (parse_csv(bytes, file, &kind, hint, &io)?, None)
        }
    };
    let files = day_files(&parsed, &kind, &name, &sha256, opts)?;
    let mut written = Vec::with_capacity(files.len());
    for (path, body) in files {
        if let Err(source) = store.put(&path, body) {
            delete_all(store, &written);
            return Err(LakeError::Store {
                file: file.to_string(),
                source: Box::new(source),
            });
        }
        written.push(path);
    }
    let (first, last) = parsed.time_range().unwrap_or((0, 0));
    let nanos = parsed.unit.nanos();
    let entry = LedgerEntry {
        schema: LEDGER_SCHEMA,
        sha256,
        source_name: name,
        source_path: file.to_string(),
        bytes: bytes.len() as u64,
        checksum,
        member,
        market: parsed.spec.market,
        market_from: parsed.market_from,
        category: kind.category,
        symbol: kind.symbol.clone(),
        interval: kind.interval.clone(),
        period: kind.period.kind().to_string(),
        period_start: kind.period.to_string(),
        header: parsed.header,
        time_unit: parsed.unit,
        rows: parsed.rows() as u64,
        first_ns: first.saturating_mul(nanos),
        last_ns: last.saturating_mul(nanos),
        partitions: written,
        version: 1,
        supersedes: None,
        ingested_at_ns: opts.ingested_at_ns,
        hermes_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    Ok(Written { entry })
}

/// The bronze object path of a source's file for one UTC day.
///
/// # Errors
/// [`LakeError::UnknownName`] when a segment is unusable in the layout.
pub fn bronze_path(
    market: Market,
    kind: &SourceKind,
    day: NaiveDate,
    sha256: &str,
) -> Result<String> {
    let dir = PartitionPath::new(
        Layer::Bronze,
        PROVIDER,
        market.as_str(),
        kind.category.as_str(),
        &kind.symbol,
        &kind.interval,
        (day.year(), day.month(), day.day()),
    )
    .map_err(|e| LakeError::UnknownName {
        file: kind.stem.clone(),
        reason: e.to_string(),
    })?;
    Ok(format!(
        "{}/{}-{}.parquet",
        dir.relative_dir(),
        kind.stem,
        &sha256[..16.min(sha256.len())]
    ))
}

/// Encodes one Parquet file per UTC day present in the file.
fn day_files(
    parsed: &ParsedCsv,
    kind: &SourceKind,
    name: &str,
    sha256: &str,
    opts: &IngestOptions,
) -> Result<Vec<(String, Bytes)>> {
    let mut by_day: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
    for (i, d) in parsed.days.iter().enumerate() {
        by_day.entry(*d).or_default().push(i);
    }
    debug_assert!(by_day.keys().all(|d| kind.period.contains(*d)));
    let schema = Arc::new(bronze_schema(parsed));
    let mut out = Vec::with_capacity(by_day.len());
    for (day, rows) in by_day {
        let batch =
            day_batch(&schema, parsed, &rows, name, sha256, opts.ingested_at_ns).map_err(|e| {
                LakeError::Store {
                    file: name.to_string(),
                    source: Box::new(crate::ReplayError::Encode {
                        what: "bronze",
                        reason: e.to_string(),
                    }),
                }
            })?;
        let body =
            encode("bronze", &batch, opts.compression).map_err(|source| LakeError::Store {
                file: name.to_string(),
                source: Box::new(source),
            })?;
        out.push((bronze_path(parsed.spec.market, kind, day, sha256)?, body));
    }
    Ok(out)
}

/// The bronze schema of a parsed file: its source columns as delivered, then provenance.
fn bronze_schema(parsed: &ParsedCsv) -> Schema {
    let mut fields: Vec<Field> = parsed
        .spec
        .columns
        .iter()
        .map(|(n, t)| {
            let dt = match t {
                CellType::Time | CellType::Int => DataType::Int64,
                CellType::Dec => DataType::Utf8,
                CellType::Bool => DataType::Boolean,
            };
            Field::new(*n, dt, false)
        })
        .collect();
    fields.extend([
        Field::new("_source_file", DataType::Utf8, false),
        Field::new("_source_sha256", DataType::Utf8, false),
        Field::new("_source_line", DataType::Int64, false),
        Field::new("_time_unit", DataType::Utf8, false),
        Field::new(
            "_ingested_at",
            DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
    ]);
    Schema::new(fields)
}

fn day_batch(
    schema: &Arc<Schema>,
    parsed: &ParsedCsv,
    rows: &[usize],
    name: &str,
    sha256: &str,
    ingested_at_ns: i64,
) -> std::result::Result<RecordBatch, arrow_schema::ArrowError> {
    let n = rows.len();
    let mut cols: Vec<ArrayRef> = parsed
        .columns
        .iter()
        .map(|c| -> ArrayRef {
            match c {
                ColumnData::Int(v) => {
                    Arc::new(Int64Array::from_iter_values(rows.iter().map(|&i| v[i])))
                }
                ColumnData::Text { .. } => Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|&i| c.text(i).unwrap_or_default()),
                )),
                ColumnData::Bool(v) => Arc::new(BooleanArray::from(
                    rows.iter().map(|&i| v[i]).collect::<Vec<bool>>(),
                )),
            }
        })
        .collect();
    let same = |s: &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(s, n)))
    };
    cols.push(same(name));
    cols.push(same(sha256));
    cols.push(Arc::new(Int64Array::from_iter_values(
        rows.iter().map(|&i| parsed.lines[i]),
    )));
    cols.push(same(parsed.unit.as_str()));
    cols.push(Arc::new(
        TimestampNanosecondArray::from_iter_values(std::iter::repeat_n(ingested_at_ns, n))
            .with_timezone("UTC"),
    ));
    RecordBatch::try_new(Arc::clone(schema), cols)
}
