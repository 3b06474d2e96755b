//! Replay → BarBuilder: one day of trades (1M prints of one symbol) decoded from Parquet by the
//! lake's decoder and built into 1-minute bars by the BarBuilder actor, as the replay host does
//! when it replays the trades category. Throughput in trades per second.
#![allow(missing_docs)]

use std::hint::black_box;

use actors::bar_builder::{BarBuilder, BarBuilderConfig};
use actors::{Bar, Trade};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use replay::{TradeRecord, decode_trades, write_trades_parquet};

const N: usize = 1_000_000;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200_000_000_000;

fn trades() -> Vec<TradeRecord> {
    let mut price = 42_000.0_f64;
    (0..N)
        .map(|i| {
            // A deterministic wiggle; 86.4 ms apart, so one day.
            price += ((i * 7919 % 13) as f64 - 6.0) * 0.01;
            TradeRecord {
                symbol: 0,
                ts_ns: T0 + i as i64 * 86_400_000,
                price,
                qty: 0.001 * (1 + i % 7) as f64,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let bytes = write_trades_parquet(&trades()).expect("write");
    let mut g = c.benchmark_group("replay_to_bar_builder");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    let mut decoded: Vec<TradeRecord> = Vec::with_capacity(N);
    decode_trades("bench.parquet", bytes.clone(), 0, &mut decoded).expect("decode");
    let mut bars: Vec<Bar> = Vec::with_capacity(2048);
    g.bench_function("decode_and_build_1m_bars", |b| {
        b.iter(|| {
            decoded.clear();
            decode_trades("bench.parquet", bytes.clone(), 0, &mut decoded).expect("decode");
            let mut builder = BarBuilder::new(&BarBuilderConfig::default(), 1).expect("builder");
            bars.clear();
            for t in &decoded {
                let trade = Trade {
                    symbol: t.symbol,
                    ts_exchange: t.ts_ns,
                    ts_received: t.ts_ns,
                    price: t.price,
                    qty: t.qty,
                    buyer_is_maker: false,
                };
                builder.on_trade(&trade, &mut bars).expect("trade");
            }
            builder.flush(&mut bars);
            black_box(bars.len())
        });
    });
    g.bench_function("build_only", |b| {
        b.iter(|| {
            let mut builder = BarBuilder::new(&BarBuilderConfig::default(), 1).expect("builder");
            bars.clear();
            for t in &decoded {
                let trade = Trade {
                    symbol: 0,
                    ts_exchange: t.ts_ns,
                    ts_received: t.ts_ns,
                    price: t.price,
                    qty: t.qty,
                    buyer_is_maker: false,
                };
                builder.on_trade(&trade, &mut bars).expect("trade");
            }
            black_box(bars.len())
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
