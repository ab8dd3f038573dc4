"""Shared fixtures: a real Tansu broker per test session, PostgreSQL, workspaces and processes.

* ``broker`` — an :class:`~eventyard.broker.EmbeddedBroker` on a free port, started once per session.
* ``workspace_factory`` — writes an ``eventyard.yaml`` with a unique topic prefix so tests sharing the
  broker never see each other's records.
* ``postgres_dsn`` — the local PostgreSQL; when it is unreachable the test fails under ``CI=true`` and is
  skipped (with the reason) elsewhere.
* ``Proc`` helpers live in ``tests/support.py``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import yaml

from eventyard.broker import EmbeddedBroker

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory):
    """A real Kafka-protocol broker (Tansu, in memory) for the whole session."""
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    running = EmbeddedBroker(log_file=log).start()
    yield running
    running.stop()


@pytest.fixture
def bootstrap(broker: EmbeddedBroker) -> str:
    """The broker's bootstrap address."""
    return broker.bootstrap_servers


@pytest.fixture
def workspace_factory(tmp_path: Path):
    """Write a workspace; returns a function(sources=..., destinations=..., **extra) -> directory."""

    def make(sources=None, destinations=None, **extra) -> Path:
        directory = tmp_path / f"ws-{uuid.uuid4().hex[:8]}"
        directory.mkdir()
        doc = {
            "version": 1,
            "topics": {"prefix": f"t{uuid.uuid4().hex[:10]}", "partitions": 4},
            "sources": sources or [{"name": "web", "write_key": "web-key"}],
            "destinations": destinations if destinations is not None else [
                {"name": "archive", "type": "file",
                 "settings": {"directory": str(directory / "archive")}}],
            **extra,
        }
        (directory / "eventyard.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        return directory

    return make


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """DSN of the local PostgreSQL; fails the run in CI when it is missing."""
    import asyncio

    import asyncpg

    dsn = os.environ.get("EVENTYARD_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")

    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and unreachable at {dsn}: {exc!r}")
        pytest.skip(f"PostgreSQL unreachable at {dsn}: {exc!r} (CI=true makes this a failure)")
    return dsn
