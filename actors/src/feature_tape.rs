//! FeatureTape: precomputed Smart Momentum inputs per symbol and bar start, so a backtest can
//! run the strategy on feature columns (the lake's gold layer, `hermes backtest --ab`) instead
//! of indicators computed from the bars.
//!
//! Owns the tape and its per-symbol cursor; it does not compute features (the lake does, with
//! `strategies`) and does not decide (the selector feeds what it finds to
//! [`strategies::signals::SmartMomentumRule`]). [`crate::messages::Bar`] and the live path are
//! unchanged: the tape is looked up by `(symbol, bar start)`.

use std::fmt;

use strategies::signals::SmartMomentumInputs;

use crate::messages::SymbolId;

/// One symbol's rows: bar start times (strictly increasing) and the inputs of each bar.
#[derive(Default, Clone, PartialEq)]
struct TapeSeries {
    start_ns: Vec<i64>,
    inputs: Vec<SmartMomentumInputs>,
}

/// Smart Momentum inputs by symbol id and bar start (UTC ns).
#[derive(Default, Clone, PartialEq)]
pub struct FeatureTape {
    symbols: Vec<TapeSeries>,
}

impl fmt::Debug for FeatureTape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<usize> = self.symbols.iter().map(|s| s.start_ns.len()).collect();
        f.debug_struct("FeatureTape")
            .field("rows_per_symbol", &rows)
            .finish()
    }
}

impl FeatureTape {
    /// An empty tape for `n_symbols` symbols (ids `0..n_symbols`).
    #[must_use]
    pub fn new(n_symbols: usize) -> Self {
        Self {
            symbols: vec![TapeSeries::default(); n_symbols],
        }
    }

    /// Sets the rows of `symbol`.
    ///
    /// # Errors
    /// An unknown symbol id, lengths that differ, or start times not strictly increasing
    /// (naming the row).
    pub fn set_symbol(
        &mut self,
        symbol: SymbolId,
        start_ns: Vec<i64>,
        inputs: Vec<SmartMomentumInputs>,
    ) -> Result<(), String> {
        let n = self.symbols.len();
        let Some(s) = self.symbols.get_mut(usize::from(symbol)) else {
            return Err(format!(
                "symbol id {symbol} is outside the tape's {n} symbols"
            ));
        };
        if start_ns.len() != inputs.len() {
            return Err(format!(
                "{} bar times but {} input rows",
                start_ns.len(),
                inputs.len()
            ));
        }
        if let Some(i) = start_ns.windows(2).position(|w| w[1] <= w[0]) {
            return Err(format!(
                "row {}: bar start {} is not after the previous row's {}",
                i + 1,
                start_ns[i + 1],
                start_ns[i]
            ));
        }
        *s = TapeSeries { start_ns, inputs };
        Ok(())
    }

    /// Rows of `symbol` (0 for an unknown id).
    #[must_use]
    pub fn rows(&self, symbol: SymbolId) -> usize {
        self.symbols
            .get(usize::from(symbol))
            .map_or(0, |s| s.start_ns.len())
    }

    /// The inputs of the bar of `symbol` starting at `start_ns`, searching forward from
    /// `*cursor` (bars arrive in time order, so this is amortised O(1)); the cursor moves past
    /// the row found. `None` when the tape has no such bar (the cursor then stays where the
    /// next later bar would be).
    #[must_use]
    pub fn lookup(
        &self,
        symbol: SymbolId,
        start_ns: i64,
        cursor: &mut usize,
    ) -> Option<SmartMomentumInputs> {
        let s = self.symbols.get(usize::from(symbol))?;
        let rest = s.start_ns.get(*cursor..)?;
        // Forward scan for the next row ≥ start (a binary search over the rest when far).
        let skip = if rest.first().is_some_and(|t| *t >= start_ns) {
            0
        } else {
            rest.partition_point(|t| *t < start_ns)
        };
        *cursor += skip;
        if s.start_ns.get(*cursor) == Some(&start_ns) {
            let row = s.inputs[*cursor];
            *cursor += 1;
            Some(row)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(x: f64) -> SmartMomentumInputs {
        SmartMomentumInputs {
            ema_fast: x,
            ema_slow: x,
            rsi: x,
            supertrend_dir: 1,
        }
    }

    #[test]
    fn lookup_walks_forward_and_misses_absent_bars() {
        let mut t = FeatureTape::new(2);
        t.set_symbol(
            1,
            vec![10, 20, 30, 40],
            (1..=4).map(|i| row(f64::from(i))).collect(),
        )
        .unwrap();
        assert_eq!(t.rows(1), 4);
        assert_eq!(t.rows(0), 0);
        let mut c = 0;
        assert_eq!(t.lookup(1, 10, &mut c), Some(row(1.0)));
        assert_eq!(t.lookup(1, 25, &mut c), None, "no bar at 25");
        assert_eq!(c, 2);
        assert_eq!(t.lookup(1, 40, &mut c), Some(row(4.0)), "skips 30");
        assert_eq!(t.lookup(1, 50, &mut c), None);
        assert_eq!(t.lookup(0, 10, &mut 0), None);
        assert_eq!(t.lookup(7, 10, &mut 0), None);
    }

    #[test]
    fn bad_rows_are_refused() {
        let mut t = FeatureTape::new(1);
        assert!(
            t.set_symbol(0, vec![1, 1], vec![row(0.0); 2])
                .unwrap_err()
                .contains("row 1")
        );
        assert!(t.set_symbol(0, vec![1], vec![]).is_err());
        assert!(t.set_symbol(3, vec![], vec![]).is_err());
        assert!(format!("{t:?}").contains("rows_per_symbol"));
    }
}
