//! Replay host tests: merge order, ties, out-of-order sources, bar-time closing, and that the
//! merge of several sources drives the pipeline exactly as one pre-merged source does. The
//! input builders here are shared with the live host's tests.

use super::*;
use crate::allocator::AllocatorConfig;
use crate::executor::ExecutorConfig;
use crate::messages::{Command, CommandKind, Event, Sequenced, SymbolId, Trade};
use crate::recorder::MemorySink;
use crate::regime_detector::RegimeConfig;
use crate::risk::RiskConfig;
use crate::simulator::SimulatorConfig;
use crate::strategy_selector::{SelectorConfig, StrategyPolicy};

pub(crate) const MINUTE: i64 = 60_000_000_000;
/// A minute-aligned start (2023-11-14 22:13 UTC).
pub(crate) const T0: i64 = 1_699_999_980_000_000_000;

/// An EMA-cross pipeline over `n_symbols` with `interval`, the regime detector and the
/// simulator switched on with small windows (so refits and forecasts happen in a short run).
pub(crate) fn config(n_symbols: usize, interval: &str) -> PipelineConfig {
    PipelineConfig {
        seed: 7,
        n_symbols,
        interval: interval.to_owned(),
        cash: 10_000.0,
        entry_fraction: 1.0 / n_symbols as f64,
        selector: SelectorConfig {
            kind: StrategyPolicy::EmaCross,
            ..SelectorConfig::default()
        },
        regime: RegimeConfig {
            enabled: true,
            warmup_bars: 120,
            refit_every: 120,
            window: 240,
            restarts: 1,
            max_iter: 20,
            refilter_bars: 100,
            ..RegimeConfig::default()
        },
        simulator: SimulatorConfig {
            enabled: true,
            window: 60,
            horizon: 5,
            paths: 16,
            recalibrate_every: 30,
            ..SimulatorConfig::default()
        },
        allocator: AllocatorConfig {
            max_weight: 1.0 / n_symbols as f64,
            ..AllocatorConfig::default()
        },
        risk: RiskConfig::default(),
        executor: ExecutorConfig::default(),
    }
}

pub(crate) fn filters(n: usize) -> Vec<InstrumentFilters> {
    vec![InstrumentFilters::NONE; n]
}

/// SplitMix64 in [0, 1).
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub(crate) fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Price of bar `i`: trends that flip every 25 bars (so EMA 12/26 crosses often), plus noise.
pub(crate) fn price_path(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix(seed);
    let mut p = 100.0f64;
    (0..n)
        .map(|i| {
            let drift = if (i / 25) % 2 == 0 { 0.004 } else { -0.004 };
            p *= 1.0 + drift + (rng.next_f64() - 0.5) * 0.004;
            p
        })
        .collect()
}

/// `n` one-minute klines of `symbol` from [`T0`].
pub(crate) fn klines(symbol: SymbolId, n: usize, seed: u64) -> Vec<MarketEvent> {
    let closes = price_path(n, seed);
    let mut open = closes[0];
    closes
        .iter()
        .enumerate()
        .map(|(i, &close)| {
            let start = T0 + i as i64 * MINUTE;
            let ohlcv = strategies::bars::Bar::new_checked(strategies::bars::BarParts {
                start_ns: start,
                end_ns: start + MINUTE,
                open,
                high: open.max(close) * 1.001,
                low: open.min(close) * 0.999,
                close,
                volume: 1.0,
                quote_volume: close,
                trade_count: 1,
            })
            .expect("valid bar");
            open = close;
            MarketEvent::Kline {
                symbol,
                ohlcv,
                ts_received: start + MINUTE,
            }
        })
        .collect()
}

/// `per_bar` trades of `symbol` in each of `n` intervals of `interval_ns`, from [`T0`].
pub(crate) fn trades(
    symbol: SymbolId,
    n: usize,
    per_bar: usize,
    interval_ns: i64,
    seed: u64,
) -> Vec<MarketEvent> {
    let closes = price_path(n, seed);
    let step = interval_ns / per_bar as i64;
    let mut out = Vec::with_capacity(n * per_bar);
    let mut prev = closes[0];
    for (i, &close) in closes.iter().enumerate() {
        for k in 0..per_bar {
            let ts = T0 + i as i64 * interval_ns + k as i64 * step;
            let w = (k + 1) as f64 / per_bar as f64;
            out.push(MarketEvent::Trade(Trade {
                symbol,
                ts_exchange: ts,
                ts_received: ts,
                price: prev + (close - prev) * w,
                qty: 0.01,
                buyer_is_maker: k % 2 == 0,
            }));
        }
        prev = close;
    }
    out
}

pub(crate) fn command(ts: i64, kind: CommandKind) -> MarketEvent {
    MarketEvent::Command(Command { ts, kind })
}

/// Recorded events as text (`TargetWeights` carry NaN for "no view", which `==` would call
/// unequal to itself).
pub(crate) fn lines(events: &[Sequenced]) -> Vec<String> {
    events.iter().map(|e| format!("{e:?}")).collect()
}

/// Merges `sources` by the documented key with a stable sort (independent of the heap).
pub(crate) fn premerge(sources: &[Vec<MarketEvent>]) -> Vec<MarketEvent> {
    let mut all: Vec<(usize, MarketEvent)> = sources
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.iter().map(move |e| (i, *e)))
        .collect();
    all.sort_by_key(|(i, e)| (e.ts(), e.priority(), *i));
    all.into_iter().map(|(_, e)| e).collect()
}

/// Runs the replay host over `sources` and returns everything recorded.
pub(crate) fn replay(
    cfg: PipelineConfig,
    sources: Vec<Vec<MarketEvent>>,
) -> (Vec<Sequenced>, PipelineStats) {
    let n = cfg.n_symbols;
    let mut host = ReplayHost::new(cfg, &filters(n), MemorySink::default()).expect("host");
    for s in sources {
        host.add_source(Box::new(VecSource::new(s)));
    }
    host.run().expect("replay");
    let (sink, _, stats) = host.finish().expect("finish");
    (sink.events, stats)
}

fn order_of(sources: Vec<Vec<MarketEvent>>) -> Vec<(usize, i64, &'static str)> {
    let mut m = MergedSources::new();
    for s in sources {
        m.add(Box::new(VecSource::new(s)));
    }
    let mut out = Vec::new();
    while let Some((i, e)) = m.next_event().expect("merge") {
        out.push((i, e.ts(), e.kind()));
        assert!(out.len() < 1_000, "merge does not end");
    }
    out
}

fn trade_at(ts: i64) -> MarketEvent {
    MarketEvent::Trade(Trade {
        symbol: 0,
        ts_exchange: ts,
        ts_received: ts,
        price: 1.0,
        qty: 1.0,
        buyer_is_maker: false,
    })
}

#[test]
fn merge_orders_by_time_then_commands_first_then_source_index() {
    let order = order_of(vec![
        vec![trade_at(10), trade_at(20), trade_at(20), trade_at(40)],
        vec![trade_at(5), trade_at(20), trade_at(30)],
        vec![
            command(20, CommandKind::Pause),
            command(40, CommandKind::Resume),
        ],
    ]);
    assert_eq!(
        order,
        vec![
            (1, 5, "trade"),
            (0, 10, "trade"),
            // t = 20: the command first, then market data by source index, and source 0's
            // two events keep their order.
            (2, 20, "command"),
            (0, 20, "trade"),
            (0, 20, "trade"),
            (1, 20, "trade"),
            (1, 30, "trade"),
            (2, 40, "command"),
            (0, 40, "trade"),
        ]
    );
}

#[test]
fn merge_of_empty_and_single_sources() {
    assert!(order_of(vec![]).is_empty());
    assert!(order_of(vec![vec![], vec![]]).is_empty());
    assert_eq!(
        order_of(vec![vec![], vec![trade_at(3), trade_at(3)], vec![]]),
        vec![(1, 3, "trade"), (1, 3, "trade")]
    );
}

#[test]
fn a_source_going_back_in_time_is_an_error() {
    let mut m = MergedSources::new();
    m.add(Box::new(VecSource::new(vec![trade_at(0), trade_at(50)])));
    m.add(Box::new(VecSource::new(vec![trade_at(10), trade_at(9)])));
    assert_eq!(m.next_event().expect("first").map(|(i, _)| i), Some(0));
    let err = m.next_event().expect_err("source 1 goes back");
    assert!(
        matches!(
            err,
            ReplayError::OutOfOrder {
                index: 1,
                ts: 9,
                previous: 10,
                ..
            }
        ),
        "{err}"
    );
}

struct FailingSource;

impl MarketSource for FailingSource {
    fn next(&mut self) -> Result<Option<MarketEvent>, SourceError> {
        Err(SourceError {
            origin: "broken.parquet".into(),
            message: "row 3: price is not a number".into(),
        })
    }
}

#[test]
fn a_source_error_names_the_source() {
    let mut host =
        ReplayHost::new(config(1, "1m"), &filters(1), MemorySink::default()).expect("host");
    host.add_source(Box::new(VecSource::new(klines(0, 3, 1))));
    host.add_source(Box::new(FailingSource));
    let err = host.run().expect_err("source fails");
    let text = err.to_string();
    assert!(
        matches!(err, ReplayError::Source { index: 1, .. }),
        "{text}"
    );
    assert!(
        text.contains("broken.parquet") && text.contains("row 3"),
        "{text}"
    );
}

#[test]
fn two_sources_drive_the_pipeline_like_one_premerged_source() {
    let k0 = klines(0, 400, 11);
    let k1 = klines(1, 400, 12);
    let cmds = vec![
        command(T0 + 150 * MINUTE, CommandKind::Pause),
        command(T0 + 200 * MINUTE, CommandKind::Resume),
        command(T0 + 300 * MINUTE + 1, CommandKind::Flatten),
    ];
    let sources = vec![k0, k1, cmds];
    let merged = premerge(&sources);
    let (split, split_stats) = replay(config(2, "1m"), sources);
    let (one, _) = replay(config(2, "1m"), vec![merged]);
    assert_eq!(lines(&split), lines(&one));
    // The run is not trivial: it traded, commands were seen, every bar time was marked.
    assert!(split_stats.orders >= 4, "{split_stats:?}");
    assert!(split_stats.forecasts > 0, "{split_stats:?}");
    let count = |f: fn(&Event) -> bool| split.iter().filter(|s| f(&s.event)).count();
    assert_eq!(count(|e| matches!(e, Event::Command(_))), 3);
    assert_eq!(count(|e| matches!(e, Event::EquityMark(_))), 400);
    // Sequence numbers are 1, 2, 3, …
    assert!(split.iter().enumerate().all(|(i, s)| s.seq == i as u64 + 1));
}

#[test]
fn each_bar_time_is_closed_after_its_last_kline_and_before_the_next_time() {
    // Symbol 1 misses bar 5: that time is closed by the next time's first kline instead.
    let k0 = klines(0, 10, 3);
    let mut k1 = klines(1, 10, 4);
    k1.remove(5);
    let (events, _) = replay(config(2, "1m"), vec![k0, k1]);
    let mut bars_of_open_time = 0;
    let mut marks = Vec::new();
    let mut current = None;
    for s in &events {
        match s.event {
            Event::Bar(b) => {
                let start = b.ohlcv.start_ns();
                if current != Some(start) {
                    assert!(current.is_none_or(|c| c < start));
                    assert_eq!(bars_of_open_time, 0, "time {current:?} was not closed");
                    current = Some(start);
                }
                bars_of_open_time += 1;
            }
            Event::EquityMark(m) => {
                assert_eq!(Some(m.bar_start), current, "mark of the open time");
                assert_eq!(m.ts, m.bar_start + MINUTE);
                let expected = if m.bar_start == T0 + 5 * MINUTE { 1 } else { 2 };
                assert_eq!(bars_of_open_time, expected, "bars before mark {m:?}");
                bars_of_open_time = 0;
                marks.push(m.bar_start);
            }
            _ => {}
        }
    }
    let want: Vec<i64> = (0..10).map(|i| T0 + i * MINUTE).collect();
    assert_eq!(marks, want);
}

#[test]
fn trade_built_bars_close_their_time_after_the_closing_trade() {
    let (events, stats) = replay(config(1, "1m"), vec![trades(0, 10, 5, MINUTE, 9)]);
    assert_eq!(stats.bars, 9, "the last interval stays open");
    let mut last_bar = None;
    let mut marks = 0;
    for s in &events {
        match s.event {
            Event::Bar(b) => last_bar = Some(b.ohlcv.start_ns()),
            Event::EquityMark(m) => {
                assert_eq!(Some(m.bar_start), last_bar, "a mark follows its bar");
                marks += 1;
            }
            _ => {}
        }
    }
    assert_eq!(marks, 9);
}

#[test]
fn the_replay_clock_follows_event_time() {
    let mut host =
        ReplayHost::new(config(1, "1m"), &filters(1), MemorySink::default()).expect("host");
    host.add_source(Box::new(VecSource::new(klines(0, 3, 1))));
    let clock = host.clock();
    let mut seen = Vec::new();
    while let Some((_, e)) = host.step().expect("step") {
        seen.push(crate::clock::Clock::now_ns(&*clock));
        assert_eq!(*seen.last().expect("one"), e.ts());
    }
    assert_eq!(seen, vec![T0 + MINUTE, T0 + 2 * MINUTE, T0 + 3 * MINUTE]);
    assert_eq!(host.stats().events, 3);
}

#[test]
fn a_refused_event_stops_the_replay_naming_it() {
    let mut bad = klines(0, 3, 1);
    bad.push(MarketEvent::Kline {
        symbol: 4,
        ohlcv: match bad[2] {
            MarketEvent::Kline { ohlcv, .. } => ohlcv,
            _ => unreachable!("klines"),
        },
        ts_received: 0,
    });
    let mut host =
        ReplayHost::new(config(1, "1m"), &filters(1), MemorySink::default()).expect("host");
    host.add_source(Box::new(VecSource::new(bad)));
    let err = host.run().expect_err("unknown symbol");
    assert!(
        matches!(
            err,
            ReplayError::Pipeline {
                event: 4,
                kind: "kline",
                index: 0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_bad_interval_is_a_config_error() {
    let r = ReplayHost::new(config(1, "7x"), &filters(1), MemorySink::default());
    assert!(matches!(r, Err(ReplayError::Config { .. })));
}

#[test]
fn the_two_thread_run_records_exactly_what_the_step_loop_does() {
    // Enough events for several batches and regime refits (every 120 bars), with trades and
    // commands mixed in, on two symbols.
    let k0 = klines(0, 3_000, 21);
    let k1 = klines(1, 3_000, 22);
    let cmds = vec![
        command(T0 + 700 * MINUTE, CommandKind::Pause),
        command(T0 + 900 * MINUTE, CommandKind::Resume),
    ];
    let sources = vec![k0, k1, cmds];
    let (threaded, threaded_stats) = replay(config(2, "1m"), sources.clone());
    // Short lookaheads: fits started a few bars before their use, events released mid-run.
    for lookahead in [0, 1, 37, 500] {
        let mut host =
            ReplayHost::new(config(2, "1m"), &filters(2), MemorySink::default()).expect("host");
        host.lookahead = Some(lookahead);
        for s in &sources {
            host.add_source(Box::new(VecSource::new(s.clone())));
        }
        host.run().expect("run");
        let (sink, _, stats) = host.finish().expect("finish");
        assert_eq!(
            lines(&sink.events),
            lines(&threaded),
            "lookahead {lookahead}"
        );
        assert_eq!(stats.regime_fits, threaded_stats.regime_fits);
    }

    let mut host =
        ReplayHost::new(config(2, "1m"), &filters(2), MemorySink::default()).expect("host");
    for s in sources {
        host.add_source(Box::new(VecSource::new(s)));
    }
    let mut steps = 0;
    while host.step().expect("step").is_some() {
        steps += 1;
        assert!(steps <= 10_000, "step loop does not end");
    }
    let (sink, _, stepped_stats) = host.finish().expect("finish");
    assert_eq!(lines(&threaded), lines(&sink.events));
    assert_eq!(threaded_stats.regime_fits, stepped_stats.regime_fits);
    assert!(threaded_stats.regime_fits >= 40, "{threaded_stats:?}");
    let regimes = threaded
        .iter()
        .filter(|s| matches!(s.event, Event::Regime(_)))
        .count();
    assert_eq!(regimes, 6_000);
}
