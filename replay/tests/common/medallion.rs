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

/// A re-delivery of the daily zip `zip`: the same file name in `dir` (no `.CHECKSUM`), its
/// CSV member with line 17's close set to that bar's open (still a valid bar). Ingested after
/// the original it is version 2 of the same source.
pub fn changed_zip_copy(zip: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::{Read, Write};
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(zip).expect("open zip")).expect("zip archive");
    let mut member = archive.by_index(0).expect("member");
    let name = member.name().expect("member name").to_string();
    let mut text = String::new();
    member.read_to_string(&mut text).expect("read member");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cells: Vec<String> = lines[16].split(',').map(str::to_string).collect();
    assert_ne!(cells[4], cells[1], "line 17 must change");
    cells[4] = cells[1].clone();
    lines[16] = cells.join(",");
    std::fs::create_dir_all(dir).expect("dir");
    let out = dir.join(zip.file_name().expect("file name"));
    let mut w = zip::ZipWriter::new(std::fs::File::create(&out).expect("create zip"));
    w.start_file(name, zip::write::SimpleFileOptions::default())
        .expect("start member");
    w.write_all((lines.join("\n") + "\n").as_bytes())
        .expect("write member");
    w.finish().expect("finish zip");
    out
}
