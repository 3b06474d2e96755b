//! Performance metrics of a strategy from its equity curve and its closed trades.
//!
//! Owns the definitions the CLI (`hermes metrics`) and the backtester report; it does not build
//! equity curves or match trades. All statistics are risk-free-rate 0 and per bar.
//!
//! # Conventions (binding)
//! * Bar returns `r[i] = V[i]/V[i−1] − 1` over the curve, with the initial equity `V0` first when
//!   given; `n` = number of returns, `A` = periods per year.
//! * `total_return = V_last/V_first − 1`; `annualized_return = (1 + total)^(A/n) − 1`.
//! * Sharpe `= mean(r)/std(r, ddof 1)·√A`; Sortino `= mean(r)/√mean(min(r, 0)²)·√A` (the downside
//!   deviation averages over *all* `n` returns).
//! * `max_drawdown = min(V/running peak) − 1 ≤ 0` (a *negative* fraction, −0.2 = 20 % below the
//!   peak) over the curve including `V0`; Calmar `= annualized/|max_drawdown|`.
//! * VaR/CVaR are historical over all bar returns and reported as *positive losses*:
//!   `VaR = −q` with `q` the `(1 − level)` quantile of `r` by linear interpolation between order
//!   statistics (numpy's default `method="linear"`, see [`quantile_sorted`]) and
//!   `CVaR = −mean(r | r ≤ q)`. A negative VaR means even the tail bar gained.
//! * Trades: `win_rate = count(pnl > 0)/count`; `avg_holding` is the mean of `exit − entry` in
//!   **seconds** (times are i64 UTC nanoseconds).
//! * Undefined statistics are `None` (JSON `null`), never NaN or ±inf: Sharpe with zero
//!   dispersion (std ≤ 1e-12·|mean|, i.e. zero up to rounding), Sortino with no losing bar,
//!   Sharpe/Sortino/VaR/CVaR with fewer than 2 returns, Calmar without a drawdown, trade
//!   statistics without trades, and anything that overflows (e.g. annualising a huge return).

use serde::Serialize;

use crate::{Error, Result};

/// One closed round trip: when it was opened and closed (UTC ns) and its realised PnL.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClosedTrade {
    /// Entry time, UTC nanoseconds since the epoch.
    pub entry_ns: i64,
    /// Exit time, UTC nanoseconds since the epoch (≥ `entry_ns`).
    pub exit_ns: i64,
    /// Realised profit and loss (quote currency); > 0 counts as a win.
    pub pnl: f64,
}

/// The metrics `hermes metrics` prints; field names are the JSON keys.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PerformanceMetrics {
    /// `V_last / V_first − 1`.
    pub total_return: f64,
    /// `(1 + total)^(A/n) − 1`; `None` on overflow.
    pub annualized_return: Option<f64>,
    /// Annualised Sharpe ratio (ddof 1), risk-free 0.
    pub sharpe: Option<f64>,
    /// Annualised Sortino ratio, target 0.
    pub sortino: Option<f64>,
    /// `annualized_return / |max_drawdown|`; `None` without a drawdown.
    pub calmar: Option<f64>,
    /// `min(V / running peak) − 1`, in `[−1, 0]`.
    pub max_drawdown: f64,
    /// Share of closed trades with `pnl > 0`.
    pub win_rate: Option<f64>,
    /// Number of closed trades.
    pub trades: usize,
    /// Mean holding time of the closed trades, in seconds.
    pub avg_holding: Option<f64>,
    /// Historical 95 % value at risk of one bar, as a positive loss fraction.
    pub var_95: Option<f64>,
    /// Historical 95 % conditional VaR (expected shortfall) of one bar, as a positive loss.
    pub cvar_95: Option<f64>,
}

/// Historical value at risk and conditional value at risk, as positive losses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TailRisk {
    /// `−q`, `q` the `(1 − level)` quantile of the returns.
    pub var: f64,
    /// `−mean(r | r ≤ q)`; always ≥ `var`.
    pub cvar: f64,
}

/// Computes every metric of the equity curve and the trade list (see the module conventions).
///
/// # Errors
/// * [`Error::TooShort`] `"equity"` when the curve (with `initial_equity`) has fewer than 2 values;
/// * [`Error::NonFinite`] / [`Error::InvalidParameter`] naming `"equity"` and the index, or
///   `"initial-equity"`, for a value that is not finite and > 0;
/// * [`Error::InvalidParameter`] `"periods-per-year"` unless it is finite and > 0;
/// * [`Error::NonFinite`] `"trades.pnl"` or [`Error::InvalidParameter`] `"trades"` (naming the
///   trade index) for a non-finite PnL or an exit before the entry.
pub fn performance(
    equity: &[f64],
    initial_equity: Option<f64>,
    trades: &[ClosedTrade],
    periods_per_year: f64,
) -> Result<PerformanceMetrics> {
    check_periods(periods_per_year)?;
    let curve = full_curve(equity, initial_equity)?;
    let returns = simple_returns(&curve);
    let n = returns.len() as f64;
    let total_return = curve[curve.len() - 1] / curve[0] - 1.0;
    // (1 + total)^(A/n) − 1, computed as expm1((A/n)·ln(1 + total)) for accuracy near 0.
    let annualized_return = finite((periods_per_year / n * total_return.ln_1p()).exp_m1());
    // The tail's selection (a copy of the returns) is the largest single cost on a long curve;
    // it runs beside the passes over the curve when the curve is long. Same values either way.
    let ((max_drawdown, sharpe, sortino), tail) = if returns.len() >= PARALLEL_MIN_RETURNS {
        rayon::join(
            || curve_passes(&curve, &returns, periods_per_year),
            || var_cvar_of_valid(&returns, 0.95),
        )
    } else {
        (
            curve_passes(&curve, &returns, periods_per_year),
            var_cvar_of_valid(&returns, 0.95),
        )
    };
    let calmar = match annualized_return {
        Some(ann) if max_drawdown < 0.0 => finite(ann / max_drawdown.abs()),
        _ => None,
    };
    let trade_stats = TradeStats::of(trades)?;
    Ok(PerformanceMetrics {
        total_return,
        annualized_return,
        sharpe,
        sortino,
        calmar,
        max_drawdown,
        win_rate: trade_stats.win_rate,
        trades: trades.len(),
        avg_holding: trade_stats.avg_holding_secs,
        var_95: tail.map(|t| t.var),
        cvar_95: tail.map(|t| t.cvar),
    })
}

/// Bar returns `V[i]/V[i−1] − 1` of the curve, with `initial_equity` prepended when given.
///
/// # Errors
/// As [`performance`] for the equity inputs.
pub fn bar_returns(equity: &[f64], initial_equity: Option<f64>) -> Result<Vec<f64>> {
    Ok(simple_returns(&full_curve(equity, initial_equity)?))
}

/// Maximum drawdown `min(V / running peak) − 1` of an equity curve, in `[−1, 0]`; 0 for a
/// curve that never falls below its running peak.
///
/// # Errors
/// [`Error::TooShort`] for an empty curve; [`Error::NonFinite`] / [`Error::InvalidParameter`]
/// naming `"equity"` and the index for a value that is not finite and > 0.
pub fn max_drawdown(equity: &[f64]) -> Result<f64> {
    if equity.is_empty() {
        return Err(Error::TooShort {
            what: "equity",
            needed: 1,
            got: 0,
        });
    }
    check_equity("equity", equity)?;
    Ok(drawdown_of_valid(equity))
}

/// Annualised Sharpe ratio `mean(r)/std(r, ddof 1)·√A` (risk-free 0); `None` with fewer than 2
/// returns or zero dispersion (std ≤ 1e-12·|mean|).
///
/// # Errors
/// [`Error::NonFinite`] `"returns"` for a non-finite return; [`Error::InvalidParameter`]
/// `"periods-per-year"` unless finite and > 0.
pub fn sharpe(returns: &[f64], periods_per_year: f64) -> Result<Option<f64>> {
    check_periods(periods_per_year)?;
    crate::error::ensure_finite("returns", returns)?;
    Ok(sharpe_of_valid(returns, periods_per_year))
}

/// Annualised Sortino ratio `mean(r)/√mean(min(r, 0)²)·√A` (target 0, downside averaged over all
/// returns); `None` with fewer than 2 returns or no losing return.
///
/// # Errors
/// As [`sharpe`].
pub fn sortino(returns: &[f64], periods_per_year: f64) -> Result<Option<f64>> {
    check_periods(periods_per_year)?;
    crate::error::ensure_finite("returns", returns)?;
    Ok(sortino_of_valid(returns, periods_per_year))
}

/// Historical VaR and CVaR at confidence `level` (0.95 for the 95 % figures) as positive
/// losses; `None` with fewer than 2 returns.
///
/// # Errors
/// [`Error::NonFinite`] `"returns"`; [`Error::InvalidParameter`] `"level"` unless in (0, 1).
pub fn historical_var_cvar(returns: &[f64], level: f64) -> Result<Option<TailRisk>> {
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::InvalidParameter {
            name: "level",
            value: level.to_string(),
            reason: "must be in (0, 1), e.g. 0.95".into(),
        });
    }
    crate::error::ensure_finite("returns", returns)?;
    Ok(var_cvar_of_valid(returns, level))
}

/// The `q` quantile of ascending `sorted` values by linear interpolation between order
/// statistics, bit-for-bit numpy's default (`np.quantile(x, q)`, `method="linear"`): with
/// `h = (n − 1)·q`, `lo = ⌊h⌋`, `t = h − lo`, the value `x[lo] + t·(x[lo+1] − x[lo])` (numpy's
/// two-sided lerp). `None` when `sorted` is empty or `q` is outside `[0, 1]`.
#[must_use]
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = (h.floor() as usize).min(sorted.len() - 1);
    let hi = (lo + 1).min(sorted.len() - 1);
    let (a, b, t) = (sorted[lo], sorted[hi], h - lo as f64);
    let d = b - a;
    let v = if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    };
    Some(v.clamp(a.min(b), a.max(b)))
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn check_periods(periods_per_year: f64) -> Result<()> {
    if periods_per_year.is_finite() && periods_per_year > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "periods-per-year",
            value: periods_per_year.to_string(),
            reason: "must be finite and > 0 (e.g. 8760 for hourly bars, 365 for daily)".into(),
        })
    }
}

fn check_equity(what: &'static str, values: &[f64]) -> Result<()> {
    crate::error::ensure_finite(what, values)?;
    match values.iter().position(|&v| v <= 0.0) {
        Some(i) => Err(Error::InvalidParameter {
            name: what,
            value: format!("{} at index {i}", values[i]),
            reason: "equity must be > 0".into(),
        }),
        None => Ok(()),
    }
}

/// Validated curve `[V0?, equity…]`.
fn full_curve(equity: &[f64], initial_equity: Option<f64>) -> Result<Vec<f64>> {
    check_equity("equity", equity)?;
    if let Some(v0) = initial_equity {
        check_equity("initial-equity", &[v0])?;
    }
    let curve: Vec<f64> = initial_equity
        .into_iter()
        .chain(equity.iter().copied())
        .collect();
    if curve.len() < 2 {
        return Err(Error::TooShort {
            what: "equity",
            needed: if initial_equity.is_some() { 1 } else { 2 },
            got: equity.len(),
        });
    }
    Ok(curve)
}

/// Returns from which [`performance`] computes the tail risk on a second thread.
const PARALLEL_MIN_RETURNS: usize = 1 << 18;

/// Max drawdown of the curve, Sharpe and Sortino of its returns.
fn curve_passes(
    curve: &[f64],
    returns: &[f64],
    periods_per_year: f64,
) -> (f64, Option<f64>, Option<f64>) {
    (
        drawdown_of_valid(curve),
        sharpe_of_valid(returns, periods_per_year),
        sortino_of_valid(returns, periods_per_year),
    )
}

fn simple_returns(curve: &[f64]) -> Vec<f64> {
    curve.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
}

fn drawdown_of_valid(curve: &[f64]) -> f64 {
    let mut peak = f64::MIN_POSITIVE;
    let mut worst = 1.0_f64;
    for &v in curve {
        peak = peak.max(v);
        worst = worst.min(v / peak);
    }
    worst - 1.0
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn sharpe_of_valid(returns: &[f64], periods_per_year: f64) -> Option<f64> {
    if returns.len() < 2 {
        return None;
    }
    let m = mean(returns);
    let var = returns.iter().map(|r| (r - m) * (r - m)).sum::<f64>() / (returns.len() - 1) as f64;
    let std = var.sqrt();
    if std <= 1e-12 * m.abs() || std == 0.0 {
        return None;
    }
    finite(m / std * periods_per_year.sqrt())
}

fn sortino_of_valid(returns: &[f64], periods_per_year: f64) -> Option<f64> {
    if returns.len() < 2 {
        return None;
    }
    let downside =
        (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / returns.len() as f64).sqrt();
    if downside == 0.0 {
        return None;
    }
    finite(mean(returns) / downside * periods_per_year.sqrt())
}

fn var_cvar_of_valid(returns: &[f64], level: f64) -> Option<TailRisk> {
    if returns.len() < 2 {
        return None;
    }
    // The two order statistics around h = (n − 1)·(1 − level) by selection (O(n)), then the
    // same interpolation as `quantile_sorted` on them.
    let mut scratch = returns.to_vec();
    let h = (scratch.len() - 1) as f64 * (1.0 - level);
    let lo = (h.floor() as usize).min(scratch.len() - 2);
    let (_, &mut a, above) = scratch.select_nth_unstable_by(lo, f64::total_cmp);
    let b = above.iter().copied().fold(f64::INFINITY, f64::min);
    let q = quantile_sorted(&[a, b], h - lo as f64)?;
    // q ≥ the smallest return, so the tail is never empty.
    let (sum, count) = returns
        .iter()
        .filter(|&&r| r <= q)
        .fold((0.0, 0_usize), |(s, c), &r| (s + r, c + 1));
    // `+ 0.0` turns a −0.0 (q = 0) into 0.0 so outputs never print "-0".
    let var = -q + 0.0;
    // A mean of values ≤ q can exceed q by one rounding step; CVaR ≥ VaR holds exactly.
    Some(TailRisk {
        var,
        cvar: (-(sum / count as f64)).max(var) + 0.0,
    })
}

struct TradeStats {
    win_rate: Option<f64>,
    avg_holding_secs: Option<f64>,
}

impl TradeStats {
    fn of(trades: &[ClosedTrade]) -> Result<Self> {
        let mut wins = 0_usize;
        let mut held_ns: i128 = 0;
        for (i, t) in trades.iter().enumerate() {
            if !t.pnl.is_finite() {
                return Err(Error::NonFinite {
                    what: "trades.pnl",
                    index: i,
                    value: t.pnl,
                });
            }
            if t.exit_ns < t.entry_ns {
                return Err(Error::InvalidParameter {
                    name: "trades",
                    value: format!("trade {i}: entry_ns {} > exit_ns {}", t.entry_ns, t.exit_ns),
                    reason: "a trade cannot exit before it enters".into(),
                });
            }
            wins += usize::from(t.pnl > 0.0);
            held_ns += i128::from(t.exit_ns) - i128::from(t.entry_ns);
        }
        if trades.is_empty() {
            return Ok(TradeStats {
                win_rate: None,
                avg_holding_secs: None,
            });
        }
        let count = trades.len() as f64;
        Ok(TradeStats {
            win_rate: Some(wins as f64 / count),
            avg_holding_secs: Some(held_ns as f64 / count / 1e9),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + b.abs())
    }

    #[test]
    fn long_curve_metrics_with_the_tail_on_a_second_thread_equal_the_serial_passes() {
        // Past PARALLEL_MIN_RETURNS the tail is selected beside the curve passes; every
        // figure must be the one the serial passes give, bit for bit.
        let n = PARALLEL_MIN_RETURNS + 1000;
        let mut v = 1000.0;
        let mut u = crate::testdata::uniforms(7);
        let equity: Vec<f64> = (0..n)
            .map(|_| {
                v *= 1.0 + (u() - 0.5) * 0.01;
                v
            })
            .collect();
        let m = performance(&equity, Some(1000.0), &[], 525_600.0).unwrap();
        let curve = full_curve(&equity, Some(1000.0)).unwrap();
        let returns = simple_returns(&curve);
        let (dd, sharpe, sortino) = curve_passes(&curve, &returns, 525_600.0);
        let tail = var_cvar_of_valid(&returns, 0.95).unwrap();
        assert_eq!(m.max_drawdown.to_bits(), dd.to_bits());
        assert_eq!(m.sharpe.map(f64::to_bits), sharpe.map(f64::to_bits));
        assert_eq!(m.sortino.map(f64::to_bits), sortino.map(f64::to_bits));
        assert_eq!(m.var_95.map(f64::to_bits), Some(tail.var.to_bits()));
        assert_eq!(m.cvar_95.map(f64::to_bits), Some(tail.cvar.to_bits()));
        assert!(m.max_drawdown < 0.0 && m.var_95.unwrap() > 0.0);
    }

    fn assert_close(got: Option<f64>, want: f64, what: &str) {
        let got = got.unwrap_or_else(|| panic!("{what} is None"));
        assert!(close(got, want), "{what}: {got} vs {want}");
    }

    #[test]
    fn hand_checked_without_initial_equity() {
        // equity [100, 110, 99, 120], A = 3:
        //   r = [0.1, −0.1, 120/99 − 1 = 0.212121…], n = 3
        //   total = 120/100 − 1 = 0.2; annualised = 1.2^(3/3) − 1 = 0.2
        //   mean r = 0.212121/3 = 0.0707070…; Sharpe (numpy) = 0.7745808616300981
        //   Sortino: downside = √(0.01/3) ⇒ mean·√3/√(0.01/3) = 30·mean = 2.121212…
        //   peak 110, trough 99 ⇒ max drawdown 99/110 − 1 = −0.1; Calmar = 0.2/0.1 = 2
        //   sorted r = [−0.1, 0.1, 0.2121]; h = 2·0.05 = 0.1 ⇒ q = −0.1 + 0.1·0.2 = −0.08
        //   ⇒ VaR 0.08, CVaR = −mean(r ≤ −0.08) = 0.1
        let m = performance(&[100.0, 110.0, 99.0, 120.0], None, &[], 3.0).unwrap();
        assert!(close(m.total_return, 0.2));
        assert_close(m.annualized_return, 0.2, "annualized");
        assert_close(m.sharpe, 0.774_580_861_630_098_1, "sharpe");
        assert_close(m.sortino, 2.121_212_121_212_123, "sortino");
        assert!(close(m.max_drawdown, -0.1));
        assert_close(m.calmar, 2.0, "calmar");
        assert_close(m.var_95, 0.08, "var");
        assert_close(m.cvar_95, 0.1, "cvar");
        assert_eq!((m.trades, m.win_rate, m.avg_holding), (0, None, None));
    }

    #[test]
    fn hand_checked_with_initial_equity() {
        // V0 = 90 ⇒ curve [90, 100, 110, 99, 120], A = 4:
        //   r = [0.1111, 0.1, −0.1, 0.2121], n = 4; total = 120/90 − 1 = 1/3 = annualised
        //   Sortino: downside √(0.01/4) = 0.05, mean = 0.080808 ⇒ 0.080808/0.05·2 = 3.232323
        //   max drawdown −0.1 (110 → 99); Calmar = (1/3)/0.1 = 3.333…
        //   h = 3·0.05 = 0.15 ⇒ q = −0.1 + 0.15·0.2 = −0.07 ⇒ VaR 0.07, CVaR 0.1
        // Trades: holds of 3600 s, 7200 s and 0 s ⇒ 3600 s; one win of three.
        let trades = [
            ClosedTrade {
                entry_ns: 0,
                exit_ns: 3_600_000_000_000,
                pnl: 5.0,
            },
            ClosedTrade {
                entry_ns: 0,
                exit_ns: 7_200_000_000_000,
                pnl: -2.0,
            },
            ClosedTrade {
                entry_ns: 1_000_000_000,
                exit_ns: 1_000_000_000,
                pnl: 0.0,
            },
        ];
        let m = performance(&[100.0, 110.0, 99.0, 120.0], Some(90.0), &trades, 4.0).unwrap();
        assert!(close(m.total_return, 1.0 / 3.0));
        assert_close(m.annualized_return, 1.0 / 3.0, "annualized");
        assert_close(m.sharpe, 1.236_858_734_497_367, "sharpe");
        assert_close(m.sortino, 3.232_323_232_323_235, "sortino");
        assert!(close(m.max_drawdown, -0.1));
        assert_close(m.calmar, 10.0 / 3.0, "calmar");
        assert_close(m.var_95, 0.07, "var");
        assert_close(m.cvar_95, 0.1, "cvar");
        assert_eq!(m.trades, 3);
        assert_close(m.win_rate, 1.0 / 3.0, "win rate");
        assert_close(m.avg_holding, 3600.0, "avg holding");
    }

    #[test]
    fn matches_numpy_reference() {
        // numpy 2.4: c = curve; r = c[1:]/c[:-1] − 1; r.std(ddof=1); np.quantile(r, 0.05);
        // (c/np.maximum.accumulate(c)).min() − 1.
        let eq = [
            1000.0, 1012.5, 1003.2, 1021.7, 1019.9, 998.4, 1005.1, 1030.8, 1027.3, 1044.6, 1039.0,
            1051.2,
        ];
        let m = performance(&eq, None, &[], 252.0).unwrap();
        assert!(close(m.total_return, 0.051_200_000_000_000_134));
        assert_close(m.annualized_return, 2.139_002_815_995_515_7, "annualized");
        assert_close(m.sharpe, 5.269_798_089_124_536, "sharpe");
        assert_close(m.sortino, 10.209_324_103_752_305, "sortino");
        assert!(close(m.max_drawdown, -0.022_805_128_707_056_976));
        assert_close(m.calmar, 93.794_814_467_923_08, "calmar");
        assert_close(m.var_95, 0.015_132_841_636_616_49, "var");
        assert_close(m.cvar_95, 0.021_080_498_088_047_794, "cvar");
        let m = performance(&eq, Some(995.0), &[], 365.0).unwrap();
        assert!(close(m.total_return, 0.056_482_412_060_301_58));
        assert_close(m.annualized_return, 4.318_764_448_676_768_5, "annualized");
        assert_close(m.sharpe, 6.697_768_739_876_531, "sharpe");
        assert_close(m.sortino, 12.922_494_886_158_505, "sortino");
        assert_close(m.calmar, 189.376_894_300_988_54, "calmar");
        assert_close(m.var_95, 0.014_538_075_991_473_36, "var");
        assert_close(m.cvar_95, 0.021_080_498_088_047_794, "cvar");
    }

    #[test]
    fn quantile_matches_numpy_linear() {
        // np.quantile([1, 2, 4, 8], [0, 0.05, 0.5, 0.9, 1]) = [1, 1.15, 3, 6.8, 8]
        let xs = [1.0, 2.0, 4.0, 8.0];
        for (q, want) in [(0.0, 1.0), (0.05, 1.15), (0.5, 3.0), (0.9, 6.8), (1.0, 8.0)] {
            assert!(close(quantile_sorted(&xs, q).unwrap(), want), "q = {q}");
        }
        assert_eq!(quantile_sorted(&[], 0.5), None);
        assert_eq!(quantile_sorted(&xs, 1.5), None);
        assert_eq!(quantile_sorted(&[7.0], 0.3), Some(7.0));
    }

    #[test]
    fn undefined_values_are_none_and_serialise_as_null() {
        // Flat curve: no dispersion, no loss, no drawdown.
        let m = performance(&[100.0, 100.0, 100.0], None, &[], 365.0).unwrap();
        assert_eq!((m.sharpe, m.sortino, m.calmar), (None, None, None));
        assert_eq!(m.max_drawdown, 0.0);
        assert_eq!(m.annualized_return, Some(0.0));
        // One return: no ratio statistics.
        let m = performance(&[110.0], Some(100.0), &[], 365.0).unwrap();
        assert_eq!(
            (m.sharpe, m.sortino, m.var_95, m.cvar_95),
            (None, None, None, None)
        );
        // Annualising a doubling over one hourly bar overflows ⇒ None, Calmar None too.
        let m = performance(&[100.0, 50.0, 200.0], None, &[], 8760.0).unwrap();
        assert_eq!((m.annualized_return, m.calmar), (None, None));
        let json = serde_json::to_value(m).unwrap();
        let keys = [
            "total_return",
            "annualized_return",
            "sharpe",
            "sortino",
            "calmar",
            "max_drawdown",
            "win_rate",
            "trades",
            "avg_holding",
            "var_95",
            "cvar_95",
        ];
        let obj = json.as_object().unwrap();
        assert_eq!(obj.len(), keys.len());
        for key in keys {
            assert!(obj.contains_key(key), "{key}");
        }
        assert!(json["annualized_return"].is_null());
        assert_eq!(json["trades"], 0);
    }

    #[test]
    fn bad_inputs_name_the_field_and_index() {
        let err = performance(&[100.0, f64::NAN], None, &[], 1.0).unwrap_err();
        assert!(matches!(
            err,
            Error::NonFinite {
                what: "equity",
                index: 1,
                ..
            }
        ));
        let err = performance(&[100.0, 0.0, 3.0], None, &[], 1.0).unwrap_err();
        assert!(err.to_string().contains("index 1"), "{err}");
        let err = performance(&[100.0, 1.0], Some(-1.0), &[], 1.0).unwrap_err();
        assert!(err.to_string().contains("initial-equity"), "{err}");
        let err = performance(&[100.0], None, &[], 1.0).unwrap_err();
        assert!(matches!(err, Error::TooShort { what: "equity", .. }));
        let err = performance(&[100.0, 101.0], None, &[], 0.0).unwrap_err();
        assert!(err.to_string().contains("periods-per-year"));
        let trades = [
            ClosedTrade {
                entry_ns: 0,
                exit_ns: 1,
                pnl: 1.0,
            },
            ClosedTrade {
                entry_ns: 5,
                exit_ns: 4,
                pnl: 1.0,
            },
        ];
        let err = performance(&[100.0, 101.0], None, &trades, 1.0).unwrap_err();
        assert!(err.to_string().contains("trade 1"), "{err}");
        let trades = [ClosedTrade {
            entry_ns: 0,
            exit_ns: 1,
            pnl: f64::INFINITY,
        }];
        let err = performance(&[100.0, 101.0], None, &trades, 1.0).unwrap_err();
        assert!(matches!(
            err,
            Error::NonFinite {
                what: "trades.pnl",
                index: 0,
                ..
            }
        ));
        assert!(
            historical_var_cvar(&[0.1, 0.2], 1.0)
                .unwrap_err()
                .to_string()
                .contains("level")
        );
        assert!(max_drawdown(&[]).is_err());
        // Extreme holding times do not overflow.
        let trades = [ClosedTrade {
            entry_ns: i64::MIN,
            exit_ns: i64::MAX,
            pnl: 1.0,
        }];
        let m = performance(&[100.0, 101.0], None, &trades, 1.0).unwrap();
        assert!(m.avg_holding.unwrap() > 1.8e10);
    }

    #[test]
    fn pieces_agree_with_performance() {
        let eq = [100.0, 104.0, 97.0, 99.0, 108.0, 103.0];
        let m = performance(&eq, None, &[], 52.0).unwrap();
        let r = bar_returns(&eq, None).unwrap();
        assert_eq!(sharpe(&r, 52.0).unwrap(), m.sharpe);
        assert_eq!(sortino(&r, 52.0).unwrap(), m.sortino);
        assert_eq!(max_drawdown(&eq).unwrap(), m.max_drawdown);
        let tail = historical_var_cvar(&r, 0.95).unwrap().unwrap();
        assert_eq!((Some(tail.var), Some(tail.cvar)), (m.var_95, m.cvar_95));
    }

    #[test]
    fn buy_and_hold_btcusdt_hourly() {
        let Some(closes) = crate::testdata::btcusdt_1h_closes() else {
            return; // skipped loudly by testdata when the data directory is absent
        };
        let units = 0.37; // equity = units × close
        let equity: Vec<f64> = closes.iter().map(|c| units * c).collect();
        let m = performance(&equity, None, &[], 24.0 * 365.0).unwrap();
        let want = closes[closes.len() - 1] / closes[0] - 1.0;
        assert!((m.total_return - want).abs() <= 1e-12 * want.abs(), "{m:?}");
        for (name, v) in [
            ("annualized", m.annualized_return),
            ("sharpe", m.sharpe),
            ("sortino", m.sortino),
            ("calmar", m.calmar),
            ("var", m.var_95),
            ("cvar", m.cvar_95),
        ] {
            assert!(v.is_some_and(f64::is_finite), "{name}: {v:?}");
        }
        // BTC fell more than 50 % from its 2017 peak; hourly 95 % VaR is a fraction of a percent.
        assert!(m.max_drawdown < -0.5 && m.max_drawdown > -1.0, "{m:?}");
        assert!(m.var_95.unwrap() > 0.0 && m.var_95.unwrap() < 0.05, "{m:?}");
        assert!(m.cvar_95.unwrap() >= m.var_95.unwrap());
    }

    fn curve() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(1.0..1000.0_f64, 2..80)
    }

    fn approx(a: Option<f64>, b: Option<f64>) -> bool {
        match (a, b) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-8 * (1.0 + x.abs().max(y.abs())),
            (None, None) => true,
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn invariants(eq in curve(), v0 in prop::option::of(1.0..1000.0_f64)) {
            let m = performance(&eq, v0, &[], 365.0).unwrap();
            prop_assert!((-1.0..=0.0).contains(&m.max_drawdown));
            if let (Some(var), Some(cvar)) = (m.var_95, m.cvar_95) {
                prop_assert!(cvar >= var);
            }
            for v in [m.annualized_return, m.sharpe, m.sortino, m.calmar, m.var_95, m.cvar_95] {
                prop_assert!(v.is_none_or(f64::is_finite));
            }
        }

        #[test]
        fn scaling_equity_changes_nothing(eq in curve(), scale in 0.01..100.0_f64) {
            let scaled: Vec<f64> = eq.iter().map(|v| v * scale).collect();
            let a = performance(&eq, None, &[], 252.0).unwrap();
            let b = performance(&scaled, None, &[], 252.0).unwrap();
            prop_assert!(approx(Some(a.total_return), Some(b.total_return)));
            prop_assert!(approx(Some(a.max_drawdown), Some(b.max_drawdown)));
            prop_assert!(approx(a.annualized_return, b.annualized_return));
            prop_assert!(approx(a.sharpe, b.sharpe));
            prop_assert!(approx(a.sortino, b.sortino));
            prop_assert!(approx(a.calmar, b.calmar));
            prop_assert!(approx(a.var_95, b.var_95));
            prop_assert!(approx(a.cvar_95, b.cvar_95));
        }

        #[test]
        fn monotone_curve_has_no_drawdown(
            start in 1.0..1000.0_f64,
            steps in prop::collection::vec(0.0..0.05_f64, 1..60),
        ) {
            let mut eq = vec![start];
            for s in steps {
                let last = eq[eq.len() - 1];
                eq.push(last * (1.0 + s));
            }
            let m = performance(&eq, None, &[], 365.0).unwrap();
            prop_assert_eq!(m.max_drawdown, 0.0);
            prop_assert_eq!(m.calmar, None);
            prop_assert_eq!(m.sortino, None);
        }
    }
}
