"""The ledger oracle: proves, after a run, that nothing answered 200 was lost.

A :class:`Ledger` hands out events with unique ``messageId``\\ s (``<run>-<n>``, ``n`` increasing in send
order) and records the HTTP status ingest answered for each one and which destinations the event should
reach.  After the run the scenario reads every destination, dead-letter, blocked and rejects topic into an
:class:`Observed` and :func:`check` returns a :class:`Report` of the invariants:

* **I1** every event answered 200 is, for every destination it should reach, delivered there or
  dead-lettered for it — or rejected / blocked by the pipeline (resolved for every destination);
* **I2** nothing arrives (anywhere) that the ledger never sent;
* **I3** duplicates (copies beyond the first at one destination) are counted, and bounded by the caller:
  zero without a fault, about one commit interval of events after a crash;
* **I4** per user, for destinations listed as ordered, first deliveries come in send order (a replay after
  a crash may repeat a suffix — ``1 2 3 2 3 4`` — but never reorders first copies: ``1 3 2``);
* **I5** the time from "fault cleared" until I1 held is measured by :func:`wait_resolved` and bounded by the
  scenario.

Events answered non-200 are *maybe*-sent: delivering them is fine (an SDK would retry them), losing them
is fine too.  The oracle is pure — readers live in ``observe.py`` — and is unit-tested in
``test_oracle.py`` on synthetic ledgers.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sent:
    """One event of the ledger."""

    seq: int
    user: str
    targets: frozenset[str]
    status: int | None = None


class Ledger:
    """Every event a scenario sent, with ingest's answer."""

    def __init__(self, destinations: Iterable[str], run: str | None = None) -> None:
        self.destinations = frozenset(destinations)
        self.run = run or uuid.uuid4().hex[:8]
        self.events: dict[str, Sent] = {}
        self._counter = itertools.count()

    def event(self, user: str, targets: Iterable[str] | None = None, **fields: Any) -> dict[str, Any]:
        """A new track event for ``user`` with a unique messageId; ``targets`` default: every destination."""
        seq = next(self._counter)
        message_id = f"{self.run}-{seq}"
        self.events[message_id] = Sent(seq, user, frozenset(self.destinations if targets is None else targets))
        return {"type": "track", "userId": user, "event": "Reliability Probe", "messageId": message_id,
                "properties": {"seq": seq}, **fields}

    def answered(self, events: Iterable[dict[str, Any]], status: int) -> None:
        """Record ingest's answer for ``events``; a later 200 (an SDK retry) wins over an earlier error."""
        for event in events:
            sent = self.events[event["messageId"]]
            if sent.status != 200:
                sent.status = status

    @property
    def acked(self) -> list[str]:
        """messageIds answered 200."""
        return [mid for mid, sent in self.events.items() if sent.status == 200]


@dataclass
class Observed:
    """What the run left behind: messageIds per destination (in arrival order) and per side topic."""

    delivered: dict[str, list[str]] = field(default_factory=dict)
    dead: dict[str, list[str]] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


@dataclass
class Report:
    """The verdict of :func:`check`; ``problems`` is empty when I1, I2 and I4 hold."""

    sent: int
    acked: int
    delivered: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    lost: list[tuple[str, str]] = field(default_factory=list)
    aliens: list[str] = field(default_factory=list)
    reordered: list[tuple[str, str]] = field(default_factory=list)
    recovery_seconds: float | None = None

    @property
    def problems(self) -> list[str]:
        """Human-readable violations, at most a few examples each."""
        out = []
        if self.lost:
            out.append(f"I1: {len(self.lost)} acknowledged (destination, messageId) lost, e.g. {self.lost[:5]}")
        if self.aliens:
            out.append(f"I2: {len(self.aliens)} records never sent, e.g. {self.aliens[:5]}")
        if self.reordered:
            out.append(f"I4: {len(self.reordered)} out-of-order first deliveries, e.g. {self.reordered[:5]}")
        return out

    def assert_ok(self, max_duplicates: int = 0) -> None:
        """Fail with every violation, including I3 when duplicates exceed ``max_duplicates``."""
        problems = self.problems
        if self.duplicates > max_duplicates:
            problems.append(f"I3: {self.duplicates} duplicates, more than the {max_duplicates} allowed")
        assert not problems, "\n".join(problems)


def _reorders(ledger: Ledger, dest: str, ids: list[str]) -> list[tuple[str, str]]:
    """First copies at ``dest`` whose sequence number is lower than an earlier first copy of the same user."""
    seen: set[str] = set()
    last: dict[str, tuple[int, str]] = {}
    out = []
    for mid in ids:
        sent = ledger.events.get(mid)
        if sent is None or mid in seen:
            continue
        seen.add(mid)
        previous = last.get(sent.user)
        if previous is not None and sent.seq < previous[0]:
            out.append((dest, f"{mid} after {previous[1]}"))
        else:
            last[sent.user] = (sent.seq, mid)
    return out


def check(ledger: Ledger, observed: Observed, ordered: Iterable[str] = ()) -> Report:
    """Check I1–I4 of ``observed`` against ``ledger``; see the module docstring."""
    report = Report(sent=len(ledger.events), acked=len(ledger.acked))
    resolved_everywhere = set(observed.rejected) | set(observed.blocked)
    everything = [*itertools.chain(*observed.delivered.values(), *observed.dead.values()),
                  *observed.rejected, *observed.blocked]
    report.aliens = sorted({mid for mid in everything if mid not in ledger.events})
    for dest in sorted(ledger.destinations):
        copies = Counter(observed.delivered.get(dest, []))
        dead = set(observed.dead.get(dest, []))
        report.delivered += len(copies)
        report.dead_lettered += len(dead - set(copies))
        report.duplicates += sum(copies.values()) - len(copies)
        for mid in ledger.acked:
            if dest in ledger.events[mid].targets and mid not in copies and mid not in dead \
                    and mid not in resolved_everywhere:
                report.lost.append((dest, mid))
        if dest in set(ordered):
            report.reordered += _reorders(ledger, dest, observed.delivered.get(dest, []))
    return report


async def wait_resolved(ledger: Ledger, observe: Callable[[], Awaitable[Observed]], timeout: float,
                        ordered: Iterable[str] = (), since: float | None = None) -> Report:
    """Poll ``observe()`` until I1 holds or ``timeout`` passes; the report's ``recovery_seconds`` is the time
    from ``since`` (default: now) until I1 held, or None when it never did."""
    start = time.monotonic() if since is None else since
    deadline = time.monotonic() + timeout
    while True:
        report = check(ledger, await observe(), ordered)
        if not report.lost:
            report.recovery_seconds = round(time.monotonic() - start, 2)
            return report
        if time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.25)
