//! `report.html`: one self-contained page (inline CSS and SVG, no script, no external URL)
//! with the run summary, metrics, per-regime table, chart, trades, an optional decision-log
//! preview and the data-quality section. Every string from the input is HTML-escaped here.
//! Owns layout only; the numbers come from the backtest's `report_json` and rows.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::{Map, Value};

use super::{
    PreviewTable, REPORT_HTML, ReportInput, TradeRow, ensure_dir, fmt_human, fmt_significant,
};
use crate::table::write_atomically;
use crate::timeparse::format_timestamp;

/// Significant digits of prices, sizes and PnL in the trades table.
const TRADE_DIGITS: usize = 10;
/// Trades shown in the table; the rest are counted in a note.
pub const MAX_TRADE_ROWS: usize = 500;
/// Longest rendering of a nested JSON value in a table cell.
const MAX_JSON_CELL: usize = 300;
/// Top-level keys that get their own section rather than a summary row.
const SECTION_KEYS: [&str; 6] = [
    "metrics",
    "per_regime",
    "data_quality",
    "trades",
    "decisions",
    "equity",
];
/// Data-quality counts shown first, in this order.
const QUALITY_KEYS: [&str; 3] = ["gaps", "missing_partitions", "duplicates"];

const STYLE: &str = "\
body{font-family:'DejaVu Sans',Verdana,sans-serif;margin:24px auto;max-width:1320px;color:#1a1a2e;}
h1{font-size:1.6em;margin-bottom:0.2em;}
h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc;padding-bottom:0.2em;}
table{border-collapse:collapse;margin:0.5em 0;font-size:0.9em;}
th,td{border:1px solid #d6d6de;padding:3px 8px;text-align:left;vertical-align:top;}
th{background:#eef0f6;}
td.num{text-align:right;font-variant-numeric:tabular-nums;}
tr:nth-child(even) td{background:#fafafc;}
.note{color:#555;font-size:0.9em;}
figure{margin:0;}
figure svg{max-width:100%;height:auto;}
";

/// Writes `report.html` into `dir` (created if needed), atomically, inlining `svg` (the chart
/// from [`super::write_charts`]).
///
/// # Errors
/// An IO failure, naming the file.
pub fn write_html(dir: &Path, input: &ReportInput<'_>, svg: &str) -> Result<()> {
    let page = render_html(input, svg);
    ensure_dir(dir)?;
    let path = dir.join(REPORT_HTML);
    write_atomically(&path, |w| Ok(w.write_all(page.as_bytes())?))
}

/// The whole page as a string.
#[must_use]
pub fn render_html(input: &ReportInput<'_>, svg: &str) -> String {
    let mut h = String::with_capacity(64 * 1024 + svg.len());
    let title = esc(input.title);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    let json = input.report_json;
    summary_section(&mut h, input);
    metrics_section(&mut h, json.get("metrics"));
    per_regime_section(&mut h, json.get("per_regime"));
    chart_section(&mut h, svg);
    trades_section(&mut h, input.trades);
    if let Some(preview) = input.decisions_preview {
        preview_section(&mut h, preview);
    }
    quality_section(&mut h, json.get("data_quality"));
    h.push_str("</body>\n</html>\n");
    h
}

/// Escapes text for HTML element content and quoted attribute values.
#[must_use]
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn summary_section(h: &mut String, input: &ReportInput<'_>) {
    let json = input.report_json;
    h.push_str("<h2>Run summary</h2>\n<table>\n");
    let get = |k: &str| json.get(k).filter(|v| !v.is_null());
    row(
        h,
        "config hash",
        &get("config_hash").map_or_else(|| "not recorded".into(), cell_text),
    );
    row(
        h,
        "seed",
        &get("seed").map_or_else(|| "not recorded".into(), cell_text),
    );
    let range = data_range(json).or_else(|| {
        let (f, l) = (input.equity.first()?, input.equity.last()?);
        Some(format!(
            "{} to {} (equity curve)",
            format_timestamp(f.0),
            format_timestamp(l.0)
        ))
    });
    row(
        h,
        "data range",
        &range.unwrap_or_else(|| "not recorded".into()),
    );
    row(h, "equity points", &input.equity.len().to_string());
    row(h, "trades", &input.trades.len().to_string());
    if let Value::Object(map) = json {
        let shown = [
            "config_hash",
            "seed",
            "data_range",
            "data_start",
            "data_end",
        ];
        for (k, v) in map {
            if shown.contains(&k.as_str()) || SECTION_KEYS.contains(&k.as_str()) {
                continue;
            }
            row(h, k, &cell_text_keyed(k, v));
        }
    }
    h.push_str("</table>\n");
}

/// The data range from `data_range {start, end}` (or `start_ns`/`end_ns`) or
/// `data_start`/`data_end`.
fn data_range(json: &Value) -> Option<String> {
    let pick = |obj: &Value, names: &[&str]| {
        names.iter().find_map(|n| {
            obj.get(*n)
                .filter(|v| !v.is_null())
                .map(|v| cell_text_keyed(n, v))
        })
    };
    let (start, end) = match json.get("data_range") {
        Some(Value::Object(_)) => {
            let r = &json["data_range"];
            (pick(r, &["start", "start_ns"]), pick(r, &["end", "end_ns"]))
        }
        Some(Value::String(s)) => return Some(s.clone()),
        _ => (
            pick(json, &["data_start", "data_start_ns"]),
            pick(json, &["data_end", "data_end_ns"]),
        ),
    };
    match (start, end) {
        (None, None) => None,
        (s, e) => Some(format!(
            "{} to {}",
            s.unwrap_or_else(|| "?".into()),
            e.unwrap_or_else(|| "?".into())
        )),
    }
}

fn metrics_section(h: &mut String, metrics: Option<&Value>) {
    h.push_str("<h2>Metrics</h2>\n");
    match metrics {
        Some(Value::Object(map)) if !map.is_empty() => {
            h.push_str("<table>\n<tr><th>metric</th><th>value</th></tr>\n");
            for (k, v) in map {
                row(h, k, &cell_text_keyed(k, v));
            }
            h.push_str("</table>\n");
        }
        Some(v @ (Value::Array(_) | Value::String(_) | Value::Number(_))) => {
            let _ = writeln!(h, "<p>{}</p>", esc(&cell_text(v)));
        }
        _ => h.push_str("<p class=\"note\">No metrics recorded.</p>\n"),
    }
}

/// Rows of the per-regime table: `{label: {metric: value}}` or `[{"regime": label, …}]`.
fn per_regime_rows(v: &Value) -> Vec<(String, &Map<String, Value>)> {
    match v {
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, v)| v.as_object().map(|m| (k.clone(), m)))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let m = item.as_object()?;
                let label = ["regime", "label", "name"]
                    .iter()
                    .find_map(|k| m.get(*k).map(cell_text))
                    .unwrap_or_else(|| format!("#{i}"));
                Some((label, m))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn per_regime_section(h: &mut String, per_regime: Option<&Value>) {
    h.push_str("<h2>Per regime</h2>\n");
    let rows = per_regime.map(per_regime_rows).unwrap_or_default();
    if rows.is_empty() {
        h.push_str("<p class=\"note\">No per-regime breakdown recorded.</p>\n");
        return;
    }
    let label_keys = ["regime", "label", "name"];
    let columns: BTreeSet<&str> = rows
        .iter()
        .flat_map(|(_, m)| m.keys().map(String::as_str))
        .filter(|k| !label_keys.contains(k))
        .collect();
    h.push_str("<table>\n<tr><th>regime</th>");
    for c in &columns {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>\n");
    for (label, m) in &rows {
        let _ = write!(h, "<tr><td>{}</td>", esc(label));
        for c in &columns {
            let v = m.get(*c).unwrap_or(&Value::Null);
            td(h, &cell_text_keyed(c, v), v.is_number());
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn chart_section(h: &mut String, svg: &str) {
    h.push_str("<h2>Equity and drawdown</h2>\n");
    let body = strip_xmlns(inline_svg(svg));
    if body.is_empty() {
        h.push_str("<p class=\"note\">No chart.</p>\n");
    } else {
        let _ = writeln!(h, "<figure>\n{body}\n</figure>");
        h.push_str(
            "<p class=\"note\">Shaded bands are the detected regimes; the same chart is in \
             equity.png and equity.svg beside this file.</p>\n",
        );
    }
}

/// The SVG ready to inline in HTML5: from its `<svg` tag on (no XML declaration), without the
/// `xmlns` attribute (implied in HTML, and the page holds no URL at all).
fn inline_svg(svg: &str) -> &str {
    let svg = svg.find("<svg").map_or("", |i| &svg[i..]);
    svg.trim_end()
}

/// Removes the SVG namespace declaration (a URL, though never fetched).
fn strip_xmlns(svg: &str) -> String {
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

fn trades_section(h: &mut String, trades: &[TradeRow]) {
    h.push_str("<h2>Trades</h2>\n");
    if trades.is_empty() {
        h.push_str("<p class=\"note\">No trades.</p>\n");
        return;
    }
    let shown = trades.len().min(MAX_TRADE_ROWS);
    if shown < trades.len() {
        let _ = writeln!(
            h,
            "<p class=\"note\">Showing the first {shown} of {} trades.</p>",
            trades.len()
        );
    } else {
        let _ = writeln!(h, "<p class=\"note\">{} trades.</p>", trades.len());
    }
    h.push_str(
        "<table>\n<tr><th>#</th><th>symbol</th><th>side</th><th>entry time (UTC)</th>\
         <th>entry price</th><th>exit time (UTC)</th><th>exit price</th><th>size</th>\
         <th>pnl</th><th>exit reason</th></tr>\n",
    );
    for (i, t) in trades.iter().take(MAX_TRADE_ROWS).enumerate() {
        h.push_str("<tr>");
        td(h, &(i + 1).to_string(), true);
        td(h, &t.symbol, false);
        td(h, &t.side, false);
        td(h, &format_timestamp(t.entry_ns), false);
        td(h, &fmt_significant(t.entry_price, TRADE_DIGITS), true);
        td(
            h,
            &t.exit_ns
                .map(format_timestamp)
                .unwrap_or_else(|| "open".into()),
            false,
        );
        td(
            h,
            &t.exit_price
                .map(|p| fmt_significant(p, TRADE_DIGITS))
                .unwrap_or_default(),
            true,
        );
        td(h, &fmt_significant(t.size, TRADE_DIGITS), true);
        td(h, &fmt_significant(t.pnl, TRADE_DIGITS), true);
        td(h, &t.exit_reason, false);
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn preview_section(h: &mut String, p: &PreviewTable) {
    let caption = if p.caption.is_empty() {
        "Decisions"
    } else {
        &p.caption
    };
    let _ = writeln!(h, "<h2>{}</h2>", esc(caption));
    if p.rows.is_empty() {
        h.push_str("<p class=\"note\">No rows.</p>\n");
        return;
    }
    let _ = writeln!(
        h,
        "<p class=\"note\">Showing {} of {} rows.</p>",
        p.rows.len(),
        p.total_rows.max(p.rows.len() as u64)
    );
    h.push_str("<table>\n<tr>");
    for c in &p.columns {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>\n");
    for r in &p.rows {
        h.push_str("<tr>");
        for i in 0..p.columns.len() {
            td(h, r.get(i).map_or("", String::as_str), false);
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

/// A data-quality entry as a count: a number as is, a list by its length, an object by its
/// `count` field or its size.
fn quality_count(v: &Value) -> String {
    match v {
        Value::Array(a) => a.len().to_string(),
        Value::Object(m) => m
            .get("count")
            .map_or_else(|| m.len().to_string(), cell_text),
        other => cell_text(other),
    }
}

fn quality_section(h: &mut String, quality: Option<&Value>) {
    h.push_str("<h2>Data quality</h2>\n");
    let Some(Value::Object(map)) = quality else {
        h.push_str("<p class=\"note\">No data-quality report for this run.</p>\n");
        return;
    };
    h.push_str("<table>\n<tr><th>check</th><th>count</th><th>detail</th></tr>\n");
    let others = map
        .keys()
        .map(String::as_str)
        .filter(|k| !QUALITY_KEYS.contains(k));
    for k in QUALITY_KEYS.into_iter().chain(others) {
        let v = map.get(k).unwrap_or(&Value::Null);
        let count = if v.is_null() {
            "not checked".to_string()
        } else {
            quality_count(v)
        };
        let detail = match v {
            Value::Array(_) | Value::Object(_) => cell_text(v),
            _ => String::new(),
        };
        h.push_str("<tr>");
        td(h, &k.replace('_', " "), false);
        td(h, &count, v.is_number() || v.is_array() || v.is_object());
        td(h, &detail, false);
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

/// One key/value row of a two-column table.
fn row(h: &mut String, key: &str, value: &str) {
    let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(key), esc(value));
}

/// One cell, escaped; numbers right-aligned.
fn td(h: &mut String, text: &str, numeric: bool) {
    if numeric {
        let _ = write!(h, "<td class=\"num\">{}</td>", esc(text));
    } else {
        let _ = write!(h, "<td>{}</td>", esc(text));
    }
}

/// A JSON value as cell text: strings bare, numbers for people, nested values as compact
/// JSON cut at [`MAX_JSON_CELL`] characters.
fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                n.as_f64().map_or_else(|| n.to_string(), fmt_human)
            }
        }
        Value::Array(_) | Value::Object(_) => {
            let s = v.to_string();
            if s.chars().count() > MAX_JSON_CELL {
                let cut: String = s.chars().take(MAX_JSON_CELL).collect();
                format!("{cut}…")
            } else {
                s
            }
        }
    }
}

/// As [`cell_text`], and an integer under a key ending in `_ns` also shown as a UTC time.
fn cell_text_keyed(key: &str, v: &Value) -> String {
    match v.as_i64() {
        Some(ns) if key.ends_with("_ns") => format!("{} ({ns})", format_timestamp(ns)),
        _ => cell_text(v),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{RegimeSpan, write_report};
    use super::*;

    const T0: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z

    fn trade(i: i64) -> TradeRow {
        TradeRow {
            symbol: "BTCUSDT".into(),
            side: "long".into(),
            entry_ns: T0 + i * 60_000_000_000,
            entry_price: 42_000.5,
            exit_ns: Some(T0 + (i + 1) * 60_000_000_000),
            exit_price: Some(42_100.25),
            size: 0.01,
            pnl: 0.9975,
            exit_reason: "signal<&>".into(),
        }
    }

    fn report_json() -> Value {
        serde_json::json!({
            "config_hash": "abc123<b>",
            "seed": 42,
            "data_range": {"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"},
            "strategy": "smart_momentum",
            "metrics": {"sharpe": 1.234567891, "max_drawdown_pct": -12.5, "trades": 3},
            "per_regime": {
                "trending": {"pnl": 120.5, "trades": 2},
                "volatile": {"pnl": -20.0, "trades": 1, "hit_rate": 0.0}
            },
            "data_quality": {"gaps": 3, "missing_partitions": ["2024-01-01"], "duplicates": 0,
                              "out_of_order": 0}
        })
    }

    #[test]
    fn full_report_is_self_contained_and_escaped() {
        let json = report_json();
        let equity: Vec<(i64, f64)> = (0..2_000)
            .map(|i| {
                (
                    T0 + i * 60_000_000_000,
                    1000.0 + (i as f64 / 50.0).sin() * 10.0,
                )
            })
            .collect();
        let regimes = [
            RegimeSpan {
                start_ns: T0,
                end_ns: T0 + 600 * 60_000_000_000,
                label: "trending".into(),
            },
            RegimeSpan {
                start_ns: T0 + 600 * 60_000_000_000,
                end_ns: T0 + 2_000 * 60_000_000_000,
                label: "volatile".into(),
            },
        ];
        let trades: Vec<TradeRow> = (0..1_234).map(trade).collect();
        let preview = PreviewTable {
            caption: "Decisions (first rows)".into(),
            columns: vec!["ts".into(), "signal".into()],
            rows: vec![vec!["2024-01-01T00:00:00Z".into(), "buy<x>".into()]],
            total_rows: 99,
        };
        let input = ReportInput {
            title: "<script>alert('x')</script> run & \"co\"",
            report_json: &json,
            equity: &equity,
            regimes: &regimes,
            trades: &trades,
            decisions_preview: Some(&preview),
        };
        let dir = tempfile::tempdir().unwrap();
        let files = write_report(dir.path(), &input).unwrap();
        let html = std::fs::read_to_string(&files.html).unwrap();

        // Self-contained: no URL of any kind, no script, no external reference.
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("href="));
        assert!(
            html.contains(
                "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; run &amp; &quot;co&quot;"
            )
        );
        // Summary, metrics, regimes, quality.
        assert!(html.contains("abc123&lt;b&gt;"));
        assert!(html.contains("<td>42</td>"));
        assert!(html.contains("2024-01-01T00:00:00Z to 2024-01-02T00:00:00Z"));
        assert!(html.contains("<th>strategy</th><td>smart_momentum</td>"));
        assert!(html.contains("<th>sharpe</th><td>1.23457</td>"));
        assert!(html.contains("<th>hit_rate</th><th>pnl</th><th>trades</th>"));
        assert!(
            html.contains(
                "<tr><td>volatile</td><td class=\"num\">0</td><td class=\"num\">-20</td>"
            )
        );
        assert!(html.contains("<td>missing partitions</td><td class=\"num\">1</td>"));
        assert!(html.contains("<td>gaps</td><td class=\"num\">3</td>"));
        assert!(html.contains("<td>out of order</td>"));
        // The chart is inline SVG with the regime legend.
        assert!(
            html.contains("<svg")
                && html.contains(">\ntrending\n<")
                && html.contains(">\nvolatile\n<")
        );
        assert!(!html.contains("<?xml"));
        // Trades: 500 rows of 1,234, escaped reason.
        assert!(html.contains("Showing the first 500 of 1234 trades."));
        assert_eq!(html.matches("signal&lt;&amp;&gt;").count(), MAX_TRADE_ROWS);
        assert!(html.contains("<td class=\"num\">42000.5</td>"));
        assert!(html.contains("<td class=\"num\">42100.25</td>"));
        // Decisions preview escaped.
        assert!(html.contains("buy&lt;x&gt;") && html.contains("Showing 1 of 99 rows."));
        assert!(
            std::fs::read(&files.png)
                .unwrap()
                .starts_with(&super::super::png::PNG_MAGIC)
        );
        super::super::chart::tests::keep_for_review("report.html", html.as_bytes());
    }

    #[test]
    fn empty_run_renders_placeholders() {
        let json = serde_json::json!({});
        let input = ReportInput {
            title: "empty",
            report_json: &json,
            equity: &[],
            regimes: &[],
            trades: &[],
            decisions_preview: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let files = write_report(dir.path(), &input).unwrap();
        let html = std::fs::read_to_string(files.html).unwrap();
        assert!(html.contains("No trades."));
        assert!(html.contains("No metrics recorded."));
        assert!(html.contains("No per-regime breakdown recorded."));
        assert!(html.contains("No data-quality report for this run."));
        assert!(html.contains("<th>config hash</th><td>not recorded</td>"));
        assert!(html.contains("no equity data"));
        assert!(!html.contains("NaN"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[test]
    fn per_regime_as_array_and_ns_keys() {
        let json = serde_json::json!({
            "data_start_ns": T0,
            "per_regime": [{"regime": "mean_reverting", "pnl": 1.5}, {"pnl": 2}]
        });
        let input = ReportInput {
            title: "t",
            report_json: &json,
            equity: &[],
            regimes: &[],
            trades: &[],
            decisions_preview: None,
        };
        let html = render_html(&input, "");
        assert!(html.contains("<tr><td>mean_reverting</td><td class=\"num\">1.5</td></tr>"));
        assert!(html.contains("<tr><td>#1</td><td class=\"num\">2</td></tr>"));
        assert!(html.contains("2024-01-01T00:00:00Z (1704067200000000000) to ?"));
        assert!(html.contains("No chart."));
    }

    #[test]
    fn inline_svg_drops_declaration_and_namespace_url() {
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"1\" xmlns=\"http://www.w3.org/2000/svg\"><text>a</text></svg>\n";
        let out = strip_xmlns(inline_svg(svg));
        assert_eq!(out, "<svg width=\"1\"><text>a</text></svg>");
    }
}
