"""The HTTP gateway: Segment's Tracking API on aiohttp, writing envelopes to the raw topic.

Routes: ``POST /v1/{track,identify,page,screen,group,alias,batch}`` and the browser short paths
``/v1/{t,i,p,s,g,a,b}`` (answered by :class:`~eventyard.ingest.tracking.TrackingAPI`; any other
``POST /v1/<name>`` gets a JSON 404); ``OPTIONS`` on each (CORS preflight); ``GET /health`` (liveness),
``GET /ready`` (broker reachable), ``GET /metrics`` (Prometheus), ``GET /openapi.json`` (this API, from
``ingest/openapi.yaml``).  Every answer of these routes allows the request's ``Origin``
(:mod:`eventyard.ingest.answers`).

Each call path is a plain route (aiohttp finds it with one dictionary lookup, where ``/v1/{call}`` costs
a regular expression per request), and the application has no middleware (each would add coroutine
layers to every request).  Once started, the app tunes the process's garbage collector
(``eventyard.serving.tune_gc``): with Python's defaults, collections took ~10 % of ingest's CPU.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import yaml
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from eventyard.config.workspace import Workspace
from eventyard.serving import tune_gc
from eventyard.ingest.answers import allow_browsers
from eventyard.ingest.publisher import EnvelopePublisher
from eventyard.ingest.tracking import TrackingAPI
from eventyard.ingest.validate import CALL_TYPES, SHORT_PATHS
from eventyard.transforms.privacy.gate import PrivacyGate

PUBLISHER = web.AppKey("publisher", EnvelopePublisher)
OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")
OPENAPI = web.AppKey("openapi", dict)


async def preflight(request: web.Request) -> web.Response:
    """Answer a CORS preflight."""
    return web.Response(status=204)


async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """Readiness: the broker answers a metadata request."""
    if await request.app[PUBLISHER].ready():
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "broker unreachable"}, status=503)


async def metrics_view(request: web.Request) -> web.Response:
    """Prometheus exposition of this process's registry."""
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi_view(request: web.Request) -> web.Response:
    """The OpenAPI document of this API, as JSON."""
    return web.json_response(request.app[OPENAPI])


def create_ingest_app(workspace: Workspace, publisher: EnvelopePublisher,
                      privacy: PrivacyGate | None = None) -> web.Application:
    """Build the aiohttp application; the publisher and the privacy gate start and stop with it."""
    app = web.Application(client_max_size=workspace.ingest.max_request_bytes)
    app[PUBLISHER] = publisher
    publisher.coalesce_seconds = workspace.ingest.coalesce_ms / 1000
    app[OPENAPI] = yaml.safe_load(OPENAPI_FILE.read_text())
    api = TrackingAPI(workspace, publisher, privacy)
    for name, call in {**{c: c for c in (*CALL_TYPES, "batch")}, **SHORT_PATHS}.items():
        app.router.add_post(f"/v1/{name}", partial(api.handle, call))
    app.router.add_post("/v1/{call}", api.handle_unknown)
    app.router.add_route("OPTIONS", "/v1/{call}", allow_browsers(preflight))
    app.router.add_get("/health", allow_browsers(health))
    app.router.add_get("/ready", allow_browsers(ready))
    app.router.add_get("/metrics", allow_browsers(metrics_view))
    app.router.add_get("/openapi.json", allow_browsers(openapi_view))

    async def lifecycle(app: web.Application):
        await publisher.start()
        await api.privacy.start()
        tune_gc()
        yield
        await api.privacy.stop()
        await publisher.stop()

    app.cleanup_ctx.append(lifecycle)
    return app
