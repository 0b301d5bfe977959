"""The simulator's settings: one frozen dataclass, checked once at the edge.

Every setting has a command-line option of the same name (``answer_delay_ms`` is
``--answer-delay-ms``). ``SimulatorOptions.check()`` raises ``ConfigError`` with one
line naming the option, the bad value and what is expected; nothing downstream
checks again.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gwsload.errors import ConfigError

__all__ = ["LATENCY_MODELS", "SimulatorOptions"]

#: notification-latency models: a constant delay, or a lognormal one given by median and p99
LATENCY_MODELS = ("fixed", "lognormal")

#: most agents one simulator serves; DNs are 5 digits from 10001
MAX_AGENTS = 89_999


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    """Everything that shapes the simulator's behaviour. Defaults suit a quick local run."""

    host: str = "127.0.0.1"
    port: int = 0
    #: generated agents agent0001..agentNNNN, all with ``password``
    agents: int = 1000
    password: str = "gwsload"
    #: CSV username,password[,dn]; replaces the generated agents
    agents_file: Path | None = None
    #: the far end answers an outbound call this long after Dial
    answer_delay_ms: float = 100.0
    latency_model: str = "fixed"
    #: fixed delay, or the median of the lognormal model
    latency_ms: float = 0.0
    #: p99 of the lognormal model (must exceed ``latency_ms``)
    latency_p99_ms: float | None = None
    seed: int = 1
    drop_share: float = 0.0
    duplicate_share: float = 0.0
    delay_share: float = 0.0
    delay_ms: float = 0.0
    http_error_share: float = 0.0
    #: accepted recording operations that fail afterwards (an ErrorMessage, no state change)
    async_error_share: float = 0.0
    #: the voice service is down from the start: every voice operation gets HTTP 503
    voice_down: bool = False
    expire_sessions_every_s: float = 0.0
    stall_every_s: float = 0.0
    stall_ms: float = 0.0
    truth_log: Path | None = None
    csrf: bool = False
    require_origin: str | None = None
    cometd_timeout_ms: int = 30_000
    cometd_interval_ms: int = 0
    cometd_max_interval_ms: int = 10_000
    websocket: bool = True

    def check(self) -> SimulatorOptions:
        """Return self, or raise ``ConfigError`` naming the first bad option."""
        if not 0 <= self.port <= 65535:
            _bad("--port", self.port, "an int in [0, 65535]")
        if not 1 <= self.agents <= MAX_AGENTS:
            _bad("--agents", self.agents, f"an int in [1, {MAX_AGENTS}]")
        if not self.password:
            _bad("--password", self.password, "a non-empty string")
        _non_negative("--answer-delay-ms", self.answer_delay_ms)
        if self.latency_model not in LATENCY_MODELS:
            _bad("--latency-model", self.latency_model, f"one of {list(LATENCY_MODELS)}")
        _non_negative("--latency-ms", self.latency_ms)
        if self.latency_model == "lognormal":
            if self.latency_ms <= 0:
                _bad(
                    "--latency-ms",
                    self.latency_ms,
                    "> 0 (the median) with --latency-model lognormal",
                )
            if self.latency_p99_ms is None or not self.latency_p99_ms > self.latency_ms:
                _bad(
                    "--latency-p99-ms",
                    self.latency_p99_ms,
                    "a value above --latency-ms (the median) with --latency-model lognormal",
                )
        elif self.latency_p99_ms is not None:
            _bad("--latency-p99-ms", self.latency_p99_ms, "only with --latency-model lognormal")
        shares = (
            "drop_share",
            "duplicate_share",
            "delay_share",
            "http_error_share",
            "async_error_share",
        )
        for name in shares:
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                _bad("--" + name.replace("_", "-"), value, "a share in [0, 1]")
        for name in ("delay_ms", "expire_sessions_every_s", "stall_every_s", "stall_ms"):
            _non_negative("--" + name.replace("_", "-"), getattr(self, name))
        if self.delay_share > 0 and self.delay_ms <= 0:
            _bad("--delay-ms", self.delay_ms, "> 0 when --delay-share is set")
        if self.stall_every_s > 0 and not 0 < self.stall_ms < self.stall_every_s * 1000:
            _bad("--stall-ms", self.stall_ms, "> 0 and shorter than --stall-every-s")
        if self.cometd_timeout_ms < 0:
            _bad("--cometd-timeout-ms", self.cometd_timeout_ms, "an int >= 0")
        if self.cometd_interval_ms < 0:
            _bad("--cometd-interval-ms", self.cometd_interval_ms, "an int >= 0")
        if self.cometd_max_interval_ms <= 0:
            _bad("--cometd-max-interval-ms", self.cometd_max_interval_ms, "an int > 0")
        if self.require_origin is not None and "://" not in self.require_origin:
            _bad("--require-origin", self.require_origin, "an origin like http://host:port")
        return self

    def to_json(self) -> dict[str, Any]:
        """The settings as plain JSON values (for a run manifest)."""
        out = asdict(self)
        for key in ("agents_file", "truth_log"):
            if out[key] is not None:
                out[key] = str(out[key])
        return out


def _non_negative(option: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        _bad(option, value, "a finite number >= 0")


def _bad(option: str, value: object, expected: str) -> None:
    raise ConfigError(f"{option} must be {expected}, got {value!r}")
