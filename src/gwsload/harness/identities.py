"""Agent identities: which GWS user each Locust user logs in as.

Every agent name must be used by one Locust user at a time across all users of
all worker processes, without the workers talking to each other. Worker *k* of
*n* (0-based) owns the global slots ``k, k + n, k + 2n, ...``; inside a worker,
slots freed by stopped users are reused lowest first, so a ramp down and up again
keeps the set of agents compact. Slot *s* is the agent ``directory[s]``.

Pure: no gevent, no clock.
"""

from __future__ import annotations

import heapq

from gwsload.errors import ConfigError

__all__ = ["IdentityAllocator"]


class IdentityAllocator:
    """Hands out agent slots for one worker process of a run (see module doc)."""

    __slots__ = ("_capacity", "_free", "_next_local", "_worker_count", "_worker_index")

    def __init__(self, *, worker_index: int, worker_count: int, capacity: int) -> None:
        if worker_count < 1 or not 0 <= worker_index < worker_count:
            raise ValueError(f"worker {worker_index} of {worker_count} is not a valid worker")
        self._worker_index = worker_index
        self._worker_count = worker_count
        self._capacity = capacity
        self._free: list[int] = []
        self._next_local = 0

    def acquire(self) -> int:
        """A slot no other user of the run holds. Raises ConfigError when none is left."""
        if self._free:
            return heapq.heappop(self._free)
        slot = self._worker_index + self._next_local * self._worker_count
        if slot >= self._capacity:
            raise ConfigError(
                f"not enough agents: worker {self._worker_index + 1} of {self._worker_count} "
                f"needs more than the {self._capacity} agents available "
                "(list more in the agents file, or run fewer users)"
            )
        self._next_local += 1
        return slot

    def release(self, slot: int) -> None:
        """Give a slot back for the next user of this worker."""
        heapq.heappush(self._free, slot)
