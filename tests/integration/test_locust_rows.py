"""Honest Locust rows, on real Locust statistics: a lost notification or an
``ErrorMessage`` fails its NOTIFY row without a latency sample, and NOTIFY and
ANOMALY rows stay out of the Aggregated total (the RPS header, the Aggregated row)
in one process and after a worker's report reached the master."""

from __future__ import annotations

from typing import Any

import pytest
from locust.env import Environment
from locust.stats import setup_distributed_stats_event_listeners

from gwsload.gws.outcomes import Anomaly, Outcome, OutcomeKind
from gwsload.harness.recorder import ANOMALY_REQUEST_TYPE, NOTIFY_REQUEST_TYPE, OpRecorder

pytestmark = pytest.mark.gevent

NOTIFY_ROW = "CallRecordingStateChange Recording"


def outcome(kind: OutcomeKind, *, notify_s: float | None, response_s: float | None) -> Outcome:
    return Outcome(
        kind=kind, agent="agent0001", call_id="c1", operation="StartCallRecording",
        notification_type="CallRecordingStateChange", expected_state="Recording",
        t_intended=100.0, t_sent=100.0,
        t_response=None if response_s is None else 100.0 + response_s,
        t_notified=None if notify_s is None else 100.0 + notify_s,
        http_status=200 if response_s is not None else 0,
        status_code=(4 if kind == "async_error" else 0) if response_s is not None else -1,
        error="" if kind == "ok" else f"{kind} text", server_ts=None, server_seq=-1,
        wall_offset=0.0,
    )  # fmt: skip


def record_mix(environment: Environment) -> OpRecorder:
    recorder = OpRecorder(
        "local", start=0.0, request_event=environment.events.request, stats=environment.stats
    )
    recorder.record_outcome(outcome("ok", notify_s=0.040, response_s=0.003))
    recorder.record_outcome(outcome("ok", notify_s=0.050, response_s=0.004))
    recorder.record_outcome(outcome("lost", notify_s=None, response_s=0.003))
    recorder.record_outcome(outcome("async_error", notify_s=None, response_s=0.003))
    recorder.record_outcome(outcome("transport_error", notify_s=None, response_s=None))
    recorder.record_anomaly(
        Anomaly(kind="late", agent="agent0001", call_id="c1",
                notification_type="CallRecordingStateChange", recording_state="Recording",
                operation="StartCallRecording", t_received=112.0, t_sent=100.0,
                server_ts=None, server_seq=-1, wall_offset=0.0)
    )  # fmt: skip
    return recorder


def check(stats: Any) -> None:
    notify = stats.get(NOTIFY_ROW, NOTIFY_REQUEST_TYPE)
    assert notify.num_requests == 4 and notify.num_failures == 2
    assert notify.num_none_requests == 2  # lost and async_error: counted, no sample
    assert notify.min_response_time == pytest.approx(40.0)  # not pulled to 0 by the lost one
    assert notify.median_response_time == pytest.approx(50.0, abs=0.5)  # of 40 and 50 only
    assert notify.avg_response_time == pytest.approx(45.0)
    post = stats.get("StartCallRecording", "POST")
    assert post.num_requests == 5 and post.num_failures == 1  # the transport error
    assert post.num_none_requests == 1 and post.min_response_time == pytest.approx(3.0)
    assert stats.get("late", ANOMALY_REQUEST_TYPE).num_requests == 1
    # Aggregated (the RPS header, the Aggregated row) counts the HTTP requests only
    assert stats.total.num_requests == 5 and stats.total.num_failures == 1
    failures = sorted(str(e.error) for e in stats.errors.values() if e.method == "NOTIFY")
    assert len(failures) == 2
    assert "async_error: async_error text" in failures[0] and "lost: lost text" in failures[1]


def with_runner() -> Environment:
    environment = Environment()
    environment.create_local_runner()  # its request listener fills the statistics
    return environment


def test_notify_rows_in_one_process() -> None:
    environment = with_runner()
    record_mix(environment)
    check(environment.stats)


def test_notify_rows_after_a_worker_reported_to_the_master() -> None:
    worker, master = with_runner(), Environment()
    setup_distributed_stats_event_listeners(worker.events, worker.stats)
    setup_distributed_stats_event_listeners(master.events, master.stats)
    record_mix(worker)
    data: dict[str, Any] = {}
    worker.events.report_to_master.fire(client_id="w1", data=data)
    master.events.worker_report.fire(client_id="w1", data=data)
    check(master.stats)
