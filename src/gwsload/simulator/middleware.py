"""aiohttp middlewares: errors as GWS bodies, Basic auth + JSESSIONID, CSRF and Origin checks.

Order (outermost first): ``error_middleware`` turns ``ApiError``, routing errors and
any unexpected exception into a GWS JSON body, so no request ever ends in a bare
500 page; ``auth_middleware`` resolves the user of every ``/api/v2/*`` request
(Basic credentials, or the session cookie alone) and sets ``request[USER_KEY]``
for the handlers and the CometD endpoint. Cookie, CSRF and CORS headers are added in
``on_response_prepare`` so that they also reach websocket upgrade responses.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import Any

from aiohttp import web

from gwsload.simulator.cometd_endpoint import USER_KEY
from gwsload.simulator.node import SimulatedNode
from gwsload.simulator.sessions import HttpSession
from gwsload.simulator.world import Agent, ApiError

__all__ = [
    "NODE",
    "REQUESTS_PATH",
    "auth_middleware",
    "count_middleware",
    "error_middleware",
    "get_requests",
    "on_response_prepare",
]

log = logging.getLogger("gwsload.simulator")

NODE = web.AppKey("gwsload_node", SimulatedNode)
#: what the auth middleware records on a request for the handlers (typed keys)
AGENT_KEY = web.RequestKey("gws_agent", Agent)
SESSION_KEY = web.RequestKey("gws_session", HttpSession)
NEW_SESSION_KEY = web.RequestKey("gws_new_session", str)
SESSION_ENDED_KEY = web.RequestKey("gws_session_ended", bool)

API_PREFIX = "/api/v2/"
NOTIFICATIONS_PATH = "/api/v2/notifications"
VERSION_PATH = "/api/v2/diagnostics/version"
#: the simulator's own counter of requests received (not a GWS resource)
REQUESTS_PATH = "/gwsload/requests"
SESSION_COOKIE = "JSESSIONID"
CSRF_HEADER = "X-CSRF-TOKEN"
NODE_HEADER = "X-Gwsload-Node"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})


def json_error(status_code: int, message: str, http_status: int, **headers: str) -> web.Response:
    body = {"statusCode": status_code, "statusMessage": message}
    return web.json_response(body, status=http_status, headers=headers or None)


@web.middleware
async def count_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Count every HTTP request received (a websocket once, at its upgrade), so a test
    can tell when a client really stopped sending."""
    if request.path != REQUESTS_PATH:
        request.app[NODE].requests_received += 1
    response: web.StreamResponse = await handler(request)
    return response


async def get_requests(request: web.Request) -> web.Response:
    """``GET /gwsload/requests``: ``{"requests": N}``, the requests received so far."""
    return web.json_response({"requests": request.app[NODE].requests_received})


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as exc:
        return web.json_response(exc.body(), status=exc.http_status)
    except web.HTTPException as exc:
        if not request.path.startswith(API_PREFIX) or exc.status < 400:
            raise
        if exc.status == 404:
            return json_error(6, f"Resource {request.path} not found", 404)
        if exc.status == 405:
            return json_error(3, f"Method {request.method} not allowed on {request.path}", 405)
        return json_error(10 if exc.status < 500 else 4, exc.reason, exc.status)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return json_error(4, "Internal server error", 500)


@web.middleware
async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    path = request.path
    if not path.startswith(API_PREFIX) or (path == VERSION_PATH and request.method == "GET"):
        response: web.StreamResponse = await handler(request)
        return response
    node = request.app[NODE]
    if not node.world.api_base:  # externalApiUrlV2, as the first client reached us
        node.world.api_base = f"{request.scheme}://{request.host}/api/v2"
    options = node.options
    is_notifications = path == NOTIFICATIONS_PATH or path.startswith(NOTIFICATIONS_PATH + "/")
    if request.method == "OPTIONS":  # CORS preflight: never authenticated
        return web.Response(status=200)
    if not is_notifications and node.faults.throttle_request():
        return _throttled(node, request)
    if options.require_origin is not None and not is_notifications:
        origin = request.headers.get("Origin")
        if origin != options.require_origin:
            return json_error(3, f"Origin {origin!r} is not allowed", 403)
    resolved = _resolve_user(node, request)
    if resolved is None:
        return json_error(20, "Access denied", 401, **{"WWW-Authenticate": 'Basic realm="GWS"'})
    agent, session, is_new = resolved
    csrf_checked = options.csrf and request.method in _UNSAFE_METHODS and not is_notifications
    if csrf_checked and (is_new or request.headers.get(CSRF_HEADER) != session.csrf_token):
        return json_error(3, "Missing or invalid Csrf token", 403)
    request[USER_KEY] = agent.user_id
    request[AGENT_KEY] = agent
    request[SESSION_KEY] = session
    if is_new:
        request[NEW_SESSION_KEY] = session.id
    response = await handler(request)
    return response


def _throttled(node: SimulatedNode, request: web.Request) -> web.Response:
    """Jetty's DoSFilter in front of GWS: no GWS body, a Retry-After header; the request
    never reached GWS. In the truth log as ``throttled`` with the request line in
    ``notification_type`` and the agent when the node knows its credentials or session."""
    user_id = node.auth_cache.get(request.headers.get("Authorization", ""))
    session = node.sessions.get(request.cookies.get(SESSION_COOKIE))
    user_id = user_id or (session.user_id if session is not None else None)
    agent = node.world.by_user_id.get(user_id) if user_id is not None else None
    username = agent.username if agent is not None else ""
    node.record_fault("throttled", username, "", f"{request.method} {request.path}")
    retry_after = str(node.options.throttle_retry_after_s)
    return web.Response(status=node.options.throttle_status, headers={"Retry-After": retry_after})


def _resolve_user(
    node: SimulatedNode, request: web.Request
) -> tuple[Agent, HttpSession, bool] | None:
    """(agent, HTTP session, session is new), or None when not authenticated."""
    session = node.sessions.get(request.cookies.get(SESSION_COOKIE))
    header = request.headers.get("Authorization")
    if header is None:
        if session is None:
            return None
        return node.world.by_user_id[session.user_id], session, False
    user_id = node.auth_cache.get(header)
    if user_id is None:
        agent = _check_basic(node, header)
        if agent is None:
            return None
        user_id = node.auth_cache[header] = agent.user_id
    agent = node.world.by_user_id[user_id]
    if session is not None and session.user_id == user_id:
        return agent, session, False
    return agent, node.sessions.create(user_id), True


def _check_basic(node: SimulatedNode, header: str) -> Agent | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep:
        return None
    return node.world.authenticate(username, password)


async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    node = request.app[NODE]
    options = node.options
    if options.node_name is not None:  # which node of a cluster served this request
        response.headers[NODE_HEADER] = options.node_name
    new_session = request.get(NEW_SESSION_KEY)
    if new_session is not None and request.get(SESSION_ENDED_KEY) is None:
        # a header, not response.set_cookie: cookies are serialised before this signal
        response.headers.add("Set-Cookie", f"{SESSION_COOKIE}={new_session}; Path=/; HttpOnly")
    session = request.get(SESSION_KEY)
    ended = request.get(SESSION_ENDED_KEY) is not None
    if options.csrf and session is not None and request.method == "GET" and not ended:
        response.headers["X-CSRF-HEADER"] = CSRF_HEADER
        response.headers[CSRF_HEADER] = session.csrf_token
    origin = request.headers.get("Origin")
    if options.require_origin is not None and origin == options.require_origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = "X-CSRF-HEADER,X-CSRF-TOKEN"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET,POST,PUT,DELETE,OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = (
                "X-Requested-With,Content-Type,Accept,Origin,Cookie,authorization,X-CSRF-TOKEN"
            )
