"""The preflight against the real simulator: every way a target can be unfit for a run
is one line naming the problem within seconds, before any load (exit 2 from ``gwsload
run``; a table and exit 1 from ``gwsload preflight``); a fit target passes and the
preflight's agent signs off clean."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from gwsload.launcher.processes import free_port
from gwsload.simulator.process import SimulatorProcess
from tests.commands import run_gwsload

pytestmark = pytest.mark.gevent

SCENARIO = """
name = "fit"
[client]
notification_timeout_s = 3
[workload]
hold_s = 0.2
think_time_s = 0.2
[[stages]]
duration_s = 60
users = 2
spawn_rate = 2
"""


_gwsload = partial(run_gwsload, timeout=90)


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    process = SimulatorProcess(["--agents", "3", "--answer-delay-ms", "20"])
    url = process.start()
    yield url
    process.stop()


@pytest.fixture(scope="module")
def no_recording() -> Iterator[str]:
    process = SimulatorProcess(["--agents", "3", "--no-recording-feature"])
    url = process.start()
    yield url
    process.stop()


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "fit.toml"
    path.write_text(SCENARIO)
    return path


def _agents(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "agents.csv"
    path.write_text("username,password\n" + "\n".join(rows) + "\n")
    return path


GOOD = ("agent0001,gwsload", "agent0002,gwsload", "agent0003,gwsload")


def _calls_of(url: str, user: str) -> list[object]:
    token = base64.b64encode(f"{user}:gwsload".encode()).decode()
    request = urllib.request.Request(
        f"{url}/api/v2/me/calls?fields=*", headers={"Authorization": f"Basic {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        calls = json.loads(response.read())["calls"]
    assert isinstance(calls, list)
    return calls


def test_a_fit_target_passes_every_check_and_the_agent_signs_off(
    simulator: str, scenario: Path, tmp_path: Path
) -> None:
    done = _gwsload(
        "preflight", str(scenario), "--target", simulator, "--agents-file",
        str(_agents(tmp_path, *GOOD)),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[2:]}
    for check in ("dns", "tcp", "tls", "http", "gws", "cometd", "session", "dial"):
        assert " ok" in rows[check], done.stdout
    assert rows["credentials"].split()[1:4] == ["3", "3", "ok"]
    assert rows["recording"].split()[1:4] == ["1", "1", "ok"]
    assert rows["cycle"].split()[1:4] == ["1", "1", "ok"]
    assert rows["sign-off"].split()[1:4] == ["1", "1", "ok"]
    assert "GWS 8.5" in rows["gws"] and "not used (http://)" in rows["tls"]
    assert done.stdout.strip().endswith("PASS: the target can carry the run")
    # the preflight's agent hung up its call: nothing is left for the run's agents
    assert _calls_of(simulator, "agent0001") == []


def test_a_sample_of_the_agents_is_stated(simulator: str, scenario: Path, tmp_path: Path) -> None:
    done = _gwsload(
        "preflight", str(scenario), "--target", simulator, "--agents-file",
        str(_agents(tmp_path, *GOOD)), "--preflight-sample", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    row = next(x for x in done.stdout.splitlines() if x.startswith("credentials"))
    assert row.split()[1:3] == ["2", "2"]
    assert "(credentials of a sample of 2 of the 3 agents)" in done.stdout


def test_one_wrong_password_is_named_in_the_table(
    simulator: str, scenario: Path, tmp_path: Path
) -> None:
    agents = _agents(tmp_path, "agent0001,gwsload", "agent0002,wrong", "agent0003,gwsload")
    done = _gwsload("preflight", str(scenario), "--target", simulator, "--agents-file", str(agents))
    assert done.returncode == 1, done.stdout + done.stderr
    row = next(x for x in done.stdout.splitlines() if x.startswith("credentials"))
    assert row.split()[1:4] == ["3", "2", "FAIL:"]
    assert "agent0002: HTTP 401 statusCode 20 (user not authenticated)" in row
    assert "wrong" not in done.stdout  # the password itself never shows


@pytest.mark.parametrize(
    "case",
    [
        ("http://127.0.0.1:9", GOOD, "preflight: tcp: 127.0.0.1:9 refused the connection"),
        (
            "http://gws.example.invalid:8080",
            GOOD,
            "preflight: dns: cannot resolve the host name 'gws.example.invalid'",
        ),
        ("https://{sim}", GOOD, "does not speak TLS"),
        (
            "{url}",
            ("agent0001,wrong", "agent0002,gwsload"),
            "preflight: credentials: agent0001: HTTP 401 statusCode 20 (user not authenticated)",
        ),
    ],
    ids=["dead-port", "unknown-host", "https-to-plain-http", "wrong-password"],
)
def test_run_stops_before_any_load_with_one_line_per_problem(
    simulator: str, scenario: Path, tmp_path: Path, case: tuple[str, tuple[str, ...], str]
) -> None:
    target, agents, problem = case
    url = target.format(url=simulator, sim=simulator.split("://", 1)[1])
    out = tmp_path / "run"
    done = _gwsload(
        "run", str(scenario), "--target", url, "--agents-file", str(_agents(tmp_path, *agents)),
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and problem in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()  # nothing started: no run folder, no load


def test_a_contact_center_without_recording_is_named(
    no_recording: str, scenario: Path, tmp_path: Path
) -> None:
    agents = str(_agents(tmp_path, *GOOD))
    done = _gwsload("run", str(scenario), "--target", no_recording, "--agents-file", agents)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(
        "gwsload run: preflight: recording: the contact center lacks the required feature "
        "api-voice-recording"
    )
    table = _gwsload("preflight", str(scenario), "--target", no_recording, "--agents-file", agents)
    assert table.returncode == 1
    rows = {line.split()[0]: line for line in table.stdout.splitlines()[2:] if line.strip()}
    assert "not run" in rows["cycle"] and rows["sign-off"].split()[1:4] == ["1", "1", "ok"]
    assert _calls_of(no_recording, "agent0001") == []


def test_no_preflight_runs_anyway_and_the_end_says_why_nothing_was_done(
    scenario: Path, tmp_path: Path
) -> None:
    out = tmp_path / "dead"
    done = _gwsload(
        "run", str(scenario), "--target", "http://127.0.0.1:9", "--agents-file",
        str(_agents(tmp_path, *GOOD)), "--no-preflight", "--run-time", "4s", "--out", str(out),
        "--progress-every", "0",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "failed: no operation was made in the measured period" in done.stdout
    assert "Connection refused" in done.stdout  # the agents' most frequent failure
    # the folder of a run that did nothing is still read by check and report
    check = _gwsload("check", str(out), "--junit", str(tmp_path / "check.xml"))
    assert check.returncode == 1, check.stdout + check.stderr
    assert "FAIL: the run did not test: no operation was made" in check.stdout
    report = _gwsload("report", str(out))
    assert report.returncode == 0, report.stdout + report.stderr
    assert report.stdout.startswith("FAIL: the run did not test")


@pytest.fixture(scope="module")
def tls_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    process = SimulatorProcess(["--agents", "3", "--tls", "--tls-dir", str(folder)])
    url = process.start()
    yield url, folder / "ca.pem"
    process.stop()


def test_tls_mistakes_are_named_and_a_trusted_ca_passes(
    tls_simulator: tuple[str, Path], scenario: Path, tmp_path: Path
) -> None:
    url, ca = tls_simulator
    agents = str(_agents(tmp_path, *GOOD))
    untrusted = _gwsload("run", str(scenario), "--target", url, "--agents-file", agents)
    assert untrusted.returncode == 2
    assert "preflight: tls: the certificate of" in untrusted.stderr
    assert "is not trusted" in untrusted.stderr
    plain = "http://" + url.split("://", 1)[1]
    wrong = _gwsload("run", str(scenario), "--target", plain, "--agents-file", agents)
    assert wrong.returncode == 2
    assert "preflight: http: no HTTP answer" in wrong.stderr
    assert "(a TLS server? use an https:// URL)" in wrong.stderr
    trusted = _gwsload(
        "preflight", str(scenario), "--target", url, "--agents-file", agents, "--ca-file", str(ca)
    )
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert "TLSv1" in next(x for x in trusted.stdout.splitlines() if x.startswith("tls"))


def test_a_server_that_is_not_gws_is_named(scenario: Path, tmp_path: Path) -> None:
    # a real HTTP server that is not GWS: Python's own file server
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        done = _gwsload(
            "run", str(scenario), "--target", f"http://127.0.0.1:{port}", "--agents-file",
            str(_agents(tmp_path, *GOOD)),
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "preflight: gws: GET /api/v2/diagnostics/version answered HTTP 404" in done.stderr
    assert "not a GWS server, or not its base URL" in done.stderr


def test_one_agent_of_two_never_operating_fails_the_run(
    simulator: str, scenario: Path, tmp_path: Path
) -> None:
    out = tmp_path / "half"
    agents = _agents(tmp_path, "agent0001,gwsload", "agent0002,wrong")
    done = _gwsload(
        "run", str(scenario), "--target", simulator, "--agents-file", str(agents),
        "--no-preflight", "--run-time", "6s", "--out", str(out), "--progress-every", "0",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "failed: only 1 of 2 agents made an operation in the measured period "
        "(min_active_share 1 needs 2)" in done.stdout
    ), done.stdout
    assert "statusCode 20" in done.stdout  # the agents' most frequent failure
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"]["preflight"] == "skipped (--no-preflight)"
    check = _gwsload("check", str(out))
    assert check.returncode == 1
    assert "FAIL: the run did not test: only 1 of 2 agents" in check.stdout


def test_a_run_after_a_passed_preflight_keeps_its_verdict_in_the_manifest(
    simulator: str, scenario: Path, tmp_path: Path
) -> None:
    out = tmp_path / "fit"
    done = _gwsload(
        "run", str(scenario), "--target", simulator, "--agents-file",
        str(_agents(tmp_path, *GOOD)), "--run-time", "8s", "--out", str(out),
        "--progress-every", "0",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"preflight passed: 12 checks against {simulator}")
    preflight = json.loads((out / "manifest.json").read_text())["target"]["preflight"]
    assert preflight["passed"] is True and preflight["gws_version"] == "8.5.200.50"
    assert set(preflight["checks"].values()) == {"ok"} and len(preflight["checks"]) == 12
