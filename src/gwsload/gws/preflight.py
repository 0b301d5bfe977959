"""The preflight's checks against a real GWS (gevent), in the order of
:data:`gwsload.gws.preflight_checks.CHECKS`.

The network checks (DNS, TCP, TLS, HTTP, GWS) use the standard library and send no
credentials; the credentials of every agent of the plan are checked with one
``GET /api/v2/me`` each (``concurrency`` at a time); then one agent whose
credentials passed goes the whole way a run's agent goes (CometD, contact-center
session, Ready, a call, a recording start/stop cycle) and signs off (hang up, log
out) whatever happened. Every wait is bounded by the plan's timeouts.

Run as a child process by ``gwsload preflight`` and ``gwsload run``
(:mod:`gwsload.gws.preflight_child`).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Callable

from gevent.pool import Pool

from gwsload.gws.agent import Agent
from gwsload.gws.config import AgentConfig
from gwsload.gws.errors import GwsTransportError
from gwsload.gws.outcomes import Outcome
from gwsload.gws.preflight_checks import (
    CHECKS,
    MISSING_RECORDING_FEATURE,
    CheckResult,
    PreflightPlan,
    PreflightReport,
)
from gwsload.gws.protocol import ME_PATH, BaseUrl, parse_base_url
from gwsload.gws.session import GwsSession

__all__ = ["run_preflight"]

VERSION_PATH = "/api/v2/diagnostics/version"
#: what OpenSSL says when the other side answered the handshake with plain HTTP
_NOT_TLS = (
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "HTTP_REQUEST",
)


class _CheckError(Exception):
    """A check failed; its message is the reason."""


def _tls_context(plan: PreflightPlan) -> ssl.SSLContext:
    if plan.verify_tls:
        verifying = ssl.create_default_context()
        if plan.ca_file:
            verifying.load_verify_locations(cafile=plan.ca_file)
        return verifying
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _where(base: BaseUrl) -> str:
    return f"{base.host}:{base.port}"


def _dns(base: BaseUrl) -> str:
    try:
        infos = socket.getaddrinfo(base.host, base.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise _CheckError(f"cannot resolve the host name {base.host!r} ({reason})") from None
    return str(infos[0][4][0])


def _tcp(base: BaseUrl, timeout_s: float) -> str:
    try:
        socket.create_connection((base.host, base.port), timeout=timeout_s).close()
    except ConnectionRefusedError:
        raise _CheckError(
            f"{_where(base)} refused the connection (nothing listens there)"
        ) from None
    except TimeoutError:
        raise _CheckError(
            f"{_where(base)} did not accept a connection within {timeout_s:g} s"
        ) from None
    except OSError as exc:
        raise _CheckError(f"cannot connect to {_where(base)}: {exc.strerror or exc}") from None
    return ""


def _tls(base: BaseUrl, plan: PreflightPlan) -> str:
    if base.scheme != "https":
        return "not used (http://)"
    context = _tls_context(plan)
    try:
        with (
            socket.create_connection((base.host, base.port), timeout=plan.connect_timeout_s) as raw,
            context.wrap_socket(raw, server_hostname=base.host) as tls,
        ):
            return str(tls.version())
    except ssl.SSLCertVerificationError as exc:
        raise _CheckError(
            f"the certificate of {_where(base)} is not trusted ({exc.verify_message}); "
            "--ca-file PEM trusts a lab CA, --insecure skips the check on lab systems"
        ) from None
    except ssl.SSLError as exc:
        if any(mark in str(exc) for mark in _NOT_TLS):
            raise _CheckError(
                f"{_where(base)} does not speak TLS ({exc.reason}): a plain-HTTP server? "
                "use an http:// URL"
            ) from None
        raise _CheckError(f"TLS handshake with {_where(base)} failed: {exc}") from None
    except (TimeoutError, OSError) as exc:
        raise _CheckError(f"TLS handshake with {_where(base)} failed: {exc}") from None


def _get_version(base: BaseUrl, plan: PreflightPlan) -> tuple[int, bytes]:
    connection: http.client.HTTPConnection
    if base.scheme == "https":
        connection = http.client.HTTPSConnection(
            base.host,
            base.port,
            timeout=plan.request_timeout_s,
            context=_tls_context(plan),
        )
    else:
        connection = http.client.HTTPConnection(
            base.host, base.port, timeout=plan.request_timeout_s
        )
    try:
        connection.request("GET", VERSION_PATH, headers={"User-Agent": "gwsload preflight"})
        response = connection.getresponse()
        return response.status, response.read(65536)
    except (http.client.HTTPException, OSError) as exc:
        hint = " (a TLS server? use an https:// URL)" if base.scheme == "http" else ""
        raise _CheckError(
            f"no HTTP answer to GET {VERSION_PATH} from {_where(base)}: "
            f"{type(exc).__name__}: {exc}{hint}"
        ) from None
    finally:
        connection.close()


def _gws(status: int, body: bytes, found: list[str]) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    excerpt = body[:80].decode("utf-8", "replace").replace("\n", " ")
    if not isinstance(data, dict) or not isinstance(data.get("statusCode"), int):
        raise _CheckError(
            f"GET {VERSION_PATH} answered HTTP {status} without a GWS statusCode "
            f"({excerpt!r}): not a GWS server, or not its base URL"
        )
    if data["statusCode"] != 0:
        raise _CheckError(
            f"GET {VERSION_PATH} answered HTTP {status} statusCode {data['statusCode']}: "
            f"{data.get('statusMessage', '')}"
        )
    version = str(data.get("version") or "")
    found.append(version)
    return f"GWS {version or '(no version given)'}"


def _credentials(plan: PreflightPlan) -> tuple[CheckResult, int | None]:
    """One GET /api/v2/me per agent; the index of the first agent that passed."""
    verdicts: list[str | None] = [None] * len(plan.agents)

    def check(index: int) -> None:
        user, password = plan.agents[index]
        session = GwsSession(
            plan.target_url,
            user,
            password,
            origin=plan.origin,
            verify_tls=plan.verify_tls,
            ca_file=plan.ca_file,
            connect_timeout=plan.connect_timeout_s,
            network_timeout=plan.request_timeout_s,
        )
        try:
            response = session.get(ME_PATH, operation="GetMe")
            verdicts[index] = "" if response.ok else f"{user}: {response.error_text()}"
        except GwsTransportError as exc:
            verdicts[index] = f"{user}: {exc}"
        finally:
            session.close()

    Pool(max(1, plan.concurrency)).map(check, range(len(plan.agents)))
    passed = [i for i, v in enumerate(verdicts) if v == ""]
    failure = next((v for v in verdicts if v), "")
    result = CheckResult("credentials", len(plan.agents), len(passed), failure)
    return result, (passed[0] if passed else None)


class _Deep:
    """One agent the whole way: cometd, session, dial, recording, cycle, sign-off."""

    def __init__(self, plan: PreflightPlan, user: str, password: str) -> None:
        self.plan = plan
        self.outcomes: list[Outcome] = []
        self.agent = Agent(
            AgentConfig(
                base_url=plan.target_url,
                user=user,
                password=password,
                destination=plan.dial_destination,
                transport=plan.transport,
                origin=plan.origin,
                verify_tls=plan.verify_tls,
                ca_file=plan.ca_file,
                notification_timeout_s=plan.notification_timeout_s,
                call_state_timeout_s=plan.call_state_timeout_s,
                request_timeout_s=plan.request_timeout_s,
                cometd_timeout_s=plan.request_timeout_s,
            ),
            on_outcome=self.outcomes.append,
        )

    def cometd(self) -> str:
        self.agent.open_http_session()
        self.agent.open_notifications()
        return ""

    def session(self) -> str:
        self.agent.start_contact_center_session()
        self.agent.get_ready()
        return ""

    def dial(self) -> str:
        try:
            call_id = self.agent.establish_call()
        except Exception as exc:
            raise _CheckError(
                f"the dial destination {self.plan.dial_destination!r} did not answer: {exc}"
            ) from None
        return f"call {call_id}"

    def recording(self) -> str:
        call = self.agent.calls.get(self.agent.call_id or "") or {}
        offered = [str(c) for c in call.get("capabilities") or ()]
        if "StartCallRecording" not in offered and "StopCallRecording" not in offered:
            raise _CheckError(
                f"{MISSING_RECORDING_FEATURE} (the call offers no StartCallRecording; "
                f"it offers {', '.join(offered) or 'nothing'})"
            )
        return ""

    def cycle(self) -> str:
        operations = ["StartCallRecording", "StopCallRecording"]
        if self.agent.recording_state in ("Recording", "Paused"):
            operations.insert(0, "StopCallRecording")  # a call left recording by a run
        for operation in operations:
            self.outcomes.clear()
            self.agent.record(operation)
            outcome = self.outcomes[-1] if self.outcomes else None
            if outcome is None or outcome.kind != "ok":
                kind = outcome.kind if outcome is not None else "no outcome"
                detail = outcome.error if outcome is not None and outcome.error else ""
                if kind == "lost":
                    detail = (
                        f"no CallRecordingStateChange within {self.plan.notification_timeout_s:g} s"
                    )
                raise _CheckError(f"{operation}: {kind}{': ' + detail if detail else ''}")
        return ""

    def sign_off(self) -> str:
        try:
            if self.agent.call_id is not None:
                self.agent.hangup()
        finally:
            self.agent.logout()
        return ""


def _run(name: str, step: Callable[[], str], tried: int = 1) -> CheckResult:
    try:
        note = step()
    except _CheckError as exc:
        return CheckResult(name, tried, 0, str(exc))
    except Exception as exc:  # the client's own errors carry the reason
        return CheckResult(name, tried, 0, f"{exc}" or type(exc).__name__)
    return CheckResult(name, tried, tried, note=note)


def run_preflight(plan: PreflightPlan) -> PreflightReport:
    """Every check, in order; the ones after a failure are not run."""
    base = parse_base_url(plan.target_url)
    results: list[CheckResult] = []
    status_body: list[tuple[int, bytes]] = []
    version: list[str] = []

    def answer() -> str:
        status_body.append(_get_version(base, plan))
        return f"HTTP {status_body[0][0]}"

    network: list[tuple[str, Callable[[], str]]] = [
        ("dns", lambda: f"{base.host} is {_dns(base)}"),
        ("tcp", lambda: _tcp(base, plan.connect_timeout_s)),
        ("tls", lambda: _tls(base, plan)),
        ("http", answer),
        ("gws", lambda: _gws(*status_body[0], version)),
    ]
    for name, step in network:
        results.append(_run(name, step, tried=0))
        if not results[-1].ok:
            return _finish(plan, results, version)
    credentials, first = _credentials(plan)
    results.append(credentials)
    if first is None:
        return _finish(plan, results, version)
    deep = _Deep(plan, *plan.agents[first])
    steps = [
        ("cometd", deep.cometd),
        ("session", deep.session),
        ("dial", deep.dial),
        ("recording", deep.recording),
        ("cycle", deep.cycle),
    ]
    try:
        for name, step in steps:
            results.append(_run(name, step))
            if not results[-1].ok:
                break
    finally:
        results.append(_run("sign-off", deep.sign_off))
    return _finish(plan, results, version)


def _finish(plan: PreflightPlan, results: list[CheckResult], version: list[str]) -> PreflightReport:
    done = {r.check for r in results}
    # checks after a failure are listed as not run (sign-off always ran when listed)
    tail = [CheckResult(name, 0, 0, skipped=True) for name in CHECKS if name not in done]
    order = list(CHECKS)
    rows = sorted(results + tail, key=lambda r: order.index(r.check))
    sample = ""
    if plan.agents_listed > len(plan.agents):
        sample = f"credentials of a sample of {len(plan.agents)} of the {plan.agents_listed} agents"
    return PreflightReport(plan.target_url, rows, sample, version[0] if version else "")
