//! `hermes`: the Hermes binary.
//!
//! Today it is the research command line over the model library (`strategies`): every model
//! is usable on a quant's own CSV or Parquet files. The daemon (paper/live trading, operator
//! WebSocket), backtests and the market-data lake arrive as further subcommands of this binary.
//!
//! Exit codes are documented in [`error`]: 0 success, 1 runtime failure, 2 usage error,
//! 65 bad input data or parameters, 66 input file cannot be opened.

mod backtest;
mod cli;
mod clock;
mod commands;
mod error;
mod lake;
mod progress;
mod report;
mod table;
mod timeparse;

/// The workspace-wide rule for finding the real market files in tests.
#[cfg(test)]
#[path = "../tests/common/data.rs"]
mod test_data;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hermes: error: {}", error::one_line(&err));
            error::exit_code(&err)
        }
    }
}
