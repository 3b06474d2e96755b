//! `hermes simulate chiarella|calibrate`: the Chiarella agent-based model from the command line.

use anyhow::Result;
use strategies::chiarella::{
    ChiarellaParams, OrderImpactSpec, SimConfig, calibrate as calibrate_prices, simulate,
    simulate_with_order,
};

use super::{emit, flag_err, model_err};
use crate::cli::{CalibrateArgs, ChiarellaArgs};
use crate::table::read_table;

/// Runs the Monte-Carlo and prints the summary (and the order's impact) as JSON.
pub fn chiarella(args: &ChiarellaArgs) -> Result<()> {
    let params = ChiarellaParams {
        p0: args.p0,
        fundamental: args.fundamental,
        alpha_f: args.alpha_f,
        alpha_c: args.alpha_c,
        w_f: args.w_f,
        w_c: args.w_c,
        w_n: args.w_n,
        sigma_n: args.sigma_n,
        sigma_p: args.sigma_p,
        lambda: args.lambda,
        dt: args.dt,
    };
    let cfg = SimConfig {
        paths: args.paths,
        steps: args.steps,
        seed: args.seed,
    };
    let json = match args.order_size {
        None => serde_json::to_value(simulate(&params, &cfg).map_err(flag_err)?)?,
        Some(size) => {
            let order = OrderImpactSpec {
                size,
                steps: args.order_steps,
            };
            let r = simulate_with_order(&params, &cfg, &order).map_err(flag_err)?;
            let mut v = serde_json::to_value(r.base)?;
            v["impact"] = serde_json::json!({
                "order_size": size,
                "order_steps": args.order_steps,
                "terminal_with_order": r.with_order.terminal,
                "expected_impact": r.expected_impact,
                "expected_impact_bps": r.expected_impact_bps,
                "impact_std": r.impact_std,
            });
            v
        }
    };
    emit(&serde_json::to_string_pretty(&json)?)
}

/// Calibrates the model to a price column and prints the fitted parameters as JSON.
pub fn calibrate(args: &CalibrateArgs) -> Result<()> {
    if !(args.dt.is_finite() && args.dt > 0.0) {
        return Err(crate::error::BadInput::new(format!(
            "--dt must be a positive number, got {}",
            args.dt
        )));
    }
    let table = read_table(&args.input)?;
    let prices = table.f64s(&args.column)?;
    let cal = calibrate_prices(&prices, args.dt).map_err(|e| model_err(&args.input, e))?;
    emit(&serde_json::to_string_pretty(&cal)?)
}
