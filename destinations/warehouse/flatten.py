"""Event → rows of Segment's warehouse tables.

Every event gives a row in its type's table (``tracks``, ``identifies``, ``pages``, ``screens``,
``groups``, ``aliases``); a track also gives a row in the table named after its event, an identify with a
``userId`` a row in ``users``.  Rows hold Segment's reserved columns (``id``, ``received_at``, ``sent_at``,
``original_timestamp``, ``timestamp``, ``user_id``, ``anonymous_id``, ...), ``context`` flattened to
``context_*`` and properties or traits flattened to snake_case columns (nested objects joined with ``_``,
arrays as JSON text).  Values that cannot take their column (a property named like a reserved column, two
keys normalizing to one name) become discards rather than being lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_IDENTIFIER = 63
TYPE_TABLES = {"track": "tracks", "identify": "identifies", "page": "pages", "screen": "screens",
               "group": "groups", "alias": "aliases"}
RESERVED_TABLES = frozenset({*TYPE_TABLES.values(), "users", "discards"})
_TIMESTAMPS = {"received_at": "receivedAt", "sent_at": "sentAt", "original_timestamp": "originalTimestamp",
               "timestamp": "timestamp"}
_TYPE_FIELDS = {"page": {"name": "name"}, "screen": {"name": "name"},
                "group": {"group_id": "groupId"}, "alias": {"previous_id": "previousId"}}


class InvalidEvent(ValueError):
    """The event cannot be stored (missing id, unknown type, unnamed track)."""


@dataclass
class Row:
    """One row for ``table``; ``discards`` lists (column, value, reason) kept out of it."""

    table: str
    values: dict[str, Any]
    discards: list[tuple[str, Any, str]] = field(default_factory=list)

    def merge(self, extra: dict[str, Any]) -> None:
        """Add flattened columns; a column already set (reserved or duplicate) sends the value to discards."""
        for column, value in extra.items():
            if column in self.values:
                self.discards.append((column, value, "column name already used by this row"))
            else:
                self.values[column] = value


def snake_case(name: str) -> str:
    """Segment's column/table naming: ``productId`` → ``product_id``, ``Order Completed`` → ``order_completed``."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    name = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if name[:1].isdigit():
        name = "_" + name
    return name[:MAX_IDENTIFIER]


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested objects into ``{snake_case_path: scalar}``; arrays become JSON text."""
    if not isinstance(obj, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = snake_case(f"{prefix}_{key}" if prefix else str(key))
        if isinstance(value, dict):
            nested = flatten(value, name)
            out.update((k, v) for k, v in nested.items() if k not in out)
        elif name and name not in out:
            out[name] = orjson.dumps(value).decode() if isinstance(value, list) else value
    return out


def event_rows(event: dict[str, Any]) -> list[Row]:
    """Return the rows ``event`` writes; raise :class:`InvalidEvent` when it cannot be stored."""
    kind, message_id = event.get("type"), event.get("messageId")
    if kind not in TYPE_TABLES:
        raise InvalidEvent(f"unsupported event type {kind!r}")
    if not isinstance(message_id, str) or not message_id:
        raise InvalidEvent("missing messageId")
    common = {"id": message_id, "user_id": event.get("userId"), "anonymous_id": event.get("anonymousId")}
    common.update((column, event.get(key)) for column, key in _TIMESTAMPS.items())
    common.update((column, event.get(key)) for column, key in _TYPE_FIELDS.get(kind, {}).items())
    context = flatten(event.get("context"), "context")
    payload = flatten(event.get("traits") if kind in ("identify", "group") else event.get("properties"))
    typed = Row(TYPE_TABLES[kind], dict(common))
    typed.merge(context)
    if kind == "track":
        return [*_track_rows(event, typed, payload)]
    if kind in ("identify", "page", "screen", "group"):
        typed.merge(payload)
    rows = [typed]
    if kind == "identify" and event.get("userId") not in (None, ""):
        users = Row("users", {"id": str(event["userId"]), "received_at": event.get("receivedAt")})
        users.merge(payload)
        rows.append(users)
    return rows


def _track_rows(event: dict[str, Any], tracks: Row, properties: dict[str, Any]) -> list[Row]:
    name = event.get("event")
    table = snake_case(name) if isinstance(name, str) else ""
    if not table:
        raise InvalidEvent("track without an event name")
    if table in RESERVED_TABLES:
        table = "_" + table[: MAX_IDENTIFIER - 1]
    tracks.values.update(event=table, event_text=name)
    per_event = Row(table, dict(tracks.values), list(tracks.discards))
    per_event.merge(properties)
    return [tracks, per_event]
