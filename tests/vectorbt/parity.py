#!/usr/bin/env python3
"""Parity check: Hermes's executor + portfolio against vectorbt's `Portfolio.from_signals`.

Usage:
    parity.py --bars FILE --signals FILE --out DIR --fill close|next-open --fees F --cash C
              [--sl 0.02 --tp 0.06] [--step S] [--slippage X] [--tol 1e-6]

Inputs:
  --bars     CSV with open_time,open,high,low,close (one row per bar, in time order);
  --signals  CSV with open_time,action (action = enter_long | exit), the bars that signalled;
  DIR/trades.csv  written by Hermes: entry_time,entry_price,exit_time,exit_price,size,
                  entry_fees,exit_fees,pnl,exit_reason;
  DIR/equity.csv  written by Hermes: time,equity,cash,position (one row per bar).
Times are integer epochs (unit detected from the magnitude: s, ms, µs or ns) or ISO-8601; bars
are identified by their open time.

How Hermes's conventions are expressed in vectorbt (checked against vectorbt 1.2.0's
`simulate_from_signals_nb` / `simulate_from_signal_func_nb` source):
  * long-only, all-in: direction="longonly", size=np.inf, size_type="amount",
    accumulate=False (an entry while long and an exit while flat are ignored, as Hermes's
    pipeline only sends an entry when flat and an exit when long);
    vectorbt buys max_acq_size = (cash / (1 + fees)) / price, floored to size_granularity;
  * fees: one `fees` fraction for both sides (Hermes's maker_fee = taker_fee = F);
  * --step S: size_granularity=S. Use a power of two (e.g. 2**-8 = 0.00390625) so that
    vectorbt's float floor `size // S * S` is exact; with a decimal step such as 1e-5 it
    floors a held 99.90009 to 99.90008 on the exit and leaves dust. Without --step vectorbt
    does not floor (Hermes floors to 1e-8; the difference is < 1e-8 in size);
  * close:     signals on their own bar, price = close (vectorbt's default);
  * next-open: signals shifted one bar later, price = open; a signal on the last bar has no
    next bar and never fills (Hermes reports it as never filled);
  * stops: sl_stop/tp_stop as fractions, stop_entry_price="fillprice" (levels from the entry
    fill, not vectorbt's default "close"), stop_exit_price="stopmarket", upon_stop_exit="close".
    vectorbt checks stops from the bar after the entry, the stop-loss before the take-profit
    (stop-loss wins when both are touched), fills at the open when the bar opens beyond the level,
    and allows one order per bar (a stop exit discards that bar's signal: no re-entry) — the
    same rules as Hermes;
  * next-open + stops: vectorbt evaluates stops BEFORE the bar's (shifted) signal, whereas in
    Hermes the pending exit fills at the open, before the rest of the bar can touch a stop. We
    express Hermes's order with vectorbt's own adjust_sl_func_nb / adjust_tp_func_nb hooks: on a
    bar where a shifted exit signal meets an open long position, the stops are cleared for that
    bar, so the exit fills at the open. The summary counts the bars where this changed vectorbt's
    outcome ("stops_preempted_by_open_exit").

Exit reasons are not recorded by vectorbt; they are inferred: an open position is `end`; a
closed one whose exit bar carries an (effective) exit signal and whose exit price is that bar's
signal price (close, or open under next-open) is `signal`; otherwise it is a stop, `stop_loss`
when the exit price is below the entry price, else `take_profit`.

Tolerances (relative, --tol, default 1e-6): prices, sizes and fees against the larger magnitude;
PnL against the trade's entry notional (a PnL near zero has no meaningful relative error);
equity and cash against the equity; the position against the larger magnitude. Times and counts
must match exactly.

Prints a JSON summary and exits 1 on any mismatch (naming the first differing trade or bar),
2 on bad input.
"""

import argparse
import json
import math
import sys

import numpy as np
import pandas as pd
import vectorbt as vbt
from numba import njit


def fail_input(msg):
    print(json.dumps({"ok": False, "error": msg}))
    sys.exit(2)


def to_ns(series, what):
    """Epoch integers (unit by magnitude, per value) or ISO strings to int64 ns."""
    s = series
    if pd.api.types.is_integer_dtype(s):
        v = s.astype("int64").to_numpy()
        a = np.abs(v)
        mult = np.where(
            a >= 10**17, 1, np.where(a >= 10**14, 10**3, np.where(a >= 10**11, 10**6, 10**9))
        )
        return v * mult
    try:
        return pd.to_datetime(s, utc=True).astype("int64").to_numpy()
    except (ValueError, TypeError) as e:
        fail_input(f"{what}: cannot parse times: {e}")


def read_csv(path, cols, what):
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as e:
        fail_input(f"{what} {path}: {e}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        fail_input(f"{what} {path}: missing column(s) {missing}")
    return df


@njit
def clear_sl_on_open_exit_nb(c, exits, low, preempted):
    if exits[c.i] and c.position_now > 0 and not np.isnan(c.curr_stop):
        if low[c.i] <= c.curr_price * (1 - c.curr_stop):
            preempted[0] += 1
        return np.nan, False
    return c.curr_stop, c.curr_trail


@njit
def clear_tp_on_open_exit_nb(c, exits, high, preempted):
    if exits[c.i] and c.position_now > 0 and not np.isnan(c.curr_stop):
        if high[c.i] >= c.init_price * (1 + c.curr_stop):
            preempted[1] += 1
        return np.nan
    return c.curr_stop


def rel(a, b, scale=None):
    d = abs(a - b)
    m = max(abs(a), abs(b)) if scale is None else abs(scale)
    if d == 0:
        return 0.0
    return d / m if m > 0 else math.inf


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bars", required=True)
    ap.add_argument("--signals", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fill", required=True, choices=["close", "next-open"])
    ap.add_argument("--fees", type=float, required=True)
    ap.add_argument("--cash", type=float, required=True)
    ap.add_argument("--sl", type=float, default=None)
    ap.add_argument("--tp", type=float, default=None)
    ap.add_argument("--step", type=float, default=None)
    ap.add_argument("--slippage", type=float, default=0.0)
    ap.add_argument("--tol", type=float, default=1e-6)
    a = ap.parse_args()

    bars = read_csv(a.bars, ["open_time", "open", "high", "low", "close"], "bars")
    times = to_ns(bars["open_time"], "bars.open_time")
    if len(times) < 2 or np.any(np.diff(times) <= 0):
        fail_input(f"bars {a.bars}: open_time must be strictly increasing, at least 2 rows")
    n = len(times)
    o, h, l, c = (bars[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close"))
    index_of = {t: i for i, t in enumerate(times)}

    sig = read_csv(a.signals, ["open_time", "action"], "signals")
    raw_entries = np.zeros(n, dtype=bool)
    raw_exits = np.zeros(n, dtype=bool)
    for t, act in zip(to_ns(sig["open_time"], "signals.open_time"), sig["action"]):
        i = index_of.get(int(t))
        if i is None:
            fail_input(f"signals {a.signals}: open_time {t} is not a bar")
        if act == "enter_long":
            raw_entries[i] = True
        elif act == "exit":
            raw_exits[i] = True
        else:
            fail_input(f"signals {a.signals}: unknown action {act!r}")

    if a.fill == "next-open":
        entries = np.zeros(n, dtype=bool)
        exits = np.zeros(n, dtype=bool)
        entries[1:] = raw_entries[:-1]
        exits[1:] = raw_exits[:-1]
        price = o
        signal_price = o
    else:
        entries, exits, price, signal_price = raw_entries, raw_exits, c, c

    kw = dict(
        open=o,
        high=h,
        low=l,
        price=price,
        fees=a.fees,
        slippage=a.slippage,
        init_cash=a.cash,
        size=np.inf,
        size_type="amount",
        size_granularity=np.nan if a.step is None else a.step,
        direction="longonly",
        accumulate=False,
        upon_long_conflict="ignore",
        stop_entry_price="fillprice",
        stop_exit_price="stopmarket",
        upon_stop_exit="close",
        upon_stop_update="override",
        engine="numba",
    )
    if a.sl is not None:
        kw["sl_stop"] = a.sl
    if a.tp is not None:
        kw["tp_stop"] = a.tp
    preempted = np.zeros(2, dtype=np.int64)
    hooked = a.fill == "next-open" and (a.sl is not None or a.tp is not None)
    if hooked:
        kw["adjust_sl_func_nb"] = clear_sl_on_open_exit_nb
        kw["adjust_sl_args"] = (exits, l, preempted)
        kw["adjust_tp_func_nb"] = clear_tp_on_open_exit_nb
        kw["adjust_tp_args"] = (exits, h, preempted)
    pf = vbt.Portfolio.from_signals(pd.Series(c), pd.Series(entries), pd.Series(exits), **kw)

    pos = pf.positions.values
    vb = []
    for r in pos:
        ei, xi = int(r["entry_idx"]), int(r["exit_idx"])
        if r["status"] == 0:
            reason = "end"
        elif exits[xi] and r["exit_price"] == signal_price[xi] * (1 - a.slippage):
            reason = "signal"
        elif r["exit_price"] < r["entry_price"]:
            reason = "stop_loss"
        else:
            reason = "take_profit"
        vb.append(
            dict(
                entry_time=int(times[ei]),
                entry_price=float(r["entry_price"]),
                exit_time=int(times[xi]),
                exit_price=float(r["exit_price"]),
                size=float(r["size"]),
                entry_fees=float(r["entry_fees"]),
                exit_fees=float(r["exit_fees"]),
                pnl=float(r["pnl"]),
                exit_reason=reason,
            )
        )

    ours = read_csv(
        f"{a.out}/trades.csv",
        ["entry_time", "entry_price", "exit_time", "exit_price", "size", "entry_fees",
         "exit_fees", "pnl", "exit_reason"],
        "trades",
    )
    ours_entry = to_ns(ours["entry_time"], "trades.entry_time") if len(ours) else []
    ours_exit = to_ns(ours["exit_time"], "trades.exit_time") if len(ours) else []
    eq = read_csv(f"{a.out}/equity.csv", ["time", "equity", "cash", "position"], "equity")

    summary = {
        "vectorbt": vbt.__version__,
        "fill": a.fill,
        "fees": a.fees,
        "sl": a.sl,
        "tp": a.tp,
        "step": a.step,
        "slippage": a.slippage,
        "bars": n,
        "trades": {"hermes": int(len(ours)), "vectorbt": len(vb)},
        "exit_reasons": {},
        "max_rel_dev": {},
        "stops_preempted_by_open_exit": {"sl": int(preempted[0]), "tp": int(preempted[1])}
        if hooked
        else None,
        "ok": True,
        "first_mismatch": None,
    }
    mismatches = []

    def mismatch(msg):
        if not mismatches:
            summary["first_mismatch"] = msg
        mismatches.append(msg)

    for r in vb:
        summary["exit_reasons"][r["exit_reason"]] = summary["exit_reasons"].get(r["exit_reason"], 0) + 1
    if len(ours) != len(vb):
        mismatch(f"trade count: hermes {len(ours)}, vectorbt {len(vb)}")
    devs = {k: 0.0 for k in ("entry_price", "exit_price", "size", "entry_fees", "exit_fees", "pnl")}
    for k, v in enumerate(vb[: len(ours)]):
        row = ours.iloc[k]
        if int(ours_entry[k]) != v["entry_time"] or int(ours_exit[k]) != v["exit_time"]:
            mismatch(
                f"trade {k}: hermes {int(ours_entry[k])}→{int(ours_exit[k])}, "
                f"vectorbt {v['entry_time']}→{v['exit_time']}"
            )
        if row["exit_reason"] != v["exit_reason"]:
            mismatch(f"trade {k}: exit_reason hermes {row['exit_reason']}, vectorbt {v['exit_reason']}")
        notional = v["size"] * v["entry_price"]
        for f in devs:
            d = rel(float(row[f]), v[f], notional if f == "pnl" else None)
            devs[f] = max(devs[f], d)
            if d > a.tol:
                mismatch(f"trade {k}: {f} hermes {float(row[f])!r}, vectorbt {v[f]!r} (rel {d:.3g})")

    value = pf.value().to_numpy()
    cash = pf.cash().to_numpy()
    assets = pf.assets().to_numpy()
    if len(eq) != n:
        mismatch(f"equity rows: hermes {len(eq)}, bars {n}")
    eq_t = to_ns(eq["time"], "equity.time")
    edev = {"equity": 0.0, "cash": 0.0, "position": 0.0}
    for i in range(min(n, len(eq))):
        if int(eq_t[i]) != int(times[i]):
            mismatch(f"bar {i}: equity time hermes {int(eq_t[i])}, bar {int(times[i])}")
            break
        for f, theirs, scale in (
            ("equity", value[i], value[i]),
            ("cash", cash[i], value[i]),
            ("position", assets[i], None),
        ):
            d = rel(float(eq[f].iloc[i]), float(theirs), scale)
            edev[f] = max(edev[f], d)
            if d > a.tol:
                mismatch(
                    f"bar {i} (open_time {int(times[i])}): {f} hermes {float(eq[f].iloc[i])!r}, "
                    f"vectorbt {float(theirs)!r} (rel {d:.3g})"
                )
    summary["max_rel_dev"] = {**devs, **{f"bar_{k}": v for k, v in edev.items()}}
    summary["final_equity"] = {"hermes": float(eq["equity"].iloc[-1]), "vectorbt": float(value[-1])}
    summary["mismatches"] = len(mismatches)
    summary["ok"] = not mismatches
    print(json.dumps(summary, indent=1))
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
