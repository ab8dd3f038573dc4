"""The Tracking API's calls: one request → read, authenticate, validate, rate-limit, publish, answer.

:meth:`TrackingAPI.handle` answers ``POST /v1/<call>`` for a call type or ``batch``.  It answers
``200 {"success": true}`` only after the broker acknowledged every accepted event; errors are JSON with a
``reason`` (:mod:`eventyard.ingest.answers`): 400 for invalid bodies and limits, 401 for missing or unknown
write keys, 404 for disabled sources, 429 with ``Retry-After`` and ``X-RateLimit-Reset`` when a source's
optional rate limit is exceeded, 503 with ``Retry-After`` when the broker does not acknowledge in time,
so SDKs retry.  Invalid items inside a batch go to the rejects topic and are listed in the 200 answer
under ``rejected``; a single call whose event is invalid gets 400 (the event still goes to rejects).

This is the per-request hot path (``docs/performance.md``): metric children are looked up once, the
success answer is pre-encoded, and events are serialized once (by validation, whose bytes the publisher
reuses unless the privacy gate changed the events).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import orjson
from aiohttp import hdrs, web

from eventyard.config.workspace import Workspace
from eventyard.ingest.answers import error, success, with_cors
from eventyard.ingest.auth import AuthError, WriteKeys
from eventyard.ingest.body import BodyError, read_body
from eventyard.ingest.publisher import EnvelopePublisher, PublishUnavailable
from eventyard.ingest.ratelimit import SourceRateLimits
from eventyard.ingest.stamps import UtcClock
from eventyard.ingest.validate import Rejected, RequestError, Split, split_request
from eventyard.streams import metrics
from eventyard.transforms.privacy.gate import PrivacyGate

log = logging.getLogger("eventyard.ingest")


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
        self.clock = UtcClock()
        self._answered_200 = metrics.INGEST_REQUESTS.labels("200")
        self._publish_seconds = metrics.STAGE_DURATION.labels("ingest_publish")
        self._received: dict[tuple[str, str], Any] = {}

    async def handle(self, call: str, request: web.Request) -> web.StreamResponse:
        """Answer one call (a call type or ``batch``), allowing the browser's origin."""
        return with_cors(request, await self._answer(call, request))

    async def handle_unknown(self, request: web.Request) -> web.StreamResponse:
        """Answer ``POST /v1/<name>`` for a name that is no call: 404."""
        name = request.match_info["call"]
        return with_cors(request, error(404, f"unknown call {name!r}", "unknown_call"))

    async def _answer(self, call: str, request: web.Request) -> web.Response:
        try:
            body = await read_body(request, self.max_request)
        except BodyError as exc:
            metrics.INGEST_REJECTED.labels("", exc.reason).inc()
            return error(exc.status, exc.message, exc.reason)
        try:
            source = self.keys.source_for_request(request.headers.get(hdrs.AUTHORIZATION), body)
        except AuthError as exc:
            return error(exc.status, exc.message, "unauthorized" if exc.status == 401 else "disabled")
        received_at = self.clock.now_iso()
        try:
            split = split_request(call, body, self.max_event, self.max_batch, received_at)
        except RequestError as exc:
            metrics.INGEST_REJECTED.labels(source.name, exc.reason).inc()
            return error(400, exc.message, exc.reason)
        rejected = split.rejected
        wait = self.rate_limits.wait_seconds(source.name, len(split.accepted) + len(rejected))
        if wait:
            metrics.INGEST_REJECTED.labels(source.name, "rate_limited").inc()
            return error(429, f"source {source.name!r} is over its rate limit; retry later",
                         "rate_limited", {"Retry-After": str(max(1, math.ceil(wait))),
                                          "X-RateLimit-Reset": str(math.ceil(time.time() + wait))})
        events, encoded = self._admit(source.name, split)
        started = time.perf_counter()
        try:
            await self.publisher.publish(source.name, events, encoded)
            await self.publisher.reject(source.name, rejected, received_at)
        except PublishUnavailable as exc:
            log.warning("broker unavailable", extra={"source": source.name, "error": str(exc)})
            return error(503, "the event broker is unavailable; retry later", "broker_unavailable",
                         {"Retry-After": "5"})
        self._publish_seconds.observe(time.perf_counter() - started)
        self._count(source.name, events, rejected)
        if call != "batch" and rejected:
            item = rejected[0]
            return error(400, item.message, item.reason)
        self._answered_200.inc()
        return success(rejected)

    def _admit(self, source: str, split: Split) -> tuple[list[dict[str, Any]], list[bytes]]:
        """The events the privacy gate lets through (suppressed users, field controls), with their JSON:
        validation's bytes while the gate can have changed nothing, else the events serialized anew."""
        events = self.privacy.admit(source, split.accepted)
        if source in self.privacy.policies or len(events) != len(split.accepted):
            return events, [orjson.dumps(event) for event in events]
        return events, split.encoded

    def _count(self, source: str, events: list[dict[str, Any]], rejected: list[Rejected]) -> None:
        """Count received events by type and rejected items by reason."""
        by_type: dict[str, int] = {}
        for event in events:
            by_type[event["type"]] = by_type.get(event["type"], 0) + 1
        for call_type, count in by_type.items():
            counter = self._received.get((source, call_type))
            if counter is None:
                counter = self._received[source, call_type] = metrics.EVENTS_RECEIVED.labels(
                    source, call_type)
            counter.inc(count)
        by_reason: dict[str, int] = {}
        for item in rejected:
            by_reason[item.reason] = by_reason.get(item.reason, 0) + 1
        for reason, count in by_reason.items():
            metrics.INGEST_REJECTED.labels(source, reason).inc(count)
