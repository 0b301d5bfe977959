"""JSON <-> :class:`Message`: the only place that knows the wire names.

``decode`` accepts what Bayeux says both sides MUST accept (a JSON array of
message objects) and what they MAY accept (a single object). Anything else,
and any known field of the wrong type, raises :class:`RemoteProtocolError`;
no input makes ``decode`` raise anything else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from gwsload.bayeux._errors import BayeuxFailure, RemoteProtocolError
from gwsload.bayeux._messages import MISSING, Advice, Message, Reconnect

__all__ = ["decode", "encode", "message_from_wire", "message_to_wire"]

_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode

# wire name -> attribute name, for the fields that are plain strings
_STRING_FIELDS = {
    "channel": "channel",
    "clientId": "client_id",
    "error": "error",
    "connectionType": "connection_type",
    "version": "version",
    "minimumVersion": "minimum_version",
}
_KNOWN = frozenset(
    {
        *_STRING_FIELDS,
        "id",
        "data",
        "successful",
        "advice",
        "ext",
        "subscription",
        "supportedConnectionTypes",
    }
)
_ADVICE_INTS = {"interval": "interval", "timeout": "timeout", "maxInterval": "max_interval"}


def encode(messages: Iterable[Message]) -> str:
    """A JSON array of the messages, compact."""
    return _DUMPS([message_to_wire(m) for m in messages])


def message_to_wire(message: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    if message.id is not None:
        wire["id"] = message.id
    if message.channel is not None:
        wire["channel"] = message.channel
    if message.client_id is not None:
        wire["clientId"] = message.client_id
    if message.successful is not None:
        wire["successful"] = message.successful
    if message.error is not None:
        wire["error"] = message.error
    if message.data is not MISSING:
        wire["data"] = message.data
    if message.subscription is not None:
        sub = message.subscription
        wire["subscription"] = sub if isinstance(sub, str) else list(sub)
    if message.connection_type is not None:
        wire["connectionType"] = message.connection_type
    if message.supported_connection_types is not None:
        wire["supportedConnectionTypes"] = list(message.supported_connection_types)
    if message.version is not None:
        wire["version"] = message.version
    if message.minimum_version is not None:
        wire["minimumVersion"] = message.minimum_version
    if message.advice is not None:
        wire["advice"] = _advice_to_wire(message.advice)
    if message.ext is not None:
        wire["ext"] = message.ext
    if message.extra:
        for key, value in message.extra.items():
            wire.setdefault(key, value)
    return wire


def _advice_to_wire(advice: Advice) -> dict[str, Any]:
    wire: dict[str, Any] = dict(advice.extra or {})
    if advice.reconnect is not None:
        wire["reconnect"] = advice.reconnect.value
    if advice.interval is not None:
        wire["interval"] = advice.interval
    if advice.timeout is not None:
        wire["timeout"] = advice.timeout
    if advice.max_interval is not None:
        wire["maxInterval"] = advice.max_interval
    if advice.multiple_clients is not None:
        wire["multiple-clients"] = advice.multiple_clients
    return wire


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(payload: str | bytes) -> list[Message]:
    """Parse a Bayeux payload (array of messages, or one message object).

    ``NaN``, ``Infinity`` and numbers that overflow to infinity are refused:
    Python's ``json`` accepts them, but they cannot be encoded again, so one
    bad publish would otherwise break every later reply to its subscribers.
    """
    try:
        parsed = json.loads(payload, parse_float=_finite_float, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise RemoteProtocolError(f"payload is not JSON: {exc}") from None
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list):
        raise RemoteProtocolError(
            f"payload must be a JSON array of messages, got {type(parsed).__name__}"
        )
    return [message_from_wire(item, index) for index, item in enumerate(parsed)]


def message_from_wire(item: Any, index: int = 0) -> Message:
    """One message from its parsed JSON object."""
    if not isinstance(item, dict):
        raise RemoteProtocolError(
            f"message [{index}] must be a JSON object, got {type(item).__name__}"
        )
    values: dict[str, Any] = {}
    for wire_name, attr in _STRING_FIELDS.items():
        value = item.get(wire_name)
        if value is not None:
            values[attr] = _expect_str(value, wire_name, index)
    raw_id = item.get("id")
    if raw_id is not None:
        # ids are alphanumeric strings; some clients send numbers
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise _field_error("id", "a string", raw_id, index)
        values["id"] = str(raw_id)
    if "data" in item:
        values["data"] = item["data"]
    successful = item.get("successful")
    if successful is not None:
        if not isinstance(successful, bool):
            raise _field_error("successful", "a boolean", successful, index)
        values["successful"] = successful
    if item.get("advice") is not None:
        values["advice"] = _advice_from_wire(item["advice"], index)
    ext = item.get("ext")
    if ext is not None:
        if not isinstance(ext, dict):
            raise _field_error("ext", "an object", ext, index)
        values["ext"] = ext
    if item.get("subscription") is not None:
        values["subscription"] = _subscription(item["subscription"], index)
    types = item.get("supportedConnectionTypes")
    if types is not None:
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise _field_error("supportedConnectionTypes", "an array of strings", types, index)
        values["supported_connection_types"] = tuple(types)
    extra = {k: v for k, v in item.items() if k not in _KNOWN}
    if extra:
        values["extra"] = extra
    values.setdefault("channel", None)
    return Message(**values)


def _advice_from_wire(raw: Any, index: int) -> Advice:
    if not isinstance(raw, dict):
        raise _field_error("advice", "an object", raw, index)
    values: dict[str, Any] = {}
    reconnect = raw.get("reconnect")
    if reconnect is not None:
        try:
            values["reconnect"] = Reconnect(reconnect)
        except ValueError:
            raise _field_error(
                "advice.reconnect", "one of 'retry', 'handshake', 'none'", reconnect, index
            ) from None
    for wire_name, attr in _ADVICE_INTS.items():
        value = raw.get(wire_name)
        if value is not None:
            # JSON numbers may come as floats (30000.0); bools are not numbers
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _field_error(f"advice.{wire_name}", "a number of ms", value, index)
            if not math.isfinite(value):
                raise _field_error(f"advice.{wire_name}", "a finite number", value, index)
            values[attr] = int(value)
    multiple = raw.get("multiple-clients")
    if multiple is not None:
        values["multiple_clients"] = bool(multiple)
    known = {"reconnect", "multiple-clients", *_ADVICE_INTS}
    extra = {k: v for k, v in raw.items() if k not in known}
    if extra:
        values["extra"] = extra
    return Advice(**values)


def _subscription(raw: Any, index: int) -> str | tuple[str, ...]:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return tuple(raw)
    raise _field_error("subscription", "a channel name or an array of them", raw, index)


def _expect_str(value: Any, name: str, index: int) -> str:
    if not isinstance(value, str):
        raise _field_error(name, "a string", value, index)
    return value


def _field_error(name: str, expected: str, got: Any, index: int) -> RemoteProtocolError:
    shown = repr(got)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return RemoteProtocolError(
        f"message [{index}] field {name!r} must be {expected}, got {shown}",
        BayeuxFailure(400, (name,), "bad_field"),
    )
