"""Recording notifications read over CometD long-polling, with plain aiohttp POSTs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from simhelpers import GwsAgent, StartSim

pytestmark = pytest.mark.asyncio

NOTIFICATIONS = "/api/v2/notifications"


class LongPoller:
    """A bare Bayeux long-polling client riding on the agent's HTTP session (cookie only)."""

    def __init__(self, agent: GwsAgent) -> None:
        self.agent = agent
        self.client_id = ""
        self._id = 0

    async def exchange(self, *messages: dict[str, Any]) -> list[dict[str, Any]]:
        batch = []
        for message in messages:
            self._id += 1
            batch.append({"id": str(self._id), **message})
            if self.client_id:
                batch[-1]["clientId"] = self.client_id
        status, reply, _ = await self.agent.request("POST", NOTIFICATIONS, batch, auth=False)
        assert status == 200, reply
        assert isinstance(reply, list)
        return reply

    async def handshake_and_subscribe(self, channel: str) -> None:
        [reply] = await self.exchange(
            {"channel": "/meta/handshake", "version": "1.0",
             "supportedConnectionTypes": ["long-polling"]}
        )  # fmt: skip
        assert reply["successful"], reply
        self.client_id = reply["clientId"]
        replies = await self.exchange({"channel": "/meta/subscribe", "subscription": channel})
        assert replies[0]["successful"], replies
        # the first connect asks not to be held, as CometD clients do
        await self.exchange(
            {"channel": "/meta/connect", "connectionType": "long-polling", "advice": {"timeout": 0}}
        )

    async def events_until(self, wanted: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(events) < wanted:
            assert asyncio.get_running_loop().time() < deadline, f"got only {events}"
            replies = await self.exchange(
                {"channel": "/meta/connect", "connectionType": "long-polling"}
            )
            events.extend(r for r in replies if not r["channel"].startswith("/meta/"))
            connect = next(r for r in replies if r["channel"] == "/meta/connect")
            if not connect["successful"]:
                return [connect]
        return events


async def test_recording_notification_arrives_over_long_polling(start_sim: StartSim) -> None:
    sim = await start_sim(cometd_timeout_ms=2000)
    agent = sim.agent()
    call_id = await agent.established_call()
    poller = LongPoller(agent)
    await poller.handshake_and_subscribe("/v2/me/*")

    await agent.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "StartCallRecording"})
    [event] = await poller.events_until(1)
    assert event["channel"] == "/v2/me/calls"
    data = event["data"]
    assert data["messageType"] == "CallStateChangeMessage"
    assert data["notificationType"] == "CallRecordingStateChange"
    assert data["call"]["id"] == call_id and data["call"]["recordingState"] == "Recording"
    assert "gwsload" not in data  # the sequence number travels in ext, not in GWS's payload
    stamp = event["ext"]["gwsload"]
    published = next(p for p in sim.published if p.seq == stamp["seq"])
    assert published.notification.recording_state == "Recording"
    # the publish time as GWS sends it (metrics.eventProcessing, UNIX ms)
    processing = data["metrics"]["eventProcessing"]
    assert processing["serverGenerationTimestamp"] == int(published.ts * 1000)
    assert isinstance(processing["nodeProcessingTimeNanos"], int)
    assert processing["serverProcessingTimeTotalMs"] == int(published.delay_ms)

    await agent.post_ok("/api/v2/me/channels/voice", {"operationName": "Ready"})
    [device_event] = await poller.events_until(1)
    assert device_event["channel"] == "/v2/me/devices"
    assert device_event["data"]["devices"][0]["userState"]["state"] == "Ready"


async def test_notifications_reach_only_their_own_agent(start_sim: StartSim) -> None:
    sim = await start_sim(cometd_timeout_ms=300)
    first, second = sim.agent("agent0001"), sim.agent("agent0002")
    call_id = await first.established_call()
    await second.login()
    other = LongPoller(second)
    await other.handshake_and_subscribe("/v2/me/calls")
    mine = LongPoller(first)
    await mine.handshake_and_subscribe("/v2/me/calls")
    await first.post_ok(f"/api/v2/me/calls/{call_id}", {"operationName": "StartCallRecording"})
    [event] = await mine.events_until(1)
    assert event["data"]["call"]["id"] == call_id
    # agent0002's held connect times out empty
    replies = await other.exchange({"channel": "/meta/connect", "connectionType": "long-polling"})
    assert [r["channel"] for r in replies] == ["/meta/connect"]


async def test_expired_sessions_must_handshake_again(start_sim: StartSim) -> None:
    sim = await start_sim(cometd_timeout_ms=300)
    agent = sim.agent()
    await agent.login()
    poller = LongPoller(agent)
    await poller.handshake_and_subscribe("/v2/me/*")
    assert agent.agent is not None
    assert sim.node.endpoint.expire_sessions(agent.agent.user_id) == 1
    [connect] = await poller.events_until(1)
    assert connect["successful"] is False
    assert connect["error"].startswith("402")
    assert connect["advice"]["reconnect"] == "handshake"
