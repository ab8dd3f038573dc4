"""Worker faults under steady load: SIGKILL mid-batch, a rebalance after one of two workers dies, SIGTERM.

Each scenario sends batches through a real ingest while workers run, injects the fault, and lets the
oracle check a file archive and a ``kafka_topic`` topic (both per-user ordered), the dead-letter and
rejects topics: nothing answered 200 is lost (I1), nothing alien appears (I2), duplicates stay within one
commit interval's worth of in-flight events (I3), first copies keep per-user order (I4), and delivery
completes within a stated bound after the fault clears (I5).
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

from harness import Load
from observe import file_ids
from oracle import Ledger
from scenarios import file_destination, kafka_destination, observer_for, resolve

SETTLE = 3.0  # seconds between the last surely-committed delivery and the kill (commit interval: 1 s)
RECOVERY_BOUND = 45.0  # seconds from "fault cleared" to every acknowledged event resolved
DESTINATIONS = ("archive", "mirror")


async def _run(stack, bootstrap, http, workers: int):
    topic = f"mirror-{uuid.uuid4().hex[:8]}"
    running = await stack([file_destination(), kafka_destination(bootstrap, topic)], workers=workers)
    ledger = Ledger(DESTINATIONS)
    load = Load(ledger, http, running.ingest.port).start()
    observer = observer_for(running, files=("archive",), kafka={"mirror": topic})
    return running, ledger, load, observer


def _archived(running) -> int:
    return len(file_ids(running.directory / "archive"))


async def _kill_after_settled_deliveries(running, worker_index: int = 0) -> int:
    """Let 200 events reach the archive, wait ``SETTLE`` s under load, SIGKILL a worker mid-stream.

    Returns the duplicate bound: only deliveries made after the settle point may be replayed (offsets are
    committed every second), per destination — a replay from scratch would exceed it.
    """
    deadline = time.monotonic() + 30
    while _archived(running) < 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    settled = _archived(running)
    await asyncio.sleep(SETTLE)
    running.workers[worker_index].kill()
    return len(DESTINATIONS) * (_archived(running) - settled) + 50


async def _finish(name, ledger, observer, running, scenario_table, since, max_duplicates):
    await resolve(name, ledger, observer, scenario_table, since, RECOVERY_BOUND, DESTINATIONS, max_duplicates)
    assert not running.crashed()


async def test_sigkill_mid_batch_loses_nothing(stack, bootstrap, http, scenario_table):
    running, ledger, load, observer = await _run(stack, bootstrap, http, workers=1)
    bound = await _kill_after_settled_deliveries(running)
    await load.until_acked(len(ledger.acked) + 200)  # ingest keeps answering 200 with no worker
    await load.stop()
    await running.start_worker()
    await _finish("worker SIGKILL mid-batch", ledger, observer, running, scenario_table,
                  time.monotonic(), max_duplicates=bound)


async def test_rebalance_after_one_of_two_workers_is_killed(stack, bootstrap, http, scenario_table):
    running, ledger, load, observer = await _run(stack, bootstrap, http, workers=2)
    bound = await _kill_after_settled_deliveries(running)
    killed_at = time.monotonic()
    await load.until_acked(len(ledger.acked) + 300)
    await load.stop()
    # the survivor takes over every partition after the session timeout (6 s) plus Tansu's join delay
    await _finish("rebalance: 1 of 2 workers killed", ledger, observer, running, scenario_table,
                  killed_at, max_duplicates=bound)


async def test_sigterm_finishes_or_leaves_uncommitted(stack, bootstrap, http, scenario_table):
    running, ledger, load, observer = await _run(stack, bootstrap, http, workers=1)
    while _archived(running) < 200:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(running.workers[0].stop, signal.SIGTERM, 30)
    assert running.workers[0].popen.returncode is not None
    await load.until_acked(len(ledger.acked) + 200)
    await load.stop()
    await running.start_worker()
    # a graceful stop commits what it finished: nothing is replayed
    await _finish("worker SIGTERM", ledger, observer, running, scenario_table, time.monotonic(),
                  max_duplicates=0)
