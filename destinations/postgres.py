"""The ``postgres`` destination: Segment's warehouse layout in PostgreSQL.

Each source gets a schema (``schema`` forces one; otherwise the snake_case name of the event's source,
``context.eventyard.source``, else ``default_schema``) holding ``tracks``, ``identifies``, ``users``,
``pages``, ``screens``, ``groups``, ``aliases``, one table per track event and ``discards`` — see
:mod:`eventyard.destinations.warehouse` for the layout, typing and loading rules.  ``id`` (the
``messageId``; ``userId`` in ``users``) is each table's primary key, so a replayed batch adds no rows.

Outcomes: events that cannot be stored (no messageId, unknown type, unnamed track, data PostgreSQL rejects)
``Fail`` one by one; connection problems and other database errors ``Retry`` the events of the schema.
The DSN is a secret: it comes from the environment variable named by ``dsn_env``.
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Iterator

import asyncpg
from pydantic import ConfigDict, Field

from eventyard.destinations.base import DELIVERED, Destination, DestinationSettings, Event, Fail, Health, Outcome, Retry
from eventyard.destinations.warehouse.flatten import InvalidEvent, Row, event_rows, snake_case
from eventyard.destinations.warehouse.loader import write_batch
from eventyard.destinations.warehouse.records import Record, TableRecords, new_columns, table_records
from eventyard.destinations.warehouse.schema import DISCARDS_COLUMNS, DISCARDS_KEY, SchemaCache, Table

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
_SCHEMA_NAME = r"^[a-z_][a-z0-9_]{0,62}$"
_CONNECTION_ERRORS = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                      asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError)
_STALE_SCHEMA = (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError, asyncpg.InvalidSchemaNameError,
                 asyncpg.DuplicateTableError, asyncpg.DuplicateSchemaError, asyncpg.UniqueViolationError)
_BAD_DATA = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)
Item = tuple[int, list[Row]]


class PostgresSettings(DestinationSettings):
    """Settings of the ``postgres`` destination."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    dsn_env: str | None = Field(None, description=f"env variable holding the DSN; default DSN {DEFAULT_DSN}")
    target_schema: str | None = Field(None, alias="schema", pattern=_SCHEMA_NAME, description="one schema for all")
    default_schema: str = Field("eventyard", pattern=_SCHEMA_NAME, description="for events without a source")
    pool_size: int = Field(4, ge=1, le=100)
    command_timeout: float = Field(60.0, gt=0)


class PostgresDestination(Destination):
    """Loads events into Segment-style warehouse tables."""

    type_name = "postgres"
    Settings = PostgresSettings
    settings: PostgresSettings

    async def setup(self) -> None:
        """Create the connection pool (lazily connecting, so an unreachable database means ``Retry``)."""
        dsn = DEFAULT_DSN
        if self.settings.dsn_env:
            dsn = os.environ.get(self.settings.dsn_env, "")
            if not dsn:
                raise ValueError(f"environment variable {self.settings.dsn_env} (postgres DSN) is not set")
        self._cache = SchemaCache()
        self._pool = await asyncpg.create_pool(dsn, min_size=0, max_size=self.settings.pool_size,
                                               command_timeout=self.settings.command_timeout,
                                               reset=_keep_session)

    def schema_for(self, event: Event) -> str:
        """The schema ``event`` is loaded into."""
        if self.settings.target_schema:
            return self.settings.target_schema
        source = ((event.get("context") or {}).get("eventyard") or {}).get("source")
        return (snake_case(source) if isinstance(source, str) else "") or self.settings.default_schema

    async def send_batch(self, events: list[Event]) -> list[Outcome]:
        """Load the batch, one transaction per schema; one outcome per event."""
        outcomes: list[Outcome] = [DELIVERED] * len(events)
        by_schema: dict[str, list[Item]] = defaultdict(list)
        for index, event in enumerate(events):
            try:
                by_schema[self.schema_for(event)].append((index, event_rows(event)))
            except InvalidEvent as exc:
                outcomes[index] = Fail(str(exc), error_class="invalid_event")
        for schema, items in by_schema.items():
            for index, outcome in await self._load_schema(schema, items):
                outcomes[index] = outcome
        return outcomes

    async def _load_schema(self, schema: str, items: list[Item]) -> list[tuple[int, Outcome]]:
        try:
            await self._write(schema, items)
        except _CONNECTION_ERRORS as exc:
            return [(i, Retry(f"{type(exc).__name__}: {exc}", error_class="connection_error")) for i, _ in items]
        except _BAD_DATA as exc:
            await self._forget(schema)
            if len(items) == 1:
                return [(items[0][0], Fail(f"{type(exc).__name__}: {exc}", error_class="invalid_event"))]
            return [pair for item in items for pair in await self._load_schema(schema, [item])]
        except asyncpg.PostgresError as exc:
            return [(i, Retry(f"{type(exc).__name__}: {exc}", error_class="database_error")) for i, _ in items]
        return [(i, DELIVERED) for i, _ in items]

    async def _write(self, schema: str, items: list[Item]) -> None:
        try:
            await self._write_once(schema, items)
        except _STALE_SCHEMA:
            await self._forget(schema)  # another writer changed the schema: reload it and try once more
            await self._write_once(schema, items)

    async def _forget(self, schema: str) -> None:
        """Forget the layout of ``schema``, and the statements connections prepared for it (fresh connections)."""
        self._cache.forget(schema)
        await self._pool.expire_connections()

    async def _write_once(self, schema: str, items: list[Item]) -> None:
        """Evolve the tables (only for new tables or columns, before the transaction), then write the batch."""
        tables: dict[str, list[Row]] = defaultdict(list)
        for _, rows in items:
            for row in rows:
                tables[row.table].append(row)
        async with self._pool.acquire() as conn:
            layouts = {table: await self._layout(conn, schema, table, rows) for table, rows in tables.items()}
            if await self._cache.table(conn, schema, "discards") is None:
                await self._cache.evolve(conn, schema, "discards", DISCARDS_COLUMNS, DISCARDS_KEY)
            discards: list[Record] = []
            users = tables.pop("users", None)
            upserts = [table_records("users", users, layouts["users"], discards)] if users else []
            await write_batch(conn, schema, _inserts(tables, layouts, discards), upserts)

    async def _layout(self, conn: asyncpg.Connection, schema: str, table: str, rows: list[Row]) -> Table:
        """The table's layout, after creating it or adding the columns ``rows`` bring (only when needed)."""
        layout = await self._cache.table(conn, schema, table)
        wanted = new_columns(rows, layout.columns if layout else {})
        if layout is None or wanted:
            layout = await self._cache.evolve(conn, schema, table, wanted)
        return layout

    async def healthcheck(self) -> Health:
        """Run ``SELECT 1`` on the database."""
        try:
            await self._pool.fetchval("SELECT 1")
        except (*_CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
            return Health(False, f"{type(exc).__name__}: {exc}")
        return Health(True, "database reachable")

    async def close(self) -> None:
        """Close the connection pool."""
        await self._pool.close()


def _inserts(tables: dict[str, list[Row]], layouts: dict[str, Table], discards: list[Record]) -> Iterator[TableRecords]:
    """Each table's records, largest table first, built when asked for; then the ``discards`` they produced."""
    for table, rows in sorted(tables.items(), key=lambda item: -len(item[1])):
        yield table_records(table, rows, layouts[table], discards)
    if discards:
        yield TableRecords("discards", list(DISCARDS_COLUMNS), list(DISCARDS_COLUMNS.values()), discards, DISCARDS_KEY)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Reset a connection released to the pool: nothing to undo.

    The destination sets no session state (no ``SET``, ``LISTEN``, cursors or advisory locks); asyncpg
    still rolls back an open transaction.  This skips asyncpg's default reset query, a round trip per batch.
    """
