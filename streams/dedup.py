"""messageId deduplication: an in-memory window per raw partition, durable on ``<prefix>.dedup``.

Design (see docs/architecture.md, "Deduplication"): ``<prefix>.dedup`` has the raw topic's partition
count, and the record about raw partition *p* is written to dedup partition *p*.  One record per raw
envelope, ``{"offset": <raw offset>, "t": <ms>, "ids": [messageId, ...]}``, lists the envelope's new
messageIds.  The pipeline agent queues it before the envelope's outputs and releases the raw record only
when all of them are acknowledged.  A crash before then replays the envelope, with its dedup record.

A messageId is a duplicate when the window holds it from a *different* raw offset: replaying the same
envelope after a crash (same offset) forwards its events again — at-least-once — instead of dropping them.

:class:`DedupWindow` is the pure in-memory part (ids → raw offset, expiring after the window);
:class:`DedupLog` (``dedup_log.py``) keeps the windows in step with the topic.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterable


class DedupWindow:
    """The messageIds one raw partition saw during the window, with the raw offset of each."""

    def __init__(self, window_seconds: float) -> None:
        self.window_ms = int(window_seconds * 1000)
        self.ids: dict[str, int] = {}
        self._records: deque[tuple[int, int, list[str]]] = deque()
        self.next_offset = 0
        """The dedup-topic offset up to which this window has read the log."""

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, ids: Iterable[str], raw_offset: int, ts_ms: int) -> None:
        """Remember ``ids`` as seen in the raw envelope at ``raw_offset`` at time ``ts_ms``."""
        ids = list(ids)
        for mid in ids:
            self.ids[mid] = raw_offset
        self._records.append((ts_ms, raw_offset, ids))

    def expire(self, now_ms: int) -> None:
        """Forget ids recorded before the window."""
        cutoff = now_ms - self.window_ms
        records, known = self._records, self.ids
        while records and records[0][0] < cutoff:
            _, offset, ids = records.popleft()
            for mid in ids:
                if known.get(mid) == offset:
                    del known[mid]

    def checker(self, raw_offset: int) -> Callable[[str], bool]:
        """``is_duplicate(messageId)`` for the envelope at ``raw_offset``."""
        known = self.ids

        def is_duplicate(mid: str) -> bool:
            seen = known.get(mid)
            return seen is not None and seen != raw_offset

        return is_duplicate
