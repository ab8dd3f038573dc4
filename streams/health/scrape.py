"""Counters and histograms read from the eventyard processes' ``/metrics`` endpoints.

The health server shows what the topics cannot tell: ingest rejects that never reached a topic,
pipeline discards (dedup, Protocols), destination filters, retries, and delivery latency.  Those come
from the processes' Prometheus counters, summed over every URL given with ``--scrape`` (one per ingest
and worker process).  A URL that does not answer is reported in ``Scrape.errors`` and left out.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, dict[str, str], float]


@dataclass
class Scrape:
    """Samples of one scrape round over several processes."""

    samples: list[Sample] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def total(self, name: str, **match: str) -> float:
        """Sum of the samples named ``name`` whose labels include ``match``."""
        return sum(value for sample, labels, value in self.samples
                   if sample == name and all(labels.get(k) == v for k, v in match.items()))

    def quantile(self, histogram: str, q: float, **match: str) -> float | None:
        """``q``-quantile of a histogram summed over processes (Prometheus' interpolation), or None."""
        buckets: dict[float, float] = {}
        for sample, labels, value in self.samples:
            if sample == f"{histogram}_bucket" and all(labels.get(k) == v for k, v in match.items()):
                bound = float(labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + value
        if not buckets or buckets.get(math.inf, 0.0) == 0:
            return None
        bounds = sorted(buckets)
        rank = q * buckets[math.inf]
        lower_bound, lower_count = 0.0, 0.0
        for bound in bounds:
            count = buckets[bound]
            if count >= rank:
                if bound == math.inf:
                    return lower_bound
                if count == lower_count:
                    return bound
                return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
            lower_bound, lower_count = bound, count
        return lower_bound


async def scrape(urls: list[str], timeout: float = 2.0) -> Scrape:
    """Fetch and parse every URL concurrently."""
    result = Scrape()
    if not urls:
        return result
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        texts = await asyncio.gather(*(_fetch(session, url) for url in urls), return_exceptions=True)
    for url, text in zip(urls, texts):
        if isinstance(text, BaseException):
            result.errors[url] = f"{type(text).__name__}: {text}"
            continue
        for family in text_string_to_metric_families(text):
            result.samples += [(s.name, s.labels, s.value) for s in family.samples]
    return result


async def _fetch(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        response.raise_for_status()
        return await response.text()
