//! The validated model type, its JSON form, regime naming / canonical state order, and
//! simulation.

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::kernel::Kernel;
use super::{PROB_SUM_TOLERANCE, Regime};
use crate::error::fmt_num;
use crate::{Error, Result};

/// One hidden state: its name and the Gaussian its observations are drawn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateParams {
    /// Unique, non-empty name (`"trending"`, `"state_0"`, …).
    pub name: String,
    /// Mean of the observations (log returns) in this state.
    pub mean: f64,
    /// Standard deviation of the observations in this state (> 0).
    pub std: f64,
}

impl StateParams {
    /// Convenience constructor.
    #[must_use]
    pub fn new(name: impl Into<String>, mean: f64, std: f64) -> Self {
        StateParams {
            name: name.into(),
            mean,
            std,
        }
    }
}

/// The JSON shape, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    states: Vec<StateParams>,
    transition: Vec<Vec<f64>>,
    initial: Vec<f64>,
}

/// A validated K-state Gaussian HMM.
///
/// Invariants (checked by [`GaussianHmm::new`] and on deserialization): K ≥ 1; names unique and
/// non-empty; means finite; stds positive, finite and with a finite, normal `1/std²`; the
/// transition matrix K×K with finite non-negative entries whose rows sum to 1 within
/// [`PROB_SUM_TOLERANCE`] (then renormalised exactly); the initial distribution likewise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawModel", into = "RawModel")]
pub struct GaussianHmm {
    states: Vec<StateParams>,
    /// K×K row-major.
    transition: Vec<f64>,
    initial: Vec<f64>,
}

impl TryFrom<RawModel> for GaussianHmm {
    type Error = Error;
    fn try_from(raw: RawModel) -> Result<Self> {
        GaussianHmm::new(raw.states, raw.transition, raw.initial)
    }
}

impl From<GaussianHmm> for RawModel {
    fn from(m: GaussianHmm) -> Self {
        let k = m.n_states();
        RawModel {
            transition: m
                .transition
                .chunks_exact(k.max(1))
                .map(<[f64]>::to_vec)
                .collect(),
            states: m.states,
            initial: m.initial,
        }
    }
}

/// A simulated path: the hidden states and the observations.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// Hidden state index at each step.
    pub states: Vec<usize>,
    /// Observation at each step.
    pub obs: Vec<f64>,
}

/// Collects validation problems, each with its key path.
#[derive(Default)]
struct Problems {
    first: Option<&'static str>,
    all: Vec<String>,
}

impl Problems {
    fn push(&mut self, root: &'static str, msg: String) {
        self.first.get_or_insert(root);
        self.all.push(msg);
    }

    fn into_result(self) -> Result<()> {
        match self.first {
            None => Ok(()),
            Some(field) => Err(Error::InvalidModel {
                field,
                problems: self.all.join("; "),
            }),
        }
    }
}

/// Checks one probability row (entries finite, ≥ 0, sum 1 ± tolerance); `label` is e.g.
/// `"transition row 2"`.
fn check_prob_row(p: &mut Problems, root: &'static str, label: &str, row: &[f64]) {
    for (j, &x) in row.iter().enumerate() {
        if !x.is_finite() || x < 0.0 {
            p.push(
                root,
                format!(
                    "{label} entry {j} = {}: probabilities must be finite and >= 0",
                    fmt_num(x)
                ),
            );
            return;
        }
    }
    let s: f64 = row.iter().sum();
    if (s - 1.0).abs() > PROB_SUM_TOLERANCE {
        p.push(
            root,
            format!(
                "{label} sums to {}, expected 1 (tolerance {PROB_SUM_TOLERANCE:e})",
                fmt_num(s)
            ),
        );
    }
}

/// Divides a row by its sum, unless the sum is already 1 to within rounding (a few ulps), so
/// that hand-written values such as `[0.2, 0.7, 0.1]` survive a JSON round trip bit for bit.
fn renormalise(row: &mut [f64]) {
    let s: f64 = row.iter().sum();
    if (s - 1.0).abs() > 4.0 * f64::EPSILON {
        for x in row {
            *x /= s;
        }
    }
}

impl GaussianHmm {
    /// A validated model from its states, K×K transition matrix (`transition[i][j]` =
    /// P(next = j | now = i)) and initial distribution. Rows within [`PROB_SUM_TOLERANCE`] of 1
    /// are renormalised exactly.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] listing *every* problem with its key path, e.g.
    /// `transition row 2 sums to 0.9, expected 1 (tolerance 1e-6); states[1].std = -0.01: …`:
    /// no states, a ragged or non-square matrix, a wrong-length initial vector, negative or
    /// non-finite entries, rows not summing to 1, std ≤ 0 (or so extreme that 1/std² is not a
    /// normal finite number), non-finite means, empty or duplicate names.
    pub fn new(
        states: Vec<StateParams>,
        transition: Vec<Vec<f64>>,
        initial: Vec<f64>,
    ) -> Result<Self> {
        let k = states.len();
        let mut p = Problems::default();
        if k == 0 {
            p.push("states", "states: a model needs at least 1 state".into());
        }
        for (i, s) in states.iter().enumerate() {
            if s.name.is_empty() {
                p.push("states", format!("states[{i}].name is empty"));
            } else if let Some(j) = states[..i].iter().position(|o| o.name == s.name) {
                p.push(
                    "states",
                    format!("states[{i}].name {:?} duplicates states[{j}].name", s.name),
                );
            }
            if !s.mean.is_finite() {
                p.push(
                    "states",
                    format!("states[{i}].mean = {}: must be finite", fmt_num(s.mean)),
                );
            }
            let iv = 1.0 / (s.std * s.std);
            if !(s.std.is_finite() && s.std > 0.0 && iv.is_normal()) {
                p.push(
                    "states",
                    format!(
                        "states[{i}].std = {}: must be > 0 and finite (with 1/std^2 finite)",
                        fmt_num(s.std)
                    ),
                );
            }
        }
        if transition.len() != k {
            p.push(
                "transition",
                format!(
                    "transition has {} rows, expected {k} (one per state)",
                    transition.len()
                ),
            );
        }
        for (i, row) in transition.iter().enumerate() {
            if row.len() != k {
                p.push(
                    "transition",
                    format!("transition row {i} has {} entries, expected {k}", row.len()),
                );
            } else {
                check_prob_row(&mut p, "transition", &format!("transition row {i}"), row);
            }
        }
        if initial.len() != k {
            p.push(
                "initial",
                format!("initial has {} entries, expected {k}", initial.len()),
            );
        } else {
            check_prob_row(&mut p, "initial", "initial", &initial);
        }
        p.into_result()?;

        let mut flat: Vec<f64> = transition.into_iter().flatten().collect();
        for row in flat.chunks_exact_mut(k) {
            renormalise(row);
        }
        let mut initial = initial;
        renormalise(&mut initial);
        Ok(GaussianHmm {
            states,
            transition: flat,
            initial,
        })
    }

    /// Re-checks every invariant listed on [`GaussianHmm`]. Always `Ok` for a value built by
    /// [`GaussianHmm::new`] or deserialized (both validate); provided for callers that want an
    /// explicit check at a trust boundary.
    ///
    /// # Errors
    /// As [`GaussianHmm::new`].
    pub fn validate(&self) -> Result<()> {
        let raw = RawModel::from(self.clone());
        GaussianHmm::new(raw.states, raw.transition, raw.initial).map(|_| ())
    }

    /// Number of states K.
    #[must_use]
    pub fn n_states(&self) -> usize {
        self.states.len()
    }

    /// The states, in model order.
    #[must_use]
    pub fn states(&self) -> &[StateParams] {
        &self.states
    }

    /// Row `i` of the transition matrix: `P(next = j | now = i)` for each `j`.
    ///
    /// # Panics
    /// If `i >= n_states()`.
    #[must_use]
    pub fn transition_row(&self, i: usize) -> &[f64] {
        let k = self.n_states();
        &self.transition[i * k..(i + 1) * k]
    }

    /// The transition matrix as nested rows (the JSON shape).
    #[must_use]
    pub fn transition_matrix(&self) -> Vec<Vec<f64>> {
        self.transition
            .chunks_exact(self.n_states())
            .map(<[f64]>::to_vec)
            .collect()
    }

    /// The initial state distribution.
    #[must_use]
    pub fn initial(&self) -> &[f64] {
        &self.initial
    }

    /// Index of the state called `name`.
    #[must_use]
    pub fn state_index(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|s| s.name == name)
    }

    /// The regime state `i` denotes by its name (`None` for non-regime names or `i` out of
    /// range).
    #[must_use]
    pub fn regime(&self, i: usize) -> Option<Regime> {
        self.states.get(i).and_then(|s| Regime::from_name(&s.name))
    }

    /// Precomputed constants for the filters.
    pub(crate) fn kernel(&self) -> Kernel {
        let k = self.n_states();
        let mut kern = Kernel::zeros(k);
        let mean: Vec<f64> = self.states.iter().map(|s| s.mean).collect();
        let var: Vec<f64> = self.states.iter().map(|s| s.std * s.std).collect();
        kern.set(&mean, &var, &self.transition, &self.initial);
        kern
    }

    /// The canonical state order: `order[new] = old` index.
    ///
    /// * **K = 3**: `[trending, mean_reverting, volatile]`. *volatile* is the state with the
    ///   highest std. Of the other two, *trending* is the one with the larger signal-to-noise
    ///   ratio `|mean| / std`, *mean_reverting* the other. `|mean|/std` rather than `|mean|`
    ///   because it is scale-free and is what makes a drift tradable: a state whose drift is
    ///   large only because its noise is large is not a trend. Sign is ignored: a persistent
    ///   sell-off is a trend too.
    /// * **K ≠ 3**: ascending std (`state_0` calmest).
    ///
    /// Ties, in this order: larger |mean| (volatile, trending) or smaller mean (K ≠ 3), then the
    /// lower original index. Comparisons use `f64::total_cmp`, so the order is total.
    #[must_use]
    pub fn canonical_order(&self) -> Vec<usize> {
        let s = &self.states;
        let k = s.len();
        if k == 3 {
            let vol = (0..3)
                .reduce(|a, b| {
                    let key = |i: usize| (s[i].std, s[i].mean.abs());
                    let (ka, kb) = (key(a), key(b));
                    match kb.0.total_cmp(&ka.0).then(kb.1.total_cmp(&ka.1)) {
                        std::cmp::Ordering::Greater => b,
                        _ => a,
                    }
                })
                .unwrap_or(0);
            let mut rest = (0..3).filter(|&i| i != vol);
            let (a, b) = (rest.next().unwrap_or(0), rest.next().unwrap_or(0));
            let snr = |i: usize| s[i].mean.abs() / s[i].std;
            let b_wins = snr(b)
                .total_cmp(&snr(a))
                .then(s[b].mean.abs().total_cmp(&s[a].mean.abs()))
                .is_gt();
            let (trend, mr) = if b_wins { (b, a) } else { (a, b) };
            vec![trend, mr, vol]
        } else {
            let mut order: Vec<usize> = (0..k).collect();
            order.sort_by(|&a, &b| {
                s[a].std
                    .total_cmp(&s[b].std)
                    .then(s[a].mean.total_cmp(&s[b].mean))
                    .then(a.cmp(&b))
            });
            order
        }
    }

    /// The canonical name of the state at canonical position `i` for a K-state model.
    fn canonical_name(k: usize, i: usize) -> String {
        if k == 3 {
            Regime::ALL[i].as_str().to_owned()
        } else {
            format!("state_{i}")
        }
    }

    /// This model with its states reordered by [`GaussianHmm::canonical_order`] (transition
    /// rows and columns and the initial distribution permuted alike) and renamed canonically
    /// (`trending`/`mean_reverting`/`volatile` for K = 3, `state_i` otherwise). The likelihood
    /// of any data is unchanged; refitting with the same seed gives identical JSON.
    #[must_use]
    pub fn canonicalized(&self) -> GaussianHmm {
        let order = self.canonical_order();
        self.permuted(&order, |i| Self::canonical_name(order.len(), i))
    }

    /// States permuted so that new state `i` is old state `order[i]`, named by `name(i)`.
    pub(crate) fn permuted(&self, order: &[usize], name: impl Fn(usize) -> String) -> GaussianHmm {
        let k = self.n_states();
        let states = order
            .iter()
            .enumerate()
            .map(|(i, &o)| StateParams {
                name: name(i),
                ..self.states[o].clone()
            })
            .collect();
        let mut transition = vec![0.0; k * k];
        for (i, &oi) in order.iter().enumerate() {
            for (j, &oj) in order.iter().enumerate() {
                transition[i * k + j] = self.transition[oi * k + oj];
            }
        }
        let initial = order.iter().map(|&o| self.initial[o]).collect();
        GaussianHmm {
            states,
            transition,
            initial,
        }
    }

    /// Builds a model from already-normalised flat parts (fitting internals). Names
    /// `state_0..`; the caller guarantees the invariants up to rounding and this re-validates.
    pub(crate) fn from_parts(
        mean: &[f64],
        var: &[f64],
        trans: &[f64],
        initial: &[f64],
        names: &[String],
    ) -> Result<GaussianHmm> {
        let k = mean.len();
        let states = (0..k)
            .map(|i| StateParams {
                name: names[i].clone(),
                mean: mean[i],
                std: var[i].sqrt(),
            })
            .collect();
        let rows = trans.chunks_exact(k).map(<[f64]>::to_vec).collect();
        GaussianHmm::new(states, rows, initial.to_vec())
    }

    /// Draws `n` steps of the hidden chain and its observations with a
    /// `Xoshiro256PlusPlus::seed_from_u64(seed)` generator (same seed → same path).
    #[must_use]
    pub fn simulate(&self, n: usize, seed: u64) -> Simulation {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let k = self.n_states();
        let mut states = Vec::with_capacity(n);
        let mut obs = Vec::with_capacity(n);
        let mut s = 0;
        for t in 0..n {
            let probs = if t == 0 {
                &self.initial[..]
            } else {
                self.transition_row(s)
            };
            let u: f64 = rng.random();
            s = sample_categorical(probs, u);
            let z: f64 = StandardNormal.sample(&mut rng);
            states.push(s);
            obs.push(self.states[s].mean + self.states[s].std * z);
        }
        debug_assert!(states.iter().all(|&x| x < k));
        Simulation { states, obs }
    }
}

/// Inverse-CDF draw from a probability row; rounding slack goes to the last positive entry.
fn sample_categorical(probs: &[f64], u: f64) -> usize {
    let mut c = 0.0;
    for (i, &p) in probs.iter().enumerate() {
        c += p;
        if u < c {
            return i;
        }
    }
    probs.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_model() -> &'static str {
        r#"{"states":[{"name":"trending","mean":0.001,"std":0.01},
                      {"name":"mean_reverting","mean":0.0,"std":0.005},
                      {"name":"volatile","mean":-0.002,"std":0.03}],
            "transition":[[0.9,0.05,0.05],[0.05,0.9,0.05],[0.1,0.1,0.8]],
            "initial":[0.4,0.4,0.2]}"#
    }

    #[test]
    fn json_round_trip_has_exact_shape() {
        let m: GaussianHmm = serde_json::from_str(json_model()).unwrap();
        assert_eq!(m.n_states(), 3);
        assert_eq!(m.transition_row(2), &[0.1, 0.1, 0.8]);
        assert_eq!(m.regime(2), Some(Regime::Volatile));
        let out = serde_json::to_string(&m).unwrap();
        assert_eq!(
            out,
            r#"{"states":[{"name":"trending","mean":0.001,"std":0.01},{"name":"mean_reverting","mean":0.0,"std":0.005},{"name":"volatile","mean":-0.002,"std":0.03}],"transition":[[0.9,0.05,0.05],[0.05,0.9,0.05],[0.1,0.1,0.8]],"initial":[0.4,0.4,0.2]}"#
        );
        let back: GaussianHmm = serde_json::from_str(&out).unwrap();
        assert_eq!(back, m);
    }

    fn err_of(json: &str) -> String {
        serde_json::from_str::<GaussianHmm>(json)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn malformed_models_are_rejected_naming_the_field() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"states":[],"transition":[],"initial":[]}"#,
                "at least 1 state",
            ),
            (
                r#"{"states":[{"name":"a","mean":0,"std":1},{"name":"b","mean":0,"std":1}],
                   "transition":[[1.0,0.0],[0.5]],"initial":[0.5,0.5]}"#,
                "transition row 1 has 1 entries, expected 2",
            ),
            (
                r#"{"states":[{"name":"a","mean":0,"std":1},{"name":"b","mean":0,"std":1}],
                   "transition":[[1.0,0.0]],"initial":[0.5,0.5]}"#,
                "transition has 1 rows, expected 2",
            ),
            (
                r#"{"states":[{"name":"a","mean":0,"std":1},{"name":"b","mean":0,"std":1},{"name":"c","mean":0,"std":1}],
                   "transition":[[1,0,0],[0,1,0],[0.5,0.4,0]],"initial":[1,0,0]}"#,
                "transition row 2 sums to 0.9",
            ),
            (
                r#"{"states":[{"name":"a","mean":0,"std":1},{"name":"b","mean":0,"std":1}],
                   "transition":[[1.1,-0.1],[0,1]],"initial":[1,0]}"#,
                "transition row 0 entry 1 = -0.1",
            ),
            (
                r#"{"states":[{"name":"a","mean":0,"std":1},{"name":"b","mean":0,"std":0}],
                   "transition":[[1,0],[0,1]],"initial":[1,0]}"#,
                "states[1].std = 0",
            ),
            (
                r#"{"states":[{"name":"a","mean":0,"std":1},{"name":"b","mean":0,"std":-0.01}],
                   "transition":[[1,0],[0,1]],"initial":[1,0]}"#,
                "states[1].std = -0.01",
            ),
            (
                r#"{"states":[{"name":"a","mean":0,"std":1},{"name":"a","mean":0,"std":1}],
                   "transition":[[1,0],[0,1]],"initial":[1,0]}"#,
                "states[1].name \"a\" duplicates states[0].name",
            ),
            (
                r#"{"states":[{"name":"a","mean":0,"std":1}],"transition":[[1]],"initial":[0.5]}"#,
                "initial sums to 0.5",
            ),
            (
                r#"{"states":[{"name":"a","mean":0,"std":1}],"transition":[[1]],"initial":[1,0]}"#,
                "initial has 2 entries, expected 1",
            ),
            (
                r#"{"states":[{"name":"a","mean":0,"sd":1}],"transition":[[1]],"initial":[1]}"#,
                "unknown field `sd`",
            ),
            (
                r#"{"states":[{"name":"a","mean":0,"std":1}],"transition":[[1]]}"#,
                "missing field `initial`",
            ),
        ];
        for (json, want) in cases {
            let e = err_of(json);
            assert!(e.contains(want), "error {e:?} should contain {want:?}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let e = err_of(
            r#"{"states":[{"name":"a","mean":0,"std":-1},{"name":"b","mean":0,"std":1}],
               "transition":[[0.5,0.4],[0,1]],"initial":[1,0]}"#,
        );
        assert!(
            e.contains("states[0].std = -1") && e.contains("transition row 0 sums to 0.9"),
            "{e}"
        );
    }

    #[test]
    fn rows_within_tolerance_are_renormalised() {
        let m = GaussianHmm::new(
            vec![
                StateParams::new("a", 0.0, 1.0),
                StateParams::new("b", 0.0, 2.0),
            ],
            vec![vec![0.9, 0.1000001], vec![0.2, 0.8]],
            vec![0.5, 0.5],
        )
        .unwrap();
        let s: f64 = m.transition_row(0).iter().sum();
        assert!((s - 1.0).abs() < 1e-15);
        assert!(m.validate().is_ok());
    }

    #[test]
    fn canonical_naming_k3() {
        // Model order: volatile, trending (|μ|/σ = 0.2), mean-reverting (0.02).
        let m = GaussianHmm::new(
            vec![
                StateParams::new("x", 0.0, 0.05),
                StateParams::new("y", -0.002, 0.01),
                StateParams::new("z", 0.0001, 0.005),
            ],
            vec![
                vec![0.8, 0.1, 0.1],
                vec![0.2, 0.7, 0.1],
                vec![0.3, 0.3, 0.4],
            ],
            vec![0.2, 0.3, 0.5],
        )
        .unwrap();
        assert_eq!(m.canonical_order(), vec![1, 2, 0]);
        let c = m.canonicalized();
        let names: Vec<&str> = c.states().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["trending", "mean_reverting", "volatile"]);
        assert_eq!(c.states()[0].mean, -0.002);
        assert_eq!(c.transition_row(0), &[0.7, 0.1, 0.2]);
        assert_eq!(c.transition_row(2), &[0.1, 0.1, 0.8]);
        assert_eq!(c.initial(), &[0.3, 0.5, 0.2]);
        assert_eq!(c.canonicalized(), c, "canonicalisation is idempotent");
        // Ties: all states equal → volatile is the lowest index (0), then trending the lower of
        // the other two.
        let t = GaussianHmm::new(
            vec![
                StateParams::new("a", 0.0, 1.0),
                StateParams::new("b", 0.0, 1.0),
                StateParams::new("c", 0.0, 1.0),
            ],
            vec![
                vec![1.0, 0.0, 0.0],
                vec![0.0, 1.0, 0.0],
                vec![0.0, 0.0, 1.0],
            ],
            vec![1.0, 0.0, 0.0],
        )
        .unwrap();
        assert_eq!(t.canonical_order(), vec![1, 2, 0]);
    }

    #[test]
    fn canonical_naming_other_k_sorts_by_std() {
        let m = GaussianHmm::new(
            vec![
                StateParams::new("hi", 0.0, 3.0),
                StateParams::new("lo", 0.0, 1.0),
            ],
            vec![vec![0.9, 0.1], vec![0.3, 0.7]],
            vec![1.0, 0.0],
        )
        .unwrap()
        .canonicalized();
        assert_eq!(m.states()[0], StateParams::new("state_0", 0.0, 1.0));
        assert_eq!(m.states()[1].name, "state_1");
        assert_eq!(m.transition_row(0), &[0.7, 0.3]);
        assert_eq!(m.regime(0), None);
    }

    #[test]
    fn simulation_is_seeded() {
        let m: GaussianHmm = serde_json::from_str(json_model()).unwrap();
        let a = m.simulate(500, 7);
        assert_eq!(a, m.simulate(500, 7));
        assert_ne!(a.obs, m.simulate(500, 8).obs);
        assert!(a.states.iter().all(|&s| s < 3));
    }
}
