"""The agent's call table: call ids learned from Dialing, Released calls dropped."""

from __future__ import annotations

from typing import Any

from gwsload.gws.calls import KEPT_CALL_FIELDS, CallTable


def call(call_id: str, state: str, **fields: Any) -> dict[str, Any]:
    return {"id": call_id, "state": state, **fields}


def test_dialed_call_is_the_first_new_dialing_call_after_watch() -> None:
    table = CallTable()
    table.update(call("old", "Dialing"))  # before Dial: not ours
    table.watch_dial()
    table.update(call("old", "Dialing"))  # known already
    assert table.dialed() is None
    table.update(call("new", "Dialing"))
    table.update(call("other", "Dialing"))
    table.stop_watching_dial()
    assert table.dialed() == "new"
    table.watch_dial()
    assert table.dialed() is None


def test_released_calls_are_dropped() -> None:
    table = CallTable()
    table.update(call("a", "Established"))
    assert "a" in table and table.state("a") == "Established"
    table.update(call("a", "Released"))
    assert "a" not in table and table.state("a") is None and len(table) == 0


def test_recording_state_survives_notifications_without_it() -> None:
    table = CallTable()
    table.update(call("a", "Established", recordingState="Recording"))
    table.update(call("a", "Held"))  # a StatusChange without recordingState
    assert (table.state("a"), table.recording_state("a")) == ("Held", "Recording")
    table.update(call("a", "Established", recordingState="Stopped"))
    assert table.recording_state("a") == "Stopped"
    assert table.recording_state(None) is None


def test_recovery_keeps_fresher_notified_state() -> None:
    table = CallTable()
    table.update(call("a", "Established", recordingState="Recording"))
    table.recover([call("a", "Established", recordingState="Stopped"),
                   call("b", "Held"), {"state": "Established"}])  # fmt: skip
    assert table.recording_state("a") == "Recording"
    assert sorted(table.ids()) == ["a", "b"]


def test_a_call_keeps_only_the_fields_an_agent_reads() -> None:
    """An agent holds its call for hours: the rest of each notified call is not kept."""
    table = CallTable()
    notified = call(
        "a",
        "Established",
        recordingState="Recording",
        capabilities=["StopCallRecording", "Hangup"],
        participants=[{"number": "5000", "formattedPhoneNumber": "5000"}] * 20,
        userData={"crm": "x" * 10_000},
        callType="Outbound",
    )
    table.update(notified)
    kept = table.get("a")
    assert kept == {
        "id": "a",
        "state": "Established",
        "recordingState": "Recording",
        "capabilities": ["StopCallRecording", "Hangup"],
    }
    assert set(kept) == set(KEPT_CALL_FIELDS)
    assert table.state("a") == "Established" and table.recording_state("a") == "Recording"
