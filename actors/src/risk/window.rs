//! Order counting for the risk manager: the sliding one-second order-rate window (a ring buffer
//! of event times) and the set of open orders. Both are preallocated at construction and never
//! allocate afterwards. Owns counting only; the decisions live in the checks.

use crate::clock::UnixNanos;
use crate::messages::OrderId;

/// One second in nanoseconds.
pub(crate) const SECOND_NS: i64 = 1_000_000_000;

/// The event times of the last `capacity` orders. An order at `now` fits when fewer than
/// `capacity` orders lie in the window `(now − 1 s, now]`, i.e. when the `capacity`-th most
/// recent order is at least one second old.
#[derive(Debug, Clone)]
pub(crate) struct OrderRateWindow {
    times: Vec<UnixNanos>,
    /// Index of the oldest stored time.
    head: usize,
    len: usize,
}

impl OrderRateWindow {
    /// A window remembering `capacity` orders (0 = off: nothing stored, everything fits).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            times: vec![0; capacity],
            head: 0,
            len: 0,
        }
    }

    /// True when one more order at `now` keeps the window within its capacity.
    pub(crate) fn allows(&self, now: UnixNanos) -> bool {
        let cap = self.times.len();
        cap == 0 || self.len < cap || self.times[self.head] <= now.saturating_sub(SECOND_NS)
    }

    /// Orders in `(now − 1 s, now]` among those remembered.
    pub(crate) fn count(&self, now: UnixNanos) -> usize {
        let cap = self.times.len();
        let from = now.saturating_sub(SECOND_NS);
        (0..self.len)
            .filter(|k| {
                let t = self.times[(self.head + k) % cap];
                t > from && t <= now
            })
            .count()
    }

    /// Remembers an order at `now` (forgetting the oldest when full).
    pub(crate) fn record(&mut self, now: UnixNanos) {
        let cap = self.times.len();
        if cap == 0 {
            return;
        }
        if self.len < cap {
            self.times[(self.head + self.len) % cap] = now;
            self.len += 1;
        } else {
            self.times[self.head] = now;
            self.head = (self.head + 1) % cap;
        }
    }
}

/// Ids of orders sent and not yet filled or cancelled, up to a fixed capacity (beyond it the
/// oldest id is forgotten, so the count saturates at the capacity).
#[derive(Debug, Clone)]
pub(crate) struct OpenOrders {
    ids: Vec<OrderId>,
    capacity: usize,
}

impl OpenOrders {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            ids: Vec::with_capacity(capacity),
            capacity,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// An order was sent (idempotent per id).
    pub(crate) fn insert(&mut self, id: OrderId) {
        if self.ids.contains(&id) || self.capacity == 0 {
            return;
        }
        if self.ids.len() == self.capacity {
            self.ids.remove(0);
        }
        self.ids.push(id);
    }

    /// An order was filled: it is no longer open.
    pub(crate) fn remove(&mut self, id: OrderId) {
        self.ids.retain(|x| *x != id);
    }

    pub(crate) fn clear(&mut self) {
        self.ids.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_window_slides_on_event_time() {
        let mut w = OrderRateWindow::new(2);
        assert!(w.allows(0));
        w.record(0);
        w.record(10);
        assert_eq!(w.count(10), 2);
        assert!(
            !w.allows(SECOND_NS - 1),
            "first order still inside the window"
        );
        assert!(
            w.allows(SECOND_NS),
            "first order exactly 1 s old has left the window"
        );
        w.record(SECOND_NS);
        assert_eq!(w.count(SECOND_NS), 2);
        assert!(!w.allows(SECOND_NS + 9));
        assert!(w.allows(SECOND_NS + 10));
        let off = OrderRateWindow::new(0);
        assert!(off.allows(0));
    }

    #[test]
    fn open_orders_are_counted_by_id() {
        let mut o = OpenOrders::new(2);
        o.insert(OrderId(1));
        o.insert(OrderId(1));
        o.insert(OrderId(2));
        assert_eq!(o.len(), 2);
        o.insert(OrderId(3));
        assert_eq!(o.len(), 2, "saturates at capacity");
        o.remove(OrderId(2));
        assert_eq!(o.len(), 1);
        o.remove(OrderId(9));
        assert_eq!(o.len(), 1);
        o.clear();
        assert_eq!(o.len(), 0);
    }
}
