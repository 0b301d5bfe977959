"""Notification latency over time: p50 / p99 / max per window, one row per window.

    python analysis/latency_over_time.py results/<run-id> [--window-s 10] [--png out.png]

Built on the installed package's loader (``gwsload.analysis.load.load_run``): the
events as a DataFrame, ``t_s`` seconds since the run's start. Adapt freely: another
metric (``response_ms``), one operation, another window.
"""

from __future__ import annotations

import argparse

import pandas as pd

from gwsload.analysis.load import load_run


def latency_over_time(run_dir: str, window_s: float = 10.0) -> pd.DataFrame:
    run = load_run(run_dir, keep_events=True)
    ok = run.events[run.events["outcome"] == "ok"]
    window = (ok["t_s"] // window_s * window_s).rename("window_s")
    table = ok.groupby(window)["notify_ms"].describe(percentiles=[0.5, 0.99])
    table = table[["count", "50%", "99%", "max"]].rename(columns={"50%": "p50", "99%": "p99"})
    table["warmup"] = table.index < run.warmup_s
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--png", help="also draw the p50 and p99 lines into this file")
    args = parser.parse_args()
    table = latency_over_time(args.run_dir, args.window_s)
    print(table.to_string(float_format=lambda v: f"{v:.1f}"))
    if args.png:
        axes = table[["p50", "p99"]].plot(ylabel="notification latency (ms)")
        axes.figure.savefig(args.png)


if __name__ == "__main__":
    main()
