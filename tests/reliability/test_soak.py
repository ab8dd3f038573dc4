"""Soak: a bounded run at steady load, with ingest's and the worker's memory measured at start and end.

``EVENTYARD_SOAK_SECONDS`` (default 60) sets the length; longer soaks run the same test by hand.  RSS is
read after a warm-up so imports, pools and caches are already paid for; the bound on growth is generous
(a leak of a few hundred bytes per event over the run still trips it).  The oracle checks the events too,
and the worker's delivered counter must equal the events the archive holds (I3 against the metrics).
"""

from __future__ import annotations

import asyncio
import os
import time

from harness import Load, delivered_metric, rss_kib
from observe import file_ids
from oracle import Ledger, wait_resolved
from scenarios import file_destination, observer_for

SOAK_SECONDS = float(os.environ.get("EVENTYARD_SOAK_SECONDS", "60"))
GROWTH_BOUND_KIB = 64 * 1024


async def test_soak_steady_load_memory_and_delivery(stack, http, scenario_table):
    running = await stack([file_destination()])
    ledger = Ledger(["archive"])
    load = Load(ledger, http, running.ingest.port, size=25, users=50, interval=0.02).start()
    await load.until_acked(2000)  # warm-up
    worker, ingest = running.workers[0], running.ingest
    start_rss = {"worker": rss_kib(worker.popen.pid), "ingest": rss_kib(ingest.popen.pid)}
    started, acked_at_start = time.monotonic(), len(ledger.acked)
    while time.monotonic() - started < SOAK_SECONDS:
        await asyncio.sleep(1)
    await load.stop()
    observer = observer_for(running, files=("archive",))
    report = await wait_resolved(ledger, observer, 60, ordered=["archive"])
    await observer.close()
    end_rss = {"worker": rss_kib(worker.popen.pid), "ingest": rss_kib(ingest.popen.pid)}
    rate = (len(ledger.acked) - acked_at_start) / SOAK_SECONDS
    scenario_table(f"soak {SOAK_SECONDS:.0f} s", report)
    for name in start_rss:
        print(f"soak: {name} RSS {start_rss[name] / 1024:.1f} MiB -> {end_rss[name] / 1024:.1f} MiB")
    print(f"soak: {len(ledger.acked)} events acknowledged, {rate:.0f} events/s during the measured run")
    report.assert_ok()
    assert delivered_metric(worker.port, "archive") == len(file_ids(running.directory / "archive"))
    for name in start_rss:
        growth = end_rss[name] - start_rss[name]
        assert growth < GROWTH_BOUND_KIB, f"{name} RSS grew {growth} KiB during the soak"
