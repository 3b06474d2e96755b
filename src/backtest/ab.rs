//! `hermes backtest --ab`: Smart Momentum twice over the lake's gold bars, through the same
//! actor pipeline, fed from feature columns instead of indicators computed from the bars.
//!
//! - **A** reads gold's standard columns for the strategy's parameters: `ema_{ema_fast}`,
//!   `ema_{ema_slow}`, `rsi_{rsi_period}` and `supertrend_dir` (gold's is SuperTrend(10, 3)).
//!   Gold's features are the streaming indicators computed over the whole series, so on a
//!   whole series A trades exactly as `--strategy smart-momentum` on silver.
//! - **B** reads the same, except where `[ab]` of the lake config names another column of
//!   gold ⋈ gold_test (`rsi = "rsi_21"`); the join is `replay::lake::read_features`.
//!
//! The inputs reach the selector as a [`FeatureTape`] (by symbol and bar start); the bars are
//! gold's (the replay reads the gold layer). With `data.start`, A still differs from a plain
//! run: gold's indicators are warm at the range's first bar, a plain run's start cold. Output: `OUT/A/…` and `OUT/B/…` (each a complete
//! backtest folder), `OUT/ab.json` (columns and metrics of both, and B − A), and the table
//! `metric | A | B | B−A` on stdout.
//!
//! Owns the A/B wiring only: the run itself is [`super::run_with`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use actors::strategy_selector::{FeatureTape, StrategyPolicy};
use anyhow::{Context, Result};
use polars::prelude::{DataFrame, DataType};
use replay::lake::{Category, Market, SeriesKey, read_features};
use serde_json::{Map, Value, json};
use strategies::signals::SmartMomentumInputs;

use super::config::BacktestConfig;
use crate::cli::{BacktestArgs, StrategyArg};
use crate::error::{BadInput, ConfigError};
use crate::lake::config::{AbConfig, LakeConfig};

/// The four inputs, in [`SmartMomentumInputs`] order, as `[ab]` keys.
const INPUTS: [&str; 4] = ["ema_fast", "ema_slow", "rsi", "supertrend_dir"];

/// What the first run prepared for both.
struct Prepared {
    out: PathBuf,
    columns: [[String; 4]; 2],
    tapes: [Arc<FeatureTape>; 2],
}

/// Runs `hermes backtest --ab`.
///
/// # Errors
/// Configuration errors (78: a flag that contradicts `--ab`, a bad `[ab]`, a column that
/// is not in gold ⋈ gold_test), missing gold or gold_test files (65), and whatever a
/// backtest run returns.
pub fn run(args: &BacktestArgs) -> Result<()> {
    let lake = LakeConfig::load(args.lake_config.as_deref())?;
    lake.validate()?;
    if let Some(l) = args.layer.as_deref().filter(|l| *l != "gold") {
        return Err(ConfigError::new(format!(
            "backtest --ab reads the gold layer; --layer {l} contradicts it"
        )));
    }
    if let Some(s) = args.strategy.filter(|s| *s != StrategyArg::SmartMomentum) {
        return Err(ConfigError::new(format!(
            "backtest --ab runs smart-momentum; --strategy {s:?} contradicts it"
        )));
    }
    let mut prepared: Option<Prepared> = None;
    let report_a = super::run_with(args, |cfg| {
        let p = prepare(cfg, &lake.ab)?;
        cfg.strategy.feature_tape = Some(Arc::clone(&p.tapes[0]));
        cfg.run.out = p.out.join("A");
        prepared = Some(p);
        Ok(())
    })?;
    let p = prepared.context("backtest --ab: variant A was not prepared")?;
    let report_b = super::run_with(args, |cfg| {
        fix(cfg)?;
        cfg.strategy.feature_tape = Some(Arc::clone(&p.tapes[1]));
        cfg.run.out = p.out.join("B");
        Ok(())
    })?;
    let ab = ab_json(&p, &report_a, &report_b);
    let text = serde_json::to_string_pretty(&ab)?;
    crate::table::write_atomically(&p.out.join("ab.json"), |w| {
        std::io::Write::write_all(w, text.as_bytes())?;
        Ok(())
    })?;
    println!("{}", table(&p, &ab));
    Ok(())
}

/// The settings `--ab` fixes: the gold layer, Smart Momentum, the lake.
fn fix(cfg: &mut BacktestConfig) -> Result<()> {
    if cfg.data.file.is_some() {
        return Err(ConfigError::new(
            "backtest --ab runs on the lake (data.root); data.file is set",
        ));
    }
    cfg.data.layer = "gold".into();
    cfg.strategy.kind = StrategyPolicy::SmartMomentum;
    Ok(())
}

/// Columns of A and B, the joined features of every symbol, and the two tapes.
fn prepare(cfg: &mut BacktestConfig, ab: &AbConfig) -> Result<Prepared> {
    fix(cfg)?;
    let sm = &cfg.strategy.smart_momentum;
    if (sm.supertrend_period, sm.supertrend_multiplier) != (10, 3.0) {
        return Err(ConfigError::new(format!(
            "backtest --ab: strategy.smart_momentum.supertrend_period/multiplier = {}/{} \
             has no gold column (gold's supertrend_dir is SuperTrend(10, 3))",
            sm.supertrend_period, sm.supertrend_multiplier
        )));
    }
    let a: [String; 4] = [
        format!("ema_{}", sm.ema_fast),
        format!("ema_{}", sm.ema_slow),
        format!("rsi_{}", sm.rsi_period),
        "supertrend_dir".into(),
    ];
    let mut b = a.clone();
    for (key, column) in ab.overrides() {
        if let Some(i) = INPUTS.iter().position(|k| *k == key) {
            b[i] = column.to_string();
        }
    }
    if a == b {
        eprintln!("hermes: warning: backtest --ab: [ab] overrides no column; B equals A");
    }
    let root = replay::LakeRoot::parse(&cfg.data.root)
        .map_err(|e| ConfigError::new(format!("data.root: {e}")))?;
    let store = replay::Store::open(&root)?;
    let market = Market::parse(&cfg.data.market).ok_or_else(|| {
        ConfigError::new(format!(
            "data.market = {:?} is not a lake market",
            cfg.data.market
        ))
    })?;
    // gold_test is read (and must exist) only when B names a column gold does not have.
    let gold = replay::lake::gold_schema(market);
    let with_test = b.iter().any(|c| gold.field_with_name(c).is_err());
    if cfg.data.category != Category::Klines.as_str() {
        return Err(ConfigError::new(format!(
            "backtest --ab reads klines; data.category = {:?}",
            cfg.data.category
        )));
    }
    let start = super::bound("data.start", &cfg.data.start)?;
    let end = super::bound("data.end", &cfg.data.end)?;
    let n = cfg.data.symbols.len();
    let (mut tape_a, mut tape_b) = (FeatureTape::new(n), FeatureTape::new(n));
    for (id, symbol) in cfg.data.symbols.iter().enumerate() {
        let key = SeriesKey {
            market,
            category: Category::Klines,
            symbol: symbol.clone(),
            interval: cfg.data.interval.clone(),
        };
        let df = read_features(&store, &key, start, end, with_test).map_err(|e| {
            let msg = format!("backtest --ab: {e}");
            if e.is_bad_input() {
                BadInput::new(msg)
            } else {
                anyhow::anyhow!(msg)
            }
        })?;
        let times = open_times(&df)?;
        let id = u16::try_from(id).context("too many symbols")?;
        for (tape, columns, variant) in [(&mut tape_a, &a, "A"), (&mut tape_b, &b, "B")] {
            let inputs = inputs(&df, columns, symbol, variant)?;
            tape.set_symbol(id, times.clone(), inputs)
                .map_err(|e| BadInput::new(format!("gold {key}: {e}")))?;
        }
    }
    Ok(Prepared {
        out: cfg.run.out.clone(),
        columns: [a, b],
        tapes: [Arc::new(tape_a), Arc::new(tape_b)],
    })
}

fn open_times(df: &DataFrame) -> Result<Vec<i64>> {
    let c = df
        .column("open_time")
        .and_then(|c| c.cast(&DataType::Int64))
        .context("gold open_time")?;
    let c = c.i64().context("gold open_time")?;
    (0..c.len())
        .map(|i| c.get(i).context("gold open_time has a null"))
        .collect()
}

/// One column as f64, NaN for null (warm-up).
fn floats(df: &DataFrame, name: &str, symbol: &str, key: &str) -> Result<Vec<f64>> {
    let col = df.column(name).map_err(|_| {
        let have: Vec<String> = df
            .get_column_names()
            .iter()
            .map(ToString::to_string)
            .collect();
        ConfigError::new(format!(
            "{key} = {name:?}: no such column in gold ⋈ gold_test of {symbol} (columns: {})",
            have.join(", ")
        ))
    })?;
    let c = col
        .cast(&DataType::Float64)
        .with_context(|| format!("{key} = {name:?} is not numeric"))?;
    let c = c.f64().with_context(|| format!("{key} = {name:?}"))?;
    let values: Vec<f64> = (0..c.len()).map(|i| c.get(i).unwrap_or(f64::NAN)).collect();
    // Null is the warm-up only: a gap after the first value means gold_test lacks rows gold
    // has (built before the latest silver), which would silently mute B's signals.
    let first = values
        .iter()
        .position(|v| !v.is_nan())
        .unwrap_or(values.len());
    if let Some(i) = values[first..].iter().position(|v| v.is_nan()) {
        return Err(BadInput::new(format!(
            "{key} = {name:?}: {symbol} has no value on row {} after its warm-up (rebuild with \
             hermes lake gold --with-test-features)",
            first + i
        )));
    }
    Ok(values)
}

fn inputs(
    df: &DataFrame,
    columns: &[String; 4],
    symbol: &str,
    variant: &str,
) -> Result<Vec<SmartMomentumInputs>> {
    // A's columns follow from the strategy's parameters; B's from `[ab]` (or A's).
    const A_KEYS: [&str; 4] = [
        "strategy.smart_momentum.ema_fast",
        "strategy.smart_momentum.ema_slow",
        "strategy.smart_momentum.rsi_period",
        "strategy.smart_momentum.supertrend_period",
    ];
    let key = |i: usize| {
        if variant == "A" {
            format!("A's column for {}", A_KEYS[i])
        } else {
            format!("ab.{}", INPUTS[i])
        }
    };
    let fast = floats(df, &columns[0], symbol, &key(0))?;
    let slow = floats(df, &columns[1], symbol, &key(1))?;
    let rsi = floats(df, &columns[2], symbol, &key(2))?;
    let dir = floats(df, &columns[3], symbol, &key(3))?;
    Ok((0..fast.len())
        .map(|i| SmartMomentumInputs {
            ema_fast: fast[i],
            ema_slow: slow[i],
            rsi: rsi[i],
            supertrend_dir: if dir[i] > 0.0 {
                1
            } else if dir[i] < 0.0 {
                -1
            } else {
                0
            },
        })
        .collect())
}

/// `ab.json`: both variants' columns, output folders and metrics, and B − A.
fn ab_json(p: &Prepared, a: &Value, b: &Value) -> Value {
    let variant = |i: usize, name: &str, r: &Value| {
        let columns: Map<String, Value> = INPUTS
            .iter()
            .zip(&p.columns[i])
            .map(|(k, c)| ((*k).to_string(), json!(c)))
            .collect();
        json!({
            "columns": columns,
            "out": p.out.join(name),
            "metrics": r["metrics"],
            "bars": r["data_range"]["bars"],
        })
    };
    let mut diff = Map::new();
    if let (Some(ma), Some(mb)) = (a["metrics"].as_object(), b["metrics"].as_object()) {
        for (k, va) in ma {
            let vb = mb.get(k).unwrap_or(&Value::Null);
            // Counts stay integers (trades); the rest are reals.
            let d = match ((va.as_i64(), vb.as_i64()), (va.as_f64(), vb.as_f64())) {
                ((Some(x), Some(y)), _) => json!(y - x),
                (_, (Some(x), Some(y))) => json!(y - x),
                _ => Value::Null,
            };
            diff.insert(k.clone(), d);
        }
    }
    json!({
        "strategy": "smart-momentum",
        "symbols": a["symbols"],
        "interval": a["interval"],
        "a": variant(0, "A", a),
        "b": variant(1, "B", b),
        "b_minus_a": diff,
    })
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::Number(n) => format!("{:.6}", n.as_f64().unwrap_or(f64::NAN)),
        other => other.to_string(),
    }
}

/// The stdout table: the columns each variant read, then `metric | A | B | B−A`.
fn table(p: &Prepared, ab: &Value) -> String {
    let mut rows: Vec<[String; 4]> = vec![["metric".into(), "A".into(), "B".into(), "B−A".into()]];
    for (i, k) in INPUTS.iter().enumerate() {
        let (a, b) = (&p.columns[0][i], &p.columns[1][i]);
        let same = if a == b { "" } else { "≠" };
        rows.push([format!("input {k}"), a.clone(), b.clone(), same.into()]);
    }
    if let Some(m) = ab["a"]["metrics"].as_object() {
        for (k, va) in m {
            rows.push([
                k.clone(),
                cell(va),
                cell(&ab["b"]["metrics"][k]),
                cell(&ab["b_minus_a"][k]),
            ]);
        }
    }
    let width = |c: usize| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0);
    let w = [width(0), width(1), width(2), width(3)];
    let mut out = String::new();
    for r in &rows {
        let pad = |c: usize| {
            let s = &r[c];
            let n = w[c].saturating_sub(s.chars().count());
            if c == 0 {
                format!("{s}{}", " ".repeat(n))
            } else {
                format!("{}{s}", " ".repeat(n))
            }
        };
        out.push_str(&format!(
            "{} | {} | {} | {}\n",
            pad(0),
            pad(1),
            pad(2),
            pad(3)
        ));
    }
    out.push_str(&format!(
        "ab.json in {}",
        Path::new(&p.out).join("ab.json").display()
    ));
    out
}
