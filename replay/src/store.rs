//! Where the lake lives: [`LakeRoot`] (a local directory or `s3://bucket/prefix`) and
//! [`Store`], a blocking facade over object_store's `LocalFileSystem` or `AmazonS3`.
//!
//! Callers are synchronous (the replay source, the ETL, tests), so the store owns a small
//! tokio runtime (2 worker threads) and every method blocks the calling thread until its IO
//! is done. That works from any thread, but called from an async task it stalls that
//! task's executor thread: use a plain thread or `spawn_blocking` there.
//! On a local root, whole-object reads, suffix reads and writes of ordinary paths go straight
//! to the file system on the calling thread (see [`Store::put`]): the same files object_store
//! would touch, without a handoff to the runtime per object.
//! Owns object IO only; it knows nothing about Parquet or the partition layout.

use std::fmt;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig};
use rayon::prelude::*;

use crate::error::{ReplayError, Result};

/// Concurrent GETs per [`Store::get_many`] call.
const GET_CONCURRENCY: usize = 8;

/// The root of a lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LakeRoot {
    /// A local directory.
    Local(PathBuf),
    /// A bucket and key prefix (no leading or trailing `/`; empty for the bucket root).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix inside the bucket.
        prefix: String,
    },
}

impl LakeRoot {
    /// Parses `s3://bucket[/prefix]`, `file:///abs/dir`, or a plain local path.
    ///
    /// # Errors
    /// [`ReplayError::BadRoot`] for an empty string, an unsupported URL scheme, an empty or
    /// malformed bucket name, or a prefix with empty segments.
    pub fn parse(root: &str) -> Result<Self> {
        let bad = |reason: &str| ReplayError::BadRoot {
            root: root.to_string(),
            reason: reason.to_string(),
        };
        let s = root.trim();
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let bucket_ok = (3..=63).contains(&bucket.len())
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            if !bucket_ok {
                return Err(bad(
                    "bucket must be 3-63 characters of lowercase letters, digits, '-' and '.'",
                ));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(str::is_empty) && !prefix.is_empty() {
                return Err(bad("prefix has an empty path segment ('//')"));
            }
            return Ok(LakeRoot::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        if let Some(path) = s.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad("file:// URLs need an absolute path (file:///dir)"));
            }
            return Ok(LakeRoot::Local(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(bad(&format!(
                "unsupported scheme {scheme:?} (use a directory or s3://bucket/prefix)"
            )));
        }
        Ok(LakeRoot::Local(PathBuf::from(s)))
    }

    /// The URL (or local path) of `rel`, a `/`-separated path relative to the root, for
    /// messages and reports.
    #[must_use]
    pub fn url_of(&self, rel: &str) -> String {
        let rel = rel.trim_start_matches('/');
        match self {
            LakeRoot::Local(dir) => {
                if rel.is_empty() {
                    dir.display().to_string()
                } else {
                    dir.join(rel).display().to_string()
                }
            }
            LakeRoot::S3 { bucket, prefix } => {
                let mut url = format!("s3://{bucket}");
                for part in [prefix.as_str(), rel] {
                    if !part.is_empty() {
                        url.push('/');
                        url.push_str(part);
                    }
                }
                url
            }
        }
    }
}

impl fmt::Display for LakeRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url_of(""))
    }
}

/// How to reach an S3-compatible store (MinIO, SeaweedFS, AWS). `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Options {
    /// Endpoint URL such as `http://127.0.0.1:8333`; `None` for AWS's own endpoints.
    pub endpoint: Option<String>,
    /// Access key id; `None` leaves credentials to object_store's provider chain.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Session token, for temporary credentials.
    pub session_token: Option<String>,
    /// Region (`us-east-1` unless set).
    pub region: String,
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("region", &self.region)
            .finish()
    }
}

impl Default for S3Options {
    fn default() -> Self {
        Self {
            endpoint: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            region: "us-east-1".to_string(),
        }
    }
}

impl S3Options {
    /// Reads `HERMES_S3_ENDPOINT` (else `AWS_ENDPOINT_URL`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN` and `AWS_REGION` (default `us-east-1`); empty values count as unset.
    #[must_use]
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self {
            endpoint: var("HERMES_S3_ENDPOINT").or_else(|| var("AWS_ENDPOINT_URL")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
            region: var("AWS_REGION").unwrap_or_else(|| "us-east-1".to_string()),
        }
    }
}

/// One object found by [`Store::list`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectEntry {
    /// Path relative to the lake root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// What a [`Store`] has done so far (all clones of a store share one set of counters), so
/// tests and benchmarks can prove what a step read and wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoCounters {
    /// `list` calls.
    pub lists: u64,
    /// Objects those calls returned.
    pub listed: u64,
    /// Objects fetched.
    pub gets: u64,
    /// Bytes fetched.
    pub bytes_read: u64,
    /// Objects written.
    pub puts: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Delete calls.
    pub deletes: u64,
}

#[derive(Default)]
struct Counters {
    lists: AtomicU64,
    listed: AtomicU64,
    gets: AtomicU64,
    bytes_read: AtomicU64,
    puts: AtomicU64,
    bytes_written: AtomicU64,
    deletes: AtomicU64,
}

impl Counters {
    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

struct StoreInner {
    root: LakeRoot,
    /// The root's key prefix inside the object store (empty for local stores, which are
    /// rooted at the directory itself).
    prefix: String,
    store: Arc<dyn ObjectStore>,
    /// The canonical root directory of a local store (what `LocalFileSystem` resolves paths
    /// against); `None` for S3.
    local_dir: Option<PathBuf>,
    /// Where a local put hands the file it replaced (see [`write_local`]); `None` for S3.
    reaper: Option<SyncSender<std::fs::File>>,
    reaper_thread: Option<std::thread::JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    counters: Counters,
}

impl Drop for StoreInner {
    fn drop(&mut self) {
        // Every replaced file is released before the store is gone.
        drop(self.reaper.take());
        if let Some(t) = self.reaper_thread.take() {
            let _ = t.join();
        }
        // A plain drop blocks on the runtime's threads, which panics inside an async context.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A lake's object store with blocking methods. Cloning is cheap and shares the runtime.
#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens an existing lake; S3 settings come from the environment ([`S3Options::from_env`]).
    ///
    /// # Errors
    /// [`ReplayError::StoreSetup`] when a local root is not an existing directory or the S3
    /// client or runtime cannot be built.
    pub fn open(root: &LakeRoot) -> Result<Self> {
        Self::open_with(root, &S3Options::from_env())
    }

    /// Opens a lake, creating a local root directory if it does not exist (for writers).
    ///
    /// # Errors
    /// As [`Store::open`], plus a local directory that cannot be created.
    pub fn create(root: &LakeRoot, s3: &S3Options) -> Result<Self> {
        if let LakeRoot::Local(dir) = root {
            std::fs::create_dir_all(dir).map_err(|e| ReplayError::StoreSetup {
                url: root.to_string(),
                reason: format!("cannot create directory: {e}"),
            })?;
        }
        Self::open_with(root, s3)
    }

    /// Opens a lake with explicit S3 settings (ignored for local roots).
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_with(root: &LakeRoot, s3: &S3Options) -> Result<Self> {
        let setup = |reason: String| ReplayError::StoreSetup {
            url: root.to_string(),
            reason,
        };
        let mut local_dir = None;
        let (mut reaper, mut reaper_thread) = (None, None);
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match root {
            LakeRoot::Local(dir) => {
                if !dir.is_dir() {
                    return Err(setup("not an existing directory".into()));
                }
                let fs = LocalFileSystem::new_with_prefix(dir).map_err(|e| setup(e.to_string()))?;
                local_dir = Some(std::fs::canonicalize(dir).map_err(|e| setup(e.to_string()))?);
                (reaper, reaper_thread) = start_reaper();
                (Arc::new(fs), String::new())
            }
            LakeRoot::S3 { bucket, prefix } => {
                let retry = RetryConfig {
                    max_retries: 3,
                    retry_timeout: Duration::from_secs(30),
                    ..RetryConfig::default()
                };
                let mut b = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(&s3.region)
                    .with_virtual_hosted_style_request(false)
                    .with_retry(retry);
                if let Some(endpoint) = &s3.endpoint {
                    b = b
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(k) = &s3.access_key_id {
                    b = b.with_access_key_id(k);
                }
                if let Some(k) = &s3.secret_access_key {
                    b = b.with_secret_access_key(k);
                }
                if let Some(t) = &s3.session_token {
                    b = b.with_token(t);
                }
                let s3 = b.build().map_err(|e| setup(e.to_string()))?;
                (Arc::new(s3), prefix.clone())
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lake-store")
            .enable_all()
            .build()
            .map_err(|e| setup(format!("cannot start the IO runtime: {e}")))?;
        Ok(Self {
            inner: Arc::new(StoreInner {
                root: root.clone(),
                prefix,
                store,
                local_dir,
                reaper,
                reaper_thread,
                runtime: Some(runtime),
                counters: Counters::default(),
            }),
        })
    }

    /// The lake root.
    #[must_use]
    pub fn root(&self) -> &LakeRoot {
        &self.inner.root
    }

    /// The IO done through this store (and its clones) so far.
    #[must_use]
    pub fn io_counters(&self) -> IoCounters {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        IoCounters {
            lists: get(&c.lists),
            listed: get(&c.listed),
            gets: get(&c.gets),
            bytes_read: get(&c.bytes_read),
            puts: get(&c.puts),
            bytes_written: get(&c.bytes_written),
            deletes: get(&c.deletes),
        }
    }

    /// The URL of `rel` (relative to the root), for messages.
    #[must_use]
    pub fn url_of(&self, rel: &str) -> String {
        self.inner.root.url_of(rel)
    }

    fn object_path(&self, rel: &str) -> Result<ObjectPath> {
        let rel = rel.trim_matches('/');
        let full = match (self.inner.prefix.as_str(), rel) {
            (p, "") => p.to_string(),
            ("", r) => r.to_string(),
            (p, r) => format!("{p}/{r}"),
        };
        ObjectPath::parse(&full).map_err(|e| ReplayError::BadPath {
            path: rel.to_string(),
            reason: e.to_string(),
        })
    }

    /// The file behind `location` on a local root when object_store would map it to the same
    /// file without escaping (letters, digits, `=._-` segments; no staging `#N` names);
    /// `None` on S3 or for any other path, which then takes the object_store route.
    fn local_file(&self, location: &ObjectPath) -> Option<PathBuf> {
        let dir = self.inner.local_dir.as_ref()?;
        let rel = location.as_ref();
        let plain = !rel.is_empty()
            && rel.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"=._-".contains(&b))
            });
        plain.then(|| dir.join(rel))
    }

    /// Runs `f` on the store's runtime and waits for it on a plain channel, so it works from
    /// any thread (including one that is inside another tokio runtime, where
    /// `Runtime::block_on` would panic).
    fn block_on<F>(&self, f: F) -> Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let stopped = || ReplayError::StoreSetup {
            url: self.inner.root.to_string(),
            reason: "the store's IO runtime has shut down".into(),
        };
        let rt = self.inner.runtime.as_ref().ok_or_else(stopped)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().map_err(|_| stopped())
    }

    /// Every object under `prefix` (relative to the root; whole path segments only, so
    /// `a/b` does not match `a/bc`), recursively, sorted by path. A missing prefix lists empty.
    ///
    /// # Errors
    /// [`ReplayError::BadPath`] for an invalid prefix, [`ReplayError::List`] when listing fails.
    pub fn list(&self, prefix: &str) -> Result<Vec<ObjectEntry>> {
        let path = self.object_path(prefix)?;
        Counters::add(&self.inner.counters.lists, 1);
        let store = Arc::clone(&self.inner.store);
        let listed = self.block_on(async move {
            let p = if path.as_ref().is_empty() {
                None
            } else {
                Some(&path)
            };
            store.list(p).try_collect::<Vec<_>>().await
        })?;
        let listed = listed.map_err(|source| ReplayError::List {
            url: self.url_of(prefix),
            source,
        })?;
        let skip = if self.inner.prefix.is_empty() {
            0
        } else {
            self.inner.prefix.len() + 1
        };
        let mut out: Vec<ObjectEntry> = listed
            .into_iter()
            .map(|m| ObjectEntry {
                path: m.location.as_ref().get(skip..).unwrap_or("").to_string(),
                size: m.size,
            })
            .collect();
        out.sort();
        Counters::add(&self.inner.counters.listed, out.len() as u64);
        Ok(out)
    }

    /// The bytes of one object.
    ///
    /// # Errors
    /// [`ReplayError::BadPath`], or [`ReplayError::Get`] naming the URL.
    pub fn get(&self, path: &str) -> Result<Bytes> {
        let mut v = self.get_many(&[path])?;
        Ok(v.pop().unwrap_or_default())
    }

    /// The bytes of one object, or `None` when it does not exist.
    ///
    /// # Errors
    /// As [`Store::get`], for every failure but a missing object.
    pub fn get_opt(&self, path: &str) -> Result<Option<Bytes>> {
        match self.get(path) {
            Ok(b) => Ok(Some(b)),
            Err(ReplayError::Get {
                source: object_store::Error::NotFound { .. },
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The bytes of several objects, fetched concurrently (up to 8 at once), in input order.
    ///
    /// # Errors
    /// [`ReplayError::BadPath`], or [`ReplayError::Get`] naming the first URL that failed.
    pub fn get_many<S: AsRef<str>>(&self, paths: &[S]) -> Result<Vec<Bytes>> {
        self.fetch_many(paths, None)
    }

    /// The last `n` bytes of several objects (the whole object when it is shorter), fetched
    /// concurrently with ranged GETs, in input order: a Parquet footer without the data.
    ///
    /// # Errors
    /// As [`Store::get_many`].
    pub fn get_tails<S: AsRef<str>>(&self, paths: &[S], n: u64) -> Result<Vec<Bytes>> {
        self.fetch_many(paths, Some(GetRange::Suffix(n)))
    }

    fn fetch_many<S: AsRef<str>>(
        &self,
        paths: &[S],
        range: Option<GetRange>,
    ) -> Result<Vec<Bytes>> {
        let located = paths
            .iter()
            .map(|p| Ok((p.as_ref().to_string(), self.object_path(p.as_ref())?)))
            .collect::<Result<Vec<_>>>()?;
        let suffix = match range {
            None => Some(None),
            Some(GetRange::Suffix(n)) => Some(Some(n)),
            Some(_) => None,
        };
        if let Some(suffix) = suffix {
            let files: Option<Vec<PathBuf>> =
                located.iter().map(|(_, p)| self.local_file(p)).collect();
            if let Some(files) = files {
                let got = located
                    .iter()
                    .zip(&files)
                    .map(|((rel, _), file)| {
                        read_local(file, suffix).map_err(|e| ReplayError::Get {
                            url: self.url_of(rel),
                            source: local_error(file, e),
                        })
                    })
                    .collect::<Result<Vec<Bytes>>>()?;
                let c = &self.inner.counters;
                Counters::add(&c.gets, got.len() as u64);
                Counters::add(&c.bytes_read, got.iter().map(|b| b.len() as u64).sum());
                return Ok(got);
            }
        }
        let store = Arc::clone(&self.inner.store);
        let root = self.inner.root.clone();
        let got = self.block_on(async move {
            futures::stream::iter(located)
                .map(|(rel, path)| {
                    let store = Arc::clone(&store);
                    let root = &root;
                    let opts = GetOptions::new().with_range(range.clone());
                    async move {
                        let got = match store.get_opts(&path, opts).await {
                            Ok(r) => r.bytes().await,
                            Err(e) => Err(e),
                        };
                        got.map_err(|source| ReplayError::Get {
                            url: root.url_of(&rel),
                            source,
                        })
                    }
                })
                .buffered(GET_CONCURRENCY)
                .try_collect::<Vec<Bytes>>()
                .await
        })??;
        let c = &self.inner.counters;
        Counters::add(&c.gets, got.len() as u64);
        Counters::add(&c.bytes_read, got.iter().map(|b| b.len() as u64).sum());
        Ok(got)
    }

    /// Writes one object (atomically: on local disk the bytes go to a staging file
    /// `NAME#N` beside the target, which listings skip as object_store does, and are renamed
    /// over it; on S3 a single PUT is atomic), creating parent directories as needed.
    ///
    /// # Errors
    /// [`ReplayError::BadPath`], or [`ReplayError::Put`] naming the URL.
    pub fn put(&self, path: &str, bytes: Bytes) -> Result<()> {
        let location = self.object_path(path)?;
        let c = &self.inner.counters;
        Counters::add(&c.puts, 1);
        Counters::add(&c.bytes_written, bytes.len() as u64);
        if let Some(file) = self.local_file(&location) {
            return write_local(&file, &bytes, self.inner.reaper.as_ref()).map_err(|e| {
                ReplayError::Put {
                    url: self.url_of(path),
                    source: local_error(&file, e),
                }
            });
        }
        let store = Arc::clone(&self.inner.store);
        self.block_on(async move { store.put(&location, bytes.into()).await })?
            .map(|_| ())
            .map_err(|source| ReplayError::Put {
                url: self.url_of(path),
                source,
            })
    }
    /// Writes several objects as [`Store::put`] does, concurrently (up to 8 at once): one
    /// handoff to the IO runtime for the lot instead of one per object. Each object's outcome,
    /// in input order (a failed put does not stop the others).
    #[must_use]
    pub fn put_many(&self, objects: Vec<(String, Bytes)>) -> Vec<Result<()>> {
        if self.inner.local_dir.is_some() {
            // Plain file writes, spread over the rayon pool like the encoding that feeds them.
            return objects
                .into_par_iter()
                .map(|(rel, bytes)| self.put(&rel, bytes))
                .collect();
        }
        let n = objects.len();
        let mut out: Vec<Option<Result<()>>> = (0..n).map(|_| None).collect();
        let mut located = Vec::with_capacity(n);
        for (i, (rel, bytes)) in objects.into_iter().enumerate() {
            match self.object_path(&rel) {
                Ok(path) => located.push((i, rel, path, bytes)),
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        let store = Arc::clone(&self.inner.store);
        let root = self.inner.root.clone();
        let c = &self.inner.counters;
        Counters::add(&c.puts, located.len() as u64);
        Counters::add(
            &c.bytes_written,
            located.iter().map(|o| o.3.len() as u64).sum(),
        );
        let done =
            self.block_on(async move {
                futures::stream::iter(located)
                    .map(|(i, rel, path, bytes)| {
                        let store = Arc::clone(&store);
                        let root = &root;
                        async move {
                            let r = store.put(&path, bytes.into()).await.map(|_| ()).map_err(
                                |source| ReplayError::Put {
                                    url: root.url_of(&rel),
                                    source,
                                },
                            );
                            (i, r)
                        }
                    })
                    .buffer_unordered(GET_CONCURRENCY)
                    .collect::<Vec<(usize, Result<()>)>>()
                    .await
            });
        match done {
            Ok(done) => {
                for (i, r) in done {
                    out[i] = Some(r);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for o in out.iter_mut().filter(|o| o.is_none()) {
                    *o = Some(Err(ReplayError::StoreSetup {
                        url: self.inner.root.to_string(),
                        reason: msg.clone(),
                    }));
                }
            }
        }
        out.into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(ReplayError::StoreSetup {
                        url: self.inner.root.to_string(),
                        reason: "a put was lost".into(),
                    })
                })
            })
            .collect()
    }

    /// Deletes one object; a missing object is not an error (best-effort cleanup of files
    /// that were written but never committed).
    ///
    /// # Errors
    /// [`ReplayError::BadPath`], or [`ReplayError::Put`] naming the URL.
    pub fn delete(&self, path: &str) -> Result<()> {
        let location = self.object_path(path)?;
        let store = Arc::clone(&self.inner.store);
        Counters::add(&self.inner.counters.deletes, 1);
        match self.block_on(async move { store.delete(&location).await })? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(ReplayError::Put {
                url: self.url_of(path),
                source,
            }),
        }
    }
}

/// Attempts at a free staging name before a local put gives up.
const STAGING_ATTEMPTS: u32 = 64;

/// Reads a local file whole, or its last `suffix` bytes.
fn read_local(file: &Path, suffix: Option<u64>) -> std::io::Result<Bytes> {
    let Some(n) = suffix else {
        return std::fs::read(file).map(Bytes::from);
    };
    let mut f = std::fs::File::open(file)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(n);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity(usize::try_from(len - start).unwrap_or(0));
    f.read_to_end(&mut buf)?;
    Ok(Bytes::from(buf))
}

/// Replaced files waiting for the reaper before a put waits for it.
const REAPER_QUEUE: usize = 64;

/// The thread that closes replaced files (see [`write_local`]); none if it cannot start.
fn start_reaper() -> (
    Option<SyncSender<std::fs::File>>,
    Option<std::thread::JoinHandle<()>>,
) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::fs::File>(REAPER_QUEUE);
    match std::thread::Builder::new()
        .name("lake-reaper".into())
        .spawn(move || rx.into_iter().for_each(drop))
    {
        Ok(t) => (Some(tx), Some(t)),
        Err(_) => (None, None),
    }
}

/// Writes `bytes` to `file` atomically: a new staging file `FILE#N` in the same directory
/// (parents created as needed), then a rename over the target. A failed write removes its
/// staging file and leaves the target as it was.
///
/// A file being replaced is held open across the rename and closed by `reaper`'s thread:
/// releasing its blocks is then that thread's wait, not the writer's (on a file system
/// mounted with `discard` the release waits for the device).
fn write_local(
    file: &Path,
    bytes: &[u8],
    reaper: Option<&SyncSender<std::fs::File>>,
) -> std::io::Result<()> {
    let mut created_parents = false;
    let mut n = 1u32;
    let (mut f, staged) = loop {
        let mut staged = file.as_os_str().to_owned();
        staged.push(format!("#{n}"));
        let staged = PathBuf::from(staged);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staged)
        {
            Ok(f) => break (f, staged),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < STAGING_ATTEMPTS => {
                n += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !created_parents => {
                created_parents = true;
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent)?;
                }
            }
            Err(e) => return Err(e),
        }
    };
    let r = match f.write_all(bytes) {
        Ok(()) => {
            drop(f);
            let old = reaper.and_then(|_| std::fs::File::open(file).ok());
            std::fs::rename(&staged, file).map(|()| old)
        }
        Err(e) => Err(e),
    };
    match r {
        Ok(Some(old)) => {
            if let Some(Err(e)) = reaper.map(|tx| tx.send(old)) {
                drop(e.0);
            }
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            Err(e)
        }
    }
}

/// An IO error of the local fast path as the error object_store would have given (a
/// directory where an object was expected is "not found", as there).
fn local_error(file: &Path, e: std::io::Error) -> object_store::Error {
    if matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory
    ) {
        object_store::Error::NotFound {
            path: file.display().to_string(),
            source: Box::new(e),
        }
    } else {
        object_store::Error::Generic {
            store: "LocalFileSystem",
            source: Box::new(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", file.display()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_roots() {
        assert_eq!(
            LakeRoot::parse("s3://lake/market/data/").unwrap(),
            LakeRoot::S3 {
                bucket: "lake".into(),
                prefix: "market/data".into()
            }
        );
        assert_eq!(
            LakeRoot::parse("s3://lake").unwrap(),
            LakeRoot::S3 {
                bucket: "lake".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            LakeRoot::parse("/var/lake").unwrap(),
            LakeRoot::Local("/var/lake".into())
        );
        assert_eq!(
            LakeRoot::parse("file:///var/lake").unwrap(),
            LakeRoot::Local("/var/lake".into())
        );
        for bad in [
            "",
            "  ",
            "s3://",
            "s3://A_B/x",
            "gs://b/x",
            "s3://lake/a//b",
        ] {
            assert!(
                matches!(LakeRoot::parse(bad), Err(ReplayError::BadRoot { .. })),
                "{bad:?}"
            );
        }
        let r = LakeRoot::parse("s3://lake/pre").unwrap();
        assert_eq!(
            r.url_of("silver/x.parquet"),
            "s3://lake/pre/silver/x.parquet"
        );
        assert_eq!(r.to_string(), "s3://lake/pre");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let o = S3Options {
            secret_access_key: Some("hunter2".into()),
            session_token: Some("tok".into()),
            ..S3Options::default()
        };
        let d = format!("{o:?}");
        assert!(!d.contains("hunter2") && !d.contains("tok\""), "{d}");
    }

    #[test]
    fn local_put_list_get_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let root = LakeRoot::Local(dir.path().join("lake"));
        assert!(matches!(
            Store::open_with(&root, &S3Options::default()),
            Err(ReplayError::StoreSetup { .. })
        ));
        let store = Store::create(&root, &S3Options::default()).unwrap();
        store.put("a/b/2.bin", Bytes::from_static(b"two")).unwrap();
        store.put("a/b/1.bin", Bytes::from_static(b"one")).unwrap();
        store
            .put("a/bc/3.bin", Bytes::from_static(b"three"))
            .unwrap();
        let listed = store.list("a/b").unwrap();
        let paths: Vec<&str> = listed.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["a/b/1.bin", "a/b/2.bin"]);
        assert_eq!(listed[1].size, 3);
        assert!(store.list("nothing/here").unwrap().is_empty());
        assert_eq!(
            store.get("a/bc/3.bin").unwrap(),
            Bytes::from_static(b"three")
        );
        let got = store.get_many(&["a/b/2.bin", "a/b/1.bin"]).unwrap();
        assert_eq!(
            got,
            [Bytes::from_static(b"two"), Bytes::from_static(b"one")]
        );
        assert_eq!(store.get_opt("a/b/missing.bin").unwrap(), None);
        let tails = store.get_tails(&["a/bc/3.bin", "a/b/1.bin"], 2).unwrap();
        assert_eq!(
            tails,
            [Bytes::from_static(b"ee"), Bytes::from_static(b"ne")]
        );
        assert_eq!(
            store.get_tails(&["a/b/2.bin"], 100).unwrap(),
            [Bytes::from_static(b"two")]
        );
        let err = store.get("a/b/missing.bin").unwrap_err();
        assert!(err.to_string().contains("missing.bin"), "{err}");
        assert!(err.is_recoverable());
        store.delete("a/b/1.bin").unwrap();
        store.delete("a/b/1.bin").unwrap();
        assert_eq!(store.list("a/b").unwrap().len(), 1);
        let io = store.clone().io_counters();
        assert_eq!(
            (io.puts, io.bytes_written, io.lists, io.listed, io.deletes),
            (3, 11, 3, 3, 2)
        );
        // One get, a get_many of two and three tails; the failed gets are not counted.
        assert_eq!((io.gets, io.bytes_read), (6, 18));
    }

    #[test]
    fn local_fast_path_matches_object_store() {
        let dir = tempfile::tempdir().unwrap();
        let root = LakeRoot::Local(dir.path().to_path_buf());
        let store = Store::open_with(&root, &S3Options::default()).unwrap();
        let plain = "gold/x/year=2025/month=01/day=02/part-0.parquet";
        assert!(
            store
                .local_file(&store.object_path(plain).unwrap())
                .is_some()
        );
        // Paths object_store would escape, or staging names, take the object_store route.
        for odd in ["a b/c.bin", "a/c#1", "a/é.bin"] {
            assert!(
                store.local_file(&store.object_path(odd).unwrap()).is_none(),
                "{odd}"
            );
        }
        store.put("a b/c.bin", Bytes::from_static(b"odd")).unwrap();
        assert_eq!(store.get("a b/c.bin").unwrap(), Bytes::from_static(b"odd"));

        // A leftover staging file from a crashed run: skipped by listings, not overwritten.
        let day = dir.path().join("gold/x/year=2025/month=01/day=02");
        std::fs::create_dir_all(&day).unwrap();
        std::fs::write(day.join("part-0.parquet#1"), b"crash").unwrap();
        // Overwrites, more than the reaper's queue holds, each seen whole.
        for i in 0..(REAPER_QUEUE + 10) {
            store.put(plain, Bytes::from(format!("v{i}"))).unwrap();
            assert_eq!(store.get(plain).unwrap(), Bytes::from(format!("v{i}")));
        }
        let listed = store.list("gold").unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].path, plain);
        assert_eq!(
            std::fs::read(day.join("part-0.parquet#1")).unwrap(),
            b"crash"
        );
        assert!(!day.join("part-0.parquet#2").exists());

        // A directory where an object is expected reads as missing, as on object_store.
        assert_eq!(store.get_opt("gold/x").unwrap(), None);
        // A put under a path whose parent is a file fails, names the URL and leaves no
        // staging file behind.
        let err = store
            .put(&format!("{plain}/under"), Bytes::from_static(b"x"))
            .unwrap_err();
        assert!(err.to_string().contains("part-0.parquet/under"), "{err}");
        assert_eq!(store.list("gold").unwrap().len(), 1);
        // put_many on a local root: every outcome, in order.
        let out = store.put_many(vec![
            ("m/1.bin".into(), Bytes::from_static(b"1")),
            (format!("{plain}/bad"), Bytes::from_static(b"2")),
            ("m/3.bin".into(), Bytes::from_static(b"3")),
        ]);
        assert!(
            out[0].is_ok() && out[1].is_err() && out[2].is_ok(),
            "{out:?}"
        );
        assert_eq!(store.get("m/3.bin").unwrap(), Bytes::from_static(b"3"));
        // The replaced files are all released by the time the store is dropped.
        drop(store);
        let left: Vec<_> = std::fs::read_dir(&day)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[test]
    fn works_and_drops_inside_another_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(
            &LakeRoot::Local(dir.path().to_path_buf()),
            &S3Options::default(),
        )
        .unwrap();
        store.put("x/1.bin", Bytes::from_static(b"1")).unwrap();
        // As from an actix (current-thread tokio) actor: no "runtime within a runtime" panic.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let listed = rt.block_on(async { store.list("x") }).unwrap();
        assert_eq!(listed.len(), 1);
        // Dropping the last handle inside an async context must not panic either.
        rt.block_on(async move { drop(store) });
    }
}
