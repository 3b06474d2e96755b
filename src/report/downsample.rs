//! Min/max downsampling of a time series to a pixel grid, so a chart of millions of points
//! draws (and an SVG stores) only what can be seen. Owns only the bucketing; it never
//! allocates per input point and keeps the exact first, last, minimum and maximum points.

/// One point of a series: (UTC nanoseconds, value).
pub(crate) type Point = (i64, f64);

/// A point and its position in the input, to keep output in input order.
#[derive(Debug, Clone, Copy)]
struct Indexed {
    seq: u64,
    point: Point,
}

/// The bucket being filled.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    index: usize,
    min: Indexed,
    max: Indexed,
    last: Indexed,
}

/// Streams points sorted by time into `buckets` equal time columns over `[t0, t1]` and emits,
/// per column, its minimum and maximum in time order; the series' very first and very last
/// points are always kept. Output size is at most `2 * buckets + 2`.
#[derive(Debug)]
pub(crate) struct Downsampler {
    t0: i64,
    width: i128,
    buckets: usize,
    seq: u64,
    current: Option<Bucket>,
    out: Vec<Point>,
}

impl Downsampler {
    /// A downsampler over `[t0, t1]` (`t1 >= t0`) with `buckets` columns (at least 1).
    pub(crate) fn new(t0: i64, t1: i64, buckets: usize) -> Self {
        let width = (i128::from(t1) - i128::from(t0) + 1).max(1);
        let buckets = buckets.max(1);
        Self {
            t0,
            width,
            buckets,
            seq: 0,
            current: None,
            out: Vec::with_capacity(2 * buckets + 2),
        }
    }

    fn bucket_of(&self, t: i64) -> usize {
        let offset = (i128::from(t) - i128::from(self.t0)).max(0);
        let b = offset * self.buckets as i128 / self.width;
        usize::try_from(b)
            .unwrap_or(usize::MAX)
            .min(self.buckets - 1)
    }

    /// Adds the next point (times non-decreasing, value finite).
    pub(crate) fn push(&mut self, t: i64, v: f64) {
        let p = Indexed {
            seq: self.seq,
            point: (t, v),
        };
        if self.seq == 0 {
            // The very first point is kept exactly.
            self.out.push((t, v));
        }
        self.seq += 1;
        let index = self.bucket_of(t);
        match &mut self.current {
            Some(b) if b.index == index => {
                if v < b.min.point.1 {
                    b.min = p;
                }
                if v > b.max.point.1 {
                    b.max = p;
                }
                b.last = p;
            }
            _ => {
                if let Some(done) = self.current.take() {
                    self.emit(done, false);
                }
                self.current = Some(Bucket {
                    index,
                    min: p,
                    max: p,
                    last: p,
                });
            }
        }
    }

    /// Emits a finished bucket's extremes in input order (the series' first point is already
    /// out), and for the final bucket also the series' last point.
    fn emit(&mut self, b: Bucket, is_final: bool) {
        let (a, c) = if b.min.seq <= b.max.seq {
            (b.min, b.max)
        } else {
            (b.max, b.min)
        };
        if a.seq != 0 {
            self.out.push(a.point);
        }
        if c.seq != a.seq && c.seq != 0 {
            self.out.push(c.point);
        }
        if is_final && b.last.seq != 0 && b.last.seq != a.seq && b.last.seq != c.seq {
            self.out.push(b.last.point);
        }
    }

    /// The downsampled series, ending with the exact last point.
    pub(crate) fn finish(mut self) -> Vec<Point> {
        if let Some(done) = self.current.take() {
            self.emit(done, true);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(points: &[Point], buckets: usize) -> Vec<Point> {
        let t0 = points.first().map_or(0, |p| p.0);
        let t1 = points.last().map_or(0, |p| p.0);
        let mut d = Downsampler::new(t0, t1, buckets);
        for &(t, v) in points {
            d.push(t, v);
        }
        d.finish()
    }

    #[test]
    fn small_series_is_kept_exactly_when_buckets_are_fine() {
        let pts: Vec<Point> = (0..10).map(|i| (i, (i * i) as f64)).collect();
        assert_eq!(run(&pts, 100), pts);
    }

    #[test]
    fn keeps_first_last_min_max_and_bounds_size() {
        // A noisy series with its extremes in the middle.
        let n = 100_000_i64;
        let mut pts: Vec<Point> = (0..n)
            .map(|i| (i * 1_000, ((i * 7919) % 1000) as f64 / 10.0))
            .collect();
        pts[40_000].1 = 500.0;
        pts[60_000].1 = -300.0;
        let out = run(&pts, 50);
        assert!(out.len() <= 2 * 50 + 2, "{} points", out.len());
        assert_eq!(out.first(), pts.first());
        assert_eq!(out.last(), pts.last());
        assert!(out.contains(&pts[40_000]));
        assert!(out.contains(&pts[60_000]));
        // Output stays in time order.
        assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
        // Every bucket's own min and max survive: check one bucket by brute force.
        let width = (n * 1_000) as i128;
        let in_bucket_7: Vec<&Point> = pts
            .iter()
            .filter(|p| (i128::from(p.0) * 50 / width) == 7)
            .collect();
        let lo = in_bucket_7
            .iter()
            .map(|p| p.1)
            .fold(f64::INFINITY, f64::min);
        let hi = in_bucket_7
            .iter()
            .map(|p| p.1)
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(out.iter().any(|p| p.1 == lo && in_bucket_7.contains(&p)));
        assert!(out.iter().any(|p| p.1 == hi && in_bucket_7.contains(&p)));
    }

    #[test]
    fn single_point_and_equal_times() {
        assert_eq!(run(&[(5, 1.0)], 10), vec![(5, 1.0)]);
        let same_time = [(5, 1.0), (5, 3.0), (5, 2.0)];
        let out = run(&same_time, 10);
        assert_eq!(out, vec![(5, 1.0), (5, 3.0), (5, 2.0)]);
    }
}
