"""The packaged Locust entry point of ``gwsload run`` (and of ``locustfiles/recording.py``).

Run by ``gwsload run`` with the run configuration named in ``GWSLOAD_RUN_CONFIG``;
plain Locust works too (``locust -f locustfiles/recording.py --host URL``, web UI
included), configured by environment variables (see :mod:`gwsload.harness.defaults`):
``GWSLOAD_SCENARIO`` (a scenario file: its stages become the load shape, its
workload and client settings apply), ``GWSLOAD_AGENTS_FILE`` (a username,password
CSV) or ``GWSLOAD_AGENTS`` / ``GWSLOAD_PASSWORD`` (generated agents as the simulator
names them), ``GWSLOAD_OUT`` (write a run folder there).

Exactly one user class and at most one shape class are visible to Locust here.
"""

from __future__ import annotations

import functools
import signal
from typing import Any

from locust import argument_parser, events

from gwsload.harness import distributed
from gwsload.harness.defaults import (
    config_for_locust,
    default_config,
    write_standalone_manifest,
)
from gwsload.harness.shape import ScenarioShape, to_stages
from gwsload.lifeline import die_with_parent

# started by `gwsload run`: the kernel kills this process when the launcher dies
# (SIGKILL: the one signal Locust cannot turn into a slow graceful stop)
die_with_parent(signal.SIGKILL)

# A Locust worker rebuilds its whole argument parser for every key of every spawn
# message (runners.WorkerRunner.handle_message): ~100 ms of blocked event loop per
# message, which would show up as notification latency. The defaults never change.
argument_parser.default_args_dict = functools.cache(argument_parser.default_args_dict)

_config = config_for_locust()

if _config is not None and _config.agent == "synthetic":
    from gwsload.harness.users import SyntheticAgent  # noqa: F401  (Locust finds it here)
else:
    from gwsload.harness.recording import RecordingAgent  # noqa: F401

if _config is not None and _config.stages:
    GwsloadShape = ScenarioShape.for_stages(
        to_stages(_config.stages), _config.ramp_down_s, _config.stop_timeout_s
    )


def _on_init(environment: Any, **_: Any) -> None:
    distributed.install(environment, default_config)
    distributed.run_state(environment).on_finished.append(write_standalone_manifest)


events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]
