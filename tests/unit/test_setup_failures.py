"""The agents' set-up failures read from incidents.jsonl, as the failed-run line names
the most frequent one: counted by agents (not attempts), outage spans included, a
killed run's partial last line and other incident kinds ignored."""

from __future__ import annotations

import json
from pathlib import Path

from gwsload.contract.activity import setup_failures


def test_reasons_are_ranked_by_agents(tmp_path: Path) -> None:
    rows = [
        {"kind": "setup_error", "agent": "agent0001", "detail": "login: HTTP 401 statusCode 20"},
        {"kind": "setup_error", "agent": "agent0001", "detail": "login: HTTP 401 statusCode 20"},
        {"kind": "setup_error", "agent": "agent0002", "detail": "login: HTTP 401 statusCode 20"},
        {"kind": "target_unreachable", "agent": "agent0003", "detail": "ConnectionRefusedError"},
        {"kind": "rehandshake", "agent": "agent0004", "detail": "402::session_unknown"},
    ]
    lines = [json.dumps({"ts": 1.0, "worker": "local", "duration_ms": None, **r}) for r in rows]
    (tmp_path / "incidents.jsonl").write_text("\n".join(lines) + '\n{"ts": 2.0, "kind": "setu')
    assert setup_failures(tmp_path) == [
        ("login: HTTP 401 statusCode 20", 2),
        ("target unreachable: ConnectionRefusedError", 1),
    ]
    assert setup_failures(tmp_path / "no-such-run") == []
