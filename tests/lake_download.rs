//! `hermes lake download` end to end (the real binary) against a loopback HTTP server that
//! serves the real data.binance.vision archives of `shared/data` (lostleaf's BTCUSDT 1m daily
//! zips and their official `.CHECKSUM` sidecars) under the site's layout, with injected faults:
//! a cut body and its resume, a wrong CHECKSUM, a missing file, a 503, a rerun, then ingest;
//! the proxy variables (the loopback server acting as the proxy) and the DEST lock.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::http::FileServer;
use common::{data_dir, hermes, hermes_err, hermes_ok};
use sha2::{Digest, Sha256};

const DIR: &str = "data/spot/daily/klines/BTCUSDT/1m";

fn zip_path(day: &str) -> String {
    format!("{DIR}/BTCUSDT-1m-{day}.zip")
}

fn sum_path(day: &str) -> String {
    format!("{}.CHECKSUM", zip_path(day))
}

fn source(d: &Path, day: &str) -> PathBuf {
    d.join(format!("binance_datatool-lostleaf/BTCUSDT-1m-{day}.zip"))
}

/// A server with the real zip and CHECKSUM of each of `days`.
fn server(d: &Path, days: &[&str]) -> FileServer {
    let srv = FileServer::start();
    for day in days {
        let zip = source(d, day);
        srv.serve_file(&zip_path(day), &zip);
        srv.serve_file(
            &sum_path(day),
            &PathBuf::from(format!("{}.CHECKSUM", zip.display())),
        );
    }
    srv
}

/// The arguments of a one-symbol spot 1m klines download from `srv` into `dest`.
fn download_args(srv: &FileServer, dest: &Path, from: &str, to: &str) -> Vec<String> {
    let base = srv.base_url();
    [
        "lake",
        "download",
        "--symbol",
        "BTCUSDT",
        "--market",
        "spot",
        "--kind",
        "klines",
        "--interval",
        "1m",
        "--from",
        from,
        "--to",
        to,
        "--dest",
        dest.to_str().unwrap(),
        "--base-url",
        &base,
    ]
    .map(String::from)
    .to_vec()
}

/// `args` as the `&str`s the common helpers take.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn download(srv: &FileServer, dest: &Path, from: &str, to: &str) -> Output {
    hermes(&strs(&download_args(srv, dest, from, to)))
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn sha256_hex(p: &Path) -> String {
    let d = Sha256::digest(std::fs::read(p).unwrap());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hex digest a `.CHECKSUM` file publishes.
fn published(sidecar: &Path) -> String {
    let t = std::fs::read_to_string(sidecar).unwrap();
    t.split_whitespace().next().unwrap().to_string()
}

/// No `.part` or `.tmp` anywhere under `dir`.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "part" || x == "tmp") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

#[test]
fn download_verifies_and_resumes() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let day = "2020-01-01";
    let want = published(&PathBuf::from(format!(
        "{}.CHECKSUM",
        source(&d, day).display()
    )));

    // The body is cut at 30 000 bytes: the retry asks for the rest.
    let srv = server(&d, &[day]);
    srv.cut_once(&zip_path(day), 30_000);
    let dest = tmp.path().join("a");
    let stdout = ok(&download(&srv, &dest, day, day));
    let ranges: Vec<Option<String>> = srv
        .gets(&zip_path(day))
        .into_iter()
        .map(|r| r.range)
        .collect();
    assert_eq!(ranges, [None, Some("bytes=30000-".to_string())], "{stdout}");
    let saved = dest.join(zip_path(day));
    assert_eq!(sha256_hex(&saved), want);
    assert_eq!(
        std::fs::read(&saved).unwrap(),
        std::fs::read(source(&d, day)).unwrap()
    );
    assert_eq!(published(&dest.join(sum_path(day))), want);
    assert!(leftovers(&dest).is_empty(), "{:?}", leftovers(&dest));
    assert!(
        stdout.contains("downloaded, resumed at byte 30000, 1 retry"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 downloaded, 0 already present, 0 failed"),
        "{stdout}"
    );

    // A part left by an interrupted run: the next run resumes it, nothing is fetched twice.
    let srv = server(&d, &[day]);
    let dest = tmp.path().join("b");
    let part = PathBuf::from(format!("{}.part", dest.join(zip_path(day)).display()));
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, &std::fs::read(source(&d, day)).unwrap()[..30_000]).unwrap();
    let stdout = ok(&download(&srv, &dest, day, day));
    let ranges: Vec<Option<String>> = srv
        .gets(&zip_path(day))
        .into_iter()
        .map(|r| r.range)
        .collect();
    assert_eq!(ranges, [Some("bytes=30000-".to_string())], "{stdout}");
    assert_eq!(sha256_hex(&dest.join(zip_path(day))), want);
    assert!(!part.exists());

    // A whole file left as a part (a crash before the rename): 416, verified, renamed.
    let srv = server(&d, &[day]);
    let dest = tmp.path().join("c");
    let part = PathBuf::from(format!("{}.part", dest.join(zip_path(day)).display()));
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::copy(source(&d, day), &part).unwrap();
    let len = std::fs::metadata(&part).unwrap().len();
    ok(&download(&srv, &dest, day, day));
    let ranges: Vec<Option<String>> = srv
        .gets(&zip_path(day))
        .into_iter()
        .map(|r| r.range)
        .collect();
    assert_eq!(ranges, [Some(format!("bytes={len}-"))]);
    assert_eq!(sha256_hex(&dest.join(zip_path(day))), want);
    assert!(!part.exists());
}

#[test]
fn download_gives_up_after_bounded_retries() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let day = "2020-01-01";
    let srv = server(&d, &[day]);
    srv.status_times(&zip_path(day), 503, 100);
    let dest = tmp.path().join("dl");
    let args = download_args(&srv, &dest, day, day);
    // A network failure is not bad input: exit 1, after 1 + 3 retries.
    let stderr = hermes_err(&strs(&args), 1);
    assert!(
        stderr.contains("gave up after 4 attempt(s): HTTP 503"),
        "{stderr}"
    );
    assert_eq!(srv.gets(&zip_path(day)).len(), 4);
    assert!(!dest.join(zip_path(day)).exists());
}

#[test]
fn download_checksum_mismatch_keeps_nothing() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let day = "2020-01-01";
    let srv = server(&d, &[day]);
    let wrong = format!("{}  BTCUSDT-1m-{day}.zip", "0".repeat(64));
    srv.serve(&sum_path(day), wrong.into_bytes());
    let dest = tmp.path().join("a");
    let args = download_args(&srv, &dest, day, day);
    let stderr = hermes_err(&strs(&args), 65);
    let url = format!("{}/{}", srv.base_url(), zip_path(day));
    assert!(
        stderr.contains(&url) && stderr.contains("sha256 mismatch"),
        "{stderr}"
    );
    assert!(!dest.join(zip_path(day)).exists());
    assert!(!dest.join(sum_path(day)).exists());
    assert!(leftovers(&dest).is_empty(), "{:?}", leftovers(&dest));
    // A fresh (not resumed) transfer that mismatches is not fetched again.
    assert_eq!(srv.gets(&zip_path(day)).len(), 1);

    // A resumed part whose bytes are stale fails the sha256: it is fetched once more from 0.
    let srv = server(&d, &[day]);
    let dest = tmp.path().join("b");
    let part = PathBuf::from(format!("{}.part", dest.join(zip_path(day)).display()));
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, vec![7u8; 30_000]).unwrap();
    ok(&download(&srv, &dest, day, day));
    let ranges: Vec<Option<String>> = srv
        .gets(&zip_path(day))
        .into_iter()
        .map(|r| r.range)
        .collect();
    assert_eq!(ranges, [Some("bytes=30000-".to_string()), None]);
    assert_eq!(
        std::fs::read(dest.join(zip_path(day))).unwrap(),
        std::fs::read(source(&d, day)).unwrap()
    );
}

#[test]
fn download_reports_missing_as_failed() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // The site has 2020-01-01 only; 2020-01-02 answers 404.
    let srv = server(&d, &["2020-01-01"]);
    let dest = tmp.path().join("dl");
    let out = download(&srv, &dest, "2020-01-01", "2020-01-02");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{stdout}\n{stderr}");
    let missing = format!("{}/{}", srv.base_url(), sum_path("2020-01-02"));
    assert!(
        stderr.contains("1 of 2 files failed") && stderr.contains(&missing),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().filter(|l| l.contains("error")).count(),
        1,
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!("FAILED {missing}: HTTP 404, not published")),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 downloaded, 0 already present, 1 failed"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read(dest.join(zip_path("2020-01-01"))).unwrap(),
        std::fs::read(source(&d, "2020-01-01")).unwrap()
    );
    assert!(!dest.join(zip_path("2020-01-02")).exists());
}

#[test]
fn download_skips_complete_files() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let days = ["2020-01-01", "2020-01-02"];
    let srv = server(&d, &days);
    // A 503 once is retried.
    srv.status_once(&zip_path(days[1]), 503);
    let dest = tmp.path().join("dl");
    let stdout = ok(&download(&srv, &dest, days[0], days[1]));
    assert!(
        stdout.contains("2 downloaded, 0 already present"),
        "{stdout}"
    );
    assert!(stdout.contains("downloaded, 1 retry"), "{stdout}");

    // Second run, base URL from the config file's [download] base_url: no zip is fetched.
    let cfg = tmp.path().join("lake.toml");
    std::fs::write(
        &cfg,
        format!("[download]\nbase_url = \"{}/\"\n", srv.base_url()),
    )
    .unwrap();
    let before = srv.requests().len();
    let stdout = hermes_ok(&[
        "lake",
        "download",
        "--config",
        cfg.to_str().unwrap(),
        "--symbol",
        "BTCUSDT",
        "--market",
        "spot",
        "--kind",
        "klines",
        "--from",
        days[0],
        "--to",
        days[1],
        "--dest",
        dest.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains("0 downloaded, 2 already present, 0 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("present (sha256 verified)"), "{stdout}");
    let second: Vec<String> = srv.requests()[before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(second.len(), 2, "{second:?}");
    assert!(
        second.iter().all(|p| p.ends_with(".CHECKSUM")),
        "{second:?}"
    );
}

#[test]
fn download_then_ingest() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let srv = server(&d, &["2020-01-01", "2020-01-02"]);
    let dest = tmp.path().join("dl");
    ok(&download(&srv, &dest, "2020-01-01", "2020-01-02"));
    let lake = tmp.path().join("lake");
    let stdout = hermes_ok(&[
        "lake",
        "ingest",
        "--lake",
        lake.to_str().unwrap(),
        dest.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains("2 ingested, 0 already present, 0 failed"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("spot/klines/BTCUSDT/1m 1440 rows").count(),
        2,
        "{stdout}"
    );
    assert_eq!(stdout.matches("checksum verified").count(), 2, "{stdout}");
    for day in ["01", "02"] {
        let p = lake.join(format!(
            "bronze/binance/spot/klines/BTCUSDT/1m/year=2020/month=01/day={day}"
        ));
        assert_eq!(std::fs::read_dir(&p).unwrap().count(), 1, "{}", p.display());
    }
}

#[test]
fn download_rejects_bad_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dl");
    let base = [
        "lake",
        "download",
        "--symbol",
        "BTCUSDT",
        "--market",
        "spot",
        "--dest",
        dest.to_str().unwrap(),
    ];
    let run = |extra: &[&str], code: i32| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        if !extra.contains(&"--base-url") {
            args.extend_from_slice(&["--base-url", "http://127.0.0.1:9"]);
        }
        hermes_err(&args, code)
    };
    let e = run(
        &[
            "--kind",
            "klines",
            "--from",
            "2024-01",
            "--to",
            "2024-01-05",
        ],
        65,
    );
    assert!(e.contains("--daily/--monthly"), "{e}");
    let e = run(
        &[
            "--kind",
            "trades",
            "--interval",
            "1m",
            "--from",
            "2024-01",
            "--to",
            "2024-01",
        ],
        65,
    );
    assert!(e.contains("no interval"), "{e}");
    let e = run(
        &["--kind", "klines", "--from", "2024-1", "--to", "2024-01"],
        65,
    );
    assert!(e.contains("--from"), "{e}");
    let e = run(
        &[
            "--kind",
            "klines",
            "--from",
            "2024-01",
            "--to",
            "2024-01",
            "--base-url",
            "ftp://x",
        ],
        78,
    );
    assert!(e.contains("--base-url"), "{e}");
    assert!(!dest.exists());
}

/// Every proxy variable the binary reads; each proxy test starts from none of them.
const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// Runs `hermes args` with exactly the proxy variables `env`.
fn hermes_env(args: &[String], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hermes"));
    cmd.args(args);
    for v in PROXY_VARS {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("spawn hermes")
}

/// `download_args` with `--base-url` replaced by `base`.
fn args_with_base(srv: &FileServer, dest: &Path, day: &str, base: &str) -> Vec<String> {
    let mut args = download_args(srv, dest, day, day);
    let last = args.len() - 1;
    args[last] = base.to_string();
    args
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn download_goes_through_the_proxy_variables() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let day = "2020-01-01";
    let srv = server(&d, &[day]);

    // HTTP_PROXY: the base host does not resolve (.invalid), so the files can only come through
    // the proxy, which sees absolute-form requests naming that host.
    let dest = tmp.path().join("via-proxy");
    let args = args_with_base(&srv, &dest, day, "http://data.binance.invalid");
    let out = hermes_env(&args, &[("HTTP_PROXY", &srv.base_url())]);
    ok(&out);
    assert_eq!(
        std::fs::read(dest.join(zip_path(day))).unwrap(),
        std::fs::read(source(&d, day)).unwrap()
    );
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(
        reqs.iter()
            .all(|r| r.proxied_host.as_deref() == Some("data.binance.invalid")),
        "{reqs:?}"
    );

    // NO_PROXY: the loopback base is reached directly although HTTP_PROXY names a dead port.
    let dest = tmp.path().join("no-proxy");
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let args = download_args(&srv, &dest, day, day);
    let out = hermes_env(&args, &[("http_proxy", &dead), ("NO_PROXY", "127.0.0.1")]);
    ok(&out);
    let direct = &srv.requests()[reqs.len()..];
    assert_eq!(direct.len(), 2, "{direct:?}");
    assert!(
        direct.iter().all(|r| r.proxied_host.is_none()),
        "{direct:?}"
    );
    assert!(dest.join(zip_path(day)).is_file());

    // HTTPS_PROXY: an https base is tunnelled with CONNECT host:443 through the proxy (which
    // refuses the tunnel here: a network failure, exit 1, after the bounded retries).
    let dest = tmp.path().join("https");
    let before = srv.requests().len();
    let args = args_with_base(&srv, &dest, day, "https://data.binance.invalid");
    let out = hermes_env(&args, &[("HTTPS_PROXY", &srv.base_url())]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let tunnels = &srv.requests()[before..];
    assert_eq!(tunnels.len(), 4, "1 + 3 retries: {tunnels:?}");
    assert!(
        tunnels
            .iter()
            .all(|r| r.method == "CONNECT" && r.path == "data.binance.invalid:443"),
        "{tunnels:?}"
    );
}

#[test]
fn download_rejects_bad_proxy_variables() {
    let tmp = tempfile::tempdir().unwrap();
    let srv = FileServer::start();
    let dest = tmp.path().join("dl");
    let args = download_args(&srv, &dest, "2020-01-01", "2020-01-01");
    for (var, value, needle) in [
        (
            "HTTPS_PROXY",
            "socks5://user:secret@127.0.0.1:1080",
            "socks5:// proxies are not supported",
        ),
        ("http_proxy", "http://", "not a URL"),
        ("ALL_PROXY", "ftp://127.0.0.1:21", "ftp:// proxies"),
    ] {
        let out = hermes_env(&args, &[(var, value)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{var}={value}: {stderr}");
        assert!(
            stderr.contains(&format!("proxy: {var}=")) && stderr.contains(needle),
            "{stderr}"
        );
        assert!(!stderr.contains("secret"), "{stderr}");
    }
    assert!(srv.requests().is_empty());
    assert!(!dest.exists());
}

#[test]
fn download_locks_dest() {
    let Some(d) = data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let day = "2020-01-01";
    let srv = server(&d, &[day]);
    let dest = tmp.path().join("dl");
    std::fs::create_dir_all(&dest).unwrap();
    let lock = dest.join(".hermes-download.lock");
    let me = std::process::id();

    // Held (by this test process, as a running download would hold it): fails at once.
    {
        let mut held = std::fs::File::create(&lock).unwrap();
        held.try_lock().unwrap();
        writeln!(held, "{me}").unwrap();
        let out = download(&srv, &dest, day, day);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("{} is held by pid {me}", lock.display())),
            "{stderr}"
        );
        assert!(srv.requests().is_empty(), "nothing fetched");
        assert_eq!(std::fs::read_to_string(&lock).unwrap(), format!("{me}\n"));
    }

    // Stale (a killed run's file, its pid gone, its lock released): taken over with a warning.
    let mut child = Command::new(env!("CARGO_BIN_EXE_hermes"))
        .arg("--help")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let gone = child.id();
    child.wait().unwrap();
    std::fs::write(&lock, format!("{gone}\n")).unwrap();
    let out = download(&srv, &dest, day, day);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ok(&out);
    assert!(
        stderr.contains(&format!("took over {}, left by pid {gone}", lock.display())),
        "{stderr}"
    );
    assert!(dest.join(zip_path(day)).is_file());
    assert!(!lock.exists(), "removed on success");

    // An error exit (a day the site lacks: 65) removes it too.
    let out = download(&srv, &dest, "2020-01-02", "2020-01-02");
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    assert!(!lock.exists(), "removed on an error exit");
}
