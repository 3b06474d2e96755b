//! The ingest ledger: the lake's commit record for bronze. One JSON object per ingested source
//! version, `_ledger/ingest/{sha256}.json`, written last with one atomic put. A bronze file
//! that no committed entry lists is invisible (an orphan of a crash or a failed ingest).
//! Owns the entry format, reading the ledger and finding orphans.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::csvparse::MarketFrom;
use super::error::{LakeError, Result};
use super::source::{Category, Market, TimeUnit};
use crate::layout::Layer;
use crate::store::Store;

/// The ledger's directory relative to the lake root.
pub const LEDGER_DIR: &str = "_ledger/ingest";

/// The ledger entry format version.
pub const LEDGER_SCHEMA: u32 = 1;

/// Whether the source's `.CHECKSUM` was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumStatus {
    /// The sidecar's sha256 equals the file's.
    Verified,
    /// There was no sidecar.
    Absent,
}

/// One committed source version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerEntry {
    /// [`LEDGER_SCHEMA`].
    pub schema: u32,
    /// sha256 of the source file's bytes (the zip, or the CSV), lower-case hex.
    pub sha256: String,
    /// The file name, e.g. `BTCUSDT-1m-2020-01-01.zip`.
    pub source_name: String,
    /// The path it was ingested from, as given.
    pub source_path: String,
    /// The source file's size.
    pub bytes: u64,
    /// Whether a `.CHECKSUM` sidecar verified it.
    pub checksum: ChecksumStatus,
    /// The zip member read (`None` for a plain CSV).
    pub member: Option<String>,
    /// Market.
    pub market: Market,
    /// How the market was decided.
    pub market_from: MarketFrom,
    /// Category.
    pub category: Category,
    /// Symbol.
    pub symbol: String,
    /// Kline interval or `raw`.
    pub interval: String,
    /// `daily` or `monthly`.
    pub period: String,
    /// `YYYY-MM-DD` or `YYYY-MM`.
    pub period_start: String,
    /// Whether the CSV had a header line.
    pub header: bool,
    /// The unit of the file's times.
    pub time_unit: TimeUnit,
    /// Data rows.
    pub rows: u64,
    /// Earliest event time, UTC ns.
    pub first_ns: i64,
    /// Latest event time, UTC ns.
    pub last_ns: i64,
    /// The bronze files written, relative to the lake root, one per UTC day.
    pub partitions: Vec<String>,
    /// 1 for the first version of `source_name` in this market/category, then 2, 3 …
    pub version: u32,
    /// The sha256 of the version this one replaces, if any (its files are kept).
    pub supersedes: Option<String>,
    /// When the ingest ran, UTC ns (as given by the caller's clock).
    pub ingested_at_ns: i64,
    /// The replay crate version that wrote it.
    pub hermes_version: String,
}

impl LedgerEntry {
    /// The entry's object path.
    #[must_use]
    pub fn path(&self) -> String {
        entry_path(&self.sha256)
    }

    /// The key versions are counted under: market, category and file name.
    #[must_use]
    pub fn version_key(&self) -> (Market, Category, String) {
        (self.market, self.category, self.source_name.clone())
    }
}

/// The object path of the entry for `sha256`.
#[must_use]
pub fn entry_path(sha256: &str) -> String {
    format!("{LEDGER_DIR}/{sha256}.json")
}

/// Every committed entry.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Entries by sha256.
    pub entries: BTreeMap<String, LedgerEntry>,
}

impl Ledger {
    /// The newest version of each source (by market, category and name).
    #[must_use]
    pub fn latest(&self) -> BTreeMap<(Market, Category, String), &LedgerEntry> {
        let mut out: BTreeMap<_, &LedgerEntry> = BTreeMap::new();
        for e in self.entries.values() {
            let slot = out.entry(e.version_key()).or_insert(e);
            if e.version > slot.version {
                *slot = e;
            }
        }
        out
    }

    /// Every bronze file some entry lists.
    #[must_use]
    pub fn committed_files(&self) -> BTreeSet<&str> {
        self.entries
            .values()
            .flat_map(|e| e.partitions.iter().map(String::as_str))
            .collect()
    }
}

/// Reads every committed ledger entry.
///
/// # Errors
/// [`LakeError::Store`] when listing or reading fails, [`LakeError::Ledger`] for an entry that
/// does not parse or whose name is not its sha256.
pub fn read_ledger(store: &Store) -> Result<Ledger> {
    let store_err = |source| LakeError::Store {
        file: store.url_of(LEDGER_DIR),
        source: Box::new(source),
    };
    let paths: Vec<String> = store
        .list(LEDGER_DIR)
        .map_err(store_err)?
        .into_iter()
        .map(|e| e.path)
        .filter(|p| p.ends_with(".json"))
        .collect();
    let bodies = store.get_many(&paths).map_err(store_err)?;
    let mut entries = BTreeMap::new();
    for (path, body) in paths.into_iter().zip(bodies) {
        let bad = |reason: String| LakeError::Ledger {
            path: store.url_of(&path),
            reason,
        };
        let e: LedgerEntry = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
        if path != e.path() {
            return Err(bad(format!("holds the entry of sha256 {}", e.sha256)));
        }
        entries.insert(e.sha256.clone(), e);
    }
    Ok(Ledger { entries })
}

/// Bronze files no committed entry lists (left by a crash or a failed ingest; invisible to
/// every reader, overwritten by a rerun).
///
/// # Errors
/// [`LakeError::Store`] when listing fails.
pub fn bronze_orphans(store: &Store, ledger: &Ledger) -> Result<Vec<String>> {
    let committed = ledger.committed_files();
    let prefix = Layer::Bronze.as_str();
    Ok(store
        .list(prefix)
        .map_err(|source| LakeError::Store {
            file: store.url_of(prefix),
            source: Box::new(source),
        })?
        .into_iter()
        .map(|e| e.path)
        .filter(|p| !committed.contains(p.as_str()))
        .collect())
}
