"""What the long-running processes share: serving an aiohttp app until told to stop, and GC settings.

``serve_until_stopped`` is shared by the HTTP processes (ingest, the health server): it binds the
runner's site, prints the URL once, waits for SIGINT or SIGTERM and cleans up, so in-flight requests
finish and the app's cleanup contexts (producers, consumers) run.  ``tune_gc`` is called by ingest and
the worker once they have started.
"""

from __future__ import annotations

import asyncio
import gc
import signal

from aiohttp import web


async def serve_until_stopped(runner: web.AppRunner, host: str, port: int, name: str,
                              backlog: int = 128) -> None:
    """Serve ``runner`` on ``host:port`` until SIGINT or SIGTERM, then clean it up."""
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=backlog).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"eventyard {name} listening on http://{host}:{port}", flush=True)
    await stop.wait()
    await runner.cleanup()


GC_YOUNG_THRESHOLD = 50_000
"""Allocations between two young-generation collections (CPython's default is 700)."""


def tune_gc() -> None:
    """Collect cycles rarely in a process that allocates and frees objects per event.

    Nearly everything ingest and the worker allocate per event is freed by reference counting, yet with
    CPython's default thresholds the cyclic collector ran every few requests or envelopes, and its full
    collections walked every object the imports and the workspace created (~40 ms each): ~10 % of
    ingest's and 7 % of a worker's CPU in py-spy profiles.  So: collect once, freeze what exists (never
    scanned again) and collect the young generation every :data:`GC_YOUNG_THRESHOLD` allocations;
    cyclic garbage is still collected, in larger and rarer passes.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
