"""Harnesses of the shared destination suite: one per destination type, each with an honest fault.

Every harness configures four destinations of its type — ``ok`` (healthy), ``flaky`` (broken, then
healed), ``perm`` (receives events it rejects permanently) and ``down`` (broken for good, 2 s window) —
and knows how to read back what a destination received, counted per messageId.  The faults are real:

* file — the archive path is a directory, so appending fails (``IsADirectoryError``); no permanent
  failure exists for a local file (every JSON event can be appended), so ``perm_event`` is None;
* webhook — a local aiohttp server answering 500 (flaky until healed, down always) and 400 (perm);
* kafka_topic — flaky and down produce to a second Tansu broker that is stopped (flaky's comes back on
  the same port); perm gets an event larger than the producer's 1 MB request limit;
* postgres — flaky and down load into tables locked by another session (``LOCK TABLE ... ACCESS
  EXCLUSIVE``) with a 1 s command timeout; perm gets events of an unknown type.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from eventyard.broker import EmbeddedBroker, free_port
from support import read_jsonl, read_topic

NAMES = ("ok", "flaky", "perm", "down")


def retry_settings(name: str) -> dict[str, Any]:
    """Fast retries; ``down`` gives up after 2 s."""
    window = 2.0 if name == "down" else 120.0
    return {"batch_size": 50, "retry": {"base_seconds": 0.2, "cap_seconds": 1.0, "window_seconds": window}}


class Harness:
    """Base: the four destination configs, faults, and what each destination received."""

    type_name = ""
    perm_event: dict[str, Any] | None = None

    def __init__(self, tmp: Path, bootstrap: str) -> None:
        self.tmp, self.bootstrap = tmp, bootstrap

    def settings(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def destinations(self) -> list[dict[str, Any]]:
        return [{"name": n, "type": self.type_name, "settings": self.settings(n), "delivery": retry_settings(n)}
                for n in NAMES]

    async def break_(self) -> None:
        """Put the flaky and down faults in place (before the worker starts)."""

    async def after_start(self) -> None:
        """Faults that need the worker's destinations set up first."""

    async def heal(self) -> None:
        """End the flaky fault."""

    async def received(self, name: str) -> Counter[str]:
        raise NotImplementedError

    async def close(self) -> None:
        """Release what the harness started."""


class FileHarness(Harness):
    type_name = "file"

    def settings(self, name: str) -> dict[str, Any]:
        return {"directory": str(self.tmp / name), "fsync": False}

    async def break_(self) -> None:
        for name in ("flaky", "down"):
            (self.tmp / name / "events.jsonl").mkdir(parents=True)

    async def heal(self) -> None:
        (self.tmp / "flaky" / "events.jsonl").rmdir()

    async def received(self, name: str) -> Counter[str]:
        directory = self.tmp / name
        return Counter(e["messageId"] for e in read_jsonl(directory)) if (directory / "events.jsonl").is_file() \
            else Counter()


class WebhookHarness(Harness):
    type_name = "webhook"
    perm_event = {"type": "track", "event": "Rejected"}

    async def break_(self) -> None:
        self.hits: dict[str, Counter[str]] = {n: Counter() for n in NAMES}
        self.healed = False
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        self.port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        event = orjson.loads(await request.read())
        status = {"ok": 200, "flaky": 200 if self.healed else 500, "perm": 400, "down": 503}[name]
        if status == 200:
            self.hits[name][event["messageId"]] += 1
        return web.Response(status=status, text=f"scripted {status}")

    def settings(self, name: str) -> dict[str, Any]:
        return {"url": f"http://127.0.0.1:{{port}}/{name}", "allow_private": ["127.0.0.1/32"]}

    def destinations(self) -> list[dict[str, Any]]:
        configs = super().destinations()
        for config in configs:
            config["settings"]["url"] = config["settings"]["url"].format(port=self.port)
        return configs

    async def heal(self) -> None:
        self.healed = True

    async def received(self, name: str) -> Counter[str]:
        return self.hits[name]

    async def close(self) -> None:
        await self.runner.cleanup()


class KafkaTopicHarness(Harness):
    type_name = "kafka_topic"
    perm_event = {"type": "track", "event": "Huge", "properties": {"blob": "x" * 1_100_000}}

    def settings(self, name: str) -> dict[str, Any]:
        servers = self.bootstrap if name in ("ok", "perm") else self.other.bootstrap_servers
        return {"topic": f"{self.prefix}.{name}", "bootstrap_servers": servers, "request_timeout_ms": 1000}

    async def break_(self) -> None:
        self.prefix = f"suite{uuid.uuid4().hex[:8]}"
        self.other = EmbeddedBroker(log_file=self.tmp / "other-broker.log").start()

    async def after_start(self) -> None:
        self.other.stop()  # the destinations are connected; now their cluster goes away

    async def heal(self) -> None:
        self.other = EmbeddedBroker(port=self.other.port, log_file=self.tmp / "other-broker-2.log").start()

    async def received(self, name: str) -> Counter[str]:
        servers = self.bootstrap if name in ("ok", "perm") else self.other.bootstrap_servers
        records = await read_topic(servers, f"{self.prefix}.{name}", 10_000, timeout=2.0)
        return Counter(orjson.loads(r.value)["messageId"] for r in records)

    async def close(self) -> None:
        self.other.stop()


class PostgresHarness(Harness):
    type_name = "postgres"
    perm_event = {"type": "bogus"}

    def __init__(self, tmp: Path, bootstrap: str, dsn: str) -> None:
        super().__init__(tmp, bootstrap)
        self.dsn, self.prefix = dsn, f"suite_{uuid.uuid4().hex[:8]}"

    def settings(self, name: str) -> dict[str, Any]:
        return {"schema": f"{self.prefix}_{name}", "dsn_env": "EVENTYARD_SUITE_DSN", "command_timeout": 1.0}

    async def break_(self) -> None:
        from eventyard.destinations.base import DestinationContext
        from eventyard.destinations.postgres import PostgresDestination

        self.locks = {}
        for name in ("flaky", "down"):  # let the destination create its tables, then lock them
            settings = PostgresDestination.Settings(schema=f"{self.prefix}_{name}", dsn_env="EVENTYARD_SUITE_DSN")
            warm = PostgresDestination(name, settings, DestinationContext(str(self.tmp), name))
            await warm.setup()
            await warm.send_batch([{"type": "track", "event": "Suite", "messageId": f"warm-{name}",
                                    "userId": "w", "receivedAt": "2026-01-01T00:00:00Z"}])
            await warm.close()
            conn = await asyncpg.connect(self.dsn)
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute(f"LOCK TABLE {self.prefix}_{name}.tracks IN ACCESS EXCLUSIVE MODE")
            self.locks[name] = (conn, transaction)

    async def _release(self, name: str) -> None:
        conn, transaction = self.locks.pop(name)
        await transaction.rollback()
        await conn.close()

    async def heal(self) -> None:
        await self._release("flaky")

    async def received(self, name: str) -> Counter[str]:
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(f"SELECT id FROM {self.prefix}_{name}.tracks WHERE id NOT LIKE 'warm-%'")
        except asyncpg.UndefinedTableError:
            rows = []
        finally:
            await conn.close()
        return Counter(r["id"] for r in rows)

    async def close(self) -> None:
        for name in list(self.locks):
            await self._release(name)
        conn = await asyncpg.connect(self.dsn)
        for name in NAMES:
            await conn.execute(f"DROP SCHEMA IF EXISTS {self.prefix}_{name} CASCADE")
        await conn.close()
