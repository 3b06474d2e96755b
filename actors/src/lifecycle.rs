//! Actor lifecycle states, shared by every actor and both hosts.
//!
//! Shutdown order (live host): stop the market feed, drain the pipeline queue, flatten if the
//! operator asked, stop the executor, then flush and stop the recorder last so every message that
//! was produced is recorded.

/// Where an actor is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Lifecycle {
    /// Constructed, warming up (indicators or models not ready).
    #[default]
    Starting,
    /// Handling messages normally.
    Running,
    /// Running with reduced function (e.g. a model refit failed and the previous one is kept).
    Degraded,
    /// Draining before stop.
    Stopping,
    /// Stopped cleanly.
    Stopped,
    /// Stopped by an unrecoverable error.
    Faulted,
}

impl Lifecycle {
    /// Lower-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Starting => "starting",
            Lifecycle::Running => "running",
            Lifecycle::Degraded => "degraded",
            Lifecycle::Stopping => "stopping",
            Lifecycle::Stopped => "stopped",
            Lifecycle::Faulted => "faulted",
        }
    }
}
