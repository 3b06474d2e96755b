//! # replay — Hermes's market-data lake
//!
//! Owns the Medallion lake layout (bronze, silver, gold, gold_test Parquet partitioned by
//! `year/month/day`), its ETL and the replay source that streams it in event time. It must not
//! depend on the actors crate except through a port trait.
//!
//! - [`layout`]: the partition path layout;
//! - [`epoch`]: the unit of an integer epoch, detected from its magnitude;
//! - [`store`]: the lake root (local directory or `s3://bucket/prefix`) and a blocking object
//!   store over it;
//! - [`bars`], [`trades`]: the record types and their Parquet decoders and writers;
//! - [`source`]: [`BarReplay`] and [`TradeReplay`], which stream partitions in time order,
//!   chunk by chunk, and fill a [`ReplayReport`];
//! - [`lake`]: the Medallion ETL (step 1: ingest of Binance public-data files into bronze).

pub mod bars;
mod columns;
pub mod epoch;
pub mod error;
pub mod lake;
pub mod layout;
pub mod report;
pub mod source;
pub mod store;
pub mod trades;

pub use bars::{
    BarFileDecoder, BarRecord, DecodeStats, FileCompression, decode_bar_times, decode_bars,
    write_bars_parquet, write_bars_parquet_with,
};
pub use epoch::{EpochUnit, epoch_to_ns};
pub use error::{ReplayError, Result};
pub use layout::{Layer, LayoutError, PartitionPath};
pub use report::{Counters, Gap, MissingPartition, ReplayReport, SymbolReport};
pub use source::{BarReplay, ChunkInfo, LakeRecord, NS_PER_DAY, Replay, ReplaySpec, TradeReplay};
pub use store::{IoCounters, LakeRoot, ObjectEntry, S3Options, Store};
pub use trades::{TradeRecord, decode_trades, write_trades_parquet, write_trades_parquet_with};
