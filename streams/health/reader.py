"""Feeds :class:`~eventyard.streams.health.state.HealthState` from the workspace's topics.

:class:`TopicReader` runs one aiokafka consumer **without a consumer group** (it never commits, so it
cannot disturb the workers) over ``raw``, ``rejects``, ``blocked`` (when it exists), every ``dest.<name>``
and ``dlq.<name>``, from the beginning.  Every second it also reads the committed offsets of the worker
group (``<prefix>-worker``) — that is what turns "routed" into "delivered" — through a second consumer
that names the group but never subscribes, so it never joins it (OffsetFetch only; the admin client's
ListConsumerGroupOffsets fails against Tansu 0.6), and
refreshes the gauges this process exports (``eventyard_dead_letter_topic_records``,
``eventyard_blocked_topic_records``).  Topics that appear later (``blocked``) are picked up on the next
topic listing.

Records are decoded with eventyard's own decoders; an unreadable record is logged and skipped (it is
already on the rejects topic, or will be, by the worker that reads it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from eventyard.config.workspace import Workspace
from eventyard.streams import metrics
from eventyard.streams.deadletter import decode_headers
from eventyard.streams.envelope import EnvelopeError, decode_envelope
from eventyard.streams.health.state import HealthState
from eventyard.streams.topics import TopicNames

log = logging.getLogger("eventyard.health")
OFFSETS_INTERVAL = 1.0
TOPICS_INTERVAL = 10.0


def new_state(workspace: Workspace) -> HealthState:
    """An empty state for ``workspace``."""
    names = TopicNames(workspace.topics.prefix)
    return HealthState([s.name for s in workspace.sources],
                       {d.name: names.dest(d.name) for d in workspace.destinations})


class TopicReader:
    """Consumes the workspace's topics into a :class:`HealthState`."""

    def __init__(self, workspace: Workspace, bootstrap_servers: str, state: HealthState) -> None:
        self.names = TopicNames(workspace.topics.prefix)
        self.group = f"{workspace.topics.prefix}-worker"
        self.bootstrap_servers = bootstrap_servers
        self.state = state
        self.by_topic: dict[str, tuple[str, str]] = {
            self.names.raw: ("raw", ""), self.names.rejects: ("rejects", ""),
            f"{workspace.topics.prefix}.blocked": ("blocked", "")}
        for dest in workspace.destinations:
            self.by_topic[self.names.dest(dest.name)] = ("dest", dest.name)
            self.by_topic[self.names.dlq(dest.name)] = ("dlq", dest.name)
        self.records_read = 0

    async def run(self, until_idle: float | None = None) -> None:
        """Consume until cancelled or, with ``until_idle``, until no record came for that many seconds."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        offsets = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, group_id=self.group,
                                   enable_auto_commit=False)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await consumer.start()
        await offsets.start()
        await admin.start()
        subscribed: set[str] = set()
        loop = asyncio.get_running_loop()
        next_offsets = next_topics = 0.0
        last_record = loop.time()
        try:
            while True:
                now = loop.time()
                if now >= next_topics:
                    existing = set(await admin.list_topics()) & set(self.by_topic)
                    if existing != subscribed:
                        subscribed = existing
                        consumer.subscribe(sorted(subscribed))
                    next_topics = now + TOPICS_INTERVAL
                if now >= next_offsets:
                    await self._refresh_committed(consumer, offsets)
                    next_offsets = now + OFFSETS_INTERVAL
                batch = await consumer.getmany(timeout_ms=200, max_records=2000)
                for records in batch.values():
                    last_record = loop.time()
                    for record in records:
                        self.handle(record)
                if until_idle is not None and loop.time() - last_record > until_idle:
                    await self._refresh_committed(consumer, offsets)
                    return
        finally:
            await consumer.stop()
            await offsets.stop()
            await admin.close()

    async def _refresh_committed(self, consumer: AIOKafkaConsumer, offsets: AIOKafkaConsumer) -> None:
        partitions = [TopicPartition(topic, p) for topic, (kind, _) in self.by_topic.items()
                      if kind in ("raw", "dest") for p in consumer.partitions_for_topic(topic) or ()]
        try:
            committed = await asyncio.gather(*(offsets.committed(tp) for tp in partitions))
        except KafkaError as exc:  # the broker is away: keep the last known offsets
            log.warning("no committed offsets for %s: %r", self.group, exc, extra={"group": self.group})
            return
        self.state.set_committed({(tp.topic, tp.partition): offset
                                  for tp, offset in zip(partitions, committed) if offset is not None})
        for name, stats in self.state.destinations.items():
            metrics.DEAD_LETTER_TOPIC_RECORDS.labels(name).set(stats.dead_lettered)
        metrics.BLOCKED_TOPIC_RECORDS.set(self.state.blocked)

    def handle(self, record: Any) -> None:
        """Apply one consumed record to the state."""
        self.records_read += 1
        kind, destination = self.by_topic.get(record.topic, ("", ""))
        try:
            if kind in ("raw", "dest"):
                items = decode_envelope(record.value).items
                if kind == "raw":
                    self.state.add_raw(items, record.partition, record.offset, record.timestamp / 1000)
                else:
                    self.state.add_routed(destination, items, record.partition, record.offset)
                return
            value = orjson.loads(record.value) if record.value else {}
            key = record.key.decode("utf-8", "replace") if record.key else None
            if kind == "dlq":
                self.state.add_dead_letter(destination, value, decode_headers(record.headers))
            elif kind == "rejects":
                self.state.add_reject(key or _message_id(value.get("item")), value)
            elif kind == "blocked":
                self.state.add_blocked(key or _message_id(value), value)
        except (EnvelopeError, orjson.JSONDecodeError, AttributeError) as exc:
            log.warning("unreadable record on %s[%d]@%d: %s", record.topic, record.partition,
                        record.offset, exc, extra={"topic": record.topic})


def _message_id(value: Any) -> str | None:
    """The messageId inside an item ``{source, event}`` or an event, if any."""
    if isinstance(value, dict):
        event = value.get("event") if isinstance(value.get("event"), dict) else value
        message_id = event.get("messageId")
        return message_id if isinstance(message_id, str) else None
    return None
