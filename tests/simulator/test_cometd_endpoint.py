"""CometdEndpoint over real HTTP and websocket on loopback, mounted in a small app.

The app's middleware stands in for the simulator's auth: the ``X-User`` header
becomes ``request["gws_user_id"]``, so per-user binding is exercised too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from gwsload.simulator.cometd_endpoint import USER_KEY, CometdEndpoint

pytestmark = pytest.mark.asyncio

PATH = "/cometd"
CHANNEL = "/v2/me/calls"


@web.middleware
async def user_from_header(request: web.Request, handler: Any) -> web.StreamResponse:
    user = request.headers.get("X-User")
    if user is not None:
        request[USER_KEY] = user
    response: web.StreamResponse = await handler(request)
    return response


@dataclass
class Served:
    endpoint: CometdEndpoint
    url: str
    http: aiohttp.ClientSession
    runner: web.AppRunner

    async def post(self, messages: Any, *, user: str | None = "u1", sub: str = "") -> Any:
        headers = {"X-User": user} if user is not None else {}
        async with self.http.post(self.url + sub, json=messages, headers=headers) as response:
            assert response.status == 200, await response.text()
            assert response.content_type == "application/json"
            return await response.json()

    async def handshake(self, *, user: str | None = "u1", ack: bool = False) -> str:
        message: dict[str, Any] = {
            "channel": "/meta/handshake",
            "id": "1",
            "version": "1.0",
            "supportedConnectionTypes": ["long-polling", "websocket"],
        }
        if ack:
            message["ext"] = {"ack": True}
        (reply,) = await self.post([message], user=user)
        assert reply["successful"] is True
        client_id: str = reply["clientId"]
        return client_id

    async def subscribe(
        self, client_id: str, channel: str = CHANNEL, *, user: str | None = "u1"
    ) -> None:
        replies = await self.post(
            [
                {
                    "channel": "/meta/subscribe",
                    "id": "2",
                    "clientId": client_id,
                    "subscription": channel,
                }
            ],
            user=user,
        )
        assert replies[-1]["successful"] is True

    async def connect(
        self,
        client_id: str,
        *,
        timeout: int | None = None,
        msg_id: str = "3",
        user: str | None = "u1",
        ext: dict[str, Any] | None = None,
    ) -> Any:
        message: dict[str, Any] = {
            "channel": "/meta/connect",
            "id": msg_id,
            "clientId": client_id,
            "connectionType": "long-polling",
        }
        if timeout is not None:
            message["advice"] = {"timeout": timeout}
        if ext is not None:
            message["ext"] = ext
        return await self.post([message], user=user)


Serve = Callable[..., Awaitable[Served]]


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serves the endpoint on loopback like the simulator does: an ``AppRunner``
    that does not cancel handlers when a client goes away (aiohttp's TestServer would)."""
    started: list[tuple[web.AppRunner, CometdEndpoint, aiohttp.ClientSession]] = []

    async def start(*, cancel_handlers: bool = False, **options: Any) -> Served:
        endpoint = CometdEndpoint(**options)
        app = web.Application(middlewares=[user_from_header])
        endpoint.add_routes(app, PATH)
        runner = web.AppRunner(app, handler_cancellation=cancel_handlers)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock)
        await site.start()
        await endpoint.start()
        http = aiohttp.ClientSession()
        started.append((runner, endpoint, http))
        port = sock.getsockname()[1]
        return Served(endpoint, f"http://127.0.0.1:{port}{PATH}", http, runner)

    yield start
    for runner, endpoint, http in started:
        await endpoint.close()
        await http.close()
        await runner.cleanup()


async def until(condition: Callable[[], bool], what: str, limit_s: float = 5.0) -> None:
    """Poll ``condition`` (bounded), for state the server reaches asynchronously."""
    for _ in range(int(limit_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def events(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in replies if "successful" not in m]


# ---------------------------------------------------------------- long-polling


async def test_handshake_subscribe_connect_deliver(serve: Serve) -> None:
    served = await serve(timeout_ms=30000)
    client_id = await served.handshake()
    assert len(client_id) == 40
    await served.subscribe(client_id)
    (first,) = await served.connect(client_id, timeout=0)
    assert first["successful"] is True and first["advice"]["timeout"] == 30000
    held = asyncio.create_task(served.connect(client_id, msg_id="4"))
    await until(lambda: served.endpoint.engine.held_connect(client_id) is not None, "held")
    assert not held.done()
    ext = {"gwsload": {"ts": 1.5, "seq": 7}}
    assert served.endpoint.notify("u1", CHANNEL, {"state": "Recording"}, ext) == 1
    replies = await asyncio.wait_for(held, 10)
    (event,) = events(replies)
    assert event == {"channel": CHANNEL, "data": {"state": "Recording"}, "ext": ext}
    assert replies[-1]["channel"] == "/meta/connect" and replies[-1]["id"] == "4"
    assert served.endpoint.notify("other-user", CHANNEL, {}) == 0


async def test_sub_paths_are_accepted(serve: Serve) -> None:
    served = await serve()
    (reply,) = await served.post(
        [
            {
                "channel": "/meta/handshake",
                "id": "1",
                "version": "1.0",
                "supportedConnectionTypes": ["long-polling"],
            }
        ],
        sub="/handshake",
    )
    client_id = reply["clientId"]
    (sub,) = await served.post(
        [{"channel": "/meta/subscribe", "clientId": client_id, "subscription": "/a"}],
        sub="/subscribe",
    )
    assert sub["successful"] is True
    (conn,) = await served.post(
        [
            {
                "channel": "/meta/connect",
                "clientId": client_id,
                "connectionType": "long-polling",
                "advice": {"timeout": 0},
            }
        ],
        sub="/connect",
    )
    assert conn["successful"] is True


async def test_idle_connect_answers_at_timeout(serve: Serve) -> None:
    served = await serve(timeout_ms=200)
    client_id = await served.handshake()
    replies = await asyncio.wait_for(served.connect(client_id), 10)
    assert replies == [
        {
            "id": "3",
            "channel": "/meta/connect",
            "successful": True,
            "advice": {"reconnect": "retry", "interval": 0, "timeout": 200, "maxInterval": 10000},
        }
    ]


async def test_second_connect_releases_the_first(serve: Serve) -> None:
    served = await serve(timeout_ms=30000)
    client_id = await served.handshake()
    await served.subscribe(client_id)
    first = asyncio.create_task(served.connect(client_id, msg_id="10"))
    await until(lambda: served.endpoint.engine.held_connect(client_id) is not None, "held")
    second = asyncio.create_task(served.connect(client_id, msg_id="11"))
    (old,) = await asyncio.wait_for(first, 10)
    assert old["id"] == "10" and old["successful"] is True
    await until(
        lambda: (
            (h := served.endpoint.engine.held_connect(client_id)) is not None
            and h.request_id == "11"
        ),
        "second held",
    )
    served.endpoint.notify("u1", CHANNEL, {"n": 1})
    replies = await asyncio.wait_for(second, 10)
    assert [e["data"] for e in events(replies)] == [{"n": 1}]


@pytest.mark.parametrize("cancel_handlers", [False, True])
async def test_events_for_a_poll_whose_client_left_wait_for_the_next_connect(
    serve: Serve, cancel_handlers: bool
) -> None:
    served = await serve(timeout_ms=30000, cancel_handlers=cancel_handlers)
    client_id = await served.handshake()
    await served.subscribe(client_id)
    held = asyncio.create_task(served.connect(client_id))
    await until(lambda: served.endpoint.engine.held_connect(client_id) is not None, "held")
    held.cancel()  # the client gives up the poll
    with contextlib.suppress(asyncio.CancelledError):
        await held
    await served.http.close()  # and its connections close
    server = served.runner.server
    assert server is not None
    await until(
        lambda: all(c.transport is None for c in server.connections), "server saw the close"
    )
    assert served.endpoint.notify("u1", CHANNEL, {"kept": True}) == 1
    async with aiohttp.ClientSession() as served.http:
        replies = await served.connect(client_id, timeout=0)
    assert [e["data"] for e in events(replies)] == [{"kept": True}]


async def test_session_expiry_gives_402(serve: Serve) -> None:
    served = await serve(max_interval_ms=200)
    client_id = await served.handshake()
    await until(lambda: served.endpoint.session_count == 0, "expiry")
    (reply,) = await served.connect(client_id, timeout=0)
    assert reply["successful"] is False and reply["error"] == "402::session_unknown"
    assert reply["advice"] == {"reconnect": "handshake", "interval": 0}


async def test_expire_sessions_answers_held_connect_with_402(serve: Serve) -> None:
    served = await serve(timeout_ms=30000)
    mine = await served.handshake(user="u1")
    other = await served.handshake(user="u2")
    held = asyncio.create_task(served.connect(mine))
    await until(lambda: served.endpoint.engine.held_connect(mine) is not None, "held")
    assert served.endpoint.expire_sessions("u1") == 1
    (reply,) = await asyncio.wait_for(held, 10)
    assert reply["error"] == "402::session_unknown" and reply["id"] == "3"
    assert served.endpoint.session_count == 1
    (still,) = await served.connect(other, timeout=0, user="u2")
    assert still["successful"] is True
    assert served.endpoint.expire_sessions() == 1 and served.endpoint.session_count == 0


async def test_session_is_bound_to_its_user(serve: Serve) -> None:
    served = await serve()
    client_id = await served.handshake(user="u1")
    for user in ("u2", None):
        (reply,) = await served.connect(client_id, timeout=0, user=user)
        assert reply["error"] == "402::session_unknown"
    anonymous = await served.handshake(user=None)
    (reply,) = await served.connect(anonymous, timeout=0, user=None)
    assert reply["successful"] is True


async def test_ack_extension_over_http(serve: Serve) -> None:
    served = await serve(timeout_ms=30000)
    (hs,) = await served.post(
        [
            {
                "channel": "/meta/handshake",
                "version": "1.0",
                "supportedConnectionTypes": ["long-polling"],
                "ext": {"ack": True},
            }
        ]
    )
    assert hs["ext"] == {"ack": True}
    client_id = hs["clientId"]
    await served.subscribe(client_id)
    first = await served.connect(client_id, timeout=0, ext={"ack": 0})
    assert first[-1]["ext"] == {"ack": 0}
    served.endpoint.notify("u1", CHANNEL, {"n": 1})
    batch = await served.connect(client_id, ext={"ack": 0})
    assert [e["data"] for e in events(batch)] == [{"n": 1}] and batch[-1]["ext"] == {"ack": 1}
    # not acknowledged: sent again, at once
    again = await asyncio.wait_for(served.connect(client_id, ext={"ack": 0}), 10)
    assert [e["data"] for e in events(again)] == [{"n": 1}]
    held = asyncio.create_task(served.connect(client_id, ext={"ack": 1}))
    await until(lambda: served.endpoint.engine.held_connect(client_id) is not None, "held")
    served.endpoint.notify("u1", CHANNEL, {"n": 2})
    done = await asyncio.wait_for(held, 10)
    assert [e["data"] for e in events(done)] == [{"n": 2}] and done[-1]["ext"] == {"ack": 2}


@pytest.mark.parametrize(
    "body", [b"{not json", b"42", b"[42]", b"\xff\xfe", b"", b'[{"channel": 5}]']
)
async def test_malformed_body_is_http_400(serve: Serve, body: bytes) -> None:
    served = await serve()
    async with served.http.post(served.url, data=body) as response:
        assert response.status == 400
        assert await response.text() == "Bad request"


async def test_empty_array_and_bayeux_errors_are_200(serve: Serve) -> None:
    served = await serve()
    assert await served.post([]) == []
    (reply,) = await served.post([{"id": "20"}])
    assert reply == {"id": "20", "successful": False, "error": "400::channel_missing"}


async def test_nan_payload_published_by_a_client_does_not_break_replies(serve: Serve) -> None:
    served = await serve()
    client_id = await served.handshake()
    await served.subscribe(client_id, "/chat")
    body = b'[{"channel":"/chat","id":"p","clientId":"CID","data":NaN}]'
    body = body.replace(b"CID", client_id.encode())
    # NaN is not JSON: refused like any malformed body, never queued for subscribers
    async with served.http.post(served.url, data=body, headers={"X-User": "u1"}) as response:
        assert response.status == 400
    good = body.replace(b"NaN", b"1")
    async with served.http.post(served.url, data=good, headers={"X-User": "u1"}) as response:
        assert response.status == 200
        replies = await response.json()
    assert {"id": "p", "channel": "/chat", "successful": True} in replies
    assert {"channel": "/chat", "data": 1} in [
        {k: v for k, v in r.items() if k in ("channel", "data")} for r in replies if "data" in r
    ]


# ---------------------------------------------------------------- websocket


async def receive(ws: aiohttp.ClientWebSocketResponse, limit_s: float = 10.0) -> list[Any]:
    frame = await asyncio.wait_for(ws.receive(), limit_s)
    assert frame.type is aiohttp.WSMsgType.TEXT, frame
    parsed: list[Any] = json.loads(frame.data)
    return parsed


async def ws_handshake(ws: aiohttp.ClientWebSocketResponse) -> str:
    """Handshake over the socket; the new clientId."""
    handshake = {
        "channel": "/meta/handshake",
        "version": "1.0",
        "supportedConnectionTypes": ["websocket"],
    }
    await ws.send_str(json.dumps([handshake]))
    client_id: str = (await receive(ws))[0]["clientId"]
    return client_id


async def test_websocket_handshake_subscribe_push_and_held_connect(serve: Serve) -> None:
    served = await serve(timeout_ms=600)
    async with served.http.ws_connect(served.url, headers={"X-User": "u1"}) as ws:
        await ws.send_str(
            json.dumps(
                [
                    {
                        "channel": "/meta/handshake",
                        "id": "1",
                        "version": "1.0",
                        "supportedConnectionTypes": ["websocket"],
                    }
                ]
            )
        )
        (hs,) = await receive(ws)
        client_id = hs["clientId"]
        assert hs["successful"] is True and "websocket" in hs["supportedConnectionTypes"]
        await ws.send_str(
            json.dumps(
                [
                    {
                        "channel": "/meta/subscribe",
                        "id": "2",
                        "clientId": client_id,
                        "subscription": CHANNEL,
                    }
                ]
            )
        )
        assert (await receive(ws))[0]["successful"] is True
        await ws.send_str(
            json.dumps(
                [
                    {
                        "channel": "/meta/connect",
                        "id": "3",
                        "clientId": client_id,
                        "connectionType": "websocket",
                    }
                ]
            )
        )
        await until(lambda: served.endpoint.engine.held_connect(client_id) is not None, "held")
        # malformed frames get no reply and do not close the socket
        await ws.send_str("{not json")
        await ws.send_bytes(b"\x00\x01")
        assert served.endpoint.notify("u1", CHANNEL, {"n": 1}, {"gwsload": {"seq": 1}}) == 1
        pushed = await receive(ws)
        assert pushed == [{"channel": CHANNEL, "data": {"n": 1}, "ext": {"gwsload": {"seq": 1}}}]
        (connect_reply,) = await receive(ws)  # the held connect, at its timeout
        assert connect_reply["id"] == "3" and connect_reply["successful"] is True


async def test_websocket_close_keeps_session_until_max_interval(serve: Serve) -> None:
    served = await serve(timeout_ms=30000, max_interval_ms=5000)
    async with served.http.ws_connect(served.url, headers={"X-User": "u1"}) as ws:
        client_id = await ws_handshake(ws)
        await ws.send_str(
            json.dumps(
                [
                    {"channel": "/meta/subscribe", "clientId": client_id, "subscription": CHANNEL},
                    {
                        "channel": "/meta/connect",
                        "clientId": client_id,
                        "connectionType": "websocket",
                    },
                ]
            )
        )
        assert (await receive(ws))[0]["successful"] is True
        await until(lambda: served.endpoint.engine.held_connect(client_id) is not None, "held")
    await until(lambda: served.endpoint.engine.held_connect(client_id) is None, "abandon")
    assert served.endpoint.session_count == 1
    assert served.endpoint.notify("u1", CHANNEL, {"n": 2}) == 1
    replies = await served.connect(client_id, timeout=0)  # now over long-polling
    assert [e["data"] for e in events(replies)] == [{"n": 2}]


async def test_websocket_ack_session_gets_events_on_connect_reply(serve: Serve) -> None:
    served = await serve(timeout_ms=30000)
    async with served.http.ws_connect(served.url, headers={"X-User": "u1"}) as ws:
        await ws.send_str(
            json.dumps(
                [
                    {
                        "channel": "/meta/handshake",
                        "version": "1.0",
                        "supportedConnectionTypes": ["websocket"],
                        "ext": {"ack": True},
                    }
                ]
            )
        )
        client_id = (await receive(ws))[0]["clientId"]
        await ws.send_str(
            json.dumps(
                [{"channel": "/meta/subscribe", "clientId": client_id, "subscription": CHANNEL}]
            )
        )
        await receive(ws)
        await ws.send_str(
            json.dumps(
                [
                    {
                        "channel": "/meta/connect",
                        "id": "9",
                        "ext": {"ack": 0},
                        "clientId": client_id,
                        "connectionType": "websocket",
                    }
                ]
            )
        )
        await until(lambda: served.endpoint.engine.held_connect(client_id) is not None, "held")
        served.endpoint.notify("u1", CHANNEL, {"n": 1})
        frame = await receive(ws)
        assert [m.get("data") for m in frame] == [{"n": 1}, None]
        assert frame[-1]["id"] == "9" and frame[-1]["ext"] == {"ack": 1}


async def test_websocket_other_user_cannot_use_session(serve: Serve) -> None:
    served = await serve()
    client_id = await served.handshake(user="u1")
    async with served.http.ws_connect(served.url, headers={"X-User": "u2"}) as ws:
        await ws.send_str(
            json.dumps(
                [{"channel": "/meta/connect", "clientId": client_id, "connectionType": "websocket"}]
            )
        )
        (reply,) = await receive(ws)
        assert reply["error"] == "402::session_unknown"


async def test_close_releases_held_connects_and_websockets(serve: Serve) -> None:
    served = await serve(timeout_ms=30000)
    client_id = await served.handshake()
    held = asyncio.create_task(served.connect(client_id))
    await until(lambda: served.endpoint.engine.held_connect(client_id) is not None, "held")
    async with served.http.ws_connect(served.url, headers={"X-User": "u1"}) as ws:
        await served.endpoint.close()
        (reply,) = await asyncio.wait_for(held, 10)
        assert reply["successful"] is True
        frame = await asyncio.wait_for(ws.receive(), 10)
        assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_websocket_disabled_offers_only_long_polling(serve: Serve) -> None:
    served = await serve(websocket=False)
    (reply,) = await served.post(
        [
            {
                "channel": "/meta/handshake",
                "version": "1.0",
                "supportedConnectionTypes": ["websocket"],
            }
        ]
    )
    assert reply["successful"] is False and reply["error"].startswith("301:")
    assert reply["supportedConnectionTypes"] == ["long-polling"]
    async with served.http.get(served.url) as response:
        assert response.status == 405


async def test_websocket_disconnect_then_http_message_is_402(serve: Serve) -> None:
    served = await serve()
    async with served.http.ws_connect(served.url, headers={"X-User": "u1"}) as ws:
        client_id = await ws_handshake(ws)
        await ws.send_str(
            json.dumps([{"channel": "/meta/disconnect", "id": "d", "clientId": client_id}])
        )
        (bye,) = await receive(ws)
        assert bye == {"id": "d", "channel": "/meta/disconnect", "successful": True}
        (reply,) = await served.connect(client_id, timeout=0)
        assert reply["error"] == "402::session_unknown"
        assert served.endpoint.notify("u1", CHANNEL, {}) == 0


async def test_websocket_survives_odd_frames(serve: Serve) -> None:
    served = await serve()
    odd = [
        "",
        "[]",
        "42",
        "null",
        "[1,2]",
        '{"channel":5}',
        '[{"channel":"/meta/connect"}]',
        '[{"channel":"/x","data":NaN,"clientId":"nosuch"}]',
        "[" * 5000,
        '"text"',
    ]
    async with served.http.ws_connect(served.url, headers={"X-User": "u1"}) as ws:
        for frame in odd:
            await ws.send_str(frame)
        await ws.send_str(
            json.dumps(
                [
                    {
                        "channel": "/meta/handshake",
                        "id": "h",
                        "version": "1.0",
                        "supportedConnectionTypes": ["websocket"],
                    }
                ]
            )
        )
        replies = [await receive(ws) for _ in range(2)]
    # only the well-formed Bayeux frames were answered, in order (the NaN frame is
    # not JSON, so it gets no answer, like every other malformed frame)
    assert replies[0][0]["error"] == "402::session_unknown"
    assert replies[1][0]["id"] == "h" and replies[1][0]["successful"] is True


async def test_websocket_that_falls_too_far_behind_is_closed_but_session_lives(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gwsload.simulator.cometd_socket.MAX_PENDING_FRAMES", 5)
    served = await serve(timeout_ms=30000)
    async with served.http.ws_connect(served.url, headers={"X-User": "u1"}) as ws:
        client_id = await ws_handshake(ws)
        await ws.send_str(
            json.dumps(
                [{"channel": "/meta/subscribe", "clientId": client_id, "subscription": CHANNEL}]
            )
        )
        await receive(ws)
        # no await between notifies: the writer cannot drain, the outbox overflows
        for n in range(20):
            served.endpoint.notify("u1", CHANNEL, {"n": n})
        pushed = [(await receive(ws))[0]["data"]["n"] for _ in range(5)]
        closing = await asyncio.wait_for(ws.receive(), 10)
    assert pushed == [0, 1, 2, 3, 4]
    assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 1013
    assert served.endpoint.session_count == 1
