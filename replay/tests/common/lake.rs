//! Synthetic lakes for the replay tests and benches: deterministic bars and trades written
//! through the crate's own writers into the documented layout.
#![allow(dead_code)]

use bytes::Bytes;
use replay::{
    BarRecord, Layer, PartitionPath, Store, TradeRecord, write_bars_parquet, write_trades_parquet,
};

/// One minute in ns.
pub const MINUTE: i64 = 60_000_000_000;
/// One day in ns.
pub const DAY: i64 = 86_400_000_000_000;
/// 2024-01-01T00:00:00Z in ns.
pub const T0: i64 = 1_704_067_200_000_000_000;

/// The partition directory of a 1m kline series day `day` (0 = 2024-01-01).
pub fn bar_dir(symbol: &str, day: i64) -> String {
    dir(symbol, "klines", "1m", day)
}

/// The partition directory of a trades series day.
pub fn trade_dir(symbol: &str, day: i64) -> String {
    dir(symbol, "trades", "raw", day)
}

fn dir(symbol: &str, category: &str, interval: &str, day: i64) -> String {
    let date = chrono::DateTime::from_timestamp_nanos(T0 + day * DAY).date_naive();
    use chrono::Datelike;
    PartitionPath::new(
        Layer::Silver,
        "binance",
        "spot",
        category,
        symbol,
        interval,
        (date.year(), date.month(), date.day()),
    )
    .expect("valid partition")
    .relative_dir()
}

/// Deterministic 1m bars of `symbol_seed` for day `day` (0 = 2024-01-01), `n` of them from
/// midnight. Prices depend on the time and the seed only.
pub fn bars(symbol_seed: u64, day: i64, n: i64) -> Vec<BarRecord> {
    (0..n)
        .map(|i| {
            let t = T0 + day * DAY + i * MINUTE;
            bar_at(symbol_seed, t)
        })
        .collect()
}

/// The deterministic bar at `t`.
pub fn bar_at(seed: u64, t: i64) -> BarRecord {
    let k = (t / MINUTE) as u64 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let h = k.wrapping_mul(0xD134_2543_DE82_EF95) >> 40;
    let p = 100.0 + (seed as f64) * 10.0 + (h % 1000) as f64 / 100.0;
    BarRecord {
        symbol: 0,
        open_time_ns: t,
        close_time_ns: t + MINUTE - 1,
        open: p,
        high: p + 0.5,
        low: p - 0.5,
        close: p + 0.25,
        volume: 1.0 + (h % 17) as f64,
        quote_volume: p * (1.0 + (h % 17) as f64),
        trade_count: h % 100,
    }
}

/// Deterministic trades of a day: `n` trades, spread over the day.
pub fn trades(seed: u64, day: i64, n: i64) -> Vec<TradeRecord> {
    let step = DAY / n.max(1);
    (0..n)
        .map(|i| {
            let t = T0 + day * DAY + i * step + (seed as i64 % 7);
            TradeRecord {
                symbol: 0,
                ts_ns: t,
                price: 100.0 + seed as f64 + (i % 13) as f64 * 0.01,
                qty: 0.5 + (i % 5) as f64,
            }
        })
        .collect()
}

/// Writes `bars` as `{dir}/{name}`.
pub fn put_bars(store: &Store, dir: &str, name: &str, bars: &[BarRecord]) {
    store
        .put(
            &format!("{dir}/{name}"),
            write_bars_parquet(bars).expect("encode"),
        )
        .expect("put");
}

/// Writes `trades` as `{dir}/{name}`.
pub fn put_trades(store: &Store, dir: &str, name: &str, trades: &[TradeRecord]) {
    store
        .put(
            &format!("{dir}/{name}"),
            write_trades_parquet(trades).expect("encode"),
        )
        .expect("put");
}

/// Writes raw bytes as `{dir}/{name}`.
pub fn put_raw(store: &Store, dir: &str, name: &str, bytes: &'static [u8]) {
    store
        .put(&format!("{dir}/{name}"), Bytes::from_static(bytes))
        .expect("put");
}
