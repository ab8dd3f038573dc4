"""The ``kafka_topic`` destination: one Kafka record per event, for consumers outside the pipeline.

Contract with those consumers: the record value is the event as compact JSON (UTF-8); the key is the first
non-empty value among the configured ``key`` paths (UTF-8 string, or JSON for non-strings), or no key;
headers are the configured static values and values read from the event by dotted path (missing paths add
no header).  Internal topics carry envelopes of many events; this one never does.

The cluster is ``bootstrap_servers`` or, when unset, the pipeline's own (the worker's
``--bootstrap-servers``, else ``EVENTYARD_BOOTSTRAP_SERVERS``).
Events arrive as the pipeline's JSON (:meth:`KafkaTopicDestination.send_encoded`): the value is written as
is, and the event is parsed only when a key path other than the default or a header path needs it.
Every batch is awaited before answering; Kafka errors marked retriable (and timeouts) become ``Retry``,
the others (for instance a record over the size limit) ``Fail``.
"""

from __future__ import annotations

import asyncio
import os
import random
from functools import lru_cache
from typing import Any, Literal

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (KafkaConnectionError, KafkaError, KafkaTimeoutError, MessageSizeTooLargeError,
                             RequestTimedOutError)
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from pydantic import Field

from eventyard.destinations.base import (DELIVERED, Destination, DestinationSettings, EncodedEvent, Event, Fail,
                                         Health, Outcome, Retry)

BOOTSTRAP_ENV = "EVENTYARD_BOOTSTRAP_SERVERS"
DEFAULT_KEY_PATHS = ["userId", "anonymousId"]
PARTITIONER = DefaultPartitioner()
MAX_REQUEST_SIZE = 1024 * 1024


class HeaderFromPath(DestinationSettings):
    """A header whose value is read from the event at a dotted ``path``."""

    path: str


class KafkaTopicSettings(DestinationSettings):
    """Settings of the ``kafka_topic`` destination."""

    topic: str = Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")
    bootstrap_servers: str | None = Field(None, description=f"default: the env variable {BOOTSTRAP_ENV}")
    key: str | list[str] = Field(
        default_factory=lambda: list(DEFAULT_KEY_PATHS),
        description="dotted path(s) tried in order, or 'none' for records without key",
    )
    headers: dict[str, str | HeaderFromPath] = Field(default_factory=dict)
    enable_idempotence: bool = False
    acks: Literal[0, 1, "all"] = "all"
    linger_ms: int = Field(10, ge=0)
    max_batch_bytes: int = Field(256 * 1024, ge=1024, description="producer batch size per partition")
    request_timeout_ms: int = Field(30_000, ge=1000)
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "none", description="record compression; the topic's consumers must support the codec")


def lookup(event: Event, path: str) -> Any:
    """Return the value at dotted ``path`` in ``event`` (``None`` when any step is missing)."""
    value: Any = event
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _encode(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else orjson.dumps(value)


def _partition(key: bytes | None, partitions: tuple[int, ...]) -> int:
    """The Java client's partition for ``key`` (murmur2 of the key; no key: a random partition)."""
    return random.choice(partitions) if key is None else _keyed_partition(key, partitions)


@lru_cache(maxsize=65536)  # keys repeat (one per user); aiokafka's murmur2 is pure Python
def _keyed_partition(key: bytes, partitions: tuple[int, ...]) -> int:
    return PARTITIONER(key, partitions, partitions)


def _check_size(key: bytes | None, value: bytes, headers: list, limit: int) -> None:
    """Raise ``MessageSizeTooLargeError`` for a record over the producer's ``max_request_size``."""
    if len(value) + (len(key) if key else 0) + 1024 < limit:
        return
    size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
    if size > limit:
        raise MessageSizeTooLargeError(f"the record is {size} bytes, over max_request_size {limit}")


def kafka_outcome(exc: BaseException) -> Retry | Fail:
    """Map an exception raised while producing an event to its outcome."""
    reason = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (KafkaTimeoutError, RequestTimedOutError, asyncio.TimeoutError)):
        return Retry(reason, error_class="timeout")
    if isinstance(exc, KafkaConnectionError):
        return Retry(reason, error_class="connection_error")
    if isinstance(exc, KafkaError) and exc.retriable:
        return Retry(reason, error_class="kafka_retriable")
    if isinstance(exc, KafkaError):
        return Fail(reason, error_class="kafka_error")
    return Fail(reason, error_class="invalid_event")


class KafkaTopicDestination(Destination):
    """Produces each event as one record to ``settings.topic``."""

    type_name = "kafka_topic"
    Settings = KafkaTopicSettings
    settings: KafkaTopicSettings

    async def setup(self) -> None:
        """Start the producer on the configured cluster (or the pipeline's own)."""
        servers = (self.settings.bootstrap_servers or self.context.bootstrap_servers
                   or os.environ.get(BOOTSTRAP_ENV))
        if not servers:
            raise ValueError(f"kafka_topic {self.name}: set bootstrap_servers or the env variable {BOOTSTRAP_ENV}")
        keys = self.settings.key
        self._key_paths = [] if keys == "none" else [keys] if isinstance(keys, str) else keys
        self._producer = AIOKafkaProducer(
            bootstrap_servers=servers,
            client_id=f"eventyard-{self.name}",
            enable_idempotence=self.settings.enable_idempotence,
            acks=self.settings.acks,
            linger_ms=self.settings.linger_ms,
            max_batch_size=self.settings.max_batch_bytes,
            request_timeout_ms=self.settings.request_timeout_ms,
            max_request_size=MAX_REQUEST_SIZE,
            compression_type=None if self.settings.compression == "none" else self.settings.compression,
        )
        await self._producer.start()

    def record(self, event: Event) -> tuple[bytes, bytes | None, list[tuple[str, bytes]]]:
        """Return the value, key and headers of the record for ``event``."""
        encoded = EncodedEvent.from_event("", event)
        return (encoded.json, *self._key_and_headers(encoded))

    def _key_and_headers(self, encoded: EncodedEvent) -> tuple[bytes | None, list[tuple[str, bytes]]]:
        """The record key and headers; the event is parsed only for non-default keys or path headers."""
        if self._key_paths == DEFAULT_KEY_PATHS:
            key = next((k for k in (encoded.user_id, encoded.anonymous_id) if k not in (None, "")), None)
        else:
            key = next((k for k in (lookup(encoded.event, path) for path in self._key_paths)
                        if k not in (None, "")), None)
        headers = []
        for name, spec in self.settings.headers.items():
            value = spec if isinstance(spec, str) else lookup(encoded.event, spec.path)
            if value is not None:
                headers.append((name, _encode(value)))
        return None if key is None else _encode(key), headers

    async def send_batch(self, events: list[Event]) -> list[Outcome]:
        """Produce every event; one outcome per event (see :meth:`send_encoded`)."""
        return await self.send_encoded([EncodedEvent.from_event("", event) for event in events])

    async def send_encoded(self, batch: list[EncodedEvent]) -> list[Outcome]:
        """Produce the events' JSON as record batches per partition, then await every batch.

        Records are partitioned like the Java client (murmur2 of the key; no key: any partition) and
        appended to producer batches directly (``create_batch`` / ``send_batch``), which skips
        aiokafka's per-record ``send`` path.  A record over ``max_request_size`` fails alone.
        """
        outcomes: list[Outcome | None] = [None] * len(batch)
        try:
            partitions = tuple(sorted(await self._producer.partitions_for(self.settings.topic)))
        except Exception as exc:  # noqa: BLE001 - the cluster is unreachable: every event waits
            return [kafka_outcome(exc)] * len(batch)
        by_partition: dict[int, list[tuple[int, bytes | None, bytes, list]]] = {}
        for index, encoded in enumerate(batch):
            try:
                key, headers = self._key_and_headers(encoded)
                _check_size(key, encoded.json, headers, MAX_REQUEST_SIZE)
            except Exception as exc:  # noqa: BLE001 - every per-event error becomes an outcome
                outcomes[index] = kafka_outcome(exc)
                continue
            partition = _partition(key, partitions)
            by_partition.setdefault(partition, []).append((index, key, encoded.json, headers))
        sent = await self._send_partitions(by_partition, outcomes)
        reports = await asyncio.gather(*(future for _, future in sent), return_exceptions=True)
        for (indexes, _), report in zip(sent, reports):
            outcome = kafka_outcome(report) if isinstance(report, BaseException) else DELIVERED
            for index in indexes:
                outcomes[index] = outcome
        return outcomes  # type: ignore[return-value] - every slot is filled above

    async def _send_partitions(self, by_partition: dict[int, list], outcomes: list[Outcome | None],
                               ) -> list[tuple[list[int], asyncio.Future]]:
        """Queue record batches per partition; return (event indexes, delivery future) per batch.

        When queueing a batch fails (say the producer's buffer stays full), its events and every later
        one get that error's outcome: the cluster is in trouble, the rest would only wait for it too.
        """
        producer, topic = self._producer, self.settings.topic
        sent: list[tuple[list[int], asyncio.Future]] = []
        failure: Outcome | None = None

        async def queue(builder: Any, partition: int, indexes: list[int]) -> None:
            nonlocal failure
            if failure is None:
                try:
                    sent.append((indexes, await producer.send_batch(builder, topic, partition=partition)))
                    return
                except Exception as exc:  # noqa: BLE001 - becomes the outcome of these events
                    failure = kafka_outcome(exc)
            for index in indexes:
                outcomes[index] = failure

        for partition, records in by_partition.items():
            builder, indexes = producer.create_batch(), []
            for index, key, value, headers in records:
                if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    await queue(builder, partition, indexes)  # full: an empty batch takes any record
                    builder, indexes = producer.create_batch(), []
                    builder.append(key=key, value=value, timestamp=None, headers=headers)
                indexes.append(index)
            await queue(builder, partition, indexes)
        return sent

    async def healthcheck(self) -> Health:
        """Ask the cluster for the topic's partitions."""
        try:
            partitions = await asyncio.wait_for(self._producer.partitions_for(self.settings.topic), 10)
        except (KafkaError, asyncio.TimeoutError) as exc:
            return Health(False, f"{type(exc).__name__}: {exc}")
        return Health(True, f"topic {self.settings.topic} has {len(partitions)} partitions")

    async def close(self) -> None:
        """Flush pending records and stop the producer."""
        await self._producer.stop()
