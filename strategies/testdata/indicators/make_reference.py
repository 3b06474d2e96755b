#!/usr/bin/env python3
"""Regenerates btcusdt_1h_2021_01_reference.csv: TA-Lib / pandas-ta reference values for the
Rust indicators (strategies/src/indicators). Not run by the tests; the CSV is committed.

    python3 -m venv /tmp/ta && /tmp/ta/bin/pip install TA-Lib numpy pandas ft-pandas-ta
    /tmp/ta/bin/python make_reference.py [path/to/BTCUSDT-1h-2021-01.csv]

Tools used for the committed file: TA-Lib (python wrapper 0.8.2, bundled C library 0.8.1),
ft-pandas-ta 0.3.16 (freqtrade's maintained pandas-ta 0.3.14b line; upstream pandas-ta 0.4.x
needs Python >= 3.12). pandas-ta's supertrend takes its ATR from TA-Lib when TA-Lib is importable
(its default), so SUPERT here is hl2 +- 3 * TA_ATR(10) with pandas-ta's ratchet loop.
Input: shared/data/alphakit/spot/BTCUSDT-1h-2021-01.csv (headerless Binance spot kline CSV).
Warm-up rows are empty fields. Floats are written with repr() (shortest round-trip, full precision).
"""
import csv
import os
import sys

import numpy as np
import pandas as pd
import talib
import pandas_ta

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_INPUT = os.path.join(HERE, "../../../../shared/data/alphakit/spot/BTCUSDT-1h-2021-01.csv")


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_INPUT
    raw = np.loadtxt(path, delimiter=",", usecols=(0, 2, 3, 4), dtype=np.float64)
    open_time = raw[:, 0].astype(np.int64)
    high, low, close = raw[:, 1].copy(), raw[:, 2].copy(), raw[:, 3].copy()

    ema12 = talib.EMA(close, 12)
    ema26 = talib.EMA(close, 26)
    rsi14 = talib.RSI(close, 14)
    macd, macd_signal, macd_hist = talib.MACD(close, 12, 26, 9)
    bb_upper, bb_middle, bb_lower = talib.BBANDS(close, 20, 2.0, 2.0, 0)
    atr10 = talib.ATR(high, low, close, 10)
    st = pandas_ta.supertrend(pd.Series(high), pd.Series(low), pd.Series(close), length=10, multiplier=3.0)
    supertrend = st["SUPERT_10_3.0"].to_numpy(dtype=np.float64).copy()
    supertrend_dir = st["SUPERTd_10_3.0"].to_numpy(dtype=np.float64).copy()
    # pandas-ta 0.3.x writes 0.0 as the first row's trend (its loop starts at row 1; 0.4.x writes
    # NaN) and leaves the direction at its +1 start value during the ATR warm-up (0.4.x writes NaN
    # there); the Rust code treats warm-up as missing, so blank both.
    supertrend[0] = np.nan
    # pandas-ta 0.3.x leaves the direction at its +1 start value during the ATR warm-up (0.4.x
    # writes NaN there); the Rust code treats warm-up as missing, so blank it where SUPERT is NaN.
    supertrend_dir[np.isnan(supertrend)] = np.nan

    cols = {
        "open_time": open_time, "high": high, "low": low, "close": close,
        "ema_12": ema12, "ema_26": ema26, "rsi_14": rsi14,
        "macd": macd, "macd_signal": macd_signal, "macd_hist": macd_hist,
        "bb_upper": bb_upper, "bb_middle": bb_middle, "bb_lower": bb_lower,
        "atr_10": atr10, "supertrend": supertrend, "supertrend_dir": supertrend_dir,
    }
    out = os.path.join(HERE, "btcusdt_1h_2021_01_reference.csv")
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols.keys())
        for i in range(len(close)):
            row = []
            for name, v in cols.items():
                x = v[i]
                if name == "open_time":
                    row.append(str(int(x)))
                elif np.isnan(x):
                    row.append("")
                else:
                    row.append(repr(float(x)))
            w.writerow(row)
    print(f"wrote {out}: {len(close)} rows")


if __name__ == "__main__":
    main()
