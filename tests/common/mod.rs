//! Helpers shared by the binary's integration tests: run `hermes`, find the real data files.
#![allow(dead_code)]

use std::path::Path;

mod data;
pub mod http;
pub use data::data_dir;
use std::process::{Command, Output};

/// Runs the real `hermes` binary with `args`.
pub fn hermes(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hermes"))
        .args(args)
        .output()
        .expect("spawn hermes")
}

/// Runs `hermes` and asserts success, returning stdout.
pub fn hermes_ok(args: &[&str]) -> String {
    let out = hermes(args);
    assert!(
        out.status.success(),
        "hermes {args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Runs `hermes`, asserts it fails with `code`, and returns its stderr (one error line).
pub fn hermes_err(args: &[&str], code: i32) -> String {
    let out = hermes(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "hermes {args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(
        errors.len(),
        1,
        "want exactly one error line, got: {stderr}"
    );
    stderr
}

/// Reads a CSV written by hermes into (header, rows).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).expect("open csv");
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|x| x.expect("row").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// Parses a cell as f64; `None` for an empty cell.
pub fn num(cell: &str) -> Option<f64> {
    (!cell.is_empty()).then(|| cell.parse().expect("numeric cell"))
}

/// Column index by name.
pub fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}
