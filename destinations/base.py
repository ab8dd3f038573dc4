"""The destination contract: what every sink implements, and the outcomes it reports.

A destination receives batches of normalized Segment events (plain ``dict``s, already filtered and
transformed for it) and answers with **one outcome per event, in the same order**:

* :class:`Delivered` — the event is durably at the destination; the delivery agent may forget it.
* :class:`Retry` — a transient problem (timeout, connection error, 429, most 5xx); the agent retries the
  event with backoff, honouring ``retry_after`` when given, until the destination's retry window ends.
* :class:`Fail` — a permanent problem (the destination rejected the event as invalid, most 4xx); the agent
  writes the event to the destination's dead-letter topic with the reason in headers.

A destination never raises for a per-event problem.  An exception escaping :meth:`Destination.send_batch`
means "retry the whole batch" and is classified by the delivery agent like a connection error.

The delivery agent holds events as :class:`EncodedEvent` — the event's JSON as the pipeline wrote it, plus
the few fields delivery needs without parsing it — and calls :meth:`Destination.send_encoded`.  Its default
decodes each event and calls ``send_batch``; a destination that writes JSON anyway (``file``,
``kafka_topic``) overrides ``send_encoded`` and never parses or re-encodes the event.

Batching, retries, dead letters and offset commits belong to the delivery agent
(``eventyard.streams.delivery``), not to destinations: a destination only writes.  This is the split
Quix Streams makes between ``BaseSink`` and ``BatchingSink``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict

Event = dict[str, Any]


class EncodedEvent:
    """One event on its way to a destination, as its JSON text; the ``dict`` is decoded on first use.

    ``source`` is the source name, ``received_ms`` the event's ``receivedAt`` in UNIX milliseconds (or
    ``None``), ``user_id`` / ``anonymous_id`` the event's values (``None`` when absent).
    """

    __slots__ = ("source", "json", "received_ms", "user_id", "anonymous_id", "_event")

    def __init__(self, source: str, json: bytes, received_ms: int | None = None, user_id: Any = None,
                 anonymous_id: Any = None, event: Event | None = None) -> None:
        self.source = source
        self.json = json
        self.received_ms = received_ms
        self.user_id = user_id
        self.anonymous_id = anonymous_id
        self._event = event

    @classmethod
    def from_event(cls, source: str, event: Event, received_ms: int | None = None) -> "EncodedEvent":
        """Encode ``event`` (already a ``dict``)."""
        return cls(source, orjson.dumps(event), received_ms, event.get("userId"), event.get("anonymousId"),
                   event)

    @property
    def event(self) -> Event:
        """The event as a ``dict`` (raises ``orjson.JSONDecodeError`` for a corrupt record)."""
        if self._event is None:
            self._event = orjson.loads(self.json)
        return self._event

    @property
    def user_key(self) -> str:
        """userId, else anonymousId, else messageId: the per-user ordering key."""
        key = self.user_id or self.anonymous_id
        if not key:
            try:
                event = self.event
            except orjson.JSONDecodeError:
                return ""
            key = (event.get("messageId") if isinstance(event, dict) else None) or ""
        return key if isinstance(key, str) else str(key)


@dataclass(frozen=True, slots=True)
class Delivered:
    """The event reached the destination."""


@dataclass(frozen=True, slots=True)
class Retry:
    """A transient failure: try the event again later."""

    reason: str
    retry_after: float | None = None
    status_code: int | None = None
    error_class: str = "retryable"
    request_sample: str | None = None
    response_sample: str | None = None


@dataclass(frozen=True, slots=True)
class Fail:
    """A permanent failure: the event goes to the dead-letter topic."""

    reason: str
    status_code: int | None = None
    error_class: str = "permanent"
    request_sample: str | None = None
    response_sample: str | None = None


Outcome = Delivered | Retry | Fail
DELIVERED = Delivered()


@dataclass(frozen=True, slots=True)
class Health:
    """The answer of :meth:`Destination.healthcheck`."""

    ok: bool
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class DestinationSettings(BaseModel):
    """Base of every destination's settings model: unknown keys are configuration errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class DestinationContext:
    """What a destination may know about its surroundings (never secrets: those come from the env)."""

    workspace_dir: str
    destination_name: str
    allow_private_targets: tuple[str, ...] = ()
    bootstrap_servers: str | None = None
    """The pipeline's own Kafka cluster (a default for destinations that write to Kafka)."""


class Destination(abc.ABC):
    """One configured destination instance; subclasses live one per file in ``destinations/``."""

    type_name: ClassVar[str]
    Settings: ClassVar[type[DestinationSettings]] = DestinationSettings

    def __init__(self, name: str, settings: DestinationSettings, context: DestinationContext) -> None:
        self.name = name
        self.settings = settings
        self.context = context

    async def setup(self) -> None:
        """Open connections and create what the destination needs; called once before the first batch."""

    @abc.abstractmethod
    async def send_batch(self, events: list[Event]) -> list[Outcome]:
        """Write ``events``; return exactly one outcome per event, in order."""

    async def send_encoded(self, batch: list[EncodedEvent]) -> list[Outcome]:
        """Write events given as JSON; the default decodes them for :meth:`send_batch`.

        An event whose JSON does not decode fails alone (error class ``invalid_event``).
        """
        events: list[Event] = []
        failed: dict[int, Outcome] = {}
        for index, encoded in enumerate(batch):
            try:
                events.append(encoded.event)
            except orjson.JSONDecodeError as exc:
                failed[index] = Fail(f"undecodable event: {exc}", error_class="invalid_event")
        if not failed:
            return await self.send_batch(events)
        outcomes = iter(await self.send_batch(events) if events else ())
        return [failed[i] if i in failed else next(outcomes) for i in range(len(batch))]

    async def healthcheck(self) -> Health:
        """Report whether the destination is reachable; the default assumes it is."""
        return Health(ok=True)

    async def close(self) -> None:
        """Flush and release resources; called once at shutdown."""
