"""The raw limits: what plain aiokafka does on the same broker with the same ~900-byte events.

* :func:`produce_rate` — one producer (linger 10 ms, 256 KB batches, acks=all) sending ``count``
  records, until the last is acknowledged;
* :func:`passthrough_rate` — one process consuming a pre-filled topic (``getmany``), producing every
  record to a second topic, waiting for the acknowledgements and committing, batch by batch: the
  minimal at-least-once worker.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from eventyard.bench.workload import make_event

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
