//! The generators on real BTCUSDT 1h spot klines (2017-08 … 2021-06, Binance via alphakit; see
//! `shared/data/PROVENANCE.md`): streaming equals batch, entries and exits match an independent
//! computation from the batch indicators, and the signal counts are plausible for hourly bars.

use super::{
    Breakout, BreakoutParams, EmaCross, EmaCrossParams, SignalAction, SmartMomentum,
    SmartMomentumParams, ZScoreReversion, ZScoreReversionParams, breakout_signals,
    ema_cross_signals, smart_momentum_signals, zscore_signals,
};
use crate::indicators::{ema, rsi, supertrend};
use crate::testdata::{binance_klines, data_dir};

/// High, low and close of every BTCUSDT 1h spot kline, in time order; `None` (loudly) when the
/// data directory is absent outside CI.
fn btcusdt_1h_bars() -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let dir = data_dir()?.join("alphakit/spot");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("BTCUSDT-1h-") && n.ends_with(".csv"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 40,
        "expected the monthly files in {}",
        dir.display()
    );
    let (mut high, mut low, mut close) = (Vec::new(), Vec::new(), Vec::new());
    let mut last_open = i64::MIN;
    for n in names {
        for k in binance_klines(&format!("alphakit/spot/{n}"))? {
            assert!(k.open_time > last_open, "{n}: klines out of order");
            last_open = k.open_time;
            high.push(k.high);
            low.push(k.low);
            close.push(k.close);
        }
    }
    assert!(close.len() > 30_000, "got {} bars", close.len());
    Some((high, low, close))
}

fn indices(actions: &[SignalAction], which: SignalAction) -> Vec<usize> {
    (0..actions.len())
        .filter(|i| actions[*i] == which)
        .collect()
}

/// Feeds every bar to a streaming generator.
fn stream(
    mut update: impl FnMut(f64, f64, f64) -> crate::Result<SignalAction>,
    (h, l, c): (&[f64], &[f64], &[f64]),
) -> Vec<SignalAction> {
    (0..c.len())
        .map(|i| update(h[i], l[i], c[i]).unwrap())
        .collect()
}

#[test]
fn smart_momentum_on_btcusdt_1h() {
    let Some((h, l, c)) = btcusdt_1h_bars() else {
        return;
    };
    let p = SmartMomentumParams::default();
    let mut g = SmartMomentum::new(p).unwrap();
    let streamed = stream(|h, l, c| g.update(h, l, c), (&h, &l, &c));
    assert_eq!(streamed, smart_momentum_signals(&h, &l, &c, &p).unwrap());

    // Independent: the seed's rule written out over the batch indicator columns.
    let fast = ema(&c, 12).unwrap();
    let slow = ema(&c, 26).unwrap();
    let r = rsi(&c, 14).unwrap();
    let dir = supertrend(&h, &l, &c, 10, 3.0).unwrap().direction;
    let want_entries: Vec<usize> = (1..c.len())
        .filter(|&i| {
            !slow[i - 1].is_nan()
                && fast[i] > slow[i]
                && fast[i - 1] <= slow[i - 1]
                && (45.0..=55.0).contains(&r[i])
                && dir[i] == 1.0
        })
        .collect();
    let want_exits: Vec<usize> = (1..c.len())
        .filter(|&i| dir[i - 1] == 1.0 && dir[i] == -1.0)
        .collect();
    let entries = indices(&streamed, SignalAction::EnterLong);
    let exits = indices(&streamed, SignalAction::ExitLong);
    assert_eq!(entries, want_entries);
    assert_eq!(exits, want_exits);

    // Plausibility on ~33k hourly bars. SuperTrend(10, 3) flips every few days: between one
    // flip a week (~200) and one a day (~1400) bearish flips. The entry needs an up-cross (about
    // one per day or two) on a bar whose RSI is still neutral — most up-crosses come with RSI
    // above 55 — and SuperTrend bullish: a small fraction of the crosses, but not none.
    let up_crosses = (1..c.len())
        .filter(|&i| fast[i] > slow[i] && fast[i - 1] <= slow[i - 1])
        .count();
    eprintln!(
        "smart_momentum BTCUSDT 1h: {} bars, {} entries, {} exits, {} EMA up-crosses",
        c.len(),
        entries.len(),
        exits.len(),
        up_crosses
    );
    assert!((200..=1400).contains(&exits.len()), "{} exits", exits.len());
    assert!(
        entries.len() >= 20 && entries.len() * 3 <= up_crosses,
        "{} entries of {up_crosses} up-crosses",
        entries.len()
    );
    assert!(entries[0] >= g.warm_up() && exits[0] >= g.warm_up());
}

/// Smart Momentum's rule fed from the batch standard-feature columns (what the gold layer
/// stores) equals the streaming generator on every real bar, and it does fire.
#[test]
fn smart_momentum_rule_over_standard_features_on_btcusdt_1h() {
    let Some((h, l, c)) = btcusdt_1h_bars() else {
        return;
    };
    let p = SmartMomentumParams::default();
    let mut f = crate::indicators::StandardFeatures::default();
    crate::indicators::standard_features_into(&h, &l, &c, &mut f).unwrap();
    let from_columns = super::smart_momentum::tests::rule_over_columns(
        &p,
        &f.ema_12,
        &f.ema_26,
        &f.rsi_14,
        &f.supertrend_dir,
    );
    let mut g = SmartMomentum::new(p).unwrap();
    let streamed = stream(|h, l, c| g.update(h, l, c), (&h, &l, &c));
    assert_eq!(from_columns, streamed);
    assert!(indices(&streamed, SignalAction::EnterLong).len() >= 20);
    assert!(indices(&streamed, SignalAction::ExitLong).len() >= 200);
}

#[test]
fn ema_cross_on_btcusdt_1h_matches_the_batch_ema() {
    let Some((h, l, c)) = btcusdt_1h_bars() else {
        return;
    };
    let p = EmaCrossParams::default();
    let mut g = EmaCross::new(p).unwrap();
    let streamed = stream(|h, l, c| g.update(h, l, c), (&h, &l, &c));
    assert_eq!(streamed, ema_cross_signals(&h, &l, &c, &p).unwrap());

    // Independent: the sign of fast − slow from the batch EMA, and where it changes.
    let fast = ema(&c, 12).unwrap();
    let slow = ema(&c, 26).unwrap();
    let sign = |i: usize| (fast[i] - slow[i]).signum();
    let mut want_entries = Vec::new();
    let mut want_exits = Vec::new();
    for i in 26..c.len() {
        assert!(
            fast[i] != slow[i],
            "exact tie on bar {i}: the test assumes none"
        );
        if sign(i - 1) < 0.0 && sign(i) > 0.0 {
            want_entries.push(i);
        } else if sign(i - 1) > 0.0 && sign(i) < 0.0 {
            want_exits.push(i);
        }
    }
    let entries = indices(&streamed, SignalAction::EnterLong);
    let exits = indices(&streamed, SignalAction::ExitLong);
    assert_eq!(entries, want_entries);
    assert_eq!(exits, want_exits);

    // Crosses alternate (no exact ties on real prices), and EMA 12/26 on hourly bars cross every
    // day or few: between one per 5 days (bars/120) and 3 per day (bars/8).
    let mut signals = streamed.iter().filter(|a| !a.is_none());
    let mut prev = signals.next().copied();
    for a in signals {
        assert_ne!(Some(*a), prev, "two equal crosses in a row");
        prev = Some(*a);
    }
    eprintln!(
        "ema_cross BTCUSDT 1h: {} bars, {} entries, {} exits",
        c.len(),
        entries.len(),
        exits.len()
    );
    assert!(entries.len().abs_diff(exits.len()) <= 1);
    assert!(
        (c.len() / 120..=c.len() / 8).contains(&entries.len()),
        "{} entries on {} bars",
        entries.len(),
        c.len()
    );
}

#[test]
fn zscore_and_breakout_on_btcusdt_1h() {
    let Some((h, l, c)) = btcusdt_1h_bars() else {
        return;
    };
    let zp = ZScoreReversionParams::default();
    let mut z = ZScoreReversion::new(zp).unwrap();
    let zs = stream(|h, l, c| z.update(h, l, c), (&h, &l, &c));
    assert_eq!(zs, zscore_signals(&h, &l, &c, &zp).unwrap());
    let bp = BreakoutParams::default();
    let mut b = Breakout::new(bp).unwrap();
    let bs = stream(|h, l, c| b.update(h, l, c), (&h, &l, &c));
    assert_eq!(bs, breakout_signals(&h, &l, &c, &bp).unwrap());

    let count = |xs: &[SignalAction], a| xs.iter().filter(|x| **x == a).count();
    let (z_in, z_out) = (
        count(&zs, SignalAction::EnterLong),
        count(&zs, SignalAction::ExitLong),
    );
    let (b_in, b_out) = (
        count(&bs, SignalAction::EnterLong),
        count(&bs, SignalAction::ExitLong),
    );
    eprintln!(
        "zscore BTCUSDT 1h: {z_in} entry bars, {z_out} exit bars; \
         breakout: {b_in} entry bars, {b_out} exit bars"
    );
    // z ≤ −2 over 20 bars: a few percent of hourly bars (a normal tail would give 2.3 %);
    // z ≥ 0: about half of them.
    let n = c.len() as f64;
    assert!((0.005..0.08).contains(&(z_in as f64 / n)), "{z_in}");
    assert!((0.3..0.7).contains(&(z_out as f64 / n)), "{z_out}");
    // A close above the 20-bar high / below the 10-bar low: each a few percent to ~15 % of bars.
    assert!((0.01..0.2).contains(&(b_in as f64 / n)), "{b_in}");
    assert!((0.02..0.3).contains(&(b_out as f64 / n)), "{b_out}");
}
