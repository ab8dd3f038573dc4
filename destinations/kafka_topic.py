"""The ``kafka_topic`` destination: one Kafka record per event, for consumers outside the pipeline.

Contract with those consumers: the record value is the event as compact JSON (UTF-8); the key is the first
non-empty value among the configured ``key`` paths (UTF-8 string, or JSON for non-strings), or no key;
headers are the configured static values and values read from the event by dotted path (missing paths add
no header).  Internal topics carry envelopes of many events; this one never does.

The cluster is ``bootstrap_servers`` or, when unset, the pipeline's own (the worker's
``--bootstrap-servers``, else ``EVENTYARD_BOOTSTRAP_SERVERS``).
Every send of a batch is awaited before answering; Kafka errors marked retriable (and timeouts) become
``Retry``, the others (for instance a record over the size limit) ``Fail``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, RequestTimedOutError
from pydantic import Field

from eventyard.destinations.base import DELIVERED, Destination, DestinationSettings, Event, Fail, Health, Outcome, Retry

BOOTSTRAP_ENV = "EVENTYARD_BOOTSTRAP_SERVERS"


class HeaderFromPath(DestinationSettings):
    """A header whose value is read from the event at a dotted ``path``."""

    path: str


class KafkaTopicSettings(DestinationSettings):
    """Settings of the ``kafka_topic`` destination."""

    topic: str = Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")
    bootstrap_servers: str | None = Field(None, description=f"default: the env variable {BOOTSTRAP_ENV}")
    key: str | list[str] = Field(
        default_factory=lambda: ["userId", "anonymousId"],
        description="dotted path(s) tried in order, or 'none' for records without key",
    )
    headers: dict[str, str | HeaderFromPath] = Field(default_factory=dict)
    enable_idempotence: bool = False
    acks: Literal[0, 1, "all"] = "all"
    linger_ms: int = Field(10, ge=0)
    max_batch_bytes: int = Field(256 * 1024, ge=1024, description="producer batch size per partition")
    request_timeout_ms: int = Field(30_000, ge=1000)


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
        )
        await self._producer.start()

    def record(self, event: Event) -> tuple[bytes, bytes | None, list[tuple[str, bytes]]]:
        """Return the value, key and headers of the record for ``event``."""
        key = next((k for k in (lookup(event, path) for path in self._key_paths) if k not in (None, "")), None)
        headers = []
        for name, spec in self.settings.headers.items():
            value = spec if isinstance(spec, str) else lookup(event, spec.path)
            if value is not None:
                headers.append((name, _encode(value)))
        return orjson.dumps(event), None if key is None else _encode(key), headers

    async def send_batch(self, events: list[Event]) -> list[Outcome]:
        """Enqueue every event, then await every delivery report; one outcome per event."""
        pending: list[asyncio.Future | Outcome] = []
        for index, event in enumerate(events):
            try:
                value, key, headers = self.record(event)
                pending.append(await self._producer.send(self.settings.topic, value, key, headers=headers))
            except Exception as exc:  # noqa: BLE001 - every per-event error becomes an outcome
                outcome = kafka_outcome(exc)
                pending.append(outcome)
                if isinstance(outcome, Retry):  # cluster-wide trouble: the rest would only wait for it too
                    pending.extend([outcome] * (len(events) - index - 1))
                    break
        reports = await asyncio.gather(
            *(item for item in pending if isinstance(item, asyncio.Future)), return_exceptions=True
        )
        results = iter(reports)
        outcomes: list[Outcome] = []
        for item in pending:
            if not isinstance(item, asyncio.Future):
                outcomes.append(item)
                continue
            report = next(results)
            outcomes.append(kafka_outcome(report) if isinstance(report, BaseException) else DELIVERED)
        return outcomes

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
