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

Batching, retries, dead letters and offset commits belong to the delivery agent
(``eventyard.streams.delivery``), not to destinations: a destination only writes.  This is the split
Quix Streams makes between ``BaseSink`` and ``BatchingSink``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

Event = dict[str, Any]


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

    async def healthcheck(self) -> Health:
        """Report whether the destination is reachable; the default assumes it is."""
        return Health(ok=True)

    async def close(self) -> None:
        """Flush and release resources; called once at shutdown."""
