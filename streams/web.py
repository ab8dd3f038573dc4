"""The worker's web endpoints, served by Faust's web server on the worker's health port.

* ``GET /metrics`` — Prometheus exposition of the process registry (``eventyard.streams.metrics``);
  before rendering, ``eventyard_consumer_lag`` is refreshed for the partitions this worker owns
  (high watermark − fetch position, i.e. records it has not read yet; partitions it no longer owns
  disappear from the gauge);
* ``GET /health`` — liveness, with the partitions this worker owns.

Faust's own default pages stay available beside them.  The health port binds 127.0.0.1 by default.
"""

from __future__ import annotations

import asyncio
import logging

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from eventyard.streams import metrics

log = logging.getLogger("eventyard.worker.web")


async def refresh_consumer_lag(app: faust.App, timeout: float = 0.5) -> None:
    """Set ``eventyard_consumer_lag`` for every partition ``app`` owns.

    Positions are asked for concurrently under one short ``timeout`` so a scrape never waits on a
    rebalance; partitions without a known watermark or position are left out of this scrape.
    """
    consumer = app.consumer
    partitions = sorted(consumer.assignment())
    try:
        positions = await asyncio.wait_for(
            asyncio.gather(*(consumer.position(tp) for tp in partitions), return_exceptions=True),
            timeout)
    except asyncio.TimeoutError:
        log.debug("consumer positions unavailable (rebalancing?)", extra={"partitions": len(partitions)})
        return
    metrics.CONSUMER_LAG.clear()
    for tp, position in zip(partitions, positions):
        highwater = consumer.highwater(tp)
        if isinstance(position, int) and highwater is not None:
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - position))


def register_views(app: faust.App) -> None:
    """Add the eventyard views to ``app``'s web server."""

    @app.page("/metrics", name="eventyard-metrics")
    async def metrics_page(self: View, request: Request) -> Response:
        await refresh_consumer_lag(app)
        return self.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/health", name="eventyard-health")
    async def health_page(self: View, request: Request) -> Response:
        assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
        return self.json({"status": "ok", "assigned": assigned})
