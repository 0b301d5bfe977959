"""Workers on other hosts, started by hand as docs/running.md ("Distributed runs") says.

The master runs ``locustfiles/recording.py`` from the checkout, configured by
environment variables; each worker runs the packaged locustfile found through
``python -c``, from a working directory of its own with no ``GWSLOAD_*`` variable,
as on a host that has only gwsload installed. Everything comes from the master:
the scenario, the agents, the target. The master alone writes the run folder.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gwsload.launcher.processes import free_port
from gwsload.metrics.hlog import read_hlog
from gwsload.simulator.process import SimulatorProcess

pytestmark = pytest.mark.gevent

CHECKOUT = Path(__file__).resolve().parents[2]
AGENTS = 40
USERS = 8

SCENARIO = f"""
name = "remote-workers"
description = "two workers started by hand, against the simulator"
warmup_s = 2
[client]
transport = "long-polling"
notification_timeout_s = 5
[workload]
model = "closed"
hold_s = {{ distribution = "uniform", min = 0.1, max = 0.4 }}
think_time_s = 0.2
pause_share = 0.2
[[stages]]
duration_s = 20
users = {USERS}
spawn_rate = {USERS}
"""

# The documented commands, with this test's values in place of the examples.
MASTER_COMMAND = (
    "locust -f locustfiles/recording.py --master --headless --expect-workers 2"
    " --host {host} --csv {out}/locust/locust --stop-timeout 45"
    " --master-bind-host 127.0.0.1 --master-bind-port {port}"
)
WORKER_COMMAND = (
    "locust -f \"$(python -c 'import gwsload.harness.locustfile as m; print(m.__file__)')\""
    " --worker --master-host 127.0.0.1 --master-port {port}"
)
MASTER_TIMEOUT_S = 80.0


def _documented_block() -> str:
    text = (CHECKOUT / "docs" / "running.md").read_text(encoding="utf-8")
    section = text.split("## Distributed runs", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "docs/running.md: no command block under 'Distributed runs'"
    return str(blocks[0])


def _flags(command: str) -> set[str]:
    return set(re.findall(r"(?<!\S)--[a-z-]+", command))


def test_the_commands_here_are_the_documented_ones() -> None:
    block = _documented_block()
    master, worker = block.split("# each worker host", 1)
    # every flag the docs give is used here; the extra ones here only bind to loopback
    assert _flags(master) <= _flags(MASTER_COMMAND)
    assert _flags(MASTER_COMMAND) - _flags(master) <= {"--master-bind-host", "--master-bind-port"}
    assert _flags(worker) <= _flags(WORKER_COMMAND)
    assert _flags(WORKER_COMMAND) - _flags(worker) == {"--master-port"}
    for variable in ("GWSLOAD_SCENARIO=", "GWSLOAD_AGENTS_FILE=", "GWSLOAD_OUT="):
        assert variable in master
    assert "locust -f locustfiles/recording.py" in master
    assert "import gwsload.harness.locustfile as m; print(m.__file__)" in worker


def _host_env(**extra: str) -> dict[str, str]:
    """A clean environment: this interpreter's ``python`` and ``locust`` first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GWSLOAD_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@contextmanager
def _shell(
    command: str, *, cwd: Path, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run one shell command in its own session; its whole process group is ended on exit."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            yield proc
        finally:
            _end_group(proc)


def _end_group(proc: subprocess.Popen[bytes]) -> None:
    # SIGKILL follows even when the shell is gone: a child it left in the group ends too
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)  # the group this test started (start_new_session)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            continue


def _tail(log: Path, lines: int = 25) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return f"\n--- {log} ---\n" + "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The run folder the master wrote, and the logs of the three Locust processes."""
    base = tmp_path_factory.mktemp("remote")
    scenario = base / "remote.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    agents = base / "agents.csv"
    with open(agents, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["username", "password"])
        writer.writerows([f"agent{i:04d}", "gwsload"] for i in range(1, AGENTS + 1))
    out = base / "results" / "remote1"
    port = free_port()
    hosts = [base / "host-a", base / "host-b"]
    for host in hosts:
        host.mkdir()
    logs = [base / "master.log", *(host / "worker.log" for host in hosts)]
    sim_args = ["--agents", str(AGENTS), "--latency-ms", "2", "--answer-delay-ms", "20"]
    with SimulatorProcess(sim_args) as sim:
        master_env = _host_env(
            GWSLOAD_SCENARIO=str(scenario), GWSLOAD_AGENTS_FILE=str(agents), GWSLOAD_OUT=str(out)
        )
        master_command = MASTER_COMMAND.format(host=shlex.quote(sim.url), out=out, port=port)
        with _shell(master_command, cwd=CHECKOUT, env=master_env, log=logs[0]) as master:
            worker_command = WORKER_COMMAND.format(port=port)
            with (
                _shell(worker_command, cwd=hosts[0], env=_host_env(), log=logs[1]) as worker_a,
                _shell(worker_command, cwd=hosts[1], env=_host_env(), log=logs[2]) as worker_b,
            ):
                try:
                    code = master.wait(timeout=MASTER_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    code = None
                # the master's quit message ends the workers
                worker_codes: list[int | None] = []
                for worker in (worker_a, worker_b):
                    try:
                        worker_codes.append(worker.wait(timeout=15.0))
                    except subprocess.TimeoutExpired:
                        worker_codes.append(None)
    text = "".join(_tail(log) for log in logs)
    assert code == 0, f"master exit code {code}" + text
    assert worker_codes == [0, 0], f"worker exit codes {worker_codes}" + text
    return out, text


def test_the_master_completes_the_run_folder(run: tuple[Path, str]) -> None:
    out, logs = run
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "completed", logs
    assert manifest["exit_code"] == 0, logs
    assert manifest["workers"] == 2
    assert (out / "locust" / "locust_stats.csv").is_file()
    tags = {entry.tag.split(".")[0] for entry in read_hlog(out / "latency.hlog")}
    assert {"response", "notify"} <= tags


def test_both_workers_operate_distinct_agents_and_every_operation_is_ok(
    run: tuple[Path, str],
) -> None:
    out, logs = run
    events = pq.read_table(out / "events").to_pydict()
    workers = set(events["worker"])
    assert len(workers) == 2, logs
    assert set(events["outcome"]) == {"ok"}, logs
    operations = set(events["operation"])
    assert {"StartCallRecording", "StopCallRecording"} <= operations
    workers_of_agent: dict[object, set[object]] = {}
    for agent, worker in zip(events["agent"], events["worker"], strict=True):
        workers_of_agent.setdefault(agent, set()).add(worker)
    assert all(len(owners) == 1 for owners in workers_of_agent.values()), workers_of_agent
    assert len(workers_of_agent) == USERS
    assert all(str(agent).startswith("agent") for agent in workers_of_agent)
    # each worker ran users: the agents split between them
    per_worker = {w: {a for a, ws in workers_of_agent.items() if w in ws} for w in workers}
    assert all(per_worker.values())
