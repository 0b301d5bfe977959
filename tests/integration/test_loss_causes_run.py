"""A loss the test set-up caused is not blamed on the target: the embedded simulator is
frozen (SIGSTOP, as a machine that gives it no core) for 2.5 s mid-run, the operations
waiting then are lost, and the run's verdict says, next to the count, that they
waited while the embedded simulator stalled, with its event-loop lag."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.gevent

SCENARIO = """
name = "frozen-simulator"
warmup_s = 0
ramp_down_s = 2
min_active_share = 0.5
[simulator]
answer_delay_ms = 20
# each operation waits 400 ms for its notification after its response, so agents are
# waiting for one about half of the time: the freeze always catches some of them
latency_ms = 400
seed = 5
[client]
notification_timeout_s = 1
[workload]
hold_s = { distribution = "uniform", min = 0.2, max = 0.4 }
think_time_s = 0.2
[[stages]]
duration_s = 16
users = 10
spawn_rate = 10
"""


def _simulator_pid(run: subprocess.Popen[str]) -> int | None:
    for child in psutil.Process(run.pid).children(recursive=True):
        try:
            if "gwsload.simulator" in child.cmdline():
                return child.pid
        except psutil.Error:
            continue
    return None


def test_losses_while_the_embedded_simulator_stalled_are_named_as_such(tmp_path: Path) -> None:
    scenario = tmp_path / "frozen.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "run"
    run = subprocess.Popen(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
         "--progress-every", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (out / "manifest.json").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(7)
        pid = _simulator_pid(run)
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(2.5)
        finally:
            os.kill(pid, signal.SIGCONT)
        output, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 1, output
    lines = output.splitlines()
    lost_at = next(i for i, line in enumerate(lines) if re.fullmatch(r"failed: \d+ lost", line))
    lost = int(lines[lost_at].split()[1])
    cause = lines[lost_at + 1]
    found = re.match(r"(\d+) of the (\d+) lost waited while a measuring process stalled \(", cause)
    assert found is not None, output
    assert int(found.group(2)) == lost and 1 <= int(found.group(1)) <= lost
    assert "embedded simulator: " in cause and "event-loop lag up to" in cause, cause
    assert cause.endswith("not evidence against the target")
    # the report says the same, from the same rule over the folder
    subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "report", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert f"Lost notifications: {cause}." in json.dumps(summary), summary
    assert f"Lost notifications: {cause}." in (out / "report.html").read_text(encoding="utf-8")
