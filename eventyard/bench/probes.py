"""Watching the pipeline from outside: worker counters from ``/metrics``, and a tap on the
``kafka_topic`` destination's output measuring ``receivedAt`` → delivered.

* :class:`WorkerCounters` sums, over every worker, the events each destination resolved
  (``eventyard_delivery_events_total``: delivered, filtered, dead-lettered) and the events the pipeline
  discarded (``eventyard_pipeline_discarded_total``, by stage and reason — dedup, tracking plan, ...).
* :class:`OutputTap` consumes the output topic in the background, counts its records and (``decode``)
  keeps, per record, the event's ``receivedAt`` and the latency to the record's timestamp (set by the
  destination's producer when it delivered the event).

Counters are best effort (``/metrics`` may be unavailable); the tap is what measures.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime
from functools import lru_cache

import orjson
from aiokafka import AIOKafkaConsumer
from prometheus_client.parser import text_string_to_metric_families

from eventyard.bench.procs import http_get

RESOLVED_OUTCOMES = ("delivered", "filtered", "dead_lettered")


class WorkerCounters:
    """Counters read from the ``/metrics`` of the given worker health ports."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports

    def read(self) -> tuple[Counter[str], Counter[str]]:
        """(events resolved per destination, events discarded per ``stage/reason``)."""
        resolved: Counter[str] = Counter()
        discarded: Counter[str] = Counter()
        for port in self.ports:
            body = http_get(f"http://127.0.0.1:{port}/metrics")
            try:
                samples = [s for f in text_string_to_metric_families((body or b"").decode()) for s in f.samples]
            except ValueError:  # not an exposition (an error page): no counters from this worker
                continue
            for sample in samples:
                if sample.name == "eventyard_delivery_events_total" and \
                        sample.labels.get("outcome") in RESOLVED_OUTCOMES:
                    resolved[sample.labels["destination"]] += int(sample.value)
                    if sample.labels["outcome"] != "delivered":
                        discarded[f"{sample.labels['destination']}/{sample.labels['outcome']}"] += \
                            int(sample.value)
                elif sample.name == "eventyard_pipeline_discarded_total":
                    discarded[f"{sample.labels.get('stage')}/{sample.labels.get('reason')}"] += int(sample.value)
        return resolved, discarded


@lru_cache(maxsize=4096)
def epoch_ms(iso: str) -> float:
    """A Segment timestamp as milliseconds since the epoch."""
    return datetime.fromisoformat(iso).timestamp() * 1000


RECEIVED_AT = b'"receivedAt":"'


def received_at_ms(value: bytes) -> float | None:
    """The ``receivedAt`` of an event's compact JSON, found without parsing the event.

    The tap shares the cores it measures: a full parse per record cost it more than the lookup.  The
    benchmark's events (``eventyard.bench.workload``) have no other ``receivedAt`` key, so the first one
    in the text is the top-level one — this is a benchmark probe, not a general reader.
    """
    start = value.find(RECEIVED_AT)
    if start < 0:
        return None
    start += len(RECEIVED_AT)
    try:
        return epoch_ms(value[start:value.index(b'"', start)].decode())
    except ValueError:
        return None


class OutputTap:
    """Background consumer of a ``kafka_topic`` destination's output (one event per record)."""

    def __init__(self, bootstrap: str, topic: str, decode: bool = True, offset_reset: str = "latest") -> None:
        self.consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                         auto_offset_reset=offset_reset, enable_auto_commit=False,
                                         max_partition_fetch_bytes=4 * 1024 * 1024)
        self.decode = decode
        self.count = 0
        self.received_ms: list[float] = []
        self.latency_ms: list[float] = []
        self.last_record = 0.0
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Start consuming from the end of the topic."""
        await self.consumer.start()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in batch.values():
                self.count += len(records)
                for record in records if self.decode else ():
                    received_ms = received_at_ms(record.value)
                    if received_ms is not None:
                        self.received_ms.append(received_ms)
                        self.latency_ms.append(record.timestamp - received_ms)
                self.last_record = time.monotonic()

    def window(self, start_ms: float, end_ms: float) -> list[tuple[float, float]]:
        """(receivedAt ms, latency ms) of the events received in ``[start_ms, end_ms)``."""
        return [(r, l) for r, l in zip(self.received_ms, self.latency_ms) if start_ms <= r < end_ms]

    async def settle(self, quiet: float = 2.0, timeout: float = 30.0) -> None:
        """Wait until no record arrived for ``quiet`` seconds (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and time.monotonic() - self.last_record < quiet:
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        """Stop consuming."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()


async def sample_output(bootstrap: str, topic: str, count: int, timeout: float = 10.0) -> list[dict]:
    """Up to ``count`` events from the start of ``topic``."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    events: list[dict] = []
    try:
        deadline = time.monotonic() + timeout
        while len(events) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=count)
            events += [orjson.loads(r.value) for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    return events[:count]
