"""messageId dedup through real worker processes and the real broker: one worker, a restart, a rebalance."""

from __future__ import annotations

import asyncio
from collections import Counter

from pipeline_support import metric, produce_raw, track
from support import read_jsonl, start_worker, wait_for

from eventyard.streams.topics import TopicNames
from eventyard.config.loader import load_workspace

USERS = [f"user-{i}" for i in range(8)]


def delivered(ws) -> Counter:
    return Counter(e["messageId"] for e in read_jsonl(ws / "archive"))


async def send(bootstrap, ws, ids: list[str]) -> None:
    raw = TopicNames(load_workspace(ws).model.topics.prefix).raw
    await produce_raw(bootstrap, raw, [track(mid, USERS[int(mid.split("-")[1]) % len(USERS)])
                                       for mid in ids])


async def wait_delivered(ws, ids: list[str], timeout: float = 40) -> Counter:
    await wait_for(lambda: all(i in delivered(ws) for i in ids), timeout)
    counts = delivered(ws)
    assert all(i in counts for i in ids), f"missing {[i for i in ids if i not in counts]}"
    return counts


async def test_duplicates_dropped_by_one_worker_and_after_a_restart(workspace_factory, bootstrap, tmp_path):
    ws = workspace_factory()
    worker = start_worker(ws, bootstrap, tmp_path)
    try:
        first = [f"m-{i}" for i in range(8)]
        await send(bootstrap, ws, first + first[:4])
        await send(bootstrap, ws, first[2:6] + ["m-8"])
        await wait_delivered(ws, first + ["m-8"])
        await wait_for(lambda: metric(worker.port, "eventyard_pipeline_discarded_total",
                                      stage="dedup") >= 8, 10)
        assert metric(worker.port, "eventyard_pipeline_discarded_total",
                      source="web", stage="dedup", reason="duplicate") == 8
    finally:
        worker.stop()
    worker = start_worker(ws, bootstrap, tmp_path)
    try:
        await send(bootstrap, ws, [f"m-{i}" for i in range(9)] + ["m-9", "m-10"])
        counts = await wait_delivered(ws, ["m-9", "m-10"])
        await asyncio.sleep(1.0)  # let any wrongly forwarded duplicate land too
        counts = delivered(ws)
        assert set(counts.values()) == {1}, f"delivered twice: {[k for k, n in counts.items() if n > 1]}"
        assert metric(worker.port, "eventyard_pipeline_discarded_total",
                      source="web", stage="dedup", reason="duplicate") == 9
    finally:
        worker.stop()


async def test_duplicates_dropped_across_two_workers_and_a_rebalance(workspace_factory, bootstrap,
                                                                     tmp_path):
    ws = workspace_factory()
    one = start_worker(ws, bootstrap, tmp_path)
    two = None
    try:
        await send(bootstrap, ws, [f"m-{i}" for i in range(8)])
        await wait_delivered(ws, [f"m-{i}" for i in range(8)])
        two = start_worker(ws, bootstrap, tmp_path)   # takes over some partitions
        await send(bootstrap, ws, [f"m-{i}" for i in range(8)] + [f"m-{i}" for i in range(8, 16)])
        await wait_delivered(ws, [f"m-{i}" for i in range(16)])
        one.stop()                                     # the other owns every partition
        await send(bootstrap, ws, [f"m-{i}" for i in range(16)] + ["m-16", "m-17"])
        await wait_delivered(ws, ["m-16", "m-17"], timeout=60)
        await asyncio.sleep(1.0)
        counts = delivered(ws)
        assert set(counts.values()) == {1}, f"delivered twice: {[k for k, n in counts.items() if n > 1]}"
    finally:
        one.stop()
        if two is not None:
            two.stop()
