"""Bulk load through a staging table: ``COPY`` into a temporary table, then one ``INSERT ... SELECT``.

Rows whose key already exists are skipped (``ON CONFLICT DO NOTHING``), so replaying a batch never
duplicates them; with ``merge`` (the ``users`` table) they are updated instead: a non-null new value
replaces the stored one unless the stored row was received later.  Must run inside a transaction.
"""

from __future__ import annotations

import itertools
from typing import Any

import asyncpg

from eventyard.destinations.warehouse.schema import quote

_stage_ids = itertools.count()


def merge_by_key(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """Fold rows sharing a key into one, later non-null values winning (one upsert per key per statement)."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        target = merged.setdefault(tuple(row.get(k) for k in key), {})
        target.update((column, value) for column, value in row.items() if value is not None or column not in target)
    return list(merged.values())


async def load(conn: asyncpg.Connection, schema: str, table: str, rows: list[dict[str, Any]],
               key: tuple[str, ...] = ("id",), merge: bool = False) -> None:
    """Insert ``rows`` (already cast) into ``schema.table`` without duplicating keys."""
    if merge:
        rows = merge_by_key(rows, key)
    names = list(dict.fromkeys(column for row in rows for column in row))
    columns = ", ".join(map(quote, names))
    target, stage = f"{quote(schema)}.{quote(table)}", f"eventyard_stage_{next(_stage_ids)}"
    await conn.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {columns} FROM {target} WITH NO DATA")
    await conn.copy_records_to_table(stage, records=[tuple(row.get(c) for c in names) for row in rows],
                                     columns=names)
    conflict = f"ON CONFLICT ({', '.join(map(quote, key))})"
    updates = [f"{quote(c)} = COALESCE(EXCLUDED.{quote(c)}, t.{quote(c)})" for c in names if c not in key]
    if merge and updates:
        conflict += (f" DO UPDATE SET {', '.join(updates)}"
                     " WHERE t.received_at IS NULL OR EXCLUDED.received_at IS NULL"
                     " OR t.received_at <= EXCLUDED.received_at")
    else:
        conflict += " DO NOTHING"
    await conn.execute(f"INSERT INTO {target} AS t ({columns}) SELECT {columns} FROM {stage} {conflict}")
