"""The kafka_topic destination against the session's real (Tansu) broker (``bootstrap`` in conftest)."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    TopicAuthorizationFailedError,
)

from eventyard.destinations.base import DELIVERED, DestinationContext, Fail, Retry
from eventyard.destinations.kafka_topic import (
    BOOTSTRAP_ENV,
    KafkaTopicDestination,
    KafkaTopicSettings,
    kafka_outcome,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _create_topic(bootstrap: str) -> str:
    topic = f"out-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    return topic


async def _consume(bootstrap: str, topic: str, count: int) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"g-{uuid.uuid4().hex[:6]}")
    await consumer.start()
    records = []
    try:
        deadline = time.monotonic() + 20
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_one_record_per_event_with_key_and_headers(bootstrap: str, monkeypatch) -> None:
    topic = await _create_topic(bootstrap)
    monkeypatch.setenv(BOOTSTRAP_ENV, bootstrap)  # default cluster: the pipeline's own
    settings = KafkaTopicSettings(
        topic=topic,
        headers={"origin": "eventyard", "event-type": {"path": "type"}, "lib": {"path": "context.library.name"}},
    )
    dest = KafkaTopicDestination("out", settings, DestinationContext("/tmp", "out"))
    await dest.setup()
    events = [
        {"type": "track", "messageId": "m1", "userId": "u1", "event": "A", "context": {"library": {"name": "js"}}},
        {"type": "identify", "messageId": "m2", "anonymousId": "anon-2", "userId": ""},
        {"type": "page", "messageId": "m3", "userId": "u1"},
    ]
    try:
        assert await dest.send_batch(events) == [DELIVERED] * 3
        assert (await dest.healthcheck()).ok
    finally:
        await dest.close()
    records = {orjson.loads(r.value)["messageId"]: r for r in await _consume(bootstrap, topic, 3)}
    assert sorted(records) == ["m1", "m2", "m3"]
    assert orjson.loads(records["m1"].value) == events[0]
    assert [records[m].key for m in ("m1", "m2", "m3")] == [b"u1", b"anon-2", b"u1"]
    assert dict(records["m1"].headers) == {"origin": b"eventyard", "event-type": b"track", "lib": b"js"}
    assert dict(records["m2"].headers) == {"origin": b"eventyard", "event-type": b"identify"}


async def test_key_none_and_dotted_path(bootstrap: str) -> None:
    topic = await _create_topic(bootstrap)
    for key, expected in (("none", None), ("properties.order.id", b"o-7"), ("messageId", b"m9")):
        dest = KafkaTopicDestination(
            "out", KafkaTopicSettings(topic=topic, bootstrap_servers=bootstrap, key=key),
            DestinationContext("/tmp", "out"),
        )
        await dest.setup()
        try:
            value, record_key, headers = dest.record({"messageId": "m9", "properties": {"order": {"id": "o-7"}}})
        finally:
            await dest.close()
        assert record_key == expected and headers == [] and orjson.loads(value)["messageId"] == "m9"


async def test_oversized_record_fails_alone(bootstrap: str) -> None:
    topic = await _create_topic(bootstrap)
    dest = KafkaTopicDestination("out", KafkaTopicSettings(topic=topic, bootstrap_servers=bootstrap),
                                 DestinationContext("/tmp", "out"))
    await dest.setup()
    try:
        big = {"messageId": "big", "userId": "u", "properties": {"blob": "x" * 2_000_000}}
        outcomes = await dest.send_batch([{"messageId": "a", "userId": "u"}, big, {"messageId": "b", "userId": "u"}])
    finally:
        await dest.close()
    assert outcomes[0] == DELIVERED and outcomes[2] == DELIVERED
    assert isinstance(outcomes[1], Fail) and "MessageSizeTooLarge" in outcomes[1].reason


async def test_missing_bootstrap_is_a_setup_error(monkeypatch) -> None:
    monkeypatch.delenv(BOOTSTRAP_ENV, raising=False)
    dest = KafkaTopicDestination("out", KafkaTopicSettings(topic="t"), DestinationContext("/tmp", "out"))
    with pytest.raises(ValueError, match=BOOTSTRAP_ENV):
        await dest.setup()


async def test_error_mapping() -> None:
    assert isinstance(kafka_outcome(KafkaConnectionError()), Retry)
    assert isinstance(kafka_outcome(NotLeaderForPartitionError()), Retry)
    assert isinstance(kafka_outcome(MessageSizeTooLargeError()), Fail)
    assert isinstance(kafka_outcome(TopicAuthorizationFailedError()), Fail)
    assert kafka_outcome(TypeError("not JSON")).error_class == "invalid_event"


async def test_encoded_events_fill_several_batches_in_order_on_the_java_partition(bootstrap: str) -> None:
    from aiokafka.partitioner import DefaultPartitioner

    from eventyard.destinations.base import EncodedEvent

    topic = await _create_topic(bootstrap)
    dest = KafkaTopicDestination("out", KafkaTopicSettings(topic=topic, bootstrap_servers=bootstrap,
                                                           max_batch_bytes=64 * 1024),
                                 DestinationContext("/tmp", "out"))
    await dest.setup()
    events = [{"messageId": f"m{i}", "userId": f"u{i % 5}", "n": i, "pad": "x" * 900} for i in range(1500)]
    try:
        outcomes = await dest.send_encoded([EncodedEvent.from_event("web", e) for e in events])
    finally:
        await dest.close()
    assert outcomes == [DELIVERED] * 1500, "1.4 MB in 64 KB batches: several batches per partition"
    records = await _consume(bootstrap, topic, 1500)
    assert len(records) == 1500
    for user in range(5):
        mine = [r for r in records if r.key == f"u{user}".encode()]
        assert [orjson.loads(r.value)["n"] for r in mine] == list(range(user, 1500, 5)), "per-key order"
        assert {r.partition for r in mine} == {DefaultPartitioner()(f"u{user}".encode(), [0, 1, 2], [0, 1, 2])}
