"""The delivery retry queue: events waiting for another attempt, in lanes, each due at its own time.

A *lane* is a list of :class:`Pending` events in arrival order (``seq``) under one key — a user key with
``delivery.ordering: per_user``, the event's own sequence number with ``ordering: none``.  While a lane
exists, the deliverer holds that key's new events in it (the barrier that keeps a user's events in
order).  A lane is *due* at one time; :meth:`RetryLanes.take_due` waits for the earliest and returns the
events to attempt: a lane whose head was already tried sends its head alone (a probe), a lane of events
that were only held behind a finished retry sends them all.  After the attempt :meth:`RetryLanes.settle`
drops resolved events and makes a lane left with held events only due at once.

The due times live in a heap of ``(when, n, key)`` with the current one per key in ``_due_at``; stale
heap entries (a lane rescheduled or emptied) are skipped when they surface.  ``on_due`` is called when
a lane gets a due time, so the owner can start the task that awaits :meth:`take_due`.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import random
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Hashable

from eventyard.destinations.base import EncodedEvent
from eventyard.streams.deadletter import DeadLetter, Origin


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff for the ``attempt``-th retry (1-based)."""
    return random.uniform(0, min(cap, base * (2 ** min(attempt - 1, 62))))


@dataclass(eq=False, slots=True)
class Pending:
    """One event on its way: attempts made, when, and the dead letter still to write, if any.

    ``lane`` is looked up only when needed (a retry, or while some lane waits), since reading the user
    key of an event that only travels as JSON may mean decoding it.  ``ticket`` is the envelope's
    resolution (:class:`eventyard.streams.delivery.Ticket`).
    """

    event: EncodedEvent
    origin: Origin | None
    ticket: Any
    seq: int
    lane: Hashable = None
    attempts: int = 0
    first: float | None = None
    letter: DeadLetter | None = None
    queued: bool = False
    done: bool = False


class RetryLanes:
    """Per-key lanes of events waiting for a retry, and when each lane is due."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]],
                 on_due: Callable[[], None]) -> None:
        self.clock = clock
        self.sleep = sleep
        self.on_due = on_due
        self.lanes: dict[Hashable, list[Pending]] = {}
        self._due: list[tuple[float, int, Hashable]] = []
        self._due_at: dict[Hashable, float] = {}
        self._order = itertools.count()
        self._wakeup = asyncio.Event()

    def __bool__(self) -> bool:
        return bool(self.lanes)

    def __contains__(self, key: Hashable) -> bool:
        return key in self.lanes

    @property
    def pending(self) -> int:
        """Events in every lane (retries and the events held behind them)."""
        return sum(len(lane) for lane in self.lanes.values())

    def hold(self, entry: Pending, delay: float | None) -> None:
        """Put ``entry`` in its lane (``entry.lane`` set) in arrival order; with a ``delay``, the lane
        is due no sooner than that."""
        if not entry.queued:
            entry.queued = True
            bisect.insort(self.lanes.setdefault(entry.lane, []), entry, key=lambda e: e.seq)
        if delay is not None:
            self.set_due(entry.lane, max(self._due_at.get(entry.lane, 0.0), self.clock() + delay))

    def set_due(self, key: Hashable, when: float) -> None:
        """Make lane ``key`` due at ``when``."""
        self._due_at[key] = when
        heapq.heappush(self._due, (when, next(self._order), key))
        self._wakeup.set()
        self.on_due()

    async def take_due(self) -> list[Pending] | None:
        """Wait for the earliest due lane; return the events to attempt in arrival order (possibly
        none, when every lane that came due was emptied meanwhile), or ``None`` when nothing is due."""
        while self._due:
            when, _, key = self._due[0]
            if self._due_at.get(key) != when:
                heapq.heappop(self._due)  # stale: the lane was rescheduled or emptied
                continue
            wait = when - self.clock()
            if wait > 0:
                await self._nap(wait)
                continue
            due: list[Pending] = []
            while self._due and self._due[0][0] <= self.clock():
                when, _, key = heapq.heappop(self._due)
                if key in self.lanes and self._due_at.get(key) == when:
                    del self._due_at[key]
                    lane = self.lanes[key]
                    due += lane[:1] if lane[0].attempts else lane  # a retried head probes alone
            return sorted(due, key=lambda e: e.seq)
        return None

    def retry_later(self, entries: list[Pending], seconds: float) -> None:
        """Make the lanes of the unresolved ``entries`` due again in ``seconds``."""
        for entry in entries:
            if not entry.done:
                self.set_due(entry.lane, self.clock() + seconds)

    def settle(self, attempted: list[Pending]) -> None:
        """After an attempt: drop resolved events; a lane left with held events only is due now."""
        for key in {e.lane for e in attempted}:
            self._replace(key, [e for e in self.lanes.get(key, ()) if not e.done])
            if key in self.lanes and key not in self._due_at:
                self.set_due(key, self.clock())

    def drop(self, revoked: Callable[[Pending], bool]) -> list[Pending]:
        """Remove and return the events for which ``revoked(entry)`` holds (their partition is gone)."""
        dropped = []
        for key in list(self.lanes):
            gone = [e for e in self.lanes[key] if revoked(e)]
            if gone:
                dropped += gone
                self._replace(key, [e for e in self.lanes[key] if not revoked(e)])
        return dropped

    def _replace(self, key: Hashable, kept: list[Pending]) -> None:
        if kept:
            self.lanes[key] = kept
        else:
            self.lanes.pop(key, None)
            self._due_at.pop(key, None)

    async def _nap(self, seconds: float) -> None:
        """Sleep ``seconds`` or until a lane gets a due time, whichever comes first."""
        self._wakeup.clear()
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        waker = asyncio.ensure_future(self._wakeup.wait())
        await asyncio.wait([sleeper, waker], return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeper, waker):
            task.cancel()
