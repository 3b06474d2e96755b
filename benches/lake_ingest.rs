//! Medallion lake throughput of the real `hermes` binary (release), as an operator runs it:
//! - `ingest`: `hermes lake ingest DIR` of monthly spot 1m kline zips with their `.CHECKSUM`
//!   sidecars, laid out like data.binance.vision, into a fresh lake on the same disk; reported as
//!   zipped MB/min (the target is 1 GB/min; the Hermes platform claims 500 MB/min), CSV MB/s
//!   and rows/s;
//! - `silver_to_gold`: `hermes lake gold --full` over the silver layer built from that bronze,
//!   reported as rows/s (target 5 M rows/s; the platform claims 100k rows/s).
//!
//! The archives are generated once into `target/bench-data/lake-ingest-v1/` from real rows: the
//! spot 1m klines of `binance_datatool-lostleaf/BTCUSDT-1m-2020-01-0{1,2}.zip` and
//! `nautilus_trader/ADABTC-1m-2021-11-28.zip` (from `HERMES_DATA_DIR`, default `../shared/data`),
//! their text cells kept as delivered and re-timed onto consecutive minutes of 2024-01 … 2025-12
//! for `SYMBOLS` synthetic symbols — milliseconds before 2025 and microseconds from 2025-01-01,
//! as Binance's spot files switched, so both units are on the measured path. Each case runs
//! `HERMES_BENCH_RUNS` times (default 3) and prints the median; `HERMES_BENCH_CASES` selects
//! (`ingest,silver_to_gold`). Under `cargo test --benches` (no `--bench` flag) it only checks that
//! it starts.
#![allow(clippy::disallowed_methods, missing_docs)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sha2::{Digest, Sha256};

/// Synthetic symbols (`SYN000USDT` …) × 24 months ≈ 190 archives, ≈ 0.3 GB zipped.
const SYMBOLS: usize = 8;
const FIRST_YEAR: i32 = 2024;
const MONTHS: usize = 24;
const SET: &str = "lake-ingest-v1";

fn data_dir() -> PathBuf {
    std::env::var_os("HERMES_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

/// The 10 cells after `open_time` of every real spot row, `close_time` dropped (it is re-timed):
/// `open,high,low,close,volume` and `quote_volume,count,taker_buy_base,taker_buy_quote,ignore`.
fn real_rows() -> Vec<(String, String)> {
    let data = data_dir();
    let zips = [
        "binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip",
        "binance_datatool-lostleaf/BTCUSDT-1m-2020-01-02.zip",
        "nautilus_trader/ADABTC-1m-2021-11-28.zip",
    ];
    let mut rows = Vec::new();
    for z in zips {
        let path = data.join(z);
        let file = std::fs::File::open(&path).unwrap_or_else(|e| {
            panic!(
                "lake_ingest bench: cannot open {} ({e}); set HERMES_DATA_DIR",
                path.display()
            )
        });
        let mut archive = zip::ZipArchive::new(file).expect("zip");
        let mut text = String::new();
        archive
            .by_index(0)
            .expect("member")
            .read_to_string(&mut text)
            .expect("csv text");
        for line in text.lines().filter(|l| !l.is_empty()) {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), 12, "{}: {line}", path.display());
            rows.push((cells[1..6].join(","), cells[7..12].join(",")));
        }
    }
    rows
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let first = chrono::NaiveDate::from_ymd_opt(year, month, 1).unwrap();
    let next = chrono::NaiveDate::from_ymd_opt(ny, nm, 1).unwrap();
    (next - first).num_days() as u32
}

/// One month's CSV of one symbol: 1440 rows a day, real cells, re-timed.
fn month_csv(pool: &[(String, String)], sym: usize, year: i32, month: u32) -> (Vec<u8>, usize) {
    let start_ms = chrono::NaiveDate::from_ymd_opt(year, month, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    let rows = days_in_month(year, month) as usize * 1440;
    let micros = year >= 2025;
    let mut out = Vec::with_capacity(rows * 140);
    let offset = sym * 977 + (year as usize * 12 + month as usize) * 131;
    for i in 0..rows {
        let (a, b) = &pool[(offset + i) % pool.len()];
        let open_ms = start_ms + i as i64 * 60_000;
        if micros {
            let t = open_ms * 1000;
            writeln!(out, "{t},{a},{},{b}", t + 59_999_999).unwrap();
        } else {
            writeln!(out, "{open_ms},{a},{},{b}", open_ms + 59_999).unwrap();
        }
    }
    (out, rows)
}

/// Writes the archive set once (a `_complete` marker makes it reusable); returns (zip bytes,
/// CSV bytes, rows) of the whole set.
fn write_set(dir: &Path) -> (u64, u64, u64) {
    let marker = dir.join("_complete");
    if let Ok(text) = std::fs::read_to_string(&marker) {
        let v: Vec<u64> = text
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        if v.len() == 3 {
            return (v[0], v[1], v[2]);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    let pool = real_rows();
    let jobs: Vec<(usize, i32, u32)> = (0..SYMBOLS)
        .flat_map(|s| {
            (0..MONTHS).map(move |m| (s, FIRST_YEAR + (m / 12) as i32, (m % 12) as u32 + 1))
        })
        .collect();
    let totals = std::sync::Mutex::new((0u64, 0u64, 0u64));
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(sym, year, month)) = jobs.get(k) else {
                        break;
                    };
                    let symbol = format!("SYN{sym:03}USDT");
                    let stem = format!("{symbol}-1m-{year:04}-{month:02}");
                    let (csv, rows) = month_csv(&pool, sym, year, month);
                    let mut zipped = std::io::Cursor::new(Vec::new());
                    {
                        let mut w = zip::ZipWriter::new(&mut zipped);
                        let opts = zip::write::SimpleFileOptions::default()
                            .compression_method(zip::CompressionMethod::Deflated);
                        w.start_file(format!("{stem}.csv"), opts).unwrap();
                        w.write_all(&csv).unwrap();
                        w.finish().unwrap();
                    }
                    let zipped = zipped.into_inner();
                    let sub = dir.join(format!("data/spot/monthly/klines/{symbol}/1m"));
                    std::fs::create_dir_all(&sub).unwrap();
                    let name = format!("{stem}.zip");
                    let sha = Sha256::digest(&zipped);
                    let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
                    std::fs::write(sub.join(&name), &zipped).unwrap();
                    std::fs::write(
                        sub.join(format!("{name}.CHECKSUM")),
                        format!("{hex}  {name}"),
                    )
                    .unwrap();
                    let mut t = totals.lock().unwrap();
                    t.0 += zipped.len() as u64;
                    t.1 += csv.len() as u64;
                    t.2 += rows as u64;
                }
            });
        }
    });
    let t = totals.into_inner().unwrap();
    std::fs::write(&marker, format!("{} {} {}", t.0, t.1, t.2)).unwrap();
    t
}

fn hermes(args: &[&str]) -> f64 {
    let t = Instant::now();
    let res = Command::new(env!("CARGO_BIN_EXE_hermes"))
        .args(args)
        .output()
        .expect("run hermes");
    let dt = t.elapsed().as_secs_f64();
    assert!(
        res.status.success(),
        "hermes {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    dt
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn du(dir: &Path, layer: &str) -> u64 {
    fn walk(p: &Path, sum: &mut u64) {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, sum);
                } else if let Ok(m) = e.metadata() {
                    *sum += m.len();
                }
            }
        }
    }
    let mut sum = 0;
    walk(&dir.join(layer), &mut sum);
    sum
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("lake_ingest: run with `cargo bench --bench lake_ingest`");
        return;
    }
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&data).unwrap();
    let runs: usize = std::env::var("HERMES_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let wanted =
        std::env::var("HERMES_BENCH_CASES").unwrap_or_else(|_| "ingest,silver_to_gold".into());
    let set = data.join(SET);
    let (zip_bytes, csv_bytes, rows) = write_set(&set);
    let files = SYMBOLS * MONTHS;
    println!(
        "archives: {files} monthly spot 1m kline zips, {:.1} MB zipped, {:.1} MB CSV, {rows} rows",
        zip_bytes as f64 / 1e6,
        csv_bytes as f64 / 1e6
    );
    let lake = data.join("lake-ingest-out");
    let lake_s = lake.to_str().unwrap();
    let set_s = set.join("data").to_str().unwrap().to_string();
    let mut ingested = false;
    if wanted.split(',').any(|w| w == "ingest") {
        let mut times = Vec::new();
        for _ in 0..runs {
            let _ = std::fs::remove_dir_all(&lake);
            times.push(hermes(&["lake", "--lake", lake_s, "ingest", &set_s]));
        }
        ingested = true;
        let med = median(times.clone());
        println!(
            "{:<16} median {:>7.3} s  {:>7.0} MB/min zipped  {:>6.1} MB/s CSV  {:>5.2} M rows/s  bronze {:.1} MB  runs {:?}",
            "ingest",
            med,
            zip_bytes as f64 / 1e6 / med * 60.0,
            csv_bytes as f64 / 1e6 / med,
            rows as f64 / 1e6 / med,
            du(&lake, "bronze") as f64 / 1e6,
            times.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>()
        );
    }
    if wanted.split(',').any(|w| w == "silver_to_gold") {
        if !ingested || !lake.join("bronze").is_dir() {
            let _ = std::fs::remove_dir_all(&lake);
            hermes(&["lake", "--lake", lake_s, "ingest", &set_s]);
        }
        let silver = hermes(&["lake", "--lake", lake_s, "silver", "--full"]);
        let mut times = Vec::new();
        for _ in 0..runs {
            times.push(hermes(&["lake", "--lake", lake_s, "gold", "--full"]));
        }
        let med = median(times.clone());
        println!(
            "{:<16} median {:>7.3} s  {:>6.2} M rows/s  (silver --full took {silver:.2} s = {:.2} M rows/s)  gold {:.1} MB  runs {:?}",
            "silver_to_gold",
            med,
            rows as f64 / 1e6 / med,
            rows as f64 / 1e6 / silver,
            du(&lake, "gold") as f64 / 1e6,
            times.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>()
        );
    }
}
