"""The output producer's gathering of routed events into dest envelopes (no broker: a recording producer).

What is checked: items of consecutive calls share one envelope per destination partition; envelopes of
one partition reach the producer in the order they were taken even when a send has to wait for room;
every call's futures complete with the envelope's acknowledgement, or fail with its error.
"""

from __future__ import annotations

import asyncio

from eventyard.streams.envelope import decode_dest_events
from eventyard.streams.output import ROUTE_BATCH_EVENTS, OutputProducer
from eventyard.streams.topics import TopicNames


class RecordingProducer:
    """Records (topic, partition, event messageIds); only the first send waits until ``release`` is set,
    so the guarantee checked does not rest on how a producer orders its own waiters."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[tuple[str, int, list[str]]] = []
        self.release = asyncio.Event()
        self.fail = fail
        self.calls = 0

    async def partitions_for(self, topic):
        return {0}

    async def send(self, topic, value, partition):
        self.calls += 1
        if self.calls == 1:
            await self.release.wait()  # say a full producer batch: the first send waits for room
        if self.fail is not None:
            raise self.fail
        self.sent.append((topic, partition, [e.event["messageId"] for e in decode_dest_events(value)]))
        ack = asyncio.get_running_loop().create_future()
        ack.set_result(f"ack-{len(self.sent)}")
        return ack


def routes(*ids):
    return {"hook": [{"source": "web", "event": {"messageId": i, "userId": "u"}} for i in ids]}


def producer_with(fake) -> OutputProducer:
    output = OutputProducer("127.0.0.1:1", TopicNames("t"), route_linger_seconds=0.005)
    output.producer = fake
    return output


async def test_consecutive_calls_share_an_envelope_and_every_call_learns_its_ack():
    fake = RecordingProducer()
    fake.release.set()
    output = producer_with(fake)
    first = await output.enqueue_routed(routes("a", "b"))
    second = await output.enqueue_routed(routes("c"))
    assert await asyncio.gather(*first, *second) == ["ack-1", "ack-1"]
    assert fake.sent == [("t.dest.hook", 0, ["a", "b", "c"])]


async def test_a_waiting_send_is_not_overtaken_by_a_later_envelope_of_its_partition():
    fake = RecordingProducer()
    output = producer_with(fake)
    early = await output.enqueue_routed(routes("early"))
    linger = output._linger_task
    await asyncio.sleep(0.05)  # the linger task took "early" and waits for room in the producer
    full = asyncio.ensure_future(output.enqueue_routed(routes(*[f"n{i}" for i in range(ROUTE_BATCH_EVENTS)])))
    await asyncio.sleep(0.05)
    fake.release.set()
    later = await full
    await asyncio.gather(*early, *later, linger)
    assert [ids[0] for _, _, ids in fake.sent] == ["early", "n0"]


async def test_a_failed_send_fails_the_futures_of_every_call_in_the_envelope():
    fake = RecordingProducer(fail=ConnectionError("broker gone"))
    fake.release.set()
    output = producer_with(fake)
    futures = await output.enqueue_routed(routes("a")) + await output.enqueue_routed(routes("b"))
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results) and len(results) == 2


async def test_an_envelope_waits_the_configured_linger_for_more_events():
    fake = RecordingProducer()
    fake.release.set()
    output = OutputProducer("127.0.0.1:1", TopicNames("t"), route_linger_seconds=0.3)
    output.producer = fake
    futures = await output.enqueue_routed(routes("a"))
    await asyncio.sleep(0.1)
    assert fake.sent == []  # still gathering
    futures += await output.enqueue_routed(routes("b"))
    await asyncio.gather(*futures)
    assert fake.sent == [("t.dest.hook", 0, ["a", "b"])]
