//! The lake configuration: `config/lake.toml` (or `--config FILE`), overridden by `--lake`.
//! Strict: unknown keys are rejected and [`LakeConfig::validate`] reports every problem at
//! once with its key; both are configuration errors (exit 78).

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Deserialize;

use crate::error::ConfigError;

/// The default config file, used when it exists and no `--config` is given.
pub const DEFAULT_PATH: &str = "config/lake.toml";

/// `config/lake.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeConfig {
    /// Lake root: a local directory or `s3://bucket/prefix`.
    pub root: String,
    /// `[download]`: `hermes lake download`.
    pub download: DownloadConfig,
}

impl Default for LakeConfig {
    fn default() -> Self {
        Self {
            root: "lake".into(),
            download: DownloadConfig::default(),
        }
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
        assert_eq!(c, LakeConfig::default());
        c.validate().unwrap();
        let e = LakeConfig::parse("root = \"x\"\nroots = \"y\"\n", "t.toml").unwrap_err();
        assert!(format!("{e:#}").contains("roots"), "{e:#}");
        let c = LakeConfig::parse("root = \"gs://b/x\"", "t.toml").unwrap();
        assert!(c.validate().is_err());
        assert_eq!(LakeConfig::parse("", "t").unwrap().root, "lake");
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
