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
