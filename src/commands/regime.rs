//! `hermes regime fit|label`: the Gaussian HMM regime model on a quant's own series.

use anyhow::{Context, Result};
use strategies::hmm::{FitConfig, GaussianHmm, fit as fit_hmm, log_returns};

use super::{checked_times, emit, flag_err, model_err, parse_json};
use crate::cli::{ObservationArgs, RegimeFitArgs, RegimeLabelArgs};
use crate::table::{Column, Table, read_table, write_atomically, write_table};

/// Observations and the times they belong to.
struct Observations {
    /// Name of the observation column in outputs.
    name: String,
    values: Vec<f64>,
    /// Time of each observation (the later bar of a return), when the file has a time column.
    times: Option<Vec<i64>>,
}

/// The column named by `--column`, or the log returns of `close` (dropping the first row,
/// which has no return).
fn observations(args: &ObservationArgs) -> Result<Observations> {
    let table: Table = read_table(&args.input)?;
    let times = checked_times(&table)?;
    if let Some(col) = &args.column {
        return Ok(Observations {
            name: col.clone(),
            values: table.f64s(col)?,
            times,
        });
    }
    let close = table.f64s("close").map_err(|e| {
        e.context("give --column NAME for a returns column, or a bar file with `close`")
    })?;
    let values = log_returns(&close).map_err(|e| model_err(&args.input, e))?;
    Ok(Observations {
        name: "log_return".into(),
        values,
        times: times.map(|t| t[1..].to_vec()),
    })
}

/// `hermes regime fit`: Baum-Welch with seeded restarts, best likelihood kept, states named.
pub fn fit(args: &RegimeFitArgs) -> Result<()> {
    let cfg = FitConfig {
        states: args.states,
        restarts: args.restarts,
        seed: args.seed,
        max_iter: args.max_iter,
        ..FitConfig::default()
    };
    cfg.validate().map_err(flag_err)?;
    let obs = observations(&args.obs)?;
    let report = fit_hmm(&obs.values, &cfg).map_err(|e| model_err(&args.obs.input, e))?;
    let json = serde_json::to_string_pretty(&report.model)?;
    write_atomically(&args.output, |w| {
        use std::io::Write;
        w.write_all(json.as_bytes())?;
        w.write_all(b"\n")?;
        Ok(())
    })?;
    eprintln!(
        "hermes: fitted {} states on {} observations: log-likelihood {:.6}, {} iterations{}; wrote {}",
        args.states,
        obs.values.len(),
        report.loglik,
        report.iterations,
        if report.converged {
            ""
        } else {
            " (max-iter reached before convergence)"
        },
        args.output.display()
    );
    Ok(())
}

/// `hermes regime label`: filtered and smoothed probabilities, Viterbi path, regime,
/// confidence and running log-likelihood per observation.
pub fn label(args: &RegimeLabelArgs) -> Result<()> {
    let model: GaussianHmm = parse_json(&args.model)?;
    let obs = observations(&args.obs)?;
    let bad = |e| model_err(&args.obs.input, e);
    let filtered = model.filter(&obs.values).map_err(bad)?;
    let smoothed = model.smooth(&obs.values).map_err(bad)?;
    let (path, _) = model.viterbi(&obs.values).map_err(bad)?;
    let names: Vec<&str> = model.states().iter().map(|s| s.name.as_str()).collect();
    let k = names.len();
    let t_len = obs.values.len();

    let mut out = Table::new(&args.output);
    if let Some(times) = &obs.times {
        out.push(
            "time",
            Column::Time(times.iter().copied().map(Some).collect()),
        );
    }
    out.push(
        &obs.name,
        Column::Float(obs.values.iter().copied().map(Some).collect()),
    );
    let col = |probs: &[f64], j: usize| {
        Column::Float((0..t_len).map(|t| Some(probs[t * k + j])).collect())
    };
    for (j, name) in names.iter().enumerate() {
        out.push(&format!("p_{name}"), col(&filtered.probs, j));
    }
    for (j, name) in names.iter().enumerate() {
        out.push(&format!("smoothed_{name}"), col(&smoothed, j));
    }
    let text = |v: Vec<String>| Column::Text(v.into_iter().map(Some).collect());
    out.push(
        "viterbi",
        text(path.iter().map(|&s| names[s].to_string()).collect()),
    );
    // The filtered argmax (ties to the lower index) and its probability, as the live
    // RegimeDetector will report them.
    let chosen = filtered.most_likely();
    out.push(
        "regime",
        text(chosen.iter().map(|&(s, _)| names[s].to_string()).collect()),
    );
    out.push(
        "confidence",
        Column::Float(chosen.iter().map(|&(_, p)| Some(p)).collect()),
    );
    out.push(
        "loglik",
        Column::Float(filtered.loglik_running.iter().copied().map(Some).collect()),
    );
    write_table(&out, &args.output).with_context(|| "writing regime labels")?;
    emit(&format!("log-likelihood: {:.6}", filtered.loglik))
}
