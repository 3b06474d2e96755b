//! K-state Gaussian hidden Markov model on returns: online forward filter, batch filtering and
//! smoothing, Viterbi decoding, Baum-Welch fitting with seeded restarts, and regime naming.
//!
//! This module owns the model maths only: no IO, no clock, no global randomness (every random
//! draw comes from a generator seeded by the caller). It must not know about bars, orders or
//! actors; the `RegimeDetector` actor wraps an [`OnlineFilter`].
//!
//! # Model
//! Hidden states `S_t ∈ {0..K}` follow a Markov chain with row-stochastic transition matrix
//! `A[i][j] = P(S_{t+1} = j | S_t = i)` and initial distribution `π`; each observation (a log
//! return) is `r_t | S_t = k ~ N(mean_k, std_k²)`. The JSON form, read and written by the CLI
//! and written by hand by users, is
//!
//! ```json
//! {"states":[{"name":"trending","mean":0.001,"std":0.01}, …],
//!  "transition":[[0.9,0.05,0.05], …],
//!  "initial":[0.34,0.33,0.33]}
//! ```
//!
//! and is validated on the way in (see [`GaussianHmm::new`]).
//!
//! # Numerics
//! * Emissions are evaluated in log space, `ln N(r; μ, σ²) = −ln σ − ½ln 2π − ½(r−μ)²/σ²`, with
//!   `½(r−μ)²/σ²` clamped at `1e300` so that any finite `r` gives a finite log density.
//! * The forward filter is *scaled*: each step subtracts the largest log density before
//!   exponentiating, so the best-fitting state always has relative density 1 and an extreme
//!   outlier cannot make every density underflow to 0. A scaled step is used only while it is
//!   exact to rounding (every unnormalised entry ≥ 2⁻⁹⁰⁰ or a structural zero); otherwise — a
//!   relative density or a filtered probability below f64 range that later data could make
//!   decisive — the step is done in log space and the filter carries `ln α` until the
//!   distribution fits the scaled form again. Ordinary data never leave the scaled path.
//! * The backward pass normalises the posterior explicitly at every step, so smoothing and
//!   Baum-Welch never divide by an underflowed scale factor, and likewise runs scaled only while
//!   that is exact: when an entry of `A·(b ⊙ β)` or the normaliser drops below 2⁻⁹⁰⁰ it redoes the
//!   step from the log densities (and the forward pass's log-space rows) and stays in log space
//!   while β spans more than f64 can hold (e.g. an absorbing state ruled out by a later outlier).
//! * Viterbi runs in log space.
//!
//! # Regime naming
//! See [`GaussianHmm::canonical_order`]: for K = 3 the states are named `trending`,
//! `mean_reverting`, `volatile` (in that canonical order); for other K, `state_0`, `state_1`, …
//! by ascending std.

mod filter;
mod fit;
mod kernel;
mod model;
mod viterbi;

#[cfg(test)]
mod tests;

pub use filter::{Filtered, OnlineFilter};
pub use fit::{BaumWelch, FitConfig, FitReport, MAX_RESTARTS, MAX_STATES, fit};
pub use model::{GaussianHmm, Simulation, StateParams};

use crate::{Error, Result};

/// Tolerance on the sum of each probability row (transition rows, initial distribution) when a
/// model is validated; rows within it are then renormalised exactly.
pub const PROB_SUM_TOLERANCE: f64 = 1e-6;

/// The three named market regimes of a 3-state model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Regime {
    /// Persistent drift: the calm state with the larger |mean| / std.
    Trending,
    /// Calm, drift-less chop: the calm state with the smaller |mean| / std.
    MeanReverting,
    /// The highest-volatility state.
    Volatile,
}

impl Regime {
    /// All regimes in canonical state order (the order of a fitted 3-state model's states).
    pub const ALL: [Regime; 3] = [Regime::Trending, Regime::MeanReverting, Regime::Volatile];

    /// The state name used in model JSON: `"trending"`, `"mean_reverting"`, `"volatile"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Regime::Trending => "trending",
            Regime::MeanReverting => "mean_reverting",
            Regime::Volatile => "volatile",
        }
    }

    /// The regime a state name denotes, if it is one of the three regime names (exact match).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Regime> {
        Regime::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Regime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most probable state of a probability vector and its probability (the *confidence*).
///
/// Ties go to the lowest index. `None` for an empty slice.
#[must_use]
pub fn most_likely(probs: &[f64]) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &p) in probs.iter().enumerate() {
        if best.is_none_or(|(_, b)| p > b) {
            best = Some((i, p));
        }
    }
    best
}

/// Log returns `ln(c_t / c_{t−1})` of a close series (length `closes.len() − 1`).
///
/// # Errors
/// [`Error::TooShort`] for fewer than 2 closes, [`Error::NonFinite`] for a NaN or infinite close
/// and [`Error::InvalidParameter`] for a close ≤ 0, each naming the index.
pub fn log_returns(closes: &[f64]) -> Result<Vec<f64>> {
    if closes.len() < 2 {
        return Err(Error::TooShort {
            what: "closes",
            needed: 2,
            got: closes.len(),
        });
    }
    crate::error::ensure_finite("closes", closes)?;
    if let Some(i) = closes.iter().position(|&c| c <= 0.0) {
        return Err(Error::InvalidParameter {
            name: "closes",
            value: format!("{} at index {i}", closes[i]),
            reason: "prices must be > 0 to take log returns".into(),
        });
    }
    let returns: Vec<f64> = closes.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
    // Finite positive closes can still overflow the ratio (1e-308 → 1e308).
    crate::error::ensure_finite("log returns of closes", &returns)?;
    Ok(returns)
}

/// Checks a batch of observations: non-empty and finite.
pub(crate) fn check_obs(obs: &[f64]) -> Result<()> {
    if obs.is_empty() {
        return Err(Error::TooShort {
            what: "obs",
            needed: 1,
            got: 0,
        });
    }
    crate::error::ensure_finite("obs", obs)
}
