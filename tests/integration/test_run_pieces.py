"""The pieces of ``gwsload run`` with known answers: identity slots, the agents file,
the progress line, the load shape, and the open workload's intended start times."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import gevent
import pytest

from gwsload.contract.agents import AgentDirectory, read_agents_file
from gwsload.errors import ConfigError
from gwsload.harness.identities import IdentityAllocator
from gwsload.harness.openloop import CycleTicker
from gwsload.harness.shape import ScenarioShape, rate_share
from gwsload.launcher.progress import format_progress, format_summary
from gwsload.launcher.runconfig import RunConfig, StageSpec, WorkloadSpec
from gwsload.metrics.sink import RunSink
from gwsload.scenario import Distribution
from gwsload.stages import Stage

pytestmark = pytest.mark.gevent


def test_identity_slots_are_unique_across_workers_and_reused_within_one() -> None:
    allocators = [IdentityAllocator(worker_index=i, worker_count=3, capacity=30) for i in range(3)]
    taken = [a.acquire() for a in allocators for _ in range(10)]
    assert sorted(taken) == list(range(30))
    allocators[1].release(4)
    allocators[1].release(1)
    assert allocators[1].acquire() == 1  # lowest freed slot first
    assert allocators[1].acquire() == 4
    with pytest.raises(ConfigError, match="not enough agents"):
        allocators[0].acquire()


def test_generated_agents_are_named_like_the_simulator_names_them() -> None:
    directory = AgentDirectory(generated=12, password="pw")
    assert directory[0].username == "agent0001"
    assert directory[11].username == "agent0012"
    again = AgentDirectory.from_dict(directory.to_dict())
    assert again[11] == directory[11] and len(again) == 12


def test_agents_file_is_read_and_bad_ones_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "agents.csv"
    good.write_text("username,password,dn\nalice,s3cret,7001\nbob,pw,7002\n")
    agents = read_agents_file(good)
    assert [(a.username, a.password) for a in agents] == [("alice", "s3cret"), ("bob", "pw")]
    bad = tmp_path / "bad.csv"
    bad.write_text("user,pass\nalice,x\n")
    with pytest.raises(ConfigError, match="header line with columns username,password"):
        read_agents_file(bad)
    twice = tmp_path / "twice.csv"
    twice.write_text("username,password\nalice,x\nalice,y\n")
    with pytest.raises(ConfigError, match=r"twice.csv, line 3: username 'alice' is listed twice"):
        read_agents_file(twice)


def test_run_config_round_trips_through_json() -> None:
    config = RunConfig(
        target_url="http://127.0.0.1:1",
        agents={"generated": 5, "password": "gwsload", "prefix": "agent"},
        stages=(StageSpec(10, 5, 5), StageSpec(20, 10, 1, 4.0)),
        workload=WorkloadSpec(
            model="open", hold_s=Distribution("uniform", 0.5, 1.5), arrivals="poisson"
        ),
    )
    assert RunConfig.from_json(config.to_json()) == config


def test_progress_line_and_summary() -> None:
    line = format_progress(
        {"elapsed_s": 65, "duration_s": 120, "users": 10, "ops_per_s": 12.34,
         "notify_p50_ms": 5.04, "notify_p99_ms": 20.0, "lost": 2, "errors": 0,
         "generator_cpu_percent": 37.2}
    )  # fmt: skip
    assert line == (
        "01:05 elapsed, 00:55 left | users 10 | ops/s 12.3 | notify p50 5.04 ms p99 20 ms"
        " | lost 2 | errors 0 | generator CPU 37 %"
    )
    lines = format_summary(
        {"counts": {"ops": 100, "ok": 99, "lost": 1}, "operations": {}, "not_started": 3},
        duration_s=10.0,
    )
    assert lines[0].startswith("operations 100 (10 ops/s): ok 99, lost 1")
    assert lines[-1] == "open workload: 3 cycles could not start before the end"


def test_shape_follows_the_stages_and_ends_after_the_last() -> None:
    stages = [Stage(10, 5, 5), Stage(10, 20, 10)]
    shape = ScenarioShape.for_stages(stages)()
    shape.reset_time()
    assert shape.tick() == (5, 5)
    shape.start_time -= 15  # 15 s into the run
    assert shape.tick() == (20, 10)
    shape.start_time -= 10
    assert shape.tick() is None
    assert ScenarioShape.abstract and not type(shape).abstract


def test_shape_waits_for_the_agents_still_leaving_up_to_a_stop_timeout() -> None:
    stages = [Stage(10, 5, 5)]
    shape = ScenarioShape.for_stages(stages, ramp_down_s=4.0, stop_timeout_s=20.0)()
    left = [3]
    shape.users_in = lambda: left[0]
    shape.reset_time()
    shape.start_time -= 15  # past the ramp-down, agents still leaving: Locust keeps them
    assert shape.tick() == (5, 5)
    left[0] = 0  # the last one left: the run is over
    assert shape.tick() is None
    left[0] = 3
    shape.start_time -= 20  # 35 s: past the ramp-down and a stop timeout
    assert shape.tick() is None
    assert shape.duration_s == 34.0


def test_progress_says_signing_off_past_the_ramp_down() -> None:
    record = {"elapsed_s": 40.0, "duration_s": 36.0, "sign_off_end_s": 81.0, "users": 12}
    assert "00:40 elapsed, signing off, at most 00:41 left" in format_progress(record)
    assert "00:04 left" in format_progress({**record, "elapsed_s": 32.0})
    assert "00:00 left" in format_progress({**record, "users": 0})


def test_open_workload_rate_is_shared_among_processes() -> None:
    stages = [Stage(100, 10, 10, rate_per_s=30.0)]
    assert rate_share(stages, time.time(), 3) == pytest.approx(10.0)
    assert rate_share([Stage(100, 10, 10)], time.time(), 3) is None


def test_late_tickets_keep_their_intended_start_times() -> None:
    ticker = CycleTicker(lambda: 50.0)
    ticker.start()
    gevent.sleep(0.3)  # nobody takes tickets: they wait, with their own intended times
    tickets = [ticker.take(timeout=1.0) for _ in range(10)]
    left = ticker.stop()
    assert None not in tickets
    gaps = [b - a for a, b in itertools.pairwise(tickets)]  # type: ignore[operator]
    assert all(gap == pytest.approx(0.02, abs=1e-9) for gap in gaps)
    assert left >= 0 and ticker.issued >= 10


def test_progress_rate_is_ops_since_the_last_tick_over_that_time(tmp_path: Path) -> None:
    sink = RunSink(tmp_path, t0=1000.0)
    try:
        sink.accept({"worker": "w1", "counts": {"ops": 100}, "users": 5})
        sink.accept({"worker": "w2", "counts": {"ops": 60}, "users": 5})
        sink.tick(1002.0)
        assert sink.progress(1002.0, duration_s=60.0, state="running")["ops_per_s"] == 80.0
        # counts are cumulative per worker: only the growth counts, over 4 s this time
        sink.accept({"worker": "w1", "counts": {"ops": 180}, "users": 5})
        sink.accept({"worker": "w2", "counts": {"ops": 100}, "users": 5})
        sink.tick(1006.0)
        assert sink.progress(1006.0, duration_s=60.0, state="running")["ops_per_s"] == 30.0
    finally:
        sink.close(1006.0)
