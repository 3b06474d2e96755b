//! `hermes allocate`: portfolio weights from μ and Σ files, or estimated from prices/returns.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use nalgebra::{DMatrix, DVector};
use strategies::allocation::{self, Allocation};

use super::model_err;
use crate::cli::{AllocateArgs, Method, SeriesKind, Shrinkage};
use crate::error::BadInput;
use crate::table::{Column, Table, read_table, write_csv, write_table};

/// Assets, expected returns and covariance, in one consistent asset order.
struct Inputs {
    assets: Vec<String>,
    mu: DVector<f64>,
    sigma: DMatrix<f64>,
    source: std::path::PathBuf,
}

fn check_unique(path: &Path, what: &str, names: &[String]) -> Result<()> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(BadInput::new(format!(
                "{}: duplicate {what} {n:?}",
                path.display()
            )));
        }
    }
    Ok(())
}

/// MU.csv (`asset,mu`) and COV.csv (header `asset,<names…>`, asset name first in each row);
/// the covariance is reordered to MU's asset order.
fn from_files(mu_path: &Path, cov_path: &Path) -> Result<Inputs> {
    let mu_t = read_table(mu_path)?;
    let assets = mu_t.strings("asset")?;
    check_unique(mu_path, "asset", &assets)?;
    let mu = mu_t.f64s("mu")?;

    let cov_t = read_table(cov_path)?;
    let row_names = cov_t.strings(cov_t.names.first().map_or("asset", String::as_str))?;
    let col_names: Vec<String> = cov_t.names[1..]
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    check_unique(cov_path, "row", &row_names)?;
    let n = assets.len();
    if row_names.len() != n || col_names.len() != n {
        return Err(BadInput::new(format!(
            "{}: covariance is {}x{} but {} lists {n} assets",
            cov_path.display(),
            row_names.len(),
            col_names.len(),
            mu_path.display()
        )));
    }
    let index = |names: &[String], a: &str, what: &str| {
        names.iter().position(|x| x == a).ok_or_else(|| {
            BadInput::new(format!(
                "{}: no {what} for asset {a:?} of {}",
                cov_path.display(),
                mu_path.display()
            ))
        })
    };
    let cols: Vec<Vec<f64>> = col_names
        .iter()
        .map(|c| cov_t.f64s(c))
        .collect::<Result<_>>()?;
    let mut sigma = DMatrix::zeros(n, n);
    for (i, a) in assets.iter().enumerate() {
        let r = index(&row_names, a, "row")?;
        for (j, b) in assets.iter().enumerate() {
            let c = index(&col_names, b, "column")?;
            sigma[(i, j)] = cols[c][r];
        }
    }
    Ok(Inputs {
        assets,
        mu: DVector::from_vec(mu),
        sigma,
        source: cov_path.to_path_buf(),
    })
}

/// `--kind auto`, per column: prices when every value is positive and their mean exceeds 0.5
/// (a mean return of 50 % a period is implausible). Columns must agree: a file mixing price
/// and return columns is an error, not a guess.
fn auto_detect_prices(path: &Path, assets: &[String], series: &[Vec<f64>]) -> Result<bool> {
    #[allow(clippy::cast_precision_loss)]
    let looks_like_prices =
        |v: &[f64]| v.iter().all(|x| *x > 0.0) && v.iter().sum::<f64>() / v.len() as f64 > 0.5;
    let kinds: Vec<bool> = series.iter().map(|v| looks_like_prices(v)).collect();
    if let Some(j) = kinds.iter().position(|k| *k != kinds[0]) {
        let name = |k: bool| if k { "prices" } else { "returns" };
        return Err(BadInput::new(format!(
            "{}: column {:?} looks like {} but column {:?} like {}; give --kind prices or \
             --kind returns",
            path.display(),
            assets[0],
            name(kinds[0]),
            assets[j],
            name(kinds[j])
        )));
    }
    Ok(kinds[0])
}

/// A wide file of prices or returns: every column except the time column is an asset.
fn from_series(path: &Path, kind: SeriesKind, shrinkage: Shrinkage) -> Result<Inputs> {
    let t = read_table(path)?;
    let time = t.time_column_name();
    let assets: Vec<String> = t
        .names
        .iter()
        .filter(|n| Some(*n) != time.as_ref())
        .map(|n| n.trim().to_string())
        .collect();
    if assets.is_empty() {
        return Err(BadInput::new(format!(
            "{}: no asset columns",
            path.display()
        )));
    }
    let series: Vec<Vec<f64>> = assets.iter().map(|a| t.f64s(a)).collect::<Result<_>>()?;
    let prices = match kind {
        SeriesKind::Prices => true,
        SeriesKind::Returns => false,
        SeriesKind::Auto => auto_detect_prices(path, &assets, &series)?,
    };
    let rows = t.rows();
    let returns: Vec<Vec<f64>> = if prices {
        eprintln!(
            "hermes: {}: reading the columns as prices (simple returns computed)",
            path.display()
        );
        series
            .iter()
            .zip(&assets)
            .map(|(p, a)| {
                if let Some(i) = p.iter().position(|x| *x <= 0.0) {
                    return Err(BadInput::new(format!(
                        "{}: column {a:?}, row {}: price {} is not positive",
                        path.display(),
                        i + 1,
                        p[i]
                    )));
                }
                Ok(p.windows(2).map(|w| w[1] / w[0] - 1.0).collect())
            })
            .collect::<Result<_>>()?
    } else {
        eprintln!("hermes: {}: reading the columns as returns", path.display());
        series
    };
    let t_len = if prices { rows.saturating_sub(1) } else { rows };
    let m = DMatrix::from_fn(t_len, assets.len(), |r, c| returns[c][r]);
    let bad = |e| model_err(path, e);
    let mu = allocation::mean_returns(&m).map_err(bad)?;
    let sigma = match shrinkage {
        Shrinkage::None => allocation::sample_covariance(&m).map_err(bad)?,
        Shrinkage::LedoitWolf => {
            let (s, delta) = allocation::ledoit_wolf(&m).map_err(bad)?;
            eprintln!("hermes: Ledoit-Wolf shrinkage intensity {delta:.6}");
            s
        }
    };
    Ok(Inputs {
        assets,
        mu,
        sigma,
        source: path.to_path_buf(),
    })
}

/// The flags the chosen method reads must be finite and in range; checked before any file is
/// read so the error names the flag, not an input file.
fn check_flags(args: &AllocateArgs) -> Result<()> {
    let bad = |flag: &str, v: f64, want: &str| {
        Err(BadInput::new(format!("--{flag} must be {want}, got {v}")))
    };
    match args.method {
        Method::Cara | Method::ClosedForm if !(args.gamma.is_finite() && args.gamma > 0.0) => {
            bad("gamma", args.gamma, "a positive number")
        }
        Method::Sparse if !args.lambda.is_finite() => bad("lambda", args.lambda, "finite"),
        Method::Sparse if !(args.rho.is_finite() && args.rho >= 0.0) => {
            bad("rho", args.rho, "zero or more")
        }
        _ => Ok(()),
    }
}

/// Computes the weights by the chosen method and writes `asset,weight,risk_contribution`.
pub fn run(args: &AllocateArgs) -> Result<()> {
    check_flags(args)?;
    let inputs = match (&args.mu, &args.cov, &args.returns) {
        (Some(mu), Some(cov), None) => from_files(mu, cov)?,
        (None, None, Some(r)) => from_series(r, args.kind, args.shrinkage)?,
        _ => return Err(BadInput::new("give either --mu and --cov, or --returns")),
    };
    let bad = |e| model_err(&inputs.source, e);
    allocation::validate_covariance(&inputs.sigma, "covariance").map_err(bad)?;
    if args.method == Method::RiskParity
        && let Some(i) = (0..inputs.assets.len()).find(|&i| inputs.sigma[(i, i)] <= 0.0)
    {
        return Err(BadInput::new(format!(
            "{}: asset {:?} has zero variance; risk parity needs every asset to carry risk",
            inputs.source.display(),
            inputs.assets[i]
        )));
    }
    let alloc: Allocation = match args.method {
        Method::Cara => allocation::cara(&inputs.mu, &inputs.sigma, args.gamma).map_err(bad)?,
        Method::ClosedForm => {
            let cf = allocation::closed_form(&inputs.mu, &inputs.sigma, args.gamma).map_err(bad)?;
            let raw: Vec<String> = cf.raw.iter().map(|x| format!("{x:.6}")).collect();
            eprintln!("hermes: unscaled Σ⁻¹μ/γ = [{}]", raw.join(", "));
            cf.rescaled
        }
        Method::RiskParity => allocation::risk_parity(&inputs.sigma).map_err(bad)?,
        Method::Sparse => {
            allocation::sparse_l1(&inputs.mu, &inputs.sigma, args.lambda, args.rho).map_err(bad)?
        }
    };
    // w'μ from the inputs: risk parity does not use μ, but a user still wants to see it.
    eprintln!(
        "hermes: {:?}: expected return {:.6e}, variance {:.6e}, {} iteration(s)",
        args.method,
        inputs.mu.dot(&alloc.weights),
        alloc.variance,
        alloc.iterations
    );
    let dest = args.output.clone().unwrap_or_else(|| "stdout.csv".into());
    let mut out = Table::new(&dest);
    out.push(
        "asset",
        Column::Text(inputs.assets.iter().cloned().map(Some).collect()),
    );
    out.push(
        "weight",
        Column::Float(alloc.weights.iter().copied().map(Some).collect()),
    );
    out.push(
        "risk_contribution",
        Column::Float(alloc.risk_contributions.iter().copied().map(Some).collect()),
    );
    match &args.output {
        Some(path) => write_table(&out, path),
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            write_csv(&out, &mut lock)?;
            lock.flush()?;
            Ok(())
        }
    }
}
