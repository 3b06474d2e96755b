//! Trades in the lake: [`TradeRecord`], the Parquet decoder ([`decode_trades`]) and the
//! canonical writer ([`write_trades_parquet`]).
//!
//! Owns the trade file format only; ordering and partitions belong to [`crate::source`].
//!
//! Accepted columns (names case-insensitive, first alias present wins):
//!
//! | field | names | types |
//! |---|---|---|
//! | time | `time`, `ts`, `timestamp`, `ts_event`, `transact_time`, `trade_time` | Int64 epoch (unit detected per value by magnitude) or Timestamp of any unit |
//! | price | `price`, `px` | Float64/32, Int64/32, UInt64/32, Decimal128 |
//! | quantity | `qty`, `quantity`, `size`, `amount` | as price |
//!
//! NautilusTrader's Binance trades sample (`timestamp` Timestamp(ms, UTC), `price`,
//! `quantity` Float64, plus `trade_id` and `buyer_maker`, which are not read) decodes as is.
//! Nulls and times that overflow nanoseconds are errors naming file, column and row.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use serde::Serialize;

use crate::bars::{DecodeStats, FileCompression, encode};
use crate::columns::{self, Ctx, Wanted};
use crate::error::{ReplayError, Result};

/// One trade of one symbol. Time is UTC nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TradeRecord {
    /// Index of the symbol in the replay's symbol list (0 when decoded outside a replay).
    pub symbol: u16,
    /// Exchange time of the trade.
    pub ts_ns: i64,
    /// Price in the quote asset.
    pub price: f64,
    /// Quantity in the base asset.
    pub qty: f64,
}

impl TradeRecord {
    /// All zeros: a placeholder before the decoder fills a row.
    pub const EMPTY: TradeRecord = TradeRecord {
        symbol: 0,
        ts_ns: 0,
        price: 0.0,
        qty: 0.0,
    };
}

const WANTED: [Wanted; 3] = [
    Wanted {
        name: "time",
        aliases: &[
            "time",
            "ts",
            "timestamp",
            "ts_event",
            "transact_time",
            "trade_time",
        ],
        required: true,
    },
    Wanted {
        name: "price",
        aliases: &["price", "px"],
        required: true,
    },
    Wanted {
        name: "qty",
        aliases: &["qty", "quantity", "size", "amount"],
        required: true,
    },
];

/// Decodes one Parquet file of trades, appending to `out` with `symbol` set on every record,
/// in file order.
///
/// # Errors
/// [`ReplayError::Parquet`], [`ReplayError::MissingColumn`], [`ReplayError::BadColumnType`]
/// and [`ReplayError::BadValue`], each naming the file. On error `out` is left as it was.
pub fn decode_trades(
    file: &str,
    bytes: Bytes,
    symbol: u16,
    out: &mut Vec<TradeRecord>,
) -> Result<DecodeStats> {
    let base = out.len();
    let r = decode_into(file, bytes, symbol, out);
    if r.is_err() {
        out.truncate(base);
    }
    r
}

fn decode_into(
    file: &str,
    bytes: Bytes,
    symbol: u16,
    out: &mut Vec<TradeRecord>,
) -> Result<DecodeStats> {
    let mut opened = columns::open(file, bytes, &WANTED)?;
    let names: Vec<String> = opened.names.iter().flatten().cloned().collect();
    let [t_name, p_name, q_name] = names.as_slice() else {
        return Err(ReplayError::MissingColumn {
            file: file.to_string(),
            column: "\"time\", \"price\", \"qty\"".into(),
            present: names.join(", "),
        });
    };
    out.reserve(usize::try_from(opened.rows).unwrap_or(0));
    let mut row0 = 0u64;
    while let Some(batch) = columns::next_batch(file, &mut opened)? {
        let ctx = Ctx { file, row0 };
        let ts = columns::times(ctx, t_name, columns::column(ctx, &batch, t_name)?)?;
        let price = columns::num(ctx, p_name, columns::column(ctx, &batch, p_name)?)?;
        let qty = columns::num(ctx, q_name, columns::column(ctx, &batch, q_name)?)?;
        let base = out.len();
        out.resize(base + batch.num_rows(), TradeRecord::EMPTY);
        let dst = &mut out[base..];
        ts.fill(dst, |r, v| r.ts_ns = v).map_err(|i| {
            let raw = ts.raw(i);
            ctx.bad_value(t_name, i, format!("time {raw} overflows nanoseconds"))
        })?;
        price.fill(dst, |r, v| r.price = v);
        qty.fill(dst, |r, v| r.qty = v);
        for r in dst.iter_mut() {
            r.symbol = symbol;
        }
        row0 += batch.num_rows() as u64;
    }
    Ok(DecodeStats {
        rows: row0,
        defaulted: Vec::new(),
    })
}

/// Encodes trades as the lake's canonical trade file ([`FileCompression::default`]): `ts`
/// (Int64 UTC ns), `price`, `qty` (Float64). `symbol` is not stored: the partition path
/// names the symbol.
///
/// # Errors
/// [`ReplayError::Encode`] when the encoder fails.
pub fn write_trades_parquet(trades: &[TradeRecord]) -> Result<Bytes> {
    write_trades_parquet_with(trades, FileCompression::default())
}

/// [`write_trades_parquet`] with a chosen compression.
///
/// # Errors
/// As [`write_trades_parquet`], plus a zstd level outside 1–22.
pub fn write_trades_parquet_with(
    trades: &[TradeRecord],
    compression: FileCompression,
) -> Result<Bytes> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(trades.iter().map(|t| t.ts_ns))),
        Arc::new(Float64Array::from_iter_values(
            trades.iter().map(|t| t.price),
        )),
        Arc::new(Float64Array::from_iter_values(trades.iter().map(|t| t.qty))),
    ];
    let schema = Schema::new(vec![
        Field::new("ts", DataType::Int64, false),
        Field::new("price", DataType::Float64, false),
        Field::new("qty", DataType::Float64, false),
    ]);
    let batch =
        RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| ReplayError::Encode {
            what: "trades",
            reason: e.to_string(),
        })?;
    encode("trades", &batch, compression)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_canonical_format() {
        let trades: Vec<TradeRecord> = (0..500)
            .map(|i| TradeRecord {
                symbol: 0,
                ts_ns: 1_700_000_000_000_000_000 + i * 1_000_003,
                price: 100.0 + (i % 7) as f64 * 0.01,
                qty: 0.001 * (i + 1) as f64,
            })
            .collect();
        let bytes = write_trades_parquet(&trades).unwrap();
        let mut out = Vec::new();
        let stats = decode_trades("t.parquet", bytes, 0, &mut out).unwrap();
        assert_eq!((out.as_slice(), stats.rows), (trades.as_slice(), 500));
    }

    #[test]
    fn missing_quantity_names_file_and_aliases() {
        let batch = RecordBatch::try_from_iter(vec![
            ("ts", Arc::new(Int64Array::from(vec![1i64])) as ArrayRef),
            ("price", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef),
        ])
        .unwrap();
        let bytes = encode("test", &batch, FileCompression::Zstd(3)).unwrap();
        let err = decode_trades("q.parquet", bytes, 0, &mut Vec::new()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("q.parquet") && msg.contains("quantity"),
            "{msg}"
        );
    }
}
