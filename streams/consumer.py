"""The worker's Kafka transport: Faust's aiokafka driver with a short fetch wait.

Faust's aiokafka driver creates its consumer with ``fetch_max_wait_ms=1500`` (hard-coded in
``faust/transport/drivers/aiokafka.py``).  On Apache Kafka that costs nothing: a fetch long-polls and
the broker answers as soon as a record arrives.  The embedded broker (Tansu) does not answer a waiting
fetch when a record arrives, so each consumer hop added up to the whole wait — measured on it: p50
372 ms and max 751 ms per hop with 1,500 ms, 13 ms and 24 ms with 50 ms — and an event crosses two
(raw → pipeline, ``dest.<name>`` → delivery).  :data:`FETCH_MAX_WAIT_MS` bounds the wait instead; on
Kafka it only makes an idle consumer ask more often (20 fetches/s).

:class:`EventyardTransport` is what :meth:`EventyardApp._new_transport` returns; nothing else of the
driver changes.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as driver

FETCH_MAX_WAIT_MS = 50


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    """Faust's consumer thread, creating its aiokafka consumer with :data:`FETCH_MAX_WAIT_MS`."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class EventyardTransport(driver.Transport):
    """Faust's aiokafka transport with the consumer above."""

    Consumer = _Consumer
