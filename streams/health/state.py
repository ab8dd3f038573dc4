"""Bounded in-memory health state built from the workspace's topics.

:class:`HealthState` is fed one decoded record at a time by ``eventyard.streams.health.reader`` and
holds nothing unbounded:

* per source: events per minute for the last ``VOLUME_MINUTES`` minutes, and the last ``DEBUGGER_SIZE``
  events (the live source debugger);
* per destination: events routed, envelopes not yet passed by the worker group's committed offset
  (at most ``PENDING_CAP`` per partition), events delivered and dead-lettered, and the error table
  (count and the latest sample per error class and status);
* a lineage index: the last ``LINEAGE_SIZE`` messageIds with where each one went.

"Delivered" is derived, not reported: an event routed to ``dest.X`` at (partition, offset) is delivered
once the worker group's committed offset on that partition passed the offset and the event is not on
``dlq.X`` — the delivery agent commits an envelope only when every event of it is resolved.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

VOLUME_MINUTES = 60
DEBUGGER_SIZE = 500
LINEAGE_SIZE = 100_000
PENDING_CAP = 100_000
SUBSCRIBER_QUEUE = 1000


@dataclass
class Lineage:
    """Where one messageId went, stage by stage."""

    message_id: str
    source: str = ""
    received: dict[str, Any] | None = None          # topic, partition, offset, time, type
    rejected: dict[str, Any] | None = None          # stage, reason, message
    blocked: dict[str, Any] | None = None
    routed: dict[str, tuple[int, int]] = field(default_factory=dict)   # destination → (partition, offset)
    dead: dict[str, dict[str, str]] = field(default_factory=dict)      # destination → error headers


@dataclass
class DestinationStats:
    """Topic-derived figures of one destination."""

    routed: int = 0
    settled: int = 0          # events of envelopes the worker group's committed offset passed
    dead_lettered: int = 0
    pending: dict[int, dict[int, int]] = field(default_factory=dict)   # partition → offset → events
    errors: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def delivered(self) -> int:
        """Settled events that are not dead letters (every dead letter comes from a settled envelope)."""
        return max(0, self.settled - self.dead_lettered)


class HealthState:
    """Everything the health view shows, updated record by record."""

    def __init__(self, sources: list[str], dest_topics: dict[str, str]) -> None:
        self.dest_topics = dest_topics          # destination name → its ``dest.<name>`` topic
        self.received = {s: 0 for s in sources}
        self.volume: dict[str, dict[int, int]] = {s: {} for s in sources}
        self.debugger: dict[str, deque] = {s: deque(maxlen=DEBUGGER_SIZE) for s in sources}
        self.destinations = {d: DestinationStats() for d in dest_topics}
        self.lineage: OrderedDict[str, Lineage] = OrderedDict()
        self.committed: dict[tuple[str, int], int] = {}
        self.rejects: dict[tuple[str, str], int] = {}
        self.blocked = 0
        self.subscribers: set[asyncio.Queue] = set()
        self.sequence = 0

    def _lineage(self, message_id: str) -> Lineage:
        entry = self.lineage.get(message_id)
        if entry is None:
            entry = self.lineage[message_id] = Lineage(message_id)
            if len(self.lineage) > LINEAGE_SIZE:
                self.lineage.popitem(last=False)
        return entry

    def add_raw(self, items: list[Any], partition: int, offset: int, timestamp: float) -> None:
        """One raw envelope: volume, debugger entries and lineage."""
        minute = int(timestamp // 60)
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("event"), dict):
                continue
            source, event = item.get("source"), item["event"]
            if source not in self.volume:
                continue
            self.received[source] += 1
            per_minute = self.volume[source]
            per_minute[minute] = per_minute.get(minute, 0) + 1
            for old in [m for m in per_minute if m <= minute - VOLUME_MINUTES]:
                del per_minute[old]
            self.sequence += 1
            entry = {"seq": self.sequence, "source": source, "time": timestamp, "event": event}
            self.debugger[source].append(entry)
            for queue in list(self.subscribers):
                if queue.qsize() < SUBSCRIBER_QUEUE:
                    queue.put_nowait(entry)
            message_id = event.get("messageId")
            if isinstance(message_id, str):
                lineage = self._lineage(message_id)
                lineage.source = source
                lineage.received = {"partition": partition, "offset": offset, "time": timestamp,
                                    "type": event.get("type"), "receivedAt": event.get("receivedAt")}

    def add_reject(self, message_id: str | None, record: dict[str, Any]) -> None:
        """One record of the rejects topic."""
        key = (str(record.get("source") or ""), str(record.get("reason") or ""))
        self.rejects[key] = self.rejects.get(key, 0) + 1
        if message_id:
            self._lineage(message_id).rejected = {k: record.get(k) for k in ("stage", "reason", "message", "field")}

    def add_blocked(self, message_id: str | None, record: dict[str, Any]) -> None:
        """One record of the blocked topic (Protocols BLOCK)."""
        self.blocked += 1
        if message_id:
            self._lineage(message_id).blocked = {"violations": record.get("violations")}

    def add_routed(self, destination: str, items: list[Any], partition: int, offset: int) -> None:
        """One envelope of ``dest.<destination>``."""
        stats = self.destinations[destination]
        stats.routed += len(items)
        pending = stats.pending.setdefault(partition, {})
        pending[offset] = len(items)
        if len(pending) > PENDING_CAP:
            pending.pop(next(iter(pending)))
        for item in items:
            event = item.get("event") if isinstance(item, dict) else None
            if isinstance(event, dict) and isinstance(event.get("messageId"), str):
                self._lineage(event["messageId"]).routed[destination] = (partition, offset)
        self._settle(destination, partition)

    def add_dead_letter(self, destination: str, event: dict[str, Any], headers: dict[str, str]) -> None:
        """One record of ``dlq.<destination>`` with its decoded headers."""
        stats = self.destinations[destination]
        stats.dead_lettered += 1
        error_key = (headers.get("eventyard.error.class", ""), headers.get("eventyard.error.status", ""))
        row = stats.errors.setdefault(error_key, {"count": 0})
        row["count"] += 1
        row["sample"] = {"event": event, **{k.removeprefix("eventyard.error."): v
                                            for k, v in headers.items()}}
        message_id = event.get("messageId")
        if isinstance(message_id, str):
            self._lineage(message_id).dead[destination] = headers

    def set_committed(self, offsets: dict[tuple[str, int], int]) -> None:
        """New committed offsets of the worker group; settles envelopes they passed."""
        self.committed.update(offsets)
        for destination, stats in self.destinations.items():
            for partition in list(stats.pending):
                self._settle(destination, partition)

    def _settle(self, destination: str, partition: int) -> None:
        stats = self.destinations[destination]
        committed = self.committed.get((self.dest_topics[destination], partition), 0)
        pending = stats.pending.get(partition, {})
        for offset in [o for o in pending if o < committed]:
            stats.settled += pending.pop(offset)

    def volume_series(self, source: str, now: float | None = None) -> list[int]:
        """Events per minute of ``source`` for the last ``VOLUME_MINUTES`` minutes, oldest first."""
        current = int((now or time.time()) // 60)
        counts = self.volume.get(source, {})
        return [counts.get(m, 0) for m in range(current - VOLUME_MINUTES + 1, current + 1)]
