"""Violations: JSON Schema errors in Segment's form, and the ``Violation Generated`` event.

Contract
--------
A violation is a plain dict ``{"type", "field", "description"}`` — the shape Segment writes into
``context.protocols.violations``.  ``field`` is a dotted path from the event root
(``properties.products.0.price``); ``type`` is ``Required``, ``Invalid Type`` or the JSON Schema
keyword in Title Case (``Enum``, ``Pattern``, ``Maximum``, ``Additional Properties`` ...).
``naming`` findings from ``naming.py`` use the same shape.

``violation_event(source_event, violation, ...)`` builds the track call Segment forwards to a
violations source (see docs/protocols.md for the chosen property set).
"""

from __future__ import annotations

import re
import uuid

_KIND_TYPES = {"required": "Required", "type": "Invalid Type"}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string",
               list: "array", dict: "object", type(None): "null"}


def _title(kind_name: str) -> str:
    """``additionalProperties``/``additional_properties`` → ``Additional Properties``."""
    words = _CAMEL.sub(" ", kind_name.replace("_", " ")).split()
    return " ".join(w[:1].upper() + w[1:] for w in words)


def schema_errors(validator, event: dict) -> list[dict]:
    """All violations of ``event`` against a compiled validator, sorted by field (empty when valid)."""
    try:
        if validator.is_valid(event):
            return []
    except ValueError as exc:  # not JSON-representable (non-str keys, bytes ...)
        return [{"type": "Invalid Type", "field": "", "description": str(exc)}]
    return invalid_event_errors(validator, event)


def invalid_event_errors(validator, event: dict) -> list[dict]:
    """:func:`schema_errors` of an event ``is_valid`` already rejected (validation is not repeated)."""
    try:
        errors = list(validator.iter_errors(event))
    except ValueError as exc:  # not JSON-representable (non-str keys, bytes ...)
        return [{"type": "Invalid Type", "field": "", "description": str(exc)}]
    out = []
    for err in errors:
        path = ".".join(str(p) for p in err.instance_path)
        kind = err.kind.name
        if kind == "required":
            missing = err.kind.property
            field = f"{path}.{missing}" if path else str(missing)
            description = f"{field} is required"
        elif kind == "type":
            field = path
            given = _JSON_TYPES.get(type(err.instance), "unknown")
            expected = ", ".join(err.kind.types)
            description = f"Invalid type. Expected: {expected}, given: {given}"
        else:
            field = path
            description = f"{field or 'event'}: {err.message}"
        out.append({"type": _KIND_TYPES.get(kind) or _title(kind), "field": field,
                    "description": description})
    out.sort(key=lambda v: (v["field"], v["type"]))
    return out


def violation_event(source_event: dict, violation: dict, *, source_id: str = "",
                    source_name: str = "", source_slug: str = "", tracking_plan_id: str = "",
                    tracking_plan_name: str = "", received_at: str | None = None) -> dict:
    """Segment's ``Violation Generated`` track call describing one violation of an event."""
    event_type = source_event.get("type")
    event_type = event_type if isinstance(event_type, str) else ""
    if event_type == "track":
        event_name = source_event.get("event")
    elif event_type in ("page", "screen"):
        event_name = source_event.get("name")
    else:
        event_name = event_type
    context = source_event.get("context") if isinstance(source_event.get("context"), dict) else {}
    app = context.get("app") if isinstance(context.get("app"), dict) else None
    out = {
        "type": "track",
        "event": "Violation Generated",
        "userId": "schema-violations",
        "messageId": f"sch-{uuid.uuid4().hex}",
        "context": {"app": app, "library": {"name": "eventyard-protocols", "version": "1"}},
        "integrations": {},
        "properties": {
            "appVersion": (app or {}).get("version") or "",
            "eventMessageID": source_event.get("messageId") or "",
            "eventName": event_name if isinstance(event_name, str) else "",
            "eventSentAt": source_event.get("sentAt") or "",
            "eventTimestamp": source_event.get("timestamp") or "",
            "eventType": event_type,
            "sourceID": source_id,
            "sourceName": source_name,
            "sourceSlug": source_slug,
            "trackingPlanID": tracking_plan_id,
            "trackingPlanName": tracking_plan_name,
            "violationDescription": violation.get("description", ""),
            "violationField": violation.get("field", ""),
            "violationType": violation.get("type", ""),
        },
    }
    if received_at is not None:
        out["timestamp"] = received_at
    return out
