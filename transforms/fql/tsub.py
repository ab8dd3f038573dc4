"""``@segment/tsub``-compatible matcher and transformer API.

Contract: :func:`matches` and :func:`transform` accept the shapes analytics.js passes to
tsub (``{"type": "fql"|"all", "ir": "<IR as JSON text>"}`` and
``[{"type": ..., "config": ...}]``) and behave like tsub 2.0.1 on its own test suite, with
one decided difference: ``sample_event`` with a ``path`` samples deterministically by the
value at that path (see :func:`sample_keep`). Neither function mutates its input; a
transformed payload shares untouched sub-objects with the input.

Transformers: ``drop`` (→ None), ``drop_properties`` ``{"drop": {path: [field, ...]}}``,
``allow_properties`` ``{"allow": {path: [field, ...]}}`` (``""`` is the top level; lists
on the way fan out), ``sample_event`` ``{"sample": {"percent": 0..1, "path": str}}`` and
``map_properties`` ``{"map": {target: {"set"|"copy"|"move"|"to_string": ...}}}``. A missing
config for any type but ``drop``, or an unknown type, raises :class:`FQLEvaluationError`.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from .errors import FQLEvaluationError
from .evaluate import evaluate_matcher
from .functions import canonical_json, format_number, is_number
from .paths import MISSING, delete_path, lookup, set_path, split_path

_SCALE = float(1 << 64)


def matches(event: Any, matcher: dict) -> bool:
    """tsub ``matches()``: ``all`` matches everything; ``fql`` evaluates the JSON IR text."""
    matcher_type = matcher.get("type")
    if matcher_type == "all":
        return True
    if matcher_type != "fql":
        raise FQLEvaluationError(f"Matcher of type {matcher_type} unsupported.")
    text = matcher.get("ir")
    if not text:
        return False
    try:
        ir = json.loads(text)
    except ValueError as exc:
        raise FQLEvaluationError(f"Failed to JSON.parse FQL intermediate representation: {exc}") from exc
    return evaluate_matcher(ir, event)


def sample_keep(value: Any, percent: float) -> bool:
    """Sampling decision: keep with probability ``percent``.

    ``percent <= 0`` never keeps, ``>= 1`` always keeps. A ``value`` that is None/MISSING
    (no path, or nothing at the path) is decided at random; any other value is decided
    by the first 64 bits of SHA-256 of its canonical JSON, so equal values always get the
    same decision and distinct values are kept at the requested rate.
    """
    if percent <= 0:
        return False
    if percent >= 1:
        return True
    if value is None or value is MISSING:
        return random.random() < percent
    digest = hashlib.sha256(canonical_json(value).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE < percent


def keep_fields(payload: Any, fields: dict[str, list[str]], allow: bool) -> Any:
    """Drop (``allow=False``) or keep only (``allow=True``) the named fields under each path.

    Lists on the way (or at the end) fan out. Containers are copied along an edited path
    only; when nothing is removed the payload itself is returned.
    """
    for path, names in fields.items():
        payload = keep_fields_at(payload, split_path(path), frozenset(names), allow)
    return payload


def keep_fields_at(obj: Any, segments: tuple[str, ...], names: frozenset[str], allow: bool) -> Any:
    """:func:`keep_fields` for one path already split into ``segments``."""
    if isinstance(obj, dict):
        if segments:
            head = segments[0]
            child = obj.get(head, MISSING)
            if child is MISSING:
                return obj
            edited = keep_fields_at(child, segments[1:], names, allow)
            if edited is child:
                return obj
            copy = dict(obj)
            copy[head] = edited
            return copy
        if allow:
            return obj if names.issuperset(obj) else {k: v for k, v in obj.items() if k in names}
        copy = None
        for name in names:
            if name in obj:
                if copy is None:
                    copy = dict(obj)
                del copy[name]
        return obj if copy is None else copy
    if isinstance(obj, list):
        edited = [keep_fields_at(item, segments, names, allow) for item in obj]
        return obj if all(new is old for new, old in zip(edited, obj)) else edited
    return obj


def _js_string(value: Any) -> Any:
    """JavaScript ``String()`` of a primitive; lists and objects are returned unchanged."""
    if value is MISSING:
        return "undefined"
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    return value


def _map_properties(payload: Any, mapping: dict[str, dict]) -> Any:
    for target, op in mapping.items():
        target_path = split_path(target)
        if "set" in op:
            payload = set_path(payload, target_path, op["set"])
        elif "copy" in op or "move" in op:
            source = split_path(op.get("copy", op.get("move")))
            value = lookup(payload, source)
            if value is MISSING:
                continue
            payload = set_path(payload, target_path, value)
            if "move" in op:
                payload = delete_path(payload, source)
        elif op.get("to_string"):
            current = lookup(payload, target_path)
            converted = _js_string(current)
            if converted is not current:
                payload = set_path(payload, target_path, converted)
    return payload


def _config(transformer: dict, key: str) -> Any:
    config = transformer.get("config")
    if config is None:
        raise FQLEvaluationError(f"transformer {transformer.get('type')!r} needs a config with {key!r}")
    return config[key]


def transform(payload: Any, transformers: list[dict]) -> Any:
    """tsub ``transform()``: apply transformers in order; None once the payload is dropped."""
    for transformer in transformers:
        kind = transformer.get("type")
        if kind == "drop":
            return None
        if kind == "drop_properties":
            payload = keep_fields(payload, _config(transformer, "drop"), allow=False)
        elif kind == "allow_properties":
            payload = keep_fields(payload, _config(transformer, "allow"), allow=True)
        elif kind == "sample_event":
            sample = _config(transformer, "sample")
            path = sample.get("path") or ""
            value = lookup(payload, split_path(path)) if path else None
            if not sample_keep(value, sample.get("percent", 0)):
                return None
        elif kind == "map_properties":
            payload = _map_properties(payload, _config(transformer, "map"))
        else:
            raise FQLEvaluationError(f'Transformer of type "{kind}" is unsupported.')
    return payload
