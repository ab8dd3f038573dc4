"""Write one batch of a schema in one transaction, without ever duplicating a key.

Fast path: a binary ``COPY`` straight into each table, then the upserts (``users``), in one transaction.
When a ``COPY`` hits a unique violation — some rows of the batch are already stored, e.g. a batch delivered
again after a crash, or one event twice in a batch — the transaction is rolled back and the batch is written
again with ``INSERT ... SELECT FROM unnest(...) ON CONFLICT (key) DO NOTHING``, so each key is stored once.
Upserts always go through ``INSERT ... ON CONFLICT (key) DO UPDATE``: a non-null new value replaces the
stored one unless the stored row was received later; rows sharing a key are folded first (later non-null
values win), since one statement may update a row only once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import asyncpg

from eventyard.destinations.warehouse.records import Record, TableRecords
from eventyard.destinations.warehouse.schema import quote


async def write_batch(conn: asyncpg.Connection, schema: str, inserts: Iterable[TableRecords],
                      upserts: list[TableRecords]) -> None:
    """Store ``inserts`` (existing keys skipped) and ``upserts`` (existing keys merged) in one transaction.

    ``inserts`` may build its tables when iterated: each one is built while the server answers the
    ``COPY`` of the one before (a ``COPY`` is two round trips; the first overlaps the building).
    """
    upserts = [merge_by_key(table) for table in upserts]
    built: list[TableRecords] = []
    tables = iter(inserts)
    try:
        async with conn.transaction():
            copying: asyncio.Future | None = None
            try:
                for table in tables:  # built here, while the previous COPY waits for the server
                    built.append(table)
                    if copying is not None:
                        await copying
                    copying = asyncio.ensure_future(_copy(conn, schema, table))
                    await asyncio.sleep(0)  # the COPY's first message goes out before the next table is built
            finally:
                if copying is not None:
                    await copying
            for table in upserts:
                await _insert(conn, schema, table, update=True)
    except asyncpg.UniqueViolationError:
        built += tables
        async with conn.transaction():
            for table in built:
                await _insert(conn, schema, table, update=False)
            for table in upserts:
                await _insert(conn, schema, table, update=True)


async def _copy(conn: asyncpg.Connection, schema: str, table: TableRecords) -> None:
    await conn.copy_records_to_table(table.table, schema_name=schema, columns=table.columns, records=table.records)


def merge_by_key(table: TableRecords) -> TableRecords:
    """Fold records sharing a key into one, later non-null values winning."""
    positions = [table.columns.index(column) for column in table.key]
    merged: dict[tuple[Any, ...], list[Any]] = {}
    for record in table.records:
        key = tuple(record[p] for p in positions)
        if key in merged:
            merged[key] = [new if new is not None else old for new, old in zip(record, merged[key])]
        else:
            merged[key] = list(record)
    records: list[Record] = [tuple(values) for values in merged.values()]
    return TableRecords(table.table, table.columns, table.types, records, table.key)


async def _insert(conn: asyncpg.Connection, schema: str, table: TableRecords, update: bool) -> None:
    """``INSERT ... SELECT FROM unnest(one array per column) ON CONFLICT (key) DO NOTHING / DO UPDATE``."""
    names = ", ".join(map(quote, table.columns))
    arrays = ", ".join(f"${n}::{pg_type}[]" for n, pg_type in enumerate(table.types, 1))
    conflict = f"ON CONFLICT ({', '.join(map(quote, table.key))})"
    updates = [f"{quote(c)} = COALESCE(EXCLUDED.{quote(c)}, t.{quote(c)})" for c in table.columns
               if c not in table.key]
    if update and updates:
        conflict += (f" DO UPDATE SET {', '.join(updates)}"
                     " WHERE t.received_at IS NULL OR EXCLUDED.received_at IS NULL"
                     " OR t.received_at <= EXCLUDED.received_at")
    else:
        conflict += " DO NOTHING"
    columns = [list(values) for values in zip(*table.records)] or [[] for _ in table.columns]
    await conn.execute(f"INSERT INTO {quote(schema)}.{quote(table.table)} AS t ({names})"
                       f" SELECT * FROM unnest({arrays}) {conflict}", *columns)
