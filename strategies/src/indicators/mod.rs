//! Technical indicators — EMA, RSI, MACD, Bollinger bands, ATR, SuperTrend — in TA-Lib's
//! conventions (pandas-ta's for SuperTrend), one-bar simple and log returns, plus Hermes's
//! standard feature set.
//!
//! Owns indicator math only: no IO, no clock, no allocation per update. Each indicator has
//! - a **streaming** struct (`Ema`, `Rsi`, `Macd`, `Bollinger`, `Atr`, `SuperTrend`,
//!   `Returns`) with `new(params) -> Result<Self>`, `update(..) -> Result<Option<Output>>`
//!   (`None` during the warm-up; a NaN/infinite input or a bar with `high < low` is an error
//!   and leaves the state untouched), `warm_up()` (index of the first output) and `reset()`;
//! - a **batch** function over slices (`ema`, `rsi`, `macd`, `bollinger`, `atr`, `supertrend`,
//!   `returns`) that validates the whole input first, writes **NaN** for warm-up rows (never
//!   zeros), and is **bit-identical** to the streaming form: it runs the same step functions,
//!   with the warm-up driven by the streaming struct itself and a tight steady-state loop after
//!   it;
//! - a **buffer-reusing batch** function (`ema_into`, `rsi_into`, `macd_into`, `bollinger_into`,
//!   `atr_into`, `supertrend_into`, `returns_into`, `standard_features_into`) that writes into
//!   caller-owned output (a slice of the input's length, or a series struct whose columns it
//!   resizes keeping their capacity) and is bit-identical to the allocating one. Over large
//!   inputs the allocating forms pay for fresh pages from the OS on every call (page faults can
//!   cost more than the indicator itself); reuse the buffers where throughput matters.
//!
//! Warm-up (index of the first output): EMA(n) `n−1`; RSI(n) `n`; MACD(f,s,g) `s−1+g−1` (33);
//! Bollinger(n) `n−1`; ATR(n) `n`; SuperTrend(n) `n`; returns `1`. Each submodule's doc states
//! its exact convention, edge cases and how it differs from TA-Lib in the last bits. The
//! committed reference `strategies/testdata/indicators/` (TA-Lib 0.8 / pandas-ta on BTCUSDT 1h
//! 2021-01) is checked to 1e-9 relative by the tests here.

mod atr;
mod bollinger;
mod common;
pub use common::MAX_PERIOD;
mod ema;
mod features;
mod macd;
mod returns;
mod rsi;
mod supertrend;

#[cfg(test)]
mod reference_tests;

pub use atr::{Atr, atr, atr_into, true_range};
pub use bollinger::{Bollinger, BollingerOutput, BollingerSeries, bollinger, bollinger_into};
pub use ema::{Ema, ema, ema_into};
pub use features::{
    StandardFeatureEngine, StandardFeatureRow, StandardFeatures, standard_features,
    standard_features_into,
};
pub use macd::{Macd, MacdOutput, MacdSeries, macd, macd_into};
pub use returns::{ReturnRow, ReturnSeries, Returns, returns, returns_into};
pub use rsi::{Rsi, rsi, rsi_into};
pub use supertrend::{SuperTrend, SuperTrendOutput, SuperTrendSeries, supertrend, supertrend_into};
