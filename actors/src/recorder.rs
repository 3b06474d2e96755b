//! The recorder: receives a copy of every message, numbers it, and hands it to a [`Sink`].
//!
//! Owns sequencing and the sink seam. Sinks are the IO boundary: the backtest's output files and
//! (later) the Delta Lake tables live in the binary, behind this trait. A sink error is returned
//! to the host, which decides (halt the run; never drop data silently).

use crate::messages::{Event, Sequenced};

/// A sink failed to record or flush.
#[derive(Debug, thiserror::Error)]
#[error("recorder sink {sink}: {message}")]
pub struct SinkError {
    /// Which sink.
    pub sink: &'static str,
    /// What went wrong (names the file or table).
    pub message: String,
}

/// Where recorded events go.
pub trait Sink {
    /// Records one event. Called in sequence order.
    ///
    /// # Errors
    /// [`SinkError`] when the event cannot be stored.
    fn record(&mut self, event: &Sequenced) -> Result<(), SinkError>;

    /// Makes everything recorded so far durable.
    ///
    /// # Errors
    /// [`SinkError`] when flushing fails.
    fn flush(&mut self) -> Result<(), SinkError>;
}

/// A sink that keeps everything in memory (tests, small runs).
#[derive(Debug, Default)]
pub struct MemorySink {
    /// Everything recorded, in order.
    pub events: Vec<Sequenced>,
}

impl Sink for MemorySink {
    fn record(&mut self, event: &Sequenced) -> Result<(), SinkError> {
        self.events.push(*event);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A sink that discards everything (benchmarks of the engine alone).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl Sink for NullSink {
    fn record(&mut self, _event: &Sequenced) -> Result<(), SinkError> {
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Numbers events and forwards them to a sink.
#[derive(Debug)]
pub struct Recorder<S> {
    sink: S,
    seq: u64,
}

impl<S: Sink> Recorder<S> {
    /// A recorder writing to `sink`, numbering from 1.
    pub fn new(sink: S) -> Self {
        Self { sink, seq: 0 }
    }

    /// Records `event` with the next sequence number.
    ///
    /// # Errors
    /// The sink's error.
    #[inline]
    pub fn record(&mut self, event: impl Into<Event>) -> Result<(), SinkError> {
        self.seq += 1;
        self.sink.record(&Sequenced {
            seq: self.seq,
            event: event.into(),
        })
    }

    /// The last sequence number handed out.
    #[must_use]
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    /// Flushes the sink.
    ///
    /// # Errors
    /// The sink's error.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.sink.flush()
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The sink, mutably.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Gives the sink back.
    pub fn into_sink(self) -> S {
        self.sink
    }
}
