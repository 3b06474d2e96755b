//! End-to-end tests of `hermes backtest`: the real binary on real Binance klines and on a
//! generated lake, its output contract, determinism, chunk invariance, data-quality reporting,
//! bad input, and parity with vectorbt's `Portfolio.from_signals`.

mod common;
#[path = "common/s3.rs"]
mod s3;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{data_dir, hermes, hermes_err, hermes_ok, read_csv};

/// Concatenates the real BTCUSDT 1h kline months (headerless Binance CSV, ms) into one file.
fn btc_hourly(dir: &Path, months: usize) -> Option<PathBuf> {
    let src = data_dir()?.join("alphakit/spot");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .expect("alphakit/spot")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("BTCUSDT-1h-"))
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= months,
        "want {months} months in {}",
        src.display()
    );
    let mut text = String::new();
    for f in &files[files.len() - months..] {
        text.push_str(&std::fs::read_to_string(f).unwrap());
    }
    let out = dir.join("BTCUSDT-1h.csv");
    std::fs::write(&out, text).unwrap();
    Some(out)
}

fn run_backtest(data: &Path, out: &Path, strategy: &str, fill: &str) {
    hermes_ok(&[
        "backtest",
        "--config",
        "/dev/null",
        "--data",
        data.to_str().unwrap(),
        "--strategy",
        strategy,
        "--fill",
        fill,
        "--fees",
        "0.001",
        "--cash",
        "10000",
        "--sizing",
        "all-in",
        "--periods-per-year",
        "8760",
        "--no-charts",
        "--out",
        out.to_str().unwrap(),
    ]);
}

#[test]
fn one_file_contract_on_real_klines() {
    let dir = tempfile::tempdir().unwrap();
    let Some(data) = btc_hourly(dir.path(), 12) else {
        eprintln!("SKIPPED: real data missing");
        return;
    };
    let out = dir.path().join("out");
    run_backtest(&data, &out, "smart-momentum", "close");
    let (h, trades) = read_csv(&out.join("trades.csv"));
    assert_eq!(
        h.join(","),
        "entry_time,entry_price,exit_time,exit_price,size,entry_fees,exit_fees,pnl,exit_reason"
    );
    assert!(trades.len() >= 3, "a year of hourly bars gives trades");
    for t in &trades {
        assert!(
            ["signal", "stop_loss", "take_profit", "end"].contains(&t[8].as_str()),
            "{t:?}"
        );
    }
    // Only the last trade may still be open.
    for t in &trades[..trades.len() - 1] {
        assert_ne!(t[8], "end");
    }
    let (h, equity) = read_csv(&out.join("equity.csv"));
    assert_eq!(h.join(","), "time,equity,cash,position");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report["data_range"]["bars"].as_u64().unwrap() as usize,
        equity.len()
    );
    // The same metric keys as `hermes metrics`, and the same values from the same files.
    let metrics = hermes_ok(&[
        "metrics",
        "--equity",
        out.join("equity.csv").to_str().unwrap(),
        "--trades",
        out.join("trades.csv").to_str().unwrap(),
        "--periods-per-year",
        "8760",
        "--initial-equity",
        "10000",
    ]);
    let metrics: serde_json::Value = serde_json::from_str(&metrics).unwrap();
    let ours = report["metrics"].as_object().unwrap();
    let theirs = metrics.as_object().unwrap();
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (k, v) in theirs {
        match (v.as_f64(), ours[k].as_f64()) {
            (Some(a), Some(b)) => {
                assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{k}: {a} vs {b}")
            }
            _ => assert_eq!(v, &ours[k], "{k}"),
        }
    }
    for key in [
        "config_hash",
        "seed",
        "data_range",
        "per_regime",
        "data_quality",
    ] {
        assert!(report.get(key).is_some(), "report.json lacks {key}");
    }
    let decisions = std::fs::read_to_string(out.join("decisions.csv")).unwrap();
    assert!(decisions.lines().count() > trades.len());
}

/// Writes bars (open_time,open,high,low,close) and signals (open_time,action) for parity.py.
fn parity_inputs(data: &Path, out: &Path) -> (PathBuf, PathBuf) {
    let bars = out.join("bars_for_vbt.csv");
    let mut text = String::from("open_time,open,high,low,close\n");
    for line in std::fs::read_to_string(data).unwrap().lines() {
        let f: Vec<&str> = line.split(',').collect();
        // ISO times, as hermes writes them, so both files go through one time parser.
        let t = chrono::DateTime::from_timestamp_millis(f[0].parse().unwrap())
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        text.push_str(&format!("{t},{},{},{},{}\n", f[1], f[2], f[3], f[4]));
    }
    std::fs::write(&bars, text).unwrap();
    let (h, rows) = read_csv(&out.join("decisions.csv"));
    let (ti, ai) = (
        h.iter().position(|c| c == "time").unwrap(),
        h.iter().position(|c| c == "action").unwrap(),
    );
    let signals = out.join("signals_for_vbt.csv");
    let mut text = String::from("open_time,action\n");
    for r in rows {
        text.push_str(&format!("{},{}\n", r[ti], r[ai]));
    }
    std::fs::write(&signals, text).unwrap();
    (bars, signals)
}

#[test]
fn trades_and_equity_match_vectorbt_on_real_data() {
    let Some(python) = std::env::var_os("HERMES_VBT_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "HERMES_VBT_PYTHON must point at a Python with vectorbt under CI"
        );
        eprintln!("SKIPPED LOUDLY: HERMES_VBT_PYTHON unset; vectorbt parity not checked");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(data) = btc_hourly(dir.path(), 24) else {
        eprintln!("SKIPPED: real data missing");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectorbt/parity.py");
    for (strategy, stops) in [
        ("ema-cross", None),
        ("smart-momentum", Some(("0.02", "0.06"))),
    ] {
        for fill in ["close", "next-open"] {
            let out = dir.path().join(format!("{strategy}-{fill}"));
            run_backtest(&data, &out, strategy, fill);
            let (bars, signals) = parity_inputs(&data, &out);
            let mut cmd = Command::new(&python);
            cmd.arg(&script)
                .args(["--bars", bars.to_str().unwrap()])
                .args(["--signals", signals.to_str().unwrap()])
                .args(["--out", out.to_str().unwrap()])
                .args(["--fill", fill, "--fees", "0.001", "--cash", "10000"]);
            if let Some((sl, tp)) = stops {
                cmd.args(["--sl", sl, "--tp", tp]);
            }
            let res = cmd.output().expect("run parity.py");
            assert!(
                res.status.success(),
                "{strategy}/{fill}: vectorbt parity failed:\n{}\n{}",
                String::from_utf8_lossy(&res.stdout),
                String::from_utf8_lossy(&res.stderr)
            );
            eprintln!(
                "{strategy}/{fill}: {}",
                String::from_utf8_lossy(&res.stdout).trim()
            );
        }
    }
}

/// A config for a small generated lake at `lake`.
fn lake_config(dir: &Path, lake: &Path, extra: &str) -> PathBuf {
    let path = dir.join("bt.toml");
    std::fs::write(
        &path,
        format!(
            "[data]\nroot = {:?}\ngenerate = \"demo\"\nsymbols = [\"BTCUSDT\", \"ETHUSDT\"]\n\
             end = \"2024-01-15\"\n{extra}\n[strategy]\nkind = \"adaptive\"\n",
            lake.to_str().unwrap()
        ),
    )
    .unwrap();
    path
}

fn backtest_with(config: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "backtest",
        "--config",
        config.to_str().unwrap(),
        "--no-charts",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    hermes(&args)
}

fn same_outputs(a: &Path, b: &Path) {
    for f in ["decisions.csv", "trades.csv", "equity.csv"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(
            x == y,
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

#[test]
fn adaptive_replay_is_deterministic_and_chunk_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let cfg = lake_config(dir.path(), &lake, "");
    let outs: Vec<PathBuf> = ["a", "b", "c"].iter().map(|n| dir.path().join(n)).collect();
    for (out, chunk) in outs.iter().zip(["1", "1", "5"]) {
        let r = backtest_with(&cfg, out, &["--chunk-days", chunk]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    same_outputs(&outs[0], &outs[1]);
    same_outputs(&outs[0], &outs[2]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(outs[0].join("report.json")).unwrap())
            .unwrap();
    assert!(report["pipeline"]["bars"].as_u64().unwrap() > 2 * 13 * 1440 - 10);
    assert!(report["per_regime"].as_object().unwrap().len() == 4);
}

#[test]
fn missing_partitions_and_corrupt_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let cfg = lake_config(dir.path(), &lake, "");
    let out = dir.path().join("first");
    assert!(backtest_with(&cfg, &out, &[]).status.success());
    // Remove one day of ETHUSDT: reported, not skipped silently.
    let day = lake.join("silver/binance/spot/klines/ETHUSDT/1m/year=2024/month=01/day=05");
    std::fs::remove_dir_all(&day).unwrap();
    let cfg2 = dir.path().join("bt2.toml");
    std::fs::write(
        &cfg2,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("generate = \"demo\"", "generate = \"none\""),
    )
    .unwrap();
    let out2 = dir.path().join("second");
    let r = backtest_with(&cfg2, &out2, &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stderr).contains("missing"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("report.json")).unwrap()).unwrap();
    let missing = report["data_quality"]["missing_partitions"]
        .as_array()
        .unwrap();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0]["symbol"], "ETHUSDT");
    // A corrupt Parquet file names the file.
    let bad =
        lake.join("silver/binance/spot/klines/BTCUSDT/1m/year=2024/month=01/day=03/part-0.parquet");
    std::fs::write(&bad, b"PAR1 this is not parquet").unwrap();
    let out3 = dir.path().join("third");
    let r = backtest_with(&cfg2, &out3, &[]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("day=03") && err.contains("part-0.parquet"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_configuration_and_input_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[risk]\nmax_ordr_notional = 5\n").unwrap();
    let e = hermes_err(&["backtest", "--config", cfg.to_str().unwrap()], 78);
    assert!(
        e.contains("max_ordr_notional") && e.contains("bad.toml"),
        "{e}"
    );

    std::fs::write(&cfg, "[portfolio]\ncash = -5\n[execution]\ntaker_fee = 2\n").unwrap();
    let e = hermes_err(&["backtest", "--config", cfg.to_str().unwrap()], 78);
    assert!(
        e.contains("portfolio.cash") && e.contains("execution.taker_fee"),
        "{e}"
    );

    let data = dir.path().join("bars.csv");
    std::fs::write(&data, "time,open,high,low,close\n2024-01-01,1,0.5,1,1\n").unwrap();
    let e = hermes_err(
        &[
            "backtest",
            "--config",
            "/dev/null",
            "--data",
            data.to_str().unwrap(),
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ],
        65,
    );
    assert!(e.contains("bars.csv") && e.contains("row 1"), "{e}");
}

#[test]
fn backtest_from_a_real_s3_server_equals_local_disk() {
    let Some(server) = s3::SeaweedFs::start_or_skip("backtest_from_a_real_s3_server") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let cfg = lake_config(dir.path(), &lake, "");
    let local_out = dir.path().join("local");
    let r = backtest_with(&cfg, &local_out, &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));

    // Upload the lake the local run generated, byte for byte.
    let options = replay::S3Options {
        endpoint: Some(server.endpoint()),
        access_key_id: Some(s3::ACCESS_KEY.into()),
        secret_access_key: Some(s3::SECRET_KEY.into()),
        session_token: None,
        region: s3::REGION.into(),
    };
    let url = format!("s3://{}/lakes/demo", s3::BUCKET);
    let remote =
        replay::Store::open_with(&replay::LakeRoot::parse(&url).unwrap(), &options).unwrap();
    let local = replay::Store::open_with(
        &replay::LakeRoot::Local(lake.clone()),
        &replay::S3Options::default(),
    )
    .unwrap();
    let files = local.list("silver").unwrap();
    assert!(files.len() >= 28, "{} files", files.len());
    for f in &files {
        remote.put(&f.path, local.get(&f.path).unwrap()).unwrap();
    }

    let s3_out = dir.path().join("s3");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hermes"))
        .args(["backtest", "--config", cfg.to_str().unwrap(), "--no-charts"])
        .args(["--lake", &url, "--out", s3_out.to_str().unwrap()])
        .env("HERMES_S3_ENDPOINT", server.endpoint())
        .env("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY)
        .env("AWS_REGION", s3::REGION)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log_tail()
    );
    same_outputs(&local_out, &s3_out);

    // Wrong credentials: a clear error naming the S3 location, not a panic.
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_hermes"))
        .args(["backtest", "--config", cfg.to_str().unwrap(), "--no-charts"])
        .args([
            "--lake",
            &url,
            "--out",
            dir.path().join("bad").to_str().unwrap(),
        ])
        .env("HERMES_S3_ENDPOINT", server.endpoint())
        .env("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "wrong-secret")
        .env("AWS_REGION", s3::REGION)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "wrong credentials must fail");
    assert!(err.contains("s3://") && !err.contains("panicked"), "{err}");
}
