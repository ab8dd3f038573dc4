"""Envelopes: the record format of every internal topic.

An internal record carries *many* events, so Faust's per-record cost (≈95 µs to read, ≈120 µs to send,
measured in ``docs/architecture.md``) is paid once per envelope while the per-event work runs in a
tight loop.  The value of a record is orjson-encoded::

    {"v": 1, "kind": "raw" | "dest", "items": [{"source": "web", "event": {...Segment event...}}, ...]}

* ``v`` — format version.  Readers accept every version they know and reject others with
  :class:`EnvelopeError` (the record then goes to the rejects topic, never dropped).
* ``kind`` — ``raw`` on ``<prefix>.raw`` (as received plus ``receivedAt`` and a ``messageId``), ``dest`` on
  ``<prefix>.dest.<name>`` (normalized events for one destination).
* ``items`` — the events; ``source`` is the source *name* from the workspace, kept beside the Segment
  payload so nothing we add collides with user fields.

Version 2, written on ``dest`` topics (:func:`encode_dest_envelope`), is line-framed so that a delivery
agent never parses an event it only forwards (``file``, ``kafka_topic``)::

    {"v":2,"kind":"dest","meta":[["web",1714564799000,"user-1",null], ...]}\n
    {...event JSON...}\n      (one line per event, in the order of "meta")

``meta`` holds, per event, what delivery needs without parsing it — source, ``receivedAt`` in UNIX
milliseconds (or null), userId, anonymousId; each following line is an event's compact JSON (orjson never
writes a raw newline).
:func:`decode_dest_events` reads both versions into :class:`~eventyard.destinations.base.EncodedEvent`;
:func:`decode_envelope` reads both into ``{"source", "event"}`` items.

Partition ownership: every item of an envelope hashes, by its user key (userId, else anonymousId), to
the partition the envelope is written to — on ``raw`` and on every ``dest`` topic — so per-user order
holds end to end, and an SDK's retry of an event (same messageId, same user) always meets the dedup
state of the partition that saw the first copy.  Hashing is
CRC-32 of the UTF-8 key modulo the partition count (:func:`partition_for`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from eventyard.destinations.base import EncodedEvent

ENVELOPE_VERSION = 1
KNOWN_VERSIONS = frozenset({1})
"""Versions of the JSON form; version 2 is the line-framed form of dest envelopes (:data:`DEST_PREFIX`)."""
KINDS = frozenset({"raw", "dest"})
DEST_PREFIX = b'{"v":2,"kind":"dest","meta":'

Item = dict[str, Any]


class EnvelopeError(ValueError):
    """A record that is not a readable envelope."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded envelope."""

    version: int
    kind: str
    items: list[Item]


def encode_envelope(kind: str, items: list[Item]) -> bytes:
    """Serialize ``items`` as an envelope of ``kind``."""
    return orjson.dumps({"v": ENVELOPE_VERSION, "kind": kind, "items": items})


def decode_envelope(data: bytes | None) -> Envelope:
    """Parse and check an envelope; raise :class:`EnvelopeError` saying what is wrong."""
    if not data:
        raise EnvelopeError("empty record")
    if data.startswith(DEST_PREFIX):
        items = []
        for encoded in _dest_lines(data):
            try:
                items.append({"source": encoded.source, "event": encoded.event})
            except orjson.JSONDecodeError as exc:
                raise EnvelopeError(f"invalid event JSON: {exc}") from None
        return Envelope(2, "dest", items)
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise EnvelopeError("envelope is not a JSON object")
    version, kind, items = doc.get("v"), doc.get("kind"), doc.get("items")
    if version not in KNOWN_VERSIONS:
        raise EnvelopeError(f"unknown envelope version {version!r}")
    if kind not in KINDS:
        raise EnvelopeError(f"unknown envelope kind {kind!r}")
    if not isinstance(items, list):
        raise EnvelopeError("envelope items is not a list")
    return Envelope(version, kind, items)


def received_ms(value: Any) -> int | None:
    """An ISO-8601 ``receivedAt`` as UNIX milliseconds (``None`` when absent or unreadable)."""
    return _parse_received(value) if isinstance(value, str) else None


@lru_cache(maxsize=4096)  # ingest stamps one receivedAt on every event of a request
def _parse_received(value: str) -> int | None:
    try:
        return round(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        return None


DestLine = tuple[tuple[str, int | None, Any, Any], bytes]


def dest_line(item: Item, encoded: dict[int, bytes] | None = None) -> DestLine:
    """One ``{"source", "event"}`` item as a dest envelope line: its meta fields and its JSON.

    ``encoded`` caches event JSON by ``id(event)``, for an event routed to several destinations
    unchanged (the caller keeps the events alive while it uses the cache).
    """
    event = item["event"]
    body = encoded.get(id(event)) if encoded is not None else None
    if body is None:
        body = orjson.dumps(event)
        if encoded is not None:
            encoded[id(event)] = body
    return (item["source"], received_ms(event.get("receivedAt")), event.get("userId"),
            event.get("anonymousId")), body


def join_dest_envelope(lines: list[DestLine]) -> bytes:
    """A version-2 ``dest`` envelope of ``lines`` (from :func:`dest_line`)."""
    bodies = [body for _, body in lines]
    bodies.append(b"")
    return b"%s%s}\n%s" % (DEST_PREFIX, orjson.dumps([meta for meta, _ in lines]), b"\n".join(bodies))


def encode_dest_envelope(items: list[Item], encoded: dict[int, bytes] | None = None) -> bytes:
    """Serialize ``{"source", "event"}`` items as a version-2 ``dest`` envelope."""
    return join_dest_envelope([dest_line(item, encoded) for item in items])


def _dest_lines(data: bytes) -> list[EncodedEvent]:
    end = data.find(b"\n")
    try:
        meta = orjson.loads(data[:end]).get("meta") if end > 0 else None
    except orjson.JSONDecodeError:
        meta = None
    if not isinstance(meta, list):
        raise EnvelopeError("invalid dest envelope header")
    bodies = data[end + 1:].split(b"\n")
    if bodies.pop() != b"" or len(bodies) != len(meta):
        raise EnvelopeError(f"dest envelope lists {len(meta)} events but holds {len(bodies)} lines")
    events = []
    for fields, body in zip(meta, bodies):
        if not isinstance(fields, list) or len(fields) != 4 or not isinstance(fields[0], str):
            raise EnvelopeError(f"invalid dest envelope meta: {fields!r:.80}")
        events.append(EncodedEvent(fields[0], body, fields[1], fields[2], fields[3]))
    return events


def encoded_event(item: Item) -> EncodedEvent:
    """A ``{"source", "event"}`` item as delivery holds it (the event encoded, its fields read)."""
    event = item.get("event") or {}
    return EncodedEvent.from_event(str(item.get("source") or ""), event, received_ms(event.get("receivedAt")))


def decode_dest_events(data: bytes | None) -> list[EncodedEvent]:
    """The events of a ``dest`` envelope (either version), without parsing version-2 events."""
    if data and data.startswith(DEST_PREFIX):
        return _dest_lines(data)
    events = []
    for item in decode_envelope(data).items:
        event = item.get("event") if isinstance(item, dict) else None
        if not isinstance(event, dict):
            raise EnvelopeError("dest item is not {source, event}")
        events.append(encoded_event(item))
    return events


def partition_for(key: str, partitions: int) -> int:
    """The partition that owns ``key`` among ``partitions``."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % partitions


def user_key(event: dict[str, Any]) -> str:
    """The per-user ordering key of an event: userId, else anonymousId, else messageId."""
    key = event.get("userId") or event.get("anonymousId") or event.get("messageId") or ""
    return key if isinstance(key, str) else str(key)


def group_by_partition(items: list[Item], partitions: int, key_of) -> dict[int, list[Item]]:
    """Group ``items`` into per-partition lists using ``key_of(item) -> str``."""
    groups: dict[int, list[Item]] = {}
    for item in items:
        groups.setdefault(partition_for(key_of(item), partitions), []).append(item)
    return groups
