//! Text rendering of `hermes lake ingest` results: one line per input and a totals line, for
//! stdout. Formatting only.

use std::fmt::Write;

use replay::lake::IngestOutcome;

/// Counts of an ingest run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestTotals {
    /// New versions committed.
    pub ingested: usize,
    /// Inputs whose sha256 was already in the ledger.
    pub already: usize,
    /// Rejected or failed inputs (missing paths included).
    pub failed: usize,
}

/// One line per input (`ingested`, `present`, `FAILED`) and the totals line.
#[must_use]
pub fn ingest_summary(outcomes: &[IngestOutcome], root: &str) -> (String, IngestTotals) {
    let mut s = String::new();
    let mut t = IngestTotals::default();
    for o in outcomes {
        let input = o.input().display();
        match o {
            IngestOutcome::Ingested { entry: e, .. } => {
                t.ingested += 1;
                let _ = writeln!(
                    s,
                    "ingested {input}: {}/{}/{}/{} {} rows, {} day(s), {} times, checksum {}, \
                     version {}{}",
                    e.market,
                    e.category,
                    e.symbol,
                    e.interval,
                    e.rows,
                    e.partitions.len(),
                    e.time_unit.as_str(),
                    serde_json::to_value(e.checksum)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    e.version,
                    e.supersedes
                        .as_deref()
                        .map(|s| format!(" (supersedes {})", &s[..16.min(s.len())]))
                        .unwrap_or_default()
                );
            }
            IngestOutcome::AlreadyIngested {
                sha256, version, ..
            } => {
                t.already += 1;
                let _ = writeln!(
                    s,
                    "present  {input}: already ingested (sha256 {}, version {version})",
                    &sha256[..16.min(sha256.len())]
                );
            }
            IngestOutcome::Failed { error, .. } => {
                t.failed += 1;
                // The error names the input (and line/column where it applies).
                let _ = writeln!(s, "FAILED   {error}");
            }
        }
    }
    let _ = write!(
        s,
        "lake ingest into {root}: {} ingested, {} already present, {} failed",
        t.ingested, t.already, t.failed
    );
    (s, t)
}
