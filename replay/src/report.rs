//! What a replay read and what it found wrong: [`ReplayReport`] and its parts. Every row
//! that a replay drops and every hole it sees is counted here, so nothing is skipped silently.
//!
//! Owns the report's shape and its bookkeeping helpers; [`crate::source`] fills it.

use std::collections::BTreeMap;

use serde::Serialize;

/// At most this many gaps are listed in [`ReplayReport::gaps`]; the total is always counted.
pub const MAX_LISTED_GAPS: usize = 1000;
/// At most this many missing partitions are listed; the total is always counted.
pub const MAX_LISTED_MISSING: usize = 1000;
/// At most this many ignored files are listed; the total is always counted.
pub const MAX_LISTED_IGNORED: usize = 100;

/// Counts kept per symbol and in total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Day partitions read.
    pub partitions: u64,
    /// Parquet files read.
    pub files: u64,
    /// Bytes fetched.
    pub bytes: u64,
    /// Rows decoded.
    pub rows_read: u64,
    /// Rows handed to the caller.
    pub rows_emitted: u64,
    /// Rows dropped because an earlier row of the same partition had the same time (bars
    /// only; the first is kept).
    pub duplicates: u64,
    /// Partitions whose rows were not in time order and were sorted.
    pub unsorted_partitions: u64,
    /// Rows whose time was earlier than the row before them (in those partitions).
    pub unsorted_rows: u64,
    /// Rows dropped because their time lies outside their partition's UTC day.
    pub outside_partition_rows: u64,
    /// Rows dropped because their time lies outside the requested `[start, end)`.
    pub outside_range_rows: u64,
    /// Gaps seen (consecutive rows more than one interval apart).
    pub gaps: u64,
    /// Bar slots inside those gaps: `(to − from − 1) / interval` summed.
    pub missing_bars: u64,
    /// Days with no partition (see [`MissingPartition`]).
    pub missing_partitions: u64,
}

impl Counters {
    /// Adds the partition-side counts of `o` (everything but gaps and missing partitions,
    /// which the replay counts itself).
    pub(crate) fn add_read(&mut self, o: &Counters) {
        self.partitions += o.partitions;
        self.files += o.files;
        self.bytes += o.bytes;
        self.rows_read += o.rows_read;
        self.duplicates += o.duplicates;
        self.unsorted_partitions += o.unsorted_partitions;
        self.unsorted_rows += o.unsorted_rows;
        self.outside_partition_rows += o.outside_partition_rows;
        self.outside_range_rows += o.outside_range_rows;
    }
}

/// One symbol's part of the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SymbolReport {
    /// The symbol.
    pub symbol: String,
    /// Time of its first emitted row (UTC ns).
    pub first_ns: Option<i64>,
    /// Time of its last emitted row (UTC ns).
    pub last_ns: Option<i64>,
    /// Its counts.
    #[serde(flatten)]
    pub counts: Counters,
}

/// Consecutive rows of one symbol more than one interval apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// The symbol.
    pub symbol: String,
    /// Time of the row before the gap (UTC ns).
    pub from_ns: i64,
    /// Time of the row after the gap (UTC ns).
    pub to_ns: i64,
    /// Bar slots strictly between them: `(to − from − 1) / interval`.
    pub missing_bars: u64,
}

/// A UTC day with no partition for a symbol: between the symbol's first and last partition,
/// or inside the requested `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingPartition {
    /// The symbol.
    pub symbol: String,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
}

/// Everything a replay read and found. Complete once `next_chunk` has returned `None`
/// ([`ReplayReport::finished`]); identical whatever `chunk_days` or prefetching is used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// The lake root.
    pub root: String,
    /// Layer, provider, market, category and interval, `/`-joined.
    pub series: String,
    /// Requested start (inclusive, UTC ns).
    pub start_ns: Option<i64>,
    /// Requested end (exclusive, UTC ns).
    pub end_ns: Option<i64>,
    /// Parquet files planned for reading (in the requested days).
    pub files_listed: u64,
    /// Totals over all symbols.
    pub totals: Counters,
    /// Per symbol, in the spec's order.
    pub symbols: Vec<SymbolReport>,
    /// The first [`MAX_LISTED_GAPS`] gaps, in time order.
    pub gaps: Vec<Gap>,
    /// The first [`MAX_LISTED_MISSING`] missing partitions, by symbol then day.
    pub missing_partitions: Vec<MissingPartition>,
    /// Objects under the series that are not Parquet data files (e.g. `_SUCCESS`,
    /// `.crc`), first [`MAX_LISTED_IGNORED`].
    pub ignored_files: Vec<String>,
    /// All such objects.
    pub ignored_files_total: u64,
    /// Optional columns absent from files, with the number of files lacking each; their
    /// values were filled with the documented default.
    pub defaulted_columns: BTreeMap<String, u64>,
    /// Whether the replay ran to the end.
    pub finished: bool,
}

impl ReplayReport {
    /// Whether anything was dropped, sorted, missing or defaulted.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        let t = &self.totals;
        t.duplicates == 0
            && t.unsorted_partitions == 0
            && t.outside_partition_rows == 0
            && t.gaps == 0
            && t.missing_partitions == 0
            && self.ignored_files_total == 0
            && self.defaulted_columns.is_empty()
    }

    pub(crate) fn record_gap(&mut self, symbol: usize, from_ns: i64, to_ns: i64, missing: u64) {
        let name = self.symbols[symbol].symbol.clone();
        let c = &mut self.symbols[symbol].counts;
        c.gaps += 1;
        c.missing_bars += missing;
        self.totals.gaps += 1;
        self.totals.missing_bars += missing;
        if self.gaps.len() < MAX_LISTED_GAPS {
            self.gaps.push(Gap {
                symbol: name,
                from_ns,
                to_ns,
                missing_bars: missing,
            });
        }
    }

    pub(crate) fn record_missing(&mut self, symbol: usize, date: String) {
        self.symbols[symbol].counts.missing_partitions += 1;
        self.totals.missing_partitions += 1;
        if self.missing_partitions.len() < MAX_LISTED_MISSING {
            self.missing_partitions.push(MissingPartition {
                symbol: self.symbols[symbol].symbol.clone(),
                date,
            });
        }
    }

    pub(crate) fn record_ignored(&mut self, url: String) {
        self.ignored_files_total += 1;
        if self.ignored_files.len() < MAX_LISTED_IGNORED {
            self.ignored_files.push(url);
        }
    }
}
