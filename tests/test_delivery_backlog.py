"""A worker keeps delivering while its pipeline agent works through a raw backlog.

One Kafka consumer feeds every agent of a worker.  aiokafka hands out buffered records partition by
partition, and a fetch of a backlogged raw topic brings megabytes of compressed envelopes: before
``streams.consumer`` served the destination topics first, the pipeline routed a whole fetch (tens of
thousands of events, seconds of work) before the delivery agents of the same worker saw a record.

The raw topic is filled zstd-compressed with 40,000 events, as ingest writes it; the test follows the
worker's routed counter and the archive's lines, and checks that the archive never falls far behind the
routing: at most half of the events may be routed and not yet delivered at any moment.
"""

from __future__ import annotations

import asyncio
import time

import yaml
from aiokafka import AIOKafkaProducer

from eventyard.bench.workload import raw_envelopes
from eventyard.streams.envelope import decode_envelope

from pipeline_support import metric
from support import count_lines, start_worker, wait_for

EVENTS = 40_000


async def fill(bootstrap: str, topic: str) -> int:
    """Write the backlog; return how many distinct events it holds (dedup drops the repeated ones)."""
    envelopes = raw_envelopes(EVENTS, 4, "web", "backlog")
    distinct = {item["event"]["messageId"] for _, value in envelopes for item in decode_envelope(value).items}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type="zstd",
                                linger_ms=10, max_batch_size=256 * 1024)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, value, partition=p) for p, value in envelopes])
    finally:
        await producer.stop()
    return len(distinct)


async def test_delivery_keeps_up_while_the_pipeline_drains_a_backlog(workspace_factory, bootstrap, tmp_path):
    archive = tmp_path / "archive"
    workspace = workspace_factory(destinations=[
        {"name": "archive", "type": "file", "settings": {"directory": str(archive), "fsync": False}}])
    prefix = yaml.safe_load((workspace / "eventyard.yaml").read_text())["topics"]["prefix"]
    worker = start_worker(workspace, bootstrap, tmp_path)
    try:
        distinct = await fill(bootstrap, f"{prefix}.raw")
        lead, started = 0.0, time.monotonic()
        while time.monotonic() - started < 60:
            routed = await asyncio.to_thread(metric, worker.port, "eventyard_pipeline_routed_total",
                                             destination="archive")
            delivered = count_lines(archive)
            lead = max(lead, routed - delivered)
            if delivered >= distinct:
                break
            await asyncio.sleep(0.02)
        assert await wait_for(lambda: count_lines(archive) >= distinct, 30)
    finally:
        worker.stop()
    print(f"backlog: at most {lead:,.0f} of {distinct:,} events routed ahead of the archive; "
          f"drained in {time.monotonic() - started:.1f} s")
    assert count_lines(archive) == distinct
    assert lead <= distinct / 2, f"{lead:,.0f} events were routed before the archive got them"
