//! Terminal-only forecast: [`simulate_terminal`] and the deterministic [`order_impact`].
//!
//! A per-signal forecast reads only the terminal-price distribution and the expected impact of
//! an order, so this module skips what [`simulate`](super::simulate()) and
//! [`simulate_with_order`](super::simulate_with_order) compute for reports:
//! * no running peak or max drawdown per lane-step (a division each), and the quantiles by
//!   selection instead of a sort ([`Quantiles::by_selection`]);
//! * no paths at all for the order impact: in this linear model it is the deterministic impulse
//!   response that `simulate_with_order` adds to every base path.
//!
//! The paths are `simulate`'s: same per-path seeds and streams, same lockstep blocks of
//! [`LANES`], same arithmetic in the same order, so every terminal price, and hence the
//! summary, is bit-identical to `simulate(..).terminal`. This module owns only these two entry
//! points; the recursion's constants, streams and impulse response live in `sim` and `normals`.

use rayon::prelude::*;

use super::normals::{LANES, LaneNormals};
use super::quantiles::Quantiles;
use super::sim::{
    CHUNK, ImpulseResponse, Kernel, PARALLEL_MIN_PATH_STEPS, PATHS_PER_TASK, check_moments,
    diverged,
};
use super::{ChiarellaParams, OrderImpactSpec, SimConfig};
use crate::error::fmt_num;
use crate::{Error, Result};

/// Simulates `cfg.paths` paths of `cfg.steps` steps exactly as [`simulate`](super::simulate())
/// does and summarises only their terminal price: the result is bit-identical to
/// `simulate(params, cfg)?.terminal` (mean, std and every quantile), at a fraction of the cost,
/// because no path tracks its peak or drawdown and the quantiles come from a selection, not a
/// sort. Deterministic in `(params, cfg)`, independent of the thread count.
///
/// # Errors
/// As [`simulate`](super::simulate()): [`Error::InvalidParameter`] from
/// [`ChiarellaParams::validate`] or [`SimConfig::validate`]; [`Error::Numerical`] when a path
/// overflows (the same path and message as `simulate`) or the summary does.
pub fn simulate_terminal(params: &ChiarellaParams, cfg: &SimConfig) -> Result<Quantiles> {
    params.validate()?;
    cfg.validate()?;
    let kernel = Kernel::new(params, cfg);
    let terminal = run_terminal(&kernel, cfg.paths);
    if let Some(i) = terminal.iter().position(|t| !t.is_finite()) {
        return Err(diverged(params, i, terminal[i]));
    }
    let summary = Quantiles::by_selection(terminal);
    check_moments("terminal price", &summary)?;
    Ok(summary)
}

/// The expected terminal impact (price units, signed like the order) of `order` over a
/// `steps`-step horizon: the `expected_impact` of
/// [`simulate_with_order`](super::simulate_with_order) with a horizon of `steps`, computed
/// without any path. The model is linear and the paired runs share their shocks, so the
/// impact is the same deterministic impulse response on every path, whatever the seed, the
/// number of paths or the noise (it does not depend on `p0`, the fundamental or the
/// volatilities). `simulate_with_order` adds it to each base path and averages the differences
/// `(base + impact) − base` back, so its value differs from this one by that rounding only:
/// under one ulp of the prices (the tests bound it by 1e-12 of the impact plus 1e-15 of the
/// price). This one is the exact recursion, also when the impact is below the prices' ulp.
///
/// # Errors
/// [`Error::InvalidParameter`] from [`ChiarellaParams::validate`], `"steps"` (0 or above
/// [`MAX_PATH_STEPS`](super::MAX_PATH_STEPS)) or [`OrderImpactSpec::validate`]
/// (`"order-size"`, `"order-steps"`); [`Error::Numerical`] when the response overflows
/// (explosive gains over a long horizon). Unlike `simulate_with_order` it needs no base price,
/// so a mean price ≤ 0 is not an error here.
pub fn order_impact(
    params: &ChiarellaParams,
    steps: usize,
    order: &OrderImpactSpec,
) -> Result<f64> {
    params.validate()?;
    let cfg = SimConfig {
        paths: 1,
        steps,
        seed: 0,
    };
    cfg.validate()?;
    order.validate(steps)?;
    // The extra demand Q/H enters the bracket, which is multiplied by λ·Δt (as in
    // `simulate_with_order`).
    let push = params.lambda * (order.size / order.steps as f64) * params.dt;
    let kernel = Kernel::new(params, &cfg);
    let mut response = ImpulseResponse::new(push, order.steps);
    let mut impact = 0.0;
    for _ in 0..steps {
        impact = response.advance(&kernel);
    }
    if !impact.is_finite() {
        return Err(Error::Numerical {
            what: "chiarella order impact",
            detail: format!(
                "the impact of an order of size {} overflows f64 (expected impact {})",
                fmt_num(order.size),
                fmt_num(impact)
            ),
        });
    }
    Ok(impact)
}

/// Current and previous price of one block of up to [`LANES`] paths, as arrays.
#[derive(Debug, Clone, Copy)]
struct TerminalLanes {
    p: [f64; LANES],
    prev: [f64; LANES],
}

impl TerminalLanes {
    /// One step of every lane on its standard normals `z`: the price arithmetic of
    /// `simulate`'s lockstep step, operation for operation, without the peak and drawdown. The
    /// shock `z·s` is scaled here rather than in a pass of its own (the same product: IEEE
    /// multiplication commutes); without noise `z` stays 0 and so does `z·s`.
    #[inline(always)]
    #[allow(
        clippy::needless_range_loop,
        reason = "parallel lane arrays indexed in lockstep; zips would hide that"
    )]
    fn step(&mut self, k: &Kernel, z: &[f64; LANES]) {
        for l in 0..LANES {
            let p = self.p[l];
            let shock = z[l] * k.shock;
            let next = p + k.kf * (k.fundamental - p) + k.kc * (p - self.prev[l]) + shock;
            self.prev[l] = p;
            self.p[l] = next;
        }
    }
}

impl Kernel {
    /// The terminal prices of paths `first .. first + out.len()` (at most [`LANES`]), run in
    /// lockstep on the same streams, normals and arithmetic as `simulate`'s blocks. `z` is
    /// scratch for a chunk of normals (all 0 when the model has no noise).
    fn run_terminal_block(&self, first: usize, out: &mut [f64], z: &mut [[f64; LANES]; CHUNK]) {
        // Lanes past the last path (a partial block) draw from the streams of the indices that
        // follow; their prices are dropped.
        let mut normals = LaneNormals::new(std::array::from_fn(|l| self.path_seed(first + l)));
        let mut lanes = TerminalLanes {
            p: [self.p0; LANES],
            prev: [self.p0; LANES],
        };
        let mut done = 0;
        while done < self.steps {
            let rows = &mut z[..CHUNK.min(self.steps - done)];
            if self.shock > 0.0 {
                for row in rows.iter_mut() {
                    normals.next_normals(row);
                }
            }
            for row in rows.iter() {
                lanes.step(self, row);
            }
            done += rows.len();
        }
        let n = out.len().min(LANES);
        out[..n].copy_from_slice(&lanes.p[..n]);
    }
}

/// Every path's terminal price, in path order (in parallel, [`PATHS_PER_TASK`] paths per task,
/// when the work is large, exactly as `simulate` splits it).
fn run_terminal(k: &Kernel, paths: usize) -> Vec<f64> {
    let mut out = vec![0.0; paths];
    let run_task = |first: usize, task: &mut [f64]| {
        // One buffer of normals per task, not per block. Without noise nothing is drawn and it
        // stays 0.
        let mut normals = [[0.0_f64; LANES]; CHUNK];
        for (b, block) in task.chunks_mut(LANES).enumerate() {
            k.run_terminal_block(first + b * LANES, block, &mut normals);
        }
    };
    if paths.saturating_mul(k.steps) < PARALLEL_MIN_PATH_STEPS {
        run_task(0, &mut out);
    } else {
        out.par_chunks_mut(PATHS_PER_TASK)
            .enumerate()
            .for_each(|(task, chunk)| run_task(task * PATHS_PER_TASK, chunk));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::base_params;
    use super::super::{simulate, simulate_with_order};
    use super::*;
    use proptest::prelude::*;

    fn bits(q: &Quantiles) -> [u64; 7] {
        [q.mean, q.std, q.q01, q.q05, q.q50, q.q95, q.q99].map(f64::to_bits)
    }

    /// A table of parameter sets: the reference model, contrarian chartists off the
    /// fundamental, strong noise, no noise at all (no draws), no feedback at all.
    fn param_table() -> [ChiarellaParams; 5] {
        let base = base_params();
        let contrarian = ChiarellaParams {
            alpha_c: -0.6,
            fundamental: 97.0,
            ..base
        };
        let noisy = ChiarellaParams {
            sigma_p: 2.5,
            sigma_n: 3.0,
            p0: 20_000.0,
            fundamental: 21_000.0,
            ..base
        };
        let deterministic = ChiarellaParams {
            sigma_p: 0.0,
            sigma_n: 0.0,
            fundamental: 110.0,
            ..base
        };
        let random_walk = ChiarellaParams {
            alpha_f: 0.0,
            alpha_c: 0.0,
            ..base
        };
        [base, contrarian, noisy, deterministic, random_walk]
    }

    #[test]
    fn terminal_summary_is_bit_identical_to_simulate() {
        // Path counts around the 8-lane block (1, 7, 8, 9: partial and whole blocks), the
        // forecast's 256 and 1000; horizons around the 64-step chunk. 1000 × 300 is past the
        // parallel threshold, so the rayon split is covered too.
        let shapes = [
            (1, 1),
            (7, 63),
            (8, 64),
            (9, 65),
            (256, 60),
            (1000, 17),
            (1000, 300),
        ];
        for (case, params) in param_table().into_iter().enumerate() {
            for (paths, steps) in shapes {
                for seed in [0, 42, u64::MAX] {
                    let cfg = SimConfig { paths, steps, seed };
                    let want = simulate(&params, &cfg).unwrap().terminal;
                    let got = simulate_terminal(&params, &cfg).unwrap();
                    assert_eq!(
                        bits(&got),
                        bits(&want),
                        "case {case}, {paths} x {steps}, seed {seed}: {got:?} {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn terminal_summary_does_not_depend_on_the_thread_count() {
        let cfg = SimConfig {
            paths: 1000,
            steps: 300,
            seed: 9,
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| simulate_terminal(&base_params(), &cfg).unwrap())
        };
        assert_eq!(bits(&run(1)), bits(&run(2)));
    }

    #[test]
    fn terminal_errors_are_simulate_errors() {
        // Explosive momentum: the same diverged path and message as `simulate`.
        let explosive = ChiarellaParams {
            p0: 101.0,
            fundamental: 100.0,
            alpha_f: 1.0,
            alpha_c: 10.0,
            w_f: 0.5,
            w_c: 0.5,
            w_n: 0.0,
            sigma_n: 0.0,
            sigma_p: 0.0,
            lambda: 1.0,
            dt: 1.0,
        };
        let cfg = SimConfig {
            paths: 3,
            steps: 2000,
            seed: 0,
        };
        let err = simulate_terminal(&explosive, &cfg).unwrap_err();
        assert!(matches!(err, Error::Numerical { .. }), "{err}");
        assert_eq!(err, simulate(&explosive, &cfg).unwrap_err());
        // Invalid inputs name their parameter, as in `simulate`.
        let bad_cfg = SimConfig { paths: 0, ..cfg };
        assert_eq!(
            simulate_terminal(&base_params(), &bad_cfg).unwrap_err(),
            simulate(&base_params(), &bad_cfg).unwrap_err()
        );
        let bad = ChiarellaParams {
            sigma_p: -1.0,
            ..base_params()
        };
        let err = simulate_terminal(&bad, &SimConfig { steps: 10, ..cfg }).unwrap_err();
        assert!(err.to_string().contains("sigma-p"), "{err}");
    }

    #[test]
    fn order_impact_equals_the_paired_simulation() {
        // Every parameter set, horizons around the chunk, orders over one step, part of the
        // horizon and all of it, buys and sells, one path and many.
        let cases = [
            (1, 1, 5.0),
            (60, 1, 5.0),
            (60, 30, -2.0),
            (63, 63, 0.7),
            (130, 100, 8.0),
        ];
        for (case, params) in param_table().into_iter().enumerate() {
            for (steps, horizon, size) in cases {
                let order = OrderImpactSpec {
                    size,
                    steps: horizon,
                };
                let got = order_impact(&params, steps, &order).unwrap();
                for (paths, seed) in [(1, 3), (9, 77), (256, 42)] {
                    let cfg = SimConfig { paths, steps, seed };
                    let paired = simulate_with_order(&params, &cfg, &order).unwrap();
                    let want = paired.expected_impact;
                    // The paired run averages `(base + d) − base` over the paths: `d` up to the
                    // rounding of prices (measured: under one ulp of the price), so the bound
                    // is 1e-12 of the impact plus 1e-15 of the price (≈ 5 ulps).
                    let scale = want.abs() + paired.base.terminal.mean.abs() * 1e-3;
                    assert!(
                        (got - want).abs() <= 1e-12 * scale,
                        "case {case}, {steps} steps, order {order:?}, {paths} paths: \
                         {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn order_impact_hand_checked() {
        // No feedback: impact = λ·Q·Δt exactly, here 2·10·0.5 = 10, whatever the horizon.
        let no_feedback = ChiarellaParams {
            alpha_f: 0.0,
            alpha_c: 0.0,
            lambda: 2.0,
            dt: 0.5,
            ..base_params()
        };
        let order = OrderImpactSpec {
            size: 10.0,
            steps: 4,
        };
        assert_eq!(order_impact(&no_feedback, 6, &order).unwrap(), 10.0);
        // kf = λ·w_F·α_F·Δt = 0.2, kc = 0, Q = 10 over H = 2 (push 5 per step):
        // d1 = 5; d2 = 5 − 0.2·5 + 5 = 9; d3 = 9 − 0.2·9 = 7.2.
        let reverting = ChiarellaParams {
            alpha_f: 0.4,
            w_f: 0.5,
            alpha_c: 0.0,
            ..base_params()
        };
        let order = OrderImpactSpec {
            size: 10.0,
            steps: 2,
        };
        let impact = order_impact(&reverting, 3, &order).unwrap();
        assert!((impact - 7.2).abs() < 1e-13, "{impact}");
        let sell = OrderImpactSpec {
            size: -10.0,
            ..order
        };
        assert_eq!(order_impact(&reverting, 3, &sell).unwrap(), -impact);
    }

    #[test]
    fn order_impact_rejects_what_simulate_with_order_rejects() {
        let order = OrderImpactSpec {
            size: 1.0,
            steps: 11,
        };
        let err = order_impact(&base_params(), 10, &order).unwrap_err();
        assert!(err.to_string().contains("order-steps"), "{err}");
        let nan = OrderImpactSpec {
            size: f64::NAN,
            steps: 1,
        };
        let err = order_impact(&base_params(), 10, &nan).unwrap_err();
        assert!(err.to_string().contains("order-size"), "{err}");
        let err = order_impact(&base_params(), 0, &OrderImpactSpec { steps: 1, ..order });
        assert!(err.unwrap_err().to_string().contains("steps"));
        let bad = ChiarellaParams {
            lambda: -1.0,
            ..base_params()
        };
        let err = order_impact(&bad, 10, &OrderImpactSpec { steps: 1, ..order }).unwrap_err();
        assert!(err.to_string().contains("lambda"), "{err}");
        // Explosive momentum over a long horizon overflows: an error, not a NaN impact.
        let explosive = ChiarellaParams {
            alpha_c: 10.0,
            w_c: 0.5,
            ..base_params()
        };
        let err = order_impact(&explosive, 2000, &OrderImpactSpec { steps: 1, ..order });
        assert!(matches!(err, Err(Error::Numerical { .. })), "{err:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn terminal_summary_matches_simulate(
            alpha_f in 0.0..2.0_f64,
            alpha_c in -1.0..1.0_f64,
            sigma_n in 0.0..3.0_f64,
            sigma_p in 0.0..3.0_f64,
            paths in 1usize..80,
            steps in 1usize..140,
            seed in any::<u64>(),
        ) {
            let params = ChiarellaParams { alpha_f, alpha_c, sigma_n, sigma_p, ..base_params() };
            let cfg = SimConfig { paths, steps, seed };
            match (simulate(&params, &cfg), simulate_terminal(&params, &cfg)) {
                (Ok(want), Ok(got)) => prop_assert_eq!(bits(&got), bits(&want.terminal)),
                (want, got) => prop_assert_eq!(got.err(), want.err()),
            }
        }

        #[test]
        fn order_impact_matches_simulate_with_order(
            alpha_f in 0.0..2.0_f64,
            alpha_c in -1.0..1.0_f64,
            steps in 1usize..140,
            horizon_frac in 0.0..1.0_f64,
            size in -50.0..50.0_f64,
            seed in any::<u64>(),
        ) {
            let params = ChiarellaParams { alpha_f, alpha_c, ..base_params() };
            let horizon = 1 + ((steps - 1) as f64 * horizon_frac) as usize;
            let order = OrderImpactSpec { size, steps: horizon };
            let cfg = SimConfig { paths: 3, steps, seed };
            // Parameters that take prices through zero make the paired run an error (bps
            // undefined); the impulse response itself is still defined.
            if let Ok(paired) = simulate_with_order(&params, &cfg, &order) {
                let got = order_impact(&params, steps, &order).unwrap();
                let scale = paired.expected_impact.abs() + paired.base.terminal.mean.abs() * 1e-3;
                prop_assert!((got - paired.expected_impact).abs() <= 1e-12 * scale,
                    "{} vs {}", got, paired.expected_impact);
            }
        }
    }
}
