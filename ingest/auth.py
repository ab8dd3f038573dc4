"""Write-key authentication, as Segment does it.

The write key comes from HTTP Basic auth (``base64("writeKey:")``, the password is ignored) or from the
body's ``writeKey``.  Keys are looked up by their SHA-256 digest, so the time a lookup takes does not
depend on how much of a guessed key matches a real one; the key itself is never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from eventyard.config.workspace import SourceConfig, Workspace


class AuthError(Exception):
    """Authentication failed; ``status`` is 401 (unknown key) or 404 (disabled source)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class WriteKeys:
    """Maps write keys to sources."""

    def __init__(self, workspace: Workspace) -> None:
        self._by_digest = {_digest(s.write_key): s for s in workspace.sources}

    def key_from_request(self, authorization: str | None, body: Any) -> str | None:
        """The write key of a request: Basic auth first, then the body's ``writeKey``."""
        if authorization and authorization[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            key = decoded.split(":", 1)[0]
            if key:
                return key
        if isinstance(body, dict) and isinstance(body.get("writeKey"), str):
            return body["writeKey"] or None
        return None

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
