"""The durable side of messageId dedup: ``<prefix>.dedup`` records ↔ in-memory :class:`DedupWindow`s.

Contract (the record format and the duplicate rule are in ``eventyard.streams.dedup``):

* :meth:`DedupLog.mark_stale` is called with the raw partitions the worker was (re)assigned; before the
  next envelope of such a partition is processed, :meth:`DedupLog.window` **catches up**: it writes a
  marker record to each stale dedup partition, then reads that partition from where this worker last
  read it until it has seen the marker.  The marker makes "the end" exact without trusting the
  broker's end offsets (Tansu reports them too low, see ``/work/shared/broker-notes.md``).  Records
  older than the window are skipped.  A catch-up that cannot finish raises ``KafkaTimeoutError`` so the
  agent retries the envelope rather than processing it with a partial window.
* :meth:`DedupLog.enqueue_record` updates the window and queues the record of one envelope; the
  pipeline agent commits the envelope only after that record (and every output) is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Iterable

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaTimeoutError

from eventyard.streams.dedup import DedupWindow
from eventyard.streams.output import OutputProducer

log = logging.getLogger("eventyard.dedup")
MARKER = b'{"marker":true}'
CATCH_UP_TIMEOUT = 120.0


def _now_ms() -> int:
    return int(time.time() * 1000)


class DedupLog:
    """Dedup windows of the raw partitions this worker processes, backed by the dedup topic."""

    def __init__(self, bootstrap_servers: str, topic: str, window_seconds: float,
                 output: OutputProducer) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.window_seconds = window_seconds
        self.output = output
        self.windows: dict[int, DedupWindow] = {}
        self.stale: set[int] = set()

    def mark_stale(self, partitions: Iterable[int]) -> None:
        """Partitions (re)assigned to this worker: catch up before using their windows."""
        self.stale.update(partitions)

    async def window(self, partition: int) -> DedupWindow:
        """The up-to-date window of raw ``partition``."""
        if partition in self.stale or partition not in self.windows:
            await self._catch_up(self.stale | {partition})
        window = self.windows[partition]
        window.expire(_now_ms())
        return window

    async def enqueue_record(self, partition: int, raw_offset: int, ids: list[str]) -> asyncio.Future:
        """Remember ``ids`` and queue the dedup record of one envelope; return its ack future.

        The window learns the ids at once, so the next envelope of the partition — processed while
        this record is still in flight — already sees them.  That is safe because an id only counts
        as a duplicate when it was seen at a *different* raw offset: if this record is lost (the
        envelope is then not committed either), the re-processed envelope is not its own duplicate.
        """
        ts = _now_ms()
        window = self.windows[partition]
        window.add(ids, raw_offset, ts)
        value = orjson.dumps({"offset": raw_offset, "t": ts, "ids": ids})
        future = await self.output.producer.send(self.topic, value, partition=partition)

        def advance(done: asyncio.Future) -> None:
            if not done.cancelled() and done.exception() is None:
                if done.result().offset == window.next_offset:
                    window.next_offset = done.result().offset + 1

        future.add_done_callback(advance)
        return future

    async def record(self, partition: int, raw_offset: int, ids: list[str]) -> None:
        """Write the dedup record of one envelope and await its acknowledgement."""
        await (await self.enqueue_record(partition, raw_offset, ids))

    async def _catch_up(self, partitions: set[int]) -> None:
        started = time.monotonic()
        markers = {}
        for p in sorted(partitions):
            self.windows.setdefault(p, DedupWindow(self.window_seconds))
            meta = await self.output.producer.send_and_wait(self.topic, MARKER, partition=p)
            markers[TopicPartition(self.topic, p)] = meta.offset
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            consumer.assign(list(markers))
            for tp in markers:
                consumer.seek(tp, self.windows[tp.partition].next_offset)
            await self._read_until(consumer, markers, started + CATCH_UP_TIMEOUT)
        finally:
            await consumer.stop()
        self.stale -= partitions
        log.info("dedup state caught up", extra={
            "partitions": sorted(partitions), "seconds": round(time.monotonic() - started, 3),
            "ids": sum(len(self.windows[p]) for p in partitions)})

    async def _read_until(self, consumer: AIOKafkaConsumer, markers: dict[TopicPartition, int],
                          deadline: float) -> None:
        cutoff = _now_ms() - int(self.window_seconds * 1000)
        pending = {tp for tp, offset in markers.items()
                   if self.windows[tp.partition].next_offset <= offset}
        while pending:
            if time.monotonic() > deadline:
                raise KafkaTimeoutError(f"dedup catch-up of {sorted(pending)} did not finish")
            batch = await consumer.getmany(*pending, timeout_ms=500)
            for tp, messages in batch.items():
                window = self.windows[tp.partition]
                for message in messages:
                    doc = orjson.loads(message.value) if message.value else {}
                    if isinstance(doc.get("ids"), list) and doc.get("t", 0) >= cutoff:
                        window.add(doc["ids"], doc.get("offset", -1), doc["t"])
                    window.next_offset = message.offset + 1
                if window.next_offset > markers[tp]:
                    pending.discard(tp)
