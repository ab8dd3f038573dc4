"""The worker's polls (``eventyard.streams.consumer``): destination records first, the raw topic capped,
and a bounded wait when nothing is buffered.

``_ConsumerThread._fetch_records`` is what Faust's consumer thread calls for each poll.  It is run here on
a real aiokafka consumer of the session broker, with the Faust consumer it serves reduced to the two
things it reads (``flow_active`` and ``app.intake_topics``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from eventyard.streams.consumer import INTAKE_POLL_RECORDS, _ConsumerThread


def poller(intake: str) -> SimpleNamespace:
    """The parts of a Faust consumer thread that ``_fetch_records`` uses."""
    return SimpleNamespace(consumer=SimpleNamespace(flow_active=True,
                                                    app=SimpleNamespace(intake_topics=frozenset({intake}))))


async def fill(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, b"x%d" % n, partition=0) for n in range(count)])
    finally:
        await producer.stop()


async def test_a_poll_serves_destination_records_first_and_caps_the_raw_topic(bootstrap):
    raw, dest = f"polls-{uuid.uuid4().hex[:8]}.raw", f"polls-{uuid.uuid4().hex[:8]}.dest.archive"
    await fill(bootstrap, raw, 200)
    await fill(bootstrap, dest, 10)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = {TopicPartition(raw, 0), TopicPartition(dest, 0)}
        consumer.assign(list(partitions))
        fetch = _ConsumerThread._fetch_records
        deadline = time.monotonic() + 20
        while len(consumer._fetcher._records) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # both partitions fetched and buffered
        first = await fetch(poller(raw), consumer, partitions, timeout=1.0)
        assert len(first[TopicPartition(dest, 0)]) == 10
        assert len(first[TopicPartition(raw, 0)]) == INTAKE_POLL_RECORDS

        taken = INTAKE_POLL_RECORDS
        while taken < 200:
            taken += sum(len(r) for r in (await fetch(poller(raw), consumer, partitions, timeout=1.0)).values())
        started = time.monotonic()
        assert await fetch(poller(raw), consumer, partitions, timeout=1.0) == {}
        waited = time.monotonic() - started
    finally:
        await consumer.stop()
    assert taken == 200
    assert waited < 0.5, f"an empty poll waited {waited:.2f} s of the 1 s Faust asked for"
