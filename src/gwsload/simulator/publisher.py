"""Hands notifications to the CometD endpoint after the modelled delay, with faults applied.

Theory of operation. ``submit()`` is called when an operation is accepted. Each
notification gets a due time (now + latency + any injected extra delay) and goes
into one heap ordered by (due time, arrival); a single loop timer fires for the
head. Notifications of one agent never overtake each other: a due time is never
earlier than the agent's previous one, as with a real node that forwards one
agent's T-Server events in order. During a stall nothing is published; at its end
everything that fell due goes out in order.

At publish time each notification gets the next sequence number and the wall-clock
publish time. The time travels the way GWS sends it, in the notification's ``data``:
``metrics.eventProcessing.serverGenerationTimestamp`` (UNIX milliseconds, an
integer) with ``serverProcessingTimeTotalMs`` / ``nodeProcessingTimeNanos`` (here:
the time from accepting the operation to publishing it), as in the GWS 8.5.2
samples. The sequence number is the simulator's own and travels in the Bayeux
``ext`` as ``{"gwsload": {"seq"}}``, outside the GWS payload. Both go to the truth
log with the action ``published``, ``dropped`` or ``duplicated``.

``delivery_delay_ms`` models a slow path between the server and the client (a
loaded CometD layer, a slow network): a stamped notification is handed to the
endpoint that much later, its timestamp and truth-log time unchanged, so the
server time stays and only the delivery time grows. One constant delay keeps each
agent's notifications in order.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gwsload.simulator.faults import Faults
from gwsload.simulator.latency import LatencyModel
from gwsload.simulator.truth_log import TruthLog
from gwsload.simulator.world import Notification

log = logging.getLogger("gwsload.simulator")

__all__ = ["NotificationSink", "Published", "Publisher"]


class NotificationSink(Protocol):
    """The CometD endpoint's side of the seam."""

    def notify(
        self, user_id: str, channel: str, data: dict[str, Any], ext: dict[str, Any] | None = None
    ) -> int: ...


@dataclass(frozen=True, slots=True)
class Published:
    """What observers see: the notification, its fate, and the stamps it carried."""

    notification: Notification
    action: str
    seq: int
    ts: float
    delay_ms: float
    #: sessions it was handed to; -1 while a delivery delay holds it
    receivers: int


@dataclass(order=True, slots=True)
class _Pending:
    due: float
    order: int
    accepted: float = field(compare=False)
    notification: Notification = field(compare=False)
    action: str = field(compare=False)


class Publisher:
    def __init__(
        self,
        sink: NotificationSink,
        latency: LatencyModel,
        faults: Faults,
        *,
        truth: TruthLog | None = None,
        delivery_delay_ms: float = 0.0,
    ) -> None:
        self._sink = sink
        self._delivery_delay_s = delivery_delay_ms / 1000.0
        self._latency = latency
        self._faults = faults
        self._truth = truth
        self._heap: list[_Pending] = []
        self._order = 0
        self._seq = 0
        self._last_due: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0
        self._stalled_until = 0.0
        self._closed = False
        #: called for every published, dropped or duplicated notification (tests, stats)
        self.observers: list[Callable[[Published], None]] = []
        self.counts = {"published": 0, "dropped": 0, "duplicated": 0}
        #: how many stalls were started
        self.stalls = 0

    @property
    def pending(self) -> int:
        return len(self._heap)

    def submit(self, notifications: Iterable[Notification]) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for notification in notifications:
            delay_ms = self._latency.sample_ms()
            action = "published"
            duplicate = False
            if notification.is_recording:
                fault = self._faults.for_recording_notification()
                if fault.drop:
                    action = "dropped"
                delay_ms += fault.extra_delay_ms
                duplicate = fault.duplicate
            due = max(now + delay_ms / 1000.0, self._last_due.get(notification.agent, 0.0))
            self._last_due[notification.agent] = due
            self._push(due, now, notification, action)
            if duplicate:
                self._push(due, now, notification, "duplicated")
        self._arm(loop)

    def stall(self, duration_s: float) -> None:
        """Hold every notification for ``duration_s`` from now."""
        loop = asyncio.get_running_loop()
        self.stalls += 1
        self._stalled_until = max(self._stalled_until, loop.time() + duration_s)
        self._arm(loop)

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()

    def _push(self, due: float, accepted: float, notification: Notification, action: str) -> None:
        self._order += 1
        heapq.heappush(self._heap, _Pending(due, self._order, accepted, notification, action))

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._closed or not self._heap:
            return
        when = max(self._heap[0].due, self._stalled_until)
        if self._timer is not None:
            if self._timer_when <= when:
                return
            self._timer.cancel()
        self._timer_when = when
        self._timer = loop.call_at(when, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        try:
            if now >= self._stalled_until:
                while self._heap and self._heap[0].due <= now:
                    pending = heapq.heappop(self._heap)
                    try:
                        self._emit(pending, now, loop)
                    except Exception:  # one bad notification must not stop the others
                        log.exception(
                            "publishing a %s failed", pending.notification.notification_type
                        )
        finally:
            self._arm(loop)

    def _emit(self, pending: _Pending, now: float, loop: asyncio.AbstractEventLoop) -> None:
        self._seq += 1
        ts = time.time()
        notification = pending.notification
        receivers = 0
        delay_ms = (now - pending.accepted) * 1000.0
        if pending.action != "dropped":
            data = {**notification.data, "metrics": _event_processing(ts, delay_ms)}
            ext = {"gwsload": {"seq": self._seq}}
            if self._delivery_delay_s > 0:
                receivers = -1
                loop.call_later(self._delivery_delay_s, self._deliver, notification, data, ext)
            else:
                receivers = self._sink.notify(notification.user_id, notification.channel, data, ext)
        self.counts[pending.action] += 1
        if self._truth is not None:
            self._truth.write(
                ts=ts,
                seq=self._seq,
                agent=notification.agent,
                call_id=notification.call_id,
                notification_type=notification.notification_type,
                recording_state=notification.recording_state,
                action=pending.action,
                delay_ms=delay_ms,
            )
        if self.observers:
            published = Published(notification, pending.action, self._seq, ts, delay_ms, receivers)
            for observer in self.observers:
                observer(published)

    def _deliver(
        self, notification: Notification, data: dict[str, Any], ext: dict[str, Any]
    ) -> None:
        if self._closed:
            return
        try:
            self._sink.notify(notification.user_id, notification.channel, data, ext)
        except Exception:  # as in _fire: one bad notification must not stop the others
            log.exception("delivering a %s failed", notification.notification_type)


def _event_processing(generated_s: float, processing_ms: float) -> dict[str, Any]:
    """GWS's ``metrics`` member of a notification's ``data`` (shape of the 8.5.2 samples)."""
    return {
        "eventProcessing": {
            "nodeProcessingTimeNanos": int(processing_ms * 1e6),
            "serverGenerationTimestamp": int(generated_s * 1000),
            "serverProcessingTimeTotalMs": int(processing_ms),
        }
    }
