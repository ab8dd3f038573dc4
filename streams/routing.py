"""Routing: which destinations an event goes to.

A destination receives an event when all of these hold (Segment's rules):

* the destination is enabled and, if it lists ``sources``, the event's source is among them;
* the event's ``integrations`` object allows it: the destination's own key (its ``integration_name``,
  else its name; case-sensitive) decides when present — ``false`` excludes, ``true`` or an options
  object includes — otherwise ``All`` decides, and ``All`` defaults to true.

``Router.route(source, event)`` returns the names of the destinations, in workspace order.  The answer
for events with no ``integrations`` object is precomputed per source, so the common case is a dict lookup.
``Router.excluded(source, targets)`` names the destinations an ``integrations`` object turned away;
``Router.disabled(source, event)`` the disabled destinations that would have received the event.
"""

from __future__ import annotations

from typing import Any

from eventyard.config.workspace import DestinationConfig, Workspace


def integrations_allow(integrations: Any, key: str) -> bool:
    """Whether an ``integrations`` object lets an event reach the destination answering to ``key``."""
    if not isinstance(integrations, dict):
        return True
    if key in integrations:
        value = integrations[key]
        return value is not False and value is not None
    everything = integrations.get("All", True)
    return everything is not False and everything is not None


class Router:
    """Routes events of each source to destination names."""

    def __init__(self, workspace: Workspace) -> None:
        self._candidates: dict[str, list[DestinationConfig]] = {
            source.name: [d for d in workspace.destinations
                          if d.enabled and (d.sources is None or source.name in d.sources)]
            for source in workspace.sources}
        self.default_targets = {name: [d.name for d in dests] for name, dests in self._candidates.items()}
        """Per source, what :meth:`route` answers for an event without an ``integrations`` object."""
        self._disabled: dict[str, list[DestinationConfig]] = {
            source.name: [d for d in workspace.destinations
                          if not d.enabled and (d.sources is None or source.name in d.sources)]
            for source in workspace.sources}
        self.has_disabled = any(self._disabled.values())
        """Whether any source has a disabled destination (else :meth:`disabled` is always empty)."""

    def route(self, source: str, event: dict[str, Any]) -> list[str]:
        """The destinations that should receive ``event`` from ``source``."""
        integrations = event.get("integrations")
        if not integrations:
            return self.default_targets.get(source, [])
        return [d.name for d in self._candidates.get(source, ())
                if integrations_allow(integrations, d.answers_to)]

    def disabled(self, source: str, event: dict[str, Any]) -> list[str]:
        """The *disabled* destinations that would otherwise receive ``event`` from ``source``.

        Their events are parked on the destination's dead-letter topic (class
        ``destination_disabled``) so ``eventyard dlq replay`` can deliver them once it is enabled.
        """
        parked = self._disabled.get(source)
        if not parked:
            return []
        integrations = event.get("integrations")
        return [d.name for d in parked if integrations_allow(integrations, d.answers_to)]

    def excluded(self, source: str, targets: list[str]) -> list[str]:
        """The destinations of ``source`` that ``route`` left out of ``targets``."""
        candidates = self.default_targets.get(source, [])
        if len(targets) == len(candidates):
            return []
        return [name for name in candidates if name not in targets]
