//! Time bars from trades: OHLCV, quote volume (Σ price·qty), trade count and VWAP.
//!
//! Owns bar construction only (no IO, no clock: time comes from the trades' exchange timestamps,
//! UTC nanoseconds since the epoch, `i64`). Bars cover `[start, start + interval)` with `start` a
//! multiple of the interval counted from the epoch (`ts.div_euclid(interval)·interval`), so 1h
//! bars start on the hour.
//!
//! Policies (all explicit in [`TimeBarConfig`]):
//! - **Empty intervals** ([`EmptyIntervalPolicy`]): `Skip` (default) emits nothing for an
//!   interval without trades — no invented prices, and one trade closes at most one bar;
//!   `FlatAtPreviousClose` emits a bar at the previous close with zero volume and zero trades
//!   for each empty interval (a regular grid, as in Binance kline files), at most
//!   `max_flat_bars_per_gap` per gap (a larger gap — e.g. a timestamp in µs read as ns — is an
//!   error, not a flood of bars).
//! - **Late trades**: a trade older than the open bar's start (or, with no bar open, older than
//!   the end of the last closed bar) is dropped and counted ([`TimeBarBuilder::late_trades`],
//!   [`PushOutcome::Late`]). Closed bars are never revised.
//! - **Out of order inside the open bar**: included in high, low, volume, quote volume and count;
//!   open and close follow **exchange timestamps**, not arrival: the open is the trade with the
//!   smallest timestamp (on a tie, the first to arrive), the close the one with the largest (on a
//!   tie, the last to arrive).
//!
//! [`TimeBarBuilder::push`] appends closed bars to a caller-owned `Vec` (reuse it: no allocation
//! per trade); [`TimeBarBuilder::flush`] closes the partial bar at the end of the data and
//! [`TimeBarBuilder::advance_to`] closes bars when time passes without trades (live heartbeat).

use crate::{Error, Result};

/// One trade: exchange time in UTC nanoseconds, price (quote per base) and quantity (base).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    /// Exchange timestamp, UTC nanoseconds since the epoch.
    pub ts_ns: i64,
    /// Price, finite and positive.
    pub price: f64,
    /// Quantity in the base asset, finite and positive.
    pub qty: f64,
}

/// The fields of a [`Bar`] before validation (plain data, no invariants).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarParts {
    /// Start of the interval, inclusive (UTC ns).
    pub start_ns: i64,
    /// End of the interval, exclusive (UTC ns).
    pub end_ns: i64,
    /// First trade's price (by timestamp).
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last trade's price (by timestamp).
    pub close: f64,
    /// Σ qty (base asset).
    pub volume: f64,
    /// Σ price·qty (quote asset).
    pub quote_volume: f64,
    /// Number of trades.
    pub trade_count: u64,
}

/// A validated OHLCV bar. Built by [`Bar::new_checked`] or [`TimeBarBuilder`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    parts: BarParts,
    vwap: f64,
}

impl Bar {
    /// Validates `parts`: start < end, finite prices and volumes, `low ≤ open, close ≤ high`,
    /// non-negative volumes, and a bar without trades has zero volume.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a NaN/infinite field; [`Error::InvalidData`] (index 0) for any
    /// other broken invariant.
    pub fn new_checked(parts: BarParts) -> Result<Self> {
        let p = parts;
        for (what, v) in [
            ("bar.open", p.open),
            ("bar.high", p.high),
            ("bar.low", p.low),
            ("bar.close", p.close),
            ("bar.volume", p.volume),
            ("bar.quote_volume", p.quote_volume),
        ] {
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    what,
                    index: 0,
                    value: v,
                });
            }
        }
        let bad = |reason: String| {
            Err(Error::InvalidData {
                what: "bar",
                index: 0,
                reason,
            })
        };
        if p.start_ns >= p.end_ns {
            return bad(format!(
                "start {} is not before end {}",
                p.start_ns, p.end_ns
            ));
        }
        if p.high < p.low {
            return bad(format!("high {} is below low {}", p.high, p.low));
        }
        if !(p.low..=p.high).contains(&p.open) || !(p.low..=p.high).contains(&p.close) {
            return bad(format!(
                "open {} / close {} outside [low {}, high {}]",
                p.open, p.close, p.low, p.high
            ));
        }
        if p.volume < 0.0 || p.quote_volume < 0.0 {
            return bad(format!(
                "negative volume {} / quote volume {}",
                p.volume, p.quote_volume
            ));
        }
        if p.trade_count == 0 && (p.volume != 0.0 || p.quote_volume != 0.0) {
            return bad(format!("no trades but volume {}", p.volume));
        }
        let vwap = if p.volume > 0.0 {
            p.quote_volume / p.volume
        } else {
            p.close
        };
        Ok(Self { parts, vwap })
    }

    /// All fields.
    #[must_use]
    pub fn parts(&self) -> BarParts {
        self.parts
    }
    /// Start of the interval, inclusive (UTC ns).
    #[must_use]
    pub fn start_ns(&self) -> i64 {
        self.parts.start_ns
    }
    /// End of the interval, exclusive (UTC ns).
    #[must_use]
    pub fn end_ns(&self) -> i64 {
        self.parts.end_ns
    }
    /// Open price.
    #[must_use]
    pub fn open(&self) -> f64 {
        self.parts.open
    }
    /// High price.
    #[must_use]
    pub fn high(&self) -> f64 {
        self.parts.high
    }
    /// Low price.
    #[must_use]
    pub fn low(&self) -> f64 {
        self.parts.low
    }
    /// Close price.
    #[must_use]
    pub fn close(&self) -> f64 {
        self.parts.close
    }
    /// Σ qty (base asset).
    #[must_use]
    pub fn volume(&self) -> f64 {
        self.parts.volume
    }
    /// Σ price·qty (quote asset).
    #[must_use]
    pub fn quote_volume(&self) -> f64 {
        self.parts.quote_volume
    }
    /// Number of trades.
    #[must_use]
    pub fn trade_count(&self) -> u64 {
        self.parts.trade_count
    }
    /// Volume-weighted average price, `quote_volume / volume`; the close when there were no
    /// trades.
    #[must_use]
    pub fn vwap(&self) -> f64 {
        self.vwap
    }
}

/// What to do with an interval that has no trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmptyIntervalPolicy {
    /// Emit nothing (default).
    #[default]
    Skip,
    /// Emit a bar at the previous close with zero volume and zero trades.
    FlatAtPreviousClose,
}

/// Configuration of a [`TimeBarBuilder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBarConfig {
    /// Bar length in nanoseconds (> 0).
    pub interval_ns: i64,
    /// Empty-interval policy.
    pub empty_intervals: EmptyIntervalPolicy,
    /// With [`EmptyIntervalPolicy::FlatAtPreviousClose`], the most flat bars one gap may emit.
    pub max_flat_bars_per_gap: u64,
}

impl TimeBarConfig {
    /// Default policies (skip empty intervals; 100 000 flat bars per gap if switched on) for
    /// the given interval.
    #[must_use]
    pub fn new(interval_ns: i64) -> Self {
        Self {
            interval_ns,
            empty_intervals: EmptyIntervalPolicy::Skip,
            max_flat_bars_per_gap: 100_000,
        }
    }
}

/// Whether [`TimeBarBuilder::push`] used the trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Added to the open bar.
    Included,
    /// Older than the open bar (or the last closed bar): dropped and counted.
    Late,
}

#[derive(Debug, Clone, Copy)]
struct OpenBar {
    start: i64,
    end: i64,
    open: f64,
    open_ts: i64,
    high: f64,
    low: f64,
    close: f64,
    close_ts: i64,
    volume: f64,
    quote: f64,
    count: u64,
}

impl OpenBar {
    fn finish(&self) -> Bar {
        Bar {
            parts: BarParts {
                start_ns: self.start,
                end_ns: self.end,
                open: self.open,
                high: self.high,
                low: self.low,
                close: self.close,
                volume: self.volume,
                quote_volume: self.quote,
                trade_count: self.count,
            },
            vwap: self.quote / self.volume,
        }
    }
}

/// Streaming time-bar builder. O(1) state; closed bars go to a caller-owned `Vec`.
#[derive(Debug, Clone)]
pub struct TimeBarBuilder {
    config: TimeBarConfig,
    open: Option<OpenBar>,
    /// End of the last closed bar (flat bars included).
    watermark: Option<i64>,
    last_close: f64,
    late: u64,
    trades: usize,
}

impl TimeBarBuilder {
    /// A builder with the given configuration.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `interval_ns <= 0`.
    pub fn new(config: TimeBarConfig) -> Result<Self> {
        if config.interval_ns <= 0 {
            return Err(Error::InvalidParameter {
                name: "bars.interval_ns",
                value: config.interval_ns.to_string(),
                reason: "must be positive".into(),
            });
        }
        Ok(Self {
            config,
            open: None,
            watermark: None,
            last_close: f64::NAN,
            late: 0,
            trades: 0,
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> TimeBarConfig {
        self.config
    }

    /// Trades dropped as late so far.
    #[must_use]
    pub fn late_trades(&self) -> u64 {
        self.late
    }

    /// Adds one trade; bars it closes (and flat bars for gaps, per policy) are appended to
    /// `closed` in time order.
    ///
    /// # Errors
    /// [`Error::NonFinite`] / [`Error::InvalidData`] (index = trades pushed before this one) for
    /// a non-finite or non-positive price or quantity, a timestamp whose bar would overflow
    /// `i64`, or a gap larger than `max_flat_bars_per_gap`. On error nothing changes.
    pub fn push(&mut self, trade: Trade, closed: &mut Vec<Bar>) -> Result<PushOutcome> {
        let index = self.trades;
        let bad = |reason: String| {
            Err(Error::InvalidData {
                what: "trade",
                index,
                reason,
            })
        };
        for (what, v) in [("trade.price", trade.price), ("trade.qty", trade.qty)] {
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    what,
                    index,
                    value: v,
                });
            }
            if v <= 0.0 {
                return bad(format!("{what} {v} must be positive"));
            }
        }
        let interval = self.config.interval_ns;
        let Some((start, end)) = trade
            .ts_ns
            .div_euclid(interval)
            .checked_mul(interval)
            .and_then(|s| Some((s, s.checked_add(interval)?)))
        else {
            return bad(format!(
                "timestamp {} has no representable bar",
                trade.ts_ns
            ));
        };
        let late = match (&self.open, self.watermark) {
            (Some(ob), _) => trade.ts_ns < ob.start,
            (None, Some(w)) => trade.ts_ns < w,
            (None, None) => false,
        };
        if late {
            self.trades += 1;
            self.late += 1;
            return Ok(PushOutcome::Late);
        }
        if let Some(ob) = &mut self.open
            && trade.ts_ns < ob.end
        {
            ob.high = ob.high.max(trade.price);
            ob.low = ob.low.min(trade.price);
            if trade.ts_ns < ob.open_ts {
                (ob.open, ob.open_ts) = (trade.price, trade.ts_ns);
            }
            if trade.ts_ns >= ob.close_ts {
                (ob.close, ob.close_ts) = (trade.price, trade.ts_ns);
            }
            ob.volume += trade.qty;
            ob.quote += trade.price * trade.qty;
            ob.count += 1;
            self.trades += 1;
            return Ok(PushOutcome::Included);
        }
        // A new bar: check the gap before changing anything.
        let gap_from = self.open.map(|ob| ob.end).or(self.watermark);
        if let Some(from) = gap_from {
            self.check_gap(index, from, start)?;
        }
        if let Some(ob) = self.open.take() {
            self.close_bar(ob, closed);
        }
        self.fill_flat(start, closed);
        self.open = Some(OpenBar {
            start,
            end,
            open: trade.price,
            open_ts: trade.ts_ns,
            high: trade.price,
            low: trade.price,
            close: trade.price,
            close_ts: trade.ts_ns,
            volume: trade.qty,
            quote: trade.price * trade.qty,
            count: 1,
        });
        self.trades += 1;
        Ok(PushOutcome::Included)
    }

    /// Time has reached `now_ns` (exchange clock) without trades: closes the open bar if its
    /// interval is over and, with flat bars on, emits flat bars for intervals that ended by
    /// `now_ns`. Trades older than `now_ns`'s bar are late afterwards.
    ///
    /// # Errors
    /// [`Error::InvalidData`] when the gap exceeds `max_flat_bars_per_gap`; nothing changes.
    pub fn advance_to(&mut self, now_ns: i64, closed: &mut Vec<Bar>) -> Result<()> {
        let interval = self.config.interval_ns;
        let boundary = now_ns.div_euclid(interval).saturating_mul(interval);
        let from = match self.open {
            Some(ob) if ob.end <= now_ns => ob.end,
            Some(_) => return Ok(()),
            None => match self.watermark {
                Some(w) => w,
                None => return Ok(()),
            },
        };
        self.check_gap(self.trades, from, boundary)?;
        if let Some(ob) = self.open.take() {
            self.close_bar(ob, closed);
        }
        self.fill_flat(boundary, closed);
        // Intervals before `boundary` are final now, with or without flat bars.
        self.watermark = self.watermark.max(Some(boundary));
        Ok(())
    }

    /// Closes and returns the partial bar at the end of the data (`None` if no bar is open).
    pub fn flush(&mut self) -> Option<Bar> {
        let ob = self.open.take()?;
        self.watermark = Some(ob.end);
        self.last_close = ob.close;
        Some(ob.finish())
    }

    fn close_bar(&mut self, ob: OpenBar, closed: &mut Vec<Bar>) {
        self.watermark = Some(ob.end);
        self.last_close = ob.close;
        closed.push(ob.finish());
    }

    fn check_gap(&self, index: usize, from: i64, to: i64) -> Result<()> {
        if self.config.empty_intervals == EmptyIntervalPolicy::Skip || to <= from {
            return Ok(());
        }
        let bars = (i128::from(to) - i128::from(from)) / i128::from(self.config.interval_ns);
        if bars > i128::from(self.config.max_flat_bars_per_gap) {
            return Err(Error::InvalidData {
                what: "trade",
                index,
                reason: format!(
                    "gap of {bars} empty intervals from {from} to {to} exceeds max_flat_bars_per_gap {}",
                    self.config.max_flat_bars_per_gap
                ),
            });
        }
        Ok(())
    }

    /// Emits flat bars from the watermark up to `until` (exclusive), per policy.
    fn fill_flat(&mut self, until: i64, closed: &mut Vec<Bar>) {
        if self.config.empty_intervals == EmptyIntervalPolicy::Skip {
            return;
        }
        let Some(mut from) = self.watermark else {
            return;
        };
        let price = self.last_close;
        while from < until {
            let end = from + self.config.interval_ns;
            let parts = BarParts {
                start_ns: from,
                end_ns: end,
                open: price,
                high: price,
                low: price,
                close: price,
                volume: 0.0,
                quote_volume: 0.0,
                trade_count: 0,
            };
            closed.push(Bar { parts, vwap: price });
            from = end;
        }
        self.watermark = Some(from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: i64 = 3_600_000_000_000;

    fn t(ts_ns: i64, price: f64, qty: f64) -> Trade {
        Trade { ts_ns, price, qty }
    }

    #[test]
    fn hand_checked_bar() {
        let mut b = TimeBarBuilder::new(TimeBarConfig::new(H)).unwrap();
        let mut out = Vec::new();
        for tr in [
            t(H + 10, 100.0, 1.0),
            t(H + 20, 104.0, 0.5),
            t(H + 5, 98.0, 2.0),
            t(2 * H - 1, 101.0, 0.5),
        ] {
            assert_eq!(b.push(tr, &mut out).unwrap(), PushOutcome::Included);
        }
        assert!(out.is_empty());
        b.push(t(2 * H, 102.0, 1.0), &mut out).unwrap();
        let bar = out[0];
        // Open is the earliest timestamp (98 @ H+5) though it arrived third.
        assert_eq!((bar.start_ns(), bar.end_ns()), (H, 2 * H));
        assert_eq!(
            (bar.open(), bar.high(), bar.low(), bar.close()),
            (98.0, 104.0, 98.0, 101.0)
        );
        assert_eq!(bar.volume(), 4.0);
        assert_eq!(bar.quote_volume(), 100.0 + 52.0 + 196.0 + 50.5);
        assert_eq!(bar.trade_count(), 4);
        assert_eq!(bar.vwap(), 398.5 / 4.0);
        let last = b.flush().unwrap();
        assert_eq!(
            (last.start_ns(), last.close(), last.trade_count()),
            (2 * H, 102.0, 1)
        );
        assert!(b.flush().is_none());
    }

    #[test]
    fn late_trades_are_dropped_and_counted() {
        let mut b = TimeBarBuilder::new(TimeBarConfig::new(H)).unwrap();
        let mut out = Vec::new();
        b.push(t(H, 1.0, 1.0), &mut out).unwrap();
        b.push(t(2 * H, 2.0, 1.0), &mut out).unwrap();
        assert_eq!(
            b.push(t(2 * H - 1, 3.0, 1.0), &mut out).unwrap(),
            PushOutcome::Late
        );
        b.flush();
        assert_eq!(
            b.push(t(3 * H - 1, 3.0, 1.0), &mut out).unwrap(),
            PushOutcome::Late
        );
        assert_eq!(b.late_trades(), 2);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].volume(), 1.0);
    }

    #[test]
    fn same_timestamp_ties_follow_arrival() {
        let mut b = TimeBarBuilder::new(TimeBarConfig::new(H)).unwrap();
        let mut out = Vec::new();
        for p in [5.0, 6.0, 7.0] {
            b.push(t(10, p, 1.0), &mut out).unwrap();
        }
        let bar = b.flush().unwrap();
        assert_eq!((bar.open(), bar.close()), (5.0, 7.0));
    }

    #[test]
    fn empty_interval_policies() {
        let trades = [t(0, 10.0, 1.0), t(3 * H + 1, 12.0, 1.0)];
        let mut out = Vec::new();
        let mut skip = TimeBarBuilder::new(TimeBarConfig::new(H)).unwrap();
        for tr in trades {
            skip.push(tr, &mut out).unwrap();
        }
        assert_eq!(out.len(), 1);
        out.clear();
        let cfg = TimeBarConfig {
            empty_intervals: EmptyIntervalPolicy::FlatAtPreviousClose,
            ..TimeBarConfig::new(H)
        };
        let mut flat = TimeBarBuilder::new(cfg).unwrap();
        for tr in trades {
            flat.push(tr, &mut out).unwrap();
        }
        assert_eq!(
            out.iter().map(Bar::start_ns).collect::<Vec<_>>(),
            vec![0, H, 2 * H]
        );
        for bar in &out[1..] {
            assert_eq!(
                (bar.open(), bar.high(), bar.low(), bar.close(), bar.vwap()),
                (10.0, 10.0, 10.0, 10.0, 10.0)
            );
            assert_eq!((bar.volume(), bar.trade_count()), (0.0, 0));
        }
        // advance_to closes the open bar and fills complete empty intervals.
        out.clear();
        flat.advance_to(6 * H + 5, &mut out).unwrap();
        assert_eq!(
            out.iter().map(Bar::start_ns).collect::<Vec<_>>(),
            vec![3 * H, 4 * H, 5 * H]
        );
        assert_eq!(
            flat.push(t(6 * H - 1, 1.0, 1.0), &mut out).unwrap(),
            PushOutcome::Late
        );
        let mut skip = TimeBarBuilder::new(TimeBarConfig::new(H)).unwrap();
        skip.push(t(0, 1.0, 1.0), &mut out).unwrap();
        out.clear();
        skip.advance_to(H - 1, &mut out).unwrap();
        assert!(out.is_empty(), "the bar is still open before its end");
        skip.push(t(H, 1.0, 1.0), &mut out).unwrap();
        out.clear();
        skip.advance_to(5 * H, &mut out).unwrap();
        assert_eq!(out.len(), 1, "skip policy: only the open bar closes");
        assert_eq!(
            skip.push(t(5 * H - 1, 1.0, 1.0), &mut out).unwrap(),
            PushOutcome::Late
        );
        // A huge gap (µs read as ns) is an error and changes nothing.
        let cfg = TimeBarConfig {
            max_flat_bars_per_gap: 10,
            ..cfg
        };
        let mut capped = TimeBarBuilder::new(cfg).unwrap();
        capped.push(t(0, 1.0, 1.0), &mut out).unwrap();
        let err = capped.push(t(1_000 * H, 1.0, 1.0), &mut out).unwrap_err();
        assert!(matches!(err, Error::InvalidData { index: 1, .. }), "{err}");
        assert_eq!(capped.flush().unwrap().start_ns(), 0);
    }

    #[test]
    fn negative_timestamps_align_to_the_epoch_grid() {
        let mut b = TimeBarBuilder::new(TimeBarConfig::new(H)).unwrap();
        let mut out = Vec::new();
        b.push(t(-1, 1.0, 1.0), &mut out).unwrap();
        assert_eq!(b.flush().unwrap().start_ns(), -H);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(TimeBarBuilder::new(TimeBarConfig::new(0)).is_err());
        let mut b = TimeBarBuilder::new(TimeBarConfig::new(H)).unwrap();
        let mut out = Vec::new();
        assert!(matches!(
            b.push(t(0, f64::NAN, 1.0), &mut out),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            b.push(t(0, 1.0, -1.0), &mut out),
            Err(Error::InvalidData { .. })
        ));
        assert!(matches!(
            b.push(t(0, 0.0, 1.0), &mut out),
            Err(Error::InvalidData { .. })
        ));
        assert!(b.push(t(i64::MAX, 1.0, 1.0), &mut out).is_err());
        assert!(b.flush().is_none());
        let parts = BarParts {
            start_ns: 0,
            end_ns: H,
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 1.0,
            quote_volume: 1.5,
            trade_count: 1,
        };
        assert_eq!(Bar::new_checked(parts).unwrap().vwap(), 1.5);
        assert!(Bar::new_checked(BarParts { high: 0.4, ..parts }).is_err());
        assert!(
            Bar::new_checked(BarParts {
                volume: -1.0,
                ..parts
            })
            .is_err()
        );
        assert!(
            Bar::new_checked(BarParts {
                close: f64::NAN,
                ..parts
            })
            .is_err()
        );
        assert!(Bar::new_checked(BarParts { open: 3.0, ..parts }).is_err());
        assert!(Bar::new_checked(BarParts { end_ns: 0, ..parts }).is_err());
        assert!(
            Bar::new_checked(BarParts {
                trade_count: 0,
                ..parts
            })
            .is_err()
        );
    }

    /// Trades with dyadic prices and quantities, so sums are exact; timestamps jittered so some
    /// arrive out of order and some late.
    fn trades() -> impl Strategy<Value = Vec<Trade>> {
        prop::collection::vec((0i64..50, -8i64..3, 1u32..400, 1u32..64), 0..300).prop_map(|v| {
            let mut clock = 0i64;
            v.into_iter()
                .map(|(step, jitter, p, q)| {
                    clock += step;
                    Trade {
                        ts_ns: clock + jitter,
                        price: f64::from(p) / 4.0,
                        qty: f64::from(q) / 8.0,
                    }
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn bars_match_a_naive_grouping(trades in trades(), interval in 1i64..40, flat in any::<bool>()) {
            let policy = if flat { EmptyIntervalPolicy::FlatAtPreviousClose } else { EmptyIntervalPolicy::Skip };
            let cfg = TimeBarConfig { empty_intervals: policy, ..TimeBarConfig::new(interval) };
            let mut b = TimeBarBuilder::new(cfg).unwrap();
            let mut bars = Vec::new();
            for tr in &trades {
                b.push(*tr, &mut bars).unwrap();
            }
            bars.extend(b.flush());

            // Naive model: a trade is late iff its bar starts before the newest bar so far.
            let mut newest = i64::MIN;
            let mut kept: Vec<(i64, usize, Trade)> = Vec::new();
            let mut late = 0;
            for (i, tr) in trades.iter().enumerate() {
                let start = tr.ts_ns.div_euclid(interval) * interval;
                if start < newest { late += 1; continue; }
                newest = start;
                kept.push((start, i, *tr));
            }
            prop_assert_eq!(b.late_trades(), late);
            let traded: Vec<&Bar> = bars.iter().filter(|x| x.trade_count() > 0).collect();
            let mut starts: Vec<i64> = kept.iter().map(|k| k.0).collect();
            starts.dedup();
            prop_assert_eq!(traded.len(), starts.len());
            for (bar, start) in traded.iter().zip(&starts) {
                let group: Vec<&(i64, usize, Trade)> = kept.iter().filter(|k| k.0 == *start).collect();
                let open = group.iter().min_by_key(|k| (k.2.ts_ns, k.1)).unwrap().2.price;
                let close = group.iter().max_by_key(|k| (k.2.ts_ns, k.1)).unwrap().2.price;
                prop_assert_eq!(bar.start_ns(), *start);
                prop_assert_eq!(bar.open(), open);
                prop_assert_eq!(bar.close(), close);
                prop_assert_eq!(bar.high(), group.iter().map(|k| k.2.price).fold(f64::MIN, f64::max));
                prop_assert_eq!(bar.low(), group.iter().map(|k| k.2.price).fold(f64::MAX, f64::min));
                prop_assert_eq!(bar.volume(), group.iter().map(|k| k.2.qty).sum::<f64>());
                prop_assert_eq!(bar.trade_count(), group.len() as u64);
            }
            // Volume conserved, bars sorted and contiguous-or-gapped on the grid, OHLC ordered.
            let total: f64 = kept.iter().map(|k| k.2.qty).sum();
            prop_assert_eq!(bars.iter().map(Bar::volume).sum::<f64>(), total);
            for w in bars.windows(2) {
                prop_assert!(w[0].end_ns() <= w[1].start_ns());
                if flat { prop_assert_eq!(w[0].end_ns(), w[1].start_ns()); }
            }
            for bar in &bars {
                prop_assert_eq!(bar.start_ns().rem_euclid(interval), 0);
                prop_assert_eq!(bar.end_ns() - bar.start_ns(), interval);
                prop_assert!(bar.low() <= bar.open().min(bar.close()) && bar.open().max(bar.close()) <= bar.high());
                prop_assert!(Bar::new_checked(bar.parts()).is_ok());
            }
        }

        #[test]
        fn chunked_feeding_equals_one_feed(trades in trades(), interval in 1i64..40, chunk in 1usize..20) {
            let cfg = TimeBarConfig { empty_intervals: EmptyIntervalPolicy::FlatAtPreviousClose, ..TimeBarConfig::new(interval) };
            let mut one = TimeBarBuilder::new(cfg).unwrap();
            let mut all = Vec::new();
            for tr in &trades { one.push(*tr, &mut all).unwrap(); }
            all.extend(one.flush());
            let mut chunked = TimeBarBuilder::new(cfg).unwrap();
            let (mut got, mut buf) = (Vec::new(), Vec::new());
            for c in trades.chunks(chunk) {
                buf.clear();
                for tr in c { chunked.push(*tr, &mut buf).unwrap(); }
                got.extend_from_slice(&buf);
            }
            got.extend(chunked.flush());
            prop_assert_eq!(got, all);
        }
    }
}
