//! The backtest's recorder sink: turns the stream of recorded messages into the output folder's
//! `decisions.csv` and `equity.csv` (streamed) and `trades.csv` (from the portfolio's round
//! trips), and keeps what the report needs (the equity curve, regime spans, per-regime
//! statistics, counters).
//!
//! Owns output-file formats only; it makes no trading decision. Streaming files are written to a
//! hidden temporary file beside their final name and renamed into place by [`OutputSink::finish`],
//! so a failed run never leaves a half-written file under a final name.
//!
//! Files identify bars by their **start** (open) time, RFC 3339 UTC. `equity.csv` has one row per
//! bar time: the portfolio marked at that bar's close.

use std::path::Path;

use actors::portfolio::RoundTrip;
use actors::{Event, Fill, RegimeLabel, Sequenced, Sink, SinkError, SymbolId};
use anyhow::{Context, Result};
use serde::Serialize;

use super::isotime::IsoFormatter;
use super::stream::{StreamFile, push_f64};

/// Column headers of `decisions.csv`.
pub const DECISION_COLUMNS: &str = "decision_id,time,symbol,strategy,action,regime,confidence,\
close,expected_price,q05,q95,impact,method,target_weight,verdict,order_id";

/// Per-regime statistics of the bar returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegimeStats {
    /// Bars spent in the regime.
    pub bars: u64,
    /// Σ ln(1 + r).
    pub log_growth: f64,
    /// Σ r.
    pub sum: f64,
    /// Σ r².
    pub sum_sq: f64,
    /// Round trips entered in the regime.
    pub trades: u64,
}

/// A span of constant market regime, for chart shading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// First bar start in the span.
    pub start_ns: i64,
    /// Last bar start in the span.
    pub end_ns: i64,
    /// The regime.
    pub label: RegimeLabel,
}

struct PendingDecision {
    id: u64,
    line: Vec<u8>,
    method: &'static str,
    weight: f64,
    verdict: String,
    order: Option<u64>,
    expected: Option<(f64, f64, f64, f64)>,
}

/// The most bar times [`OutputSink::reserve_bar_times`] reserves room for (≈ 16 years of 1m
/// bars; a longer curve grows as usual).
const MAX_RESERVED_BAR_TIMES: usize = 1 << 23;

/// Streamed files being finished in the background (written out, synced, renamed); see
/// [`OutputSink::finish`].
pub struct Finishing(Vec<std::thread::JoinHandle<Result<()>>>);

impl Finishing {
    /// Waits until every file is in place.
    ///
    /// # Errors
    /// The first file's IO failure, naming it.
    pub fn wait(self) -> Result<()> {
        let mut first = Ok(());
        for h in self.0 {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("an output writer thread panicked")));
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

/// The sink.
pub struct OutputSink {
    symbols: Vec<String>,
    decisions: Option<StreamFile>,
    equity: Option<StreamFile>,
    iso: IsoFormatter,
    regimes: Vec<(RegimeLabel, f64)>,
    pending: Option<PendingDecision>,
    initial_cash: f64,
    prev_equity: f64,
    /// Bar start times of the equity curve.
    pub equity_times: Vec<i64>,
    /// Equity at each bar close.
    pub equity_values: Vec<f64>,
    /// Market-regime spans (the first symbol's regime).
    pub spans: Vec<Span>,
    /// Statistics per regime, indexed like [`RegimeLabel::ALL`].
    pub per_regime: [RegimeStats; 4],
    /// Counters of recorded messages by kind.
    pub counts: Counts,
}

/// Counters of recorded messages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Bars.
    pub bars: u64,
    /// Signals.
    pub signals: u64,
    /// Forecasts.
    pub forecasts: u64,
    /// Target weight vectors.
    pub target_weights: u64,
    /// Intents that passed risk.
    pub intents: u64,
    /// Orders.
    pub orders: u64,
    /// Fills.
    pub fills: u64,
    /// Risk events by check name.
    pub risk_events: std::collections::BTreeMap<&'static str, u64>,
    /// Fees paid.
    pub fees: f64,
}

fn label_index(l: RegimeLabel) -> usize {
    match l {
        RegimeLabel::Unknown => 0,
        RegimeLabel::Trending => 1,
        RegimeLabel::MeanReverting => 2,
        RegimeLabel::Volatile => 3,
    }
}

impl OutputSink {
    /// A sink writing into `dir` (created if missing) for `symbols` (indexed by symbol id).
    ///
    /// # Errors
    /// The folder or a file cannot be created (named).
    pub fn create(dir: &Path, symbols: &[String], initial_cash: f64) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output folder {}", dir.display()))?;
        let mut equity_header = String::from("time,equity,cash,position");
        if symbols.len() > 1 {
            equity_header.clear();
            equity_header.push_str("time,equity,cash");
            for s in symbols {
                equity_header.push_str(",position_");
                equity_header.push_str(s);
            }
        }
        Ok(Self {
            symbols: symbols.to_vec(),
            decisions: Some(StreamFile::create(dir, "decisions.csv", DECISION_COLUMNS)?),
            equity: Some(StreamFile::create(dir, "equity.csv", &equity_header)?),
            iso: IsoFormatter::default(),
            regimes: vec![(RegimeLabel::Unknown, 0.0); symbols.len()],
            pending: None,
            initial_cash,
            prev_equity: initial_cash,
            equity_times: Vec::new(),
            equity_values: Vec::new(),
            spans: Vec::new(),
            per_regime: [RegimeStats::default(); 4],
            counts: Counts::default(),
        })
    }

    /// Makes room for the equity curve of about `bar_times` bar times (capped at
    /// [`MAX_RESERVED_BAR_TIMES`]), so a long run does not regrow and copy it as it goes.
    pub fn reserve_bar_times(&mut self, bar_times: usize) {
        let n = bar_times.min(MAX_RESERVED_BAR_TIMES);
        self.equity_times.reserve(n);
        self.equity_values.reserve(n);
    }

    fn symbol(&self, id: SymbolId) -> &str {
        self.symbols
            .get(usize::from(id))
            .map_or("?", String::as_str)
    }

    fn market_regime(&self) -> RegimeLabel {
        self.regimes.first().map_or(RegimeLabel::Unknown, |r| r.0)
    }

    fn flush_decision(&mut self) -> std::io::Result<()> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let mut line = p.line;
        if let Some((e, q05, q95, impact)) = p.expected {
            for v in [e, q05, q95, impact] {
                push_f64(&mut line, v);
                line.push(b',');
            }
        } else {
            line.extend_from_slice(b",,,,");
        }
        line.extend_from_slice(p.method.as_bytes());
        line.push(b',');
        push_f64(&mut line, p.weight);
        line.push(b',');
        line.extend_from_slice(p.verdict.as_bytes());
        line.push(b',');
        if let Some(o) = p.order {
            line.extend_from_slice(itoa::Buffer::new().format(o).as_bytes());
        }
        line.push(b'\n');
        if let Some(f) = self.decisions.as_mut() {
            f.write(&line)?;
        }
        Ok(())
    }

    fn on_fill(&mut self, f: &Fill) {
        self.counts.fills += 1;
        self.counts.fees += f.fee;
    }

    fn handle(&mut self, ev: &Sequenced) -> std::io::Result<()> {
        if let Some(d) = ev.event.decision()
            && self.pending.as_ref().is_some_and(|p| p.id != d.0)
        {
            self.flush_decision()?;
        }
        match &ev.event {
            Event::Bar(_) => self.counts.bars += 1,
            Event::Regime(r) => {
                if let Some(slot) = self.regimes.get_mut(usize::from(r.symbol)) {
                    *slot = (r.label, r.confidence);
                }
            }
            Event::Signal(s) => {
                self.counts.signals += 1;
                let (label, conf) = self
                    .regimes
                    .get(usize::from(s.symbol))
                    .copied()
                    .unwrap_or_default();
                let mut line = Vec::with_capacity(160);
                line.extend_from_slice(itoa::Buffer::new().format(s.decision.0).as_bytes());
                line.push(b',');
                self.iso.push(s.bar_start, &mut line);
                line.push(b',');
                line.extend_from_slice(self.symbol(s.symbol).as_bytes());
                line.push(b',');
                line.extend_from_slice(s.strategy.as_str().as_bytes());
                line.push(b',');
                line.extend_from_slice(s.action.as_str().as_bytes());
                line.push(b',');
                line.extend_from_slice(label.as_str().as_bytes());
                line.push(b',');
                push_f64(&mut line, conf);
                line.push(b',');
                push_f64(&mut line, s.bar_close);
                line.push(b',');
                self.pending = Some(PendingDecision {
                    id: s.decision.0,
                    line,
                    method: "",
                    weight: f64::NAN,
                    verdict: "no_order".into(),
                    order: None,
                    expected: None,
                });
            }
            Event::Forecast(f) => {
                self.counts.forecasts += 1;
                if let Some(p) = self.pending.as_mut() {
                    p.expected = Some((f.expected_price, f.q05, f.q95, f.impact));
                }
            }
            Event::TargetWeights(w) => {
                self.counts.target_weights += 1;
                if let Some(p) = self.pending.as_mut() {
                    p.method = w.method.as_str();
                    p.weight = w
                        .weights
                        .iter()
                        .take(usize::from(w.n))
                        .copied()
                        .find(|x| x.is_finite())
                        .unwrap_or(f64::NAN);
                }
            }
            Event::RiskEvent(r) => {
                *self.counts.risk_events.entry(r.check.as_str()).or_default() += 1;
                if let Some(p) = self.pending.as_mut()
                    && r.decision.is_some_and(|d| d.0 == p.id)
                {
                    p.verdict = format!("{}:{}", r.action.as_str(), r.check.as_str());
                }
            }
            Event::OrderIntent(_) => self.counts.intents += 1,
            Event::Order(o) => {
                self.counts.orders += 1;
                if let Some(p) = self.pending.as_mut()
                    && p.id == o.decision.0
                {
                    if !p.verdict.starts_with("reduced") {
                        p.verdict = "order".into();
                    }
                    p.order = Some(o.id.0);
                }
            }
            Event::Fill(f) => self.on_fill(f),
            Event::EquityMark(m) => {
                let r = m.equity / self.prev_equity - 1.0;
                self.prev_equity = m.equity;
                let label = self.market_regime();
                let st = &mut self.per_regime[label_index(label)];
                st.bars += 1;
                st.log_growth += r.ln_1p();
                st.sum += r;
                st.sum_sq += r * r;
                match self.spans.last_mut() {
                    Some(s) if s.label == label => s.end_ns = m.bar_start,
                    _ => self.spans.push(Span {
                        start_ns: m.bar_start,
                        end_ns: m.bar_start,
                        label,
                    }),
                }
                self.equity_times.push(m.bar_start);
                self.equity_values.push(m.equity);
                let n = usize::from(m.n).max(1).min(m.positions.len());
                if let Some(f) = self.equity.as_mut() {
                    f.push_equity_row(m.bar_start, m.equity, m.cash, &m.positions[..n])?;
                }
            }
            Event::Trade(_) | Event::Quote(_) | Event::Command(_) => {}
        }
        Ok(())
    }

    /// Writes the last decision row and starts moving every streamed file into place (written
    /// out, synced, renamed) in the background; [`Finishing::wait`] waits for it.
    ///
    /// # Errors
    /// IO failures naming the file.
    pub fn finish(&mut self) -> Result<Finishing> {
        self.flush_decision().context("writing decisions.csv")?;
        let mut handles = Vec::new();
        for f in [self.decisions.take(), self.equity.take()]
            .into_iter()
            .flatten()
        {
            let name = f.dest.display().to_string();
            handles.push(
                std::thread::Builder::new()
                    .name("hermes-csv-finish".into())
                    .spawn(move || f.finish())
                    .with_context(|| format!("cannot finish {name}"))?,
            );
        }
        Ok(Finishing(handles))
    }

    /// The starting cash.
    #[must_use]
    pub fn initial_cash(&self) -> f64 {
        self.initial_cash
    }

    /// The market regime at bar time `t` (from the recorded spans).
    #[must_use]
    pub fn regime_at(&self, t: i64) -> RegimeLabel {
        let i = self.spans.partition_point(|s| s.start_ns <= t);
        i.checked_sub(1)
            .and_then(|i| self.spans.get(i))
            .map_or(RegimeLabel::Unknown, |s| s.label)
    }

    /// Counts every round trip under the market regime at its entry.
    pub fn attribute_trades(&mut self, trips: &[RoundTrip]) {
        for t in trips {
            let label = self.regime_at(t.entry_time);
            self.per_regime[label_index(label)].trades += 1;
        }
    }

    /// `trades.csv` text for `trips` (a `symbol` column first when the run has several).
    #[must_use]
    pub fn trades_csv(&mut self, trips: &[RoundTrip]) -> Vec<u8> {
        let multi = self.symbols.len() > 1;
        let mut out = Vec::with_capacity(128 * (trips.len() + 1));
        if multi {
            out.extend_from_slice(b"symbol,");
        }
        out.extend_from_slice(RoundTrip::CSV_HEADER.as_bytes());
        out.push(b'\n');
        for t in trips {
            if multi {
                out.extend_from_slice(self.symbol(t.symbol).as_bytes());
                out.push(b',');
            }
            self.iso.push(t.entry_time, &mut out);
            out.push(b',');
            push_f64(&mut out, t.entry_price);
            out.push(b',');
            self.iso.push(t.exit_time, &mut out);
            out.push(b',');
            push_f64(&mut out, t.exit_price);
            out.push(b',');
            out.extend_from_slice(t.size.to_string().as_bytes());
            for v in [t.entry_fees, t.exit_fees, t.pnl] {
                out.push(b',');
                push_f64(&mut out, v);
            }
            out.push(b',');
            out.extend_from_slice(t.exit_reason.as_str().as_bytes());
            out.push(b'\n');
        }
        out
    }
}

impl Sink for OutputSink {
    fn record(&mut self, event: &Sequenced) -> Result<(), SinkError> {
        self.handle(event).map_err(|e| SinkError {
            sink: "backtest files",
            message: e.to_string(),
        })
    }

    /// Hands every buffered row to the files' writer threads.
    fn flush(&mut self) -> Result<(), SinkError> {
        for f in [self.decisions.as_mut(), self.equity.as_mut()]
            .into_iter()
            .flatten()
        {
            f.hand_over().map_err(|e| SinkError {
                sink: "backtest files",
                message: format!("{}: {e}", f.dest.display()),
            })?;
        }
        Ok(())
    }
}
