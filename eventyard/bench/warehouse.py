"""Warehouse: rows/s loaded into PostgreSQL by the ``postgres`` destination vs a raw asyncpg COPY of the
same rows.

The destination loads events in batches of the delivery default (500), as a delivery agent would, into a
fresh schema (the first batch, which creates the tables, is not timed).  The raw limit then COPYs the
very rows it wrote — read back table by table — into copies of those tables (``LIKE … INCLUDING ALL``:
same columns, same primary keys) in chunks of the same size.  Both schemas are dropped afterwards.
The DSN is ``$EVENTYARD_BENCH_POSTGRES_DSN`` or the local test database.
"""

from __future__ import annotations

import os
import time
import uuid

import asyncpg

from eventyard.bench.workload import iso_now, make_event
from eventyard.destinations.base import DestinationContext
from eventyard.destinations.postgres import DEFAULT_DSN, PostgresDestination, PostgresSettings

DSN_ENV = "EVENTYARD_BENCH_POSTGRES_DSN"
BATCH = 500


def bench_dsn() -> str:
    """The DSN the warehouse line uses."""
    return os.environ.get(DSN_ENV, DEFAULT_DSN)


def _events(start: int, count: int) -> list[dict]:
    received = iso_now()
    events = [make_event(n, f"wh-{n}") for n in range(start, start + count)]
    for event in events:
        event["receivedAt"] = received
        event["context"]["eventyard"] = {"source": "web"}
    return events


async def _row_counts(conn: asyncpg.Connection, schema: str) -> dict[str, int]:
    tables = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
                              schema)
    return {t["table_name"]: await conn.fetchval(f'SELECT count(*) FROM "{schema}"."{t["table_name"]}"')
            for t in tables}


async def destination_rate(schema: str, events: int) -> tuple[float, int]:
    """Rows/s the destination loads (after one untimed batch); returns (rate, rows)."""
    os.environ.setdefault(DSN_ENV, bench_dsn())
    settings = PostgresSettings(schema=schema, dsn_env=DSN_ENV)
    destination = PostgresDestination("warehouse", settings, DestinationContext("/tmp", "warehouse"))
    await destination.setup()
    conn = await asyncpg.connect(bench_dsn())
    try:
        await destination.send_batch(_events(0, BATCH))
        before = sum((await _row_counts(conn, schema)).values())
        batches = [_events(start, BATCH) for start in range(BATCH, BATCH + events, BATCH)]
        started = time.perf_counter()
        for batch in batches:
            await destination.send_batch(batch)
        elapsed = time.perf_counter() - started
        rows = sum((await _row_counts(conn, schema)).values()) - before
    finally:
        await conn.close()
        await destination.close()
    return rows / elapsed, rows


async def copy_rate(schema: str) -> float:
    """Rows/s of a raw COPY of every row of ``schema`` into ``LIKE`` copies of its tables."""
    target = f"{schema}_raw"
    conn = await asyncpg.connect(bench_dsn())
    try:
        await conn.execute(f'CREATE SCHEMA "{target}"')
        tables = await _row_counts(conn, schema)
        data = {}
        for table in tables:
            await conn.execute(f'CREATE TABLE "{target}"."{table}" (LIKE "{schema}"."{table}" INCLUDING ALL)')
            data[table] = [tuple(r) for r in await conn.fetch(f'SELECT * FROM "{schema}"."{table}"')]
        rows = 0
        started = time.perf_counter()
        for table, records in data.items():
            for start in range(0, len(records), BATCH):
                await conn.copy_records_to_table(table, records=records[start:start + BATCH],
                                                 schema_name=target)
            rows += len(records)
        return rows / (time.perf_counter() - started)
    finally:
        await conn.close()


async def warehouse_rates(events: int) -> dict:
    """Both rates, on fresh schemas that are dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        ours, rows = await destination_rate(schema, events)
        raw = await copy_rate(schema)
    finally:
        conn = await asyncpg.connect(bench_dsn())
        try:
            for name in (schema, f"{schema}_raw"):
                await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()
    return {"rows_per_second": ours, "copy_rows_per_second": raw, "rows": rows, "events": events}
