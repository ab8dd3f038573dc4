"""The pipeline stage: one raw envelope in → per-destination events, rejects, blocked events and counts.

``Pipeline.process(items, is_duplicate)`` is pure (no Kafka) so it is tested directly; the agent
(``eventyard.streams.pipeline_agent``) runs the same two phases with user functions between them and
writes what they return.  Stages, in Segment's order:

source phase (:meth:`Pipeline.source_phase`), per item —

1. shape check: ``{"source": <known source>, "event": {...}}``, else a reject (stage ``decode``);
2. dedup: a messageId seen earlier in the envelope, or for which ``is_duplicate(messageId)`` says so,
   is counted (``dedup``/``duplicate``) and dropped; the others are listed in ``message_ids``;
3. the source's stages (``eventyard.streams.source_stages``): normalize → tracking plan → source
   transformations; then items forwarded by Protocols (blocked events, ``Violation Generated``) run
   through their target source's stages;

(source functions run here, in the agent)

destination phase (:meth:`Pipeline.destination_phase`), per item —

4. routing: :class:`~eventyard.streams.routing.Router` (enabled, sources, ``integrations``); an event no
   destination wants is counted (``routing``/``no_destination``); integrations exclusions are counted
   per destination;
5. per destination (``eventyard.streams.fanout``): filters → destination transformations.

The output keeps input order within each destination (per-user order holds because the agent
re-partitions by user key on the way out).  An event that no stage of a destination changed is
routed as the same item object to every such destination; no stage ever mutates an event in place
(each copies what it edits), so sharing is safe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from eventyard.config.workspace import Workspace
from eventyard.streams.fanout import DestinationStages
from eventyard.streams.pipeline_output import DestinationDeadLetter, Item, PipelineOutput, reject_record
from eventyard.streams.routing import Router
from eventyard.streams.source_stages import SourceStages


class Pipeline:
    """Turns raw items into routed items for one workspace (``directory``: where plan files live)."""

    def __init__(self, workspace: Workspace, directory: str | Path = ".") -> None:
        directory = Path(directory)
        self.router = Router(workspace)
        self.dedup = workspace.dedup.enabled
        self.sources = {s.name: SourceStages(s, directory) for s in workspace.sources}
        self.destinations = {d.name: DestinationStages(d, directory)
                             for d in workspace.destinations if d.enabled}
        self.has_source_functions = any(s.functions for s in self.sources.values())
        self.has_destination_functions = any(d.functions for d in self.destinations.values())

    def process(self, items: list[Any], is_duplicate: Callable[[str], bool] | None = None) -> PipelineOutput:
        """Both phases, without user functions (see module docstring)."""
        out = PipelineOutput()
        self.destination_phase(self.source_phase(items, out, is_duplicate), out)
        return out

    def source_phase(self, items: list[Any], out: PipelineOutput,
                     is_duplicate: Callable[[str], bool] | None = None) -> list[Item]:
        """Stages 1–3; returns the accepted items (new dicts; the input is not mutated)."""
        accepted: list[Item] = []
        forwarded: list[tuple[str, dict]] = []
        forward = lambda source, event: forwarded.append((source, event))  # noqa: E731
        seen: set[str] = set()
        sources, dedup, message_ids = self.sources, self.dedup, out.message_ids
        for item in items:
            event = item.get("event") if isinstance(item, dict) else None
            if not isinstance(event, dict):
                out.rejects.append(reject_record(item, "decode", "malformed_item",
                                                 "item is not {source, event}"))
                continue
            source = item.get("source")
            stages = sources.get(source) if isinstance(source, str) else None
            if stages is None:
                out.rejects.append(reject_record(item, "decode", "unknown_source",
                                                 f"source {source!r} is not in the workspace"))
                continue
            message_id = event.get("messageId")
            if dedup and isinstance(message_id, str):
                if message_id in seen or (is_duplicate is not None and is_duplicate(message_id)):
                    out.discarded[(source, "dedup", "duplicate")] += 1
                    continue
                seen.add(message_id)
                message_ids.append(message_id)
            event = stages.run(item, out, forward)
            if event is not None:
                accepted.append({"source": source, "event": event})
        for source, event in forwarded:
            event = sources[source].run({"source": source, "event": event}, out, None)
            if event is not None:
                accepted.append({"source": source, "event": event})
        return accepted

    def destination_phase(self, items: list[Item], out: PipelineOutput) -> None:
        """Stages 4–5: fill ``out.routes``; an event no stage changed is routed as the same item."""
        routes, destinations, router = out.routes, self.destinations, self.router
        default_targets = router.default_targets
        for item in items:
            source, event = item["source"], item["event"]
            if router.has_disabled:
                for name in router.disabled(source, event):
                    out.dead_letters.append(DestinationDeadLetter(
                        name, item, "destination_disabled", f"destination {name} is disabled"))
            if event.get("integrations"):
                targets = router.route(source, event)
                for name in router.excluded(source, targets):
                    out.filtered[(source, name, "integrations", "disabled")] += 1
            else:
                targets = default_targets.get(source, ())
            if not targets:
                out.discarded[(source, "routing", "no_destination")] += 1
                continue
            for name in targets:
                stages = destinations[name]
                result = event if stages.passthrough else stages.apply(source, item, out)
                if result is None:
                    continue
                routed = routes.get(name)
                if routed is None:
                    routed = routes[name] = []
                routed.append(item if result is event else {"source": source, "event": result})
