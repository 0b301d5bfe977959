"""What the preflight checks and how its answer reads. Pure: no gevent, no I/O.

The preflight (``gwsload preflight``, and ``gwsload run`` before any load) checks, in
order, what a long run against a real GWS needs; a check that fails stops the ones
after it (they show as not run). The gevent side is :mod:`gwsload.gws.preflight`,
run as a child process; it reads a :class:`PreflightPlan` and writes a
:class:`PreflightReport`, both as JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "CHECKS",
    "MISSING_RECORDING_FEATURE",
    "CheckResult",
    "PreflightPlan",
    "PreflightReport",
]

#: check name -> what it shows, in the order they run
CHECKS: dict[str, str] = {
    "dns": "the target's host name resolves",
    "tcp": "the target accepts TCP connections",
    "tls": "TLS handshake (https:// only), certificate verified unless --insecure",
    "http": "GET /api/v2/diagnostics/version gets an HTTP answer",
    "gws": "the answer is GWS JSON with statusCode 0",
    "credentials": "GET /api/v2/me with each agent's credentials",
    "cometd": "CometD handshake and subscriptions to /v2/me/calls and /v2/me/devices",
    "session": "StartContactCenterSession (voice) and Ready",
    "dial": "the dial destination answers: the call is Established in time",
    "recording": "the call offers StartCallRecording",
    "cycle": "StartCallRecording and StopCallRecording, each with its notification",
    "sign-off": "the preflight agent hangs up and logs out",
}
#: the sentence for a call without StartCallRecording
MISSING_RECORDING_FEATURE = "the contact center lacks the required feature api-voice-recording"


@dataclass(frozen=True, slots=True)
class PreflightPlan:
    """What the preflight child needs (it holds passwords: a private file)."""

    target_url: str
    #: [username, password] of each agent whose credentials are checked
    agents: list[list[str]]
    #: agents in the agents file (more than ``agents`` when a sample is checked)
    agents_listed: int
    verify_tls: bool = True
    #: an extra CA bundle to trust (a lab CA)
    ca_file: str | None = None
    origin: str | None = None
    transport: str = "long-polling"
    dial_destination: str = "5000"
    request_timeout_s: float = 10.0
    notification_timeout_s: float = 10.0
    call_state_timeout_s: float = 15.0
    connect_timeout_s: float = 5.0
    #: credentials checked at once
    concurrency: int = 20

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PreflightPlan:
        return cls(**json.loads(text))


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One row of the table: agents tried and passed ("-" when not per agent)."""

    check: str
    tried: int
    passed: int
    #: the first failure with its reason ("" when every try passed)
    failure: str = ""
    #: the check did not run: an earlier one failed
    skipped: bool = False
    #: a remark when it passed (e.g. "not used (http://)", "GWS 8.5.200.50")
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.failure and not self.skipped


@dataclass(frozen=True, slots=True)
class PreflightReport:
    target_url: str
    results: list[CheckResult] = field(default_factory=list)
    #: e.g. "credentials of a sample of 50 of the 10,000 agents"; "" when all are checked
    sample: str = ""
    #: what ``GET /api/v2/diagnostics/version`` said ("" when not reached)
    gws_version: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    def to_manifest(self) -> dict[str, Any]:
        """The manifest's ``target.preflight``: verdict, GWS version, each check's result."""
        return {
            "passed": self.passed,
            "gws_version": self.gws_version or None,
            "sample": self.sample or None,
            "checks": {
                r.check: "not run" if r.skipped else (f"FAIL: {r.failure}" if r.failure else "ok")
                for r in self.results
            },
        }

    def problems(self) -> list[str]:
        """One line per failed check."""
        return [f"{r.check}: {r.failure}" for r in self.results if r.failure]

    def table(self) -> list[str]:
        """The table ``gwsload preflight`` prints: check, agents tried, passed, result."""
        width = max(len(name) for name in CHECKS)
        lines = [f"{'check':<{width}}  {'tried':>6}  {'passed':>6}  result"]
        for r in self.results:
            if r.skipped:
                result = "not run (an earlier check failed)"
            elif r.failure:
                result = f"FAIL: {r.failure}"
            else:
                result = f"ok{': ' + r.note if r.note else ''}"
            tried = str(r.tried) if r.tried else "-"
            passed = str(r.passed) if r.tried else "-"
            lines.append(f"{r.check:<{width}}  {tried:>6}  {passed:>6}  {result}")
        return lines

    def to_json(self) -> str:
        return json.dumps(
            {
                "target_url": self.target_url,
                "sample": self.sample,
                "gws_version": self.gws_version,
                "results": [asdict(r) for r in self.results],
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreflightReport:
        return cls(
            target_url=str(data["target_url"]),
            results=[CheckResult(**r) for r in data.get("results") or ()],
            sample=str(data.get("sample") or ""),
            gws_version=str(data.get("gws_version") or ""),
        )
