"""The per-source stages of the pipeline, after dedup: normalize → tracking plan → source transforms.

:class:`SourceStages` is built once per source from the workspace (the tracking plan is loaded and
compiled at start; :class:`~eventyard.transforms.protocols.PlanError` names the file).
:meth:`SourceStages.run` takes one event and returns the event to pass on, or ``None``; everything
else it decides is recorded in the envelope's :class:`PipelineOutput`:

* ``NormalizationError`` (over-long names, bad ``receivedAt``) → a reject record, stage ``normalize``;
* tracking plan (``enforce``): violations counted per (source, violation type); in ``enforce`` mode a
  blocked event becomes a blocked record (and, with ``forwarding_blocked_events_to``, an item of that
  source), omissions are counted; in ``observe`` mode nothing changes and would-block / would-omit are
  counted; with ``forwarding_violations_to`` each violation becomes a ``Violation Generated`` event;
* naming lint (on by default): findings are counted as violations of type ``naming``, never block;
* source transformations in order: ``None`` drops (counted), an error rejects (stage
  ``source_transform``).

Forwarded items are returned through ``forward`` and run through the target source's stages once;
a forwarded item is never forwarded again, so forwarding cannot loop.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from eventyard.config.workspace import SourceConfig
from eventyard.streams.pipeline_output import Item, PipelineOutput, reject_record
from eventyard.transforms.functions import UserFunction
from eventyard.transforms.protocols import NormalizationError, enforce, load_plan, normalize
from eventyard.transforms.protocols.naming import lint_event_name, lint_key
from eventyard.transforms.protocols.violations import violation_event

OTHER_EVENTS = "_other"


@lru_cache(maxsize=8192)
def _name_findings(name: str) -> int:
    return len(lint_event_name(name))


@lru_cache(maxsize=16384)
def _key_findings(key: str, case: str) -> int:
    return len(lint_key(key, "", case))


def _count_key_findings(obj: Any, case: str) -> int:
    count = 0
    if isinstance(obj, dict):
        for key, value in obj.items():
            count += _key_findings(str(key), case)
            if isinstance(value, (dict, list)):
                count += _count_key_findings(value, case)
    elif isinstance(obj, list):
        for value in obj:
            if isinstance(value, (dict, list)):
                count += _count_key_findings(value, case)
    return count


def naming_findings(event: dict, case: str) -> int:
    """How many naming-lint findings ``event`` has (cached per name and key)."""
    name = event.get("event")
    count = _name_findings(name) if event.get("type") == "track" and isinstance(name, str) else 0
    return (count + _count_key_findings(event.get("properties"), case)
            + _count_key_findings(event.get("traits"), case))


def violation_label(kind: str) -> str:
    """A violation type as a metric label: ``Invalid Type`` → ``invalid_type``."""
    return kind.lower().replace(" ", "_")


class SourceStages:
    """Normalization, tracking plan and source transformations of one source."""

    def __init__(self, config: SourceConfig, directory: Path) -> None:
        self.name = config.name
        self.plan = load_plan(directory / config.tracking_plan) if config.tracking_plan else None
        self.plan_name = config.tracking_plan or ""
        self.settings = config.protocols
        self.observe = self.settings.mode == "observe"
        self.lint_case = config.naming_lint.case if config.naming_lint.enabled else None
        self.event_label_cap = config.violation_event_labels
        self._event_labels: set[str] = set()
        self.transforms = [t for t in config.transforms if t.enabled]
        self.functions = [UserFunction(str(directory / f.file), f.function, f.timeout_seconds)
                          for f in config.functions]

    def run(self, item: Item, out: PipelineOutput, forward: Callable[[str, dict], None] | None) -> dict | None:
        """Run ``item``'s event through the stages; ``forward(source, event)`` when forwarding is on."""
        source = self.name
        try:
            event = normalize(item["event"], item["event"].get("receivedAt"))
        except NormalizationError as exc:
            reason = str(exc.reason).replace(" ", "_")
            out.rejects.append(reject_record(item, "normalize", reason, str(exc), exc.field))
            return None
        if self.lint_case is not None:
            findings = naming_findings(event, self.lint_case)
            if findings:
                out.violations[(source, "naming")] += findings
        if self.plan is not None:
            event = self._enforce(item, event, out, forward)
            if event is None:
                return None
        for transformation in self.transforms:
            try:
                event = transformation.apply(event)
            except Exception as exc:  # an FQL evaluation error in user config must not stop others
                out.rejects.append(reject_record(item, "source_transform", "transform_error",
                                                 f"{type(exc).__name__}: {exc}"))
                return None
            if event is None:
                out.discarded[(source, "source_transform", "dropped")] += 1
                return None
        return event

    def _enforce(self, item: Item, event: dict, out: PipelineOutput,
                 forward: Callable[[str, dict], None] | None) -> dict | None:
        source, settings = self.name, self.settings
        verdict = enforce(self.plan, settings, event)
        if verdict.violations:
            for violation in verdict.violations:
                out.violations[(source, violation_label(violation["type"]))] += 1
            if self.event_label_cap:
                out.event_violations[(source, self._event_label(event))] += len(verdict.violations)
            if forward is not None and settings.forwarding_violations_to:
                received = event.get("receivedAt")
                for violation in verdict.violations:
                    forward(settings.forwarding_violations_to, {**violation_event(
                        event, violation, source_name=source, source_slug=source,
                        tracking_plan_name=self.plan_name, received_at=received),
                        "receivedAt": received})
        if self.observe:
            if verdict.would_block:
                out.protocol_actions[(source, "would_block")] += 1
            elif verdict.would_omit:
                out.protocol_actions[(source, "would_omit")] += 1
            return event
        if verdict.blocked:
            out.protocol_actions[(source, "blocked")] += 1
            out.discarded[(source, "tracking_plan", "blocked")] += 1
            out.blocked.append({"source": source, "messageId": event.get("messageId"),
                                "rule": verdict.rule, "violations": verdict.violations,
                                "unplanned": verdict.unplanned, "event": event})
            if forward is not None and settings.forwarding_blocked_events_to:
                forward(settings.forwarding_blocked_events_to, event)
            return None
        if verdict.omitted or verdict.omitted_on_violation:
            out.protocol_actions[(source, "omitted")] += 1
        return verdict.event

    def _event_label(self, event: dict) -> str:
        """The event's name as a label, for at most ``violation_event_labels`` distinct names."""
        name = event.get("event") if event.get("type") == "track" else event.get("type")
        name = name if isinstance(name, str) else OTHER_EVENTS
        if name in self._event_labels:
            return name
        if len(self._event_labels) < self.event_label_cap:
            self._event_labels.add(name)
            return name
        return OTHER_EVENTS
