//! Lockstep standard-normal draws for one block of Monte-Carlo paths.
//!
//! [`LaneNormals`] holds [`LANES`] independent xoshiro256++ generators as a structure of arrays,
//! so one call advances all of them with the same few integer operations (the compiler
//! vectorises them) and runs the ziggurat's fast path lane by lane without a data-dependent
//! branch; the rare rejections (≈ 1.2 % of draws) finish in a scalar, out-of-line slow path.
//!
//! Lane `l` seeded with `s` produces *exactly* the normals `rand_distr::StandardNormal` draws
//! from `Xoshiro256PlusPlus::seed_from_u64(s)`: same seeding (four SplitMix64 outputs), same
//! generator, same ziggurat (ZIGNOR, Doornik 2005) with `rand_distr`'s tables
//! ([`super::ziggurat`]), same bit-to-float conversions, same order of consumption, slow path
//! included. The tests check this bit for bit. This module owns only the draws; the price
//! recursion stays in `sim`.

use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

use super::ziggurat::{ZIG_NORM_F, ZIG_NORM_R, ZIG_NORM_X};

/// Generators advanced together (one per path of a block).
pub(super) const LANES: usize = 8;

/// Exponent bits of `2^1`: OR-ed onto 52 mantissa bits they give a float in `[2, 4)`.
const EXPONENT_ONE: u64 = 1024 << 52;

/// Exponent bits of `2^0`: a float in `[1, 2)`.
const EXPONENT_ZERO: u64 = 1023 << 52;

/// [`LANES`] xoshiro256++ generators, structure of arrays (`s[j][l]` is word `j` of lane `l`).
#[derive(Debug, Clone)]
pub(super) struct LaneNormals {
    s: [[u64; LANES]; 4],
}

impl LaneNormals {
    /// Lane `l` is the generator `Xoshiro256PlusPlus::seed_from_u64(seeds[l])`: its state is the
    /// next four outputs of SplitMix64 seeded with `seeds[l]` (never all zero: SplitMix64's
    /// output is a bijection of a counter, so four consecutive outputs cannot all be 0).
    pub(super) fn new(seeds: [u64; LANES]) -> Self {
        let mut s = [[0; LANES]; 4];
        for (l, &seed) in seeds.iter().enumerate() {
            let mut mix = SplitMix64::seed_from_u64(seed);
            for word in &mut s {
                word[l] = mix.next_u64();
            }
        }
        LaneNormals { s }
    }

    /// The next output of every lane.
    #[inline(always)]
    fn next_bits(&mut self) -> [u64; LANES] {
        std::array::from_fn(|l| self.next_lane(l))
    }

    /// The next output of lane `l` (xoshiro256++).
    #[inline(always)]
    fn next_lane(&mut self, l: usize) -> u64 {
        let [s0, s1, s2, s3] = &mut self.s;
        let out = s0[l]
            .wrapping_add(s3[l])
            .rotate_left(23)
            .wrapping_add(s0[l]);
        let t = s1[l] << 17;
        s2[l] ^= s0[l];
        s3[l] ^= s1[l];
        s1[l] ^= s2[l];
        s0[l] ^= s3[l];
        s2[l] ^= t;
        s3[l] = s3[l].rotate_left(45);
        out
    }

    /// A uniform in `[0, 1)` from 53 bits (`rand`'s `StandardUniform` for `f64`).
    fn uniform(&mut self, l: usize) -> f64 {
        (self.next_lane(l) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform in `(0, 1)` from 52 bits (`rand`'s `Open01` for `f64`).
    fn open01(&mut self, l: usize) -> f64 {
        f64::from_bits((self.next_lane(l) >> 12) | EXPONENT_ZERO) - (1.0 - f64::EPSILON / 2.0)
    }

    /// One standard normal per lane into `out`.
    #[inline(always)]
    pub(super) fn next_normals(&mut self, out: &mut [f64; LANES]) {
        let bits = self.next_bits();
        let mut rejected = 0_u32;
        for l in 0..LANES {
            let (x, accepted) = fast_path(bits[l]);
            out[l] = x;
            rejected |= u32::from(!accepted) << l;
        }
        if rejected != 0 {
            self.finish_rejected(&bits, out, rejected);
        }
    }

    /// Completes the lanes whose fast path rejected (bit `l` of `rejected`), continuing each
    /// lane's own stream exactly as `rand_distr`'s ziggurat loop does.
    #[cold]
    #[inline(never)]
    fn finish_rejected(&mut self, bits: &[u64; LANES], out: &mut [f64; LANES], rejected: u32) {
        for (l, slot) in out.iter_mut().enumerate() {
            if rejected & (1 << l) != 0 {
                *slot = self.slow_path(l, bits[l]);
            }
        }
    }

    /// The rest of the ziggurat loop of lane `l` after `bits` failed the fast test.
    fn slow_path(&mut self, l: usize, mut bits: u64) -> f64 {
        loop {
            let i = (bits & 0xff) as usize;
            let u = f64::from_bits((bits >> 12) | EXPONENT_ONE) - 3.0;
            let x = u * ZIG_NORM_X[i];
            if x.abs() < ZIG_NORM_X[i + 1] {
                return x;
            }
            if i == 0 {
                return self.tail(l, u);
            }
            let f = ZIG_NORM_F[i + 1] + (ZIG_NORM_F[i] - ZIG_NORM_F[i + 1]) * self.uniform(l);
            if f < (-x * x / 2.0).exp() {
                return x;
            }
            bits = self.next_lane(l);
        }
    }

    /// A draw from the tail beyond `R` (Marsaglia's method), on the side of `u`'s sign.
    fn tail(&mut self, l: usize, u: f64) -> f64 {
        let (mut x, mut y) = (1.0_f64, 0.0_f64);
        while -2.0 * y < x * x {
            let x_ = self.open01(l);
            let y_ = self.open01(l);
            x = x_.ln() / ZIG_NORM_R;
            y = y_.ln();
        }
        if u < 0.0 {
            x - ZIG_NORM_R
        } else {
            ZIG_NORM_R - x
        }
    }
}

/// The ziggurat's fast path on 64 random bits: 8 bits pick the layer, 52 make `u ∈ [−1, 1)`;
/// `x = u·x_i` is accepted when it lies inside the next layer's rectangle.
#[inline(always)]
fn fast_path(bits: u64) -> (f64, bool) {
    let i = (bits & 0xff) as usize;
    let u = f64::from_bits((bits >> 12) | EXPONENT_ONE) - 3.0;
    let x = u * ZIG_NORM_X[i];
    (x, x.abs() < ZIG_NORM_X[i + 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, StandardNormal};
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn lanes_draw_exactly_what_rand_distr_draws() {
        // 8 lanes × 150,000 draws per seed set: ≈ 14,000 slow paths and ≈ 300 tail draws
        // beyond R, all compared bit for bit with StandardNormal on the scalar generator.
        for base in [0_u64, 0x9e37_79b9_7f4a_7c15, u64::MAX - 3] {
            let seeds: [u64; LANES] = std::array::from_fn(|l| base.wrapping_add(l as u64 * 977));
            let mut lanes = LaneNormals::new(seeds);
            let mut scalar = seeds.map(Xoshiro256PlusPlus::seed_from_u64);
            let mut row = [0.0; LANES];
            let mut tails = 0;
            for _ in 0..150_000 {
                lanes.next_normals(&mut row);
                for (l, rng) in scalar.iter_mut().enumerate() {
                    let want: f64 = StandardNormal.sample(rng);
                    assert_eq!(row[l].to_bits(), want.to_bits(), "lane {l}");
                    tails += usize::from(want.abs() > ZIG_NORM_R);
                }
            }
            assert!(tails > 100, "the tail branch was exercised ({tails})");
            // The generators stay in step after all those slow paths.
            for (l, rng) in scalar.iter_mut().enumerate() {
                assert_eq!(lanes.next_lane(l), rng.next_u64());
            }
        }
    }
}
