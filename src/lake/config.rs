//! The lake configuration: `config/lake.toml` (or `--config FILE`), overridden by `--lake`.
//! Strict: unknown keys are rejected and [`LakeConfig::validate`] reports every problem at
//! once with its key; both are configuration errors (exit 78).
//!
//! S3 settings ([`S3Config`]): endpoint, region and access key id from `[s3]`, each
//! overridden by the environment (`HERMES_S3_ENDPOINT` or `AWS_ENDPOINT_URL`, `AWS_REGION`,
//! `AWS_ACCESS_KEY_ID`); the secret key and session token come from the environment only
//! (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`): a secret in the file is rejected.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Deserialize;

use crate::error::ConfigError;

/// The default config file, used when it exists and no `--config` is given.
pub const DEFAULT_PATH: &str = "config/lake.toml";

/// `config/lake.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeConfig {
    /// Lake root: a local directory or `s3://bucket/prefix`.
    pub root: String,
    /// `[download]`: `hermes lake download`.
    pub download: DownloadConfig,
    /// `[gold_test]`: experimental feature columns (`hermes lake gold --with-test-features`).
    pub gold_test: GoldTestConfig,
    /// `[ab]`: which columns variant B of `hermes backtest --ab` reads.
    pub ab: AbConfig,
    /// `[s3]`: how to reach an `s3://` root.
    pub s3: S3Config,
}

impl Default for LakeConfig {
    fn default() -> Self {
        Self {
            root: "lake".into(),
            download: DownloadConfig::default(),
            gold_test: GoldTestConfig::default(),
            ab: AbConfig::default(),
            s3: S3Config::default(),
        }
    }
}

/// `[s3]` of `config/lake.toml`: everything but the secret, which only the environment gives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// Endpoint URL of an S3-compatible store (MinIO, SeaweedFS); unset for AWS.
    pub endpoint: Option<String>,
    /// Region to sign with (default `us-east-1`).
    pub region: Option<String>,
    /// Access key id (not a secret).
    pub access_key_id: Option<String>,
    /// Present only to be rejected with a clear message; the value is dropped unread.
    secret_access_key: Option<Rejected>,
    /// As `secret_access_key`.
    session_token: Option<Rejected>,
}

/// A config value that must not be there (a secret): deserialized without keeping it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rejected;

impl<'de> Deserialize<'de> for Rejected {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Rejected)
    }
}

impl S3Config {
    /// The S3 options: the environment ([`replay::S3Options::from_env`]) over this section.
    #[must_use]
    pub fn options(&self) -> replay::S3Options {
        let region_set = std::env::var("AWS_REGION").is_ok_and(|v| !v.trim().is_empty());
        self.options_over(replay::S3Options::from_env(), region_set)
    }

    /// `env` (options read from the environment; `region_set` when `AWS_REGION` was) with this
    /// section filling what it lacks.
    fn options_over(&self, env: replay::S3Options, region_set: bool) -> replay::S3Options {
        replay::S3Options {
            endpoint: env.endpoint.or_else(|| self.endpoint.clone()),
            access_key_id: env.access_key_id.or_else(|| self.access_key_id.clone()),
            region: match (&self.region, region_set) {
                (Some(r), false) => r.clone(),
                _ => env.region,
            },
            ..env
        }
    }

    fn problems(&self, p: &mut Vec<String>) {
        for (key, present) in [
            ("secret_access_key", self.secret_access_key.is_some()),
            ("session_token", self.session_token.is_some()),
        ] {
            if present {
                p.push(format!(
                    "s3.{key}: secrets are not read from config files; set AWS_{} in the \
                     environment",
                    key.to_uppercase()
                ));
            }
        }
        if let Some(e) = &self.endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            p.push(format!(
                "s3.endpoint: {e:?} is not an http:// or https:// URL"
            ));
        }
        if self.region.as_deref().is_some_and(|r| r.trim().is_empty()) {
            p.push("s3.region: empty".into());
        }
    }
}

/// `[gold_test]` of `config/lake.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoldTestConfig {
    /// `[[gold_test.features]]`: `name`, `kind`, `params` (see `replay::lake::features`).
    pub features: Vec<replay::lake::TestFeatureSpec>,
}

/// `[ab]` of `config/lake.toml`: the column each Smart Momentum input of variant B reads
/// (gold or gold_test); unset = the same column as A (gold's standard column for the
/// strategy's parameters, e.g. `rsi_14`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AbConfig {
    /// Fast EMA column.
    pub ema_fast: Option<String>,
    /// Slow EMA column.
    pub ema_slow: Option<String>,
    /// RSI column.
    pub rsi: Option<String>,
    /// SuperTrend direction column (±1).
    pub supertrend_dir: Option<String>,
}

impl AbConfig {
    /// `(key, column)` of every override, in input order.
    #[must_use]
    pub fn overrides(&self) -> Vec<(&'static str, &str)> {
        [
            ("ema_fast", &self.ema_fast),
            ("ema_slow", &self.ema_slow),
            ("rsi", &self.rsi),
            ("supertrend_dir", &self.supertrend_dir),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.as_deref()?)))
        .collect()
    }
}

/// `[download]` of `config/lake.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DownloadConfig {
    /// Site serving the public-data layout (`{base_url}/data/spot/…`); `--base-url` overrides.
    pub base_url: String,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        Self {
            base_url: super::download::DEFAULT_BASE_URL.into(),
        }
    }
}

impl LakeConfig {
    /// Loads `path`, or [`DEFAULT_PATH`] when it exists, or the defaults.
    ///
    /// # Errors
    /// [`ConfigError`] for a missing explicit file, unparseable TOML or an unknown key.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let path: Option<PathBuf> = match path {
            Some(p) => {
                if !p.is_file() {
                    return Err(ConfigError::new(format!(
                        "config file {} does not exist or is not a file",
                        p.display()
                    )));
                }
                Some(p.to_path_buf())
            }
            None => Some(PathBuf::from(DEFAULT_PATH)).filter(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::new(format!("config {}: {e}", path.display())))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses TOML text (`origin` names it in errors).
    ///
    /// # Errors
    /// [`ConfigError`] for unparseable TOML or an unknown key.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .and_then(config::Config::try_deserialize::<Self>)
            .map_err(|e| ConfigError::new(format!("config {origin}: {e}")))
    }

    /// Every problem, each with its key.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if let Err(e) = replay::LakeRoot::parse(&self.root) {
            p.push(format!("root: {e}"));
        }
        if let Err(e) = super::download::check_base_url(&self.download.base_url) {
            p.push(format!("download.base_url: {e}"));
        }
        // The error names its key (`gold_test.features[i].…`).
        if let Err(e) = replay::lake::compile_features(&self.gold_test.features) {
            p.push(e.to_string());
        }
        for (key, column) in self.ab.overrides() {
            let ok = column.starts_with(|c: char| c.is_ascii_lowercase())
                && column
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                p.push(format!("ab.{key}: {column:?} is not a column name"));
            }
        }
        self.s3.problems(&mut p);
        p
    }

    /// Fails with every problem at once.
    ///
    /// # Errors
    /// [`ConfigError`] listing [`LakeConfig::problems`].
    pub fn validate(&self) -> Result<()> {
        let p = self.problems();
        if p.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::new(format!(
                "invalid lake configuration: {}",
                p.join("; ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_file_parses_and_unknown_keys_fail() {
        let shipped = include_str!("../../config/lake.toml");
        let c = LakeConfig::parse(shipped, "config/lake.toml").unwrap();
        assert_eq!(
            LakeConfig {
                gold_test: GoldTestConfig::default(),
                ab: AbConfig::default(),
                ..c.clone()
            },
            LakeConfig::default()
        );
        let names: Vec<&str> = c
            .gold_test
            .features
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["rsi_21", "ema_9"]);
        assert_eq!(c.ab.overrides(), [("rsi", "rsi_21")]);
        c.validate().unwrap();
        let e = LakeConfig::parse("root = \"x\"\nroots = \"y\"\n", "t.toml").unwrap_err();
        assert!(format!("{e:#}").contains("roots"), "{e:#}");
        let c = LakeConfig::parse("root = \"gs://b/x\"", "t.toml").unwrap();
        assert!(c.validate().is_err());
        assert_eq!(LakeConfig::parse("", "t").unwrap().root, "lake");
    }

    #[test]
    fn gold_test_features_and_ab_are_read_and_checked() {
        let text = r#"
[[gold_test.features]]
name = "rsi_21"
kind = "rsi"
params = { period = 21 }

[[gold_test.features]]
name = "st_dir_7"
kind = "supertrend_dir"
params = { period = 7, multiplier = 2.5 }

[ab]
rsi = "rsi_21"
"#;
        let c = LakeConfig::parse(text, "t").unwrap();
        c.validate().unwrap();
        assert_eq!(c.gold_test.features.len(), 2);
        assert_eq!(c.gold_test.features[0].params["period"], 21.0);
        assert_eq!(c.gold_test.features[1].params["multiplier"], 2.5);
        assert_eq!(c.ab.overrides(), [("rsi", "rsi_21")]);
        let bad = text.replace("period = 21", "period = 0");
        let e = LakeConfig::parse(&bad, "t")
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(
            format!("{e:#}").contains("gold_test.features[0].params.period"),
            "{e:#}"
        );
        let bad = text.replace("rsi = \"rsi_21\"", "rsi = \"RSI 21\"");
        let e = LakeConfig::parse(&bad, "t")
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(format!("{e:#}").contains("ab.rsi"), "{e:#}");
        let e = LakeConfig::parse("[ab]\nrsii = \"x\"\n", "t").unwrap_err();
        assert!(format!("{e:#}").contains("rsii"), "{e:#}");
    }

    #[test]
    fn s3_section_without_secrets() {
        let c = LakeConfig::parse(
            "[s3]\nendpoint = \"http://127.0.0.1:8333\"\nregion = \"eu-west-1\"\n\
             access_key_id = \"AKID\"\n",
            "t",
        )
        .unwrap();
        c.validate().unwrap();
        let env = replay::S3Options {
            secret_access_key: Some("from-env".into()),
            ..replay::S3Options::default()
        };
        let o = c.s3.options_over(env.clone(), false);
        assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
        assert_eq!(o.region, "eu-west-1");
        assert_eq!(o.access_key_id.as_deref(), Some("AKID"));
        assert_eq!(o.secret_access_key.as_deref(), Some("from-env"));
        // The environment wins over the file.
        let o = c.s3.options_over(
            replay::S3Options {
                endpoint: Some("http://127.0.0.1:9000".into()),
                access_key_id: Some("ENV".into()),
                region: "us-east-2".into(),
                ..env
            },
            true,
        );
        assert_eq!(
            (
                o.endpoint.as_deref(),
                o.access_key_id.as_deref(),
                o.region.as_str()
            ),
            (Some("http://127.0.0.1:9000"), Some("ENV"), "us-east-2")
        );
        for secret in ["secret_access_key", "session_token"] {
            let c = LakeConfig::parse(&format!("[s3]\n{secret} = \"hunter2\"\n"), "t").unwrap();
            let e = format!("{:#}", c.validate().unwrap_err());
            assert!(
                e.contains(&format!("s3.{secret}")) && e.contains("environment"),
                "{e}"
            );
            assert!(
                !e.contains("hunter2") && !format!("{c:?}").contains("hunter2"),
                "{e}"
            );
        }
        let c = LakeConfig::parse("[s3]\nendpoint = \"127.0.0.1:9000\"\n", "t").unwrap();
        assert!(format!("{:#}", c.validate().unwrap_err()).contains("s3.endpoint"));
        let e = LakeConfig::parse("[s3]\nendpont = \"x\"\n", "t").unwrap_err();
        assert!(format!("{e:#}").contains("endpont"), "{e:#}");
    }

    #[test]
    fn download_base_url_is_read_and_checked() {
        let c =
            LakeConfig::parse("[download]\nbase_url = \"http://127.0.0.1:9/m\"\n", "t").unwrap();
        assert_eq!(c.download.base_url, "http://127.0.0.1:9/m");
        c.validate().unwrap();
        assert_eq!(
            LakeConfig::default().download.base_url,
            "https://data.binance.vision"
        );
        let e = LakeConfig::parse("[download]\nbase_urls = \"x\"\n", "t").unwrap_err();
        assert!(format!("{e:#}").contains("base_urls"), "{e:#}");
        for bad in ["ftp://h/x", "data.binance.vision", "http://h/x?q=1"] {
            let c = LakeConfig::parse(&format!("[download]\nbase_url = \"{bad}\"\n"), "t").unwrap();
            let e = c.validate().unwrap_err();
            assert!(
                format!("{e:#}").contains("download.base_url"),
                "{bad}: {e:#}"
            );
        }
    }
}
