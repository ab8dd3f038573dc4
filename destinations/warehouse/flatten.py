"""Event → rows of Segment's warehouse tables.

Every event gives a row in its type's table (``tracks``, ``identifies``, ``pages``, ``screens``,
``groups``, ``aliases``); a track also gives a row in the table named after its event, an identify with a
``userId`` a row in ``users``.  Rows hold Segment's reserved columns (``id``, ``received_at``, ``sent_at``,
``original_timestamp``, ``timestamp``, ``user_id``, ``anonymous_id``, ...), ``context`` flattened to
``context_*`` and properties or traits flattened to snake_case columns (nested objects joined with ``_``,
arrays as JSON text).  Values that cannot take their column (a property named like a reserved column, two
keys normalizing to one name) become discards rather than being lost.

Keys repeat from event to event, so the column name of each (prefix, key) pair is remembered (bounded
caches): flattening costs a dictionary lookup per key, not a regular-expression pass.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_IDENTIFIER = 63
NAME_CACHE_SIZE = 65_536
TYPE_TABLES = {"track": "tracks", "identify": "identifies", "page": "pages", "screen": "screens",
               "group": "groups", "alias": "aliases"}
RESERVED_TABLES = frozenset({*TYPE_TABLES.values(), "users", "discards"})
_TYPE_FIELDS = {"page": {"name": "name"}, "screen": {"name": "name"},
                "group": {"group_id": "groupId"}, "alias": {"previous_id": "previousId"}}
_CAMEL_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_SCALARS = frozenset({str, int, float, bool, type(None)})
_column_names: dict[str, dict[str, str]] = {}  # prefix → key → column name (bounded: cleared when full)


class InvalidEvent(ValueError):
    """The event cannot be stored (missing id, unknown type, unnamed track)."""


@dataclass(slots=True)
class Row:
    """One row for ``table``; ``discards`` lists (column, value, reason) kept out of it."""

    table: str
    values: dict[str, Any]
    discards: list[tuple[str, Any, str]] = field(default_factory=list)

    def merge(self, extra: dict[str, Any]) -> None:
        """Add flattened columns; a column already set (reserved or duplicate) sends the value to discards."""
        if self.values.keys().isdisjoint(extra):
            self.values.update(extra)
            return
        for column, value in extra.items():
            if column in self.values:
                self.discards.append((column, value, "column name already used by this row"))
            else:
                self.values[column] = value


@functools.lru_cache(maxsize=NAME_CACHE_SIZE)
def snake_case(name: str) -> str:
    """Segment's column/table naming: ``productId`` → ``product_id``, ``Order Completed`` → ``order_completed``."""
    name = _NOT_NAME.sub("_", _CAMEL_BOUNDARY.sub(r"\1_\2", name).lower()).strip("_")
    if name[:1].isdigit():
        name = "_" + name
    return name[:MAX_IDENTIFIER]


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested objects into ``{snake_case_path: scalar}``; arrays become JSON text.

    When two paths give one name, the first one met keeps it.
    """
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        _flatten_into(out, obj, prefix)
    return out


def _flatten_into(out: dict[str, Any], obj: dict[str, Any], prefix: str) -> None:
    names = _column_names.get(prefix)
    if names is None:
        if len(_column_names) >= NAME_CACHE_SIZE:
            _column_names.clear()
        names = _column_names[prefix] = {}
    for key, value in obj.items():
        name = names.get(key)
        if name is None:
            if len(names) >= NAME_CACHE_SIZE:
                names.clear()
            name = names[key] = snake_case(f"{prefix}_{key}" if prefix else str(key))
        if type(value) in _SCALARS:
            if name:
                out.setdefault(name, value)
        elif isinstance(value, dict):
            _flatten_into(out, value, name)
        elif name and name not in out:
            out[name] = orjson.dumps(value).decode() if isinstance(value, list) else value


def event_rows(event: dict[str, Any]) -> list[Row]:
    """Return the rows ``event`` writes; raise :class:`InvalidEvent` when it cannot be stored."""
    get = event.get
    kind, message_id = get("type"), get("messageId")
    if kind not in TYPE_TABLES:
        raise InvalidEvent(f"unsupported event type {kind!r}")
    if not isinstance(message_id, str) or not message_id:
        raise InvalidEvent("missing messageId")
    common = {"id": message_id, "user_id": get("userId"), "anonymous_id": get("anonymousId"),
              "received_at": get("receivedAt"), "sent_at": get("sentAt"),
              "original_timestamp": get("originalTimestamp"), "timestamp": get("timestamp")}
    if kind in _TYPE_FIELDS:
        common.update((column, get(key)) for column, key in _TYPE_FIELDS[kind].items())
    context = get("context")
    if isinstance(context, dict):  # its columns all start with context_: no clash with the columns above
        _flatten_into(common, context, "context")
    typed = Row(TYPE_TABLES[kind], common)
    payload = flatten(get("traits") if kind in ("identify", "group") else get("properties"))
    if kind == "track":
        return _track_rows(event, typed, payload)
    if kind in ("identify", "page", "screen", "group"):
        typed.merge(payload)
    rows = [typed]
    if kind == "identify" and get("userId") not in (None, ""):
        users = Row("users", {"id": str(event["userId"]), "received_at": get("receivedAt")})
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
