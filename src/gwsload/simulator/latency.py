"""How long a notification takes between an accepted operation and its publication. Seeded, pure.

The model draws from its own ``random.Random`` stream (``faults`` has the others), so
turning a fault on does not change the latencies drawn.
"""

from __future__ import annotations

import math
import random

from gwsload.simulator.options import SimulatorOptions

__all__ = ["LatencyModel"]

#: z-score of the 99th percentile of the standard normal distribution
_Z_P99 = 2.3263478740408408


class LatencyModel:
    """Delay (ms) between accepting an operation and publishing its notification."""

    def __init__(self, options: SimulatorOptions, rng: random.Random) -> None:
        self._rng = rng
        self._fixed_ms = options.latency_ms
        self._lognormal = options.latency_model == "lognormal"
        if self._lognormal:
            assert options.latency_p99_ms is not None  # checked by SimulatorOptions.check
            self._mu = math.log(options.latency_ms)
            self._sigma = (math.log(options.latency_p99_ms) - self._mu) / _Z_P99

    def sample_ms(self) -> float:
        if self._lognormal:
            return self._rng.lognormvariate(self._mu, self._sigma)
        return self._fixed_ms
