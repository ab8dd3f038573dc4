"""Validation of Tracking API calls: one request body → accepted events and rejected items.

``split_request(path_type, body, limits, received_at)`` applies Segment's rules:

* ``type`` comes from the path (``/v1/track`` → ``track``); in a batch, from each item;
* batch-level ``context`` and ``integrations`` are merged into each item (the item's keys win), and a
  batch-level ``sentAt`` is copied into items without one (the SDKs stamp it on the batch);
  ``writeKey`` is removed from events;
* every event needs ``userId`` or ``anonymousId`` (string, or a number that is stringified); ``track``
  needs ``event``, ``group`` needs ``groupId``, ``alias`` needs ``previousId``;
* ``messageId`` must be a string of at most 100 characters and is generated when absent;
* ``properties``, ``traits``, ``context`` and ``integrations`` must be objects;
* an event over ``max_event_bytes`` (serialized) is rejected;
* ``receivedAt`` is stamped; ``sentAt`` is kept for skew correction in the worker.

A request-level problem raises :class:`RequestError` (HTTP 400).  An invalid item inside a batch does not
fail the others: it becomes a :class:`Rejected` with a reason from :data:`REASONS` (a fixed set, used
as a metric label) and is written to the rejects topic.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

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


def split_request(path_type: str, body: Any, max_event_bytes: int, max_batch: int,
                  received_at: str) -> tuple[list[dict[str, Any]], list[Rejected]]:
    """Validate a request body; return (accepted events, rejected items)."""
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
    accepted: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    for index, item in enumerate(items):
        try:
            accepted.append(_check_item(path_type, item, shared, max_event_bytes, received_at))
        except _ItemError as exc:
            rejected.append(Rejected(index, exc.reason, exc.field, exc.message, item))
    return accepted, rejected


class _ItemError(Exception):
    def __init__(self, reason: str, field: str, message: str) -> None:
        self.reason, self.field, self.message = reason, field, message


def _check_item(path_type: str, item: Any, shared: dict[str, Any], max_bytes: int,
                received_at: str) -> dict[str, Any]:
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
        event["messageId"] = f"api-{uuid.uuid4()}"
    elif not isinstance(message_id, str):
        raise _ItemError("wrong_type", "messageId", "messageId must be a string")
    elif len(message_id) > 100:
        raise _ItemError("message_id_too_long", "messageId", "messageId is longer than 100 characters")
    event["receivedAt"] = received_at
    size = len(orjson.dumps(event))
    if size > max_bytes:
        raise _ItemError("event_too_large", "", f"event is {size} bytes; the limit is {max_bytes}")
    return event
