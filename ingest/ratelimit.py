"""Optional per-source rate limits at ingest: one token bucket per source, counted in events.

A source with ``rate_limit: {events_per_second, burst}`` in the workspace gets a bucket holding at most
``burst`` tokens, refilled continuously at ``events_per_second``.  A request carrying ``n`` events is
admitted when the bucket holds ``min(n, burst)`` tokens and then costs ``n`` (the bucket may go into
debt, so a batch larger than ``burst`` is admitted once the bucket is full instead of never).  A refused
request gets the number of seconds until it would be admitted, which the gateway answers as
``429`` with ``Retry-After`` (whole seconds, at least 1) and ``X-RateLimit-Reset`` (Unix time).

The limit is per ingest process: behind a load balancer of ``k`` processes a source may reach ``k``
times its rate.  Buckets live in memory and start full.
"""

from __future__ import annotations

import time

from eventyard.config.workspace import RateLimitConfig, Workspace


class TokenBucket:
    """A token bucket counted in events."""

    def __init__(self, config: RateLimitConfig, clock=time.monotonic) -> None:
        self.rate = config.events_per_second
        self.burst = float(config.burst)
        self.clock = clock
        self.tokens = self.burst
        self.updated = clock()

    def take(self, count: int) -> float:
        """Spend ``count`` tokens and return 0, or return the seconds to wait before retrying."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        needed = min(float(count), self.burst)
        if self.tokens >= needed:
            self.tokens -= count
            return 0.0
        return (needed - self.tokens) / self.rate


class SourceRateLimits:
    """The buckets of every rate-limited source of a workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self._buckets = {s.name: TokenBucket(s.rate_limit) for s in workspace.sources if s.rate_limit}

    def wait_seconds(self, source: str, count: int) -> float:
        """0 when ``source`` may send ``count`` events now, else the seconds until it may."""
        bucket = self._buckets.get(source)
        return bucket.take(count) if bucket is not None and count else 0.0
