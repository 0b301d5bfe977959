"""Which notifications and operations the fault injector spoils. Seeded, pure.

Each fault draws from its own ``random.Random`` stream derived from ``--seed``, so
turning one fault on does not change the decisions of another (nor the latencies
drawn), and a rerun with the same seed and the same sequence of operations makes
the same decisions. Adding a fault: an option in options.py, a decision here, and
the place that applies it (rest.py, world.py or node.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from gwsload.simulator.options import SimulatorOptions

__all__ = ["FaultDecision", "Faults"]


@dataclass(frozen=True, slots=True)
class FaultDecision:
    drop: bool = False
    duplicate: bool = False
    extra_delay_ms: float = 0.0


_CLEAN = FaultDecision()


class Faults:
    """Seeded decisions for the fault options (``--drop-share`` and friends)."""

    def __init__(self, options: SimulatorOptions, seed: int) -> None:
        self._options = options
        self._notification_rng = random.Random(f"{seed}:notifications")
        self._http_rng = random.Random(f"{seed}:http")
        self._async_rng = random.Random(f"{seed}:async")
        self._dial_rng = random.Random(f"{seed}:dial")
        self._throttle_rng = random.Random(f"{seed}:throttle")
        self._throttle_requests_rng = random.Random(f"{seed}:throttle-requests")
        self._seed = seed
        self.choice_rng = random.Random(f"{seed}:choices")

    def for_recording_notification(self) -> FaultDecision:
        """Three draws per recording notification, always, so decisions stay aligned."""
        o = self._options
        r_drop, r_dup, r_delay = (self._notification_rng.random() for _ in range(3))
        if r_drop < o.drop_share:
            return FaultDecision(drop=True)
        duplicate = r_dup < o.duplicate_share
        extra = o.delay_ms if r_delay < o.delay_share else 0.0
        if not duplicate and not extra:
            return _CLEAN
        return FaultDecision(duplicate=duplicate, extra_delay_ms=extra)

    def fail_operation(self) -> bool:
        """Whether this recording operation gets HTTP 503 (``--http-error-share``)."""
        share = self._options.http_error_share
        return share > 0 and self._http_rng.random() < share

    def fail_after_accepting(self) -> bool:
        """Whether this accepted recording operation fails later (``--async-error-share``)."""
        share = self._options.async_error_share
        return share > 0 and self._async_rng.random() < share

    def recording_available(self, username: str) -> bool:
        """Whether this agent may record (``--recording-unavailable-share``). Decided per
        agent from the seed and the name alone, so it does not depend on login order."""
        share = self._options.recording_unavailable_share
        return not (
            share > 0 and random.Random(f"{self._seed}:recording:{username}").random() < share
        )

    def dial_outcome(self) -> str:
        """``answer``, ``busy`` or ``no_answer`` for one Dial (one draw per Dial, always)."""
        o = self._options
        draw = self._dial_rng.random()
        if draw < o.dial_busy_share:
            return "busy"
        if draw < o.dial_busy_share + o.dial_no_answer_share:
            return "no_answer"
        return "answer"

    def throttle_request(self) -> bool:
        """Whether this REST request is throttled (``--throttle-requests-share``)."""
        share = self._options.throttle_requests_share
        return share > 0 and self._throttle_requests_rng.random() < share

    def throttle(self) -> bool:
        """Whether this recording operation is throttled (``--throttle-share``)."""
        share = self._options.throttle_share
        return share > 0 and self._throttle_rng.random() < share
