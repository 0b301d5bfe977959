"""The websocket upgrade goes through the simulator's auth: a recording notification arrives."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from simhelpers import StartSim

pytestmark = pytest.mark.asyncio


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    message = await ws.receive(timeout=10)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    batch: list[dict[str, Any]] = json.loads(message.data)
    return batch


async def test_websocket_needs_credentials(start_sim: StartSim) -> None:
    sim = await start_sim(websocket=True)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(sim.url + "/api/v2/notifications")
        assert refused.value.status == 401


async def test_recording_notification_over_websocket(start_sim: StartSim) -> None:
    sim = await start_sim(websocket=True)
    agent = sim.agent()
    call_id = await agent.established_call()
    # Basic credentials on the upgrade request itself (no session cookie sent)
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.ws_connect(
            sim.url + "/api/v2/notifications", headers={"Authorization": agent.authorization}
        ) as ws,
    ):
        await ws.send_str(json.dumps([{
            "id": "1", "channel": "/meta/handshake", "version": "1.0",
            "supportedConnectionTypes": ["websocket"],
        }]))  # fmt: skip
        [handshake] = await _receive(ws)
        assert handshake["successful"], handshake
        client_id = handshake["clientId"]
        await ws.send_str(json.dumps([
            {"id": "2", "channel": "/meta/subscribe", "clientId": client_id,
             "subscription": "/v2/me/calls"},
            {"id": "3", "channel": "/meta/connect", "clientId": client_id,
             "connectionType": "websocket", "advice": {"timeout": 0}},
        ]))  # fmt: skip
        seen = [m["channel"] for m in await _receive(ws)]
        while "/meta/connect" not in seen:
            seen += [m["channel"] for m in await _receive(ws)]
        await ws.send_str(json.dumps([
            {"id": "4", "channel": "/meta/connect", "clientId": client_id,
             "connectionType": "websocket"},
        ]))  # fmt: skip
        await agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "StartCallRecording"})
        events: list[dict[str, Any]] = []
        while not events:
            events = [m for m in await _receive(ws) if m["channel"] == "/v2/me/calls"]
        data = events[0]["data"]
        assert data["notificationType"] == "CallRecordingStateChange"
        assert data["call"]["id"] == call_id and data["call"]["recordingState"] == "Recording"
        assert isinstance(events[0]["ext"]["gwsload"]["seq"], int)
