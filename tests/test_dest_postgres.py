"""The postgres destination against the real PostgreSQL (``postgres_dsn`` in conftest; one schema per test)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from eventyard.destinations.base import DELIVERED, DestinationContext, Fail, Retry
from eventyard.destinations.postgres import PostgresDestination, PostgresSettings
from eventyard.destinations.warehouse.flatten import event_rows, flatten, snake_case

pytestmark = pytest.mark.asyncio(loop_scope="session")
RECEIVED = "2024-05-01T10:00:00.000Z"
DSN_ENV = "EVENTYARD_TEST_WAREHOUSE_DSN"


@pytest.fixture
async def db(postgres_dsn: str, monkeypatch) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """A connection and a fresh schema name (dropped afterwards); the DSN reaches destinations via the env."""
    monkeypatch.setenv(DSN_ENV, postgres_dsn)
    conn = await asyncpg.connect(postgres_dsn, timeout=5)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield conn, schema
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.close()


def _destination(**settings) -> PostgresDestination:
    return PostgresDestination("wh", PostgresSettings(dsn_env=DSN_ENV, **settings), DestinationContext("/tmp", "wh"))


@pytest.fixture
async def dest(db) -> AsyncIterator[PostgresDestination]:
    _, schema = db
    destination = _destination(schema=schema)
    await destination.setup()
    yield destination
    await destination.close()


def _track(mid: str, name: str = "Order Completed", **props) -> dict:
    return {"type": "track", "messageId": mid, "userId": "u1", "event": name, "properties": props,
            "context": {"library": {"name": "analytics.js", "version": "1.0"}, "ip": "1.2.3.4"},
            "timestamp": RECEIVED, "originalTimestamp": RECEIVED, "sentAt": RECEIVED, "receivedAt": RECEIVED}


def _identify(mid: str, user: str, received: str = RECEIVED, **traits) -> dict:
    return {"type": "identify", "messageId": mid, "userId": user, "traits": traits, "receivedAt": received}


async def _columns(conn: asyncpg.Connection, schema: str, table: str) -> dict[str, str]:
    rows = await conn.fetch("SELECT column_name, data_type FROM information_schema.columns"
                            " WHERE table_schema = $1 AND table_name = $2", schema, table)
    return {r["column_name"]: r["data_type"] for r in rows}


async def test_naming_and_flattening() -> None:
    assert snake_case("Order Completed") == "order_completed"
    assert snake_case("productId") == "product_id"
    assert snake_case("3d view") == "_3d_view"
    assert flatten({"a": {"bC": 1, "d": [1, 2]}, "e": None}) == {"a_b_c": 1, "a_d": "[1,2]", "e": None}
    [tracks, per_event] = event_rows(_track("m1", id="clash", total=3))
    assert tracks.table == "tracks" and per_event.table == "order_completed"
    assert per_event.values["event"] == "order_completed" and per_event.values["event_text"] == "Order Completed"
    assert per_event.values["id"] == "m1" and per_event.discards[0][:2] == ("id", "clash")
    assert event_rows({**_track("m2"), "event": "users"})[1].table == "_users"


async def test_track_tables_and_schema_evolution(db, dest) -> None:
    conn, schema = db
    assert await dest.send_batch([_track("m1", total=10, currency="EUR", product={"skuId": "s1"})]) == [DELIVERED]
    tracks = await _columns(conn, schema, "tracks")
    for column in ("id", "received_at", "sent_at", "original_timestamp", "timestamp", "user_id", "anonymous_id",
                   "event", "event_text", "uuid_ts", "context_library_name", "context_ip"):
        assert column in tracks, column
    assert "total" not in tracks
    table = await _columns(conn, schema, "order_completed")
    assert table["total"] == "bigint" and table["product_sku_id"] == "text"
    assert table["received_at"] == "timestamp with time zone"
    assert await dest.send_batch([_track("m2", total=11, coupon="X", shipped=True)]) == [DELIVERED]
    table = await _columns(conn, schema, "order_completed")
    assert table["coupon"] == "text" and table["shipped"] == "boolean"
    rows = await conn.fetch(f'SELECT id, total, coupon, event_text FROM "{schema}".order_completed ORDER BY id')
    assert [tuple(r) for r in rows] == [("m1", 10, None, "Order Completed"), ("m2", 11, "X", "Order Completed")]


async def test_type_conflict_goes_to_discards(db, dest) -> None:
    conn, schema = db
    assert await dest.send_batch([_track("m1", total=10, ratio=0.5)]) == [DELIVERED]
    outcomes = await dest.send_batch([_track("m2", total="ten", ratio=2), _track("m3", total=12.0)])
    assert outcomes == [DELIVERED, DELIVERED]
    rows = await conn.fetch(f'SELECT id, total, ratio FROM "{schema}".order_completed ORDER BY id')
    assert [tuple(r) for r in rows] == [("m1", 10, 0.5), ("m2", None, 2.0), ("m3", 12, None)]
    discards = await conn.fetch(f'SELECT table_name, column_name, column_value, row_id, received_at, reason'
                                f' FROM "{schema}".discards')
    assert [(d["table_name"], d["column_name"], d["column_value"], d["row_id"]) for d in discards] == [
        ("order_completed", "total", "ten", "m2")]
    assert discards[0]["received_at"] is not None and "bigint" in discards[0]["reason"]


async def test_replaying_a_batch_adds_no_rows(db, dest) -> None:
    conn, schema = db
    batch = [_track("m1", total=1), _track("m2", total="bad"), _identify("m3", "u1", plan="pro"),
             {"type": "page", "messageId": "m4", "anonymousId": "a1", "name": "Home", "properties": {"path": "/"}}]
    for _ in range(3):
        assert await dest.send_batch(batch) == [DELIVERED] * 4
    for table, count in (("tracks", 2), ("order_completed", 2), ("identifies", 1), ("users", 1), ("pages", 1),
                         ("discards", 1)):
        assert await conn.fetchval(f'SELECT count(*) FROM "{schema}"."{table}"') == count, table


async def test_redelivered_and_repeated_ids_are_stored_once(db, dest) -> None:
    """A batch with ids already stored (redelivery after a crash) or one id twice makes the fast COPY hit a
    unique violation; the batch is then written with ON CONFLICT DO NOTHING: each id once, new rows whole."""
    conn, schema = db
    assert await dest.send_batch([_track("m1", total=1)]) == [DELIVERED]
    batch = [_track("m1", total=1), _track("m2", total=2, coupon="C"), _track("m2", total=2, coupon="C"),
             _track("m3", total="bad"), _identify("i1", "u1", plan="pro")]
    assert await dest.send_batch(batch) == [DELIVERED] * 5
    rows = await conn.fetch(f'SELECT id, total, coupon FROM "{schema}".order_completed ORDER BY id')
    assert [tuple(r) for r in rows] == [("m1", 1, None), ("m2", 2, "C"), ("m3", None, None)]
    assert await conn.fetchval(f'SELECT count(*) FROM "{schema}".tracks') == 3
    assert await conn.fetchval(f'SELECT plan FROM "{schema}".users WHERE id = $1', "u1") == "pro"
    assert [tuple(r) for r in await conn.fetch(f'SELECT row_id, column_name FROM "{schema}".discards')] == [
        ("m3", "total")]
    assert await dest.send_batch([_track("m4", total=4)]) == [DELIVERED]
    assert await conn.fetchval(f'SELECT count(*) FROM "{schema}".order_completed') == 4


async def test_columns_added_by_someone_else_are_respected(db, dest) -> None:
    """Columns the destination did not create keep their type (values that do not fit go to discards) and
    their default (the destination writes a column with a default only when a row has a value for it)."""
    conn, schema = db
    assert await dest.send_batch([_track("m1", total=1)]) == [DELIVERED]
    await conn.execute(f'ALTER TABLE "{schema}".order_completed ADD COLUMN coupon bigint,'
                       f" ADD COLUMN note varchar(3), ADD COLUMN loaded_by text DEFAULT 'etl'")
    assert await dest.send_batch([_track("m2", total=2, coupon="SPRING", note="hey")]) == [DELIVERED]
    row = await conn.fetchrow(f'SELECT coupon, note, loaded_by FROM "{schema}".order_completed WHERE id = $1', "m2")
    assert tuple(row) == (None, None, "etl")
    discards = await conn.fetch(f'SELECT column_name, column_value FROM "{schema}".discards ORDER BY column_name')
    assert [tuple(d) for d in discards] == [("coupon", "SPRING"), ("note", "hey")]
    assert await dest.send_batch([_track("m3", total=3, loaded_by="me")]) == [DELIVERED]
    assert await conn.fetchval(f'SELECT loaded_by FROM "{schema}".order_completed WHERE id = $1', "m3") == "me"


async def test_users_upsert(db, dest) -> None:
    conn, schema = db
    later = "2024-05-02T10:00:00Z"
    batch = [_identify("i1", "u1", plan="free", email="a@x.io"), _identify("i2", "u1", later, plan="pro"),
             _identify("i3", "u2", name="Bo")]
    assert await dest.send_batch(batch) == [DELIVERED] * 3
    assert await dest.send_batch([_identify("i4", "u1", RECEIVED, plan="stale", age=30)]) == [DELIVERED]
    rows = {r["id"]: r for r in await conn.fetch(f'SELECT * FROM "{schema}".users')}
    assert sorted(rows) == ["u1", "u2"]
    assert rows["u1"]["plan"] == "pro" and rows["u1"]["email"] == "a@x.io" and rows["u1"]["age"] is None
    assert rows["u2"]["name"] == "Bo"
    assert await dest.send_batch([_identify("i5", "u1", "2024-06-01T00:00:00Z", plan="team")]) == [DELIVERED]
    assert await conn.fetchval(f'SELECT plan FROM "{schema}".users WHERE id = $1', "u1") == "team"
    assert await conn.fetchval(f'SELECT count(*) FROM "{schema}".identifies') == 5


async def test_every_event_type_and_invalid_events(db, dest) -> None:
    conn, schema = db
    batch = [
        {"type": "screen", "messageId": "s1", "userId": "u1", "name": "Cart", "properties": {"items": 2}},
        {"type": "group", "messageId": "g1", "userId": "u1", "groupId": "acme", "traits": {"employees": 40}},
        {"type": "alias", "messageId": "a1", "userId": "u1", "previousId": "anon-1"},
        {"type": "track", "messageId": "t1", "userId": "u1"},
        {"type": "track", "userId": "u1", "event": "No Id"},
        {"type": "bogus", "messageId": "b1"},
        _track("t2", "Nul Byte", note="a\x00b"),
    ]
    outcomes = await dest.send_batch(batch)
    assert outcomes[:3] == [DELIVERED] * 3 and outcomes[6] == DELIVERED
    assert all(isinstance(o, Fail) and o.error_class == "invalid_event" for o in outcomes[3:6])
    assert await conn.fetchval(f'SELECT items FROM "{schema}".screens') == 2
    assert await conn.fetchval(f'SELECT group_id FROM "{schema}".groups') == "acme"
    assert await conn.fetchval(f'SELECT previous_id FROM "{schema}".aliases') == "anon-1"
    assert await conn.fetchval(f'SELECT column_value FROM "{schema}".discards') == "a\\u0000b"


async def test_schema_from_source_and_stale_cache(db) -> None:
    conn, schema = db
    dest = _destination(default_schema=schema)
    await dest.setup()
    try:
        event = {**_track("m1", total=1), "context": {"eventyard": {"source": f"{schema}_Web"}}}
        assert await dest.send_batch([event, _track("m2", total=2)]) == [DELIVERED, DELIVERED]
        assert await conn.fetchval(f'SELECT count(*) FROM "{schema}_web".tracks') == 1
        await conn.execute(f'DROP TABLE "{schema}".order_completed')  # the cache now lies
        assert await dest.send_batch([_track("m3", total=3)]) == [DELIVERED]
        assert await conn.fetchval(f'SELECT count(*) FROM "{schema}".order_completed') == 1
    finally:
        await dest.close()
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_web" CASCADE')


async def test_unreachable_database_retries(unused_tcp_port: int, monkeypatch) -> None:
    monkeypatch.setenv(DSN_ENV, f"postgresql://postgres@127.0.0.1:{unused_tcp_port}/test")
    dest = _destination()
    await dest.setup()
    try:
        outcomes = await dest.send_batch([_track("m1"), {"type": "bogus"}])
        assert isinstance(outcomes[0], Retry) and outcomes[0].error_class == "connection_error"
        assert isinstance(outcomes[1], Fail)
        assert not (await dest.healthcheck()).ok
    finally:
        await dest.close()
