"""Throughput of FQL filter evaluation: interpreted IR walk vs compiled closures.

Run: ``.venv/bin/python bench/fql_bench.py`` — prints evaluations per second for a typical
destination with three filters, evaluated over a small mix of track/identify/page events,
and the end-to-end :class:`FilterChain.apply` rate. Figures are indicative (one core,
no warm-up control beyond a first pass); docs/fql.md quotes a run of this script.
"""

from __future__ import annotations

import time

from eventyard.transforms.filters import FilterChain
from eventyard.transforms.fql import compile_fql, compile_matcher, evaluate_matcher

FILTERS = [
    "type = 'track' and event in ['Order Completed', 'Product Viewed', 'Checkout Started']",
    "match(context.library.name, 'analytics.*') and !contains(properties.email, '@internal.example')",
    "properties.revenue > 100 or length(userId) = 0",
]

EVENTS = [
    {"type": "track", "event": "Order Completed", "userId": "u-1",
     "context": {"library": {"name": "analytics.js", "version": "2.11.1"}},
     "properties": {"revenue": 120.5, "email": "a@example.com"}},
    {"type": "track", "event": "Signed Up", "userId": "",
     "context": {"library": {"name": "analytics-python", "version": "2.3"}},
     "properties": {"revenue": 5, "email": "b@internal.example"}},
    {"type": "identify", "userId": "u-3", "traits": {"email": "c@example.com"},
     "context": {"library": {"name": "analytics-ios", "version": "4.1"}}},
    {"type": "page", "name": "Home", "anonymousId": "a-4",
     "context": {"library": {"name": "analytics.js", "version": "2.11.1"}}, "properties": {}},
]


def _rate(fn, rounds: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return rounds / (time.perf_counter() - start)


def main() -> None:
    irs = [compile_fql(text) for text in FILTERS]
    matchers = [compile_matcher(ir) for ir in irs]
    per_pass = len(EVENTS) * len(FILTERS)

    def interpreted() -> None:
        for event in EVENTS:
            for ir in irs:
                evaluate_matcher(ir, event)

    def compiled() -> None:
        for event in EVENTS:
            for matcher in matchers:
                matcher(event)

    chain = FilterChain.from_config([
        {"if": FILTERS[0], "actions": [{"type": "sample", "percent": 0.5, "path": "userId"}]},
        {"if": FILTERS[1], "actions": [{"type": "drop_properties", "fields": {"properties": ["email"]}}]},
        {"if": FILTERS[2], "actions": [{"type": "drop"}]},
    ])

    def chained() -> None:
        for event in EVENTS:
            chain.apply(event)

    slow = _rate(interpreted, 5_000) * per_pass
    fast = _rate(compiled, 20_000) * per_pass
    apply = _rate(chained, 10_000) * len(EVENTS)
    print(f"filter evaluations/s, interpreted IR : {slow:12,.0f}")
    print(f"filter evaluations/s, compiled       : {fast:12,.0f}  ({fast / slow:.1f}x)")
    print(f"events/s through a 3-filter chain    : {apply:12,.0f}")


if __name__ == "__main__":
    main()
