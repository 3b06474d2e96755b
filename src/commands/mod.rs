//! One module per subcommand: read the inputs, call the model library, write the outputs.
//! Shared input handling (bar files, observation series) lives here.

mod allocate;
mod demo;
mod features;
mod metrics;
mod regime;
mod simulate;

use anyhow::Result;

use crate::cli::{Cli, Command, RegimeCommand, SimulateCommand};
use crate::error::BadInput;
use crate::table::Table;

/// Runs the parsed command line.
///
/// # Errors
/// Whatever the command reports; see [`crate::error`] for how it maps to exit codes.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Features(a) => features::run(&a),
        Command::Regime(RegimeCommand::Fit(a)) => regime::fit(&a),
        Command::Regime(RegimeCommand::Label(a)) => regime::label(&a),
        Command::Simulate(SimulateCommand::Chiarella(a)) => simulate::chiarella(&a),
        Command::Simulate(SimulateCommand::Calibrate(a)) => simulate::calibrate(&a),
        Command::Allocate(a) => allocate::run(&a),
        Command::Metrics(a) => metrics::run(&a),
        Command::Demo(a) => demo::run(&a),
        Command::Backtest(a) => crate::backtest::run(&a),
        Command::Lake(a) => crate::lake::run(&a),
    }
}

/// Wraps a model-library error with the file it came from, keeping it classifiable as bad input.
fn model_err(source: &std::path::Path, e: strategies::Error) -> anyhow::Error {
    anyhow::Error::new(e).context(format!("{}", source.display()))
}

/// Counts rows whose time is not after the previous row's, for a warning: models run on rows
/// in file order, so a user should know when that order is not time order.
fn count_unordered(times: &[i64]) -> usize {
    times.windows(2).filter(|w| w[1] <= w[0]).count()
}

/// The file's time column parsed to UTC nanoseconds (`None` when it has none), with a warning
/// on stderr when it is not strictly increasing.
///
/// # Errors
/// An unparseable timestamp, naming file, column and row.
fn checked_times(table: &Table) -> Result<Option<Vec<i64>>> {
    let Some(name) = table.time_column_name() else {
        return Ok(None);
    };
    let times = table.times(&name)?;
    let n = count_unordered(&times);
    if n > 0 {
        eprintln!(
            "hermes: warning: {}: {n} row(s) are not later than the row before; rows are \
             used in file order",
            table.source.display()
        );
    }
    Ok(Some(times))
}

/// Like [`checked_times`], for files that must have a time column.
fn required_times(table: &Table) -> Result<Vec<i64>> {
    checked_times(table)?.ok_or_else(|| {
        BadInput::new(format!(
            "{}: missing column \"time\" (columns: {})",
            table.source.display(),
            table.names.join(",")
        ))
    })
}

/// Writes `text` and a newline to stdout. A closed stdout (`| head`) surfaces as a broken-pipe
/// error, which `main` treats as success, instead of the panic `println!` would give.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Wraps an error in the command-line flags (not in any file), keeping it bad input.
fn flag_err(e: strategies::Error) -> anyhow::Error {
    anyhow::Error::new(e).context("invalid command-line flags")
}

/// Parses a JSON document, naming the file on failure.
fn parse_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut crate::error::open_input(path)?, &mut text)
        .map_err(|e| BadInput::new(format!("{}: cannot read as text: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| BadInput::new(format!("{}: invalid model JSON: {e}", path.display())))
}
