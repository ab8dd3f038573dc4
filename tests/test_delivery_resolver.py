"""The delivery resolver: every event delivered or dead-lettered, retries with backoff and a window.

A scripted destination answers per messageId; sleeping is recorded instead of waited so the retry
schedule itself is checked.
"""

from __future__ import annotations

import asyncio

import pytest

from eventyard.config.workspace import DeliveryConfig, RetryConfig
from eventyard.destinations.base import (DELIVERED, Destination, DestinationContext, Fail, Retry)
from eventyard.streams.deadletter import Origin, decode_headers
from eventyard.streams.delivery import Deliverer
from eventyard.streams.retry_lanes import backoff_delay


class Scripted(Destination):
    """Answers from a script: messageId → list of outcomes, one per attempt (last one repeats)."""

    type_name = "scripted"

    def __init__(self, script, raise_first: int = 0):
        super().__init__("scripted", None, DestinationContext("/tmp", "scripted"))
        self.script = script
        self.calls: list[list[str]] = []
        self.raise_first = raise_first

    async def send_batch(self, events):
        self.calls.append([e["messageId"] for e in events])
        if self.raise_first:
            self.raise_first -= 1
            raise ConnectionError("boom")
        out = []
        for event in events:
            plan = self.script.get(event["messageId"], [DELIVERED])
            out.append(plan.pop(0) if len(plan) > 1 else plan[0])
        return out


def items(*ids):
    return [{"source": "web", "event": {"messageId": i, "userId": "u",
                                        "receivedAt": "2026-01-01T00:00:00.000Z"}} for i in ids]


class FakeTime:
    """A clock that sleeping advances, so the retry schedule is checked without waiting."""

    def __init__(self):
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def clock(self):
        return self.now

    async def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds + 1e-6
        await asyncio.sleep(0)


def make(dest, window=3600.0, batch_size=100, ordering="none", fail_writes=0, linger_ms=0.0):
    letters, time = [], FakeTime()

    async def dead_letter(item, letter):
        nonlocal fail_writes
        if fail_writes:
            fail_writes -= 1
            raise ConnectionError("broker down")
        letters.append((item["event"]["messageId"], letter))

    config = DeliveryConfig(batch_size=batch_size, ordering=ordering, linger_ms=linger_ms,
                            retry=RetryConfig(base_seconds=1, cap_seconds=600, window_seconds=window))
    return Deliverer(dest, config, dead_letter, sleep=time.sleep, clock=time.clock), letters, time.sleeps


async def test_mixed_outcomes_resolve_every_event():
    dest = Scripted({"r": [Retry("503", status_code=503), DELIVERED],
                     "f": [Fail("bad", status_code=400, error_class="http_4xx",
                                request_sample="{...}", response_sample="nope")]})
    deliverer, letters, sleeps = make(dest, batch_size=2)
    await deliverer.resolve(items("a", "r", "f", "b"), Origin("t", 1, 42))
    assert dest.calls == [["a", "r"], ["f", "b"], ["r"]]
    assert [m for m, _ in letters] == ["f"]
    headers = decode_headers(letters[0][1].headers())
    assert headers["eventyard.error.class"] == "http_4xx"
    assert headers["eventyard.error.status"] == "400"
    assert headers["eventyard.error.attempts"] == "1"
    assert headers["eventyard.error.origin.offset"] == "42"
    assert headers["eventyard.error.request"] == "{...}" and headers["eventyard.error.response"] == "nope"
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 1


async def test_retry_after_wins_when_longer():
    dest = Scripted({"a": [Retry("429", retry_after=30, status_code=429), DELIVERED]})
    deliverer, letters, sleeps = make(dest)
    await deliverer.resolve(items("a"))
    assert sleeps == [30] and not letters


async def test_window_exceeded_dead_letters_remaining():
    dest = Scripted({"a": [Retry("down", status_code=500)]})
    deliverer, letters, sleeps = make(dest, window=1.0)
    deliverer.config.retry.base_seconds = 10.0
    await deliverer.resolve(items("a"))
    [(mid, letter)] = letters
    assert mid == "a" and letter.error_class == "retry_window_exceeded"
    assert letter.status_code == 500


async def test_exception_retries_whole_chunk_then_delivers():
    dest = Scripted({}, raise_first=2)
    deliverer, letters, sleeps = make(dest)
    await deliverer.resolve(items("a", "b"))
    assert dest.calls[0] == ["a", "b"] and len(dest.calls) >= 3 and not letters and len(sleeps) >= 2
    assert {m for call in dest.calls[2:] for m in call} == {"a", "b"}


async def test_wrong_number_of_outcomes_is_retried():
    class Short(Scripted):
        async def send_batch(self, events):
            self.calls.append(len(events))
            return [DELIVERED] if len(self.calls) == 1 else [DELIVERED] * len(events)

    dest = Short({})
    deliverer, letters, _ = make(dest)
    await deliverer.resolve(items("a", "b"))
    assert sum(dest.calls) == 4 and dest.calls[0] == 2 and not letters


@pytest.mark.parametrize("attempt,ceiling", [(1, 1), (2, 2), (5, 16), (40, 600)])
def test_backoff_is_full_jitter_under_the_cap(attempt, ceiling):
    values = [backoff_delay(attempt, 1.0, 600.0) for _ in range(200)]
    assert all(0 <= v <= ceiling for v in values)
    assert max(values) > ceiling / 2


async def test_linger_batches_events_of_several_envelopes_into_one_send():
    dest = Scripted({})
    deliverer, letters, _ = make(dest, batch_size=5, linger_ms=50)
    first = await deliverer.submit(items("a", "b"))
    second = await deliverer.submit(items("c"))
    assert dest.calls == [] and not first.done()
    await asyncio.wait_for(asyncio.gather(first, second), 2)
    assert dest.calls == [["a", "b", "c"]] and not letters


async def test_a_full_batch_goes_out_without_waiting_for_the_linger():
    dest = Scripted({})
    deliverer, _, _ = make(dest, batch_size=3, linger_ms=60_000)
    await deliverer.submit(items("a", "b"))
    ticket = await deliverer.submit(items("c", "d"))
    assert dest.calls == [["a", "b", "c"]]
    await deliverer.flush()
    assert dest.calls == [["a", "b", "c"], ["d"]] and ticket.done()
    await deliverer.close()
