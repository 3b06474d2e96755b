//! The bar builder: turns trades (live, or replayed trade files) into closed time bars, passes
//! replayed klines through, and gives every bar of the run its [`DecisionId`].
//!
//! Owns, per symbol, a [`strategies::bars::TimeBarBuilder`] (the bar maths and its policies:
//! late trades, out-of-order trades inside the open bar, empty intervals — see that module) and
//! the start of the last bar emitted; and, for the whole run, the one decision counter. It must
//! not interpret bars (that is the regime detector's and the strategies' job) nor read a clock:
//! time comes from the trades' exchange timestamps.
//!
//! # Conventions
//! * **Decision ids.** One counter for every bar of the run, all symbols together, in emission
//!   order: the first bar is `DecisionId(1)`, the next `DecisionId(2)`, … (0 is never assigned,
//!   so `DecisionId::default()` means "none"). Late bars that are dropped consume no id.
//! * **Bar times.** `Bar::ts_exchange` is the bar's end; `Bar::ts_received` is the local receive
//!   time of the trade that closed it (the first trade of a later bar), of the kline, of the
//!   heartbeat passed to [`BarBuilder::advance_to`], or — for [`BarBuilder::flush`] — of the last
//!   trade seen for that symbol.
//! * **Late bars.** Every bar emitted for a symbol must start after the previous one of that
//!   symbol. A kline (or a trade-built bar following a kline) that does not is dropped and
//!   counted ([`BarBuilder::late_bars`]). Late *trades* are dropped and counted by the
//!   `TimeBarBuilder` ([`BarBuilder::late_trades`]).
//! * **Klines** must span exactly the configured interval (`end − start`); a kline of another
//!   length is an error, not a silently mixed bar series.
//! * **No allocation per trade**: closed bars go through a scratch `Vec` owned by the builder
//!   into the caller's `Vec` (reuse it). Only a gap filled with flat bars (when switched on) can
//!   grow the scratch beyond its initial capacity.

use crate::config_key as key;
use serde::Deserialize;
use thiserror::Error;

use crate::clock::UnixNanos;
use crate::lifecycle::Lifecycle;
use crate::messages::{Bar, DecisionId, MAX_SYMBOLS, SymbolId, Trade};
use strategies::bars::{
    EmptyIntervalPolicy, PushOutcome, TimeBarBuilder, TimeBarConfig, Trade as BarTrade,
};

/// Bar builder settings (`[bars]` in the TOML files).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BarBuilderConfig {
    /// Bar length: a positive integer and a unit, `ms`, `s`, `m`, `h`, `d` or `w`
    /// (Binance spelling: `"1m"`, `"15m"`, `"1h"`, `"1d"`). Default `"1m"`.
    pub interval: String,
    /// Emit a flat bar (previous close, zero volume) for each interval without trades, as
    /// Binance kline files do; `false` (default) emits nothing for an empty interval.
    pub flat_empty_intervals: bool,
    /// With `flat_empty_intervals`, the most flat bars one gap may produce (a larger gap — e.g.
    /// µs read as ns — is an error, not a flood of bars). Default 100 000.
    pub max_flat_bars_per_gap: u64,
}

impl Default for BarBuilderConfig {
    fn default() -> Self {
        Self {
            interval: "1m".to_owned(),
            flat_empty_intervals: false,
            max_flat_bars_per_gap: 100_000,
        }
    }
}

impl BarBuilderConfig {
    /// The interval in nanoseconds, or `None` when `interval` does not parse
    /// (see [`parse_interval`]).
    #[must_use]
    pub fn interval_ns(&self) -> Option<i64> {
        parse_interval(&self.interval)
    }

    /// Every problem with the settings, each naming its key under `path` (e.g. `"bars"`).
    #[must_use]
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if self.interval_ns().is_none() {
            problems.push(format!(
                "{} must be a positive integer and a unit ms|s|m|h|d|w (e.g. \"1m\"), got {:?}",
                key(path, "interval"),
                self.interval
            ));
        }
        if self.flat_empty_intervals && self.max_flat_bars_per_gap == 0 {
            problems.push(format!(
                "{} must be > 0 when flat_empty_intervals is on, got 0",
                key(path, "max_flat_bars_per_gap")
            ));
        }
        problems
    }
}

/// Parses a bar interval such as `"1m"`, `"15m"`, `"4h"`, `"500ms"` into nanoseconds.
/// Units: `ms`, `s`, `m` (minutes), `h`, `d`, `w`. `None` for anything else, a zero count, or
/// an interval that overflows `i64` nanoseconds.
#[must_use]
pub fn parse_interval(text: &str) -> Option<i64> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (count, unit) = text.split_at(digits);
    let count: i64 = count.parse().ok()?;
    let unit_ns: i64 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 604_800_000_000_000,
        _ => return None,
    };
    count.checked_mul(unit_ns).filter(|&ns| ns > 0)
}

/// What the builder did with a trade or a kline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// Used (a trade added to the open bar, a kline emitted).
    Accepted,
    /// Dropped and counted: a trade older than the open bar, or a bar that does not start
    /// after the symbol's previous bar.
    Late,
}

/// Why the bar builder refused a setting or an input. Input errors change nothing and are
/// recoverable (skip the message); a config error is not.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BarBuilderError {
    /// The configuration is invalid; every problem is listed with its key path.
    #[error("bar builder config: {problems}")]
    Config {
        /// The problems, joined with "; ".
        problems: String,
    },
    /// A message names a symbol outside the run's symbol table.
    #[error("bar builder: symbol {symbol} is outside the symbol table (0..{n_symbols})")]
    UnknownSymbol {
        /// The symbol id received.
        symbol: SymbolId,
        /// Number of symbols of the run.
        n_symbols: usize,
    },
    /// A trade (non-finite or non-positive price/quantity, unrepresentable time) or a gap
    /// larger than `max_flat_bars_per_gap` was rejected.
    #[error("bar builder: symbol {symbol}: {source}")]
    InvalidInput {
        /// The symbol.
        symbol: SymbolId,
        /// The model library's error, naming the field.
        source: strategies::Error,
    },
    /// A kline does not span the configured interval.
    #[error(
        "bar builder: symbol {symbol}: kline starting at {start_ns} spans {got_ns} ns, \
         the configured interval is {expected_ns} ns"
    )]
    IntervalMismatch {
        /// The symbol.
        symbol: SymbolId,
        /// The kline's start.
        start_ns: i64,
        /// Its length `end − start`.
        got_ns: i64,
        /// The configured interval.
        expected_ns: i64,
    },
}

impl BarBuilderError {
    /// Whether the builder can go on with the next message (everything but a config error).
    #[must_use]
    pub fn is_recoverable(&self) -> bool {
        !matches!(self, BarBuilderError::Config { .. })
    }
}

#[derive(Debug, Clone)]
struct SymbolBars {
    builder: TimeBarBuilder,
    /// Start of the last bar emitted for this symbol.
    last_start: Option<i64>,
    /// Receive time of the last trade seen for this symbol.
    last_received: UnixNanos,
}

/// Builds time bars for every symbol of the run and numbers them. See the module docs.
#[derive(Debug, Clone)]
pub struct BarBuilder {
    interval_ns: i64,
    symbols: Vec<SymbolBars>,
    scratch: Vec<strategies::bars::Bar>,
    next_decision: u64,
    emitted: u64,
    late_bars: u64,
    rejected: u64,
}

impl BarBuilder {
    /// A builder for `n_symbols` symbols (ids `0..n_symbols`).
    ///
    /// # Errors
    /// [`BarBuilderError::Config`] listing every problem of `config`, or an `n_symbols` of 0 or
    /// above [`MAX_SYMBOLS`].
    pub fn new(config: &BarBuilderConfig, n_symbols: usize) -> Result<Self, BarBuilderError> {
        let mut problems = config.validate("bars");
        if n_symbols == 0 || n_symbols > MAX_SYMBOLS {
            problems.push(format!(
                "the run must have 1..={MAX_SYMBOLS} symbols, got {n_symbols}"
            ));
        }
        let interval_ns = config.interval_ns().unwrap_or(0);
        let bar_config = TimeBarConfig {
            interval_ns,
            empty_intervals: if config.flat_empty_intervals {
                EmptyIntervalPolicy::FlatAtPreviousClose
            } else {
                EmptyIntervalPolicy::Skip
            },
            max_flat_bars_per_gap: config.max_flat_bars_per_gap,
        };
        let builder = match TimeBarBuilder::new(bar_config) {
            Ok(b) => Some(b),
            Err(e) => {
                if problems.is_empty() {
                    problems.push(format!("bars.interval: {e}"));
                }
                None
            }
        };
        let Some(builder) = builder.filter(|_| problems.is_empty()) else {
            return Err(BarBuilderError::Config {
                problems: problems.join("; "),
            });
        };
        Ok(Self {
            interval_ns,
            symbols: vec![
                SymbolBars {
                    builder,
                    last_start: None,
                    last_received: 0,
                };
                n_symbols
            ],
            scratch: Vec::with_capacity(64),
            next_decision: 1,
            emitted: 0,
            late_bars: 0,
            rejected: 0,
        })
    }

    /// The bar length in nanoseconds.
    #[must_use]
    pub fn interval_ns(&self) -> i64 {
        self.interval_ns
    }

    /// `Starting` until the first bar is emitted, `Running` after.
    #[must_use]
    pub fn lifecycle(&self) -> Lifecycle {
        if self.emitted == 0 {
            Lifecycle::Starting
        } else {
            Lifecycle::Running
        }
    }

    /// Trades dropped as late (older than their symbol's open bar), all symbols.
    #[must_use]
    pub fn late_trades(&self) -> u64 {
        self.symbols.iter().map(|s| s.builder.late_trades()).sum()
    }

    /// Bars dropped because they did not start after their symbol's previous bar.
    #[must_use]
    pub fn late_bars(&self) -> u64 {
        self.late_bars
    }

    /// Trades and klines rejected as invalid (see [`BarBuilderError`]).
    #[must_use]
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Bars emitted so far.
    #[must_use]
    pub fn bars_emitted(&self) -> u64 {
        self.emitted
    }

    /// The id the next bar will get.
    #[must_use]
    pub fn next_decision(&self) -> DecisionId {
        DecisionId(self.next_decision)
    }

    fn slot(&self, symbol: SymbolId) -> Result<usize, BarBuilderError> {
        let i = usize::from(symbol);
        if i < self.symbols.len() {
            Ok(i)
        } else {
            Err(BarBuilderError::UnknownSymbol {
                symbol,
                n_symbols: self.symbols.len(),
            })
        }
    }

    /// Adds one trade; the bars it closes (and flat bars for skipped intervals, when switched
    /// on) are appended to `out` in time order.
    ///
    /// # Errors
    /// [`BarBuilderError::UnknownSymbol`], or [`BarBuilderError::InvalidInput`] for a
    /// non-finite or non-positive price or quantity, a timestamp without a representable bar,
    /// or a gap above `max_flat_bars_per_gap`. Nothing changes on error.
    #[inline]
    pub fn on_trade(
        &mut self,
        trade: &Trade,
        out: &mut Vec<Bar>,
    ) -> Result<Intake, BarBuilderError> {
        let i = self.slot(trade.symbol)?;
        self.scratch.clear();
        let s = &mut self.symbols[i];
        let pushed = s.builder.push(
            BarTrade {
                ts_ns: trade.ts_exchange,
                price: trade.price,
                qty: trade.qty,
            },
            &mut self.scratch,
        );
        match pushed {
            Ok(PushOutcome::Included) => {
                s.last_received = trade.ts_received;
                if !self.scratch.is_empty() {
                    self.emit_scratch(i, trade.ts_received, out);
                }
                Ok(Intake::Accepted)
            }
            Ok(PushOutcome::Late) => Ok(Intake::Late),
            Err(source) => {
                self.rejected += 1;
                Err(BarBuilderError::InvalidInput {
                    symbol: trade.symbol,
                    source,
                })
            }
        }
    }

    /// Passes a replayed kline through as a [`Bar`], numbering it, unless it does not start
    /// after the symbol's previous bar (then it is dropped, counted and `Late` is returned).
    ///
    /// # Errors
    /// [`BarBuilderError::UnknownSymbol`]; [`BarBuilderError::IntervalMismatch`] when the kline
    /// does not span the configured interval. Nothing changes on error.
    pub fn on_kline(
        &mut self,
        symbol: SymbolId,
        ohlcv: strategies::bars::Bar,
        ts_received: UnixNanos,
        out: &mut Vec<Bar>,
    ) -> Result<Intake, BarBuilderError> {
        let i = self.slot(symbol)?;
        let span = ohlcv.end_ns().saturating_sub(ohlcv.start_ns());
        if span != self.interval_ns {
            self.rejected += 1;
            return Err(BarBuilderError::IntervalMismatch {
                symbol,
                start_ns: ohlcv.start_ns(),
                got_ns: span,
                expected_ns: self.interval_ns,
            });
        }
        self.symbols[i].last_received = ts_received;
        Ok(if self.emit(i, ohlcv, ts_received, out) {
            Intake::Accepted
        } else {
            Intake::Late
        })
    }

    /// Time has reached `now_ns` (exchange clock) without trades, e.g. a live heartbeat: closes
    /// every symbol's bar whose interval is over (and flat bars for ended empty intervals, when
    /// switched on), stamping them `ts_received`. Symbols are handled in id order.
    ///
    /// # Errors
    /// [`BarBuilderError::InvalidInput`] for the first symbol whose gap exceeds
    /// `max_flat_bars_per_gap` (that symbol is unchanged; the others are still advanced).
    pub fn advance_to(
        &mut self,
        now_ns: UnixNanos,
        ts_received: UnixNanos,
        out: &mut Vec<Bar>,
    ) -> Result<(), BarBuilderError> {
        let mut first_error = None;
        for i in 0..self.symbols.len() {
            self.scratch.clear();
            match self.symbols[i]
                .builder
                .advance_to(now_ns, &mut self.scratch)
            {
                Ok(()) => self.emit_scratch(i, ts_received, out),
                Err(source) => {
                    first_error.get_or_insert(BarBuilderError::InvalidInput {
                        symbol: symbol_id(i),
                        source,
                    });
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// End of data: closes every symbol's partial bar (in symbol id order), stamped with the
    /// receive time of that symbol's last trade.
    pub fn flush(&mut self, out: &mut Vec<Bar>) {
        for i in 0..self.symbols.len() {
            if let Some(bar) = self.symbols[i].builder.flush() {
                let received = self.symbols[i].last_received;
                self.emit(i, bar, received, out);
            }
        }
    }

    fn emit_scratch(&mut self, i: usize, ts_received: UnixNanos, out: &mut Vec<Bar>) {
        for k in 0..self.scratch.len() {
            let bar = self.scratch[k];
            self.emit(i, bar, ts_received, out);
        }
    }

    /// Numbers and appends one bar unless it does not start after the symbol's previous bar.
    #[inline]
    fn emit(
        &mut self,
        i: usize,
        ohlcv: strategies::bars::Bar,
        ts_received: UnixNanos,
        out: &mut Vec<Bar>,
    ) -> bool {
        let s = &mut self.symbols[i];
        if s.last_start.is_some_and(|last| ohlcv.start_ns() <= last) {
            self.late_bars += 1;
            return false;
        }
        s.last_start = Some(ohlcv.start_ns());
        out.push(Bar {
            symbol: symbol_id(i),
            decision: DecisionId(self.next_decision),
            ts_exchange: ohlcv.end_ns(),
            ts_received,
            ohlcv,
        });
        self.next_decision += 1;
        self.emitted += 1;
        true
    }
}

/// Slots are created for `n_symbols ≤ MAX_SYMBOLS` symbols, so every index fits a `SymbolId`.
fn symbol_id(i: usize) -> SymbolId {
    SymbolId::try_from(i).unwrap_or(SymbolId::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strategies::bars::BarParts;

    const M: i64 = 60_000_000_000;

    fn trade(symbol: SymbolId, ts: i64, price: f64) -> Trade {
        Trade {
            symbol,
            ts_exchange: ts,
            ts_received: ts + 7,
            price,
            qty: 1.0,
            buyer_is_maker: false,
        }
    }

    fn kline(start: i64, close: f64) -> strategies::bars::Bar {
        strategies::bars::Bar::new_checked(BarParts {
            start_ns: start,
            end_ns: start + M,
            open: close,
            high: close,
            low: close,
            close,
            volume: 1.0,
            quote_volume: close,
            trade_count: 1,
        })
        .unwrap()
    }

    fn builder(n: usize) -> BarBuilder {
        BarBuilder::new(&BarBuilderConfig::default(), n).unwrap()
    }

    #[test]
    fn intervals_parse_and_bad_config_lists_every_problem() {
        assert_eq!(parse_interval("1m"), Some(M));
        assert_eq!(parse_interval("15m"), Some(15 * M));
        assert_eq!(parse_interval("4h"), Some(240 * M));
        assert_eq!(parse_interval("500ms"), Some(500_000_000));
        assert_eq!(parse_interval("1d"), Some(1440 * M));
        for bad in ["", "m", "0m", "1", "1y", "-1m", "1 m", "99999999999999w"] {
            assert_eq!(parse_interval(bad), None, "{bad}");
        }
        let cfg = BarBuilderConfig {
            interval: "1x".into(),
            flat_empty_intervals: true,
            max_flat_bars_per_gap: 0,
        };
        let problems = cfg.validate("bars");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("bars.interval "), "{problems:?}");
        assert!(problems[1].starts_with("bars.max_flat_bars_per_gap "));
        let err = BarBuilder::new(&cfg, 0).unwrap_err();
        assert!(!err.is_recoverable());
        let text = err.to_string();
        assert!(
            text.contains("bars.interval") && text.contains("got 0"),
            "{text}"
        );
    }

    #[test]
    fn one_decision_counter_for_all_symbols_and_received_time_of_the_closing_trade() {
        let mut b = builder(2);
        let mut out = Vec::new();
        assert_eq!(b.lifecycle(), Lifecycle::Starting);
        b.on_trade(&trade(0, 10, 100.0), &mut out).unwrap();
        b.on_trade(&trade(1, 20, 50.0), &mut out).unwrap();
        b.on_trade(&trade(0, M + 1, 101.0), &mut out).unwrap(); // closes symbol 0's first bar
        b.on_trade(&trade(1, M + 2, 51.0), &mut out).unwrap(); // closes symbol 1's first bar
        b.on_trade(&trade(0, 2 * M, 102.0), &mut out).unwrap();
        assert_eq!(out.len(), 3);
        let ids: Vec<(SymbolId, u64)> = out.iter().map(|b| (b.symbol, b.decision.0)).collect();
        assert_eq!(ids, [(0, 1), (1, 2), (0, 3)]);
        assert_eq!(out[0].ts_exchange, M);
        assert_eq!(
            out[0].ts_received,
            M + 1 + 7,
            "received time of the closing trade"
        );
        assert_eq!(out[0].ohlcv.close(), 100.0);
        assert_eq!(out[2].ohlcv.start_ns(), M);
        assert_eq!(b.lifecycle(), Lifecycle::Running);
        // End of data: the partial bars, symbol order, stamped with the last trade's receipt.
        out.clear();
        b.flush(&mut out);
        let flushed: Vec<(SymbolId, u64, i64, i64)> = out
            .iter()
            .map(|b| (b.symbol, b.decision.0, b.ohlcv.start_ns(), b.ts_received))
            .collect();
        assert_eq!(flushed, [(0, 4, 2 * M, 2 * M + 7), (1, 5, M, M + 2 + 7)]);
        assert_eq!(b.next_decision(), DecisionId(6));
        assert_eq!(b.bars_emitted(), 5);
    }

    #[test]
    fn late_trades_are_counted_and_invalid_ones_rejected() {
        let mut b = builder(1);
        let mut out = Vec::new();
        b.on_trade(&trade(0, 5 * M, 100.0), &mut out).unwrap();
        assert_eq!(
            b.on_trade(&trade(0, 4 * M, 99.0), &mut out).unwrap(),
            Intake::Late
        );
        assert_eq!(b.late_trades(), 1);
        let err = b
            .on_trade(&trade(0, 5 * M, f64::NAN), &mut out)
            .unwrap_err();
        assert!(matches!(
            err,
            BarBuilderError::InvalidInput { symbol: 0, .. }
        ));
        assert!(err.is_recoverable());
        let err = b.on_trade(&trade(3, 5 * M, 1.0), &mut out).unwrap_err();
        assert_eq!(
            err,
            BarBuilderError::UnknownSymbol {
                symbol: 3,
                n_symbols: 1
            }
        );
        assert_eq!(b.rejected(), 1);
        assert!(out.is_empty());
    }

    #[test]
    fn klines_pass_through_and_late_or_duplicate_ones_are_dropped() {
        let mut b = builder(2);
        let mut out = Vec::new();
        assert_eq!(
            b.on_kline(0, kline(0, 1.0), 11, &mut out),
            Ok(Intake::Accepted)
        );
        assert_eq!(
            b.on_kline(1, kline(0, 2.0), 12, &mut out),
            Ok(Intake::Accepted)
        );
        assert_eq!(
            b.on_kline(0, kline(M, 3.0), 13, &mut out),
            Ok(Intake::Accepted)
        );
        // Duplicate and older bars of symbol 0 are dropped and consume no id.
        assert_eq!(b.on_kline(0, kline(M, 3.5), 14, &mut out), Ok(Intake::Late));
        assert_eq!(b.on_kline(0, kline(0, 4.0), 15, &mut out), Ok(Intake::Late));
        assert_eq!(
            b.on_kline(1, kline(2 * M, 5.0), 16, &mut out),
            Ok(Intake::Accepted)
        );
        assert_eq!(b.late_bars(), 2);
        let got: Vec<(SymbolId, u64, f64, i64, i64)> = out
            .iter()
            .map(|b| {
                (
                    b.symbol,
                    b.decision.0,
                    b.ohlcv.close(),
                    b.ts_exchange,
                    b.ts_received,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (0, 1, 1.0, M, 11),
                (1, 2, 2.0, M, 12),
                (0, 3, 3.0, 2 * M, 13),
                (1, 4, 5.0, 3 * M, 16)
            ]
        );
        // A 1h kline in a 1m run is an error, not a bar.
        let hour = strategies::bars::Bar::new_checked(BarParts {
            end_ns: 60 * M,
            ..kline(0, 1.0).parts()
        })
        .unwrap();
        let err = b.on_kline(0, hour, 0, &mut out).unwrap_err();
        assert!(
            matches!(err, BarBuilderError::IntervalMismatch { got_ns, .. } if got_ns == 60 * M)
        );
        assert!(err.to_string().contains("configured interval"), "{err}");
        // A trade-built bar that would not start after the last kline is late too.
        out.clear();
        b.on_trade(&trade(1, 2 * M + 5, 9.0), &mut out).unwrap();
        b.flush(&mut out);
        assert!(out.is_empty());
        assert_eq!(b.late_bars(), 3);
    }

    #[test]
    fn heartbeat_closes_bars_and_flat_bars_fill_gaps() {
        let cfg = BarBuilderConfig {
            flat_empty_intervals: true,
            ..BarBuilderConfig::default()
        };
        let mut b = BarBuilder::new(&cfg, 1).unwrap();
        let mut out = Vec::new();
        b.on_trade(&trade(0, 1, 100.0), &mut out).unwrap();
        b.advance_to(M - 1, 99, &mut out).unwrap();
        assert!(out.is_empty(), "the bar is still open");
        b.advance_to(3 * M + 5, 99, &mut out).unwrap();
        let got: Vec<(u64, i64, u64, i64)> = out
            .iter()
            .map(|b| {
                (
                    b.decision.0,
                    b.ohlcv.start_ns(),
                    b.ohlcv.trade_count(),
                    b.ts_received,
                )
            })
            .collect();
        assert_eq!(got, [(1, 0, 1, 99), (2, M, 0, 99), (3, 2 * M, 0, 99)]);
    }

    #[test]
    fn chunked_feeding_gives_identical_bars() {
        // Trades on 3 symbols with jitter; feed them in one go and in chunks of 7 with fresh
        // output buffers: identical bars and ids.
        let trades: Vec<Trade> = (0..2_000i64)
            .map(|k| {
                let symbol = SymbolId::try_from(k % 3).unwrap();
                let ts = k * 3_000_000_000 + (k * 7_919_000_017) % 90_000_000_000;
                trade(symbol, ts, 100.0 + ((k * 31) % 17) as f64)
            })
            .collect();
        let run = |chunk: usize| {
            let mut b = builder(3);
            let mut all = Vec::new();
            for c in trades.chunks(chunk) {
                let mut buf = Vec::new();
                for t in c {
                    b.on_trade(t, &mut buf).unwrap();
                }
                all.extend(buf);
            }
            b.flush(&mut all);
            (all, b.late_trades())
        };
        let (one, late_one) = run(trades.len());
        let (chunked, late_chunked) = run(7);
        assert!(one.len() > 90 && late_one > 0, "{} {late_one}", one.len());
        assert_eq!(one, chunked);
        assert_eq!(late_one, late_chunked);
        for w in one.windows(2) {
            assert_eq!(w[1].decision.0, w[0].decision.0 + 1);
        }
    }
}
