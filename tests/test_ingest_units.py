"""The pieces of ingest's hot path, without a broker: stamps, validation output, the write-key cache,
deadlines, and the envelopes the publisher builds from pre-encoded events.

The publisher runs against a fake producer that records what it is asked to send, so the envelope bytes
can be compared with :func:`~eventyard.streams.envelope.encode_envelope` of the same events.
"""

from __future__ import annotations

import asyncio
import base64
import re
from datetime import datetime, timezone
from types import SimpleNamespace

import orjson
import pytest

from eventyard.config.loader import load_workspace
from eventyard.ingest import auth
from eventyard.ingest.auth import AuthError, WriteKeys
from eventyard.ingest.deadlines import Deadlines
from eventyard.ingest.publisher import EnvelopePublisher, PublishUnavailable
from eventyard.ingest.stamps import RandomPool, UtcClock, message_id_prefix
from eventyard.ingest.validate import split_request
from eventyard.streams.envelope import encode_envelope, partition_for, user_key
from eventyard.streams.topics import TopicNames

GENERATED_ID = re.compile(r"^api-[0-9a-f]{32}-\d+$")


@pytest.mark.parametrize("now", [1714564800.0, 1714564800.123, 1714564800.9994, 1714564859.5])
def test_utc_clock_formats_like_datetime(now):
    moment = datetime.fromtimestamp(now, timezone.utc)
    expected = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    assert UtcClock(lambda: now).now_iso() == expected


def test_random_pool_never_hands_out_the_same_bytes_twice():
    pool = RandomPool()
    taken = [pool.take(16) for _ in range(1000)]  # crosses several read-aheads
    assert len(set(taken)) == 1000 and all(len(chunk) == 16 for chunk in taken)
    pool.empty()
    assert pool.take(16) not in taken


def test_generated_message_ids_are_per_request_random_and_per_event_distinct():
    batch = {"batch": [{"type": "track", "userId": "u", "event": "E"}] * 3
             + [{"type": "track", "userId": "u", "event": "E", "messageId": "own"}]}
    first = split_request("batch", batch, 32768, 2500, "2024-01-01T00:00:00.000Z")
    second = split_request("batch", batch, 32768, 2500, "2024-01-01T00:00:00.000Z")
    ids = [e["messageId"] for e in first.accepted]
    assert ids[3] == "own" and all(GENERATED_ID.match(i) for i in ids[:3])
    assert [i.rsplit("-", 1)[1] for i in ids[:3]] == ["0", "1", "2"]
    assert len({i.rsplit("-", 1)[0] for i in ids[:3]}) == 1
    assert not set(ids[:3]) & {e["messageId"] for e in second.accepted}
    assert message_id_prefix() != message_id_prefix()


def test_split_keeps_each_accepted_events_bytes_and_measures_the_stamped_event():
    event = {"userId": "u", "event": "E", "properties": {"pad": ""}}
    stamped = split_request("track", event, 32768, 1, "2024-01-01T00:00:00.000Z").encoded[0]
    limit = len(stamped)
    at_limit = split_request("track", event, limit, 1, "2024-01-01T00:00:00.000Z")
    assert at_limit.encoded == [orjson.dumps(at_limit.accepted[0])] and not at_limit.rejected
    over = split_request("track", event, limit - 1, 1, "2024-01-01T00:00:00.000Z")
    assert not over.accepted and [r.reason for r in over.rejected] == ["event_too_large"]
    assert over.rejected[0].item == event  # the item as received, not the stamped event


def basic(key: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{key}:{password}".encode()).decode()


def write_keys(workspace_factory) -> WriteKeys:
    directory = workspace_factory(sources=[{"name": "web", "write_key": "web-key"},
                                           {"name": "old", "write_key": "old-key", "enabled": False}])
    return WriteKeys(load_workspace(directory).model)


def test_write_key_cache_remembers_only_headers_that_succeeded(workspace_factory, monkeypatch):
    keys = write_keys(workspace_factory)
    assert keys.source_for_request(basic("web-key"), None).name == "web"
    monkeypatch.setattr(auth, "key_from_authorization", lambda header: pytest.fail("not remembered"))
    assert keys.source_for_request(basic("web-key"), None).name == "web"
    monkeypatch.undo()
    for header, status in ((basic("nope"), 401), (basic("old-key"), 404)):
        for _ in range(2):
            with pytest.raises(AuthError) as refused:
                keys.source_for_request(header, None)
            assert refused.value.status == status
    assert keys.source_for_request(basic(""), {"writeKey": "web-key"}).name == "web"


def test_write_key_cache_is_bounded(workspace_factory, monkeypatch):
    monkeypatch.setattr(auth, "REMEMBERED_HEADERS", 3)
    keys = write_keys(workspace_factory)
    for password in range(10):  # the password is ignored, so each header is another valid one
        assert keys.source_for_request(basic("web-key", str(password)), None).name == "web"
        assert len(keys._by_header) <= 3


async def test_deadline_raises_timeout_error_and_leaves_the_task_uncancelled():
    deadlines = Deadlines(0.2, resolution=0.05)
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError):
        await deadlines.run(asyncio.sleep(5))
    elapsed = asyncio.get_running_loop().time() - started
    assert 0.2 <= elapsed <= 0.2 + 2 * 0.05 + 0.1
    assert asyncio.current_task().cancelling() == 0
    assert await deadlines.run(asyncio.sleep(0.01, result="done")) == "done"
    await asyncio.sleep(0.2)
    assert deadlines._timer is None  # no timer while nothing is pending


async def test_deadline_lets_other_cancellations_through():
    deadlines = Deadlines(5, resolution=0.05)
    task = asyncio.ensure_future(deadlines.run(asyncio.sleep(5)))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class RecordingProducer:
    """Stands in for AIOKafkaProducer: records sends; acknowledges them unless ``acknowledge`` is off."""

    def __init__(self, partitions: int, acknowledge: bool = True) -> None:
        cluster = SimpleNamespace(partitions_for_topic=lambda topic: set(range(partitions)))
        self.client = SimpleNamespace(cluster=cluster)
        self.acknowledge = acknowledge
        self.sent: list[tuple[str, int, bytes]] = []

    async def send(self, topic: str, value: bytes, partition: int | None = None, key=None):
        self.sent.append((topic, partition, value))
        future = asyncio.get_running_loop().create_future()
        if self.acknowledge:
            future.set_result(None)
        return future


async def test_envelopes_from_pre_encoded_events_are_what_encode_envelope_makes():
    publisher = EnvelopePublisher("unused:9092", TopicNames("t"))
    publisher.producer = RecordingProducer(4)
    events = [{"type": "track", "userId": f"u{n}", "event": "E", "properties": {"n": n, "s": "é\n"}}
              for n in range(20)]
    await publisher.publish("web", events, [orjson.dumps(e) for e in events])
    expected = {}
    for event in events:
        expected.setdefault(partition_for(user_key(event), 4), []).append({"source": "web", "event": event})
    assert {p: value for _, p, value in publisher.producer.sent} == {
        p: encode_envelope("raw", items) for p, items in expected.items()}


async def test_publish_without_acknowledgement_is_unavailable_after_the_ack_timeout():
    publisher = EnvelopePublisher("unused:9092", TopicNames("t"), ack_timeout=0.3)
    publisher.producer = RecordingProducer(4, acknowledge=False)
    event = {"type": "track", "userId": "u", "event": "E"}
    started = asyncio.get_running_loop().time()
    with pytest.raises(PublishUnavailable):
        await publisher.publish("web", [event], [orjson.dumps(event)])
    assert 0.3 <= asyncio.get_running_loop().time() - started <= 0.3 + 0.2 + 0.2
