"""The delivery agent's commit side: envelopes with pending retries stay unacknowledged, bounded.

The Faust agent of a destination calls :meth:`InFlightEnvelopes.handle` for each record of
``<prefix>.dest.<name>``.  It decodes the envelope and gives its events to the destination's
:class:`~eventyard.streams.delivery.Deliverer`, which makes the first attempt and returns a ticket:

* ticket done (the common case) — every event was delivered or dead-lettered; the agent returns and Faust
  acks the record when the agent takes the next one;
* ticket pending (some events wait in the retry queue) — the handler takes one more reference on the
  record's message (``Message.incref``) and releases it when the ticket completes.  Faust marks an offset
  committable only when its references reach zero and commits only up to the first gap, so neither this
  envelope nor any later one of its partition is committed while an event of it is unresolved;
* at most ``delivery.max_pending_envelopes`` envelopes per partition may be pending; at the bound the
  handler awaits the oldest, which pauses that partition only (Faust stops fetching a partition whose
  buffer is full).

On a rebalance the revoked partitions' pending envelopes are abandoned (their references are never
released, so their offsets stay uncommitted for the new owner).  Faust's ``stream_wait_empty`` must be
off for this: with it on, a rebalance would wait for every pending retry, up to the retry window.
``setup_with_retry`` keeps trying a destination's ``setup`` (an unreachable cluster or database) instead
of letting the agent crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from typing import Any

import faust

from eventyard.destinations.base import Destination
from eventyard.streams.deadletter import Origin
from eventyard.streams.delivery import Deliverer
from eventyard.streams.envelope import decode_dest_events

log = logging.getLogger("eventyard.delivery")


class InFlightEnvelopes:
    """Hands envelopes to a deliverer and holds back the acks of those with pending retries."""

    def __init__(self, app: faust.App, deliverer: Deliverer) -> None:
        self.app = app
        self.deliverer = deliverer
        self.bound = deliverer.config.max_pending_envelopes
        self.pending: dict[tuple[str, int], deque[asyncio.Future[None]]] = defaultdict(deque)

    async def handle(self, event: faust.EventT) -> None:
        """Deliver one envelope; return once its partition may take the next one."""
        message = event.message
        origin = Origin(message.topic, message.partition, message.offset)
        ticket = await self.deliverer.submit(decode_dest_events(event.value), origin)
        if ticket.done():
            return
        message.incref()
        consumer = self.app.consumer
        ticket.add_done_callback(lambda done: done.cancelled() or message.ack(consumer))
        queue = self.pending[(origin.topic, origin.partition)]
        queue.append(ticket)
        while queue and queue[0].done():
            queue.popleft()
        if len(queue) >= self.bound:
            log.info("delivery waits: %d envelopes with pending retries on partition %d",
                     len(queue), origin.partition,
                     extra={"destination": self.deliverer.destination.name, "partition": origin.partition})
            await asyncio.wait([queue[0]])

    def revoked(self, partitions: set[Any]) -> None:
        """Abandon the pending envelopes of revoked partitions (Faust ``TP`` tuples)."""
        lost = {(tp.topic, tp.partition) for tp in partitions}
        dropped = self.deliverer.abandon(lost)
        for key in lost:
            self.pending.pop(key, None)
        if dropped:
            log.info("abandoned %d pending events of revoked partitions", dropped,
                     extra={"destination": self.deliverer.destination.name})


async def setup_with_retry(destination: Destination, pause: float = 1.0, cap: float = 30.0) -> None:
    """Run ``destination.setup()`` until it succeeds, backing off between failures."""
    while True:
        try:
            await destination.setup()
            return
        except Exception as exc:  # noqa: BLE001 - an unreachable destination must not crash the agent
            log.warning("destination setup failed: %r; trying again in %.0f s", exc, pause,
                        extra={"destination": destination.name})
            await asyncio.sleep(pause)
            pause = min(pause * 2, cap)
