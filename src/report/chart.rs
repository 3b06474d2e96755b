//! The equity chart: equity curve on top, drawdown (%) below, regime spans shaded behind both
//! with a legend, UTC date ticks. Rendered with plotters to PNG and SVG from one plan, so both
//! show the same thing. Text uses DejaVu Sans embedded in the binary (`DejaVuSans.ttf`, see
//! `LICENSE-DejaVuSans.txt`), never a system font. Long curves are downsampled to the pixel
//! grid first ([`super::downsample`]). Owns drawing only; the numbers come from the backtest.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Datelike, NaiveDate};
use plotters::coord::Shift;
use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use super::downsample::{Downsampler, Point};
use super::{
    EQUITY_PNG, EQUITY_SVG, ReportInput, ensure_dir, png, validate_equity, validate_regimes,
};
use crate::table::write_atomically;

/// Chart width in pixels (PNG) and user units (SVG).
pub const CHART_WIDTH: u32 = 1280;
/// Chart height in pixels (PNG) and user units (SVG).
pub const CHART_HEIGHT: u32 = 760;

const MARGIN: u32 = 12;
/// Room on the right for the last date label, which is centred on its tick.
const MARGIN_RIGHT: u32 = 48;
const Y_LABEL_AREA: u32 = 90;
const X_LABEL_AREA: u32 = 48;
/// Pixel columns of the plotting area: the downsampling grid.
const PLOT_COLUMNS: usize = (CHART_WIDTH - MARGIN - MARGIN_RIGHT - Y_LABEL_AREA) as usize;
/// Share of the height (below the title) given to the equity panel.
const EQUITY_PANEL_SHARE: f64 = 0.62;
/// The family name the embedded font is registered under (also what SVG text asks for).
const FONT_FAMILY: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("DejaVuSans.ttf");

const NS_PER_SEC: i64 = 1_000_000_000;
const HOUR_NS: i64 = 3_600 * NS_PER_SEC;
const DAY_NS: i64 = 24 * HOUR_NS;
const MAX_TICKS: usize = 8;

const EQUITY_COLOR: RGBColor = RGBColor(24, 40, 96);
const DRAWDOWN_COLOR: RGBColor = RGBColor(200, 30, 30);
const REGIME_ALPHA: f64 = 0.16;
/// Colours of the regimes the detector names, in legend order.
const KNOWN_REGIMES: [(&str, RGBColor); 4] = [
    ("trending", RGBColor(46, 160, 67)),
    ("mean_reverting", RGBColor(31, 119, 180)),
    ("volatile", RGBColor(230, 120, 20)),
    ("unknown", RGBColor(140, 140, 140)),
];
/// Colours for any other label, by sorted label.
const EXTRA_PALETTE: [RGBColor; 6] = [
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(214, 39, 40),
];

/// The chart in both formats, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedCharts {
    /// The PNG file's bytes (`CHART_WIDTH` x `CHART_HEIGHT`).
    pub png: Vec<u8>,
    /// The SVG document (pass it to [`super::write_html`] to inline it).
    pub svg: String,
}

/// Renders the chart and writes `equity.png` and `equity.svg` into `dir` (created if needed),
/// each atomically.
///
/// # Errors
/// A non-finite or out-of-order equity point or a backwards regime span ([`crate::error::BadInput`]),
/// a drawing failure, or an IO failure naming the file.
pub fn write_charts(dir: &Path, input: &ReportInput<'_>) -> Result<RenderedCharts> {
    let charts = render_charts(input)?;
    ensure_dir(dir)?;
    let png_path = dir.join(EQUITY_PNG);
    write_atomically(&png_path, |w| Ok(w.write_all(&charts.png)?))?;
    let svg_path = dir.join(EQUITY_SVG);
    write_atomically(&svg_path, |w| Ok(w.write_all(charts.svg.as_bytes())?))?;
    Ok(charts)
}

/// Renders the chart in memory (PNG bytes and SVG text) without touching the disk.
///
/// # Errors
/// As [`write_charts`], without the IO.
pub fn render_charts(input: &ReportInput<'_>) -> Result<RenderedCharts> {
    validate_equity(input.equity)?;
    validate_regimes(input.regimes)?;
    register_embedded_font()?;
    let plan = ChartPlan::build(input);

    let mut rgb = vec![0_u8; CHART_WIDTH as usize * CHART_HEIGHT as usize * 3];
    {
        let root =
            BitMapBackend::with_buffer(&mut rgb, (CHART_WIDTH, CHART_HEIGHT)).into_drawing_area();
        draw(&root, &plan).map_err(|e| anyhow!("drawing {EQUITY_PNG}: {e}"))?;
        root.present()
            .map_err(|e| anyhow!("drawing {EQUITY_PNG}: {e}"))?;
    }
    let png = png::encode_rgb(&rgb, CHART_WIDTH, CHART_HEIGHT)
        .with_context(|| format!("encoding {EQUITY_PNG}"))?;

    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (CHART_WIDTH, CHART_HEIGHT)).into_drawing_area();
        draw(&root, &plan).map_err(|e| anyhow!("drawing {EQUITY_SVG}: {e}"))?;
        root.present()
            .map_err(|e| anyhow!("drawing {EQUITY_SVG}: {e}"))?;
    }
    Ok(RenderedCharts { png, svg })
}

/// Registers the embedded DejaVu Sans as plotters' `sans-serif`, once per process.
fn register_embedded_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        let normal = register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES).is_ok();
        let bold = register_font(FONT_FAMILY, FontStyle::Bold, FONT_BYTES).is_ok();
        normal && bold
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "the embedded chart font (src/report/DejaVuSans.ttf) is not a valid font"
        ))
    }
}

/// One regime label's shaded spans.
#[derive(Debug, Clone)]
struct RegimeLayer {
    label: String,
    color: RGBColor,
    spans: Vec<(i64, i64)>,
}

/// Everything drawn, computed once for both backends.
#[derive(Debug, Clone)]
struct ChartPlan {
    title: String,
    x_range: (i64, i64),
    ticks: Vec<i64>,
    tick_format: &'static str,
    equity: Vec<Point>,
    drawdown_pct: Vec<Point>,
    equity_range: (f64, f64),
    drawdown_range: (f64, f64),
    regimes: Vec<RegimeLayer>,
}

impl ChartPlan {
    /// Builds the plan from validated input (finite values, sorted times).
    fn build(input: &ReportInput<'_>) -> Self {
        let (equity, drawdown_pct, lo, hi, dd_min) = downsample_curves(input.equity);
        let x_range = x_range(input);
        let (ticks, tick_format) = time_ticks(x_range.0, x_range.1);
        let equity_range = if equity.is_empty() {
            (0.0, 1.0)
        } else {
            padded_range(lo, hi)
        };
        let drawdown_range = if dd_min < 0.0 {
            (dd_min * 1.08, -dd_min * 0.04)
        } else {
            (-1.0, 0.05)
        };
        Self {
            title: input.title.to_string(),
            x_range,
            ticks,
            tick_format,
            equity,
            drawdown_pct,
            equity_range,
            drawdown_range,
            regimes: regime_layers(input, x_range),
        }
    }
}

/// The downsampled equity and drawdown (%) series, with the equity's exact min and max and
/// the deepest drawdown. Drawdown is measured from the running peak; while the peak is not
/// positive a percentage is undefined and drawdown is drawn as 0.
fn downsample_curves(equity: &[(i64, f64)]) -> (Vec<Point>, Vec<Point>, f64, f64, f64) {
    let (Some(first), Some(last)) = (equity.first(), equity.last()) else {
        return (Vec::new(), Vec::new(), 0.0, 0.0, 0.0);
    };
    let exact = equity.len() <= 2 * PLOT_COLUMNS;
    let mut eq_ds = Downsampler::new(first.0, last.0, PLOT_COLUMNS);
    let mut dd_ds = Downsampler::new(first.0, last.0, PLOT_COLUMNS);
    let (mut eq_exact, mut dd_exact) = if exact {
        (
            Vec::with_capacity(equity.len()),
            Vec::with_capacity(equity.len()),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let (mut lo, mut hi, mut dd_min) = (f64::INFINITY, f64::NEG_INFINITY, 0.0_f64);
    let mut peak = f64::NEG_INFINITY;
    for &(t, v) in equity {
        lo = lo.min(v);
        hi = hi.max(v);
        peak = peak.max(v);
        let dd = if peak > 0.0 {
            (v / peak - 1.0) * 100.0
        } else {
            0.0
        };
        dd_min = dd_min.min(dd);
        if exact {
            eq_exact.push((t, v));
            dd_exact.push((t, dd));
        } else {
            eq_ds.push(t, v);
            dd_ds.push(t, dd);
        }
    }
    if exact {
        (eq_exact, dd_exact, lo, hi, dd_min)
    } else {
        (eq_ds.finish(), dd_ds.finish(), lo, hi, dd_min)
    }
}

/// A y range around `[lo, hi]` with 5% headroom; a flat series gets ±1% (at least ±1).
fn padded_range(lo: f64, hi: f64) -> (f64, f64) {
    let span = hi - lo;
    if span > 0.0 && span.is_finite() {
        (lo - span * 0.05, hi + span * 0.05)
    } else {
        let pad = (lo.abs() * 0.01).max(1.0);
        (lo - pad, hi + pad)
    }
}

/// The time axis: the equity curve's span, else the regimes', else one day from the epoch;
/// a span shorter than a second is widened to ±1 hour.
fn x_range(input: &ReportInput<'_>) -> (i64, i64) {
    let (t0, t1) = match (input.equity.first(), input.equity.last()) {
        (Some(f), Some(l)) => (f.0, l.0),
        _ => {
            let lo = input.regimes.iter().map(|r| r.start_ns).min();
            let hi = input.regimes.iter().map(|r| r.end_ns).max();
            match (lo, hi) {
                (Some(lo), Some(hi)) => (lo, hi),
                _ => (0, DAY_NS),
            }
        }
    };
    if t1.saturating_sub(t0) < NS_PER_SEC {
        (t0.saturating_sub(HOUR_NS), t1.saturating_add(HOUR_NS))
    } else {
        (t0, t1)
    }
}

/// Legend rank and colour of a regime label: known labels first in fixed order, then others.
fn regime_color(label: &str, extra_rank: usize) -> (usize, RGBColor) {
    match KNOWN_REGIMES.iter().position(|(name, _)| *name == label) {
        Some(i) => (i, KNOWN_REGIMES[i].1),
        None => (
            KNOWN_REGIMES.len() + extra_rank,
            EXTRA_PALETTE[extra_rank % EXTRA_PALETTE.len()],
        ),
    }
}

/// Regime spans clipped to the axis, merged where the same label continues, and — when there
/// are more spans than pixel columns — resampled per column (the label at each column's centre),
/// so the SVG holds at most one rectangle per column.
fn regime_layers(input: &ReportInput<'_>, (x0, x1): (i64, i64)) -> Vec<RegimeLayer> {
    let mut spans: Vec<(i64, i64, &str)> = input
        .regimes
        .iter()
        .map(|r| (r.start_ns.max(x0), r.end_ns.min(x1), r.label.as_str()))
        .filter(|(a, b, _)| b > a)
        .collect();
    spans.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let mut merged: Vec<(i64, i64, &str)> = Vec::with_capacity(spans.len());
    for s in spans {
        match merged.last_mut() {
            Some(m) if m.2 == s.2 && s.0 <= m.1 => m.1 = m.1.max(s.1),
            _ => merged.push(s),
        }
    }
    if merged.len() > PLOT_COLUMNS {
        merged = resample_per_column(&merged, x0, x1);
    }

    // Other labels get palette colours by sorted name, so colours do not depend on order.
    let extras: Vec<&str> = {
        let mut v: Vec<&str> = merged
            .iter()
            .map(|s| s.2)
            .filter(|l| !KNOWN_REGIMES.iter().any(|(k, _)| k == l))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let mut layers: BTreeMap<(usize, &str), RegimeLayer> = BTreeMap::new();
    for (a, b, label) in merged {
        let extra = extras.binary_search(&label).unwrap_or(0);
        let (rank, color) = regime_color(label, extra);
        layers
            .entry((rank, label))
            .or_insert_with(|| RegimeLayer {
                label: label.to_string(),
                color,
                spans: Vec::new(),
            })
            .spans
            .push((a, b));
    }
    layers.into_values().collect()
}

/// One span per run of pixel columns whose centre falls in the same label.
fn resample_per_column<'a>(
    sorted: &[(i64, i64, &'a str)],
    x0: i64,
    x1: i64,
) -> Vec<(i64, i64, &'a str)> {
    let cols = PLOT_COLUMNS as i128;
    let width = i128::from(x1) - i128::from(x0);
    let col_time = |c: i128| -> i64 {
        let t = i128::from(x0) + width * c / cols;
        i64::try_from(t).unwrap_or(x1)
    };
    let mut out: Vec<(i64, i64, &'a str)> = Vec::new();
    for c in 0..cols {
        let centre = i128::from(x0) + width * (2 * c + 1) / (2 * cols);
        let centre = i64::try_from(centre).unwrap_or(x1);
        // The latest span starting at or before the centre, if it still covers it.
        let i = sorted.partition_point(|s| s.0 <= centre);
        let label = i
            .checked_sub(1)
            .map(|i| sorted[i])
            .filter(|s| s.1 > centre)
            .map(|s| s.2);
        let Some(label) = label else { continue };
        let (a, b) = (col_time(c), col_time(c + 1));
        match out.last_mut() {
            Some(last) if last.2 == label && last.1 == a => last.1 = b,
            _ => out.push((a, b, label)),
        }
    }
    out
}

/// Tick positions on calendar boundaries (UTC) and the label format for them: at most
/// [`MAX_TICKS`] ticks.
fn time_ticks(x0: i64, x1: i64) -> (Vec<i64>, &'static str) {
    const FIXED: [(i64, &str); 15] = [
        (1, "%H:%M:%S"),
        (5, "%H:%M:%S"),
        (15, "%H:%M:%S"),
        (30, "%H:%M:%S"),
        (60, "%m-%d %H:%M"),
        (300, "%m-%d %H:%M"),
        (900, "%m-%d %H:%M"),
        (1800, "%m-%d %H:%M"),
        (3600, "%m-%d %H:%M"),
        (3 * 3600, "%m-%d %H:%M"),
        (6 * 3600, "%m-%d %H:%M"),
        (12 * 3600, "%m-%d %H:%M"),
        (86_400, "%Y-%m-%d"),
        (2 * 86_400, "%Y-%m-%d"),
        (7 * 86_400, "%Y-%m-%d"),
    ];
    let span = i128::from(x1) - i128::from(x0);
    for (secs, format) in FIXED {
        let step = i128::from(secs * NS_PER_SEC);
        if span / step < MAX_TICKS as i128 {
            let first = x0.div_euclid(secs * NS_PER_SEC) * (secs * NS_PER_SEC);
            let ticks = (0..=MAX_TICKS as i64)
                .map(|k| first.saturating_add(k * secs * NS_PER_SEC))
                .filter(|t| (x0..=x1).contains(t))
                .collect();
            return (ticks, format);
        }
    }
    for months in [1_i64, 2, 3, 6, 12, 24, 60, 120, 240, 600] {
        let ticks = month_ticks(x0, x1, months);
        if ticks.len() <= MAX_TICKS {
            return (ticks, if months >= 12 { "%Y" } else { "%Y-%m" });
        }
    }
    (vec![x0, x1], "%Y")
}

/// First-of-month instants in `[x0, x1]` whose month count since year 0 is a multiple of
/// `every` months.
fn month_ticks(x0: i64, x1: i64, every: i64) -> Vec<i64> {
    let start = DateTime::from_timestamp_nanos(x0);
    let mut y = start.year();
    let mut m = start.month();
    let mut out = Vec::new();
    while let Some(t) = NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|d| d.and_utc().timestamp_nanos_opt())
    {
        if t > x1 {
            break;
        }
        if t >= x0 && (i64::from(y) * 12 + i64::from(m) - 1).rem_euclid(every) == 0 {
            out.push(t);
            if out.len() > MAX_TICKS {
                break;
            }
        }
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// Digits after the point for axis labels spanning `span`.
fn axis_decimals(span: f64) -> usize {
    if span >= 50.0 {
        0
    } else if span >= 5.0 {
        1
    } else if span >= 0.5 {
        2
    } else if span >= 0.005 {
        4
    } else {
        6
    }
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draws the whole chart on `root`.
fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, plan: &ChartPlan) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let body = root.titled(&plan.title, (FONT_FAMILY, 26))?;
    let body_height = body.dim_in_pixel().1;
    let split = (f64::from(body_height) * EQUITY_PANEL_SHARE) as u32;
    let (top, bottom) = body.split_vertically(split);
    let tick_format = plan.tick_format;
    let x_fmt = move |t: &i64| {
        DateTime::from_timestamp_nanos(*t)
            .format(tick_format)
            .to_string()
    };
    let (x0, x1) = plan.x_range;

    // Equity panel.
    let (y0, y1) = plan.equity_range;
    let eq_decimals = axis_decimals(y1 - y0);
    let y_fmt = move |v: &f64| format!("{v:.eq_decimals$}");
    let mut chart = ChartBuilder::on(&top)
        .margin(MARGIN)
        .margin_right(MARGIN_RIGHT)
        .x_label_area_size(0)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d((x0..x1).with_key_points(plan.ticks.clone()), y0..y1)?;
    chart
        .configure_mesh()
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .y_labels(7)
        .y_desc("equity")
        .label_style((FONT_FAMILY, 15))
        .axis_desc_style((FONT_FAMILY, 16))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()?;
    for layer in &plan.regimes {
        let color = layer.color;
        chart
            .draw_series(layer.spans.iter().map(|&(a, b)| {
                Rectangle::new([(a, y0), (b, y1)], color.mix(REGIME_ALPHA).filled())
            }))?
            .label(layer.label.as_str())
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.mix(0.5).filled())
            });
    }
    if plan.equity.is_empty() {
        let centre = ((x0 / 2).saturating_add(x1 / 2), (y0 + y1) / 2.0);
        chart.draw_series(std::iter::once(Text::new(
            "no equity data",
            centre,
            (FONT_FAMILY, 22)
                .into_font()
                .color(&BLACK.mix(0.6))
                .pos(Pos::new(HPos::Center, VPos::Center)),
        )))?;
    } else {
        chart
            .draw_series(LineSeries::new(
                plan.equity.iter().copied(),
                EQUITY_COLOR.stroke_width(2),
            ))?
            .label("equity")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], EQUITY_COLOR.stroke_width(2)));
        if let [only] = plan.equity[..] {
            // One point draws no line: mark it.
            chart.draw_series(std::iter::once(Circle::new(only, 4, EQUITY_COLOR.filled())))?;
        }
    }
    if !plan.regimes.is_empty() || !plan.equity.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.35))
            .label_font((FONT_FAMILY, 15))
            .draw()?;
    }

    // Drawdown panel.
    let (d0, d1) = plan.drawdown_range;
    let dd_decimals = axis_decimals(d1 - d0);
    let dd_fmt = move |v: &f64| format!("{v:.dd_decimals$}%");
    let mut chart = ChartBuilder::on(&bottom)
        .margin(MARGIN)
        .margin_right(MARGIN_RIGHT)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d((x0..x1).with_key_points(plan.ticks.clone()), d0..d1)?;
    chart
        .configure_mesh()
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&dd_fmt)
        .y_labels(5)
        .y_desc("drawdown")
        .x_desc("time (UTC)")
        .label_style((FONT_FAMILY, 15))
        .axis_desc_style((FONT_FAMILY, 16))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()?;
    for layer in &plan.regimes {
        let color = layer.color;
        chart.draw_series(
            layer.spans.iter().map(|&(a, b)| {
                Rectangle::new([(a, d0), (b, d1)], color.mix(REGIME_ALPHA).filled())
            }),
        )?;
    }
    if !plan.drawdown_pct.is_empty() {
        chart.draw_series(
            AreaSeries::new(
                plan.drawdown_pct.iter().copied(),
                0.0,
                DRAWDOWN_COLOR.mix(0.25),
            )
            .border_style(DRAWDOWN_COLOR.stroke_width(1)),
        )?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::{RegimeSpan, TradeRow};
    use super::*;

    const T0: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z

    /// Copies a rendered file to `$HERMES_REPORT_PREVIEW_DIR`, when set, for a person to look at.
    pub(crate) fn keep_for_review(name: &str, bytes: &[u8]) {
        if let Some(dir) = std::env::var_os("HERMES_REPORT_PREVIEW_DIR") {
            let path = std::path::Path::new(&dir).join(name);
            if let Err(e) = std::fs::write(&path, bytes) {
                eprintln!("cannot keep {} for review: {e}", path.display());
            }
        }
    }

    fn input<'a>(
        equity: &'a [(i64, f64)],
        regimes: &'a [RegimeSpan],
        json: &'a serde_json::Value,
    ) -> ReportInput<'a> {
        const NO_TRADES: &[TradeRow] = &[];
        ReportInput {
            title: "test run",
            report_json: json,
            equity,
            regimes,
            trades: NO_TRADES,
            decisions_preview: None,
        }
    }

    fn span(start_ns: i64, end_ns: i64, label: &str) -> RegimeSpan {
        RegimeSpan {
            start_ns,
            end_ns,
            label: label.to_string(),
        }
    }

    /// A million one-minute points (~694 days) with three regimes cycling.
    fn big_curve() -> (Vec<(i64, f64)>, Vec<RegimeSpan>) {
        let minute = 60 * NS_PER_SEC;
        let equity: Vec<(i64, f64)> = (0..1_000_000_i64)
            .map(|i| {
                let x = i as f64;
                (
                    T0 + i * minute,
                    10_000.0 + x * 0.01 + 800.0 * (x / 40_000.0).sin(),
                )
            })
            .collect();
        let labels = ["trending", "mean_reverting", "volatile"];
        let regimes = (0..100_i64)
            .map(|k| {
                span(
                    T0 + k * 10_000 * minute,
                    T0 + (k + 1) * 10_000 * minute,
                    labels[(k % 3) as usize],
                )
            })
            .collect();
        (equity, regimes)
    }

    #[test]
    fn million_point_curve_renders_png_and_svg() {
        let (equity, regimes) = big_curve();
        let json = serde_json::json!({});
        let dir = tempfile::tempdir().unwrap();
        let charts = write_charts(dir.path(), &input(&equity, &regimes, &json)).unwrap();

        assert_eq!(charts.png[..8], png::PNG_MAGIC);
        assert_eq!(
            png::dimensions(&charts.png),
            Some((CHART_WIDTH, CHART_HEIGHT))
        );
        assert_eq!(
            std::fs::read(dir.path().join(EQUITY_PNG)).unwrap(),
            charts.png
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(EQUITY_SVG)).unwrap(),
            charts.svg
        );
        for label in [
            "trending",
            "mean_reverting",
            "volatile",
            "equity",
            "drawdown",
        ] {
            assert!(
                charts.svg.contains(&format!(">\n{label}\n</text>")),
                "SVG lacks {label}"
            );
        }
        assert!(!charts.svg.contains("unknown"));
        assert!(!charts.svg.contains("NaN"));
        // Downsampled: the SVG is small (a million points would be tens of MB).
        assert!(
            charts.svg.len() < 400_000,
            "SVG is {} bytes",
            charts.svg.len()
        );
        // Date labels on the UTC axis (ticks land on month starts for a ~2-year span).
        assert!(
            charts.svg.contains(">\n2024-07\n</text>"),
            "no month tick label"
        );
        // No temporary files left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        keep_for_review("equity_1m.png", &charts.png);
    }

    #[test]
    fn downsampled_curve_keeps_exact_extremes_and_ends() {
        let (equity, _) = big_curve();
        let (eq, dd, lo, hi, dd_min) = downsample_curves(&equity);
        assert!(eq.len() <= 2 * PLOT_COLUMNS + 2, "{}", eq.len());
        assert!(dd.len() <= 2 * PLOT_COLUMNS + 2, "{}", dd.len());
        assert_eq!(eq.first(), equity.first());
        assert_eq!(eq.last(), equity.last());
        let true_min = equity.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let true_max = equity.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        assert_eq!((lo, hi), (true_min, true_max));
        assert!(eq.iter().any(|p| p.1 == true_min));
        assert!(eq.iter().any(|p| p.1 == true_max));
        assert!(dd_min < 0.0 && dd.iter().any(|p| p.1 == dd_min));
    }

    #[test]
    fn empty_and_flat_curves_render_without_nan() {
        let json = serde_json::json!({});
        let flat: Vec<(i64, f64)> = (0..500)
            .map(|i| (T0 + i * NS_PER_SEC * 60, 1000.0))
            .collect();
        let single = [(T0, 5.0)];
        let regimes = [span(T0, T0 + DAY_NS, "unknown")];
        for (equity, regimes) in [
            (&[][..], &[][..]),
            (&[][..], &regimes[..]),
            (&flat[..], &[][..]),
            (&single[..], &regimes[..]),
        ] {
            let charts = render_charts(&input(equity, regimes, &json)).unwrap();
            assert_eq!(
                png::dimensions(&charts.png),
                Some((CHART_WIDTH, CHART_HEIGHT))
            );
            assert!(
                !charts.svg.contains("NaN"),
                "NaN in SVG for {} points",
                equity.len()
            );
            assert!(
                !charts.svg.contains("inf"),
                "inf in SVG for {} points",
                equity.len()
            );
            keep_for_review(
                &format!("equity_{}pts_{}regimes.png", equity.len(), regimes.len()),
                &charts.png,
            );
            if equity.is_empty() {
                assert!(charts.svg.contains("no equity data"));
            }
        }
    }

    #[test]
    fn nan_equity_is_rejected_with_the_point_named() {
        let json = serde_json::json!({});
        let equity = [(T0, 1.0), (T0 + 1, f64::NAN), (T0 + 2, 1.0)];
        let dir = tempfile::tempdir().unwrap();
        let err = write_charts(dir.path(), &input(&equity, &[], &json)).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("point 1") && msg.contains("NaN"), "{msg}");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }

    #[test]
    fn regimes_merge_and_resample_to_pixel_columns() {
        // 10,000 alternating one-minute spans: more than pixel columns, so resampled.
        let minute = 60 * NS_PER_SEC;
        let regimes: Vec<RegimeSpan> = (0..10_000_i64)
            .map(|k| {
                let label = if (k / 7) % 2 == 0 {
                    "trending"
                } else {
                    "custom_state"
                };
                span(T0 + k * minute, T0 + (k + 1) * minute, label)
            })
            .collect();
        let equity = [(T0, 1.0), (T0 + 10_000 * minute, 2.0)];
        let json = serde_json::json!({});
        let inp = input(&equity, &regimes, &json);
        let layers = regime_layers(&inp, x_range(&inp));
        assert_eq!(layers.len(), 2);
        assert_eq!(layers[0].label, "trending");
        assert_eq!(layers[1].label, "custom_state");
        assert_eq!(layers[1].color, EXTRA_PALETTE[0]);
        let total: usize = layers.iter().map(|l| l.spans.len()).sum();
        assert!(total <= PLOT_COLUMNS, "{total} rectangles");

        // Touching spans of one label merge into one.
        let few = [
            span(T0, T0 + 10, "volatile"),
            span(T0 + 10, T0 + 20, "volatile"),
        ];
        let equity = [(T0, 1.0), (T0 + 20, 1.0)];
        let inp = input(&equity, &few, &json);
        let layers = regime_layers(&inp, (T0, T0 + 20));
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0].spans, vec![(T0, T0 + 20)]);
    }

    #[test]
    fn ticks_sit_on_calendar_boundaries() {
        let (ticks, fmt) = time_ticks(T0 + 5 * HOUR_NS, T0 + 5 * DAY_NS);
        assert_eq!(fmt, "%Y-%m-%d");
        assert_eq!(ticks.first(), Some(&(T0 + DAY_NS)));
        assert!(ticks.iter().all(|t| t % DAY_NS == 0));
        let (ticks, fmt) = time_ticks(T0, T0 + 3 * HOUR_NS);
        assert_eq!(fmt, "%m-%d %H:%M");
        assert!(ticks.len() <= MAX_TICKS && ticks.len() >= 3);
        let (ticks, fmt) = time_ticks(T0, T0 + 400 * DAY_NS);
        assert_eq!(fmt, "%Y-%m");
        assert!(
            ticks.len() <= MAX_TICKS && ticks.len() >= 3,
            "{}",
            ticks.len()
        );
        assert_eq!(ticks[0], T0);
    }
}
