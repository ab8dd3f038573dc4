"""Segment Public API transformations (``TransformationV1``) applied to one event.

Contract: :class:`Transformation` validates a transformation dict (pydantic, unknown keys
rejected, FQL compiled at load with errors naming the field) and
:meth:`Transformation.apply` returns the transformed event, the same event when the
transformation is disabled or its ``if`` does not hold, or ``None`` when ``drop`` is set.
The input event is never mutated. Steps, in order, all reading the *incoming* event:

1. ``if`` (FQL or ``all``) — when false, nothing else happens;
2. ``drop`` — the event is discarded;
3. ``fqlDefinedProperties`` — each ``fql`` is evaluated (on the incoming event);
4. ``newEventName`` — replaces ``event``;
5. ``propertyRenames`` — ``oldName``/``newName`` are paths inside the event's property
   object (``traits`` for identify/group calls, ``properties`` otherwise); absent
   ``oldName`` is a no-op;
6. ``propertyValueTransformations`` — ``propertyValue`` is stored at each of
   ``propertyPaths`` (paths from the event root, e.g. ``properties.currency``);
7. the values from step 3 are stored at ``newPropertyName`` (a path from the root);
8. ``allowProperties`` — only the listed names are kept in the property object;
9. ``hashPropertiesConfiguration`` — each value at ``paths`` is replaced by its digest
   (``algorithm`` SHA256 by default, HMAC when ``key`` is set, ``encoding`` HEX by
   default); strings are hashed as UTF-8, other values as canonical JSON; null and absent
   values are left alone.

Each transformation is compiled once, at load: :attr:`Transformation.program` is a
:class:`TransformationProgram` holding the compiled ``if`` and only the configured steps, with
paths split and the digest function chosen; the pipeline calls ``program.apply``. Edited
containers are copied along the edited path only; the rest is shared with the input.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
from collections.abc import Callable
from functools import cached_property
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from .fql.condition import MATCH_ALL, FQLText, compile_condition, compile_value
from .fql.functions import canonical_json
from .fql.paths import MISSING, delete_path, lookup, set_path, split_path
from .fql.tsub import keep_fields_at

_TRAITS_CALLS = frozenset({"identify", "group"})
_TRAITS = ("traits",)
_PROPERTIES = ("properties",)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PropertyRename(_Model):
    """Rename a property: ``oldName`` → ``newName`` (paths inside the property object)."""

    oldName: str = Field(min_length=1)
    newName: str = Field(min_length=1)


class PropertyValueTransformation(_Model):
    """Store ``propertyValue`` at every path of ``propertyPaths``."""

    propertyPaths: list[str] = Field(min_length=1)
    propertyValue: str | int | float | bool | None


class FQLDefinedProperty(_Model):
    """Store the value of FQL expression ``fql`` at ``newPropertyName`` (``propertyName`` accepted)."""

    fql: FQLText
    newPropertyName: str = Field(
        min_length=1, validation_alias=AliasChoices("newPropertyName", "propertyName")
    )


class HashPropertiesConfiguration(_Model):
    """Replace the values at ``paths`` by a digest of them."""

    paths: list[str] = Field(min_length=1)
    algorithm: Literal["MD5", "SHA1", "SHA256", "SHA384", "SHA512"] = "SHA256"
    encoding: Literal["HEX", "BASE16", "BASE64", "BASE64URL"] = "HEX"
    key: str | None = None

    def digest(self, value: Any) -> str:
        """Digest of one value, encoded as configured."""
        return self.digester(value)

    @cached_property
    def digester(self) -> Callable[[Any], str]:
        """:meth:`digest` as a plain function, with the hash constructor and encoding chosen once."""
        constructor = getattr(hashlib, self.algorithm.lower())
        key = self.key.encode("utf-8") if self.key is not None else None
        encode = _ENCODINGS[self.encoding]

        def digest(value: Any) -> str:
            data = (value if isinstance(value, str) else canonical_json(value)).encode("utf-8")
            if key is not None:
                return encode(hmac.new(key, data, constructor).digest())
            return encode(constructor(data).digest())

        def hex_digest(value: Any) -> str:
            data = value if isinstance(value, str) else canonical_json(value)
            return constructor(data.encode("utf-8")).hexdigest()

        return hex_digest if key is None and self.encoding == "HEX" else digest


_ENCODINGS: dict[str, Callable[[bytes], str]] = {
    "HEX": bytes.hex,
    "BASE16": lambda raw: raw.hex().upper(),
    "BASE64": lambda raw: base64.b64encode(raw).decode("ascii"),
    "BASE64URL": lambda raw: base64.urlsafe_b64encode(raw).decode("ascii"),
}


class Transformation(_Model):
    """A Segment ``TransformationV1`` (see module docstring for the order of steps)."""

    if_: FQLText = Field(alias="if")
    enabled: bool = True
    drop: bool = False
    newEventName: str | None = None
    propertyRenames: list[PropertyRename] = []
    propertyValueTransformations: list[PropertyValueTransformation] = []
    fqlDefinedProperties: list[FQLDefinedProperty] = []
    allowProperties: list[str] | None = None
    hashPropertiesConfiguration: HashPropertiesConfiguration | None = None
    id: str | None = None
    name: str | None = None
    sourceId: str | None = None
    destinationMetadataId: str | None = None

    def model_post_init(self, _context: Any) -> None:
        _ = self.program  # compile now, not on the first event

    @cached_property
    def program(self) -> TransformationProgram:
        """This transformation compiled for the hot path (conditions compiled, paths split)."""
        return TransformationProgram(self)

    def apply(self, event: dict) -> dict | None:
        """Return the transformed event (or None when dropped); ``event`` is not mutated."""
        if not self.enabled:
            return event
        return self.program.apply(event)


class TransformationProgram:
    """One :class:`Transformation` ready to run: its condition compiled and only its configured
    steps kept, each a function ``step(incoming event, event so far) -> event``."""

    __slots__ = ("matches", "drop", "steps")

    def __init__(self, config: Transformation) -> None:
        self.matches = None if config.if_.strip() == MATCH_ALL else compile_condition(config.if_)
        self.drop = config.drop
        self.steps = [step for step in (
            _rename_event(config.newEventName),
            _rename_properties([(split_path(r.oldName), split_path(r.newName))
                                for r in config.propertyRenames]),
            _store_values([(split_path(path), change.propertyValue)
                           for change in config.propertyValueTransformations
                           for path in change.propertyPaths]),
            _store_defined([(split_path(p.newPropertyName), compile_value(p.fql))
                            for p in config.fqlDefinedProperties]),
            _allow_properties(config.allowProperties),
            _hash_values(config.hashPropertiesConfiguration),
        ) if step is not None]

    def apply(self, event: dict) -> dict | None:
        """Return the transformed event (or None when dropped); ``event`` is not mutated."""
        if self.matches is not None and not self.matches(event):
            return event
        if self.drop:
            return None
        out = event
        for step in self.steps:
            out = step(event, out)
        return out


Step = Callable[[dict, dict], dict]


def _payload_root(event: dict) -> tuple[str]:
    return _TRAITS if event.get("type") in _TRAITS_CALLS else _PROPERTIES


def _rename_event(name: str | None) -> Step | None:
    return None if name is None else lambda event, out: {**out, "event": name}


def _rename_properties(renames: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> Step | None:
    def rename(event: dict, out: dict) -> dict:
        root = _payload_root(event)
        for old_name, new_name in renames:
            old = root + old_name
            value = lookup(out, old)
            if value is not MISSING:
                out = set_path(delete_path(out, old), root + new_name, value)
        return out

    return rename if renames else None


def _store_values(values: list[tuple[tuple[str, ...], Any]]) -> Step | None:
    def store(event: dict, out: dict) -> dict:
        for segments, value in values:
            out = set_path(out, segments, value)
        return out

    return store if values else None


def _store_defined(defined: list[tuple[tuple[str, ...], Callable[[Any], Any]]]) -> Step | None:
    def store(event: dict, out: dict) -> dict:
        for segments, fn in defined:  # evaluated on the incoming event
            value = fn(event)
            # a computed list/object is copied: it must not be shared between output events
            out = set_path(out, segments, copy.deepcopy(value) if isinstance(value, (dict, list)) else value)
        return out

    return store if defined else None


def _allow_properties(allowed: list[str] | None) -> Step | None:
    if allowed is None:
        return None
    names = frozenset(allowed)
    return lambda event, out: keep_fields_at(out, _payload_root(event), names, True)


def _hash_values(config: HashPropertiesConfiguration | None) -> Step | None:
    if config is None:
        return None
    paths, digest = [split_path(path) for path in config.paths], config.digester

    def hash_values(event: dict, out: dict) -> dict:
        for segments in paths:
            if len(segments) == 2 and isinstance(parent := out.get(segments[0]), dict):
                value = parent.get(segments[1])  # the usual ``properties.x``, in one pass
                if value is not None:
                    out = {**out, segments[0]: {**parent, segments[1]: digest(value)}}
                continue
            value = lookup(out, segments)
            if value is not MISSING and value is not None:
                out = set_path(out, segments, digest(value))
        return out

    return hash_values
