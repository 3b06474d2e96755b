//! `hermes lake download`: Binance public-data archives from data.binance.vision (or the
//! `--base-url`/`[download] base_url` mirror) into a local directory laid out like the site
//! (`DEST/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-01-01.zip` + `.CHECKSUM`), so that
//! `hermes lake ingest DEST` reads market, kind and symbol from the paths and verifies every
//! file against its sidecar.
//!
//! [`plan`] names the files (pure), [`fetch`] moves and verifies one file (HTTP, retries,
//! resume, atomic rename) through the proxies of [`proxy`] (`HTTPS_PROXY`, `HTTP_PROXY`,
//! `NO_PROXY` …), [`lock`] keeps a second run out of the same DEST; this module runs the plan
//! on `--jobs` threads, prints the summary table and maps failures onto the exit status: a bad
//! `--base-url` or proxy variable → 78, DEST locked by another run, any network or local IO
//! failure → 1, else any file missing on the site, refused or failing its checksum → 65, else 0.

pub mod fetch;
pub mod lock;
pub mod plan;
pub mod proxy;

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use replay::lake::{Category, Market};

use crate::cli::{DownloadKindArg, DownloadMarketArg, LakeDownloadArgs};
use crate::error::{BadInput, ConfigError};
use crate::progress::Progress;
use fetch::{FetchOutcome, FetchStatus, Fetcher, RetryPolicy};
use plan::{DateBound, DownloadRequest, Granularity};

/// The public-data site.
pub const DEFAULT_BASE_URL: &str = "https://data.binance.vision";

/// Checks a base URL: `http://` or `https://` with a host.
///
/// # Errors
/// A message saying what is wrong.
pub fn check_base_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("{url:?}: expected http(s)://host[/prefix]"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{url:?}: no query or fragment allowed"));
    }
    Ok(())
}

/// Runs `hermes lake download` with the configured base URL `config_base`.
///
/// # Errors
/// Bad flags (65), a bad `--base-url` (78), failed files (see the module docs).
pub fn run(a: &LakeDownloadArgs, config_base: &str) -> Result<()> {
    let base = a.base_url.as_deref().unwrap_or(config_base);
    check_base_url(base).map_err(|e| ConfigError::new(format!("--base-url: {e}")))?;
    let bound = |flag: &str, s: &str| DateBound::parse(s).map_err(|e| format!("{flag}: {e}"));
    let req = DownloadRequest {
        symbols: a.symbols.clone(),
        market: match a.market {
            DownloadMarketArg::Spot => Market::Spot,
            DownloadMarketArg::FuturesUm => Market::FuturesUm,
            DownloadMarketArg::FuturesCm => Market::FuturesCm,
        },
        category: match a.kind {
            DownloadKindArg::Klines => Category::Klines,
            DownloadKindArg::Trades => Category::Trades,
            DownloadKindArg::AggTrades => Category::AggTrades,
        },
        interval: a.interval.clone(),
        from: bound("--from", &a.from).map_err(BadInput::new)?,
        to: bound("--to", &a.to).map_err(BadInput::new)?,
        granularity: if a.daily {
            Some(Granularity::Daily)
        } else if a.monthly {
            Some(Granularity::Monthly)
        } else {
            None
        },
    };
    let plan = plan::plan(&req).map_err(|e| BadInput::new(format!("lake download: {e}")))?;
    let proxies = proxy::ProxyEnv::from_env()
        .proxies()
        .map_err(|e| ConfigError::new(format!("lake download: proxy: {e}")))?;
    let fetcher = Fetcher::new(base, &a.dest, RetryPolicy::default(), proxies)?;
    // Held until this function returns, whichever way: the drop removes the lock file.
    let dest_lock =
        lock::DestLock::acquire(&a.dest).map_err(|e| anyhow::anyhow!("lake download: {e}"))?;
    if let Some(pid) = dest_lock.stale_pid() {
        eprintln!(
            "lake download: warning: took over {}, left by pid {pid}, which no longer holds it \
             (an interrupted run; its .part files are resumed)",
            dest_lock.path().display()
        );
    }
    let outcomes = fetch_all(&fetcher, &plan.files, usize::from(a.jobs));
    let (table, failed) = summary(&outcomes, &a.dest.display().to_string());
    let mut out = std::io::stdout().lock();
    writeln!(out, "{table}")?;
    out.flush()?;
    let errors: Vec<&fetch::FetchError> = outcomes
        .iter()
        .filter_map(|o| match &o.status {
            FetchStatus::Failed(e) => Some(e),
            _ => None,
        })
        .collect();
    if failed == 0 {
        return Ok(());
    }
    let msg = format!(
        "lake download: {failed} of {} files failed: {}",
        outcomes.len(),
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    );
    if errors.iter().all(|e| e.is_bad_input()) {
        Err(BadInput::new(msg))
    } else {
        Err(anyhow::anyhow!(msg))
    }
}

/// Fetches `files` on `jobs` threads (at least 1); outcomes in plan order.
fn fetch_all(fetcher: &Fetcher, files: &[plan::RemoteFile], jobs: usize) -> Vec<FetchOutcome> {
    let progress = Progress::new(files.len() as u64, "download");
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<FetchOutcome>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, files.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    let outcome = fetcher.fetch(file);
                    if let Ok(mut slots) = slots.lock() {
                        slots[i] = Some(outcome);
                    }
                    progress.inc(1);
                }
            });
        }
    });
    progress.finish();
    slots
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

/// The table (`file  bytes  status`, one row per file) and the totals line; the failure count.
fn summary(outcomes: &[FetchOutcome], dest: &str) -> (String, usize) {
    let width = outcomes
        .iter()
        .map(|o| o.file.rel_path.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut s = String::new();
    let _ = writeln!(s, "{:<width$}  {:>12}  status", "file", "bytes");
    let (mut downloaded, mut present, mut failed) = (0, 0, 0);
    for o in outcomes {
        let (bytes, status) = match &o.status {
            FetchStatus::Downloaded {
                bytes,
                resumed_at,
                retries,
            } => {
                downloaded += 1;
                let mut st = "downloaded".to_string();
                if let Some(at) = resumed_at {
                    let _ = write!(st, ", resumed at byte {at}");
                }
                if *retries > 0 {
                    let _ = write!(
                        st,
                        ", {retries} retr{}",
                        if *retries == 1 { "y" } else { "ies" }
                    );
                }
                (bytes.to_string(), st)
            }
            FetchStatus::Present { bytes } => {
                present += 1;
                (bytes.to_string(), "present (sha256 verified)".to_string())
            }
            FetchStatus::Failed(e) => {
                failed += 1;
                ("-".to_string(), format!("FAILED {e}"))
            }
        };
        let _ = writeln!(s, "{:<width$}  {bytes:>12}  {status}", o.file.rel_path);
    }
    let _ = write!(
        s,
        "lake download into {dest}: {downloaded} downloaded, {present} already present, \
         {failed} failed"
    );
    (s, failed)
}
