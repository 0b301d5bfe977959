"""Throughput per operation over the measured period, with the outcome counts.

    python analysis/throughput_per_operation.py results/<run-id>

The measured period is the report's (after the warm-up, until the last stage ends).
"""

from __future__ import annotations

import sys

import pandas as pd

from gwsload.analysis.load import load_run


def throughput_per_operation(run_dir: str) -> pd.DataFrame:
    run = load_run(run_dir, keep_events=True)
    events = run.events
    measured = events[(events["t_s"] >= run.warmup_s) & (events["t_s"] < run.measure_end_s)]
    table = pd.crosstab(measured["operation"], measured["outcome"])
    table["operations"] = table.sum(axis=1)
    table["ops_per_s"] = table["operations"] / (run.measure_end_s - run.warmup_s)
    return table


if __name__ == "__main__":
    print(throughput_per_operation(sys.argv[1]).to_string(float_format=lambda v: f"{v:.2f}"))
