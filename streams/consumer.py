"""The worker's Kafka transport: Faust's aiokafka driver with a short fetch wait and deliveries first.

Faust's aiokafka driver creates its consumer with ``fetch_max_wait_ms=1500`` (hard-coded in
``faust/transport/drivers/aiokafka.py``).  On Apache Kafka that costs nothing: a fetch long-polls and
the broker answers as soon as a record arrives.  The embedded broker (Tansu) does not answer a waiting
fetch when a record arrives, so each consumer hop added up to the whole wait — measured on it: p50
372 ms and max 751 ms per hop with 1,500 ms, 13 ms and 24 ms with 50 ms — and an event crosses two
(raw → pipeline, ``dest.<name>`` → delivery).  :data:`FETCH_MAX_WAIT_MS` bounds the wait instead; on
Kafka it only makes an idle consumer ask more often (20 fetches/s).

One consumer feeds every agent of a worker, and Faust hands each poll's records to the agents one by
one, waiting whenever an agent's buffer is full.  aiokafka returns buffered records partition by
partition, so a poll over a backlogged raw topic returned a whole fetch of it (megabytes of compressed
envelopes, seconds of pipeline work) before the worker's delivery agents got the records it had just
routed.  Each poll now returns the destination topics' buffered records first, then at most
:data:`INTAKE_POLL_RECORDS` records of the *intake* topics (``EventyardApp.intake_topics``: the raw
topic), so a worker delivers while it routes (``tests/test_delivery_backlog.py``).

A poll with nothing buffered waits for records of the partitions that were *active* when it started
(Faust drops a partition from that set while its agent's buffer is full).  Faust asks it to wait up to
1 s, and a partition whose buffer drained meanwhile was not polled until that second was over: an agent
went idle for a second with records waiting (``tests/test_delivery_isolation.py`` caught it as an
archive that stalled for ~1 s while a failing webhook's agent had a full buffer).  The wait is
:data:`POLL_WAIT_SECONDS` instead, so a drained partition is polled again within 50 ms.

:class:`EventyardTransport` is what :meth:`EventyardApp._new_transport` returns; nothing else of the
driver changes.
"""

from __future__ import annotations

from typing import Any

from aiokafka.errors import ConsumerStoppedError
from faust.transport.drivers import aiokafka as driver
from faust.types import TP

FETCH_MAX_WAIT_MS = 50
INTAKE_POLL_RECORDS = 32
POLL_WAIT_SECONDS = 0.05


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    """Faust's consumer thread, creating its aiokafka consumer with :data:`FETCH_MAX_WAIT_MS`."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
        return consumer

    async def _fetch_records(self, consumer: Any, active_partitions: set[TP] | None, timeout: float | None = None,
                             max_records: int | None = None) -> dict[TP, list]:
        """Buffered records of the destination topics first (all of them), then at most
        :data:`INTAKE_POLL_RECORDS` of the intake topics; when neither has any, wait for records up to
        :data:`POLL_WAIT_SECONDS` (not Faust's ``timeout`` of 1 s: see the module's docstring)."""
        if not self.consumer.flow_active:
            return {}
        if active_partitions is None:  # a client-only app: no agents to order
            return await super()._fetch_records(consumer, active_partitions, timeout, max_records)
        fetcher = consumer._fetcher
        if consumer._closed or fetcher._closed:
            raise ConsumerStoppedError()
        intake_topics = self.consumer.app.intake_topics
        intake = {tp for tp in active_partitions if tp.topic in intake_topics}
        deliveries = set(active_partitions) - intake
        with fetcher._subscriptions.fetch_context():
            # fetched_records treats an empty partition set as "every partition": never pass one
            records = await fetcher.fetched_records(deliveries, timeout=0) if deliveries else {}
            if intake:
                records.update(await fetcher.fetched_records(intake, timeout=0, max_records=INTAKE_POLL_RECORDS))
            if records or not active_partitions:
                return records
            wait = POLL_WAIT_SECONDS if timeout is None else min(timeout, POLL_WAIT_SECONDS)
            return await fetcher.fetched_records(active_partitions, timeout=wait, max_records=INTAKE_POLL_RECORDS)


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class EventyardTransport(driver.Transport):
    """Faust's aiokafka transport with the consumer above."""

    Consumer = _Consumer
