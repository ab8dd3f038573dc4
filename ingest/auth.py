"""Write-key authentication, as Segment does it.

The write key comes from HTTP Basic auth (``base64("writeKey:")``, the password is ignored) or from the
body's ``writeKey``.  Keys are looked up by their SHA-256 digest, so the time a lookup takes does not
depend on how much of a guessed key matches a real one; the key itself is never logged.

SDKs send the same ``Authorization`` header with every request, so :meth:`WriteKeys.source_for_request`
remembers which header values named an enabled source (at most :data:`REMEMBERED_HEADERS`, forgotten
all at once when full) and answers them with one dictionary lookup instead of base64 and SHA-256
(~2 µs).  Only headers that succeeded are remembered, so guesses cannot fill it with entries, and a
lookup compares a guess with a remembered header only when their (per-process randomized) string
hashes are equal: its time tells nothing about how much of a header matches.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from eventyard.config.workspace import SourceConfig, Workspace

REMEMBERED_HEADERS = 1024


class AuthError(Exception):
    """Authentication failed; ``status`` is 401 (unknown key) or 404 (disabled source)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def key_from_authorization(authorization: str | None) -> str | None:
    """The write key in an HTTP Basic ``Authorization`` header, or None."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[0] or None


class WriteKeys:
    """Maps write keys to sources."""

    def __init__(self, workspace: Workspace) -> None:
        self._by_digest = {_digest(s.write_key): s for s in workspace.sources}
        self._by_header: dict[str, SourceConfig] = {}

    def source_for_request(self, authorization: str | None, body: Any) -> SourceConfig:
        """The enabled source of a request: by its Basic auth key, else by the body's ``writeKey``;
        raise AuthError when there is no key, the key is unknown or its source is disabled."""
        source = self._by_header.get(authorization) if authorization else None
        if source is not None:
            return source
        key = key_from_authorization(authorization)
        if key is None:
            return self.source_for(_body_key(body))
        source = self.source_for(key)
        if len(self._by_header) >= REMEMBERED_HEADERS:
            self._by_header.clear()
        self._by_header[authorization] = source
        return source

    def source_for(self, key: str | None) -> SourceConfig:
        """The enabled source owning ``key``; raise AuthError otherwise."""
        if not key:
            raise AuthError(401, "missing write key (HTTP Basic auth or writeKey in the body)")
        source = self._by_digest.get(_digest(key))
        if source is None:
            raise AuthError(401, "unknown write key")
        if not source.enabled:
            raise AuthError(404, f"source {source.name!r} is disabled")
        return source


def _body_key(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("writeKey"), str):
        return body["writeKey"] or None
    return None
