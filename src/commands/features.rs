//! `hermes features`: the standard indicator set added as columns to a bar file.

use anyhow::Result;
use strategies::indicators::{StandardFeatures, standard_features};

use super::{model_err, warn_if_unordered};
use crate::cli::FeaturesArgs;
use crate::table::{Column, read_table, write_table};

/// Reads bars, computes the features with the same streaming indicator code the live path
/// uses, and writes the input columns plus one column per feature.
pub fn run(args: &FeaturesArgs) -> Result<()> {
    let mut table = read_table(&args.input)?;
    // Every bar column must be present and numeric, even those the features do not read.
    for col in ["open", "volume"] {
        table.f64s(col)?;
    }
    let (high, low, close) = (
        table.f64s("high")?,
        table.f64s("low")?,
        table.f64s("close")?,
    );
    warn_if_unordered(&table)?;
    let features = standard_features(&high, &low, &close).map_err(|e| model_err(&args.input, e))?;
    for (name, values) in StandardFeatures::COLUMNS.iter().zip(features.columns()) {
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
