//! The Medallion lake ETL: `ingest` — Binance public-data files (klines, trades, aggTrades;
//! daily or monthly; zip with `.CHECKSUM` or plain CSV) into the bronze layer, committed by a
//! per-sha256 ledger — `silver` — typed, deduplicated, sorted klines, trades and aggTrades per
//! series-day with a quality report — and `gold` — silver klines with the standard features
//! and returns, computed over each whole series.
//!
//! - [`source`]: file names, markets, checksums, time units;
//! - [`schema`]: the columns of each kind per market;
//! - [`csvparse`]: one CSV → validated typed columns;
//! - [`zipfile`]: the single CSV member of a zip, CRC-checked;
//! - [`bronze`]: the ingest flow and the bronze file format;
//! - [`ledger`]: the commit record;
//! - [`silver`]: bronze → silver klines (polars), committed by the series' quality table;
//! - [`silver_trades`]: bronze → silver trades and aggTrades (polars), same commit;
//! - [`quality`]: the per-day quality rules and the quality table;
//! - [`trade_quality`]: the trade series' quality rules (id gaps) and table;
//! - [`gold`]: silver → gold (features from `strategies`), committed by the series' state;
//! - [`features`]: test feature specs and their columns (`strategies` indicators);
//! - [`gold_test`]: the gold_test layer and the gold ⋈ gold_test read path;
//! - [`catalog`]: what the lake holds (`ls`) and per-series figures (`stats`);
//! - [`error`]: the error type, [`LakeError`].
//!
//! Reads no clock and opens no network connection beyond the [`crate::Store`] it is given.

pub mod bronze;
pub mod catalog;
pub mod csvparse;
pub mod error;
pub mod features;
pub mod gold;
pub mod gold_test;
pub mod ledger;
pub mod quality;
pub mod schema;
pub mod silver;
pub mod silver_trades;
pub mod source;
pub mod trade_quality;
pub mod zipfile;

pub use bronze::{
    Failpoint, IngestOptions, IngestOutcome, PROVENANCE_COLUMNS, PROVIDER, bronze_path,
    ingest_files,
};
pub use catalog::{
    BronzeStats, CatalogFilter, LayerStats, RowsFrom, SeriesInventory, SeriesPath, SeriesStats,
    SilverStats, inventory, stats,
};
pub use csvparse::{MarketFrom, MarketHint};
pub use error::LakeError;
pub use features::{FeatureValues, TestFeature, TestFeatureSpec, compile_features};
pub use gold::{
    FEATURE_SET, GOLD_FILE, GOLD_STATE_FILE, GoldOptions, GoldSeriesOutcome, GoldState,
    GoldSummary, RETURN_COLUMNS, build_gold, gold_schema,
};
pub use gold_test::{
    GoldTestOptions, GoldTestOutcome, GoldTestSummary, build_gold_test, read_features,
    silver_series,
};
pub use ledger::{ChecksumStatus, LEDGER_DIR, Ledger, LedgerEntry, bronze_orphans, read_ledger};
pub use quality::{
    DayBars, DayCounts, GapSpan, KlineInterval, QUALITY_FILE, QualityRow, SeriesQuality,
    assess_day, link_days, read_quality, write_quality,
};
pub use silver::{
    SILVER_FILE, SeriesFilter, SeriesKey, SeriesOutcome, SilverOptions, SilverSummary, build_silver,
};
pub use source::{
    Category, Container, Market, Period, SourceKind, TimeUnit, market_from_path, parse_source_name,
    read_checksum,
};
pub use trade_quality::{
    TradeDayCounts, TradeQualityRow, TradeSeriesQuality, assess_trade_day, link_trade_days,
    read_trade_quality, write_trade_quality,
};
