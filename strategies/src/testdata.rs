//! Test-only access to the real market files in `../shared/data` (see its `PROVENANCE.md`).
//!
//! The directory comes from the workspace-wide rule in `tests/common/data.rs`
//! (`HERMES_DATA_DIR`, defaulting to `shared/data` beside the workspace; loud failure under CI).
//! Reading files here is test code only: the library itself stays IO-free.

#[path = "../../tests/common/data.rs"]
mod data;
pub(crate) use data::data_dir;

/// A seeded stream of uniforms in `[0, 1)` (xorshift64, 53-bit mantissas): cheap reproducible
/// noise for tests. `seed` must be non-zero.
pub(crate) fn uniforms(seed: u64) -> impl FnMut() -> f64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One Binance kline row (the first six of its 12 columns).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Kline {
    /// Open time in the file's unit (ms or µs).
    pub open_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// Reads a Binance kline CSV (headerless or with a header row) relative to [`data_dir`].
/// `None` when the data directory is absent outside CI.
///
/// # Panics
/// When the file is missing or malformed: the fixture set is fixed, so that is a test bug.
pub(crate) fn binance_klines(relative: &str) -> Option<Vec<Kline>> {
    let path = data_dir()?.join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let rows = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("open_time"))
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let num = |i: usize| -> f64 {
                f[i].trim().parse().unwrap_or_else(|e| {
                    panic!("{}: bad field {i} in {line:?}: {e}", path.display())
                })
            };
            Kline {
                open_time: f[0].trim().parse().expect("open_time"),
                open: num(1),
                high: num(2),
                low: num(3),
                close: num(4),
                volume: num(5),
            }
        })
        .collect();
    Some(rows)
}

/// Closes of the 47 monthly BTCUSDT 1h spot files (2017-08 … 2021-06), in time order.
pub(crate) fn btcusdt_1h_closes() -> Option<Vec<f64>> {
    let dir = data_dir()?.join("alphakit/spot");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("BTCUSDT-1h-") && n.ends_with(".csv"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 40,
        "expected the BTCUSDT 1h monthly files in {}",
        dir.display()
    );
    let mut closes = Vec::new();
    for n in names {
        closes.extend(
            binance_klines(&format!("alphakit/spot/{n}"))?
                .iter()
                .map(|k| k.close),
        );
    }
    Some(closes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_real_btcusdt_hourly_history() {
        let Some(closes) = super::btcusdt_1h_closes() else {
            return;
        };
        assert!(closes.len() > 30_000, "got {}", closes.len());
        assert!(closes.iter().all(|c| c.is_finite() && *c > 0.0));
    }
}
