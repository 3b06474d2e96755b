//! Hermes's standard feature set (`hermes features`, the live path, the gold layer): EMA 12/26,
//! RSI 14, MACD 12/26/9, Bollinger 20/2, ATR 10, SuperTrend 10/3 — batch and streaming, with
//! identical values.

use super::atr::atr_unchecked;
use super::bollinger::{Bollinger, bollinger_unchecked};
use super::common::{check_bar, check_bars};
use super::ema::{Ema, ema_unchecked};
use super::macd::{Macd, macd_unchecked};
use super::rsi::{Rsi, rsi_unchecked};
use super::supertrend::{SuperTrend, supertrend_unchecked};
use crate::Result;

const EMA_FAST: usize = 12;
const EMA_SLOW: usize = 26;
const RSI_PERIOD: usize = 14;
const MACD_SIGNAL: usize = 9;
const BB_PERIOD: usize = 20;
const BB_STD: f64 = 2.0;
const ATR_PERIOD: usize = 10;
const ST_MULTIPLIER: f64 = 3.0;

/// The standard feature columns, NaN during each indicator's warm-up.
#[derive(Debug, Clone, PartialEq)]
pub struct StandardFeatures {
    /// EMA(12) of close.
    pub ema_12: Vec<f64>,
    /// EMA(26) of close.
    pub ema_26: Vec<f64>,
    /// RSI(14) of close.
    pub rsi_14: Vec<f64>,
    /// MACD(12, 26, 9) line.
    pub macd: Vec<f64>,
    /// MACD signal line.
    pub macd_signal: Vec<f64>,
    /// MACD histogram.
    pub macd_hist: Vec<f64>,
    /// Bollinger(20, 2) upper band.
    pub bb_upper: Vec<f64>,
    /// Bollinger(20, 2) middle band (SMA 20).
    pub bb_middle: Vec<f64>,
    /// Bollinger(20, 2) lower band.
    pub bb_lower: Vec<f64>,
    /// ATR(10).
    pub atr_10: Vec<f64>,
    /// SuperTrend(10, 3) active band.
    pub supertrend: Vec<f64>,
    /// SuperTrend(10, 3) direction, +1.0 bullish / −1.0 bearish.
    pub supertrend_dir: Vec<f64>,
}

impl StandardFeatures {
    /// Column names, in the order of [`StandardFeatures::columns`].
    pub const COLUMNS: [&'static str; 12] = [
        "ema_12",
        "ema_26",
        "rsi_14",
        "macd",
        "macd_signal",
        "macd_hist",
        "bb_upper",
        "bb_middle",
        "bb_lower",
        "atr_10",
        "supertrend",
        "supertrend_dir",
    ];

    /// The columns in [`StandardFeatures::COLUMNS`] order.
    #[must_use]
    pub fn columns(&self) -> [&[f64]; 12] {
        [
            &self.ema_12,
            &self.ema_26,
            &self.rsi_14,
            &self.macd,
            &self.macd_signal,
            &self.macd_hist,
            &self.bb_upper,
            &self.bb_middle,
            &self.bb_lower,
            &self.atr_10,
            &self.supertrend,
            &self.supertrend_dir,
        ]
    }

    /// Number of rows (the input length).
    #[must_use]
    pub fn len(&self) -> usize {
        self.ema_12.len()
    }

    /// Whether there are no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ema_12.is_empty()
    }
}

/// Computes the standard features over bars given as high/low/close columns.
///
/// # Errors
/// [`crate::Error::Shape`] when the lengths differ; [`crate::Error::NonFinite`] or
/// [`crate::Error::InvalidData`] (`high < low`) naming the first bad index.
pub fn standard_features(high: &[f64], low: &[f64], close: &[f64]) -> Result<StandardFeatures> {
    check_bars(high, low, close)?;
    let macd = macd_unchecked(close, Macd::new(EMA_FAST, EMA_SLOW, MACD_SIGNAL)?);
    let bb = bollinger_unchecked(close, BB_PERIOD, BB_STD);
    let st = supertrend_unchecked(
        high,
        low,
        close,
        SuperTrend::new(ATR_PERIOD, ST_MULTIPLIER)?,
    );
    Ok(StandardFeatures {
        ema_12: ema_unchecked(close, EMA_FAST),
        ema_26: ema_unchecked(close, EMA_SLOW),
        rsi_14: rsi_unchecked(close, RSI_PERIOD),
        macd: macd.macd,
        macd_signal: macd.signal,
        macd_hist: macd.hist,
        bb_upper: bb.upper,
        bb_middle: bb.middle,
        bb_lower: bb.lower,
        atr_10: atr_unchecked(high, low, close, ATR_PERIOD),
        supertrend: st.value,
        supertrend_dir: st.direction,
    })
}

/// One row of standard features from [`StandardFeatureEngine`]; `None` during warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StandardFeatureRow {
    /// EMA(12) of close.
    pub ema_12: Option<f64>,
    /// EMA(26) of close.
    pub ema_26: Option<f64>,
    /// RSI(14) of close.
    pub rsi_14: Option<f64>,
    /// MACD(12, 26, 9) line.
    pub macd: Option<f64>,
    /// MACD signal line.
    pub macd_signal: Option<f64>,
    /// MACD histogram.
    pub macd_hist: Option<f64>,
    /// Bollinger(20, 2) upper band.
    pub bb_upper: Option<f64>,
    /// Bollinger(20, 2) middle band.
    pub bb_middle: Option<f64>,
    /// Bollinger(20, 2) lower band.
    pub bb_lower: Option<f64>,
    /// ATR(10).
    pub atr_10: Option<f64>,
    /// SuperTrend(10, 3) active band.
    pub supertrend: Option<f64>,
    /// SuperTrend(10, 3) direction, +1 bullish / −1 bearish.
    pub supertrend_dir: Option<i8>,
}

impl StandardFeatureRow {
    /// The row in [`StandardFeatures::COLUMNS`] order, NaN for missing values (the batch
    /// representation).
    #[must_use]
    pub fn to_array(&self) -> [f64; 12] {
        let f = |v: Option<f64>| v.unwrap_or(f64::NAN);
        [
            f(self.ema_12),
            f(self.ema_26),
            f(self.rsi_14),
            f(self.macd),
            f(self.macd_signal),
            f(self.macd_hist),
            f(self.bb_upper),
            f(self.bb_middle),
            f(self.bb_lower),
            f(self.atr_10),
            f(self.supertrend),
            self.supertrend_dir.map_or(f64::NAN, f64::from),
        ]
    }
}

/// Streaming form of [`standard_features`]: one bar per update, bit-identical values. Allocates
/// once (the Bollinger window) at construction, never per update.
#[derive(Debug, Clone, PartialEq)]
pub struct StandardFeatureEngine {
    ema_12: Ema,
    ema_26: Ema,
    rsi_14: Rsi,
    macd: Macd,
    bb: Bollinger,
    supertrend: SuperTrend,
    updates: usize,
}

impl StandardFeatureEngine {
    /// A fresh engine.
    #[must_use]
    pub fn new() -> Self {
        // The parameters are constants that the constructors accept; the expects cannot fire
        // (and the `standard_features_engine_constructs` test pins that).
        Self {
            ema_12: Ema::new(EMA_FAST).expect("valid constant period"),
            ema_26: Ema::new(EMA_SLOW).expect("valid constant period"),
            rsi_14: Rsi::new(RSI_PERIOD).expect("valid constant period"),
            macd: Macd::new(EMA_FAST, EMA_SLOW, MACD_SIGNAL).expect("valid constant periods"),
            bb: Bollinger::new(BB_PERIOD, BB_STD).expect("valid constant parameters"),
            supertrend: SuperTrend::new(ATR_PERIOD, ST_MULTIPLIER)
                .expect("valid constant parameters"),
            updates: 0,
        }
    }

    /// Feeds one bar. A rejected bar leaves every indicator untouched.
    ///
    /// # Errors
    /// [`crate::Error::NonFinite`] or [`crate::Error::InvalidData`] (`high < low`), with index =
    /// bars accepted since construction or reset.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Result<StandardFeatureRow> {
        check_bar(self.updates, high, low, close)?;
        self.updates += 1;
        let macd = self.macd.push(close);
        let bb = self.bb.push(close);
        let st = self.supertrend.push(high, low, close);
        Ok(StandardFeatureRow {
            ema_12: self.ema_12.push(close),
            ema_26: self.ema_26.push(close),
            rsi_14: self.rsi_14.push(close),
            macd: macd.map(|m| m.macd),
            macd_signal: macd.map(|m| m.signal),
            macd_hist: macd.map(|m| m.hist),
            bb_upper: bb.map(|b| b.upper),
            bb_middle: bb.map(|b| b.middle),
            bb_lower: bb.map(|b| b.lower),
            atr_10: self.supertrend.atr(),
            supertrend: st.map(|s| s.value),
            supertrend_dir: st.map(|s| s.direction),
        })
    }

    /// Bars accepted since construction or reset.
    #[must_use]
    pub fn updates(&self) -> usize {
        self.updates
    }

    /// Forgets all input, as if just constructed.
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}

impl Default for StandardFeatureEngine {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn standard_features_engine_constructs() {
        let e = StandardFeatureEngine::new();
        assert_eq!(e.updates(), 0);
        assert_eq!(StandardFeatures::COLUMNS.len(), 12);
    }

    #[test]
    fn rejects_bad_bars_naming_the_index() {
        let err = standard_features(&[2.0, 2.0], &[1.0, 3.0], &[1.5, 2.5]).unwrap_err();
        assert!(
            matches!(err, crate::Error::InvalidData { index: 1, .. }),
            "{err}"
        );
        let err = standard_features(&[2.0, 2.0], &[1.0], &[1.5, 2.5]).unwrap_err();
        assert!(
            matches!(err, crate::Error::Shape { what: "low", .. }),
            "{err}"
        );
        let err = standard_features(&[2.0, 2.0], &[1.0, 1.0], &[1.5, f64::NAN]).unwrap_err();
        assert!(
            matches!(
                err,
                crate::Error::NonFinite {
                    what: "close",
                    index: 1,
                    ..
                }
            ),
            "{err}"
        );
        let mut e = StandardFeatureEngine::new();
        e.update(2.0, 1.0, 1.5).unwrap();
        assert!(matches!(
            e.update(1.0, 2.0, 1.5),
            Err(crate::Error::InvalidData { index: 1, .. })
        ));
        assert_eq!(e.updates(), 1);
        assert!(standard_features(&[], &[], &[]).unwrap().is_empty());
    }

    #[test]
    fn warm_up_lengths() {
        let n = 60;
        let close: Vec<f64> = (0..n)
            .map(|i| 100.0 + (f64::from(i) * 0.7).sin() * 3.0)
            .collect();
        let high: Vec<f64> = close.iter().map(|c| c + 1.0).collect();
        let low: Vec<f64> = close.iter().map(|c| c - 1.0).collect();
        let f = standard_features(&high, &low, &close).unwrap();
        let first = [11, 25, 14, 33, 33, 33, 19, 19, 19, 10, 10, 10];
        for ((name, col), want) in StandardFeatures::COLUMNS.iter().zip(f.columns()).zip(first) {
            let got = col.iter().position(|v| !v.is_nan()).unwrap();
            assert_eq!(got, want, "{name}");
            assert!(col[got..].iter().all(|v| v.is_finite()), "{name}");
        }
    }

    proptest! {
        #[test]
        fn engine_equals_batch(bars in prop::collection::vec((1.0f64..1e4, 0.0f64..100.0, 0.0f64..1.0), 0..120)) {
            let high: Vec<f64> = bars.iter().map(|b| b.0 + b.1).collect();
            let low: Vec<f64> = bars.iter().map(|b| b.0).collect();
            let close: Vec<f64> = bars.iter().map(|b| b.0 + b.1 * b.2).collect();
            let batch = standard_features(&high, &low, &close).unwrap();
            prop_assert_eq!(batch.len(), bars.len());
            let mut e = StandardFeatureEngine::new();
            for i in 0..bars.len() {
                let row = e.update(high[i], low[i], close[i]).unwrap().to_array();
                for (c, col) in batch.columns().iter().enumerate() {
                    prop_assert_eq!(row[c].to_bits(), col[i].to_bits(), "row {} column {}", i, StandardFeatures::COLUMNS[c]);
                }
            }
        }
    }
}
