"""``gwsload simulate --nodes 3`` behind HAProxy: affinity by cookie, and a run that
survives a node killed and restarted mid-run (its agents log in again elsewhere)."""

from __future__ import annotations

import base64
import contextlib
import csv
import http.client
import json
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from gwsload.gws.agent import Agent, AgentConfig
from gwsload.gws.outcomes import Outcome
from gwsload.simulator.cluster import find_haproxy
from gwsload.simulator.process import SimulatorProcess

needs_haproxy = pytest.mark.skipif(
    find_haproxy() is None, reason="HAProxy missing (Debian package haproxy)"
)

_SCENARIO = """
name = "cluster"
warmup_s = 0
[client]
notification_timeout_s = 3
[workload]
hold_s = 0.2
think_time_s = 0.05
[[stages]]
duration_s = 14
users = 6
spawn_rate = 6
"""


def _get_me(
    url: str, cookie: str = "", *, context: ssl.SSLContext | None = None, timeout_s: float = 5
) -> tuple[str, str]:
    token = base64.b64encode(b"agent0001:gwsload").decode()
    headers = {"Authorization": f"Basic {token}", **({"Cookie": cookie} if cookie else {})}
    with urllib.request.urlopen(
        urllib.request.Request(url + "/api/v2/me", headers=headers),
        timeout=timeout_s,
        context=context,
    ) as response:
        cookies = "; ".join(
            c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or []
        )
        return response.headers["X-Gwsload-Node"], cookies


def _node_of(process: psutil.Process) -> str | None:
    """The node a simulator node process is (``--node-name``), None for others."""
    argv = process.cmdline()
    return argv[argv.index("--node-name") + 1] if "--node-name" in argv else None


@needs_haproxy
def test_the_balancer_spreads_clients_and_keeps_each_on_its_node() -> None:
    with SimulatorProcess(["--nodes", "3", "--agents", "3"]) as sim:
        first = [_get_me(sim.url) for _ in range(3)]
        assert {node for node, _ in first} == {"node1", "node2", "node3"}
        node, cookies = first[1]
        assert "GWSNODE=" in cookies and "JSESSIONID=" in cookies
        assert all(_get_me(sim.url, cookies)[0] == node for _ in range(5))


@needs_haproxy
def test_several_balancers_share_the_port_and_keep_the_affinity() -> None:
    with SimulatorProcess(["--nodes", "2", "--balancers", "2", "--agents", "3"]) as sim:
        assert sim.pid is not None
        port = int(sim.url.rsplit(":", 1)[1])
        balancers = [
            p for p in psutil.Process(sim.pid).children() if p.name().startswith("haproxy")
        ]
        assert len(balancers) == 2
        held = []
        for _ in range(40):  # new connections, kept open: the kernel spreads them
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/v2/diagnostics/version")
            connection.getresponse().read()
            held.append(connection)
        accepted = [
            sum(1 for c in b.net_connections("tcp") if c.laddr.port == port and c.raddr)
            for b in balancers
        ]
        for connection in held:
            connection.close()
        assert all(count > 0 for count in accepted), accepted
        assert sum(accepted) == 40
        node, cookies = _get_me(sim.url)
        # each request a new connection, whichever balancer takes it: the same node
        assert all(_get_me(sim.url, cookies)[0] == node for _ in range(10))


@needs_haproxy
def test_a_node_that_stalls_keeps_its_clients_and_a_killed_one_loses_them() -> None:
    # a stall shorter than the health check's timeout (an overloaded node) must not
    # send the node's clients elsewhere, where their session is unknown: they wait
    with SimulatorProcess(["--nodes", "2", "--agents", "3"]) as sim:
        assert sim.pid is not None
        node, cookies = _get_me(sim.url)
        process = next(p for p in psutil.Process(sim.pid).children() if _node_of(p) == node)
        process.suspend()
        # resumed from a timer: the request below goes to the stalled node and waits
        resume = threading.Timer(2.5, process.resume)
        resume.start()
        time.sleep(1.5)  # three checks timed out at 500 ms each before
        try:
            started = time.monotonic()
            assert _get_me(sim.url, cookies, timeout_s=10)[0] == node
            assert time.monotonic() - started > 0.5  # it did wait for the stalled node
        finally:
            resume.join()
        # a killed node refuses its checks: its clients go to the other node (the
        # first answers may be 502s: a pooled connection to it broke)
        process.kill()
        deadline = time.monotonic() + 5
        answered = node
        while answered == node:
            assert time.monotonic() < deadline, "the killed node kept its clients"
            time.sleep(0.2)
            with contextlib.suppress(urllib.error.HTTPError):
                answered = _get_me(sim.url, cookies, timeout_s=10)[0]


@needs_haproxy
def test_a_run_survives_a_node_killed_and_restarted_mid_run(tmp_path: Path) -> None:
    args = ["--nodes", "3", "--agents", "6", "--latency-ms", "2", "--answer-delay-ms", "20",
            "--fail-node-every-s", "5", "--fail-node-down-s", "1.5"]  # fmt: skip
    with SimulatorProcess(args) as sim:
        scenario = tmp_path / "cluster.toml"
        scenario.write_text(_SCENARIO)
        agents = tmp_path / "agents.csv"
        agents.write_text(
            "username,password\n" + "".join(f"agent{n:04d},gwsload\n" for n in range(1, 7))
        )
        out = tmp_path / "run"
        started = time.time()
        done = subprocess.run(
            [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--target", sim.url,
             "--agents-file", str(agents), "--out", str(out), "--progress-every", "0",
             "--no-check"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        log = sim.stderr_tail()
    assert "killed node1" in log and "restarted node1" in log, log
    assert "killed node2" in log, log
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed", done.stdout + done.stderr
    events = pq.read_table(out / "events").to_pylist()
    outcomes = Counter(e["outcome"] for e in events)
    assert outcomes["ok"] > 50, outcomes
    # operations go on after the second failure (10 s in): the agents recovered
    late_ok = [e for e in events if e["outcome"] == "ok" and e["ts"] > started + 11.5]
    assert {e["agent"] for e in late_ok} == {f"agent{n:04d}" for n in range(1, 7)}, outcomes
    # the run folder names the node of each answered operation; the report breaks down
    assert {e["node"] for e in events if e["outcome"] == "ok"} == {"node1", "node2", "node3"}
    report = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "report", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    nodes = json.loads((out / "summary.json").read_text())["nodes"]
    by_node = {row["node"]: row for row in nodes}
    assert {"node1", "node2", "node3"} <= set(by_node)
    assert all(by_node[name]["ok"] > 0 for name in ("node1", "node2", "node3"))
    assert "<h2>Per node</h2>" in (out / "report.html").read_text()


def test_without_haproxy_nodes_is_one_line_naming_the_package(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gwsload.simulator", "--nodes", "2"],
        capture_output=True, text=True, timeout=30, check=False,
        env={"PATH": str(tmp_path), "GWSLOAD_HAPROXY": str(tmp_path / "haproxy")},  # none
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "python -m gwsload.simulator: error: --nodes needs HAProxy: install the Debian "
        "package haproxy (apt-get install haproxy)"
    ]


def test_single_node_default_does_not_need_haproxy(tmp_path: Path) -> None:
    with SimulatorProcess(["--agents", "1"], env={"PATH": str(tmp_path)}) as sim:
        assert _get_me(sim.url)[0] is None  # no cluster, no node header


@needs_haproxy
def test_tls_ends_at_the_balancer_and_keeps_the_affinity(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    args = ["--nodes", "2", "--tls", "--tls-dir", str(folder), "--agents", "4",
            "--latency-ms", "1", "--answer-delay-ms", "20"]  # fmt: skip
    with SimulatorProcess(args) as sim:
        assert sim.url.startswith("https://127.0.0.1:")
        ca_file = folder / "ca.pem"
        context = ssl.create_default_context(cafile=str(ca_file))
        first = [_get_me(sim.url, context=context) for _ in range(2)]
        assert {node for node, _ in first} == {"node1", "node2"}
        node, cookies = first[0]
        assert "GWSNODE=" in cookies and "JSESSIONID=" in cookies
        assert all(_get_me(sim.url, cookies, context=context)[0] == node for _ in range(3))
        # the agent flow through HAProxy's HTTPS with the CA file the simulator wrote
        outcomes: list[Outcome] = []
        config = AgentConfig(base_url=sim.url, user="agent0003", password="gwsload",
                             transport="long-polling", ca_file=str(ca_file))  # fmt: skip
        agent = Agent(config, on_outcome=outcomes.append)
        try:
            agent.login()
            agent.establish_call()
            agent.record("StartCallRecording")
            agent.record("StopCallRecording")
            agent.hangup()
        finally:
            agent.logout()
        assert Counter(o.kind for o in outcomes) == Counter(ok=2)
        assert len({o.node for o in outcomes}) == 1  # pinned to one node all along
        # without the CA the certificate is not trusted
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            _get_me(sim.url, context=ssl.create_default_context())


def _truth_counts(path: Path, until: float) -> tuple[Counter[str], Counter[str]]:
    """Per action, the recording notifications the truth log names: all of them, and
    those published before ``until`` (UNIX s); ``held``: delayed past the 1.5 s timeout."""
    with path.open(newline="") as handle:
        rows = [
            r
            for r in csv.DictReader(handle)
            if r["notification_type"] == "CallRecordingStateChange"
        ]
    counts: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
    for row in rows:
        for counter, kept in zip(counts, (True, float(row["ts"]) < until), strict=True):
            if kept:
                counter[row["action"]] += 1
                counter["held"] += float(row["delay_ms"]) > 1_500
    return counts


@needs_haproxy
def test_late_and_duplicate_notifications_are_counted_per_node(tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    args = ["--nodes", "2", "--agents", "6", "--latency-ms", "2", "--answer-delay-ms", "20",
            "--duplicate-share", "0.1", "--delay-share", "0.05", "--delay-ms", "2000",
            "--seed", "5", "--truth-log", str(truth)]  # fmt: skip
    scenario = tmp_path / "cluster.toml"
    scenario.write_text(
        _SCENARIO.replace("notification_timeout_s = 3", "notification_timeout_s = 1.5").replace(
            "duration_s = 14", "duration_s = 10"
        )
    )
    agents = tmp_path / "agents.csv"
    agents.write_text(
        "username,password\n" + "".join(f"agent{n:04d},gwsload\n" for n in range(1, 7))
    )
    out = tmp_path / "run"
    with SimulatorProcess(args) as sim:
        done = subprocess.run(
            [sys.executable, "-m", "gwsload.cli", "run", str(scenario), "--target", sim.url,
             "--agents-file", str(agents), "--out", str(out), "--progress-every", "0",
             "--no-check"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "completed", (manifest.get("failure"), done.stdout[-1500:])
    report = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "report", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert report.returncode in (0, 1), report.stderr
    summary = json.loads((out / "summary.json").read_text())
    by_node = {row["node"]: row for row in summary["nodes"]}
    # the agents leave from the stage's end (the measured period's end): what a node
    # published a second before it reached them; later ones may find them signed off
    until = manifest["t0"] + manifest["stages"][-1]["end_s"] - 1.0
    for node in ("node1", "node2"):
        told, told_in_time = _truth_counts(truth.with_name(f"truth-{node}.csv"), until)
        assert told_in_time["duplicated"] > 0 and told_in_time["held"] > 0, told_in_time
        # the truth log judges: each duplicate a node published is one duplicate of that
        # node, each notification it held past the timeout one late one of that node
        counted = by_node[node]
        assert told_in_time["duplicated"] <= counted["duplicate"] <= told["duplicated"], (
            node, counted, told,
        )  # fmt: skip
        assert told_in_time["held"] <= counted["late"] <= told["held"], (node, counted, told)
    for kind in ("late", "duplicate"):
        # node by node they add up to the headline: none left without a node
        assert sum(row[kind] for row in by_node.values()) == summary["all"][kind]
        assert by_node.get("-", {kind: 0})[kind] == 0
    html = (out / "report.html").read_text()
    assert "<th>late</th>" in html and "<th>duplicate</th>" in html
