"""Stopping the simulator answers its held connects: SIGTERM ends it cleanly (exit 0),
not after the hold time or by the SIGKILL fallback."""

from __future__ import annotations

import base64
import json
import threading
import urllib.request
from typing import Any

from gwsload.simulator.process import SimulatorProcess


def test_sigterm_answers_held_connect_and_exits_cleanly() -> None:
    # stop_timeout_s far below the 30 s hold: a stop that waited for the connect would be killed
    sim = SimulatorProcess(["--agents", "2", "--cometd-timeout-ms", "30000"], stop_timeout_s=8)
    sim.start()
    try:
        token = base64.b64encode(b"agent0001:gwsload").decode()

        def post(messages: list[dict[str, Any]]) -> Any:
            request = urllib.request.Request(
                sim.url + "/api/v2/notifications", method="POST",
                headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
                data=json.dumps(messages).encode(),
            )  # fmt: skip
            with urllib.request.urlopen(request, timeout=25) as response:
                return json.loads(response.read())

        (hs,) = post([{"channel": "/meta/handshake", "supportedConnectionTypes": ["long-polling"]}])
        client_id = hs["clientId"]
        post(
            [
                {
                    "channel": "/meta/connect",
                    "id": "1",
                    "clientId": client_id,
                    "connectionType": "long-polling",
                    "advice": {"timeout": 0},
                }
            ]
        )
        result: dict[str, Any] = {}

        def hold() -> None:
            try:
                result["replies"] = post(
                    [
                        {
                            "channel": "/meta/connect",
                            "id": "2",
                            "clientId": client_id,
                            "connectionType": "long-polling",
                        }
                    ]
                )
            except OSError as exc:
                result["error"] = repr(exc)

        poller = threading.Thread(target=hold, daemon=True)
        poller.start()
        # the connect is held once the reply has not come after a short while
        poller.join(0.5)
        assert poller.is_alive(), result
        assert sim.stop() == 0, sim.stderr_tail()
        poller.join(10)
        assert not poller.is_alive()
        assert result == {
            "replies": [
                {
                    "id": "2",
                    "channel": "/meta/connect",
                    "successful": True,
                    "advice": {
                        "reconnect": "retry",
                        "interval": 0,
                        "timeout": 30000,
                        "maxInterval": 10000,
                    },
                }
            ]
        }
    finally:
        sim.close()
