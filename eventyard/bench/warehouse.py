"""Warehouse: rows/s loaded into PostgreSQL by the ``postgres`` destination vs a raw asyncpg COPY of the
same rows, in the same batches.

The destination loads events in batches of the delivery default (500), as a delivery agent would, into a
fresh schema (the first batch, which creates the tables, is not timed).  After each timed batch, the rows
it wrote are read back (untimed: the rows whose ``uuid_ts``, the start of the loading transaction, is
after the batch began) and the raw side COPYs exactly those rows into copies of the tables
(``LIKE … INCLUDING ALL``: same columns, same primary keys) with asyncpg's ``copy_records_to_table``:
one transaction per batch, one ``COPY`` per table — what any loader that stores a batch before
acknowledging it has to do, minus flattening, typing and idempotence.  The two sides alternate batch by
batch, so load from other processes on a shared machine falls on both alike.  Both schemas are dropped
afterwards.  The DSN is ``$EVENTYARD_BENCH_POSTGRES_DSN`` or the local test database.

Why per batch: 500 track events with 50 event names write ~10 rows into each of ~50 event tables plus 500
into ``tracks``, so a batch is ~50 small COPYs.  The raw side used to regroup all rows of the run per
table into 500-row COPYs — far fewer, larger statements than any batch-at-a-time loader can issue — and so
measured a different task.  That figure is still measured at the end and returned as
``regrouped_copy_rows_per_second``, for comparison.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections import defaultdict

import asyncpg

from eventyard.bench.workload import iso_now, make_event
from eventyard.destinations.base import DestinationContext
from eventyard.destinations.postgres import DEFAULT_DSN, PostgresDestination, PostgresSettings

DSN_ENV = "EVENTYARD_BENCH_POSTGRES_DSN"
BATCH = 500
Rows = dict[str, list[tuple]]


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


async def _rows_since(conn: asyncpg.Connection, schema: str, since: object) -> Rows:
    """Every row of ``schema`` loaded by a transaction that began at or after ``since``, per table."""
    tables = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema)
    found = {}
    for name in (t["table_name"] for t in tables):
        rows = await conn.fetch(f'SELECT * FROM "{schema}"."{name}" WHERE uuid_ts >= $1', since)
        if rows:
            found[name] = [tuple(row) for row in rows]
    return found


async def _mirror(conn: asyncpg.Connection, schema: str, target: str, rows: Rows, widths: dict[str, int]) -> None:
    """(Re)create ``target.table`` like ``schema.table`` for each table whose width is new (untimed)."""
    for table, records in rows.items():
        if widths.get(table) != len(records[0]):
            await conn.execute(f'DROP TABLE IF EXISTS "{target}"."{table}";'
                               f' CREATE TABLE "{target}"."{table}" (LIKE "{schema}"."{table}" INCLUDING ALL)')
            widths[table] = len(records[0])


async def _copy(conn: asyncpg.Connection, target: str, rows: Rows) -> None:
    for table, records in rows.items():
        await conn.copy_records_to_table(table, records=records, schema_name=target)


async def _regrouped_rate(conn: asyncpg.Connection, schema: str, target: str, batches: list[Rows]) -> float:
    """Rows/s of the former raw side: all rows of each table in 500-row COPYs, no batch transactions."""
    await conn.execute(f'DROP SCHEMA "{target}" CASCADE; CREATE SCHEMA "{target}"')
    regrouped: Rows = defaultdict(list)
    for rows in batches:
        for table, records in rows.items():
            regrouped[table] += records
    await _mirror(conn, schema, target, regrouped, {})
    started = time.perf_counter()
    for table, records in regrouped.items():
        for start in range(0, len(records), BATCH):
            await conn.copy_records_to_table(table, records=records[start:start + BATCH], schema_name=target)
    return sum(map(len, regrouped.values())) / (time.perf_counter() - started)


async def warehouse_rates(events: int) -> dict:
    """Both rates (and the regrouped raw rate), on fresh schemas that are dropped afterwards."""
    os.environ.setdefault(DSN_ENV, bench_dsn())
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    settings = PostgresSettings(schema=schema, dsn_env=DSN_ENV)
    destination = PostgresDestination("warehouse", settings, DestinationContext("/tmp", "warehouse"))
    async with contextlib.AsyncExitStack() as stack:
        await destination.setup()
        stack.push_async_callback(destination.close)
        reader = await asyncpg.connect(bench_dsn())
        stack.push_async_callback(reader.close)
        stack.push_async_callback(reader.execute, f'DROP SCHEMA IF EXISTS "{schema}", "{schema}_raw" CASCADE')
        raw = await asyncpg.connect(bench_dsn())
        stack.push_async_callback(raw.close)
        return await _measure(destination, reader, raw, schema, events)


async def _measure(destination: PostgresDestination, reader: asyncpg.Connection, raw: asyncpg.Connection,
                   schema: str, events: int) -> dict:
    """Alternate: one timed destination batch, then the raw COPY of the rows it wrote (timed), and so on."""
    target = f"{schema}_raw"
    await destination.send_batch(_events(0, BATCH))
    await reader.execute(f'CREATE SCHEMA "{target}"')
    ours_seconds = raw_seconds = 0.0
    loaded: list[Rows] = []
    widths: dict[str, int] = {}
    for start in range(BATCH, BATCH + events, BATCH):
        batch = _events(start, BATCH)
        since = await reader.fetchval("SELECT clock_timestamp()")
        started = time.perf_counter()
        await destination.send_batch(batch)
        ours_seconds += time.perf_counter() - started
        loaded.append(await _rows_since(reader, schema, since))
        await _mirror(reader, schema, target, loaded[-1], widths)
        started = time.perf_counter()
        async with raw.transaction():
            await _copy(raw, target, loaded[-1])
        raw_seconds += time.perf_counter() - started
    rows = sum(len(records) for batch_rows in loaded for records in batch_rows.values())
    return {"rows_per_second": rows / ours_seconds, "copy_rows_per_second": rows / raw_seconds,
            "regrouped_copy_rows_per_second": await _regrouped_rate(raw, schema, target, loaded),
            "rows": rows, "events": events}
