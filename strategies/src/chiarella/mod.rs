//! Chiarella agent-based price model: Monte-Carlo simulation, order impact and calibration.
//!
//! The price follows the discrete Chiarella recursion with fundamentalists (pull toward the
//! fundamental value `F`), chartists (trend followers on the last price change) and noise traders:
//!
//! ```text
//! p[k+1] = p[k] + λ·( w_F·α_F·(F − p[k]) + w_C·α_C·(p[k] − p[k−1]) + w_N·ε[k] )·Δt + σ_p·√Δt·Z[k]
//! ε[k] ~ N(0, σ_N²), Z[k] ~ N(0, 1) independent, p[−1] = p[0]
//! ```
//!
//! This module owns the parameter types and their validation; [`simulate`](self::simulate())
//! and [`simulate_with_order`] live in `sim`, their cheaper forecast counterparts
//! [`simulate_terminal`] (terminal price only, bit-identical to `simulate`'s) and
//! [`order_impact`] (the impulse response, no paths) in `terminal`, [`Quantiles`] in
//! `quantiles`, [`calibrate`] in `calibrate`. It is pure model code: no IO, no clock, every
//! random draw comes from generators seeded by [`SimConfig::seed`].
//!
//! # Conventions
//! * **Noise.** `λ·w_N·ε·Δt + σ_p·√Δt·Z` is a sum of two independent centred normals, so each
//!   step draws *one* standard normal and scales it by
//!   `s = √((λ·w_N·σ_N·Δt)² + σ_p²·Δt)`: the same law as two draws at half the cost.
//!   When `s = 0` no random numbers are drawn and every path is the deterministic recursion.
//! * **Random streams.** Path `i` owns a `Xoshiro256PlusPlus` seeded (through SplitMix64) from
//!   a bijective mix of `(seed, i)` (blocks of paths draw from their streams in lockstep, value
//!   for value what `rand_distr::StandardNormal` draws from each); paths run in parallel with
//!   rayon and are reduced in path order, so a summary is bit-identical whatever the number of
//!   threads.
//! * **Summaries** ([`Quantiles`]): `std` is the population standard deviation (ddof 0, numpy's
//!   default); quantiles use linear interpolation between order statistics (numpy's default
//!   `method="linear"`, [`crate::metrics::quantile_sorted`]).
//! * **Max drawdown** of a path is `max_k (peak_k − p[k]) / peak_k ≥ 0` with `peak_k` the running
//!   maximum of `p[0..=k]`: a positive fraction of the peak (0.2 = 20 % below the peak). The model
//!   is additive, so a path can cross zero; its drawdown is then above 1.
//! * **Order impact**: see [`OrderImpactSpec`]. **Calibration normalisation**: see [`calibrate`].

mod calibrate;
mod normals;
mod quantiles;
mod sim;
mod terminal;
mod ziggurat;

pub use calibrate::{Calibration, MIN_CALIBRATION_PRICES, calibrate};
pub use quantiles::Quantiles;
pub use sim::{
    ImpactSummary, MAX_SAMPLE_PATH_STEPS, SimSummary, sample_path, simulate, simulate_with_order,
};
pub use terminal::{order_impact, simulate_terminal};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Largest number of paths [`SimConfig`] accepts (the simulator stores a few `f64` per path:
/// about 64 MB at the limit).
pub const MAX_PATHS: usize = 1_000_000;

/// Largest `paths × steps` [`SimConfig`] accepts: about a minute of CPU on one core.
pub const MAX_PATH_STEPS: u64 = 10_000_000_000;

/// Parameters of the Chiarella model. Field names follow the CLI flags (`alpha_f` ↔ `--alpha-f`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChiarellaParams {
    /// Initial price `p[0]` (> 0); also `p[−1]`.
    pub p0: f64,
    /// Fundamental value `F` (> 0) the fundamentalists pull toward.
    pub fundamental: f64,
    /// Fundamentalist reaction speed `α_F` (≥ 0).
    pub alpha_f: f64,
    /// Chartist reaction to the last price change `α_C` (finite; negative means contrarian).
    pub alpha_c: f64,
    /// Fundamentalist weight `w_F` (≥ 0).
    pub w_f: f64,
    /// Chartist weight `w_C` (≥ 0).
    pub w_c: f64,
    /// Noise-trader weight `w_N` (≥ 0).
    pub w_n: f64,
    /// Standard deviation `σ_N` (≥ 0) of the noise traders' demand `ε`.
    pub sigma_n: f64,
    /// Exogenous price volatility `σ_p` (≥ 0) per unit of time.
    pub sigma_p: f64,
    /// Market-maker price-impact coefficient `λ` (≥ 0): price change per unit of net demand.
    pub lambda: f64,
    /// Time step `Δt` (> 0).
    pub dt: f64,
}

impl ChiarellaParams {
    /// Every problem with the parameters, each naming its CLI flag (`"alpha-f"`, `"sigma-p"`…).
    /// Empty when the parameters are valid.
    #[must_use]
    pub fn problems(&self) -> Vec<Error> {
        let checks: [(&'static str, f64, Domain); 11] = [
            ("p0", self.p0, Domain::Positive),
            ("fundamental", self.fundamental, Domain::Positive),
            ("alpha-f", self.alpha_f, Domain::NonNegative),
            ("alpha-c", self.alpha_c, Domain::Finite),
            ("w-f", self.w_f, Domain::NonNegative),
            ("w-c", self.w_c, Domain::NonNegative),
            ("w-n", self.w_n, Domain::NonNegative),
            ("sigma-n", self.sigma_n, Domain::NonNegative),
            ("sigma-p", self.sigma_p, Domain::NonNegative),
            ("lambda", self.lambda, Domain::NonNegative),
            ("dt", self.dt, Domain::Positive),
        ];
        checks
            .iter()
            .filter_map(|&(name, value, domain)| domain.check(name, value))
            .collect()
    }

    /// Checks the parameters; use [`problems`](Self::problems) to list every problem at once.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter as its CLI flag: non-finite
    /// values, `p0`, `fundamental` or `dt` not > 0, `alpha-f`, weights, sigmas or `lambda` < 0.
    pub fn validate(&self) -> Result<()> {
        self.problems().into_iter().next().map_or(Ok(()), Err)
    }

    /// Per-step fundamentalist gain `λ·w_F·α_F·Δt` (the `a` of [`Calibration`]).
    #[must_use]
    pub fn fundamental_gain_per_step(&self) -> f64 {
        self.lambda * self.w_f * self.alpha_f * self.dt
    }

    /// Per-step chartist gain `λ·w_C·α_C·Δt` (the `b` of [`Calibration`]).
    #[must_use]
    pub fn chartist_gain_per_step(&self) -> f64 {
        self.lambda * self.w_c * self.alpha_c * self.dt
    }

    /// Standard deviation of the one-step price shock, `√((λ·w_N·σ_N·Δt)² + σ_p²·Δt)`.
    #[must_use]
    pub fn shock_std_per_step(&self) -> f64 {
        (self.lambda * self.w_n * self.sigma_n * self.dt).hypot(self.sigma_p * self.dt.sqrt())
    }
}

#[derive(Clone, Copy)]
enum Domain {
    Finite,
    NonNegative,
    Positive,
}

impl Domain {
    fn check(self, name: &'static str, value: f64) -> Option<Error> {
        let reason = if !value.is_finite() {
            "must be finite"
        } else {
            match self {
                Domain::Finite => return None,
                Domain::NonNegative if value < 0.0 => "must be >= 0",
                Domain::Positive if value <= 0.0 => "must be > 0",
                _ => return None,
            }
        };
        Some(Error::InvalidParameter {
            name,
            value: value.to_string(),
            reason: reason.into(),
        })
    }
}

/// Monte-Carlo configuration: how many paths of how many steps, from which seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Number of independent paths (1 ..= [`MAX_PATHS`]).
    pub paths: usize,
    /// Steps per path (≥ 1); the terminal price is `p[steps]`.
    pub steps: usize,
    /// Master seed; path `i` draws from its own generator derived from `(seed, i)`.
    pub seed: u64,
}

impl SimConfig {
    /// Checks the configuration.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `"paths"` (0 or above [`MAX_PATHS`]), `"steps"` (0) or
    /// `"paths"` again when `paths × steps` exceeds [`MAX_PATH_STEPS`].
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &'static str, value: usize, reason: String| {
            Err(Error::InvalidParameter {
                name,
                value: value.to_string(),
                reason,
            })
        };
        if self.paths == 0 {
            return bad("paths", self.paths, "must be >= 1".into());
        }
        if self.paths > MAX_PATHS {
            return bad("paths", self.paths, format!("must be <= {MAX_PATHS}"));
        }
        if self.steps == 0 {
            return bad("steps", self.steps, "must be >= 1".into());
        }
        let work = (self.paths as u64).saturating_mul(self.steps as u64);
        if work > MAX_PATH_STEPS {
            return bad(
                "paths",
                self.paths,
                format!(
                    "paths x steps = {work} exceeds the limit {MAX_PATH_STEPS}; \
                     use fewer paths or steps"
                ),
            );
        }
        Ok(())
    }
}

/// A proposed order whose expected price impact [`simulate_with_order`] measures.
///
/// Design: an order of signed size `Q` (in the model's demand units; > 0 buys) executed evenly
/// over the first `H` steps adds an extra demand `Q/H` inside the bracket for steps `0..H`:
///
/// ```text
/// p[k+1] = p[k] + λ·( … + Q/H·1{k < H} )·Δt + …
/// ```
///
/// With no feedback (`α_F = α_C = 0`) the impact is `λ·Q·Δt` exactly; fundamentalists then pull
/// it back toward `F`, chartists amplify it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderImpactSpec {
    /// Signed order size `Q` in demand units (> 0 buy, < 0 sell).
    pub size: f64,
    /// Execution horizon `H` in steps (1 ..= the simulation's steps).
    pub steps: usize,
}

impl OrderImpactSpec {
    /// Checks the order against the simulation horizon.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `"order-size"` (not finite) or `"order-steps"` (0 or
    /// longer than `sim_steps`).
    pub fn validate(&self, sim_steps: usize) -> Result<()> {
        if !self.size.is_finite() {
            return Err(Error::InvalidParameter {
                name: "order-size",
                value: self.size.to_string(),
                reason: "must be finite".into(),
            });
        }
        if self.steps == 0 || self.steps > sim_steps {
            return Err(Error::InvalidParameter {
                name: "order-steps",
                value: self.steps.to_string(),
                reason: format!("must be in 1..={sim_steps} (the simulation's steps)"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn base_params() -> ChiarellaParams {
        ChiarellaParams {
            p0: 100.0,
            fundamental: 100.0,
            alpha_f: 0.2,
            alpha_c: 0.5,
            w_f: 0.5,
            w_c: 0.3,
            w_n: 0.2,
            sigma_n: 1.0,
            sigma_p: 0.1,
            lambda: 1.0,
            dt: 1.0,
        }
    }

    #[test]
    fn validate_names_the_cli_flag() {
        assert_eq!(base_params().validate(), Ok(()));
        type Mutation = fn(&mut ChiarellaParams);
        let cases: [(Mutation, &str); 8] = [
            (|p| p.alpha_f = -0.1, "alpha-f"),
            (|p| p.sigma_p = -1.0, "sigma-p"),
            (|p| p.sigma_n = f64::NAN, "sigma-n"),
            (|p| p.dt = 0.0, "dt"),
            (|p| p.p0 = 0.0, "p0"),
            (|p| p.fundamental = f64::INFINITY, "fundamental"),
            (|p| p.w_c = -1.0, "w-c"),
            (|p| p.alpha_c = f64::NAN, "alpha-c"),
        ];
        for (mutate, flag) in cases {
            let mut p = base_params();
            mutate(&mut p);
            let err = p.validate().unwrap_err();
            assert!(
                matches!(err, Error::InvalidParameter { name, .. } if name == flag),
                "{flag}: {err}"
            );
            assert!(err.to_string().contains(flag));
        }
        let mut p = base_params();
        p.alpha_c = -0.5; // contrarian chartists are allowed
        assert_eq!(p.validate(), Ok(()));
        p.dt = -1.0;
        p.lambda = -1.0;
        assert_eq!(
            p.problems().len(),
            2,
            "problems() lists every bad parameter"
        );
    }

    #[test]
    fn config_bounds() {
        let ok = SimConfig {
            paths: 1,
            steps: 1,
            seed: 0,
        };
        assert_eq!(ok.validate(), Ok(()));
        for (cfg, flag) in [
            (SimConfig { paths: 0, ..ok }, "paths"),
            (SimConfig { steps: 0, ..ok }, "steps"),
            (
                SimConfig {
                    paths: MAX_PATHS + 1,
                    ..ok
                },
                "paths",
            ),
            (
                SimConfig {
                    paths: 1_000_000,
                    steps: 1_000_000,
                    seed: 0,
                },
                "paths",
            ),
        ] {
            let err = cfg.validate().unwrap_err();
            assert!(
                matches!(err, Error::InvalidParameter { name, .. } if name == flag),
                "{err}"
            );
        }
        let order = OrderImpactSpec {
            size: 1.0,
            steps: 5,
        };
        assert_eq!(order.validate(5), Ok(()));
        assert!(
            order
                .validate(4)
                .unwrap_err()
                .to_string()
                .contains("order-steps")
        );
        let nan = OrderImpactSpec {
            size: f64::NAN,
            steps: 1,
        };
        assert!(
            nan.validate(4)
                .unwrap_err()
                .to_string()
                .contains("order-size")
        );
    }

    #[test]
    fn gains_and_shock() {
        let p = base_params();
        assert!((p.fundamental_gain_per_step() - 0.1).abs() < 1e-15);
        assert!((p.chartist_gain_per_step() - 0.15).abs() < 1e-15);
        // √(0.2² + 0.1²) = √0.05
        assert!((p.shock_std_per_step() - 0.05_f64.sqrt()).abs() < 1e-15);
    }
}
