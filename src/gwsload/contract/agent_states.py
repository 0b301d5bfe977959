"""How the agents of a run are doing: operating, setting up, or failing (and why).

Each load process keeps one :class:`AgentStates`, told by its agents whenever their
phase changes; its :meth:`~AgentStates.summary` is shipped with every batch (key
``agent_states``), the master adds the processes' summaries up
(:func:`merge_summaries`) into the progress record (key ``agents``) and
:func:`format_agents` writes the progress line's part, e.g.
``agents 17 operating, 3 failing (login: HTTP 401 statusCode 20)``. Stdlib only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["PHASES", "AgentStates", "format_agents", "merge_summaries"]

#: what an agent is doing: operating (it holds a call and operates its recording),
#: setting up (on its way there, no failure since its last step), failing (its last
#: set-up step failed)
PHASES = ("operating", "setting_up", "failing")
#: failure reasons kept per summary (the most frequent ones)
_TOP_REASONS = 3


class AgentStates:
    """Each agent's latest phase and reason, by agent name.

    The counts per phase and per failure reason are kept as agents change, so a
    summary costs the same at 10 agents as at 10,000 (it is taken every few seconds
    on the event loop the agents share).
    """

    __slots__ = ("_agents", "_phases", "_reasons")

    def __init__(self) -> None:
        self._agents: dict[str, tuple[str, str]] = {}
        self._phases: Counter[str] = Counter()
        self._reasons: Counter[str] = Counter()

    def note(self, agent: str, phase: str, reason: str) -> None:
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        state = (phase, reason if phase == "failing" else "")
        self._drop(self._agents.get(agent))
        self._agents[agent] = state
        self._phases[phase] += 1
        if phase == "failing":
            self._reasons[state[1]] += 1

    def forget(self, agent: str) -> None:
        """The agent left (the test stops, or its user was stopped)."""
        self._drop(self._agents.pop(agent, None))

    def _drop(self, state: tuple[str, str] | None) -> None:
        if state is None:
            return
        phase, reason = state
        self._phases[phase] -= 1
        if phase == "failing":
            self._reasons[reason] -= 1
            if not self._reasons[reason]:
                del self._reasons[reason]

    def summary(self) -> dict[str, Any]:
        """``{"operating": n, "setting_up": n, "failing": n, "reasons": {reason: n}}``."""
        result: dict[str, Any] = {phase: self._phases[phase] for phase in PHASES}
        result["reasons"] = dict(self._reasons.most_common(_TOP_REASONS))
        return result


def merge_summaries(summaries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The processes' summaries added up (reasons: the most frequent overall)."""
    phases: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for summary in summaries:
        for phase in PHASES:
            phases[phase] += int(summary.get(phase, 0) or 0)
        for reason, count in (summary.get("reasons") or {}).items():
            reasons[str(reason)] += int(count)
    result: dict[str, Any] = {phase: phases.get(phase, 0) for phase in PHASES}
    result["reasons"] = dict(reasons.most_common(_TOP_REASONS))
    return result


def format_agents(agents: Mapping[str, Any]) -> str:
    """``agents 17 operating, 3 failing (login: HTTP 401 statusCode 20)``; the top
    reason only, with ``+N more`` when failures have other reasons too."""
    parts = [f"{int(agents.get('operating', 0) or 0)} operating"]
    setting_up = int(agents.get("setting_up", 0) or 0)
    if setting_up:
        parts.append(f"{setting_up} setting up")
    failing = int(agents.get("failing", 0) or 0)
    if failing:
        reasons: Mapping[str, int] = agents.get("reasons") or {}
        text = f"{failing} failing"
        if reasons:
            top, count = max(reasons.items(), key=lambda item: item[1])
            more = f", +{failing - count} other" if failing > count else ""
            text += f" ({top}{more})"
        parts.append(text)
    return "agents " + ", ".join(parts)
