"""Re-logins after a target restart are paced like the first logins: the agents log in
again through their process's login gate, at the stage's ``spawn_rate``, not all at
once when the target answers again (thousands of agents would be a login stampede).

An external simulator is killed with SIGKILL mid-run and started again on the same
port; the new process knows none of the sessions, so every agent logs in again in
full. The re-logins' CometD handshakes must come at most at the spawn rate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import pytest

from gwsload.contract.operations import COMETD_HANDSHAKE
from gwsload.simulator.process import SimulatorProcess

pytestmark = pytest.mark.gevent

AGENTS = 12
SPAWN_RATE = 1.0  # logins per second: the ramp takes 12 s, the re-logins as long
RUN_S = 44
KILL_AT_S = 16
OUTAGE_S = 3
SIMULATOR = ["--agents", str(AGENTS), "--answer-delay-ms", "20"]
SCENARIO = f"""
name = "relogin-pacing"
warmup_s = 0
ramp_down_s = 2
[client]
notification_timeout_s = 2
[workload]
hold_s = {{ distribution = "uniform", min = 0.5, max = 1 }}
think_time_s = 0.5
[[stages]]
duration_s = {RUN_S}
users = {AGENTS}
spawn_rate = {SPAWN_RATE}
"""


def test_relogins_after_a_target_restart_go_through_the_login_gate(tmp_path: Path) -> None:
    scenario = tmp_path / "relogin.toml"
    scenario.write_text(SCENARIO)
    agents = tmp_path / "agents.csv"
    agents.write_text(
        "username,password\n" + "".join(f"agent{i:04d},gwsload\n" for i in range(1, AGENTS + 1))
    )
    out = tmp_path / "run"
    first = SimulatorProcess(SIMULATOR)
    url = first.start()
    second = SimulatorProcess([*SIMULATOR, "--port", str(urlsplit(url).port)])
    try:
        run = subprocess.Popen(
            [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--target", url,
             "--agents-file", str(agents), "--out", str(out), "--progress-every", "0",
             "--no-preflight"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            while not (out / "manifest.json").exists() and run.poll() is None:
                time.sleep(0.2)
            time.sleep(KILL_AT_S)
            assert first.pid is not None
            os.kill(first.pid, signal.SIGKILL)  # no goodbye: every session is gone
            time.sleep(OUTAGE_S)
            second.start()
            t_back = time.time()
            output, _ = run.communicate(timeout=RUN_S + 90)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    finally:
        second.close()
        first.close()
    assert run.returncode in (0, 1), output
    steps = pq.read_table(out / "sessions").to_pylist()
    handshakes = sorted(
        r["ts"] for r in steps
        if r["operation"] == COMETD_HANDSHAKE and r["ts"] > t_back and not r["error"]
    )  # fmt: skip
    # every agent logged in again (the new simulator knows none of them)
    assert len(handshakes) >= AGENTS - 1, output
    # at the spawn rate: 12 re-logins take 11 s or more, never more than 3 in 2 s
    # (without the gate they came as the agents' back-offs ended: most in 1-4 s)
    assert handshakes[-1] - handshakes[0] >= (len(handshakes) - 1) / SPAWN_RATE - 1.0, handshakes
    for i, ts in enumerate(handshakes):
        in_window = [t for t in handshakes[i:] if t < ts + 2.0]
        assert len(in_window) <= 3, [round(t - t_back, 2) for t in handshakes]
