"""A compressed soak: the load generator's memory is flat once the ramp is over.

A few minutes of a closed load with fast turnover (short holds, CometD sessions
expired by the simulator every half second, refused operations that make agents
re-dial, lost and duplicate notifications) run every path of the harness many
times over. After the ramp and a settling period (greenlet stacks and allocator
caches reach their size as rare paths run) the generator's RSS must

- stay within +-2 MB of its level at the start of the judged period: the
  histograms of every 2-second interval, left to the cyclic garbage collector, made
  it swing by 3 to 4 MB either way here (and sit some 30 MB higher);
- show no trend that matters: no significant one (the report's own Mann-Kendall
  test over 10-second windows), or one too slow to leave the soak goal's band
  (+-5 MB from minute 2 to the end of 30 minutes, bench/bench_soak.py). RSS hardly
  ever goes down, so a creep of a few hundred kB is already "significant".
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
#: the soak goal: +-5 MB from minute 2 to the end of 30 minutes
BAND_MB, BAND_MINUTES = 5.0, 28.0
#: how far a window may stray from the first judged one in this short run
SWING_MB = 2.0

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
    rss_mb = gen.assign(window=window).groupby("window")["rss_bytes"].mean() / 1e6
    rss_mb = rss_mb.iloc[:-1]  # the last window may be partial
    assert len(rss_mb) >= 8, f"only {len(rss_mb)} windows"
    t_s = rss_mb.index.to_numpy(np.float64) * WINDOW_S
    _, p = mann_kendall(rss_mb.to_numpy())
    slope_mb_per_min = theil_sen_slope(t_s, rss_mb.to_numpy()) * 60.0
    figures = (
        f"RSS per {WINDOW_S:g} s window (MB): {np.round(rss_mb.to_numpy(), 1).tolist()}; "
        f"slope {slope_mb_per_min:+.2f} MB/min, Mann-Kendall p = {p:.3g}"
    )
    swing = rss_mb.to_numpy() - rss_mb.iloc[0]
    assert swing.min() >= -SWING_MB and swing.max() <= SWING_MB, "RSS swings: " + figures
    assert p >= ALPHA or slope_mb_per_min <= BAND_MB / BAND_MINUTES, (
        "generator memory grows: " + figures
    )
