"""Dead letters: events a destination could not take, written with the reason in headers.

One record per event on ``<prefix>.dlq.<destination>``, keyed by user key, the value being the event
(orjson), with headers in the style of Kafka Connect's ``__connect.errors.*``:

==================================  ==========================================================
header                              value
==================================  ==========================================================
``eventyard.error.class``           ``permanent``, ``retry_window_exceeded``, ``http_4xx``, ...
``eventyard.error.status``          HTTP or destination status code, if any
``eventyard.error.message``         the reason (truncated to 1 KB)
``eventyard.error.attempts``        delivery attempts made
``eventyard.error.first_attempt``   ISO-8601 time of the first attempt
``eventyard.error.last_attempt``    ISO-8601 time of the last attempt
``eventyard.error.origin.topic``    topic/partition/offset of the envelope the event came from
``eventyard.error.request``         truncated sample of the request sent, if the destination gave one
``eventyard.error.response``        truncated sample of the response, if any
``eventyard.source``                source name; ``eventyard.destination``: destination name
==================================  ==========================================================

``DeadLetter.headers()`` builds that list; the delivery agent sends it through its producer.  Events the
pipeline skips because their destination is disabled are dead-lettered too, with class
``destination_disabled`` and zero attempts (:func:`disabled_letter`), so ``eventyard dlq replay`` can
deliver them once the destination is enabled again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

SAMPLE_BYTES = 1024
HEADER_PREFIX = "eventyard.error."


def iso(ts: float) -> str:
    """A UNIX time as ISO-8601 UTC with milliseconds."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _clip(text: str | None) -> bytes:
    data = (text or "").encode("utf-8", "replace")
    return data[:SAMPLE_BYTES]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an envelope was read from."""

    topic: str
    partition: int
    offset: int


@dataclass(slots=True)
class DeadLetter:
    """Why one event was dead-lettered."""

    source: str
    destination: str
    error_class: str
    message: str
    attempts: int
    first_attempt: float
    last_attempt: float
    origin: Origin | None = None
    status_code: int | None = None
    request_sample: str | None = None
    response_sample: str | None = None

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers describing the failure."""
        h = [(HEADER_PREFIX + "class", self.error_class.encode()),
             (HEADER_PREFIX + "message", _clip(self.message)),
             (HEADER_PREFIX + "attempts", str(self.attempts).encode()),
             (HEADER_PREFIX + "first_attempt", iso(self.first_attempt).encode()),
             (HEADER_PREFIX + "last_attempt", iso(self.last_attempt).encode()),
             ("eventyard.source", self.source.encode()),
             ("eventyard.destination", self.destination.encode())]
        if self.status_code is not None:
            h.append((HEADER_PREFIX + "status", str(self.status_code).encode()))
        if self.origin is not None:
            h += [(HEADER_PREFIX + "origin.topic", self.origin.topic.encode()),
                  (HEADER_PREFIX + "origin.partition", str(self.origin.partition).encode()),
                  (HEADER_PREFIX + "origin.offset", str(self.origin.offset).encode())]
        if self.request_sample:
            h.append((HEADER_PREFIX + "request", _clip(self.request_sample)))
        if self.response_sample:
            h.append((HEADER_PREFIX + "response", _clip(self.response_sample)))
        return h


def disabled_letter(source: str, destination: str, origin: Origin | None = None) -> DeadLetter:
    """The dead letter of an event skipped because ``destination`` is disabled."""
    now = time.time()
    return DeadLetter(source=source, destination=destination, error_class="destination_disabled",
                      message=f"destination {destination} is disabled", attempts=0,
                      first_attempt=now, last_attempt=now, origin=origin)


def decode_headers(headers: Any) -> dict[str, str]:
    """Kafka headers (a list of (name, bytes)) as a ``dict`` of strings, for tools and tests."""
    return {name: (value or b"").decode("utf-8", "replace") for name, value in headers or ()}
