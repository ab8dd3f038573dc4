"""End to end: HTTP → ingest → worker → ``kafka_topic`` destination, at fixed offered rates.

:func:`offered_run` runs the fixed-rate load process (:mod:`eventyard.bench.loadgen`) for a while and
reads, from the :class:`~eventyard.bench.probes.OutputTap`, the ``receivedAt`` → delivered latency of
the events ingest received in that window.  A rate is *sustained* when the load process achieved it
with no errors and the lag did not grow: the median latency of the last third of the window is within
:data:`LAG_GROWTH_MS` of the first third's, and p99 stays under :data:`SUSTAINED_P99_MS`.
:func:`highest_sustained` steps the rate up until one is not.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

import orjson

from eventyard.bench.probes import OutputTap, WorkerCounters
from eventyard.bench.report import percentile
from eventyard.bench.workspace import WRITE_KEY

LAG_GROWTH_MS = 250.0
SUSTAINED_P99_MS = 2000.0


@dataclass
class RateResult:
    """One offered rate and what came out."""

    offered: float
    achieved: float
    errors: int
    delivered: int
    p50_ms: float | None
    p99_ms: float | None
    lag_growth_ms: float | None
    http_p99_ms: float

    @property
    def sustained(self) -> bool:
        """Achieved without errors, with bounded latency and no growing lag."""
        return (self.achieved >= 0.95 * self.offered and self.errors == 0 and self.delivered > 0
                and self.p99_ms is not None and self.p99_ms <= SUSTAINED_P99_MS
                and (self.lag_growth_ms or 0.0) <= LAG_GROWTH_MS)

    def as_dict(self) -> dict:
        """JSON-friendly figures."""
        return {"offered": self.offered, "achieved": round(self.achieved), "errors": self.errors,
                "delivered": self.delivered, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
                "lag_growth_ms": self.lag_growth_ms, "http_p99_ms": round(self.http_p99_ms, 1),
                "sustained": self.sustained}


async def run_loadgen(url: str, rate: float, seconds: float) -> dict:
    """Run the load process and return its JSON answer."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eventyard.bench.loadgen", url, WRITE_KEY, str(rate), str(seconds),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"load process failed: {err.decode()[-2000:]}")
    return orjson.loads(out)


async def offered_run(tap: OutputTap, ingest_url: str, rate: float, seconds: float) -> RateResult:
    """Offer ``rate`` events/s for ``seconds`` and measure what the tap saw."""
    start_ms = time.time() * 1000
    load = await run_loadgen(ingest_url, rate, seconds)
    end_ms = time.time() * 1000
    await tap.settle()
    window = tap.window(start_ms, end_ms)
    latencies = [latency for _, latency in window]
    third = (end_ms - start_ms) / 3
    early = [latency for received, latency in window if received < start_ms + third]
    late = [latency for received, latency in window if received >= end_ms - third]
    growth = None
    if early and late:
        growth = percentile(late, 0.5) - percentile(early, 0.5)
    return RateResult(rate, load["achieved_rate"], load["errors"] + load["skipped"], len(window),
                      percentile(latencies, 0.5), percentile(latencies, 0.99), growth, load["p99_ms"])


async def settle_backlog(tap: OutputTap, counters: WorkerCounters, quiet: float = 5.0,
                         timeout: float = 300.0) -> None:
    """Wait until the workers have worked off what earlier rates left: neither the output nor any worker
    counter (events resolved by destinations, discarded by pipeline stages) moved for ``quiet`` seconds.

    The output alone is not enough: the output can pause while a worker's pipeline works through a raw
    backlog (for seconds before the worker served its destination topics first, docs/performance.md,
    "Deliveries first"; the wait still covers it).
    """
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        await asyncio.sleep(0.5)
        resolved, discarded = await asyncio.to_thread(counters.read)
        seen = (tap.count, sum(resolved.values()), sum(discarded.values()))
        if seen != last:
            last, since = seen, time.monotonic()


async def highest_sustained(tap: OutputTap, ingest_url: str, rates: list[float],
                            seconds: float) -> list[RateResult]:
    """Offer each rate in turn until one is not sustained; return every step."""
    steps = []
    for rate in rates:
        steps.append(await offered_run(tap, ingest_url, rate, seconds))
        if not steps[-1].sustained:
            break
    return steps
