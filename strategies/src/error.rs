//! The crate-wide error type. Every fallible public function returns [`Result`].
//!
//! Variants carry named fields that say *what* was wrong (the input's name, the index, the
//! shape) so that callers such as the CLI can print one clear line naming the problem.

use thiserror::Error as ThisError;

/// Result alias for the model library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a model in this crate can reject or fail at.
#[derive(Debug, Clone, PartialEq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// An input had no elements, or fewer than the model needs.
    #[error("{what}: needs at least {needed} values, got {got}")]
    TooShort {
        /// Which input.
        what: &'static str,
        /// Minimum length required.
        needed: usize,
        /// Length supplied.
        got: usize,
    },
    /// A value was NaN or infinite where a finite number is required.
    #[error("{what}: value at index {index} is not finite ({value})")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Position of the offending value.
        index: usize,
        /// The value itself.
        value: f64,
    },
    /// Two inputs that must agree in size do not.
    #[error("{what}: shape mismatch, expected {expected}, got {got}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// Expected shape, human readable (e.g. "3x3").
        expected: String,
        /// Shape supplied.
        got: String,
    },
    /// A parameter is outside its valid domain (e.g. a period of 0, a negative variance).
    #[error("parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name as the user spells it.
        name: &'static str,
        /// The value supplied, formatted.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A matrix that must be symmetric positive (semi-)definite is not.
    #[error("{what}: matrix is not {property} ({detail})")]
    NotPositiveDefinite {
        /// Which matrix.
        what: &'static str,
        /// "symmetric", "positive semi-definite", "positive definite", "invertible".
        property: &'static str,
        /// Details, e.g. the smallest eigenvalue.
        detail: String,
    },
    /// An optimisation problem has no feasible point.
    #[error("{what}: infeasible ({detail})")]
    Infeasible {
        /// Which problem.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// An iterative method did not converge within its iteration budget.
    #[error("{what}: did not converge after {iterations} iterations (residual {residual:e})")]
    NoConvergence {
        /// Which method.
        what: &'static str,
        /// Iterations performed.
        iterations: usize,
        /// Last residual or change.
        residual: f64,
    },
    /// A computation produced a non-finite result (degenerate data, underflow).
    #[error("{what}: numerical failure ({detail})")]
    Numerical {
        /// Which computation.
        what: &'static str,
        /// Details.
        detail: String,
    },
    /// A data row breaks an invariant of its type (e.g. a bar's high below its low, a negative
    /// trade quantity), at a known position in the input or the stream.
    #[error("{what}: invalid data at index {index}: {reason}")]
    InvalidData {
        /// Which input.
        what: &'static str,
        /// Position of the offending row (in the slice, or updates since construction/reset).
        index: usize,
        /// What is wrong, with the values.
        reason: String,
    },
    /// A model (e.g. a hand-written HMM) breaks its invariants; every problem is listed with
    /// its key path, e.g. `states[1].std = -0.01: must be > 0; transition row 2 sums to 0.9`.
    #[error("invalid model: {problems}")]
    InvalidModel {
        /// The first offending top-level field (`states`, `transition`, `initial`).
        field: &'static str,
        /// Every problem found, joined with "; ".
        problems: String,
    },
}

impl Error {
    /// Whether retrying with more data or another seed could succeed.
    ///
    /// Bad input and invalid parameters are not recoverable (the caller must fix them);
    /// non-convergence and numerical failures on one window may pass on the next, so a
    /// supervisor may keep the previous model and carry on (degrade, not halt).
    #[must_use]
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            Error::NoConvergence { .. } | Error::Numerical { .. } | Error::TooShort { .. }
        )
    }
}

/// Formats a number for an error message: plain notation for ordinary magnitudes, scientific
/// for tiny or huge ones (so `1e-300` does not print as three hundred digits).
#[must_use]
pub fn fmt_num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() || (1e-4..1e15).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// Checks that every value of `xs` is finite; names `what` and the first bad index otherwise.
///
/// # Errors
/// [`Error::NonFinite`] at the first NaN or infinite value.
pub fn ensure_finite(what: &'static str, xs: &[f64]) -> Result<()> {
    match xs.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            what,
            index,
            value: xs[index],
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_finite_names_first_bad_index() {
        assert_eq!(ensure_finite("x", &[1.0, 2.0]), Ok(()));
        let err = ensure_finite("close", &[1.0, f64::NAN, f64::INFINITY]).unwrap_err();
        assert!(matches!(
            err,
            Error::NonFinite {
                what: "close",
                index: 1,
                ..
            }
        ));
        assert!(err.to_string().contains("index 1"));
    }

    #[test]
    fn recoverability_split() {
        assert!(
            Error::NoConvergence {
                what: "bw",
                iterations: 1,
                residual: 1.0
            }
            .is_recoverable()
        );
        assert!(
            !Error::InvalidParameter {
                name: "n",
                value: "0".into(),
                reason: "r".into()
            }
            .is_recoverable()
        );
    }
}
