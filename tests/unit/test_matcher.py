"""The notification matcher: outcomes and anomalies, driven by explicit times."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gwsload.contract.segments import ANOMALY_COLUMNS, EVENT_COLUMNS
from gwsload.gws.matcher import Anomaly, Expectation, NotificationMatcher, Outcome

CALL = "c0ffee"


def rec(state: str, call_id: str = CALL, ntype: str = "CallRecordingStateChange") -> dict[str, Any]:
    """A CallStateChangeMessage data block as GWS sends it."""
    return {
        "messageType": "CallStateChangeMessage",
        "notificationType": ntype,
        "phoneNumber": "7001",
        "call": {"id": call_id, "state": "Established", "recordingState": state},
    }


def status(state: str, call_id: str = CALL) -> dict[str, Any]:
    data = rec("Stopped", call_id, "StatusChange")
    data["call"]["state"] = state
    del data["call"]["recordingState"]
    return data


def only(items: list[Outcome | Anomaly]) -> Outcome | Anomaly:
    assert len(items) == 1, items
    return items[0]


def test_response_then_notification_is_ok_with_latencies() -> None:
    m = NotificationMatcher(agent="agent0001", timeout_s=5.0)
    exp = m.expect_recording(CALL, "StartCallRecording", now=10.0)
    assert m.on_response(exp, 10.004, 200, 0, t_sent=10.001) is None
    out = only(m.on_notification(rec("Recording"), 10.011))
    assert isinstance(out, Outcome)
    assert out.kind == "ok"
    assert out.agent == "agent0001"
    assert out.expected_state == "Recording"
    assert out.response_ms == pytest.approx(3.0)
    assert out.notify_ms == pytest.approx(10.0)
    assert out.notify_after_response_ms == pytest.approx(7.0)
    assert out.start_lag_ms == pytest.approx(1.0)  # t_intended defaults to the registration
    assert exp.done and m.pending() == 0


def test_notification_before_response_is_ok_with_negative_after_response() -> None:
    m = NotificationMatcher(timeout_s=5.0)
    exp = m.expect_recording(CALL, "StopCallRecording", now=1.0)
    assert m.on_notification(rec("Stopped"), 1.002) == []
    out = m.on_response(exp, 1.005, 200, 0)
    assert out is not None and out.kind == "ok"
    assert out.notify_after_response_ms == pytest.approx(-3.0)
    assert out.notify_ms == pytest.approx(2.0)


def test_lost_after_timeout_then_late_then_duplicate() -> None:
    m = NotificationMatcher(timeout_s=2.0)
    exp = m.expect_recording(CALL, "StartCallRecording", now=0.0)
    m.on_response(exp, 0.01, 200, 0)
    assert m.expire(1.99) == []
    assert m.next_deadline() == pytest.approx(2.0)
    lost = m.expire(2.0)
    assert [o.kind for o in lost] == ["lost"]
    assert math.isnan(lost[0].notify_ms)
    late = only(m.on_notification(rec("Recording"), 3.5, seq=41))
    assert isinstance(late, Anomaly)
    assert (late.kind, late.operation, late.server_seq) == ("late", "StartCallRecording", 41)
    assert late.age_ms == pytest.approx(3500.0)
    again = only(m.on_notification(rec("Recording"), 3.6))
    assert isinstance(again, Anomaly) and again.kind == "duplicate"


def test_second_matching_notification_is_a_duplicate() -> None:
    m = NotificationMatcher(timeout_s=2.0)
    exp = m.expect_recording(CALL, "PauseCallRecording", now=0.0)
    m.on_response(exp, 0.01, 200, 0)
    assert only(m.on_notification(rec("Paused"), 0.02)).kind == "ok"
    dup = only(m.on_notification(rec("Paused"), 0.05))
    assert isinstance(dup, Anomaly)
    assert (dup.kind, dup.operation) == ("duplicate", "PauseCallRecording")
    assert dup.age_ms == pytest.approx(50.0)


def test_recording_change_nobody_asked_for_is_unexpected() -> None:
    m = NotificationMatcher(timeout_s=2.0)
    exp = m.expect_recording(CALL, "StartCallRecording", now=0.0)
    m.on_response(exp, 0.01, 200, 0)
    wrong_state = only(m.on_notification(rec("Paused"), 0.02))
    other_call = only(m.on_notification(rec("Recording", call_id="other"), 0.03))
    for anomaly in (wrong_state, other_call):
        assert isinstance(anomaly, Anomaly)
        assert anomaly.kind == "unexpected" and anomaly.operation == ""
        assert math.isnan(anomaly.age_ms)
    assert not exp.done  # the right notification can still come
    assert only(m.on_notification(rec("Recording"), 0.04)).kind == "ok"


def test_other_messages_are_ignored() -> None:
    m = NotificationMatcher()
    assert m.on_notification(status("Established"), 0.0) == []
    assert m.on_notification({"messageType": "DeviceStateChangeMessage", "devices": []}, 0.0) == []
    assert m.on_notification({"messageType": "CallStateChangeMessage"}, 0.0) == []


def test_status_change_expectations_match_on_call_state() -> None:
    m = NotificationMatcher(timeout_s=5.0)
    exp = m.expect(CALL, "Hangup", "Released", now=0.0, notification_type="StatusChange")
    m.on_response(exp, 0.01, 200, 0)
    assert m.on_notification(status("Established"), 0.02) == []
    out = only(m.on_notification(status("Released"), 0.03))
    assert isinstance(out, Outcome) and out.operation == "Hangup"


def test_fifo_per_key_matches_the_oldest_first() -> None:
    m = NotificationMatcher(timeout_s=5.0, server_clock_slack_s=None)
    first = m.expect_recording(CALL, "StartCallRecording", now=0.0)
    second = m.expect_recording(CALL, "ResumeCallRecording", now=0.1)
    m.on_response(first, 0.01, 200, 0)
    m.on_response(second, 0.11, 200, 0)
    a = only(m.on_notification(rec("Recording"), 0.2))
    b = only(m.on_notification(rec("Recording"), 0.3))
    assert isinstance(a, Outcome) and isinstance(b, Outcome)
    assert (a.operation, b.operation) == ("StartCallRecording", "ResumeCallRecording")


def test_error_responses_are_final_at_once() -> None:
    m = NotificationMatcher(timeout_s=5.0)
    e1 = m.expect_recording(CALL, "StartCallRecording", now=0.0)
    e2 = m.expect_recording(CALL, "StopCallRecording", now=0.0)
    e3 = m.expect_recording(CALL, "PauseCallRecording", now=0.0)
    e4 = m.expect_recording(CALL, "ResumeCallRecording", now=0.0)
    http = m.on_response(e1, 0.1, 502, -1, error="Bad Gateway")
    api = m.on_response(e2, 0.1, 200, 2)
    transport = m.on_transport_error(e3, 5.0, "timed out")
    # a GWS error body is an API error whatever HTTP status it came with
    down = m.on_response(e4, 0.1, 503, 4, error="Voice service is not available")
    assert down is not None and (down.kind, down.http_status, down.status_code) == (
        "api_error",
        503,
        4,
    )
    assert http is not None and (http.kind, http.http_status) == ("http_error", 502)
    assert api is not None and (api.kind, api.status_code, api.error) == (
        "api_error",
        2,
        "statusCode 2",
    )
    assert transport is not None and transport.kind == "transport_error"
    assert math.isnan(transport.response_ms)
    assert m.pending() == 0
    # nothing is waiting any more: a notification for one of them is unexpected
    assert only(m.on_notification(rec("Recording"), 0.2)).kind == "unexpected"


def test_no_lost_while_the_response_is_outstanding() -> None:
    m = NotificationMatcher(timeout_s=1.0)
    exp = m.expect_recording(CALL, "StartCallRecording", now=0.0)
    assert m.expire(50.0) == []
    assert m.next_deadline() is None
    out = m.on_response(exp, 50.0, 200, 0)  # accepted, already past its timeout
    assert out is not None and out.kind == "lost"
    assert m.on_response(exp, 50.1, 200, 0) is None  # final outcomes never change


def test_notification_published_before_registration_is_not_its_match() -> None:
    # wall_offset 1000: monotonic t -> UNIX 1000 + t
    m = NotificationMatcher(timeout_s=5.0, wall_offset=1000.0, server_clock_slack_s=0.05)
    start = m.expect_recording(CALL, "StartCallRecording", now=0.0)
    m.on_response(start, 0.01, 200, 0)
    assert only(m.on_notification(rec("Recording"), 0.02, server_ts=1000.015)).kind == "ok"
    stop = m.expect_recording(CALL, "StopCallRecording", now=1.0)
    m.on_response(stop, 1.01, 200, 0)
    m.on_notification(rec("Stopped"), 1.02, server_ts=1001.015)
    restart = m.expect_recording(CALL, "StartCallRecording", now=2.0)
    # a copy of the first Recording notification, published at 1000.015, delayed
    dup = only(m.on_notification(rec("Recording"), 2.001, server_ts=1000.015))
    assert isinstance(dup, Anomaly) and dup.kind == "duplicate"
    assert not restart.done
    m.on_response(restart, 2.01, 200, 0)
    out = only(m.on_notification(rec("Recording"), 2.02, server_ts=1002.015))
    assert isinstance(out, Outcome) and out.kind == "ok"
    assert out.publish_lag_ms == pytest.approx(5.0)
    assert out.ts == pytest.approx(1002.0)


def test_memory_is_released_after_retain_s() -> None:
    m = NotificationMatcher(timeout_s=1.0, retain_s=10.0)
    exp = m.expect_recording(CALL, "StartCallRecording", now=0.0)
    m.on_response(exp, 0.0, 200, 0)
    m.expire(1.0)
    m.expire(12.0)  # the lost operation is forgotten
    assert only(m.on_notification(rec("Recording"), 12.5)).kind == "unexpected"


def test_rows_have_exactly_the_run_folder_columns() -> None:
    m = NotificationMatcher(agent="agent0002", timeout_s=1.0)
    exp = m.expect_recording(CALL, "StartCallRecording", now=0.0)
    m.on_response(exp, 0.0, 200, 0)
    lost = m.expire(1.0)[0]
    row = dict(zip([c[0] for c in EVENT_COLUMNS], lost.event_values("w1"), strict=True))
    assert list(row) == [
        "ts", "worker", "agent", "call_id", "operation", "expected_state", "outcome",
        "http_status", "status_code", "error", "response_ms", "notify_ms",
        "notify_after_response_ms", "notify_from_intended_ms", "start_lag_ms",
        "publish_lag_ms", "server_seq", "server_ms", "node",
    ]  # fmt: skip
    assert (row["worker"], row["outcome"], row["server_seq"]) == ("w1", "lost", -1)
    assert math.isnan(row["notify_ms"])
    late = only(m.on_notification(rec("Recording"), 2.0))
    assert isinstance(late, Anomaly)
    arow = dict(zip([c[0] for c in ANOMALY_COLUMNS], late.anomaly_values("w1"), strict=True))
    assert list(arow) == [
        "ts", "worker", "agent", "call_id", "kind", "notification_type", "recording_state",
        "operation", "age_ms", "server_seq", "node",
    ]  # fmt: skip
    assert (arow["kind"], arow["recording_state"], arow["age_ms"]) == ("late", "Recording", 2000.0)


def test_open_workload_uses_t_intended() -> None:
    m = NotificationMatcher(timeout_s=1.0)
    exp = m.expect_recording(CALL, "StartCallRecording", now=5.0, t_intended=4.9)
    m.on_response(exp, 5.01, 200, 0)
    out = only(m.on_notification(rec("Recording"), 5.02))
    assert isinstance(out, Outcome)
    assert out.notify_from_intended_ms == pytest.approx(120.0)
    assert out.start_lag_ms == pytest.approx(100.0)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="operation must be one of"):
        NotificationMatcher().expect_recording(CALL, "Hold", now=0.0)
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        NotificationMatcher(timeout_s=0)


# -- any interleaving: every operation ends exactly once ----------------------------

_OPS = ["StartCallRecording", "StopCallRecording", "PauseCallRecording"]
_STATES = ["Recording", "Stopped", "Paused"]
_action = st.one_of(
    st.tuples(st.just("expect"), st.sampled_from(["a", "b"]), st.sampled_from(_OPS)),
    st.tuples(st.just("respond"), st.integers(0, 30), st.sampled_from([200, 400, 503])),
    st.tuples(st.just("notify"), st.sampled_from(["a", "b"]), st.sampled_from(_STATES)),
    st.tuples(st.just("tick"), st.floats(0.0, 3.0), st.just(0)),
)


@given(st.lists(_action, max_size=60))
def test_every_operation_ends_exactly_once(actions: list[tuple[str, Any, Any]]) -> None:
    m = NotificationMatcher(timeout_s=1.0, retain_s=5.0)
    now = 0.0
    exps: list[Expectation] = []
    finals: list[Outcome] = []
    for kind, x, y in actions:
        if kind == "expect":
            exps.append(m.expect_recording(x, y, now=now))
        elif kind == "respond" and x < len(exps):
            out = m.on_response(exps[x], now, y, 0 if y == 200 else 2)
            finals += [out] if out is not None else []
        elif kind == "notify":
            items = m.on_notification(rec(y, call_id=x), now)
            assert len(items) <= 1
            finals += [i for i in items if isinstance(i, Outcome)]
        elif kind == "tick":
            now += x
            finals += m.expire(now)
    for exp in exps:  # every request gets its response in the end
        out = m.on_response(exp, now, 200, 0)
        finals += [out] if out is not None else []
    finals += m.expire(now + 10.0)
    assert m.pending() == 0
    assert all(e.done for e in exps)
    assert len(finals) == len(exps)
    assert len({id(o) for o in finals}) == len(exps)
    assert sorted(id(e.outcome) for e in exps) == sorted(id(o) for o in finals)


def error_message(call_id: str = CALL, operation: str = "StartCallRecording") -> dict[str, Any]:
    """The simulator's ErrorMessage (GWS documents only the messageType)."""
    return {"messageType": "ErrorMessage", "errorCode": 4, "callId": call_id,
            "errorMessage": f"{operation} failed: the recorder refused the request",
            "operationName": operation}  # fmt: skip


def test_error_message_ends_the_operation_in_flight_as_async_error_not_lost() -> None:
    m = NotificationMatcher(agent="agent0001", timeout_s=5.0)
    other = m.expect_recording("other", "StartCallRecording", now=0.5)
    exp = m.expect_recording(CALL, "StartCallRecording", now=1.0)
    assert m.on_response(exp, 1.004, 200, 0) is None
    out = m.on_error_message(error_message(), 1.010)
    assert out is not None and out.kind == "async_error"
    assert out.error == "ErrorMessage: StartCallRecording failed: the recorder refused the request"
    assert out.status_code == 4 and out.http_status == 200 and math.isnan(out.notify_ms)
    assert m.expire(100.0) == []  # nothing becomes lost later
    assert exp.done and not other.done and m.pending() == 1


def test_error_message_before_the_response_ends_the_operation_with_it() -> None:
    m = NotificationMatcher(timeout_s=5.0)
    exp = m.expect_recording(CALL, "StopCallRecording", now=1.0)
    assert m.on_error_message(error_message(operation="StopCallRecording"), 1.002) is None
    # GWS said it failed: a state change cannot be its confirmation
    assert [item.kind for item in m.on_notification(rec("Stopped"), 1.003)] == ["unexpected"]
    out = m.on_response(exp, 1.005, 200, 0)
    assert out is not None and out.kind == "async_error" and out.status_code == 4


def test_error_message_for_nothing_in_flight_is_ignored() -> None:
    m = NotificationMatcher(timeout_s=5.0)
    exp = m.expect_recording(CALL, "StartCallRecording", now=1.0)
    assert m.on_error_message(error_message(operation="StopCallRecording"), 1.001) is None
    assert m.on_error_message(error_message(call_id="elsewhere"), 1.001) is None
    assert not exp.done and exp.async_error is None
