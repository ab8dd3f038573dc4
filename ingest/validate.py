"""Validation of Tracking API calls: one request body → accepted events and rejected items.

``split_request(path_type, body, max_event_bytes, max_batch, received_at)`` applies Segment's rules:

* ``type`` comes from the path (``/v1/track`` → ``track``); in a batch, from each item;
* batch-level ``context`` and ``integrations`` are merged into each item (the item's keys win), and a
  batch-level ``sentAt`` is copied into items without one (the SDKs stamp it on the batch);
  ``writeKey`` is removed from events;
* every event needs ``userId`` or ``anonymousId`` (string, or a number that is stringified); ``track``
  needs ``event``, ``group`` needs ``groupId``, ``alias`` needs ``previousId``;
* ``messageId`` must be a string of at most 100 characters and is generated when absent
  (``api-<32 hex>-<n>``, see :mod:`eventyard.ingest.stamps`);
* ``properties``, ``traits``, ``context`` and ``integrations`` must be objects;
* an event over ``max_event_bytes`` (serialized) is rejected;
* ``receivedAt`` is stamped; ``sentAt`` is kept for skew correction in the worker.

The result is a :class:`Split`: the accepted events, each one's serialized bytes (the size check
serializes every event anyway, so the publisher reuses those bytes instead of serializing again), and
the rejected items.  A request-level problem raises :class:`RequestError` (HTTP 400).  An invalid item
inside a batch does not fail the others: it becomes a :class:`Rejected` with a reason from
:data:`REASONS` (a fixed set, used as a metric label) and is written to the rejects topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from eventyard.ingest.stamps import message_id_prefix

CALL_TYPES = ("track", "identify", "page", "screen", "group", "alias")
SHORT_PATHS = {"t": "track", "i": "identify", "p": "page", "s": "screen", "g": "group", "a": "alias",
               "b": "batch"}
REQUIRED_FIELD = {"track": "event", "group": "groupId", "alias": "previousId"}
OBJECT_FIELDS = ("properties", "traits", "context", "integrations")
REASONS = ("not_an_object", "invalid_type", "missing_user", "missing_field", "wrong_type",
           "message_id_too_long", "event_too_large")


class RequestError(Exception):
    """The request as a whole is invalid (answered 400)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(slots=True)
class Rejected:
    """An item refused at ingest, with the reason and the field at fault."""

    index: int
    reason: str
    field: str
    message: str
    item: Any


@dataclass(slots=True)
class Split:
    """A validated request: accepted events with their serialized bytes, and rejected items."""

    accepted: list[dict[str, Any]]
    encoded: list[bytes]
    rejected: list[Rejected]


def split_request(path_type: str, body: Any, max_event_bytes: int, max_batch: int,
                  received_at: str) -> Split:
    """Validate a request body into accepted events (with their JSON bytes) and rejected items."""
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object", "not_an_object")
    if path_type != "batch":
        items: list[Any] = [body]
        shared: dict[str, Any] = {}
    else:
        items = body.get("batch")
        if not isinstance(items, list):
            raise RequestError("batch must be an array of events", "invalid_batch")
        if len(items) > max_batch:
            raise RequestError(f"batch has {len(items)} events; the limit is {max_batch}",
                               "batch_too_large")
        shared = {k: body[k] for k in ("context", "integrations") if isinstance(body.get(k), dict)}
        if isinstance(body.get("sentAt"), str):
            shared["sentAt"] = body["sentAt"]
    split = Split([], [], [])
    id_prefix = message_id_prefix()
    for index, item in enumerate(items):
        try:
            event = _check_item(path_type, item, shared, received_at, id_prefix, index)
        except _ItemError as exc:
            split.rejected.append(Rejected(index, exc.reason, exc.field, exc.message, item))
            continue
        data = orjson.dumps(event)
        if len(data) > max_event_bytes:
            split.rejected.append(Rejected(index, "event_too_large", "", f"event is {len(data)} bytes; "
                                           f"the limit is {max_event_bytes}", item))
            continue
        split.accepted.append(event)
        split.encoded.append(data)
    return split


class _ItemError(Exception):
    def __init__(self, reason: str, field: str, message: str) -> None:
        self.reason, self.field, self.message = reason, field, message


def _check_item(path_type: str, item: Any, shared: dict[str, Any], received_at: str, id_prefix: str,
                index: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _ItemError("not_an_object", "", "event must be a JSON object")
    event = dict(item)
    event.pop("writeKey", None)
    call = path_type if path_type != "batch" else event.get("type")
    if call not in CALL_TYPES:
        raise _ItemError("invalid_type", "type", f"type must be one of {', '.join(CALL_TYPES)}")
    event["type"] = call
    for key, value in shared.items():
        own = event.get(key)
        if isinstance(value, dict):
            event[key] = {**value, **own} if isinstance(own, dict) else value
        elif own is None:
            event[key] = value
    for name in OBJECT_FIELDS:
        if name in event and not isinstance(event[name], dict):
            raise _ItemError("wrong_type", name, f"{name} must be an object")
    for name in ("userId", "anonymousId"):
        value = event.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            event[name] = str(value)
        elif value is not None and not isinstance(value, str):
            raise _ItemError("wrong_type", name, f"{name} must be a string")
    if not event.get("userId") and not event.get("anonymousId"):
        raise _ItemError("missing_user", "userId", "userId or anonymousId is required")
    required = REQUIRED_FIELD.get(call)
    if required is not None:
        value = event.get(required)
        if value is None or value == "":
            raise _ItemError("missing_field", required, f"{call} requires {required}")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise _ItemError("wrong_type", required, f"{required} must be a string")
        event[required] = value if isinstance(value, str) else str(value)
    message_id = event.get("messageId")
    if message_id is None or message_id == "":
        event["messageId"] = f"{id_prefix}{index}"
    elif not isinstance(message_id, str):
        raise _ItemError("wrong_type", "messageId", "messageId must be a string")
    elif len(message_id) > 100:
        raise _ItemError("message_id_too_long", "messageId", "messageId is longer than 100 characters")
    event["receivedAt"] = received_at
    return event
