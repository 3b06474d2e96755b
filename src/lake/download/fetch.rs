//! One archive from data.binance.vision onto local disk, verified: the `.CHECKSUM` sidecar
//! first, then the zip into `NAME.zip.part` (resumed with `Range: bytes=N-` when a part is
//! there), its sha256 checked against the sidecar, then fsync and an atomic rename to
//! `NAME.zip` and the sidecar written beside it. A file already present with the published
//! sha256 is not fetched again.
//!
//! Owns the HTTP exchange (reqwest's blocking client), the retry policy and the files under
//! `--dest`; planning is in [`super::plan`], the summary and exit status in [`super`].
//!
//! Responses: 206 appends (its `Content-Range` must start where the part ends), 200 starts
//! over, 416 (the part is at least the whole file) lets the sha256 decide, 404 = "not
//! published", 5xx/408/429, connection failures, timeouts and cut bodies are transient:
//! retried (the bytes already received are kept and resumed) up to
//! [`RetryPolicy::retries`] times with doubling backoff, within [`RetryPolicy::file_deadline`].
//! A sha256 mismatch deletes the part; when the part had been resumed it is fetched once more
//! from byte 0 (the earlier bytes may belong to an older publication), else the file fails.
//! Nothing unverified is ever left under the final name.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_RANGE, RANGE};
use sha2::{Digest, Sha256};

use super::plan::RemoteFile;
use crate::clock::Stopwatch;

/// Largest `.CHECKSUM` body accepted (a real one is about 100 bytes).
const MAX_CHECKSUM_BYTES: u64 = 4096;

/// How often and how long a file is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt, per request (sidecar, zip).
    pub retries: u32,
    /// Wait before the first retry; doubled each time.
    pub backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
    /// No retry starts after this much time on one file.
    pub file_deadline: Duration,
    /// Connect timeout of a request.
    pub connect_timeout: Duration,
    /// Longest wait for a response or for the next bytes of a body.
    pub read_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            file_deadline: Duration::from_secs(15 * 60),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `n` (1-based).
    fn delay(&self, n: u32) -> Duration {
        self.backoff
            .saturating_mul(1 << n.saturating_sub(1).min(16))
            .min(self.max_backoff)
    }
}

/// Why a file failed.
#[derive(Debug)]
pub enum FetchError {
    /// The site answered 404: the file is not published.
    NotPublished {
        /// The URL.
        url: String,
    },
    /// Another client-error status (4xx other than 404/408/429).
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
    },
    /// The sidecar is not `<sha256>  <name>`.
    BadChecksumFile {
        /// The sidecar's URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The downloaded bytes do not have the published sha256 (nothing was kept).
    ChecksumMismatch {
        /// The zip's URL.
        url: String,
        /// sha256 from the sidecar.
        expected: String,
        /// sha256 of the bytes received.
        actual: String,
    },
    /// Transient failures until the retries or the time ran out.
    GaveUp {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// A local file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

impl FetchError {
    /// Whether the input (the site's file, the request) is at fault rather than the network or
    /// the local disk: exit 65 rather than 1.
    #[must_use]
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::NotPublished { .. }
                | Self::Status { .. }
                | Self::BadChecksumFile { .. }
                | Self::ChecksumMismatch { .. }
        )
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPublished { url } => write!(f, "{url}: HTTP 404, not published"),
            Self::Status { url, status } => write!(f, "{url}: HTTP {status}"),
            Self::BadChecksumFile { url, reason } => write!(f, "{url}: {reason}"),
            Self::ChecksumMismatch {
                url,
                expected,
                actual,
            } => write!(
                f,
                "{url}: sha256 mismatch (CHECKSUM {expected}, received {actual}); nothing kept"
            ),
            Self::GaveUp {
                url,
                attempts,
                last,
            } => write!(f, "{url}: gave up after {attempts} attempt(s): {last}"),
            Self::Io { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for FetchError {}

/// What happened to one file.
#[derive(Debug)]
pub enum FetchStatus {
    /// Fetched and verified now.
    Downloaded {
        /// Size of the file.
        bytes: u64,
        /// The part's length when this run resumed it (the last resume), if it did.
        resumed_at: Option<u64>,
        /// Retries of the zip request.
        retries: u32,
    },
    /// Already on disk with the published sha256: not fetched.
    Present {
        /// Size of the file.
        bytes: u64,
    },
    /// Failed (the other files go on).
    Failed(FetchError),
}

/// One planned file and what happened to it.
#[derive(Debug)]
pub struct FetchOutcome {
    /// The file.
    pub file: RemoteFile,
    /// What happened.
    pub status: FetchStatus,
}

/// Fetches planned files from `base` into `dest`. Cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: Client,
    base: String,
    dest: PathBuf,
    policy: RetryPolicy,
}

/// One failed attempt: retry or give up.
enum Attempt {
    Transient(String),
    Fatal(FetchError),
}

/// A finished zip transfer into the part file.
struct Transfer {
    resumed_at: Option<u64>,
    retries: u32,
}

impl Fetcher {
    /// A fetcher over `base` (e.g. `https://data.binance.vision`, trailing `/` optional)
    /// through exactly `proxies` (see [`super::proxy`]; none: direct connections only).
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS roots).
    pub fn new(
        base: &str,
        dest: &Path,
        policy: RetryPolicy,
        proxies: Vec<reqwest::Proxy>,
    ) -> anyhow::Result<Self> {
        // `no_proxy` turns off reqwest's own reading of the environment, which ignores bad
        // values silently; the proxies from `super::proxy` are checked.
        let mut builder = Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.read_timeout)
            .user_agent(concat!("hermes/", env!("CARGO_PKG_VERSION")))
            .no_proxy();
        for p in proxies {
            builder = builder.proxy(p);
        }
        let client = builder.build()?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_string(),
            dest: dest.to_path_buf(),
            policy,
        })
    }

    /// The URL of a path below the base.
    #[must_use]
    pub fn url(&self, rel_path: &str) -> String {
        format!("{}/{rel_path}", self.base)
    }

    /// Fetches one file (never panics, never stops the batch).
    #[must_use]
    pub fn fetch(&self, file: &RemoteFile) -> FetchOutcome {
        let status = self
            .fetch_verified(file)
            .unwrap_or_else(FetchStatus::Failed);
        FetchOutcome {
            file: file.clone(),
            status,
        }
    }

    fn fetch_verified(&self, file: &RemoteFile) -> Result<FetchStatus, FetchError> {
        let clock = Stopwatch::start();
        let final_path = self.dest.join(&file.rel_path);
        let part = with_suffix(&final_path, ".part");
        let sidecar = with_suffix(&final_path, ".CHECKSUM");
        let sum_url = self.url(&file.checksum_rel_path());
        let sum_text = self.with_retries(&sum_url, &clock, |_| self.get_checksum(&sum_url))?;
        let expected = replay::lake::read_checksum(&sum_text, &file.name)
            .map(|d| replay::lake::source::hex(&d))
            .map_err(|e| FetchError::BadChecksumFile {
                url: sum_url.clone(),
                reason: e.to_string(),
            })?;
        if final_path.is_file() && sha256_file(&final_path)? == expected {
            write_atomically(&sidecar, sum_text.as_bytes())?;
            return Ok(FetchStatus::Present {
                bytes: file_len(&final_path),
            });
        }
        if let Some(dir) = final_path.parent() {
            std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        }
        let url = self.url(&file.rel_path);
        let mut restarted = false;
        loop {
            let t = self.transfer(&url, &part, &clock)?;
            let actual = sha256_file(&part)?;
            if actual == expected {
                File::open(&part)
                    .and_then(|f| f.sync_all())
                    .map_err(io_at(&part))?;
                std::fs::rename(&part, &final_path).map_err(io_at(&final_path))?;
                sync_parent(&final_path)?;
                write_atomically(&sidecar, sum_text.as_bytes())?;
                return Ok(FetchStatus::Downloaded {
                    bytes: file_len(&final_path),
                    resumed_at: t.resumed_at,
                    retries: t.retries,
                });
            }
            std::fs::remove_file(&part).map_err(io_at(&part))?;
            if t.resumed_at.is_none() || restarted {
                return Err(FetchError::ChecksumMismatch {
                    url,
                    expected,
                    actual,
                });
            }
            restarted = true;
        }
    }

    /// Runs `op` until it succeeds, fails for good, or the retries or time run out.
    fn with_retries<T>(
        &self,
        url: &str,
        clock: &Stopwatch,
        mut op: impl FnMut(u32) -> Result<T, Attempt>,
    ) -> Result<T, FetchError> {
        let mut attempt = 0;
        loop {
            match op(attempt) {
                Ok(v) => return Ok(v),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Transient(last)) => {
                    attempt += 1;
                    let wait = self.policy.delay(attempt);
                    if attempt > self.policy.retries
                        || clock.seconds() + wait.as_secs_f64()
                            > self.policy.file_deadline.as_secs_f64()
                    {
                        return Err(FetchError::GaveUp {
                            url: url.to_string(),
                            attempts: attempt,
                            last,
                        });
                    }
                    std::thread::sleep(wait);
                }
            }
        }
    }

    fn get_checksum(&self, url: &str) -> Result<String, Attempt> {
        let resp = self.client.get(url).send().map_err(transient)?;
        check_status(url, resp.status())?;
        let mut text = String::new();
        resp.take(MAX_CHECKSUM_BYTES)
            .read_to_string(&mut text)
            .map_err(|e| Attempt::Transient(format!("reading the body: {e}")))?;
        Ok(text)
    }

    /// The zip into `part`, resuming what is there, with retries.
    fn transfer(&self, url: &str, part: &Path, clock: &Stopwatch) -> Result<Transfer, FetchError> {
        let mut resumed_at = None;
        let mut retries = 0;
        self.with_retries(url, clock, |attempt| {
            retries = attempt;
            self.transfer_once(url, part, &mut resumed_at)
        })?;
        Ok(Transfer {
            resumed_at,
            retries,
        })
    }

    /// One GET of the zip into `part`; `resumed_at` is set when the server honoured a range.
    fn transfer_once(
        &self,
        url: &str,
        part: &Path,
        resumed_at: &mut Option<u64>,
    ) -> Result<(), Attempt> {
        let have = std::fs::metadata(part).map_or(0, |m| m.len());
        let mut req = self.client.get(url);
        if have > 0 {
            req = req.header(RANGE, format!("bytes={have}-"));
        }
        let mut resp = req.send().map_err(transient)?;
        let status = resp.status();
        let append = match status {
            StatusCode::PARTIAL_CONTENT if have > 0 => {
                let range = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !range.starts_with(&format!("bytes {have}-")) {
                    // Not the range asked for: drop the part and start over on the retry.
                    std::fs::remove_file(part).map_err(|e| fatal_io(part, e))?;
                    return Err(Attempt::Transient(format!(
                        "asked for bytes {have}-, got Content-Range {range:?}"
                    )));
                }
                *resumed_at = Some(have);
                true
            }
            StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => {
                // The part is already the whole file (or more): the sha256 decides.
                *resumed_at = Some(have);
                return Ok(());
            }
            StatusCode::OK => {
                *resumed_at = None;
                false
            }
            s => {
                check_status(url, s)?;
                return Err(Attempt::Transient(format!("unexpected HTTP {s}")));
            }
        };
        let mut out = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(part)
            .map_err(|e| fatal_io(part, e))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match resp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // The bytes so far stay in the part: the retry resumes after them.
                Err(e) => return Err(Attempt::Transient(format!("body cut: {}", chain(&e)))),
            };
            out.write_all(&buf[..n]).map_err(|e| fatal_io(part, e))?;
        }
        out.flush().map_err(|e| fatal_io(part, e))
    }
}

/// Fails for good on 404 and other client errors, retries on 5xx, 408 and 429.
fn check_status(url: &str, s: StatusCode) -> Result<(), Attempt> {
    if s.is_success() {
        Ok(())
    } else if s == StatusCode::NOT_FOUND {
        Err(Attempt::Fatal(FetchError::NotPublished {
            url: url.to_string(),
        }))
    } else if s.is_server_error()
        || s == StatusCode::REQUEST_TIMEOUT
        || s == StatusCode::TOO_MANY_REQUESTS
    {
        Err(Attempt::Transient(format!("HTTP {s}")))
    } else {
        Err(Attempt::Fatal(FetchError::Status {
            url: url.to_string(),
            status: s,
        }))
    }
}

fn transient(e: reqwest::Error) -> Attempt {
    Attempt::Transient(chain(&e))
}

/// An error and its sources on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

fn fatal_io(path: &Path, error: std::io::Error) -> Attempt {
    Attempt::Fatal(FetchError::Io {
        path: path.to_path_buf(),
        error,
    })
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |error| FetchError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

/// Lower-case hex sha256 of a file, streamed.
fn sha256_file(p: &Path) -> Result<String, FetchError> {
    let mut f = File::open(p).map_err(io_at(p))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(io_at(p))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(replay::lake::source::hex(&h.finalize()))
}

/// Fsyncs the directory holding `p`, so a rename into it survives a power loss.
fn sync_parent(p: &Path) -> Result<(), FetchError> {
    match p.parent() {
        Some(dir) => File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_at(dir)),
        None => Ok(()),
    }
}

/// Writes `bytes` to `path` via a synced temporary file and a rename (skipped when equal).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    if std::fs::read(path).is_ok_and(|b| b == bytes) {
        return Ok(());
    }
    let tmp = with_suffix(path, ".tmp");
    File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(io_at(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_at(path))?;
    sync_parent(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_statuses_classify() {
        let p = RetryPolicy::default();
        let ms: Vec<u128> = (1..=7).map(|n| p.delay(n).as_millis()).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(p.delay(u32::MAX), p.max_backoff);
        let url = "http://h/x.zip";
        assert!(check_status(url, StatusCode::OK).is_ok());
        for s in [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::REQUEST_TIMEOUT,
        ] {
            assert!(
                matches!(check_status(url, s), Err(Attempt::Transient(_))),
                "{s}"
            );
        }
        match check_status(url, StatusCode::NOT_FOUND) {
            Err(Attempt::Fatal(e)) => {
                assert!(e.is_bad_input());
                assert_eq!(e.to_string(), "http://h/x.zip: HTTP 404, not published");
            }
            _ => panic!("404 must be fatal"),
        }
        assert!(matches!(
            check_status(url, StatusCode::FORBIDDEN),
            Err(Attempt::Fatal(FetchError::Status { .. }))
        ));
    }
}
