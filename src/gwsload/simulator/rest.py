"""The GWS v2 Voice API routes: thin handlers over ``World``.

Every operation replies ``{"statusCode":0}`` at once; its effect arrives later as a
notification (see ``publisher``). Refusals raise ``ApiError``, which the error
middleware turns into the GWS body and HTTP status.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from gwsload.simulator.middleware import AGENT_KEY, NODE, SESSION_ENDED_KEY, SESSION_KEY
from gwsload.simulator.world import RECORDING_OPERATIONS, Agent, ApiError, operation_name

__all__ = ["GWS_VERSION", "add_routes"]

#: what ``GET /api/v2/diagnostics/version`` reports (the version in the GWS samples)
GWS_VERSION = "8.5.200.50"

_OK = {"statusCode": 0}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v2/diagnostics/version", get_version)
    app.router.add_get("/api/v2/me", get_me)
    app.router.add_post("/api/v2/me", post_me)
    app.router.add_post("/api/v2/me/channels/voice", post_voice_channel)
    app.router.add_get("/api/v2/me/devices", get_devices)
    app.router.add_post("/api/v2/me/devices/{device_id}/calls", post_dial)
    app.router.add_get("/api/v2/me/calls", get_calls)
    app.router.add_get("/api/v2/me/calls/{call_id}", get_call)
    app.router.add_post("/api/v2/me/calls/{call_id}", post_call)


def _ok() -> web.Response:
    return web.json_response(_OK)


def _agent(request: web.Request) -> Agent:
    agent: Agent = request[AGENT_KEY]
    return agent


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        raise ApiError(1, "Missing request body: a JSON object with operationName")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(10, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(10, "Request body must be a JSON object")
    return body


async def get_version(request: web.Request) -> web.Response:
    return web.json_response({"statusCode": 0, "version": GWS_VERSION})


async def get_me(request: web.Request) -> web.Response:
    world = request.app[NODE].world
    agent = _agent(request)
    user = world.user_payload(agent)
    wanted = request.query.get("subresources")
    if wanted:
        names = {"features", "devices", "channels", "settings"} if wanted == "*" else set(
            name.strip() for name in wanted.split(",")
        )  # fmt: skip
        if "devices" in names:
            user["devices"] = [world.device_payload(agent)]
        if "channels" in names:
            user["channels"] = [
                {"channel": "voice", "userState": world.device_payload(agent)["userState"]}
            ]
        if "features" in names:
            recording = world.recording_feature and agent.recording_available
            user["features"] = ["api-voice"] + (["api-voice-recording"] if recording else [])
        if "settings" in names:
            user["settings"] = {}
    return web.json_response({"statusCode": 0, "user": user})


async def post_me(request: web.Request) -> web.Response:
    node = request.app[NODE]
    agent = _agent(request)
    body = await _json_body(request)
    operation = operation_name(body)
    if operation == "StartContactCenterSession":
        node.publish(node.world.start_session(agent, body, time.time()))
        return _ok()
    if operation == "EndContactCenterSession":
        node.world.end_session(agent)
        node.sessions.invalidate(request[SESSION_KEY].id)
        request[SESSION_ENDED_KEY] = True
        return _ok()
    raise ApiError(
        10, f"Unknown operationName {operation!r}; expected StartContactCenterSession or "
        "EndContactCenterSession",
    )  # fmt: skip


async def post_voice_channel(request: web.Request) -> web.Response:
    node = request.app[NODE]
    body = await _json_body(request)
    node.publish(node.world.set_user_state(_agent(request), operation_name(body)))
    return _ok()


async def get_devices(request: web.Request) -> web.Response:
    world = request.app[NODE].world
    agent = _agent(request)
    if request.query.get("fields"):
        return web.json_response({"statusCode": 0, "devices": [world.device_payload(agent)]})
    return web.json_response(
        {"statusCode": 0, "uris": [f"{world.api_base}/devices/{agent.device_id}"]}
    )


async def post_dial(request: web.Request) -> web.Response:
    node = request.app[NODE]
    body = await _json_body(request)
    operation = operation_name(body)
    if operation != "Dial":
        raise ApiError(10, f"Unknown operationName {operation!r} on a device; expected Dial")
    call, notifications = node.world.dial(
        _agent(request), request.match_info["device_id"], body, time.time()
    )
    node.publish(notifications)
    outcome = node.faults.dial_outcome()
    if call.peer_id is None:  # a simulated agent's call is answered by that agent
        if outcome != "answer":
            node.record_fault(outcome, _agent(request).username, call.id, "Dial")
        node.schedule_answer(call.id, outcome)
    return _ok()


async def get_calls(request: web.Request) -> web.Response:
    world = request.app[NODE].world
    agent = _agent(request)
    if request.query.get("fields"):
        now = time.time()
        calls = [world.call_payload(agent, call, now) for call in agent.calls.values()]
        return web.json_response({"statusCode": 0, "calls": calls})
    uris = [f"{world.api_base}/me/calls/{call_id}" for call_id in agent.calls]
    return web.json_response({"statusCode": 0, "uris": uris})


async def get_call(request: web.Request) -> web.Response:
    world = request.app[NODE].world
    agent = _agent(request)
    call = world.call_of(agent, request.match_info["call_id"])
    return web.json_response(
        {"statusCode": 0, "call": world.call_payload(agent, call, time.time())}
    )


async def post_call(request: web.Request) -> web.Response:
    node = request.app[NODE]
    body = await _json_body(request)
    agent = _agent(request)
    call_id = request.match_info["call_id"]
    call = node.world.call_of(agent, call_id)  # unknown call -> 404 before anything else
    operation = operation_name(body)
    fail_later = False
    fail_unrecordable_later = False
    if operation in RECORDING_OPERATIONS:
        if node.faults.throttle():
            node.record_fault("throttled", agent.username, call_id, operation)
            # Jetty's DoSFilter: no GWS body, a Retry-After header
            retry_after = str(node.options.throttle_retry_after_s)
            return web.Response(
                status=node.options.throttle_status, headers={"Retry-After": retry_after}
            )
        if node.faults.fail_operation():
            raise ApiError(4, "Voice service is not available at this time", 503)
        fail_later = node.faults.fail_after_accepting()
        if not call.recordable:
            fail_unrecordable_later = node.options.recording_unavailable_refusal == "error"
            node.record_fault(
                "recording_failed" if fail_unrecordable_later else "recording_refused",
                agent.username,
                call_id,
                operation,
            )
    notifications = node.world.call_operation(
        agent,
        call_id,
        body,
        time.time(),
        fail_later=fail_later,
        fail_unrecordable_later=fail_unrecordable_later,
    )
    node.publish(notifications)
    return _ok()
