//! # strategies — Hermes's model library
//!
//! Pure, IO-free, deterministic models: no tokio, no files, no network, no clock. Model math is
//! `f64`; linear algebra uses `nalgebra`; randomness uses explicitly seeded generators.
//!
//! Every model has a streaming form (one update per bar, O(1) state, no allocation per update)
//! and, where it makes sense, a batch form over slices; the two give identical results.
//!
//! | module | what it owns |
//! |---|---|
//! | [`indicators`] | EMA, RSI, MACD, Bollinger, ATR, SuperTrend (TA-Lib / pandas-ta conventions) |
//! | [`bars`] | time bars from trades (OHLCV, quote volume, count, VWAP) |
//! | [`hmm`] | K-state Gaussian HMM: forward filter, smoothing, Viterbi, Baum-Welch, regime naming |
//! | [`chiarella`] | Chiarella agent-based Monte-Carlo simulator and its calibration |
//! | [`allocation`] | covariance estimation, CARA / closed form, risk parity, sparse L1 |
//! | [`metrics`] | performance metrics from an equity curve and a trade list |
//! | [`signals`] | long-only entry/exit signal generators: Smart Momentum, EMA cross, z-score, breakout |
//!
//! Errors are one crate-wide [`Error`] enum with named fields; see [`Error::is_recoverable`].

pub mod allocation;
pub mod bars;
pub mod chiarella;
pub mod error;
pub mod hmm;
pub mod indicators;
pub mod metrics;
pub mod signals;

pub use error::{Error, Result};

#[cfg(test)]
mod testdata;
