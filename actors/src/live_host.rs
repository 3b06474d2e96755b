//! The live host: runs the same [`Pipeline`] and [`Driver`] as the replay host, concurrently,
//! between bounded lock-free queues.
//!
//! Owns the threads, the queues, their full-queue policies, the depth metrics and the shutdown
//! order. It must not interpret events (the driver and the actors do), do network IO (feeds push
//! through [`LiveFeed`]), nor read the wall clock (time comes from the [`Clock`] passed in).
//!
//! # Threads and queues
//! ```text
//! feed thread(s) ──LiveFeed::push──> [inbound: bounded, MarketEvent] ──┐
//! operator ──LiveHost::command────> [control: bounded, Command]  ──────┴─> engine thread
//!                                                           (Driver → Pipeline<ChannelSink>)
//!                                                                            │ try_send
//!                                 real sink <── recorder thread <── [recorder: bounded, Sequenced]
//! ```
//! * **Engine** (one thread) owns the pipeline and handles one event at a time; a command
//!   waiting on the control queue is taken before the next market event. Nothing on its path
//!   allocates per message (the messages are `Copy`, the queues are preallocated arrays, the
//!   pipeline reuses its buffers), takes a lock, or waits on the recorder.
//! * **Recorder** (one thread) owns the real [`Sink`] (files, Delta tables) and writes every
//!   recorded event in sequence order; a slow sink delays only this thread.
//! * All three queues are `crossbeam_channel::bounded` (array-backed, lock-free on the fast
//!   path). The engine blocks only when it has nothing to do, on the two inbound queues; with
//!   [`LiveConfig::spin_polls`] it first polls them that many times, so it is awake when the
//!   next event comes (the wake-up of a blocked thread costs tens of µs on a VM).
//! * **Latency.** The engine notes the `ts_received` of the market event it handles; every
//!   order that event causes is timed against the host clock when the engine hands it to the
//!   recorder queue, into a preallocated hdrhistogram ([`LiveReport::tick_to_order`]).
//! * **Regime refits** run inline on the engine thread unless `regime.refit_lag_bars` moves
//!   them to the detector's fitter thread (in use that many bars later; the same records as
//!   the replay host either way).
//!
//! # When a queue is full
//! * **Inbound (market data) — drop and halt.** The feed never blocks (it would stall the
//!   exchange socket and make every later event stale): [`LiveFeed::push`] uses `try_send`;
//!   on a full queue the event is dropped, counted ([`LiveMetrics::inbound_dropped`]), the
//!   push returns [`FeedError::Overflow`], and an overflow flag is raised. The engine checks the
//!   flag before every event it takes, so no event received after a drop is handled before it
//!   injects a [`CommandKind::Pause`] stamped by the clock: the pipeline records the command and
//!   the risk manager's `Halted` event, and no new entry is sent until an operator resumes
//!   (a gap in the data is stale data). Each injection is counted
//!   ([`LiveMetrics::pauses_injected`]).
//! * **Recorder — halt.** The pipeline's sink is a [`ChannelSink`] that `try_send`s a copy of
//!   every [`Sequenced`] event. A full queue (or a recorder that stopped) must not lose a
//!   record silently, and the engine must not wait: the sink marks itself failed and returns a
//!   [`SinkError`], the pipeline stops with [`PipelineError::Sink`], the engine becomes
//!   [`Lifecycle::Faulted`] and stops taking input, feeds get [`FeedError::Stopped`], and
//!   [`LiveHost::shutdown`] returns the error after the recorder has written and flushed
//!   everything queued before the halt.
//! * **Control — refuse.** [`LiveHost::command`] never blocks either; a full control queue is
//!   reported to the operator ([`LiveError::ControlFull`]).
//!
//! Bad input from the exchange (a trade or kline the bar builder refuses) is skipped and
//! counted ([`LiveMetrics::inputs_skipped`]) — the replay host stops on it instead, since a
//! backtest must not skip data. Any other pipeline error faults the engine.
//!
//! # Bar times
//! The engine drives the pipeline through the same [`Driver`] as the replay host, so the same
//! event sequence gives the same record. One addition: a kline time still open after
//! [`LiveConfig::kline_grace`] without any input (some symbol's kline did not come) is closed
//! by the timeout, so the equity mark and the loss checks are not held back until the next bar.
//!
//! # Shutdown order
//! [`LiveHost::shutdown`]: (1) stop the feed — every [`LiveFeed`] refuses further events with
//! [`FeedError::Stopped`]; (2) the engine drains the inbound queue, handling every event
//! already queued; (3) it finishes the pipeline (closes the open bar time, counts orders that
//! never filled, flushes) and drops its end of the recorder queue; (4) the recorder writes what
//! is left, flushes the real sink and hands it back. The host joins the engine, then the
//! recorder, and returns the sink, the round trips and the final metrics. Dropping every
//! [`LiveFeed`] (all feeds gone) or the [`LiveHost`] also stops the engine in this order.
//!
//! # Why the recorder is a plain thread and not an actix actor
//! The design card names actix for supervised actors. The recorder was written as a plain
//! thread because actix 0.13 does not fit this seam:
//! 1. **Allocation per message.** `Addr::try_send`/`do_send` box every message into an
//!    `Envelope` (`Box<dyn EnvelopeProxy>`, actix `address/envelope.rs`) and push it onto an
//!    intrusive MPSC queue that allocates a node per message (`address/queue.rs`): two heap
//!    allocations per recorded event on the engine thread. Batching on the engine would need a
//!    fresh `Vec` per batch, or a second queue to recycle buffers.
//! 2. **The bound is soft.** `Addr::try_send` accepts the message that reaches the mailbox
//!    capacity and parks the sender (futures-mpsc semantics, with a `parking_lot::Mutex` on the
//!    parked path); `do_send` ignores the capacity. A stated full-queue policy would have to be
//!    rebuilt on top of it.
//! 3. **Blocking IO.** Sinks write files and tables synchronously; in an actix arbiter that
//!    blocks the event loop, so the actor would have to run under `SyncArbiter`, whose queue is
//!    an unbounded crossbeam channel (actix `sync.rs`) — ruled out by the bounded-queue rule.
//! 4. **Supervision does not match the policy.** `Supervised::restarting` restarts the same
//!    actor value after it stops. For a sink whose write failed, that either retries the write
//!    (the recorder loop can do that itself) or carries on past lost records; the policy is to
//!    halt the engine, which a closed bounded channel expresses directly.
//!
//! Actix stays a candidate for the operator-facing actors (WebSocket sessions, subscriptions),
//! where addresses and restarts fit and the hot-path rules do not apply.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Select, Sender, TryRecvError, TrySendError};
use hdrhistogram::Histogram;

use crate::bar_builder::parse_interval;
use crate::clock::Clock;
use crate::driver::{Driver, MarketEvent};
use crate::exact::InstrumentFilters;
use crate::lifecycle::Lifecycle;
use crate::messages::{Command, CommandKind, Event, Sequenced};
use crate::pipeline::{Pipeline, PipelineConfig, PipelineError, PipelineStats};
use crate::portfolio::RoundTrip;
use crate::recorder::{Recorder, Sink, SinkError};

/// Largest capacity of one queue (events are ~200 bytes; 2²⁴ of them is ~3 GB).
pub const MAX_QUEUE_CAPACITY: usize = 1 << 24;

/// Most polls the engine may spin before blocking (a few seconds).
pub const MAX_SPIN_POLLS: u32 = 100_000_000;

/// Queue sizes and timeouts of the live host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveConfig {
    /// Market events the inbound queue holds (default 65 536).
    pub inbound_capacity: usize,
    /// Commands the control queue holds (default 64).
    pub control_capacity: usize,
    /// Recorded events the recorder queue holds (default 262 144: every trade is recorded, and
    /// one decision adds about ten events).
    pub recorder_capacity: usize,
    /// How long an open kline time waits for its missing symbols when no input arrives
    /// (default 500 ms).
    pub kline_grace: Duration,
    /// Polls of the queues the engine makes, spinning, before it blocks when it finds nothing
    /// (default 0: block at once). A spinning engine is awake when the next event comes, which
    /// takes the thread wake-up (tens of µs on a VM) off the tick-to-order latency, at the cost
    /// of a core while it spins; one poll takes roughly 20–50 ns.
    pub spin_polls: u32,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            inbound_capacity: 1 << 16,
            control_capacity: 64,
            recorder_capacity: 1 << 18,
            kline_grace: Duration::from_millis(500),
            spin_polls: 0,
        }
    }
}

impl LiveConfig {
    /// Every problem, each named by its field.
    #[must_use]
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        for (name, v) in [
            ("inbound_capacity", self.inbound_capacity),
            ("control_capacity", self.control_capacity),
            ("recorder_capacity", self.recorder_capacity),
        ] {
            if !(1..=MAX_QUEUE_CAPACITY).contains(&v) {
                p.push(format!(
                    "live.{name} must be in 1..={MAX_QUEUE_CAPACITY}, got {v}"
                ));
            }
        }
        if self.kline_grace.is_zero() {
            p.push("live.kline_grace must be > 0".to_owned());
        }
        if self.spin_polls > MAX_SPIN_POLLS {
            p.push(format!(
                "live.spin_polls must be at most {MAX_SPIN_POLLS}, got {}",
                self.spin_polls
            ));
        }
        p
    }
}

/// The live host failed or was used after it stopped.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The live or pipeline configuration is invalid (not recoverable: fix the config).
    #[error("live host config: {message}")]
    Config {
        /// Every problem.
        message: String,
    },
    /// A thread could not be started.
    #[error("live host: starting the {thread} thread: {message}")]
    Spawn {
        /// Which thread.
        thread: &'static str,
        /// The OS error.
        message: String,
    },
    /// The engine stopped on a pipeline error (a halt: trading stopped, records up to the
    /// halt were written). Includes the recorder queue overflowing.
    #[error("live host: engine halted after {recorded} recorded events: {source}")]
    Engine {
        /// Events the recorder wrote before the halt.
        recorded: u64,
        /// The pipeline's error.
        source: PipelineError,
    },
    /// The real sink failed; the engine was halted.
    #[error("live host: recorder failed after {recorded} recorded events: {source}")]
    Recorder {
        /// Events written before the failure.
        recorded: u64,
        /// The sink's error.
        source: SinkError,
    },
    /// A host thread panicked (a bug).
    #[error("live host: the {thread} thread panicked")]
    Panicked {
        /// Which thread.
        thread: &'static str,
    },
    /// The control queue is full; the command was not sent (recoverable: retry).
    #[error("live host: control queue full ({capacity} commands); {kind:?} not sent")]
    ControlFull {
        /// Queue capacity.
        capacity: usize,
        /// The refused command.
        kind: CommandKind,
    },
    /// The engine has stopped; the command was not sent.
    #[error("live host: engine stopped; {kind:?} not sent")]
    Stopped {
        /// The refused command.
        kind: CommandKind,
    },
}

/// Why a feed's event was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The inbound queue was full: the event was dropped, counted, and the engine will pause
    /// new orders before it handles anything received later.
    #[error("live feed: inbound queue full ({capacity} events): event dropped, trading paused")]
    Overflow {
        /// Queue capacity.
        capacity: usize,
    },
    /// The host is shutting down or the engine stopped; stop feeding.
    #[error("live feed: the engine is stopped")]
    Stopped,
}

/// State shared by the threads and handles: flags and counters, all atomics.
#[derive(Debug)]
struct Shared {
    lifecycle: AtomicU8,
    closed: AtomicBool,
    overflow: AtomicBool,
    pushed: AtomicU64,
    taken: AtomicU64,
    dropped: AtomicU64,
    pauses: AtomicU64,
    skipped: AtomicU64,
    inbound_max: AtomicU64,
    sent: AtomicU64,
    recorded: AtomicU64,
    recorder_max: AtomicU64,
    unhandled: AtomicU64,
    /// `ts_received` of the market event the engine is handling ([`NOT_MARKET`] otherwise).
    entered: AtomicI64,
    inbound_capacity: usize,
    recorder_capacity: usize,
}

/// [`Shared::entered`] while the engine handles no market event.
const NOT_MARKET: i64 = i64::MIN;

const LIFECYCLES: [Lifecycle; 6] = [
    Lifecycle::Starting,
    Lifecycle::Running,
    Lifecycle::Degraded,
    Lifecycle::Stopping,
    Lifecycle::Stopped,
    Lifecycle::Faulted,
];

impl Shared {
    fn set_lifecycle(&self, l: Lifecycle) {
        let i = LIFECYCLES.iter().position(|&x| x == l).unwrap_or(5);
        self.lifecycle.store(i as u8, Ordering::Release);
    }

    fn lifecycle(&self) -> Lifecycle {
        LIFECYCLES
            .get(usize::from(self.lifecycle.load(Ordering::Acquire)))
            .copied()
            .unwrap_or(Lifecycle::Faulted)
    }
}

/// A snapshot of the host's queues and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveMetrics {
    /// Engine lifecycle.
    pub lifecycle: Lifecycle,
    /// Events in the inbound queue now.
    pub inbound_depth: u64,
    /// Most events the inbound queue held.
    pub inbound_max_depth: u64,
    /// Inbound capacity.
    pub inbound_capacity: usize,
    /// Events queued by feeds.
    pub inbound_pushed: u64,
    /// Events dropped on a full inbound queue.
    pub inbound_dropped: u64,
    /// Pause commands injected after drops.
    pub pauses_injected: u64,
    /// Events the engine took from the inbound queue.
    pub events_handled: u64,
    /// Events the bar builder refused and the engine skipped.
    pub inputs_skipped: u64,
    /// Events queued but not handled at shutdown (a push racing the stop); 0 normally.
    pub unhandled_at_shutdown: u64,
    /// Events in the recorder queue now.
    pub recorder_depth: u64,
    /// Most events the recorder queue held.
    pub recorder_max_depth: u64,
    /// Recorder capacity.
    pub recorder_capacity: usize,
    /// Events the engine sent to the recorder.
    pub recorder_sent: u64,
    /// Events the recorder wrote into the real sink.
    pub recorded: u64,
}

impl Shared {
    fn snapshot(&self) -> LiveMetrics {
        let load = |a: &AtomicU64| a.load(Ordering::Acquire);
        let (pushed, taken, sent, recorded) = (
            load(&self.pushed),
            load(&self.taken),
            load(&self.sent),
            load(&self.recorded),
        );
        LiveMetrics {
            lifecycle: self.lifecycle(),
            inbound_depth: pushed.saturating_sub(taken),
            inbound_max_depth: load(&self.inbound_max),
            inbound_capacity: self.inbound_capacity,
            inbound_pushed: pushed,
            inbound_dropped: load(&self.dropped),
            pauses_injected: load(&self.pauses),
            events_handled: taken,
            inputs_skipped: load(&self.skipped),
            unhandled_at_shutdown: load(&self.unhandled),
            recorder_depth: sent.saturating_sub(recorded),
            recorder_max_depth: load(&self.recorder_max),
            recorder_capacity: self.recorder_capacity,
            recorder_sent: sent,
            recorded,
        }
    }
}

/// What the recorder queue carries.
#[derive(Debug, Clone, Copy)]
enum ToRecorder {
    /// One recorded event.
    Event(Sequenced),
    /// Flush the real sink.
    Flush,
}

/// The pipeline's sink in the live host: copies every event into the bounded recorder queue
/// without blocking; a full queue halts (see the module docs).
pub struct ChannelSink {
    tx: Sender<ToRecorder>,
    shared: Arc<Shared>,
    failed: bool,
    clock: Arc<dyn Clock>,
    /// Tick-to-order latency in clock nanoseconds (see [`LiveReport::tick_to_order`]).
    tick_to_order: Histogram<u64>,
}

impl std::fmt::Debug for ChannelSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChannelSink")
    }
}

impl ChannelSink {
    fn send(&mut self, msg: ToRecorder, seq: u64) -> Result<(), SinkError> {
        if self.failed {
            return Err(SinkError {
                sink: "live recorder queue",
                message: format!("halted earlier; event {seq} not recorded"),
            });
        }
        match self.tx.try_send(msg) {
            Ok(()) => {
                if matches!(msg, ToRecorder::Event(_)) {
                    self.shared.sent.fetch_add(1, Ordering::AcqRel);
                }
                self.shared
                    .recorder_max
                    .fetch_max(self.tx.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                let why = match e {
                    TrySendError::Full(_) => format!(
                        "queue full ({} events) at event {seq}: halting rather than dropping \
                         records",
                        self.shared.recorder_capacity
                    ),
                    TrySendError::Disconnected(_) => {
                        format!("the recorder stopped; event {seq} not recorded: halting")
                    }
                };
                Err(SinkError {
                    sink: "live recorder queue",
                    message: why,
                })
            }
        }
    }
}

impl Sink for ChannelSink {
    fn record(&mut self, event: &Sequenced) -> Result<(), SinkError> {
        self.send(ToRecorder::Event(*event), event.seq)?;
        if matches!(event.event, Event::Order(_)) {
            let entered = self.shared.entered.load(Ordering::Relaxed);
            if entered != NOT_MARKET {
                let ns = self.clock.now_ns().saturating_sub(entered).max(1);
                self.tick_to_order
                    .saturating_record(u64::try_from(ns).unwrap_or(u64::MAX));
            }
        }
        Ok(())
    }

    /// Asks the recorder thread to flush the real sink (it flushes again when it stops).
    fn flush(&mut self) -> Result<(), SinkError> {
        let seq = self.shared.sent.load(Ordering::Acquire);
        self.send(ToRecorder::Flush, seq)
    }
}

/// A feed's handle: queues market events for the engine without blocking. Clone one per
/// feed thread.
#[derive(Debug, Clone)]
pub struct LiveFeed {
    tx: Sender<MarketEvent>,
    shared: Arc<Shared>,
}

impl LiveFeed {
    /// Queues `event`.
    ///
    /// # Errors
    /// [`FeedError::Overflow`] when the queue is full (the event is dropped and trading is
    /// paused, see the module docs); [`FeedError::Stopped`] once the host stops.
    #[inline]
    pub fn push(&self, event: MarketEvent) -> Result<(), FeedError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(FeedError::Stopped);
        }
        match self.tx.try_send(event) {
            Ok(()) => {
                self.shared.pushed.fetch_add(1, Ordering::AcqRel);
                self.shared
                    .inbound_max
                    .fetch_max(self.tx.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::AcqRel);
                self.shared.overflow.store(true, Ordering::Release);
                Err(FeedError::Overflow {
                    capacity: self.shared.inbound_capacity,
                })
            }
            Err(TrySendError::Disconnected(_)) => Err(FeedError::Stopped),
        }
    }

    /// Events in the inbound queue now.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.tx.len()
    }
}

type EngineResult = Result<(Vec<RoundTrip>, PipelineStats, Histogram<u64>), PipelineError>;
type RecorderResult<R> = (R, Result<(), SinkError>);

/// What [`LiveHost::shutdown`] returns.
#[derive(Debug)]
pub struct LiveReport<R> {
    /// The real sink, flushed.
    pub sink: R,
    /// Every round trip (open positions closed at the last price as `end`).
    pub round_trips: Vec<RoundTrip>,
    /// The pipeline's counters.
    pub stats: PipelineStats,
    /// Final queue metrics.
    pub metrics: LiveMetrics,
    /// Tick-to-order latency: for every order, the host clock's time when the engine handed
    /// it to the recorder queue (the order leaving the engine) minus the `ts_received` of the
    /// market event whose handling produced it (the event entering the host), in nanoseconds
    /// (values below 1 are recorded as 1). Meaningful with a real clock; orders caused by
    /// commands or timeouts are not counted.
    pub tick_to_order: Histogram<u64>,
}

/// The running live host: an engine thread and a recorder thread (see the module docs).
pub struct LiveHost<R: Sink + Send + 'static> {
    control: Sender<Command>,
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    config: LiveConfig,
    engine: Option<JoinHandle<EngineResult>>,
    recorder: Option<JoinHandle<RecorderResult<R>>>,
}

impl<R: Sink + Send + 'static> LiveHost<R> {
    /// Builds the pipeline of `pipeline` (its records go to `sink` through the recorder
    /// thread), starts the engine and recorder threads, and returns the host and the first
    /// feed handle.
    ///
    /// # Errors
    /// [`LiveError::Config`] for an invalid live or pipeline config; [`LiveError::Spawn`] when
    /// a thread cannot start.
    pub fn start(
        pipeline: PipelineConfig,
        filters: &[InstrumentFilters],
        config: LiveConfig,
        clock: Arc<dyn Clock>,
        sink: R,
    ) -> Result<(Self, LiveFeed), LiveError> {
        Self::start_held(pipeline, filters, config, clock, sink, None)
    }

    /// As [`LiveHost::start`]; with `hold`, the engine waits for a message (or the sender's
    /// drop) on it before taking any input (tests fill the inbound queue deterministically).
    fn start_held(
        pipeline: PipelineConfig,
        filters: &[InstrumentFilters],
        config: LiveConfig,
        clock: Arc<dyn Clock>,
        sink: R,
        hold: Option<Receiver<()>>,
    ) -> Result<(Self, LiveFeed), LiveError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(LiveError::Config {
                message: problems.join("; "),
            });
        }
        let interval_ns = parse_interval(&pipeline.interval).ok_or_else(|| LiveError::Config {
            message: format!("interval {:?} does not parse", pipeline.interval),
        })?;
        let shared = Arc::new(Shared {
            lifecycle: AtomicU8::new(0),
            closed: AtomicBool::new(false),
            overflow: AtomicBool::new(false),
            pushed: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            pauses: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            inbound_max: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            recorded: AtomicU64::new(0),
            recorder_max: AtomicU64::new(0),
            unhandled: AtomicU64::new(0),
            entered: AtomicI64::new(NOT_MARKET),
            inbound_capacity: config.inbound_capacity,
            recorder_capacity: config.recorder_capacity,
        });
        let (in_tx, in_rx) = crossbeam_channel::bounded(config.inbound_capacity);
        let (ctl_tx, ctl_rx) = crossbeam_channel::bounded(config.control_capacity);
        let (rec_tx, rec_rx) = crossbeam_channel::bounded(config.recorder_capacity);
        let n_symbols = pipeline.n_symbols;
        let tick_to_order =
            Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| LiveError::Config {
                message: format!("latency histogram: {e}"),
            })?;
        let channel_sink = ChannelSink {
            tx: rec_tx,
            shared: Arc::clone(&shared),
            failed: false,
            clock: Arc::clone(&clock),
            tick_to_order,
        };
        let config_err = |e: PipelineError| LiveError::Config {
            message: e.to_string(),
        };
        let pipeline =
            Pipeline::new(pipeline, filters, Recorder::new(channel_sink)).map_err(config_err)?;
        let driver = Driver::new(pipeline, interval_ns, n_symbols).map_err(config_err)?;

        let rec_shared = Arc::clone(&shared);
        let recorder = std::thread::Builder::new()
            .name("hermes-recorder".into())
            .spawn(move || record_loop(&rec_rx, sink, &rec_shared))
            .map_err(|e| LiveError::Spawn {
                thread: "recorder",
                message: e.to_string(),
            })?;
        let engine = Engine {
            driver,
            inbound: in_rx,
            control: ctl_rx,
            shared: Arc::clone(&shared),
            clock: Arc::clone(&clock),
            grace: config.kline_grace,
            spin_polls: config.spin_polls,
        };
        let engine = std::thread::Builder::new()
            .name("hermes-engine".into())
            .spawn(move || {
                if let Some(h) = hold {
                    let _ = h.recv();
                }
                engine.run()
            })
            .map_err(|e| LiveError::Spawn {
                thread: "engine",
                message: e.to_string(),
            })?;
        let feed = LiveFeed {
            tx: in_tx,
            shared: Arc::clone(&shared),
        };
        Ok((
            Self {
                control: ctl_tx,
                shared,
                clock,
                config,
                engine: Some(engine),
                recorder: Some(recorder),
            },
            feed,
        ))
    }

    /// Sends an operator command, stamped by the clock; it is handled before the next market
    /// event the engine takes.
    ///
    /// # Errors
    /// [`LiveError::ControlFull`] or [`LiveError::Stopped`]; the command was not sent.
    pub fn command(&self, kind: CommandKind) -> Result<(), LiveError> {
        let c = Command {
            ts: self.clock.now_ns(),
            kind,
        };
        self.control.try_send(c).map_err(|e| match e {
            TrySendError::Full(_) => LiveError::ControlFull {
                capacity: self.config.control_capacity,
                kind,
            },
            TrySendError::Disconnected(_) => LiveError::Stopped { kind },
        })
    }

    /// The queues and counters now.
    #[must_use]
    pub fn metrics(&self) -> LiveMetrics {
        self.shared.snapshot()
    }

    /// The engine's lifecycle.
    #[must_use]
    pub fn lifecycle(&self) -> Lifecycle {
        self.shared.lifecycle()
    }

    /// Stops in the documented order (feed, drain, finish, recorder flush) and returns the
    /// flushed sink, the round trips, the counters and the final metrics.
    ///
    /// # Errors
    /// [`LiveError::Recorder`] when the real sink failed, else [`LiveError::Engine`] when the
    /// engine halted on an error, [`LiveError::Panicked`] for a panicked thread.
    pub fn shutdown(self) -> Result<LiveReport<R>, LiveError> {
        let Self {
            control,
            shared,
            mut engine,
            mut recorder,
            ..
        } = self;
        // (1) Stop the feed.
        shared.closed.store(true, Ordering::Release);
        if !matches!(shared.lifecycle(), Lifecycle::Faulted) {
            shared.set_lifecycle(Lifecycle::Stopping);
        }
        // (2)–(3) Closing the control queue is the stop request: the engine handles the
        // commands still queued, drains the inbound queue, finishes and drops the recorder
        // queue.
        drop(control);
        let engine = engine
            .take()
            .map(JoinHandle::join)
            .ok_or(LiveError::Panicked { thread: "engine" })?
            .map_err(|_| LiveError::Panicked { thread: "engine" });
        // (4) The recorder writes what is left and flushes.
        let recorder = recorder
            .take()
            .map(JoinHandle::join)
            .ok_or(LiveError::Panicked { thread: "recorder" })?
            .map_err(|_| LiveError::Panicked { thread: "recorder" });
        let metrics = shared.snapshot();
        let (sink, written) = recorder?;
        let engine = engine?;
        written.map_err(|source| LiveError::Recorder {
            recorded: metrics.recorded,
            source,
        })?;
        let (round_trips, stats, tick_to_order) = engine.map_err(|source| LiveError::Engine {
            recorded: metrics.recorded,
            source,
        })?;
        Ok(LiveReport {
            sink,
            round_trips,
            stats,
            metrics,
            tick_to_order,
        })
    }
}

/// What a spin found.
enum Spun {
    Event(MarketEvent),
    Control,
    Closed,
    Nothing,
}

/// The engine thread's state.
struct Engine {
    driver: Driver<ChannelSink>,
    inbound: Receiver<MarketEvent>,
    control: Receiver<Command>,
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    grace: Duration,
    spin_polls: u32,
}

/// How long the engine sleeps with nothing open and nothing to do; it wakes earlier on any
/// input (only bounds the wait).
const IDLE_WAIT: Duration = Duration::from_secs(3_600);

impl Engine {
    fn run(mut self) -> EngineResult {
        self.shared.set_lifecycle(Lifecycle::Running);
        let served = self.serve().and_then(|()| self.drain());
        let Engine {
            driver,
            inbound,
            shared,
            ..
        } = self;
        // (3) Finish; dropping the returned sink closes the recorder queue.
        let r = served.and_then(|()| {
            let (sink, trips, stats) = driver.finish()?;
            // Dropping the sink closes the recorder queue.
            let ChannelSink { tick_to_order, .. } = sink;
            Ok((trips, stats, tick_to_order))
        });
        shared.closed.store(true, Ordering::Release);
        match &r {
            Ok(_) => {
                let left = inbound.try_iter().count() as u64;
                shared.unhandled.store(left, Ordering::Release);
                shared.set_lifecycle(Lifecycle::Stopped);
            }
            Err(_) => shared.set_lifecycle(Lifecycle::Faulted),
        }
        r
    }

    /// (2) Handles every event still queued. The feed is closed, so this ends within the
    /// queue's capacity (plus pushes that raced the stop).
    fn drain(&mut self) -> Result<(), PipelineError> {
        while let Ok(e) = self.inbound.try_recv() {
            self.take(&e)?;
        }
        Ok(())
    }

    /// Handles input until the control queue closes (the stop request), every feed is gone, or
    /// an error.
    fn serve(&mut self) -> Result<(), PipelineError> {
        let inbound = self.inbound.clone();
        let control = self.control.clone();
        let mut select = Select::new();
        let ctl_op = select.recv(&control);
        let in_op = select.recv(&inbound);
        loop {
            // Commands first.
            match control.try_recv() {
                Ok(c) => {
                    self.driver.handle(&MarketEvent::Command(c))?;
                    continue;
                }
                Err(TryRecvError::Disconnected) => return Ok(()),
                Err(TryRecvError::Empty) => {}
            }
            if self.spin_polls > 0 {
                match self.spin(&inbound, &control) {
                    Spun::Event(e) => {
                        self.take(&e)?;
                        continue;
                    }
                    Spun::Control => continue,
                    Spun::Closed => return Ok(()),
                    Spun::Nothing => {}
                }
            }
            let wait = if self.driver.has_open_time() {
                self.grace
            } else {
                IDLE_WAIT
            };
            match select.ready_timeout(wait) {
                Ok(i) if i == in_op => match inbound.try_recv() {
                    Ok(e) => self.take(&e)?,
                    Err(TryRecvError::Disconnected) => return Ok(()),
                    Err(TryRecvError::Empty) => {}
                },
                Ok(i) => debug_assert_eq!(i, ctl_op),
                Err(_) => {
                    if self.driver.has_open_time() {
                        self.check_overflow()?;
                        self.driver.close_open_time()?;
                    }
                }
            }
        }
    }

    /// Polls both queues up to `spin_polls` times without blocking.
    fn spin(&self, inbound: &Receiver<MarketEvent>, control: &Receiver<Command>) -> Spun {
        for _ in 0..self.spin_polls {
            match inbound.try_recv() {
                Ok(e) => return Spun::Event(e),
                Err(TryRecvError::Disconnected) => return Spun::Closed,
                Err(TryRecvError::Empty) => {}
            }
            if !control.is_empty() {
                return Spun::Control;
            }
            std::hint::spin_loop();
        }
        Spun::Nothing
    }

    /// Injects a pause when a feed dropped an event since the last check.
    fn check_overflow(&mut self) -> Result<(), PipelineError> {
        if self.shared.overflow.swap(false, Ordering::AcqRel) {
            self.shared.pauses.fetch_add(1, Ordering::AcqRel);
            let pause = Command {
                ts: self.clock.now_ns(),
                kind: CommandKind::Pause,
            };
            self.driver.handle(&MarketEvent::Command(pause))?;
        }
        Ok(())
    }

    /// One event from the inbound queue.
    fn take(&mut self, event: &MarketEvent) -> Result<(), PipelineError> {
        self.shared.taken.fetch_add(1, Ordering::AcqRel);
        self.check_overflow()?;
        let entered = match event {
            MarketEvent::Trade(t) => t.ts_received,
            MarketEvent::Kline { ts_received, .. } => *ts_received,
            MarketEvent::Command(_) => NOT_MARKET,
        };
        self.shared.entered.store(entered, Ordering::Relaxed);
        let handled = self.driver.handle(event);
        self.shared.entered.store(NOT_MARKET, Ordering::Relaxed);
        match handled {
            Err(PipelineError::Input {
                actor: "bar_builder",
                ..
            }) => {
                self.shared.skipped.fetch_add(1, Ordering::AcqRel);
                Ok(())
            }
            r => r,
        }
    }
}

/// The recorder thread: writes every event in order into the real sink until the engine drops
/// its end of the queue, then flushes. On a sink error it stops at once (dropping its end, so
/// the engine's next record fails and the engine halts).
fn record_loop<R: Sink>(
    rx: &Receiver<ToRecorder>,
    mut sink: R,
    shared: &Shared,
) -> RecorderResult<R> {
    while let Ok(msg) = rx.recv() {
        let r = match msg {
            ToRecorder::Event(e) => sink.record(&e).map(|()| {
                shared.recorded.fetch_add(1, Ordering::AcqRel);
            }),
            ToRecorder::Flush => sink.flush(),
        };
        if let Err(e) = r {
            return (sink, Err(e));
        }
    }
    let r = sink.flush();
    (sink, r)
}

#[cfg(test)]
mod tests;
