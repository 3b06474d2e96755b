//! The lake on a real S3 server (SeaweedFS on loopback): upload a local lake with
//! `Store::put`, stream it back with `BarReplay`, and get exactly what local disk gives.

use replay::{
    BarRecord, BarReplay, LakeRoot, Layer, ReplayError, ReplayReport, ReplaySpec, S3Options, Store,
};

#[path = "common/lake.rs"]
mod lake;
#[path = "../../tests/common/s3.rs"]
mod s3;

use lake::{DAY, MINUTE, T0};

fn spec(root: &LakeRoot, chunk_days: u32, prefetch: bool) -> ReplaySpec {
    ReplaySpec {
        root: root.clone(),
        layer: Layer::Silver,
        provider: "binance".into(),
        market: "spot".into(),
        category: "klines".into(),
        symbols: vec!["AAA".into(), "BBB".into(), "CCC".into()],
        interval: "1m".into(),
        interval_ns: MINUTE,
        start_ns: Some(T0 + DAY / 3),
        end_ns: None,
        chunk_days,
        prefetch,
    }
}

fn run(store: &Store, spec: &ReplaySpec) -> (Vec<BarRecord>, ReplayReport) {
    let mut r = BarReplay::open(store, spec).expect("open");
    let (mut all, mut buf) = (Vec::new(), Vec::new());
    while r.next_chunk(&mut buf).expect("chunk").is_some() {
        all.extend_from_slice(&buf);
    }
    (all, r.into_report())
}

#[test]
fn replay_from_seaweedfs_equals_local_disk() {
    let Some(server) = s3::SeaweedFs::start_or_skip("replay_from_seaweedfs_equals_local_disk")
    else {
        return;
    };
    // A small local lake with a missing day, a gap and an unsorted partition.
    let dir = tempfile::tempdir().unwrap();
    let local_root = LakeRoot::Local(dir.path().to_path_buf());
    let local = Store::open_with(&local_root, &S3Options::default()).unwrap();
    for (i, s) in ["AAA", "BBB", "CCC"].iter().enumerate() {
        for day in 0..4 {
            if (i, day) == (1, 2) {
                continue;
            }
            let mut b = lake::bars(i as u64, day, 1440);
            if (i, day) == (2, 1) {
                b.drain(5..9);
                b.reverse();
            }
            lake::put_bars(&local, &lake::bar_dir(s, day), "part-0.parquet", &b);
        }
    }

    let options = S3Options {
        endpoint: Some(server.endpoint()),
        access_key_id: Some(s3::ACCESS_KEY.into()),
        secret_access_key: Some(s3::SECRET_KEY.into()),
        session_token: None,
        region: s3::REGION.into(),
    };
    let s3_root = LakeRoot::parse(&format!("s3://{}/lakes/test", s3::BUCKET)).unwrap();
    let remote = Store::open_with(&s3_root, &options).unwrap();
    let files = local.list("").unwrap();
    assert_eq!(files.len(), 11);
    for f in &files {
        remote.put(&f.path, local.get(&f.path).unwrap()).unwrap();
    }
    assert_eq!(
        remote.list("").unwrap(),
        files,
        "S3 listing equals the local one"
    );
    assert_eq!(
        remote.list("silver/binance/spot/klines/BBB").unwrap().len(),
        3
    );

    let (want, want_report) = run(&local, &spec(&local_root, 1, false));
    assert_eq!(want_report.totals.missing_partitions, 1);
    assert_eq!(want_report.totals.unsorted_partitions, 1);
    assert_eq!(want_report.totals.gaps, 2);
    for (chunk_days, prefetch) in [(1, true), (3, false)] {
        let (got, report) = run(&remote, &spec(&s3_root, chunk_days, prefetch));
        assert!(got == want, "S3 replay differs (chunk_days {chunk_days})");
        assert_eq!(report.root, "s3://hermes-test/lakes/test");
        assert_eq!(
            ReplayReport {
                root: want_report.root.clone(),
                ..report
            },
            want_report
        );
    }

    // Errors name the S3 URL.
    let err = remote.get("silver/none.parquet").unwrap_err();
    assert!(matches!(err, ReplayError::Get { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("s3://hermes-test/lakes/test/silver/none.parquet"),
        "{err}"
    );
    let wrong = S3Options {
        secret_access_key: Some("wrong-secret".into()),
        ..options
    };
    let denied = Store::open_with(&s3_root, &wrong).unwrap();
    let err = denied.list("silver").unwrap_err();
    assert!(
        err.to_string()
            .contains("s3://hermes-test/lakes/test/silver"),
        "{err}"
    );
}
