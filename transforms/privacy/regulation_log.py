"""The regulations topic and the audit topic on Kafka: write, read once, and follow.

* ``<prefix>.regulations`` — one partition, ``cleanup.policy=compact``, key = userId, value = a
  :class:`~eventyard.transforms.privacy.regulations.Regulation`; created on first use.
* ``<prefix>.regulations.audit`` — one record per action: who (``actor``), when, what (kind, userId,
  regulation id, purge summary); never an event payload.  Not compacted: the audit trail is kept.

:class:`RegulationsFollower` is what every ingest and worker process runs: an aiokafka consumer task that
reads the regulations topic from the beginning and folds it into a
:class:`~eventyard.transforms.privacy.regulations.RegulationBook`.  ``start()`` returns once the topic has
been read to its end (an empty fetch; Tansu's end offsets are unreliable), so a restarted process never
accepts a suppressed user's events; later records take effect within one fetch (≈0.5 s).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from eventyard.transforms.privacy.regulations import Regulation, RegulationBook

log = logging.getLogger("eventyard.privacy")
FETCH_MS = 500


def regulations_topic(prefix: str) -> str:
    """Name of the regulations topic of a workspace."""
    return f"{prefix}.regulations"


def audit_topic(prefix: str) -> str:
    """Name of the audit topic of a workspace."""
    return f"{prefix}.regulations.audit"


async def ensure_regulation_topics(bootstrap: str, prefix: str, replication: int = 1) -> None:
    """Create the regulations (compacted) and audit topics when missing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(regulations_topic(prefix), 1, replication, topic_configs={"cleanup.policy": "compact"}),
                  NewTopic(audit_topic(prefix), 1, replication)]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


def _fold(book: RegulationBook, records: list[Any]) -> list[Regulation]:
    applied = []
    for record in records:
        if record.value is None:
            continue
        try:
            regulation = Regulation.decode(record.value)
        except ValueError:
            log.warning("unreadable regulation record", extra={"offset": record.offset})
            continue
        book.apply(regulation)
        applied.append(regulation)
    return applied


async def _consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    consumer.assign([TopicPartition(topic, 0)])
    await consumer.seek_to_beginning()
    return consumer


async def _read_to_end(consumer: AIOKafkaConsumer, book: RegulationBook, timeout: float) -> None:
    """Fold records until a fetch comes back empty at or past the reported end offset (which Tansu
    under-reports, never over-reports)."""
    partition = next(iter(consumer.assignment()))
    end = (await consumer.end_offsets([partition]))[partition]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=FETCH_MS)
        if not batch and await consumer.position(partition) >= end:
            return
        for records in batch.values():
            _fold(book, records)


async def read_regulations(bootstrap: str, prefix: str, timeout: float = 30.0) -> RegulationBook:
    """Read the whole regulations topic once (CLI tools, replay)."""
    await ensure_regulation_topics(bootstrap, prefix)
    book = RegulationBook()
    consumer = await _consumer(bootstrap, regulations_topic(prefix))
    try:
        await _read_to_end(consumer, book, timeout)
    finally:
        await consumer.stop()
    return book


async def write_regulation(bootstrap: str, prefix: str, regulation: Regulation,
                           audit: dict[str, Any] | None = None) -> None:
    """Write ``regulation`` (and an audit record) and wait for the broker's acknowledgement."""
    await ensure_regulation_topics(bootstrap, prefix)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        key = regulation.user_id.encode("utf-8", "surrogatepass")
        await producer.send_and_wait(regulations_topic(prefix), regulation.encode(), key=key)
        if audit is not None:
            await producer.send_and_wait(audit_topic(prefix), orjson.dumps(audit), key=key)
    finally:
        await producer.stop()


class RegulationsFollower:
    """Keeps an in-memory :class:`RegulationBook` up to date with the regulations topic."""

    def __init__(self, bootstrap: str, prefix: str,
                 on_regulation: Callable[[Regulation], None] | None = None) -> None:
        self.bootstrap, self.prefix = bootstrap, prefix
        self.book = RegulationBook()
        self.on_regulation = on_regulation
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None

    async def start(self, catch_up_timeout: float = 15.0) -> None:
        """Read the topic to its end, then keep following it in a background task."""
        await ensure_regulation_topics(self.bootstrap, self.prefix)
        self._consumer = await _consumer(self.bootstrap, regulations_topic(self.prefix))
        await _read_to_end(self._consumer, self.book, catch_up_timeout)
        self._task = asyncio.create_task(self._follow(), name="eventyard.privacy.follower")

    async def _follow(self) -> None:
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=FETCH_MS)
            except KafkaError as exc:
                log.warning("regulations follower: broker error %r; retrying", exc)
                await asyncio.sleep(1.0)
                continue
            for records in batch.values():
                for regulation in _fold(self.book, records):
                    if self.on_regulation:
                        self.on_regulation(regulation)

    async def stop(self) -> None:
        """Stop following and close the consumer."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer:
            await self._consumer.stop()

    def is_suppressed(self, user_id: Any) -> bool:
        """Whether new events of ``user_id`` must be dropped."""
        return self.book.is_suppressed(user_id)

    def may_redeliver(self, event: dict[str, Any]) -> bool:
        """Whether replay may deliver ``event`` again (see :meth:`RegulationBook.may_redeliver`)."""
        return self.book.may_redeliver(event)
