//! The command-line surface: every subcommand, flag, default and help text. Parsing only;
//! the work is in [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Hermes: an actor-based, low-latency crypto trading daemon, and the research tools of its
/// model library.
#[derive(Debug, Parser)]
#[command(name = "hermes", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add indicator columns to a bar file: ema_12, ema_26, rsi_14, macd, macd_signal,
    /// macd_hist, bb_upper, bb_middle, bb_lower, atr_10, supertrend, supertrend_dir.
    ///
    /// Input: CSV, CSV.GZ or Parquet bars with columns time,open,high,low,close,volume (a
    /// headerless Binance kline CSV works too). Warm-up rows get empty cells. Rows keep their
    /// input order.
    Features(FeaturesArgs),
    /// Gaussian hidden-Markov regime model: fit it, or label a series with it.
    #[command(subcommand)]
    Regime(RegimeCommand),
    /// Monte-Carlo market simulators.
    #[command(subcommand)]
    Simulate(SimulateCommand),
    /// Portfolio weights from expected returns and a covariance matrix (or a price/return file).
    Allocate(AllocateArgs),
    /// Performance metrics of an equity curve (and optionally a trade list), as JSON.
    ///
    /// Keys: total_return, annualized_return, sharpe, sortino, calmar, max_drawdown (≤ 0),
    /// win_rate, trades, avg_holding (in seconds), var_95 and cvar_95 (positive losses).
    /// A value that is undefined for the input (no trades, no dispersion) is null.
    Metrics(MetricsArgs),
    /// Replay history through the actor pipeline (the same actors that trade) and write
    /// trades.csv, equity.csv, decisions.csv, report.json, equity.png/.svg and report.html.
    ///
    /// Settings come from `--config` (default `config/backtest.toml` when it exists), then
    /// `HERMES__SECTION__KEY` environment variables, then these flags. With no data flags the
    /// embedded demo market is generated into the local lake and replayed.
    Backtest(BacktestArgs),
    /// The research pipeline end to end on generated data: features, regime fit and labels,
    /// Chiarella forecast, allocation and metrics, written to an output folder.
    Demo(DemoArgs),
    /// The market-data lake (Medallion layers bronze, silver, gold on local disk or S3).
    ///
    /// The root comes from `--lake`, else `root` in `--config` (default `config/lake.toml`
    /// when it exists), else `lake`.
    Lake(LakeArgs),
}

/// `hermes lake …`.
#[derive(Debug, Args)]
pub struct LakeArgs {
    /// Lake root: a directory or s3://bucket/prefix (S3 endpoint, region and key id from
    /// [s3] in the config file or HERMES_S3_ENDPOINT / AWS_ENDPOINT_URL, AWS_REGION,
    /// AWS_ACCESS_KEY_ID; the secret only from AWS_SECRET_ACCESS_KEY).
    #[arg(long, global = true)]
    pub lake: Option<String>,
    /// Lake configuration file (TOML). Default: config/lake.toml if present.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: LakeCommand,
}

/// `hermes lake` subcommands.
#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// Ingest Binance public-data files (klines, trades, aggTrades; daily or monthly zips with
    /// their .CHECKSUM sidecars, or plain CSVs) into the bronze layer.
    ///
    /// Directories are walked. Each file is validated whole (checksum, zip CRC, name, header,
    /// columns, cells, time unit, period) before anything is written, then committed by a
    /// ledger entry keyed by its sha256: re-ingesting the same bytes is a no-op, a changed
    /// same-named file becomes a new version. Exit status after all inputs: 1 if the store
    /// failed, else 65 if an input was bad, else 66 if a path was missing.
    Ingest(LakeIngestArgs),
    /// Download Binance public-data archives (with their .CHECKSUM sidecars) from
    /// data.binance.vision into DEST, laid out like the site, ready for `hermes lake ingest`.
    ///
    /// `--from/--to` as YYYY-MM fetch monthly files, as YYYY-MM-DD daily files (or force one
    /// with --daily/--monthly). Each zip is verified against its sidecar before it gets its
    /// final name; an interrupted download resumes from its .part; files already present with
    /// the published sha256 are skipped. HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are
    /// honoured (a bad value: exit 78). DEST/.hermes-download.lock keeps a second run out of
    /// DEST (it fails at once, exit 1). Exit status after all files: 1 on network or disk
    /// failure, else 65 if a file is missing on the site or fails its checksum.
    Download(LakeDownloadArgs),
    /// Build the silver layer from bronze: klines typed (f64 prices and volumes, i64 counts),
    /// times in UTC nanoseconds, deduplicated (the newest source wins) and sorted, one Parquet
    /// file per series-day, and each series' quality report (`_quality.parquet`: completeness,
    /// gaps, misaligned bars, duplicates, outliers), printed as a table. Trades and aggTrades
    /// likewise (deduplicated by id, sorted by time and id; their report counts id gaps and
    /// out-of-order rows), printed as a second table.
    ///
    /// Only days whose bronze inputs changed since the last run are rebuilt (all with
    /// --full); a run with nothing new writes nothing. A bad bronze file fails its day, named;
    /// the rest goes on. Exit status: 1 if the store failed, else 65 if a bronze file was bad or
    /// a filter matches no series, 66 if the lake does not exist.
    Silver(LakeSilverArgs),
    /// Build the gold layer from silver: each klines series with the standard features (EMA
    /// 12/26, RSI 14, MACD 12/26/9, Bollinger 20/2, ATR 10, SuperTrend 10/3; null during
    /// warm-up) and one-bar returns (ret_1, log_ret_1), computed over the whole series in
    /// time order (no restart per day), one Parquet file per series-day.
    ///
    /// Only days whose silver inputs — or any earlier day's — changed since the last run are
    /// rewritten (all with --full); a run with nothing new writes nothing. A bad silver file
    /// fails its series, named; the rest goes on. Exit status: 1 if the store failed, else 65
    /// if a silver file was bad or a filter matches no series, 66 if the lake does not exist.
    ///
    /// With --with-test-features, also the gold_test layer: the experimental columns of
    /// `[[gold_test.features]]` in the lake config (e.g. `rsi_21`), computed the same way and
    /// joined to gold on (open_time, symbol) by `hermes backtest --ab`.
    Gold(LakeGoldArgs),
    /// What is in the lake: one row per layer and series with its first and last day, days,
    /// files, rows, bytes, bronze source versions and orphans (bronze files no ledger entry
    /// commits).
    ///
    /// Reads listings, the bronze ledger and silver's `_quality.parquet` tables; gold rows come
    /// from the day files' Parquet footers (ranged reads, no data pages). A missing or empty
    /// local lake prints an empty table (exit 0); a commit object that cannot be read is
    /// reported and exits 1 after the table.
    Ls(LakeLsArgs),
    /// Per series over all layers: rows, bytes, first and last bar, and from silver's quality
    /// table completeness, gaps, duplicates, misaligned bars and outliers; bronze versions and
    /// superseded versions; gold and gold_test coverage of silver's days.
    Stats(LakeStatsArgs),
}

/// `hermes lake ls`.
#[derive(Debug, Args)]
pub struct LakeLsArgs {
    /// Only this layer (repeat or comma-separate). Default: all.
    #[arg(long = "layer", value_enum, value_delimiter = ',')]
    pub layers: Vec<LayerArg>,
    /// Only these symbols (repeat or comma-separate). Default: all.
    #[arg(long = "symbol", value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Print JSON (every field, problems included) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// `hermes lake stats`.
#[derive(Debug, Args)]
pub struct LakeStatsArgs {
    /// Only these symbols (repeat or comma-separate). Default: all.
    #[arg(long = "symbol", value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Print JSON (every layer's figures and the quality totals) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// `--layer` of `hermes lake ls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayerArg {
    /// Source files as delivered.
    Bronze,
    /// Typed, deduplicated klines.
    Silver,
    /// Features.
    Gold,
    /// Experimental features.
    #[value(name = "gold_test", alias = "gold-test")]
    GoldTest,
}

/// `hermes lake gold`.
#[derive(Debug, Args)]
pub struct LakeGoldArgs {
    /// Only these symbols (repeat the flag or separate with commas). Default: all.
    #[arg(long = "symbol", value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Only this market.
    #[arg(long, value_enum)]
    pub market: Option<SilverMarketArg>,
    /// Only these kline intervals (repeat or comma-separate), e.g. 1m,1h.
    #[arg(long = "interval", value_delimiter = ',')]
    pub intervals: Vec<String>,
    /// Rewrite every selected day, even when its inputs did not change.
    #[arg(long)]
    pub full: bool,
    /// Print the report as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also build gold_test: the `[[gold_test.features]]` columns of the lake config.
    #[arg(long)]
    pub with_test_features: bool,
}

/// `hermes lake silver`.
#[derive(Debug, Args)]
pub struct LakeSilverArgs {
    /// Only these symbols (repeat the flag or separate with commas). Default: all.
    #[arg(long = "symbol", value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Only this market.
    #[arg(long, value_enum)]
    pub market: Option<SilverMarketArg>,
    /// Only these intervals (repeat or comma-separate), e.g. 1m,1h; `raw` selects the trades
    /// and aggTrades series.
    #[arg(long = "interval", value_delimiter = ',')]
    pub intervals: Vec<String>,
    /// Rebuild every selected day, even when its inputs did not change.
    #[arg(long)]
    pub full: bool,
    /// Print the report as JSON (every series with its per-day quality rows) instead of the
    /// table.
    #[arg(long)]
    pub json: bool,
}

/// `--market` of `hermes lake silver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SilverMarketArg {
    /// Spot.
    Spot,
    /// USDⓈ-M futures.
    FuturesUm,
    /// COIN-M futures.
    FuturesCm,
}

/// `hermes lake ingest`.
#[derive(Debug, Args)]
pub struct LakeIngestArgs {
    /// Files or directories to ingest.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Market of the files; `auto` decides from the path (spot, futures/um, futures-cm …),
    /// the header, the column count, µs times (spot), else spot.
    #[arg(long, value_enum, default_value_t = MarketArg::Auto)]
    pub market: MarketArg,
    /// Fail files that have no .CHECKSUM sidecar.
    #[arg(long)]
    pub require_checksum: bool,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// `--market` of `hermes lake ingest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MarketArg {
    /// Detect.
    Auto,
    /// Spot.
    Spot,
    /// USDⓈ-M futures.
    FuturesUm,
    /// COIN-M futures.
    FuturesCm,
}

/// `hermes features`.
#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Bar file (.csv, .csv.gz or .parquet).
    #[arg(long)]
    pub input: PathBuf,
    /// Output file (.csv or .parquet): the input columns plus the feature columns.
    #[arg(long)]
    pub output: PathBuf,
}

/// `hermes regime …`.
#[derive(Debug, Subcommand)]
pub enum RegimeCommand {
    /// Fit a K-state Gaussian HMM by Baum-Welch with seeded restarts; write MODEL.json.
    Fit(RegimeFitArgs),
    /// Label every observation with filtered and smoothed state probabilities, the Viterbi
    /// path, the regime, its confidence and the running log-likelihood.
    Label(RegimeLabelArgs),
}

/// Where a regime command's observations come from.
#[derive(Debug, Args)]
pub struct ObservationArgs {
    /// Input file (.csv, .csv.gz or .parquet).
    #[arg(long)]
    pub input: PathBuf,
    /// Column holding the observations (returns). Without it, the log returns of `close`.
    #[arg(long)]
    pub column: Option<String>,
}

/// `hermes regime fit`.
#[derive(Debug, Args)]
pub struct RegimeFitArgs {
    #[command(flatten)]
    pub obs: ObservationArgs,
    /// Number of hidden states (3 names them trending, mean_reverting, volatile).
    #[arg(long, default_value_t = 3)]
    pub states: usize,
    /// Baum-Welch restarts; the best likelihood wins.
    #[arg(long, default_value_t = 8)]
    pub restarts: usize,
    /// Seed of the restarts' initialisation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Maximum Baum-Welch iterations per restart.
    #[arg(long, default_value_t = 200)]
    pub max_iter: usize,
    /// Where to write the model (JSON).
    #[arg(long)]
    pub output: PathBuf,
}

/// `hermes regime label`.
#[derive(Debug, Args)]
pub struct RegimeLabelArgs {
    /// Model file written by `hermes regime fit`, or by hand in the same shape.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub obs: ObservationArgs,
    /// Output file (.csv or .parquet), one row per observation.
    #[arg(long)]
    pub output: PathBuf,
}

/// `hermes simulate …`.
#[derive(Debug, Subcommand)]
pub enum SimulateCommand {
    /// Chiarella agent-based model (fundamentalists, chartists, noise traders): Monte-Carlo
    /// paths, terminal price and max-drawdown statistics, and the impact of a proposed order.
    ///
    /// p[k+1] = p[k] + λ·(w_F·α_F·(F − p[k]) + w_C·α_C·(p[k] − p[k−1]) + w_N·ε[k])·Δt
    /// + σ_p·√Δt·Z[k], with ε ~ N(0, σ_N²), Z ~ N(0, 1).
    Chiarella(ChiarellaArgs),
    /// Calibrate the Chiarella parameters to a price series by least squares; prints JSON.
    Calibrate(CalibrateArgs),
}

/// `hermes simulate chiarella`.
#[derive(Debug, Args)]
pub struct ChiarellaArgs {
    /// Number of Monte-Carlo paths.
    #[arg(long, default_value_t = 1000)]
    pub paths: usize,
    /// Steps per path.
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    /// Time step Δt.
    #[arg(allow_negative_numbers = true, long, default_value_t = 1.0)]
    pub dt: f64,
    /// Initial price p[0].
    #[arg(allow_negative_numbers = true, long, default_value_t = 100.0)]
    pub p0: f64,
    /// Fundamental value F.
    #[arg(allow_negative_numbers = true, long, default_value_t = 100.0)]
    pub fundamental: f64,
    /// Fundamentalists' reaction speed α_F.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.05)]
    pub alpha_f: f64,
    /// Chartists' trend-following strength α_C.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.5)]
    pub alpha_c: f64,
    /// Weight of fundamentalists w_F.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.4)]
    pub w_f: f64,
    /// Weight of chartists w_C.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.3)]
    pub w_c: f64,
    /// Weight of noise traders w_N.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.3)]
    pub w_n: f64,
    /// Noise traders' demand standard deviation σ_N.
    #[arg(allow_negative_numbers = true, long, default_value_t = 1.0)]
    pub sigma_n: f64,
    /// Exogenous price noise σ_p.
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.5)]
    pub sigma_p: f64,
    /// Market maker's price-impact coefficient λ.
    #[arg(allow_negative_numbers = true, long, default_value_t = 1.0)]
    pub lambda: f64,
    /// Random seed (same seed, same figures, whatever the thread count).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Size of a proposed order, as an extra demand (signed, in the model's demand units).
    /// When given, the output gains the order's expected impact.
    #[arg(long, allow_negative_numbers = true)]
    pub order_size: Option<f64>,
    /// Steps over which the proposed order's demand is spread.
    #[arg(long, default_value_t = 1, requires = "order_size")]
    pub order_steps: usize,
}

/// `hermes simulate calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Price file (.csv, .csv.gz or .parquet).
    #[arg(long)]
    pub input: PathBuf,
    /// Price column.
    #[arg(long, default_value = "close")]
    pub column: String,
    /// Time step Δt between consecutive prices.
    #[arg(allow_negative_numbers = true, long, default_value_t = 1.0)]
    pub dt: f64,
}

/// Allocation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Mean-variance (CARA utility) with weights ≥ 0 summing to 1, solved exactly.
    Cara,
    /// Σ⁻¹μ/γ, rescaled to sum to 1 (unconstrained; may short).
    ClosedForm,
    /// Long-only equal risk contributions.
    RiskParity,
    /// min w'Σw − λ w'μ + ρ‖w‖₁ with Σw = 1, shorts allowed.
    Sparse,
}

/// How `--returns` values are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeriesKind {
    /// Prices when every value is positive and their mean exceeds 0.5, else returns.
    Auto,
    /// Prices: simple returns are computed.
    Prices,
    /// Already returns.
    Returns,
}

/// Covariance estimator for `--returns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shrinkage {
    /// The sample covariance (ddof 1).
    None,
    /// Ledoit-Wolf shrinkage towards a scaled identity.
    LedoitWolf,
}

/// `hermes allocate`.
#[derive(Debug, Args)]
pub struct AllocateArgs {
    /// Allocation method.
    #[arg(long, value_enum)]
    pub method: Method,
    /// Expected returns: CSV with columns asset,mu.
    #[arg(long, requires = "cov", conflicts_with = "returns")]
    pub mu: Option<PathBuf>,
    /// Covariance: CSV with header asset,<names…> and the asset name in the first column.
    #[arg(long, requires = "mu", conflicts_with = "returns")]
    pub cov: Option<PathBuf>,
    /// Prices or returns, one column per asset (plus an optional time/date column), from
    /// which μ (mean) and Σ are estimated.
    #[arg(long, required_unless_present = "mu")]
    pub returns: Option<PathBuf>,
    /// Whether `--returns` holds prices or returns.
    #[arg(long, value_enum, default_value_t = SeriesKind::Auto)]
    pub kind: SeriesKind,
    /// Covariance estimator for `--returns`.
    #[arg(long, value_enum, default_value_t = Shrinkage::None)]
    pub shrinkage: Shrinkage,
    /// Risk aversion γ (cara, closed-form).
    #[arg(allow_negative_numbers = true, long, default_value_t = 1.0)]
    pub gamma: f64,
    /// Return weight λ (sparse).
    #[arg(allow_negative_numbers = true, long, default_value_t = 1.0)]
    pub lambda: f64,
    /// L1 penalty ρ (sparse).
    #[arg(allow_negative_numbers = true, long, default_value_t = 0.0)]
    pub rho: f64,
    /// Output CSV (asset,weight,risk_contribution); stdout without it.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// `hermes metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Equity curve: columns time,equity.
    #[arg(long)]
    pub equity: PathBuf,
    /// Value before the first row (the first return is then equity[0]/V0 − 1).
    #[arg(allow_negative_numbers = true, long)]
    pub initial_equity: Option<f64>,
    /// Closed trades: at least entry_time,exit_time,pnl.
    #[arg(long)]
    pub trades: Option<PathBuf>,
    /// Periods per year of the equity rows (e.g. 365 daily crypto, 252 daily stocks,
    /// 8760 hourly crypto, 525600 one-minute crypto).
    #[arg(allow_negative_numbers = true, long)]
    pub periods_per_year: f64,
}

/// `hermes demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output folder (created).
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// Seed of the generated market and of every model.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Number of hourly bars to generate.
    #[arg(long, default_value_t = 20_000)]
    pub bars: usize,
}

/// `hermes backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Configuration file (TOML). Default: config/backtest.toml if present, else built-in
    /// defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// One bar file (.csv, .csv.gz, .parquet; headerless Binance klines work) for a one-symbol
    /// run, instead of the lake.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Lake root: a directory or s3://bucket/prefix (S3 settings from HERMES_S3_ENDPOINT,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION).
    #[arg(long)]
    pub lake: Option<String>,
    /// Symbols to replay from the lake, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub symbols: Option<Vec<String>>,
    /// Lake layer to replay (default: `data.layer`, silver).
    #[arg(long, value_parser = ["bronze", "silver", "gold", "gold_test"])]
    pub layer: Option<String>,
    /// First day or instant (inclusive).
    #[arg(long)]
    pub start: Option<String>,
    /// End instant (exclusive).
    #[arg(long)]
    pub end: Option<String>,
    /// Bar interval (1m, 1h, …). For a file, default: its most common bar spacing.
    #[arg(long)]
    pub interval: Option<String>,
    /// Strategy.
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// Fill convention: `close` fills at the signal bar's close, `next-open` at the next
    /// bar's open.
    #[arg(long, value_enum)]
    pub fill: Option<FillArg>,
    /// Fee per side, a fraction of notional (taker and maker).
    #[arg(long, allow_negative_numbers = true)]
    pub fees: Option<f64>,
    /// Starting cash.
    #[arg(long, allow_negative_numbers = true)]
    pub cash: Option<f64>,
    /// Position sizing.
    #[arg(long, value_enum)]
    pub sizing: Option<SizingArg>,
    /// Bars per year for annualised metrics (default: from the interval).
    #[arg(long, allow_negative_numbers = true)]
    pub periods_per_year: Option<f64>,
    /// Master seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Days of lake partitions per read chunk (results do not depend on it).
    #[arg(long)]
    pub chunk_days: Option<u32>,
    /// Output folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Skip the PNG/SVG chart and the HTML report.
    #[arg(long)]
    pub no_charts: bool,
    /// A/B run over the lake's gold layer: Smart Momentum twice through the same pipeline,
    /// A on gold's standard feature columns, B on the columns `[ab]` of the lake config names
    /// (gold ⋈ gold_test, e.g. `rsi = "rsi_21"`). Writes OUT/A/…, OUT/B/… and OUT/ab.json,
    /// and prints `metric | A | B | B−A`.
    #[arg(long, conflicts_with = "data")]
    pub ab: bool,
    /// Lake configuration for --ab (`[ab]`). Default: config/lake.toml if present.
    #[arg(long, requires = "ab")]
    pub lake_config: Option<PathBuf>,
}

/// `--strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// EMA12/26 up-cross with 45 ≤ RSI14 ≤ 55 and SuperTrend bullish; exit on SuperTrend
    /// bearish, 2 % stop-loss, 6 % take-profit.
    SmartMomentum,
    /// EMA12/26 cross.
    EmaCross,
    /// Regime → strategy → Chiarella simulator → allocator, over several symbols.
    Adaptive,
}

/// `--fill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FillArg {
    /// At the signal bar's close.
    Close,
    /// At the next bar's open.
    NextOpen,
}

/// `--sizing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SizingArg {
    /// All cash on each entry.
    AllIn,
    /// `portfolio.fraction` of equity on each entry.
    Fractional,
}

/// `hermes lake download`.
#[derive(Debug, Args)]
pub struct LakeDownloadArgs {
    /// Symbol, e.g. BTCUSDT (repeat the flag or separate with commas).
    #[arg(long = "symbol", required = true, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Market.
    #[arg(long, value_enum)]
    pub market: DownloadMarketArg,
    /// Data set.
    #[arg(long, value_enum)]
    pub kind: DownloadKindArg,
    /// Kline interval (1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w, 1mo);
    /// default 1m for klines, not allowed for trades and aggTrades.
    #[arg(long)]
    pub interval: Option<String>,
    /// First month (YYYY-MM) or day (YYYY-MM-DD).
    #[arg(long)]
    pub from: String,
    /// Last month or day, inclusive.
    #[arg(long)]
    pub to: String,
    /// Directory to save into (created), with the site's relative paths (data/spot/…).
    #[arg(long)]
    pub dest: PathBuf,
    /// Site to fetch from; default `[download] base_url` of the config, else
    /// https://data.binance.vision.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Daily files whatever the form of --from/--to.
    #[arg(long, conflicts_with = "monthly")]
    pub daily: bool,
    /// Monthly files whatever the form of --from/--to.
    #[arg(long)]
    pub monthly: bool,
    /// Files fetched at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub jobs: u16,
}

/// `--market` of `hermes lake download`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DownloadMarketArg {
    /// Spot (data/spot).
    Spot,
    /// USDⓈ-M futures (data/futures/um).
    FuturesUm,
    /// COIN-M futures (data/futures/cm).
    FuturesCm,
}

/// `--kind` of `hermes lake download`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DownloadKindArg {
    /// Candles (needs --interval, default 1m).
    Klines,
    /// Individual trades.
    Trades,
    /// Aggregated trades.
    #[value(name = "aggTrades")]
    AggTrades,
}
