"""The preflight, seen from the launcher: plan it, run its child process, read its report.

The checks themselves run under gevent in a child process
(``python -m gwsload.gws.preflight_child``, like Locust runs apart); this process
stays free of gevent. The plan holds passwords, so it goes through a private
temporary file, never the command line.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from gwsload.errors import ConfigError
from gwsload.gws.preflight_checks import CheckResult, PreflightPlan, PreflightReport
from gwsload.launcher.target import TargetSettings
from gwsload.scenario import Scenario

__all__ = ["plan_preflight", "run_preflight", "time_limit_s"]


def plan_preflight(
    scenario: Scenario, target: TargetSettings, *, sample: int | None = None
) -> PreflightPlan:
    """Every agent of the agents file, or ``sample`` of them (spread at random, seed 1)."""
    if target.url is None or target.agents is None:
        raise ConfigError(
            "the preflight needs a real target: --target URL (or a [target] table) "
            "and --agents-file CSV"
        )
    agents = target.agents
    if sample is not None and sample < len(agents):
        chosen = sorted(random.Random(1).sample(range(len(agents)), sample))
        agents = [agents[i] for i in chosen]
    client = scenario.client
    return PreflightPlan(
        target_url=target.url,
        agents=[[a.username, a.password] for a in agents],
        agents_listed=len(target.agents),
        verify_tls=target.verify_tls,
        origin=target.origin,
        ca_file=str(target.ca_file) if target.ca_file is not None else None,
        transport=client.transport,
        dial_destination=client.dial_destination,
        request_timeout_s=client.request_timeout_s,
        notification_timeout_s=client.notification_timeout_s,
    )


def time_limit_s(plan: PreflightPlan) -> float:
    """The longest the checks can take by their own timeouts, plus start-up slack."""
    rounds = math.ceil(len(plan.agents) / max(1, plan.concurrency))
    return (
        30.0
        + 3 * plan.connect_timeout_s
        + (rounds + 12) * plan.request_timeout_s
        + 3 * plan.notification_timeout_s
        + 3 * plan.call_state_timeout_s
    )


def run_preflight(plan: PreflightPlan) -> PreflightReport:
    """Run the checks in a child process; a child that breaks is a failed preflight."""
    private = Path(tempfile.mkdtemp(prefix="gwsload-preflight-"))
    try:
        plan_file = private / "plan.json"
        plan_file.write_text(plan.to_json(), encoding="utf-8")
        os.chmod(plan_file, 0o600)  # agents' passwords
        limit = time_limit_s(plan)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "gwsload.gws.preflight_child", str(plan_file)],
                capture_output=True, text=True, timeout=limit, check=False,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return _broken(plan, f"the preflight did not finish within {limit:.0f} s")
        lines = done.stdout.strip().splitlines()
        try:
            return PreflightReport.from_dict(json.loads(lines[-1]))
        except (IndexError, ValueError, KeyError, TypeError):
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return _broken(plan, f"the preflight broke (exit {done.returncode}): {last[:300]}")
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _broken(plan: PreflightPlan, reason: str) -> PreflightReport:
    return PreflightReport(plan.target_url, [CheckResult("preflight", 0, 0, reason)])
