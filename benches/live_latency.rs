//! Tick-to-order latency of the live host, and the cost of one decision on its own.
//!
//! 1. **Live host, end to end.** A one-symbol EMA-cross pipeline (12/26, regime detector on with
//!    a refit every 600 bars, simulator off, signal allocation, paper fills at the close) runs in
//!    a [`LiveHost`] with a real monotonic clock. The bench thread plays a synthetic market of
//!    1-second bars with 50 trades each, trending up and down in turns of 6 bars so the EMAs
//!    cross often; each trade is stamped `ts_received` from the clock just before it is pushed.
//!    The trade that opens bar *k + 1* closes bar *k*; if bar *k* is a decision bar, the
//!    pipeline sends an order. Two latencies per order:
//!    * **leaving the engine** — the host's own tick-to-order histogram
//!      ([`actors::live_host::LiveReport::tick_to_order`]): from the trade's `ts_received` to
//!      the engine handing the risk-checked `Order` to the recorder queue. This is the target
//!      figure (p99 ≤ 50 µs).
//!    * **at the recorder** — when the recorder thread hands the order to the sink: one more
//!      thread hop (and its wake-up) later.
//!
//!    The 49 other trades of a bar are pushed back to back, then the bench sleeps 1 ms before
//!    the bar-closing trade (`paced`: 1 000× faster than real 1 s bars, but the engine is idle
//!    when the closing trade comes, as it is live), or every trade goes back to back (`burst`).
//!    Settings: `paced` as configured by default (refits inline on the engine thread, an engine
//!    that blocks when idle); the `spin_background_refits` runs with
//!    `regime.refit_lag_bars = 30` (refits on the fitter thread) and `spin_polls = 100 000`
//!    (the engine polls ~2–5 ms before blocking, so it is awake when the closing trade comes).
//! 2. **One decision, synchronously** (criterion): `Pipeline::on_kline` on a decision bar (one
//!    that sends an order), with a `NullSink`, no queues and no threads; and a bar without a
//!    decision for comparison.
//!
//! Run: `cargo bench --bench live_latency` (about a minute).

#![allow(clippy::disallowed_methods)] // a bench measures wall time: Instant::now is its job

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actors::allocator::AllocatorConfig;
use actors::driver::MarketEvent;
use actors::executor::ExecutorConfig;
use actors::live_host::{LiveConfig, LiveHost};
use actors::pipeline::{Pipeline, PipelineConfig};
use actors::regime_detector::RegimeConfig;
use actors::risk::RiskConfig;
use actors::simulator::SimulatorConfig;
use actors::strategy_selector::{SelectorConfig, StrategyPolicy};
use actors::{
    Clock, Event, InstrumentFilters, NullSink, OrderReason, Recorder, Sequenced, Sink, SinkError,
    Trade,
};
use criterion::{Criterion, SamplingMode};
use hdrhistogram::Histogram;

mod common;
use common::SplitMix;

const SECOND: i64 = 1_000_000_000;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200 * SECOND;
const TRADES_PER_BAR: usize = 50;
const BARS: usize = 20_000;
const TREND_BARS: usize = 6;

fn pipeline_config(refit_every: usize, refit_lag_bars: usize) -> PipelineConfig {
    PipelineConfig {
        seed: 42,
        n_symbols: 1,
        interval: "1s".into(),
        cash: 100_000.0,
        entry_fraction: 1.0,
        selector: SelectorConfig {
            kind: StrategyPolicy::EmaCross,
            ..SelectorConfig::default()
        },
        regime: RegimeConfig {
            enabled: true,
            warmup_bars: 600,
            refit_every,
            refit_lag_bars,
            window: 1_800,
            ..RegimeConfig::default()
        },
        simulator: SimulatorConfig {
            enabled: false,
            ..SimulatorConfig::default()
        },
        allocator: AllocatorConfig::default(),
        risk: RiskConfig::default(),
        executor: ExecutorConfig::default(),
    }
}

/// An endless market: bar closes trending up and down in turns of [`TREND_BARS`], with noise.
struct Market {
    rng: SplitMix,
    bar: usize,
    price: f64,
}

impl Market {
    fn new() -> Self {
        Self {
            rng: SplitMix(7),
            bar: 0,
            price: 40_000.0,
        }
    }

    /// The next bar's (index, open, close).
    fn next_bar(&mut self) -> (usize, f64, f64) {
        let up = (self.bar / TREND_BARS).is_multiple_of(2);
        let drift = if up { 0.002 } else { -0.002 };
        let open = self.price;
        self.price *= 1.0 + drift + (self.rng.next_f64() - 0.5) * 0.002;
        let i = self.bar;
        self.bar += 1;
        (i, open, self.price)
    }

    /// The trades of the next bar: prices walk from the open to the close.
    fn next_trades(&mut self, out: &mut Vec<Trade>) {
        let (i, open, close) = self.next_bar();
        out.clear();
        let step = SECOND / TRADES_PER_BAR as i64;
        for k in 0..TRADES_PER_BAR {
            let ts = T0 + i as i64 * SECOND + k as i64 * step;
            let w = k as f64 / (TRADES_PER_BAR - 1) as f64;
            out.push(Trade {
                symbol: 0,
                ts_exchange: ts,
                ts_received: ts,
                price: open + (close - open) * w,
                qty: 0.001 + self.rng.next_f64() * 0.01,
                buyer_is_maker: k % 3 == 0,
            });
        }
    }

    /// The next bar as a closed kline.
    fn next_kline(&mut self) -> (strategies::bars::Bar, i64) {
        let (i, open, close) = self.next_bar();
        let start = T0 + i as i64 * SECOND;
        let bar = strategies::bars::Bar::new_checked(strategies::bars::BarParts {
            start_ns: start,
            end_ns: start + SECOND,
            open,
            high: open.max(close) * 1.0005,
            low: open.min(close) * 0.9995,
            close,
            volume: 1.0,
            quote_volume: close,
            trade_count: TRADES_PER_BAR as u64,
        })
        .expect("synthetic bar is valid");
        (bar, start + SECOND)
    }
}

/// The recorder-side observer: notes when each signal order reaches the sink.
struct OrderClock {
    seen: Vec<(i64, u64, Instant)>,
    events: u64,
}

impl Sink for OrderClock {
    fn record(&mut self, event: &Sequenced) -> Result<(), SinkError> {
        self.events += 1;
        if let Event::Order(o) = event.event
            && o.reason == OrderReason::Signal
        {
            self.seen.push((o.ts, o.decision.0, Instant::now()));
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A real, monotonic clock for the live run (from [`T0`] at the start), so the host's own
/// tick-to-order histogram measures wall time.
struct MonotonicClock(Instant);

impl Clock for MonotonicClock {
    fn now_ns(&self) -> i64 {
        T0 + i64::try_from(self.0.elapsed().as_nanos()).unwrap_or(i64::MAX - T0)
    }
}

/// How a live run is set up.
struct Tuning {
    /// `regime.refit_lag_bars` (0: refits inline on the engine thread).
    refit_lag_bars: usize,
    /// `LiveConfig::spin_polls` (0: the engine blocks when idle).
    spin_polls: u32,
}

fn live_run(name: &str, refit_every: usize, tuning: &Tuning, pause_before_close: Option<Duration>) {
    let clock = Arc::new(MonotonicClock(Instant::now()));
    let config = LiveConfig {
        inbound_capacity: 1 << 20,
        recorder_capacity: 1 << 20,
        spin_polls: tuning.spin_polls,
        ..LiveConfig::default()
    };
    let sink = OrderClock {
        seen: Vec::with_capacity(BARS),
        events: 0,
    };
    let (host, feed) = LiveHost::start(
        pipeline_config(refit_every, tuning.refit_lag_bars),
        &[InstrumentFilters::NONE],
        config,
        Arc::clone(&clock) as Arc<dyn Clock>,
        sink,
    )
    .expect("live host starts");
    let mut market = Market::new();
    let mut trades = Vec::with_capacity(TRADES_PER_BAR);
    // entered[i]: when the first trade of bar i (which closes bar i − 1) was pushed.
    let mut entered: Vec<Option<Instant>> = vec![None; BARS];
    let started = Instant::now();
    for slot in entered.iter_mut() {
        market.next_trades(&mut trades);
        if let Some(d) = pause_before_close {
            std::thread::sleep(d);
        }
        for (k, t) in trades.iter().enumerate() {
            if k == 0 {
                *slot = Some(Instant::now());
            }
            // Received now: the host's histogram measures from here.
            let t = Trade {
                ts_received: clock.now_ns(),
                ..*t
            };
            feed.push(MarketEvent::Trade(t))
                .expect("the inbound queue has room");
        }
    }
    let wall = started.elapsed();
    let report = host.shutdown().expect("clean shutdown");
    let m = report.metrics;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
    let mut mismatched = 0;
    for &(ts, decision, at) in &report.sink.seen {
        // The order's time is its bar's end: the start of the bar whose first trade closed it.
        let i = usize::try_from((ts - T0) / SECOND).unwrap_or(usize::MAX);
        if decision != i as u64 {
            mismatched += 1;
        }
        if let Some(Some(t_in)) = entered.get(i) {
            let ns = at.saturating_duration_since(*t_in).as_nanos();
            hist.record(u64::try_from(ns).unwrap_or(u64::MAX).max(1))
                .expect("in range");
        }
    }
    let us = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1_000.0;
    let e = &report.tick_to_order;
    println!(
        "live_latency/{name}: {} orders over {} bars ({} trades in {:.2} s wall; refit lag {} \
         bars, spin {} polls); tick→order leaving the engine (host histogram) µs: p50 {:.1}  \
         p99 {:.1}  p99.9 {:.1}  max {:.1}",
        e.len(),
        BARS,
        m.inbound_pushed,
        wall.as_secs_f64(),
        tuning.refit_lag_bars,
        tuning.spin_polls,
        us(e, 0.5),
        us(e, 0.99),
        us(e, 0.999),
        e.max() as f64 / 1_000.0,
    );
    println!(
        "live_latency/{name}: tick→order at the recorder thread (one more thread hop) µs: \
         p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  ({} decisions)",
        us(&hist, 0.5),
        us(&hist, 0.99),
        us(&hist, 0.999),
        hist.max() as f64 / 1_000.0,
        hist.len(),
    );
    println!(
        "live_latency/{name}: queues: inbound max depth {} / {}, recorder max depth {} / {}, \
         dropped {}, pauses {}, events recorded {}; pipeline: {} bars, {} orders, {} regime \
         fits; order/decision mismatches {mismatched}",
        m.inbound_max_depth,
        m.inbound_capacity,
        m.recorder_max_depth,
        m.recorder_capacity,
        m.inbound_dropped,
        m.pauses_injected,
        report.sink.events,
        report.stats.bars,
        report.stats.orders,
        report.stats.regime_fits,
    );
    assert_eq!(m.inbound_dropped, 0, "a dropped trade would pause trading");
    assert_eq!(
        mismatched, 0,
        "every order belongs to the bar its closing trade ended"
    );
}

/// A pipeline fed klines synchronously, rebuilt every [`BARS`] bars: the same span as the live
/// run, over which orders keep flowing (the strategy loses to this market's whipsaws and fees,
/// and an account run down to nothing sends no orders).
struct SyncRun {
    pipeline: Pipeline<NullSink>,
    market: Market,
    bars: usize,
}

impl SyncRun {
    fn new() -> Self {
        let mut pipeline = Pipeline::new(
            pipeline_config(600, 0),
            &[InstrumentFilters::NONE],
            Recorder::new(NullSink),
        )
        .expect("pipeline");
        let mut market = Market::new();
        // Past the regime warm-up and first fit.
        for _ in 0..700 {
            let (bar, received) = market.next_kline();
            pipeline.on_kline(0, bar, received).expect("bar");
            pipeline
                .end_of_time(bar.start_ns(), bar.end_ns())
                .expect("mark");
        }
        Self {
            pipeline,
            market,
            bars: 700,
        }
    }

    /// Feeds klines until `want` decision bars (or, with `decisions = false`, bars without an
    /// order) were timed; returns their total time and adds each to `hist` (ns).
    fn time_bars(&mut self, want: u64, decisions: bool, hist: &mut Histogram<u64>) -> Duration {
        let mut total = Duration::ZERO;
        let mut timed = 0;
        let mut since_timed = 0u32;
        while timed < want {
            if self.bars >= BARS {
                *self = Self::new();
            }
            since_timed += 1;
            assert!(
                since_timed < 100_000,
                "no bar of the kind wanted in 100 000 bars"
            );
            let p = &mut self.pipeline;
            let (bar, received) = self.market.next_kline();
            self.bars += 1;
            let before = p.stats().orders;
            let t = Instant::now();
            p.on_kline(0, black_box(bar), received)
                .expect("bar accepted");
            let dt = t.elapsed();
            if (p.stats().orders > before) == decisions {
                total += dt;
                timed += 1;
                since_timed = 0;
                let ns = u64::try_from(dt.as_nanos()).unwrap_or(u64::MAX);
                hist.record(ns.max(1)).expect("in range");
            }
            p.end_of_time(bar.start_ns(), bar.end_ns())
                .expect("null sink");
        }
        total
    }
}

fn main() {
    let plain = Tuning {
        refit_lag_bars: 0,
        spin_polls: 0,
    };
    // Refits on the fitter thread (in use 30 bars = 30 ms later at this pace: 30 s of the
    // real 1 s bars), and an engine that polls for ~2–5 ms before blocking.
    let tuned = Tuning {
        refit_lag_bars: 30,
        spin_polls: 100_000,
    };
    let pause = Some(Duration::from_millis(1));
    live_run("paced", 600, &plain, pause);
    live_run("paced_spin_background_refits", 600, &tuned, pause);
    live_run("burst_spin_background_refits", 600, &tuned, None);

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("pipeline");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    let mut spread = Vec::new();
    for (name, decisions) in [("decision_bar", true), ("bar_without_decision", false)] {
        let mut run = SyncRun::new();
        let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("hist");
        g.bench_function(name, |b| {
            b.iter_custom(|iters| run.time_bars(iters, decisions, &mut hist));
        });
        spread.push((name, hist));
    }
    g.finish();
    c.final_summary();
    for (name, h) in spread {
        let us = |q: f64| h.value_at_quantile(q) as f64 / 1_000.0;
        println!(
            "pipeline/{name}: every timed bar ({}), µs: p50 {:.2}  p99 {:.2}  p99.9 {:.1}  \
             max {:.1}  (mean {:.2}; the tail is the regime refit every 600 bars)",
            h.len(),
            us(0.5),
            us(0.99),
            us(0.999),
            h.max() as f64 / 1_000.0,
            h.mean() / 1_000.0
        );
    }
}
