"""The simulator as a process: the CLI's bad-option exits, SimulatorProcess start/stop, SIGTERM."""

from __future__ import annotations

import base64
import csv
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from gwsload.contract.saturation import SIMULATOR_HEALTH_FIELDS
from gwsload.simulator.health import judge_health_log
from gwsload.simulator.process import SimulatorProcess, SimulatorStartError


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gwsload.simulator", *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--agents", "0"], "--agents"),
        (["--drop-share", "1.5"], "--drop-share"),
        (["--duplicate-share", "-0.1"], "--duplicate-share"),
        (["--http-error-share", "nan"], "--http-error-share"),
        (["--latency-model", "lognormal", "--latency-ms", "5"], "--latency-p99-ms"),
        (["--latency-model", "gauss"], "--latency-model"),
        (["--delay-share", "0.2"], "--delay-ms"),
        (["--stall-every-s", "1", "--stall-ms", "5000"], "--stall-ms"),
        (["--balancers", "2"], "unless --nodes >= 2"),
        (["--nodes", "2", "--balancers", "9"], "--balancers"),
        (["--port", "http"], "--port"),
        (["--require-origin", "example.com"], "--require-origin"),
        (["--agents-file", "/nonexistent/agents.csv"], "/nonexistent/agents.csv"),
        (["--truth-log", "/proc/no/such/dir/truth.csv"], "--truth-log"),
        (["--health-log", "/proc/no/such/dir/simulator.csv"], "--health-log"),
    ],
)
def test_bad_options_one_line_exit_2(args: list[str], needle: str) -> None:
    result = _run(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0] and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_agents_file_names_the_line(tmp_path: Path) -> None:
    agents = tmp_path / "agents.csv"
    agents.write_text("username,password,dn\nalice,secret,2001\nbob\n")
    result = _run("--agents-file", str(agents))
    assert result.returncode == 2
    assert "line 3" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_gwsload_simulate_bad_option_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gwsload", "simulate", "--stall-every-s", "-1"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "gwsload simulate: error: --stall-every-s must be a finite number >= 0, got -1.0"
    )


def _get(url: str, user: str, password: str) -> tuple[int, dict[str, object]]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_simulator_process_serves_and_stops_cleanly(tmp_path: Path) -> None:
    agents = tmp_path / "agents.csv"
    agents.write_text("username,password,dn\nalice,secret,2001\nbob,hunter2\n")
    truth = tmp_path / "truth.csv"
    sim = SimulatorProcess(["--agents-file", str(agents), "--truth-log", str(truth)])
    try:
        url = sim.start()
        assert url.startswith("http://127.0.0.1:") and url == sim.url
        status, body = _get(url + "/api/v2/me?subresources=devices", "alice", "secret")
        assert status == 200
        assert body["user"]["userName"] == "alice"  # type: ignore[index]
        assert body["user"]["devices"][0]["phoneNumber"] == "2001"  # type: ignore[index]
        status, body = _get(url + "/api/v2/me", "bob", "hunter2")
        assert status == 200
        status, body = _get(url + "/api/v2/me", "agent0001", "gwsload")
        assert (status, body["statusCode"]) == (401, 20)
    finally:
        code = sim.stop()
        sim.close()
    assert code == 0  # SIGTERM is a clean stop
    with truth.open(newline="") as handle:
        assert next(csv.reader(handle)) == [
            "ts", "seq", "agent", "call_id", "notification_type", "recording_state", "action",
            "delay_ms",
        ]  # fmt: skip


def test_simulator_process_context_manager_and_gwsload_defaults() -> None:
    with SimulatorProcess(["--agents", "3"]) as sim:
        status, body = _get(sim.url + "/api/v2/me", "agent0003", "gwsload")
        assert status == 200 and body["statusCode"] == 0
        pid = sim.pid
        assert pid is not None and sim.returncode is None
    assert sim.returncode == 0


def test_simulator_process_reports_a_failed_start() -> None:
    sim = SimulatorProcess(["--agents", "-5"])
    with pytest.raises(SimulatorStartError, match=r"(?s)exited with code 2.*--agents"):
        sim.start()
    sim.close()


def test_importing_the_package_and_process_module_stays_light() -> None:
    code = (
        "import sys, gwsload.simulator, gwsload.simulator.process;"
        "print(sorted(m for m in ('aiohttp', 'gevent', 'locust') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_simulator_does_not_outlive_its_parent() -> None:
    parent = (
        "import os; from gwsload.simulator.process import SimulatorProcess;"
        "sim = SimulatorProcess(['--agents', '2']); sim.start();"
        "print(sim.pid, flush=True); os._exit(0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", parent], capture_output=True, text=True, timeout=30, check=True
    )
    pid = int(result.stdout.strip())
    deadline = time.monotonic() + 20
    while _running(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError("the orphaned simulator kept running")
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_health_log_samples_the_simulator_process(tmp_path: Path) -> None:
    health = tmp_path / "simulator.csv"
    sim = SimulatorProcess(["--agents", "2", "--health-log", str(health)])
    try:
        url = sim.start()
        deadline = time.monotonic() + 6.0
        requests = 0
        # bounded: a few requests while at least two 2-s samples are taken
        while time.monotonic() < deadline and requests < 200:
            _get(url + "/api/v2/me", "agent0001", "gwsload")
            requests += 1
            time.sleep(0.02)
    finally:
        assert sim.stop() == 0
        sim.close()
    with health.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(SIMULATOR_HEALTH_FIELDS)
    assert len(rows) >= 2
    stamps = [float(r["ts"]) for r in rows]
    assert stamps == sorted(stamps) and stamps[-1] - stamps[0] >= 1.5
    for row in rows:
        assert 0.0 <= float(row["cpu_percent"]) < 400.0
        assert 0.0 <= float(row["loop_lag_ms"]) < 10_000.0
        assert int(row["rss_bytes"]) > 10_000_000
        assert int(row["open_fds"]) > 3 and int(row["tasks"]) >= 2
    if Path("/proc/self/schedstat").exists():
        assert all(float(r["cpu_wait_percent"]) >= 0.0 for r in rows)


def test_judge_health_log_applies_the_one_rule(tmp_path: Path) -> None:
    health = tmp_path / "simulator.csv"
    rows = [f"{100 + 2 * i}.0,20.0,25.0,1,1,1,{45.0 if i >= 5 else 1.0}" for i in range(10)]
    health.write_text(",".join(SIMULATOR_HEALTH_FIELDS) + "\n" + "\n".join(rows) + "\n")
    whole = judge_health_log(health, since_ts=0.0)
    assert whole is not None and whole.saturated and whole.lag_share == 0.5
    assert whole.reason.startswith("event-loop lag > 10 ms in 50 % of samples")
    calm = judge_health_log(health.with_name("none.csv"), since_ts=0.0)
    assert calm is None  # no simulator.csv: an external target
    late = judge_health_log(health, since_ts=109.0)  # the last five samples only
    assert late is not None and late.samples == 5 and late.lag_share == 1.0
