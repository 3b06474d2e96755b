//! `hermes backtest`: replays history through the actor pipeline — the same actors that trade
//! live — under the deterministic replay host, and writes the output folder.
//!
//! Owns the wiring of a backtest run: configuration layering, choosing the data source (one file,
//! the local lake, the S3 lake, or the generated demo market), driving the pipeline in event
//! time, and writing `report.json`, the CSVs, the chart and the HTML report. The trading logic is
//! the actors'; file formats are [`sink`]'s.

mod ab;
pub mod config;
mod data;
mod isotime;
mod sink;
mod stream;

use std::path::{Path, PathBuf};

use actors::InstrumentFilters;
use actors::pipeline::PipelineConfig;
use actors::replay_host::{MarketSource, ReplayHost, SourceError};
use anyhow::{Context, Result};
use replay::BarRecord;
use serde_json::{Value, json};

use crate::cli::{BacktestArgs, FillArg, SizingArg, StrategyArg};
use crate::error::{BadInput, ConfigError};
use config::{BacktestConfig, Sizing};
use sink::OutputSink;

/// First bar of the embedded demo market: 2024-01-01T00:00:00Z.
const DEMO_START_NS: i64 = 1_704_067_200_000_000_000;
/// Days in the embedded demo market.
const DEMO_DAYS: usize = 60;

/// Applies the command-line flags over the loaded configuration.
fn apply_flags(c: &mut BacktestConfig, a: &BacktestArgs) {
    if let Some(p) = &a.data {
        c.data.file = Some(p.clone());
    }
    if let Some(r) = &a.lake {
        c.data.root = r.clone();
        c.data.generate = "none".into();
    }
    if let Some(s) = &a.symbols {
        c.data.symbols = s.clone();
    }
    if let Some(l) = &a.layer {
        c.data.layer = l.clone();
    }
    if let Some(s) = &a.start {
        c.data.start = s.clone();
    }
    if let Some(s) = &a.end {
        c.data.end = s.clone();
    }
    if let Some(s) = &a.interval {
        c.data.interval = s.clone();
    }
    if let Some(n) = a.chunk_days {
        c.data.chunk_days = n;
    }
    if let Some(s) = a.strategy {
        use actors::strategy_selector::StrategyPolicy as P;
        c.strategy.kind = match s {
            StrategyArg::SmartMomentum => P::SmartMomentum,
            StrategyArg::EmaCross => P::EmaCross,
            StrategyArg::Adaptive => P::Adaptive,
        };
    }
    if let Some(f) = a.fill {
        c.execution.fill = match f {
            FillArg::Close => actors::executor::FillConvention::Close,
            FillArg::NextOpen => actors::executor::FillConvention::NextOpen,
        };
    }
    if let Some(f) = a.fees {
        c.execution.taker_fee = f;
        c.execution.maker_fee = f;
    }
    if let Some(v) = a.cash {
        c.portfolio.cash = v;
    }
    if let Some(s) = a.sizing {
        c.portfolio.sizing = match s {
            SizingArg::AllIn => Sizing::AllIn,
            SizingArg::Fractional => Sizing::Fractional,
        };
    }
    if let Some(p) = a.periods_per_year {
        c.report.periods_per_year = p;
    }
    if let Some(s) = a.seed {
        c.run.seed = s;
    }
    if let Some(o) = &a.out {
        c.run.out = o.clone();
    }
    if a.no_charts {
        c.report.charts = false;
    }
}

/// Parses a `data.start`/`data.end` value (empty = unbounded).
fn bound(key: &str, v: &str) -> Result<Option<i64>> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    crate::timeparse::parse_timestamp(v.trim())
        .map(Some)
        .map_err(|e| ConfigError::new(format!("{key} = {v:?}: {e}")))
}

/// Runs `hermes backtest` (`--ab`: [`ab::run`]).
///
/// # Errors
/// Configuration errors (exit 78), bad input data (65), missing files (66), IO failures (1).
pub fn run(args: &BacktestArgs) -> Result<()> {
    if args.ab {
        return ab::run(args);
    }
    run_with(args, |_| Ok(())).map(drop)
}

/// One backtest run; `prepare` adjusts the configuration after the flags are applied (the
/// `--ab` variants). Returns the run's report.json content.
fn run_with(
    args: &BacktestArgs,
    prepare: impl FnOnce(&mut BacktestConfig) -> Result<()>,
) -> Result<Value> {
    let stopwatch = crate::clock::Stopwatch::start();
    let default_path = PathBuf::from("config/backtest.toml");
    let config_path = match &args.config {
        Some(p) => Some(p.clone()),
        None if default_path.is_file() => Some(default_path),
        None => None,
    };
    let mut cfg = BacktestConfig::load(config_path.as_deref())?;
    apply_flags(&mut cfg, args);
    prepare(&mut cfg)?;
    if cfg.data.file.is_some() && args.symbols.is_none() {
        // A one-file run trades one symbol, named after the file.
        let stem = cfg
            .data
            .file
            .as_ref()
            .and_then(|p| p.file_stem())
            .map_or_else(
                || "SYMBOL".to_string(),
                |s| {
                    s.to_string_lossy()
                        .split(['-', '.'])
                        .next()
                        .unwrap_or("SYMBOL")
                        .to_string()
                },
            );
        cfg.data.symbols = vec![stem];
    }
    let file_interval = args.interval.is_none() && cfg.data.file.is_some();
    if cfg.data.file.is_some() && cfg.data.symbols.len() != 1 {
        return Err(ConfigError::new(
            "a one-file backtest (--data / data.file) trades exactly one symbol",
        ));
    }
    cfg.validate()?;
    let start = bound("data.start", &cfg.data.start)?;
    let end = bound("data.end", &cfg.data.end)?;

    // Data: one file, or the lake (generating the demo market first if asked).
    let mut quality = Value::Null;
    // About how many bar times the run marks, to size the equity curve up front.
    let bar_times_hint: usize;
    let source = if let Some(file) = cfg.data.file.clone() {
        let interval = if file_interval {
            None
        } else {
            Some(config::interval_ns(&cfg.data.interval).map_err(ConfigError::new)?)
        };
        let (bars, q) = data::open_file(&file, &cfg.data.symbols[0], interval, start, end)?;
        cfg.data.interval = interval_text(q.interval_ns);
        bar_times_hint = q.rows;
        quality = serde_json::to_value(&q)?;
        match bars {
            data::FileBars::Loaded(rows) => Source::File(Some(rows)),
            data::FileBars::Streamed(stream) => Source::FileStream(stream),
        }
    } else {
        let root = replay::LakeRoot::parse(&cfg.data.root)
            .map_err(|e| ConfigError::new(format!("data.root: {e}")))?;
        if cfg.data.generate == "demo"
            && let replay::LakeRoot::Local(dir) = &root
        {
            let spec = data::DemoSpec {
                generator: 2,
                symbols: cfg.data.symbols.clone(),
                days: DEMO_DAYS,
                seed: 20_240_101,
                start_ns: DEMO_START_NS,
            };
            if data::ensure_demo_lake(dir, &spec)? {
                eprintln!(
                    "hermes: generated the demo market ({} symbols × {} days of 1m bars) in {}",
                    spec.symbols.len(),
                    spec.days,
                    dir.display()
                );
            }
        }
        let store = replay::Store::open(&root)?;
        let spec = replay::ReplaySpec {
            root,
            layer: layer(&cfg.data.layer)?,
            provider: cfg.data.provider.clone(),
            market: cfg.data.market.clone(),
            category: cfg.data.category.clone(),
            symbols: cfg.data.symbols.clone(),
            interval: cfg.data.interval.clone(),
            interval_ns: config::interval_ns(&cfg.data.interval).map_err(ConfigError::new)?,
            start_ns: start,
            end_ns: end,
            chunk_days: cfg.data.chunk_days,
            prefetch: true,
        };
        let interval_ns = spec.interval_ns;
        let replay = replay::BarReplay::open(&store, &spec)?;
        let per_day = replay::NS_PER_DAY / interval_ns.max(1);
        bar_times_hint = replay
            .days()
            .saturating_mul(usize::try_from(per_day).unwrap_or(0));
        Source::Lake(Box::new(replay), interval_ns)
    };

    let out_dir = cfg.run.out.clone();
    let symbols = cfg.data.symbols.clone();
    let mut sink = OutputSink::create(&out_dir, &symbols, cfg.portfolio.cash)?;
    sink.reserve_bar_times(bar_times_hint);
    let pcfg = pipeline_config(&cfg);
    let filters = vec![InstrumentFilters::NONE; symbols.len()];
    let mut feed = Feed {
        source,
        buf: Vec::with_capacity(1 << 16),
        pos: 0,
        first: None,
        last: None,
        symbols: symbols.clone(),
        progress: crate::progress::Progress::new(0, "replaying"),
        error: None,
    };
    // The deterministic replay host drives the pipeline: it merges its sources by
    // (time, priority, source) and closes each bar time with an equity mark.
    let mut host =
        ReplayHost::new(pcfg, &filters, sink).map_err(|e| ConfigError::new(e.to_string()))?;
    host.add_source(Box::new(FeedSource(&mut feed)));
    let ran = host.run();
    let (mut sink, trips, stats) = match ran {
        Ok(_) => host.finish().context("finishing the pipeline")?,
        Err(e) => {
            drop(host);
            // A source error keeps its class (bad data, missing input) for the exit code.
            return Err(feed.error.take().unwrap_or_else(|| anyhow::Error::new(e)));
        }
    };
    feed.progress.finish();
    let Feed {
        source,
        first,
        last,
        ..
    } = feed;
    // equity.csv and decisions.csv finish (written out, synced, renamed) while the report is
    // computed.
    let finishing = sink.finish()?;
    if let Source::Lake(rep, _) = &source {
        let r = rep.report();
        let t = &r.totals;
        if t.gaps + t.missing_partitions + t.duplicates + t.unsorted_rows > 0 {
            eprintln!(
                "hermes: warning: data quality: {} gap(s) ({} missing bars), {} missing \
                 partition(s), {} duplicate row(s), {} unsorted row(s); see report.json \
                 data_quality",
                t.gaps, t.missing_bars, t.missing_partitions, t.duplicates, t.unsorted_rows
            );
        }
        quality = serde_json::to_value(r)?;
    }
    sink.attribute_trades(&trips);
    let trades_csv = sink.trades_csv(&trips);
    // The report's CPU work first: syncing trades.csv can wait behind the writeback of the
    // large files being synced in the background.
    let mut report = report_json(&cfg, &sink, &trips, first, last, quality, &stats)?;
    crate::table::write_atomically(&out_dir.join("trades.csv"), |w| {
        std::io::Write::write_all(w, &trades_csv)?;
        Ok(())
    })?;
    finishing.wait()?;
    let seconds = stopwatch.seconds();
    report["resources"] = json!({
        "wall_seconds": seconds,
        "bars_per_second": sink.counts.bars as f64 / seconds.max(1e-9),
        "peak_rss_bytes": crate::clock::peak_rss_bytes(),
    });
    let text = serde_json::to_string_pretty(&report)?;
    crate::table::write_atomically(&out_dir.join("report.json"), |w| {
        std::io::Write::write_all(w, text.as_bytes())?;
        Ok(())
    })?;
    if cfg.report.charts {
        write_visuals(&out_dir, &cfg, &sink, &trips, &report)?;
    }
    eprintln!(
        "hermes: backtest done: {} bars, {} trades, total return {:.4}, output in {}",
        sink.counts.bars,
        trips.len(),
        report["metrics"]["total_return"]
            .as_f64()
            .unwrap_or(f64::NAN),
        out_dir.display()
    );
    Ok(report)
}

fn interval_text(ns: i64) -> String {
    for (unit, size) in [
        ("d", 86_400_000_000_000i64),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
    ] {
        if ns % size == 0 {
            return format!("{}{unit}", ns / size);
        }
    }
    format!("{}s", ns / 1_000_000_000)
}

fn layer(s: &str) -> Result<replay::Layer> {
    Ok(match s {
        "bronze" => replay::Layer::Bronze,
        "silver" => replay::Layer::Silver,
        "gold" => replay::Layer::Gold,
        "gold_test" => replay::Layer::GoldTest,
        other => {
            return Err(ConfigError::new(format!(
                "data.layer = {other:?} is not a lake layer"
            )));
        }
    })
}

fn pipeline_config(cfg: &BacktestConfig) -> PipelineConfig {
    PipelineConfig {
        seed: cfg.run.seed,
        n_symbols: cfg.data.symbols.len(),
        interval: cfg.data.interval.clone(),
        cash: cfg.portfolio.cash,
        entry_fraction: if cfg.portfolio.sizing == Sizing::AllIn {
            1.0
        } else {
            cfg.portfolio.fraction
        },
        selector: cfg.strategy.clone(),
        regime: cfg.regime.clone(),
        // Forecasts feed the optimising allocators only; under the signal policy (all-in,
        // fixed strategies) the simulator would run for nothing.
        simulator: {
            let mut sim = cfg.simulator.clone();
            if cfg.portfolio.sizing == Sizing::AllIn
                || cfg.allocator.policy == actors::allocator::AllocationPolicy::Signal
            {
                sim.enabled = false;
            }
            sim
        },
        allocator: {
            // All-in sizing is the signal policy by definition (each entry buys with all
            // cash); fractional sizing caps every weight at the fraction.
            let mut a = cfg.allocator.clone();
            match cfg.portfolio.sizing {
                Sizing::AllIn => {
                    a.policy = actors::allocator::AllocationPolicy::Signal;
                    a.max_weight = 1.0;
                }
                Sizing::Fractional => a.max_weight = a.max_weight.min(cfg.portfolio.fraction),
            }
            a
        },
        risk: cfg.risk.clone(),
        executor: actors::executor::ExecutorConfig {
            fill: cfg.execution.fill,
            maker_fee: cfg.execution.maker_fee,
            taker_fee: cfg.execution.taker_fee,
            slippage_bps: cfg.execution.slippage_bps,
        },
    }
}

fn report_json(
    cfg: &BacktestConfig,
    sink: &OutputSink,
    trips: &[actors::portfolio::RoundTrip],
    first: Option<i64>,
    last: Option<i64>,
    quality: Value,
    stats: &actors::pipeline::PipelineStats,
) -> Result<Value> {
    use strategies::metrics::{ClosedTrade, performance};
    let ppy = cfg.periods_per_year();
    let closed: Vec<ClosedTrade> = trips
        .iter()
        .map(|t| ClosedTrade {
            entry_ns: t.entry_time,
            exit_ns: t.exit_time,
            pnl: t.pnl,
        })
        .collect();
    let metrics = if sink.equity_values.is_empty() {
        Value::Null
    } else {
        serde_json::to_value(
            performance(&sink.equity_values, Some(sink.initial_cash()), &closed, ppy)
                .context("computing metrics")?,
        )?
    };
    let total_bars: u64 = sink.per_regime.iter().map(|r| r.bars).sum();
    let mut per_regime = serde_json::Map::new();
    for (i, label) in actors::RegimeLabel::ALL.iter().enumerate() {
        let r = &sink.per_regime[i];
        let n = r.bars as f64;
        let mean = if r.bars > 0 { r.sum / n } else { f64::NAN };
        let var = if r.bars > 1 {
            (r.sum_sq - n * mean * mean) / (n - 1.0)
        } else {
            f64::NAN
        };
        let sharpe = if var > 0.0 {
            Some(mean / var.sqrt() * ppy.sqrt())
        } else {
            None
        };
        per_regime.insert(
            label.as_str().into(),
            json!({
                "return": if r.bars > 0 { Some(r.log_growth.exp_m1()) } else { None },
                "sharpe": sharpe,
                "bars": r.bars,
                "time_fraction": if total_bars > 0 { n / total_bars as f64 } else { 0.0 },
                "trades": r.trades,
            }),
        );
    }
    let mut fmt = isotime::IsoFormatter::default();
    Ok(json!({
        "run": cfg.run.name,
        "config_hash": cfg.hash(),
        "seed": cfg.run.seed,
        "strategy": cfg.strategy.kind,
        "fill": cfg.execution.fill,
        "fees": cfg.execution.taker_fee,
        "initial_cash": cfg.portfolio.cash,
        "periods_per_year": ppy,
        "symbols": cfg.data.symbols,
        "interval": cfg.data.interval,
        "data_range": {
            "first_bar": first.map(|t| fmt.format(t)),
            "last_bar": last.map(|t| fmt.format(t)),
            "bars": sink.counts.bars,
        },
        "metrics": metrics,
        "per_regime": per_regime,
        "data_quality": quality,
        "pipeline": stats,
        "counts": sink.counts,
        "config": cfg,
    }))
}

fn write_visuals(
    dir: &Path,
    cfg: &BacktestConfig,
    sink: &OutputSink,
    trips: &[actors::portfolio::RoundTrip],
    report: &Value,
) -> Result<()> {
    use crate::report::{RegimeSpan, ReportInput, TradeRow, write_report};
    let equity: Vec<(i64, f64)> = sink
        .equity_times
        .iter()
        .copied()
        .zip(sink.equity_values.iter().copied())
        .collect();
    let regimes: Vec<RegimeSpan> = sink
        .spans
        .iter()
        .map(|s| RegimeSpan {
            start_ns: s.start_ns,
            end_ns: s.end_ns,
            label: s.label.as_str().to_string(),
        })
        .collect();
    let trades: Vec<TradeRow> = trips
        .iter()
        .map(|t| TradeRow {
            symbol: cfg
                .data
                .symbols
                .get(usize::from(t.symbol))
                .cloned()
                .unwrap_or_default(),
            side: "long".into(),
            entry_ns: t.entry_time,
            entry_price: t.entry_price,
            exit_ns: Some(t.exit_time),
            exit_price: Some(t.exit_price),
            size: t.size.to_f64(),
            pnl: t.pnl,
            exit_reason: t.exit_reason.as_str().to_string(),
        })
        .collect();
    let input = ReportInput {
        title: &cfg.run.name,
        report_json: report,
        equity: &equity,
        regimes: &regimes,
        trades: &trades,
        decisions_preview: None,
    };
    write_report(dir, &input)?;
    Ok(())
}

/// Where bars come from.
enum Source {
    /// One file, handed over as one chunk.
    File(Option<Vec<BarRecord>>),
    /// One time-ordered Parquet file, decoded batch by batch.
    FileStream(Box<data::FileStream>),
    /// The lake, streamed in time order, and the bar interval in ns.
    Lake(Box<replay::BarReplay>, i64),
}

impl Source {
    /// The next time-ordered chunk into `out`; false at the end.
    fn next(&mut self, out: &mut Vec<BarRecord>) -> Result<bool> {
        out.clear();
        match self {
            Source::File(rows) => match rows.take() {
                Some(r) => {
                    *out = r;
                    Ok(true)
                }
                None => Ok(false),
            },
            Source::FileStream(stream) => stream.next_chunk(out),
            Source::Lake(rep, interval_ns) => {
                let more = rep.next_chunk(out)?.is_some();
                // As for a file: a bar spans one interval. Binance's own close_time (silver
                // keeps it) is `open + interval − 1 ms` (µs in 2025+ spot files), and shorter
                // for a bar cut by an outage.
                for r in out.iter_mut() {
                    r.close_time_ns = r.open_time_ns + *interval_ns - 1;
                }
                Ok(more)
            }
        }
    }
}

/// The bar stream of a run, read chunk by chunk, with what the report needs about it.
struct Feed {
    source: Source,
    buf: Vec<BarRecord>,
    pos: usize,
    first: Option<i64>,
    last: Option<i64>,
    symbols: Vec<String>,
    progress: crate::progress::Progress,
    /// The first error, with its class kept for the exit code.
    error: Option<anyhow::Error>,
}

/// [`Feed`] as the replay host's market-data port.
struct FeedSource<'a>(&'a mut Feed);

impl FeedSource<'_> {
    fn fail(&mut self, e: anyhow::Error) -> SourceError {
        let err = SourceError {
            origin: "bars".into(),
            message: crate::error::one_line(&e),
        };
        self.0.error.get_or_insert(e);
        err
    }
}

impl MarketSource for FeedSource<'_> {
    fn next(&mut self) -> Result<Option<actors::replay_host::MarketEvent>, SourceError> {
        let f = &mut *self.0;
        while f.pos >= f.buf.len() {
            f.pos = 0;
            match f.source.next(&mut f.buf) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => return Err(self.fail(e)),
            }
            if let (Some(a), Some(b)) = (f.buf.first(), f.buf.last()) {
                f.first.get_or_insert(a.open_time_ns);
                f.last = Some(b.open_time_ns);
            }
            f.progress.inc(f.buf.len() as u64);
        }
        let r = f.buf[f.pos];
        f.pos += 1;
        let ohlcv = strategies::bars::Bar::new_checked(strategies::bars::BarParts {
            start_ns: r.open_time_ns,
            end_ns: r.close_time_ns + 1,
            open: r.open,
            high: r.high,
            low: r.low,
            close: r.close,
            volume: r.volume,
            quote_volume: r.quote_volume,
            trade_count: r.trade_count,
        });
        match ohlcv {
            Ok(ohlcv) => Ok(Some(actors::replay_host::MarketEvent::Kline {
                symbol: r.symbol,
                ohlcv,
                ts_received: r.close_time_ns + 1,
            })),
            Err(e) => {
                let msg = format!(
                    "bar of {} at {}: {e}",
                    f.symbols
                        .get(usize::from(r.symbol))
                        .map_or("?", String::as_str),
                    crate::timeparse::format_timestamp(r.open_time_ns)
                );
                Err(self.fail(BadInput::new(msg)))
            }
        }
    }
}
