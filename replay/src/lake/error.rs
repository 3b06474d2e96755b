//! The lake ETL's error type: every failure names the source file (or lake object) it is
//! about and, for cell errors, the 1-based line and the column. Owns the enum and the `Result`
//! alias only.

use crate::error::ReplayError;

/// The lake ETL's result type.
pub type Result<T, E = LakeError> = std::result::Result<T, E>;

/// Everything that can go wrong ingesting a source file into the lake.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// The input path does not exist or cannot be read.
    #[error("{file}: cannot read: {reason}")]
    Unreadable {
        /// The input path.
        file: String,
        /// The OS error.
        reason: String,
    },
    /// The file name is not a Binance public-data name (`SYMBOL-INTERVAL-DATE.zip|csv`,
    /// `SYMBOL-trades-DATE…`, `SYMBOL-aggTrades-DATE…`).
    #[error("{file}: unknown file name pattern: {reason}")]
    UnknownName {
        /// The input path.
        file: String,
        /// What does not match.
        reason: String,
    },
    /// A Binance data set the lake does not ingest (yet), e.g. fundingRate or bookTicker.
    #[error("{file}: unsupported kind {kind:?} (supported: klines, trades, aggTrades)")]
    UnsupportedKind {
        /// The input path.
        file: String,
        /// The kind named in the file name.
        kind: String,
    },
    /// The `.CHECKSUM` sidecar is malformed, names another file, or does not match.
    #[error("{file}: checksum: {reason}")]
    Checksum {
        /// The input path.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// No `.CHECKSUM` sidecar although `--require-checksum` was given.
    #[error("{file}: no checksum file {sidecar} (required)")]
    MissingChecksum {
        /// The input path.
        file: String,
        /// The sidecar looked for.
        sidecar: String,
    },
    /// The zip archive is damaged (bad structure, truncated member, CRC mismatch) or does not
    /// hold exactly one CSV member.
    #[error("{file}: corrupt zip: {reason}")]
    CorruptZip {
        /// The input path.
        file: String,
        /// The zip reader's complaint.
        reason: String,
    },
    /// The file (or its zip member) holds no data rows.
    #[error("{file}: empty file (no data rows)")]
    Empty {
        /// The input path.
        file: String,
    },
    /// The header line does not name the columns of any market for the file's kind.
    #[error("{file}: line 1: header {found:?} does not match the {kind} columns ({expected})")]
    BadHeader {
        /// The input path.
        file: String,
        /// The kind (klines, trades, aggTrades).
        kind: String,
        /// The header found.
        found: String,
        /// The accepted column lists.
        expected: String,
    },
    /// A row has the wrong number of cells.
    #[error("{file}: line {line}: {found} columns, expected {expected}")]
    ColumnCount {
        /// The input path.
        file: String,
        /// 1-based line in the CSV.
        line: u64,
        /// Cells found.
        found: usize,
        /// Cells expected.
        expected: usize,
    },
    /// A cell that does not parse as its column's type.
    #[error("{file}: line {line}, column {column}: {value:?} is not {expected}")]
    BadCell {
        /// The input path.
        file: String,
        /// 1-based line in the CSV.
        line: u64,
        /// The column name.
        column: String,
        /// The cell text (truncated to 40 characters).
        value: String,
        /// What it should be (an integer, a decimal number, true/false).
        expected: &'static str,
    },
    /// A time value in neither milliseconds nor microseconds, or a file mixing the two.
    #[error("{file}: line {line}, column {column}: {reason}")]
    TimeUnit {
        /// The input path.
        file: String,
        /// 1-based line in the CSV.
        line: u64,
        /// The column name.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// A row whose time lies outside the day or month the file name says it covers.
    #[error("{file}: line {line}: time {time} ({day}) is outside the file's period {period}")]
    OutsidePeriod {
        /// The input path.
        file: String,
        /// 1-based line in the CSV.
        line: u64,
        /// The raw time value.
        time: i64,
        /// Its UTC day.
        day: String,
        /// The period from the file name.
        period: String,
    },
    /// The CSV reader failed (invalid UTF-8, IO error while inflating).
    #[error("{file}: line {line}: {reason}")]
    Csv {
        /// The input path.
        file: String,
        /// 1-based line in the CSV.
        line: u64,
        /// The reader's error.
        reason: String,
    },
    /// The market flag or path contradicts the file (e.g. a header of another market).
    #[error("{file}: {reason}")]
    Market {
        /// The input path.
        file: String,
        /// What contradicts.
        reason: String,
    },
    /// A committed ledger entry cannot be parsed.
    #[error("ledger entry {path}: {reason}")]
    Ledger {
        /// The ledger object.
        path: String,
        /// The parse error.
        reason: String,
    },
    /// The lake store failed (IO, network) or a Parquet file could not be encoded.
    #[error("{file}: {source}")]
    Store {
        /// The input being ingested (or the lake object).
        file: String,
        /// The store's error (boxed: it is large and rare).
        source: Box<ReplayError>,
    },
    /// A bronze file that silver cannot use: unreadable, a column missing or of another type,
    /// a cell that does not convert, an unknown `_time_unit`.
    #[error("bronze file {file}: {reason}")]
    BadBronze {
        /// The bronze object.
        file: String,
        /// What is wrong, naming the column.
        reason: String,
    },
    /// A silver day file that gold cannot use: unreadable, a column missing, of another type
    /// or with nulls, bars out of time order, or a bar the indicators reject.
    #[error("silver file {file}: {reason}")]
    BadSilver {
        /// The silver object.
        file: String,
        /// What is wrong, naming the column or row.
        reason: String,
    },
    /// A series' gold `_state.json` (gold's commit record) cannot be read; `--full`
    /// rebuilds it.
    #[error("gold state {file}: {reason} (rebuild the series with --full)")]
    GoldState {
        /// The state object.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A series' `_quality.parquet` (silver's commit record) cannot be read; `--full`
    /// rebuilds it.
    #[error("quality table {file}: {reason} (rebuild the series with --full)")]
    Quality {
        /// The quality table object.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The silver plan failed on inputs that were each valid (an internal error).
    #[error("{what}: polars: {reason}")]
    Polars {
        /// The series-day being built.
        what: String,
        /// Polars' error.
        reason: String,
    },
    /// A test failpoint stopped the ingest before its commit (debug builds only).
    #[error("{file}: stopped at failpoint {name}")]
    Failpoint {
        /// The input path.
        file: String,
        /// The failpoint's name.
        name: &'static str,
    },
}

impl LakeError {
    /// Whether the input itself is at fault (fix the file, do not retry): everything but store
    /// IO, unreadable inputs, ledger, quality-table or gold-state corruption, polars' internal
    /// errors and
    /// failpoints. (A bad bronze file is bad input of the silver step, a bad silver file of gold.)
    #[must_use]
    pub fn is_bad_input(&self) -> bool {
        !matches!(
            self,
            LakeError::Unreadable { .. }
                | LakeError::Ledger { .. }
                | LakeError::Quality { .. }
                | LakeError::GoldState { .. }
                | LakeError::Polars { .. }
                | LakeError::Store { .. }
                | LakeError::Failpoint { .. }
        )
    }

    /// Whether the input could not be opened at all (missing or unreadable path).
    #[must_use]
    pub fn is_missing_input(&self) -> bool {
        matches!(self, LakeError::Unreadable { .. })
    }

    /// Whether retrying later may succeed (store IO).
    #[must_use]
    pub fn is_recoverable(&self) -> bool {
        match self {
            LakeError::Store { source, .. } => source.is_recoverable(),
            _ => false,
        }
    }

    /// The file (input path or lake object) the error is about.
    #[must_use]
    pub fn file(&self) -> &str {
        match self {
            LakeError::Unreadable { file, .. }
            | LakeError::UnknownName { file, .. }
            | LakeError::UnsupportedKind { file, .. }
            | LakeError::Checksum { file, .. }
            | LakeError::MissingChecksum { file, .. }
            | LakeError::CorruptZip { file, .. }
            | LakeError::Empty { file }
            | LakeError::BadHeader { file, .. }
            | LakeError::ColumnCount { file, .. }
            | LakeError::BadCell { file, .. }
            | LakeError::TimeUnit { file, .. }
            | LakeError::OutsidePeriod { file, .. }
            | LakeError::Csv { file, .. }
            | LakeError::Market { file, .. }
            | LakeError::Store { file, .. }
            | LakeError::BadBronze { file, .. }
            | LakeError::Quality { file, .. }
            | LakeError::BadSilver { file, .. }
            | LakeError::GoldState { file, .. }
            | LakeError::Failpoint { file, .. } => file,
            LakeError::Ledger { path, .. } => path,
            LakeError::Polars { what, .. } => what,
        }
    }
}
