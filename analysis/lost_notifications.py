"""Every operation whose notification never came: when, which agent, call and operation.

    python analysis/lost_notifications.py results/<run-id> [> lost.csv]

Reads only the lost rows of the events segments (pyarrow filter), with the run's
incidents next to them: a reconnect just before a loss is often its cause.
"""

from __future__ import annotations

import sys

import pandas as pd

from gwsload.analysis.load import load_run
from gwsload.contract.segments import segment_paths

COLUMNS = ["ts", "worker", "agent", "call_id", "operation", "expected_state"]


def lost_notifications(run_dir: str) -> pd.DataFrame:
    run = load_run(run_dir)
    frames = [
        pd.read_parquet(path, columns=COLUMNS, filters=[("outcome", "==", "lost")])
        for path in segment_paths(run_dir, "events")
    ]
    lost = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    lost.insert(0, "t_s", lost.pop("ts") - run.t0)
    return lost.sort_values("t_s", ignore_index=True)


if __name__ == "__main__":
    lost_notifications(sys.argv[1]).to_csv(sys.stdout, index=False, float_format="%.3f")
