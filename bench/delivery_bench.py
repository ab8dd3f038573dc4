"""Delivery throughput beside the raw client limits, measured in the same run.

Run: ``.venv/bin/python bench/delivery_bench.py [--events N]`` (PostgreSQL at ``EVENTYARD_TEST_POSTGRES_DSN``
or ``postgresql://postgres@127.0.0.1:5432/test``; an embedded Tansu broker is started).  Prints a table:

* **postgres** — events/s (and warehouse rows/s) through ``Deliverer`` → ``PostgresDestination`` (flatten,
  schema checks, binary COPY, one transaction per batch), against a raw ``asyncpg``
  ``copy_records_to_table`` of the *same rows* (read back from the destination's tables) into
  ``LIKE`` copies of those tables;
* **kafka_topic** — events/s consumed as ``dest`` envelopes with aiokafka, resolved by ``Deliverer`` and
  produced one record per event by ``KafkaTopicDestination``, against a raw aiokafka
  consume → produce passthrough of the same events (one record each) on the same broker.

Both paths run in one process on one event loop, without Faust; docs/destinations.md quotes a run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from eventyard.broker import EmbeddedBroker
from eventyard.config.workspace import DeliveryConfig
from eventyard.destinations.base import DestinationContext
from eventyard.destinations.kafka_topic import KafkaTopicDestination
from eventyard.destinations.postgres import PostgresDestination
from eventyard.streams.delivery import Deliverer
from eventyard.streams.envelope import decode_envelope, encode_envelope

DSN = os.environ.get("EVENTYARD_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BATCH = 500


def make_events(count: int) -> list[dict]:
    """Track events of ~600 bytes with a few typed properties."""
    return [{"type": "track", "event": "Order Completed", "userId": f"user-{i % 997}",
             "messageId": f"m-{uuid.uuid4().hex}", "timestamp": "2026-01-01T00:00:00.000Z",
             "receivedAt": "2026-01-01T00:00:00.100Z",
             "context": {"library": {"name": "analytics.js", "version": "2.11.1"}, "ip": "203.0.113.9"},
             "properties": {"order_id": f"o-{i}", "revenue": i * 0.5, "currency": "EUR", "items": i % 7,
                            "coupon": None if i % 3 else "SPRING"}} for i in range(count)]


async def dead_letter(item: dict, letter) -> None:
    raise RuntimeError(f"benchmark event dead-lettered: {letter.message}")


async def bench_postgres(events: list[dict]) -> list[tuple[str, float, str]]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    settings = PostgresDestination.Settings(schema=schema, dsn_env="EVENTYARD_BENCH_DSN")
    os.environ["EVENTYARD_BENCH_DSN"] = DSN
    destination = PostgresDestination("bench", settings, DestinationContext(".", "bench"))
    await destination.setup()
    deliverer = Deliverer(destination, DeliveryConfig(batch_size=BATCH), dead_letter)
    items = [{"source": "bench", "event": e} for e in events]
    started = time.perf_counter()
    for start in range(0, len(items), BATCH):
        await deliverer.resolve(items[start:start + BATCH])
    through = time.perf_counter() - started
    await destination.close()
    conn = await asyncpg.connect(DSN)
    try:
        tables = [r["table_name"] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema)]
        copies = {t: await conn.fetch(f'SELECT * FROM {schema}."{t}"') for t in tables}
        rows = sum(len(r) for r in copies.values())
        await conn.execute(f"CREATE SCHEMA {schema}_raw")
        for table in tables:
            await conn.execute(f'CREATE TABLE {schema}_raw."{table}" (LIKE {schema}."{table}")')
        started = time.perf_counter()
        for table, records in copies.items():
            columns = list(records[0].keys()) if records else []
            for start in range(0, len(records), BATCH):
                async with conn.transaction():
                    await conn.copy_records_to_table(table, schema_name=f"{schema}_raw", columns=columns,
                                                     records=[tuple(r) for r in records[start:start + BATCH]])
        raw = time.perf_counter() - started
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema}_raw CASCADE")
        await conn.close()
    count = len(events)
    return [("postgres destination (events/s)", count / through, f"{rows / through:,.0f} rows/s"),
            ("raw asyncpg COPY, same rows (rows/s)", rows / raw, f"{rows} rows in {len(tables)} tables")]


async def fill(bootstrap: str, topic: str, records: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, r, partition=0) for r in records])
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, handle, expected: int) -> None:
    """Read ``expected`` records of ``topic`` from the start, calling ``handle(records)`` per fetch."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        seen = 0
        while seen < expected:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                seen += len(records)
                await handle(records)
    finally:
        await consumer.stop()


async def bench_kafka(bootstrap: str, events: list[dict]) -> list[tuple[str, float, str]]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    envelopes = [encode_envelope("dest", [{"source": "bench", "event": e} for e in events[i:i + BATCH]])
                 for i in range(0, len(events), BATCH)]
    await fill(bootstrap, f"{prefix}.dest", envelopes)
    await fill(bootstrap, f"{prefix}.raw-in", [orjson.dumps(e) for e in events])
    settings = KafkaTopicDestination.Settings(topic=f"{prefix}.out", bootstrap_servers=bootstrap)
    destination = KafkaTopicDestination("bench", settings, DestinationContext(".", "bench"))
    await destination.setup()
    deliverer = Deliverer(destination, DeliveryConfig(batch_size=BATCH), dead_letter)

    async def deliver(records) -> None:
        for record in records:
            await deliverer.resolve(decode_envelope(record.value).items)

    started = time.perf_counter()
    await consume(bootstrap, f"{prefix}.dest", deliver, len(envelopes))
    through = time.perf_counter() - started
    await destination.close()

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()

    async def passthrough(records) -> None:
        await asyncio.gather(*[await producer.send(f"{prefix}.raw-out", r.value, r.key) for r in records])

    started = time.perf_counter()
    await consume(bootstrap, f"{prefix}.raw-in", passthrough, len(events))
    raw = time.perf_counter() - started
    await producer.stop()
    return [("kafka_topic destination (events/s)", len(events) / through, "dest envelopes in"),
            ("raw aiokafka consume→produce (events/s)", len(events) / raw, "one record per event")]


async def main(count: int) -> None:
    events = make_events(count)
    with EmbeddedBroker() as broker:
        results = await bench_postgres(events) + await bench_kafka(broker.bootstrap_servers, events)
    print(f"\n{count:,} events, batches of {BATCH}\n")
    print(f"| {'path':<42} | {'rate':>10} | note |\n|{'-' * 44}|{'-' * 12}|------|")
    for name, rate, note in results:
        print(f"| {name:<42} | {rate:>10,.0f} | {note} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().events))
