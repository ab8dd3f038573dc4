"""The per-source stages of the pipeline, after dedup: normalize → tracking plan → source transforms.

:class:`SourceStages` is built once per source from the workspace (the tracking plan is loaded and
compiled at start; :class:`~eventyard.transforms.protocols.PlanError` names the file).
:meth:`SourceStages.run` takes one event and returns the event to pass on, or ``None``; everything
else it decides is recorded in the envelope's :class:`PipelineOutput`:

* ``NormalizationError`` (over-long names, bad ``receivedAt``) → a reject record, stage ``normalize``
  (the names are scanned once per event, for this check and the naming lint together:
  :func:`~eventyard.transforms.protocols.key_scan.scan_event`);
* tracking plan (an :class:`~eventyard.transforms.protocols.Enforcer` per source): violations
  counted per (source, violation type); in ``enforce`` mode a blocked event becomes a blocked record
  (and, with ``forwarding_blocked_events_to``, an item of that source), omissions are counted; in
  ``observe`` mode nothing changes and would-block / would-omit are counted; with
  ``forwarding_violations_to`` each violation becomes a ``Violation Generated`` event;
* naming lint (on by default): findings are counted as violations of type ``naming``, never block;
* source transformations in order: ``None`` drops (counted), an error rejects (stage
  ``source_transform``).

Forwarded items are returned through ``forward`` and run through the target source's stages once;
a forwarded item is never forwarded again, so forwarding cannot loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from eventyard.config.workspace import SourceConfig
from eventyard.streams.pipeline_output import Item, PipelineOutput, reject_record
from eventyard.transforms.functions import UserFunction
from eventyard.transforms.protocols import Enforcer, NormalizationError, load_plan, normalize
from eventyard.transforms.protocols.key_scan import scan_event
from eventyard.transforms.protocols.normalize import check_names
from eventyard.transforms.protocols.violations import violation_event

OTHER_EVENTS = "_other"


def violation_label(kind: str) -> str:
    """A violation type as a metric label: ``Invalid Type`` → ``invalid_type``."""
    return kind.lower().replace(" ", "_")


class SourceStages:
    """Normalization, tracking plan and source transformations of one source."""

    def __init__(self, config: SourceConfig, directory: Path) -> None:
        self.name = config.name
        plan = load_plan(directory / config.tracking_plan) if config.tracking_plan else None
        self.enforcer = Enforcer(plan, config.protocols) if plan is not None else None
        self.plan_name = config.tracking_plan or ""
        self.settings = config.protocols
        self.observe = self.settings.mode == "observe"
        self.lint_case = config.naming_lint.case if config.naming_lint.enabled else None
        self.event_label_cap = config.violation_event_labels
        self._event_labels: set[str] = set()
        self.transforms = [t.program.apply for t in config.transforms if t.enabled]
        self.functions = [UserFunction(str(directory / f.file), f.function, f.timeout_seconds)
                          for f in config.functions]

    def run(self, item: Item, out: PipelineOutput, forward: Callable[[str, dict], None] | None) -> dict | None:
        """Run ``item``'s event through the stages; ``forward(source, event)`` when forwarding is on."""
        source = self.name
        event = item["event"]
        too_long, findings = scan_event(event, self.lint_case)
        try:
            if too_long:
                check_names(event)  # raises, naming the key
            event = normalize(event, event.get("receivedAt"), check_keys=False)
        except NormalizationError as exc:
            reason = str(exc.reason).replace(" ", "_")
            out.rejects.append(reject_record(item, "normalize", reason, str(exc), exc.field))
            return None
        if findings:
            out.violations[(source, "naming")] += findings
        if self.enforcer is not None:
            event = self._enforce(item, event, out, forward)
            if event is None:
                return None
        for transform in self.transforms:
            try:
                event = transform(event)
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
        verdict = self.enforcer.check(event)
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
