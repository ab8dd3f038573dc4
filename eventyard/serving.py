"""Serving an aiohttp application until the process is told to stop.

``serve_until_stopped`` is shared by the HTTP processes (ingest, the health server): it binds the
runner's site, prints the URL once, waits for SIGINT or SIGTERM and cleans up, so in-flight requests
finish and the app's cleanup contexts (producers, consumers) run.
"""

from __future__ import annotations

import asyncio
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
