"""From a scenario and the command line to what the Locust processes run (no gevent).

:func:`run_config` turns a validated :class:`~gwsload.scenario.Scenario`, the target
URL and the agent directory into the :class:`RunConfig` every Locust process of the
run reads. :func:`stop_timeout_s` is how long Locust waits for users to leave.
"""

from __future__ import annotations

from gwsload.contract.agents import AgentDirectory
from gwsload.launcher.runconfig import RunConfig, StageSpec, WorkloadSpec, leave_time_s
from gwsload.scenario import Scenario

__all__ = ["run_config", "stop_timeout_s"]


def stop_timeout_s(scenario: Scenario) -> float:
    """Time for an agent to finish its operation, stop recording, hang up and log out."""
    client = scenario.client
    return leave_time_s(client.notification_timeout_s, client.request_timeout_s)


def run_config(
    scenario: Scenario,
    *,
    target_url: str,
    agents: AgentDirectory,
    verify_tls: bool,
    origin: str | None,
    ca_file: str | None = None,
    run_dir: str | None,
    progress_file: str | None,
    workers: int,
    agent: str = "recording",
) -> RunConfig:
    workload = scenario.workload
    return RunConfig(
        target_url=target_url,
        agents=agents.to_dict(),
        stages=tuple(
            StageSpec(s.duration_s, s.users, s.spawn_rate, s.rate_per_s) for s in scenario.stages
        ),
        workload=WorkloadSpec(
            model=workload.model,
            hold_s=workload.hold_s,
            think_time_s=workload.think_time_s,
            pause_share=workload.pause_share,
            arrivals=workload.arrivals,
        ),
        transport=scenario.client.transport,
        verify_tls=verify_tls,
        ca_file=ca_file,
        origin=origin,
        notification_timeout_s=scenario.client.notification_timeout_s,
        request_timeout_s=scenario.client.request_timeout_s,
        dial_destination=scenario.client.dial_destination,
        agent=agent,
        run_dir=run_dir,
        progress_file=progress_file,
        workers=workers,
        warmup_s=scenario.effective_warmup_s,
        ramp_down_s=scenario.effective_ramp_down_s,
    )
