//! Opens a data.binance.vision zip (one CSV member) with the `zip` crate and hands the
//! member's inflating reader to the CSV parser. A damaged archive (bad structure, truncated
//! member, CRC mismatch, detected when the member is read to its end) is
//! [`LakeError::CorruptZip`]. Owns zip handling only.

use std::io::{Cursor, Read};

use super::error::{LakeError, Result};

/// Runs `parse` over the single `.csv` member of the zip in `bytes`, returning its result and
/// the member's name. `parse` must read the member to its end: the CRC is checked there.
///
/// # Errors
/// [`LakeError::CorruptZip`] when the archive cannot be opened or does not hold exactly one
/// `.csv` file; whatever `parse` returns.
pub fn with_csv_member<T>(
    bytes: &[u8],
    file: &str,
    parse: impl FnOnce(&mut dyn Read) -> Result<T>,
) -> Result<(T, String)> {
    let corrupt = |reason: String| LakeError::CorruptZip {
        file: file.to_string(),
        reason,
    };
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| corrupt(e.to_string()))?;
    let names: Vec<String> = archive
        .file_names_raw()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    let csvs: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.to_ascii_lowercase().ends_with(".csv"))
        .map(|(i, _)| i)
        .collect();
    let [index] = csvs.as_slice() else {
        return Err(corrupt(format!(
            "holds {} CSV members ({}), expected exactly one",
            csvs.len(),
            names.join(", ")
        )));
    };
    let mut member = archive
        .by_index(*index)
        .map_err(|e| corrupt(e.to_string()))?;
    let name = member
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.into_owned());
    let out = parse(&mut member)?;
    // The CSV reader stops at EOF, which is where the CRC is verified; make sure of it.
    let mut rest = [0u8; 1];
    match member.read(&mut rest) {
        Ok(0) => Ok((out, name)),
        Ok(_) => Err(corrupt(format!(
            "member {name} has data after the CSV ended"
        ))),
        Err(e) => Err(corrupt(format!("member {name}: {e}"))),
    }
}
