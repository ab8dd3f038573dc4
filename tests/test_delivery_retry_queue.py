"""The retry queue: a retry never blocks other users; a user's newer events wait behind its retry.

Uses the scripted destination and fake clock of ``test_delivery_resolver``; the delivery agent's
commit side (a ticket per envelope) is checked through the futures ``Deliverer.submit`` returns.
"""

from __future__ import annotations

import asyncio

from eventyard.destinations.base import DELIVERED, Retry
from eventyard.streams import metrics
from eventyard.streams.deadletter import Origin
from test_delivery_resolver import Scripted, make


def event_items(*pairs):
    return [{"source": "web", "event": {"messageId": m, "userId": u}} for u, m in pairs]


async def test_other_users_pass_while_one_user_waits_behind_its_retry():
    dest = Scripted({"a1": [Retry("503", status_code=503), Retry("503", status_code=503), DELIVERED]})
    deliverer, letters, sleeps = make(dest, ordering="per_user")
    first = await deliverer.submit(event_items(("u", "a1")), Origin("t", 0, 1))
    assert not first.done() and deliverer.pending == 1
    second = await deliverer.submit(event_items(("u", "a2"), ("v", "b1")), Origin("t", 0, 2))
    assert dest.calls == [["a1"], ["b1"]], "v's event goes out at once, u's a2 waits behind a1"
    assert not second.done() and deliverer.pending == 2
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert dest.calls[2:] == [["a1"], ["a1"], ["a2"]], "the retried head probes alone, a2 follows it"
    assert not letters and deliverer.pending == 0 and len(sleeps) == 2


async def test_ordering_none_sends_a_users_new_events_at_once():
    dest = Scripted({"a1": [Retry("503", status_code=503), DELIVERED]})
    deliverer, _, _ = make(dest, ordering="none")
    first = await deliverer.submit(event_items(("u", "a1")))
    second = await deliverer.submit(event_items(("u", "a2")))
    assert second.done() and not first.done()
    await asyncio.wait_for(first, 5)
    assert dest.calls == [["a1"], ["a2"], ["a1"]]


async def test_retry_pending_gauge_follows_the_queue():
    dest = Scripted({"a": [Retry("503"), DELIVERED]})
    deliverer, _, _ = make(dest, ordering="per_user")
    deliverer.destination.name = "gauge-check"
    deliverer._pending_gauge = metrics.RETRY_PENDING.labels("gauge-check")
    ticket = await deliverer.submit(event_items(("u", "a"), ("u", "b")))
    assert metrics.RETRY_PENDING.labels("gauge-check")._value.get() == 1
    await asyncio.wait_for(ticket, 5)
    assert metrics.RETRY_PENDING.labels("gauge-check")._value.get() == 0


async def test_abandon_cancels_the_tickets_of_revoked_partitions():
    dest = Scripted({"a": [Retry("503")]})
    deliverer, letters, _ = make(dest, ordering="per_user")
    deliverer.config.retry.base_seconds = 100.0
    kept = await deliverer.submit(event_items(("u", "a")), Origin("t", 1, 5))
    dropped = await deliverer.submit(event_items(("w", "a")), Origin("t", 2, 7))
    assert deliverer.abandon({("t", 2)}) == 1
    assert dropped.cancelled() and not kept.done() and deliverer.pending == 1
    await deliverer.close()


async def test_failed_dead_letter_write_is_tried_again():
    dest = Scripted({"x": [Retry("down", status_code=500)]})
    deliverer, letters, _ = make(dest, window=0.5, fail_writes=2)
    deliverer.config.retry.base_seconds = 10.0
    await asyncio.wait_for(deliverer.resolve(event_items(("u", "x"))), 5)
    [(mid, letter)] = letters
    assert mid == "x" and letter.error_class == "retry_window_exceeded"
    assert dest.calls == [["x"]], "the destination is not tried again, only the dead-letter write"
