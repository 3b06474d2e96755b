//! Config validation and strict parsing.

use super::*;

#[test]
fn validate_lists_every_problem_with_its_key_path() {
    assert!(RiskConfig::default().validate("risk").is_empty());
    let bad = RiskConfig {
        max_order_notional: -5.0,
        price_band: f64::NAN,
        max_orders_per_second: 200_000,
        max_open_orders: 5_000,
        daily_loss_limit: 1.5,
        regime_scaling: RegimeScaling {
            volatile: -0.1,
            ..RegimeScaling::default()
        },
        stale_after_ns: -1,
        ..RiskConfig::default()
    };
    let p = bad.validate("risk");
    let keys = [
        "risk.max_order_notional ",
        "risk.price_band ",
        "risk.max_orders_per_second ",
        "risk.max_open_orders ",
        "risk.daily_loss_limit ",
        "risk.regime_scaling.volatile ",
        "risk.stale_after_ns ",
    ];
    assert_eq!(p.len(), keys.len(), "{p:#?}");
    for (msg, key) in p.iter().zip(keys) {
        assert!(msg.starts_with(key), "{msg}");
    }
    assert!(p[0].ends_with("got -5"), "{}", p[0]);
    assert_eq!(
        RiskManager::new(bad, &[]).unwrap_err(),
        RiskError::InvalidConfig { problems: p }
    );
    let err = RiskManager::new(RiskConfig::default(), &[grid(); MAX_SYMBOLS + 1]).unwrap_err();
    assert_eq!(
        err,
        RiskError::TooManySymbols {
            given: MAX_SYMBOLS + 1,
            max: MAX_SYMBOLS
        }
    );
}

#[test]
fn unknown_config_keys_are_rejected() {
    use serde::Deserialize;
    use serde::de::value::{Error, MapDeserializer};
    let parse = |kv: Vec<(&'static str, f64)>| {
        RiskConfig::deserialize(MapDeserializer::<_, Error>::new(kv.into_iter()))
    };
    let ok = parse(vec![("max_order_notional", 500.0)]).unwrap();
    assert_eq!(
        ok,
        RiskConfig {
            max_order_notional: 500.0,
            ..RiskConfig::default()
        }
    );
    let err = parse(vec![("max_order_notionl", 500.0)]).unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown field `max_order_notionl`"),
        "{err}"
    );
}
