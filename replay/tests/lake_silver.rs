//! `replay::lake` silver on a local lake, on the real Binance files of `shared/data` (see its
//! PROVENANCE.md).

use std::path::PathBuf;
use std::sync::Arc;

use polars::prelude::*;
use replay::lake::{IngestOptions, IngestOutcome, ingest_files};
use replay::{LakeRoot, S3Options, Store};

#[path = "../../tests/common/data.rs"]
mod data;

const INGESTED_AT: i64 = 1_700_000_000_000_000_000;

struct Lake {
    _dir: tempfile::TempDir,
    store: Store,
}

fn new_lake() -> Lake {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::create(
        &LakeRoot::Local(dir.path().join("lake")),
        &S3Options::default(),
    )
    .expect("store");
    Lake { _dir: dir, store }
}

fn ingest(lake: &Lake, inputs: &[PathBuf]) {
    let opts = IngestOptions {
        ingested_at_ns: INGESTED_AT,
        ..IngestOptions::default()
    };
    for o in ingest_files(&lake.store, inputs, &opts, &|_| {}).expect("ledger") {
        assert!(matches!(o, IngestOutcome::Ingested { .. }), "{o:?}");
    }
}

/// In-memory buffers have no path to read hive partitions from.
fn scan_args() -> ScanArgsParquet {
    ScanArgsParquet {
        hive_options: HiveOptions::new_disabled(),
        ..ScanArgsParquet::default()
    }
}

/// Polars scans a bronze file from memory, casts its text prices and collects.
#[test]
fn polars_scans_a_bronze_buffer() {
    let Some(d) = data::data_dir() else { return };
    let lake = new_lake();
    ingest(
        &lake,
        &[d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip")],
    );
    let files = lake.store.list("bronze").unwrap();
    assert_eq!(files.len(), 1);
    let bytes = lake.store.get(&files[0].path).unwrap();
    let sources = ScanSources::Buffers(Arc::from([polars_buffer::Buffer::from_owner(bytes)]));
    let df = LazyFrame::scan_parquet_sources(sources, scan_args())
        .unwrap()
        .select([
            col("open_time"),
            col("close").strict_cast(DataType::Float64),
        ])
        .collect()
        .unwrap();
    assert_eq!(df.height(), 1440);
    let t = df.column("open_time").unwrap().i64().unwrap();
    assert_eq!(t.get(0), Some(1_577_836_800_000));
    let c = df.column("close").unwrap().f64().unwrap();
    assert_eq!(c.get(0), Some(7_186.68));
}
