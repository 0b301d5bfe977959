"""A compressed soak: the load generator's memory is flat once the ramp is over.

A few minutes of a closed load with fast turnover (short holds, CometD sessions
expired by the simulator every half second, refused operations that make agents
re-dial, lost and duplicate notifications) run every path of the harness many
times over. After the ramp and a settling period (greenlet stacks and allocator
caches reach their size as rare paths run) the generator

- keeps its RSS within +-4 MB of its level at the start of the judged period: the
  allocator takes and returns memory in steps (a 2.4 MB step in one 10-second window
  with Python's blocks up 3,700 has been seen, and a 3 MB drop when an arena is
  freed), so this only catches a gross leak; the histograms of every 2-second
  interval, left to the cyclic garbage collector, once made it swing by 3 to 4 MB
  either way and sit some 30 MB higher;
- keeps no Python objects per operation: the memory blocks Python's allocator holds
  (``generator.csv`` ``py_blocks``) show no significant trend (the report's own
  Mann-Kendall test over 10-second windows), or one of less than a block per 20
  operations. RSS is not judged for a trend here: minutes after a ramp it still
  creeps by 0.1-0.25 MB/min while the blocks are flat (the allocator's pages, which
  level off: bench/bench_soak.py judges RSS trends only in runs of 10 minutes or
  more), so over 100 seconds a trend in RSS says nothing about a leak.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gwsload.analysis.drift import ALPHA, mann_kendall, theil_sen_slope
from gwsload.analysis.load import load_run

pytestmark = pytest.mark.gevent

RUN_S = 240
SETTLED_FROM_S = 120.0
WINDOW_S = 10.0
#: how far a window may stray from the first judged one in this short run
SWING_MB = 4.0
#: a trend in Python's blocks this slow is no per-operation leak (Locust's own chart
#: history grows by some 200-400 blocks a minute, about 0.01 per operation here)
BLOCKS_PER_OPERATION = 1 / 20

SCENARIO = f"""
name = "compressed-soak"
description = "fast turnover for a few minutes: generator memory must stay flat"
warmup_s = 20

[simulator]
answer_delay_ms = 20
expire_sessions_every_s = 0.5
http_error_share = 0.01
async_error_share = 0.005
drop_share = 0.002
duplicate_share = 0.002
seed = 5

[client]
notification_timeout_s = 2

[workload]
hold_s = {{ distribution = "uniform", min = 0.1, max = 0.3 }}
think_time_s = 0.05
pause_share = 0.3

[[stages]]
duration_s = {RUN_S}
users = 100
spawn_rate = 50
"""


@pytest.mark.timeout(RUN_S + 240)
def test_generator_rss_stays_flat_after_the_ramp(tmp_path: Path) -> None:
    scenario = tmp_path / "soak.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
         "--progress-every", "0", "--no-check"],
        capture_output=True, text=True, timeout=RUN_S + 200, check=False,
    )  # fmt: skip
    assert (out / "manifest.json").exists(), done.stdout + done.stderr
    run = load_run(out, keep_events=True)
    assert len(run.events) > 5_000, "too little turnover to test anything"
    gen = run.generator
    gen = gen[(gen["t_s"] >= SETTLED_FROM_S) & (gen["t_s"] < run.measure_end_s)]
    window = np.floor((gen["t_s"].to_numpy() - SETTLED_FROM_S) / WINDOW_S)
    windows = gen.assign(window=window).groupby("window")
    rss_mb = (windows["rss_bytes"].mean() / 1e6).iloc[:-1]  # the last may be partial
    blocks = windows["py_blocks"].mean().iloc[:-1]
    assert len(rss_mb) >= 8, f"only {len(rss_mb)} windows"
    assert blocks.notna().all(), "generator.csv has no py_blocks"
    t_s = blocks.index.to_numpy(np.float64) * WINDOW_S
    _, p = mann_kendall(blocks.to_numpy())
    blocks_per_min = theil_sen_slope(t_s, blocks.to_numpy()) * 60.0
    judged_s = t_s[-1] + WINDOW_S  # the windows' span, from SETTLED_FROM_S
    op_s = run.events["t_s"]
    judged = run.events[(op_s >= SETTLED_FROM_S) & (op_s < SETTLED_FROM_S + judged_s)]
    ops_per_min = len(judged) / (judged_s / 60.0)
    assert ops_per_min > 1_000, "too little turnover in the judged period: " + str(ops_per_min)
    figures = (
        f"RSS per {WINDOW_S:g} s window (MB): {np.round(rss_mb.to_numpy(), 1).tolist()}; "
        f"Python blocks: {np.round(blocks.to_numpy()).astype(int).tolist()}, "
        f"{blocks_per_min:+.0f} a minute at {ops_per_min:.0f} operations a minute, "
        f"Mann-Kendall p = {p:.3g}"
    )
    swing = rss_mb.to_numpy() - rss_mb.iloc[0]
    assert swing.min() >= -SWING_MB and swing.max() <= SWING_MB, "RSS swings: " + figures
    assert p >= ALPHA or blocks_per_min <= BLOCKS_PER_OPERATION * ops_per_min, (
        "Python objects accumulate: " + figures
    )
