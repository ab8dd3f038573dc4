"""Delivery: resolving every event of a destination envelope before its offset may be committed.

``Deliverer.resolve(items, origin)`` returns only when each event is *resolved*: delivered, or written
to the destination's dead-letter topic.  The delivery agent awaits it before taking the next envelope,
and Faust commits an offset only after the agent has moved past it — so a crash at any point leaves the
envelope uncommitted and it is delivered again (at-least-once; duplicates are absorbed by destinations
that are idempotent by messageId, such as the warehouse).

Per attempt, events are sent in chunks of ``batch_size``; each outcome is handled on its own:

* ``Delivered`` — counted, and its ``receivedAt`` → now latency observed;
* ``Fail`` — dead-lettered at once;
* ``Retry`` — kept for the next attempt.  The wait is exponential backoff with full jitter
  (``random(0, min(cap, base·2^attempt))``), or the largest ``Retry-After`` the destination passed
  when that is longer.  When the next attempt would fall past the retry window (counted from the first
  attempt), the remaining events are dead-lettered with class ``retry_window_exceeded``.

An exception from ``send_batch`` means "retry the whole chunk" (error class ``exception``); an outcome list
of the wrong length is a destination bug and is treated the same way.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime
from typing import Any, Awaitable, Callable

from eventyard.config.workspace import DeliveryConfig
from eventyard.destinations.base import Delivered, Destination, Fail, Outcome, Retry
from eventyard.streams import metrics
from eventyard.streams.deadletter import DeadLetter, Origin

Item = dict[str, Any]
DeadLetterSink = Callable[[Item, DeadLetter], Awaitable[None]]


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff for the ``attempt``-th retry (1-based)."""
    return random.uniform(0, min(cap, base * (2 ** min(attempt - 1, 62))))


def received_epoch(event: dict[str, Any]) -> float | None:
    """The event's ``receivedAt`` as a UNIX time, or None when absent or unreadable."""
    value = event.get("receivedAt")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


class Deliverer:
    """Resolves the events of one destination."""

    def __init__(self, destination: Destination, config: DeliveryConfig,
                 dead_letter: DeadLetterSink, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
                 ) -> None:
        self.destination = destination
        self.config = config
        self.dead_letter = dead_letter
        self.sleep = sleep
        name = destination.name
        self._delivered = metrics.DELIVERY_EVENTS.labels(name, "delivered")
        self._retried = metrics.DELIVERY_EVENTS.labels(name, "retried")
        self._dead = metrics.DELIVERY_EVENTS.labels(name, "dead_lettered")
        self._latency = metrics.DELIVERY_LATENCY.labels(name)
        self._pending = metrics.RETRY_PENDING.labels(name)

    async def resolve(self, items: list[Item], origin: Origin | None = None) -> None:
        """Deliver or dead-letter every item; return when all are resolved."""
        retry = self.config.retry
        first = time.time()
        pending = list(items)
        attempt = 0
        while pending:
            attempt += 1
            retries: list[tuple[Item, Retry]] = []
            for start in range(0, len(pending), self.config.batch_size):
                chunk = pending[start:start + self.config.batch_size]
                for item, outcome in zip(chunk, await self._send(chunk)):
                    if isinstance(outcome, Delivered):
                        self._record_delivered(item)
                    elif isinstance(outcome, Retry):
                        retries.append((item, outcome))
                    else:
                        await self._dead_letter(item, outcome, attempt, first, origin)
            if not retries:
                return
            delay = max([backoff_delay(attempt, retry.base_seconds, retry.cap_seconds)]
                        + [r.retry_after for _, r in retries if r.retry_after])
            if time.time() + delay - first > retry.window_seconds:
                for item, outcome in retries:
                    await self._dead_letter(item, outcome, attempt, first, origin,
                                            error_class="retry_window_exceeded")
                return
            self._count_errors([r for _, r in retries])
            self._retried.inc(len(retries))
            self._pending.inc(len(retries))
            try:
                await self.sleep(delay)
            finally:
                self._pending.dec(len(retries))
            pending = [item for item, _ in retries]

    async def _send(self, chunk: list[Item]) -> list[Outcome]:
        events = [item["event"] for item in chunk]
        try:
            outcomes = await self.destination.send_batch(events)
        except Exception as exc:  # a destination exception means "retry the whole chunk"
            return [Retry(f"{type(exc).__name__}: {exc}", error_class="exception")] * len(chunk)
        if len(outcomes) != len(chunk):
            reason = f"destination returned {len(outcomes)} outcomes for {len(chunk)} events"
            return [Retry(reason, error_class="contract_violation")] * len(chunk)
        return outcomes

    def _record_delivered(self, item: Item) -> None:
        self._delivered.inc()
        received = received_epoch(item["event"])
        if received is not None:
            self._latency.observe(max(0.0, time.time() - received))

    def _count_errors(self, outcomes: list[Retry | Fail]) -> None:
        for outcome in outcomes:
            metrics.DELIVERY_ERRORS.labels(self.destination.name, outcome.error_class,
                                           str(outcome.status_code or "")).inc()

    async def _dead_letter(self, item: Item, outcome: Retry | Fail, attempts: int, first: float,
                           origin: Origin | None, error_class: str | None = None) -> None:
        self._count_errors([outcome])
        letter = DeadLetter(
            source=item.get("source") or "", destination=self.destination.name,
            error_class=error_class or outcome.error_class, message=outcome.reason,
            attempts=attempts, first_attempt=first, last_attempt=time.time(), origin=origin,
            status_code=outcome.status_code, request_sample=outcome.request_sample,
            response_sample=outcome.response_sample)
        await self.dead_letter(item, letter)
        self._dead.inc()
