//! `hermes demo`: the research pipeline end to end on a generated market, as a new user's
//! first command. It generates seeded hourly bars from a known 3-state regime-switching model
//! (so regime recovery can be scored against the truth), then runs the real subcommands on
//! them as files: features, regime fit and label, Chiarella calibration and forecast,
//! allocation across generated assets, and the metrics of a regime-filtered strategy against
//! buy and hold. Every output lands in one folder; a summary is printed.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::cli::{
    AllocateArgs, DemoArgs, FeaturesArgs, Method, ObservationArgs, RegimeFitArgs, RegimeLabelArgs,
    SeriesKind, Shrinkage,
};
use crate::error::BadInput;
use crate::table::{Column, Table, read_table, write_table};
use crate::timeparse::format_timestamp;

/// The generating regimes: (name, mean hourly log return, hourly std).
const REGIMES: [(&str, f64, f64); 3] = [
    ("trending", 0.0004, 0.005),
    ("mean_reverting", 0.0, 0.002),
    ("volatile", -0.0005, 0.012),
];
/// Generating transition matrix: sticky regimes lasting ~50–100 hours.
const TRANSITION: [[f64; 3]; 3] = [
    [0.985, 0.010, 0.005],
    [0.008, 0.987, 0.005],
    [0.010, 0.010, 0.980],
];
const HOUR_NS: i64 = 3_600_000_000_000;
/// 2024-01-01T00:00:00Z.
const START_NS: i64 = 1_704_067_200_000_000_000;

struct Generated {
    table: Table,
    regimes: Vec<usize>,
}

/// Seeded regime-switching bars: close from the regime's log-return law, open at the previous
/// close, high/low widened by a half-normal fraction of the regime's volatility.
fn generate(seed: u64, n: usize, path: &Path) -> Generated {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut state = 1usize;
    let mut close = 40_000.0_f64;
    let (mut time, mut open, mut high, mut low, mut closes, mut volume, mut regimes) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for t in 0..n {
        let u: f64 = rng.random();
        let row = TRANSITION[state];
        state = if u < row[0] {
            0
        } else if u < row[0] + row[1] {
            1
        } else {
            2
        };
        let (_, mu, sd) = REGIMES[state];
        let z: f64 = StandardNormal.sample(&mut rng);
        let o = close;
        close = o * (mu + sd * z).exp();
        let wick = |rng: &mut Xoshiro256PlusPlus| {
            let w: f64 = StandardNormal.sample(rng);
            1.0 + 0.3 * sd * w.abs()
        };
        #[allow(clippy::cast_possible_wrap)]
        time.push(Some(format_timestamp(START_NS + t as i64 * HOUR_NS)));
        high.push(Some(o.max(close) * wick(&mut rng)));
        low.push(Some(o.min(close) / wick(&mut rng)));
        open.push(Some(o));
        closes.push(Some(close));
        volume.push(Some(
            100.0 * (1.0 + 20.0 * sd) * (1.0 + rng.random::<f64>()),
        ));
        regimes.push(state);
    }
    let mut table = Table::new(path);
    table.push("time", Column::Text(time));
    for (name, col) in [
        ("open", open),
        ("high", high),
        ("low", low),
        ("close", closes),
        ("volume", volume),
    ] {
        table.push(name, Column::Float(col));
    }
    Generated { table, regimes }
}

/// Generated daily prices of four assets with a common factor, for the allocation step.
fn generate_assets(seed: u64, days: usize, path: &Path) -> Table {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xA55E_7500);
    let specs = [
        ("BTC", 0.0015, 0.035, 0.8),
        ("ETH", 0.0012, 0.045, 0.85),
        ("SOL", 0.0018, 0.06, 0.7),
        ("BNB", 0.0008, 0.03, 0.6),
    ];
    let mut prices: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(days); specs.len()];
    let mut last = [100.0_f64; 4];
    let mut time = Vec::with_capacity(days);
    for d in 0..days {
        let market: f64 = StandardNormal.sample(&mut rng);
        for (i, (_, mu, sd, beta)) in specs.iter().enumerate() {
            let own: f64 = StandardNormal.sample(&mut rng);
            let r = mu + sd * (beta * market + (1.0 - beta * beta).sqrt() * own);
            last[i] *= r.exp();
            prices[i].push(Some(last[i]));
        }
        #[allow(clippy::cast_possible_wrap)]
        time.push(Some(format_timestamp(START_NS + d as i64 * 24 * HOUR_NS)));
    }
    let mut table = Table::new(path);
    table.push("date", Column::Text(time));
    for ((name, ..), col) in specs.iter().zip(prices) {
        table.push(name, Column::Float(col));
    }
    table
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<()> {
    if args.bars < 500 {
        return Err(BadInput::new(format!(
            "--bars must be at least 500, got {}",
            args.bars
        )));
    }
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let p = |name: &str| out.join(name);
    let mut summary = String::new();

    // 1. Market.
    let market = generate(args.seed, args.bars, &p("bars.csv"));
    write_table(&market.table, &p("bars.csv"))?;
    writeln!(
        summary,
        "market     {} hourly bars from a known 3-state regime model (seed {}) -> bars.csv",
        args.bars, args.seed
    )?;

    // 2. Features.
    super::features::run(&FeaturesArgs {
        input: p("bars.csv"),
        output: p("features.parquet"),
    })?;
    writeln!(
        summary,
        "features   12 indicator columns -> features.parquet"
    )?;

    // 3. Regimes: fit, label, score Viterbi against the generating states.
    let obs = || ObservationArgs {
        input: p("bars.csv"),
        column: None,
    };
    super::regime::fit(&RegimeFitArgs {
        obs: obs(),
        states: 3,
        restarts: 8,
        seed: args.seed,
        max_iter: 200,
        output: p("regime_model.json"),
    })?;
    super::regime::label(&RegimeLabelArgs {
        model: p("regime_model.json"),
        obs: obs(),
        output: p("regimes.csv"),
    })?;
    let labels = read_table(&p("regimes.csv"))?;
    let truth = &market.regimes[1..];
    let score = |col: &str| -> Result<f64> {
        let got = labels.strings(col)?;
        let hits = got
            .iter()
            .zip(truth)
            .filter(|(g, t)| g.as_str() == REGIMES[**t].0)
            .count();
        #[allow(clippy::cast_precision_loss)]
        Ok(hits as f64 / truth.len() as f64)
    };
    writeln!(
        summary,
        "regimes    3-state HMM fitted -> regime_model.json, regimes.csv; agreement with the true regimes: Viterbi {:.1} %, online filter {:.1} %",
        100.0 * score("viterbi")?,
        100.0 * score("regime")?
    )?;

    // 4. Chiarella: calibrate on the last 500 closes, forecast 24 hours with a buy order's impact.
    let closes = market.table.f64s("close")?;
    let recent = &closes[closes.len() - 500..];
    let cal =
        strategies::chiarella::calibrate(recent, 1.0).context("calibrating the Chiarella model")?;
    let mut params = cal.params;
    params.p0 = recent[recent.len() - 1];
    let cfg = strategies::chiarella::SimConfig {
        paths: 2000,
        steps: 24,
        seed: args.seed,
    };
    let order = strategies::chiarella::OrderImpactSpec {
        size: 5.0,
        steps: 4,
    };
    let forecast = strategies::chiarella::simulate_with_order(&params, &cfg, &order)?;
    std::fs::write(
        p("chiarella.json"),
        serde_json::to_string_pretty(
            &serde_json::json!({ "calibration": cal, "forecast": forecast.base, "with_order": forecast.with_order, "expected_impact": forecast.expected_impact, "expected_impact_bps": forecast.expected_impact_bps }),
        )?,
    )?;
    let t = &forecast.base.terminal;
    writeln!(
        summary,
        "chiarella  calibrated on 500 closes; 24 h forecast median {:.2} (5–95 %: {:.2}–{:.2}); order impact {:+.2} bps -> chiarella.json",
        t.q50, t.q05, t.q95, forecast.expected_impact_bps
    )?;

    // 5. Allocation across four generated assets.
    write_table(
        &generate_assets(args.seed, 750, &p("assets.csv")),
        &p("assets.csv"),
    )?;
    for (method, file) in [
        (Method::RiskParity, "allocation_risk_parity.csv"),
        (Method::Cara, "allocation_cara.csv"),
    ] {
        super::allocate::run(&AllocateArgs {
            method,
            mu: None,
            cov: None,
            returns: Some(p("assets.csv")),
            kind: SeriesKind::Prices,
            shrinkage: Shrinkage::LedoitWolf,
            gamma: 5.0,
            lambda: 1.0,
            rho: 0.0,
            output: Some(p(file)),
        })?;
    }
    writeln!(
        summary,
        "allocation risk parity and CARA (γ = 5, Ledoit-Wolf Σ) over 4 assets -> allocation_*.csv"
    )?;

    // 6. A regime-filtered strategy against buy and hold: long while the online filter (known
    //    at the previous close) says trending, flat otherwise; no look-ahead.
    let regime = labels.strings("regime")?;
    let times = market.table.strings("time")?;
    let mut equity = vec![10_000.0_f64];
    let mut hold = vec![10_000.0_f64];
    for t in 1..closes.len() {
        let r = closes[t] / closes[t - 1] - 1.0;
        let long = t >= 2 && regime[t - 2] == "trending";
        equity.push(equity[t - 1] * if long { 1.0 + r } else { 1.0 });
        hold.push(hold[t - 1] * (1.0 + r));
    }
    let mut report = serde_json::Map::new();
    for (name, curve) in [("regime_filtered", &equity), ("buy_and_hold", &hold)] {
        let file = format!("equity_{name}.csv");
        let mut tbl = Table::new(&p(&file));
        tbl.push(
            "time",
            Column::Text(times.iter().cloned().map(Some).collect()),
        );
        tbl.push(
            "equity",
            Column::Float(curve.iter().copied().map(Some).collect()),
        );
        write_table(&tbl, &p(&file))?;
        let m = strategies::metrics::performance(curve, None, &[], 8760.0)?;
        writeln!(
            summary,
            "metrics    {name:<16} total {:+.1} %, Sharpe {}, max drawdown {:.1} % -> {file}",
            100.0 * m.total_return,
            m.sharpe.map_or("n/a".into(), |s| format!("{s:.2}")),
            100.0 * m.max_drawdown
        )?;
        report.insert(name.into(), serde_json::to_value(m)?);
    }
    std::fs::write(p("metrics.json"), serde_json::to_string_pretty(&report)?)?;

    super::emit(&format!(
        "Hermes research demo, outputs in {}:\n{summary}",
        out.display()
    ))
}
