"""Naming lint for events and tracking plans (findings are violations of type ``naming``).

Contract
--------
``lint_event(event, case="snake")`` checks one event and returns violations
``{"type": "naming", "field", "description"}``:

* track event names: Object-Action in Title Case (``Order Completed``); words such as ``to``,
  ``from``, ``as`` may stay lower case; the action (past tense) follows the object;
* dynamic values in event names or property/trait keys: UUIDs, emails, dates, URLs, long
  numbers, hex ids;
* custom events duplicating a Segment Spec event (``Purchase Made`` → ``Order Completed``) or a
  Spec name written in another case (``order_completed``);
* property/trait keys (any depth) in the configured ``case``: ``snake``, ``camel``, ``pascal``,
  ``kebab`` or ``any``; names defined by the Segment Spec (reserved traits) are exempt.

Segment Spec event names are always accepted as they are.  ``lint_plan(plan)`` applies the same
checks to every rule's name and planned keys, and reports rules whose names collide once case
and punctuation are ignored; each finding also carries ``rule``.
"""

from __future__ import annotations

import re

from .plan import Rule, TrackingPlan
from .spec_names import SPEC_EVENTS, SPEC_KEYS

CASES = {
    "snake": re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"),
    "camel": re.compile(r"^[a-z][a-zA-Z0-9]*$"),
    "pascal": re.compile(r"^[A-Z][a-zA-Z0-9]*$"),
    "kebab": re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"),
    "any": re.compile(r""),
}
_SMALL_WORDS = frozenset("a an and as at by for from in of on or the to via with".split())
_IRREGULAR_PAST = frozenset(
    "bought built begun began brought chosen done drawn found given gone got gotten held hidden "
    "kept known left lost made met paid put read run seen sent set shown sold spent taken told "
    "thrown undone understood won written shared".split())
_DYNAMIC = [
    ("a UUID", re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                          r"[0-9a-fA-F]{12}")),
    ("an email address", re.compile(r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}")),
    ("a date", re.compile(r"\b(19|20)\d\d[-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01])\b|"
                          r"\b(0?[1-9]|[12]\d|3[01])[-/.](0?[1-9]|1[0-2])[-/.](19|20)\d\d\b")),
    ("a URL or path", re.compile(r"https?://|www\.|^/|\w/\w+/")),
    ("a hex id", re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{12,}\b")),
    ("a number", re.compile(r"\d{3,}")),
]


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_SPEC_BY_NORM = {_norm(spec): spec for spec in SPEC_EVENTS}
_SYNONYMS = {_norm(alias): spec for spec, aliases in SPEC_EVENTS.items() for alias in aliases}


def _finding(field: str, description: str) -> dict:
    return {"type": "naming", "field": field, "description": description}


def _dynamic(text: str) -> str | None:
    """What kind of dynamic value ``text`` contains, or None."""
    for what, pattern in _DYNAMIC:
        if pattern.search(text):
            return what
    return None


def _is_past(word: str) -> bool:
    low = word.lower()
    return (low.endswith("ed") and len(low) > 3) or low in _IRREGULAR_PAST


def lint_event_name(name: str, field: str = "event") -> list[dict]:
    """Findings for one track event name (empty for Segment Spec names)."""
    if name in SPEC_EVENTS:
        return []
    out = []
    what = _dynamic(name)
    if what:
        out.append(_finding(field, f"event name {name!r} contains {what}; "
                                   "put dynamic values in properties"))
    key = _norm(name)
    if key in _SPEC_BY_NORM:
        out.append(_finding(field, f"event name {name!r} is the Segment Spec event "
                                   f"{_SPEC_BY_NORM[key]!r} written differently"))
        return out
    if key in _SYNONYMS:
        out.append(_finding(field, f"event name {name!r} duplicates the Segment Spec event "
                                   f"{_SYNONYMS[key]!r}"))
    words = name.split(" ")
    title = all(w[:1].isupper() and not re.search(r"[_\-]|[a-z][A-Z]", w)
                or w in _SMALL_WORDS for w in words if w) and "" not in words
    if not title or len(words) < 2:
        out.append(_finding(field, f"event name {name!r} is not Title Case Object Action "
                                   "(e.g. 'Order Completed')"))
    elif _is_past(words[0]) or not any(_is_past(w) for w in words[1:]):
        out.append(_finding(field, f"event name {name!r} is not Object Action: name the object "
                                   "first, then the past-tense action (e.g. 'Video Played')"))
    return out


def lint_key(key: str, field: str, case: str = "snake") -> list[dict]:
    """Findings for one property/trait key at ``field``."""
    what = _dynamic(key)
    if what:
        return [_finding(field, f"key {key!r} contains {what}; use a fixed key and put the "
                                "value in a property")]
    if key in SPEC_KEYS or CASES[case].match(key):
        return []
    return [_finding(field, f"key {key!r} is not {case}_case" if case == "snake"
                     else f"key {key!r} is not {case} case")]


def _lint_keys(obj: object, path: str, case: str) -> list[dict]:
    out: list[dict] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += lint_key(str(key), f"{path}.{key}", case)
            out += _lint_keys(value, f"{path}.{key}", case)
    elif isinstance(obj, list):
        for item in obj:
            out += _lint_keys(item, path, case)
    return out


def lint_event(event: dict, case: str = "snake") -> list[dict]:
    """Naming findings for one event (track names, property and trait keys)."""
    out = []
    name = event.get("event")
    if event.get("type") == "track" and isinstance(name, str):
        out += lint_event_name(name)
    for payload_key in ("properties", "traits"):
        out += _lint_keys(event.get(payload_key), payload_key, case)
    return out


def _schema_keys(schema: object, path: str, case: str) -> list[dict]:
    """Lint the keys a JSON Schema plans (``properties`` at any depth, array ``items``)."""
    if not isinstance(schema, dict):
        return []
    out = []
    props = schema.get("properties")
    for key, sub in (props.items() if isinstance(props, dict) else ()):
        out += lint_key(str(key), f"{path}.{key}", case)
        out += _schema_keys(sub, f"{path}.{key}", case)
    return out + _schema_keys(schema.get("items"), path, case)


def _rule_findings(rule: Rule, case: str) -> list[dict]:
    root = rule.schema.get("properties", {})
    out = lint_event_name(rule.key, "event") if rule.kind == "TRACK" else []
    for payload_key in rule.planned:
        out += _schema_keys(root.get(payload_key), payload_key, case)
    return out


def lint_plan(plan: TrackingPlan, case: str = "snake") -> list[dict]:
    """Naming findings for every rule of ``plan``, each with the ``rule`` it belongs to."""
    findings = []
    seen: dict[str, str] = {}
    for rule in plan.rules():
        for f in _rule_findings(rule, case):
            findings.append({"rule": rule.label, **f})
        if rule.kind == "TRACK":
            other = seen.setdefault(_norm(rule.key), rule.key)
            if other != rule.key:
                findings.append({"rule": rule.label, **_finding(
                    "event", f"event name {rule.key!r} collides with {other!r} "
                             "(same name once case and punctuation are ignored)")})
    return findings
