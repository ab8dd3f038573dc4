"""What the pipeline produces for one raw envelope, before anything is written to Kafka.

:class:`PipelineOutput` gathers, for one envelope: the items routed per destination, reject records
(``<prefix>.rejects``), blocked records (``<prefix>.blocked``), per-destination dead letters (functions and
transformations that failed), the messageIds to record for dedup, and **counts** of what every stage
discarded and why.  Counts are aggregated per envelope so the agent increments each Prometheus child
once per envelope, never per event.  Every key is made of workspace names and fixed reason strings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Item = dict[str, Any]


@dataclass
class DestinationDeadLetter:
    """An event a destination-side stage could not handle: goes to ``<prefix>.dlq.<destination>``."""

    destination: str
    item: Item
    error_class: str
    message: str


@dataclass
class PipelineOutput:
    """What one envelope produced (see module docstring)."""

    routes: dict[str, list[Item]] = field(default_factory=dict)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    blocked: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DestinationDeadLetter] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    discarded: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(source, stage, reason) → events the pipeline did not pass on."""
    filtered: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    """(source, destination, stage, reason) → events one destination did not get."""
    violations: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(source, violation type) → tracking-plan and naming violations."""
    event_violations: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(source, event name) → violations, only for sources that opted in (capped)."""
    protocol_actions: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(source, action) → blocked, omitted, would_block, would_omit."""


def reject_record(item: Any, stage: str, reason: str, message: str,
                  field_name: str | None = None) -> dict[str, Any]:
    """The JSON body written to the rejects topic for an item that cannot go on."""
    source = item.get("source") if isinstance(item, dict) else None
    event = item.get("event") if isinstance(item, dict) else None
    message_id = event.get("messageId") if isinstance(event, dict) else None
    record = {"source": source if isinstance(source, str) else None, "stage": stage,
              "reason": reason, "message": message, "item": item}
    if field_name is not None:
        record["field"] = field_name
    if isinstance(message_id, str):
        record["messageId"] = message_id
    return record
