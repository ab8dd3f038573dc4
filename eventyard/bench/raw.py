"""The raw limits: what plain aiokafka does on the same broker with the same ~900-byte events.

* :func:`produce_rate` — one producer (linger 10 ms, 256 KB batches, acks=all) sending ``count``
  records, until the last is acknowledged;
* :func:`passthrough_rate` — one process consuming a pre-filled topic (``getmany``), producing every
  record to a second topic, waiting for the acknowledgements and committing, batch by batch: the
  minimal at-least-once worker;
* :func:`hop_latency` — one Kafka hop at the end-to-end run's fixed rate and duration: the same producer
  settings, one record per event, and a consumer with the worker's fetch wait; latency from each record's
  timestamp (set when it is sent) to its receipt.  The embedded broker's work per request grows with the
  batches a partition holds (docs/broker.md, "What the broker's CPU goes to"), so this line shows how far
  one bare hop drifts over the same minutes as the pipeline's three.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from eventyard.bench.report import percentile
from eventyard.bench.workload import make_event
from eventyard.streams.consumer import FETCH_MAX_WAIT_MS

PRODUCER_SETTINGS = dict(acks="all", linger_ms=10, max_batch_size=256 * 1024,
                         max_request_size=4 * 1024 * 1024)


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    """Create ``names`` with ``partitions`` partitions each."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, names: list[str]) -> None:
    """Delete ``names`` (frees the in-memory broker's storage); errors are ignored."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        await admin.delete_topics(names)
    except Exception:  # noqa: BLE001 - cleanup only; a topic left behind costs memory, not results
        pass
    finally:
        await admin.close()


def event_records(count: int) -> list[bytes]:
    """``count`` encoded events (cycled from 1,000 distinct ones)."""
    distinct = [orjson.dumps(make_event(n, f"raw-{n}")) for n in range(min(count, 1000))]
    return [distinct[n % len(distinct)] for n in range(count)]


async def _produce(producer: AIOKafkaProducer, topic: str, records: list[bytes]) -> None:
    futures = [await producer.send(topic, value, key=str(n % 20_000).encode())
               for n, value in enumerate(records)]
    await asyncio.gather(*futures)


async def produce_rate(bootstrap: str, count: int, partitions: int) -> tuple[float, str]:
    """Records/s of one producer; returns the rate and the topic it filled (for passthrough)."""
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, [topic], partitions)
    records = event_records(count)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_SETTINGS)
    await producer.start()
    try:
        await _produce(producer, topic, records[: min(2000, count)])  # warm-up: metadata, connections
        started = time.perf_counter()
        await _produce(producer, topic, records)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
    return count / elapsed, topic


async def passthrough_rate(bootstrap: str, source_topic: str, count: int, partitions: int) -> float:
    """Records/s of consume → produce → commit from ``source_topic`` (holding ≥ ``count`` records)."""
    target = f"{source_topic}-out"
    await create_topics(bootstrap, [target], partitions)
    consumer = AIOKafkaConsumer(source_topic, bootstrap_servers=bootstrap, group_id=f"g-{target}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                session_timeout_ms=6000, heartbeat_interval_ms=1000,
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_SETTINGS)
    await asyncio.gather(consumer.start(), producer.start())
    moved, started = 0, None
    try:
        while moved < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if started is None and batch:
                started = time.perf_counter()
            futures = [await producer.send(target, record.value, key=record.key)
                       for records in batch.values() for record in records]
            await asyncio.gather(*futures)
            await consumer.commit()
            moved += len(futures)
        elapsed = time.perf_counter() - (started or time.perf_counter())
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())
        await delete_topics(bootstrap, [target])
    return moved / elapsed if elapsed else 0.0


async def hop_latency(bootstrap: str, rate: float, seconds: float, partitions: int) -> dict[str, float | None]:
    """Send ``rate`` records/s for ``seconds`` to a fresh topic while consuming it; return the latency
    (ms) p50 and p99 over the run, and p99 over its first and last thirds."""
    topic = f"bench-hop-{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, [topic], partitions)
    records = event_records(1000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_SETTINGS)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
    await asyncio.gather(producer.start(), consumer.start())
    received: list[tuple[float, float]] = []  # (sent ms, latency ms)

    async def consume() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            now_ms = time.time() * 1000
            received.extend((r.timestamp, now_ms - r.timestamp) for rs in batch.values() for r in rs)

    reader = asyncio.ensure_future(consume())
    try:
        started, sent = time.monotonic(), 0
        while (elapsed := time.monotonic() - started) < seconds:
            for _ in range(int(elapsed * rate) - sent):
                await producer.send(topic, records[sent % len(records)], partition=sent % partitions)
                sent += 1
            await asyncio.sleep(0.005)
        await producer.flush()
        deadline = time.monotonic() + 30
        while len(received) < sent and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await asyncio.gather(consumer.stop(), producer.stop())
        await delete_topics(bootstrap, [topic])
    received.sort()
    third = len(received) // 3
    latencies = [latency for _, latency in received]
    return {"p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99),
            "first_third_p99_ms": percentile(latencies[:third], 0.99),
            "last_third_p99_ms": percentile(latencies[-third:], 0.99), "records": len(received)}
