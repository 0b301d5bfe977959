"""Pairs call operations with the CometD notifications that confirm them.

Theory of operation. GWS answers an operation (``StartCallRecording``...) at once with
``{"statusCode": 0}``; the real result arrives later as a ``CallStateChangeMessage``
on ``/v2/me/calls``. For each operation the caller:

1. registers an :class:`Expectation` with :meth:`NotificationMatcher.expect` *before*
   writing the request (so a fast notification is never missed), keyed by
   (call id, ``notificationType``, expected state) and queued FIFO per key;
2. reports the HTTP result with :meth:`~NotificationMatcher.on_response` (or
   :meth:`~NotificationMatcher.on_transport_error` when there was none);
3. feeds every delivery to :meth:`~NotificationMatcher.on_notification`, which pairs
   it with the oldest expectation of its key still waiting for a notification;
4. calls :meth:`~NotificationMatcher.expire` now and then to declare expectations
   ``lost`` once their notification timeout has passed.

Both orders of HTTP response and notification are normal. An operation is final (an
:class:`Outcome`) with both (``ok``), with an error response (``http_error``,
``api_error``, ``transport_error``), with an accepted response and an ``ErrorMessage``
for its call (``async_error``, :meth:`~NotificationMatcher.on_error_message`), or
when the timeout passes with an accepted response and nothing else (``lost``); one
still waiting for its HTTP response is never lost: the HTTP timeout bounds that wait.

Notifications that are not a clean match become :class:`Anomaly` records: ``late``
(matches an operation already declared lost), ``duplicate`` (matches an operation
that already had its notification) and ``unexpected`` (a ``CallRecordingStateChange``
that matches nothing). Lost and matched operations are remembered for ``retain_s``
(:mod:`gwsload.gws.settled`) so that late and duplicate copies can be recognised.

Pure logic: standard library only, no clock, no I/O. Times are floats on one
monotonic clock (the caller's ``time.perf_counter()``); ``wall_offset`` converts
them to UNIX time (``unix = t + wall_offset``) for rows and for comparisons with the
publish timestamps some servers (the simulator) attach to notifications.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from gwsload.contract.operations import response_outcome
from gwsload.gws.expectation import (
    CALL_RECORDING_STATE_CHANGE,
    CALL_STATE_CHANGE_MESSAGE,
    ERROR_MESSAGE,
    RECORDING_OPERATIONS,
    STATUS_CHANGE,
    Expectation,
    Key,
    state_of,
)
from gwsload.gws.outcomes import Anomaly, AnomalyKind, Outcome, OutcomeKind
from gwsload.gws.settled import SettledOperations

__all__ = [
    "CALL_RECORDING_STATE_CHANGE",
    "CALL_STATE_CHANGE_MESSAGE",
    "ERROR_MESSAGE",
    "RECORDING_OPERATIONS",
    "STATUS_CHANGE",
    "Anomaly",
    "AnomalyKind",
    "Expectation",
    "NotificationMatcher",
    "Outcome",
    "OutcomeKind",
    "state_of",
]


class NotificationMatcher:
    """Matches one agent's operations with its notifications. Not thread-safe; under
    gevent all calls happen in one OS thread and none of them yields.

    Args:
        agent: agent name copied into every outcome and anomaly.
        timeout_s: notification timeout (``notification_timeout_s`` of the scenario).
        retain_s: how long lost and matched operations are remembered to recognise
            late and duplicate notifications (default: max(60 s, 3 x timeout)).
        wall_offset: ``time.time() - time.perf_counter()``, read once by the caller.
        server_clock_slack_s: when a notification carries the server's publish time, an
            expectation registered more than this after that time cannot be its match
            (it was published before the request existed); None disables the check.
    """

    def __init__(
        self,
        *,
        agent: str = "",
        timeout_s: float = 10.0,
        retain_s: float | None = None,
        wall_offset: float = 0.0,
        server_clock_slack_s: float | None = 0.05,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.agent = agent
        self.timeout_s = timeout_s
        self._settled = SettledOperations(
            retain_s if retain_s is not None else max(60.0, 3.0 * timeout_s)
        )
        self.wall_offset = wall_offset
        self.server_clock_slack_s = server_clock_slack_s
        # expectations still waiting for their notification, FIFO per key
        self._waiting: dict[Key, deque[Expectation]] = {}

    @property
    def retain_s(self) -> float:
        return self._settled.retain_s

    # -- registering and answering -------------------------------------------------

    def expect(
        self,
        call_id: str,
        operation: str,
        expected_state: str,
        *,
        now: float,
        notification_type: str = CALL_RECORDING_STATE_CHANGE,
        t_intended: float | None = None,
        timeout_s: float | None = None,
    ) -> Expectation:
        """Register an operation about to be sent; ``now`` is its provisional ``t_sent``
        (refined by ``on_response(t_sent=...)``). ``t_intended`` defaults to ``now``."""
        exp = Expectation(
            call_id=call_id,
            operation=operation,
            notification_type=notification_type,
            expected_state=expected_state,
            t_registered=now,
            t_intended=now if t_intended is None else t_intended,
            t_sent=now,
            timeout_s=self.timeout_s if timeout_s is None else timeout_s,
        )
        self._waiting.setdefault(exp.key, deque()).append(exp)
        return exp

    def expect_recording(
        self, call_id: str, operation: str, *, now: float, t_intended: float | None = None
    ) -> Expectation:
        """:meth:`expect` for a recording operation (state taken from
        :data:`RECORDING_OPERATIONS`)."""
        try:
            state = RECORDING_OPERATIONS[operation]
        except KeyError:
            known = ", ".join(RECORDING_OPERATIONS)
            raise ValueError(f"operation must be one of {known}, got {operation!r}") from None
        return self.expect(call_id, operation, state, now=now, t_intended=t_intended)

    def on_response(
        self,
        exp: Expectation,
        now: float,
        http_status: int,
        status_code: int,
        *,
        t_sent: float | None = None,
        error: str = "",
        node: str = "",
    ) -> Outcome | None:
        """Record the HTTP response (``now`` = ``t_response``). Returns the outcome when
        the operation is now final, None while it still waits for its notification.
        ``t_sent``: the precise send stamp, replacing the provisional one. ``node``: the
        server node that answered, when the target names it."""
        if exp.outcome is not None:
            return None
        exp.node = node
        if t_sent is not None:
            exp.t_sent = t_sent
        exp.t_response = now
        exp.http_status = http_status
        exp.status_code = status_code
        exp.error = error
        kind = response_outcome(http_status, status_code)
        if kind == "api_error":
            reason = (
                f"statusCode {status_code}" if status_code > 0 else "response without statusCode"
            )
            return self._finish(exp, "api_error", error or reason)
        if kind == "http_error":
            return self._finish(exp, "http_error", error or f"HTTP {http_status}")
        if exp.async_error is not None:
            return self._finish_async(exp)
        if exp.t_notified is not None:
            return self._finish(exp, "ok", "")
        if now >= exp.deadline:
            return self._declare_lost(exp)
        return None

    def on_transport_error(
        self, exp: Expectation, now: float, error: str, *, t_sent: float | None = None
    ) -> Outcome | None:
        """No HTTP response (connect failure, reset, timeout). Final at once."""
        if exp.outcome is not None:
            return None
        if t_sent is not None:
            exp.t_sent = t_sent
        return self._finish(exp, "transport_error", error or "no response")

    # -- notifications ------------------------------------------------------------

    def on_error_message(self, data: Mapping[str, Any], now: float) -> Outcome | None:
        """Take an ``ErrorMessage``: the oldest operation still in flight on its call
        (of its ``operationName``, when given) failed behind GWS. It ends as
        ``async_error`` with the server's text and ``errorCode`` (at once, or when its
        HTTP response comes); an error for nothing in flight is ignored."""
        call, call_id = data.get("call"), data.get("callId")
        if not isinstance(call_id, str) and isinstance(call, Mapping):
            call_id = call.get("id")
        operation, code, text = (
            data.get(k) for k in ("operationName", "errorCode", "errorMessage")
        )
        exp = self._oldest_in_flight(
            call_id if isinstance(call_id, str) else "",
            operation if isinstance(operation, str) else None,
        )
        if exp is None:
            return None
        message = text if isinstance(text, str) and text else "no errorMessage"
        code = code if isinstance(code, int) and not isinstance(code, bool) else -1
        exp.async_error = (f"ErrorMessage: {message}"[:200], code)
        if exp.t_response is None:
            return None  # final when its (accepted) response comes
        return self._finish_async(exp)

    def on_notification(
        self,
        data: Mapping[str, Any],
        now: float,
        server_ts: float | None = None,
        seq: int | None = None,
    ) -> list[Outcome | Anomaly]:
        """Take the ``data`` of one delivery (``now`` = its arrival time). Returns what
        became final: the completed operation and/or an anomaly; often nothing."""
        if data.get("messageType") != CALL_STATE_CHANGE_MESSAGE:
            return []
        ntype = data.get("notificationType")
        call = data.get("call")
        if not isinstance(ntype, str) or not isinstance(call, Mapping):
            return []
        call_id = call.get("id")
        call_id = call_id if isinstance(call_id, str) else ""
        state = state_of(ntype, call)
        key = (call_id, ntype, state)
        server_seq = -1 if seq is None else seq

        exp = self._pop_waiting(key, server_ts)
        if exp is not None:
            exp.t_notified = now
            exp.server_ts = server_ts
            exp.server_seq = server_seq
            self._settled.matched(exp)
            if exp.t_response is not None and exp.outcome is None:
                return [self._finish(exp, "ok", "")]
            return []

        kind: AnomalyKind
        related, first_copy = self._settled.claim_lost(key)
        if related is not None and first_copy:
            kind = "late"
        else:
            matched = self._settled.last_matched(key)
            if matched is not None and (related is None or matched.t_sent > related.t_sent):
                related = matched
            if related is not None:
                kind = "duplicate"
            elif ntype == CALL_RECORDING_STATE_CHANGE:
                kind = "unexpected"
            else:
                return []  # other call events nobody waits for are normal traffic
        return [
            Anomaly(
                kind=kind,
                agent=self.agent,
                call_id=call_id,
                notification_type=ntype,
                recording_state=state,
                operation=related.operation if related is not None else "",
                t_received=now,
                t_sent=related.t_sent if related is not None else None,
                server_ts=server_ts,
                server_seq=server_seq,
                wall_offset=self.wall_offset,
                node=related.node if related is not None else "",
            )
        ]

    # -- time ---------------------------------------------------------------------

    def expire(self, now: float) -> list[Outcome]:
        """Declare lost every accepted operation whose timeout has passed, and forget
        lost/matched operations older than ``retain_s``."""
        lost: list[Outcome] = []
        for key in list(self._waiting):
            queue = self._waiting[key]
            for exp in list(queue):
                if exp.t_response is not None and now >= exp.deadline:
                    lost.append(self._declare_lost(exp))  # drops empty queues itself
        self._settled.forget_older(now)
        return lost

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`expire` could declare something lost (None: nothing
        is waiting for a notification after an accepted response)."""
        deadlines = [
            e.deadline for q in self._waiting.values() for e in q if e.t_response is not None
        ]
        return min(deadlines) if deadlines else None

    def pending(self) -> int:
        """Operations not yet final (waiting for a response or a notification)."""
        return sum(len(q) for q in self._waiting.values())

    # -- internals ----------------------------------------------------------------

    def _pop_waiting(self, key: Key, server_ts: float | None) -> Expectation | None:
        queue = self._waiting.get(key)
        if not queue:
            return None
        for exp in queue:
            if self._could_cause(exp, server_ts):
                queue.remove(exp)
                if not queue:
                    del self._waiting[key]
                return exp
        return None

    def _oldest_in_flight(self, call_id: str, operation: str | None) -> Expectation | None:
        found: Expectation | None = None
        for queue in self._waiting.values():
            for exp in queue:
                if exp.call_id != call_id or exp.async_error is not None:
                    continue
                if operation is not None and exp.operation != operation:
                    continue
                if found is None or exp.t_registered < found.t_registered:
                    found = exp
        return found

    def _finish_async(self, exp: Expectation) -> Outcome:
        text, code = exp.async_error or ("", -1)
        return self._finish(exp, "async_error", text, status_code=code)

    def _could_cause(self, exp: Expectation, server_ts: float | None) -> bool:
        if exp.async_error is not None:
            return False  # GWS said it failed: no state change can be its doing
        if server_ts is None or self.server_clock_slack_s is None:
            return True
        registered_unix = exp.t_registered + self.wall_offset
        return server_ts >= registered_unix - self.server_clock_slack_s

    def _declare_lost(self, exp: Expectation) -> Outcome:
        outcome = self._finish(exp, "lost", f"no notification within {exp.timeout_s:g} s")
        self._settled.lost(exp)
        return outcome

    def _finish(
        self, exp: Expectation, kind: OutcomeKind, error: str, *, status_code: int | None = None
    ) -> Outcome:
        queue = self._waiting.get(exp.key)
        if queue is not None and exp in queue:
            queue.remove(exp)
            if not queue:
                del self._waiting[exp.key]
        outcome = Outcome(
            kind=kind,
            agent=self.agent,
            call_id=exp.call_id,
            operation=exp.operation,
            notification_type=exp.notification_type,
            expected_state=exp.expected_state,
            t_intended=exp.t_intended,
            t_sent=exp.t_sent,
            t_response=exp.t_response,
            t_notified=exp.t_notified,
            http_status=exp.http_status,
            status_code=exp.status_code if status_code is None else status_code,
            error=error,
            server_ts=exp.server_ts,
            server_seq=exp.server_seq,
            wall_offset=self.wall_offset,
            node=exp.node,
        )
        exp.outcome = outcome
        return outcome
