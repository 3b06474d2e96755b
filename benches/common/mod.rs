//! Fixtures shared by the benches; each bench uses the part it needs.
#![allow(dead_code)] // not every bench uses every fixture

/// SplitMix64: a tiny seeded generator, enough for realistic synthetic markets.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal by Box-Muller.
    pub fn normal(&mut self) -> f64 {
        let u = self.next_f64().max(1e-300);
        let v = self.next_f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `rows` hourly-like OHLC bars (high, low, close): a log random walk from 30 000 with ±0.5 %
/// steps, seed 42.
pub fn bars(rows: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = SplitMix(42);
    let (mut high, mut low, mut close) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    let mut price = 30_000.0f64;
    for _ in 0..rows {
        let open = price;
        price *= 1.0 + (rng.next_f64() - 0.5) * 0.01;
        high.push(open.max(price) * (1.0 + rng.next_f64() * 0.003));
        low.push(open.min(price) * (1.0 - rng.next_f64() * 0.003));
        close.push(price);
    }
    (high, low, close)
}
