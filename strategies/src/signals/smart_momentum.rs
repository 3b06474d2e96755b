//! Smart Momentum, the seed strategy of the Hermes platform (`seeds/hermes-platform-readme.md`,
//! `SmartMomentumStrategy` and `AdvancedConfig`).
//!
//! The seed's rules — "BUY: EMA crossover + RSI neutre + SuperTrend bullish; SELL: SuperTrend
//! bearish; EXIT: stop-loss/take-profit" — with its parameters (EMA 12/26, RSI 14 in the
//! neutral band 45–55, SuperTrend(10, 3.0), stop-loss 2 %, take-profit 6 %). Made precise here:
//! - **EnterLong** on bar `t` when EMA(fast) crosses **above** EMA(slow) on that bar
//!   (`fast_t > slow_t` and `fast_{t−1} ≤ slow_{t−1}`, all four defined) **and**
//!   `rsi_low ≤ RSI_t ≤ rsi_high` (inclusive) **and** SuperTrend is bullish on bar `t`. The seed
//!   says only "EMA crossover"; the event form (the bar of the cross, not "fast above slow") is
//!   the one a from-signals backtest means, and a level form would re-enter on every bar.
//! - **ExitLong** on bar `t` when SuperTrend turns bearish: bullish on `t − 1`, bearish on `t`.
//!   Entry needs a bullish bar and exit a bearish one, so one bar never gives both.
//! - **Stop-loss / take-profit** are *not* applied here (a generator has no position and no entry
//!   price): [`SmartMomentum::stop_loss`] and [`SmartMomentum::take_profit`] expose the fractions
//!   (of the entry price) to the executor. The seed calls them "adaptatifs" but fixes them at
//!   2 % / 6 % in its config and says nothing of how they adapt, so they are fixed fractions.
//!   The seed's `max_position_size = 0.1` belongs to sizing (allocator/risk), not here.
//!
//! Indicators are this crate's ([`crate::indicators`]): EMA seeded with the SMA (TA-Lib), RSI
//! with Wilder smoothing (TA-Lib), SuperTrend as pandas-ta (ATR from TA-Lib), all on the close
//! except SuperTrend, which uses the whole bar.

use serde::{Deserialize, Serialize};

use super::{
    SignalAction, check_bar, crossed_above, first_problem, real_problem, run_batch, window_problem,
};
use crate::indicators::{Ema, Rsi, SuperTrend};
use crate::{Error, Result};

/// Parameters of [`SmartMomentum`]; the defaults are the seed's. Deserialises from a table such
/// as `[strategy.smart_momentum]` (unknown keys rejected, missing keys defaulted).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmartMomentumParams {
    /// Fast EMA period (12).
    pub ema_fast: usize,
    /// Slow EMA period (26); must exceed `ema_fast`.
    pub ema_slow: usize,
    /// RSI period (14).
    pub rsi_period: usize,
    /// Lower bound of the neutral RSI band, inclusive (45).
    pub rsi_low: f64,
    /// Upper bound of the neutral RSI band, inclusive (55).
    pub rsi_high: f64,
    /// SuperTrend ATR period (10).
    pub supertrend_period: usize,
    /// SuperTrend band width in ATRs (3.0).
    pub supertrend_multiplier: f64,
    /// Stop-loss as a fraction of the entry price (0.02 = 2 %), for the executor; in `(0, 1)`.
    pub stop_loss: f64,
    /// Take-profit as a fraction of the entry price (0.06 = 6 %), for the executor; `> 0`.
    pub take_profit: f64,
}

impl Default for SmartMomentumParams {
    fn default() -> Self {
        Self {
            ema_fast: 12,
            ema_slow: 26,
            rsi_period: 14,
            rsi_low: 45.0,
            rsi_high: 55.0,
            supertrend_period: 10,
            supertrend_multiplier: 3.0,
            stop_loss: 0.02,
            take_profit: 0.06,
        }
    }
}

impl SmartMomentumParams {
    /// Every problem with the parameters, each naming its key (`smart_momentum.ema_fast`, …).
    /// Empty when they are valid.
    #[must_use]
    pub fn problems(&self) -> Vec<Error> {
        let mut out: Vec<Error> = [
            window_problem("smart_momentum.ema_fast", self.ema_fast, 1),
            window_problem("smart_momentum.ema_slow", self.ema_slow, 1),
            (self.ema_fast >= self.ema_slow).then(|| Error::InvalidParameter {
                name: "smart_momentum.ema_fast",
                value: self.ema_fast.to_string(),
                reason: format!("must be below smart_momentum.ema_slow = {}", self.ema_slow),
            }),
            window_problem("smart_momentum.rsi_period", self.rsi_period, 1),
            real_problem(
                "smart_momentum.rsi_low",
                self.rsi_low,
                (0.0..=100.0).contains(&self.rsi_low),
                "must be within 0..=100",
            ),
            real_problem(
                "smart_momentum.rsi_high",
                self.rsi_high,
                (0.0..=100.0).contains(&self.rsi_high),
                "must be within 0..=100",
            ),
            window_problem(
                "smart_momentum.supertrend_period",
                self.supertrend_period,
                1,
            ),
            real_problem(
                "smart_momentum.supertrend_multiplier",
                self.supertrend_multiplier,
                self.supertrend_multiplier >= 0.0,
                "must be >= 0",
            ),
            real_problem(
                "smart_momentum.stop_loss",
                self.stop_loss,
                self.stop_loss > 0.0 && self.stop_loss < 1.0,
                "must be a fraction of the entry price in (0, 1)",
            ),
            real_problem(
                "smart_momentum.take_profit",
                self.take_profit,
                self.take_profit > 0.0,
                "must be a fraction of the entry price > 0",
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        if self.rsi_low.is_finite() && self.rsi_high.is_finite() && self.rsi_low > self.rsi_high {
            out.push(Error::InvalidParameter {
                name: "smart_momentum.rsi_low",
                value: self.rsi_low.to_string(),
                reason: format!(
                    "must not exceed smart_momentum.rsi_high = {}",
                    self.rsi_high
                ),
            });
        }
        out
    }

    /// Checks the parameters; [`problems`](Self::problems) lists every problem at once.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad key: a period of 0 or above
    /// [`crate::indicators::MAX_PERIOD`], `ema_fast ≥ ema_slow`, an RSI bound outside 0..=100
    /// or `rsi_low > rsi_high`, a negative multiplier, `stop_loss` outside (0, 1),
    /// `take_profit ≤ 0`, or any non-finite value.
    pub fn validate(&self) -> Result<()> {
        first_problem(self.problems())
    }
}

/// The indicator values Smart Momentum decides on, for one bar: NaN for a value still in its
/// warm-up, `supertrend_dir` +1 bullish / −1 bearish / 0 not yet defined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmartMomentumInputs {
    /// EMA(fast) of the close.
    pub ema_fast: f64,
    /// EMA(slow) of the close.
    pub ema_slow: f64,
    /// RSI of the close.
    pub rsi: f64,
    /// SuperTrend direction.
    pub supertrend_dir: i8,
}

impl SmartMomentumInputs {
    /// Every value missing (the state before the first bar).
    pub const MISSING: Self = Self {
        ema_fast: f64::NAN,
        ema_slow: f64::NAN,
        rsi: f64::NAN,
        supertrend_dir: 0,
    };
}

/// Smart Momentum's decision rule alone, fed indicator values instead of bars: the form that
/// takes its inputs from precomputed feature columns (the gold layer, `hermes backtest --ab`).
/// [`SmartMomentum`] is its four streaming indicators in front of this same rule, so the two
/// give the same actions on the same values. Remembers the previous bar's values; O(1), no
/// allocation.
///
/// Values are taken as given (a NaN is "not yet defined", which no comparison passes); the
/// rule does not check that they come from a consistent series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmartMomentumRule {
    rsi_low: f64,
    rsi_high: f64,
    prev: SmartMomentumInputs,
}

impl SmartMomentumRule {
    /// The rule of `params` (only the RSI band matters to it; the periods are the feeder's).
    ///
    /// # Errors
    /// As [`SmartMomentumParams::validate`].
    pub fn new(params: &SmartMomentumParams) -> Result<Self> {
        params.validate()?;
        Ok(Self::unchecked(params.rsi_low, params.rsi_high))
    }

    fn unchecked(rsi_low: f64, rsi_high: f64) -> Self {
        Self {
            rsi_low,
            rsi_high,
            prev: SmartMomentumInputs::MISSING,
        }
    }

    /// The action of the bar with values `now` (the previous bar's values are remembered).
    /// - **ExitLong** when SuperTrend was bullish on the previous bar and is bearish now;
    /// - **EnterLong** when it is bullish now, EMA(fast) crossed above EMA(slow) on this bar
    ///   (all four values defined) and `rsi_low ≤ rsi ≤ rsi_high`;
    /// - **None** otherwise.
    #[inline(always)]
    pub fn update(&mut self, now: SmartMomentumInputs) -> SignalAction {
        let prev = self.prev;
        self.prev = now;
        if prev.supertrend_dir > 0 && now.supertrend_dir < 0 {
            SignalAction::ExitLong
        } else if now.supertrend_dir > 0
            && crossed_above(prev.ema_fast, prev.ema_slow, now.ema_fast, now.ema_slow)
            && now.rsi >= self.rsi_low
            && now.rsi <= self.rsi_high
        {
            SignalAction::EnterLong
        } else {
            SignalAction::None
        }
    }

    /// Forgets the previous bar, as if just constructed.
    pub fn reset(&mut self) {
        self.prev = SmartMomentumInputs::MISSING;
    }
}

/// Streaming Smart Momentum: four streaming indicators and the previous bar's values; O(1)
/// state, no allocation per update.
#[derive(Debug, Clone, PartialEq)]
pub struct SmartMomentum {
    params: SmartMomentumParams,
    fast: Ema,
    slow: Ema,
    rsi: Rsi,
    supertrend: SuperTrend,
    /// The decision rule, with the previous bar's indicator values.
    rule: SmartMomentumRule,
    bars: usize,
}

impl SmartMomentum {
    /// A generator with checked parameters.
    ///
    /// # Errors
    /// As [`SmartMomentumParams::validate`].
    pub fn new(params: SmartMomentumParams) -> Result<Self> {
        params.validate()?;
        Ok(Self {
            params,
            fast: Ema::new(params.ema_fast)?,
            slow: Ema::new(params.ema_slow)?,
            rsi: Rsi::new(params.rsi_period)?,
            supertrend: SuperTrend::new(params.supertrend_period, params.supertrend_multiplier)?,
            rule: SmartMomentumRule::unchecked(params.rsi_low, params.rsi_high),
            bars: 0,
        })
    }

    /// The parameters.
    #[must_use]
    pub fn params(&self) -> &SmartMomentumParams {
        &self.params
    }

    /// Stop-loss as a fraction of the entry price (seed: 0.02), for the executor to apply.
    #[must_use]
    pub fn stop_loss(&self) -> f64 {
        self.params.stop_loss
    }

    /// Take-profit as a fraction of the entry price (seed: 0.06), for the executor to apply.
    #[must_use]
    pub fn take_profit(&self) -> f64 {
        self.params.take_profit
    }

    /// Index (0-based) of the first bar that can give a signal. With the seed's parameters that
    /// is 11, a SuperTrend flip (ExitLong, SuperTrend defined on bars 10 and 11); the first
    /// possible EnterLong is at `max(ema_slow, rsi_period, supertrend_period)` = 26 (the slow
    /// EMA defined on the previous bar).
    #[must_use]
    pub fn warm_up(&self) -> usize {
        let p = &self.params;
        let first_entry = p.ema_slow.max(p.rsi_period).max(p.supertrend_period);
        first_entry.min(p.supertrend_period + 1)
    }

    /// Feeds one bar.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming `high`, `low` or `close`, or [`Error::InvalidData`] when
    /// `high < low`; the index is the number of bars accepted since construction or
    /// [`reset`](Self::reset), and the state is unchanged.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Result<SignalAction> {
        check_bar(self.bars, high, low, close)?;
        self.bars += 1;
        Ok(self.push(high, low, close))
    }

    /// Forgets all input, as if just constructed.
    pub fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.rsi.reset();
        self.supertrend.reset();
        self.rule.reset();
        self.bars = 0;
    }

    /// Unchecked update (bar already validated).
    #[inline]
    fn push(&mut self, high: f64, low: f64, close: f64) -> SignalAction {
        let fast = self.fast.push(close).unwrap_or(f64::NAN);
        let slow = self.slow.push(close).unwrap_or(f64::NAN);
        let rsi = self.rsi.push(close).unwrap_or(f64::NAN);
        let direction = self
            .supertrend
            .push(high, low, close)
            .map_or(0, |o| o.direction);
        self.rule.update(SmartMomentumInputs {
            ema_fast: fast,
            ema_slow: slow,
            rsi,
            supertrend_dir: direction,
        })
    }
}

/// Smart Momentum over high/low/close slices: the same actions as [`SmartMomentum::update`] bar
/// by bar (the same kernel run over the slices; allocates only the output).
///
/// Not built from the batch indicator columns: five fresh columns of the input's length cost
/// more in page faults than the whole streaming pass (measured 5× slower on 1M bars,
/// `benches/signals.rs`). The tests check it against that column form instead.
///
/// # Errors
/// As [`SmartMomentumParams::validate`]; [`Error::Shape`] when the lengths differ;
/// [`Error::NonFinite`] / [`Error::InvalidData`] naming the first bad bar in time order.
pub fn smart_momentum_signals(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    params: &SmartMomentumParams,
) -> Result<Vec<SignalAction>> {
    let mut g = SmartMomentum::new(*params)?;
    run_batch(high, low, close, |h, l, c| g.push(h, l, c))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::test_support::walk_bars;
    use super::*;
    use crate::indicators::{ema, rsi, supertrend};
    use proptest::prelude::*;

    /// Reference: the rule written out over the batch indicator columns (bit-identical to the
    /// streaming indicators), independent of the generator's own state handling.
    fn reference(
        high: &[f64],
        low: &[f64],
        close: &[f64],
        p: &SmartMomentumParams,
    ) -> Vec<SignalAction> {
        let fast = ema(close, p.ema_fast).unwrap();
        let slow = ema(close, p.ema_slow).unwrap();
        let r = rsi(close, p.rsi_period).unwrap();
        let dir = supertrend(
            high,
            low,
            close,
            p.supertrend_period,
            p.supertrend_multiplier,
        )
        .unwrap()
        .direction;
        (0..close.len())
            .map(|i| {
                if i == 0 {
                    SignalAction::None
                } else if dir[i - 1] == 1.0 && dir[i] == -1.0 {
                    SignalAction::ExitLong
                } else if !slow[i - 1].is_nan()
                    && fast[i] > slow[i]
                    && fast[i - 1] <= slow[i - 1]
                    && (p.rsi_low..=p.rsi_high).contains(&r[i])
                    && dir[i] == 1.0
                {
                    SignalAction::EnterLong
                } else {
                    SignalAction::None
                }
            })
            .collect()
    }

    /// Small periods so hand-checked sequences stay short: EMA 2/3, RSI 2, SuperTrend(1, m).
    fn small(rsi_low: f64, rsi_high: f64, multiplier: f64) -> SmartMomentumParams {
        SmartMomentumParams {
            ema_fast: 2,
            ema_slow: 3,
            rsi_period: 2,
            rsi_low,
            rsi_high,
            supertrend_period: 1,
            supertrend_multiplier: multiplier,
            ..SmartMomentumParams::default()
        }
    }

    fn run(p: SmartMomentumParams, h: &[f64], l: &[f64], c: &[f64]) -> Vec<SignalAction> {
        let mut g = SmartMomentum::new(p).unwrap();
        let streamed: Vec<SignalAction> = (0..c.len())
            .map(|i| g.update(h[i], l[i], c[i]).unwrap())
            .collect();
        assert_eq!(streamed, smart_momentum_signals(h, l, c, &p).unwrap());
        assert_eq!(streamed, reference(h, l, c, &p));
        streamed
    }

    /// Closes 10, 9, 8, 9.9, 10.5 (bars with high = low = close). Hand-checked:
    /// - EMA2 (k = 2/3): −, 9.5, 8.5, 9.4333, 10.1444; EMA3 (k = 1/2): −, −, 9, 9.45, 9.975.
    ///   Bar 3: 9.4333 < 9.45; bar 4: 10.1444 > 9.975 → **up-cross on bar 4**.
    /// - RSI2: changes −1, −1, +1.9, +0.6. Seed on bar 2: avg gain 0, avg loss 1; bar 3: 0.95,
    ///   0.5; bar 4: 0.775, 0.25 → RSI = 100·0.775/1.025 = 75.6098.
    /// - SuperTrend(1, 100): bands ±100 ATR are never crossed, so bullish from bar 1 on.
    const CROSS_ON_4: [f64; 5] = [10.0, 9.0, 8.0, 9.9, 10.5];

    #[test]
    fn up_cross_enters_exactly_on_its_bar_when_rsi_is_in_band() {
        let c = CROSS_ON_4;
        let fast = ema(&c, 2).unwrap();
        let slow = ema(&c, 3).unwrap();
        for (got, want) in [
            (fast[3], 28.3 / 3.0),
            (slow[3], 9.45),
            (fast[4], 91.3 / 9.0),
            (slow[4], 9.975),
        ] {
            assert!((got - want).abs() < 1e-12, "{got} vs hand value {want}");
        }
        let r = rsi(&c, 2).unwrap()[4];
        assert!((r - 77.5 / 1.025).abs() < 1e-12, "hand value {r}");
        let with_band = |low: f64, high: f64| run(small(low, high, 100.0), &c, &c, &c);
        let mut want = vec![SignalAction::None; 5];
        want[4] = SignalAction::EnterLong;
        assert_eq!(with_band(75.0, 76.0), want, "RSI 75.61 is inside 75..=76");
        assert_eq!(with_band(0.0, 100.0), want);
        // The band blocks the same cross when RSI is outside it, on either side.
        let none = vec![SignalAction::None; 5];
        assert_eq!(
            with_band(45.0, 55.0),
            none,
            "RSI 75.61 is above the seed's band"
        );
        assert_eq!(with_band(76.0, 80.0), none, "RSI 75.61 is below 76");
    }

    /// The band is inclusive (the seed's 45 ≤ RSI ≤ 55): bounds set to the bar's RSI itself.
    #[test]
    fn rsi_band_bounds_are_inclusive() {
        let c = CROSS_ON_4;
        let r = rsi(&c, 2).unwrap()[4];
        let at = |low: f64, high: f64| run(small(low, high, 100.0), &c, &c, &c)[4];
        assert_eq!(
            at(r, 100.0),
            SignalAction::EnterLong,
            "RSI == rsi_low enters"
        );
        assert_eq!(
            at(0.0, r),
            SignalAction::EnterLong,
            "RSI == rsi_high enters"
        );
        assert_eq!(at(r, r), SignalAction::EnterLong);
        assert_eq!(at(r.next_up(), 100.0), SignalAction::None);
        assert_eq!(at(0.0, r.next_down()), SignalAction::None);
    }

    /// SuperTrend(1, 1) on bars with high = low = close: ATR = |Δclose|.
    /// Closes 10, 11, 12, 13, 10, 9, 14: bar 1 ATR 1 → bands 12 / 10, bullish; bar 2 → 13 / 11,
    /// close 12 inside the previous bands, lower max(11, 10) = 11; bar 3 → lower 12; bar 4 ATR 3
    /// → close 10 < previous lower 12 → **bearish: ExitLong on bar 4**, upper 13; bar 5 ATR 1
    /// → close 9 inside (7, 13), stays bearish (no second exit), upper min(10, 13) = 10; bar 6
    /// close 14 > 10 → bullish (a flip up is no exit). EMA2/EMA3: 12.537 > 12 on bar 6 after
    /// 9.611 ≤ 10 on bar 5 → the up-cross re-enters on bar 6 (band 0..=100).
    #[test]
    fn supertrend_flip_to_bearish_exits_once() {
        let c = [10.0, 11.0, 12.0, 13.0, 10.0, 9.0, 14.0];
        let dirs = supertrend(&c, &c, &c, 1, 1.0).unwrap().direction;
        assert_eq!(&dirs[1..], &[1.0, 1.0, 1.0, -1.0, -1.0, 1.0]);
        use SignalAction::{EnterLong, ExitLong, None};
        assert_eq!(
            run(small(0.0, 100.0, 1.0), &c, &c, &c),
            [None, None, None, None, ExitLong, None, EnterLong]
        );
    }

    /// The bar-4 up-cross of [`CROSS_ON_4`] (RSI band 0..=100) under SuperTrend(1, 0), where the
    /// bands are the bar's hl2 (lows = closes, the highs move hl2):
    /// - highs = closes: bar 1 bullish, bar 2 close 8 < 9 → bearish, bar 3 close 9.9 > 8 →
    ///   bullish, bar 4 10.5 > 9.9 → bullish: **EnterLong**;
    /// - bar 3 high 30 (hl2 19.95): bar 4 close 10.5 < 19.95 → flips bearish: **ExitLong**;
    /// - bar 2 high 40 and bar 3 high 30: bearish on bars 2, 3 and 4 → **None** on bar 4.
    #[test]
    fn entry_needs_supertrend_bullish_on_the_cross_bar() {
        let c = CROSS_ON_4;
        let p = small(0.0, 100.0, 0.0);
        let cases: [([f64; 5], [f64; 4], SignalAction); 3] = [
            (c, [1.0, -1.0, 1.0, 1.0], SignalAction::EnterLong),
            (
                [10.0, 9.0, 8.0, 30.0, 10.5],
                [1.0, -1.0, 1.0, -1.0],
                SignalAction::ExitLong,
            ),
            (
                [10.0, 9.0, 40.0, 30.0, 10.5],
                [1.0, -1.0, -1.0, -1.0],
                SignalAction::None,
            ),
        ];
        for (h, dirs, want) in cases {
            let st = supertrend(&h, &c, &c, 1, 0.0).unwrap().direction;
            assert_eq!(&st[1..], &dirs, "highs {h:?}");
            assert_eq!(run(p, &h, &c, &c)[4], want, "highs {h:?}");
        }
    }

    #[test]
    fn seed_defaults_and_warm_up() {
        let g = SmartMomentum::new(SmartMomentumParams::default()).unwrap();
        assert_eq!((g.stop_loss(), g.take_profit()), (0.02, 0.06));
        assert_eq!(g.warm_up(), 11);
        let p = g.params();
        assert_eq!((p.ema_fast, p.ema_slow, p.rsi_period), (12, 26, 14));
        assert_eq!((p.rsi_low, p.rsi_high), (45.0, 55.0));
        assert_eq!((p.supertrend_period, p.supertrend_multiplier), (10, 3.0));
    }

    #[test]
    fn params_from_config_tables() {
        let p: SmartMomentumParams =
            serde_json::from_str(r#"{"rsi_low": 40, "take_profit": 0.1}"#).unwrap();
        assert_eq!(p.rsi_low, 40.0);
        assert_eq!(p.take_profit, 0.1);
        assert_eq!(p.ema_slow, 26, "missing keys take the seed's defaults");
        let e = serde_json::from_str::<SmartMomentumParams>(r#"{"rsi_hgih": 60}"#).unwrap_err();
        assert!(e.to_string().contains("rsi_hgih"), "{e}");
    }

    #[test]
    fn invalid_params_are_rejected_all_at_once() {
        let bad = SmartMomentumParams {
            ema_fast: 26,
            ema_slow: 12,
            rsi_period: 0,
            rsi_low: 60.0,
            rsi_high: 50.0,
            supertrend_multiplier: f64::NAN,
            stop_loss: 1.5,
            take_profit: -0.1,
            ..SmartMomentumParams::default()
        };
        let names: Vec<&str> = bad
            .problems()
            .iter()
            .map(|e| match e {
                Error::InvalidParameter { name, .. } => *name,
                other => panic!("unexpected {other}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "smart_momentum.ema_fast",
                "smart_momentum.rsi_period",
                "smart_momentum.supertrend_multiplier",
                "smart_momentum.stop_loss",
                "smart_momentum.take_profit",
                "smart_momentum.rsi_low",
            ]
        );
        assert!(SmartMomentum::new(bad).is_err());
        assert!(smart_momentum_signals(&[], &[], &[], &bad).is_err());
        let zero = SmartMomentumParams {
            supertrend_period: 0,
            ..SmartMomentumParams::default()
        };
        assert!(matches!(
            zero.validate(),
            Err(Error::InvalidParameter {
                name: "smart_momentum.supertrend_period",
                ..
            })
        ));
    }

    #[test]
    fn bad_bars_are_errors_that_leave_the_state() {
        let mut g = SmartMomentum::new(small(0.0, 100.0, 100.0)).unwrap();
        let c = CROSS_ON_4;
        for x in &c[..4] {
            g.update(*x, *x, *x).unwrap();
        }
        let e = g.update(10.5, 10.5, f64::NAN).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NonFinite {
                    what: "close",
                    index: 4,
                    ..
                }
            ),
            "{e}"
        );
        let e = g.update(10.0, 10.6, 10.5).unwrap_err();
        assert!(matches!(e, Error::InvalidData { index: 4, .. }), "{e}");
        assert_eq!(g.update(10.5, 10.5, 10.5).unwrap(), SignalAction::EnterLong);
        let e = smart_momentum_signals(&c, &c, &[1.0], &SmartMomentumParams::default());
        assert!(matches!(e, Err(Error::Shape { what: "close", .. })));
        g.reset();
        assert_eq!(g.update(1.0, 1.0, 1.0).unwrap(), SignalAction::None);
    }

    /// The rule fed from feature columns (NaN = missing, direction ±1.0 or NaN).
    pub(crate) fn rule_over_columns(
        p: &SmartMomentumParams,
        fast: &[f64],
        slow: &[f64],
        rsi: &[f64],
        dir: &[f64],
    ) -> Vec<SignalAction> {
        let mut rule = SmartMomentumRule::new(p).unwrap();
        (0..fast.len())
            .map(|i| {
                rule.update(SmartMomentumInputs {
                    ema_fast: fast[i],
                    ema_slow: slow[i],
                    rsi: rsi[i],
                    supertrend_dir: if dir[i].is_nan() { 0 } else { dir[i] as i8 },
                })
            })
            .collect()
    }

    #[test]
    fn rule_reset_forgets_the_previous_bar_and_new_checks_params() {
        let p = small(0.0, 100.0, 1.0);
        let mut rule = SmartMomentumRule::new(&p).unwrap();
        let at = |fast, dir| SmartMomentumInputs {
            ema_fast: fast,
            ema_slow: 1.0,
            rsi: 50.0,
            supertrend_dir: dir,
        };
        assert_eq!(rule.update(at(0.5, 1)), SignalAction::None);
        assert_eq!(rule.update(at(2.0, 1)), SignalAction::EnterLong);
        assert_eq!(rule.update(at(0.5, 1)), SignalAction::None);
        rule.reset();
        assert_eq!(
            rule.update(at(2.0, 1)),
            SignalAction::None,
            "no previous bar"
        );
        assert_eq!(rule.update(at(2.0, -1)), SignalAction::ExitLong);
        assert_eq!(rule.update(at(2.0, -1)), SignalAction::None, "exits once");
        let bad = SmartMomentumParams {
            rsi_low: 70.0,
            rsi_high: 60.0,
            ..SmartMomentumParams::default()
        };
        assert!(SmartMomentumRule::new(&bad).is_err());
    }

    proptest! {
        #[test]
        fn streaming_equals_batch_equals_reference(
            (high, low, close) in walk_bars(300),
            fast in 1usize..8, gap in 1usize..10, rsi_p in 1usize..10, st_p in 1usize..10,
            m in 0.0f64..4.0, band in (0.0f64..60.0, 0.0f64..40.0),
        ) {
            let p = SmartMomentumParams {
                ema_fast: fast,
                ema_slow: fast + gap,
                rsi_period: rsi_p,
                rsi_low: band.0,
                rsi_high: band.0 + band.1,
                supertrend_period: st_p,
                supertrend_multiplier: m,
                ..SmartMomentumParams::default()
            };
            let batch = smart_momentum_signals(&high, &low, &close, &p).unwrap();
            prop_assert_eq!(&batch, &reference(&high, &low, &close, &p));
            let mut g = SmartMomentum::new(p).unwrap();
            for i in 0..close.len() {
                let a = g.update(high[i], low[i], close[i]).unwrap();
                prop_assert_eq!(a, batch[i], "bar {}", i);
                if i < g.warm_up() {
                    prop_assert_eq!(a, SignalAction::None);
                }
            }
            // Chunked: a reset generator fed the second half after the first gives the same.
            let mid = close.len() / 2;
            g.reset();
            let again: Vec<SignalAction> = (0..close.len())
                .map(|i| g.update(high[i], low[i], close[i]).unwrap())
                .collect();
            prop_assert_eq!(&again[mid..], &batch[mid..]);
        }

        /// The rule over the batch standard-feature columns (`standard_features_into`, the
        /// gold layer's) gives, signal for signal, what the streaming generator gives.
        #[test]
        fn rule_over_standard_features_equals_streaming((high, low, close) in walk_bars(400)) {
            use crate::indicators::{StandardFeatures, standard_features_into};
            let p = SmartMomentumParams::default();
            let mut f = StandardFeatures::default();
            standard_features_into(&high, &low, &close, &mut f).unwrap();
            let from_columns =
                rule_over_columns(&p, &f.ema_12, &f.ema_26, &f.rsi_14, &f.supertrend_dir);
            let mut g = SmartMomentum::new(p).unwrap();
            for i in 0..close.len() {
                prop_assert_eq!(g.update(high[i], low[i], close[i]).unwrap(), from_columns[i], "bar {}", i);
            }
        }

        /// The same for any parameters, over the standalone batch indicator columns.
        #[test]
        fn rule_over_indicator_columns_equals_streaming(
            (high, low, close) in walk_bars(300),
            fast in 1usize..8, gap in 1usize..10, rsi_p in 1usize..10, st_p in 1usize..10,
            m in 0.0f64..4.0, band in (0.0f64..60.0, 0.0f64..40.0),
        ) {
            let p = SmartMomentumParams {
                ema_fast: fast,
                ema_slow: fast + gap,
                rsi_period: rsi_p,
                rsi_low: band.0,
                rsi_high: band.0 + band.1,
                supertrend_period: st_p,
                supertrend_multiplier: m,
                ..SmartMomentumParams::default()
            };
            let dir = supertrend(&high, &low, &close, st_p, m).unwrap().direction;
            let from_columns = rule_over_columns(
                &p,
                &ema(&close, fast).unwrap(),
                &ema(&close, fast + gap).unwrap(),
                &rsi(&close, rsi_p).unwrap(),
                &dir,
            );
            prop_assert_eq!(from_columns, smart_momentum_signals(&high, &low, &close, &p).unwrap());
        }
    }
}
