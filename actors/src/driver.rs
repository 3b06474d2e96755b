//! The driver: hands market events to a [`Pipeline`] and decides when a bar time is over, so
//! that [`Pipeline::end_of_time`] (the equity mark and the daily-loss / drawdown checks) runs at
//! the same place in the event sequence under both hosts.
//!
//! Owns the input vocabulary of the hosts ([`MarketEvent`]) and the one rule for closing a bar
//! time. It must not reorder, buffer or drop events (the replay host's merge and the live host's
//! queues do that), nor read a clock: every time it uses comes from the events.
//!
//! # When a bar time closes
//! * **Klines.** The time of a kline is its bar's start. The open kline time `T` closes (one
//!   `end_of_time(T, end)`) as soon as klines of every symbol of the run have been handled for
//!   `T`, or else just before the next event whose time is at or after `T`'s end and which is
//!   not itself a kline of `T`, or when the host says so ([`Driver::close_open_time`]: the live
//!   host's grace timeout, and [`Driver::finish`]). A kline older than the open time (a
//!   straggler) goes to the pipeline, which accepts or drops it as late, and opens no time.
//!   Because this rule looks only at the events handled so far, a host that feeds the same
//!   sequence gets the same record, whatever its pacing — which is what makes the live host's
//!   output equal the replay host's.
//! * **Trades.** Bars built from trades close inside the pipeline when a symbol's first trade of
//!   a later interval arrives. The driver follows the latest trade interval over all symbols:
//!   when a trade starts a later interval, it is handled first (closing its symbol's bar) and
//!   then the previous interval's time is closed. With several symbols, a bar that closes later
//!   (on its own symbol's next trade) is marked at the next close; a heartbeat that closes every
//!   symbol's bar at an interval boundary needs `Pipeline` to expose the bar builder's
//!   `advance_to`, which it does not yet.
//! * **Commands** close nothing by themselves (except, by the rule above, an open kline time
//!   whose end they are at or after).

use crate::clock::UnixNanos;
use crate::messages::{Command, MAX_SYMBOLS, SymbolId, Trade};
use crate::pipeline::{Pipeline, PipelineError, PipelineStats};
use crate::portfolio::RoundTrip;
use crate::recorder::Sink;

/// One input of a host: market data or an operator command, each with its event time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MarketEvent {
    /// A closed kline (bar) of one symbol.
    Kline {
        /// Symbol.
        symbol: SymbolId,
        /// The validated OHLCV values.
        ohlcv: strategies::bars::Bar,
        /// Local receive time (the bar's end in replay).
        ts_received: UnixNanos,
    },
    /// A trade print.
    Trade(Trade),
    /// An operator command.
    Command(Command),
}

impl From<Trade> for MarketEvent {
    fn from(t: Trade) -> Self {
        MarketEvent::Trade(t)
    }
}

impl From<Command> for MarketEvent {
    fn from(c: Command) -> Self {
        MarketEvent::Command(c)
    }
}

impl MarketEvent {
    /// The event time: a kline's end (when the bar became known at the exchange), a trade's
    /// exchange time, a command's time.
    #[must_use]
    pub fn ts(&self) -> UnixNanos {
        match self {
            MarketEvent::Kline { ohlcv, .. } => ohlcv.end_ns(),
            MarketEvent::Trade(t) => t.ts_exchange,
            MarketEvent::Command(c) => c.ts,
        }
    }

    /// Order among events of equal time in the replay merge: commands (0) before market data
    /// (1), so an operator's pause at `t` applies to the data stamped `t`.
    #[must_use]
    pub fn priority(&self) -> u8 {
        match self {
            MarketEvent::Command(_) => 0,
            MarketEvent::Kline { .. } | MarketEvent::Trade(_) => 1,
        }
    }

    /// Lower-case name of the variant (`kline`, `trade`, `command`), for messages.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            MarketEvent::Kline { .. } => "kline",
            MarketEvent::Trade(_) => "trade",
            MarketEvent::Command(_) => "command",
        }
    }
}

/// The kline time currently open: its start, end, and which symbols were seen.
#[derive(Debug, Clone, Copy)]
struct OpenTime {
    start: UnixNanos,
    end: UnixNanos,
    seen: u32,
}

/// A pipeline and the bar-time rule of the module docs.
pub struct Driver<S: Sink> {
    pipeline: Pipeline<S>,
    interval_ns: i64,
    n_symbols: usize,
    open: Option<OpenTime>,
    last_closed: Option<UnixNanos>,
    trade_interval: Option<UnixNanos>,
    closes: u64,
}

impl<S: Sink> Driver<S> {
    /// Drives `pipeline`, whose bars are `interval_ns` long and whose symbols are
    /// `0..n_symbols` (both as in the pipeline's config).
    ///
    /// # Errors
    /// [`PipelineError::Config`] when `interval_ns ≤ 0` or `n_symbols` is not in
    /// `1..=MAX_SYMBOLS`.
    pub fn new(
        pipeline: Pipeline<S>,
        interval_ns: i64,
        n_symbols: usize,
    ) -> Result<Self, PipelineError> {
        if interval_ns <= 0 || n_symbols == 0 || n_symbols > MAX_SYMBOLS {
            return Err(PipelineError::Config {
                actor: "driver",
                message: format!(
                    "interval {interval_ns} ns and {n_symbols} symbols; the interval must be \
                     > 0 and the symbols 1..={MAX_SYMBOLS}"
                ),
            });
        }
        Ok(Self {
            pipeline,
            interval_ns,
            n_symbols,
            open: None,
            last_closed: None,
            trade_interval: None,
            closes: 0,
        })
    }

    /// The pipeline.
    #[must_use]
    pub fn pipeline(&self) -> &Pipeline<S> {
        &self.pipeline
    }

    /// The pipeline, mutably (hosts split the regime stage off through it).
    pub(crate) fn pipeline_mut(&mut self) -> &mut Pipeline<S> {
        &mut self.pipeline
    }

    /// Bar times closed so far (calls of [`Pipeline::end_of_time`]).
    #[must_use]
    pub fn closes(&self) -> u64 {
        self.closes
    }

    /// True while a kline time is open (some of its symbols may still come).
    #[must_use]
    pub fn has_open_time(&self) -> bool {
        self.open.is_some()
    }

    /// Handles one event (see the module docs for when it also closes a bar time).
    ///
    /// # Errors
    /// The pipeline's error (a refused input, a sink failure).
    pub fn handle(&mut self, event: &MarketEvent) -> Result<(), PipelineError> {
        if let Some(open) = self.open {
            let same_time =
                matches!(event, MarketEvent::Kline { ohlcv, .. } if ohlcv.start_ns() == open.start);
            if !same_time && event.ts() >= open.end {
                self.close_open_time()?;
            }
        }
        match *event {
            MarketEvent::Kline {
                symbol,
                ohlcv,
                ts_received,
            } => self.on_kline(symbol, ohlcv, ts_received),
            MarketEvent::Trade(ref t) => self.on_trade(t),
            MarketEvent::Command(ref c) => self.pipeline.on_command(c),
        }
    }

    fn on_kline(
        &mut self,
        symbol: SymbolId,
        ohlcv: strategies::bars::Bar,
        ts_received: UnixNanos,
    ) -> Result<(), PipelineError> {
        let start = ohlcv.start_ns();
        let newer = match (self.open, self.last_closed) {
            (Some(open), _) => start > open.start,
            (None, Some(closed)) => start > closed,
            (None, None) => true,
        };
        if newer {
            // A later time: whatever was open is over (reached only when the kline's end did
            // not already close it above, e.g. a bar shorter than the interval — refused below).
            self.close_open_time()?;
        }
        self.pipeline.on_kline(symbol, ohlcv, ts_received)?;
        if newer {
            self.open = Some(OpenTime {
                start,
                end: ohlcv.end_ns(),
                seen: 0,
            });
        }
        if let Some(open) = self.open.as_mut().filter(|o| o.start == start) {
            open.seen |= 1u32.checked_shl(u32::from(symbol)).unwrap_or(0);
            if open.seen.count_ones() as usize >= self.n_symbols {
                self.close_open_time()?;
            }
        }
        Ok(())
    }

    fn on_trade(&mut self, trade: &Trade) -> Result<(), PipelineError> {
        let interval = trade.ts_exchange.div_euclid(self.interval_ns) * self.interval_ns;
        self.pipeline.on_trade(trade)?;
        match self.trade_interval {
            None => self.trade_interval = Some(interval),
            Some(previous) if interval > previous => {
                self.trade_interval = Some(interval);
                self.closes += 1;
                self.pipeline
                    .end_of_time(previous, previous.saturating_add(self.interval_ns))?;
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Closes the open kline time now, if there is one; returns whether it did.
    ///
    /// # Errors
    /// A sink failure.
    pub fn close_open_time(&mut self) -> Result<bool, PipelineError> {
        let Some(open) = self.open.take() else {
            return Ok(false);
        };
        self.last_closed = Some(open.start);
        self.closes += 1;
        self.pipeline.end_of_time(open.start, open.end)?;
        Ok(true)
    }

    /// Ends the run: closes the open kline time, then [`Pipeline::finish`]. The interval of the
    /// last trades stays open (its bars were never closed by a later trade).
    ///
    /// # Errors
    /// A sink failure.
    pub fn finish(mut self) -> Result<(S, Vec<RoundTrip>, PipelineStats), PipelineError> {
        self.close_open_time()?;
        self.pipeline.finish()
    }
}
