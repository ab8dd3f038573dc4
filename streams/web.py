"""The worker's web endpoints, served by Faust's web server on the worker's health port.

* ``GET /metrics`` — Prometheus exposition of the process registry (``eventyard.streams.metrics``);
* ``GET /health`` — liveness, with the partitions this worker owns.

Faust's own default pages stay available beside them.  The health port binds 127.0.0.1 by default.
"""

from __future__ import annotations

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def register_views(app: faust.App) -> None:
    """Add the eventyard views to ``app``'s web server."""

    @app.page("/metrics", name="eventyard-metrics")
    async def metrics_page(self: View, request: Request) -> Response:
        return self.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST)

    @app.page("/health", name="eventyard-health")
    async def health_page(self: View, request: Request) -> Response:
        assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
        return self.json({"status": "ok", "assigned": assigned})
