//! `hermes lake` against a real S3 server (SeaweedFS on loopback): ingest, silver, `ls` and
//! `stats` on `--lake s3://…` with the endpoint and credentials from the standard environment
//! variables, or the endpoint and key id from `[s3]` in the config file (the secret only ever
//! from the environment; a secret in the file is a configuration error).

mod common;
#[path = "common/s3.rs"]
mod s3;

use std::path::Path;
use std::process::{Command, Output};

use common::data_dir;
use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `hermes args…` in `dir` with `env` set and every S3 variable of the caller's environment
/// removed (so only what the test gives counts).
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hermes"));
    c.args(args).current_dir(dir);
    for k in [
        "HERMES_S3_ENDPOINT",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
    ] {
        c.env_remove(k);
    }
    c.envs(env.iter().copied());
    c.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The figures of `ls --json` that do not depend on when or where the lake was written.
fn ls_figures(v: &Value) -> Vec<Value> {
    v["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            serde_json::json!([
                s["layer"],
                s["market"],
                s["symbol"],
                s["interval"],
                s["first_day"],
                s["last_day"],
                s["days"],
                s["files"],
                s["rows"],
                s["versions"],
                s["orphans"]
            ])
        })
        .collect()
}

#[test]
fn lake_ls_on_seaweedfs_with_env_credentials_and_config() {
    let Some(d) = data_dir() else { return };
    let Some(server) = s3::SeaweedFs::start_or_skip("lake_ls_on_seaweedfs_with_env_credentials")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let endpoint = server.endpoint();
    let env = [
        ("HERMES_S3_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY),
        ("AWS_REGION", s3::REGION),
    ];
    let root = format!("s3://{}/cli/lake", s3::BUCKET);
    let local = tmp.path().join("local");
    let zips = [
        d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-01.zip"),
        d.join("binance_datatool-lostleaf/BTCUSDT-1m-2020-01-02.zip"),
    ];
    for lake in [root.as_str(), s(&local)] {
        let out = ok(&run(
            tmp.path(),
            &["lake", "ingest", "--lake", lake, s(&zips[0]), s(&zips[1])],
            &env,
        ));
        assert!(
            out.contains("2 ingested, 0 already present, 0 failed"),
            "{out}"
        );
        ok(&run(tmp.path(), &["lake", "silver", "--lake", lake], &env));
    }
    let table = ok(&run(tmp.path(), &["lake", "ls", "--lake", &root], &env));
    assert!(
        table.contains(&format!("lake ls in {root}: 2 series, 4 files")),
        "{table}"
    );
    let on_s3 = serde_json::from_str::<Value>(&ok(&run(
        tmp.path(),
        &["lake", "ls", "--lake", &root, "--json"],
        &env,
    )))
    .unwrap();
    let on_disk = serde_json::from_str::<Value>(&ok(&run(
        tmp.path(),
        &["lake", "ls", "--lake", s(&local), "--json"],
        &env,
    )))
    .unwrap();
    assert_eq!(on_s3["root"].as_str(), Some(root.as_str()));
    assert_eq!(ls_figures(&on_s3), ls_figures(&on_disk));
    assert_eq!(on_s3["series"][1]["rows"].as_u64(), Some(2880));
    let st = ok(&run(tmp.path(), &["lake", "stats", "--lake", &root], &env));
    assert!(st.contains("spot/klines/BTCUSDT/1m  2880"), "{st}");

    // Silver does not depend on when the ingest ran: the day files the two runs wrote are
    // byte-identical (bronze differs only in `_ingested_at`, the quality tables in the
    // fingerprints that include it).
    let remote = replay::Store::open_with(
        &replay::LakeRoot::parse(&root).unwrap(),
        &replay::S3Options {
            endpoint: Some(endpoint.clone()),
            access_key_id: Some(s3::ACCESS_KEY.into()),
            secret_access_key: Some(s3::SECRET_KEY.into()),
            session_token: None,
            region: s3::REGION.into(),
        },
    )
    .unwrap();
    let days: Vec<String> = remote
        .list("silver")
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .filter(|p| p.ends_with("part-0.parquet"))
        .collect();
    assert_eq!(days.len(), 2);
    for p in &days {
        assert!(
            remote.get(p).unwrap() == std::fs::read(local.join(p)).unwrap(),
            "{p} differs"
        );
    }

    // Endpoint and key id from [s3] in the config file, the secret from the environment.
    std::fs::create_dir_all(tmp.path().join("config")).unwrap();
    std::fs::write(
        tmp.path().join("config/lake.toml"),
        format!(
            "root = \"{root}\"\n[s3]\nendpoint = \"{endpoint}\"\naccess_key_id = \"{}\"\n",
            s3::ACCESS_KEY
        ),
    )
    .unwrap();
    let secret_only = [("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY)];
    let v = serde_json::from_str::<Value>(&ok(&run(
        tmp.path(),
        &["lake", "ls", "--json"],
        &secret_only,
    )))
    .unwrap();
    assert_eq!(ls_figures(&v), ls_figures(&on_s3));
    // Without the secret the server refuses: a store failure (exit 1) naming the root.
    let out = run(tmp.path(), &["lake", "ls"], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(&root));
    // A secret in the file is a configuration error, and is not echoed.
    std::fs::write(
        tmp.path().join("config/lake.toml"),
        format!(
            "root = \"{root}\"\n[s3]\nsecret_access_key = \"{}\"\n",
            s3::SECRET_KEY
        ),
    )
    .unwrap();
    let out = run(tmp.path(), &["lake", "ls"], &secret_only);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("s3.secret_access_key") && !err.contains(s3::SECRET_KEY),
        "{err}"
    );
}
