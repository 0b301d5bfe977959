"""The run configuration when Locust is started by hand (``locust -f locustfiles/recording.py``).

``gwsload run`` always names a configuration file in ``GWSLOAD_RUN_CONFIG``. Without
it, these environment variables configure the run:

- ``GWSLOAD_SCENARIO``: a scenario file; its stages become the load shape and its
  workload and client settings apply (without it: users from the web UI or ``-u``,
  a closed workload with 1 s holds and 0.5 s think time);
- ``GWSLOAD_AGENTS_FILE``: a CSV with a header ``username,password``; otherwise
  ``GWSLOAD_AGENTS`` agents (default 1000) named as the simulator names them
  (``agent0001``...) with the password ``GWSLOAD_PASSWORD`` (default ``gwsload``);
- ``GWSLOAD_OUT``: write a run folder there (events, hlog, incidents, generator
  samples, and with ``GWSLOAD_SCENARIO`` the manifest at the end); without it only
  Locust's own statistics are kept;
- ``GWSLOAD_METRICS_PORT`` (and ``GWSLOAD_METRICS_HOST``, default 127.0.0.1): serve
  live metrics for Prometheus from the master on that port (docs/reports.md).

The target is Locust's ``--host`` (or the host typed into the web UI).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

from gwsload.contract.activity import run_failures
from gwsload.contract.agents import AgentDirectory, read_agents_file
from gwsload.contract.failed_run import count_failures
from gwsload.contract.manifest import RunManifest
from gwsload.errors import ConfigError
from gwsload.launcher.plan import run_config
from gwsload.launcher.runconfig import RunConfig
from gwsload.metrics.health import judge_saturation, read_generator_samples
from gwsload.metrics.manifest import build_manifest
from gwsload.scenario import load_scenario

__all__ = ["config_for_locust", "default_config", "write_standalone_manifest"]


def _agents() -> AgentDirectory:
    listed = os.environ.get("GWSLOAD_AGENTS_FILE")
    if listed:
        return AgentDirectory(listed=read_agents_file(listed))
    count = os.environ.get("GWSLOAD_AGENTS", "1000")
    try:
        generated = int(count)
    except ValueError:
        raise ConfigError(f"GWSLOAD_AGENTS must be an int, got {count!r}") from None
    return AgentDirectory(
        generated=generated, password=os.environ.get("GWSLOAD_PASSWORD", "gwsload")
    )


def config_for_locust() -> RunConfig | None:
    """The configuration known when the locustfile is imported (None: decided at start)."""
    named = RunConfig.from_environment()
    if named is not None:
        return named
    scenario_file = os.environ.get("GWSLOAD_SCENARIO")
    if not scenario_file:
        return None
    out = os.environ.get("GWSLOAD_OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
    target = load_scenario(scenario_file).target
    return run_config(
        load_scenario(scenario_file),
        target_url=target.url if target is not None else "",
        agents=_agents(),
        verify_tls=target.verify_tls if target is not None else True,
        origin=target.origin if target is not None else None,
        run_dir=out or None,
        progress_file=None,
        workers=0,
    )


def default_config(environment: Any) -> RunConfig:
    """The configuration at test start: the import-time one with Locust's host filled in."""
    host = str(getattr(environment, "host", None) or "")
    config = config_for_locust()
    if config is None:
        out = os.environ.get("GWSLOAD_OUT")
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
        config = RunConfig(
            target_url=host, agents=_agents().to_dict(), stages=(), run_dir=out or None
        )
    if host and not config.target_url:
        config = dataclasses.replace(config, target_url=host)
    port = os.environ.get("GWSLOAD_METRICS_PORT")
    if port and config.metrics_port is None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"GWSLOAD_METRICS_PORT must be a TCP port 1-65535, got {port!r}")
        host_env = os.environ.get("GWSLOAD_METRICS_HOST", config.metrics_host)
        config = dataclasses.replace(config, metrics_port=int(port), metrics_host=host_env)
    return config


def write_standalone_manifest(collector: Any, summary: dict[str, Any] | None) -> None:
    """Plain Locust with ``GWSLOAD_SCENARIO`` and ``GWSLOAD_OUT``: close the run folder
    with a manifest, as ``gwsload run`` does (``gwsload run`` writes its own)."""
    config: RunConfig = collector.config
    scenario_file = os.environ.get("GWSLOAD_SCENARIO")
    if config.run_dir is None or config.progress_file is not None or not scenario_file:
        return
    scenario = load_scenario(scenario_file)
    steady_from = collector.t0 + scenario.effective_warmup_s
    run_dir = Path(config.run_dir)
    samples = read_generator_samples(run_dir / "generator.csv")  # closed by now
    samples = [s for s in samples if s.ts >= steady_from] or samples
    manifest = build_manifest(
        run_id=run_dir.name,
        t0=collector.t0,
        scenario=scenario,
        scenario_file=scenario_file,
        target={"kind": "external", "url": config.target_url, "verify_tls": config.verify_tls},
        workers=len([w for w in (summary or {}).get("workers", []) if w != "local"]),
        command_line=["locust", *sys.argv[1:]],
    )
    # the run's exit code by the rules gwsload run applies (the folder is closed by now)
    try:
        untested = run_failures(run_dir, manifest)
    except ConfigError as exc:
        untested = [str(exc)]
    failed = bool(count_failures((summary or {}).get("counts") or {}) or untested)
    RunManifest(run_dir, manifest).close(
        status="completed",
        exit_code=1 if failed else 0,
        ended=time.time(),
        generator=judge_saturation(samples).to_dict(),
    )
