"""What ingest stamps on events: ``receivedAt`` and the ``messageId`` of events sent without one.

* ``receivedAt`` is the time the request was validated, in Segment's format (UTC, millisecond precision,
  ``Z``): ``2024-05-01T12:00:00.123Z``.  :class:`UtcClock` formats the part up to the second once per
  second, so a stamp costs one ``time.time()`` and one short f-string.
* A generated ``messageId`` is ``api-<32 hex digits>-<n>``: the hex digits are 16 random bytes drawn
  once per request and ``n`` is the event's position in the request (0 for a single call).  Ids are
  unique (128 random bits per request, a distinct position per event) and unguessable: the bytes come
  from ``os.urandom``, so nobody can predict the id of an event not yet received and pre-send an event
  under it to have the worker's messageId dedup drop the real one.  :class:`RandomPool` reads them from
  the OS 4 KB at a time (one system call per 256 requests); ``uuid.uuid4()`` per event cost a system
  call and ~3 µs of formatting each.  A forked child empties its copy of the pool, so parent and child
  never hand out the same bytes.
"""

from __future__ import annotations

import os
import time
from typing import Callable

MESSAGE_ID_PREFIX = "api-"
RANDOM_BYTES_PER_ID = 16
RANDOM_POOL_BYTES = 4096


class UtcClock:
    """Now, as Segment timestamps; the date and time up to the second are formatted once per second."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._second = -1
        self._formatted = ""

    def now_iso(self) -> str:
        """The current time, e.g. ``2024-05-01T12:00:00.123Z``."""
        now = self.clock()
        second = int(now)
        if second != self._second:
            self._formatted = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
            self._second = second
        millis = min(round((now - second) * 1_000_000) // 1000, 999)  # as datetime rounds: to the µs
        return f"{self._formatted}{millis:03d}Z"


class RandomPool:
    """Random bytes from ``os.urandom``, read ahead :data:`RANDOM_POOL_BYTES` at a time."""

    def __init__(self) -> None:
        self.empty()

    def empty(self) -> None:
        """Forget the bytes read ahead (the next :meth:`take` reads fresh ones)."""
        self._bytes = b""
        self._offset = 0

    def take(self, count: int) -> bytes:
        """``count`` random bytes never handed out before."""
        if self._offset + count > len(self._bytes):
            self._bytes = os.urandom(max(RANDOM_POOL_BYTES, count))
            self._offset = 0
        start = self._offset
        self._offset += count
        return self._bytes[start:self._offset]


_random = RandomPool()
os.register_at_fork(after_in_child=_random.empty)


def message_id_prefix() -> str:
    """A fresh per-request prefix of generated messageIds: ``api-<32 random hex digits>-``."""
    return f"{MESSAGE_ID_PREFIX}{_random.take(RANDOM_BYTES_PER_ID).hex()}-"
