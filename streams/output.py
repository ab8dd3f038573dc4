"""The worker's output producer: envelopes to destination topics, dead letters, rejects.

Agents write through one ``aiokafka`` producer per worker process rather than Faust's, so that
``acks=all`` and producer idempotence are explicit settings (idempotence on for Apache Kafka; Tansu
lacks it).  ``enqueue_*`` methods queue records and return their acknowledgement futures; the pipeline
agent releases a raw record only once all of them completed, so an offset is never committed ahead of its
output.  ``send_*`` methods also wait for the acknowledgement.  Routed events are gathered per destination
partition for ``topics.dest_linger_ms`` (50 ms by default) into larger envelopes
(:meth:`OutputProducer.enqueue_routed`).  Records are compressed as ``topics.compression`` says (zstd by
default): the broker then handles a few large compressed batches instead of every event's bytes.

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
from eventyard.streams.envelope import DestLine, dest_line, group_by_partition, join_dest_envelope, user_key
from eventyard.streams.topics import TopicNames


ROUTE_BATCH_EVENTS = 500


class _RoutedEnvelope:
    """Lines gathering for one destination partition, and the future of their envelope's ack."""

    __slots__ = ("lines", "acked")

    def __init__(self) -> None:
        self.lines: list[DestLine] = []
        self.acked: asyncio.Future = asyncio.get_running_loop().create_future()

    def settle(self, ack: asyncio.Future) -> None:
        """Pass the broker's answer on to everyone waiting for this envelope."""
        if ack.cancelled():
            self.acked.cancel()
        elif ack.exception() is not None:
            self.acked.set_exception(ack.exception())
        else:
            self.acked.set_result(ack.result())


class OutputProducer(mode.Service):
    """Writes the worker's records and waits for their acknowledgement."""

    def __init__(self, bootstrap_servers: str, topics: TopicNames, idempotent: bool = False,
                 compression_type: str | None = None, route_linger_seconds: float = 0.05,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topics = topics
        self.route_linger_seconds = route_linger_seconds
        self._config = dict(
            bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=idempotent,
            linger_ms=2, max_batch_size=512 * 1024, max_request_size=8 * 1024 * 1024,
            compression_type=compression_type)
        self.producer: AIOKafkaProducer
        self._partitions: dict[str, int] = {}
        self._connected = False
        self._connect_lock = asyncio.Lock()
        self._routed: dict[tuple[str, int], _RoutedEnvelope] = {}
        self._linger_task: asyncio.Task[None] | None = None
        self._routed_lock = asyncio.Lock()

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
            await self.flush_routed()
            await self.producer.stop()
            self._connected = False

    async def partitions(self, topic: str) -> int:
        """Partition count of ``topic`` (cached)."""
        count = self._partitions.get(topic)
        if count is None:
            count = self._partitions[topic] = len(await self.producer.partitions_for(topic))
        return count

    async def enqueue_routed(self, routes: dict[str, list[dict[str, Any]]]) -> list[asyncio.Future]:
        """Queue each destination's items, grouped by partition of user key; return the ack futures.

        Items of consecutive calls for the same destination partition are written as one envelope,
        sent when it holds :data:`ROUTE_BATCH_EVENTS` events or ``route_linger_seconds`` after its first
        items arrived: ingest's envelopes are small (a 100-event request over 4 partitions makes 4 of 25
        events), and every envelope costs each delivery agent a Faust record and the broker a request.
        Envelopes go out
        in call order per partition, so per-user order holds; a call's futures complete when the
        envelopes holding its items are acknowledged (or fail with the broker's error).
        """
        futures = []
        encoded: dict[int, bytes] = {}  # an event routed unchanged to several destinations: once
        for destination, items in routes.items():
            topic = self.topics.dest(destination)
            groups = group_by_partition(items, await self.partitions(topic),
                                        lambda item: user_key(item["event"]))
            for partition, group in groups.items():
                pending = self._routed.get((topic, partition))
                if pending is None:
                    pending = self._routed[(topic, partition)] = _RoutedEnvelope()
                pending.lines += [dest_line(item, encoded) for item in group]
                futures.append(pending.acked)
                if len(pending.lines) >= ROUTE_BATCH_EVENTS:
                    await self._send_routed((topic, partition))
        if self._routed and self._linger_task is None:
            self._linger_task = asyncio.get_running_loop().create_task(self._flush_after_linger())
        return futures

    async def flush_routed(self) -> None:
        """Write every routed envelope still gathering items."""
        for key in list(self._routed):
            await self._send_routed(key)

    async def _flush_after_linger(self) -> None:
        try:
            await asyncio.sleep(self.route_linger_seconds)
            await self.flush_routed()
        finally:
            self._linger_task = None

    async def _send_routed(self, key: tuple[str, int]) -> None:
        """Send the envelope gathering for ``key``.  One at a time (the agent and the linger task both
        send): a send that waits for room in the producer must not let a later envelope of the same
        partition overtake it."""
        async with self._routed_lock:
            pending = self._routed.pop(key, None)
            if pending is None:
                return
            try:
                ack = await self.producer.send(key[0], join_dest_envelope(pending.lines), partition=key[1])
            except Exception as exc:  # noqa: BLE001 - the records' owners handle it (complete → again)
                pending.acked.set_exception(exc)
                return
        ack.add_done_callback(pending.settle)

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
