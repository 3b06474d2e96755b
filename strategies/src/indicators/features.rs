//! Hermes's standard feature set (`hermes features`, the live path, the gold layer): EMA 12/26,
//! RSI 14, MACD 12/26/9, Bollinger 20/2, ATR 10, SuperTrend 10/3 — batch and streaming, with
//! identical values.

use super::bollinger::{Bollinger, bollinger_fill};
use super::common::{check_bar, check_bars, fit, zeroed};
use super::ema::{Ema, ema_step};
use super::macd::Macd;
use super::rsi::{Rsi, rsi_value, wilder_step};
use super::supertrend::{SuperTrend, supertrend_fill};
use crate::Result;

const EMA_FAST: usize = 12;
const EMA_SLOW: usize = 26;
const RSI_PERIOD: usize = 14;
const MACD_SIGNAL: usize = 9;
const BB_PERIOD: usize = 20;
const BB_STD: f64 = 2.0;
const ATR_PERIOD: usize = 10;
const ST_MULTIPLIER: f64 = 3.0;

/// The standard feature columns, NaN during each indicator's warm-up. `Default` is empty, ready
/// for [`standard_features_into`].
#[derive(Debug, Clone, PartialEq, Default)]
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
    /// Index of the first value of each column of [`Self::COLUMNS`], in the same order: every
    /// row before it is warm-up (NaN), every row from it on is finite.
    pub const WARM_UP: [usize; 12] = [11, 25, 14, 33, 33, 33, 19, 19, 19, 10, 10, 10];

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

    /// The columns, owned, in [`StandardFeatures::COLUMNS`] order.
    #[must_use]
    pub fn into_columns(mut self) -> [Vec<f64>; 12] {
        self.columns_mut().map(std::mem::take)
    }

    /// The columns, mutable, in [`StandardFeatures::COLUMNS`] order.
    fn columns_mut(&mut self) -> [&mut Vec<f64>; 12] {
        [
            &mut self.ema_12,
            &mut self.ema_26,
            &mut self.rsi_14,
            &mut self.macd,
            &mut self.macd_signal,
            &mut self.macd_hist,
            &mut self.bb_upper,
            &mut self.bb_middle,
            &mut self.bb_lower,
            &mut self.atr_10,
            &mut self.supertrend,
            &mut self.supertrend_dir,
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
/// Allocates the twelve columns once; to reuse them across calls use
/// [`standard_features_into`].
///
/// # Errors
/// [`crate::Error::Shape`] when the lengths differ; [`crate::Error::NonFinite`] or
/// [`crate::Error::InvalidData`] (`high < low`) naming the first bad index.
pub fn standard_features(high: &[f64], low: &[f64], close: &[f64]) -> Result<StandardFeatures> {
    check_bars(high, low, close)?;
    let len = close.len();
    let mut out = StandardFeatures {
        ema_12: zeroed(len),
        ema_26: zeroed(len),
        rsi_14: zeroed(len),
        macd: zeroed(len),
        macd_signal: zeroed(len),
        macd_hist: zeroed(len),
        bb_upper: zeroed(len),
        bb_middle: zeroed(len),
        bb_lower: zeroed(len),
        atr_10: zeroed(len),
        supertrend: zeroed(len),
        supertrend_dir: zeroed(len),
    };
    fill(high, low, close, &mut out)?;
    Ok(out)
}

/// [`standard_features`] into caller-owned columns: each is resized to `close.len()` (reusing
/// its capacity, so no allocation once it is large enough) and every row overwritten.
/// Bit-identical to [`standard_features`].
///
/// # Errors
/// As [`standard_features`]. On error `out` is unchanged.
pub fn standard_features_into(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    out: &mut StandardFeatures,
) -> Result<()> {
    check_bars(high, low, close)?;
    for col in out.columns_mut() {
        fit(col, close.len());
    }
    fill(high, low, close, out)
}

/// Runs every kernel on validated bars into columns already `close.len()` long.
///
/// Each indicator alone is bound by the latency of its own recurrence (a multiply-add chain
/// per row), which leaves most of the core idle. So the close-only indicators (EMA 12/26,
/// RSI 14, MACD 12/26/9) share one pass whose independent chains overlap, and the ATR column is
/// the SuperTrend's own ATR (the same `Atr(10)` steps) rather than a second pass. The values
/// are unchanged: every chain runs the same step functions as its standalone kernel and its
/// streaming struct.
fn fill(high: &[f64], low: &[f64], close: &[f64], out: &mut StandardFeatures) -> Result<()> {
    fill_close_chains(close, out)?;
    bollinger_fill(
        close,
        BB_PERIOD,
        BB_STD,
        &mut out.bb_upper,
        &mut out.bb_middle,
        &mut out.bb_lower,
    );
    supertrend_fill(
        high,
        low,
        close,
        SuperTrend::new(ATR_PERIOD, ST_MULTIPLIER)?,
        &mut out.supertrend,
        &mut out.supertrend_dir,
        Some(&mut out.atr_10),
    );
    Ok(())
}

/// EMA 12/26, RSI 14 and MACD 12/26/9 in one pass: the streaming structs through the longest
/// warm-up (MACD's, row 33), then one loop stepping all seven recurrences per row.
fn fill_close_chains(close: &[f64], out: &mut StandardFeatures) -> Result<()> {
    let len = close.len();
    let (mut e12, mut e26) = (Ema::new(EMA_FAST)?, Ema::new(EMA_SLOW)?);
    let mut r = Rsi::new(RSI_PERIOD)?;
    let mut m = Macd::new(EMA_FAST, EMA_SLOW, MACD_SIGNAL)?;
    let warm = (m.warm_up().max(r.warm_up()).max(e26.warm_up()) + 1).min(len);
    for (i, x) in close[..warm].iter().enumerate() {
        out.ema_12[i] = e12.push(*x).unwrap_or(f64::NAN);
        out.ema_26[i] = e26.push(*x).unwrap_or(f64::NAN);
        out.rsi_14[i] = r.push(*x).unwrap_or(f64::NAN);
        (out.macd[i], out.macd_signal[i], out.macd_hist[i]) = match m.push(*x) {
            Some(o) => (o.macd, o.signal, o.hist),
            None => (f64::NAN, f64::NAN, f64::NAN),
        };
    }
    if warm == len {
        return Ok(());
    }
    let ((a12, d12), mut v12) = (e12.coefficients(), e12.raw());
    let ((a26, d26), mut v26) = (e26.coefficients(), e26.raw());
    let (rd, rw, mut ag, mut al) = r.state();
    let (fast, slow, signal) = m.emas();
    let ((fa, fd), mut f) = (fast.coefficients(), fast.raw());
    let ((sa, sd), mut s) = (slow.coefficients(), slow.raw());
    let ((ga, gd), mut g) = (signal.coefficients(), signal.raw());
    let outs = out.ema_12[warm..]
        .iter_mut()
        .zip(&mut out.ema_26[warm..])
        .zip(&mut out.rsi_14[warm..])
        .zip(&mut out.macd[warm..])
        .zip(&mut out.macd_signal[warm..])
        .zip(&mut out.macd_hist[warm..]);
    let xs = close[warm..].iter().zip(&close[warm - 1..]);
    for ((x, prev), (((((o12, o26), orsi), om), os), oh)) in xs.zip(outs) {
        v12 = ema_step(v12, *x, a12, d12);
        v26 = ema_step(v26, *x, a26, d26);
        wilder_step(&mut ag, &mut al, x - prev, rd, rw);
        s = ema_step(s, *x, sa, sd);
        f = ema_step(f, *x, fa, fd);
        let line = f - s;
        g = ema_step(g, line, ga, gd);
        (*o12, *o26, *orsi) = (v12, v26, rsi_value(ag, al));
        (*om, *os, *oh) = (line, g, line - g);
    }
    Ok(())
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
    use crate::indicators::common::bits;
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
    fn into_columns_keeps_the_column_order() {
        let close: Vec<f64> = (0..60)
            .map(|i| 100.0 + f64::from(i % 7) - f64::from(i) * 0.1)
            .collect();
        let high: Vec<f64> = close.iter().map(|c| c + 0.5).collect();
        let low: Vec<f64> = close.iter().map(|c| c - 0.5).collect();
        let f = standard_features(&high, &low, &close).unwrap();
        let borrowed: Vec<Vec<u64>> = f.columns().iter().map(|c| bits(c)).collect();
        let owned: Vec<Vec<u64>> = f.into_columns().iter().map(|c| bits(c)).collect();
        assert_eq!(owned, borrowed);
        assert_eq!(owned.len(), StandardFeatures::COLUMNS.len());
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
        let first = StandardFeatures::WARM_UP;
        assert_eq!(first, [11, 25, 14, 33, 33, 33, 19, 19, 19, 10, 10, 10]);
        for ((name, col), want) in StandardFeatures::COLUMNS.iter().zip(f.columns()).zip(first) {
            let got = col.iter().position(|v| !v.is_nan()).unwrap();
            assert_eq!(got, want, "{name}");
            assert!(col[got..].iter().all(|v| v.is_finite()), "{name}");
        }
    }

    proptest! {
        #[test]
        fn fused_columns_equal_the_standalone_functions(
            bars in prop::collection::vec((1.0f64..1e4, 0.0f64..100.0, -0.2f64..1.2), 0..160)
        ) {
            use crate::indicators::{atr, bollinger, ema, macd, rsi, supertrend};
            let high: Vec<f64> = bars.iter().map(|b| b.0 + b.1).collect();
            let low: Vec<f64> = bars.iter().map(|b| b.0).collect();
            let close: Vec<f64> = bars.iter().map(|b| b.0 + b.1 * b.2).collect();
            let f = standard_features(&high, &low, &close).unwrap();
            let m = macd(&close, 12, 26, 9).unwrap();
            let bb = bollinger(&close, 20, 2.0).unwrap();
            let st = supertrend(&high, &low, &close, 10, 3.0).unwrap();
            let standalone = [
                ema(&close, 12).unwrap(),
                ema(&close, 26).unwrap(),
                rsi(&close, 14).unwrap(),
                m.macd,
                m.signal,
                m.hist,
                bb.upper,
                bb.middle,
                bb.lower,
                atr(&high, &low, &close, 10).unwrap(),
                st.value,
                st.direction,
            ];
            for (c, (got, want)) in f.columns().iter().zip(&standalone).enumerate() {
                prop_assert_eq!(bits(got), bits(want), "column {}", StandardFeatures::COLUMNS[c]);
            }
        }

        #[test]
        fn into_equals_allocating_on_a_dirty_buffer(
            bars in prop::collection::vec((1.0f64..1e4, 0.0f64..100.0, 0.0f64..1.0), 0..120),
            junk in -1e9f64..1e9, dirty_len in 0usize..200
        ) {
            let high: Vec<f64> = bars.iter().map(|b| b.0 + b.1).collect();
            let low: Vec<f64> = bars.iter().map(|b| b.0).collect();
            let close: Vec<f64> = bars.iter().map(|b| b.0 + b.1 * b.2).collect();
            let want = standard_features(&high, &low, &close).unwrap();
            let mut out = StandardFeatures::default();
            for (i, col) in out.columns_mut().into_iter().enumerate() {
                *col = vec![junk; dirty_len + i];
            }
            for _ in 0..2 {
                standard_features_into(&high, &low, &close, &mut out).unwrap();
                for (c, (got, want)) in out.columns().iter().zip(want.columns()).enumerate() {
                    prop_assert_eq!(bits(got), bits(want), "column {}", StandardFeatures::COLUMNS[c]);
                }
            }
        }

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
