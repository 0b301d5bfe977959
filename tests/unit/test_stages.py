"""Stage maths: which stage is in force when, at the boundaries too."""

from __future__ import annotations

import pytest

from gwsload.stages import (
    Stage,
    StageAt,
    default_ramp_down_s,
    load_at,
    offered_ops_per_s,
    ramp_time_s,
    sign_off_end_s,
    sign_off_rate,
    sign_offs_due,
    stage_at,
    stage_windows,
    total_duration_s,
)

# a spike: base 10 users for 30 s, 100 users for 10 s, base again for 20 s
SPIKE = (Stage(30.0, 10, 5.0), Stage(10.0, 100, 50.0), Stage(20.0, 10, 50.0))
OPEN = (Stage(60.0, 50, 10.0, 5.0), Stage(60.0, 50, 10.0, 20.0))


def test_total_duration_is_the_sum_of_stages() -> None:
    assert total_duration_s(SPIKE) == 60.0
    assert total_duration_s(()) == 0.0


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (-1.0, StageAt(0, 10, 5.0, None)),
        (0.0, StageAt(0, 10, 5.0, None)),
        (29.999, StageAt(0, 10, 5.0, None)),
        (30.0, StageAt(1, 100, 50.0, None)),  # a boundary belongs to the next stage
        (39.5, StageAt(1, 100, 50.0, None)),
        (40.0, StageAt(2, 10, 50.0, None)),
        (60.0, StageAt(2, 10, 50.0, None)),  # the last stage owns its end instant
    ],
)
def test_stage_at_boundaries(t: float, expected: StageAt) -> None:
    assert stage_at(SPIKE, t) == expected


def test_stage_at_is_none_after_the_last_stage_and_for_no_stage() -> None:
    assert stage_at(SPIKE, 60.001) is None
    assert stage_at(SPIKE, 1e9) is None
    assert stage_at((), 0.0) is None


def test_stage_at_carries_the_open_workload_rate() -> None:
    assert stage_at(OPEN, 59.0) == StageAt(0, 50, 10.0, 5.0)
    assert stage_at(OPEN, 61.0) == StageAt(1, 50, 10.0, 20.0)


def test_stage_windows_place_stages_back_to_back() -> None:
    windows = stage_windows(SPIKE)
    assert [(w.start_s, w.end_s) for w in windows] == [(0.0, 30.0), (30.0, 40.0), (40.0, 60.0)]
    assert windows[1].to_dict() == {
        "index": 1,
        "start_s": 30.0,
        "end_s": 40.0,
        "users": 100,
        "spawn_rate": 50.0,
        "rate_per_s": None,
    }


def test_ramp_time_is_first_stage_users_over_spawn_rate() -> None:
    assert ramp_time_s(SPIKE) == 2.0
    assert ramp_time_s(()) == 0.0


def test_offered_load_open_is_rate_times_ops_per_cycle() -> None:
    assert offered_ops_per_s(OPEN, ops_per_cycle=2.5, cycles_per_user_per_s=None) == [12.5, 50.0]


def test_offered_load_closed_is_users_times_cycle_rate() -> None:
    # 10 users, one cycle every 4 s each, 2 operations per cycle -> 5 ops/s
    assert offered_ops_per_s(SPIKE, ops_per_cycle=2.0, cycles_per_user_per_s=0.25) == [
        5.0,
        50.0,
        5.0,
    ]
    assert offered_ops_per_s(SPIKE, ops_per_cycle=2.0, cycles_per_user_per_s=None) == [
        None,
        None,
        None,
    ]


def test_sign_off_spreads_the_last_stage_users_over_the_ramp_down() -> None:
    assert default_ramp_down_s(SPIKE) == 1.0  # 10 users at 50/s: 0.2 s, rounded up
    assert default_ramp_down_s((Stage(60.0, 5000, 100.0),)) == 50.0
    assert sign_off_rate(SPIKE, 20.0) == 0.5
    assert sign_off_rate(SPIKE, 0.0) == 0.0
    # during the stages: the stage in force; then, while the processes sign their
    # agents off (Locust keeps its users), the last stage's, up to one stop timeout
    # past the ramp-down
    assert load_at(SPIKE, 20.0, 59.0) == (10, 50.0)
    assert load_at(SPIKE, 20.0, 60.5) == (10, 50.0)
    assert load_at(SPIKE, 20.0, 80.0) == (10, 50.0)
    assert load_at(SPIKE, 20.0, 80.5) is None
    assert load_at(SPIKE, 20.0, 80.5, stop_timeout_s=45.0) == (10, 50.0)
    assert load_at(SPIKE, 20.0, 125.0, stop_timeout_s=45.0) == (10, 50.0)
    assert load_at(SPIKE, 20.0, 125.5, stop_timeout_s=45.0) is None
    assert sign_off_end_s(SPIKE, 20.0, 45.0) == 125.0
    # no ramp-down (or no one to sign off): the run ends with the last stage
    assert load_at(SPIKE, 0.0, 60.5) is None
    assert load_at(SPIKE, 0.0, 60.5, stop_timeout_s=45.0) is None
    assert load_at((Stage(10.0, 0, 1.0),), 5.0, 11.0) is None


def test_sign_offs_are_due_one_by_one_over_the_ramp_down() -> None:
    # 100 agents over 50 s: the first at once, then one every 0.5 s, all by the end
    assert sign_offs_due(100, 50.0, -0.1) == 0
    assert sign_offs_due(100, 50.0, 0.0) == 1
    assert sign_offs_due(100, 50.0, 0.49) == 1
    assert sign_offs_due(100, 50.0, 0.5) == 2
    assert sign_offs_due(100, 50.0, 25.0) == 51
    assert sign_offs_due(100, 50.0, 49.99) == 100
    assert sign_offs_due(100, 50.0, 50.0) == 100
    assert sign_offs_due(100, 50.0, 500.0) == 100
    # a steady rate: every second of the ramp-down asks the same number to leave
    per_second = [sign_offs_due(100, 50.0, s + 1) - sign_offs_due(100, 50.0, s) for s in range(49)]
    assert set(per_second) == {2}
    # no ramp-down: everyone at once; nobody in: nobody
    assert sign_offs_due(7, 0.0, 0.0) == 7
    assert sign_offs_due(0, 50.0, 10.0) == 0
