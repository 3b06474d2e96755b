//! Test features: the `[[gold_test.features]]` specs of `config/lake.toml` and the columns
//! they name, computed by the `strategies` indicators (the gold_test layer, [`super::gold_test`],
//! stores them beside gold).
//!
//! A [`TestFeatureSpec`] (`name`, `kind`, `params`) names one column computed by a `strategies`
//! indicator: `ema`, `sma`, `rsi`, `atr` (`period`), `supertrend`, `supertrend_dir` (`period`,
//! `multiplier`), `bollinger_upper|middle|lower` (`period`, `num_std`), `macd`, `macd_signal`,
//! `macd_hist` (`fast`, `slow`, `signal`). [`compile_features`] checks every spec (kind,
//! parameter names and values, column name) and names the bad key,
//! `gold_test.features[2].params.period`. [`TestFeature::compute`] runs the batch functions of
//! `strategies::indicators` (bit-identical to their streaming structs, so to the live path) over
//! a whole series: NaN during the warm-up.
//!
//! Owns the spec format and the indicator dispatch; no IO.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use strategies::indicators::{
    Atr, Bollinger, Ema, Macd, Rsi, StandardFeatures, SuperTrend, atr, bollinger, ema, macd, rsi,
    supertrend,
};

use super::error::{LakeError, Result};

/// Columns a gold day file has (a test feature may not take one of these names).
fn gold_columns() -> impl Iterator<Item = &'static str> {
    [
        "open_time",
        "close_time",
        "symbol",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "quote_volume",
        "taker_buy_base_volume",
        "taker_buy_quote_volume",
        "base_volume",
        "taker_buy_volume",
        "trade_count",
        "ret_1",
        "log_ret_1",
    ]
    .into_iter()
    .chain(StandardFeatures::COLUMNS)
}

/// One `[[gold_test.features]]` entry as written in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFeatureSpec {
    /// Column name (`[a-z][a-z0-9_]*`, not a gold column, unique).
    pub name: String,
    /// Indicator kind (see the module docs).
    pub kind: String,
    /// The kind's parameters, every one required.
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
}

/// Which output of an indicator a column holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Indicator {
    Ema(usize),
    Sma(usize),
    Rsi(usize),
    Atr(usize),
    SuperTrend {
        period: usize,
        multiplier: f64,
        direction: bool,
    },
    Bollinger {
        period: usize,
        num_std: f64,
        band: Band,
    },
    Macd {
        fast: usize,
        slow: usize,
        signal: usize,
        line: MacdLine,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Band {
    Upper,
    Middle,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum MacdLine {
    Macd,
    Signal,
    Hist,
}

/// The kinds and their parameter names.
const KINDS: [(&str, &[&str]); 12] = [
    ("ema", &["period"]),
    ("sma", &["period"]),
    ("rsi", &["period"]),
    ("atr", &["period"]),
    ("supertrend", &["period", "multiplier"]),
    ("supertrend_dir", &["period", "multiplier"]),
    ("bollinger_upper", &["period", "num_std"]),
    ("bollinger_middle", &["period", "num_std"]),
    ("bollinger_lower", &["period", "num_std"]),
    ("macd", &["fast", "slow", "signal"]),
    ("macd_signal", &["fast", "slow", "signal"]),
    ("macd_hist", &["fast", "slow", "signal"]),
];

/// A checked test feature: a column name and the indicator output it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct TestFeature {
    /// Column name.
    pub name: String,
    indicator: Indicator,
}

/// The values of one computed column.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureValues {
    /// Float64, NaN during the warm-up.
    Float(Vec<f64>),
    /// SuperTrend direction ±1, `None` during the warm-up.
    Direction(Vec<Option<i8>>),
}

impl TestFeature {
    /// Index of the first defined value (rows before it are null).
    #[must_use]
    pub fn warm_up(&self) -> usize {
        // The constructors cannot fail here: compile_features built each once already.
        let w = match self.indicator {
            Indicator::Ema(p) => Ema::new(p).map(|e| e.warm_up()),
            Indicator::Sma(p) => Bollinger::new(p, 2.0).map(|b| b.warm_up()),
            Indicator::Rsi(p) => Rsi::new(p).map(|r| r.warm_up()),
            Indicator::Atr(p) => Atr::new(p).map(|a| a.warm_up()),
            Indicator::SuperTrend {
                period, multiplier, ..
            } => SuperTrend::new(period, multiplier).map(|s| s.warm_up()),
            Indicator::Bollinger {
                period, num_std, ..
            } => Bollinger::new(period, num_std).map(|b| b.warm_up()),
            Indicator::Macd {
                fast, slow, signal, ..
            } => Macd::new(fast, slow, signal).map(|m| m.warm_up()),
        };
        w.unwrap_or(0)
    }

    /// Whether the column is the Int8 SuperTrend direction.
    #[must_use]
    pub fn is_direction(&self) -> bool {
        matches!(
            self.indicator,
            Indicator::SuperTrend {
                direction: true,
                ..
            }
        )
    }

    /// The column over a whole series (high/low/close in time order), with the batch
    /// functions of `strategies::indicators`.
    ///
    /// # Errors
    /// The indicator's [`strategies::Error`] for a bad bar (non-finite, `high < low`) or
    /// unequal lengths.
    pub fn compute(
        &self,
        high: &[f64],
        low: &[f64],
        close: &[f64],
    ) -> std::result::Result<FeatureValues, strategies::Error> {
        Ok(FeatureValues::Float(match self.indicator {
            Indicator::Ema(p) => ema(close, p)?,
            Indicator::Sma(p) => bollinger(close, p, 2.0)?.middle,
            Indicator::Rsi(p) => rsi(close, p)?,
            Indicator::Atr(p) => atr(high, low, close, p)?,
            Indicator::SuperTrend {
                period,
                multiplier,
                direction,
            } => {
                let s = supertrend(high, low, close, period, multiplier)?;
                if direction {
                    return Ok(FeatureValues::Direction(
                        s.direction
                            .iter()
                            .map(|d| (!d.is_nan()).then_some(if *d > 0.0 { 1 } else { -1 }))
                            .collect(),
                    ));
                }
                s.value
            }
            Indicator::Bollinger {
                period,
                num_std,
                band,
            } => {
                let b = bollinger(close, period, num_std)?;
                match band {
                    Band::Upper => b.upper,
                    Band::Middle => b.middle,
                    Band::Lower => b.lower,
                }
            }
            Indicator::Macd {
                fast,
                slow,
                signal,
                line,
            } => {
                let m = macd(close, fast, slow, signal)?;
                match line {
                    MacdLine::Macd => m.macd,
                    MacdLine::Signal => m.signal,
                    MacdLine::Hist => m.hist,
                }
            }
        }))
    }
}

/// Checks every spec and returns the columns, in order.
///
/// # Errors
/// [`LakeError::FeatureSpec`] naming the first bad key (`gold_test.features[i].name`,
/// `.kind`, `.params`, `.params.period`, …): an unknown kind (the message lists the known
/// ones), a missing or unknown parameter, a period that is not a whole number in
/// `1..=MAX_PERIOD`, a value the indicator refuses, an invalid, reserved or repeated name.
pub fn compile_features(specs: &[TestFeatureSpec]) -> Result<Vec<TestFeature>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(specs.len());
    for (i, s) in specs.iter().enumerate() {
        let key = |k: &str| format!("gold_test.features[{i}].{k}");
        let bad = |k: &str, reason: String| LakeError::FeatureSpec {
            key: key(k),
            reason,
        };
        let name_ok = s.name.starts_with(|c: char| c.is_ascii_lowercase())
            && s.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            return Err(bad(
                "name",
                format!("{:?} is not a column name ([a-z][a-z0-9_]*)", s.name),
            ));
        }
        if gold_columns().any(|g| g == s.name) {
            return Err(bad(
                "name",
                format!("{:?} is a gold column; pick another name", s.name),
            ));
        }
        if !seen.insert(s.name.as_str()) {
            return Err(bad("name", format!("{:?} is used twice", s.name)));
        }
        let Some((_, wanted)) = KINDS.iter().find(|(k, _)| *k == s.kind) else {
            let known: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
            return Err(bad(
                "kind",
                format!("unknown kind {:?} (known: {})", s.kind, known.join(", ")),
            ));
        };
        if let Some(extra) = s.params.keys().find(|k| !wanted.contains(&k.as_str())) {
            return Err(bad(
                &format!("params.{extra}"),
                format!(
                    "unknown parameter for kind {} (it takes {})",
                    s.kind,
                    wanted.join(", ")
                ),
            ));
        }
        let real = |p: &str| -> Result<f64> {
            let v = *s.params.get(p).ok_or_else(|| {
                bad(
                    &format!("params.{p}"),
                    format!("missing (kind {} takes {})", s.kind, wanted.join(", ")),
                )
            })?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(bad(&format!("params.{p}"), format!("{v} is not finite")))
            }
        };
        let whole = |p: &str| -> Result<usize> {
            let v = real(p)?;
            let max = strategies::indicators::MAX_PERIOD;
            if v.fract() != 0.0 || v < 1.0 || v > max as f64 {
                return Err(bad(
                    &format!("params.{p}"),
                    format!("{v} is not a whole number in 1..={max}"),
                ));
            }
            Ok(v as usize)
        };
        let indicator = match s.kind.as_str() {
            "ema" => Indicator::Ema(whole("period")?),
            "sma" => Indicator::Sma(whole("period")?),
            "rsi" => Indicator::Rsi(whole("period")?),
            "atr" => Indicator::Atr(whole("period")?),
            "supertrend" | "supertrend_dir" => Indicator::SuperTrend {
                period: whole("period")?,
                multiplier: real("multiplier")?,
                direction: s.kind == "supertrend_dir",
            },
            "bollinger_upper" | "bollinger_middle" | "bollinger_lower" => Indicator::Bollinger {
                period: whole("period")?,
                num_std: real("num_std")?,
                band: match s.kind.as_str() {
                    "bollinger_upper" => Band::Upper,
                    "bollinger_middle" => Band::Middle,
                    _ => Band::Lower,
                },
            },
            _ => Indicator::Macd {
                fast: whole("fast")?,
                slow: whole("slow")?,
                signal: whole("signal")?,
                line: match s.kind.as_str() {
                    "macd" => MacdLine::Macd,
                    "macd_signal" => MacdLine::Signal,
                    _ => MacdLine::Hist,
                },
            },
        };
        // The indicator's own checks (e.g. MACD fast < slow, multiplier ≥ 0).
        let checked = match indicator {
            Indicator::Ema(p) => Ema::new(p).map(drop),
            Indicator::Sma(p) => Bollinger::new(p, 2.0).map(drop),
            Indicator::Rsi(p) => Rsi::new(p).map(drop),
            Indicator::Atr(p) => Atr::new(p).map(drop),
            Indicator::SuperTrend {
                period, multiplier, ..
            } => SuperTrend::new(period, multiplier).map(drop),
            Indicator::Bollinger {
                period, num_std, ..
            } => Bollinger::new(period, num_std).map(drop),
            Indicator::Macd {
                fast, slow, signal, ..
            } => Macd::new(fast, slow, signal).map(drop),
        };
        if let Err(e) = checked {
            return Err(bad("params", e.to_string()));
        }
        out.push(TestFeature {
            name: s.name.clone(),
            indicator,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, kind: &str, params: &[(&str, f64)]) -> TestFeatureSpec {
        TestFeatureSpec {
            name: name.into(),
            kind: kind.into(),
            params: params.iter().map(|(k, v)| ((*k).to_string(), *v)).collect(),
        }
    }

    fn key_of(specs: &[TestFeatureSpec]) -> String {
        match compile_features(specs) {
            Err(LakeError::FeatureSpec { key, .. }) => key,
            other => panic!("expected a spec error, got {other:?}"),
        }
    }

    #[test]
    fn bad_specs_name_their_key() {
        let ok = spec("rsi_21", "rsi", &[("period", 21.0)]);
        assert_eq!(
            compile_features(std::slice::from_ref(&ok)).unwrap().len(),
            1
        );
        let cases = [
            (
                spec("rsi_9", "rsii", &[("period", 9.0)]),
                "gold_test.features[1].kind",
            ),
            (spec("x", "rsi", &[]), "gold_test.features[1].params.period"),
            (
                spec("x", "rsi", &[("period", 2.5)]),
                "gold_test.features[1].params.period",
            ),
            (
                spec("x", "rsi", &[("period", 0.0)]),
                "gold_test.features[1].params.period",
            ),
            (
                spec("x", "rsi", &[("period", 14.0), ("perod", 1.0)]),
                "gold_test.features[1].params.perod",
            ),
            (
                spec("Bad-Name", "rsi", &[("period", 3.0)]),
                "gold_test.features[1].name",
            ),
            (
                spec("rsi_14", "rsi", &[("period", 14.0)]),
                "gold_test.features[1].name",
            ),
            (
                spec("rsi_21", "rsi", &[("period", 14.0)]),
                "gold_test.features[1].name",
            ),
            (
                spec(
                    "m",
                    "macd",
                    &[("fast", 26.0), ("slow", 12.0), ("signal", 9.0)],
                ),
                "gold_test.features[1].params",
            ),
            (
                spec(
                    "s",
                    "supertrend",
                    &[("period", 10.0), ("multiplier", f64::NAN)],
                ),
                "gold_test.features[1].params.multiplier",
            ),
        ];
        for (bad, want) in cases {
            assert_eq!(key_of(&[ok.clone(), bad.clone()]), want, "{bad:?}");
        }
        let e = compile_features(&[spec("r", "roc", &[("period", 3.0)])]).unwrap_err();
        assert!(e.to_string().contains("known: ema, sma"), "{e}");
        assert!(e.is_bad_input());
    }

    /// Every kind's column equals its streaming struct fed bar by bar (NaN = not yet).
    #[test]
    fn columns_equal_the_streaming_indicators() {
        let n = 120;
        let close: Vec<f64> = (0..n)
            .map(|i| 100.0 + (f64::from(i) * 0.37).sin() * 4.0 + f64::from(i) * 0.05)
            .collect();
        let high: Vec<f64> = close.iter().map(|c| c + 0.7).collect();
        let low: Vec<f64> = close.iter().map(|c| c - 0.6).collect();
        let specs = [
            spec("e", "ema", &[("period", 9.0)]),
            spec("s", "sma", &[("period", 7.0)]),
            spec("r", "rsi", &[("period", 21.0)]),
            spec("a", "atr", &[("period", 5.0)]),
            spec("st", "supertrend", &[("period", 7.0), ("multiplier", 2.0)]),
            spec(
                "sd",
                "supertrend_dir",
                &[("period", 7.0), ("multiplier", 2.0)],
            ),
            spec(
                "bu",
                "bollinger_upper",
                &[("period", 10.0), ("num_std", 1.5)],
            ),
            spec(
                "bl",
                "bollinger_lower",
                &[("period", 10.0), ("num_std", 1.5)],
            ),
            spec(
                "mh",
                "macd_hist",
                &[("fast", 5.0), ("slow", 13.0), ("signal", 4.0)],
            ),
        ];
        let features = compile_features(&specs).unwrap();
        let (mut e, mut s, mut r, mut a) = (
            Ema::new(9).unwrap(),
            Bollinger::new(7, 2.0).unwrap(),
            Rsi::new(21).unwrap(),
            Atr::new(5).unwrap(),
        );
        let mut st = SuperTrend::new(7, 2.0).unwrap();
        let mut bb = Bollinger::new(10, 1.5).unwrap();
        let mut m = Macd::new(5, 13, 4).unwrap();
        let cols: Vec<FeatureValues> = features
            .iter()
            .map(|f| f.compute(&high, &low, &close).unwrap())
            .collect();
        let nan = f64::NAN;
        for i in 0..close.len() {
            let (h, l, c) = (high[i], low[i], close[i]);
            let sto = st.update(h, l, c).unwrap();
            let bbo = bb.update(c).unwrap();
            let want = [
                e.update(c).unwrap().unwrap_or(nan),
                s.update(c).unwrap().map_or(nan, |o| o.middle),
                r.update(c).unwrap().unwrap_or(nan),
                a.update(h, l, c).unwrap().unwrap_or(nan),
                sto.map_or(nan, |o| o.value),
                sto.map_or(nan, |o| f64::from(o.direction)),
                bbo.map_or(nan, |o| o.upper),
                bbo.map_or(nan, |o| o.lower),
                m.update(c).unwrap().map_or(nan, |o| o.hist),
            ];
            for (j, (f, col)) in features.iter().zip(&cols).enumerate() {
                let got = match col {
                    FeatureValues::Float(v) => v[i],
                    FeatureValues::Direction(v) => v[i].map_or(nan, f64::from),
                };
                assert_eq!(got.to_bits(), want[j].to_bits(), "{} row {i}", f.name);
                assert_eq!(got.is_nan(), i < f.warm_up(), "{} warm-up row {i}", f.name);
            }
        }
    }
}
