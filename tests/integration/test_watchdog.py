"""The watchdog of a Locust process: lifeline, hard deadline, master silence.

Each case runs a real child process (gevent-patched like a Locust process) with the
watchdog started, and checks that it ends by itself with the documented exit code and
a one-line reason on stderr.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from gwsload.contract.deadline import DEADLINE_MARGIN_S, hard_deadline_s
from gwsload.harness.watchdog import Watchdog
from gwsload.lifeline import EXIT_DEADLINE, EXIT_ORPHANED

pytestmark = pytest.mark.gevent

# a patched process whose event loop is stuck in a busy loop: the watchdog's thread
# must act anyway
CHILD = """
import sys, time
from gevent import monkey; monkey.patch_all()
from gwsload.harness.watchdog import Watchdog
from gwsload.lifeline import lifeline_fd
mode = sys.argv[1]
silent_since = time.time() - 60.0
watchdog = Watchdog(
    lifeline_fd=lifeline_fd(),
    master_heartbeat=(lambda: silent_since) if mode == "silent" else None,
)
if mode == "deadline":
    watchdog.arm(0.5)
watchdog.start()
print("ready", flush=True)
end = time.monotonic() + 20
while time.monotonic() < end:
    pass
sys.exit(0)
"""


def _child(mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode], text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr
    return proc


def _ended(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the watchdog did not stop its process")
    return proc.returncode, err


# the launcher's side, in a plain (unpatched) process as `gwsload run` is: start the
# child, check it lives while the line holds, cut the line, report the child's end
LAUNCHER = """
import os, subprocess, sys, time
from gwsload.lifeline import Lifeline
lifeline = Lifeline()
child = subprocess.Popen(
    [sys.executable, "-c", sys.argv[1], "lifeline"], env={**os.environ, **lifeline.env()},
    pass_fds=lifeline.pass_fds, stdout=subprocess.PIPE, text=True,
)
assert child.stdout.readline().strip() == "ready"
time.sleep(0.5)
alive = child.poll() is None
lifeline.close()
try:
    code = child.wait(timeout=10)
except subprocess.TimeoutExpired:
    child.kill()
    code = None
print(alive, code)
"""


def test_a_cut_lifeline_stops_the_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, CHILD], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.stdout.split() == ["True", str(EXIT_ORPHANED)], done.stdout + done.stderr
    assert "the launcher (gwsload run) is gone" in done.stderr


def test_the_hard_deadline_stops_a_process_whose_loop_is_stuck() -> None:
    code, err = _ended(_child("deadline"))
    assert code == EXIT_DEADLINE
    assert "hard deadline passed" in err


def test_a_silent_master_stops_its_worker() -> None:
    code, err = _ended(_child("silent"))
    assert code == EXIT_ORPHANED
    assert "no heartbeat from the master for 60 s" in err


def test_reasons_to_stop() -> None:
    heard = [100.0]
    watchdog = Watchdog(lifeline_fd=None, master_heartbeat=lambda: heard[0], master_silence_s=10)
    assert watchdog.reason_to_stop(now_mono=0.0, now_wall=109.0) is None
    found = watchdog.reason_to_stop(now_mono=0.0, now_wall=111.0)
    assert found is not None and found[0] == EXIT_ORPHANED
    watchdog.arm(5.0)
    now = time.monotonic()
    assert watchdog.reason_to_stop(now_mono=now, now_wall=100.0) is None
    found = watchdog.reason_to_stop(now_mono=now + 6.0, now_wall=100.0)
    assert found is not None and found[0] == EXIT_DEADLINE
    watchdog.disarm()
    assert watchdog.reason_to_stop(now_mono=now + 6.0, now_wall=100.0) is None


def test_the_deadline_is_the_stages_twice_the_stop_timeout_and_a_margin() -> None:
    assert hard_deadline_s(600.0, 45.0) == 600.0 + 2 * 45.0 + DEADLINE_MARGIN_S
