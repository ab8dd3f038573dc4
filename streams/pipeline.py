"""The pipeline stage: one raw envelope in → per-destination event lists, rejects and discard counts.

``Pipeline.process(items)`` is pure (no Kafka) so it is tested directly; the Faust agent in
``eventyard.streams.agents`` feeds it decoded envelopes and writes what it returns.  For each item, in
Segment's order:

1. shape check — an item must be ``{"source": <known source>, "event": {...}}``; otherwise it becomes a
   reject record (``stage="decode"``) so nothing vanishes;
2. routing — :class:`~eventyard.streams.routing.Router` picks the destinations; an event no destination
   wants is counted as discarded (``stage="routing"``, ``reason="no_destination"``).

The output groups items by destination name, keeping their input order (per-user order holds because
the agent re-partitions them by user key on the way out).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from eventyard.config.workspace import Workspace
from eventyard.streams.routing import Router

Item = dict[str, Any]


@dataclass
class PipelineOutput:
    """What one envelope produced."""

    routes: dict[str, list[Item]] = field(default_factory=dict)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    discarded: Counter[tuple[str, str, str]] = field(default_factory=Counter)


def reject_record(item: Any, stage: str, reason: str, message: str) -> dict[str, Any]:
    """The JSON body written to the rejects topic for an item that cannot go on."""
    source = item.get("source") if isinstance(item, dict) else None
    return {"source": source if isinstance(source, str) else None, "stage": stage,
            "reason": reason, "message": message, "item": item}


class Pipeline:
    """Turns raw items into routed items for one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.router = Router(workspace)
        self.sources = {s.name for s in workspace.sources}

    def process(self, items: list[Any]) -> PipelineOutput:
        """Run every item of one envelope through the stages."""
        out = PipelineOutput()
        routes = out.routes
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("event"), dict):
                out.rejects.append(reject_record(item, "decode", "malformed_item",
                                                 "item is not {source, event}"))
                continue
            source = item.get("source")
            if source not in self.sources:
                out.rejects.append(reject_record(item, "decode", "unknown_source",
                                                 f"source {source!r} is not in the workspace"))
                continue
            targets = self.router.route(source, item["event"])
            if not targets:
                out.discarded[(source, "routing", "no_destination")] += 1
                continue
            for name in targets:
                routes.setdefault(name, []).append(item)
        return out
