"""GWS Voice API client and the notification matcher.

Pure parts (importable without gevent): :mod:`.errors`, :mod:`.matcher`,
:mod:`.expectation`, :mod:`.outcomes`, :mod:`.protocol`, :mod:`.calls`, :mod:`.config`,
:mod:`.life` (the agent's life as a state table). The gevent parts are imported on
first use, so that processes which must not import gevent (analysis, simulator, pure
tests) can use the pure parts: ``GwsSession`` (:mod:`.session`), ``Agent``
(:mod:`.agent`, over :mod:`.agent_core`) and ``AgentLife`` (:mod:`.life_driver`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gwsload.gws.calls import CallTable
from gwsload.gws.config import AgentConfig, AgentError
from gwsload.gws.errors import (
    STATUS_MEANINGS,
    GwsApiError,
    GwsError,
    GwsSettingError,
    GwsTransportError,
    status_meaning,
)
from gwsload.gws.matcher import (
    RECORDING_OPERATIONS,
    Anomaly,
    Expectation,
    NotificationMatcher,
    Outcome,
)

if TYPE_CHECKING:
    from gwsload.gws.agent import Agent
    from gwsload.gws.session import GwsSession, Response

__all__ = [
    "RECORDING_OPERATIONS",
    "STATUS_MEANINGS",
    "Agent",
    "AgentConfig",
    "AgentError",
    "Anomaly",
    "CallTable",
    "Expectation",
    "GwsApiError",
    "GwsError",
    "GwsSession",
    "GwsSettingError",
    "GwsTransportError",
    "NotificationMatcher",
    "Outcome",
    "Response",
    "status_meaning",
]

_LAZY = {
    "Agent": "gwsload.gws.agent",
    "GwsSession": "gwsload.gws.session",
    "Response": "gwsload.gws.session",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gwsload.gws' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
