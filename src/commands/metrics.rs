//! `hermes metrics`: performance metrics of an equity curve and a trade list, as JSON.

use anyhow::Result;
use strategies::metrics::{ClosedTrade, bar_returns, performance};

use super::{model_err, required_times};
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
    required_times(&table)?;
    let equity = table.f64s("equity")?;
    // Validate the curve on its own first, so its errors name the equity file; whatever
    // `performance` rejects after this comes from the trades.
    bar_returns(&equity, args.initial_equity).map_err(|e| model_err(&args.equity, e))?;
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
