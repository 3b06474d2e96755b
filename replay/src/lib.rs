//! # replay — Hermes's market-data lake
//!
//! Owns the Medallion lake layout (bronze, silver, gold, gold_test Parquet partitioned by
//! `year/month/day`), its ETL and the replay source that streams it in event time. It must not
//! depend on the actors crate except through a port trait.
//!
//! Issue 2 starts it with the layout itself, [`layout::PartitionPath`]; ingestion and the
//! replay source arrive with issues 3 and 4.

pub mod layout;

pub use layout::{Layer, LayoutError, PartitionPath};
