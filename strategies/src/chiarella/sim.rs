//! Monte-Carlo kernel of the Chiarella model: lockstep path blocks, parallel driver, summaries.
//! The recursion's constants ([`Kernel`]), the per-path seeds and the [`ImpulseResponse`] are
//! shared with `terminal`, whose forecast entry points must stay bit-identical to these paths.
//!
//! Paths run in blocks of [`LANES`] advanced step by step together (structure of arrays, so the
//! independent recursions overlap and vectorise); a block draws its shocks a chunk of steps
//! ahead into a stack buffer from [`LaneNormals`], allocates nothing and stores only each path's
//! terminal price and max drawdown. Path `i` draws exactly the normals of its own
//! `Xoshiro256PlusPlus` stream, so it is bit-identical to the scalar recursion of
//! [`sample_path`] whatever block or thread runs it; the driver fills a `Vec` in path order (in
//! parallel when large) and reduces it sequentially, so results do not depend on the thread count.
//!
//! With an order, the with-order path is not simulated again: the recursion is linear, so it is
//! the base path plus a deterministic impulse response computed once per block, and only its
//! peak and drawdown are tracked per path. At the simulator's default shape (256 paths × 60
//! steps) this took a forecast from ≈ 100 µs to ≈ 45–55 µs (`cargo bench --bench chiarella`,
//! `chiarella_forecast`, on a loaded 2-core box).

use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;
use rayon::prelude::*;
use serde::Serialize;

use super::normals::{LANES, LaneNormals};
use super::quantiles::Quantiles;
use super::{ChiarellaParams, OrderImpactSpec, SimConfig};
use crate::error::fmt_num;
use crate::{Error, Result};

/// Longest path [`sample_path`] stores (80 MB of prices).
pub const MAX_SAMPLE_PATH_STEPS: usize = 10_000_000;

/// Paths per rayon task: large enough to amortise scheduling, small enough to balance 2+ cores.
/// A multiple of [`LANES`], so the lockstep blocks are the same whatever the split.
pub(super) const PATHS_PER_TASK: usize = 32;

/// Result of [`simulate`]: distributions of the terminal price and of the path max drawdown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SimSummary {
    /// Distribution of the terminal price `p[steps]`.
    pub terminal: Quantiles,
    /// Distribution of the path max drawdown, a positive fraction of the running peak.
    pub max_drawdown: Quantiles,
    /// Number of paths simulated.
    pub paths: usize,
    /// Steps per path.
    pub steps: usize,
    /// Master seed.
    pub seed: u64,
}

/// Result of [`simulate_with_order`]: the runs without and with the order, on the same draws.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ImpactSummary {
    /// The order that was evaluated.
    pub order: OrderImpactSpec,
    /// Summary without the order (bit-identical to [`simulate`] with the same inputs).
    pub base: SimSummary,
    /// Summary with the order's extra demand.
    pub with_order: SimSummary,
    /// Expected terminal impact: mean over paths of `terminal_with − terminal_without`, which
    /// equals `with_order.terminal.mean − base.terminal.mean` up to rounding.
    pub expected_impact: f64,
    /// `expected_impact / base.terminal.mean × 10⁴` (basis points of the mean base price).
    pub expected_impact_bps: f64,
    /// Population standard deviation (ddof 0) of the per-path impact. The model is linear, so
    /// with common random numbers the impact is the same on every path: the with-order path is
    /// computed as the base path plus that impulse response, and this is rounding only (~0).
    /// It is kept for the report format and for nonlinear extensions.
    pub impact_std: f64,
}

/// The per-step constants of the recursion.
#[derive(Debug, Clone, Copy)]
pub(super) struct Kernel {
    pub(super) p0: f64,
    pub(super) fundamental: f64,
    /// `λ·w_F·α_F·Δt`.
    pub(super) kf: f64,
    /// `λ·w_C·α_C·Δt`.
    pub(super) kc: f64,
    /// One-step shock standard deviation; 0 means no draws at all.
    pub(super) shock: f64,
    pub(super) steps: usize,
    seed: u64,
}

impl Kernel {
    pub(super) fn new(params: &ChiarellaParams, cfg: &SimConfig) -> Self {
        Kernel {
            p0: params.p0,
            fundamental: params.fundamental,
            kf: params.fundamental_gain_per_step(),
            kc: params.chartist_gain_per_step(),
            shock: params.shock_std_per_step(),
            steps: cfg.steps,
            seed: cfg.seed,
        }
    }

    /// The generator of path `index`: SplitMix64 seeding (inside `seed_from_u64`) of a
    /// bijective mix of `(seed, index)`, so distinct paths of one seed never share a stream.
    fn path_rng(&self, index: usize) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(self.path_seed(index))
    }

    /// The seed of path `index`'s generator (see [`path_rng`](Self::path_rng)).
    pub(super) fn path_seed(&self, index: usize) -> u64 {
        mix64(mix64(self.seed) ^ index as u64)
    }

    /// The standard-normal shock of one step, scaled; no draw when the model is deterministic.
    #[inline(always)]
    fn draw(&self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        if self.shock > 0.0 {
            let z: f64 = StandardNormal.sample(rng);
            self.shock * z
        } else {
            0.0
        }
    }
}

/// SplitMix64's output function: a bijection on `u64` with good avalanche.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// State of one path: current and previous price, running peak, max drawdown so far.
#[derive(Debug, Clone, Copy)]
struct PathState {
    p: f64,
    prev: f64,
    peak: f64,
    drawdown: f64,
}

impl PathState {
    fn new(p0: f64) -> Self {
        PathState {
            p: p0,
            prev: p0,
            peak: p0,
            drawdown: 0.0,
        }
    }

    /// One step of the recursion; `forcing` is the shock plus any extra demand term.
    #[inline(always)]
    fn step(&mut self, k: &Kernel, forcing: f64) {
        let next = self.p + k.kf * (k.fundamental - self.p) + k.kc * (self.p - self.prev) + forcing;
        self.prev = self.p;
        self.p = next;
        if next > self.peak {
            self.peak = next;
        } else {
            let dd = (self.peak - next) / self.peak;
            if dd > self.drawdown {
                self.drawdown = dd;
            }
        }
    }
}

/// What one path keeps: its terminal price and its max drawdown.
#[derive(Debug, Clone, Copy, Default)]
struct PathOutcome {
    terminal: f64,
    drawdown: f64,
}

/// Steps of shocks drawn ahead of the recursion for a block (a `CHUNK × LANES` stack buffer:
/// 4 KB, so nothing is allocated per path and any horizon runs in constant memory).
pub(super) const CHUNK: usize = 64;

/// Lockstep state of one block of up to [`LANES`] paths: the fields of [`PathState`] as arrays.
///
/// One path's recursion is a serial chain of dependent floating-point operations (≈ 15 cycles
/// per step, plus the drawdown division); stepping independent paths in lockstep overlaps their
/// chains and lets the compiler vectorise the step across lanes. A path's outcome does not
/// depend on its lane neighbours.
#[derive(Debug, Clone, Copy)]
struct LaneStates {
    p: [f64; LANES],
    prev: [f64; LANES],
    peak: [f64; LANES],
    drawdown: [f64; LANES],
}

impl LaneStates {
    fn new(p0: f64) -> Self {
        LaneStates {
            p: [p0; LANES],
            prev: [p0; LANES],
            peak: [p0; LANES],
            drawdown: [0.0; LANES],
        }
    }

    /// One step of every lane: the arithmetic of [`PathState::step`], lane by lane, with the
    /// peak/drawdown branches written as selects. For a new peak the drawdown candidate is
    /// `0 / peak = 0`, which never exceeds the running drawdown, so the result is bit-identical
    /// to the branchy scalar form (NaN included: `NaN > x` is false in both).
    #[inline(always)]
    #[allow(
        clippy::needless_range_loop,
        reason = "five parallel lane arrays indexed in lockstep; zips would hide that"
    )]
    fn step(&mut self, k: &Kernel, forcing: &[f64; LANES]) {
        for l in 0..LANES {
            let p = self.p[l];
            let next = p + k.kf * (k.fundamental - p) + k.kc * (p - self.prev[l]) + forcing[l];
            self.prev[l] = p;
            self.p[l] = next;
            let peak = if next > self.peak[l] {
                next
            } else {
                self.peak[l]
            };
            self.peak[l] = peak;
            let dd = (peak - next) / peak;
            if dd > self.drawdown[l] {
                self.drawdown[l] = dd;
            }
        }
    }
}

/// Peak and drawdown of the with-order side of a block; its price is the base price plus the
/// impulse response, so only these are carried.
#[derive(Debug, Clone, Copy)]
struct ShiftedLanes {
    p: [f64; LANES],
    peak: [f64; LANES],
    drawdown: [f64; LANES],
}

impl ShiftedLanes {
    fn new(p0: f64) -> Self {
        ShiftedLanes {
            p: [p0; LANES],
            peak: [p0; LANES],
            drawdown: [0.0; LANES],
        }
    }

    /// Records the with-order prices `base + impulse` after one step (same peak/drawdown rule).
    #[inline(always)]
    #[allow(
        clippy::needless_range_loop,
        reason = "parallel lane arrays indexed in lockstep; zips would hide that"
    )]
    fn observe(&mut self, base: &[f64; LANES], impulse: f64) {
        for l in 0..LANES {
            let w = base[l] + impulse;
            self.p[l] = w;
            let peak = if w > self.peak[l] { w } else { self.peak[l] };
            self.peak[l] = peak;
            let dd = (peak - w) / peak;
            if dd > self.drawdown[l] {
                self.drawdown[l] = dd;
            }
        }
    }
}

/// The deterministic response of the price to the order's extra demand: the difference
/// `d[k] = p_with[k] − p_base[k]` of two paths on the same shocks. The recursion is linear, so
/// `d` obeys it with the fundamental at 0, no shock and the push as forcing:
/// `d[k+1] = d[k] + kf·(0 − d[k]) + kc·(d[k] − d[k−1]) + push·1{k < H}`, `d[0] = d[−1] = 0`.
#[derive(Debug, Clone, Copy)]
pub(super) struct ImpulseResponse {
    d: f64,
    prev: f64,
    step: usize,
    push: f64,
    horizon: usize,
}

impl ImpulseResponse {
    pub(super) fn new(push: f64, horizon: usize) -> Self {
        ImpulseResponse {
            d: 0.0,
            prev: 0.0,
            step: 0,
            push,
            horizon,
        }
    }

    /// Advances one step and returns `d[k+1]`.
    pub(super) fn advance(&mut self, k: &Kernel) -> f64 {
        let forcing = if self.step < self.horizon {
            self.push
        } else {
            0.0
        };
        let next = self.d + k.kf * (0.0 - self.d) + k.kc * (self.d - self.prev) + forcing;
        self.prev = self.d;
        self.d = next;
        self.step += 1;
        next
    }
}

impl Kernel {
    /// Runs paths `first .. first + out.len()` (at most [`LANES`]) in lockstep. Each path's
    /// shocks come from its own generator in the same order as in [`sample_path`], so path `i`
    /// is bit-identical to the scalar recursion whatever block it lands in. With an order
    /// (`Some((push, horizon))`), each slot also gets the with-order outcome, the base path plus
    /// the impulse response ([`ImpulseResponse`]), whose drawdown is tracked on that sum.
    fn run_block(&self, first: usize, out: &mut [[PathOutcome; 2]], order: Option<(f64, usize)>) {
        let n = out.len().min(LANES);
        // Lanes past the last path (a partial block) draw from the streams of the indices that
        // follow; their outcomes are dropped.
        let mut normals = LaneNormals::new(std::array::from_fn(|l| self.path_seed(first + l)));
        let mut base = LaneStates::new(self.p0);
        let mut with = ShiftedLanes::new(self.p0);
        let mut impulse = order.map(|(push, horizon)| ImpulseResponse::new(push, horizon));
        // Without noise nothing is drawn and the forcing stays 0 (as in the scalar recursion).
        let mut forcing = [[0.0_f64; LANES]; CHUNK];
        let mut done = 0;
        while done < self.steps {
            let len = CHUNK.min(self.steps - done);
            let rows = &mut forcing[..len];
            if self.shock > 0.0 {
                for row in rows.iter_mut() {
                    normals.next_normals(row);
                    for v in row.iter_mut() {
                        // `z·shock` is `shock·z` bit for bit (IEEE multiplication commutes).
                        *v *= self.shock;
                    }
                }
            }
            for row in rows.iter() {
                base.step(self, row);
                if let Some(impulse) = impulse.as_mut() {
                    with.observe(&base.p, impulse.advance(self));
                }
            }
            done += len;
        }
        for (l, slot) in out.iter_mut().enumerate().take(n) {
            slot[0] = PathOutcome {
                terminal: base.p[l],
                drawdown: base.drawdown[l],
            };
            if impulse.is_some() {
                slot[1] = PathOutcome {
                    terminal: with.p[l],
                    drawdown: with.drawdown[l],
                };
            }
        }
    }
}

/// Below this many path-steps a simulation runs on the calling thread: handing a few hundred
/// microseconds of work to rayon costs more in wake-ups than it saves (a per-decision forecast
/// in the live pipeline is this size). Results are identical either way.
pub(super) const PARALLEL_MIN_PATH_STEPS: usize = 200_000;

/// Runs every path, in blocks of [`LANES`] (in parallel, [`PATHS_PER_TASK`] paths per task,
/// when the work is large), into a path-ordered vector of `[without, with]` outcomes (the
/// second is left at its default without an order).
fn run_all(k: &Kernel, paths: usize, order: Option<(f64, usize)>) -> Vec<[PathOutcome; 2]> {
    let mut out = vec![[PathOutcome::default(); 2]; paths];
    let work = if order.is_some() { 2 } else { 1 };
    let run_task = |first: usize, task: &mut [[PathOutcome; 2]]| {
        for (b, block) in task.chunks_mut(LANES).enumerate() {
            k.run_block(first + b * LANES, block, order);
        }
    };
    if paths.saturating_mul(k.steps).saturating_mul(work) < PARALLEL_MIN_PATH_STEPS {
        run_task(0, &mut out);
        return out;
    }
    out.par_chunks_mut(PATHS_PER_TASK)
        .enumerate()
        .for_each(|(task, chunk)| run_task(task * PATHS_PER_TASK, chunk));
    out
}

/// Summarises per-path outcomes (in path order) after checking they are finite.
fn summarise(
    outcomes: impl Iterator<Item = PathOutcome>,
    cfg: &SimConfig,
    params: &ChiarellaParams,
) -> Result<SimSummary> {
    let (mut terminal, mut drawdown): (Vec<f64>, Vec<f64>) =
        outcomes.map(|o| (o.terminal, o.drawdown)).unzip();
    if let Some(i) = terminal
        .iter()
        .zip(&drawdown)
        .position(|(t, d)| !t.is_finite() || !d.is_finite())
    {
        return Err(diverged(params, i, terminal[i]));
    }
    let (terminal, max_drawdown) = (Quantiles::of(&mut terminal), Quantiles::of(&mut drawdown));
    check_moments("terminal price", &terminal)?;
    check_moments("max drawdown", &max_drawdown)?;
    Ok(SimSummary {
        terminal,
        max_drawdown,
        paths: cfg.paths,
        steps: cfg.steps,
        seed: cfg.seed,
    })
}

/// Checks that the mean and std of the per-path statistic `what` did not overflow.
pub(super) fn check_moments(what: &str, q: &Quantiles) -> Result<()> {
    if q.mean.is_finite() && q.std.is_finite() {
        return Ok(());
    }
    Err(Error::Numerical {
        what: "chiarella summary",
        detail: format!(
            "the {what} statistics overflow (mean {}, std {}): prices too large for f64",
            fmt_num(q.mean),
            fmt_num(q.std)
        ),
    })
}

pub(super) fn diverged(params: &ChiarellaParams, path: usize, value: f64) -> Error {
    Error::Numerical {
        what: "chiarella simulation",
        detail: format!(
            "path {path} diverged (terminal price {}); the per-step gains \
             λ·w_F·α_F·Δt = {} and λ·w_C·α_C·Δt = {} make the recursion unstable over this horizon",
            fmt_num(value),
            params.fundamental_gain_per_step(),
            params.chartist_gain_per_step()
        ),
    }
}

/// Simulates `cfg.paths` Monte-Carlo paths of `cfg.steps` steps and summarises the terminal price
/// and the max drawdown. Deterministic in `(params, cfg)`, independent of the thread count.
///
/// # Errors
/// [`Error::InvalidParameter`] from [`ChiarellaParams::validate`] or [`SimConfig::validate`];
/// [`Error::Numerical`] when a path overflows (explosive gains over a long horizon).
pub fn simulate(params: &ChiarellaParams, cfg: &SimConfig) -> Result<SimSummary> {
    params.validate()?;
    cfg.validate()?;
    let kernel = Kernel::new(params, cfg);
    let outcomes = run_all(&kernel, cfg.paths, None);
    summarise(outcomes.into_iter().map(|o| o[0]), cfg, params)
}

/// Simulates the paths without and with a proposed order (see [`OrderImpactSpec`]) on the same
/// random draws, path by path (common random numbers), and reports the expected terminal impact.
///
/// Because both runs share every shock, the per-path difference carries no Monte-Carlo noise
/// from the shocks themselves; in this linear model it is the same deterministic impulse
/// response on every path, so `expected_impact` is exact for any number of paths. The
/// implementation uses that: each with-order path is its base path plus the impulse response
/// (equal to a second recursion on the same draws up to rounding, ~1e-12 relative, which the
/// tests check against the paired recursion), with its drawdown measured on that sum.
///
/// # Errors
/// As [`simulate`], plus [`OrderImpactSpec::validate`] (`"order-size"`, `"order-steps"`), and
/// [`Error::Numerical`] when the mean terminal price without the order is not > 0 (parameters
/// that take prices through zero), where the impact in basis points is undefined.
pub fn simulate_with_order(
    params: &ChiarellaParams,
    cfg: &SimConfig,
    order: &OrderImpactSpec,
) -> Result<ImpactSummary> {
    params.validate()?;
    cfg.validate()?;
    order.validate(cfg.steps)?;
    // The extra demand Q/H enters the bracket, which is multiplied by λ·Δt.
    let push = params.lambda * (order.size / order.steps as f64) * params.dt;
    let kernel = Kernel::new(params, cfg);
    let outcomes = run_all(&kernel, cfg.paths, Some((push, order.steps)));
    let base = summarise(outcomes.iter().map(|o| o[0]), cfg, params)?;
    let with_order = summarise(outcomes.iter().map(|o| o[1]), cfg, params)?;
    let n = outcomes.len() as f64;
    let diff = |o: &[PathOutcome; 2]| o[1].terminal - o[0].terminal;
    let expected_impact = outcomes.iter().map(diff).sum::<f64>() / n;
    let impact_var = outcomes
        .iter()
        .map(|o| (diff(o) - expected_impact).powi(2))
        .sum::<f64>()
        / n;
    let expected_impact_bps = expected_impact / base.terminal.mean * 1e4;
    if !(expected_impact.is_finite() && impact_var.is_finite()) {
        return Err(Error::Numerical {
            what: "chiarella order impact",
            detail: format!(
                "the impact of an order of size {} overflows f64 (expected impact {})",
                fmt_num(order.size),
                fmt_num(expected_impact)
            ),
        });
    }
    if base.terminal.mean <= 0.0 || !expected_impact_bps.is_finite() {
        return Err(Error::Numerical {
            what: "chiarella order impact",
            detail: format!(
                "mean terminal price without the order is {} (not > 0): the parameters take \
                 prices through zero and the impact in bps is undefined",
                base.terminal.mean
            ),
        });
    }
    Ok(ImpactSummary {
        order: *order,
        base,
        with_order,
        expected_impact,
        expected_impact_bps,
        impact_std: impact_var.sqrt(),
    })
}

/// One full price path `p[0..=steps]` (length `steps + 1`): path 0 of [`simulate`] with the
/// same `seed`, for plotting and calibration tests.
///
/// # Errors
/// As [`simulate`] with one path; `"steps"` must be in `1..=`[`MAX_SAMPLE_PATH_STEPS`].
pub fn sample_path(params: &ChiarellaParams, steps: usize, seed: u64) -> Result<Vec<f64>> {
    let cfg = SimConfig {
        paths: 1,
        steps,
        seed,
    };
    params.validate()?;
    cfg.validate()?;
    if steps > MAX_SAMPLE_PATH_STEPS {
        return Err(Error::InvalidParameter {
            name: "steps",
            value: steps.to_string(),
            reason: format!("a stored path is limited to {MAX_SAMPLE_PATH_STEPS} steps"),
        });
    }
    let k = Kernel::new(params, &cfg);
    let mut rng = k.path_rng(0);
    let mut state = PathState::new(k.p0);
    let mut path = Vec::with_capacity(steps + 1);
    path.push(state.p);
    for _ in 0..steps {
        state.step(&k, k.draw(&mut rng));
        path.push(state.p);
    }
    match path.iter().position(|p| !p.is_finite()) {
        Some(i) => Err(diverged(params, 0, path[i])),
        None => Ok(path),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::base_params;
    use super::*;

    use proptest::prelude::*;

    fn deterministic(fundamental: f64, kf: f64, kc: f64) -> ChiarellaParams {
        // λ = 1, Δt = 1, w_F = w_C = 0.5 ⇒ per-step gains kf = α_F/2, kc = α_C/2.
        ChiarellaParams {
            p0: 100.0,
            fundamental,
            alpha_f: 2.0 * kf,
            alpha_c: 2.0 * kc,
            w_f: 0.5,
            w_c: 0.5,
            w_n: 0.0,
            sigma_n: 0.0,
            sigma_p: 0.0,
            lambda: 1.0,
            dt: 1.0,
        }
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    /// The scalar, one-path-at-a-time kernel the lockstep blocks replaced, kept as the
    /// reference: path `index` without and with the order's push, simulated twice on the same
    /// draws (common random numbers).
    fn reference_paths(k: &Kernel, index: usize, push: f64, horizon: usize) -> [PathOutcome; 2] {
        let mut rng = k.path_rng(index);
        let mut base = PathState::new(k.p0);
        let mut with = base;
        for step in 0..k.steps {
            let shock = k.draw(&mut rng);
            base.step(k, shock);
            with.step(k, if step < horizon { shock + push } else { shock });
        }
        [base, with].map(|s| PathOutcome {
            terminal: s.p,
            drawdown: s.drawdown,
        })
    }

    #[test]
    fn lockstep_blocks_match_the_scalar_paired_recursion() {
        // Shapes around the block (8 lanes) and chunk (64 steps) boundaries, the default
        // forecast shape, momentum and contrarian chartists, a sell and a long order.
        let mut contrarian = base_params();
        contrarian.alpha_c = -0.6;
        contrarian.fundamental = 97.0;
        let cases = [
            (base_params(), 1, 1, 1, 3.0),
            (base_params(), 7, 63, 5, 5.0),
            (base_params(), 9, 64, 64, -2.0),
            (base_params(), 17, 65, 30, 0.5),
            (base_params(), 256, 60, 1, 5.0),
            (contrarian, 40, 130, 100, 8.0),
        ];
        for (params, paths, steps, horizon, size) in cases {
            let cfg = SimConfig {
                paths,
                steps,
                seed: 1234 + paths as u64,
            };
            let order = OrderImpactSpec {
                size,
                steps: horizon,
            };
            let push = params.lambda * (size / horizon as f64) * params.dt;
            let k = Kernel::new(&params, &cfg);
            let got = run_all(&k, paths, Some((push, horizon)));
            let base_only = run_all(&k, paths, None);
            for (i, (pair, alone)) in got.iter().zip(&base_only).enumerate() {
                let want = reference_paths(&k, i, push, horizon);
                // The base side is the same arithmetic on the same draws: bit for bit.
                for (g, w) in [(pair[0], want[0]), (alone[0], want[0])] {
                    assert_eq!(g.terminal.to_bits(), w.terminal.to_bits(), "path {i}");
                    assert_eq!(g.drawdown.to_bits(), w.drawdown.to_bits(), "path {i}");
                }
                // The with-order side is base + impulse response: equal up to rounding.
                let (g, w) = (pair[1], want[1]);
                assert!(
                    close(g.terminal, w.terminal, 1e-12),
                    "path {i}: {g:?} {w:?}"
                );
                assert!(
                    (g.drawdown - w.drawdown).abs() <= 1e-12,
                    "path {i}: {g:?} {w:?}"
                );
            }
            // And the public summaries agree with summaries of the reference outcomes.
            let r = simulate_with_order(&params, &cfg, &order).unwrap();
            let want: Vec<[PathOutcome; 2]> = (0..paths)
                .map(|i| reference_paths(&k, i, push, horizon))
                .collect();
            let base = summarise(want.iter().map(|o| o[0]), &cfg, &params).unwrap();
            let with = summarise(want.iter().map(|o| o[1]), &cfg, &params).unwrap();
            assert_eq!(r.base, base);
            for (g, w) in [
                (r.with_order.terminal, with.terminal),
                (r.with_order.max_drawdown, with.max_drawdown),
            ] {
                for (a, b) in [
                    (g.mean, w.mean),
                    (g.q01, w.q01),
                    (g.q05, w.q05),
                    (g.q50, w.q50),
                    (g.q95, w.q95),
                    (g.q99, w.q99),
                ] {
                    assert!(close(a, b, 1e-12), "{g:?} {w:?}");
                }
                assert!((g.std - w.std).abs() <= 1e-9 * (1.0 + w.std), "{g:?} {w:?}");
            }
        }
    }

    #[test]
    fn fundamentalists_converge_geometrically() {
        // p0 = 100, F = 110, kf = 0.2, no chartists, no noise:
        // p1 = 100 + 0.2·10 = 102; p2 = 102 + 0.2·8 = 103.6; p3 = 103.6 + 0.2·6.4 = 104.88,
        // i.e. F − p_k = 10·0.8^k.
        let params = deterministic(110.0, 0.2, 0.0);
        let path = sample_path(&params, 3, 7).unwrap();
        for (got, want) in path.iter().zip([100.0, 102.0, 103.6, 104.88]) {
            assert!(close(*got, want, 1e-14), "{path:?}");
        }
        let summary = simulate(
            &params,
            &SimConfig {
                paths: 3,
                steps: 40,
                seed: 1,
            },
        )
        .unwrap();
        let want = 110.0 - 10.0 * 0.8_f64.powi(40);
        assert!(close(summary.terminal.mean, want, 1e-13));
        assert_eq!(summary.terminal.std, 0.0);
        assert_eq!(summary.terminal.q01, summary.terminal.q99);
        assert_eq!(
            summary.max_drawdown.q99, 0.0,
            "monotone rise has no drawdown"
        );
    }

    #[test]
    fn chartists_add_momentum() {
        // kf = 0.2, kc = 0.5, p[−1] = p0 = 100, F = 110:
        // p1 = 100 + 0.2·10  + 0.5·0   = 102
        // p2 = 102 + 0.2·8   + 0.5·2   = 104.6
        // p3 = 104.6 + 0.2·5.4 + 0.5·2.6 = 106.98
        let path = sample_path(&deterministic(110.0, 0.2, 0.5), 3, 0).unwrap();
        for (got, want) in path.iter().zip([100.0, 102.0, 104.6, 106.98]) {
            assert!(close(*got, want, 1e-14), "{path:?}");
        }
    }

    #[test]
    fn drawdown_of_a_fall() {
        // p0 = 100, F = 90, kf = 0.5: 95, 92.5, 91.25 ⇒ drawdown (100 − 91.25)/100 = 0.0875.
        let s = simulate(
            &deterministic(90.0, 0.5, 0.0),
            &SimConfig {
                paths: 2,
                steps: 3,
                seed: 0,
            },
        )
        .unwrap();
        assert!(close(s.terminal.q50, 91.25, 1e-15));
        assert!(close(s.max_drawdown.mean, 0.0875, 1e-14));
    }

    #[test]
    fn order_impact_hand_checked() {
        // No feedback: impact = λ·Q·Δt exactly, here 2·10·0.5 = 10.
        let mut p = deterministic(100.0, 0.0, 0.0);
        p.lambda = 2.0;
        p.dt = 0.5;
        p.alpha_f = 0.0;
        let cfg = SimConfig {
            paths: 4,
            steps: 6,
            seed: 3,
        };
        let r = simulate_with_order(
            &p,
            &cfg,
            &OrderImpactSpec {
                size: 10.0,
                steps: 4,
            },
        )
        .unwrap();
        assert!(close(r.expected_impact, 10.0, 1e-14), "{r:?}");
        assert!(close(r.expected_impact_bps, 1000.0, 1e-12));

        // kf = 0.2, Q = 10 over H = 2 (push 5 per step), 3 steps, difference d:
        // d1 = 5; d2 = 5 − 0.2·5 + 5 = 9; d3 = 9 − 0.2·9 = 7.2.
        let p = deterministic(100.0, 0.2, 0.0);
        let cfg = SimConfig {
            paths: 2,
            steps: 3,
            seed: 3,
        };
        let r = simulate_with_order(
            &p,
            &cfg,
            &OrderImpactSpec {
                size: 10.0,
                steps: 2,
            },
        )
        .unwrap();
        assert!(close(r.expected_impact, 7.2, 1e-13), "{r:?}");
        assert!(close(r.with_order.terminal.mean, 107.2, 1e-13));
        assert_eq!(r.impact_std, 0.0);
    }

    #[test]
    fn order_impact_with_noise_uses_common_random_numbers() {
        // Same kf = 0.2 impulse response as above, now with noise and momentum 0 ⇒ still 7.2 on
        // every path (linear model, shared shocks); base equals plain simulate bit for bit.
        let mut p = deterministic(100.0, 0.2, 0.0);
        p.sigma_p = 2.0;
        let cfg = SimConfig {
            paths: 500,
            steps: 3,
            seed: 11,
        };
        let order = OrderImpactSpec {
            size: 10.0,
            steps: 2,
        };
        let r = simulate_with_order(&p, &cfg, &order).unwrap();
        assert!(close(r.expected_impact, 7.2, 1e-10), "{r:?}");
        assert!(r.impact_std < 1e-10);
        assert!(r.base.terminal.std > 1.0, "noise is really there");
        assert_eq!(r.base, simulate(&p, &cfg).unwrap());
        let diff_of_means = r.with_order.terminal.mean - r.base.terminal.mean;
        assert!(close(r.expected_impact, diff_of_means, 1e-10));
        // A sell has the mirror impact.
        let sell = OrderImpactSpec {
            size: -10.0,
            ..order
        };
        let s = simulate_with_order(&p, &cfg, &sell).unwrap();
        assert!(close(s.expected_impact, -7.2, 1e-10));
    }

    #[test]
    fn seeded_runs_reproduce_and_seeds_differ() {
        let cfg = SimConfig {
            paths: 200,
            steps: 50,
            seed: 42,
        };
        let a = simulate(&base_params(), &cfg).unwrap();
        assert_eq!(a, simulate(&base_params(), &cfg).unwrap());
        let b = simulate(&base_params(), &SimConfig { seed: 43, ..cfg }).unwrap();
        assert_ne!(a.terminal, b.terminal);
        // Path 0 of simulate is sample_path with the same seed.
        let one = simulate(&base_params(), &SimConfig { paths: 1, ..cfg }).unwrap();
        let path = sample_path(&base_params(), cfg.steps, cfg.seed).unwrap();
        assert_eq!(one.terminal.mean, *path.last().unwrap());
    }

    #[test]
    fn thread_count_does_not_change_results() {
        let cfg = SimConfig {
            paths: 1000,
            steps: 100,
            seed: 9,
        };
        let order = OrderImpactSpec {
            size: 5.0,
            steps: 10,
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    (
                        simulate(&base_params(), &cfg).unwrap(),
                        simulate_with_order(&base_params(), &cfg, &order).unwrap(),
                    )
                })
        };
        let (one, one_order) = run(1);
        let (two, two_order) = run(2);
        assert_eq!(one, two);
        assert_eq!(one_order, two_order);
        assert_eq!(one.terminal.mean.to_bits(), two.terminal.mean.to_bits());
    }

    #[test]
    fn pure_noise_mean_is_p0() {
        // α = 0, σ_p = 1, Δt = 1, 100 steps ⇒ terminal ~ N(100, 100): std 10.
        let mut p = base_params();
        p.alpha_f = 0.0;
        p.alpha_c = 0.0;
        p.sigma_n = 0.0;
        p.sigma_p = 1.0;
        let cfg = SimConfig {
            paths: 4000,
            steps: 100,
            seed: 5,
        };
        let s = simulate(&p, &cfg).unwrap();
        let se = s.terminal.std / (cfg.paths as f64).sqrt();
        assert!((s.terminal.mean - 100.0).abs() < 4.0 * se, "{s:?}");
        assert!((s.terminal.std - 10.0).abs() < 0.5, "{s:?}");
        // Median of a normal is its mean; 5 %/95 % at ±1.645σ.
        assert!((s.terminal.q50 - 100.0).abs() < 1.0);
        assert!(
            (s.terminal.q95 - s.terminal.q05 - 2.0 * 16.45).abs() < 2.0,
            "{s:?}"
        );
    }

    #[test]
    fn explosive_parameters_error_instead_of_nan() {
        let mut p = deterministic(100.0, 0.0, 5.0);
        p.p0 = 101.0; // start off the fundamental so the momentum has something to amplify
        p.alpha_f = 1.0;
        let err = simulate(
            &p,
            &SimConfig {
                paths: 2,
                steps: 2000,
                seed: 0,
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::Numerical { .. }), "{err}");
        assert!(sample_path(&p, 2000, 0).is_err());
    }

    #[test]
    fn impact_in_bps_of_a_non_positive_price_is_an_error() {
        // One wild path that ends below zero: bps of a negative mean price are meaningless.
        let mut p = base_params();
        p.p0 = 1.0;
        p.sigma_p = 100.0;
        let order = OrderImpactSpec {
            size: 1.0,
            steps: 1,
        };
        let seed = (0..64)
            .find(|&seed| {
                let cfg = SimConfig {
                    paths: 1,
                    steps: 1,
                    seed,
                };
                simulate(&p, &cfg).unwrap().terminal.mean < 0.0
            })
            .expect("half the seeds end below zero");
        let cfg = SimConfig {
            paths: 1,
            steps: 1,
            seed,
        };
        let err = simulate_with_order(&p, &cfg, &order).unwrap_err();
        assert!(matches!(err, Error::Numerical { .. }), "{err}");
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let cfg = SimConfig {
            paths: 0,
            steps: 10,
            seed: 0,
        };
        assert!(
            simulate(&base_params(), &cfg)
                .unwrap_err()
                .to_string()
                .contains("paths")
        );
        let mut p = base_params();
        p.sigma_p = -1.0;
        let cfg = SimConfig {
            paths: 1,
            steps: 10,
            seed: 0,
        };
        assert!(
            simulate(&p, &cfg)
                .unwrap_err()
                .to_string()
                .contains("sigma-p")
        );
        let order = OrderImpactSpec {
            size: 1.0,
            steps: 11,
        };
        let err = simulate_with_order(&base_params(), &cfg, &order).unwrap_err();
        assert!(err.to_string().contains("order-steps"));
        let err = sample_path(&base_params(), MAX_SAMPLE_PATH_STEPS + 1, 0).unwrap_err();
        assert!(err.to_string().contains("steps"), "{err}");
    }

    #[test]
    fn summary_serialises_with_the_documented_keys() {
        let s = simulate(
            &base_params(),
            &SimConfig {
                paths: 10,
                steps: 10,
                seed: 0,
            },
        )
        .unwrap();
        let json = serde_json::to_value(s).unwrap();
        for key in ["mean", "std", "q01", "q05", "q50", "q95", "q99"] {
            assert!(json["terminal"][key].is_f64(), "{key}");
            assert!(json["max_drawdown"][key].is_f64(), "{key}");
        }
        assert_eq!(json["paths"], 10);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn quantiles_are_ordered(
            alpha_f in 0.0..2.0_f64,
            alpha_c in -1.0..1.0_f64,
            sigma_n in 0.0..3.0_f64,
            sigma_p in 0.0..3.0_f64,
            paths in 1usize..60,
            steps in 1usize..60,
            seed in any::<u64>(),
        ) {
            let params = ChiarellaParams { alpha_f, alpha_c, sigma_n, sigma_p, ..base_params() };
            let s = simulate(&params, &SimConfig { paths, steps, seed }).unwrap();
            for q in [s.terminal, s.max_drawdown] {
                prop_assert!(q.q01 <= q.q05 && q.q05 <= q.q50 && q.q50 <= q.q95 && q.q95 <= q.q99);
                prop_assert!(q.std >= 0.0 && q.mean.is_finite());
            }
            prop_assert!(s.max_drawdown.q01 >= 0.0);
        }
    }
}
