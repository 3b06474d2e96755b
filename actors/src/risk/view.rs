//! [`PortfolioView`]: the plain snapshot of the portfolio that the Portfolio actor fills and the
//! risk manager reads. Owns the snapshot type and its valuation helpers only; it must not hold
//! behaviour of the Portfolio itself (fills, PnL), which lives with that actor.

use crate::messages::{EquityMark, MAX_SYMBOLS, SymbolId};

/// What the risk manager needs to know about the portfolio: fixed-size and `Copy`, so it is passed
/// by reference on the hot path and copied onto the stack when a batch of intents is judged.
///
/// Positions are spot and long-only in practice (a negative entry is treated as nothing held).
/// Entries of symbols outside the run's symbol table are zero / NaN and are ignored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PortfolioView {
    /// Cash plus positions at their marks (quote units).
    pub equity: f64,
    /// Free cash (quote units).
    pub cash: f64,
    /// Highest equity the portfolio has seen (quote units); the risk manager takes the larger of
    /// this and its own running peak, so a restarted risk manager keeps the drawdown baseline.
    /// NaN or 0 when unknown.
    pub peak_equity: f64,
    /// Position per symbol id (base units).
    pub positions: [f64; MAX_SYMBOLS],
    /// The portfolio's mark price per symbol id (the last close it marked at); NaN when unknown.
    /// Used to value positions when the risk manager has no market price of its own.
    pub last_prices: [f64; MAX_SYMBOLS],
}

impl Default for PortfolioView {
    /// Empty: no equity, no cash, no positions, no prices.
    fn default() -> Self {
        Self {
            equity: 0.0,
            cash: 0.0,
            peak_equity: f64::NAN,
            positions: [0.0; MAX_SYMBOLS],
            last_prices: [f64::NAN; MAX_SYMBOLS],
        }
    }
}

impl PortfolioView {
    /// A view of a portfolio holding only cash.
    #[must_use]
    pub fn cash_only(cash: f64) -> Self {
        Self {
            equity: cash,
            cash,
            peak_equity: cash,
            ..Self::default()
        }
    }

    /// The view described by a portfolio mark, with the mark prices and peak the portfolio keeps.
    #[must_use]
    pub fn from_mark(mark: &EquityMark, last_prices: [f64; MAX_SYMBOLS], peak_equity: f64) -> Self {
        Self {
            equity: mark.equity,
            cash: mark.cash,
            peak_equity,
            positions: mark.positions,
            last_prices,
        }
    }

    /// Position of `symbol` in base units (0 outside the table or when negative/non-finite).
    #[must_use]
    pub fn held(&self, symbol: SymbolId) -> f64 {
        self.positions
            .get(usize::from(symbol))
            .copied()
            .filter(|q| q.is_finite() && *q > 0.0)
            .unwrap_or(0.0)
    }
}

/// A usable price: finite and positive.
pub(crate) fn valid_price(p: f64) -> bool {
    p.is_finite() && p > 0.0
}
