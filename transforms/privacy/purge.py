"""Purging a deleted user from every place a workspace keeps data, and recording what was done where.

Targets, from the workspace:

==============================  ===========================================================================
target                          what the purge does
==============================  ===========================================================================
``warehouse:<destination>``     every ``postgres`` destination: rows deleted from the schemas it writes
                                (``schema`` if set, else one per source plus ``default_schema``)
``archive:<destination>``       every ``file`` destination: archive files rewritten without the user
``topic:<name>``                dead-letter topics, ``<prefix>.blocked`` and ``<prefix>.rejects``: Kafka
                                cannot delete single records (Tansu does not even implement DeleteRecords),
                                so the user's records are counted and *masked*: the regulation itself is
                                the durable marker every replay and dead-letter tool consults
                                (``may_redeliver``), and the records disappear with the topic's retention
==============================  ===========================================================================

:func:`run_purge` runs every target, never stopping at a failure, and returns the per-target results
that go into the regulation record (``status`` ``done``, ``masked`` or ``failed`` with the error class and
message; counts only — never a payload).  A failed target stays pending in ``eventyard privacy status``;
running the delete again retries it (every step is idempotent).  :func:`purge_debugger` removes the user
from the health server's live debugger buffers.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from pathlib import Path
from typing import Any, Awaitable, Callable

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from eventyard.config.loader import LoadedWorkspace
from eventyard.destinations.postgres import DEFAULT_DSN
from eventyard.destinations.warehouse.flatten import snake_case
from eventyard.transforms.privacy.purge_stores import purge_archive, purge_warehouse

Target = Callable[[str], Awaitable[dict[str, Any]]]
IDLE_MS = 1000


def record_user(value: Any) -> str | None:
    """The userId a topic record belongs to: ``userId`` of the value, of its ``event``, of its ``item``
    or of the item's ``event`` (dead letters, blocked records and rejects)."""
    if not isinstance(value, dict):
        return None
    item = value.get("item")
    for holder in (value, value.get("event"), item, item.get("event") if isinstance(item, dict) else None):
        if isinstance(holder, dict) and isinstance(holder.get("userId"), str):
            return holder["userId"]
    return None


async def count_user_records(bootstrap: str, topic: str, user_id: str) -> int:
    """How many records of ``topic`` belong to ``user_id`` (reads the topic once, to an idle fetch)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found = 0
    try:
        while batch := await consumer.getmany(timeout_ms=IDLE_MS):
            for records in batch.values():
                for record in records:
                    try:
                        value = orjson.loads(record.value) if record.value else None
                    except orjson.JSONDecodeError:
                        continue
                    found += record_user(value) == user_id
    finally:
        await consumer.stop()
    return found


def _warehouse_target(loaded: LoadedWorkspace, dest) -> Target:
    settings = loaded.destination_settings[dest.name]
    if settings.target_schema:
        schemas = [settings.target_schema]
    else:
        names = dest.sources or [s.name for s in loaded.model.sources]
        schemas = sorted({snake_case(n) for n in names} | {settings.default_schema})
    dsn = os.environ.get(settings.dsn_env, "") if settings.dsn_env else DEFAULT_DSN

    async def purge(user_id: str) -> dict[str, Any]:
        if not dsn:
            raise ValueError(f"environment variable {settings.dsn_env} (postgres DSN) is not set")
        deleted = await purge_warehouse(dsn, schemas, user_id)
        return {"status": "done", "removed": sum(deleted.values()), "detail": deleted}

    return purge


def _archive_target(loaded: LoadedWorkspace, dest) -> Target:
    base = Path(loaded.destination_settings[dest.name].directory)
    directory = base if base.is_absolute() else loaded.directory / base

    async def purge(user_id: str) -> dict[str, Any]:
        removed = await asyncio.to_thread(purge_archive, directory, user_id)
        return {"status": "done", "removed": sum(removed.values()), "detail": removed}

    return purge


def _topic_target(bootstrap: str, topic: str) -> Target:
    async def purge(user_id: str) -> dict[str, Any]:
        count = await count_user_records(bootstrap, topic, user_id)
        return {"status": "masked", "records": count,
                "detail": "unreplayable through the regulation; removed by the topic's retention"}

    return purge


async def purge_targets(loaded: LoadedWorkspace, bootstrap: str) -> dict[str, Target]:
    """Every place the workspace keeps data, by target name."""
    targets: dict[str, Target] = {}
    prefix = loaded.model.topics.prefix
    for dest in loaded.model.destinations:
        if dest.type == "postgres":
            targets[f"warehouse:{dest.name}"] = _warehouse_target(loaded, dest)
        elif dest.type == "file":
            targets[f"archive:{dest.name}"] = _archive_target(loaded, dest)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    topics = [f"{prefix}.dlq.{d.name}" for d in loaded.model.destinations] + [f"{prefix}.blocked",
                                                                                f"{prefix}.rejects"]
    for topic in topics:
        if topic in existing:
            targets[f"topic:{topic}"] = _topic_target(bootstrap, topic)
    return targets


async def run_purge(targets: dict[str, Target], user_id: str) -> dict[str, dict[str, Any]]:
    """Run every target for ``user_id``; return each one's result (a failure never stops the others)."""
    results = {}
    for name, purge in targets.items():
        try:
            result = await purge(user_id)
        except Exception as exc:  # any store may fail; it stays pending and is retried by a new run
            result = {"status": "failed", "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        results[name] = {**result, "at": time.time()}
    return results


def purge_debugger(buffers: dict[str, deque], user_id: str) -> int:
    """Remove ``user_id``'s events from live-debugger buffers (source → deque of ``{"event": ...}``)."""
    removed = 0
    for source, entries in buffers.items():
        kept = [e for e in entries if (e.get("event") or {}).get("userId") != user_id]
        removed += len(entries) - len(kept)
        if len(kept) != len(entries):
            entries.clear()
            entries.extend(kept)
    return removed
