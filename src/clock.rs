//! The binary's wall-clock adapters: the only code allowed to read the system clock (clippy's
//! `disallowed-methods` bans it everywhere else; actors get time through `actors::Clock`).
//! Commands use [`Stopwatch`] to report how long a run took and [`now_ns`] to stamp lake
//! ingests.

use std::time::Instant;

/// Elapsed wall time since it was started.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts now.
    #[allow(clippy::disallowed_methods)]
    #[must_use]
    pub fn start() -> Self {
        Self(Instant::now())
    }

    /// Seconds since the start.
    #[must_use]
    pub fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// The wall clock as UTC nanoseconds since the epoch (0 if the clock is before 1970; saturates
/// in 2262): the `ingested_at` of lake ingests.
#[allow(clippy::disallowed_methods)]
#[must_use]
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// This process's peak resident set size in bytes (Linux `VmHWM`), if the OS reports it.
#[must_use]
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
