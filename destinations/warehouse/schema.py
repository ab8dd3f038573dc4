"""Column types, casts and table evolution for the warehouse (first-seen type wins).

A new column takes the type of the first non-null value seen for it: ``boolean``, ``bigint``,
``double precision``, ``timestamp with time zone`` (ISO-8601 date-time strings) or ``text``.  Later values
are cast to the column's type when that loses nothing (an integer into ``double precision``, anything into
``text``); otherwise :func:`cast` raises :class:`CastError` and the value goes to the discards table.
Tables and columns are created on demand (``CREATE TABLE IF NOT EXISTS``,
``ALTER TABLE ... ADD COLUMN IF NOT EXISTS``); :class:`SchemaCache` remembers each table's columns as
PostgreSQL reports them and forgets a schema when a statement proves the memory stale.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import asyncpg
import orjson

TEXT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP = "text", "bigint", "double precision", "boolean", "timestamp with time zone"
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_INT64 = (-(2**63), 2**63 - 1)
RESERVED_TYPES = {"id": TEXT, "received_at": TIMESTAMP, "sent_at": TIMESTAMP, "original_timestamp": TIMESTAMP,
                  "timestamp": TIMESTAMP, "user_id": TEXT, "anonymous_id": TEXT, "event": TEXT,
                  "event_text": TEXT, "name": TEXT, "group_id": TEXT, "previous_id": TEXT}
DISCARDS_COLUMNS = {"table_name": TEXT, "column_name": TEXT, "column_value": TEXT, "row_id": TEXT,
                    "received_at": TIMESTAMP, "reason": TEXT}
DISCARDS_KEY = ("table_name", "row_id", "column_name")


class CastError(ValueError):
    """A value that cannot be stored in its column."""


def quote(identifier: str) -> str:
    """Quote a SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def as_text(value: Any) -> str:
    """The text form of a value, as stored in ``text`` columns and in discards."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def infer_type(column: str, value: Any) -> str:
    """The type a new ``column`` gets from its first value."""
    if column in RESERVED_TYPES:
        return RESERVED_TYPES[column]
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return BIGINT
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        try:
            cast(value, TIMESTAMP)
        except CastError:
            return TEXT
        return TIMESTAMP
    return TEXT


def cast(value: Any, pg_type: str) -> Any:
    """Return ``value`` converted for a column of ``pg_type``; raise :class:`CastError` when impossible."""
    if pg_type == TEXT:
        text = as_text(value)
        if "\x00" in text:
            raise CastError("text contains a NUL character")
        return text
    if pg_type == BOOLEAN and isinstance(value, bool):
        return value
    if pg_type == BIGINT and isinstance(value, (int, float)) and not isinstance(value, bool):
        if float(value).is_integer() and _INT64[0] <= value <= _INT64[1]:
            return int(value)
    if pg_type == DOUBLE and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if pg_type == TIMESTAMP and isinstance(value, str) and _ISO_DATETIME.match(value):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise CastError(f"invalid timestamp {value!r}") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    raise CastError(f"{type(value).__name__} value does not fit column type {pg_type}")


class SchemaCache:
    """Known columns (name → type) of each table, loaded from PostgreSQL and evolved on demand."""

    def __init__(self) -> None:
        self._tables: dict[tuple[str, str], dict[str, str]] = {}

    def forget(self, schema: str) -> None:
        """Drop what is known of ``schema`` (after an error that says the cache is stale)."""
        self._tables = {key: cols for key, cols in self._tables.items() if key[0] != schema}

    async def ensure(self, conn: asyncpg.Connection, schema: str, table: str, wanted: dict[str, str],
                     key: tuple[str, ...] = ("id",)) -> dict[str, str]:
        """Make sure ``schema.table`` has the ``wanted`` columns; return all its columns with their types.

        A column that exists keeps its type, whatever ``wanted`` says.
        """
        columns = self._tables.get((schema, table))
        if columns is None:
            columns = await self._load(conn, schema, table)
        if not columns:
            definitions = [f"{quote(c)} {t}" for c, t in wanted.items()]
            definitions.append(f"uuid_ts {TIMESTAMP} DEFAULT now()")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            await conn.execute(f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{quote(table)} "
                               f"({', '.join(definitions)}, PRIMARY KEY ({', '.join(map(quote, key))}))")
            columns = await self._load(conn, schema, table)
        missing = {c: t for c, t in wanted.items() if c not in columns}
        if missing:
            additions = ", ".join(f"ADD COLUMN IF NOT EXISTS {quote(c)} {t}" for c, t in missing.items())
            await conn.execute(f"ALTER TABLE {quote(schema)}.{quote(table)} {additions}")
            columns = await self._load(conn, schema, table)
        return columns

    async def _load(self, conn: asyncpg.Connection, schema: str, table: str) -> dict[str, str]:
        rows = await conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = $1 AND table_name = $2", schema, table)
        columns = {row["column_name"]: row["data_type"] for row in rows}
        self._tables[(schema, table)] = columns
        return columns
