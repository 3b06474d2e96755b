//! A fixed-capacity ring buffer of the most recent values, allocated once: the rolling windows
//! of the regime detector, the simulator and the allocator. Owns storage and order only.

/// The last `capacity` values pushed, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct Ring<T> {
    buf: Vec<T>,
    head: usize,
    len: usize,
}

impl<T: Copy + Default> Ring<T> {
    /// An empty ring holding at most `capacity` values (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            buf: vec![T::default(); capacity.max(1)],
            head: 0,
            len: 0,
        }
    }

    /// Appends `x`, dropping the oldest value when full.
    #[inline]
    pub(crate) fn push(&mut self, x: T) {
        let cap = self.buf.len();
        if self.len < cap {
            let slot = self.head + self.len;
            self.buf[if slot >= cap { slot - cap } else { slot }] = x;
            self.len += 1;
        } else {
            self.buf[self.head] = x;
            self.head = if self.head + 1 == cap {
                0
            } else {
                self.head + 1
            };
        }
    }

    /// Number of values held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The value `back` places before the newest (`0` = the newest).
    pub(crate) fn back(&self, back: usize) -> Option<&T> {
        (back < self.len).then(|| &self.buf[(self.head + self.len - 1 - back) % self.buf.len()])
    }

    /// The newest value, mutable.
    pub(crate) fn newest_mut(&mut self) -> Option<&mut T> {
        let cap = self.buf.len();
        (self.len > 0).then(|| &mut self.buf[(self.head + self.len - 1) % cap])
    }

    /// The values, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        let first = (self.buf.len() - self.head).min(self.len);
        self.buf[self.head..self.head + first]
            .iter()
            .chain(&self.buf[..self.len - first])
    }

    /// Replaces `out`'s contents with the values, oldest first (no allocation when `out` has
    /// the capacity).
    pub(crate) fn copy_into(&self, out: &mut Vec<T>) {
        out.clear();
        let first = (self.buf.len() - self.head).min(self.len);
        out.extend_from_slice(&self.buf[self.head..self.head + first]);
        out.extend_from_slice(&self.buf[..self.len - first]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_values_in_order() {
        let mut r = Ring::<i32>::new(3);
        assert_eq!(r.back(0), None);
        for x in 1..=5 {
            r.push(x);
        }
        assert_eq!(r.len(), 3);
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), [3, 4, 5]);
        let mut v = Vec::new();
        r.copy_into(&mut v);
        assert_eq!(v, [3, 4, 5]);
        assert_eq!(
            (r.back(0), r.back(2), r.back(3)),
            (Some(&5), Some(&3), None)
        );
        *r.newest_mut().unwrap() = 9;
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), [3, 4, 9]);
    }
}
