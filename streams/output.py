"""The worker's output producer: envelopes to destination topics, dead letters, rejects.

Agents write through one ``aiokafka`` producer per worker process rather than Faust's, so that
``acks=all`` and producer idempotence are explicit settings (idempotence on for Apache Kafka; Tansu
lacks it).  Every ``send_*`` coroutine returns only once the broker acknowledged the record: agents call
them before moving to the next envelope, so an offset is never committed ahead of its output.

Agents call :meth:`OutputProducer.ensure_started` before their first record (Faust starts user
services only after the agents); the app stops it as one of its services.
"""

from __future__ import annotations

import asyncio
from typing import Any

import mode
import orjson
from aiokafka import AIOKafkaProducer

from eventyard.streams import metrics
from eventyard.streams.deadletter import DeadLetter
from eventyard.streams.envelope import encode_dest_envelope, group_by_partition, user_key
from eventyard.streams.topics import TopicNames


class OutputProducer(mode.Service):
    """Writes the worker's records and waits for their acknowledgement."""

    def __init__(self, bootstrap_servers: str, topics: TopicNames, idempotent: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topics = topics
        self._config = dict(
            bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=idempotent,
            linger_ms=2, max_batch_size=512 * 1024, max_request_size=8 * 1024 * 1024)
        self.producer: AIOKafkaProducer
        self._partitions: dict[str, int] = {}
        self._connected = False
        self._connect_lock = asyncio.Lock()

    async def ensure_started(self) -> None:
        """Connect to the broker once, whichever agent asks first."""
        async with self._connect_lock:
            if not self._connected:
                self.producer = AIOKafkaProducer(**self._config)
                await self.producer.start()
                self._connected = True

    async def on_stop(self) -> None:
        """Flush and disconnect."""
        if self._connected:
            await self.producer.stop()
            self._connected = False

    async def partitions(self, topic: str) -> int:
        """Partition count of ``topic`` (cached)."""
        count = self._partitions.get(topic)
        if count is None:
            count = self._partitions[topic] = len(await self.producer.partitions_for(topic))
        return count

    async def enqueue_routed(self, routes: dict[str, list[dict[str, Any]]]) -> list[asyncio.Future]:
        """Queue each destination's items as envelopes partitioned by user key; return the ack futures.

        Records are queued in call order, so per-partition order follows the order of the calls.  An
        event routed unchanged to several destinations is encoded once.
        """
        futures = []
        encoded: dict[int, bytes] = {}
        for destination, items in routes.items():
            topic = self.topics.dest(destination)
            groups = group_by_partition(items, await self.partitions(topic),
                                        lambda item: user_key(item["event"]))
            for partition, group in groups.items():
                futures.append(await self.producer.send(topic, encode_dest_envelope(group, encoded),
                                                        partition=partition))
        return futures

    async def send_routed(self, routes: dict[str, list[dict[str, Any]]]) -> None:
        """Write each destination's items as envelopes and wait for the acknowledgements."""
        await asyncio.gather(*await self.enqueue_routed(routes))

    async def enqueue_rejects(self, records: list[dict[str, Any]]) -> list[asyncio.Future]:
        """Queue reject records (one per item) on the rejects topic; return the ack futures."""
        futures = [await self.producer.send(self.topics.rejects, orjson.dumps(r, default=repr))
                   for r in records]
        for record in records:
            metrics.DEAD_LETTERS.labels("rejects", record.get("reason") or "").inc()
        return futures

    async def send_rejects(self, records: list[dict[str, Any]]) -> None:
        """Write reject records and wait for the acknowledgements."""
        await asyncio.gather(*await self.enqueue_rejects(records))

    async def enqueue_dead_letter(self, item: dict[str, Any], letter: DeadLetter) -> asyncio.Future:
        """Queue one event on its destination's dead-letter topic; return the ack future."""
        event = item.get("event") or {}
        future = await self.producer.send(
            self.topics.dlq(letter.destination), orjson.dumps(event),
            key=user_key(event).encode("utf-8", "surrogatepass"), headers=letter.headers())
        metrics.DEAD_LETTERS.labels("dlq", letter.error_class).inc()
        return future

    async def send_dead_letter(self, item: dict[str, Any], letter: DeadLetter) -> None:
        """Write one event to its destination's dead-letter topic and wait for the acknowledgement."""
        await (await self.enqueue_dead_letter(item, letter))
