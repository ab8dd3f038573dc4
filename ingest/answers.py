"""The HTTP answers of the Tracking API: the pre-encoded success, JSON errors and CORS headers.

* Success is ``200 {"success": true}`` — the same bytes for every request, encoded once
  (segment-analytics-python 2.3.x treats anything but 200 as failure).  A batch with rejected items adds
  ``rejected`` (the first :data:`LISTED_REJECTS`).
* Errors are ``{"success": false, "error": "<names the limit or parse error>", "reason": "<fixed code>"}``
  and count in ``eventyard_ingest_requests_total{status_code}``.
* Browsers (analytics.js) may send from any origin, as with Segment's API: an answer to a request with an
  ``Origin`` header allows that origin (:func:`with_cors`); a preflight answers ``204`` with the allowed
  methods and headers.  Handlers call it on their answers themselves — an aiohttp middleware would cost
  two extra coroutine layers on every request.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import hdrs, web

from eventyard.ingest.validate import Rejected
from eventyard.streams import metrics

SUCCESS_BODY = b'{"success": true}'  # the bytes web.json_response({"success": True}) sent
LISTED_REJECTS = 20
CORS_HEADERS = {
    "Access-Control-Allow-Credentials": "true",
    "Vary": "Origin",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def success(rejected: list[Rejected]) -> web.Response:
    """The 200 answer; lists the first rejected items of a batch when there are any."""
    if not rejected:
        return web.Response(body=SUCCESS_BODY, content_type="application/json", charset="utf-8")
    listed = [{"index": r.index, "reason": r.reason, "field": r.field, "message": r.message}
              for r in rejected[:LISTED_REJECTS]]
    return web.json_response({"success": True, "rejected": listed})


def error(status: int, message: str, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON error answer, counted by status code."""
    metrics.INGEST_REQUESTS.labels(str(status)).inc()
    return web.json_response({"success": False, "error": message, "reason": reason},
                             status=status, headers=headers)


def with_cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """``response``, allowing the request's ``Origin`` (when it has one) to read it."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers.update(CORS_HEADERS)
    return response


def allow_browsers(handler: Handler) -> Handler:
    """``handler`` whose answers carry the CORS headers (for the routes off the hot path)."""
    async def answer_with_cors(request: web.Request) -> web.StreamResponse:
        return with_cors(request, await handler(request))
    return answer_with_cors
