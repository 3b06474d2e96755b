//! Where the real market files of `../shared/data` are (see its `PROVENANCE.md`), for every
//! test in the workspace: included by `#[path]` into the binary's unit tests, the integration
//! tests and the `strategies` tests, so there is one rule.
//!
//! The directory is `HERMES_DATA_DIR`, or `shared/data` beside the workspace root. When it is
//! missing, a test fails loudly under CI (`CI` set) and says SKIPPED loudly elsewhere.

use std::path::{Path, PathBuf};

/// The shared data directory, or `None` (with a loud message) when it is absent outside CI.
///
/// # Panics
/// Under CI when the directory is missing: real-data tests must not vanish silently.
pub fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("HERMES_DATA_DIR").map_or_else(default_dir, PathBuf::from);
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "real-data test data directory {} is missing (set HERMES_DATA_DIR)",
        dir.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{msg}");
    eprintln!("SKIPPED: {msg}");
    None
}

/// `shared/data` beside the workspace root (the nearest ancestor holding `Cargo.lock`).
fn default_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .ancestors()
        .find(|p| p.join("Cargo.lock").is_file())
        .unwrap_or(manifest);
    root.join("../shared/data")
}
