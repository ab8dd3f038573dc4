"""The HTTP gateway: Segment's Tracking API on aiohttp, writing envelopes to the raw topic.

Routes: ``POST /v1/{track,identify,page,screen,group,alias,batch}`` and the browser short paths
``/v1/{t,i,p,s,g,a,b}``; ``OPTIONS`` on each (CORS preflight); ``GET /health`` (liveness), ``GET /ready``
(broker reachable), ``GET /metrics`` (Prometheus), ``GET /openapi.json`` (this API, from
``ingest/openapi.yaml``).

A request is answered ``200 {"success": true}`` only after the broker acknowledged every accepted event
(segment-analytics-python treats anything but 200 as failure).  Errors are JSON
``{"success": false, "error": "...", "reason": "..."}``: 400 for invalid bodies and limits, 401 for
missing or unknown write keys, 404 for disabled sources, 429 with ``Retry-After`` and
``X-RateLimit-Reset`` when a source's optional rate limit is exceeded, 503 with ``Retry-After`` when
the broker does not acknowledge in time, so SDKs retry.  Invalid items inside a batch go to the rejects
topic and are listed in the 200 answer under ``rejected``.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import yaml
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from eventyard.config.workspace import Workspace
from eventyard.ingest.auth import AuthError, WriteKeys
from eventyard.ingest.body import BodyError, read_body
from eventyard.ingest.publisher import EnvelopePublisher, PublishUnavailable
from eventyard.ingest.ratelimit import SourceRateLimits
from eventyard.ingest.validate import CALL_TYPES, SHORT_PATHS, RequestError, split_request
from eventyard.streams import metrics
from eventyard.transforms.privacy.gate import PrivacyGate

log = logging.getLogger("eventyard.ingest")
PUBLISHER = web.AppKey("publisher", EnvelopePublisher)
OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")
OPENAPI = web.AppKey("openapi", dict)
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}


def utc_now_iso() -> str:
    """Now, in Segment's timestamp format (millisecond precision, ``Z``)."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def error(status: int, message: str, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON error answer."""
    metrics.INGEST_REQUESTS.labels(str(status)).inc()
    return web.json_response({"success": False, "error": message, "reason": reason},
                             status=status, headers=headers)


class TrackingAPI:
    """Request handlers bound to one workspace and one publisher."""

    def __init__(self, workspace: Workspace, publisher: EnvelopePublisher,
                 privacy: PrivacyGate | None = None) -> None:
        self.workspace = workspace
        self.keys = WriteKeys(workspace)
        self.publisher = publisher
        limits = workspace.ingest
        self.max_request, self.max_event = limits.max_request_bytes, limits.max_event_bytes
        self.max_batch = limits.max_batch_events
        self.rate_limits = SourceRateLimits(workspace)
        self.privacy = privacy or PrivacyGate(workspace)

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one Tracking API call."""
        name = request.match_info["call"]
        call = SHORT_PATHS.get(name, name)
        if call not in CALL_TYPES and call != "batch":
            return error(404, f"unknown call {name!r}", "unknown_call")
        try:
            body = await read_body(request, self.max_request)
        except BodyError as exc:
            metrics.INGEST_REJECTED.labels("", exc.reason).inc()
            return error(exc.status, exc.message, exc.reason)
        try:
            source = self.keys.source_for(self.keys.key_from_request(
                request.headers.get("Authorization"), body))
        except AuthError as exc:
            return error(exc.status, exc.message, "unauthorized" if exc.status == 401 else "disabled")
        received_at = utc_now_iso()
        try:
            accepted, rejected = split_request(call, body, self.max_event, self.max_batch, received_at)
        except RequestError as exc:
            metrics.INGEST_REJECTED.labels(source.name, exc.reason).inc()
            return error(400, exc.message, exc.reason)
        wait = self.rate_limits.wait_seconds(source.name, len(accepted) + len(rejected))
        if wait:
            metrics.INGEST_REJECTED.labels(source.name, "rate_limited").inc()
            return error(429, f"source {source.name!r} is over its rate limit; retry later",
                         "rate_limited", {"Retry-After": str(max(1, math.ceil(wait))),
                                          "X-RateLimit-Reset": str(math.ceil(time.time() + wait))})
        accepted = self.privacy.admit(source.name, accepted)  # suppressed users, field controls
        started = time.perf_counter()
        try:
            await self.publisher.publish(source.name, accepted)
            await self.publisher.reject(source.name, rejected, received_at)
        except PublishUnavailable as exc:
            log.warning("broker unavailable", extra={"source": source.name, "error": str(exc)})
            return error(503, "the event broker is unavailable; retry later", "broker_unavailable",
                         {"Retry-After": "5"})
        metrics.STAGE_DURATION.labels("ingest_publish").observe(time.perf_counter() - started)
        for call_type, count in Counter(event["type"] for event in accepted).items():
            metrics.EVENTS_RECEIVED.labels(source.name, call_type).inc(count)
        for reason, count in Counter(item.reason for item in rejected).items():
            metrics.INGEST_REJECTED.labels(source.name, reason).inc(count)
        if call != "batch" and rejected:
            item = rejected[0]
            return error(400, item.message, item.reason)
        metrics.INGEST_REQUESTS.labels("200").inc()
        answer: dict[str, object] = {"success": True}
        if rejected:
            answer["rejected"] = [{"index": r.index, "reason": r.reason, "field": r.field,
                                   "message": r.message} for r in rejected[:20]]
        return web.json_response(answer)


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


@web.middleware
async def cors(request: web.Request, handler) -> web.StreamResponse:
    """Allow browser sources on any origin (Segment's API does the same)."""
    response = await handler(request)
    origin = request.headers.get("Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
        response.headers.update(CORS_HEADERS)
    return response


def create_ingest_app(workspace: Workspace, publisher: EnvelopePublisher,
                      privacy: PrivacyGate | None = None) -> web.Application:
    """Build the aiohttp application; the publisher and the privacy gate start and stop with it."""
    app = web.Application(middlewares=[cors], client_max_size=workspace.ingest.max_request_bytes)
    app[PUBLISHER] = publisher
    publisher.coalesce_seconds = workspace.ingest.coalesce_ms / 1000
    app[OPENAPI] = yaml.safe_load(OPENAPI_FILE.read_text())
    api = TrackingAPI(workspace, publisher, privacy)
    app.router.add_post("/v1/{call}", api.handle)
    app.router.add_route("OPTIONS", "/v1/{call}", preflight)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/openapi.json", openapi_view)

    async def lifecycle(app: web.Application):
        await publisher.start()
        await api.privacy.start()
        yield
        await api.privacy.stop()
        await publisher.stop()

    app.cleanup_ctx.append(lifecycle)
    return app
