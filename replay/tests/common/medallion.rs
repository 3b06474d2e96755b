//! A fresh local lake in a temporary directory for the Medallion (`replay::lake`) tests, and
//! the fixed ingest time they stamp on Bronze.
#![allow(dead_code)]

use replay::{LakeRoot, S3Options, Store};

/// `_ingested_at` of every ingest the tests run (fixed, so files are byte-comparable).
pub const INGESTED_AT: i64 = 1_700_000_000_000_000_000;

/// A lake at `dir/lake`; `dir` lives as long as the lake.
pub struct Lake {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

/// An empty local lake.
pub fn new_lake() -> Lake {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::create(
        &LakeRoot::Local(dir.path().join("lake")),
        &S3Options::default(),
    )
    .expect("store");
    Lake { dir, store }
}
