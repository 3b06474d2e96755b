//! `hermes lake …`: the market-data lake's commands: `ingest` (files → bronze), `silver`
//! (bronze → silver and the quality report), `gold` (silver → features; with
//! `--with-test-features` also gold_test), `ls` and `stats` (what the lake holds). The lake
//! logic lives in `replay::lake`; this
//! module resolves the root (flag, config), walks input directories, drives the progress bar,
//! prints the summary and maps failures onto exit codes.
//!
//! Exit status after every input (file, series-day) was processed: any store/IO failure → 1;
//! else any bad input → 65; else any missing input path → 66; else 0.

pub mod config;
pub mod download;
pub mod render;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use replay::lake::{
    Failpoint, GoldOptions, GoldTestOptions, GoldTestSummary, IngestOptions, IngestOutcome, Market,
    SeriesFilter, SilverOptions, build_gold, build_gold_test, build_silver, ingest_files,
};
use replay::{LakeRoot, S3Options, Store};

use crate::cli::{
    LakeArgs, LakeCommand, LakeGoldArgs, LakeIngestArgs, LakeSilverArgs, MarketArg, SilverMarketArg,
};
use crate::cli::{LakeLsArgs, LakeStatsArgs, LayerArg};
use crate::error::{BadInput, ConfigError, NoInput};
use crate::progress::Progress;

/// Runs a `hermes lake` command.
///
/// # Errors
/// Configuration (78), an unopenable lake (1), or failed inputs (see the module docs).
pub fn run(args: &LakeArgs) -> Result<()> {
    let cfg = config::LakeConfig::load(args.config.as_deref())?;
    let cfg = config::LakeConfig {
        root: args.lake.clone().unwrap_or(cfg.root),
        ..cfg
    };
    cfg.validate()?;
    match &args.command {
        LakeCommand::Ingest(a) => ingest(&cfg, a),
        LakeCommand::Download(a) => download::run(a, &cfg.download.base_url),
        LakeCommand::Silver(a) => silver(&cfg, a),
        LakeCommand::Gold(a) => gold(&cfg, a),
        LakeCommand::Ls(a) => ls(&cfg, a),
        LakeCommand::Stats(a) => stats(&cfg, a),
    }
}

/// Files under `paths`: files as given, directories walked recursively in name order
/// (skipping `.CHECKSUM` sidecars and hidden entries). Missing paths pass through so the
/// ingest reports them.
fn expand_inputs(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            out.push(dir.to_path_buf());
            return;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') || name.ends_with(".CHECKSUM") {
                continue;
            }
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out);
        } else {
            out.push(p.clone());
        }
    }
    out
}

/// `HERMES_LAKE_FAILPOINT=before_ledger`, honoured in debug builds only (tests).
fn failpoint() -> Option<Failpoint> {
    if !cfg!(debug_assertions) {
        return None;
    }
    match std::env::var("HERMES_LAKE_FAILPOINT").ok()?.as_str() {
        "before_ledger" => Some(Failpoint::BeforeLedger),
        _ => None,
    }
}

fn ingest(cfg: &config::LakeConfig, a: &LakeIngestArgs) -> Result<()> {
    let root = LakeRoot::parse(&cfg.root)?;
    let store = Store::create(&root, &cfg.s3.options())
        .with_context(|| format!("cannot open lake {root}"))?;
    let inputs = expand_inputs(&a.paths);
    let total: u64 = inputs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok().map(|m| m.len()))
        .sum();
    let progress = Progress::new(total, "ingest");
    let opts = IngestOptions {
        market: match a.market {
            MarketArg::Auto => None,
            MarketArg::Spot => Some(Market::Spot),
            MarketArg::FuturesUm => Some(Market::FuturesUm),
            MarketArg::FuturesCm => Some(Market::FuturesCm),
        },
        ingested_at_ns: crate::clock::now_ns(),
        threads: a.threads,
        require_checksum: a.require_checksum,
        failpoint: failpoint(),
        ..IngestOptions::default()
    };
    let outcomes = ingest_files(&store, &inputs, &opts, &|n| progress.inc(n))
        .with_context(|| format!("lake ingest into {root}"))?;
    progress.finish();
    let (text, totals) = render::ingest_summary(&outcomes, &root.to_string());
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    if totals.failed == 0 {
        return Ok(());
    }
    let failed: Vec<(&Path, &replay::lake::LakeError)> = outcomes
        .iter()
        .filter_map(|o| match o {
            IngestOutcome::Failed { input, error } => Some((input.as_path(), error)),
            _ => None,
        })
        .collect();
    let names: Vec<String> = failed
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    let msg = format!(
        "lake ingest: {} of {} inputs failed: {}",
        failed.len(),
        outcomes.len(),
        names.join(", ")
    );
    if failed
        .iter()
        .any(|(_, e)| !e.is_bad_input() && !e.is_missing_input())
    {
        Err(anyhow::anyhow!(msg))
    } else if failed.iter().any(|(_, e)| e.is_bad_input()) {
        Err(BadInput::new(msg))
    } else {
        Err(NoInput::new(msg))
    }
}

/// Opens an existing lake for a step that reads it (a missing local root is a missing input).
fn open_existing(root: &LakeRoot, s3: &S3Options) -> Result<Store> {
    if let LakeRoot::Local(dir) = root
        && !dir.is_dir()
    {
        return Err(NoInput::new(format!(
            "lake {} does not exist (ingest files first)",
            dir.display()
        )));
    }
    Store::open_with(root, s3).with_context(|| format!("cannot open lake {root}"))
}

fn silver(cfg: &config::LakeConfig, a: &LakeSilverArgs) -> Result<()> {
    let root = LakeRoot::parse(&cfg.root)?;
    let store = open_existing(&root, &cfg.s3.options())?;
    let opts = SilverOptions {
        series: SeriesFilter {
            symbols: a.symbols.clone(),
            markets: a.market.map(market).into_iter().collect(),
            intervals: a.intervals.clone(),
        },
        full: a.full,
        ..SilverOptions::default()
    };
    let summary = build_silver(&store, &opts).with_context(|| format!("lake silver in {root}"))?;
    let mut out = std::io::stdout().lock();
    if a.json {
        let v = render::silver_json(&summary, &root.to_string());
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(out, "{}", render::silver_table(&summary, &root.to_string()))?;
    }
    out.flush()?;
    let failures: Vec<_> = summary.failures().collect();
    series_run_exit(
        "lake silver",
        &format!("bronze series in {root}"),
        &opts.series,
        summary.series.is_empty(),
        &failures,
    )
}

/// The exit status of a `silver` or `gold` run, after its report is printed: any failure is an
/// error listing them all (a store failure exit 1, else a bad input, 65); with none, a filter
/// that matched no series (`what`: where none was found) is a bad input.
fn series_run_exit<K: std::fmt::Display>(
    step: &str,
    what: &str,
    filter: &SeriesFilter,
    no_series: bool,
    failures: &[(K, &replay::lake::LakeError)],
) -> Result<()> {
    if failures.is_empty() {
        let mut filters = Vec::new();
        if !filter.symbols.is_empty() {
            filters.push(format!("--symbol {}", filter.symbols.join(",")));
        }
        if let Some(m) = filter.markets.first() {
            filters.push(format!("--market {m}"));
        }
        if !filter.intervals.is_empty() {
            filters.push(format!("--interval {}", filter.intervals.join(",")));
        }
        if no_series && !filters.is_empty() {
            return Err(BadInput::new(format!(
                "{step}: no {what} matches {}",
                filters.join(" ")
            )));
        }
        return Ok(());
    }
    let failed: Vec<String> = failures.iter().map(|(k, e)| format!("{k}: {e}")).collect();
    let msg = format!("{step}: {} failure(s): {}", failed.len(), failed.join("; "));
    if failures.iter().any(|(_, e)| !e.is_bad_input()) {
        Err(anyhow::anyhow!(msg))
    } else {
        Err(BadInput::new(msg))
    }
}

fn market(m: SilverMarketArg) -> Market {
    match m {
        SilverMarketArg::Spot => Market::Spot,
        SilverMarketArg::FuturesUm => Market::FuturesUm,
        SilverMarketArg::FuturesCm => Market::FuturesCm,
    }
}

fn gold(cfg: &config::LakeConfig, a: &LakeGoldArgs) -> Result<()> {
    let root = LakeRoot::parse(&cfg.root)?;
    let store = open_existing(&root, &cfg.s3.options())?;
    let opts = GoldOptions {
        series: SeriesFilter {
            symbols: a.symbols.clone(),
            markets: a.market.map(market).into_iter().collect(),
            intervals: a.intervals.clone(),
        },
        full: a.full,
        ..GoldOptions::default()
    };
    if a.with_test_features && cfg.gold_test.features.is_empty() {
        return Err(ConfigError::new(
            "lake gold --with-test-features: the lake config has no [[gold_test.features]]",
        ));
    }
    let summary = build_gold(&store, &opts).with_context(|| format!("lake gold in {root}"))?;
    // gold_test after gold: its columns sit beside gold's rows (same silver days).
    let test = if a.with_test_features {
        let topts = GoldTestOptions {
            series: opts.series.clone(),
            features: cfg.gold_test.features.clone(),
            full: a.full,
            ..GoldTestOptions::default()
        };
        Some(build_gold_test(&store, &topts).with_context(|| format!("lake gold_test in {root}"))?)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        let mut v = render::gold_json(&summary, &root.to_string());
        if let Some(t) = &test {
            v["gold_test"] = render::gold_test_json(t);
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(out, "{}", render::gold_table(&summary, &root.to_string()))?;
        if let Some(t) = &test {
            writeln!(out, "{}", render::gold_test_table(t, &root.to_string()))?;
        }
    }
    out.flush()?;
    let all_failures: Vec<_> = summary
        .failures()
        .chain(test.iter().flat_map(GoldTestSummary::failures))
        .collect();
    series_run_exit(
        "lake gold",
        &format!("silver klines series in {root}"),
        &opts.series,
        summary.series.is_empty(),
        &all_failures,
    )
}

/// Opens a lake to report on it; `None` for a local root that does not exist (an empty lake).
fn open_for_catalog(root: &LakeRoot, s3: &S3Options) -> Result<Option<Store>> {
    if let LakeRoot::Local(dir) = root
        && !dir.exists()
    {
        return Ok(None);
    }
    Store::open_with(root, s3)
        .map(Some)
        .with_context(|| format!("cannot open lake {root}"))
}

/// Fails (exit 1, after the report) when some commit object or footer could not be read.
fn catalog_problems(cmd: &str, root: &LakeRoot, problems: &[String]) -> Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(anyhow::anyhow!(
        "lake {cmd} in {root}: {} object(s) could not be read: {}",
        problems.len(),
        problems.join("; ")
    ))
}

fn ls(cfg: &config::LakeConfig, a: &LakeLsArgs) -> Result<()> {
    let root = LakeRoot::parse(&cfg.root)?;
    let filter = replay::lake::CatalogFilter {
        layers: a
            .layers
            .iter()
            .map(|l| match l {
                LayerArg::Bronze => replay::Layer::Bronze,
                LayerArg::Silver => replay::Layer::Silver,
                LayerArg::Gold => replay::Layer::Gold,
                LayerArg::GoldTest => replay::Layer::GoldTest,
            })
            .collect(),
        symbols: a.symbols.clone(),
    };
    let series = match open_for_catalog(&root, &cfg.s3.options())? {
        Some(store) => replay::lake::inventory(&store, &filter)
            .with_context(|| format!("lake ls in {root}"))?,
        None => Vec::new(),
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        let v = serde_json::json!({ "root": root.to_string(), "series": series });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(out, "{}", render::ls_table(&series, &root.to_string()))?;
    }
    out.flush()?;
    let problems: Vec<String> = series.iter().flat_map(|s| s.problems.clone()).collect();
    catalog_problems("ls", &root, &problems)
}

fn stats(cfg: &config::LakeConfig, a: &LakeStatsArgs) -> Result<()> {
    let root = LakeRoot::parse(&cfg.root)?;
    let filter = replay::lake::CatalogFilter {
        layers: Vec::new(),
        symbols: a.symbols.clone(),
    };
    let series = match open_for_catalog(&root, &cfg.s3.options())? {
        Some(store) => {
            replay::lake::stats(&store, &filter).with_context(|| format!("lake stats in {root}"))?
        }
        None => Vec::new(),
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        let v = serde_json::json!({ "root": root.to_string(), "series": series });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(out, "{}", render::stats_table(&series, &root.to_string()))?;
    }
    out.flush()?;
    let problems: Vec<String> = series.iter().flat_map(|s| s.problems.clone()).collect();
    catalog_problems("stats", &root, &problems)
}
