"""Readers that turn what a run left behind into an :class:`oracle.Observed`.

* :class:`TopicTail` — one aiokafka consumer (no group) assigned to every partition of some topics,
  reading from the beginning and accumulating records across calls (reading until the topics are idle;
  Tansu's end offsets are wrong, so "idle" is the only honest end);
* :func:`file_ids`, :func:`postgres_ids`, :class:`WebhookRecorder` — messageIds at a file archive, a
  PostgreSQL ``tracks`` table and a local webhook endpoint;
* :class:`Observer` — reads every destination plus the ``dlq.<name>``, ``rejects`` and ``blocked`` topics
  of a workspace prefix; awaiting it returns a fresh :class:`Observed`.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition

from oracle import Observed

IdReader = Callable[[], Awaitable[list[str]]]


class TopicTail:
    """Accumulates every record of ``topics`` from the beginning; :meth:`poll` reads what is new."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.records: dict[str, list[Any]] = {topic: [] for topic in topics}
        self._consumer: AIOKafkaConsumer | None = None

    async def _start(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    group_id=None, auto_offset_reset="earliest")
        await consumer.start()
        existing = await consumer.topics()
        partitions = [TopicPartition(topic, p) for topic in self.topics if topic in existing
                      for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        self._consumer = consumer
        return consumer

    async def poll(self, idle_ms: int = 300) -> dict[str, list[Any]]:
        """Read until a fetch of ``idle_ms`` returns nothing; return every record so far, per topic."""
        consumer = self._consumer or await self._start()
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms, max_records=5000)
            if not batch:
                return self.records
            for tp, messages in batch.items():
                self.records[tp.topic].extend(messages)

    async def close(self) -> None:
        """Stop the consumer."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


def record_message_id(record: Any) -> str | None:
    """messageId of a dead-letter, blocked, rejects or kafka_topic record (key, event or item)."""
    try:
        value = orjson.loads(record.value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    for candidate in (value, value.get("event"), value.get("item"),
                      (value.get("item") or {}).get("event") if isinstance(value.get("item"), dict) else None):
        if isinstance(candidate, dict) and isinstance(candidate.get("messageId"), str):
            return candidate["messageId"]
    return record.key.decode(errors="replace") if record.key else None


def _gunzip_complete(data: bytes) -> bytes:
    """Inflate every complete gzip member of ``data`` (a member still being written is left out)."""
    out = b""
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = inflater.decompress(data)
        except zlib.error:
            break
        if not inflater.eof:
            break
        out, data = out + chunk, inflater.unused_data
    return out


def file_ids(directory: Path) -> list[str]:
    """messageIds in a file destination's archive (``.jsonl`` and ``.jsonl.gz``), file by file."""
    ids: list[str] = []
    if not directory.exists():
        return ids
    for path in sorted(directory.iterdir()):
        if path.name.endswith(".jsonl.gz"):
            text = _gunzip_complete(path.read_bytes()).decode()
        elif path.name.endswith(".jsonl"):
            text = path.read_text()
        else:
            continue
        ids += [json.loads(line)["messageId"] for line in text.split("\n") if line.endswith("}")]
    return ids


async def postgres_ids(dsn: str, schema: str) -> list[str]:
    """messageIds in ``schema.tracks`` (empty when the table does not exist yet)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(f'SELECT id FROM "{schema}".tracks')
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return []
    finally:
        await conn.close()
    return [row["id"] for row in rows]


class WebhookRecorder:
    """A local webhook endpoint whose answer the test controls: ``status`` (default 200), ``delay``.

    Records the messageIds of every request it answered 2xx, in arrival order, and counts the others.
    """

    def __init__(self) -> None:
        self.status = 200
        self.delay = 0.0
        self.delivered: list[str] = []
        self.refused = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        if self.delay:
            await asyncio.sleep(self.delay)
        if 200 <= self.status < 300:
            events = body if isinstance(body, list) else [body]
            self.delivered += [e.get("messageId") for e in events]
        else:
            self.refused += 1
        return web.Response(status=self.status, text="ok")

    async def start(self) -> "WebhookRecorder":
        """Listen on a free loopback port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    @property
    def url(self) -> str:
        """The URL to configure in the webhook destination."""
        return f"http://127.0.0.1:{self.port}/hook"

    async def ids(self) -> list[str]:
        """messageIds delivered so far."""
        return list(self.delivered)

    async def stop(self) -> None:
        """Close the server."""
        if self._runner is not None:
            await self._runner.cleanup()


class Observer:
    """Reads a workspace's destinations and side topics into an :class:`Observed`."""

    def __init__(self, bootstrap: str, prefix: str, destinations: dict[str, IdReader],
                 kafka_destinations: dict[str, str] | None = None) -> None:
        self.prefix = prefix
        self.destinations = destinations
        self.kafka_destinations = kafka_destinations or {}
        self.dlq = {name: f"{prefix}.dlq.{name}" for name in [*destinations, *self.kafka_destinations]}
        topics = [*self.dlq.values(), *self.kafka_destinations.values(), f"{prefix}.rejects",
                  f"{prefix}.blocked"]
        self.tail = TopicTail(bootstrap, topics)

    async def __call__(self) -> Observed:
        records = await self.tail.poll()

        def ids(topic: str) -> list[str]:
            return [mid for mid in map(record_message_id, records.get(topic, [])) if mid]

        delivered = {name: await read() for name, read in self.destinations.items()}
        delivered.update({name: ids(topic) for name, topic in self.kafka_destinations.items()})
        return Observed(delivered=delivered, dead={name: ids(topic) for name, topic in self.dlq.items()},
                        rejected=ids(f"{self.prefix}.rejects"), blocked=ids(f"{self.prefix}.blocked"))

    async def close(self) -> None:
        """Release the topic consumer."""
        await self.tail.close()
