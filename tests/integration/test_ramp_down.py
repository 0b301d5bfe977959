"""The sign-off is spread over ``ramp_down_s``: agents leave at a steady rate after the
last stage (not all at once), and none of their last notifications is lost. The logins
are paced by the process's gate, and the rate they used is in the manifest."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.gevent

USERS = 12
STAGE_S = 6.0
RAMP_DOWN_S = 6.0

SCENARIO = f"""
name = "ramp-down"
ramp_down_s = {RAMP_DOWN_S}
[simulator]
answer_delay_ms = 20
seed = 3
[client]
notification_timeout_s = 3
[workload]
hold_s = {{ distribution = "uniform", min = 2, max = 4 }}
think_time_s = 0.5
[[stages]]
duration_s = {STAGE_S}
users = {USERS}
spawn_rate = {USERS}
"""


def test_agents_sign_off_gradually_over_the_ramp_down(tmp_path: Path) -> None:
    scenario = tmp_path / "ramp-down.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
         "--progress-every", "0"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"]["ramp_down_s"] == RAMP_DOWN_S
    # the logins went through the process's gate: the rate they used is recorded
    logins = manifest["generator"]["logins"]
    assert logins["logins"] == USERS and logins["asked_per_s"] == USERS
    assert 0 < logins["used_per_s"] <= USERS * 1.1, logins
    t0 = float(manifest["t0"])
    events = pq.read_table(out / "events").to_pylist()
    assert events and Counter(e["outcome"] for e in events) == {"ok": len(events)}
    steps = pq.read_table(out / "sessions").to_pylist()
    ends = sorted(r["ts"] - t0 for r in steps if r["operation"] == "EndContactCenterSession")
    assert len(ends) == USERS
    # nobody left before the last stage ended; they left over the ramp-down, not at once
    assert ends[0] >= STAGE_S - 0.5
    assert ends[-1] - ends[0] >= RAMP_DOWN_S / 2, ends
    assert ends[-1] <= STAGE_S + RAMP_DOWN_S + 3.0, ends
    # a stopped agent does not sit out its hold (2-4 s): it leaves within about a second
    # of its turn, so a sixth of them leave in each second of the ramp-down
    per_second = Counter(int(t - STAGE_S) for t in ends)
    assert max(per_second.values()) <= USERS // 2, per_second


SLOW_USERS = 30
SLOW_NOTIFY_MS = 2000
SLOW_SCENARIO = f"""
name = "ramp-down-slow"
ramp_down_s = {RAMP_DOWN_S}
[simulator]
answer_delay_ms = 20
latency_ms = {SLOW_NOTIFY_MS}
seed = 3
[client]
notification_timeout_s = 5
[workload]
hold_s = {{ distribution = "uniform", min = 30, max = 40 }}
think_time_s = 0.5
[[stages]]
duration_s = {STAGE_S}
users = {SLOW_USERS}
spawn_rate = {SLOW_USERS}
"""


def test_slow_sign_offs_still_leave_at_the_asked_rate(tmp_path: Path) -> None:
    """Every agent records when the stage ends (holds of 30-40 s), and its final
    StopCallRecording notification takes 2 s: each sign-off lasts over 2 s. They must
    still start at the asked 5 a second, one by one, none left over for the end:
    Locust's own ramp-down waited for each second's batch to finish before asking the
    next (about 5 every 2 s here) and stopped the 15 or so still in together when the
    ramp-down ended."""
    scenario = tmp_path / "ramp-down-slow.toml"
    scenario.write_text(SLOW_SCENARIO)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
         "--progress-every", "0"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    t0 = float(json.loads((out / "manifest.json").read_text())["t0"])
    events = pq.read_table(out / "events").to_pylist()
    assert Counter(e["outcome"] for e in events) == {"ok": len(events)}
    # every agent stopped its recording at its sign-off, each 2 s before it left
    stops = sorted(e["ts"] - t0 for e in events if e["operation"] == "StopCallRecording")
    assert len(stops) == SLOW_USERS and stops[0] >= STAGE_S - 0.5, stops
    steps = pq.read_table(out / "sessions").to_pylist()
    ends = sorted(r["ts"] - t0 for r in steps if r["operation"] == "EndContactCenterSession")
    assert len(ends) == SLOW_USERS
    rate = SLOW_USERS / RAMP_DOWN_S
    # the sign-offs started at the asked rate: 5 a second, never a batch of the rest
    per_second = Counter(int(t - STAGE_S) for t in stops)
    assert max(per_second.values()) <= rate + 2, per_second
    assert len([t for t in stops if t < stops[0] + 3.0]) >= 3 * rate - 3, stops
    assert stops[-1] <= STAGE_S + RAMP_DOWN_S + 0.5, stops
    # and the run ended once the last agent had left, not a stop timeout later
    assert ends[-1] <= STAGE_S + RAMP_DOWN_S + SLOW_NOTIFY_MS / 1000 + 3.0, ends


def test_a_distributed_sign_off_is_spread_and_the_run_ends_when_all_left(
    tmp_path: Path,
) -> None:
    """Two workers: each asks its own agents to leave at its share of the rate, and the
    master (whose own count is what it dispatched) ends the run once the workers'
    batches say nobody is left, not a stop timeout later."""
    scenario = tmp_path / "ramp-down-workers.toml"
    scenario.write_text(
        SLOW_SCENARIO.replace(
            'name = "ramp-down-slow"', 'name = "ramp-down-workers"\nwarmup_s = 0'
        ).replace("[simulator]", f"[simulator]\nagents = {SLOW_USERS * 2}")
    )
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
         "--workers", "2", "--progress-every", "0"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    t0 = float(manifest["t0"])
    events = pq.read_table(out / "events").to_pylist()
    assert Counter(e["outcome"] for e in events) == {"ok": len(events)}
    stops = sorted(e["ts"] - t0 for e in events if e["operation"] == "StopCallRecording")
    assert len(stops) == SLOW_USERS and stops[0] >= STAGE_S - 0.5, stops
    per_second = Counter(int(t - STAGE_S) for t in stops)
    assert max(per_second.values()) <= SLOW_USERS / RAMP_DOWN_S + 3, per_second
    assert stops[-1] <= STAGE_S + RAMP_DOWN_S + 0.5, stops
    # the master ended the run soon after the last agent left (its workers' batches
    # come every 2 s), far before the stop timeout (5 + 3 * 10 + 5 s) it may wait
    assert float(manifest["duration_s"]) <= STAGE_S + RAMP_DOWN_S + 20.0, manifest["duration_s"]
