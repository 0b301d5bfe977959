"""Two runs side by side: notification and response p50 / p99 per operation, and the
candidate's change against the baseline, as one DataFrame.

    python analysis/compare_runs.py results/<baseline> results/<candidate>

Percentiles come from each run's measured period (HDR totals, as the report's);
for a verdict with confidence intervals use ``gwsload compare``.
"""

from __future__ import annotations

import sys

import pandas as pd

from gwsload.analysis.load import load_run
from gwsload.analysis.metrics import compute_headline

COLUMNS = ["notify_ms_p50", "notify_ms_p99", "response_ms_p50", "response_ms_p99"]


def compare_runs(baseline_dir: str, candidate_dir: str) -> pd.DataFrame:
    baseline = compute_headline(load_run(baseline_dir))[COLUMNS]
    candidate = compute_headline(load_run(candidate_dir))[COLUMNS]
    table = pd.concat({"baseline": baseline, "candidate": candidate}, axis=1)
    change = (candidate / baseline - 1.0) * 100.0
    table = table.join(pd.concat({"change_percent": change}, axis=1))
    return table


if __name__ == "__main__":
    print(compare_runs(sys.argv[1], sys.argv[2]).to_string(float_format=lambda v: f"{v:.1f}"))
