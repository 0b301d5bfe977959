"""The agents' phases for the progress line: counted per process, added up by the
master, shown with the top failure reason."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from gwsload.contract.agent_states import AgentStates, format_agents, merge_summaries
from gwsload.launcher.progress import format_progress


def test_phases_are_counted_with_the_top_reasons() -> None:
    states = AgentStates()
    for i in range(17):
        states.note(f"agent{i:04d}", "operating", "")
    states.note("agent0100", "failing", "login: HTTP 401 statusCode 20")
    states.note("agent0101", "failing", "login: HTTP 401 statusCode 20")
    states.note("agent0102", "failing", "call setup: no call Established within 15 s")
    states.note("agent0103", "setting_up", "ignored while setting up")
    states.note("agent0016", "failing", "login: HTTP 401 statusCode 20")  # was operating
    states.forget("agent0000")
    summary = states.summary()
    assert summary == {
        "operating": 15, "setting_up": 1, "failing": 4,
        "reasons": {"login: HTTP 401 statusCode 20": 3,
                    "call setup: no call Established within 15 s": 1},
    }  # fmt: skip
    with pytest.raises(ValueError, match="phase must be one of"):
        states.note("agent0001", "dancing", "")


def test_the_running_counts_match_a_recount_after_any_changes() -> None:
    # the counts are kept as agents change: after thousands of random changes they
    # must equal a count of every agent's latest state
    rng = random.Random(7)
    states = AgentStates()
    latest: dict[str, tuple[str, str]] = {}
    reasons = ["login: HTTP 401", "call setup: timeout", "cometd: 402"]  # all in the top 3
    for _ in range(5000):
        agent = f"agent{rng.randrange(60):04d}"
        if rng.random() < 0.15:
            states.forget(agent)
            latest.pop(agent, None)
            continue
        phase = rng.choice(["operating", "setting_up", "failing"])
        reason = rng.choice(reasons)
        states.note(agent, phase, reason)
        latest[agent] = (phase, reason if phase == "failing" else "")
    phases = Counter(phase for phase, _ in latest.values())
    failing = Counter(reason for phase, reason in latest.values() if phase == "failing")
    summary = states.summary()
    assert {p: summary[p] for p in ("operating", "setting_up", "failing")} == {
        p: phases[p] for p in ("operating", "setting_up", "failing")
    }
    assert summary["reasons"] == dict(failing)
    for agent in list(latest):
        states.forget(agent)
    assert states.summary() == {"operating": 0, "setting_up": 0, "failing": 0, "reasons": {}}


def test_processes_add_up_and_the_line_names_the_top_reason() -> None:
    w1 = {
        "operating": 10,
        "setting_up": 0,
        "failing": 1,
        "reasons": {"login: HTTP 401 statusCode 20": 1},
    }
    w2 = {
        "operating": 7,
        "setting_up": 0,
        "failing": 2,
        "reasons": {"login: HTTP 401 statusCode 20": 2},
    }
    merged = merge_summaries([w1, w2, {}])
    assert format_agents(merged) == "agents 17 operating, 3 failing (login: HTTP 401 statusCode 20)"
    w2["reasons"] = {"target unreachable: ConnectionRefusedError": 2}
    assert format_agents(merge_summaries([w1, w2])) == (
        "agents 17 operating, 3 failing (target unreachable: ConnectionRefusedError, +1 other)"
    )
    line = format_progress({"elapsed_s": 5, "duration_s": 60, "users": 20, "agents": merged})
    assert "| users 20 | agents 17 operating, 3 failing (login: HTTP 401 statusCode 20) |" in line
    assert "agents" not in format_progress({"elapsed_s": 5, "duration_s": 60, "users": 0})
