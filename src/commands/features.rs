//! `hermes features`: the standard indicator set added as columns to a bar file.

use anyhow::Result;
use strategies::indicators::{StandardFeatures, standard_features};

use super::{model_err, required_times};
use crate::cli::FeaturesArgs;
use crate::error::BadInput;
use crate::table::{Column, Table, read_table, write_table};

/// The bar columns, each present and numeric; prices strictly positive, volume not negative.
/// Returns the columns the features read: high, low, close.
fn check_bars(table: &Table) -> Result<[Vec<f64>; 3]> {
    required_times(table)?;
    let column = |col: &str, positive: bool| -> Result<Vec<f64>> {
        let v = table.f64s(col)?;
        let bad = |x: f64| if positive { x <= 0.0 } else { x < 0.0 };
        if let Some(r) = v.iter().position(|&x| bad(x)) {
            return Err(BadInput::new(format!(
                "{}: column {col:?}, row {}: {} {} is not {}",
                table.source.display(),
                r + 1,
                if positive { "price" } else { "volume" },
                v[r],
                if positive { "positive" } else { "zero or more" }
            )));
        }
        Ok(v)
    };
    column("open", true)?;
    let high = column("high", true)?;
    let low = column("low", true)?;
    let close = column("close", true)?;
    column("volume", false)?;
    Ok([high, low, close])
}

/// Every feature is finite from its warm-up on; a missing value there means the arithmetic
/// overflowed (prices too large for f64). Report it rather than write an empty cell that would
/// look like warm-up.
fn check_finite_after_warm_up(
    table: &Table,
    name: &str,
    warm_up: usize,
    values: &[f64],
) -> Result<()> {
    if let Some(r) = values.iter().skip(warm_up).position(|v| !v.is_finite()) {
        return Err(BadInput::new(format!(
            "{}: feature {name} overflows at row {} (values too large for f64)",
            table.source.display(),
            warm_up + r + 1
        )));
    }
    Ok(())
}

/// Reads bars, computes the features with the same streaming indicator code the live path
/// uses, and writes the input columns plus one column per feature.
pub fn run(args: &FeaturesArgs) -> Result<()> {
    let mut table = read_table(&args.input)?;
    let [high, low, close] = check_bars(&table)?;
    let features = standard_features(&high, &low, &close).map_err(|e| model_err(&args.input, e))?;
    let columns = StandardFeatures::COLUMNS
        .iter()
        .zip(StandardFeatures::WARM_UP);
    for ((name, warm_up), values) in columns.zip(features.columns()) {
        check_finite_after_warm_up(&table, name, warm_up, values)?;
        table.push(name, Column::from_f64_nan_empty(values));
    }
    write_table(&table, &args.output)?;
    eprintln!(
        "hermes: wrote {} rows with {} features to {}",
        table.rows(),
        StandardFeatures::COLUMNS.len(),
        args.output.display()
    );
    Ok(())
}
