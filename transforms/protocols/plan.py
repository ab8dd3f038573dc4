"""Tracking plans: load a Segment plan file into compiled JSON Schema rules.

Contract
--------
``load_plan(path)`` reads JSON or YAML in either Segment shape and returns a ``TrackingPlan``:

* Public API: ``{"rules": [{"type": TRACK|IDENTIFY|GROUP|PAGE|SCREEN|COMMON, "key", "version",
  "jsonSchema"}]}``
* Config API: ``{"rules": {"events": [{"name", "version", "rules"}], "identify" |
  "identify_traits", "group" | "group_traits", "global"}}``

A rule's schema may describe the whole event (``properties.properties`` /
``properties.traits``) or only the event's properties (traits) at its root; root-level schemas
are wrapped so that every validator sees the whole event and reports Segment field paths such as
``properties.order_id``.  COMMON/global schemas always describe the whole event.  Unknown
keywords (``labels``, ``eventMetadata``, ``id``) are ignored by draft-07.

Validators (``jsonschema_rs`` draft-07) are compiled once at load; ``load_plan`` caches plans per
(path, mtime, size), so every (plan, event, version) validator is compiled once per process.
Errors raise ``PlanError`` naming the file and the rule.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import jsonschema_rs
import orjson
import yaml

# Keys that may appear at the root of a schema describing a whole Segment event.
_EVENT_FIELDS = frozenset(
    "anonymousId category context event groupId integrations messageId name originalTimestamp "
    "previousId properties receivedAt sentAt timestamp traits type userId".split()
)
_PAYLOAD_KEY = {"TRACK": "properties", "PAGE": "properties", "SCREEN": "properties",
                "IDENTIFY": "traits", "GROUP": "traits"}


class PlanError(ValueError):
    """A plan file that cannot be loaded; the message names the file and the rule."""


@dataclass(frozen=True)
class Rule:
    """One compiled rule; ``planned`` maps "properties"/"traits" to the top-level names defined."""

    kind: str
    key: str
    version: int
    schema: dict
    planned: dict[str, frozenset[str]]
    validator: Any = field(repr=False, compare=False)

    @cached_property
    def label(self) -> str:
        """Human name used in reports: ``TRACK 'Order Completed' v1``."""
        return f"{self.kind} {self.key!r} v{self.version}"


@dataclass
class TrackingPlan:
    """Rules of one plan; track/page/screen rules are keyed by name then version."""

    name: str
    path: str
    events: dict[str, dict[int, Rule]] = field(default_factory=dict)
    pages: dict[str, dict[int, Rule]] = field(default_factory=dict)
    screens: dict[str, dict[int, Rule]] = field(default_factory=dict)
    identify: Rule | None = None
    group: Rule | None = None
    common: Rule | None = None

    def event_rule(self, name: object, version: object = None) -> Rule | None:
        """Rule for a track event; an absent or unknown version selects the oldest one."""
        return _pick(self.events, name, version)

    def named_rule(self, kind: str, name: object, version: object = None) -> Rule | None:
        """Rule for a page/screen call by ``name`` (None when not planned)."""
        return _pick(self.pages if kind == "page" else self.screens, name, version)

    def rules(self) -> list[Rule]:
        """Every rule in the plan (track, page, screen, identify, group, common)."""
        out = [r for table in (self.events, self.pages, self.screens)
               for versions in table.values() for r in versions.values()]
        return out + [r for r in (self.identify, self.group, self.common) if r is not None]


def _pick(table: dict[str, dict[int, Rule]], name: object, version: object) -> Rule | None:
    versions = table.get(name) if isinstance(name, str) else None
    if not versions:
        return None
    if type(version) is int and version in versions:
        return versions[version]
    return versions[min(versions)]


def _planned_keys(schema: object) -> frozenset[str]:
    props = schema.get("properties") if isinstance(schema, dict) else None
    return frozenset(props) if isinstance(props, dict) else frozenset()


def _split_schema(schema: dict, kind: str) -> tuple[dict, dict[str, frozenset[str]]]:
    """Return (whole-event schema, planned top-level names per payload key)."""
    props = schema.get("properties")
    if kind == "COMMON":
        props = props if isinstance(props, dict) else {}
        return schema, {k: _planned_keys(props.get(k)) for k in ("properties", "traits")}
    payload_key = _PAYLOAD_KEY[kind]
    if isinstance(props, dict) and props and props.keys() <= _EVENT_FIELDS:
        inner = props.get(payload_key)
        if isinstance(inner, dict):
            return schema, {payload_key: _planned_keys(inner)}
    wrapped = {"type": "object", "properties": {payload_key: schema}}
    return wrapped, {payload_key: _planned_keys(schema)}


def compile_rule(kind: str, key: str, version: object, schema: object, where: str) -> Rule:
    """Build one ``Rule``; ``where`` (the file) prefixes any ``PlanError``."""
    label = f"{where}: rule {kind} {key!r} v{version}"
    if not isinstance(schema, dict):
        raise PlanError(f"{label}: jsonSchema must be an object, got {type(schema).__name__}")
    if type(version) is not int:
        raise PlanError(f"{label}: version must be an integer")
    schema, planned = _split_schema(schema, kind)
    try:
        validator = jsonschema_rs.Draft7Validator(schema)
    except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError) as exc:
        raise PlanError(f"{label}: invalid JSON Schema: {exc}") from exc
    return Rule(kind, key, version, schema, planned, validator)


def _merge_trait_list(items: list) -> dict:
    """Config API ``identify_traits``/``group_traits`` lists: merged with ``allOf``."""
    merged: dict = {"type": "object", "properties": {}, "allOf": []}
    for item in items:
        if isinstance(item, dict):
            merged["properties"].update(item.get("properties") or {})
            merged["allOf"].append(item)
    return merged


def _raw_rules(doc: dict, where: str) -> list[tuple[str, str, object, object]]:
    """Flatten either plan shape into (kind, key, version, schema) tuples."""
    rules = doc.get("rules")
    if isinstance(rules, list):
        return [(str(r.get("type", "")).upper(), str(r.get("key") or ""), r.get("version", 1),
                 r.get("jsonSchema")) for r in rules if isinstance(r, dict)]
    if not isinstance(rules, dict):
        raise PlanError(f"{where}: 'rules' must be a list (Public API) or object (Config API)")
    out = [("TRACK", str(e.get("name") or ""), e.get("version", 1), e.get("rules"))
           for e in rules.get("events") or [] if isinstance(e, dict)]
    for kind, names in (("IDENTIFY", ("identify", "identify_traits")),
                        ("GROUP", ("group", "group_traits")), ("COMMON", ("global",))):
        for name in names:
            value = rules.get(name)
            if isinstance(value, list) and value:
                value = _merge_trait_list(value)
            if isinstance(value, dict) and value:
                out.append((kind, "", 1, value))
    return out


def build_plan(doc: object, where: str = "<plan>") -> TrackingPlan:
    """Compile a parsed plan document (either shape) into a ``TrackingPlan``."""
    if not isinstance(doc, dict):
        raise PlanError(f"{where}: a plan must be a JSON/YAML object")
    plan = TrackingPlan(name=str(doc.get("display_name") or doc.get("name") or ""), path=where)
    tables = {"TRACK": plan.events, "PAGE": plan.pages, "SCREEN": plan.screens}
    for kind, key, version, schema in _raw_rules(doc, where):
        if kind not in _PAYLOAD_KEY and kind != "COMMON":
            raise PlanError(f"{where}: rule {kind or '?'} {key!r}: unknown rule type")
        if kind in tables and not key:
            raise PlanError(f"{where}: rule {kind} without a name/key")
        rule = compile_rule(kind, key, version, schema, where)
        if kind in tables:
            versions = tables[kind].setdefault(key, {})
            if version in versions:
                raise PlanError(f"{where}: rule {kind} {key!r} v{version}: duplicate version")
            versions[version] = rule
        else:
            setattr(plan, kind.lower(), rule)
    return plan


def load_plan(path: str | os.PathLike) -> TrackingPlan:
    """Load (and cache while the file is unchanged) a JSON or YAML plan file."""
    path = os.path.abspath(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise PlanError(f"{path}: {exc.strerror}") from exc
    return _load_cached(path, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int, size: int) -> TrackingPlan:
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        if path.endswith((".yaml", ".yml")):
            doc = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        else:
            doc = orjson.loads(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise PlanError(f"{path}: not valid {'YAML' if path.endswith(('yaml', 'yml')) else 'JSON'}: {exc}") from exc
    return build_plan(doc, path)
