"""The shared HTTP retry classifier: maps a response status or a transport exception to an outcome.

Modelled on Vector's ``RetryLogic``.  Defaults follow the design's retry classifier:

* success — 2xx;
* retry — timeouts, connection errors, 408, 423, 429 and every 5xx except 501;
* permanent — every other status (other 4xx, 501, 1xx, 3xx: redirects are not followed).

A destination may add statuses to either side with :class:`RetrySettings` (``retry_status`` /
``permanent_status``); an explicit entry wins over the defaults.  ``Retry-After`` headers (delta seconds
or an HTTP date) become ``Retry.retry_after`` in seconds.  Everything here is pure: no I/O.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
import time

import aiohttp
from pydantic import Field

from eventyard.destinations.base import DELIVERED, DestinationSettings, Fail, Outcome, Retry

SAMPLE_LIMIT = 1024
_DEFAULT_RETRY = frozenset({408, 423, 429})


class Verdict(enum.Enum):
    """What a status or an exception means for the event."""

    SUCCESS = "success"
    RETRY = "retry"
    PERMANENT = "permanent"


class RetrySettings(DestinationSettings):
    """Settings mixin of HTTP destinations: statuses that override the default classification."""

    retry_status: list[int] = Field(default_factory=list, description="statuses to retry besides the defaults")
    permanent_status: list[int] = Field(default_factory=list, description="statuses never retried")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return the delay a ``Retry-After`` header asks for, in seconds (≥ 0), or ``None`` if absent/invalid."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def truncate_sample(data: bytes | str | None, limit: int = SAMPLE_LIMIT) -> str | None:
    """Return ``data`` as text of at most ``limit`` UTF-8 bytes, ending in ``...`` when cut."""
    if data is None:
        return None
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) <= limit:
        return raw.decode(errors="replace")
    return raw[: limit - 3].decode(errors="ignore") + "..."


def _status_class(status: int) -> str:
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    return "http_status"


class RetryLogic:
    """Classifies HTTP statuses and transport exceptions; build one per destination from its settings."""

    def __init__(self, retry_status: list[int] | None = None, permanent_status: list[int] | None = None) -> None:
        self.retry_status = frozenset(retry_status or ())
        self.permanent_status = frozenset(permanent_status or ())

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> RetryLogic:
        """Build the classifier from a destination's :class:`RetrySettings`."""
        return cls(settings.retry_status, settings.permanent_status)

    def classify_status(self, status: int) -> Verdict:
        """Return the verdict for an HTTP status code."""
        if status in self.permanent_status:
            return Verdict.PERMANENT
        if status in self.retry_status:
            return Verdict.RETRY
        if 200 <= status < 300:
            return Verdict.SUCCESS
        if status in _DEFAULT_RETRY or (500 <= status < 600 and status != 501):
            return Verdict.RETRY
        return Verdict.PERMANENT

    def status_outcome(
        self,
        status: int,
        retry_after: str | None = None,
        request_sample: bytes | str | None = None,
        response_sample: bytes | str | None = None,
    ) -> Outcome:
        """Return the outcome of a response with ``status`` and its raw ``Retry-After`` header."""
        verdict = self.classify_status(status)
        if verdict is Verdict.SUCCESS:
            return DELIVERED
        request, response = truncate_sample(request_sample), truncate_sample(response_sample)
        reason = f"HTTP {status}"
        if verdict is Verdict.RETRY:
            return Retry(reason, parse_retry_after(retry_after), status, _status_class(status), request, response)
        return Fail(reason, status, _status_class(status), request, response)

    @staticmethod
    def exception_outcome(exc: BaseException, request_sample: bytes | str | None = None) -> Outcome:
        """Return the outcome of a request that raised ``exc`` before a response arrived.

        Timeouts and connection errors are retried; an invalid URL is permanent; any other client error is
        retried, since it says nothing about the event itself.
        """
        request = truncate_sample(request_sample)
        reason = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
            return Retry(reason, error_class="timeout", request_sample=request)
        if isinstance(exc, aiohttp.InvalidURL):
            return Fail(reason, error_class="invalid_url", request_sample=request)
        return Retry(reason, error_class="connection_error", request_sample=request)
