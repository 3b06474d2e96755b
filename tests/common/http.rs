//! A std-only HTTP/1.1 file server on 127.0.0.1 (a free port) for the download tests: serves
//! registered bodies under URL paths (the data.binance.vision layout), honours
//! `Range: bytes=N-` (206, or 416 past the end), logs every request, and injects faults: a
//! body cut after K bytes (once), a status answered once (503 …), a path answering 404. It
//! also answers absolute-form requests (`GET http://host/path`), as an HTTP proxy would, and
//! logs the host they named.
//!
//! One connection at a time, `Connection: close` on every answer; every socket has 5 s
//! timeouts and the request head is capped, so no loop can hang a test.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A logged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// `GET`, `HEAD` …
    pub method: String,
    /// The path without the leading `/` (for `CONNECT`, the `host:port` asked for).
    pub path: String,
    /// The `host[:port]` of an absolute-form target (`GET http://host/path`): the request was
    /// sent to this server as an HTTP proxy. `None` for an origin-form target (`GET /path`).
    pub proxied_host: Option<String>,
    /// The `Range` header's value, if any.
    pub range: Option<String>,
}

#[derive(Default)]
struct State {
    bodies: BTreeMap<String, Vec<u8>>,
    cut_once: BTreeMap<String, usize>,
    status_n: BTreeMap<String, (u16, usize)>,
    log: Vec<LoggedRequest>,
}

/// The server; stopped and joined on drop.
pub struct FileServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_HEAD: usize = 16 * 1024;

impl FileServer {
    /// Starts on a free loopback port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(s) = conn {
                        let _ = handle(s, &state);
                    }
                }
            })
        };
        Self {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `body` at `path` (no leading `/`).
    pub fn serve(&self, path: &str, body: Vec<u8>) {
        self.state().bodies.insert(path.to_string(), body);
    }

    /// Serves the bytes of `file` at `path`.
    pub fn serve_file(&self, path: &str, file: &Path) {
        let body = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        self.serve(path, body);
    }

    /// The next answer for `path` sends the headers and only `k` bytes of the body, then closes.
    pub fn cut_once(&self, path: &str, k: usize) {
        self.state().cut_once.insert(path.to_string(), k);
    }

    /// The next request for `path` is answered with `status` and an empty body.
    pub fn status_once(&self, path: &str, status: u16) {
        self.status_times(path, status, 1);
    }

    /// The next `n` requests for `path` are answered with `status` and an empty body.
    pub fn status_times(&self, path: &str, status: u16, n: usize) {
        self.state().status_n.insert(path.to_string(), (status, n));
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state().log.clone()
    }

    /// The GETs of `path` so far.
    pub fn gets(&self, path: &str) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path == path)
            .collect()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("server state")
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, TIMEOUT);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers one request on `s`.
fn handle(mut s: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf)?;
        if n == 0 || head.len() > MAX_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("");
    // As a proxy the server is asked for `http://host[:port]/path`: serve `path`.
    let (proxied_host, path) = match target.strip_prefix("http://") {
        Some(rest) => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            (Some(host.to_string()), path.to_string())
        }
        None => (None, target.trim_start_matches('/').to_string()),
    };
    let range = lines.find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("range")
            .then(|| v.trim().to_string())
    });
    let (body, cut, status_once) = {
        let mut st = state.lock().expect("server state");
        st.log.push(LoggedRequest {
            method: method.clone(),
            path: path.clone(),
            proxied_host,
            range: range.clone(),
        });
        let status_once = match st.status_n.get_mut(&path) {
            Some((code, n)) if *n > 0 => {
                *n -= 1;
                Some(*code)
            }
            _ => None,
        };
        let cut = if status_once.is_none() {
            st.cut_once.remove(&path)
        } else {
            None
        };
        (st.bodies.get(&path).cloned(), cut, status_once)
    };
    let respond = |s: &mut TcpStream, status: &str, extra: &str, body: &[u8], send: usize| {
        write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        )?;
        if method != "HEAD" {
            s.write_all(&body[..send.min(body.len())])?;
        }
        s.flush()?;
        s.shutdown(Shutdown::Write)
    };
    if let Some(code) = status_once {
        return respond(&mut s, &format!("{code} Injected"), "", b"", 0);
    }
    let Some(body) = body else {
        return respond(&mut s, "404 Not Found", "", b"not found", usize::MAX);
    };
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let send = cut.unwrap_or(usize::MAX);
    match start {
        Some(n) if n >= body.len() => respond(
            &mut s,
            "416 Range Not Satisfiable",
            &format!("Content-Range: bytes */{}\r\n", body.len()),
            b"",
            0,
        ),
        Some(n) => respond(
            &mut s,
            "206 Partial Content",
            &format!(
                "Content-Range: bytes {n}-{}/{}\r\n",
                body.len() - 1,
                body.len()
            ),
            &body[n..],
            send,
        ),
        None => respond(&mut s, "200 OK", "", &body, send),
    }
}
