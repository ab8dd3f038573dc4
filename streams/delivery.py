"""Delivery: resolving every event of a destination envelope, retrying without blocking other users.

``Deliverer.submit(items, origin)`` queues an envelope's events for their first attempt — batched with
the events of the envelopes that follow it, up to ``batch_size`` events or ``linger_ms`` — and returns a
*ticket* (an ``asyncio.Future``) that completes once each event is *resolved*: delivered, or written to
the destination's dead-letter topic.  Events that must be retried wait in an in-memory retry queue, so
the delivery agent moves on to the next envelope while they wait.

Retries wait in *lanes* (``eventyard.streams.retry_lanes``): with ``delivery.ordering: per_user`` (the
default) a user with an event waiting for a retry has newer events held behind it, so they arrive in
order, while other users' events go straight out; with ``ordering: none`` nothing waits.  Backoff is
exponential with full jitter (``random(0, min(cap, base·2^(attempt-1)))``), or the destination's
``Retry-After`` when longer; an event whose next attempt would fall past the retry window (counted from
its first attempt) is dead-lettered with class ``retry_window_exceeded``.

At-least-once, modelled on Faust's ack reference counting (``faust/transport/consumer.py``):

* Faust counts references to each message and marks its offset committable when the count reaches
  zero; its commit task advances a partition's committed offset only across a run of consecutive
  committable offsets, stopping at the first gap.
* The delivery agent takes one extra reference on an envelope whose ticket is not done when ``submit``
  returns, and releases it from the ticket's done-callback.  An envelope with an unresolved event is
  therefore a gap: no offset at or after it is committed until it resolves, even though later envelopes
  of the partition may resolve first.  A crash loses only uncommitted work, which is read again.
* Memory is bounded: at most ``delivery.max_pending_envelopes`` unresolved envelopes per partition;
  past that the agent awaits the oldest one, and only that partition waits.
* On a rebalance the revoked partitions' waiting events are abandoned (:meth:`Deliverer.abandon`):
  their references are never released, so their offsets stay uncommitted and the partition's new owner
  delivers them again.

An exception from ``send_batch`` means "retry the whole chunk" (error class ``exception``); an outcome
list of the wrong length is a destination bug and is treated the same way.  A dead-letter write that
fails leaves the event in its lane; the write is tried again a second later.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any, Awaitable, Callable, Hashable

from eventyard.config.workspace import DeliveryConfig
from eventyard.destinations.base import Delivered, Destination, EncodedEvent, Fail, Outcome, Retry
from eventyard.streams import metrics
from eventyard.streams.deadletter import DeadLetter, Origin
from eventyard.streams.envelope import encoded_event
from eventyard.streams.retry_lanes import Pending, RetryLanes, backoff_delay

Item = dict[str, Any]
DeadLetterSink = Callable[[Item, DeadLetter], Awaitable[None]]
DEAD_LETTER_RETRY_SECONDS = 1.0
log = logging.getLogger("eventyard.delivery")


class Ticket:
    """The resolution of one envelope: ``future`` completes when its last event is resolved."""

    def __init__(self, count: int) -> None:
        self.remaining = count
        self.future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not count:
            self.future.set_result(None)

    def resolve_one(self) -> None:
        """One more event of the envelope is resolved."""
        self.remaining -= 1
        if self.remaining <= 0 and not self.future.done():
            self.future.set_result(None)


class Deliverer:
    """Resolves the events of one destination, with a retry queue of per-user lanes."""

    def __init__(self, destination: Destination, config: DeliveryConfig, dead_letter: DeadLetterSink,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.destination = destination
        self.config = config
        self.dead_letter = dead_letter
        self.sleep = sleep
        self.clock = clock
        self.retries = RetryLanes(clock, sleep, self._start_retry_loop)
        self._seq = itertools.count()
        self._loop_task: asyncio.Task[None] | None = None
        self._fresh: list[Pending] = []
        self._flush_lock = asyncio.Lock()
        self._linger_task: asyncio.Task[None] | None = None
        name = destination.name
        self._delivered = metrics.DELIVERY_EVENTS.labels(name, "delivered")
        self._retried = metrics.DELIVERY_EVENTS.labels(name, "retried")
        self._dead = metrics.DELIVERY_EVENTS.labels(name, "dead_lettered")
        self._latency = metrics.DELIVERY_LATENCY.labels(name)
        self._pending_gauge = metrics.RETRY_PENDING.labels(name)

    @property
    def pending(self) -> int:
        """Events waiting in the retry queue (retries and the events held behind them)."""
        return self.retries.pending

    async def submit(self, items: list[EncodedEvent | Item], origin: Origin | None = None) -> asyncio.Future[None]:
        """Queue ``items`` for their first attempt; return the future that completes when all of them
        are resolved.  Items are :class:`EncodedEvent` (as a delivery agent reads them) or
        ``{"source", "event"}`` dicts.

        New events of several envelopes share one batch: they are sent when ``batch_size`` events are
        waiting or ``linger_ms`` after the first of them arrived, whichever comes first (with
        ``linger_ms: 0`` each envelope is sent at once).  Batches go out in arrival order.
        """
        ticket = Ticket(len(items))
        seq, fresh = self._seq, self._fresh
        for item in items:
            event = item if isinstance(item, EncodedEvent) else encoded_event(item)
            fresh.append(Pending(event, origin, ticket, next(seq)))
        if not self.config.linger_ms:
            await self.flush()
        elif len(self._fresh) >= self.config.batch_size:
            await self.flush(full_batches_only=True)
        if self._fresh and self._linger_task is None:
            self._linger_task = asyncio.get_running_loop().create_task(self._flush_after_linger())
        return ticket.future

    async def flush(self, full_batches_only: bool = False) -> None:
        """Make the first attempt at the queued new events now (only whole batches, if asked)."""
        async with self._flush_lock:
            while self._fresh and (len(self._fresh) >= self.config.batch_size or not full_batches_only):
                batch = self._fresh[:self.config.batch_size]
                del self._fresh[:self.config.batch_size]
                await self._attempt(batch)
            self._pending_gauge.set(self.pending)

    async def _flush_after_linger(self) -> None:
        try:
            await asyncio.sleep(self.config.linger_ms / 1000)
            await self.flush()
        finally:
            self._linger_task = None

    async def resolve(self, items: list[EncodedEvent | Item], origin: Origin | None = None) -> None:
        """Submit ``items`` and wait until every one is resolved."""
        await (await self.submit(items, origin))

    def abandon(self, partitions: set[tuple[str, int]]) -> int:
        """Drop the waiting events of envelopes from ``partitions`` (revoked); return how many."""
        revoked = [e for e in self._fresh
                   if e.origin is not None and (e.origin.topic, e.origin.partition) in partitions]
        for entry in revoked:
            entry.done = True
            entry.ticket.future.cancel()
        self._fresh = [e for e in self._fresh if not e.done]
        held = self.retries.drop(lambda e: e.origin is not None
                                 and (e.origin.topic, e.origin.partition) in partitions)
        for entry in held:
            entry.done = True
            entry.ticket.future.cancel()
        dropped = len(revoked) + len(held)
        self._pending_gauge.set(self.pending)
        return dropped

    async def close(self) -> None:
        """Stop the linger and retry tasks; events not yet resolved stay uncommitted.

        A graceful stop does not get here with work in hand: the app first waits (bounded) until the
        in-flight envelopes are resolved and commits them (``EventyardApp._consumer_wait_empty``).
        """
        for task in (self._linger_task, self._loop_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _attempt(self, entries: list[Pending]) -> None:
        """Send ``entries`` once and file each under its outcome.

        A new event whose lane is waiting (its user has a pending retry) is held in the lane, not sent.
        """
        for start in range(0, len(entries), self.config.batch_size):
            chunk = []
            retries = self.retries
            for entry in entries[start:start + self.config.batch_size]:
                if not entry.queued and retries and self._lane(entry) in retries:
                    self._hold(entry, None)
                elif entry.letter is None:
                    chunk.append(entry)
            now = self.clock()
            for entry in chunk:
                entry.attempts += 1
                entry.first = entry.first if entry.first is not None else now
            outcomes = await self._send(chunk) if chunk else []
            delivered = []
            for entry, outcome in zip(chunk, outcomes):
                if isinstance(outcome, Delivered):
                    delivered.append(entry)
                elif isinstance(outcome, Retry):
                    self._schedule_retry(entry, outcome)
                else:
                    entry.letter = self._letter(entry, outcome)
            self._record_delivered(delivered)
        for entry in entries:
            if entry.letter is not None and not entry.done and not await self._write_dead_letter(entry):
                self._hold(entry, DEAD_LETTER_RETRY_SECONDS)

    def _schedule_retry(self, entry: Pending, outcome: Retry) -> None:
        retry = self.config.retry
        delay = max(backoff_delay(entry.attempts, retry.base_seconds, retry.cap_seconds),
                    outcome.retry_after or 0.0)
        if self.clock() + delay - (entry.first or 0.0) > retry.window_seconds:
            entry.letter = self._letter(entry, outcome, "retry_window_exceeded")
            return
        self._count_error(outcome)
        self._retried.inc()
        self._hold(entry, delay)

    def _lane(self, entry: Pending) -> Hashable:
        """The retry lane of ``entry``: its user key (``ordering: per_user``) or its own."""
        if entry.lane is None:
            entry.lane = entry.event.user_key if self.config.ordering == "per_user" else entry.seq
        return entry.lane

    def _hold(self, entry: Pending, delay: float | None) -> None:
        """Put ``entry`` in its retry lane; with a ``delay``, the lane waits that long."""
        self._lane(entry)
        self.retries.hold(entry, delay)

    def _start_retry_loop(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.get_running_loop().create_task(self._retry_loop())

    async def _retry_loop(self) -> None:
        """Attempt the events of due lanes until no lane is scheduled."""
        while (due := await self.retries.take_due()) is not None:
            try:
                await self._attempt(due)
            except Exception:  # noqa: BLE001 - the loop must survive; entries stay in their lanes
                log.exception("retry attempt failed", extra={"destination": self.destination.name})
                self.retries.retry_later(due, DEAD_LETTER_RETRY_SECONDS)
            self.retries.settle(due)
            self._pending_gauge.set(self.pending)

    async def _send(self, chunk: list[Pending]) -> list[Outcome]:
        try:
            outcomes = await self.destination.send_encoded([entry.event for entry in chunk])
        except Exception as exc:  # a destination exception means "retry the whole chunk"
            return [Retry(f"{type(exc).__name__}: {exc}", error_class="exception")] * len(chunk)
        if len(outcomes) != len(chunk):
            reason = f"destination returned {len(outcomes)} outcomes for {len(chunk)} events"
            return [Retry(reason, error_class="contract_violation")] * len(chunk)
        return outcomes

    def _finish(self, entry: Pending) -> None:
        entry.done = True
        entry.ticket.resolve_one()

    def _record_delivered(self, entries: list[Pending]) -> None:
        if not entries:
            return
        now_ms = time.time() * 1000
        latencies = []
        for entry in entries:
            self._finish(entry)
            if entry.event.received_ms is not None:
                latencies.append(max(0.0, (now_ms - entry.event.received_ms) / 1000))
        self._delivered.inc(len(entries))
        metrics.observe_many(self._latency, latencies)

    def _count_error(self, outcome: Retry | Fail) -> None:
        metrics.DELIVERY_ERRORS.labels(self.destination.name, outcome.error_class,
                                       str(outcome.status_code or "")).inc()

    def _letter(self, entry: Pending, outcome: Retry | Fail, error_class: str | None = None) -> DeadLetter:
        self._count_error(outcome)
        return DeadLetter(
            source=entry.event.source, destination=self.destination.name,
            error_class=error_class or outcome.error_class, message=outcome.reason,
            attempts=entry.attempts, first_attempt=entry.first or self.clock(),
            last_attempt=self.clock(), origin=entry.origin, status_code=outcome.status_code,
            request_sample=outcome.request_sample, response_sample=outcome.response_sample)

    @staticmethod
    def _dead_letter_item(event: EncodedEvent) -> Item:
        """The ``{"source", "event"}`` item a dead-letter sink takes (an undecodable event as a string)."""
        try:
            return {"source": event.source, "event": event.event}
        except ValueError:
            return {"source": event.source, "event": {"undecodable": event.json.decode("utf-8", "replace")}}

    async def _write_dead_letter(self, entry: Pending) -> bool:
        try:
            await self.dead_letter(self._dead_letter_item(entry.event), entry.letter)
        except Exception as exc:  # noqa: BLE001 - kept in its lane and written again later
            log.warning("dead-letter write failed: %r", exc,
                        extra={"destination": self.destination.name})
            return False
        self._finish(entry)
        self._dead.inc()
        return True
