"""Compressed topics on a real broker: ingest's raw envelopes and the worker's dest envelopes are written
with the workspace's ``topics.compression``, and the ``kafka_topic`` destination's ``compression`` setting
reaches the wire.

The codec of every record batch a consumer fetches is read where aiokafka parses the batches, so each test
sees what the broker stored, not what a producer was configured with.
"""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.consumer import fetcher as fetcher_module

from eventyard.destinations.base import Delivered, DestinationContext, EncodedEvent
from eventyard.destinations.kafka_topic import KafkaTopicDestination, KafkaTopicSettings
from eventyard.ingest.publisher import EnvelopePublisher
from eventyard.streams.envelope import decode_dest_events, decode_envelope
from eventyard.streams.output import OutputProducer
from eventyard.streams.topics import TopicNames
from support import read_topic

pytestmark = pytest.mark.asyncio(loop_scope="session")

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


@pytest.fixture
def codecs_seen(monkeypatch) -> list[str]:
    """The codec of each record batch consumers parse during the test."""
    seen: list[str] = []
    parse = fetcher_module.MemoryRecords

    class RecordingRecords:
        def __init__(self, data):
            self._records = parse(data)

        def next_batch(self):
            batch = self._records.next_batch()
            if batch is not None:
                seen.append(CODECS[batch.compression_type])
            return batch

        def __getattr__(self, name):
            return getattr(self._records, name)

    monkeypatch.setattr(fetcher_module, "MemoryRecords", RecordingRecords)
    return seen


async def _create(bootstrap: str, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1) for name in names])
    finally:
        await admin.close()


def _events(count: int) -> list[dict]:
    return [{"type": "track", "event": "Compressed", "messageId": f"m-{n}", "userId": f"u-{n % 7}",
             "properties": {"n": n, "text": "the same words again " * 10}} for n in range(count)]


async def test_ingest_writes_raw_envelopes_with_the_workspace_codec(bootstrap, codecs_seen):
    topics = TopicNames(f"c{uuid.uuid4().hex[:6]}")
    await _create(bootstrap, topics.raw)
    publisher = EnvelopePublisher(bootstrap, topics, compression_type="zstd")
    await publisher.start()
    try:
        events = _events(50)
        await publisher.publish("web", events, [orjson.dumps(e) for e in events])
    finally:
        await publisher.stop()
    records = await read_topic(bootstrap, topics.raw, 2)
    received = [item["event"]["messageId"] for r in records for item in decode_envelope(r.value).items]
    assert sorted(received) == sorted(e["messageId"] for e in events)
    assert codecs_seen and set(codecs_seen) == {"zstd"}


async def test_the_worker_writes_dest_envelopes_with_the_workspace_codec(bootstrap, codecs_seen):
    topics = TopicNames(f"c{uuid.uuid4().hex[:6]}")
    await _create(bootstrap, topics.dest("hook"))
    output = OutputProducer(bootstrap, topics, compression_type="lz4", route_linger_seconds=0.001)
    await output.ensure_started()
    try:
        routes = {"hook": [{"source": "web", "event": e} for e in _events(40)]}
        await asyncio.gather(*await output.enqueue_routed(routes))
    finally:
        await output.producer.stop()
    records = await read_topic(bootstrap, topics.dest("hook"), 2)
    received = [e.event["messageId"] for r in records for e in decode_dest_events(r.value)]
    assert sorted(received) == sorted(f"m-{n}" for n in range(40))
    assert codecs_seen and set(codecs_seen) == {"lz4"}


@pytest.mark.parametrize("codec", ["gzip", "none"])
async def test_kafka_topic_destination_compresses_as_configured(bootstrap, codecs_seen, codec):
    topic = f"out-{uuid.uuid4().hex[:8]}"
    await _create(bootstrap, topic)
    settings = KafkaTopicSettings(topic=topic, bootstrap_servers=bootstrap, compression=codec)
    dest = KafkaTopicDestination("out", settings, DestinationContext("/tmp", "out"))
    await dest.setup()
    try:
        encoded = [EncodedEvent.from_event("web", e) for e in _events(30)]
        outcomes = await dest.send_encoded(encoded)
    finally:
        await dest.close()
    assert all(isinstance(o, Delivered) for o in outcomes)
    records = await read_topic(bootstrap, topic, 30)
    assert sorted(orjson.loads(r.value)["messageId"] for r in records) == sorted(f"m-{n}" for n in range(30))
    assert codecs_seen and set(codecs_seen) == {codec}
