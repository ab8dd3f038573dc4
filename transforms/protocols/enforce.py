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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .plan import Rule, TrackingPlan
from .violations import schema_errors

_EMPTY: frozenset[str] = frozenset()
_PAYLOAD_KEY = {"track": "properties", "page": "properties", "screen": "properties",
                "identify": "traits", "group": "traits"}


class ProtocolsSettings(BaseModel):
    """Per-source schema controls (Segment's Schema Configuration, snake_case)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["enforce", "observe"] = "enforce"
    track_unplanned_events: Literal["allow", "block"] = "allow"
    track_unplanned_properties: Literal["allow", "omit"] = "allow"
    track_violations: Literal["ALLOW", "BLOCK", "OMIT_PROPERTIES"] = "ALLOW"
    identify_unplanned_traits: Literal["allow", "omit"] = "allow"
    identify_violations: Literal["ALLOW", "BLOCK", "OMIT_TRAITS"] = "ALLOW"
    group_unplanned_traits: Literal["allow", "omit"] = "allow"
    group_violations: Literal["ALLOW", "BLOCK", "OMIT_TRAITS"] = "ALLOW"
    common_track_event_on_violations: Literal["ALLOW", "BLOCK", "OMIT_PROPERTIES"] = "ALLOW"
    common_identify_event_on_violations: Literal["ALLOW", "BLOCK", "OMIT_TRAITS"] = "ALLOW"
    common_group_event_on_violations: Literal["ALLOW", "BLOCK", "OMIT_TRAITS"] = "ALLOW"
    forwarding_blocked_events_to: str | None = None
    forwarding_violations_to: str | None = None

    @classmethod
    def from_segment(cls, config: dict, mode: str = "enforce") -> "ProtocolsSettings":
        """Build from Segment's source ``schema-config`` (booleans, snake_case Config API)."""
        def pick(allow_event: str, allow_payload: str, omit: str) -> str:
            if not config.get(allow_event, True):
                return "BLOCK"
            return "ALLOW" if config.get(allow_payload, True) else omit

        def unplanned(key: str, no: str) -> str:
            return "allow" if config.get(key, True) else no
        common = {k: config[k] for k in ("common_track_event_on_violations",
                  "common_identify_event_on_violations", "common_group_event_on_violations",
                  "forwarding_blocked_events_to", "forwarding_violations_to") if config.get(k)}
        return cls(
            mode=mode,
            track_unplanned_events=unplanned("allow_unplanned_track_events", "block"),
            track_unplanned_properties=unplanned("allow_unplanned_track_event_properties", "omit"),
            track_violations=pick("allow_track_event_on_violations",
                                  "allow_track_properties_on_violations", "OMIT_PROPERTIES"),
            identify_unplanned_traits=unplanned("allow_unplanned_identify_traits", "omit"),
            identify_violations="ALLOW" if config.get("allow_identify_traits_on_violations", True)
            else "BLOCK",
            group_unplanned_traits=unplanned("allow_unplanned_group_traits", "omit"),
            group_violations="ALLOW" if config.get("allow_group_traits_on_violations", True)
            else "BLOCK",
            **common,
        )

    def actions(self, call: str) -> tuple[str, str, str, str]:
        """(unplanned event, unplanned payload, violations, common violations) for a call type."""
        if call == "track":
            return (self.track_unplanned_events, self.track_unplanned_properties,
                    self.track_violations, self.common_track_event_on_violations)
        if call in ("identify", "group"):
            return ("allow", getattr(self, f"{call}_unplanned_traits"),
                    getattr(self, f"{call}_violations"),
                    getattr(self, f"common_{call}_event_on_violations"))
        return "allow", "allow", "ALLOW", "ALLOW"


@dataclass
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


def _rule_for(plan: TrackingPlan, call: str, event: dict) -> Rule | None:
    context = event.get("context")
    protocols = context.get("protocols") if isinstance(context, dict) else None
    version = protocols.get("event_version") if isinstance(protocols, dict) else None
    if call == "track":
        return plan.event_rule(event.get("event"), version)
    if call in ("page", "screen"):
        return plan.named_rule(call, event.get("name"), version)
    return plan.identify if call == "identify" else plan.group if call == "group" else None


def _violation_targets(violations: list[dict], payload_key: str) -> set[str]:
    """Top-level payload keys the violations point into (missing keys are dropped later)."""
    prefix = payload_key + "."
    return {v["field"][len(prefix):].split(".", 1)[0]
            for v in violations if v["field"].startswith(prefix)}


def enforce(plan: TrackingPlan, settings: ProtocolsSettings, event: dict) -> Verdict:
    """Validate ``event`` against ``plan`` and apply ``settings``; see the module contract."""
    call = event.get("type")
    call = call if isinstance(call, str) and call in _PAYLOAD_KEY else None
    on_unplanned_event, on_unplanned, on_violation, on_common = settings.actions(call or "")
    rule = _rule_for(plan, call, event) if call else None
    verdict = Verdict(event=event, rule=rule.label if rule else None)
    block = False
    if call == "track" and rule is None:
        verdict.unplanned.append(f"event {event.get('event')!r}")
        block = on_unplanned_event == "block"
    event_violations = schema_errors(rule.validator, event) if rule and not block else []
    common_violations = (schema_errors(plan.common.validator, event)
                         if plan.common is not None and not block else [])
    verdict.violations = event_violations + common_violations
    payload_key = _PAYLOAD_KEY.get(call or "", "properties")
    omit_on_violation: set[str] = set()
    for action, found in ((on_violation, event_violations), (on_common, common_violations)):
        if found and action == "BLOCK":
            block = True
        elif found and action.startswith("OMIT"):
            omit_on_violation |= _violation_targets(found, payload_key)
    payload = event.get(payload_key) if call else None
    omit_unplanned: list[str] = []
    if isinstance(payload, dict) and call in ("track", "identify", "group"):
        planned = (rule.planned.get(payload_key, _EMPTY) if rule else _EMPTY) | (
            plan.common.planned.get(payload_key, _EMPTY) if plan.common else _EMPTY)
        extra = [k for k in payload if k not in planned]
        verdict.unplanned += [f"{payload_key}.{k}" for k in extra]
        if on_unplanned == "omit":
            omit_unplanned = [k for k in extra if k not in omit_on_violation]
    omit_on_violation &= payload.keys() if isinstance(payload, dict) else set()
    omitted = [f"{payload_key}.{k}" for k in omit_unplanned]
    on_violation_paths = sorted(f"{payload_key}.{k}" for k in omit_on_violation)
    if settings.mode == "observe":
        verdict.would_block = block
        verdict.would_omit = [] if block else omitted + on_violation_paths
        return verdict
    if block:
        verdict.event, verdict.blocked = None, True
        return verdict
    verdict.omitted, verdict.omitted_on_violation = omitted, on_violation_paths
    verdict.event = _annotate(event, payload_key, omit_unplanned + sorted(omit_on_violation),
                              omitted, on_violation_paths, verdict.violations)
    return verdict


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
