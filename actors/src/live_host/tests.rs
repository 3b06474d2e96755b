//! Live host tests: the same record as the replay host, the full-queue policies, the grace
//! timeout and the shutdown order. Every wait is bounded in count (and so in time).

use super::*;
use crate::clock::ManualClock;
use crate::messages::Event;
use crate::recorder::MemorySink;
use crate::replay_host::tests::{
    MINUTE, T0, command, config, filters, klines, lines, premerge, replay, trades,
};

const CLOCK_NS: i64 = T0 + 1_000 * MINUTE;

fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(CLOCK_NS))
}

/// Big queues and a grace long enough that no timeout fires in a test.
fn roomy() -> LiveConfig {
    LiveConfig {
        inbound_capacity: 1 << 14,
        recorder_capacity: 1 << 16,
        kline_grace: Duration::from_secs(60),
        ..LiveConfig::default()
    }
}

/// Polls `cond` every millisecond, at most `5_000` times.
fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..5_000 {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    cond()
}

fn live(
    cfg: PipelineConfig,
    live_cfg: LiveConfig,
    events: &[MarketEvent],
) -> LiveReport<MemorySink> {
    let n = cfg.n_symbols;
    let (host, feed) =
        LiveHost::start(cfg, &filters(n), live_cfg, clock(), MemorySink::default()).expect("start");
    for e in events {
        feed.push(*e).expect("room in the queue");
    }
    host.shutdown().expect("clean shutdown")
}

#[test]
fn klines_and_commands_record_exactly_what_the_replay_host_records() {
    let sources = vec![
        klines(0, 400, 11),
        klines(1, 400, 12),
        vec![
            command(T0 + 150 * MINUTE, CommandKind::Pause),
            command(T0 + 200 * MINUTE, CommandKind::Resume),
        ],
    ];
    let merged = premerge(&sources);
    let (want, want_stats) = replay(config(2, "1m"), sources);
    let report = live(config(2, "1m"), roomy(), &merged);
    assert_eq!(lines(&report.sink.events), lines(&want));
    assert_eq!(report.stats.orders, want_stats.orders);
    assert!(want_stats.orders >= 4, "{want_stats:?}");
    let m = report.metrics;
    assert_eq!(m.lifecycle, Lifecycle::Stopped);
    assert_eq!(m.events_handled, merged.len() as u64);
    assert_eq!(
        (m.inbound_dropped, m.pauses_injected, m.inputs_skipped),
        (0, 0, 0)
    );
    assert_eq!(m.recorded, want.len() as u64);
    assert_eq!((m.inbound_depth, m.recorder_depth), (0, 0));
    assert!(
        m.inbound_max_depth >= 1 && m.recorder_max_depth >= 1,
        "{m:?}"
    );
}

#[test]
fn trades_record_exactly_what_the_replay_host_records() {
    let events = trades(0, 300, 10, 1_000_000_000, 5);
    let (want, want_stats) = replay(config(1, "1s"), vec![events.clone()]);
    let report = live(config(1, "1s"), roomy(), &events);
    assert_eq!(lines(&report.sink.events), lines(&want));
    assert!(want_stats.orders >= 2, "{want_stats:?}");
    assert_eq!(report.round_trips.len(), {
        let n = config(1, "1s").n_symbols;
        let mut h = crate::replay_host::ReplayHost::new(
            config(1, "1s"),
            &filters(n),
            MemorySink::default(),
        )
        .expect("host");
        h.add_source(Box::new(crate::replay_host::VecSource::new(events)));
        h.run().expect("run");
        h.finish().expect("finish").1.len()
    });
}

#[test]
fn a_spinning_engine_with_background_refits_records_what_the_replay_host_records() {
    // Refits on the fitter thread, in use 30 bars later; the engine polls before blocking.
    let mut cfg = config(1, "1s");
    cfg.regime.refit_lag_bars = 30;
    let events = trades(0, 600, 10, 1_000_000_000, 8);
    let (want, want_stats) = replay(cfg.clone(), vec![events.clone()]);
    let spinning = LiveConfig {
        spin_polls: 20_000,
        ..roomy()
    };
    let report = live(cfg, spinning, &events);
    assert_eq!(lines(&report.sink.events), lines(&want));
    assert!(want_stats.orders >= 2, "{want_stats:?}");
    assert!(report.stats.regime_fits >= 3, "{:?}", report.stats);
    // One latency sample per order caused by market data (the clock here is manual, so only
    // the count means something).
    let orders = want
        .iter()
        .filter(|s| matches!(s.event, Event::Order(_)))
        .count();
    assert_eq!(report.tick_to_order.len(), orders as u64);
}

#[test]
fn a_full_inbound_queue_drops_counts_and_pauses_before_anything_later() {
    let input = klines(0, 300, 21);
    let (want, _) = replay(config(1, "1m"), vec![input.clone()]);
    assert!(
        want.iter().any(|s| matches!(s.event, Event::Order(_))),
        "the input trades when nothing is dropped"
    );
    let (release, hold) = crossbeam_channel::bounded::<()>(1);
    let cfg = LiveConfig {
        inbound_capacity: 300,
        ..roomy()
    };
    let (host, feed) = LiveHost::start_held(
        config(1, "1m"),
        &filters(1),
        cfg,
        clock(),
        MemorySink::default(),
        Some(hold),
    )
    .expect("start");
    for e in &input {
        feed.push(*e).expect("fits");
    }
    // The engine is held: the queue is full, the next events are dropped.
    let extra = klines(0, 303, 21)[300..].to_vec();
    for e in &extra {
        assert_eq!(feed.push(*e), Err(FeedError::Overflow { capacity: 300 }));
    }
    let m = host.metrics();
    assert_eq!(
        (m.inbound_dropped, m.inbound_depth, m.inbound_max_depth),
        (3, 300, 300)
    );
    assert_eq!(feed.depth(), 300);
    drop(release);
    let report = host.shutdown().expect("shutdown");
    let ev = &report.sink.events;
    // The pause comes first, stamped by the clock, with the risk manager's halt.
    assert!(
        matches!(
            ev[0].event,
            Event::Command(Command {
                ts: CLOCK_NS,
                kind: CommandKind::Pause
            })
        ),
        "{:?}",
        ev[0]
    );
    assert!(matches!(
        ev[1].event,
        Event::RiskEvent(r) if r.action == crate::messages::RiskAction::Halted
    ));
    // No entry was sent afterwards, although the same data trades without the drop.
    assert!(!ev.iter().any(|s| matches!(s.event, Event::Order(_))));
    assert_eq!(report.metrics.pauses_injected, 1);
    assert_eq!(report.metrics.events_handled, 300);
}

/// A sink whose first write waits until `gate` opens (or 20 s pass).
#[derive(Debug)]
struct GateSink {
    gate: Receiver<()>,
    inner: MemorySink,
}

impl Sink for GateSink {
    fn record(&mut self, event: &Sequenced) -> Result<(), SinkError> {
        if self.inner.events.is_empty() {
            let _ = self.gate.recv_timeout(Duration::from_secs(20));
        }
        self.inner.record(event)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[test]
fn a_full_recorder_queue_halts_the_engine_and_keeps_every_accepted_record() {
    let (open, gate) = crossbeam_channel::bounded::<()>(1);
    let cfg = LiveConfig {
        recorder_capacity: 16,
        ..roomy()
    };
    let sink = GateSink {
        gate,
        inner: MemorySink::default(),
    };
    let (host, feed) =
        LiveHost::start(config(1, "1s"), &filters(1), cfg, clock(), sink).expect("start");
    for e in trades(0, 20, 10, 1_000_000_000, 3) {
        if feed.push(e).is_err() {
            break;
        }
    }
    assert!(
        wait_for(|| host.lifecycle() == Lifecycle::Faulted),
        "{:?}",
        host.metrics()
    );
    assert_eq!(feed.push(trades(0, 1, 1, 1, 1)[0]), Err(FeedError::Stopped));
    drop(open);
    let err = host.shutdown().expect_err("halted");
    let LiveError::Engine {
        recorded,
        source: PipelineError::Sink(e),
    } = &err
    else {
        panic!("{err}");
    };
    assert!(e.message.contains("queue full (16 events)"), "{err}");
    // Every record the queue accepted was written: 16 queued plus at most the one in hand.
    assert!((16..=17).contains(recorded), "{err}");
}

/// A sink that fails on its `fail_at`-th write and remembers its flushes.
#[derive(Debug, Default)]
struct CountingSink {
    events: Vec<Sequenced>,
    flushed_at: Vec<usize>,
    fail_at: Option<usize>,
}

impl Sink for CountingSink {
    fn record(&mut self, event: &Sequenced) -> Result<(), SinkError> {
        if self.fail_at == Some(self.events.len() + 1) {
            return Err(SinkError {
                sink: "test",
                message: "disk full".into(),
            });
        }
        self.events.push(*event);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.flushed_at.push(self.events.len());
        Ok(())
    }
}

#[test]
fn shutdown_drains_finishes_and_flushes_everything() {
    let input = premerge(&[klines(0, 200, 1), klines(1, 200, 2)]);
    let (want, _) = replay(config(2, "1m"), vec![input.clone()]);
    let (host, feed) = LiveHost::start(
        config(2, "1m"),
        &filters(2),
        roomy(),
        clock(),
        CountingSink::default(),
    )
    .expect("start");
    for e in &input {
        feed.push(*e).expect("room");
    }
    // Shut down at once: whatever is still queued must be handled and recorded.
    let report = host.shutdown().expect("shutdown");
    assert_eq!(feed.push(input[0]), Err(FeedError::Stopped));
    assert_eq!(lines(&report.sink.events), lines(&want));
    let last = report.sink.flushed_at.last().copied();
    assert_eq!(
        last,
        Some(want.len()),
        "the last flush follows the last record"
    );
    let m = report.metrics;
    assert_eq!(m.lifecycle, Lifecycle::Stopped);
    assert_eq!(m.events_handled, input.len() as u64);
    assert_eq!(m.unhandled_at_shutdown, 0);
    assert_eq!(
        (m.recorder_sent, m.recorded),
        (want.len() as u64, want.len() as u64)
    );
}

#[test]
fn a_failing_sink_halts_the_engine_and_is_reported() {
    let sink = CountingSink {
        fail_at: Some(50),
        ..CountingSink::default()
    };
    let (host, feed) =
        LiveHost::start(config(1, "1m"), &filters(1), roomy(), clock(), sink).expect("start");
    let input = klines(0, 200, 4);
    let mut pushed = 0;
    for e in &input {
        if feed.push(*e).is_err() {
            break;
        }
        pushed += 1;
    }
    assert!(pushed > 0);
    let err = host.shutdown().expect_err("sink failed");
    assert!(
        matches!(&err, LiveError::Recorder { recorded: 49, source } if source.message == "disk full"),
        "{err}"
    );
}

#[test]
fn operator_commands_are_stamped_by_the_clock_and_handled_before_later_data() {
    let (release, hold) = crossbeam_channel::bounded::<()>(1);
    let (host, feed) = LiveHost::start_held(
        config(1, "1m"),
        &filters(1),
        roomy(),
        clock(),
        MemorySink::default(),
        Some(hold),
    )
    .expect("start");
    for e in klines(0, 3, 1) {
        feed.push(e).expect("room");
    }
    host.command(CommandKind::Pause).expect("sent");
    drop(release);
    let report = host.shutdown().expect("shutdown");
    // Queued before the data was taken: the command is first.
    assert!(matches!(
        report.sink.events[0].event,
        Event::Command(Command {
            ts: CLOCK_NS,
            kind: CommandKind::Pause
        })
    ));
    let bars = report
        .sink
        .events
        .iter()
        .filter(|s| matches!(s.event, Event::Bar(_)));
    assert_eq!(bars.count(), 3);
}

#[test]
fn an_open_kline_time_closes_after_the_grace_without_input() {
    let cfg = LiveConfig {
        kline_grace: Duration::from_millis(20),
        ..roomy()
    };
    let (host, feed) = LiveHost::start(
        config(2, "1m"),
        &filters(2),
        cfg,
        clock(),
        MemorySink::default(),
    )
    .expect("start");
    feed.push(klines(0, 1, 1)[0]).expect("room");
    // Bar and regime of symbol 0, then the mark the timeout adds.
    assert!(
        wait_for(|| host.metrics().recorder_sent >= 3),
        "{:?}",
        host.metrics()
    );
    // Symbol 1's kline of the same time comes late: handled, but the time stays closed.
    feed.push(klines(1, 1, 2)[0]).expect("room");
    let report = host.shutdown().expect("shutdown");
    let kinds: Vec<&str> = report
        .sink
        .events
        .iter()
        .map(|s| match s.event {
            Event::Bar(_) => "bar",
            Event::Regime(_) => "regime",
            Event::EquityMark(_) => "mark",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["bar", "regime", "mark", "bar", "regime"]);
}

#[test]
fn dropping_every_feed_stops_the_engine_in_order() {
    let (host, feed) = LiveHost::start(
        config(1, "1m"),
        &filters(1),
        roomy(),
        clock(),
        MemorySink::default(),
    )
    .expect("start");
    let feed2 = feed.clone();
    for e in klines(0, 50, 8) {
        feed2.push(e).expect("room");
    }
    drop(feed);
    drop(feed2);
    assert!(wait_for(|| host.lifecycle() == Lifecycle::Stopped));
    let report = host.shutdown().expect("shutdown");
    let marks = report
        .sink
        .events
        .iter()
        .filter(|s| matches!(s.event, Event::EquityMark(_)))
        .count();
    assert_eq!(marks, 50);
    assert_eq!(
        host_command_after_stop(),
        "live host: engine stopped; Pause not sent"
    );
}

fn host_command_after_stop() -> String {
    let (host, feed) = LiveHost::start(
        config(1, "1m"),
        &filters(1),
        roomy(),
        clock(),
        MemorySink::default(),
    )
    .expect("start");
    drop(feed);
    assert!(wait_for(|| host.lifecycle() == Lifecycle::Stopped));
    let msg = host
        .command(CommandKind::Pause)
        .expect_err("stopped")
        .to_string();
    host.shutdown().expect("shutdown");
    msg
}

#[test]
fn invalid_configs_are_refused_with_every_problem() {
    let bad = LiveConfig {
        spin_polls: MAX_SPIN_POLLS + 1,
        inbound_capacity: 0,
        recorder_capacity: MAX_QUEUE_CAPACITY + 1,
        kline_grace: Duration::ZERO,
        ..LiveConfig::default()
    };
    let r = LiveHost::start(
        config(1, "1m"),
        &filters(1),
        bad,
        clock(),
        MemorySink::default(),
    );
    let Err(LiveError::Config { message }) = r else {
        panic!("accepted a bad config");
    };
    for key in [
        "inbound_capacity",
        "recorder_capacity",
        "kline_grace",
        "spin_polls",
    ] {
        assert!(message.contains(key), "{message}");
    }
}
