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

from eventyard.bench.pipeline import fill_raw
from eventyard.bench.workload import raw_envelopes
from eventyard.bench.workspace import SOURCE
from eventyard.streams.envelope import decode_envelope

from pipeline_support import metric
from support import count_lines, start_worker, wait_for

EVENTS = 40_000
RUN = "backlog"


def distinct_events() -> int:
    """The events of the backlog that dedup lets through (the workload repeats every fiftieth one)."""
    return len({item["event"]["messageId"] for _, value in raw_envelopes(EVENTS, 4, SOURCE, RUN)
                for item in decode_envelope(value).items})


async def test_delivery_keeps_up_while_the_pipeline_drains_a_backlog(workspace_factory, bootstrap, tmp_path):
    archive = tmp_path / "archive"
    workspace = workspace_factory(destinations=[
        {"name": "archive", "type": "file", "settings": {"directory": str(archive), "fsync": False}}])
    prefix = yaml.safe_load((workspace / "eventyard.yaml").read_text())["topics"]["prefix"]
    worker = start_worker(workspace, bootstrap, tmp_path)
    try:
        distinct = distinct_events()
        await fill_raw(bootstrap, f"{prefix}.raw", EVENTS, 4, RUN)  # zstd, as ingest writes it
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
