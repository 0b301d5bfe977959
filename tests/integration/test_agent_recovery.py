"""Agents survive a target restart: ``gwsload run`` against an external simulator that
is killed with SIGKILL mid-run and started again on the same port. The agents must
operate again soon after it returns (full re-login: the new process knows none of
their sessions), with the outage accounted: one ``target_unreachable`` span per
agent, operations in flight as transport errors or lost, none counted twice, and
every notification the new simulator published matched by exactly one ``ok`` row."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from gwsload.analysis.load import load_run
from gwsload.analysis.outages import outages
from gwsload.simulator.restart import restart_scenario, run_through_a_restart, simulator_args

pytestmark = pytest.mark.gevent

AGENTS = 20
RUN_S = 44
KILL_AT_S = 14
OUTAGE_S = 6


def _rows(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist()  # type: ignore[no-any-return]


def test_agents_operate_again_after_the_target_restarts(tmp_path: Path) -> None:
    restarted = run_through_a_restart(
        tmp_path,
        restart_scenario("restart", agents=AGENTS, run_s=RUN_S, pause_share=0.2),
        agents=AGENTS,
        kill_at_s=KILL_AT_S,
        outage_s=OUTAGE_S,
        run_timeout_s=RUN_S + 90,
        simulator=simulator_args(AGENTS),
        second_simulator=["--truth-log", str(tmp_path / "truth.csv")],
        run_args=["--progress-every", "2"],
    )
    out, output, t_kill, t_back = (
        restarted.out, restarted.output, restarted.t_kill, restarted.t_back
    )  # fmt: skip
    with open(tmp_path / "truth.csv", newline="") as file:
        published = [
            row for row in csv.DictReader(file)
            if row["notification_type"] == "CallRecordingStateChange"
        ]  # fmt: skip
    assert restarted.returncode in (0, 1), output
    events = _rows(out / "events")
    incidents = [json.loads(line) for line in (out / "incidents.jsonl").read_text().splitlines()]

    # none counted twice
    keys = Counter((e["agent"], e["ts"], e["operation"]) for e in events)
    assert max(keys.values()) == 1
    # operations while the target was gone: transport errors or lost, never ok
    during = [e for e in events if t_kill + 0.05 < e["ts"] < t_back - 0.05]
    assert {e["outcome"] for e in during} <= {"transport_error"}, Counter(
        e["outcome"] for e in during
    )
    in_flight = [e for e in events if t_kill - 2.5 < e["ts"] <= t_kill + 0.05]
    assert {e["outcome"] for e in in_flight} <= {"ok", "lost", "transport_error"}
    # every notification of the new simulator matched by exactly one ok row, and back
    after = [e for e in events if e["ts"] > t_back and e["outcome"] == "ok"]
    ok_after = Counter((e["agent"], e["call_id"], e["expected_state"]) for e in after)
    truth = Counter((r["agent"], r["call_id"], r["recording_state"]) for r in published)
    assert ok_after == truth

    first_ok = {}
    for e in sorted(after, key=lambda e: e["ts"]):
        first_ok.setdefault(e["agent"], e["ts"] - t_back)
    recovered = sorted(v for v in first_ok.values() if v <= 20.0)
    print(
        f"\nrecovery after the target returned, {len(recovered)}/{AGENTS} agents within 20 s: "
        f"first {recovered[0]:.2f} s, median {statistics.median(recovered):.2f} s, "
        f"last {recovered[-1]:.2f} s"
    )
    assert len(recovered) >= AGENTS - 2, first_ok

    spans = [i for i in incidents if i["kind"] == "target_unreachable"]
    by_agent = Counter(i["agent"] for i in spans if t_kill - 2.5 < i["ts"] < t_back)
    assert len(by_agent) >= AGENTS - 2 and max(by_agent.values()) == 1, spans
    for span in spans:
        assert span["ts"] + span["duration_ms"] / 1000 >= t_back - 0.5  # until it answered
    relogins = {i["agent"] for i in incidents if i["kind"] == "relogin" and i["ts"] >= t_back - 0.5}
    assert len(relogins) >= AGENTS - 2

    # the report's line: one outage, from the kill until the target answered again
    (outage,) = outages(load_run(out))
    t0 = load_run(out).t0
    print(outage.line())
    assert t_kill - 2.5 <= t0 + outage.start_s <= t_kill + 0.5
    assert t_back - 0.5 <= t0 + outage.back_s <= t_back + 10.5
    assert outage.agents >= AGENTS - 2 and outage.relogins >= AGENTS - 2
    assert outage.first_operation_after_s is not None and outage.first_operation_after_s < 20
    report = subprocess.run(
        [sys.executable, "-m", "gwsload.cli", "report", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert report.returncode in (0, 1), report.stdout + report.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [o["line"] for o in summary["outages"]] == [outage.line()]
    assert outage.line() in (out / "summary.md").read_text()
    assert outage.line() in (out / "report.html").read_text()
