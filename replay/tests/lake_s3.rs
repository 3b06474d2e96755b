//! The Medallion pipeline on a real S3 server (SeaweedFS on loopback) against local disk: the
//! same library calls on the same real files (`shared/data`, see its PROVENANCE.md: lostleaf
//! spot zips, alphakit ETHUSDT 1h months, owlacar's USDⓈ-M LTCUSDT 1m month) with the
//! same `ingested_at_ns` give the same keys and byte-identical objects in every layer, the
//! same catalog, and a failed ingest leaves an S3 lake unchanged.

use std::collections::BTreeMap;
use std::path::PathBuf;

use replay::lake::{
    CatalogFilter, GoldOptions, IngestOptions, IngestOutcome, LakeError, SilverOptions, build_gold,
    build_silver, ingest_files, inventory, stats,
};
use replay::{LakeRoot, S3Options, Store};

#[path = "../../tests/common/data.rs"]
mod data;
#[path = "common/medallion.rs"]
mod medallion;
#[path = "../../tests/common/s3.rs"]
mod s3;

use medallion::{INGESTED_AT, new_lake};

fn s3_store(server: &s3::SeaweedFs, prefix: &str) -> Store {
    let options = S3Options {
        endpoint: Some(server.endpoint()),
        access_key_id: Some(s3::ACCESS_KEY.into()),
        secret_access_key: Some(s3::SECRET_KEY.into()),
        session_token: None,
        region: s3::REGION.into(),
    };
    let root = LakeRoot::parse(&format!("s3://{}/{prefix}", s3::BUCKET)).unwrap();
    Store::open_with(&root, &options).unwrap()
}

/// Every object under the root: key relative to the root → bytes.
fn contents(store: &Store) -> BTreeMap<String, bytes::Bytes> {
    let keys: Vec<String> = store
        .list("")
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    let bodies = store.get_many(&keys).unwrap();
    keys.into_iter().zip(bodies).collect()
}

/// Ingest, silver, gold, as `hermes lake ingest`, `silver` and `gold` run them.
fn pipeline(store: &Store, inputs: &[PathBuf]) -> Vec<String> {
    let opts = IngestOptions {
        ingested_at_ns: INGESTED_AT,
        ..IngestOptions::default()
    };
    let outcomes = ingest_files(store, inputs, &opts, &|_| {}).unwrap();
    for o in &outcomes {
        assert!(matches!(o, IngestOutcome::Ingested { .. }), "{o:?}");
    }
    let s = build_silver(store, &SilverOptions::default()).unwrap();
    assert_eq!(s.failures().count(), 0);
    let g = build_gold(store, &GoldOptions::default()).unwrap();
    assert_eq!(g.failures().count(), 0);
    s.series
        .iter()
        .map(|o| format!("{} {} {:?}", o.key, o.days_written, o.quality))
        .chain(
            g.series
                .iter()
                .map(|o| format!("{:?}", (&o.key, o.days_written, o.rows))),
        )
        .collect()
}

#[test]
fn lake_on_seaweedfs_equals_local_disk() {
    let Some(d) = data::data_dir() else { return };
    let Some(server) = s3::SeaweedFs::start_or_skip("lake_on_seaweedfs_equals_local_disk") else {
        return;
    };
    let lostleaf = d.join("binance_datatool-lostleaf");
    let inputs: Vec<PathBuf> = vec![
        lostleaf.join("BTCUSDT-1m-2020-01-01.zip"),
        lostleaf.join("BTCUSDT-1m-2020-01-02.zip"),
        d.join("alphakit/spot/ETHUSDT-1h-2021-01.csv"),
        d.join("alphakit/spot/ETHUSDT-1h-2021-02.csv"),
        d.join("alphakit/spot/ETHUSDT-1h-2021-03.csv"),
        d.join("owlacar-isda/LTCUSDT-1m-2026-02.csv"),
    ];
    let local = new_lake();
    let remote = s3_store(&server, "lakes/parity");
    let local_summary = pipeline(&local.store, &inputs);
    let remote_summary = pipeline(&remote, &inputs);
    assert_eq!(local_summary, remote_summary);

    let a = contents(&local.store);
    let b = contents(&remote);
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same keys"
    );
    let layers = |m: &BTreeMap<String, bytes::Bytes>, layer: &str| {
        m.keys()
            .filter(|k| k.starts_with(&format!("{layer}/")))
            .count()
    };
    // Bronze day files 2 + 90 + 28, as many silver and gold days, three quality tables and
    // three gold states, one ledger entry per input.
    assert_eq!(
        (
            layers(&a, "bronze"),
            layers(&a, "silver"),
            layers(&a, "gold"),
            layers(&a, "_ledger")
        ),
        (120, 123, 123, 6)
    );
    for (k, v) in &a {
        assert!(b[k] == *v, "{k} differs between local disk and S3");
    }

    // The catalog reads the same lake the same way on both stores.
    let all = CatalogFilter::default();
    assert_eq!(
        inventory(&local.store, &all).unwrap(),
        inventory(&remote, &all).unwrap()
    );
    assert_eq!(
        stats(&local.store, &all).unwrap(),
        stats(&remote, &all).unwrap()
    );

    // A rerun on S3 writes nothing (the quality tables' and states' fingerprints match).
    let before = remote.io_counters();
    let s = build_silver(&remote, &SilverOptions::default()).unwrap();
    assert_eq!(s.days_written(), 0);
    let g = build_gold(&remote, &GoldOptions::default()).unwrap();
    assert_eq!(g.days_written(), 0);
    assert_eq!(remote.io_counters().puts, before.puts);
}

#[test]
fn s3_failed_ingest_changes_nothing() {
    let Some(d) = data::data_dir() else { return };
    let Some(server) = s3::SeaweedFs::start_or_skip("s3_failed_ingest_changes_nothing") else {
        return;
    };
    let remote = s3_store(&server, "lakes/failed");
    pipeline(
        &remote,
        &[d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip")],
    );
    let before = contents(&remote);
    assert_eq!(
        before.len(),
        6,
        "bronze day, ledger entry, silver day, quality table, gold day, gold state"
    );
    let corrupt = d.join("nautilus_trader/corrupt-as-stored-in-git/ADABTC-1m-2021-11-27.zip");
    let opts = IngestOptions {
        ingested_at_ns: INGESTED_AT + 1,
        ..IngestOptions::default()
    };
    let out = ingest_files(&remote, std::slice::from_ref(&corrupt), &opts, &|_| {}).unwrap();
    assert_eq!(out.len(), 1);
    match &out[0] {
        IngestOutcome::Failed { input, error } => {
            assert_eq!(input, &corrupt);
            assert!(matches!(error, LakeError::CorruptZip { .. }), "{error}");
        }
        o => panic!("{o:?}"),
    }
    let after = contents(&remote);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    assert!(after == before, "every object byte-identical");
    let inv = inventory(&remote, &CatalogFilter::default()).unwrap();
    assert!(
        inv.iter()
            .all(|s| s.series.symbol == "BTCUSDT" && s.orphans == 0)
    );
}
