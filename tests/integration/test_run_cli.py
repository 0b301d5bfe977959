"""``gwsload run`` as a user meets it: bad input, and Ctrl-C in the middle of a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from gwsload.contract.deadline import deadline_passed, hard_deadline_s
from gwsload.launcher.plan import stop_timeout_s
from gwsload.metrics.hlog import read_hlog
from gwsload.scenario import load_scenario
from tests.commands import run_gwsload

pytestmark = pytest.mark.gevent

LONG = """
name = "long"
description = "synthetic agents, long enough to be interrupted"
[workload]
hold_s = 0.05
think_time_s = 0.05
[[stages]]
duration_s = 300
users = 4
spawn_rate = 4
"""


_gwsload = partial(run_gwsload, timeout=60)


#: every bad input of ``gwsload run`` (and ``gwsload preflight``): one line on stderr
#: naming it, exit 2, nothing on stdout, nothing started. ``{tmp}`` is the test's
#: folder, holding ``agents.csv`` (10 good agents), ``binary.csv``, ``nul.csv`` and
#: ``afile`` (a plain file).
BAD_INPUT = [
    (["run", "no/such.toml"], "no/such.toml: no such scenario file"),
    (["run", "scenarios/smoke.toml", "--target", "http://127.0.0.1:9"], "needs --agents-file"),
    (["run", "scenarios/smoke.toml", "--target", "ftp://x"], "http:// or https:// URL"),
    (
        ["run", "scenarios/smoke.toml", "--target", "http://agent0001:PASSWORD@127.0.0.1:9",
         "--agents-file", "{tmp}/agents.csv"],
        "--target must be a URL without user:password@",
    ),
    (["run", "scenarios/smoke.toml", "--workers", "-1"], "--workers must be an int >= 0"),
    (["run", "scenarios/smoke.toml", "--run-time", "soon"], "--run-time must be a duration"),
    (["run", "scenarios/smoke.toml", "--agents-file", "no/agents.csv"], "no/agents.csv"),
    (["run", "scenarios/smoke.toml", "--agents-file", "{tmp}/binary.csv"], "not a text file"),
    (["run", "scenarios/smoke.toml", "--agents-file", "{tmp}/nul.csv"], "NUL bytes"),
    (
        ["run", "scenarios/smoke.toml", "--results", "/proc/gwsload-nowhere"],
        "/proc/gwsload-nowhere: --results must be a folder gwsload can create and write",
    ),
    (
        ["run", "scenarios/smoke.toml", "--out", "{tmp}/afile/run"],
        "--out must be a folder gwsload can create and write",
    ),
    (
        ["run", "scenarios/smoke.toml", "--users", "100000"],
        "the embedded simulator serves at most 89,999 agents, this run needs 100,000",
    ),
    (
        ["run", "scenarios/smoke.toml", "--target", "http://127.0.0.1:9", "--agents-file",
         "{tmp}/agents.csv", "--preflight-sample", "0"],
        "argument --preflight-sample: must be an int >= 1, got '0'",
    ),
    (["preflight", "scenarios/smoke.toml"], "the preflight needs a real target"),
    (["run", "scenarios/smoke.toml", "--repeat", "0"], "--repeat must be an int >= 1"),
    (["run", "scenarios/smoke.toml", "--label", "build"], "--label must be KEY=VALUE"),
    (["run", "scenarios/smoke.toml", "--label", "api_token=x"], "labels are stored in the run"),
    (
        ["preflight", "scenarios/smoke.toml", "--target", "https://u:p@gws:8443",
         "--agents-file", "{tmp}/agents.csv"],
        "--target must be a URL without user:password@",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    rows = [f"agent{i:04d},gwsload" for i in range(1, 11)]
    (tmp_path / "agents.csv").write_text("username,password\n" + "\n".join(rows) + "\n")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "nul.csv").write_bytes(b"username,password\nagent0001,\0gwsload\n")
    (tmp_path / "afile").write_text("not a folder")
    done = _gwsload(*(a.format(tmp=tmp_path) for a in args))
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert "PASSWORD" not in done.stderr and ":p@" not in done.stderr  # secrets never echoed


def test_ctrl_c_stops_cleanly_and_marks_the_run_interrupted(tmp_path: Path) -> None:
    scenario = tmp_path / "long.toml"
    scenario.write_text(LONG, encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--synthetic",
         "--out", str(out), "--progress-every", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        # two closed segments: the run has been going for two intervals (a progress
        # line is printed every second once the first interval is in)
        deadline = time.monotonic() + 30
        while len(list((out / "events").glob("*.parquet"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(list((out / "events").glob("*.parquet"))) >= 2, "no 2 segments within 30 s"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, output
    assert "stopping: agents finish their operation" in output
    assert "elapsed" in output  # progress lines were printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["exit_code"] == 130
    assert manifest["duration_s"] < 60
    rows = pq.read_table(out / "events").num_rows
    assert rows > 0
    # the final batch arrived: the hlog holds exactly as many responses as there are rows
    responses = sum(
        e.histogram.get_total_count() for e in read_hlog(out / "latency.hlog")
        if e.tag.startswith("response.")
    )  # fmt: skip
    assert responses == rows
    assert (out / "locust" / "report.html").is_file()


BREACH = """
name = "breach"
description = "synthetic agents against an SLO they cannot meet"
warmup_s = 0
[workload]
hold_s = 0.2
think_time_s = 0.2
[[stages]]
duration_s = 3
users = 2
spawn_rate = 2
[[slo]]
metric = "notify_ms"
stat = "p99"
max = 1
"""


def test_an_slo_breach_fails_the_run(tmp_path: Path) -> None:
    scenario = tmp_path / "breach.toml"
    scenario.write_text(BREACH, encoding="utf-8")
    out = tmp_path / "run"
    done = _gwsload("run", str(scenario), "--synthetic", "--out", str(out),
                    "--progress-every", "0", timeout=100)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "lost 0" in done.stdout  # nothing else failed: the SLO did
    assert "an SLO of the scenario does not hold" in done.stdout
    assert (out / "check.junit.xml").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["exit_code"] == 1


SIMULATED = """
name = "terminal"
description = "agents against the embedded simulator, long enough to be interrupted"
[simulator]
answer_delay_ms = 20
[client]
notification_timeout_s = 3
[workload]
hold_s = 0.1
think_time_s = 0.1
[[stages]]
duration_s = 300
users = 4
spawn_rate = 4
"""


def _start_in_terminal(
    tmp_path: Path, scenario_text: str = SIMULATED
) -> tuple[subprocess.Popen[str], Path]:
    """``gwsload run`` as a shell starts it: leader of its own process group, which a
    terminal's Ctrl-C signals as a whole."""
    scenario = tmp_path / "terminal.toml"
    scenario.write_text(scenario_text, encoding="utf-8")
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--out", str(out),
         "--progress-every", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 40
    while len(list((out / "events").glob("*.parquet"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(list((out / "events").glob("*.parquet"))) >= 2, "no 2 segments within 40 s"
    return proc, out


def test_a_terminal_ctrl_c_lets_the_agents_sign_off_before_the_simulator_stops(
    tmp_path: Path,
) -> None:
    proc, out = _start_in_terminal(tmp_path)
    try:
        os.killpg(proc.pid, signal.SIGINT)  # the whole foreground group, as a terminal does
        output, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, output
    outcomes = pq.read_table(out / "events", columns=["outcome"]).column("outcome").to_pylist()
    # the simulator outlived the agents' final operations: none became a transport error
    assert outcomes and "transport_error" not in outcomes, output
    assert set(outcomes) == {"ok"}, output


def test_a_second_ctrl_c_stops_everything_at_once(tmp_path: Path) -> None:
    # notifications take 1.5 s, so the agents are still signing off at the second Ctrl-C
    slow = SIMULATED.replace("answer_delay_ms = 20", "answer_delay_ms = 20\nlatency_ms = 1500")
    proc, _ = _start_in_terminal(tmp_path, slow)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert any("gwsload.simulator" in " ".join(c.cmdline()) for c in children)
    try:
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, output
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, [c.cmdline() for c in alive]


# the packaged entry point, whole, with the hard deadline of its process moved to two
# seconds after the test starts (armed after the harness arms the real one)
OVERRUNNING_LOCUSTFILE = """
from locust import events

from gwsload.harness.distributed import run_state
from gwsload.harness.locustfile import *  # noqa: F403


def _overrun(environment, **_):
    watchdog = run_state(environment).watchdog
    if watchdog is not None:
        watchdog.arm(2.0)


def _after_the_harness(environment, **_):
    environment.events.test_start.add_listener(_overrun)


events.init.add_listener(_after_the_harness)
"""

# gwsload run's launcher with that locustfile (the command line has no option for it)
LAUNCH_WITH_LOCUSTFILE = """
import sys
from pathlib import Path
from gwsload.launcher.orchestrate import RunOptions, execute
from gwsload.scenario import load_scenario
scenario, locustfile, out = sys.argv[1:4]
sys.exit(execute(RunOptions(
    scenario=load_scenario(scenario), scenario_file=scenario, target=None, agents=None,
    agents_file=None, verify_tls=True, origin=None, workers=0, out=Path(out),
    results=Path(out).parent, force=False, progress_every_s=0, synthetic=True,
    command_line=["run", scenario], locustfile=locustfile,
)))
"""


def test_a_run_past_its_deadline_says_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "long.toml").write_text(LONG)
    (tmp_path / "overrun.py").write_text(OVERRUNNING_LOCUSTFILE)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH_WITH_LOCUSTFILE, str(tmp_path / "long.toml"),
         str(tmp_path / "overrun.py"), str(out)],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    scenario = load_scenario(str(tmp_path / "long.toml"))
    stop_s = stop_timeout_s(scenario)
    expected = deadline_passed(
        hard_deadline_s(scenario.duration_s + scenario.effective_ramp_down_s, stop_s),
        stages_s=scenario.duration_s,
        ramp_down_s=scenario.effective_ramp_down_s,
        stop_timeout_s=stop_s,
    )
    assert expected.startswith("the run passed its deadline of ")
    assert expected.endswith("+ margin 90 s): Locust was stopped")
    lines = done.stdout.splitlines()
    assert expected in lines, done.stdout
    assert not [line for line in lines if "did not complete" in line], done.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["status"], manifest["exit_code"]) == ("failed", 1)
    assert manifest["end_reason"] == expected
    assert "hard deadline passed" in (out / "locust" / "locust.log").read_text()
