//! The Medallion lake ETL. Step 1: `ingest` — Binance public-data files (klines, trades,
//! aggTrades; daily or monthly; zip with `.CHECKSUM` or plain CSV) into the bronze layer,
//! committed by a per-sha256 ledger.
//!
//! - [`source`]: file names, markets, checksums, time units;
//! - [`schema`]: the columns of each kind per market;
//! - [`csvparse`]: one CSV → validated typed columns;
//! - [`zipfile`]: the single CSV member of a zip, CRC-checked;
//! - [`bronze`]: the ingest flow and the bronze file format;
//! - [`ledger`]: the commit record;
//! - [`error`]: the error type, [`LakeError`].
//!
//! Reads no clock and opens no network connection beyond the [`crate::Store`] it is given.

pub mod bronze;
pub mod csvparse;
pub mod error;
pub mod ledger;
pub mod schema;
pub mod source;
pub mod zipfile;

pub use bronze::{
    Failpoint, IngestOptions, IngestOutcome, PROVENANCE_COLUMNS, PROVIDER, bronze_path,
    ingest_files,
};
pub use csvparse::{MarketFrom, MarketHint};
pub use error::LakeError;
pub use ledger::{ChecksumStatus, LEDGER_DIR, Ledger, LedgerEntry, bronze_orphans, read_ledger};
pub use source::{
    Category, Container, Market, Period, SourceKind, TimeUnit, market_from_path, parse_source_name,
    read_checksum,
};
