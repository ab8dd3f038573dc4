"""Publishing accepted events to the raw topic as envelopes, and rejected items to the rejects topic.

``EnvelopePublisher.publish(source, events, encoded)`` groups the events by the raw-topic partition that
owns their user key (userId, else anonymousId — see ``docs/architecture.md`` for why not messageId),
writes one envelope per partition and returns only when the broker has acknowledged every envelope
(``acks=all``).  It raises :class:`PublishUnavailable` when that does not happen within ``ack_timeout``
(give or take 0.2 s: :mod:`eventyard.ingest.deadlines`) — the gateway then answers 503 so the SDK
retries; it never answers 200 for data that is not on the broker.  A timed-out send may still land
later: that is a duplicate, which the worker's messageId dedup absorbs and counts (at-least-once).

``encoded[i]`` is ``events[i]`` already serialized (validation measured its size that way); envelopes
embed those bytes as ``orjson.Fragment``, so no event is serialized twice and the record is byte for
byte what :func:`~eventyard.streams.envelope.encode_envelope` makes of the events.

Coalescing (off by default; the workspace's ``ingest.coalesce_ms`` turns it on): the events of small
requests (at most ``COALESCE_MAX_EVENTS``, e.g. one ``/v1/track``) are held for ``coalesce_seconds``
and written with the other small requests' events of the same
partition as one envelope, so under load single-event requests cost one record per partition per
millisecond instead of one record each (``design.md``: Faust's cost is per record).  Each request still
returns only once the envelope holding its events is acknowledged.  A partition's pending envelope is
sent at once when it holds ``COALESCE_FLUSH_EVENTS`` events, which bounds it at
100 × 32 KB, under ``max_request_size``.  Larger requests are written directly.  It costs the gateway
7–20 % of its single-event throughput (``bench/ingest_bench.py``), so it pays only where the workers'
per-record cost is the bottleneck.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from eventyard.ingest.deadlines import Deadlines
from eventyard.ingest.validate import Rejected
from eventyard.streams.envelope import encode_envelope, partition_for, user_key
from eventyard.streams.topics import TopicNames


COALESCE_MAX_EVENTS = 10
COALESCE_FLUSH_EVENTS = 100


class PublishUnavailable(Exception):
    """The broker did not acknowledge in time; the client must retry."""


class EnvelopePublisher:
    """Writes envelopes to ``<prefix>.raw`` and rejects to ``<prefix>.rejects``."""

    def __init__(self, bootstrap_servers: str, topics: TopicNames, *, ack_timeout: float = 10.0,
                 idempotent: bool = False, coalesce_seconds: float = 0.0,
                 compression_type: str | None = None) -> None:
        self.topics = topics
        self.ack_timeout = ack_timeout
        self._deadlines = Deadlines(ack_timeout)
        self.coalesce_seconds = coalesce_seconds
        self._pending: dict[int, tuple[list[dict[str, Any]], asyncio.Future]] = {}
        self._flush_timer: asyncio.TimerHandle | None = None
        self._config = dict(
            bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=idempotent,
            linger_ms=2, max_batch_size=256 * 1024, max_request_size=4 * 1024 * 1024,
            compression_type=compression_type,
            request_timeout_ms=int(ack_timeout * 1000) + 5000)
        self.producer: AIOKafkaProducer | None = None
        self.started = False

    async def start(self, attempts: int = 60) -> None:
        """Connect to the broker, retrying while it is not up yet."""
        for attempt in range(attempts):
            self.producer = AIOKafkaProducer(**self._config)
            try:
                await self.producer.start()
                self.started = True
                return
            except KafkaError:
                await self.producer.stop()
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.5)

    async def stop(self) -> None:
        """Flush and close the producer."""
        if self.started:
            await self.producer.stop()
            self.started = False

    async def publish(self, source: str, events: list[dict[str, Any]], encoded: list[bytes]) -> None:
        """Write ``events`` of ``source`` (``encoded[i]`` is ``events[i]`` as JSON) to the raw topic;
        return once all are acknowledged."""
        if not events:
            return
        try:
            await self._deadlines.run(self._publish(source, events, encoded))
        except (TimeoutError, KafkaError) as exc:
            raise PublishUnavailable(f"broker did not acknowledge: {exc!r}") from None

    async def _publish(self, source: str, events: list[dict[str, Any]], encoded: list[bytes]) -> None:
        partitions = (self.producer.client.cluster.partitions_for_topic(self.topics.raw)
                      or await self.producer.partitions_for(self.topics.raw))
        groups: dict[int, list[dict[str, Any]]] = {}
        count = len(partitions)
        for event, data in zip(events, encoded):
            groups.setdefault(partition_for(user_key(event), count), []).append(
                {"source": source, "event": orjson.Fragment(data)})
        if len(events) <= COALESCE_MAX_EVENTS and self.coalesce_seconds > 0:
            await asyncio.gather(*(asyncio.shield(self._coalesce(p, group))
                                   for p, group in groups.items()))
            return
        futures = [await self.producer.send(self.topics.raw, encode_envelope("raw", group),
                                            partition=p)
                   for p, group in groups.items()]
        await (futures[0] if len(futures) == 1 else asyncio.gather(*futures))

    def _coalesce(self, partition: int, items: list[dict[str, Any]]) -> asyncio.Future:
        """Add ``items`` to the partition's pending envelope; the future resolves when it is acked."""
        pending = self._pending.get(partition)
        if pending is None:
            future = asyncio.get_running_loop().create_future()
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            pending = self._pending[partition] = ([], future)
        pending[0].extend(items)
        if len(pending[0]) >= COALESCE_FLUSH_EVENTS:
            del self._pending[partition]
            asyncio.ensure_future(self._send_pending(partition, *pending))
        elif self._flush_timer is None:
            self._flush_timer = asyncio.get_running_loop().call_later(self.coalesce_seconds, self._flush)
        return pending[1]

    def _flush(self) -> None:
        self._flush_timer = None
        pending, self._pending = self._pending, {}
        for partition, (items, future) in pending.items():
            asyncio.ensure_future(self._send_pending(partition, items, future))

    async def _send_pending(self, partition: int, items: list[dict[str, Any]],
                            future: asyncio.Future) -> None:
        try:
            await (await self.producer.send(self.topics.raw, encode_envelope("raw", items),
                                            partition=partition))
        except KafkaError as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)

    async def reject(self, source: str, rejected: list[Rejected], received_at: str) -> None:
        """Write each rejected item to the rejects topic with its reason."""
        if not rejected:
            return
        futures = []
        for item in rejected:
            message_id = item.item.get("messageId") if isinstance(item.item, dict) else None
            value = orjson.dumps({"source": source, "stage": "ingest", "reason": item.reason,
                                  "field": item.field, "message": item.message,
                                  "receivedAt": received_at, "item": item.item})
            key = message_id.encode() if isinstance(message_id, str) else None
            futures.append(await self.producer.send(self.topics.rejects, value, key=key))
        try:
            await self._deadlines.run(asyncio.gather(*futures))
        except (TimeoutError, KafkaError) as exc:
            raise PublishUnavailable(f"broker did not acknowledge rejects: {exc!r}") from None

    async def ready(self) -> bool:
        """Whether the broker answers a metadata request now."""
        if not self.started:
            return False
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 2.0)
            return True
        except (asyncio.TimeoutError, KafkaError, OSError):
            return False
