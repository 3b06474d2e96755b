//! `hermes metrics`: performance metrics of an equity curve and a trade list, as JSON.

use anyhow::Result;
use strategies::metrics::{ClosedTrade, performance};

use super::{model_err, warn_if_unordered};
use crate::cli::MetricsArgs;
use crate::error::BadInput;
use crate::table::read_table;

/// Reads `time,equity` (and `entry_time,exit_time,pnl` trades) and prints the metrics.
pub fn run(args: &MetricsArgs) -> Result<()> {
    if !(args.periods_per_year.is_finite() && args.periods_per_year > 0.0) {
        return Err(BadInput::new(format!(
            "--periods-per-year must be a positive number, got {}",
            args.periods_per_year
        )));
    }
    if let Some(v0) = args.initial_equity
        && !(v0.is_finite() && v0 > 0.0)
    {
        return Err(BadInput::new(format!(
            "--initial-equity must be positive, got {v0}"
        )));
    }
    let table = read_table(&args.equity)?;
    let time_col = table.time_column_name().ok_or_else(|| {
        BadInput::new(format!(
            "{}: missing column \"time\"",
            args.equity.display()
        ))
    })?;
    table.times(&time_col)?;
    warn_if_unordered(&table)?;
    let equity = table.f64s("equity")?;
    let trades = match &args.trades {
        None => Vec::new(),
        Some(path) => {
            let t = read_table(path)?;
            let (entry, exit, pnl) = (
                t.times("entry_time")?,
                t.times("exit_time")?,
                t.f64s("pnl")?,
            );
            entry
                .iter()
                .zip(&exit)
                .zip(&pnl)
                .map(|((&entry_ns, &exit_ns), &pnl)| ClosedTrade {
                    entry_ns,
                    exit_ns,
                    pnl,
                })
                .collect()
        }
    };
    let source = args.trades.as_deref().unwrap_or(&args.equity);
    let m = performance(&equity, args.initial_equity, &trades, args.periods_per_year)
        .map_err(|e| model_err(source, e))?;
    super::emit(&serde_json::to_string_pretty(&m)?)
}
