"""Worker alone: a pre-filled raw topic drained through the full pipeline by worker processes.

The workers start first (joining a consumer group on Tansu takes seconds), then the raw topic is filled
with envelopes written directly by aiokafka, as ingest would.  The drain rate is measured from the end of
the fill to the moment the ``kafka_topic`` destination's output stops growing (counted by an
:class:`~eventyard.bench.probes.OutputTap`) and the ``file`` destination's counter stops moving, and is
expressed in raw events per second: the share of the output that arrived after the fill, times the
events offered, over that time (filters, the plan and dedup let fewer events out than went in).  The
worker's counters (``/metrics``) add which stages discarded what.  "Stops" means 10 s without a change,
a margin kept from before the worker served its destination topics first (docs/performance.md,
"Deliveries first"), when its delivery agents could go seconds without a record during the drain.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer

from eventyard.bench import procs
from eventyard.bench.probes import OutputTap, WorkerCounters
from eventyard.bench.raw import PRODUCER_SETTINGS
from eventyard.bench.workload import raw_envelopes
from eventyard.bench.workspace import FILE_DEST, KAFKA_DEST, SOURCE
from eventyard.config.loader import load_workspace
from eventyard.streams.topics import TopicNames, ensure_topics


@dataclass
class DrainResult:
    """What a drain measured."""

    events_per_second: float
    seconds: float
    resolved: dict[str, int]
    discarded: dict[str, int]
    workers: list[procs.Service] = field(default_factory=list)
    delivered: int = 0


async def fill_raw(bootstrap: str, topic: str, count: int, partitions: int, run: str) -> None:
    """Write ``count`` events as raw envelopes to ``topic``, compressed as ingest writes them."""
    envelopes = raw_envelopes(count, partitions, SOURCE, run)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_SETTINGS, compression_type="zstd")
    await producer.start()
    try:
        futures = [await producer.send(topic, value, partition=partition) for partition, value in envelopes]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def start_workers(workspace: Path, bootstrap: str, state_dir: Path, count: int) -> list[procs.Service]:
    """Start ``count`` workers one after the other, each once the previous owns partitions."""
    loaded = load_workspace(str(workspace))
    await ensure_topics(bootstrap, loaded.model)
    return await add_workers(workspace, bootstrap, state_dir, count, joined=0)


async def add_workers(workspace: Path, bootstrap: str, state_dir: Path, count: int,
                      joined: int = 1) -> list[procs.Service]:
    """Start ``count`` more workers in a group of ``joined``; wait for the group's last rebalance."""
    workers: list[procs.Service] = []
    for _ in range(count):
        workers.append(await asyncio.to_thread(procs.start_worker, workspace, bootstrap, state_dir))
    if joined + count > 1 and count:
        await asyncio.sleep(8)  # the group rebalances once more when the last worker joins
    return workers


async def drain(workspace: Path, bootstrap: str, state_dir: Path, output: str, events: int, workers: int,
                run: str, quiet: float = 10.0, stall: float = 60.0) -> DrainResult:
    """Start workers, fill the raw topic with ``events`` events and measure the drain.

    Progress is the ``kafka_topic`` output (records counted by a tap); the drain is over when neither
    it nor the ``file`` destination's counter moved for ``quiet`` seconds, or nothing moved for ``stall``.
    """
    loaded = load_workspace(str(workspace))
    topics = TopicNames(loaded.model.topics.prefix)
    services = await start_workers(workspace, bootstrap, state_dir, workers)
    counters = WorkerCounters([w.port for w in services])
    tap = OutputTap(bootstrap, output, decode=False, offset_reset="earliest")
    await tap.start()
    try:
        await fill_raw(bootstrap, topics.raw, events, loaded.model.topics.partitions, run)
        started = time.monotonic()
        baseline = tap.count
        last_change, last_seen = started, None
        while True:
            await asyncio.sleep(0.25)
            resolved, discarded = await asyncio.to_thread(counters.read)
            seen = (tap.count, resolved.get(FILE_DEST, 0))
            if seen != last_seen:
                last_seen, last_change = seen, time.monotonic()
            idle = time.monotonic() - last_change
            if (idle > quiet and tap.count > baseline) or idle > stall:
                break
    finally:
        await tap.stop()
    final = tap.count
    seconds = max(1e-3, last_change - started)
    share = (final - baseline) / final if final else 0.0
    return DrainResult(events * share / seconds, seconds, dict(resolved), dict(discarded), services,
                       delivered=final)


def active_features(configured: list[str], discarded: dict[str, int], sample_events: list[dict]) -> list[str]:
    """The configured features whose effect shows in the counters or in delivered events."""
    stages = " ".join(discarded)
    evidence = {
        "dedup": "dedup" in stages or "duplicate" in stages,
        "tracking_plan": any(word in stages for word in ("plan", "protocol", "unplanned", "violation")),
        "protocols": any(word in stages for word in ("plan", "protocol", "unplanned", "violation")),
        "filters": f"{KAFKA_DEST}/filtered" in discarded or "filter" in stages,
        "dest_transform": any(e.get("event") == "Bench Event Zero" for e in sample_events),
        "source_transform": any(len(str(e.get("properties", {}).get("coupon", ""))) == 64
                                for e in sample_events),
    }
    return [name for name in configured if evidence.get(name)]
