"""Protocols enforcement: apply a tracking plan and a source's schema controls to one event.

Contract
--------
``enforce(plan, settings, event) -> Verdict`` never raises on a JSON-like dict and never mutates
``event``.  In ``mode="enforce"`` the verdict's ``event`` is a copy with omissions applied and
``context.protocols`` annotated as Segment does (``omitted``, ``omitted_on_violation``,
``violations``; each key written only when non-empty), or ``None`` when blocked.  In
``mode="observe"`` the event is returned untouched and ``would_block`` / ``would_omit`` say what
enforcement would have done.

Order: unplanned track events (block) → JSON Schema validation of the *original* event against
the event rule and the common rule → violation actions (BLOCK wins over OMIT) → unplanned
property/trait omission.  Only top-level properties/traits are ever omitted; a violation inside
``properties.products.0.price`` omits ``properties.products``.  Violations that cannot be omitted
(missing required keys, ``context``, ``userId``) leave the event as is.

:class:`Enforcer` is ``enforce`` for one (plan, settings) pair, as the pipeline holds it per source:
the actions per call type are looked up once, and what the plan says about an event — its rule and
its unplanned keys — is remembered per (call, name, version, sequence of payload keys), bounded
(plans are not modified once built).  ``enforce`` keeps one Enforcer per (plan, settings) object.
``is_valid`` runs first; error objects are built only for invalid events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .plan import Rule, TrackingPlan
from .settings import ProtocolsSettings
from .violations import invalid_event_errors

_PAYLOAD_KEY = {"track": "properties", "page": "properties", "screen": "properties",
                "identify": "traits", "group": "traits"}
_PAYLOAD_CALLS = frozenset({"track", "identify", "group"})
"""Calls whose properties/traits can be unplanned (Segment has no such concept for page/screen)."""
_NAMED_CALLS = frozenset({"page", "screen"})
_NONE: frozenset[str] = frozenset()
_SHAPES_MAX = 4096
_KEPT_MAX = 64
_kept: dict[tuple[int, int], Enforcer] = {}
"""The Enforcers ``enforce`` made, per (plan, settings) object; each holds both, so ids stay unique."""


class Shape(NamedTuple):
    """What a plan says about events of one (call, name, version, sequence of payload keys)."""

    rule: Rule | None
    label: str | None
    extra: tuple
    """Unplanned payload keys."""
    paths: tuple[str, ...]
    """The same, as ``payload_key.key`` paths."""
    passes: bool
    """A valid event passes on unchanged: it is planned and nothing unplanned is to be omitted."""


_NO_SHAPE = Shape(None, None, (), (), False)


@dataclass(slots=True)
class Verdict:
    """Outcome of ``enforce``; ``would_*`` are filled in observe mode only."""

    event: dict | None
    blocked: bool = False
    violations: list[dict] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)
    omitted_on_violation: list[str] = field(default_factory=list)
    unplanned: list[str] = field(default_factory=list)
    rule: str | None = None
    would_block: bool = False
    would_omit: list[str] = field(default_factory=list)


def enforce(plan: TrackingPlan, settings: ProtocolsSettings, event: dict) -> Verdict:
    """Validate ``event`` against ``plan`` and apply ``settings``; see the module contract."""
    kept = _kept.get((id(plan), id(settings)))
    if kept is None or kept.plan is not plan or kept.settings is not settings:
        if len(_kept) >= _KEPT_MAX:
            _kept.clear()
        kept = _kept[(id(plan), id(settings))] = Enforcer(plan, settings)
    return kept.check(event)


class Enforcer:
    """``enforce`` with its plan and settings fixed (see the module contract)."""

    def __init__(self, plan: TrackingPlan, settings: ProtocolsSettings) -> None:
        self.plan, self.settings = plan, settings
        self.observe = settings.mode == "observe"
        self._actions = {call: settings.actions(call) for call in (*_PAYLOAD_KEY, "")}
        self._shapes: dict[tuple, Shape] = {}
        self._versioned = any(len(versions) > 1 for table in (plan.events, plan.pages, plan.screens)
                              for versions in table.values())
        """Whether ``context.protocols.event_version`` can choose a rule (else it is not read)."""

    def check(self, event: dict) -> Verdict:
        """The verdict on one event; ``event`` is not mutated."""
        call = event.get("type")
        payload_key = _PAYLOAD_KEY.get(call) if isinstance(call, str) else None
        if payload_key is None:
            return self._judge(event, "", "properties", None, _NO_SHAPE)
        payload = event.get(payload_key)
        shape = self._shape(call, event, payload, payload_key)
        if shape.passes and self._valid(shape.rule, event):  # only the verdict is built
            return Verdict(event, False, [], [], [], [*shape.paths], shape.label)
        return self._judge(event, call, payload_key, payload, shape)

    def _valid(self, rule: Rule | None, event: dict) -> bool:
        """Valid against the event's rule (if any) and the common rule; False when not JSON-like."""
        common = self.plan.common
        try:
            return ((rule is None or rule.validator.is_valid(event))
                    and (common is None or common.validator.is_valid(event)))
        except ValueError:
            return False  # not JSON-representable: judged and reported by check

    def _judge(self, event: dict, call: str, payload_key: str, payload: Any, shape: Shape) -> Verdict:
        """The full decision (see the module contract); ``call`` is "" for other call types."""
        rule, label, extra, paths, _ = shape
        on_unplanned_event, on_unplanned, on_violation, on_common = self._actions[call]
        unplanned: list[str] = []
        block = False
        if rule is None and call == "track":
            unplanned.append(f"event {event.get('event')!r}")
            block = on_unplanned_event == "block"
        common = self.plan.common
        event_violations = _violations(rule.validator, event) if rule and not block else []
        common_violations = _violations(common.validator, event) if common and not block else []
        violations = event_violations + common_violations
        omit_on_violation: set[str] = set()
        if violations:
            for action, found in ((on_violation, event_violations), (on_common, common_violations)):
                if found and action == "BLOCK":
                    block = True
                elif found and action.startswith("OMIT"):
                    omit_on_violation |= _violation_targets(found, payload_key)
            omit_on_violation &= payload.keys() if isinstance(payload, dict) else set()
        omit_unplanned: list[str] = []
        if paths:
            unplanned += paths
            if on_unplanned == "omit":
                omit_unplanned = [k for k in extra if k not in omit_on_violation]
        if not (omit_unplanned or omit_on_violation or block) and (self.observe or not violations):
            return Verdict(event, False, violations, [], [], unplanned, label)
        omitted = [f"{payload_key}.{k}" for k in omit_unplanned]
        on_violation_paths = sorted(f"{payload_key}.{k}" for k in omit_on_violation)
        if self.observe:
            return Verdict(event, False, violations, [], [], unplanned, label, block,
                           [] if block else omitted + on_violation_paths)
        if block:
            return Verdict(None, True, violations, [], [], unplanned, label)
        event = _annotate(event, payload_key, omit_unplanned + sorted(omit_on_violation), omitted,
                          on_violation_paths, violations)
        return Verdict(event, False, violations, omitted, on_violation_paths, unplanned, label)

    def _shape(self, call: str, event: dict, payload: Any, payload_key: str) -> Shape:
        """What the plan says about ``event``: remembered per (call, name, version, payload keys)."""
        version = None
        if self._versioned:
            context = event.get("context")
            protocols = context.get("protocols") if isinstance(context, dict) else None
            version = protocols.get("event_version") if isinstance(protocols, dict) else None
        name = (event.get("event") if call == "track"
                else event.get("name") if call in _NAMED_CALLS else None)
        keys = tuple(payload) if isinstance(payload, dict) and call in _PAYLOAD_CALLS else None
        memo = (call, name if isinstance(name, str) else None,
                version if type(version) is int else None, keys)
        shape = self._shapes.get(memo)
        if shape is None:
            if len(self._shapes) >= _SHAPES_MAX:
                self._shapes.clear()
            shape = self._shapes[memo] = self._plan_shape(memo, payload_key)
        return shape

    def _plan_shape(self, memo: tuple, payload_key: str) -> Shape:
        call, name, version, keys = memo
        plan = self.plan
        if call == "track":
            rule = plan.event_rule(name, version)
        elif call in _NAMED_CALLS:
            rule = plan.named_rule(call, name, version)
        else:
            rule = plan.identify if call == "identify" else plan.group
        extra: tuple = ()
        if keys is not None:
            planned = (rule.planned.get(payload_key, _NONE) if rule else _NONE) | (
                plan.common.planned.get(payload_key, _NONE) if plan.common else _NONE)
            extra = tuple(k for k in keys if k not in planned)
        passes = (rule is not None or call != "track") and not (
            extra and self._actions[call][1] == "omit")
        return Shape(rule, rule.label if rule else None, extra,
                     tuple(f"{payload_key}.{k}" for k in extra), passes)


def _violations(validator: Any, event: dict) -> list[dict]:
    """``schema_errors``: ``is_valid`` first, error objects only for an invalid event."""
    try:
        if validator.is_valid(event):
            return []
    except ValueError:
        pass  # not JSON-representable: reported as a violation
    return invalid_event_errors(validator, event)


def _violation_targets(violations: list[dict], payload_key: str) -> set[str]:
    """Top-level payload keys the violations point into (missing keys are dropped later)."""
    prefix = payload_key + "."
    return {v["field"][len(prefix):].split(".", 1)[0]
            for v in violations if v["field"].startswith(prefix)}


def _annotate(event: dict, payload_key: str, drop: list[str], omitted: list[str],
              on_violation: list[str], violations: list[dict]) -> dict:
    """Copy ``event`` with ``drop`` removed from its payload and ``context.protocols`` set."""
    if not (drop or violations):
        return event
    out = dict(event)
    if drop:
        payload = dict(out[payload_key])
        for key in drop:
            payload.pop(key, None)
        out[payload_key] = payload
    context = out.get("context", {})
    if not isinstance(context, dict):
        return out
    protocols = context.get("protocols")
    protocols = dict(protocols) if isinstance(protocols, dict) else {}
    for name, value in (("omitted", omitted), ("omitted_on_violation", on_violation),
                        ("violations", violations)):
        if value:
            protocols[name] = value
    out["context"] = {**context, "protocols": protocols}
    return out
