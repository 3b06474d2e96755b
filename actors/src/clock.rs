//! Time as actors see it. Actors never read the wall clock: a [`Clock`] is passed in (system
//! time live, event time in replay), so a replay is deterministic. The system clock adapter
//! lives in the binary, the only place allowed to call `SystemTime::now`.

use std::sync::atomic::{AtomicI64, Ordering};

/// UTC nanoseconds since the Unix epoch: the one timestamp type of Hermes.
pub type UnixNanos = i64;

/// A source of the current time, in UTC nanoseconds.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now_ns(&self) -> UnixNanos;
}

/// A clock that only moves when told to: event time in replay, and tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `start`.
    #[must_use]
    pub fn new(start: UnixNanos) -> Self {
        Self {
            now: AtomicI64::new(start),
        }
    }

    /// Moves the clock to `t`. Time never goes backwards: an earlier `t` is ignored and the
    /// clock keeps its later value, which is returned.
    pub fn advance_to(&self, t: UnixNanos) -> UnixNanos {
        self.now.fetch_max(t, Ordering::AcqRel).max(t)
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> UnixNanos {
        self.now.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_monotonic() {
        let c = ManualClock::new(10);
        assert_eq!(c.now_ns(), 10);
        assert_eq!(c.advance_to(20), 20);
        assert_eq!(c.advance_to(15), 20);
        assert_eq!(c.now_ns(), 20);
    }
}
