"""``gwsload simulate --tls``: the agent flow over HTTPS with the CA file the simulator
wrote, refused without it (certificate not trusted), accepted with verification off."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gwsload.gws.agent import Agent, AgentConfig
from gwsload.gws.errors import GwsTransportError
from gwsload.gws.outcomes import Outcome
from gwsload.simulator.process import SimulatorProcess

pytestmark = pytest.mark.gevent


@pytest.fixture(scope="module")
def tls_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("sim-tls")
    args = ["--tls", "--websocket", "--tls-dir", str(folder), "--agents", "4", "--latency-ms", "1",
            "--answer-delay-ms", "20"]  # fmt: skip
    with SimulatorProcess(args) as sim:
        yield sim.url, folder / "ca.pem"


def _cycle(url: str, user: str, transport: str = "long-polling", **tls: object) -> list[Outcome]:
    outcomes: list[Outcome] = []
    config = AgentConfig(base_url=url, user=user, password="gwsload", transport=transport,
                         **tls)  # type: ignore[arg-type]  # fmt: skip
    agent = Agent(config, on_outcome=outcomes.append)
    try:
        agent.login()
        agent.establish_call()
        agent.record("StartCallRecording")
        agent.record("StopCallRecording")
        agent.hangup()
    finally:
        agent.logout()
    return outcomes


def test_the_simulator_serves_https(tls_sim: tuple[str, Path]) -> None:
    url, ca_file = tls_sim
    assert url.startswith("https://127.0.0.1:")
    assert ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize("transport", ["long-polling", "websocket"])
def test_agent_flow_over_tls_with_the_ca_file(tls_sim: tuple[str, Path], transport: str) -> None:
    url, ca_file = tls_sim
    user = "agent0001" if transport == "long-polling" else "agent0004"
    outcomes = _cycle(url, user, transport, ca_file=str(ca_file))
    assert Counter(o.kind for o in outcomes) == Counter(ok=2)


def test_agent_flow_over_tls_refused_without_the_ca_file(tls_sim: tuple[str, Path]) -> None:
    url, _ = tls_sim
    with pytest.raises(GwsTransportError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        _cycle(url, "agent0002")


def test_agent_flow_over_tls_accepted_with_verification_off(tls_sim: tuple[str, Path]) -> None:
    url, _ = tls_sim
    outcomes = _cycle(url, "agent0003", verify_tls=False)
    assert Counter(o.kind for o in outcomes) == Counter(ok=2)


_SCENARIO = """
name = "tls"
warmup_s = 0
[client]
notification_timeout_s = 2
dial_destination = "5000"
[workload]
hold_s = 0.1
think_time_s = 0.05
[[stages]]
duration_s = 5
users = 2
spawn_rate = 2
"""


def _run(tmp: Path, url: str, name: str, *tls: str) -> tuple[int, str, Path]:
    scenario = tmp / "tls.toml"
    scenario.write_text(_SCENARIO)
    agents = tmp / "agents.csv"
    agents.write_text("username,password\nagent0002,gwsload\nagent0003,gwsload\n")
    out = tmp / name
    done = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--target", url,
         "--agents-file", str(agents), "--out", str(out), "--progress-every", "0",
         "--no-check", *tls],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr, out


def test_gwsload_run_over_tls_trusts_ca_file_refuses_without_accepts_insecure(
    tls_sim: tuple[str, Path], tmp_path: Path
) -> None:
    url, ca_file = tls_sim
    code, output, out = _run(tmp_path, url, "with-ca", "--ca-file", str(ca_file))
    assert code == 0, output
    outcomes = Counter(e["outcome"] for e in pq.read_table(out / "events").to_pylist())
    assert outcomes["ok"] > 0 and set(outcomes) == {"ok"}, outcomes
    code, output, out = _run(tmp_path, url, "insecure", "--insecure")
    assert code == 0, output
    code, output, _ = _run(tmp_path, url, "untrusted")
    # refused before any load: the preflight names the certificate and both ways out
    assert code != 0, output
    assert "certificate" in output and "is not trusted" in output and "--ca-file" in output


def test_gwsload_run_ca_file_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    code, output, _ = _run(tmp_path, "https://127.0.0.1:1", "x", "--ca-file", "/nonexistent.pem")
    assert code == 2
    assert (
        output.strip()
        .splitlines()[-1]
        .endswith("--ca-file /nonexistent.pem: no such file (expected a PEM CA bundle)")
    )
