//! # actors — Hermes's message types, actor runtime and actors
//!
//! Owns the typed messages exchanged by actors, the two hosts (live and deterministic replay)
//! and one module per actor. It must not do IO itself: market data, venues and sinks come in
//! through port traits that the `hermes` binary wires to real adapters.
//!
//! Every actor owns its state and reacts to one message at a time through synchronous methods
//! (`on_bar`, `on_signal`, …) that push outputs into caller-owned buffers, so it can be unit
//! tested and benchmarked without a runtime. [`pipeline::Pipeline`] composes them in the order
//! of the architecture; the hosts drive a pipeline.

pub mod allocator;
pub mod bar_builder;
pub mod clock;
pub mod driver;
pub mod exact;
pub mod executor;
pub mod feature_tape;
pub mod lifecycle;
pub mod live_host;
pub mod messages;
pub mod pipeline;
pub mod portfolio;
pub mod recorder;
pub mod regime_detector;
pub mod replay_host;
mod ring;
pub mod risk;
pub mod simulator;
pub mod strategy_selector;

pub use clock::{Clock, ManualClock, UnixNanos};
pub use exact::{InstrumentFilters, Price, Qty};
pub use lifecycle::Lifecycle;
pub use messages::*;
pub use recorder::{MemorySink, NullSink, Recorder, Sink, SinkError};

/// The key path of config field `name` under `path` (`risk` + `max_drawdown` →
/// `risk.max_drawdown`; an empty path gives the bare name), for `validate` messages.
pub(crate) fn config_key(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}
