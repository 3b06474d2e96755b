//! End-to-end backtest throughput of the real `hermes` binary (release), as a user runs it:
//! - the one-symbol EMA-cross backtest from one Parquet file, outputs written;
//! - the adaptive pipeline over 7 years of 1-minute bars of one symbol (≈ 3.7M bars) from the
//!   lake;
//! - 10 years × 10 symbols of 1-minute bars from the lake, for peak memory (the binary reports its
//!   own peak RSS in `report.json`).
//!
//! Data is generated once into `target/bench-data` (a seeded random walk with regimes). Each case
//! runs `HERMES_BENCH_RUNS` times (default 3); the median wall time is printed with bars/s.
//! `HERMES_BENCH_CASES` selects cases by name (comma-separated; default all but `memory`, which
//! writes ≈ 52M bars first). Under `cargo test --benches` (no `--bench` flag) it only checks that
//! it starts.
#![allow(clippy::disallowed_methods, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use replay::BarRecord;

const MINUTE: i64 = 60_000_000_000;
const DAY: i64 = 1440 * MINUTE;
/// 2017-01-01T00:00:00Z.
const START: i64 = 1_483_228_800_000_000_000;

fn walk(days: usize, symbol: u16, seed: u64) -> Vec<BarRecord> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut p = 1000.0_f64 * (1.0 + f64::from(symbol));
    let mut vol = 8e-4;
    let mut out = Vec::with_capacity(days * 1440);
    for i in 0..days * 1440 {
        if i % 5000 == 0 {
            vol = [4e-4, 8e-4, 2e-3][rng.random_range(0..3usize)];
        }
        let u: f64 = rng.random::<f64>() - 0.5;
        let open = p;
        let close = (open * (1.0 + vol * 3.4 * u) * 100.0).round() / 100.0;
        let high = open.max(close) * (1.0 + vol * 0.3);
        let low = open.min(close) * (1.0 - vol * 0.3);
        let t = START + i as i64 * MINUTE;
        out.push(BarRecord {
            symbol,
            open_time_ns: t,
            close_time_ns: t + MINUTE - 1,
            open,
            high: (high * 100.0).ceil() / 100.0,
            low: (low * 100.0).floor() / 100.0,
            close,
            volume: 1.0 + rng.random::<f64>(),
            quote_volume: close,
            trade_count: 10,
        });
        p = close;
    }
    out
}

fn write_lake(root: &Path, symbols: &[String], days: usize) {
    let marker = root.join("_complete");
    if marker.exists() {
        return;
    }
    for (s, name) in symbols.iter().enumerate() {
        let bars = walk(days, s as u16, 1 + s as u64);
        for day in bars.chunks(1440) {
            let date = chrono::DateTime::from_timestamp_nanos(day[0].open_time_ns / DAY * DAY);
            use chrono::Datelike;
            let dir = root.join(format!(
                "silver/binance/spot/klines/{name}/1m/year={:04}/month={:02}/day={:02}",
                date.year(),
                date.month(),
                date.day()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("part-0.parquet"),
                replay::write_bars_parquet(day).unwrap(),
            )
            .unwrap();
        }
    }
    std::fs::write(marker, b"").unwrap();
}

fn write_file(path: &Path, days: usize) -> usize {
    let bars = walk(days, 0, 1);
    if !path.exists() {
        std::fs::write(path, replay::write_bars_parquet(&bars).unwrap()).unwrap();
    }
    bars.len()
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    bars: usize,
}

fn run(case: &Case, runs: usize, out: &Path) {
    let mut times = Vec::new();
    let mut rss = 0u64;
    for _ in 0..runs {
        let t = Instant::now();
        let res = Command::new(env!("CARGO_BIN_EXE_hermes"))
            .args(&case.args)
            .args(["--out", out.to_str().unwrap()])
            .envs(case.env.iter().copied())
            .output()
            .expect("run hermes");
        let dt = t.elapsed().as_secs_f64();
        assert!(
            res.status.success(),
            "{}: {}",
            case.name,
            String::from_utf8_lossy(&res.stderr)
        );
        times.push(dt);
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        rss = rss.max(report["resources"]["peak_rss_bytes"].as_u64().unwrap_or(0));
    }
    times.sort_by(f64::total_cmp);
    let med = times[times.len() / 2];
    println!(
        "{:<28} bars {:>10}  median {:>7.3} s  ({:>6.2} M bars/s)  runs {}  peak RSS {:.0} MB",
        case.name,
        case.bars,
        med,
        case.bars as f64 / med / 1e6,
        times.len(),
        rss as f64 / 1e6
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("backtest_e2e: run with `cargo bench --bench backtest_e2e`");
        return;
    }
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&data).unwrap();
    let runs: usize = std::env::var("HERMES_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let wanted = std::env::var("HERMES_BENCH_CASES")
        .unwrap_or_else(|_| "ema_cross_file,ema_cross_file_no_regime,adaptive_7y".into());
    let days7 = 7 * 365;
    let file = data.join("BTCUSDT-1m-7y.parquet");
    let n = write_file(&file, days7);
    let out = data.join("out");
    let common = |strategy: &str| -> Vec<String> {
        [
            "backtest",
            "--config",
            "/dev/null",
            "--strategy",
            strategy,
            "--fill",
            "close",
            "--fees",
            "0.001",
            "--cash",
            "10000",
            "--no-charts",
        ]
        .iter()
        .map(ToString::to_string)
        .collect()
    };
    let mut cases = Vec::new();
    let mut a = common("ema-cross");
    a.extend(["--data".into(), file.to_str().unwrap().into()]);
    cases.push(Case {
        name: "ema_cross_file",
        args: a.clone(),
        env: vec![],
        bars: n,
    });
    cases.push(Case {
        name: "ema_cross_file_no_regime",
        args: a,
        env: vec![("HERMES__REGIME__ENABLED", "false")],
        bars: n,
    });
    if wanted.contains("adaptive_7y") {
        let lake = data.join("lake-7y");
        write_lake(&lake, &["BTCUSDT".to_string()], days7);
        let mut a = common("adaptive");
        a.extend([
            "--lake".into(),
            lake.to_str().unwrap().into(),
            "--symbols".into(),
            "BTCUSDT".into(),
            "--chunk-days".into(),
            "30".into(),
        ]);
        cases.push(Case {
            name: "adaptive_7y",
            args: a,
            env: vec![
                ("HERMES__PORTFOLIO__SIZING", "fractional"),
                ("HERMES__PORTFOLIO__FRACTION", "0.5"),
                ("HERMES__ALLOCATOR__POLICY", "auto"),
            ],
            bars: n,
        });
    }
    if wanted.contains("memory") {
        let syms: Vec<String> = (0..10).map(|i| format!("SYM{i}USDT")).collect();
        let lake = data.join("lake-10y-10");
        write_lake(&lake, &syms, 3650);
        let mut a = common("adaptive");
        a.extend([
            "--lake".into(),
            lake.to_str().unwrap().into(),
            "--symbols".into(),
            syms.join(","),
            "--chunk-days".into(),
            "7".into(),
        ]);
        cases.push(Case {
            name: "memory_10y_10_symbols",
            args: a,
            env: vec![
                ("HERMES__PORTFOLIO__SIZING", "fractional"),
                ("HERMES__PORTFOLIO__FRACTION", "0.5"),
                ("HERMES__ALLOCATOR__POLICY", "auto"),
            ],
            bars: 3650 * 1440 * 10,
        });
    }
    for c in cases
        .iter()
        .filter(|c| wanted.split(',').any(|w| w == c.name))
    {
        run(c, runs, &out);
    }
}
