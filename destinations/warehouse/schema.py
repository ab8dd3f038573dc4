"""Column types, casts and table evolution for the warehouse (first-seen type wins).

A new column takes the type of the first non-null value seen for it: ``boolean``, ``bigint``,
``double precision``, ``timestamp with time zone`` (ISO-8601 date-time strings) or ``text``.  Later values
are cast to the column's type when that loses nothing (an integer into ``double precision``, anything into
``text``); otherwise :func:`cast` raises :class:`CastError` and the value goes to the discards table.
Tables and columns are created on demand (``CREATE TABLE IF NOT EXISTS``,
``ALTER TABLE ... ADD COLUMN IF NOT EXISTS``).  :class:`SchemaCache` keeps each table's columns in
memory — a schema is read from the catalog once, a table again only after it changed — so a batch
that brings no new column costs no statement at all; it forgets a schema when a statement proves the
memory stale.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

TEXT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP = "text", "bigint", "double precision", "boolean", "timestamp with time zone"
WRITABLE_TYPES = frozenset({TEXT, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP})
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
INT64 = (-(2**63), 2**63 - 1)
RESERVED_TYPES = {"id": TEXT, "received_at": TIMESTAMP, "sent_at": TIMESTAMP, "original_timestamp": TIMESTAMP,
                  "timestamp": TIMESTAMP, "user_id": TEXT, "anonymous_id": TEXT, "event": TEXT,
                  "event_text": TEXT, "name": TEXT, "group_id": TEXT, "previous_id": TEXT}
DISCARDS_COLUMNS = {"table_name": TEXT, "column_name": TEXT, "column_value": TEXT, "row_id": TEXT,
                    "received_at": TIMESTAMP, "reason": TEXT}
DISCARDS_KEY = ("table_name", "row_id", "column_name")
_CATALOG = ("SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.atthasdef"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped")


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
            parse_timestamp(value)
        except CastError:
            return TEXT
        return TIMESTAMP
    return TEXT


@functools.lru_cache(maxsize=4096)
def parse_timestamp(text: str) -> dt.datetime:
    """An ISO-8601 date-time string as an aware datetime (UTC when it names no offset); remembers recent ones."""
    if not _ISO_DATETIME.match(text):
        raise CastError(f"str value does not fit column type {TIMESTAMP}")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CastError(f"invalid timestamp {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


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
        if float(value).is_integer() and INT64[0] <= value <= INT64[1]:
            return int(value)
    if pg_type == DOUBLE and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if pg_type == TIMESTAMP and isinstance(value, str):
        return parse_timestamp(value)
    raise CastError(f"{type(value).__name__} value does not fit column type {pg_type}")


@dataclass(frozen=True)
class Table:
    """A table as the catalog describes it: columns (name → type, in table order) and those with a default."""

    columns: dict[str, str]
    defaults: frozenset[str]


class SchemaCache:
    """Known tables of each schema, read from PostgreSQL's catalog and evolved on demand."""

    def __init__(self) -> None:
        self._schemas: dict[str, dict[str, Table]] = {}

    def forget(self, schema: str) -> None:
        """Drop what is known of ``schema`` (after an error that says the memory is stale)."""
        self._schemas.pop(schema, None)

    async def table(self, conn: asyncpg.Connection, schema: str, table: str) -> Table | None:
        """The known layout of ``schema.table``, or ``None`` when it does not exist (yet)."""
        tables = self._schemas.get(schema)
        if tables is None:
            tables = self._schemas[schema] = await _read(conn, schema)
        return tables.get(table)

    async def evolve(self, conn: asyncpg.Connection, schema: str, table: str, wanted: dict[str, str],
                     key: tuple[str, ...] = ("id",)) -> Table:
        """Create ``schema.table`` or add the ``wanted`` columns it lacks; return its layout as it is now.

        A column that exists keeps its type, whatever ``wanted`` says.
        """
        name = f"{quote(schema)}.{quote(table)}"
        known = await self.table(conn, schema, table)
        if known is None:
            definitions = [f"{quote(c)} {t}" for c, t in wanted.items()]
            definitions.append(f"uuid_ts {TIMESTAMP} DEFAULT now()")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)};"
                               f" CREATE TABLE IF NOT EXISTS {name}"
                               f" ({', '.join(definitions)}, PRIMARY KEY ({', '.join(map(quote, key))}))")
            known = await self._reread(conn, schema, table)
        missing = {c: t for c, t in wanted.items() if c not in known.columns}
        if missing:
            additions = ", ".join(f"ADD COLUMN IF NOT EXISTS {quote(c)} {t}" for c, t in missing.items())
            await conn.execute(f"ALTER TABLE {name} {additions}")
            known = await self._reread(conn, schema, table)
        return known

    async def _reread(self, conn: asyncpg.Connection, schema: str, table: str) -> Table:
        tables = await _read(conn, schema, table)
        if table not in tables:
            raise asyncpg.UndefinedTableError(f"{schema}.{table} vanished while it was being evolved")
        self._schemas.setdefault(schema, {})[table] = tables[table]
        return tables[table]


async def _read(conn: asyncpg.Connection, schema: str, table: str | None = None) -> dict[str, Table]:
    """Every table of ``schema`` (or only ``table``) as the catalog has it."""
    query, args = _CATALOG, [schema]
    if table is not None:
        query, args = query + " AND c.relname = $2", [schema, table]
    columns: dict[str, dict[str, str]] = {}
    defaults: dict[str, set[str]] = {}
    for relation, column, pg_type, has_default in await conn.fetch(query + " ORDER BY c.relname, a.attnum", *args):
        columns.setdefault(relation, {})[column] = pg_type
        if has_default:
            defaults.setdefault(relation, set()).add(column)
    return {name: Table(cols, frozenset(defaults.get(name, ()))) for name, cols in columns.items()}
