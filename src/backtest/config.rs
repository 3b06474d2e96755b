//! The backtest configuration: `config/backtest.toml`, overridden by `HERMES__SECTION__KEY`
//! environment variables (the `config` crate's layering), then by command-line flags.
//!
//! Strict by design: every section denies unknown keys (a mistyped risk limit that silently
//! becomes a default is a money-losing bug), and [`BacktestConfig::validate`] reports every
//! problem at once with its key path. The canonical JSON of the final configuration is hashed
//! (SHA-256) into the report, so a result can always be traced to the exact settings.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use actors::allocator::AllocatorConfig;
use actors::executor::FillConvention;
use actors::regime_detector::RegimeConfig;
use actors::risk::RiskConfig;
use actors::simulator::SimulatorConfig;
use actors::strategy_selector::SelectorConfig;

use crate::error::ConfigError;

/// The whole backtest configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BacktestConfig {
    /// Run identity and seed.
    pub run: RunConfig,
    /// Where the market data comes from.
    pub data: DataConfig,
    /// Which strategy, and the selector's hysteresis.
    pub strategy: SelectorConfig,
    /// The regime detector.
    pub regime: RegimeConfig,
    /// The Chiarella simulator.
    pub simulator: SimulatorConfig,
    /// The allocator.
    pub allocator: AllocatorConfig,
    /// Pre-trade risk limits.
    pub risk: RiskConfig,
    /// Fills and fees.
    pub execution: ExecutionConfig,
    /// Starting cash and sizing.
    pub portfolio: PortfolioConfig,
    /// Outputs.
    pub report: ReportConfig,
}

/// `[run]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// A name for the run (report title).
    pub name: String,
    /// Master seed: every random stream of the run derives from it.
    pub seed: u64,
    /// Output folder.
    pub out: PathBuf,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            name: "backtest".into(),
            seed: 42,
            out: PathBuf::from("backtest-out"),
        }
    }
}

/// `[data]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// One bar file (CSV, CSV.GZ or Parquet) for a one-symbol run; overrides the lake.
    pub file: Option<PathBuf>,
    /// Lake root: a local directory or `s3://bucket/prefix`.
    pub root: String,
    /// Generate the embedded demo market into `root` when it holds no data yet ("demo"), or
    /// never ("none").
    pub generate: String,
    /// Lake layer to replay.
    pub layer: String,
    /// Provider segment of the lake path.
    pub provider: String,
    /// Market segment.
    pub market: String,
    /// Category segment.
    pub category: String,
    /// Symbols (at most 16).
    pub symbols: Vec<String>,
    /// Bar interval (`1m`, `5m`, `1h`, `1d` …).
    pub interval: String,
    /// First day (inclusive), `YYYY-MM-DD` or any timestamp `hermes` parses; empty = all.
    pub start: String,
    /// Last instant (exclusive); empty = all.
    pub end: String,
    /// Days of partitions read per chunk (results do not depend on it).
    pub chunk_days: u32,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            file: None,
            root: "target/hermes/demo-lake".into(),
            generate: "demo".into(),
            layer: "silver".into(),
            provider: "binance".into(),
            market: "spot".into(),
            category: "klines".into(),
            symbols: vec!["BTCUSDT".into(), "ETHUSDT".into(), "SOLUSDT".into()],
            interval: "1m".into(),
            start: String::new(),
            end: String::new(),
            chunk_days: 1,
        }
    }
}

/// `[execution]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionConfig {
    /// `close` (fill at the signal bar's close) or `next-open` (fill at the next bar's open).
    pub fill: FillConvention,
    /// Fee for market orders, a fraction of notional per side.
    pub taker_fee: f64,
    /// Fee for resting orders.
    pub maker_fee: f64,
    /// Adverse slippage in basis points of the fill price.
    pub slippage_bps: f64,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        Self {
            fill: FillConvention::Close,
            taker_fee: 0.001,
            maker_fee: 0.001,
            slippage_bps: 0.0,
        }
    }
}

/// Position sizing.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sizing {
    /// Each entry buys with all cash: `cash / ((1 + fee) · price)`.
    AllIn,
    /// Each entry targets `fraction` of equity (the allocator's weights scale it).
    Fractional,
}

/// `[portfolio]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortfolioConfig {
    /// Starting cash (quote currency).
    pub cash: f64,
    /// Sizing rule.
    pub sizing: Sizing,
    /// Fraction of equity per entry under `fractional` sizing.
    pub fraction: f64,
}

impl Default for PortfolioConfig {
    fn default() -> Self {
        Self {
            cash: 10_000.0,
            sizing: Sizing::AllIn,
            fraction: 1.0,
        }
    }
}

/// `[report]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Periods per year for annualising (bars per year); 0 = derive from the interval
    /// (365 days of 24-hour trading).
    pub periods_per_year: f64,
    /// Draw the PNG/SVG chart and the HTML report.
    pub charts: bool,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            periods_per_year: 0.0,
            charts: true,
        }
    }
}

/// The interval string as nanoseconds (`1s`, `1m`, `15m`, `1h`, `4h`, `1d`, `1w`), by the bar
/// builder's own parser.
///
/// # Errors
/// A message naming the value when it is not a positive count with a known unit.
pub fn interval_ns(interval: &str) -> Result<i64, String> {
    actors::bar_builder::parse_interval(interval)
        .ok_or_else(|| format!("data.interval = {interval:?} is not an interval like 1m, 1h or 1d"))
}

impl BacktestConfig {
    /// Loads `path` (TOML) and the `HERMES__…` environment over the defaults.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and key for a parse error or an unknown key.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let mut builder = config::Config::builder();
        if let Some(path) = path {
            if !path.exists() || path.is_dir() {
                return Err(ConfigError::new(format!(
                    "config file {} does not exist or is not a file",
                    path.display()
                )));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::new(format!("config {}: {e}", path.display())))?;
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("HERMES")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("data.symbols")
                .try_parsing(true),
        );
        let where_ = path.map_or_else(|| "defaults".to_string(), |p| p.display().to_string());
        let built = builder
            .build()
            .map_err(|e| ConfigError::new(format!("config {where_}: {e}")))?;
        built
            .try_deserialize::<BacktestConfig>()
            .map_err(|e| ConfigError::new(format!("config {where_}: {e}")))
    }

    /// Every problem in the configuration, each with its key path.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let d = &self.data;
        if d.file.is_none() {
            if d.root.trim().is_empty() {
                p.push("data.root must name a directory or s3://bucket/prefix".into());
            }
            if d.symbols.is_empty() {
                p.push("data.symbols must list at least one symbol".into());
            }
            if !matches!(d.layer.as_str(), "bronze" | "silver" | "gold" | "gold_test") {
                p.push(format!(
                    "data.layer must be bronze, silver, gold or gold_test, got {:?}",
                    d.layer
                ));
            }
        }
        if d.symbols.len() > actors::MAX_SYMBOLS {
            p.push(format!(
                "data.symbols lists {} symbols; at most {} are supported",
                d.symbols.len(),
                actors::MAX_SYMBOLS
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &d.symbols {
            if !seen.insert(s) {
                p.push(format!("data.symbols lists {s:?} twice"));
            }
        }
        if !matches!(d.generate.as_str(), "demo" | "none") {
            p.push(format!(
                "data.generate must be \"demo\" or \"none\", got {:?}",
                d.generate
            ));
        }
        if let Err(e) = interval_ns(&d.interval) {
            p.push(e);
        }
        if d.chunk_days == 0 {
            p.push("data.chunk_days must be at least 1".into());
        }
        let e = &self.execution;
        for (key, v) in [
            ("execution.taker_fee", e.taker_fee),
            ("execution.maker_fee", e.maker_fee),
        ] {
            if !(v.is_finite() && (0.0..0.1).contains(&v)) {
                p.push(format!("{key} must be in [0, 0.1), got {v}"));
            }
        }
        if !(e.slippage_bps.is_finite() && (0.0..1000.0).contains(&e.slippage_bps)) {
            p.push(format!(
                "execution.slippage_bps must be in [0, 1000), got {}",
                e.slippage_bps
            ));
        }
        let pf = &self.portfolio;
        if !(pf.cash.is_finite() && pf.cash > 0.0) {
            p.push(format!("portfolio.cash must be > 0, got {}", pf.cash));
        }
        if !(pf.fraction.is_finite() && pf.fraction > 0.0 && pf.fraction <= 1.0) {
            p.push(format!(
                "portfolio.fraction must be in (0, 1], got {}",
                pf.fraction
            ));
        }
        let ppy = self.report.periods_per_year;
        if !(ppy.is_finite() && ppy >= 0.0) {
            p.push(format!(
                "report.periods_per_year must be ≥ 0 (0 = from the interval), got {ppy}"
            ));
        }
        p.extend(self.strategy.validate("strategy"));
        p.extend(self.regime.validate("regime"));
        p.extend(self.simulator.validate("simulator"));
        p.extend(self.allocator.validate("allocator"));
        p.extend(self.risk.validate("risk"));
        p
    }

    /// [`Self::problems`] as one error listing all of them.
    ///
    /// # Errors
    /// [`ConfigError`] when there is any problem.
    pub fn validate(&self) -> Result<()> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::new(format!(
                "invalid configuration ({} problem{}): {}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                problems.join("; ")
            )))
        }
    }

    /// Bars per year for annualising.
    #[must_use]
    pub fn periods_per_year(&self) -> f64 {
        if self.report.periods_per_year > 0.0 {
            return self.report.periods_per_year;
        }
        let ns = interval_ns(&self.data.interval).unwrap_or(60_000_000_000);
        365.0 * 86_400e9 / ns as f64
    }

    /// SHA-256 of the canonical JSON of this configuration (hex).
    #[must_use]
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let digest = Sha256::digest(&json);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse() {
        assert_eq!(interval_ns("1m"), Ok(60_000_000_000));
        assert_eq!(interval_ns("4h"), Ok(4 * 3_600_000_000_000));
        assert!(interval_ns("0m").is_err());
        assert!(interval_ns("m").is_err());
        assert!(interval_ns("5x").is_err());
    }

    #[test]
    fn defaults_are_valid_and_the_hash_is_stable() {
        let c = BacktestConfig::default();
        assert_eq!(c.problems(), Vec::<String>::new());
        assert_eq!(c.hash(), BacktestConfig::default().hash());
        let mut d = c.clone();
        d.run.seed += 1;
        assert_ne!(c.hash(), d.hash());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_with_their_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bt.toml");
        std::fs::write(&path, "[risk]\nmax_ordr_notional = 5\n").unwrap();
        let err = BacktestConfig::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("max_ordr_notional"), "{err}");
        assert!(err.contains("bt.toml"), "{err}");

        std::fs::write(
            &path,
            "[portfolio]\ncash = -1\n[execution]\ntaker_fee = 0.5\n[data]\ninterval = \"7q\"\n",
        )
        .unwrap();
        let c = BacktestConfig::load(Some(&path)).unwrap();
        let p = c.problems();
        assert!(p.iter().any(|m| m.starts_with("portfolio.cash")), "{p:?}");
        assert!(
            p.iter().any(|m| m.starts_with("execution.taker_fee")),
            "{p:?}"
        );
        assert!(p.iter().any(|m| m.starts_with("data.interval")), "{p:?}");
    }

    #[test]
    fn the_shipped_config_loads_and_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/backtest.toml");
        let c = BacktestConfig::load(Some(&path)).unwrap();
        assert_eq!(c.problems(), Vec::<String>::new());
    }
}
