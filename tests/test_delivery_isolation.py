"""Isolation: a webhook answering 500 for 20 s does not slow a second destination; nothing is lost.

Both destinations get the same events at once.  The archive (file) must deliver all of them while the
webhook is still failing, at a rate comparable to its rate for the same load once the webhook is healthy
again (measured in the same run, printed); the webhook then recovers and receives every event exactly
once.  A healthy warm-up load goes through both destinations first, so that neither phase includes the
worker's start (first fetches, connections), which only the first phase would otherwise pay for.
Progress is read by counting archive lines, not parsing them, so the test process takes little of the
machine's two cores.

This test caught a worker stall: the archive's last envelopes waited about a second while the failing
webhook's agent had a full buffer, because a Faust poll waits up to 1 s for the partitions that were active
when it started (``eventyard.streams.consumer``, ``POLL_WAIT_SECONDS``).  It showed in full test runs
and when this process held a large heap (timing), at 7,600–8,100 against 27,000–56,000 events/s.
"""

from __future__ import annotations

import asyncio
import time

import yaml
from aiokafka import AIOKafkaProducer

from eventyard.streams.envelope import encode_envelope

from scripted_webhook import ScriptedWebhook
from support import count_lines, start_worker, wait_for

OUTAGE_SECONDS = 20.0
ENVELOPES, PER_ENVELOPE = 100, 100
WARM_UP_ENVELOPES = 4


def batch(tag: str, n: int) -> list[dict]:
    return [{"source": "web", "event": {"type": "track", "event": "E", "userId": f"user-{i % 50}",
                                        "messageId": f"{tag}-{n}-{i}", "properties": {"i": i}}}
            for i in range(PER_ENVELOPE)]


async def publish_all(bootstrap: str, topics: list[str], tag: str, envelopes: int = ENVELOPES) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = [await producer.send(topic, encode_envelope("dest", batch(tag, n)), partition=n % 4)
                for n in range(envelopes) for topic in topics]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def archive_rate(directory, bootstrap: str, topics: list[str], tag: str, until: int) -> float:
    """Publish one load to ``topics`` and return the archive's events/s from the start of the publish
    until it holds ``until`` lines (both phases are measured the same way)."""
    started = time.monotonic()
    await publish_all(bootstrap, topics, tag)
    assert await wait_for(lambda: count_lines(directory) >= until, 60, interval=0.05)
    return ENVELOPES * PER_ENVELOPE / (time.monotonic() - started)


async def test_failing_webhook_does_not_slow_the_archive(workspace_factory, bootstrap, tmp_path):
    outage_ends = time.monotonic() + 3600
    total, warm = ENVELOPES * PER_ENVELOPE, WARM_UP_ENVELOPES * PER_ENVELOPE

    def answer(name, event, attempt):
        return (500 if time.monotonic() < outage_ends else 200), {}, 0

    async with ScriptedWebhook(answer) as server:
        workspace = workspace_factory(destinations=[
            {"name": "hook", "type": "webhook",
             "settings": {"url": server.url("hook"), "mode": "batch", "batch_size": 100,
                          "allow_private": ["127.0.0.1/32"]},
             "delivery": {"retry": {"base_seconds": 0.5, "cap_seconds": 2.0}}},
            {"name": "archive", "type": "file", "settings": {"directory": str(tmp_path / "archive"),
                                                              "fsync": False}}])
        prefix = yaml.safe_load((workspace / "eventyard.yaml").read_text())["topics"]["prefix"]
        hook = server.accepted["hook"]
        worker = start_worker(workspace, bootstrap, tmp_path)
        try:
            both = [f"{prefix}.dest.hook", f"{prefix}.dest.archive"]
            outage_ends = 0.0  # healthy while warming up
            await publish_all(bootstrap, both, "w", WARM_UP_ENVELOPES)
            assert await wait_for(lambda: count_lines(tmp_path / "archive") >= warm and sum(hook.values()) >= warm,
                                  60, interval=0.05)

            outage_ends = time.monotonic() + OUTAGE_SECONDS
            during = await archive_rate(tmp_path / "archive", bootstrap, both, "a", warm + total)
            assert time.monotonic() < outage_ends, "the archive finished while the webhook was failing"
            assert sum(hook.values()) == warm and server.attempts

            await wait_for(lambda: sum(hook.values()) >= warm + total, 60, interval=0.2)
            recovered = time.monotonic() - outage_ends
            after = await archive_rate(tmp_path / "archive", bootstrap, both, "b", warm + 2 * total)
            await wait_for(lambda: sum(hook.values()) >= warm + 2 * total, 60, interval=0.2)
        finally:
            worker.stop()

    print(f"isolation: archive {during:,.0f} events/s while the webhook failed, "
          f"{after:,.0f} events/s with it healthy (both topics fed each time); webhook drained "
          f"{recovered:.1f} s after its {OUTAGE_SECONDS:.0f} s outage; "
          f"{sum(server.attempts.values())} webhook event attempts")
    assert len(hook) == warm + 2 * total and set(hook.values()) == {1}, "every event exactly once, nothing lost"
    assert during >= 0.4 * after
