//! The replay crate's error type: every failure of the store, the Parquet decoders and the
//! replay source, each naming the URL, file, column or spec field it is about.
//!
//! Owns the error enum and the crate `Result` alias only.

use crate::layout::LayoutError;

/// The crate's result type.
pub type Result<T, E = ReplayError> = std::result::Result<T, E>;

/// Everything that can go wrong reading or writing the lake.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The lake root string is not a local directory or an `s3://bucket/prefix` URL.
    #[error("lake root {root:?} is invalid: {reason}")]
    BadRoot {
        /// The root as given.
        root: String,
        /// Why it was rejected.
        reason: String,
    },
    /// An object path inside the lake that object_store rejects.
    #[error("lake path {path:?} is invalid: {reason}")]
    BadPath {
        /// The path as given, relative to the root.
        path: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The object store (or its tokio runtime) could not be built, or its runtime has
    /// shut down.
    #[error("cannot open lake store {url}: {reason}")]
    StoreSetup {
        /// The root URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// Listing a prefix failed.
    #[error("cannot list {url}: {source}")]
    List {
        /// The URL listed.
        url: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// Reading an object failed.
    #[error("cannot read {url}: {source}")]
    Get {
        /// The URL read.
        url: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// Writing an object failed.
    #[error("cannot write {url}: {source}")]
    Put {
        /// The URL written.
        url: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// A Parquet file is corrupt or unreadable.
    #[error("{file}: corrupt or unreadable Parquet: {source}")]
    Parquet {
        /// The file's URL.
        file: String,
        /// The decoder's error.
        source: parquet::errors::ParquetError,
    },
    /// A required column is absent.
    #[error("{file}: missing column {column} (columns present: {present})")]
    MissingColumn {
        /// The file's URL.
        file: String,
        /// The column looked for, with its accepted aliases.
        column: String,
        /// The columns the file has, comma separated.
        present: String,
    },
    /// A column has a type the decoder does not accept.
    #[error("{file}: column {column:?} has unsupported type {data_type}")]
    BadColumnType {
        /// The file's URL.
        file: String,
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: String,
    },
    /// A cell is null, out of range or otherwise unusable.
    #[error("{file}: column {column:?}, row {row}: {reason}")]
    BadValue {
        /// The file's URL.
        file: String,
        /// The column.
        column: String,
        /// The 1-based row within the file.
        row: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A `.parquet` object under a series whose path is not `year=YYYY/month=MM/day=DD/NAME`.
    #[error("{url}: not a day partition of the lake layout: {reason}")]
    BadPartition {
        /// The object's URL.
        url: String,
        /// What is wrong with the path.
        reason: String,
    },
    /// A segment of the series path is unusable.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The replay spec is inconsistent.
    #[error("replay spec field {field}: {reason}")]
    BadSpec {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A requested symbol has no day partition in the requested range.
    #[error("no {category} partitions for symbol {symbol} under {url} in the requested range")]
    NoPartitions {
        /// The symbol.
        symbol: String,
        /// The category (klines, trades, ...).
        category: String,
        /// The series URL listed.
        url: String,
    },
    /// Encoding records to Parquet failed.
    #[error("cannot encode {what} to Parquet: {reason}")]
    Encode {
        /// What was being written (bars, trades).
        what: &'static str,
        /// The encoder's error.
        reason: String,
    },
    /// The background prefetch thread could not be started or died.
    #[error("replay prefetch thread: {reason}")]
    Prefetch {
        /// What happened.
        reason: String,
    },
    /// `next_chunk` was called again after it returned an error.
    #[error("replay stopped after an earlier error")]
    Faulted,
}

impl ReplayError {
    /// Whether retrying the same operation later may succeed (network and store IO), as opposed
    /// to bad data or bad configuration, which fail the same way every time.
    #[must_use]
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            ReplayError::List { .. }
                | ReplayError::Get { .. }
                | ReplayError::Put { .. }
                | ReplayError::Prefetch { .. }
        )
    }
}
