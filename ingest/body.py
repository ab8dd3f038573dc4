"""Reading a Tracking API request body: size caps, gzip, JSON.

``read_body`` returns the decoded JSON document or raises :class:`BodyError` carrying the HTTP status
and a message naming the limit or the parse error.  The compressed body is capped at the request limit
while it is read, and gzip is inflated incrementally with a cap on the *decompressed* size, so a gzip
bomb costs at most ``limit`` bytes of memory and gets a 400 — never an OOM.  Gzip is detected from
the gzip magic bytes, whatever ``Content-Type`` or ``Content-Encoding`` say (a body labelled gzip that
is not gzip was already inflated by the HTTP layer, whose inflation is bounded too) (rudder-sdk-node sends
gzip JSON labelled as form-urlencoded; analytics.js sends JSON as ``text/plain``).
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from aiohttp import web

GZIP_MAGIC = b"\x1f\x8b"


class BodyError(Exception):
    """A request body we refuse; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


async def read_capped(request: web.Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes of body; raise BodyError if there is more."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyError(400, f"request body exceeds the {limit}-byte limit", "request_too_large")
    content = request.content
    chunks: list[bytes] = []
    size = 0
    while not content.at_eof():  # a body that arrived whole is read with one call
        chunk = await content.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise BodyError(400, f"request body exceeds the {limit}-byte limit", "request_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip_capped(data: bytes, limit: int) -> bytes:
    """Inflate gzip ``data``, refusing output larger than ``limit`` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BodyError(400, f"invalid gzip body: {exc}", "invalid_gzip") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyError(400, f"decompressed body exceeds the {limit}-byte limit", "request_too_large")
    return out


async def read_body(request: web.Request, limit: int) -> Any:
    """Read, inflate and parse the JSON body of ``request``."""
    data = await read_capped(request, limit)
    encoding = request.headers.get("Content-Encoding", "").lower()
    if data[:2] == GZIP_MAGIC:
        data = gunzip_capped(data, limit)
    elif encoding not in ("", "identity", "gzip"):
        raise BodyError(415, f"unsupported Content-Encoding {encoding!r}", "unsupported_encoding")
    if not data.strip():
        raise BodyError(400, "empty request body", "invalid_json")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"invalid JSON: {exc}", "invalid_json") from None
