//! The deterministic replay host: merges several time-ordered [`MarketSource`]s into one event
//! sequence and drives a [`Pipeline`] with it through the shared [`Driver`], on the caller's
//! thread, with no queue, no thread and no wall clock.
//!
//! Owns the merge and the replay clock. It must not interpret events (the driver and the
//! actors do) nor do IO (sources are ports: the binary wires the Parquet lake behind them).
//!
//! # Order
//! A min-heap holds at most one pending event per source, keyed by
//! `(event time, priority, source index)`:
//! * **event time** — [`MarketEvent::ts`]: a kline's end, a trade's exchange time, a command's
//!   time;
//! * **priority** — [`MarketEvent::priority`]: at equal time a command (0) comes before market
//!   data (1), so an operator's pause stamped `t` already applies to the data stamped `t`;
//! * **source index** — the order in which sources were added: at equal time and priority the
//!   earlier source goes first.
//!
//! Within one source, events keep their order; a source must be non-decreasing in event time
//! (an event earlier than its predecessor in the same source is an error, not a silent
//! reordering). The key is unique per heap entry, so the merged sequence is a pure function of
//! the sources' contents: deterministic by construction, whatever the sources' chunking.
//!
//! # Two threads
//! [`ReplayHost::run`] splits the market half of the pipeline off
//! ([`Pipeline::split_regime_stage`]): a scoped producer thread merges the sources, runs the
//! bar builder's copy and the regime detector (its Baum-Welch refits on a fitter thread, started
//! up to [`crate::pipeline::STAGE_LOOKAHEAD_BARS`] bars ahead of their use) and hands
//! batches of events with their regimes to the caller's thread, which drives the rest of the
//! pipeline. The regime detector depends on market data only, so this changes no record: the
//! output is the single-threaded [`ReplayHost::step`] loop's, byte for byte (tested). Batches
//! travel over a bounded queue of four and are recycled, so memory stays bounded and nothing
//! is allocated per event; on an error in either thread both stop.
//!
//! A [`ManualClock`] follows event time (it is advanced to each event's time before the event
//! is handled), for anything that asks a clock during a replay.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::bar_builder::parse_interval;
use crate::clock::{ManualClock, UnixNanos};
use crate::driver::Driver;
pub use crate::driver::MarketEvent;
use crate::exact::InstrumentFilters;
use crate::pipeline::{Pipeline, PipelineConfig, PipelineError, PipelineStats};
use crate::portfolio::RoundTrip;
use crate::recorder::{Recorder, Sink};

/// A market-data source failed to produce its next event.
#[derive(Debug, thiserror::Error)]
#[error("market source {origin}: {message}")]
pub struct SourceError {
    /// Which source (a file, a table, a stream name).
    pub origin: String,
    /// What went wrong (names the file, row or field).
    pub message: String,
}

/// A time-ordered stream of host inputs (the port a replay reads through).
pub trait MarketSource {
    /// The next event, `None` at the end. Events must be non-decreasing in
    /// [`MarketEvent::ts`].
    ///
    /// # Errors
    /// [`SourceError`] when the next event cannot be read.
    fn next(&mut self) -> Result<Option<MarketEvent>, SourceError>;
}

/// A source over events held in memory (tests, benches, small replays).
#[derive(Debug, Clone)]
pub struct VecSource {
    events: std::vec::IntoIter<MarketEvent>,
}

impl VecSource {
    /// A source yielding `events` in their order.
    #[must_use]
    pub fn new(events: Vec<MarketEvent>) -> Self {
        Self {
            events: events.into_iter(),
        }
    }
}

impl MarketSource for VecSource {
    fn next(&mut self) -> Result<Option<MarketEvent>, SourceError> {
        Ok(self.events.next())
    }
}

/// The replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The pipeline's config (or the interval it names) is invalid.
    #[error("replay host: pipeline config: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// A source could not be read.
    #[error("replay host: source {index}: {source}")]
    Source {
        /// Index of the source (order added).
        index: usize,
        /// The source's error.
        source: SourceError,
    },
    /// A source went back in time.
    #[error(
        "replay host: source {index}: {kind} at {ts} ns comes after an event at {previous} ns; \
         a source must be non-decreasing in event time"
    )]
    OutOfOrder {
        /// Index of the source.
        index: usize,
        /// Kind of the offending event.
        kind: &'static str,
        /// Its time.
        ts: UnixNanos,
        /// The time of the source's previous event.
        previous: UnixNanos,
    },
    /// The pipeline refused an event or its sink failed; the replay stops there.
    #[error("replay host: event {event} ({kind} at {ts} ns) from source {index}: {source}")]
    Pipeline {
        /// Number of the event in the merged sequence (from 1).
        event: u64,
        /// Kind of the event.
        kind: &'static str,
        /// Its time.
        ts: UnixNanos,
        /// Its source.
        index: usize,
        /// The pipeline's error.
        source: PipelineError,
    },
    /// Finishing the pipeline failed (a sink failure).
    #[error("replay host: finishing the pipeline: {source}")]
    Finish {
        /// The pipeline's error.
        source: PipelineError,
    },
}

/// Heap key: `(event time, priority, source index)`; unique because each source has at most
/// one entry in the heap.
type Key = (UnixNanos, u8, usize);

/// The k-way merge of several sources, in the order of the module docs.
pub struct MergedSources<'a> {
    sources: Vec<Box<dyn MarketSource + Send + 'a>>,
    heads: Vec<Option<MarketEvent>>,
    last_ts: Vec<Option<UnixNanos>>,
    started: Vec<bool>,
    heap: BinaryHeap<Reverse<Key>>,
}

impl Default for MergedSources<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> MergedSources<'a> {
    /// No sources yet.
    #[must_use]
    pub fn new() -> Self {
        Self {
            sources: Vec::new(),
            heads: Vec::new(),
            last_ts: Vec::new(),
            started: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// Adds a source; returns its index (the tie-breaker at equal time and priority). Sources
    /// added after the first event was taken are read from the next call on.
    pub fn add(&mut self, source: Box<dyn MarketSource + Send + 'a>) -> usize {
        let index = self.sources.len();
        self.sources.push(source);
        self.heads.push(None);
        self.last_ts.push(None);
        self.started.push(false);
        index
    }

    /// Number of sources.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// True when no source was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    fn pull(&mut self, index: usize) -> Result<(), ReplayError> {
        let next = self.sources[index]
            .next()
            .map_err(|source| ReplayError::Source { index, source })?;
        if let Some(event) = next {
            let ts = event.ts();
            if let Some(previous) = self.last_ts[index].filter(|&p| ts < p) {
                return Err(ReplayError::OutOfOrder {
                    index,
                    kind: event.kind(),
                    ts,
                    previous,
                });
            }
            self.last_ts[index] = Some(ts);
            self.heads[index] = Some(event);
            self.heap.push(Reverse((ts, event.priority(), index)));
        }
        Ok(())
    }

    /// With a single source nothing needs merging: its next event, checked for order like
    /// [`pull`](Self::pull) checks, without a trip through the heap. The source counts as
    /// started only once exhausted, so a source added later merges with it from its next
    /// event on.
    fn next_of_only_source(&mut self) -> Result<Option<(usize, MarketEvent)>, ReplayError> {
        let next = self.sources[0]
            .next()
            .map_err(|source| ReplayError::Source { index: 0, source })?;
        let Some(event) = next else {
            self.started[0] = true;
            return Ok(None);
        };
        let ts = event.ts();
        if let Some(previous) = self.last_ts[0].filter(|&p| ts < p) {
            return Err(ReplayError::OutOfOrder {
                index: 0,
                kind: event.kind(),
                ts,
                previous,
            });
        }
        self.last_ts[0] = Some(ts);
        Ok(Some((0, event)))
    }

    /// Reads the first event of every source not read yet.
    fn prime(&mut self) -> Result<(), ReplayError> {
        for index in 0..self.sources.len() {
            if !self.started[index] {
                self.started[index] = true;
                self.pull(index)?;
            }
        }
        Ok(())
    }

    /// The next event of the merged sequence and the index of its source; `None` when every
    /// source is exhausted.
    ///
    /// # Errors
    /// A source's error, or [`ReplayError::OutOfOrder`].
    pub fn next_event(&mut self) -> Result<Option<(usize, MarketEvent)>, ReplayError> {
        if self.sources.len() == 1 && !self.started[0] {
            return self.next_of_only_source();
        }
        self.prime()?;
        let Some(Reverse((_, _, index))) = self.heap.pop() else {
            return Ok(None);
        };
        let event = self.heads[index].take();
        self.pull(index)?;
        Ok(event.map(|e| (index, e)))
    }
}

/// One event through the driver, counted and timed by the replay clock.
fn handle_event<S: Sink>(
    driver: &mut Driver<S>,
    clock: &ManualClock,
    stats: &mut ReplayStats,
    index: usize,
    event: MarketEvent,
) -> Result<(), ReplayError> {
    clock.advance_to(event.ts());
    stats.events += 1;
    if matches!(event, MarketEvent::Command(_)) {
        stats.commands += 1;
    }
    driver
        .handle(&event)
        .map_err(|source| ReplayError::Pipeline {
            event: stats.events,
            kind: event.kind(),
            ts: event.ts(),
            index,
            source,
        })
}

/// The pipeline's side of [`ReplayHost::run`]: handles the producer's batches in order.
fn consume<S: Sink>(
    driver: &mut Driver<S>,
    clock: &ManualClock,
    stats: &mut ReplayStats,
    rx: &crossbeam_channel::Receiver<Batch>,
    back: &crossbeam_channel::Sender<Batch>,
) -> Result<(), ReplayError> {
    while let Ok(mut b) = rx.recv() {
        driver
            .pipeline_mut()
            .push_staged_regimes(b.regimes.drain(..));
        for (index, event) in b.events.drain(..) {
            handle_event(driver, clock, stats, index, event)?;
        }
        if let Some(e) = b.error.take() {
            return Err(e);
        }
        // Recycled when there is room; dropped otherwise.
        let _ = back.try_send(b);
    }
    Ok(())
}

/// Events per batch handed from the producer thread to the pipeline's.
const BATCH_EVENTS: usize = 4096;
/// Batches queued between the two threads.
const BATCHES_IN_FLIGHT: usize = 64;

/// Events of the merged sequence with the regimes of the bars they close, from the producer
/// thread of [`ReplayHost::run`].
struct Batch {
    events: Vec<(usize, MarketEvent)>,
    regimes: Vec<crate::pipeline::StagedRegime>,
    /// A source failed after these events.
    error: Option<ReplayError>,
}

impl Batch {
    fn new() -> Self {
        Self {
            events: Vec::with_capacity(BATCH_EVENTS),
            regimes: Vec::with_capacity(BATCH_EVENTS),
            error: None,
        }
    }
}

/// Counters of a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Events handled.
    pub events: u64,
    /// Commands among them.
    pub commands: u64,
    /// Bar times closed (equity marks).
    pub closes: u64,
}

/// Runs a pipeline over merged sources, deterministically, on the caller's thread.
pub struct ReplayHost<'a, S: Sink> {
    /// Lookahead of the regime stage in [`ReplayHost::run`] (tests shorten it).
    #[cfg(test)]
    lookahead: Option<usize>,
    merged: MergedSources<'a>,
    driver: Driver<S>,
    clock: Arc<ManualClock>,
    stats: ReplayStats,
}

impl<'a, S: Sink> ReplayHost<'a, S> {
    /// Builds the pipeline of `config` (recording into `sink`) and a host with no sources yet.
    ///
    /// # Errors
    /// [`ReplayError::Config`] when the interval does not parse or an actor's config is invalid.
    pub fn new(
        config: PipelineConfig,
        filters: &[InstrumentFilters],
        sink: S,
    ) -> Result<Self, ReplayError> {
        let interval_ns = parse_interval(&config.interval).ok_or_else(|| ReplayError::Config {
            message: format!("interval {:?} does not parse", config.interval),
        })?;
        let n_symbols = config.n_symbols;
        let config_err = |e: PipelineError| ReplayError::Config {
            message: e.to_string(),
        };
        let pipeline = Pipeline::new(config, filters, Recorder::new(sink)).map_err(config_err)?;
        let driver = Driver::new(pipeline, interval_ns, n_symbols).map_err(config_err)?;
        Ok(Self {
            #[cfg(test)]
            lookahead: None,
            merged: MergedSources::new(),
            driver,
            clock: Arc::new(ManualClock::new(UnixNanos::MIN)),
            stats: ReplayStats::default(),
        })
    }

    /// Adds a source; returns its index (see the module docs for its role in ties).
    pub fn add_source(&mut self, source: Box<dyn MarketSource + Send + 'a>) -> usize {
        self.merged.add(source)
    }

    /// The replay clock: event time of the last event taken.
    #[must_use]
    pub fn clock(&self) -> Arc<ManualClock> {
        Arc::clone(&self.clock)
    }

    /// The pipeline.
    #[must_use]
    pub fn pipeline(&self) -> &Pipeline<S> {
        self.driver.pipeline()
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> ReplayStats {
        ReplayStats {
            closes: self.driver.closes(),
            ..self.stats
        }
    }

    /// Handles the next event of the merged sequence; returns it with its source index, or
    /// `None` when every source is exhausted.
    ///
    /// # Errors
    /// A source error, an out-of-order source, or the pipeline's error (naming the event).
    pub fn step(&mut self) -> Result<Option<(usize, MarketEvent)>, ReplayError> {
        let Some((index, event)) = self.merged.next_event()? else {
            return Ok(None);
        };
        self.handle(index, event)?;
        Ok(Some((index, event)))
    }

    fn handle(&mut self, index: usize, event: MarketEvent) -> Result<(), ReplayError> {
        handle_event(&mut self.driver, &self.clock, &mut self.stats, index, event)
    }

    /// Handles every event of every source, then returns the counters. The run stops at the
    /// first error (a replay never skips input silently). The market half runs ahead on a
    /// second thread (see the module docs); the records are those of a [`ReplayHost::step`]
    /// loop.
    ///
    /// # Errors
    /// As [`ReplayHost::step`].
    pub fn run(&mut self) -> Result<ReplayStats, ReplayError> {
        let Some(mut stage) = self.driver.pipeline_mut().split_regime_stage() else {
            while self.step()?.is_some() {}
            return Ok(self.stats());
        };
        #[cfg(test)]
        if let Some(bars) = self.lookahead {
            stage.set_lookahead(bars);
        }
        let (tx, rx) = crossbeam_channel::bounded::<Batch>(BATCHES_IN_FLIGHT);
        let (back_tx, back_rx) = crossbeam_channel::bounded::<Batch>(BATCHES_IN_FLIGHT + 2);
        let merged = &mut self.merged;
        let (result, stage) = std::thread::scope(|s| {
            let producer = std::thread::Builder::new()
                .name("hermes-replay".into())
                .spawn_scoped(s, move || {
                    loop {
                        let mut b = back_rx.try_recv().unwrap_or_else(|_| Batch::new());
                        let mut end = false;
                        while b.events.len() < BATCH_EVENTS {
                            match merged.next_event() {
                                Ok(Some((index, event))) => {
                                    stage.push(index, event);
                                    stage.release(false, &mut b.events, &mut b.regimes);
                                }
                                Ok(None) => {
                                    stage.release(true, &mut b.events, &mut b.regimes);
                                    end = true;
                                    break;
                                }
                                Err(e) => {
                                    // The events before the error are handled first.
                                    stage.release(true, &mut b.events, &mut b.regimes);
                                    b.error = Some(e);
                                    break;
                                }
                            }
                        }
                        let last = end || b.error.is_some();
                        // A send fails only when the consumer stopped (its error ends the run).
                        if tx.send(b).is_err() || last {
                            break;
                        }
                    }
                    stage
                });
            let producer = match producer {
                Ok(p) => p,
                Err(e) => {
                    let err = ReplayError::Config {
                        message: format!("cannot start the replay thread: {e}"),
                    };
                    return (Err(err), None);
                }
            };
            let result = consume(
                &mut self.driver,
                &self.clock,
                &mut self.stats,
                &rx,
                &back_tx,
            );
            // Unblocks a producer waiting on a full queue after a consumer error.
            drop(rx);
            let stage = producer.join();
            (result, Some(stage))
        });
        match stage {
            Some(Ok(stage)) => self.driver.pipeline_mut().join_regime_stage(stage),
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => {}
        }
        result?;
        Ok(self.stats())
    }

    /// Ends the replay: closes the open bar time, finishes the pipeline, returns the sink,
    /// every round trip and the pipeline's counters.
    ///
    /// # Errors
    /// [`ReplayError::Finish`] on a sink failure.
    pub fn finish(self) -> Result<(S, Vec<RoundTrip>, PipelineStats), ReplayError> {
        self.driver
            .finish()
            .map_err(|source| ReplayError::Finish { source })
    }
}

#[cfg(test)]
pub(crate) mod tests;
