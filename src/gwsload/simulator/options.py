"""The simulator's settings: ONE declaration, from which everything else is generated.

Each field of ``SimulatorOptions`` carries its help text, its group and whether a
scenario's ``[simulator]`` table may set it. From that one declaration come the
command-line options (``answer_delay_ms`` is ``--answer-delay-ms``; a bool is a flag),
the scenario table's keys and types, and the manifest form. ``check()`` raises
``OptionError`` (a ``ConfigError``) naming the option, the bad value and what is
expected; nothing downstream checks again. A new option is one field here, plus
the code that uses it.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gwsload.contract.status import THROTTLE_HTTP_STATUSES
from gwsload.errors import ConfigError

__all__ = [
    "LATENCY_MODELS",
    "OptionError",
    "OptionSpec",
    "SimulatorOptions",
    "option_specs",
]

#: notification-latency models: a constant delay, or a lognormal one given by median and p99
LATENCY_MODELS = ("fixed", "lognormal")
#: how a recording operation of an agent without recording fails: refused at once, or
#: accepted and then failed by an ErrorMessage notification
RECORDING_REFUSALS = ("refuse", "error")
#: what a throttling GWS (Jetty's DoSFilter) answers
THROTTLE_STATUSES = THROTTLE_HTTP_STATUSES

#: most agents one simulator serves; DNs are 5 digits from 10001
MAX_AGENTS = 89_999

# option groups, in --help order
LISTENING = "listening"
AGENTS = "agents"
BEHAVIOUR = "behaviour"
CLUSTER = "cluster (several nodes behind HAProxy)"
FAULTS = "faults (shares in [0, 1], all seeded)"
COMETD = "CometD and output"


def _opt(
    default: Any,
    help: str,
    group: str,
    *,
    metavar: str | None = None,
    choices: tuple[str, ...] | None = None,
    scenario: bool = True,
) -> Any:
    """One option: its default and what the CLI and the scenario table need to know."""
    meta = {"help": help, "group": group, "metavar": metavar, "choices": choices}
    return field(default=default, metadata={**meta, "scenario": scenario})


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    """Everything that shapes the simulator's behaviour. Defaults suit a quick local run."""

    host: str = _opt("127.0.0.1", "address to listen on", LISTENING, scenario=False)
    port: int = _opt(0, "port; 0 = a free one", LISTENING, metavar="N", scenario=False)
    tls: bool = _opt(
        False, "serve HTTPS with a certificate made at start; clients trust "
        "<tls-dir>/ca.pem", LISTENING, scenario=False,
    )  # fmt: skip
    tls_dir: Path | None = _opt(  # noqa: RUF009 (the default is None)
        None, "where --tls writes ca.pem and the server's key (default: a new temporary "
        "folder, named on stderr)", LISTENING, metavar="DIR", scenario=False,
    )  # fmt: skip
    nodes: int = _opt(
        1, "run N node processes (own sessions, CSRF tokens, CometD sessions; one agent "
        "list) behind HAProxy on --port, pinned by an affinity cookie", CLUSTER, metavar="N",
    )  # fmt: skip
    balancers: int = _opt(
        1, "with --nodes: run K HAProxy processes sharing --port (SO_REUSEPORT); each "
        "holds two descriptors per connection, so one carries some 9,000 agents under a "
        "ulimit -n of 20,000", CLUSTER, metavar="K",
    )  # fmt: skip
    fail_node_every_s: float = _opt(
        0.0, "every S seconds kill one node (SIGKILL) and restart it --fail-node-down-s "
        "later; SIGUSR1 to gwsload simulate does it at once", CLUSTER, metavar="S",
    )  # fmt: skip
    fail_node_down_s: float = _opt(2.0, "how long a killed node stays down", CLUSTER, metavar="S")
    node_name: str | None = _opt(
        None, "this node's name, sent in the X-Gwsload-Node response header (set by "
        "--nodes)", CLUSTER, metavar="NAME", scenario=False,
    )  # fmt: skip
    agents: int = _opt(1000, "generate agent0001..agentN", AGENTS, metavar="N")
    password: str = _opt("gwsload", "password of the generated agents", AGENTS, scenario=False)
    agents_file: Path | None = _opt(  # noqa: RUF009 (the default is None)
        None, "read agents from a CSV file: username,password[,dn]", AGENTS, metavar="CSV",
        scenario=False,
    )  # fmt: skip
    answer_delay_ms: float = _opt(
        100.0, "the far end answers a dialled call after this", BEHAVIOUR, metavar="MS"
    )
    latency_model: str = _opt(
        "fixed", "notification latency model", BEHAVIOUR, choices=LATENCY_MODELS
    )
    latency_ms: float = _opt(
        0.0, "fixed notification latency, or the lognormal median", BEHAVIOUR, metavar="MS"
    )
    latency_p99_ms: float | None = _opt(
        None, "p99 of the lognormal latency model", BEHAVIOUR, metavar="MS"
    )
    delivery_delay_ms: float = _opt(
        0.0, "hold each notification this long after the server stamped it before "
        "handing it to CometD: a slow delivery path (serverGenerationTimestamp unchanged)",
        BEHAVIOUR, metavar="MS",
    )  # fmt: skip
    seed: int = _opt(1, "seed for latencies, ids and faults", BEHAVIOUR, metavar="N")
    csrf: bool = _opt(False, "require the CSRF token on POST/PUT/DELETE", BEHAVIOUR)
    require_origin: str | None = _opt(
        None, "refuse REST requests whose Origin header is not ORIGIN", BEHAVIOUR,
        metavar="ORIGIN", scenario=False,
    )  # fmt: skip
    drop_share: float = _opt(
        0.0, "drop this share of recording notifications", FAULTS, metavar="SHARE"
    )
    duplicate_share: float = _opt(
        0.0, "publish this share of recording notifications twice", FAULTS, metavar="SHARE"
    )
    delay_share: float = _opt(
        0.0, "delay this share of recording notifications by --delay-ms more", FAULTS,
        metavar="SHARE",
    )  # fmt: skip
    delay_ms: float = _opt(0.0, "extra delay for --delay-share", FAULTS, metavar="MS")
    http_error_share: float = _opt(
        0.0, "answer this share of recording operations with HTTP 503 (statusCode 4)", FAULTS,
        metavar="SHARE",
    )  # fmt: skip
    async_error_share: float = _opt(
        0.0, "accept this share of recording operations, then fail them: an ErrorMessage "
        "notification instead of the state change", FAULTS, metavar="SHARE",
    )  # fmt: skip
    voice_down: bool = _opt(
        False, "the voice service is down: every voice operation gets HTTP 503", FAULTS
    )
    no_recording_feature: bool = _opt(
        False, "the contact center lacks the feature api-voice-recording: calls offer no "
        "recording operation", FAULTS,
    )  # fmt: skip
    recording_unavailable_share: float = _opt(
        0.0, "this share of agents (seeded per agent) has no recording: StartCallRecording "
        "is absent from their calls' capabilities and api-voice-recording from their "
        "features", FAULTS, metavar="SHARE",
    )  # fmt: skip
    recording_unavailable_refusal: str = _opt(
        "refuse", "how their recording operations fail: refused at once (HTTP 400, "
        "statusCode 2), or accepted then failed by an ErrorMessage", FAULTS,
        choices=RECORDING_REFUSALS,
    )  # fmt: skip
    dial_busy_share: float = _opt(
        0.0, "this share of Dials reaches a busy destination: the call is released "
        "after --answer-delay-ms instead of answered", FAULTS, metavar="SHARE",
    )  # fmt: skip
    dial_no_answer_share: float = _opt(
        0.0, "this share of Dials is never answered: the call is released after "
        "--dial-no-answer-ms", FAULTS, metavar="SHARE",
    )  # fmt: skip
    dial_no_answer_ms: float = _opt(
        3000.0, "how long an unanswered call rings before it is released", FAULTS, metavar="MS"
    )
    throttle_share: float = _opt(
        0.0, "throttle this share of recording operations: HTTP --throttle-status with "
        "Retry-After, nothing changes", FAULTS, metavar="SHARE",
    )  # fmt: skip
    throttle_requests_share: float = _opt(
        0.0, "throttle this share of every other REST request too (log-in and set-up steps "
        "included; CometD's /notifications excepted): HTTP --throttle-status with "
        "Retry-After before the request reaches GWS, as Jetty's DoSFilter does",
        FAULTS, metavar="SHARE",
    )  # fmt: skip
    throttle_status: int = _opt(
        429, "the HTTP status of a throttled request (429 or 503)", FAULTS, metavar="N"
    )
    throttle_retry_after_s: int = _opt(
        1, "the Retry-After header of a throttled request, whole seconds", FAULTS, metavar="S"
    )
    expire_sessions_every_s: float = _opt(
        0.0, "every S seconds expire one random agent's CometD sessions", FAULTS, metavar="S"
    )
    stall_every_s: float = _opt(
        0.0, "every S seconds hold all notifications for --stall-ms", FAULTS, metavar="S"
    )
    stall_ms: float = _opt(0.0, "length of each stall", FAULTS, metavar="MS")
    cometd_timeout_ms: int = _opt(
        30_000, "how long a /meta/connect is held", COMETD, metavar="MS", scenario=False
    )
    cometd_interval_ms: int = _opt(0, "advice.interval", COMETD, metavar="MS", scenario=False)
    cometd_max_interval_ms: int = _opt(
        10_000, "a session without a connect for this long expires", COMETD, metavar="MS",
        scenario=False,
    )  # fmt: skip
    websocket: bool = _opt(
        False, "also offer CometD over websocket (GWS 8.5 offers long-polling only)", COMETD
    )
    truth_log: Path | None = _opt(  # noqa: RUF009 (the default is None)
        None, "write simulator-truth.csv: every notification published/dropped/duplicated",
        COMETD, metavar="CSV", scenario=False,
    )  # fmt: skip
    health_log: Path | None = _opt(  # noqa: RUF009 (the default is None)
        None, "write simulator.csv: this process's CPU, CPU wait, memory, fds, tasks and "
        "event-loop lag every 2 s", COMETD, metavar="CSV", scenario=False,
    )  # fmt: skip

    def check(self) -> SimulatorOptions:
        """Return self, or raise ``OptionError`` naming the first bad option."""
        if not 0 <= self.port <= 65535:
            raise OptionError("port", self.port, "an int in [0, 65535]")
        if not 1 <= self.agents <= MAX_AGENTS:
            raise OptionError("agents", self.agents, f"an int in [1, {MAX_AGENTS}]")
        if not self.password:
            raise OptionError("password", self.password, "a non-empty string")
        for spec in option_specs():
            value = getattr(self, spec.name)
            if spec.choices is not None:
                if value not in spec.choices:
                    raise OptionError(spec.name, value, f"one of {list(spec.choices)}")
            elif spec.name.endswith("_share"):
                if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                    raise OptionError(spec.name, value, "a share in [0, 1]")
            elif (
                spec.kind is float
                and value is not None
                and not (math.isfinite(value) and value >= 0)
            ):
                raise OptionError(spec.name, value, "a finite number >= 0")
        if self.latency_model == "lognormal":
            if self.latency_ms <= 0:
                raise OptionError(
                    "latency_ms", self.latency_ms, "> 0 (the median) with {latency_model} lognormal"
                )
            if self.latency_p99_ms is None or not self.latency_p99_ms > self.latency_ms:
                raise OptionError(
                    "latency_p99_ms",
                    self.latency_p99_ms,
                    "above {latency_ms} (the median) with {latency_model} lognormal",
                )
        elif self.latency_p99_ms is not None:
            raise OptionError(
                "latency_p99_ms", self.latency_p99_ms, "set only with {latency_model} lognormal"
            )
        if self.throttle_status not in THROTTLE_STATUSES:
            raise OptionError(
                "throttle_status", self.throttle_status, f"one of {list(THROTTLE_STATUSES)}"
            )
        for name in ("throttle_retry_after_s", "cometd_timeout_ms", "cometd_interval_ms"):
            if getattr(self, name) < 0:
                raise OptionError(name, getattr(self, name), "an int >= 0")
        if self.dial_busy_share + self.dial_no_answer_share > 1.0:
            raise OptionError(
                "dial_no_answer_share",
                self.dial_no_answer_share,
                "a share that, added to {dial_busy_share}, is at most 1",
            )
        if self.delay_share > 0 and self.delay_ms <= 0:
            raise OptionError("delay_ms", self.delay_ms, "> 0 when {delay_share} is set")
        if self.stall_every_s > 0 and not 0 < self.stall_ms < self.stall_every_s * 1000:
            raise OptionError("stall_ms", self.stall_ms, "> 0 and shorter than {stall_every_s}")
        if self.cometd_max_interval_ms <= 0:
            raise OptionError("cometd_max_interval_ms", self.cometd_max_interval_ms, "an int > 0")
        if not 1 <= self.nodes <= 16:
            raise OptionError("nodes", self.nodes, "an int in [1, 16]")
        if not 1 <= self.balancers <= 8:
            raise OptionError("balancers", self.balancers, "an int in [1, 8]")
        if self.balancers > 1 and self.nodes < 2:
            raise OptionError("balancers", self.balancers, "1 unless {nodes} >= 2")
        if self.fail_node_every_s > 0 and self.nodes < 2:
            raise OptionError("fail_node_every_s", self.fail_node_every_s, "0 unless {nodes} >= 2")
        if self.fail_node_every_s > 0 and not self.fail_node_down_s < self.fail_node_every_s:
            raise OptionError(
                "fail_node_down_s", self.fail_node_down_s, "shorter than {fail_node_every_s}"
            )
        if self.tls_dir is not None and not self.tls:
            raise OptionError("tls_dir", str(self.tls_dir), "given only with {tls}")
        if self.require_origin is not None and "://" not in self.require_origin:
            raise OptionError(
                "require_origin", self.require_origin, "an origin like http://host:port"
            )
        return self

    def to_json(self) -> dict[str, Any]:
        """The settings as plain JSON values (for a run manifest)."""
        return {
            key: str(value) if isinstance(value, Path) else value
            for key, value in asdict(self).items()
        }


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One declared option, as the CLI and the scenario reader see it."""

    name: str
    #: the value type without ``None``: bool, int, float, str or Path
    kind: type
    optional: bool
    default: Any
    help: str
    group: str
    metavar: str | None
    choices: tuple[str, ...] | None
    #: a scenario's ``[simulator]`` table may set it
    scenario: bool

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def option_specs() -> tuple[OptionSpec, ...]:
    """Every option in declaration order."""
    return _SPECS


def _specs() -> tuple[OptionSpec, ...]:
    hints = typing.get_type_hints(SimulatorOptions)
    specs = []
    for f in dataclasses.fields(SimulatorOptions):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        kind = args[0] if args else hint
        specs.append(
            OptionSpec(
                name=f.name,
                kind=kind,
                optional=bool(args),
                default=f.default,
                help=f.metadata["help"],
                group=f.metadata["group"],
                metavar=f.metadata["metavar"],
                choices=f.metadata["choices"],
                scenario=f.metadata["scenario"],
            )
        )
    return tuple(specs)


_SPECS = _specs()


class OptionError(ConfigError):
    """A bad option value. ``expected`` may name other options as ``{name}``; the
    message names them as command-line flags, ``scenario_expected`` as table keys."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        flags = {spec.name: spec.flag for spec in option_specs()}
        flag = "--" + name.replace("_", "-")
        super().__init__(f"{flag} must be {expected.format(**flags)}, got {value!r}")

    @property
    def scenario_expected(self) -> str:
        return self.expected.format(**{spec.name: spec.name for spec in option_specs()})
