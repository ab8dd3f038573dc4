"""The figures of the health view, as plain data: used by the HTML pages, ``/api/summary`` and the CLI.

Where each figure comes from (and why): volumes, routed / delivered / dead-lettered counts, error samples
and lineage come from the **topics** (``HealthState``), because the topics are the truth across any
number of workers and survive process restarts that reset counters.  Stages that leave no record on a
topic — ingest rejects per source, Protocols and dedup discards, destination filters, retries — and the
delivery latency histogram come from the processes' **/metrics** (``Scrape``); without ``--scrape`` URLs
they show as ``None``.

Funnel rows follow Segment's Delivery Overview order (see docs/health.md for the metric of each row).
"""

from __future__ import annotations

from typing import Any

from eventyard.config.workspace import Workspace
from eventyard.streams.health.scrape import Scrape
from eventyard.streams.health.state import HealthState

FUNNEL_STAGES = ("received", "failed_on_ingest", "filtered_at_source", "deduplicated",
                 "filtered_at_destination", "retried", "failed_delivery", "delivered")


def _scraped(scrape: Scrape, name: str, **match: str) -> float | None:
    return scrape.total(name, **match) if scrape.samples else None


def _sum(values: list[float | None]) -> int | None:
    known = [v for v in values if v is not None]
    return int(sum(known)) if known else None


def destination_funnel(workspace: Workspace, state: HealthState, scrape: Scrape,
                       destination: str) -> list[tuple[str, int | None]]:
    """(stage, events) rows for one destination, in Delivery Overview order."""
    config = workspace.destination(destination)
    sources = config.sources or [s.name for s in workspace.sources]
    stats = state.destinations[destination]

    def per_source(name: str, **match: str) -> int | None:
        return _sum([_scraped(scrape, name, source=s, **match) for s in sources])

    return [
        ("received", sum(state.received.get(s, 0) for s in sources)),
        ("failed_on_ingest", per_source("eventyard_ingest_rejected_total")),
        ("filtered_at_source", per_source("eventyard_pipeline_discarded_total", stage="protocols")),
        ("deduplicated", per_source("eventyard_pipeline_discarded_total", stage="dedup")),
        ("filtered_at_destination", _sum([_scraped(scrape, "eventyard_destination_filtered_total",
                                                   destination=destination)])),
        ("retried", _sum([_scraped(scrape, "eventyard_delivery_events_total",
                                   destination=destination, outcome="retried")])),
        ("failed_delivery", stats.dead_lettered),
        ("delivered", stats.delivered),
    ]


def build_summary(workspace: Workspace, state: HealthState, scrape: Scrape) -> dict[str, Any]:
    """Everything the overview shows, JSON-serializable."""
    sources = []
    for source in workspace.sources:
        series = state.volume_series(source.name)
        recent, before = sum(series[-5:]), sum(series[-10:-5])
        sources.append({"name": source.name, "received": state.received.get(source.name, 0),
                        "last_hour": sum(series), "per_minute": series,
                        "trend_percent": round(100.0 * (recent - before) / before, 1) if before else None,
                        "rejected": sum(n for (s, _), n in state.rejects.items() if s == source.name)})
    destinations, errors = [], []
    for name, stats in state.destinations.items():
        resolved = stats.delivered + stats.dead_lettered
        p95 = scrape.quantile("eventyard_delivery_latency_seconds", 0.95, destination=name)
        destinations.append({
            "name": name, "routed": stats.routed, "delivered": stats.delivered,
            "not_delivered": stats.dead_lettered, "pending": stats.routed - stats.settled,
            "success_rate": round(stats.delivered / resolved, 4) if resolved else None,
            "p95_latency_seconds": round(p95, 4) if p95 is not None else None,
            "funnel": destination_funnel(workspace, state, scrape, name)})
        for (error_class, status), row in sorted(stats.errors.items(), key=lambda kv: -kv[1]["count"]):
            errors.append({"destination": name, "error_class": error_class, "status": status,
                           "count": row["count"], "sample": row["sample"]})
    return {"workspace": workspace.name, "sources": sources, "destinations": destinations,
            "errors": errors, "blocked": state.blocked,
            "rejects": [{"source": s, "reason": r, "count": n} for (s, r), n in sorted(state.rejects.items())],
            "scrape_errors": scrape.errors}


def lookup(state: HealthState, message_id: str) -> list[dict[str, Any]] | None:
    """The path of one messageId as ordered steps ``{stage, status, detail}``; None when unknown."""
    lineage = state.lineage.get(message_id)
    if lineage is None:
        return None
    steps: list[dict[str, Any]] = []
    if lineage.received:
        r = lineage.received
        steps.append({"stage": "received", "status": "ok",
                      "detail": f"source {lineage.source}, {r['type']} call, raw partition "
                                f"{r['partition']} offset {r['offset']}, receivedAt {r['receivedAt']}"})
    if lineage.rejected:
        steps.append({"stage": "rejected", "status": "error",
                      "detail": ", ".join(f"{k} {v}" for k, v in lineage.rejected.items() if v)})
    if lineage.blocked:
        steps.append({"stage": "blocked by tracking plan", "status": "error",
                      "detail": f"violations: {lineage.blocked['violations']}"})
    for destination, (partition, offset) in sorted(lineage.routed.items()):
        steps.append({"stage": f"routed to {destination}", "status": "ok",
                      "detail": f"dest partition {partition} offset {offset}"})
        committed = state.committed.get((state.dest_topics[destination], partition), 0)
        headers = lineage.dead.get(destination)
        if headers:
            steps.append({"stage": f"dead-lettered by {destination}", "status": "error",
                          "detail": _dead_detail(headers)})
        elif committed > offset:
            steps.append({"stage": f"delivered to {destination}", "status": "ok",
                          "detail": f"worker group committed offset {committed} passed {offset}"})
        else:
            steps.append({"stage": f"pending at {destination}", "status": "pending",
                          "detail": "being delivered or retried (offset not committed yet)"})
    if lineage.received and not lineage.routed and not lineage.rejected and not lineage.blocked:
        steps.append({"stage": "not routed", "status": "pending",
                      "detail": "no destination has it (not processed yet, deduplicated, or filtered)"})
    return steps


def _dead_detail(headers: dict[str, str]) -> str:
    keys = ("class", "status", "message", "attempts", "first_attempt", "last_attempt")
    parts = [f"{k}: {headers['eventyard.error.' + k]}" for k in keys if f"eventyard.error.{k}" in headers]
    return "; ".join(parts)
