"""Builds the simulator's aiohttp application: REST Voice API + CometD endpoint.

``build_app(options)`` gives a ready ``web.Application``; the node behind it is
``app[NODE]`` (world, sessions, publisher). Starting and stopping the node (CometD
sweep, fault timers, truth-log flush) is tied to the application's lifecycle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Protocol

from aiohttp import web

from gwsload.simulator.agents import AgentAccount
from gwsload.simulator.cometd_endpoint import CometdEndpoint
from gwsload.simulator.middleware import (
    NODE,
    REQUESTS_PATH,
    auth_middleware,
    count_middleware,
    error_middleware,
    get_requests,
    on_response_prepare,
)
from gwsload.simulator.node import CometdLike, SimulatedNode
from gwsload.simulator.options import SimulatorOptions
from gwsload.simulator.rest import add_routes

__all__ = ["NODE", "MountableEndpoint", "build_app", "make_endpoint"]

NOTIFICATIONS_PATH = "/api/v2/notifications"


class MountableEndpoint(CometdLike, Protocol):
    """A CometD endpoint that also brings its own routes (``CometdEndpoint``)."""

    def add_routes(self, app: web.Application, path: str = NOTIFICATIONS_PATH) -> None: ...


def make_endpoint(options: SimulatorOptions) -> CometdEndpoint:
    """The CometD endpoint configured from the options."""
    return CometdEndpoint(
        timeout_ms=options.cometd_timeout_ms,
        interval_ms=options.cometd_interval_ms,
        max_interval_ms=options.cometd_max_interval_ms,
        websocket=options.websocket,
    )


def build_app(
    options: SimulatorOptions,
    *,
    accounts: Iterable[AgentAccount] | None = None,
    endpoint: MountableEndpoint | None = None,
) -> web.Application:
    """The application for ``options`` (already checked). Raises ``ConfigError`` on a bad
    agents file or truth-log path."""
    if endpoint is None:
        endpoint = make_endpoint(options)
    node = SimulatedNode(options, endpoint, accounts=accounts)
    # client_max_size: GWS operation bodies are small; 1 MiB leaves room for userData
    app = web.Application(
        middlewares=[count_middleware, error_middleware, auth_middleware], client_max_size=1 << 20
    )
    app[NODE] = node
    add_routes(app)
    app.router.add_get(REQUESTS_PATH, get_requests)
    endpoint.add_routes(app, NOTIFICATIONS_PATH)
    app.on_response_prepare.append(on_response_prepare)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await node.start()
        yield
        await node.close()

    app.cleanup_ctx.append(lifecycle)
    return app
